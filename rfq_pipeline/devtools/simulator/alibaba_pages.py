"""Pages of the simulated Alibaba.com RFQ board, rendered on the real saved page.

The saved page supplies the whole document (head, header, scripts, footer); only the request records, the
``pageView`` numbers, the result count and both paginations are replaced. Records are written as the site writes
them: ``window.PAGE_DATA["index"].data.push({...})`` blocks with the site's JavaScript escaping. The request cards
themselves are not in the server-sent page (the browser draws them from those blocks), so none are rendered here.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from functools import cache
from html import escape, unescape

from rfq_pipeline.devtools.simulator.catalog import ALIBABA_PAGE, CORPUS, AlibabaRecord

PAGE_SIZE = 20
MAX_PAGES = 100  # the board never offers more than 100 pages ("/ 100" on the saved page, 2737 requests)
LIST_HREF = "//sourcing.alibaba.com/rfq/rfq_search_list.htm?country=AE&amp;recently=Y&amp;page={page}"
SAVED_UUID = "8456be75-7b91-4f54-b640-f1dfe342e725"

_RECORDS = "@@RECORDS@@"
_TOP_PAGINATION = "@@TOP_PAGINATION@@"
_PAGES = "@@PAGES@@"


def js_escape(value: str) -> str:
    """The site's escaping of strings in script blocks: letters, digits and ``,._`` stay, the rest is escaped.

    Code points below 256 become ``\\xNN`` and the others ``\\uNNNN`` (surrogate pairs beyond the BMP), which is
    what the saved page shows (``Electronic\\x20Components\\x3aCPU``, Arabic text as ``\\u0645...``).
    """
    out = []
    for char in value:
        code = ord(char)
        if (char.isascii() and char.isalnum()) or char in ",._":
            out.append(char)
        elif code < 256:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            high, low = divmod(code - 0x10000, 0x400)
            out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
    return "".join(out)


def open_time_text(posted_at: datetime, now: datetime) -> str:
    """The board's relative posting time at ``now``, rounded down like the real site ("1 hours before" at 62 min)."""
    seconds = max(0, int((now - posted_at).total_seconds()))
    if seconds < 60:
        return "Just now"
    if seconds < 3600:
        return f"{seconds // 60} minutes before"
    if seconds < 86400:
        return f"{seconds // 3600} hours before"
    return f"{seconds // 86400} days ago"


@cache
def _template() -> str:
    page = (CORPUS / ALIBABA_PAGE).read_text(encoding="utf-8")
    first = page.index('window.PAGE_DATA["index"].data.push({')
    first = page.rindex("\n", 0, first) + 1
    last = page.index("});", page.rindex('window.PAGE_DATA["index"].data.push({')) + len("});")
    page = page[:first] + _RECORDS + page[last:]
    page = _replace_once(page, r"pageView\.totalPages = '\d+'", "pageView.totalPages = '@@TOTAL_PAGES@@'")
    page = _replace_once(page, r"pageView\.currentPage = '\d+'", "pageView.currentPage = '@@CURRENT_PAGE@@'")
    page = _replace_once(page, r"pageView\.totalItems = '\d+'", "pageView.totalItems = '@@TOTAL_ITEMS@@'")
    page = _replace_once(
        page,
        r'(<div class="ui2-pagination ui2-pagination-top"[^>]*>\n).*?(\n        </div>)',
        lambda m: m.group(1) + _TOP_PAGINATION + m.group(2),
    )
    page = _replace_once(
        page,
        r'(<div class="content-header-count">\s*<span[^>]*>\s*)\d+',
        lambda m: m.group(1) + "@@TOTAL_ITEMS@@",
    )
    page = _replace_once(
        page,
        r'(<div class="ui2-pagination-pages" id="pagination-example">\n).*?(\n       </div>)',
        lambda m: m.group(1) + _PAGES + m.group(2),
    )
    return _replace_once(page, r'(window\.PAGE_DATA\["index"\]\.uuid = ")[^"]+', lambda m: m.group(1) + "@@UUID@@")


def _replace_once(text: str, pattern: str, replacement: object) -> str:
    result, count = re.subn(pattern, replacement, text, count=1, flags=re.DOTALL)  # type: ignore[call-overload]
    if count != 1:
        raise RuntimeError(f"saved Alibaba page no longer matches the simulator template: {pattern!r}")
    return result


