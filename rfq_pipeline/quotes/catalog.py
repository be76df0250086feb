"""The export catalog and the fx rate table: loaded from CSV and validated, every error naming its row and column.

Row numbers are the CSV's own line numbers (header is line 1), so a priced line's citation points at the exact line a
person would open in a spreadsheet.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_CATALOG = DATA_DIR / "catalog.csv"
DEFAULT_RATES = DATA_DIR / "fx_rates.csv"

SKU_PATTERN = re.compile(r"\bBC-[A-Z]{3}-\d{4}\b")
CATEGORIES = ("skin_care", "hair_care", "cosmetics", "nail", "fragrance", "packaging")
CATALOG_COLUMNS = (
    "sku", "name", "aliases", "category", "unit", "moq", "price_1", "qty_2", "price_2", "qty_3", "price_3",
    "currency", "stock", "max_discount_pct",
)  # fmt: skip
RATE_COLUMNS = ("as_of", "base", "currency", "rate")


class CatalogError(ValueError):
    """Bad catalog or rate data; the message names the file, row and column."""

    def __init__(self, source: str, row: int, column: str, problem: str) -> None:
        super().__init__(f"{source}: row {row}, column {column!r}: {problem}")
        self.source = source
        self.row = row
        self.column = column


@dataclass(frozen=True)
class PriceTier:
    min_qty: int
    unit_price: Decimal


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    name: str
    aliases: tuple[str, ...]
    category: str
    unit: str
    moq: int
    tiers: tuple[PriceTier, ...]
    currency: str
    stock: int
    max_discount_pct: Decimal
    row: int

    def tier_for(self, quantity: int) -> tuple[int, PriceTier]:
        """The 1-based tier index and tier that applies to ``quantity`` (the highest tier whose minimum it reaches)."""
        chosen = (1, self.tiers[0])
        for index, tier in enumerate(self.tiers, start=1):
            if quantity >= tier.min_qty:
                chosen = (index, tier)
        return chosen


@dataclass(frozen=True)
class Catalog:
    items: tuple[CatalogItem, ...]
    source: str = "catalog.csv"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_sku", {item.sku: item for item in self.items})

    def lookup(self, sku: str) -> CatalogItem | None:
        return self._by_sku.get(sku.strip().upper())  # type: ignore[attr-defined]

    def __contains__(self, sku: object) -> bool:
        return isinstance(sku, str) and self.lookup(sku) is not None

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class FxRates:
    as_of: date
    base: str
    rates: dict[str, Decimal]

    def rate(self, currency: str) -> Decimal:
        code = currency.strip().upper()
        if code not in self.rates:
            raise KeyError(f"no fx rate {self.base}->{code} in the table as of {self.as_of.isoformat()}")
        return self.rates[code]


def _decimal(source: str, row: int, column: str, raw: str, *, positive: bool = True) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise CatalogError(source, row, column, f"{raw!r} is not a number") from None
    if not value.is_finite():
        raise CatalogError(source, row, column, f"{raw!r} is not a finite number")
    if positive and value <= 0:
        raise CatalogError(source, row, column, f"{raw!r} must be greater than zero")
    return value


def _int(source: str, row: int, column: str, raw: str, *, minimum: int = 1) -> int:
    text = raw.strip()
    if not re.fullmatch(r"\d+", text):
        raise CatalogError(source, row, column, f"{raw!r} is not a whole number")
    value = int(text)
    if value < minimum:
        raise CatalogError(source, row, column, f"{value} is below {minimum}")
    return value


def _check_header(source: str, fieldnames: list[str] | None, expected: tuple[str, ...]) -> None:
    missing = [name for name in expected if name not in (fieldnames or [])]
    if missing:
        raise CatalogError(source, 1, missing[0], "column is missing from the header")


def parse_catalog(text: str, source: str = "catalog.csv") -> Catalog:
    reader = csv.DictReader(text.splitlines())
    _check_header(source, reader.fieldnames, CATALOG_COLUMNS)
    items: list[CatalogItem] = []
    seen: dict[str, int] = {}
    for offset, record in enumerate(reader):
        row = offset + 2
        values = {key: (record.get(key) or "") for key in CATALOG_COLUMNS}
        sku = values["sku"].strip()
        if not SKU_PATTERN.fullmatch(sku):
            raise CatalogError(source, row, "sku", f"{sku!r} does not match the pattern BC-XXX-0000")
        if sku in seen:
            raise CatalogError(source, row, "sku", f"{sku} duplicates row {seen[sku]}")
        seen[sku] = row
        name = values["name"].strip()
        if not name:
            raise CatalogError(source, row, "name", "is empty")
        category = values["category"].strip()
        if category not in CATEGORIES:
            raise CatalogError(source, row, "category", f"{category!r} is not one of {CATEGORIES}")
        unit = values["unit"].strip()
        if not unit:
            raise CatalogError(source, row, "unit", "is empty")
        moq = _int(source, row, "moq", values["moq"])
        tiers = [PriceTier(1, _decimal(source, row, "price_1", values["price_1"]))]
        for n in (2, 3):
            qty = _int(source, row, f"qty_{n}", values[f"qty_{n}"])
            price = _decimal(source, row, f"price_{n}", values[f"price_{n}"])
            if qty <= tiers[-1].min_qty:
                raise CatalogError(
                    source, row, f"qty_{n}", f"{qty} must be above the previous tier's {tiers[-1].min_qty}"
                )
            if price >= tiers[-1].unit_price:
                raise CatalogError(
                    source, row, f"price_{n}", f"{price} must be below the previous tier's {tiers[-1].unit_price}"
                )
            tiers.append(PriceTier(qty, price))
        currency = values["currency"].strip().upper()
        if currency != "USD":
            raise CatalogError(source, row, "currency", f"{currency!r} is not USD (the catalog's base currency)")
        stock = _int(source, row, "stock", values["stock"], minimum=0)
        cap = _decimal(source, row, "max_discount_pct", values["max_discount_pct"], positive=False)
        if not Decimal(0) <= cap <= Decimal(50):
            raise CatalogError(source, row, "max_discount_pct", f"{cap} is outside 0..50")
        aliases = tuple(a.strip() for a in values["aliases"].split(";") if a.strip())
        items.append(CatalogItem(sku, name, aliases, category, unit, moq, tuple(tiers), currency, stock, cap, row))
    if not items:
        raise CatalogError(source, 2, "sku", "the catalog has no rows")
    return Catalog(tuple(items), source)


def load_catalog(path: str | Path = DEFAULT_CATALOG) -> Catalog:
    path = Path(path)
    return parse_catalog(path.read_text(encoding="utf-8"), path.name)


def parse_rates(text: str, source: str = "fx_rates.csv") -> FxRates:
    reader = csv.DictReader(text.splitlines())
    _check_header(source, reader.fieldnames, RATE_COLUMNS)
    as_of: date | None = None
    base: str | None = None
    rates: dict[str, Decimal] = {}
    for offset, record in enumerate(reader):
        row = offset + 2
        raw_date = (record.get("as_of") or "").strip()
        try:
            row_date = date.fromisoformat(raw_date)
        except ValueError:
            raise CatalogError(source, row, "as_of", f"{raw_date!r} is not an ISO date") from None
        if as_of is not None and row_date != as_of:
            raise CatalogError(source, row, "as_of", f"{row_date} differs from the table's {as_of}")
        as_of = row_date
        row_base = (record.get("base") or "").strip().upper()
        if base is not None and row_base != base:
            raise CatalogError(source, row, "base", f"{row_base!r} differs from the table's {base!r}")
        base = row_base
        code = (record.get("currency") or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise CatalogError(source, row, "currency", f"{code!r} is not a 3-letter currency code")
        if code in rates:
            raise CatalogError(source, row, "currency", f"{code} appears twice")
        rates[code] = _decimal(source, row, "rate", record.get("rate") or "")
    if as_of is None or base is None:
        raise CatalogError(source, 2, "as_of", "the rate table has no rows")
    rates.setdefault(base, Decimal(1))
    return FxRates(as_of, base, rates)


def load_rates(path: str | Path = DEFAULT_RATES) -> FxRates:
    path = Path(path)
    return parse_rates(path.read_text(encoding="utf-8"), path.name)
