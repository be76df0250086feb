"""The review queue: RFQs the local model was unsure of, settled by a signed-in person with a CSRF-checked form."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import psycopg
from flask import Flask
from flask.testing import FlaskClient

from rfq_pipeline.ai.corrections import record_label
from rfq_pipeline.db import repository
from rfq_pipeline.settings import Settings
from rfq_pipeline_tests.desk.conftest import INSERT_RFQ, LEAD, REP, csrf, flashes

UNCERTAIN = """
INSERT INTO classifications (rfq_id, model_version, provider, industry, relevant, intent, quality, confidence,
                             uncertain)
VALUES (%s, 'local-v1', 'local', %s, %s, 'buy_request', 0.8, %s, %s)
"""


def _rfq(
    settings: Settings,
    key: str,
    *,
    hours_ago: int = 1,
    title: str | None = None,
    description: str = "Please quote 2,000 units, CIF Mombasa.",
    source: str = "alibaba_rfq",
    industry: str = "beauty_personal_care",
    relevant: bool = True,
    confidence: float = 0.42,
    uncertain: bool = True,
) -> int:
    """An RFQ with one local classification (uncertain unless told otherwise)."""
    with psycopg.connect(str(settings.database_url)) as conn:
        repository.upsert_source(conn, name=source, kind="marketplace", base_url=f"https://{source}.example",
                                 cadence="1h", enabled=True)  # fmt: skip
        rfq_id = conn.execute(INSERT_RFQ, {
            "source": source, "external_id": key, "url": f"https://{source}.example/rfq/{key}",
            "title": title or f"RFQ {key}", "description": description, "quantity": "", "company": "Kijani Ltd",
            "country": "Kenya", "country_code": "KE", "posted_at": datetime.now(UTC) - timedelta(hours=hours_ago),
        }).fetchone()[0]  # fmt: skip
        conn.execute(UNCERTAIN, (rfq_id, industry, relevant, confidence, uncertain))
    return rfq_id


def _listed(client: FlaskClient, query: str = "") -> list[int]:
    page = client.get(f"/review{query}").get_data(as_text=True)
    return [int(i) for i in re.findall(r'<tr class="review-row" data-rfq-id="(\d+)"', page)]


def _form(client: FlaskClient, form_id: str) -> dict[str, str]:
    """The hidden and preselected values of the form ``form_id`` on /review (what a browser would send)."""
    page = client.get("/review").get_data(as_text=True)
    match = re.search(rf'<form [^>]*id="{form_id}"[^>]*>(.*?)</form>', page, re.S)
    assert match, f"no form {form_id}"
    body = match.group(1)
    values = {n: html.unescape(v) for n, v in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', body)}
    for name, options in re.findall(r'<select [^>]*name="(\w+)">(.*?)</select>', body, re.S):
        chosen = re.search(r'<option value="(\w*)" selected>', options)
        values[name] = chosen.group(1) if chosen else ""
    return values


def _effective(settings: Settings, rfq_id: int) -> tuple[str, bool, bool, str]:
    with psycopg.connect(str(settings.database_url)) as conn:
        return conn.execute(
            "SELECT provider, uncertain, relevant, industry FROM effective_labels(ARRAY[%s::bigint])", (rfq_id,)
        ).fetchone()


def _labels(settings: Settings) -> list[tuple]:
    with psycopg.connect(str(settings.database_url)) as conn:
        return conn.execute("SELECT rfq_id, source, actor, industry, relevant, note FROM labels ORDER BY id").fetchall()


def test_a_rep_settles_an_uncertain_rfq_and_it_leaves_the_review_queue(settings: Settings, rep: FlaskClient) -> None:
    waiting = _rfq(settings, "waiting", title="Hair towel wrap <b>microfiber</b>",
                   description="<script>alert(1)</script> custom logo " + "x" * 400)  # fmt: skip
    confident = _rfq(settings, "confident", confidence=0.93, uncertain=False)
    settled = _rfq(settings, "settled")
    with psycopg.connect(str(settings.database_url)) as conn:
        record_label(conn, settled, actor=LEAD, industry="home_living")

    assert _listed(rep) == [waiting]
    page = rep.get("/review").get_data(as_text=True)
    assert 'id="nav-review"' in rep.get("/").get_data(as_text=True)
    assert re.search(r'id="review-count">1</span>', page)
    row = re.search(rf'data-rfq-id="{waiting}">(.*?)</tr>', page, re.S).group(1)
    # RFQ text is the buyer's: shown as text, never markup, and only the start of a long description.
    assert "&lt;b&gt;microfiber&lt;/b&gt;" in row and "&lt;script&gt;" in row and "<script>" not in page
    assert "x" * 400 not in row
    assert "Kenya (KE)" in row and "beauty_personal_care, relevant" in row and "0.42" in row
    assert '<option value="beauty_personal_care" selected>' in row  # the model's guess is preselected

    # Without the form's CSRF token nothing is recorded.
    refused = rep.post(f"/rfqs/{waiting}/label", data={"industry": "apparel_textiles", "relevant": "no"})
    assert refused.status_code == 400 and _labels(settings) == [(settled, "human", LEAD, "home_living", False, "")]

    form = _form(rep, f"review-label-{waiting}")
    response = rep.post(f"/rfqs/{waiting}/label", data={**form, "industry": "apparel_textiles", "relevant": "no",
                                                        "note": "a towel, not a cosmetic"})  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"].endswith("/review")
    ok, errors = flashes(rep, "/review")
    assert errors == [] and ok == [f"RFQ {waiting} labeled apparel_textiles, not relevant; the classifier keeps it "
                                   "and learns from it"]  # fmt: skip
    assert _listed(rep) == []
    assert _labels(settings)[-1] == (waiting, "human", REP, "apparel_textiles", False, "a towel, not a cosmetic")
    assert _effective(settings, waiting) == ("human", False, False, "apparel_textiles")
    assert _effective(settings, confident)[:2] == ("local", False)

    # A form made before someone settled the RFQ is refused, not laid over their label.
    rep.post(f"/rfqs/{waiting}/label", data={**form, "industry": "other"})
    assert flashes(rep, "/review")[1] == [
        f"RFQ {waiting} no longer waits: it is labeled apparel_textiles, not relevant (human); nothing changed"
    ]
    assert len(_labels(settings)) == 2


def test_model_is_right_records_the_guess_and_the_filter_is_kept(settings: Settings, lead: FlaskClient) -> None:
    alibaba = _rfq(settings, "alibaba", hours_ago=3)
    tradekey = _rfq(settings, "tradekey", hours_ago=2, source="tradekey", industry="home_living", relevant=False,
                    confidence=0.3)  # fmt: skip
    newest = _rfq(settings, "newest", hours_ago=1, source="tradekey")
    assert _listed(lead) == [newest, tradekey, alibaba]
    assert _listed(lead, "?source=tradekey") == [newest, tradekey]
    assert _listed(lead, "?source=go4world") == []

    page = lead.get("/review?source=tradekey").get_data(as_text=True)
    body = re.search(rf'id="model-right-{tradekey}"[^>]*>(.*?)</form>', page, re.S).group(1)
    form = {n: html.unescape(v) for n, v in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', body)}
    assert form["source"] == "tradekey" and (form["industry"], form["relevant"]) == ("home_living", "no")
    response = lead.post(f"/rfqs/{tradekey}/label", data=form)
    assert response.headers["Location"].endswith("/review?source=tradekey")
    assert _listed(lead, "?source=tradekey") == [newest]
    assert _labels(settings) == [(tradekey, "human", LEAD, "home_living", False, "the model's guess, confirmed")]
    assert _effective(settings, tradekey) == ("human", False, False, "home_living")

    # An unknown industry is refused with the reason and nothing changes.
    lead.post(f"/rfqs/{alibaba}/label", data={"csrf_token": csrf(lead, "/review"), "industry": "cosmetics"})
    assert flashes(lead, "/review")[1][0].startswith("unknown industry 'cosmetics'")
    assert alibaba in _listed(lead) and len(_labels(settings)) == 1


def test_the_review_queue_needs_sign_in(app: Flask, users: dict[str, int]) -> None:
    client = app.test_client()
    response = client.get("/review")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
