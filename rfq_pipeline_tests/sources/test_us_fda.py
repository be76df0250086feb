"""The openFDA NDC loader on answers of the simulated endpoint: records, paging, NOT_FOUND, the inclusive range."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.devtools.simulator.faults import Reply
from rfq_pipeline.devtools.simulator.sites.us_fda import UsFdaSite, parse_search
from rfq_pipeline.sources.model import PageParseError
from rfq_pipeline.sources.spec import SourceSpec
from rfq_pipeline.sources.us_fda import (
    SPEC,
    canonical_url,
    is_empty_result,
    parse_list,
    parse_marketing_date,
)

TODAY = date(2025, 7, 13)
NOW = datetime(2025, 7, 13, 15, 30, 5, tzinfo=UTC)
NOT_FOUND = '{\n  "error": {\n    "code": "NOT_FOUND",\n    "message": "No matches found!"\n  }\n}'
SIM_SPEC = replace(SPEC, base_url="http://127.0.0.1:1/us_fda")


@pytest.fixture(scope="module")
def site() -> UsFdaSite:
    built = UsFdaSite()
    built.build(TODAY, NOW)
    return built


def _day(value: date) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _get(site: UsFdaSite, url: str, style: str = "normal") -> Reply:
    parts = urlsplit(url)
    rest = parts.path.split("/us_fda/", 1)[1]
    return site.render(rest, parse_qs(parts.query), style, NOW)


def _window(site: UsFdaSite, start: date, end: date, page: int = 1, style: str = "normal") -> Reply:
    return _get(site, SIM_SPEC.list_url(SIM_SPEC.listings[0], page, _day(start), _day(end)), style)


def test_window_is_sent_as_an_inclusive_range_of_its_days() -> None:
    url = SIM_SPEC.list_url(SIM_SPEC.listings[0], 3, _day(date(2025, 7, 10)), _day(date(2025, 7, 11)))
    assert "marketing_start_date:[20250710+TO+20250710]" in url
    assert "product_type:%22HUMAN+OTC+DRUG%22" in url and "sort=marketing_start_date:desc" in url
    assert url.endswith("&limit=100&skip=200")
    month = SIM_SPEC.list_url(SIM_SPEC.listings[0], 1, _day(date(2025, 6, 1)), _day(date(2025, 7, 1)))
    assert "[20250601+TO+20250630]" in month
    # A window that does not start at midnight excludes its first (midnight-dated) day.
    noon = datetime(2025, 7, 10, 12, tzinfo=UTC)
    assert "[20250711+TO+20250712]" in SIM_SPEC.list_url(SIM_SPEC.listings[0], 1, noon, noon + timedelta(days=2))
    # The override survives the registry's dataclasses.replace and is still a SourceSpec.
    assert isinstance(SIM_SPEC, SourceSpec) and type(SIM_SPEC) is type(SPEC)


def test_one_day_window_parses_into_that_days_products(site: UsFdaSite) -> None:
    day = TODAY - timedelta(days=3)
    reply = _window(site, day, day + timedelta(days=1))
    assert reply.status == 200 and reply.content_type.startswith("application/json")
    page = parse_list(reply.body.decode(), fetched_at=NOW)
    assert [e.external_id for e in page.entries] == site.expected(day)
    assert page.has_next is False and page.total_pages == 1
    record = json.loads(reply.body)["results"][0]
    entry = page.entries[0]
    assert entry.source == "us_fda"
    assert entry.title == f"{record['labeler_name']}: {record['brand_name']} ({record['generic_name']})"
    assert entry.buyer_company == record["labeler_name"]
    assert entry.country_raw == "United States"
    assert entry.posted_at == _day(day) and entry.posted_text == day.strftime("%Y%m%d")
    assert entry.canonical_url == f'https://api.fda.gov/drug/ndc.json?search=product_ndc:"{record["product_ndc"]}"'
    assert entry.attributes["product_type"] == "HUMAN OTC DRUG"
    assert entry.attributes["dosage_form"] == record["dosage_form"]
    assert entry.attributes["route"] == record["route"]
    assert entry.attributes["marketing_category"] == record["marketing_category"]
    assert entry.attributes["active_ingredients"] == record["active_ingredients"]
    assert entry.quantity_text == "" and "Active ingredients:" in entry.description


def test_a_month_needs_several_pages_and_has_next_follows_meta(site: UsFdaSite) -> None:
    start, end = date(2025, 6, 1), date(2025, 7, 1)
    expected = [ndc for back in range((end - start).days) for ndc in site.expected(end - timedelta(days=back + 1))]
    seen: list[str] = []
    for number in range(1, 10):
        payload = json.loads(_window(site, start, end, number).body)
        page = parse_list(json.dumps(payload), fetched_at=NOW)
        meta = payload["meta"]["results"]
        assert page.has_next is (meta["skip"] + meta["limit"] < meta["total"])
        seen += [e.external_id for e in page.entries]
        if not page.has_next:
            break
    assert number >= 3 and seen == expected
    # One page past the end openFDA has no matches: 404 NOT_FOUND, an empty page.
    beyond = _window(site, start, end, number + 1)
    assert beyond.status == 404 and is_empty_result(beyond.status, beyond.body.decode())


def test_no_matches_is_404_not_found_and_an_empty_page(site: UsFdaSite) -> None:
    reply = _window(site, TODAY, TODAY + timedelta(days=1))  # the export is a day behind: nothing today
    body = reply.body.decode()
    assert reply.status == 404 and json.loads(body) == json.loads(NOT_FOUND)
    assert is_empty_result(404, body) is True
    page = parse_list(body, fetched_at=NOW)
    assert page.entries == [] and page.has_next is False


def test_is_empty_result_only_for_not_found_no_matches(site: UsFdaSite) -> None:
    assert is_empty_result(404, NOT_FOUND)
    assert not is_empty_result(200, NOT_FOUND)
    assert not is_empty_result(500, NOT_FOUND)
    wrong_path = site.render("drug/ndcx.json", {}, "normal", NOW)
    assert wrong_path.status == 404 and not is_empty_result(404, wrong_path.body.decode())
    assert not is_empty_result(404, "<html><body><h1>404 Not Found</h1></body></html>")
    assert not is_empty_result(404, '{"error": {"code": "NOT_FOUND"')  # cut off
    assert not is_empty_result(404, "[]")


def test_openfda_parameter_limits(site: UsFdaSite) -> None:
    skip = _get(site, "http://x/us_fda/drug/ndc.json?search=product_type:%22HUMAN+OTC+DRUG%22&limit=100&skip=25100")
    assert skip.status == 400 and json.loads(skip.body)["error"]["message"] == "Skip value must 25000 or less."
    limit = _get(site, "http://x/us_fda/drug/ndc.json?limit=1001")
    assert limit.status == 400 and json.loads(limit.body)["error"]["code"] == "BAD_REQUEST"
    unknown = _get(site, "http://x/us_fda/drug/ndc.json?q=sunscreen")
    assert unknown.status == 400 and "Invalid parameter: q" in unknown.body.decode()
    with pytest.raises(PageParseError) as error:
        parse_list(skip.body.decode(), fetched_at=NOW)
    assert error.value.kind == "api_error"
    # Without limit openFDA returns a single record; the lookup of the canonical URL finds the product.
    ndc = site.expected(TODAY - timedelta(days=2))[0]
    single = _get(site, canonical_url(ndc).replace("https://api.fda.gov", "http://x/us_fda"))
    assert [e.external_id for e in parse_list(single.body.decode(), fetched_at=NOW).entries] == [ndc]


def test_has_next_stops_at_the_skip_ceiling() -> None:
    def page(skip: int, total: int) -> str:
        record = {
            "product_ndc": "81432-1000",
            "labeler_name": "Coastline Suncare LLC",
            "marketing_start_date": "20250701",
        }
        return json.dumps({"meta": {"results": {"skip": skip, "limit": 100, "total": total}}, "results": [record]})

    assert parse_list(page(24_900, 40_000), fetched_at=NOW).has_next is True  # skip=25000 is still served
    assert parse_list(page(25_000, 40_000), fetched_at=NOW).has_next is False  # skip=25100 is refused
    assert parse_list(page(0, 100), fetched_at=NOW).has_next is False
    assert parse_list(page(0, 101), fetched_at=NOW).total_pages == 2


def test_records_with_missing_parts() -> None:
    meta = {"results": {"skip": 0, "limit": 100, "total": 2}}
    records = [
        {
            "product_ndc": "82017-1001",
            "generic_name": "Salicylic Acid",
            "openfda": {"manufacturer_name": ["Luma Dermaceuticals Inc."]},
        },
        {
            "product_ndc": "82017-1002",
            "labeler_name": "Luma Dermaceuticals Inc.",
            "brand_name": "Luma Skin Gel",
            "marketing_start_date": "2025071",
        },
    ]
    entries = parse_list(json.dumps({"meta": meta, "results": records}), fetched_at=NOW).entries
    assert entries[0].buyer_company == "Luma Dermaceuticals Inc."  # from openfda when labeler_name is missing
    assert entries[0].title == "Luma Dermaceuticals Inc.: Salicylic Acid"
    assert entries[1].title == "Luma Dermaceuticals Inc.: Luma Skin Gel"
    assert entries[1].posted_at is None  # a malformed date is no date
    assert parse_marketing_date("20250229") is None and parse_marketing_date("20240229") == datetime(
        2024, 2, 29, tzinfo=UTC
    )
    with pytest.raises(PageParseError) as error:
        parse_list(json.dumps({"meta": meta, "results": [{"brand_name": "No NDC"}]}), fetched_at=NOW)
    assert error.value.kind == "layout_drift"


def test_drift_truncation_and_challenges_are_refused(site: UsFdaSite) -> None:
    day = TODAY - timedelta(days=2)
    drift = _window(site, day, day + timedelta(days=1), style="drift")
    assert drift.status == 200 and "metadata" in json.loads(drift.body)
    with pytest.raises(PageParseError) as drifted:
        parse_list(drift.body.decode(), fetched_at=NOW)
    assert drifted.value.kind == "layout_drift"
    cut = faults.truncate(_window(site, day, day + timedelta(days=1)))
    with pytest.raises(PageParseError) as truncated:
        parse_list(cut.body.decode(), fetched_at=NOW)
    assert truncated.value.kind == "truncated"
    with pytest.raises(PageParseError) as challenge:
        parse_list(faults.cloudflare_challenge("/drug/ndc.json").body.decode(), fetched_at=NOW)
    assert challenge.value.kind == "challenge"
    with pytest.raises(PageParseError) as html:
        parse_list(faults.error_page(500).body.decode(), fetched_at=NOW)
    assert html.value.kind == "layout_drift"


def test_search_syntax_of_the_simulator() -> None:
    assert parse_search('marketing_start_date:[20250601 TO 20250630] AND product_type:"HUMAN OTC DRUG"') == [
        ("marketing_start_date", "range", "20250601 TO 20250630"),
        ("product_type", "phrase", "HUMAN OTC DRUG"),
    ]
    assert parse_search("dosage_form:LOTION") == [("dosage_form", "term", "LOTION")]
    assert parse_search("brand_name:sun OR generic_name:zinc") is None


def test_products_mix_beauty_otc_and_other_otc(site: UsFdaSite) -> None:
    groups = [p.group for p in site.products]
    beauty = {"sunscreen", "acne", "skin_protectant", "hand_sanitizer", "antiperspirant", "anticaries", "dandruff"}
    share = sum(g in beauty for g in groups) / len(groups)
    assert 0.5 <= share <= 0.9 and {"oral_analgesic", "homeopathic"} <= set(groups)
    dated = [TODAY - timedelta(days=back) for back in range(1, 91)]
    assert all(3 <= len(site.expected(day)) <= 12 for day in dated)
    assert site.expected(TODAY) == [] and site.expected_total() == sum(len(site.expected(d)) for d in dated)
    with_openfda = sum(bool(p.record["openfda"]) for p in site.products) / len(groups)
    assert 0.4 <= with_openfda <= 0.8  # new listings often lack the openfda harmonisation


def test_spec() -> None:
    assert SPEC.name == "us_fda" and SPEC.kind == "loader"
    assert SPEC.site_url == "https://api.fda.gov" and SPEC.cadence == "0 3 1 * *"
    assert SPEC.respect_robots is False and SPEC.parse_detail is None
    assert SPEC.is_empty_result is is_empty_result
    assert SPEC.page_size == 100 and (SPEC.max_pages - 1) * SPEC.page_size <= 25_000
    assert SPEC.rate_per_minute <= 20 and SPEC.impersonate == "chrome"


OFFICIAL = Path(__file__).parent / "fixtures" / "us_fda"


def test_the_official_example_record_reads_as_a_lead() -> None:
    example = json.loads((OFFICIAL / "open.fda.gov_ndc_understanding-the-api-results_examples.json").read_text())
    served = dict(example["anatomy"], results=[example["result"]])  # a page as the API serves it: one record
    page = parse_list(json.dumps(served), fetched_at=datetime(2026, 8, 27, tzinfo=UTC))
    assert page.total_pages == 142572 and page.has_next is True
    [entry] = page.entries
    assert entry.external_id == "68682-065"
    assert entry.title == "Oceanside Pharmaceuticals: Methoxsalen (Methoxsalen)"
    assert entry.buyer_company == "Oceanside Pharmaceuticals" and entry.country_raw == "United States"
    assert entry.posted_at == datetime(2014, 7, 15, tzinfo=UTC) and entry.posted_text == "20140715"
    assert entry.attributes["product_id"] == "68682-065_12b39571-f883-4a2a-a909-aef528d77d0a"
    assert entry.attributes["route"] == ["ORAL"] and entry.attributes["marketing_category"] == "NDA AUTHORIZED GENERIC"
    assert entry.attributes["active_ingredients"] == [{"name": "METHOXSALEN", "strength": "10 mg/1"}]
    assert "Packaging: 50 CAPSULE, LIQUID FILLED in 1 BOTTLE, PLASTIC (68682-065-10)" in entry.description


def test_every_field_the_loader_reads_is_in_the_official_reference() -> None:
    import yaml

    reference = yaml.safe_load((OFFICIAL / "open.fda.gov_fields_drugndc.yaml").read_text())["properties"]
    example = json.loads((OFFICIAL / "open.fda.gov_ndc_understanding-the-api-results_examples.json").read_text())
    # labeler_name is served (it is in the example record) but missing from the field reference: the loader falls
    # back to openfda.manufacturer_name, which the reference does list.
    assert "labeler_name" in example["result"] and "labeler_name" not in reference
    read = (
        "product_ndc", "brand_name", "generic_name", "active_ingredients", "packaging", "route",
        "product_type", "dosage_form", "marketing_category", "application_number", "product_id",
        "listing_expiration_date", "pharm_class", "marketing_start_date", "openfda",
    )  # fmt: skip
    assert [name for name in read if name not in reference] == []
    assert "manufacturer_name" in reference["openfda"]["properties"]
