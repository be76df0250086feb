"""The RFQs waiting for a person on the real database: only those whose label that counts is an uncertain local one,
newest first, by source; and ``rfq-pipeline label --uncertain`` listing them through the CLI's own entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from rfq_pipeline.ai.corrections import record_label
from rfq_pipeline.ai.review_queue import count_uncertain, lock_label_that_counts, uncertain_rfqs
from rfq_pipeline.cli import main
from rfq_pipeline.db import repository

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
INSERT_RFQ = """
INSERT INTO rfqs (source, external_id, canonical_url, title, description, country_name, content_sha256, posted_at)
VALUES (%s, %s, '', %s, 'Please quote.', 'Kenya', 'x', %s) RETURNING id
"""
INSERT_CLASSIFICATION = """
INSERT INTO classifications (rfq_id, model_version, provider, industry, relevant, intent, quality, confidence,
                             uncertain, classified_at)
VALUES (%s, %s, %s, %s, %s, 'buy_request', 0.7, %s, %s, %s)
"""


def _rfq(conn: psycopg.Connection, key: str, hours_ago: int, *, source: str = "alibaba_rfq") -> int:
    return conn.execute(INSERT_RFQ, (source, key, f"RFQ {key}", NOW - timedelta(hours=hours_ago))).fetchone()[0]


def _classify(conn: psycopg.Connection, rfq_id: int, version: str, provider: str, *, industry: str = "home_living",
              relevant: bool = False, confidence: float | None = 0.4, uncertain: bool = True,
              minutes_ago: int = 10) -> None:  # fmt: skip
    conn.execute(INSERT_CLASSIFICATION, (rfq_id, version, provider, industry, relevant, confidence, uncertain,
                                         NOW - timedelta(minutes=minutes_ago)))  # fmt: skip


@pytest.fixture()
def rfqs(clean_db: str) -> dict[str, int]:
    """One RFQ of each kind: waiting (two, on two sources), confident, settled by Claude, settled by a person, and
    one a newer confident model version no longer doubts."""
    with psycopg.connect(clean_db) as conn:
        for name in ("alibaba_rfq", "tradekey"):
            repository.upsert_source(conn, name=name, kind="marketplace", base_url="https://x", cadence="1h",
                                     enabled=True)  # fmt: skip
        ids = {
            "older": _rfq(conn, "older", 5),
            "newer": _rfq(conn, "newer", 1, source="tradekey"),
            "confident": _rfq(conn, "confident", 2),
            "claude": _rfq(conn, "claude", 3),
            "person": _rfq(conn, "person", 4),
            "retrained": _rfq(conn, "retrained", 0),
        }
        # The model guessed beauty (relevant) but below the threshold: effective_labels reports it not relevant.
        _classify(conn, ids["older"], "local-v1", "local", industry="beauty_personal_care", relevant=True,
                  confidence=0.41)  # fmt: skip
        _classify(conn, ids["newer"], "local-v1", "local", confidence=0.3)
        _classify(conn, ids["confident"], "local-v1", "local", confidence=0.9, uncertain=False)
        _classify(conn, ids["claude"], "local-v1", "local")
        _classify(conn, ids["claude"], "claude-x", "anthropic", confidence=None, uncertain=False, minutes_ago=20)
        _classify(conn, ids["person"], "local-v1", "local")
        record_label(conn, ids["person"], actor="rep@desk.example", industry="home_living")
        _classify(conn, ids["retrained"], "local-v1", "local", minutes_ago=30)
        _classify(conn, ids["retrained"], "local-v2", "local", confidence=0.95, uncertain=False, minutes_ago=5)
        conn.commit()
    return ids


def test_only_rfqs_whose_label_that_counts_is_uncertain_wait_newest_first(clean_db: str, rfqs: dict[str, int]) -> None:
    with psycopg.connect(clean_db) as conn:
        waiting = uncertain_rfqs(conn)
        assert [row.id for row in waiting] == [rfqs["newer"], rfqs["older"]]
        older = waiting[1]
        # The model's own guess (relevant), not the "not relevant" the uncertain label counts as.
        assert (older.industry, older.relevant, older.model_version) == ("beauty_personal_care", True, "local-v1")
        assert older.confidence == pytest.approx(0.41) and older.country == "Kenya" and older.title == "RFQ older"
        assert count_uncertain(conn) == 2

        assert [row.id for row in uncertain_rfqs(conn, source="tradekey")] == [rfqs["newer"]]
        assert count_uncertain(conn, source="tradekey") == 1
        assert [row.id for row in uncertain_rfqs(conn, limit=1)] == [rfqs["newer"]]
        assert uncertain_rfqs(conn, source="go4world") == [] and count_uncertain(conn, source="go4world") == 0

        # A person's label takes it off the list.
        record_label(conn, rfqs["older"], actor="lead@desk.example", relevant=False)
        assert [row.id for row in uncertain_rfqs(conn)] == [rfqs["newer"]]


def test_the_label_that_counts_for_one_rfq(clean_db: str, rfqs: dict[str, int]) -> None:
    with psycopg.connect(clean_db) as conn:
        waiting = lock_label_that_counts(conn, rfqs["newer"])
        assert waiting is not None and waiting.uncertain and waiting.provider == "local"
        settled = lock_label_that_counts(conn, rfqs["person"])
        assert settled is not None and not settled.uncertain and settled.provider == "human"
        assert lock_label_that_counts(conn, 999_999) is None


def test_label_uncertain_lists_the_waiting_rfqs(
    clean_db: str, rfqs: dict[str, int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", clean_db)
    assert main(["label", "--uncertain"]) == 0
    out, err = capsys.readouterr()
    listed = [json.loads(line) for line in out.splitlines()]
    assert [row["rfq_id"] for row in listed] == [rfqs["newer"], rfqs["older"]]
    assert listed[1] == {"rfq_id": rfqs["older"], "source": "alibaba_rfq", "posted_at": listed[1]["posted_at"],
                         "confidence": 0.41, "industry": "beauty_personal_care", "relevant": True,
                         "title": "RFQ older"}  # fmt: skip
    assert "2 RFQs waiting for a person" in err and "rfq-pipeline label RFQ_ID" in err

    assert main(["label", "--uncertain", "--source", "tradekey", "--limit", "5"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["rfq_id"] for line in out.splitlines()] == [rfqs["newer"]]

    assert main(["label", "--uncertain", "--limit", "1"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1 and "the newest 1 listed" in err

    # Settled through the CLI, the RFQ no longer waits.
    assert main(["label", str(rfqs["newer"]), "--industry", "apparel_textiles", "--relevant", "no"]) == 0
    capsys.readouterr()
    assert main(["label", "--uncertain"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["rfq_id"] for line in out.splitlines()] == [rfqs["older"]]


def test_label_needs_an_rfq_or_uncertain(
    clean_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", clean_db)
    assert main(["label", "--industry", "other"]) == 2
    assert "say which RFQ to label" in capsys.readouterr().err
    assert main(["label", "7", "--uncertain"]) == 2
    assert "--uncertain only lists" in capsys.readouterr().err
    assert main(["label", "7", "--source", "tradekey", "--relevant", "no"]) == 2
    assert "--source goes with --uncertain" in capsys.readouterr().err
