"""The Global Sources parsers on pages the simulated board renders: Hong Kong times, facts by label, request pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator.sites import globalsources as site_module
from rfq_pipeline.devtools.simulator.sites.globalsources import GlobalSourcesSite, GsRequest
from rfq_pipeline.sources.globalsources import (
    SITE_URL,
    SPEC,
    parse_detail,
    parse_hk_timestamp,
    parse_list,
    parse_list_date,
)
from rfq_pipeline.sources.model import PageParseError, ParsedRfq

TODAY = date(2025, 7, 13)
NOW = datetime(2025, 7, 13, 15, 30, 5, tzinfo=UTC)  # 23:30 in Hong Kong


@pytest.fixture(scope="module")
def site() -> GlobalSourcesSite:
    built = GlobalSourcesSite()
    built.build(TODAY, NOW)
    return built


def _list_html(site: GlobalSourcesSite, page: int = 1, *, category: str | None = None, style: str = "normal") -> str:
    rest = f"sourcing-requests/{category}/" if category else "sourcing-requests/"
    reply = site.render(rest, {"pageNum": [str(page)]}, style, NOW)
    assert reply.status == 200
    return reply.body.decode()


def _detail_html(site: GlobalSourcesSite, request: GsRequest, style: str = "normal") -> str:
    reply = site.render(request.detail_path.lstrip("/"), {}, style, NOW)
    assert reply.status == 200
    return reply.body.decode()


def test_first_page_lists_the_newest_requests(site: GlobalSourcesSite) -> None:
    page = parse_list(_list_html(site), fetched_at=NOW)
    assert len(page.entries) == 20 and page.has_next is True
    assert page.total_pages == -(-len(site.requests) // 20)
    for request, entry in zip(site.requests[:20], page.entries, strict=True):
        assert entry.source == "globalsources"
        assert entry.external_id == request.rfq_id
        assert entry.canonical_url == f"{SITE_URL}/rfq/{request.slug}-{request.rfq_id}r.htm"
        assert entry.title == request.title
        assert entry.posted_at == request.posted_at  # exact, from <time datetime="...+08:00">
        assert entry.posted_text == site_module.hk_date(request.posted_at)
        assert entry.quantity_text == request.quantity
        assert entry.country_raw == request.destination
        assert entry.country_code == request.country_code
        assert entry.attributes["buyer_type"] == request.buyer_type
        assert entry.attributes["quotes_received"] == request.quotes
        assert entry.attributes["quotes_max"] == 10
        assert entry.attributes["category"].endswith(request.subcategory)
        assert " ".join(request.description.split()).startswith(entry.description)


def test_hong_kong_dates() -> None:
    assert parse_hk_timestamp("Posted 2025-07-13 14:35 HKT") == datetime(2025, 7, 13, 6, 35, tzinfo=UTC)
    assert parse_hk_timestamp("2025-07-14 03:10 (GMT+8)") == datetime(2025, 7, 13, 19, 10, tzinfo=UTC)
    assert parse_hk_timestamp("2025-02-30 10:00 HKT") is None
    assert parse_hk_timestamp("2025-07-13 14:35") is None  # without a zone the instant is unknown
    assert parse_list_date("13 Jul 2025") == datetime(2025, 7, 13, tzinfo=UTC)
    assert parse_list_date("Valid until 2 Sept 2025") == datetime(2025, 9, 2, tzinfo=UTC)
    assert parse_list_date("31 Jun 2025") is None


def test_late_utc_requests_carry_the_next_hong_kong_date_but_keep_their_utc_day(site: GlobalSourcesSite) -> None:
    position = next(i for i, r in enumerate(site.requests) if r.posted_at.hour >= 16 and r.posted_at.date() < TODAY)
    request = site.requests[position]
    page = parse_list(_list_html(site, position // 20 + 1), fetched_at=NOW)
    entry = page.entries[position % 20]
    assert entry.external_id == request.rfq_id
    next_day = request.posted_at.date() + timedelta(days=1)
    assert entry.posted_text == f"{next_day.day} {next_day.strftime('%b')} {next_day.year}"
    assert entry.posted_at == request.posted_at


def test_an_item_without_machine_readable_time_falls_back_to_the_visible_date(site: GlobalSourcesSite) -> None:
    html = _list_html(site)
    request = site.requests[0]
    stamp = f'<time datetime="{request.posted_at.astimezone(site_module.HKT).isoformat()}">'
    assert stamp in html
    entry = parse_list(html.replace(stamp, "<time>"), fetched_at=NOW).entries[0]
    shown = request.posted_at.astimezone(site_module.HKT).date()
    assert entry.posted_at == datetime(shown.year, shown.month, shown.day, tzinfo=UTC)


def test_request_page_adds_terms_text_and_buyer(site: GlobalSourcesSite) -> None:
    page = parse_list(_list_html(site), fetched_at=NOW)
    request, entry = next((r, e) for r, e in zip(site.requests, page.entries, strict=False) if r.company)
    detailed = parse_detail(_detail_html(site, request), entry)
    assert detailed.buyer_company == request.company
    assert detailed.description == request.description
    assert detailed.attributes["target_price"] == request.target_price
    assert detailed.attributes["shipping_terms"] == request.shipping_terms
    assert detailed.attributes["payment_terms"] == request.payment_terms
    assert detailed.attributes["certifications"] == request.certifications.split(", ")
    assert detailed.attributes["sample_required"] is request.sample_required
    assert detailed.attributes["buyer_annual_purchasing_volume"] == request.purchase_volume
    assert detailed.attributes["status"] == "Open"
    closing = request.posted_at.astimezone(site_module.HKT) + timedelta(days=30)
    assert detailed.attributes["valid_until"] == closing.date().isoformat()
    assert detailed.attributes["quotes_received"] == request.quotes  # list attributes are kept


def test_verified_buyer_without_name_and_undated_entry(site: GlobalSourcesSite) -> None:
    request = next(r for r in site.requests if not r.company)
    html = _detail_html(site, request)
    assert "Verified buyer" in html
    bare = ParsedRfq(source="globalsources", external_id=request.rfq_id, canonical_url="", title="", posted_at=None)
    detailed = parse_detail(html, bare)
    assert detailed.buyer_company == ""
    assert detailed.title == request.title
    assert detailed.posted_at == request.posted_at  # "2025-07-13 14:35 HKT" on the request page
    assert detailed.quantity_text == request.quantity and detailed.country_raw == request.destination


def test_last_page_beyond_and_category(site: GlobalSourcesSite) -> None:
    last = -(-len(site.requests) // 20)
    final = parse_list(_list_html(site, last), fetched_at=NOW)
    assert final.has_next is False and final.total_pages == last
    beyond = parse_list(_list_html(site, last + 1), fetched_at=NOW)
    assert beyond.entries == [] and beyond.has_next is False
    beauty = [r.rfq_id for r in site.requests if r.category == "health-beauty"]
    page = parse_list(_list_html(site, category="health-beauty"), fetched_at=NOW)
    assert [e.external_id for e in page.entries] == beauty[:20]
    missing = site.render("rfq/Nothing-Here-999r.htm", {}, "normal", NOW)
    assert missing.status == 404 and missing.body.decode().rstrip().endswith("</html>")


def test_drift_truncation_and_challenges_are_refused(site: GlobalSourcesSite) -> None:
    with pytest.raises(PageParseError) as drift:
        parse_list(_list_html(site, style="drift"), fetched_at=NOW)
    assert drift.value.kind == "layout_drift"
    entry = parse_list(_list_html(site), fetched_at=NOW).entries[0]
    with pytest.raises(PageParseError) as detail_drift:
        parse_detail(_detail_html(site, site.requests[0], style="drift"), entry)
    assert detail_drift.value.kind == "layout_drift"
    cut = faults.truncate(site.render("sourcing-requests/", {"pageNum": ["3"]}, "normal", NOW)).body.decode()
    with pytest.raises(PageParseError) as truncated:
        parse_list(cut, fetched_at=NOW)
    assert truncated.value.kind == "truncated"
    for wall in (faults.awswaf_challenge("/sourcing-requests/"), faults.login_wall(SPEC.name, "/rfq/")):
        with pytest.raises(PageParseError) as challenge:
            parse_list(wall.body.decode(), fetched_at=NOW)
        assert challenge.value.kind == "challenge"


def test_requests_mix_beauty_other_goods_and_near_misses(site: GlobalSourcesSite) -> None:
    kinds = [r.kind for r in site.requests]
    assert 0.35 <= kinds.count("beauty") / len(kinds) <= 0.75
    assert kinds.count("hard_negative") >= 20
    titles = {r.title for r in site.requests if r.kind == "hard_negative"}
    assert any("Sunscreen fabric" in t for t in titles) or any("nail gun" in t.lower() for t in titles)
    for back in range(41):
        assert 5 <= len(site.expected(TODAY - timedelta(days=back))) <= 14


def test_spec() -> None:
    assert SPEC.name == "globalsources" and SPEC.kind == "marketplace"
    assert SPEC.site_url == SITE_URL and SPEC.cadence == "0 */12 * * *"
    assert SPEC.respect_robots is True and SPEC.impersonate == "chrome"
    assert SPEC.parse_detail is parse_detail and SPEC.page_size == 20
    assert 6 <= SPEC.rate_per_minute <= 20
    assert all("{page}" in listing for listing in SPEC.listings)
