"""``make bench`` (sales desk): how fast the desk answers with a full queue, and what sending a quote costs.

In a throw-away database: ``--drafts`` RFQs (catalog products asked for in random quantities, from a dozen
sources and countries), each in its cluster with a buyer, drafted and priced by the real drafter with its PDF. Then:

* the queue page (``GET /``) and a draft page, rendered by the desk app, p50/p95, against the queue's SQL alone
  (the anchor: how much of a page is the database);
* approve-and-send of ``--sends`` drafts through the desk's action (approved PDF, dispatch, the ``outbound_emails``
  claim, MIME, SESv2 to a local moto server), against a bare SESv2 ``send_email`` of the same size to the same server.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SOURCES = ("alibaba_rfq", "go4worldbusiness", "tradekey", "ec21", "tradeindia", "exportersindia", "email")
COUNTRIES = (("United Arab Emirates", "AE"), ("Saudi Arabia", "SA"), ("India", "IN"), ("Nigeria", "NG"),
             ("Germany", "DE"), ("United States", "US"), ("Japan", "JP"), ("Korea, Republic of", "KR"))  # fmt: skip
PASSWORD = "bench-password-0123456789"


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def _timed(call: Callable[[], Any], repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _seed(url: str, drafts: int, seed: int) -> list[int]:
    """``drafts`` drafted quotes, made by the drafter from RFQs asking for catalog products."""
    import psycopg

    from rfq_pipeline.db import repository
    from rfq_pipeline.quotes import store, workflow
    from rfq_pipeline.quotes.catalog import DEFAULT_CATALOG, load_catalog, load_rates
    from rfq_pipeline.settings import Settings
    from rfq_pipeline.store.object_store import object_store_for

    rng = random.Random(seed)
    catalog = load_catalog()
    products = [item.name for item in catalog.items]
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with psycopg.connect(url) as conn:
        store.load_catalog_rows(conn, catalog, store.catalog_version(DEFAULT_CATALOG.read_text()))
        for source in SOURCES:
            repository.upsert_source(conn, name=source, kind="marketplace", base_url=f"https://{source}.example",
                                     cadence="1h", enabled=True)  # fmt: skip
        for number in range(drafts):
            product, (country, code) = rng.choice(products), rng.choice(COUNTRIES)
            quantity = rng.choice((500, 1_000, 2_000, 5_000, 10_000, 20_000))
            rfq_id = conn.execute(
                "INSERT INTO rfqs (source, external_id, canonical_url, title, description, quantity_text, buyer_name,"
                " buyer_company, country_raw, country_name, country_code, content_sha256, posted_at, attributes) "
                "VALUES (%s, %s, %s, %s, %s, '', 'Buyer', %s, %s, %s, %s, 'x', %s, '{}') RETURNING id",
                (rng.choice(SOURCES), f"bench-{number}", f"https://rfq.example/{number}", f"Need {product}",
                 f"Please quote {quantity:,} pcs of {product}, private label.", f"Trading {number} LLC", country,
                 country, code, day + timedelta(seconds=number)),
            ).fetchone()[0]  # fmt: skip
            conn.execute(
                "INSERT INTO classifications (rfq_id, model_version, provider, industry, relevant, intent, quality) "
                "VALUES (%s, 'bench', 'local', 'beauty_personal_care', true, 'buy_request', 0.9)",
                (rfq_id,),
            )
            cluster_id = conn.execute(
                "INSERT INTO dedup_clusters (canonical_rfq_id, member_count) VALUES (%s, 1) RETURNING id", (rfq_id,)
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO dedup_cluster_members (rfq_id, cluster_id, matched_by) VALUES (%s, %s, 'new')",
                (rfq_id, cluster_id),
            )
            conn.execute(
                "INSERT INTO buyers (cluster_id, rfq_id, company, domain, country_code, email, email_status, "
                "risk_score, risk_level, method, enricher_version) VALUES (%s, %s, %s, %s, %s, %s, 'valid', 10, "
                "'low', 'deterministic', 'bench')",
                (cluster_id, rfq_id, f"Trading {number} LLC", f"trading{number}.example", code,
                 f"buyer{number}@trading{number}.example"),
            )  # fmt: skip
        conn.commit()
        run = workflow.draft_partition(
            conn, day, day + timedelta(days=1), rates=load_rates(), pdf_store=object_store_for("quote_pdfs",
            Settings.from_env()), now=datetime.now(UTC),
        )  # fmt: skip
    return run.created


def bench_desk(drafts: int, sends: int, *, repeats: int = 30, seed: int = 0) -> dict[str, float]:
    """Seed, then time the pages and the sends; returns every figure."""
    from rfq_pipeline.db.database import Database
    from rfq_pipeline.dedup.tempdb import temporary_database
    from rfq_pipeline.desk import queries
    from rfq_pipeline.desk.app import create_app
    from rfq_pipeline.desk.auth import add_user
    from rfq_pipeline.devtools.local_aws import LOCAL_QUOTE_FROM, local_aws
    from rfq_pipeline.settings import Settings

    figures: dict[str, float] = {}
    saved = {key: os.environ.get(key) for key in ("RFQ_DATA_DIR", "DATABASE_URL", "RFQ_DESK_SECRET_KEY")}
    with tempfile.TemporaryDirectory(prefix="rfq-bench-desk-") as tmp, temporary_database(prefix="bench_desk") as url:
        os.environ.update(RFQ_DATA_DIR=str(Path(tmp) / "data"), DATABASE_URL=url,
                          RFQ_DESK_SECRET_KEY="bench-desk-secret-0123456789abcdefghij")  # fmt: skip
        try:
            started = time.perf_counter()
            ids = _seed(url, drafts, seed)
            figures["seeded_drafts"] = len(ids)
            figures["drafting_per_s"] = len(ids) / (time.perf_counter() - started)
            with local_aws(), Database(url, min_size=1, max_size=2) as db:
                settings = Settings.from_env()
                with db.connection() as conn:
                    add_user(conn, "bench@desk.example", "lead", PASSWORD)
                    conn.commit()
                app = create_app(settings, db)
                client = app.test_client()
                login = client.get("/login").get_data(as_text=True)
                token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
                client.post("/login", data={"email": "bench@desk.example", "password": PASSWORD, "csrf_token": token})

                def queue_sql() -> None:
                    with db.connection() as conn:
                        queries.queue(conn, queries.QueueFilters(), now=datetime.now(UTC), lead=True)

                figures["queue_sql_p50_ms"], figures["queue_sql_p95_ms"] = _percentiles(_timed(queue_sql, repeats))
                figures["queue_page_p50_ms"], figures["queue_page_p95_ms"] = _percentiles(
                    _timed(lambda: client.get("/"), repeats)
                )
                sample = ids[len(ids) // 2]
                figures["draft_page_p50_ms"], figures["draft_page_p95_ms"] = _percentiles(
                    _timed(lambda: client.get(f"/drafts/{sample}"), repeats)
                )
                figures.update(_bench_sends(client, settings, ids[:sends], LOCAL_QUOTE_FROM))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return figures


def _bench_sends(client: Any, settings: Any, ids: Sequence[int], sender: str) -> dict[str, float]:
    """Approve-and-send through the desk against bare SESv2 sends of the same size to the same local server."""
    from rfq_pipeline.aws.clients import boto3_client
    from rfq_pipeline.devtools.local_aws import sent_mail

    started = time.perf_counter()
    for draft_id in ids:
        page = client.get(f"/drafts/{draft_id}").get_data(as_text=True)
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post(f"/drafts/{draft_id}/approve", data={"csrf_token": token, "version": "1"})
    desk_seconds = time.perf_counter() - started
    mails = sent_mail()
    if len(mails) != len(ids):
        raise RuntimeError(f"{len(ids)} approvals sent {len(mails)} mails")
    raw = mails[0]["raw"].encode()
    ses = boto3_client("sesv2", settings)
    started = time.perf_counter()
    for number in range(len(ids)):
        ses.send_email(FromEmailAddress=sender, Destination={"ToAddresses": [f"anchor{number}@example.com"]},
                       Content={"Raw": {"Data": raw}})  # fmt: skip
    bare_seconds = time.perf_counter() - started
    return {
        "sends": len(ids),
        "desk_sends_per_s": len(ids) / desk_seconds,
        "bare_ses_sends_per_s": len(ids) / bare_seconds,
        "mail_bytes": len(raw),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Print the desk's figures, one line each, with their anchors."""
    parser = argparse.ArgumentParser(prog="python -m rfq_pipeline.devtools.bench_desk", description=__doc__)
    parser.add_argument("--drafts", type=int, default=1_000, help="drafts in the queue")
    parser.add_argument("--sends", type=int, default=50, help="drafts approved and e-mailed")
    parser.add_argument("--repeats", type=int, default=30, help="requests per page timing")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    f = bench_desk(args.drafts, args.sends, repeats=args.repeats, seed=args.seed)
    print(f"desk: {f['seeded_drafts']:.0f} drafts made by the drafter, {f['drafting_per_s']:.0f} drafts/s with PDFs")
    print(
        f"desk: queue page p50 {f['queue_page_p50_ms']:.1f} ms, p95 {f['queue_page_p95_ms']:.1f} ms; its SQL alone "
        f"p50 {f['queue_sql_p50_ms']:.1f} ms (ratio {f['queue_page_p50_ms'] / f['queue_sql_p50_ms']:.1f})"
    )
    print(f"desk: draft page p50 {f['draft_page_p50_ms']:.1f} ms, p95 {f['draft_page_p95_ms']:.1f} ms")
    print(
        f"desk: approve and e-mail {f['desk_sends_per_s']:.1f} quotes/s ({f['sends']:.0f} sends, "
        f"{f['mail_bytes']:.0f}-byte mails with the PDF); bare SESv2 send of the same mail to the same local SES "
        f"{f['bare_ses_sends_per_s']:.1f}/s (ratio {f['desk_sends_per_s'] / f['bare_ses_sends_per_s']:.2f})"
    )


if __name__ == "__main__":
    main()
