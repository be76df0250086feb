"""People's corrections of the classifier on the real database: recorded with who and when, applied at once, kept
over every later model version and re-labeled text, and given through the CLI's own entry point."""

from __future__ import annotations

import json

import psycopg
import pytest

from rfq_pipeline.ai.classification_store import write_labels
from rfq_pipeline.ai.corrections import LabelError, record_label
from rfq_pipeline.ai.labels import Labels
from rfq_pipeline.cli import main
from rfq_pipeline.db import repository

INSERT_RFQ = """
INSERT INTO rfqs (source, external_id, canonical_url, title, description, content_sha256, posted_at)
VALUES ('alibaba_rfq', %s, '', %s, '', 'x', now()) RETURNING id
"""


def _model(rfq_id: int, version: str, industry: str, relevant: bool) -> Labels:
    return Labels(str(rfq_id), industry, relevant, "buy_request", 0.6, "local", version, {"confidence": 0.9})


def _stored(conn: psycopg.Connection, rfq_id: int) -> list[tuple]:
    return conn.execute(
        "SELECT model_version, provider, industry, relevant, details -> 'model_said' FROM classifications "
        "WHERE rfq_id = %s ORDER BY model_version", (rfq_id,),
    ).fetchall()  # fmt: skip


@pytest.fixture()
def rfq(clean_db: str) -> int:
    with psycopg.connect(clean_db) as conn:
        repository.upsert_source(conn, name="alibaba_rfq", kind="marketplace", base_url="https://x", cadence="1h",
                                 enabled=True)  # fmt: skip
        rfq_id = conn.execute(INSERT_RFQ, ("1", "Hair towel wrap, microfiber, custom logo")).fetchone()[0]
        write_labels(conn, [_model(rfq_id, "local-v1", "apparel_textiles", False)], {str(rfq_id): "h1"})
    return rfq_id


def test_a_correction_applies_at_once_and_never_flips_back(clean_db: str, rfq: int) -> None:
    with psycopg.connect(clean_db) as conn:
        label = record_label(conn, rfq, actor="rep@desk.example", industry="beauty_personal_care")
        assert (label.industry, label.relevant) == ("beauty_personal_care", True)  # relevance follows the industry
        said = {"industry": "apparel_textiles", "relevant": False}
        assert _stored(conn, rfq) == [("local-v1", "human", "beauty_personal_care", True, said)]

        # The next model version, and the same version on a changed text, say apparel again: the person wins.
        write_labels(conn, [_model(rfq, "local-v2", "apparel_textiles", False)], {str(rfq): "h1"})
        write_labels(conn, [_model(rfq, "local-v1", "apparel_textiles", False)], {str(rfq): "h2"})
        rows = _stored(conn, rfq)
        assert [(v, p, i, r) for v, p, i, r, _ in rows] == [
            ("local-v1", "human", "beauty_personal_care", True), ("local-v2", "human", "beauty_personal_care", True)]
        assert all(model_said == said for *_, model_said in rows)  # what the model said is kept, once

        # A later label saying only relevance keeps the earlier industry, for stored and future versions alike.
        record_label(conn, rfq, actor="lead@desk.example", relevant=False, note="a towel, not a cosmetic")
        write_labels(conn, [_model(rfq, "local-v3", "apparel_textiles", True)], {str(rfq): "h2"})
        assert {(i, r) for _, _, i, r, _ in _stored(conn, rfq)} == {("beauty_personal_care", False)}
        history = conn.execute("SELECT actor, industry, relevant, note FROM labels ORDER BY id").fetchall()
    assert history == [("rep@desk.example", "beauty_personal_care", True, ""),
                       ("lead@desk.example", None, False, "a towel, not a cosmetic")]  # fmt: skip


def test_a_label_that_says_nothing_or_names_no_industry_or_rfq_is_refused(clean_db: str, rfq: int) -> None:
    with psycopg.connect(clean_db) as conn:
        for kwargs, message in (({}, "say the industry"), ({"industry": "cosmetics"}, "unknown industry 'cosmetics'")):
            with pytest.raises(LabelError, match=message):
                record_label(conn, rfq, actor="rep", **kwargs)
        with pytest.raises(LabelError, match="there is no RFQ 999"):
            record_label(conn, 999, actor="rep", relevant=True)
        assert conn.execute("SELECT count(*) FROM labels").fetchone() == (0,)
        assert _stored(conn, rfq)[0][1:4] == ("local", "apparel_textiles", False)


def test_the_label_command(clean_db: str, rfq: int, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", clean_db)
    assert main(["label", str(rfq), "--industry", "beauty_personal_care", "--relevant", "yes"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["rfq_id"] == rfq and printed["relevant"] is True and printed["actor"].startswith("cli")
    assert main(["label", str(rfq), "--industry", "makeup"]) == 2
    assert "unknown industry 'makeup'" in capsys.readouterr().err
    with psycopg.connect(clean_db) as conn:
        assert conn.execute("SELECT count(*) FROM labels").fetchone() == (1,)
