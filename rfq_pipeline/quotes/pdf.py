"""The quote PDF: a draft's priced lines, total, terms and cover text as a one-document offer for the buyer.

``render_quote_pdf`` reads the dict of :meth:`QuoteDraft.as_json` (or the same shape read back from storage) and
never recomputes a price: every number on the page is the draft's own string, so the PDF, the cover text and the
guardrails agree to the cent. Buyer-controlled text (RFQ title inside the cover text, phrases, buyer name) reaches
reportlab's Paragraph markup only escaped, so ``<b>`` or ``&`` in an RFQ prints literally instead of styling or
breaking the page.

The output is byte-for-byte reproducible for the same inputs: the canvas runs in reportlab's invariant mode (fixed
document id) and the PDF creation date is ``issued_at`` rather than the wall clock.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from pypdf import PdfReader
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, StyleSheet1, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

__all__ = ["DEFAULT_COMPANY", "QUOTE_VALIDITY_DAYS", "pdf_text", "render_quote_pdf"]

DEFAULT_COMPANY = "BC Beauty Exports"
QUOTE_VALIDITY_DAYS = 14  # the template cover text promises 14 days; the printed date must say the same
MAX_FIELD_CHARS = 200  # a table row cannot split across pages, so one huge field would make the layout fail

_BASE_FONT = "Helvetica"
_BOLD_FONT = "Helvetica-Bold"
# The standard PDF fonts only cover cp1252. For CJK (and the Greek/Cyrillic those character sets include) the
# Adobe CID fonts reportlab ships metrics for are used; they are not embedded, so the PDF stays small and the
# viewer supplies the glyphs. Arabic and other scripts have no font here and print as placeholders.
_JAPANESE_FONT = "HeiseiKakuGo-W5"
_KOREAN_FONT = "HYGothic-Medium"
_CHINESE_FONT = "STSong-Light"
# sku, name, quantity, unit, unit price, line total, currency: 174 mm, the A4 width inside 18 mm margins
_COLUMN_WIDTHS = [27 * mm, 55 * mm, 20 * mm, 14 * mm, 21 * mm, 25 * mm, 12 * mm]


@cache
def _register_cid_fonts() -> None:
    for name in (_JAPANESE_FONT, _KOREAN_FONT, _CHINESE_FONT):
        pdfmetrics.registerFont(UnicodeCIDFont(name))


def _is_kana(char: str) -> bool:
    return "\u3040" <= char <= "\u30ff" or "\u31f0" <= char <= "\u31ff" or "\uff65" <= char <= "\uff9f"


def _is_hangul(char: str) -> bool:
    return "\u1100" <= char <= "\u11ff" or "\u3130" <= char <= "\u318f" or "\uac00" <= char <= "\ud7af"


def _in_base_font(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _clean(value: object, limit: int | None = None) -> str:
    """``value`` as text without control characters (which print as boxes or upset the PDF), optionally cut."""
    text = "" if value is None else str(value)
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in {"Cc", "Cs"})
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _markup(value: object, limit: int | None = None) -> str:
    """Untrusted text as Paragraph markup: escaped, with runs the base font lacks switched to a CID font."""
    text = _clean(value, limit)
    if all(_in_base_font(c) for c in text):
        return escape(text)
    _register_cid_fonts()
    # Han characters are shared by the three languages; the kana or hangul around them decide which font fits.
    if any(_is_kana(c) for c in text):
        fallback = _JAPANESE_FONT
    elif any(_is_hangul(c) for c in text):
        fallback = _KOREAN_FONT
    else:
        fallback = _CHINESE_FONT
    parts: list[str] = []
    run: list[str] = []
    run_in_base = True
    for char in text + "\0":  # the sentinel flushes the last run
        in_base = char == "\0" or _in_base_font(char) or char == " "
        if run and (in_base != run_in_base or char == "\0"):
            chunk = escape("".join(run))
            parts.append(chunk if run_in_base else f'<font name="{fallback}">{chunk}</font>')
            run = []
        if char != "\0":
            if not run:
                run_in_base = in_base
            run.append(char)
    return "".join(parts)


def _quantity(value: object) -> str:
    try:
        return f"{int(str(value)):,}"
    except ValueError:
        return _clean(value)


def _styles() -> StyleSheet1:
    sheet = getSampleStyleSheet()
    base = ParagraphStyle("QuoteBody", parent=sheet["Normal"], fontName=_BASE_FONT, fontSize=9.5, leading=12.5)
    sheet.add(base)
    sheet.add(ParagraphStyle("QuoteTitle", parent=sheet["Title"], fontName=_BOLD_FONT, alignment=0, spaceAfter=2))
    sheet.add(ParagraphStyle("QuoteCompany", parent=base, fontName=_BOLD_FONT, fontSize=11, leading=14))
    sheet.add(ParagraphStyle("QuoteHeading", parent=base, fontName=_BOLD_FONT, fontSize=11, spaceBefore=8))
    sheet.add(ParagraphStyle("QuoteBullet", parent=base, leftIndent=12, bulletIndent=2))
    sheet.add(ParagraphStyle("QuoteCell", parent=base, fontSize=8.5, leading=10.5))
    sheet.add(ParagraphStyle("QuoteCellBold", parent=base, fontName=_BOLD_FONT, fontSize=8.5, leading=10.5))
    sheet.add(ParagraphStyle("QuoteNumber", parent=base, fontSize=8.5, leading=10.5, alignment=TA_RIGHT))
    sheet.add(
        ParagraphStyle(
            "QuoteNumberBold", parent=base, fontName=_BOLD_FONT, fontSize=8.5, leading=10.5, alignment=TA_RIGHT
        )
    )
    return sheet


def _meta_table(rows: Sequence[tuple[str, str]], styles: StyleSheet1) -> Table:
    data = [
        [Paragraph(escape(label), styles["QuoteCellBold"]), Paragraph(value, styles["QuoteCell"])]
        for label, value in rows
    ]
    table = Table(data, colWidths=[40 * mm, 134 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    return table


def _lines_table(priced: Sequence[Mapping[str, Any]], draft: Mapping[str, Any], styles: StyleSheet1) -> Table:
    cell, number = styles["QuoteCell"], styles["QuoteNumber"]
    numeric = {"Quantity", "Unit price", "Line total"}
    header = [
        Paragraph(label, styles["QuoteNumberBold" if label in numeric else "QuoteCellBold"])
        for label in ("SKU", "Product", "Quantity", "Unit", "Unit price", "Line total", "Cur.")
    ]
    rows: list[list[Any]] = [header]
    for line in priced:
        rows.append(
            [
                Paragraph(_markup(line.get("sku"), MAX_FIELD_CHARS), cell),
                Paragraph(_markup(line.get("name"), MAX_FIELD_CHARS), cell),
                Paragraph(escape(_quantity(line.get("quantity"))), number),
                Paragraph(_markup(line.get("unit"), 40), cell),
                Paragraph(_markup(line.get("unit_price"), 40), number),
                Paragraph(_markup(line.get("total"), 40), number),
                Paragraph(_markup(line.get("currency") or draft.get("currency"), 10), cell),
            ]
        )
    total = draft.get("total")
    if total is not None:
        rows.append(
            [
                Paragraph("Total", styles["QuoteCellBold"]),
                "",
                "",
                "",
                "",
                Paragraph(_markup(total, 40), styles["QuoteNumberBold"]),
                Paragraph(_markup(draft.get("currency"), 10), styles["QuoteCellBold"]),
            ]
        )
    table = Table(rows, colWidths=_COLUMN_WIDTHS, repeatRows=1, hAlign="LEFT")
    commands: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecef")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#5b6770")),
        ("ROWBACKGROUNDS", (0, 1), (-1, len(priced)), [colors.white, colors.HexColor("#f7f8f9")]),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    if total is not None:
        commands += [("SPAN", (0, -1), (4, -1)), ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black)]
    table.setStyle(TableStyle(commands))
    return table


def _to_confirm(lines: Sequence[Mapping[str, Any]]) -> list[str]:
    """Markup of every requested item the offer does not price firmly, in the buyer's order."""
    items: list[str] = []
    for line in lines:
        phrase = _markup(line.get("phrase"), 300)
        flags = set(line.get("flags") or ())
        sku = line.get("sku")
        if line.get("match") is None:
            items.append(f"&quot;{phrase}&quot;: the exact product, to confirm")
        elif sku is None:
            items.append(f"&quot;{phrase}&quot;: the quantity, to confirm")
        elif line.get("unit_price") is None:
            what = f"{_markup(sku)} {_markup(line.get('name'), MAX_FIELD_CHARS)}"
            quantity = f"{escape(_quantity(line.get('quantity')))} {_markup(line.get('unit'), 40)}"
            reason = "is below our minimum order" if "below_moq" in flags else "could not be priced"
            items.append(f"{what}: {quantity} {reason}; price to confirm")
        elif "exceeds_stock" in flags:
            quantity = f"{escape(_quantity(line.get('quantity')))} {_markup(line.get('unit'), 40)}"
            items.append(f"{_markup(sku)}: availability and lead time for {quantity}, to confirm")
    return items


