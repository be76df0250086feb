"""Parser for the Alibaba.com RFQ board (``sourcing.alibaba.com/rfq/rfq_search_list.htm``).

The server-sent page carries no rendered request cards: the ``.brh-rfq-item`` cards are drawn in the browser from
``window.PAGE_DATA["index"].data.push({...})`` script blocks, one per request. Those blocks are the only thing read
here. They are JavaScript object literals, not JSON: strings are escaped as ``\\xNN`` / ``\\uNNNN``, and values are
expressions such as ``parseInt("8" || 0)``, ``null || []`` or ``'' === 'true'``, so a small evaluator for exactly
those forms is used instead of a JavaScript engine.

Posting times are only given relative to the moment the page was served ("25 minutes before", "3 days ago"), so
``posted_at`` is computed from the fetch time and is as precise as the unit of the text.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rfq_pipeline.sources.dates import as_utc, relative_time
from rfq_pipeline.sources.html import ensure_whole_page
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "alibaba_rfq"
DETAIL_URL = "https://sourcing.alibaba.com/rfq_detail.htm"

_PUSH_START = re.compile(r"window\.PAGE_DATA\[\s*[\"']index[\"']\s*\]\.data\.push\(\s*\{")
_PAGE_VIEW = re.compile(r"pageView\.(totalPages|currentPage|totalItems)\s*=\s*[\"']?(\d*)[\"']?")
_ANCHOR = re.compile(r"<a\b([^>]*)>", re.IGNORECASE)
_CLASS_ATTR = re.compile(r"\bclass\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
_HREF_ATTR = re.compile(r"\bhref\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
_EMPTY_STATE = re.compile(r"\bno\s+(?:matching\s+)?(?:RFQs?|buying\s+requests?)\s+(?:were\s+)?found\b", re.IGNORECASE)
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class _Unparsed:
    """Marker for a JavaScript expression the evaluator does not understand (kept out of the record)."""

    def __repr__(self) -> str:
        return "<unparsed>"


UNPARSED = _Unparsed()


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Parse one page of the RFQ board into its requests (newest first) and the paging state.

    Raises :class:`PageParseError` with kind ``truncated`` for a page cut short, ``challenge`` for an anti-bot or
    login page, and ``layout_drift`` when the page has neither request records nor the board's "no RFQ found" state.
    """
    fetched_at = as_utc(fetched_at)
    ensure_whole_page(html, what="RFQ list")

    records = list(_push_records(html))
    page_view = {key: int(value) for key, value in _PAGE_VIEW.findall(html) if value}
    total_pages = page_view.get("totalPages")
    if not records:
        if page_view.get("totalItems") == 0 or _EMPTY_STATE.search(html):
            return ListPage(entries=[], has_next=False, total_pages=total_pages)
        raise PageParseError("layout_drift", "no PAGE_DATA records and no empty-result message on an RFQ list page")

    entries = [_to_rfq(record, fetched_at) for record in records]
    return ListPage(entries=entries, has_next=_has_next(html, page_view), total_pages=total_pages)


def parse_relative_time(text: str, fetched_at: datetime) -> datetime | None:
    """Turn the board's relative posting time into an absolute UTC time, measured back from ``fetched_at``.

    Understands "Just now", "N minutes before", "N hours before", "N days ago" (the board's own forms) and the
    variants "N day(s) before", "an hour ago", "yesterday", "today" and an ISO date; returns ``None`` otherwise.
    """
    value = " ".join(text.split()).strip()
    found = relative_time(value, fetched_at)
    if found is not None:
        return found[0]
    iso = _ISO_DATE.match(value)
    if iso:
        return datetime(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)), tzinfo=UTC)
    return None


def decode_js_string(body: str) -> str:
    """Decode the inside of a JavaScript string literal (``\\xNN``, ``\\uNNNN``, ``\\u{...}``, ``\\'`` ...)."""
    if "\\" not in body:
        return body
    decoded = _JS_ESCAPE.sub(_js_escape_value, body)
    # Characters outside the BMP arrive as two \uNNNN surrogates; re-pair them.
    return decoded.encode("utf-16", "surrogatepass").decode("utf-16")


_JS_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|\r\n|[\s\S])")
_JS_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _js_escape_value(match: re.Match[str]) -> str:
    escape = match.group(1)
    if len(escape) > 1 and escape[0] in "xu" and escape != "\r\n":
        return chr(int(escape[1:].strip("{}"), 16))
    if escape in ("\n", "\r", "\r\n", "\u2028", "\u2029"):
        return ""  # line continuation
    return _JS_SIMPLE_ESCAPES.get(escape, escape)


