"""Versions of a draft: a rep's edit, re-priced with every guardrail run again, and a redraft after the buyer's reply.

Version 1 is the drafter's (:func:`rfq_pipeline.quotes.store.save_draft`). A rep's edit (:func:`edit_draft`) changes
quantities, sets a unit price, removes lines or rewrites the cover text; the edited body is priced again from the
catalog at the draft's exchange rate and must pass the four cover-text guardrails plus the drafter's own limits
(minimum order, stock, the discount cap as a price floor). An edit that fails any of them changes nothing and says
why. A reply from the buyer (:func:`redraft_from_reply`) drafts again from the RFQ and the buyer's replies, read as
data like the RFQ itself: a quantity or specification in a reply now prices, while prices, discounts, currency and
incoterm still come only from the catalog and the draft's structured fields.

Each new version is a row of ``quote_draft_versions``; the draft row always carries the newest one, with its own
preview PDF.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from rfq_pipeline.ai.labels import RfqText
from rfq_pipeline.quotes import store, workflow
from rfq_pipeline.quotes.catalog import Catalog, CatalogItem, FxRates
from rfq_pipeline.quotes.clarify import clarification_reasons, compose_question
from rfq_pipeline.quotes.composer import ComposeInput, template_composer
from rfq_pipeline.quotes.draft import draft_quote, priced_json, product_json
from rfq_pipeline.quotes.guardrails import GuardrailResult, check_all
from rfq_pipeline.quotes.pricing import PricedLine, PricingError, Stage, grand_total, minor_unit, price_line
from rfq_pipeline.quotes.states import TRANSITIONS, InvalidTransition
from rfq_pipeline.store.object_store import ObjectStore

# Flags the pricer sets; everything else a line carries (repeated_sku, unmatched) is the drafter's reading of the RFQ.
PRICING_FLAGS = frozenset({"below_moq", "exceeds_stock", "discount_capped", "no_quantity"})
# What pricing writes on a line (``priced_json`` and a rep's price): replaced whole when the line is priced again.
PRICED_KEYS = frozenset({
    "sku", "name", "quantity", "unit", "unit_price", "total", "currency", "discount_requested_pct",
    "discount_applied_pct", "citation", "stages", "rep_price",
})  # fmt: skip
REDRAFTED_STATES = frozenset({"queued", "edited", "clarifying"})
MAX_REPLY_CHARS = 4000
PCT_STEP = Decimal("0.01")

LOCK_DRAFT = """
SELECT q.id, q.state, q.version, q.body, q.currency, q.incoterm, q.rfq_id, b.company AS buyer_company,
       r.title, r.description, r.quantity_text, COALESCE(r.country_name, r.country_raw) AS country
FROM quote_drafts q JOIN rfqs r ON r.id = q.rfq_id LEFT JOIN buyers b ON b.id = q.buyer_id
WHERE q.id = %(id)s
FOR UPDATE OF q
"""
SELECT_REPLY = """
SELECT 1 FROM quote_draft_events
WHERE draft_id = %(id)s AND action = 'reply_received' AND detail ->> 'message_id' = %(message_id)s
"""
SELECT_REPLY_TEXTS = """
SELECT detail ->> 'text' FROM quote_draft_events
WHERE draft_id = %(id)s AND action = 'reply_received' AND COALESCE(detail ->> 'text', '') <> ''
ORDER BY at, id
"""


@dataclass(frozen=True)
class LineEdit:
    """A rep's change to one line of the current version's body."""

    index: int  # position in body["lines"]
    quantity: int | None = None  # new quantity (None: unchanged)
    unit_price: Decimal | None = None  # new unit price in the draft currency (None: unchanged, i.e. catalog tier price)
    remove: bool = False


class EditRefused(ValueError):
    """An edit that would break a guardrail; ``reasons`` says which, one sentence each. Nothing was changed."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons: tuple[str, ...] = tuple(reasons)
        super().__init__("; ".join(self.reasons))


