"""Normalization of scraped RFQs: quantities and units, countries, posting dates and titles.

Marketplaces say the same thing many ways ("2 Piece/Pieces", "1X20' FCL", "1 Forty-Foot Container", "Philippines,
Philippines", "UAE"); later stages (classification, dedup, pricing) need one way. The work is a polars pipeline over
a batch of RFQs; the per-string rules are plain functions, applied once per distinct string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

import polars as pl
import pycountry

NORMALIZER_VERSION = "rfq-normalize-1"

# Canonical unit names; keys are lower-cased unit words as marketplaces print them (singular and plural forms).
_UNIT_ALIASES: Mapping[str, str] = {
    **dict.fromkeys(["piece", "pieces", "pc", "pcs", "piece/pieces", "nos", "no", "number"], "piece"),
    **dict.fromkeys(["unit", "units", "unit/units"], "unit"),
    **dict.fromkeys(["set", "sets", "set/sets"], "set"),
    **dict.fromkeys(["pair", "pairs", "pair/pairs"], "pair"),
    **dict.fromkeys(["dozen", "dozens", "dozen/dozens", "doz"], "dozen"),
    **dict.fromkeys(["box", "boxes", "box/boxes"], "box"),
    **dict.fromkeys(["bag", "bags", "bag/bags"], "bag"),
    **dict.fromkeys(["pack", "packs", "pack/packs", "packet", "packets"], "pack"),
    **dict.fromkeys(["carton", "cartons", "carton/cartons", "ctn", "ctns"], "carton"),
    **dict.fromkeys(["bottle", "bottles", "bottle/bottles"], "bottle"),
    **dict.fromkeys(["roll", "rolls", "roll/rolls"], "roll"),
    **dict.fromkeys(["barrel", "barrels", "barrel/barrels", "bbl"], "barrel"),
    **dict.fromkeys(["kilogram", "kilograms", "kilogram/kilograms", "kg", "kgs", "kilo", "kilos"], "kilogram"),
    **dict.fromkeys(["gram", "grams", "gram/grams", "g", "gm", "gms"], "gram"),
    **dict.fromkeys(
        ["metric ton", "metric tons", "metric ton/metric tons", "mt", "mts", "tonne", "tonnes"], "metric_ton"
    ),
    **dict.fromkeys(["ton", "tons", "ton/tons"], "ton"),
    **dict.fromkeys(["liter", "liters", "litre", "litres", "liter/liters", "l", "ltr", "ltrs"], "liter"),
    **dict.fromkeys(["milliliter", "milliliters", "ml"], "milliliter"),
    **dict.fromkeys(["meter", "meters", "metre", "metres", "meter/meters", "m"], "meter"),
    **dict.fromkeys(["square meter", "square meters", "square meter/square meters", "sqm", "m2"], "square_meter"),
    **dict.fromkeys(["acre", "acres", "acre/acres"], "acre"),
    **dict.fromkeys(
        [
            "twenty-foot container",
            "twenty-foot containers",
            "20ft container",
            "20' fcl",
            "20ft",
            "20 ft container",
            "20' container",
            "20fcl",
            "20' fcls",
            "x20' fcl",
        ],
        "container_20ft",
    ),
    **dict.fromkeys(
        [
            "forty-foot container",
            "forty-foot containers",
            "40ft container",
            "40' fcl",
            "40ft",
            "40 ft container",
            "40' container",
            "40fcl",
            "40hc",
            "40' hc",
            "x40' fcl",
        ],
        "container_40ft",
    ),
    **dict.fromkeys(["container", "containers", "fcl", "fcls"], "container"),
}

_QUANTITY = re.compile(r"(?P<number>\d[\d,]*(?:\.\d+)?)\s*(?P<unit>.*)", re.S)
_CONTAINER = re.compile(r"(?P<count>\d+)\s*[x×*]\s*(?P<size>20|40)\s*(?:'|ft|feet|foot)?\s*(?:hc|fcl|container)?", re.I)

_COUNTRY_ALIASES: Mapping[str, str] = {
    "uae": "AE",
    "u.a.e": "AE",
    "dubai": "AE",
    "usa": "US",
    "u.s.a": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u.k": "GB",
    "england": "GB",
    "great britain": "GB",
    "korea": "KR",
    "south korea": "KR",
    "republic of korea": "KR",
    "russia": "RU",
    "turkey": "TR",
    "turkiye": "TR",
    "vietnam": "VN",
    "viet nam": "VN",
    "iran": "IR",
    "taiwan": "TW",
    "hong kong": "HK",
    "macau": "MO",
    "laos": "LA",
    "syria": "SY",
    "tanzania": "TZ",
    "bolivia": "BO",
    "venezuela": "VE",
    "moldova": "MD",
    "czech republic": "CZ",
    "ivory coast": "CI",
    "cote d'ivoire": "CI",
    "drc": "CD",
    "congo, dr": "CD",
    "palestine": "PS",
    "brunei": "BN",
    "cape verde": "CV",
    "swaziland": "SZ",
    "burma": "MM",
    "ksa": "SA",
}


def parse_quantity(text: str | None) -> tuple[float | None, str | None]:
    """Split a marketplace quantity into a number and a canonical unit.

    Returns ``(None, None)`` when there is no number; an unknown unit word is kept lower-cased so nothing is lost.
    """
    if not text:
        return None, None
    cleaned = " ".join(text.replace("\u00a0", " ").split())
    container = _CONTAINER.search(cleaned)
    if container:
        return float(container.group("count")), f"container_{container.group('size')}ft"
    match = _QUANTITY.search(cleaned)
    if not match:
        return None, None
    try:
        value = float(match.group("number").replace(",", ""))
    except ValueError:
        return None, None
    return value, canonical_unit(match.group("unit"))


def canonical_unit(unit_text: str) -> str | None:
    """The canonical name of a unit phrase such as ``Piece/Pieces`` or ``Metric Tons``; ``None`` when empty."""
    unit = unit_text.strip().strip(".").lower()
    if not unit:
        return None
    if unit in _UNIT_ALIASES:
        return _UNIT_ALIASES[unit]
    # "Forty-Foot Container per month", "kg of powder": try the longest known alias the phrase starts with
    for alias in sorted(_UNIT_ALIASES, key=len, reverse=True):
        if unit.startswith(alias) and (len(unit) == len(alias) or not unit[len(alias)].isalnum()):
            return _UNIT_ALIASES[alias]
    return unit.split()[0][:32]


@lru_cache(maxsize=4096)
def country_code(text: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code for a country as marketplaces write it, or ``None`` when unrecognizable.

    go4WorldBusiness writes "Philippines, Philippines" and "Dubai, United Arab Emirates", so the whole string is tried
    first and then each comma-separated part from the right.
    """
    if not text or not text.strip():
        return None
    candidates = [text.strip()] + [part.strip() for part in reversed(text.split(","))]
    for candidate in candidates:
        key = candidate.lower().strip(" .")
        if not key:
            continue
        if key in _COUNTRY_ALIASES:
            return _COUNTRY_ALIASES[key]
        try:
            return str(pycountry.countries.lookup(candidate).alpha_2)
        except LookupError:
            continue
    return None


