"""Enrichment and drafts on the real database: once per cluster, one draft per cluster, states with history,
follow-ups, approval with PDF and dispatch."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from rfq_pipeline.db import repository
from rfq_pipeline.enrich.enrichment import ENRICHER_VERSION, enrich_cluster
from rfq_pipeline.enrich.store import clusters_to_enrich, write_buyer
from rfq_pipeline.quotes import store, workflow
from rfq_pipeline.quotes.catalog import DEFAULT_CATALOG, load_catalog, load_rates
from rfq_pipeline.quotes.dispatch import CsvSheet
from rfq_pipeline.quotes.pdf import pdf_text
from rfq_pipeline.quotes.states import TRANSITIONS, InvalidTransition
from rfq_pipeline.store.object_store import LocalObjectStore

DAY = datetime(2025, 7, 13, tzinfo=UTC)
START, END = DAY, DAY + timedelta(days=1)
NOW = DAY + timedelta(hours=12)

INSERT_RFQ = """
INSERT INTO rfqs (source, external_id, canonical_url, title, description, quantity_text, buyer_name, buyer_company,
                  country_raw, country_name, content_sha256, posted_at, attributes)
VALUES (%s, %s, '', %s, %s, %s, '', %s, %s, %s, 'x', %s, %s) RETURNING id
"""
LABEL = """
INSERT INTO classifications (rfq_id, model_version, provider, industry, relevant, intent, quality)
VALUES (%s, 'test-v1', 'local', %s, %s, 'buy_request', 0.9)
"""


def _rfq(conn: psycopg.Connection, external_id: str, title: str, description: str, *, relevant: bool = True,
         company: str = "Oasis Beauty Trading LLC", attributes: str = "{}", posted: datetime = DAY) -> int:  # fmt: skip
    rfq_id = conn.execute(
        INSERT_RFQ,
        ("alibaba_rfq", external_id, title, description, "", company, "United Arab Emirates",
         "United Arab Emirates", posted + timedelta(hours=9), attributes),
    ).fetchone()[0]  # fmt: skip
    conn.execute(LABEL, (rfq_id, "beauty_personal_care" if relevant else "machinery", relevant))
    return rfq_id


def make_cluster(conn: psycopg.Connection, *rfq_ids: int) -> int:
    cluster_id = conn.execute(
        "INSERT INTO dedup_clusters (canonical_rfq_id, member_count) VALUES (%s, %s) RETURNING id",
        (rfq_ids[0], len(rfq_ids)),
    ).fetchone()[0]
    for position, rfq_id in enumerate(rfq_ids):
        conn.execute(
            "INSERT INTO dedup_cluster_members (rfq_id, cluster_id, matched_by) VALUES (%s, %s, %s)",
            (rfq_id, cluster_id, "new" if position == 0 else "near_duplicate"),
        )
    return cluster_id


@pytest.fixture()
def seeded(clean_db: str) -> str:
    """A relevant lotion RFQ seen twice (one cluster), and an irrelevant one (its own cluster)."""
    with psycopg.connect(clean_db) as conn:
        repository.upsert_source(conn, name="alibaba_rfq", kind="marketplace", base_url="https://x", cadence="1h",
                                 enabled=True)  # fmt: skip
        text = "Please quote 5,000 tubes of shea body lotion 250ml, CIF Jebel Ali. Contact: buyer@oasis-beauty.ae"
        first = _rfq(conn, "1", "Shea body lotion 250ml", text, attributes=json.dumps({"website": "oasis-beauty.ae"}))
        repost = _rfq(conn, "2", "Shea body lotion 250ml wholesale", text)
        machine = _rfq(conn, "3", "CNC lathe", "Need 2 CNC lathes", relevant=False, company="Metal Works")
        make_cluster(conn, first, repost)
        make_cluster(conn, machine)
        store.load_catalog_rows(conn, load_catalog(), store.catalog_version(DEFAULT_CATALOG.read_text()))
    return clean_db


def _enrich_all(url: str) -> int:
    written = 0
    with psycopg.connect(url) as conn:
        for cluster in clusters_to_enrich(conn, START, END):
            profile, method, record = enrich_cluster(cluster)
            if write_buyer(conn, cluster, profile, method=method, enricher_version=ENRICHER_VERSION, research=record):
                written += 1
    return written


def test_enrichment_runs_once_per_relevant_cluster(seeded: str) -> None:
    assert _enrich_all(seeded) == 1  # two sightings, one buyer; the lathe is not relevant
    assert _enrich_all(seeded) == 0  # nothing left to pay for
    with psycopg.connect(seeded) as conn:
        buyer = conn.execute("SELECT company, domain, email, email_status, risk_level, research FROM buyers").fetchone()
        contacts = conn.execute("SELECT email, evidence FROM buyer_contacts").fetchall()
    company, domain, email, status, risk, research = buyer
    assert (company, domain, email) == ("Oasis Beauty Trading LLC", "oasis-beauty.ae", "buyer@oasis-beauty.ae")
    assert status == "unknown"  # no DNS and no provider: never "valid"
    assert risk == "low" and research["sightings"] == 2
    assert contacts and contacts[0][0] == "buyer@oasis-beauty.ae" and contacts[0][1][0]["source"] == "rfq"


def test_one_draft_per_cluster_with_preview_pdf(seeded: str, tmp_path: Path) -> None:
    _enrich_all(seeded)
    pdfs = LocalObjectStore(tmp_path / "pdfs")
    with psycopg.connect(seeded) as conn:
        run = workflow.draft_partition(conn, START, END, rates=load_rates(), pdf_store=pdfs, now=NOW)
        again = workflow.draft_partition(conn, START, END, rates=load_rates(), pdf_store=pdfs, now=NOW)
        (draft_id,) = run.created
        row = store.get_draft(conn, draft_id)
    assert again.created == [] and again.already_drafted == 0
    assert row["state"] == "queued" and row["guardrails_passed"] and row["currency"] == "AED"
    line = row["body"]["lines"][0]
    assert line["sku"] == "BC-SKN-0001" and line["quantity"] == 5000
    assert line["citation"]["catalog_row"] == 2 and row["body"]["catalog_version"] == row["catalog_version"]
    text = " ".join(pdf_text(pdfs.get(run.pdfs[draft_id])).split())
    assert "BC-SKN-0001" in text and line["unit_price"] in text and row["pdf_uri"].endswith("-draft.pdf")


def _draft(url: str, tmp_path: Path) -> int:
    _enrich_all(url)
    with psycopg.connect(url) as conn:
        run = workflow.draft_partition(
            conn, START, END, rates=load_rates(), pdf_store=LocalObjectStore(tmp_path / "pdfs"), now=NOW
        )
    return run.created[0]


@pytest.mark.parametrize(("path", "allowed"), [
    (["approved", "sent", "won"], True),
    (["approved", "sent", "lost"], True),
    (["edited", "edited", "approved"], True),
    (["rejected"], True),
    (["expired"], True),
    (["sent"], False),
    (["won"], False),
    (["approved", "queued"], False),
    (["rejected", "approved"], False),
    (["approved", "sent", "won", "lost"], False),
])  # fmt: skip
def test_state_changes_follow_the_machine_and_leave_history(
    seeded: str, tmp_path: Path, path: list[str], allowed: bool
) -> None:
    draft_id = _draft(seeded, tmp_path)
    with psycopg.connect(seeded) as conn:
        try:
            for step, target in enumerate(path):
                workflow.set_state(conn, draft_id, target, actor="test", now=NOW + timedelta(minutes=step))
        except InvalidTransition:
            assert not allowed
            conn.rollback()
        else:
            assert allowed
        events = store.draft_events(conn, draft_id)
        state = store.get_draft(conn, draft_id)["state"]
    moves = [(e["from_state"], e["to_state"]) for e in events]
    assert all(to in TRANSITIONS[frm] for frm, to in moves)
    assert state == (moves[-1][1] if moves else "queued")
    assert len(moves) == (len(path) if allowed else len(path) - 1)


def test_expiry_never_overwrites_won_or_lost(seeded: str, tmp_path: Path) -> None:
    draft_id = _draft(seeded, tmp_path)
    with psycopg.connect(seeded) as conn:
        for target in ("approved", "sent", "won"):
            workflow.set_state(conn, draft_id, target, actor="test", now=NOW)
        later = NOW + timedelta(days=30)
        result = workflow.sweep(conn, later, lambda f, d: True, validity=timedelta(days=14), actor="sweep")
        assert result.expired == [] and store.get_draft(conn, draft_id)["state"] == "won"


def test_stale_draft_expires_and_follow_ups_go_out_once(seeded: str, tmp_path: Path) -> None:
    draft_id = _draft(seeded, tmp_path)
    sent: list[tuple[int, str]] = []
    outage = {"down": True}

    def notify(followup: store.FollowUp, draft: dict) -> bool:
        if outage["down"]:
            return False
        sent.append((followup.draft_id, followup.kind))
        return True

    with psycopg.connect(seeded) as conn:
        assert workflow.sweep(conn, NOW + timedelta(hours=23), notify, actor="s").notified == []
        failed = workflow.sweep(conn, NOW + timedelta(hours=25), notify, actor="s")
        assert failed.failed == [(draft_id, "reminder")] and sent == []  # not marked: retried next tick
        outage["down"] = False
        workflow.sweep(conn, NOW + timedelta(hours=26), notify, actor="s")
        workflow.sweep(conn, NOW + timedelta(hours=49), notify, actor="s")
        workflow.sweep(conn, NOW + timedelta(hours=50), notify, actor="s")
        assert sent == [(draft_id, "reminder"), (draft_id, "escalation")]
        expired = workflow.sweep(conn, NOW + timedelta(days=15), notify, validity=timedelta(days=14), actor="s")
        assert expired.expired == [draft_id] and store.get_draft(conn, draft_id)["state"] == "expired"
        assert store.draft_events(conn, draft_id)[-1]["actor"] == "s"


def test_approve_renders_pdf_and_dispatches_once_per_channel(seeded: str, tmp_path: Path) -> None:
    draft_id = _draft(seeded, tmp_path)
    pdfs, exports = LocalObjectStore(tmp_path / "pdfs"), LocalObjectStore(tmp_path / "exports")
    sheet = CsvSheet(exports)
    with psycopg.connect(seeded) as conn:
        approval = workflow.approve(conn, draft_id, actor="test", now=NOW, pdf_store=pdfs, dispatchers=[sheet])
        assert approval.pdf_uri.endswith("-approved.pdf")
        assert [d["channel"] for d in approval.dispatches] == [sheet.name]
        assert approval.dispatches[0]["delivered"]
        with pytest.raises(InvalidTransition):
            workflow.approve(conn, draft_id, actor="test", now=NOW, pdf_store=pdfs, dispatchers=[sheet])
        conn.rollback()
        row = store.get_draft(conn, draft_id)
        assert workflow.dispatch(conn, draft_id, row, row["pdf_uri"], [sheet]) == []  # delivered: not again
        workflow.dispatch(conn, draft_id, row, row["pdf_uri"], [sheet], resend=True)
        dispatches = conn.execute("SELECT channel, delivered, attempts FROM quote_dispatches").fetchall()
    assert row["state"] == "approved" and dispatches == [(sheet.name, True, 2)]
    text = pdf_text(pdfs.get(workflow.pdf_key(draft_id, "approved")))
    assert f"Quotation {draft_id}" in text
    sheet_rows = exports.get("quote_sheet/approved_quotes.csv").decode().strip().splitlines()
    assert len(sheet_rows) == 2  # header + one row: re-sending replaced it