def _locked(conn: psycopg.Connection, draft_id: int) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(LOCK_DRAFT, {"id": draft_id}).fetchone()
    if row is None:
        raise store.DraftNotFound(f"no quote draft {draft_id}")
    return row


def _rfq(row: Mapping[str, Any], *replies: str) -> RfqText:
    """The drafter's view of the draft's RFQ; the buyer's replies follow its description, as data like the rest."""
    parts = [row["description"] or "", *(reply.strip() for reply in replies)]
    return RfqText(
        id=str(row["rfq_id"]),
        title=row["title"] or "",
        description="\n\n".join(part for part in parts if part),
        quantity=row["quantity_text"] or "",
        country=row["country"] or "",
    )


def _draft_rates(body: Mapping[str, Any]) -> FxRates | None:
    """The exchange rate the draft's lines were priced with, so an edit moves only what the rep changed."""
    for line in body.get("lines") or ():
        citation = line.get("citation")
        if citation and line.get("currency") and citation.get("fx_rate"):
            as_of = date.fromisoformat(str(citation["fx_as_of"]))
            return FxRates(as_of, "USD", {str(line["currency"]): Decimal(str(citation["fx_rate"]))})
    return None


def _money(currency: str, value: Decimal | str | None) -> str:
    return f"{currency} {value}"


@dataclass
class _Repriced:
    entry: dict[str, Any]
    priced: PricedLine | None
    reasons: list[str]


def _rep_priced(
    item: CatalogItem,
    quantity: int,
    price: Decimal,
    rates: FxRates,
    *,
    number: int,
    currency: str,
    incoterm: str,
    set_by: str,
) -> tuple[PricedLine | None, dict[str, Any] | None, list[str]]:
    """A rep's unit price: at least the price at the catalog's discount cap (the floor), recorded as a discount."""
    listed = price_line(item, quantity, rates, incoterm=incoterm, currency=currency)
    floor = price_line(item, quantity, rates, requested_discount_pct=item.max_discount_pct, incoterm=incoterm,
                       currency=currency)  # fmt: skip
    if listed.unit_price is None or floor.unit_price is None:
        return listed, None, []  # below the minimum order: reported by the caller, never priced
    step = minor_unit(currency)
    if price != price.quantize(step):
        return None, None, [f"line {number}: unit price {_money(currency, price)} is not in whole {step} {currency}"]
    price = price.quantize(step)  # "8" is written "8.00", as the pricer writes it
    if price < floor.unit_price:
        below = (
            f"line {number}: unit price {_money(currency, price)} is below the floor "
            f"{_money(currency, floor.unit_price)} (max discount {item.max_discount_pct}%)"
        )
        return None, None, [below]
    # Each price is rounded to the currency's minor unit, so the percentage can land a hair above the cap although
    # the price is at or above the floor, which is the cap: the floor decides, the percentage is capped to match.
    below_list = (listed.unit_price - price) / listed.unit_price * 100
    pct = min(max(below_list, Decimal(0)), item.max_discount_pct).quantize(PCT_STEP, rounding=ROUND_HALF_UP)
    detail = (
        f"set by {set_by}: {pct}% below the list price {_money(currency, listed.unit_price)} "
        f"(floor {_money(currency, floor.unit_price)} at the {item.max_discount_pct}% cap)"
    )
    priced = replace(
        listed,
        unit_price=price,
        total=(price * quantity).quantize(step, rounding=ROUND_HALF_UP),
        discount_requested_pct=pct,
        discount_applied_pct=pct,
        stages=(*listed.stages, Stage("rep_price", price, currency, detail)),
    )
    record = {
        "unit_price": str(price),
        "list_unit_price": str(listed.unit_price),
        "floor_unit_price": str(floor.unit_price),
        "set_by": set_by,
    }
    return priced, record, []


