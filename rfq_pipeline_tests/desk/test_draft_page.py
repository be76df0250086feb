"""The draft page: the request as the buyer wrote it (as text, never HTML), the buyer and its evidence, the other
sightings, the priced lines with their catalog rows, guardrails, the PDF, and the histories."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import psycopg
from flask.testing import FlaskClient

from rfq_pipeline.desk.app import object_key
from rfq_pipeline.quotes import store
from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import LocalObjectStore, object_store_for
from rfq_pipeline_tests.desk.conftest import REP, seed_draft


def test_buyer_text_is_shown_as_text_never_as_html(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(
        settings,
        "xss",
        title="Shea body lotion 250ml <script>alert(1)</script>",
        description='5,000 tubes of shea body lotion 250ml <img src=x onerror="alert(2)"> <b>bold</b>',
        quantity="<script>alert(3)</script> 5000 tubes",
    )
    page = rep.get(f"/drafts/{draft_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>bold" not in page
    assert "<script" not in page  # the desk itself runs no script at all
    queue = rep.get("/").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)" in queue and "<script>alert" not in queue


def test_the_page_shows_buyer_evidence_sightings_lines_guardrails_and_pdf(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(settings, "full", reposts=("tradekey",), risk="medium")
    page = " ".join(html.unescape(rep.get(f"/drafts/{draft_id}").get_data(as_text=True)).split())
    # The request as received, and the buyer with what the finding rests on.
    assert 'id="rfq-description">Please quote 5,000 tubes of shea body lotion 250ml, CIF Jebel Ali.</pre>' in page
    assert "oasis-beauty.example" in page and "buyer@oasis-beauty.example (unknown)" in page
    assert "free-mail domain" in page and "score 50" in page
    assert "Amal Haddad" in page and "Contact: buyer@oasis-beauty.example" in page
    assert '"company": 0.9' in page
    # The repost on another board, with its link.
    assert "Shea body lotion 250ml (repost 1)" in page and "https://tradekey.example/rfq/full-1" in page
    # The priced line and its catalog citation, the guardrails, the cover text.
    assert "BC-SKN-0001" in page and "catalog row 2" in page and "tier 2: quantity 5000 >= 5000" in page
    assert "AED 7.94" in page and "AED 39700.00" in page
    assert "<td>prices</td> <td>pass</td>" in page
    assert "Thank you for your request" in page
    # The recipient needs confirming, so the approve form asks for it.
    assert 'id="confirm-address"' in page and "I confirmed buyer@oasis-beauty.example belongs to the buyer" in page
    # The PDF, embedded and linked, streamed from the quote-PDF store.
    assert f'<iframe src="/drafts/{draft_id}/pdf"' in page and 'id="pdf-link"' in page
    pdf = rep.get(f"/drafts/{draft_id}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"].startswith("inline;")
    # Version 1 as drafted.
    assert "<td>1</td><td>drafted</td>" in page
    for control in ('id="approve-form"', 'id="approve"', 'id="reject-form"', 'id="reject-reason"', 'id="reject"',
                    'id="mark-form"', 'id="mark-sent"', 'id="mark-won"', 'id="mark-lost"', 'id="edit-form"',
                    'name="line-0-quantity"', 'name="line-0-unit_price"', 'name="line-0-remove"', 'id="cover-text"',
                    'id="save-edit"', 'id="save-and-approve"', 'id="clarify-form"', 'id="clarify-text"',
                    'id="send-clarification"'):  # fmt: skip
        assert control in page, control


def test_a_missing_draft_or_pdf_is_a_404(settings: Settings, rep: FlaskClient) -> None:
    assert rep.get("/drafts/4242").status_code == 404
    draft_id = seed_draft(settings, "nopdf")
    with psycopg.connect(str(settings.database_url)) as conn:
        # A URI outside the quote-PDF store is never read, whatever the row says.
        conn.execute("UPDATE quote_drafts SET pdf_uri = 'file:///etc/passwd' WHERE id = %s", (draft_id,))
    assert rep.get(f"/drafts/{draft_id}/pdf").status_code == 404


def test_object_key_maps_a_uri_back_only_inside_its_store(settings: Settings, tmp_path) -> None:
    pdfs = object_store_for("quote_pdfs", settings)
    uri = pdfs.put("quotes/7/quote-7-draft.pdf", b"%PDF-1.4")
    assert object_key(pdfs, uri) == "quotes/7/quote-7-draft.pdf"
    other = LocalObjectStore(tmp_path / "elsewhere")
    assert object_key(pdfs, other.put("quotes/7/quote-7-draft.pdf", b"x")) is None
    assert object_key(pdfs, "s3://bucket/quotes/7/quote-7-draft.pdf") is None


def test_histories_show_who_did_what(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(settings, "history")
    with psycopg.connect(str(settings.database_url)) as conn:
        store.record_action(conn, draft_id, "note", actor=REP, at=datetime.now(UTC), version=1, detail={"x": 1})
    page = rep.get(f"/drafts/{draft_id}").get_data(as_text=True)
    assert "<td>note</td>" in page and f"<td>{REP}</td>" in page