def _cover_paragraphs(text: object, styles: StyleSheet1) -> list[Flowable]:
    flowables: list[Flowable] = []
    for raw in _clean(text).splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith(("- ", "* ", "• ")):
            flowables.append(Paragraph(_markup(line[2:].strip()), styles["QuoteBullet"], bulletText="•"))
        else:
            flowables.append(Paragraph(_markup(line), styles["QuoteBody"]))
            flowables.append(Spacer(1, 2))
    return flowables


def _pdf_date(moment: datetime) -> Callable[..., str]:
    """A reportlab date formatter that always answers ``moment`` (the PDF's creation and modification date)."""
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    stamp = f"D:{moment:%Y%m%d%H%M%S}{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"
    return lambda *_: stamp


def render_quote_pdf(
    draft: Mapping[str, Any],
    *,
    draft_id: int | str,
    company: str = DEFAULT_COMPANY,
    buyer: str | None = None,
    issued_at: datetime,
    valid_days: int = QUOTE_VALIDITY_DAYS,
) -> bytes:
    """Render ``draft`` (the dict of ``QuoteDraft.as_json()``) as a quotation PDF and return its bytes.

    The page shows the company, the draft and RFQ ids, the buyer, the issue date and the validity
    (``issued_at`` + ``valid_days``), the cover text, a table of the priced lines with the grand total, the incoterm
    and FX date, and every line that is not firmly priced (unmatched, without quantity, below MOQ, above stock) as
    "to confirm". ``issued_at`` must be timezone-aware; it is also the PDF's creation date, so the same inputs give
    the same bytes.
    """
    if issued_at.tzinfo is None or issued_at.utcoffset() is None:
        raise ValueError("issued_at must be timezone-aware")
    styles = _styles()
    lines: list[Mapping[str, Any]] = list(draft.get("lines") or [])
    priced = [line for line in lines if line.get("sku") is not None and line.get("unit_price") is not None]
    issued = issued_at.date()
    valid_until = (issued + timedelta(days=valid_days)).isoformat()
    currency = _clean(draft.get("currency"), 10)
    incoterm = _clean(draft.get("incoterm"), 10)
    fx_as_of = _clean(draft.get("fx_as_of"), 20)

    meta = [
        ("Quotation no.", _markup(draft_id, MAX_FIELD_CHARS)),
        ("RFQ", _markup(draft.get("rfq_id"), MAX_FIELD_CHARS)),
    ]
    if buyer:
        meta.append(("Buyer", _markup(buyer, MAX_FIELD_CHARS)))
    meta += [
        ("Issued", escape(issued.isoformat())),
        ("Valid until", escape(f"{valid_until} ({valid_days} days)")),
        ("Incoterm", escape(incoterm)),
        ("Currency", escape(currency)),
        ("Exchange rates as of", escape(fx_as_of)),
    ]

    story: list[Flowable] = [
        Paragraph(_markup(company, MAX_FIELD_CHARS), styles["QuoteCompany"]),
        Paragraph("Quotation", styles["QuoteTitle"]),
        _meta_table(meta, styles),
        Spacer(1, 6 * mm),
    ]
    story += _cover_paragraphs(draft.get("cover_text"), styles)
    story.append(Paragraph("Offer", styles["QuoteHeading"]))
    if priced:
        story += [Spacer(1, 2 * mm), _lines_table(priced, draft, styles)]
    else:
        story.append(
            Paragraph("No line could be priced yet; every item is listed below to confirm.", styles["QuoteBody"])
        )
    total = draft.get("total")
    total_text = f"{_markup(currency)} {_markup(total, 40)}" if total is not None else "to confirm"
    story += [
        Spacer(1, 3 * mm),
        Paragraph(f"<b>Total:</b> {total_text}", styles["QuoteBody"]),
        Paragraph(
            f"<b>Terms:</b> {escape(incoterm)} (Incoterms 2020). Prices in {escape(currency)}, converted at the "
            f"exchange rates as of {escape(fx_as_of)}. Valid until {valid_until}, subject to final confirmation of "
            "specifications.",
            styles["QuoteBody"],
        ),
    ]
    to_confirm = _to_confirm(lines)
    if to_confirm:
        story.append(Paragraph("To confirm", styles["QuoteHeading"]))
        story += [Paragraph(item, styles["QuoteBullet"], bulletText="•") for item in to_confirm]

    footer = _clean(f"Quotation {draft_id} · RFQ {draft.get('rfq_id')}", 120)
    stamp = _pdf_date(issued_at)

    def on_page(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.setDateFormatter(stamp)
        canvas.saveState()
        canvas.setFont(_BASE_FONT, 7.5)
        canvas.setFillColor(colors.HexColor("#5b6770"))
        canvas.drawString(doc.leftMargin, 10 * mm, footer)
        canvas.drawRightString(A4[0] - doc.rightMargin, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=_clean(f"Quotation {draft_id}", 120),
        author=_clean(company, 120),
        subject=_clean(f"RFQ {draft.get('rfq_id')}", 120),
        creator="rfq_pipeline",
        invariant=1,
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


def pdf_text(data: bytes) -> str:
    """The text of every page of a PDF (pypdf's extraction), pages separated by newlines."""
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)