def _push_records(html: str) -> list[dict[str, Any]]:
    records = []
    for match in _PUSH_START.finditer(html):
        brace = match.end() - 1
        end = _scan_to_close(html, brace)
        if end is None:
            raise PageParseError("truncated", f"unterminated PAGE_DATA record at offset {brace}")
        records.append(_parse_object(html[brace + 1 : end - 1]))
    return records


_OPEN = {"{": "}", "[": "]", "(": ")"}
_STRING_BODY = {
    quote: re.compile(rf"{quote}(?:[^{quote}\\\n]|\\.)*{quote}" if quote != "`" else r"`(?:[^`\\]|\\.)*`", re.DOTALL)
    for quote in "\"'`"
}
_SCAN_STOPS = re.compile(r"[\"'`{}\[\]()]|//|/\*")
_split_stops: dict[str, re.Pattern[str]] = {}
_OBJECT_KEY = re.compile(r"\s*([A-Za-z_$][\w$]*|\"[^\"\n]*\"|'[^'\n]*')\s*:")


def _scan_to_close(text: str, start: int) -> int | None:
    """Index just past the bracket matching ``text[start]``, skipping strings and comments; None if never closed."""
    stack: list[str] = []
    i = start
    while True:
        stop = _SCAN_STOPS.search(text, i)
        if stop is None:
            return None
        i = stop.start()
        token = stop.group()
        if token in "\"'`":
            i = _skip_string(text, i)
            if i < 0:
                return None
        elif token in ("//", "/*"):
            close = text.find("\n" if token == "//" else "*/", i + 2)
            if close < 0:
                return None
            i = close + (1 if token == "//" else 2)
        elif token in _OPEN:
            stack.append(_OPEN[token])
            i += 1
        else:
            if not stack or stack.pop() != token:
                return None
            if not stack:
                return i + 1
            i += 1


def _skip_string(text: str, start: int) -> int:
    """Index just past the string literal opening at ``start``; -1 if it is never closed."""
    match = _STRING_BODY[text[start]].match(text, start)
    return match.end() if match else -1


def _split_top(text: str, separator: str) -> list[str]:
    """Split ``text`` on ``separator`` where it occurs outside strings and brackets."""
    stops = _split_stops.get(separator)
    if stops is None:
        stops = _split_stops[separator] = re.compile(r"[\"'`{}\[\]()]|" + re.escape(separator))
    parts: list[str] = []
    depth = 0
    i = last = 0
    while True:
        stop = stops.search(text, i)
        if stop is None:
            break
        i = stop.start()
        token = stop.group()
        if token == separator and depth == 0:
            parts.append(text[last:i])
            i = last = i + len(separator)
        elif token in "\"'`" and len(token) == 1:
            end = _skip_string(text, i)
            if end < 0:
                break
            i = end
        else:
            if token in _OPEN:
                depth += 1
            elif token in ")]}":
                depth -= 1
            i += len(token)
    parts.append(text[last:])
    return parts


def _parse_object(body: str) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for item in _split_top(body, ","):
        key = _OBJECT_KEY.match(item)
        if key:
            record[key.group(1).strip("\"'")] = _js_value(item[key.end() :])
    return record


def _js_value(expr: str) -> Any:
    expr = expr.strip()
    alternatives = _split_top(expr, "||") if "||" in expr else [expr]
    if len(alternatives) > 1:
        value: Any = None
        for alternative in alternatives:
            value = _js_value(alternative)
            if _truthy(value):
                return value
        return value
    comparison = _split_top(expr, "===") if "===" in expr else [expr]
    if len(comparison) == 2:
        left, right = (_js_value(part) for part in comparison)
        return left == right
    call = re.fullmatch(r"parse(Int|Float)\((.*)\)", expr, re.DOTALL)
    if call:
        inner = _js_value(call.group(2))
        try:
            return int(str(inner)) if call.group(1) == "Int" else float(str(inner))
        except ValueError:
            return None
    if len(expr) >= 2 and expr[0] == expr[-1] and expr[0] in "\"'":
        return decode_js_string(expr[1:-1])
    literals = {"true": True, "false": False, "null": None, "undefined": None}
    if expr in literals:
        return literals[expr]
    if re.fullmatch(r"-?\d+", expr):
        return int(expr)
    if re.fullmatch(r"-?\d*\.\d+", expr):
        return float(expr)
    if expr.startswith(("[", "{")):
        try:
            return json.loads(expr)
        except ValueError:
            return UNPARSED
    return UNPARSED


