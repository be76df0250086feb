"""Abstain instead of guess, on the real database: an unsure local label is stored as uncertain, does not count as
relevant, is what the Claude batch takes when the local model is the classifier, and is settled by a person or
Claude; people's and Claude's labels become training data with their provenance, never the held-out texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from rfq_pipeline.ai.classification_store import uncertain_between, write_labels
from rfq_pipeline.ai.corrections import record_claude_labels, record_label, training_set
from rfq_pipeline.ai.labels import Labels, is_uncertain, label_confidence
from rfq_pipeline.ai.training_data import alibaba_rows, held_out_title_keys, title_key
from rfq_pipeline.db import repository

INSERT_RFQ = """
INSERT INTO rfqs (source, external_id, canonical_url, title, description, content_sha256, posted_at)
VALUES ('alibaba_rfq', %s, '', %s, '', 'x', now()) RETURNING id
"""

EFFECTIVE = "SELECT industry, relevant, uncertain, provider FROM effective_labels(ARRAY[%s]::bigint[])"


def _local(rfq_id: int, industry: str, relevant: bool, confidence: float, relevance: float) -> Labels:
    details = {"confidence": confidence, "relevance_confidence": relevance}
    return Labels(str(rfq_id), industry, relevant, "buy_request", 0.6, "local", "local-v9", details)


@pytest.fixture()
def conn(clean_db: str):
    with psycopg.connect(clean_db) as connection:
        repository.upsert_source(connection, name="alibaba_rfq", kind="marketplace", base_url="https://x",
                                 cadence="1h", enabled=True)  # fmt: skip
        yield connection


def _rfq(conn: psycopg.Connection, external_id: str, title: str) -> int:
    return int(conn.execute(INSERT_RFQ, (external_id, title)).fetchone()[0])


def test_confidence_is_the_lower_of_industry_and_relevance() -> None:
    label = _local(1, "beauty_personal_care", True, 0.9, 0.55)
    assert label_confidence(label) == 0.55
    assert is_uncertain(label, 0.6) and not is_uncertain(label, 0.5)
    claude = Labels("1", "beauty_personal_care", True, "buy_request", 0.6, "anthropic", "claude-x", {})
    assert label_confidence(claude) is None and not is_uncertain(claude, 0.99)


def test_an_uncertain_label_is_not_relevant_until_a_person_settles_it(conn: psycopg.Connection) -> None:
    sure, unsure = _rfq(conn, "1", "Lipstick matte 5000 pcs"), _rfq(conn, "2", "Hair towel wrap microfiber")
    labels = [_local(sure, "beauty_personal_care", True, 0.95, 0.97),
              _local(unsure, "beauty_personal_care", True, 0.41, 0.52)]  # fmt: skip
    write_labels(conn, labels, {str(sure): "a", str(unsure): "b"}, min_confidence=0.6)
    stored = conn.execute("SELECT rfq_id, uncertain, confidence FROM classifications ORDER BY rfq_id").fetchall()
    assert [(r, u, round(c, 2)) for r, u, c in stored] == [(sure, False, 0.95), (unsure, True, 0.41)]
    assert conn.execute(EFFECTIVE, (sure,)).fetchone() == ("beauty_personal_care", True, False, "local")
    assert conn.execute(EFFECTIVE, (unsure,)).fetchone() == ("beauty_personal_care", False, True, "local")

    now = datetime.now(UTC)
    window = (now - timedelta(days=1), now + timedelta(days=1))
    assert [r["id"] for r in uncertain_between(conn, *window, "claude-x")] == [unsure]

    record_label(conn, unsure, actor="rep@desk.example", industry="apparel_textiles")
    assert conn.execute(EFFECTIVE, (unsure,)).fetchone() == ("apparel_textiles", False, False, "human")
    assert uncertain_between(conn, *window, "claude-x") == []


def test_claude_settles_an_uncertain_label_and_is_kept_apart_from_people(conn: psycopg.Connection) -> None:
    unsure = _rfq(conn, "3", "Argan oil bulk 200 litres")
    write_labels(conn, [_local(unsure, "food_beverage", False, 0.45, 0.5)], {str(unsure): "c"}, min_confidence=0.6)
    claude = Labels(str(unsure), "beauty_personal_care", True, "buy_request", 0.7, "anthropic", "claude-x", {})
    write_labels(conn, [claude], {str(unsure): "c"}, min_confidence=0.6)
    assert record_claude_labels(conn, [claude]) == 1
    assert record_claude_labels(conn, [claude]) == 0  # a re-delivered result adds nothing
    assert conn.execute(EFFECTIVE, (unsure,)).fetchone() == ("beauty_personal_care", True, False, "anthropic")

    found = training_set(conn)
    assert found.by_source == {"claude": 1}
    [example] = found.examples
    assert (example.industry, example.relevant, example.dataset) == ("beauty_personal_care", True, "claude")

    # A person's word is put over Claude's, in the label that counts and in the training data.
    record_label(conn, unsure, actor="lead@desk.example", industry="food_beverage", note="culinary argan oil")
    assert conn.execute(EFFECTIVE, (unsure,)).fetchone() == ("food_beverage", False, False, "human")
    found = training_set(conn)
    assert found.by_source == {"human": 1}
    assert [(e.industry, e.relevant, e.dataset) for e in found.examples] == [("food_beverage", False, "human")]


def test_training_data_never_takes_a_held_out_text_and_says_what_it_left_out(conn: psycopg.Connection) -> None:
    held_out_title = next(row["Title"] for row in alibaba_rows().values()
                          if title_key(row["Title"]) in held_out_title_keys())  # fmt: skip
    held = _rfq(conn, "4", held_out_title)
    kept = _rfq(conn, "5", "Nail polish gel 12 colours, 3000 bottles")
    bare = _rfq(conn, "6", "Shea butter raw 1 ton")
    write_labels(conn, [_local(bare, "beauty_personal_care", True, 0.9, 0.9)], {str(bare): "d"})
    record_label(conn, held, actor="rep", industry="beauty_personal_care")
    record_label(conn, kept, actor="rep", industry="beauty_personal_care")
    record_label(conn, bare, actor="rep", relevant=False)  # says only "not relevant"; the stored industry is beauty

    found = training_set(conn)
    assert [e.item.title for e in found.examples] == ["Nail polish gel 12 colours, 3000 bottles"]
    assert found.skipped == {"held-out evaluation text": 1, "relevance only, no agreeing industry": 1}
    kept_label = conn.execute("SELECT id FROM labels WHERE rfq_id = %s", (kept,)).fetchone()[0]
    assert found.label_ids == [kept_label]
    # A recorded version's training set is rebuilt from its label ids alone.
    assert [e.item.title for e in training_set(conn, label_ids=found.label_ids).examples] == [
        "Nail polish gel 12 colours, 3000 bottles"
    ]
