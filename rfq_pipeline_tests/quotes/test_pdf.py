from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pypdf import PdfReader

from rfq_pipeline.ai.labels import RfqText
from rfq_pipeline.quotes.catalog import load_catalog, load_rates
from rfq_pipeline.quotes.draft import draft_quote
from rfq_pipeline.quotes.pdf import pdf_text, render_quote_pdf

CATALOG = load_catalog()
RATES = load_rates()
ISSUED = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
HOSTILE_TITLE = 'Private label <b>skin</b> & hair care <font color="red">now</font> &amp; more'


def _draft(title: str = "Private label skin and hair care for Dubai retail chain") -> dict[str, Any]:
    rfq = RfqText(
        "rfq-42",
        title,
        "Hello, we are a retail chain in Dubai. Please quote:\n"
        "- 5,000 tubes of shea body lotion 250ml\n"
        "- 2,000 bottles vitamin C serum 30ml\n"
        "- 300 jars retinol night cream\n"
        "- 1,000 units unicorn glitter slime\n",
        country="United Arab Emirates",
    )
    return draft_quote(rfq, CATALOG, RATES, requested_discount_pct=5, incoterm="CIF").as_json()


def _flat(text: str) -> str:
    # Paragraphs wrap at spaces; comparing on single-spaced text keeps the checks about content, not layout.
    return " ".join(text.split())


def test_pdf_carries_every_priced_line_the_total_and_the_ids():
    draft = _draft()
    priced = [line for line in draft["lines"] if line.get("unit_price") is not None]
    assert len(priced) == 2 and draft["total"] is not None
    data = render_quote_pdf(draft, draft_id=1234, buyer="Al Noor Trading LLC", issued_at=ISSUED)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    flat = _flat(text)
    for line in priced:
        assert line["sku"] in text
        assert line["unit_price"] in text
        assert line["total"] in text
        assert line["name"] in flat
    assert draft["total"] in text and f"AED {draft['total']}" in flat
    assert "1234" in text and "rfq-42" in text and "Al Noor Trading LLC" in flat
    assert "2025-06-02" in text and "2025-06-16" in text  # issued, and valid 14 days
    assert "CIF" in text and "Exchange rates as of" in flat
    # The below-MOQ line and the unmatched phrase are listed to confirm, not priced.
    assert "To confirm" in text
    assert "BC-SKN-0008" in flat and "below our minimum order; price to confirm" in flat
    assert '"unicorn glitter slime": the exact product, to confirm' in flat
    # The cover text is on the page too.
    assert "Thank you for your request" in flat


def test_hostile_text_renders_literally():
    draft = _draft(HOSTILE_TITLE)
    assert HOSTILE_TITLE in draft["cover_text"]
    data = render_quote_pdf(draft, draft_id="Q-7", buyer="A&B <Trading> & Sons </para>", issued_at=ISSUED)
    flat = _flat(pdf_text(data))
    assert HOSTILE_TITLE in flat  # tags printed as typed, "&amp;" not turned into "&"
    assert "A&B <Trading> & Sons </para>" in flat


def test_output_is_deterministic_and_dated_by_issue():
    draft = _draft()
    first = render_quote_pdf(draft, draft_id=1, buyer="Buyer", issued_at=ISSUED)
    assert first == render_quote_pdf(draft, draft_id=1, buyer="Buyer", issued_at=ISSUED)
    later = render_quote_pdf(draft, draft_id=1, buyer="Buyer", issued_at=ISSUED + timedelta(days=1))
    assert later != first
    metadata = PdfReader(io.BytesIO(first)).metadata
    assert metadata is not None and metadata.creation_date == ISSUED
    assert metadata.title == "Quotation 1"
    dubai = datetime(2025, 6, 2, 13, 30, tzinfo=timezone(timedelta(hours=4)))
    stamp = PdfReader(io.BytesIO(render_quote_pdf(draft, draft_id=1, issued_at=dubai))).metadata
    assert stamp is not None and stamp.creation_date == dubai


def test_naive_issue_time_is_refused():
    with pytest.raises(ValueError, match="timezone"):
        render_quote_pdf(_draft(), draft_id=1, issued_at=datetime(2025, 6, 2))


def test_cjk_buyer_text_survives_extraction():
    data = render_quote_pdf(_draft(), draft_id=5, buyer="株式会社テスト & 한국상사", issued_at=ISSUED)
    flat = _flat(pdf_text(data))
    assert "株式会社テスト" in flat and "한국상사" in flat


def test_draft_without_priced_lines():
    rfq = RfqText("rfq-9", "Industrial hydraulic pump", "We need 20 units industrial hydraulic pump")
    draft = draft_quote(rfq, CATALOG, RATES).as_json()
    assert draft["total"] is None
    flat = _flat(pdf_text(render_quote_pdf(draft, draft_id=9, issued_at=ISSUED)))
    assert "Total: to confirm" in flat and "the exact product, to confirm" in flat


def test_long_quote_spans_pages_with_every_line():
    base = _draft()
    template = next(line for line in base["lines"] if line.get("unit_price") is not None)
    lines = [{**template, "sku": f"BC-SKN-{n:04d}", "total": f"{1000 + n}.00"} for n in range(1, 81)]
    data = render_quote_pdf({**base, "lines": lines, "total": "123456.78"}, draft_id=77, issued_at=ISSUED)
    assert len(PdfReader(io.BytesIO(data)).pages) > 1
    text = pdf_text(data)
    assert all(f"BC-SKN-{n:04d}" in text and f"{1000 + n}.00" in text for n in range(1, 81))
    assert "123456.78" in text and "Page 2" in text
