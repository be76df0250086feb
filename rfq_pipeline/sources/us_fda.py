"""Loader for openFDA's NDC directory: companies (labelers) newly listing OTC drug products in the United States.

Sunscreens, acne treatments, skin protectants, hand sanitizers, antiperspirants, fluoride toothpastes and dandruff
shampoos are OTC drugs in the US, so a labeler listing one is a company bringing a cosmetic-adjacent product to
market: a lead for a beauty-first exporter. The query asks for every ``HUMAN OTC DRUG`` product whose
``marketing_start_date`` falls in the window, newest first; relevance is decided downstream (the records keep
dosage form, route, marketing category and active ingredients for that).

Responses are openFDA's JSON: ``{"meta": {..., "results": {"skip", "limit", "total"}}, "results": [...]}``. A
query without matches is not an empty page but ``HTTP 404`` with
``{"error": {"code": "NOT_FOUND", "message": "No matches found!"}}``; :func:`is_empty_result` recognises it so that
the crawl records an empty window instead of a failed fetch.

openFDA ranges (``[A TO B]``) include both ends while a crawl window's end is exclusive, so the spec sends the
window's last day as the upper bound (see :class:`InclusiveRangeSpec`). openFDA refuses ``skip`` above 25,000, so a
single window can be paged through at most 25,100 records; crawl windows are days, far below that.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from rfq_pipeline.fetch.challenge import detect_challenge
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "us_fda"
SITE_URL = "https://api.fda.gov"
PAGE_SIZE = 100
MAX_SKIP = 25_000  # openFDA answers 400 "Skip value must 25000 or less." beyond this
COUNTRY = "United States"  # the market the product is listed for, whatever the labeler's own country


def canonical_url(product_ndc: str) -> str:
    """The openFDA query that returns exactly this product."""
    return f'{SITE_URL}/drug/ndc.json?search=product_ndc:"{quote(product_ndc, safe="-")}"'


def is_empty_result(status: int, body: str) -> bool:
    """True for openFDA's "no matches" answer: HTTP 404 with error code ``NOT_FOUND`` / "No matches found!".

    Any other 404 (a wrong path, an HTML error page) is a real failure and gives False.
    """
    if status != 404:
        return False
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return False
    return error.get("code") == "NOT_FOUND" and "no matches" in str(error.get("message", "")).lower()


def parse_list(text: str, *, fetched_at: datetime) -> ListPage:
    """Parse one page of ``/drug/ndc.json`` results into entries (newest first) and the paging state.

    ``fetched_at`` is unused (records carry their dates) but kept for a uniform parser signature. Raises
    :class:`PageParseError`: ``truncated`` for JSON that does not parse (a cut-off body), ``challenge`` for an
    anti-bot page, ``layout_drift`` for JSON without ``meta``/``results`` or an HTML page, ``api_error`` for an
    openFDA error object other than "no matches". The "no matches" answer itself is an empty page.
    """
    del fetched_at
    stripped = text.lstrip()
    if stripped.startswith("<"):
        challenge = detect_challenge(200, {}, text)
        if challenge:
            raise PageParseError("challenge", f"{challenge} page instead of openFDA JSON")
        raise PageParseError("layout_drift", "an HTML page instead of openFDA JSON")
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise PageParseError("truncated", f"openFDA response is not complete JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise PageParseError("layout_drift", f"openFDA response is a JSON {type(payload).__name__}, not an object")
    if "error" in payload and "results" not in payload:
        if is_empty_result(404, text):
            return ListPage(entries=[], has_next=False, total_pages=0)
        raise PageParseError("api_error", f"openFDA error: {payload['error']}")
    meta, results = payload.get("meta"), payload.get("results")
    if not isinstance(meta, dict) or not isinstance(results, list):
        raise PageParseError("layout_drift", f"no meta/results in openFDA response; keys {sorted(payload)[:8]}")
    paging = meta.get("results")
    if not isinstance(paging, dict) or not all(isinstance(paging.get(k), int) for k in ("skip", "limit", "total")):
        raise PageParseError("layout_drift", "meta.results lacks integer skip/limit/total")
    skip, limit, total = paging["skip"], paging["limit"], paging["total"]
    entries = [_to_rfq(record, index) for index, record in enumerate(results)]
    following = skip + limit
    # Past 25,000 openFDA refuses the next page, so there is none to ask for.
    has_next = bool(results) and following < total and following <= MAX_SKIP
    total_pages = math.ceil(total / limit) if limit > 0 else None
    return ListPage(entries=entries, has_next=has_next, total_pages=total_pages)


def parse_marketing_date(value: str) -> datetime | None:
    """openFDA's ``YYYYMMDD`` date as midnight UTC; ``None`` when missing or invalid."""
    value = (value or "").strip()
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return datetime(int(value[:4]), int(value[4:6]), int(value[6:]), tzinfo=UTC)
    except ValueError:
        return None


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if isinstance(value, str | int | float) else ""


def _texts(value: Any) -> list[str]:
    if isinstance(value, list):
        return [t for t in (_text(v) for v in value) if t]
    text = _text(value)
    return [text] if text else []