def _truthy(value: Any) -> bool:
    # JavaScript truthiness: empty arrays and objects are truthy, "" / 0 / null / false are not.
    if value is None or value is False or value is UNPARSED:
        return False
    if isinstance(value, str | int | float):
        return bool(value)
    return True


def _text(value: Any) -> str:
    """A record's string value as plain text: ``<br/>`` become newlines, tags dropped, entities decoded."""
    if value is None or value is UNPARSED:
        return ""
    text = _TAG.sub("", _BR.sub("\n", str(value)))
    text = html_lib.unescape(text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return None


def _to_rfq(record: dict[str, Any], fetched_at: datetime) -> ParsedRfq:
    rfq_id = _text(record.get("rfqId") or record.get("id"))
    title = _text(record.get("subject"))
    if not rfq_id or not title:
        raise PageParseError("layout_drift", f"PAGE_DATA record without rfqId/subject: keys {sorted(record)[:12]}")
    enr_id = _text(record.get("enrRfqId"))
    if not enr_id:
        enr_id = (parse_qs(urlsplit(_text(record.get("url"))).query).get("p") or [""])[0]
    if not enr_id:
        raise PageParseError("layout_drift", f"RFQ {rfq_id} has neither enrRfqId nor a detail URL")

    quantity = _text(record.get("quantity")) or _text(record.get("quantityValue"))
    unit = _text(record.get("quantityUnit")) or _text(record.get("quantityValueUnit"))
    posted_text = _text(record.get("openTimeStr"))
    tags = record.get("tags")
    attributes: dict[str, Any] = {
        "quotes_left": _int(record.get("rfqLeftCount")),
        "rfq_star_level": _int(record.get("rfqStarLevel")),
        "tags": [tag.get("tagName", "") for tag in tags if isinstance(tag, dict)] if isinstance(tags, list) else [],
        "have_annexes": record.get("haveAnnexes") is True,
        "enr_rfq_id": enr_id,
    }
    return ParsedRfq(
        source=SOURCE,
        external_id=rfq_id,
        canonical_url=f"{DETAIL_URL}?p={enr_id}",
        title=title,
        posted_at=parse_relative_time(posted_text, fetched_at) if posted_text else None,
        posted_text=posted_text,
        description=_text(record.get("description")),
        quantity_text=f"{quantity} {unit}".strip(),
        buyer_name=_text(record.get("buyerName")),
        country_raw=_text(record.get("country")),
        country_code=_text(record.get("countrySimple")).upper(),
        attributes=attributes,
    )


def _has_next(html: str, page_view: dict[str, int]) -> bool:
    """A live "next" link anywhere in the paginations; without any pagination, fall back to pageView."""
    saw_next = False
    for match in _ANCHOR.finditer(html):
        attrs = match.group(1)
        class_match = _CLASS_ATTR.search(attrs)
        classes = class_match.group(1).split() if class_match else []
        if "next" not in classes:
            continue
        saw_next = True
        href_match = _HREF_ATTR.search(attrs)
        href = href_match.group(1) if href_match else ""
        if not {"disable", "disabled"} & set(classes) and href and not href.startswith("javascript:"):
            return True
    if saw_next:
        return False
    current, total = page_view.get("currentPage"), page_view.get("totalPages")
    return current is not None and total is not None and current < total


SPEC = SourceSpec(
    name="alibaba_rfq",
    kind="marketplace",
    site_url="https://sourcing.alibaba.com",
    listings=("/rfq/rfq_search_list.htm?country=AE&recently=Y&page={page}",),
    detail_pattern="/rfq_detail.htm?p=<encrypted id>",
    parse_list=parse_list,
    parse_detail=None,  # the list records carry everything the detail page shows without a login
    cadence="0 */2 * * *",
    rate_per_minute=12.0,
    burst=3,
    impersonate="chrome",
    max_pages=100,  # the board shows at most 100 pages
    respect_robots=True,
    description="Alibaba.com RFQ board (Most Recent): buyer requests with quantity, country and quotes left.",
    mail_domains=("alibaba.com",),
    evidence="served_page",
    fixtures=("rfq_pipeline/devtools/corpus/alibaba_rfq_list_page_2025-07.html",),
    known_gaps=(
        "posting times are relative ('25 minutes before') and exact only to the unit shown",
        "request pages need a supplier sign-in: the list is all that is read",
        "the board shows at most 100 pages, so older days are out of reach",
    ),
)
