"""The four checks a cover text must pass before a draft is saved.

1. prices: every money amount in the text is a priced line's unit price or total, or the quote's grand total, and
   every priced line's unit price is cited.
2. skus: every SKU-like token is a real catalog SKU.
3. blocklist: no promises or claims a rep may not make in writing.
4. discount: every line's applied discount is within its catalog cap, and every "N% off/discount" in the text is a
   discount actually applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from rfq_pipeline.quotes.catalog import Catalog
from rfq_pipeline.quotes.pricing import PricedLine, grand_total

SKU_LIKE = re.compile(r"\b[A-Z]{2,3}-[A-Z]{2,4}-\d{3,5}\b", re.IGNORECASE)
_CURRENCY = r"(?:USD|EUR|AED|SAR|KRW|JPY|GBP|INR|CNY|US\$|\$|€|£|¥|₹|₩)"
_AMOUNT = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
MONEY = re.compile(rf"{_CURRENCY}\s?{_AMOUNT}|{_AMOUNT}\s?{_CURRENCY}", re.IGNORECASE)
PERCENT_OFF = re.compile(r"(\d+(?:\.\d+)?)\s?%\s?(?:off|discount|reduction|rebate)", re.IGNORECASE)
BLOCKLIST: tuple[str, ...] = (
    "guaranteed delivery",
    "guarantee delivery",
    "lowest price in the world",
    "lowest price guaranteed",
    "cheapest in the market",
    "100% refund",
    "full refund",
    "money back",
    "free samples forever",
    "no minimum order",
    "fda approved",
    "clinically proven",
    "risk-free",
    "price will never change",
)


@dataclass(frozen=True)
class GuardrailResult:
    name: str
    passed: bool
    failures: tuple[str, ...] = ()


def check_prices(text: str, lines: list[PricedLine]) -> GuardrailResult:
    allowed: set[Decimal] = set()
    for line in lines:
        allowed.update(v for v in (line.unit_price, line.total) if v is not None)
    total = grand_total(lines)
    if total is not None:
        allowed.add(total)
    failures = []
    cited: set[Decimal] = set()
    # A SKU's digits are no amount: "BC-SKN-0004 AED 15.81" must read as AED 15.81, not as "0004 AED".
    for match in MONEY.finditer(SKU_LIKE.sub(" ", text)):
        raw = match.group(1) or match.group(2)
        try:
            value = Decimal(raw.replace(",", ""))
        except InvalidOperation:
            failures.append(f"unreadable amount {match.group(0)!r}")
            continue
        cited.add(value)
        if value not in allowed:
            failures.append(f"{match.group(0).strip()!r} is not a priced line's price or total")
    for line in lines:
        if line.unit_price is not None and line.unit_price not in cited:
            failures.append(f"{line.sku}: unit price {line.currency} {line.unit_price} is not cited")
    return GuardrailResult("prices", not failures, tuple(failures))


def check_skus(text: str, catalog: Catalog) -> GuardrailResult:
    failures = [f"{token!r} is not a catalog SKU" for token in SKU_LIKE.findall(text) if token not in catalog]
    return GuardrailResult("skus", not failures, tuple(failures))


def check_blocklist(text: str, blocklist: tuple[str, ...] = BLOCKLIST) -> GuardrailResult:
    lowered = " ".join(text.lower().split())
    failures = [f"block-listed phrase {phrase!r}" for phrase in blocklist if phrase in lowered]
    return GuardrailResult("blocklist", not failures, tuple(failures))


def check_discounts(text: str, lines: list[PricedLine], catalog: Catalog) -> GuardrailResult:
    failures = []
    applied = {line.discount_applied_pct for line in lines}
    for line in lines:
        item = catalog.lookup(line.sku)
        cap = item.max_discount_pct if item is not None else Decimal(0)
        if line.discount_applied_pct > cap:
            failures.append(f"{line.sku}: discount {line.discount_applied_pct}% exceeds the cap {cap}%")
    for match in PERCENT_OFF.finditer(text):
        if Decimal(match.group(1)) not in applied:
            failures.append(f"text offers {match.group(0)!r}, which no line applies")
    return GuardrailResult("discount", not failures, tuple(failures))


def check_all(text: str, lines: list[PricedLine], catalog: Catalog) -> list[GuardrailResult]:
    return [
        check_prices(text, lines),
        check_skus(text, catalog),
        check_blocklist(text),
        check_discounts(text, lines, catalog),
    ]
