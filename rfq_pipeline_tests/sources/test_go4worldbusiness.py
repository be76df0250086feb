"""The go4WorldBusiness parsers: the template splitter on real lead texts, list and detail pages built from them."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import rfq_pipeline.devtools
from rfq_pipeline.devtools.simulator import go4w_pages
from rfq_pipeline.devtools.simulator.catalog import Go4wLead, go4w_leads
from rfq_pipeline.sources.go4worldbusiness import (
    SITE_URL,
    parse_card_date,
    parse_detail,
    parse_list,
    parse_templated_description,
)
from rfq_pipeline.sources.model import PageParseError

CORPUS = Path(rfq_pipeline.devtools.__file__).parent / "corpus"
TODAY = date(2025, 7, 13)
FETCHED_AT = datetime(2025, 7, 13, 15, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def real_leads() -> list[dict[str, str]]:
    with (CORPUS / "go4w_buyers_2019.jsonl").open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    return [r for r in records if "/buylead/view/" in r["buyerCompanyLink"]]


@pytest.fixture(scope="module")
def leads() -> list[Go4wLead]:
    return go4w_leads(TODAY)


def _real_text(real_leads: list[dict[str, str]], lead_id: str) -> str:
    return next(r["buyerText"] for r in real_leads if f"/buylead/view/{lead_id}/" in r["buyerCompanyLink"])


def test_template_fields_of_a_real_crlf_lead(real_leads) -> None:
    fields = parse_templated_description(_real_text(real_leads, "640170"))  # "Flavor Emulsion", CRLF text
    assert fields == {
        "product_name": "Flavor Emulsion",
        "specifications": "Grade : Food Grade\n"
        "Flavor : Ginger Emulsion, Ginger Ale Belfast, American Ice Cream Soda, Mixed Fruit Flavor, Etc.",
        "quantity_required": "1X20' FCL",
        "shipping_terms": "FOB Or CIF",
        "destination_port": "Colombo, Sri Lanka",
        "payment_terms": "To be discussed with suppliers",
        "looking_for_suppliers_from": "Worldwide mainly India",
        "contact": "Contact-029d9589",
    }


def test_template_fields_of_the_reposted_lead_with_product_name_colon_and_lf() -> None:
    with (CORPUS / "go4w_reposted_lead_2021.csv").open(newline="", encoding="utf-8") as handle:
        text = next(csv.DictReader(handle))["Commodities"]
    assert "Product Name: Coconut Milk" in text and "\r\n" not in text
    fields = parse_templated_description(text)
    assert fields["product_name"] == "Coconut Milk"
    # "Packaging Terms : ..." is part of the specifications, not a field of its own.
    assert fields["specifications"] == "17% Fat\nPvt. Label\nPackaging Terms : 400ml Cans, Tetra Pack"
    assert fields["quantity_required"] == "1 Forty-Foot Container"
    assert fields["shipping_terms"] == "CIF"
    assert fields["destination_port"] == "New York, Miami, Florida, United States"
    assert fields["payment_terms"] == "Wire Transfer"


def test_template_fields_of_a_lead_whose_line_breaks_were_lost(real_leads) -> None:
    text = next(
        r["buyerText"]
        for r in real_leads
        if r["buyerText"].startswith("The buyer would like to receive quotations for -Product Name : Fruits")
    )
    assert "\n" not in text
    fields = parse_templated_description(text)
    assert fields["product_name"] == "Fruits"
    assert fields["quantity_required"] == "1 X 20' FCL"
    assert fields["shipping_terms"] == "FOB"
    assert fields["destination_port"] == "Australia"
    assert fields["looking_for_suppliers_from"] == "Worldwide Mainly India"


def test_template_label_variants(real_leads) -> None:
    # Two real leads for "Egg Products"; this one says "Quantity :", "Shipment Terms" and "Destination Port:".
    egg = next(
        r["buyerText"] for r in real_leads if "Egg Products\r\n" in r["buyerText"] and "\nQuantity :" in r["buyerText"]
    )
    fields = parse_templated_description(egg)
    assert fields["quantity_required"] == "1 Ton (Negotiable)"
    assert fields["shipping_terms"] == "FOB"
    assert fields["destination_port"] == "Australia"
    assert fields["looking_for_suppliers_from"] == "Australia"


def test_every_real_templated_lead_gives_its_product_and_port(real_leads) -> None:
    templated = [r for r in real_leads if re.search(r"Product Name\s*:", r["buyerText"])]
    assert len(templated) > 200
    for record in templated:
        fields = parse_templated_description(record["buyerText"])
        assert fields.get("product_name"), record["buyerText"][:120]
        if re.search(r"Destination Port\s*:", record["buyerText"], re.I):
            assert fields.get("destination_port"), record["buyerText"][:120]


def test_free_text_lead_has_no_template_fields(real_leads) -> None:
    text = _real_text(real_leads, "73674")  # a 2005 free-text request from a company
    fields = parse_templated_description(text)
    assert "product_name" not in fields and "quantity_required" not in fields


def test_card_dates() -> None:
    assert parse_card_date("Nov-15-21") == datetime(2021, 11, 15, tzinfo=UTC)
    assert parse_card_date("Posted On : Jun-17-19") == datetime(2019, 6, 17, tzinfo=UTC)
    assert parse_card_date("Foo-15-21") is None
    assert parse_card_date("Feb-30-21") is None


def test_list_page_rendered_from_real_leads(leads) -> None:
    html = go4w_pages.render_list(leads, None, 1)
    page = parse_list(html, fetched_at=FETCHED_AT)
    assert len(page.entries) == 20
    assert page.has_next is True
    assert page.total_pages == -(-len(leads) // 20)
    for lead, entry in zip(leads[:20], page.entries, strict=True):
        assert entry.external_id == lead.lead_id
        assert entry.detail_path == lead.detail_path
        assert entry.canonical_url == SITE_URL + lead.detail_path
        assert entry.title == lead.heading.removeprefix("Wanted : ")
        assert entry.country_raw == lead.country
        assert entry.posted_at == datetime(lead.posted_on.year, lead.posted_on.month, lead.posted_on.day, tzinfo=UTC)
        assert re.fullmatch(r"[A-Z][a-z]{2}-\d\d-\d\d", entry.posted_text)
        assert entry.description and " ".join(lead.text.split()).startswith(entry.description.removesuffix(" ..."))


def test_category_listing_last_page(leads) -> None:
    flavors = [lead for lead in leads if lead.category == "Food-Flavors"]
    last = -(-len(flavors) // 20)
    page = parse_list(go4w_pages.render_list(flavors, "Food-Flavors", last), fetched_at=FETCHED_AT)
    assert page.has_next is False
    assert page.total_pages == last
    assert [e.external_id for e in page.entries] == [lead.lead_id for lead in flavors[(last - 1) * 20 :]]


def test_unknown_category_is_an_empty_result_not_drift() -> None:
    page = parse_list(go4w_pages.render_list([], "Quantum-Widgets", 1, known_category=False), fetched_at=FETCHED_AT)
    assert page.entries == [] and page.has_next is False


def test_list_drift_and_truncation(leads) -> None:
    with pytest.raises(PageParseError) as drift:
        parse_list(go4w_pages.render_list_drift(leads, None, 1), fetched_at=FETCHED_AT)
    assert drift.value.kind == "layout_drift"
    html = go4w_pages.render_list(leads, None, 1)
    with pytest.raises(PageParseError) as cut:
        parse_list(html[: int(len(html) * 0.6)], fetched_at=FETCHED_AT)
    assert cut.value.kind == "truncated"


def test_card_without_title_is_drift(leads) -> None:
    html = go4w_pages.render_list(leads, None, 1).replace("entity-row-title", "row-title", 1)
    with pytest.raises(PageParseError) as error:
        parse_list(html, fetched_at=FETCHED_AT)
    assert error.value.kind == "layout_drift"


def test_detail_page_enriches_the_entry(leads) -> None:
    lead = next(lead for lead in leads if lead.lead_id == "640170")
    entry = next(e for e in parse_list(go4w_pages.render_list([lead], None, 1), fetched_at=FETCHED_AT).entries)
    detailed = parse_detail(go4w_pages.render_detail(lead), entry)
    assert detailed.external_id == "640170" and detailed.title == "Flavor Emulsion"
    assert detailed.quantity_text == "1X20' FCL"
    assert detailed.attributes["destination_port"] == "Colombo, Sri Lanka"
    assert detailed.attributes["shipping_terms"] == "FOB Or CIF"
    assert detailed.attributes["payment_terms"] == "To be discussed with suppliers"
    assert detailed.attributes["looking_for_suppliers_from"] == "Worldwide mainly India"
    assert detailed.attributes["specifications"].startswith("Grade : Food Grade\nFlavor : Ginger Emulsion")
    assert detailed.attributes["categories"] == ["Food Flavors"]
    assert "contact" not in detailed.attributes
    assert detailed.buyer_company == ""
    # The full text comes back line for line (whitespace inside lines collapsed).
    expected_lines = [" ".join(line.split()) for line in lead.text.split("\n")]
    assert detailed.description.split("\n") == expected_lines


def test_detail_of_an_old_lead_names_the_buyer_company(leads) -> None:
    lead = next(lead for lead in leads if lead.company)
    entry = parse_list(go4w_pages.render_list([lead], None, 1), fetched_at=FETCHED_AT).entries[0]
    detailed = parse_detail(go4w_pages.render_detail(lead), entry)
    assert detailed.buyer_company == lead.company
    assert detailed.quantity_text == ""  # free text: nothing invented


def test_detail_drift_and_truncation(leads) -> None:
    lead = leads[0]
    entry = parse_list(go4w_pages.render_list([lead], None, 1), fetched_at=FETCHED_AT).entries[0]
    with pytest.raises(PageParseError) as drift:
        parse_detail(go4w_pages.render_detail_drift(lead), entry)
    assert drift.value.kind == "layout_drift"
    html = go4w_pages.render_detail(lead)
    with pytest.raises(PageParseError) as cut:
        parse_detail(html[: int(len(html) * 0.6)], entry)
    assert cut.value.kind == "truncated"