def render_list(records: list[AlibabaRecord], page: int, now: datetime, *, country_ok: bool = True) -> str:
    """Page ``page`` (1-based) of the board for the given records (newest first)."""
    visible = records[: PAGE_SIZE * MAX_PAGES] if country_ok else []
    total_pages = min(MAX_PAGES, -(-len(visible) // PAGE_SIZE))
    chunk = visible[(page - 1) * PAGE_SIZE : page * PAGE_SIZE] if page >= 1 else []
    session = str(uuid.uuid5(uuid.NAMESPACE_URL, f"alibaba-sim/{now.isoformat()}/{page}"))
    blocks = "\n\n".join(_record_block(record, now, session) for record in chunk)
    html = _template()
    html = html.replace(_RECORDS, blocks)
    html = html.replace(_TOP_PAGINATION, _top_pagination(page, total_pages))
    html = html.replace(_PAGES, _bottom_pagination(page, total_pages))
    if not chunk:
        # Nothing to draw: the page says so where the cards would appear.
        html = html.replace(
            '<div id="rfqSearchindex">',
            '<div id="rfqSearchindex">\n       <div class="no-data">\n        No RFQ found. Please try other keywords'
            " or filters.\n       </div>",
            1,
        )
    return (
        html.replace("@@TOTAL_PAGES@@", str(total_pages))
        .replace("@@CURRENT_PAGE@@", str(page))
        .replace("@@TOTAL_ITEMS@@", str(len(visible)))
        .replace("@@UUID@@", session)
    )


def _record_block(record: AlibabaRecord, now: datetime, session: str) -> str:
    open_time = open_time_text(record.posted_at, now)
    score = str(int(record.posted_at.timestamp() * 1000))
    if record.page_block:
        block = re.sub(r'openTimeStr:"[^"]*"', lambda _: f'openTimeStr:"{open_time}"', record.page_block, count=1)
        # On the real board searchEngineScore of the "Most Recently" sort is the posting time in epoch ms.
        block = re.sub(r'searchEngineScore: "\d*"', lambda _: f'searchEngineScore: "{score}"', block, count=1)
        return block.replace(js_escape(SAVED_UUID), js_escape(session))
    language = f"&language={record.language}" if record.language else ""
    url = f"//sourcing.alibaba.com/rfq_detail.htm?p={record.enr_rfq_id}{language}&uuid={session}"
    quote_url = f"//rfqposting.alibaba.com/quotation/rfq_quotation_post.htm?uuid={session}&enc_r_id={record.enr_rfq_id}"
    tags = json.dumps([{"tagName": t, "type": "buyer", "scene": "default"} for t in record.tags], separators=(",", ":"))
    fields = [
        f'                            url: "{js_escape(url)}",',
        f'                        id: "{record.rfq_id}",',
        f'            rfqId: "{record.rfq_id}",',
        f'            enrRfqId: "{js_escape(record.enr_rfq_id)}",',
        '            expirationTime: "",\n\n',
        f'            subject: "{js_escape(record.subject)}",',
        '            imageUrl:"",',
        '            description:"",',
        '            country:"United Arab Emirates",',
        '            countrySimple:"AE",',
        '            quantityValue: "",',
        '            quantityValueUnit: "",',
        f"            quantity:  '{record.quantity}' ,",
        f'            quantityUnit:"{js_escape(record.quantity_unit)}",',
        f'            openTimeStr:"{open_time}",',
        '            quoteExtraCount:parseInt("0" || 0),',
        '            quoteLeftCount:parseInt("0" || 0),',
        f'            quoteUrl:"{js_escape(quote_url)}",',
        '            rfqExtraCount:parseInt("0" || 0),',
        f'            rfqLeftCount:parseInt("{record.quotes_left}" || 0),',
        "            haveAnnexes: false,",
        "            hasQuoEquity: true,",
        '            rfqStarLevel: parseInt("" || 0),',
        '            rfqStarMax: parseInt("3" || 0),',
        "            rfqTags: null || [],",
        f"            tags: {tags} || [],",
        "            hasRead: '' === 'true',",
        "            zeroQuoExpiredDate: '',",
        "            formPurposeCountry: '',",
        "            orderValue: '',",
        "            orderValueUnit: '',\n\n",
        "            formPurposeCountryName: '',",
        "            industryDisplayAttrs: (function() {\n\n                    var _list = [];\n\n"
        "                                         return _list;\n\n                })(),",
        "            portraitPath: '',",
        f"            buyerName: '{record.buyer_name}',",
        "            qualityScore:  '' ,",
        "            scoreProfile: null || [],\n\n            ",
        '            quoteFirstTimecount: "",',
        '            quotesDiscount: "",',
        '            quotesOrigin: "",',
        '            rfqLevel: "",',
        '            buyerLevel: "",',
        '            buyerLevelFlag: "",',
        '            buyerLevelLogoUrl: "",',
        f'            searchEngineScore: "{score}",',
        "        });",
    ]
    return '            window.PAGE_DATA["index"].data.push({\n\n' + "\n\n".join(fields)


def _link(page: int, css: str, label: str, indent: str, suffix: str = "") -> str:
    href = LIST_HREF.format(page=page) + suffix
    role = f' data-role="{css}"' if css in ("prev", "next") else ""
    cls = f' class="{css}"' if css else ""
    return f'{indent}<a{cls}{role} href="{href}">\n{indent} {label}\n{indent}</a>'


def _disabled(css: str, label: str, indent: str) -> str:
    return f'{indent}<a class="{css} disable" href="javascript:void(0)">\n{indent} {label}\n{indent}</a>'


def _top_pagination(page: int, total_pages: int) -> str:
    indent = "         "
    parts = [
        _link(page - 1, "prev", "Prev", indent, "&amp;tracelog=top_prev")
        if 1 < page <= total_pages + 1
        else _disabled("prev", "Prev", indent),
        f'{indent}<span class="now">\n{indent} {page}\n{indent}</span>\n{indent}/ {total_pages}',
        _link(page + 1, "next", "Next", indent, "&amp;tracelog=top_next")
        if page < total_pages
        else _disabled("next", "Next", indent),
    ]
    return "\n".join(parts)


def _bottom_pagination(page: int, total_pages: int) -> str:
    indent = "        "
    parts = [
        _link(page - 1, "prev", "Prev", indent) if 1 < page <= total_pages + 1 else _disabled("prev", "Prev", indent)
    ]
    window_start = max(1, min(page - 4, total_pages - 9))
    window_end = min(total_pages, window_start + 9)
    if window_start > 1:
        parts.append(_link(1, "", "1", indent))
        if window_start > 2:
            parts.append(f'{indent}<span class="interim">\n{indent} ...\n{indent}</span>')
    for number in range(window_start, window_end + 1):
        if number == page:
            parts.append(f'{indent}<span class="current">\n{indent} {number}\n{indent}</span>')
        else:
            parts.append(_link(number, "", str(number), indent))
    if window_end < total_pages:
        if window_end < total_pages - 1:
            parts.append(f'{indent}<span class="interim">\n{indent} ...\n{indent}</span>')
        parts.append(_link(total_pages, "", str(total_pages), indent))
    parts.append(_link(page + 1, "next", "Next", indent) if page < total_pages else _disabled("next", "Next", indent))
    return "\n".join(parts)


def render_drift(records: list[AlibabaRecord], page: int, now: datetime) -> str:
    """The same page after a hypothetical redesign: records as a JSON state object and server-rendered cards.

    Nothing the parser relies on survives (no PAGE_DATA pushes, no pageView, pagination classes renamed).
    """
    visible = records[: PAGE_SIZE * MAX_PAGES]
    chunk = visible[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    state = {
        "pagination": {"page": page, "pageSize": PAGE_SIZE, "total": len(visible)},
        "items": [
            {"rfqId": r.rfq_id, "title": r.subject or "(see card)", "publishedAt": open_time_text(r.posted_at, now)}
            for r in chunk
        ],
    }
    cards = "\n".join(
        f'<article class="rfq-card-v2" data-id="{r.rfq_id}">'
        f'<h3 class="rfq-card-v2__title">{escape(unescape(r.subject))}</h3>'
        f'<span class="rfq-card-v2__time">{open_time_text(r.posted_at, now)}</span></article>'
        for r in chunk
    )
    html = render_list(records, page, now)
    html = re.sub(
        r"[ \t]*window\.PAGE_DATA\[\"index\"\]\.data\.push\(\{.*?\n[ \t]*\}\);",
        "",
        html,
        flags=re.DOTALL,
    )
    html = html.replace('window.PAGE_DATA["index"].data = [];', f"window.__RFQ_STATE__ = {json.dumps(state)};")
    html = re.sub(r"var pageView = \{\};.*?window\.PAGE_DATA\.pageView = pageView;", "", html, flags=re.DOTALL)
    html = html.replace("ui2-pagination", "rfq-pager").replace('class="next"', 'class="rfq-pager__next"')
    html = html.replace("RFQ found", "requests")
    return html.replace(
        '<div id="rfqSearchindex">', f'<div id="rfqSearchindex">\n<section class="rfq-list-v2">{cards}</section>'
    )


def render_not_found(path: str) -> str:
    """The board's answer for an unknown path."""
    return f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>404 - Alibaba.com</title>
</head>
<body class="alibaba">
<div class="error-404">
<h1>Sorry, the page {escape(path)} could not be found.</h1>
<a href="//sourcing.alibaba.com/rfq/rfq_search_list.htm">Back to Buying Requests</a>
</div>
</body>
</html>
"""
