"""Rule-based line-item extraction from RFQ text and similarity matching to catalog SKUs and between product listings.

Everything here is deterministic: token and character-trigram similarity, with sizes parsed and normalized (ml, g)
so "250ml" and "250 ml" agree and "30ml" vs "250ml" counts against a match. No model is trained or called.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from rfq_pipeline.quotes.catalog import Catalog, CatalogItem

PAIRS_CSV = Path(__file__).resolve().parents[1] / "ai" / "training" / "beauty_product_pairs_sephora_amazon.csv"

MATCH_THRESHOLD = 0.6  # below this a line item is reported unmatched (a human clarifies), never guessed

_SIZE_UNITS = {
    "ml": ("ml", Decimal(1)),
    "l": ("ml", Decimal(1000)),
    "ltr": ("ml", Decimal(1000)),
    "litre": ("ml", Decimal(1000)),
    "liter": ("ml", Decimal(1000)),
    "floz": ("ml", Decimal("29.5735")),
    "oz": ("oz", Decimal(1)),  # oz is ambiguous (fluid or weight); compared as oz, converted below when needed
    "ounce": ("oz", Decimal(1)),
    "ounces": ("oz", Decimal(1)),
    "g": ("g", Decimal(1)),
    "gm": ("g", Decimal(1)),
    "gr": ("g", Decimal(1)),
    "kg": ("g", Decimal(1000)),
}
_SIZE_RE = re.compile(
    r"(?<![\w.])(\d+(?:[.,]\d+)?|\.\d+)\s*-?\s*(fl\.?\s*oz|ml|ltr|litre|liter|l|ounces?|oz|kg|gm|gr|g)\b\.?",
    re.IGNORECASE,
)
_COUNT_UNITS = (
    "units?|pcs?|pieces?|tubes?|bottles?|jars?|boxes?|box|cartons?|packs?|sets?|kits?|cans?|sachets?|sticks?|"
    "palettes?|dozens?|nos|ea|each"
)
_QTY_RE = re.compile(
    r"(?<![\w.,])(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*(?P<k>k\b|thousand\b)?\s*"
    rf"(?P<unit>(?:{_COUNT_UNITS})\b)?\s*(?:of\b)?",
    re.IGNORECASE,
)
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "for",
        "and",
        "or",
        "with",
        "in",
        "to",
        "we",
        "i",
        "our",
        "us",
        "need",
        "needs",
        "want",
        "wanted",
        "looking",
        "require",
        "required",
        "requirement",
        "please",
        "quote",
        "quotation",
        "price",
        "prices",
        "pricing",
        "best",
        "offer",
        "supply",
        "supplier",
        "buy",
        "buying",
        "purchase",
        "order",
        "rfq",
        "kindly",
        "send",
        "share",
        "your",
        "you",
        "per",
        "each",
        "pcs",
        "pc",
        "units",
        "unit",
        "piece",
        "pieces",
        "qty",
        "quantity",
        "approx",
        "approximately",
        "about",
        "around",
        "monthly",
        "month",
        "brand",
        "new",
        "high",
        "quality",
        "good",
        "private",
        "label",
        "oem",
        "also",
    ]
)


def _singular(token: str) -> str:
    if len(token) > 3 and token.endswith("es") and token[-3] in "sxz":
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def normalize(text: str) -> str:
    text = text.lower().replace("®", " ").replace("™", " ").replace("&", " and ")
    text = re.sub(r"[^a-z0-9.%\s]", " ", text)
    return " ".join(text.split())


def parse_sizes(text: str) -> set[tuple[str, Decimal]]:
    """Sizes mentioned in ``text`` as (dimension, amount), e.g. {("ml", 250)}; oz is also offered as ml and g."""
    sizes: set[tuple[str, Decimal]] = set()
    for match in _SIZE_RE.finditer(text):
        raw_amount, raw_unit = match.groups()
        amount = Decimal(raw_amount.replace(",", "."))
        unit = re.sub(r"[\s.]", "", raw_unit.lower())
        dimension, factor = _SIZE_UNITS.get(unit, ("", Decimal(0)))
        if not dimension:
            continue
        sizes.add((dimension, (amount * factor).quantize(Decimal("0.1"))))
        if dimension == "oz":
            sizes.add(("ml", (amount * Decimal("29.5735")).quantize(Decimal("0.1"))))
            sizes.add(("g", (amount * Decimal("28.3495")).quantize(Decimal("0.1"))))
    return sizes


def _sizes_agree(a: set[tuple[str, Decimal]], b: set[tuple[str, Decimal]]) -> bool | None:
    """True if some size in ``a`` is within 5% of one in ``b`` of the same dimension, False if they conflict,
    None if either side gives no comparable size."""
    comparable = False
    for dim_a, amount_a in a:
        for dim_b, amount_b in b:
            if dim_a != dim_b:
                continue
            comparable = True
            if abs(amount_a - amount_b) <= Decimal("0.05") * max(amount_a, amount_b):
                return True
    return False if comparable else None


def tokens(text: str) -> list[str]:
    stripped = _SIZE_RE.sub(" ", text)
    return [
        _singular(t) for t in normalize(stripped).split() if t not in _STOPWORDS and not t.replace(".", "").isdigit()
    ]


def _trigrams(text: str) -> Counter[str]:
    padded = f"  {' '.join(tokens(text))} "
    return Counter(padded[i : i + 3] for i in range(len(padded) - 2))


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(count * b[gram] for gram, count in a.items())
    return dot / (math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values())))


def text_similarity(query: str, candidate: str) -> float:
    """0..1: the mean of token containment (share of the query's words found in the candidate), token Dice, and
    character-trigram cosine (which tolerates typos and compound words)."""
    q, c = set(tokens(query)), set(tokens(candidate))
    if not q or not c:
        return 0.0
    common = len(q & c)
    containment = common / len(q)
    dice = 2 * common / (len(q) + len(c))
    return (containment + dice + _cosine(_trigrams(query), _trigrams(candidate))) / 3


# --- line-item extraction -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineItem:
    """One requested product as read from the RFQ text: the phrase, the quantity (None if none was stated)."""

    phrase: str
    quantity: int | None
    unit: str = ""
    source: str = ""


def _parse_quantity(num: str, k: str | None) -> int:
    value = Decimal(num.replace(",", ""))
    if k:
        value *= 1000
    return int(value)


# An item number or bullet that starts a list entry: "1) ", "2. ", "(3) ", "- ", "* ", "• " (before a word).
_LIST_MARKER = re.compile(r"(?:^|(?<=\s))(?:\(?\d{1,2}[).]|[-*•])\s+(?=[^\W\d_])", re.MULTILINE)


def _segments(text: str) -> list[str]:
    """Candidate line items: list entries (numbered, bulleted, table rows), then lines, sentences, "; " parts and
    ", <digit>" parts. A table's "|" cells are one entry."""
    text = text.replace("|", " ")
    text = _LIST_MARKER.sub("\n", text)
    # "Lipstick 5ml, 10000 pcs, and Shampoo 500ml, 5000 bottles": a count unit and a comma end an entry.
    text = re.sub(rf"\b((?:{_COUNT_UNITS}))\b\s*,\s+(?:and\s+)?", "\\1\n", text, flags=re.IGNORECASE)
    parts = re.split(
        r"[\n;•]+|(?<=[a-z0-9)])\.\s+|,\s+(?=\d)|\s+\+\s+|\s+(?:and|&)\s+(?=\d)",
        text,
        flags=re.IGNORECASE,
    )
    return [p.strip(" .,:-\t") for p in parts if p and p.strip(" .,:-\t")]


def _clean_phrase(phrase: str) -> str:
    phrase = re.sub(r"\b(?:qty|quantity|moq)\b\s*:?", " ", phrase, flags=re.IGNORECASE)
    phrase = re.sub(r"\s+", " ", phrase).strip(" .,:-()")
    words = phrase.split()
    while words and normalize(words[0]) in _STOPWORDS | {"", "x"}:
        words.pop(0)
    while words and normalize(words[-1]) in _STOPWORDS | {"", "x", "-"}:
        words.pop()
    return " ".join(words)


def _segment_item(segment: str) -> LineItem | None:
    """The product phrase and quantity of one segment; either may be missing (``None`` when neither is there)."""
    sizes = [m.span() for m in _SIZE_RE.finditer(segment)]
    candidates = []
    for match in _QTY_RE.finditer(segment):
        start, end = match.span("num")
        if any(s <= start < e for s, e in sizes):
            continue  # "250ml" is a size, not a quantity
        after = segment[end : end + 2]
        if after.startswith("%") or after.lstrip().startswith("%"):
            continue  # "90% off" is not a quantity
        candidates.append(match)
    if not candidates:
        phrase = _clean_phrase(segment)
        return LineItem(phrase, None, "", segment) if tokens(phrase) else None
    with_unit = [m for m in candidates if m.group("unit") or m.group("k")]
    match = (with_unit or candidates)[0]
    quantity = _parse_quantity(match.group("num"), match.group("k"))
    if quantity <= 0:
        return None
    phrase = _clean_phrase(segment[: match.start()] + " " + segment[match.end() :])
    unit = _singular((match.group("unit") or "").lower())
    return LineItem(phrase=phrase if tokens(phrase) else "", quantity=quantity, unit=unit, source=segment)


def _pair_up(parts: list[LineItem]) -> list[LineItem]:
    """Items with both a product and a quantity. A quantity written apart from its product ("Lipstick 5ml, 10000
    pcs") joins the product just before it, or just after it when the list puts quantities first."""
    items: list[LineItem] = []
    pending: LineItem | None = None  # a product or a quantity still waiting for its other half
    for part in parts:
        if part.phrase and part.quantity is not None:
            items.append(part)
            pending = None
        elif pending is not None and pending.quantity is None and part.quantity is None and part.source[:1].isdigit():
            # "body lotion with shea butter, 250 ml tubes": a size split off by its comma still names the product.
            pending = LineItem(f"{pending.phrase} {part.phrase}", None, "", f"{pending.source}, {part.source}")
        elif pending is not None and bool(pending.phrase) != bool(part.phrase):
            product, amount = (pending, part) if pending.phrase else (part, pending)
            items.append(LineItem(product.phrase, amount.quantity, amount.unit, f"{pending.source} {part.source}"))
            pending = None
        else:
            pending = part
    return items


def extract_line_items(text: str, default_quantity: str = "") -> list[LineItem]:
    """Line items in ``text``: each list entry, line, sentence or part that names a product with its quantity. If
    none does, the whole text is one item with ``default_quantity`` (the RFQ's quantity field), or no quantity."""
    items = _pair_up([item for segment in _segments(text) if (item := _segment_item(segment))])
    if items:
        return items
    flat = " ".join(text.split())
    fallback = _segment_item(f"{default_quantity} {flat}") if default_quantity.strip() else None
    if fallback and fallback.quantity is not None and fallback.phrase:
        return [LineItem(fallback.phrase, fallback.quantity, fallback.unit, flat)]
    phrase = _clean_phrase(flat)
    return [LineItem(phrase, None, "", flat)] if tokens(phrase) else []


# --- catalog matching -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkuMatch:
    sku: str
    confidence: float
    matched_on: str


def item_similarity(phrase: str, item: CatalogItem) -> tuple[float, str]:
    """The best similarity of ``phrase`` to the item's name or any alias, adjusted for size agreement."""
    best, best_on = 0.0, item.name
    for candidate in (item.name, *item.aliases):
        score = text_similarity(phrase, candidate)
        if score > best:
            best, best_on = score, candidate
    agree = _sizes_agree(parse_sizes(phrase), parse_sizes(item.name))
    if agree is True:
        best = min(1.0, best + 0.1)
    elif agree is False:
        best *= 0.7
    return round(best, 4), best_on


def match_sku(phrase: str, catalog: Catalog, *, limit: int = 3) -> list[SkuMatch]:
    """The ``limit`` best catalog candidates for ``phrase``, best first (ties broken by SKU for determinism)."""
    scored = [(item_similarity(phrase, item), item.sku) for item in catalog.items]
    scored.sort(key=lambda entry: (-entry[0][0], entry[1]))
    return [SkuMatch(sku, score, on) for (score, on), sku in scored[:limit]]


# --- product-pair matching ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    title: str
    brand: str = ""
    size: str = ""
    price: Decimal | None = None


def _brand_tokens(brand: str) -> set[str]:
    return {t for t in normalize(brand).replace(".", " ").split() if len(t) > 1} - {"cosmetic", "cosmetics", "beauty"}


def same_product(a: Product | str, b: Product | str) -> float:
    """0..1 likelihood that two listings are the same product: name similarity with the brand words removed,
    brand agreement, size agreement and (when both have one) price closeness."""
    a = a if isinstance(a, Product) else Product(a)
    b = b if isinstance(b, Product) else Product(b)
    brand_a, brand_b = _brand_tokens(a.brand), _brand_tokens(b.brand)
    brand_words = brand_a | brand_b

    def strip_brand(title: str) -> str:
        return " ".join(w for w in normalize(title).split() if w.replace(".", "") not in brand_words)

    title_a, title_b = strip_brand(a.title), strip_brand(b.title)
    ta, tb = set(tokens(title_a)), set(tokens(title_b))
    shorter = min(len(ta), len(tb)) or 1
    overlap = len(ta & tb) / shorter
    name = (overlap + _cosine(_trigrams(title_a), _trigrams(title_b))) / 2
    score = name
    if brand_a and brand_b:
        score += 0.1 if brand_a & brand_b else -0.3
    agree = _sizes_agree(parse_sizes(f"{a.size} {a.title}"), parse_sizes(f"{b.size} {b.title}"))
    if agree is True:
        score += 0.15
    elif agree is False:
        score -= 0.15
    if a.price and b.price and a.price > 0 and b.price > 0:
        ratio = float(min(a.price, b.price) / max(a.price, b.price))
        score += 0.2 * (ratio - 0.5)
    return round(max(0.0, min(1.0, score)), 4)


def _price(raw: str) -> Decimal | None:
    match = re.search(r"\d+(?:\.\d+)?", raw.replace(",", ""))
    return Decimal(match.group()) if match else None


def load_pairs(path: str | Path = PAIRS_CSV) -> list[tuple[int, Product, Product, int]]:
    """(pairId, sephora product, amazon product, label) per row; the header's ``:TYPE`` suffixes are dropped."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        rows = [{key.split(":")[0]: value for key, value in row.items()} for row in csv.DictReader(handle)]
    pairs = []
    for row in rows:
        sephora = Product(
            title=row["sephora.display_name"],
            brand=row["sephora.brand_name"],
            size=f"{row['sephora.sku_size']} {row['sephora.variation_value']}",
            price=_price(row["sephora.list_price"]),
        )
        amazon = Product(
            title=row["amazon.productTitle"], brand=row["amazon.brand"], price=_price(row["amazon.priceblock_ourprice"])
        )
        pairs.append((int(row["pairId"]), sephora, amazon, int(row["label"])))
    return pairs


def _prf(scored: list[tuple[float, int]], threshold: float) -> tuple[float, float, float]:
    tp = sum(1 for s, y in scored if s >= threshold and y == 1)
    fp = sum(1 for s, y in scored if s >= threshold and y == 0)
    fn = sum(1 for s, y in scored if s < threshold and y == 1)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


@dataclass(frozen=True)
class PairReport:
    threshold: float
    tune: tuple[float, float, float]  # precision, recall, F1 on the half the threshold was chosen on
    test: tuple[float, float, float]  # the same on the held-out half
    tune_size: int
    test_size: int


def pair_report(path: str | Path = PAIRS_CSV) -> PairReport:
    """Split the labeled pairs by sorted pairId (even positions tune, odd positions test), choose the F1-best
    threshold on the tune half, and score it on the test half."""
    pairs = sorted(load_pairs(path), key=lambda p: p[0])
    scored = [(same_product(a, b), label) for _, a, b, label in pairs]
    tune, test = scored[0::2], scored[1::2]
    candidates = sorted({s for s, _ in tune})
    best_threshold, best = 0.5, (-1.0, 0.0)
    for threshold in candidates:
        _, _, f1 = _prf(tune, threshold)
        # prefer the higher F1; on ties the higher threshold (the stricter, more precise one)
        if (f1, threshold) > best:
            best, best_threshold = (f1, threshold), threshold
    return PairReport(best_threshold, _prf(tune, best_threshold), _prf(test, best_threshold), len(tune), len(test))


def evaluate_pairs(path: str | Path = PAIRS_CSV) -> tuple[float, float, float, float]:
    """(precision, recall, F1, threshold) on the held-out half, the threshold having been chosen on the other half."""
    report = pair_report(path)
    return (*report.test, report.threshold)
