"""The deterministic pricer: base -> quantity tier -> discount cap -> incoterm adder -> currency, each stage recorded.

The pricer reads only structured inputs (SKU, quantity, requested discount, incoterm, currency). It never reads the
RFQ's free text, so nothing a buyer writes can change a price. USD intermediates are kept at 4 decimal places
(ROUND_HALF_UP); the final unit price is rounded to the target currency's minor unit (ROUND_HALF_UP) and the line
total is that rounded unit price times the quantity, so unit x quantity always equals the total shown.

Incoterm adders (per unit, in USD, applied to the discounted unit price):

=====  ===============  ========  ==================================================
term   per-unit adder   percent   covers
=====  ===============  ========  ==================================================
EXW    0.00             0%        buyer collects at our warehouse
FOB    0.02             2%        inland haulage, export clearance, port loading
CIF    0.05             6%        FOB + ocean freight and cargo insurance to port
=====  ===============  ========  ==================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from rfq_pipeline.quotes.catalog import Catalog, CatalogItem, FxRates

INCOTERM_ADDERS: dict[str, tuple[Decimal, Decimal]] = {
    "EXW": (Decimal("0.00"), Decimal("0")),
    "FOB": (Decimal("0.02"), Decimal("2")),
    "CIF": (Decimal("0.05"), Decimal("6")),
}
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW"})
USD_STEP = Decimal("0.0001")


class PricingError(ValueError):
    """A structured input the pricer cannot accept (unknown SKU, incoterm or currency; negative discount)."""


def minor_unit(currency: str) -> Decimal:
    return Decimal(1) if currency in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")


def _usd(value: Decimal) -> Decimal:
    return value.quantize(USD_STEP, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Stage:
    name: str
    unit_price: Decimal
    currency: str
    detail: str


@dataclass(frozen=True)
class PricedLine:
    sku: str
    name: str
    quantity: int
    unit: str
    currency: str
    incoterm: str
    unit_price: Decimal | None
    total: Decimal | None
    catalog_row: int
    fx_as_of: str
    fx_rate: Decimal
    discount_requested_pct: Decimal
    discount_applied_pct: Decimal
    max_discount_pct: Decimal
    stages: tuple[Stage, ...]
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def priced(self) -> bool:
        return self.unit_price is not None

    @property
    def citation(self) -> dict[str, object]:
        return {
            "sku": self.sku,
            "catalog_row": self.catalog_row,
            "fx_as_of": self.fx_as_of,
            "fx_rate": str(self.fx_rate),
        }


def price_line(
    item: CatalogItem,
    quantity: int,
    rates: FxRates,
    *,
    requested_discount_pct: Decimal | int | str = 0,
    incoterm: str = "FOB",
    currency: str = "USD",
) -> PricedLine:
    requested = Decimal(str(requested_discount_pct))
    if not requested.is_finite() or requested < 0 or requested > 100:
        raise PricingError(f"requested discount {requested_discount_pct!r} must be within 0..100")
    term = incoterm.strip().upper()
    if term not in INCOTERM_ADDERS:
        raise PricingError(f"incoterm {incoterm!r} is not one of {sorted(INCOTERM_ADDERS)}")
    code = currency.strip().upper()
    try:
        rate = rates.rate(code)
    except KeyError as error:
        raise PricingError(str(error)) from None
    if quantity <= 0:
        raise PricingError(f"quantity {quantity} must be positive")

    stages = [Stage("base", item.tiers[0].unit_price, "USD", f"catalog row {item.row} list price (tier 1)")]
    flags: list[str] = []
    tier_index, tier = item.tier_for(quantity)
    stages.append(Stage("tier", tier.unit_price, "USD", f"tier {tier_index}: quantity {quantity} >= {tier.min_qty}"))

    applied = min(requested, item.max_discount_pct)
    if requested > item.max_discount_pct:
        flags.append("discount_capped")
    discounted = _usd(tier.unit_price * (Decimal(100) - applied) / Decimal(100))
    stages.append(
        Stage(
            "discount", discounted, "USD", f"requested {requested}%, applied {applied}% (cap {item.max_discount_pct}%)"
        )
    )

    per_unit, percent = INCOTERM_ADDERS[term]
    with_terms = _usd(discounted + per_unit + discounted * percent / Decimal(100))
    stages.append(Stage("incoterm", with_terms, "USD", f"{term}: +{per_unit} USD/unit +{percent}%"))

    step = minor_unit(code)
    converted = (with_terms * rate).quantize(step, rounding=ROUND_HALF_UP)
    stages.append(
        Stage(
            "fx", converted, code, f"x {rate} {rates.base}->{code} as of {rates.as_of.isoformat()}, rounded to {step}"
        )
    )

    unit_price: Decimal | None = converted
    total: Decimal | None = (converted * quantity).quantize(step, rounding=ROUND_HALF_UP)
    if quantity < item.moq:
        flags.append("below_moq")
        unit_price = total = None  # flagged, never priced silently: a person decides whether to waive the MOQ
    if quantity > item.stock:
        flags.append("exceeds_stock")
    return PricedLine(
        sku=item.sku,
        name=item.name,
        quantity=quantity,
        unit=item.unit,
        currency=code,
        incoterm=term,
        unit_price=unit_price,
        total=total,
        catalog_row=item.row,
        fx_as_of=rates.as_of.isoformat(),
        fx_rate=rate,
        discount_requested_pct=requested,
        discount_applied_pct=applied,
        max_discount_pct=item.max_discount_pct,
        stages=tuple(stages),
        flags=tuple(flags),
    )


def price_sku(catalog: Catalog, sku: str, quantity: int, rates: FxRates, **options: object) -> PricedLine:
    item = catalog.lookup(sku)
    if item is None:
        raise PricingError(f"SKU {sku!r} is not in the catalog")
    return price_line(item, quantity, rates, **options)  # type: ignore[arg-type]


def grand_total(lines: list[PricedLine]) -> Decimal | None:
    priced = [line.total for line in lines if line.total is not None]
    return sum(priced, Decimal(0)) if priced else None