def _reprice(
    number: int,
    line: Mapping[str, Any],
    edit: LineEdit | None,
    catalog: Catalog,
    rates: FxRates,
    *,
    currency: str,
    incoterm: str,
    actor: str,
) -> _Repriced:
    """One line of the new body, priced from the catalog (or at the rep's price), with what stops it being sent."""
    match = line.get("match") or {}
    sku = line.get("sku") or match.get("sku")
    quantity = edit.quantity if edit is not None and edit.quantity is not None else line.get("quantity")
    if quantity is None:
        quantity = line.get("requested_quantity")
    if sku is None or quantity is None:
        if edit is None:
            return _Repriced(dict(line), None, [])  # unmatched or without a quantity, as drafted: nothing to price
        what = f'no catalog product matches "{line.get("phrase")}"' if sku is None else f"{sku} has no quantity"
        return _Repriced(dict(line), None, [f"line {number}: {what}; it cannot be priced"])
    item = catalog.lookup(str(sku))
    if item is None:
        return _Repriced(dict(line), None, [f"line {number}: {sku} is not in the active catalog"])
    quantity = int(quantity)
    reasons: list[str] = []
    if quantity < item.moq:
        reasons.append(f"line {number}: quantity {quantity:,} is below the minimum order {item.moq:,} of {item.sku}")
    if quantity > item.stock:
        reasons.append(f"line {number}: quantity {quantity:,} exceeds the stock of {item.stock:,} of {item.sku}")

    kept = line.get("rep_price") or {}
    rep_price = edit.unit_price if edit is not None and edit.unit_price is not None else None
    set_by = actor
    if rep_price is None and kept:
        rep_price, set_by = Decimal(str(kept["unit_price"])), str(kept.get("set_by") or actor)
    record: dict[str, Any] | None = None
    try:
        if rep_price is None:
            requested = Decimal(str(line.get("discount_requested_pct") or 0))
            priced: PricedLine | None = price_line(
                item, quantity, rates, requested_discount_pct=requested, incoterm=incoterm, currency=currency
            )
        else:
            priced, record, refused = _rep_priced(
                item, quantity, rep_price, rates, number=number, currency=currency, incoterm=incoterm, set_by=set_by
            )
            reasons += refused
    except PricingError as error:
        return _Repriced(dict(line), None, [*reasons, f"line {number}: {error}"])

    entry = {key: value for key, value in line.items() if key not in PRICED_KEYS}
    drafted_flags = [flag for flag in line.get("flags") or () if flag not in PRICING_FLAGS]
    entry["flags"] = drafted_flags + list(priced.flags if priced is not None else ())
    entry["product"] = product_json(item)
    if priced is not None:
        entry.update(priced_json(priced))
    if record is not None:
        entry["rep_price"] = record
    return _Repriced(entry, priced, reasons)


def _validate(edits: Sequence[LineEdit], count: int) -> tuple[dict[int, LineEdit], list[str]]:
    reasons: list[str] = []
    by_index: dict[int, LineEdit] = {}
    for edit in edits:
        number = edit.index + 1
        if not 0 <= edit.index < count:
            reasons.append(f"line {number} does not exist (the draft has {count} lines)")
            continue
        if edit.index in by_index:
            reasons.append(f"line {number} is edited twice")
            continue
        by_index[edit.index] = edit
        if edit.remove and (edit.quantity is not None or edit.unit_price is not None):
            reasons.append(f"line {number} is removed and changed at once")
        elif not edit.remove and edit.quantity is None and edit.unit_price is None:
            reasons.append(f"line {number}: the edit changes nothing")
        if edit.quantity is not None and edit.quantity <= 0:
            reasons.append(f"line {number}: quantity {edit.quantity} must be positive")
        if edit.unit_price is not None and (not edit.unit_price.is_finite() or edit.unit_price <= 0):
            reasons.append(f"line {number}: unit price {edit.unit_price} must be a positive amount")
    return by_index, reasons


def _guardrail_reasons(results: list[GuardrailResult]) -> list[str]:
    return [f"cover text: {result.name}: {failure}" for result in results for failure in result.failures]