@lru_cache(maxsize=512)
def country_name(code: str | None) -> str | None:
    """The common English name of an ISO alpha-2 code."""
    if not code:
        return None
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return None
    return str(getattr(country, "common_name", None) or country.name)


def clean_title(title: str | None) -> str:
    """Collapse whitespace, drop marketplace prefixes ("Wanted :") and truncation ellipses."""
    if not title:
        return ""
    text = " ".join(title.split())
    text = re.sub(r"^(wanted|buying|looking for|rfq)\s*[:\-]\s*", "", text, flags=re.I)
    text = re.sub(r"\s*(\.\.\.|…)$", "", text)
    return text.strip()


def normalize_rfqs(frame: pl.DataFrame) -> pl.DataFrame:
    """Normalize a batch of RFQs.

    Input columns: ``id``, ``title``, ``quantity_text``, ``country_raw``, ``country_code_hint`` (a code the page
    stated, may be null), ``posted_at`` and ``first_seen_at`` (UTC datetimes). Output: ``id``, ``quantity_value``,
    ``quantity_unit``, ``country_code``, ``country_name``, ``posted_date``, ``title_clean``.
    """
    if frame.is_empty():
        return pl.DataFrame(
            schema={
                "id": pl.Int64,
                "quantity_value": pl.Float64,
                "quantity_unit": pl.String,
                "country_code": pl.String,
                "country_name": pl.String,
                "posted_date": pl.Date,
                "title_clean": pl.String,
            }
        )
    # An all-null column arrives typed Null from Python lists; give every input the type the expressions expect.
    frame = frame.cast(
        {c: pl.String for c in ("title", "quantity_text", "country_raw", "country_code_hint")}
        | {c: pl.Datetime("us", "UTC") for c in ("posted_at", "first_seen_at")}
    )
    quantity = pl.col("quantity_text").map_elements(
        lambda t: dict(zip(("value", "unit"), parse_quantity(t), strict=True)),
        return_dtype=pl.Struct({"value": pl.Float64, "unit": pl.String}),
        skip_nulls=True,
    )
    code_from_text = pl.col("country_raw").map_elements(country_code, return_dtype=pl.String, skip_nulls=True)
    return (
        frame.lazy()
        .with_columns(
            quantity.alias("_quantity"),
            pl.coalesce(
                pl.col("country_code_hint").str.to_uppercase().str.strip_chars().replace("", None), code_from_text
            ).alias("country_code"),
            pl.coalesce(pl.col("posted_at"), pl.col("first_seen_at"))
            .dt.convert_time_zone("UTC")
            .dt.date()
            .alias("posted_date"),
            pl.col("title").map_elements(clean_title, return_dtype=pl.String, skip_nulls=True).alias("title_clean"),
        )
        .with_columns(
            pl.col("_quantity").struct.field("value").alias("quantity_value"),
            pl.col("_quantity").struct.field("unit").alias("quantity_unit"),
            pl.col("country_code")
            .map_elements(country_name, return_dtype=pl.String, skip_nulls=True)
            .alias("country_name"),
        )
        .select("id", "quantity_value", "quantity_unit", "country_code", "country_name", "posted_date", "title_clean")
        .collect()
    )
