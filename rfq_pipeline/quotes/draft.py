"""``draft_quote``: RFQ text -> line items -> SKU matches -> priced lines -> guarded cover text -> ``QuoteDraft``.

The RFQ's free text is used only to find products and quantities. Discount, incoterm and currency come from the
keyword arguments (structured fields set by a person or the intake form), never from what the buyer wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rfq_pipeline.ai.labels import RfqText
from rfq_pipeline.quotes.catalog import Catalog, CatalogItem, FxRates
from rfq_pipeline.quotes.composer import ComposeInput, Composer, ComposeResult, compose_with_guardrails
from rfq_pipeline.quotes.matching import MATCH_THRESHOLD, LineItem, SkuMatch, extract_line_items, match_sku
from rfq_pipeline.quotes.pricing import PricedLine, grand_total, price_line

if TYPE_CHECKING:
    from rfq_pipeline.quotes.clarify import QuestionComposer

COUNTRY_CURRENCY = {
    "united arab emirates": "AED", "uae": "AED", "saudi arabia": "SAR", "ksa": "SAR", "south korea": "KRW",
    "korea": "KRW", "japan": "JPY", "united kingdom": "GBP", "uk": "GBP", "india": "INR", "china": "CNY",
    "germany": "EUR", "france": "EUR", "italy": "EUR", "spain": "EUR", "netherlands": "EUR", "belgium": "EUR",
    "austria": "EUR", "ireland": "EUR", "portugal": "EUR", "poland": "EUR",
}  # fmt: skip


def currency_for(country: str) -> str:
    """The buyer's currency by country name; USD when the country is unknown or blank."""
    return COUNTRY_CURRENCY.get(" ".join(country.lower().split()), "USD")


@dataclass(frozen=True)
class DraftLine:
    item: LineItem
    match: SkuMatch | None
    priced: PricedLine | None
    flags: tuple[str, ...]
    product: CatalogItem | None = None  # the matched SKU's catalog row, priced or not


@dataclass(frozen=True)
class Clarification:
    """Why a draft cannot be priced as asked, and the question prepared for the buyer."""

    reasons: tuple[str, ...]
    question: str
    source: str  # "template" or "composer"

    def as_json(self) -> dict[str, Any]:
        """The ``body["clarification"]`` entry."""
        return {"reasons": list(self.reasons), "question": self.question, "source": self.source}