def _to_rfq(record: Any, index: int) -> ParsedRfq:
    if not isinstance(record, dict):
        raise PageParseError("layout_drift", f"result {index} is not an object")
    ndc = _text(record.get("product_ndc"))
    openfda = record.get("openfda") if isinstance(record.get("openfda"), dict) else {}
    labeler = _text(record.get("labeler_name")) or next(iter(_texts(openfda.get("manufacturer_name"))), "")
    if not ndc or not labeler:
        raise PageParseError("layout_drift", f"result {index} lacks product_ndc or labeler_name")
    brand, generic = _text(record.get("brand_name")), _text(record.get("generic_name"))
    product = f"{brand} ({generic})" if brand and generic else brand or generic or ndc
    ingredients = [
        {"name": _text(item.get("name")), "strength": _text(item.get("strength"))}
        for item in record.get("active_ingredients") or []
        if isinstance(item, dict)
    ]
    packaging = [_text(item.get("description")) for item in record.get("packaging") or [] if isinstance(item, dict)]
    routes = _texts(record.get("route"))
    attributes: dict[str, Any] = {
        "product_type": _text(record.get("product_type")),
        "dosage_form": _text(record.get("dosage_form")),
        "route": routes,
        "marketing_category": _text(record.get("marketing_category")),
        "application_number": _text(record.get("application_number")),
        "active_ingredients": ingredients,
        "brand_name": brand,
        "generic_name": generic,
        "packaging": [p for p in packaging if p],
        "product_id": _text(record.get("product_id")),
        "listing_expiration_date": _text(record.get("listing_expiration_date")),
        "manufacturer_name": _texts(openfda.get("manufacturer_name")),
        "pharm_class": _texts(record.get("pharm_class")),
    }
    posted_text = _text(record.get("marketing_start_date"))
    return ParsedRfq(
        source=SOURCE,
        external_id=ndc,
        canonical_url=canonical_url(ndc),
        title=f"{labeler}: {product}",
        posted_at=parse_marketing_date(posted_text),
        posted_text=posted_text,
        description=_describe(attributes),
        buyer_company=labeler,
        country_raw=COUNTRY,
        attributes=attributes,
    )


def _describe(attributes: dict[str, Any]) -> str:
    """One readable paragraph of the product facts, for people and the classifier (the record has no prose)."""
    category = attributes["marketing_category"]
    if attributes["application_number"]:
        category = f"{category} ({attributes['application_number']})".strip()
    facts = (attributes["product_type"], attributes["dosage_form"], ", ".join(attributes["route"]), category)
    lines = [" · ".join(fact for fact in facts if fact)]
    if attributes["active_ingredients"]:
        listed = ", ".join(f"{i['name']} {i['strength']}".strip() for i in attributes["active_ingredients"])
        lines.append(f"Active ingredients: {listed}")
    if attributes["packaging"]:
        lines.append("Packaging: " + "; ".join(attributes["packaging"]))
    return "\n".join(line for line in lines if line)


class InclusiveRangeSpec(SourceSpec):
    """A spec for APIs whose date ranges include both ends: ``{start}``/``{end}`` are the window's first and last day.

    A crawl window is ``[start, end)`` with day-precision records at midnight, so the last day in it is the day of the
    instant just before ``end`` (the day before ``end`` for a midnight-aligned window) and the first day is the first
    midnight at or after ``start``.
    """

    def list_url(self, listing: str, page: int, start: datetime | None = None, end: datetime | None = None) -> str:
        """Absolute URL of page ``page`` of ``listing`` with the window sent as an inclusive range of days."""
        first_day = start
        if start is not None and start.time() != time(0):
            first_day = datetime.combine(start.date() + timedelta(days=1), time(0), start.tzinfo)
        last_day = end - timedelta(microseconds=1) if end is not None else None
        return super().list_url(listing, page, first_day, last_day)


SPEC = InclusiveRangeSpec(
    name="us_fda",
    kind="loader",
    site_url=SITE_URL,
    listings=(
        "/drug/ndc.json?search=marketing_start_date:[{start:%Y%m%d}+TO+{end:%Y%m%d}]"
        "+AND+product_type:%22HUMAN+OTC+DRUG%22&sort=marketing_start_date:desc"
        f"&limit={PAGE_SIZE}&skip={{offset}}",
    ),
    detail_pattern='/drug/ndc.json?search=product_ndc:"<labeler>-<product>"',
    parse_list=parse_list,
    parse_detail=None,  # each result is the complete product record
    cadence="0 3 1 * *",
    # 40 requests a minute is openFDA's limit without an API key; stay well under it.
    rate_per_minute=20.0,
    burst=2,
    impersonate="chrome",
    # A day of new OTC listings fits in a page or two, and the monthly tick asks for the month in one query (one run
    # over its days): up to what openFDA serves (skip <= 25,000, so 251 pages).
    max_pages=251,
    respect_robots=False,  # an API: openFDA publishes no robots policy for its API paths
    description="openFDA NDC directory: labelers newly listing OTC drug products (sunscreens, acne, skin "
    "protectants, hand sanitizers ...) in the United States.",
    page_size=PAGE_SIZE,
    is_empty_result=is_empty_result,
    evidence="served_page",
    fixtures=(
        "rfq_pipeline_tests/sources/fixtures/us_fda/open.fda.gov_ndc_understanding-the-api-results_examples.json",
        "rfq_pipeline_tests/sources/fixtures/us_fda/open.fda.gov_fields_drugndc.yaml",
    ),
    known_gaps=(
        "a loader of OTC product listings, not buyer requests: no quantity, the labeler is the lead",
        "labeler_name is served but missing from the official field reference (openfda.manufacturer_name stands in)",
        "the export lags a day: today's window is always empty",
    ),
)
