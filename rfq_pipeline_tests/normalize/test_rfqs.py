import csv
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from rfq_pipeline.normalize.rfqs import clean_title, country_code, normalize_rfqs, parse_quantity

CORPUS = Path(__file__).resolve().parents[2] / "rfq_pipeline" / "devtools" / "corpus"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 Piece/Pieces", (2.0, "piece")),
        ("3698 Piece/Pieces", (3698.0, "piece")),
        ("10,000 pcs", (10000.0, "piece")),
        ("1 Twenty-Foot Container", (1.0, "container_20ft")),
        ("1 Forty-Foot Container ", (1.0, "container_40ft")),
        ("1X20' FCL", (1.0, "container_20ft")),
        ("2 x 40ft HC", (2.0, "container_40ft")),
        ("500 Kilogram/Kilograms", (500.0, "kilogram")),
        ("25 MT", (25.0, "metric_ton")),
        ("12 Metric Ton/Metric Tons per month", (12.0, "metric_ton")),
        ("1.5 Ton/Tons", (1.5, "ton")),
        ("100 Square Meter/Square Meters", (100.0, "square_meter")),
        ("40 Dozen/Dozens", (40.0, "dozen")),
        ("7 widgets", (7.0, "widgets")),  # unknown units are kept, not dropped
        ("To be discussed", (None, None)),
        ("", (None, None)),
    ],
)
def test_parse_quantity(text: str, expected: tuple[float | None, str | None]) -> None:
    assert parse_quantity(text) == expected


def test_every_real_alibaba_quantity_parses_to_a_known_unit() -> None:
    with open(CORPUS / "alibaba_rfq_uae_2025-07.csv", newline="", encoding="utf-8") as handle:
        quantities = [row["Quantity Required"] for row in csv.DictReader(handle)]
    units = Counter(parse_quantity(q)[1] for q in quantities)
    parsed = sum(v for k, v in units.items() if k is not None)
    assert parsed / len(quantities) > 0.99
    known = {
        "piece",
        "set",
        "unit",
        "bag",
        "kilogram",
        "metric_ton",
        "box",
        "ton",
        "pair",
        "square_meter",
        "dozen",
        "pack",
        "container_20ft",
        "container_40ft",
        "meter",
        "gram",
        "acre",
        "carton",
        "liter",
        "barrel",
        "roll",
    }
    share_known = sum(v for k, v in units.items() if k in known) / len(quantities)
    assert share_known > 0.97, units.most_common(30)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("United Arab Emirates", "AE"),
        ("Philippines, Philippines", "PH"),
        ("Dubai, United Arab Emirates", "AE"),
        ("Sri Lanka", "LK"),
        ("UAE", "AE"),
        ("USA", "US"),
        ("Korea", "KR"),
        ("Viet Nam", "VN"),
        ("Atlantis", None),
        ("", None),
    ],
)
def test_country_code(text: str, code: str | None) -> None:
    assert country_code(text) == code


def test_clean_title() -> None:
    assert clean_title("  Wanted :  Argan   Oil ...") == "Argan Oil"
    assert clean_title("Verified Supplier Top Seller Best Quality Matte Skin Friendly Mobile Case ...") == (
        "Verified Supplier Top Seller Best Quality Matte Skin Friendly Mobile Case"
    )


def test_normalize_frame() -> None:
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3],
            "title": ["Wanted : Rose Water", "Lipstick tubes ...", None],
            "quantity_text": ["1X20' FCL", "5000 Piece/Pieces", None],
            "country_raw": ["Dubai, United Arab Emirates", "Atlantis", "India, India"],
            "country_code_hint": [None, "ae", None],
            "posted_at": [datetime(2026, 11, 20, 23, 59, tzinfo=UTC), None, datetime(2026, 11, 19, 0, 0, tzinfo=UTC)],
            "first_seen_at": [datetime(2026, 11, 21, 1, tzinfo=UTC)] * 3,
        },
        schema_overrides={"posted_at": pl.Datetime("us", "UTC"), "first_seen_at": pl.Datetime("us", "UTC")},
    )
    out = normalize_rfqs(frame).sort("id").to_dicts()
    assert out[0] == {
        "id": 1,
        "quantity_value": 1.0,
        "quantity_unit": "container_20ft",
        "country_code": "AE",
        "country_name": "United Arab Emirates",
        "posted_date": date(2026, 11, 20),
        "title_clean": "Rose Water",
    }
    assert out[1]["country_code"] == "AE"  # the page's own code wins over an unrecognizable name
    assert out[1]["posted_date"] == date(2026, 11, 21)  # undated: the day it was first seen
    assert out[2]["quantity_value"] is None and out[2]["country_code"] == "IN"
    assert normalize_rfqs(frame.head(0)).columns == list(out[0].keys())


def test_all_null_columns_from_python_lists_are_accepted() -> None:
    frame = pl.DataFrame(
        {
            "id": [1],
            "title": ["Argan oil"],
            "quantity_text": [None],
            "country_raw": ["Morocco"],
            "country_code_hint": [None],
            "posted_at": [None],
            "first_seen_at": [datetime(2026, 11, 21, tzinfo=UTC)],
        }
    )
    out = normalize_rfqs(frame).to_dicts()[0]
    assert out["country_code"] == "MA" and out["quantity_value"] is None
    assert out["posted_date"] == date(2026, 11, 21)