@dataclass(frozen=True)
class QuoteDraft:
    rfq_id: str
    currency: str
    incoterm: str
    fx_as_of: str
    lines: list[DraftLine]
    composed: ComposeResult
    clarification: Clarification | None = None

    @property
    def priced_lines(self) -> list[PricedLine]:
        return [line.priced for line in self.lines if line.priced is not None]

    @property
    def total(self) -> Decimal | None:
        return grand_total(self.priced_lines)

    @property
    def needs_review(self) -> bool:
        return not self.composed.passed or any(line.flags for line in self.lines) or self.clarification is not None

    def as_json(self) -> dict[str, Any]:
        def money(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        lines = []
        for line in self.lines:
            entry: dict[str, Any] = {
                "phrase": line.item.phrase,
                "requested_quantity": line.item.quantity,
                "requested_unit": line.item.unit,
                "flags": list(line.flags),
                "match": None
                if line.match is None
                else {"sku": line.match.sku, "confidence": line.match.confidence, "matched_on": line.match.matched_on},
            }
            if line.product is not None:
                # Name, unit and MOQ of a matched SKU even when the line has no price, for the clarifying question.
                entry["product"] = product_json(line.product)
            if line.priced is not None:
                entry.update(priced_json(line.priced))
            lines.append(entry)
        body: dict[str, Any] = {
            "rfq_id": self.rfq_id,
            "currency": self.currency,
            "incoterm": self.incoterm,
            "fx_as_of": self.fx_as_of,
            "total": money(self.total),
            "needs_review": self.needs_review,
            "lines": lines,
            "cover_text": self.composed.text,
            "cover_source": self.composed.source,
            "guardrails": [
                {"name": g.name, "passed": g.passed, "failures": list(g.failures)} for g in self.composed.guardrails
            ],
            "attempts": [
                {"number": a.number, "source": a.source, "passed": a.passed, "failures": list(a.failures)}
                for a in self.composed.attempts
            ],
        }
        if self.clarification is not None:
            body["clarification"] = self.clarification.as_json()
        return body


def priced_json(priced: PricedLine) -> dict[str, Any]:
    """The priced fields of a body line: SKU, quantity, prices as strings, discount, citation and every stage."""
    return {
        "sku": priced.sku,
        "name": priced.name,
        "quantity": priced.quantity,
        "unit": priced.unit,
        "unit_price": None if priced.unit_price is None else str(priced.unit_price),
        "total": None if priced.total is None else str(priced.total),
        "currency": priced.currency,
        "discount_requested_pct": str(priced.discount_requested_pct),
        "discount_applied_pct": str(priced.discount_applied_pct),
        "citation": priced.citation,
        "stages": [
            {"name": s.name, "unit_price": str(s.unit_price), "currency": s.currency, "detail": s.detail}
            for s in priced.stages
        ],
    }


def product_json(item: CatalogItem) -> dict[str, Any]:
    """What a body line keeps of its catalog row besides the price."""
    return {"sku": item.sku, "name": item.name, "unit": item.unit, "moq": item.moq}


def _best_match(phrase: str, catalog: Catalog) -> SkuMatch | None:
    candidates = match_sku(phrase, catalog, limit=1)
    return candidates[0] if candidates and candidates[0].confidence >= MATCH_THRESHOLD else None


def _requested_items(rfq: RfqText) -> list[LineItem]:
    """What the buyer asks for: the description's list entries and the title's, each read with its own line breaks
    (a numbered or tabular list keeps each quantity with its product); the whole text when neither names one."""
    items = [
        item
        for part in (rfq.description, rfq.title)
        for item in extract_line_items(part)
        if item.quantity is not None and item.phrase
    ]
    return items or extract_line_items(rfq.text(), default_quantity=rfq.quantity)


def _one_line_per_request(lines: list[DraftLine]) -> list[DraftLine]:
    """The title and the description often name one request twice: one line per SKU and quantity, and a line that
    matched no SKU is dropped when another with its amount did. A SKU asked for in two different quantities keeps
    both lines, flagged ``repeated_sku`` for a person to decide."""
    kept: list[DraftLine] = []
    seen: dict[tuple[str, int | None], int] = {}
    matched_quantities = {line.item.quantity for line in lines if line.match is not None}
    for line in lines:
        if line.match is None:
            # Unmatched in one place, matched in the other with the same amount: the same request, named twice.
            if line.item.quantity is None or line.item.quantity not in matched_quantities:
                kept.append(line)
            continue
        key = (line.match.sku, line.item.quantity)
        if key in seen:
            continue
        seen[key] = len(kept)
        kept.append(line)
    quantities: dict[str, set[int | None]] = {}
    for line in kept:
        if line.match is not None:
            quantities.setdefault(line.match.sku, set()).add(line.item.quantity)
    return [
        replace(line, flags=(*line.flags, "repeated_sku"))
        if line.match is not None and len(quantities[line.match.sku]) > 1
        else line
        for line in kept
    ]


def draft_quote(
    rfq: RfqText,
    catalog: Catalog,
    rates: FxRates,
    *,
    requested_discount_pct: Decimal | int | str = 0,
    incoterm: str = "FOB",
    currency: str | None = None,
    composer: Composer | None = None,
    question_composer: QuestionComposer | None = None,
) -> QuoteDraft:
    """Draft a quote for ``rfq``; a draft that cannot be priced as asked carries the reasons and the question to send
    the buyer (``clarification``), worded by ``question_composer`` when given and its text passes the guardrails."""
    # Imported here: the question composer module loads the Claude client, which plain drafting does not need.
    from rfq_pipeline.quotes.clarify import clarification_reasons, compose_question

    code = (currency or currency_for(rfq.country)).upper()
    lines: list[DraftLine] = []
    items = _requested_items(rfq)
    for item in items:
        best = _best_match(item.phrase, catalog)
        if best is None and len(items) == 1 and rfq.title.strip():
            # A one-product request names its product in the title; the body's quantity line ("Quantity: 5,000
            # bottles, CIF Vancouver") rarely repeats it. The title is tried only when the line itself did not match.
            best = _best_match(rfq.title, catalog)
            if best is not None:
                item = LineItem(rfq.title.strip(), item.quantity, item.unit, item.source)
        if best is None:
            lines.append(DraftLine(item, None, None, ("unmatched",)))
            continue
        catalog_item = catalog.lookup(best.sku)
        assert catalog_item is not None  # match_sku only returns catalog SKUs
        if item.quantity is None:
            lines.append(DraftLine(item, best, None, ("no_quantity",), catalog_item))
            continue
        priced = price_line(
            catalog_item,
            item.quantity,
            rates,
            requested_discount_pct=requested_discount_pct,
            incoterm=incoterm,
            currency=code,
        )
        lines.append(DraftLine(item, best, priced, priced.flags, catalog_item))
    lines = _one_line_per_request(lines)
    compose_input = ComposeInput(
        rfq_id=rfq.id,
        title=rfq.title,
        country=rfq.country,
        currency=code,
        incoterm=incoterm.upper(),
        fx_as_of=rates.as_of.isoformat(),
        lines=[line.priced for line in lines if line.priced is not None],
        catalog=catalog,
        unmatched=[line.item.phrase for line in lines if line.match is None],
    )
    composed = compose_with_guardrails(compose_input, composer=composer)
    draft = QuoteDraft(rfq.id, code, incoterm.upper(), rates.as_of.isoformat(), lines, composed)
    body = draft.as_json()
    reasons = clarification_reasons(body, rfq)
    if not reasons:
        return draft
    row = {"body": body, "title": rfq.title, "description": rfq.description}
    question, source = compose_question(row, reasons, composer=question_composer)
    return replace(draft, clarification=Clarification(tuple(reasons), question, source))