def _change(number: int, old: Mapping[str, Any], new: Mapping[str, Any] | None) -> dict[str, Any] | None:
    sku = old.get("sku") or (old.get("match") or {}).get("sku")
    if new is None:
        return {"line": number, "sku": sku, "removed": True}
    change: dict[str, Any] = {"line": number, "sku": sku}
    for key in ("quantity", "unit_price", "total"):
        if old.get(key) != new.get(key):
            change[key] = [old.get(key), new.get(key)]
    return change if len(change) > 2 else None


def _question_row(row: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    return {"body": body, "title": row["title"] or "", "description": row["description"] or "",
            "buyer_company": row["buyer_company"], "rfq_id": row["rfq_id"]}  # fmt: skip


def _with_clarification(row: Mapping[str, Any], body: dict[str, Any], rfq: RfqText) -> dict[str, Any]:
    """``body`` with the clarification it needs now (or none), and ``needs_review`` to match."""
    body.pop("clarification", None)
    reasons = clarification_reasons(body, rfq)
    if reasons:
        question, source = compose_question(_question_row(row, body), reasons)
        body["clarification"] = {"reasons": reasons, "question": question, "source": source}
    body["needs_review"] = bool(
        reasons or any(line.get("flags") for line in body["lines"]) or not all(g["passed"] for g in body["guardrails"])
    )
    return body


def _edited_body(
    row: Mapping[str, Any],
    edits: Sequence[LineEdit],
    cover_text: str | None,
    catalog: Catalog,
    rates: FxRates,
    actor: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The new body and what changed; :class:`EditRefused` with every reason otherwise."""
    old: dict[str, Any] = dict(row["body"])
    old_lines: list[dict[str, Any]] = list(old.get("lines") or [])
    currency, incoterm = str(row["currency"]).strip(), str(row["incoterm"]).strip()
    by_index, reasons = _validate(edits, len(old_lines))
    if not edits and cover_text is None:
        reasons.append("the edit changes nothing")
    lines: list[dict[str, Any]] = []
    priced: list[PricedLine] = []
    changes: list[dict[str, Any]] = []
    for index, line in enumerate(old_lines):
        edit = by_index.get(index)
        if edit is not None and edit.remove:
            changes.append({"line": index + 1, "sku": line.get("sku") or (line.get("match") or {}).get("sku"),
                            "removed": True})  # fmt: skip
            continue
        result = _reprice(index + 1, line, edit, catalog, rates, currency=currency, incoterm=incoterm, actor=actor)
        reasons += result.reasons
        lines.append(result.entry)
        if result.priced is not None:
            priced.append(result.priced)
        change = _change(index + 1, line, result.entry)
        if change is not None:
            changes.append(change)
    if old_lines and not lines:
        reasons.append("the quote would have no lines left")

    compose_input = ComposeInput(
        rfq_id=str(old.get("rfq_id") or row["rfq_id"]),
        title=row["title"] or "",
        country=row["country"] or "",
        currency=currency,
        incoterm=incoterm,
        fx_as_of=rates.as_of.isoformat(),
        lines=priced,
        catalog=catalog,
        unmatched=[str(line.get("phrase") or "") for line in lines if line.get("match") is None],
    )
    if cover_text is not None:
        text, source = cover_text.strip(), "rep"
        results = check_all(text, priced, catalog)
        reasons += _guardrail_reasons(results)
    else:
        # The cover text stays when it still fits the new prices; otherwise the template words them.
        text, source = str(old.get("cover_text") or ""), str(old.get("cover_source") or "template")
        results = check_all(text, priced, catalog)
        if not all(result.passed for result in results):
            text, source = template_composer(compose_input), "template"
            results = check_all(text, priced, catalog)
            reasons += _guardrail_reasons(results)
    if not reasons and lines == old_lines and text == old.get("cover_text"):
        reasons.append("the edit changes nothing")
    if reasons:
        raise EditRefused(reasons)

    total = grand_total(priced)
    body = {key: value for key, value in old.items() if key != "clarification"}
    body.update(
        lines=lines,
        total=None if total is None else str(total),
        fx_as_of=rates.as_of.isoformat(),
        cover_text=text,
        cover_source=source,
        guardrails=[{"name": r.name, "passed": r.passed, "failures": list(r.failures)} for r in results],
        attempts=[{"number": 1, "source": source, "passed": True, "failures": []}],
    )
    detail = {
        "lines": changes,
        "cover_text": "rep" if cover_text is not None else ("kept" if text == old.get("cover_text") else "template"),
        "total": [old.get("total"), body["total"]],
    }
    return _with_clarification(row, body, _rfq(row)), detail


def _store_version(
    conn: psycopg.Connection,
    row: Mapping[str, Any],
    body: dict[str, Any],
    *,
    reason: str,
    actor: str,
    now: datetime,
    pdf_store: ObjectStore,
    catalog_version: str,
) -> int:
    """Version ``row["version"] + 1`` with its preview PDF, made the draft's current version."""
    draft_id = int(row["id"])
    version = int(row["version"]) + 1
    body["catalog_version"] = catalog_version
    total = None if body.get("total") is None else Decimal(str(body["total"]))
    passed = all(g["passed"] for g in body.get("guardrails") or ())
    pdf = workflow.render_pdf(draft_id, body, buyer=row["buyer_company"], issued_at=now)
    uri = pdf_store.put(workflow.pdf_key(draft_id, f"v{version}"), pdf, content_type="application/pdf")
    common = {"body": body, "total": total, "needs_review": bool(body["needs_review"]), "guardrails_passed": passed}
    store.insert_version(conn, draft_id, version, reason=reason, actor=actor, at=now, pdf_uri=uri, **common)
    store.set_current_version(
        conn, draft_id, version, catalog_version=catalog_version, fx_as_of=str(body["fx_as_of"]), pdf_uri=uri, at=now,
        **common,
    )  # fmt: skip
    return version


def edit_draft(
    conn: psycopg.Connection,
    draft_id: int,
    *,
    actor: str,
    now: datetime,
    pdf_store: ObjectStore,
    lines: Sequence[LineEdit] = (),
    cover_text: str | None = None,
) -> int:
    """Apply a rep's edit to the current version and store it as the next version; returns its number.

    Edited lines are priced again from the active catalog at the draft's exchange rate (a new quantity moves the
    tier; a unit price is the rep's, at least the price at the SKU's discount cap, and is recorded as a discount);
    lines the edit does not name keep their pricing (a rep's price stays the rep's). Without ``cover_text`` the
    current cover text stays if it still fits the prices, otherwise the template words them. The new body must pass
    every cover-text guardrail, and every line with a SKU and a quantity must be within its minimum order and stock
    (a drafted line below the minimum order is raised or removed in the same edit): otherwise
    :class:`EditRefused` lists the reasons and nothing changes. A draft that is not queued or edited raises
    :class:`InvalidTransition` before anything is read from the catalog. The new version, the state ``edited``, an
    ``edit`` event with what changed and a preview PDF commit together.
    """
    with conn.transaction():
        row = _locked(conn, draft_id)
        if "edited" not in TRANSITIONS[row["state"]]:
            raise InvalidTransition(row["state"], "edited")
        catalog, catalog_version = store.active_catalog(conn)
        rates = _draft_rates(row["body"]) or workflow.configured_rates()
        body, detail = _edited_body(row, lines, cover_text, catalog, rates, actor)
        version = _store_version(
            conn, row, body, reason="edited", actor=actor, now=now, pdf_store=pdf_store,
            catalog_version=catalog_version,
        )  # fmt: skip
        store.change_state(conn, draft_id, "edited", actor=actor, at=now, note=f"version {version}")
        store.record_action(conn, draft_id, "edit", actor=actor, at=now, version=version, detail=detail)
    conn.commit()
    return version


def redraft_from_reply(
    conn: psycopg.Connection,
    draft_id: int,
    reply_text: str,
    *,
    message_id: str,
    now: datetime,
    pdf_store: ObjectStore,
    rates: FxRates | None = None,
    catalog: tuple[Catalog, str] | None = None,
) -> int | None:
    """Draft again after the buyer's reply ``message_id``; returns the new version, or ``None`` when there is none.

    The drafter reads the RFQ with the buyer's replies to this draft after its description (earlier ones first, this
    one last), as data: a quantity or a specification in a reply now prices, nothing in it sets a price or discount.
    Currency and incoterm stay the draft's. The version is ``buyer_reply`` by ``buyer``; a ``clarifying`` draft goes
    back to ``queued``, a queued or edited one keeps its state. An approved, sent or closed draft gets no new
    version: the reply is recorded and ``None`` returned. A ``reply_received`` event records the message id, the
    version and the reply's text; a second call with the same ``message_id`` changes nothing and returns ``None``.
    ``rates`` defaults to the asset's FX table, ``catalog`` to the active catalog.
    """
    text = (reply_text or "").strip()[:MAX_REPLY_CHARS]
    with conn.transaction():
        version = _redraft(conn, draft_id, text, message_id=message_id, now=now, pdf_store=pdf_store, rates=rates,
                           catalog=catalog)  # fmt: skip
    conn.commit()
    return version


def _redraft(
    conn: psycopg.Connection,
    draft_id: int,
    text: str,
    *,
    message_id: str,
    now: datetime,
    pdf_store: ObjectStore,
    rates: FxRates | None,
    catalog: tuple[Catalog, str] | None,
) -> int | None:
    row = _locked(conn, draft_id)
    if conn.execute(SELECT_REPLY, {"id": draft_id, "message_id": message_id}).fetchone() is not None:
        return None  # this reply was already read: a redelivered message changes nothing
    detail: dict[str, Any] = {"message_id": message_id, "version": None, "text": text}
    if row["state"] not in REDRAFTED_STATES:
        detail["state"] = row["state"]
        store.record_action(conn, draft_id, "reply_received", actor="buyer", at=now, version=row["version"],
                            detail=detail, note=f"no new version: the draft is {row['state']}")  # fmt: skip
        return None
    loaded, catalog_version = catalog or store.active_catalog(conn)
    earlier = [reply for (reply,) in conn.execute(SELECT_REPLY_TEXTS, {"id": draft_id}).fetchall()]
    draft = draft_quote(_rfq(row, *earlier, text), loaded, rates or workflow.configured_rates(),
                        incoterm=row["incoterm"], currency=row["currency"])  # fmt: skip
    body = draft.as_json()
    if draft.clarification is not None:
        # The drafter's question greets no one by name; the stored draft knows its buyer.
        question, source = compose_question(_question_row(row, body), list(draft.clarification.reasons))
        body["clarification"].update(question=question, source=source)
    version = _store_version(
        conn, row, body, reason="buyer_reply", actor="buyer", now=now, pdf_store=pdf_store,
        catalog_version=catalog_version,
    )  # fmt: skip
    if row["state"] == "clarifying":
        store.change_state(conn, draft_id, "queued", actor="buyer", at=now, note=f"buyer replied: {message_id}")
        # The answered draft waits for a rep again: its 24 h / 48 h follow-ups and its validity start over.
        conn.execute("UPDATE quote_drafts SET ready_at = %s, notified = '{}' WHERE id = %s", (now, draft_id))
    detail["version"] = version
    store.record_action(conn, draft_id, "reply_received", actor="buyer", at=now, version=version, detail=detail)
    return version


def versions(conn: psycopg.Connection, draft_id: int) -> list[dict[str, Any]]:
    """Every version of a draft, newest first: version, reason, actor, created_at, total, needs_review,
    guardrails_passed, pdf_uri and body."""
    return store.draft_versions(conn, draft_id)


__all__ = ["EditRefused", "LineEdit", "edit_draft", "redraft_from_reply", "versions"]
