"""One seeded day for the export tests, built with the pipeline's own functions.

2025-07-13: six RFQs on two marketplaces (alibaba_rfq, tradekey); a body lotion request listed on both (one
2-member cluster), three more beauty requests and a CNC lathe (relabelled irrelevant by a newer model version);
buyers enriched from the RFQ texts (e-mails, phones and names of contacts); drafts won, lost, queued and edited.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from rfq_pipeline.db import repository
from rfq_pipeline.db.database import Database
from rfq_pipeline.enrich.enrichment import ENRICHER_VERSION, enrich_cluster
from rfq_pipeline.enrich.store import clusters_to_enrich, write_buyer
from rfq_pipeline.exports.writer import ExportOptions
from rfq_pipeline.quotes import store as quote_store
from rfq_pipeline.quotes import workflow
from rfq_pipeline.quotes.catalog import DEFAULT_CATALOG, load_catalog, load_rates
from rfq_pipeline.store.object_store import LocalObjectStore
from rfq_pipeline_tests.quotes.test_workflow import make_cluster

DAY = datetime(2025, 7, 13, tzinfo=UTC)
NOW = DAY + timedelta(hours=12)  # when the drafts are made
SALT = "test-salt-0123456789abcdef"

INSERT_RFQ = """
INSERT INTO rfqs (source, external_id, canonical_url, title, description, quantity_text, buyer_name, buyer_company,
                  country_raw, country_name, country_code, content_sha256, posted_at, attributes)
VALUES (%s, %s, %s, %s, %s, '', %s, %s, 'United Arab Emirates', 'United Arab Emirates', 'AE', %s, %s, %s)
RETURNING id
"""
LABEL = """
INSERT INTO classifications (rfq_id, model_version, provider, industry, relevant, intent, quality, classified_at)
VALUES (%s, %s, 'local', %s, %s, 'buy_request', 0.9, %s)
"""


@dataclass(frozen=True)
class SeedRfq:
    """One seeded listing; ``hours`` after midnight of DAY is its posting time."""

    key: str
    source: str
    external_id: str
    title: str
    description: str
    buyer_name: str
    company: str
    hours: int
    relevant: bool = True
    website: str | None = None


RFQS = (
    SeedRfq("lotion", "alibaba_rfq", "A-1", "Shea body lotion 250ml",
            "Please quote 5,000 tubes of shea body lotion 250ml, CIF Jebel Ali. Contact: Sara Ali, Purchasing "
            "Manager, buyer@oasis-beauty.ae, +971 50 123 4567", "Sara Ali", "Oasis Beauty Trading LLC", 9,
            website="oasis-beauty.ae"),
    SeedRfq("lotion_repost", "tradekey", "T-9", "Shea body lotion 250ml wholesale",
            "Please quote 5,000 tubes of shea body lotion 250ml, CIF Jebel Ali. Contact: Sara Ali, Purchasing "
            "Manager, buyer@oasis-beauty.ae, +971 50 123 4567", "Sara Ali", "Oasis Beauty Trading LLC", 10),
    SeedRfq("argan", "tradekey", "T-10", "Argan oil 100ml, call +971 4 555 0199",
            "Need 2,000 bottles argan oil 100ml. Reach Omar Haddad - Procurement Manager at omar@desertrose.ae or "
            "+971 4 555 0199", "Omar Haddad", "Desert Rose Cosmetics", 6),
    SeedRfq("shampoo", "alibaba_rfq", "A-4", "Argan shampoo 500ml",
            "Quote 3,000 bottles of argan shampoo 500ml. Email layla@glowhouse.ae", "Layla Nasser",
            "Glow House General Trading", 3),
    SeedRfq("cream", "tradekey", "T-11", "Face cream 50ml jars",
            "1,000 jars face cream 50ml needed, mail khalid@khalidbeauty.ae", "Khalid Mansour", "Khalid Beauty", 0),
    SeedRfq("lathe", "alibaba_rfq", "A-3", "CNC lathe", "Need 2 CNC lathes", "Ivan Petrov", "Metal Works", 2,
            relevant=False),
)  # fmt: skip

# What happens to each cluster's draft, in order (the lathe has no draft: it is not relevant).
DRAFT_PATHS = {
    "lotion": ["approved", "sent", "won"],
    "argan": ["approved", "sent", "lost"],
    "shampoo": [],
    "cream": ["edited"],
}


@dataclass
class Seeded:
    """Ids of the seeded rows and every clear personal value that must never reach a Parquet file."""

    url: str
    rfq_ids: dict[str, int] = field(default_factory=dict)
    cluster_ids: dict[str, int] = field(default_factory=dict)
    draft_ids: dict[str, int] = field(default_factory=dict)
    clear_values: set[str] = field(default_factory=set)


def _insert_rfq(conn: psycopg.Connection, item: SeedRfq, day: datetime = DAY) -> int:
    attributes = json.dumps({"website": item.website} if item.website else {})
    return conn.execute(
        INSERT_RFQ,
        (item.source, item.external_id, f"https://{item.source}.example/rfq/{item.external_id}", item.title,
         item.description, item.buyer_name, item.company, f"sha-{item.external_id}", day + timedelta(hours=item.hours),
         attributes),
    ).fetchone()[0]  # fmt: skip


def seed_day(url: str, pdf_dir: Path) -> Seeded:
    """Seed DAY through the pipeline's enrichment and draft functions; returns ids and the clear personal values."""
    seeded = Seeded(url=url)
    with psycopg.connect(url) as conn:
        for source in ("alibaba_rfq", "tradekey"):
            repository.upsert_source(conn, name=source, kind="marketplace", base_url=f"https://{source}.example",
                                     cadence="1h", enabled=True)  # fmt: skip
        for item in RFQS:
            rfq_id = _insert_rfq(conn, item)
            seeded.rfq_ids[item.key] = rfq_id
            industry = "beauty_personal_care" if item.relevant else "machinery"
            conn.execute(LABEL, (rfq_id, "test-v2", industry, item.relevant, DAY + timedelta(hours=20)))
        # An older model version once called the lathe relevant; the newer label is the one that counts.
        conn.execute(LABEL, (seeded.rfq_ids["lathe"], "test-v1", "beauty_personal_care", True, DAY))
        ids = seeded.rfq_ids
        seeded.cluster_ids["lotion"] = make_cluster(conn, ids["lotion"], ids["lotion_repost"])
        for key in ("argan", "shampoo", "cream", "lathe"):
            seeded.cluster_ids[key] = make_cluster(conn, ids[key])
        quote_store.load_catalog_rows(conn, load_catalog(), quote_store.catalog_version(DEFAULT_CATALOG.read_text()))
        conn.execute(
            "INSERT INTO source_crawls (source, partition_date, run_id, started_at, pages_fetched, pages_failed, "
            "rfqs_seen, rfqs_new, rfqs_changed, status) VALUES ('tradekey', %s, 'run-1', %s, 4, 1, 3, 3, 0, 'partial')",
            (DAY.date(), DAY),
        )
        conn.commit()

        for cluster in clusters_to_enrich(conn, DAY, DAY + timedelta(days=1)):
            profile, method, record = enrich_cluster(cluster)
            write_buyer(conn, cluster, profile, method=method, enricher_version=ENRICHER_VERSION, research=record)
        conn.commit()
        run = workflow.draft_partition(
            conn, DAY, DAY + timedelta(days=1), rates=load_rates(), pdf_store=LocalObjectStore(pdf_dir), now=NOW
        )
        by_cluster = {v: k for k, v in seeded.cluster_ids.items()}
        for draft_id in run.created:
            key = by_cluster[quote_store.get_draft(conn, draft_id)["cluster_id"]]
            seeded.draft_ids[key] = draft_id
            for step, target in enumerate(DRAFT_PATHS[key]):
                workflow.set_state(conn, draft_id, target, actor="cli:reviewer.jane", now=NOW + timedelta(hours=step))

        for column in ("email", "phone", "name"):
            seeded.clear_values |= {
                v for (v,) in conn.execute(f"SELECT {column} FROM buyer_contacts WHERE {column} IS NOT NULL")
            }
        seeded.clear_values |= {v for (v,) in conn.execute("SELECT email FROM buyers WHERE email IS NOT NULL")}
        seeded.clear_values |= {v for (v,) in conn.execute("SELECT buyer_name FROM rfqs WHERE buyer_name <> ''")}
    seeded.clear_values.add("reviewer.jane")
    return seeded


@pytest.fixture()
def seeded(clean_db: str, tmp_path: Path) -> Seeded:
    """DAY seeded on the clean test database."""
    return seed_day(clean_db, tmp_path / "pdfs")


@pytest.fixture()
def db(seeded: Seeded) -> Iterator[Database]:
    """A pool on the seeded database."""
    with Database(seeded.url, min_size=1, max_size=2) as pool:
        yield pool


@pytest.fixture()
def exports_store(tmp_path: Path) -> LocalObjectStore:
    """The exports store (a local directory)."""
    return LocalObjectStore(tmp_path / "objects" / "exports")


@pytest.fixture()
def options() -> ExportOptions:
    """Export options with the test salt, contacts off, the reader role."""
    return ExportOptions(salt=SALT.encode(), contacts=False, role="rfq_export_reader")


@pytest.fixture()
def export_env(seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Seeded:
    """The environment of an export command on the seeded database (a private data dir, the test salt)."""
    for key in list(os.environ):
        if key.startswith(("RFQ_", "AWS_")) or key == "DATABASE_URL":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DATABASE_URL", seeded.url)
    monkeypatch.setenv("RFQ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RFQ_EXPORT_PII_SALT", SALT)
    return seeded
