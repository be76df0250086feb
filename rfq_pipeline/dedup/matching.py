"""Pure dedup logic: normalized keys of an RFQ and an explainable decision whether two RFQs are one request.

A buyer request is seen many times: reposted on new dates under new ids, listed on several marketplaces, re-rendered
with different punctuation or quantity spelling. Four kinds of evidence, strongest first:

- ``external_id``: the same marketplace id (the same listing seen again);
- ``canonical_url``: the same listing URL once tracking parameters, scheme, ``www.`` and trailing slashes are gone;
- ``content_hash``: the same title, description, quantity and destination after normalizing case, whitespace,
  punctuation, accents, HTML entities and digit formatting (``1,000`` = ``1000``, ``10.00`` = ``10``);
- ``near_duplicate``: embedding similarity at or above the threshold, confirmed by cheap field checks (product
  tokens overlap, no conflicting model numbers, compatible quantity).

Whatever the evidence except the marketplace id, the destination country must be equal or missing and the buyer must
be equal or missing: two known, different buyers asking for the same thing are two requests (the Alibaba board has
several identical "2022 Mercedes-Benz S500" requests from different buyers).
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from rfq_pipeline.normalize.rfqs import clean_title, country_code, parse_quantity

MATCHED_BY = ("external_id", "canonical_url", "content_hash", "near_duplicate")
# Strongest evidence first: when an RFQ matches several members, the strongest one explains the assignment.
EVIDENCE_RANK = {name: rank for rank, name in enumerate(MATCHED_BY)}

# Share of the smaller title's product tokens that the other title must contain (overlap coefficient).
TITLE_MIN_OVERLAP = 0.6
# Titles this alike (Jaccard of product tokens) need no other corroborating field.
TITLE_SAME_JACCARD = 0.8
# A description shorter than this says nothing an embedding could confirm ("Thanks", "pls quote").
MIN_DESCRIPTION_CHARS = 20
# Quantities within this ratio (after unit conversion) are the same order: reposts round or restate them.
QUANTITY_MAX_RATIO = 1.25

# Words that say "I want to buy" rather than what: they are in every title and would make any two titles overlap.
_STOPWORD_TEXT = (
    "a an and are as at be buy buyer buyers buying by can for from get good high hi i importer importers in "
    "interested is it looking look need needed needs new of on or our please price prices purchase quality quote "
    "request requests require required requirement requirements search seeking supplier suppliers the to urgent "
    "urgently want wanted wants we wholesale with best top hot sale selling amp"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# Query parameters that identify a visit, not a listing.
_TRACKING_PARAMS = frozenset(
    {"uuid", "language", "lang", "spm", "ref", "from", "source", "tracelog", "tracking", "sid", "sessionid", "gclid"}
)

# (dimension, factor to the dimension's base unit) for units that convert; other units compare by name only.
_UNIT_BASE: dict[str, tuple[str, float]] = {
    "gram": ("mass", 0.001),
    "kilogram": ("mass", 1.0),
    "metric_ton": ("mass", 1000.0),
    "ton": ("mass", 1000.0),
    "milliliter": ("volume", 0.001),
    "liter": ("volume", 1.0),
    "piece": ("count", 1.0),
    "unit": ("count", 1.0),
    "dozen": ("count", 12.0),
}

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_TRAILING_ZEROS = re.compile(r"(?<=\d)\.0+\b")
_NON_WORD = re.compile(r"[^\w.]+|(?<!\d)\.|\.(?!\d)|_")
# go4w's template; 79 real leads lost their line breaks ("Product Name : FruitsSpecifications :Like"), so the name
# also ends where the next label starts.
_PRODUCT_NAME = re.compile(
    r"product\s*name\s*:\s*(.+?)(?=(?:specifi|specifica|quantity|quality required|packaging|shipping|shipment"
    r"|destination|payment|looking for|contact)\w*\s*:|\n|$)",
    re.I | re.S,
)


def normalize_text(text: str | None) -> str:
    """Lower-case, accent- and punctuation-free text with single spaces and plain digits (``1,000.00`` -> ``1000``)."""
    if not text:
        return ""
    text = html.unescape(html.unescape(text))  # some boards escape entities twice ("&amp;quot;")
    if text.isascii():
        text = text.casefold()
    else:
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _THOUSANDS.sub("", text)
    text = _TRAILING_ZEROS.sub("", text)
    return " ".join(_NON_WORD.sub(" ", text).split())


def canonical_url_key(url: str | None) -> str | None:
    """The listing a URL names: host without ``www.``, path without trailing slash, non-tracking query sorted.

    ``None`` for an empty or non-web URL, so RFQs without a URL never match each other through it.
    """
    if not url or not url.strip():
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    host = parts.hostname.lower().removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in _TRACKING_PARAMS and not k.lower().startswith("utm_")
    )
    return f"{host}{path}" + (f"?{urlencode(query)}" if query else "")


def _singular(token: str) -> str:
    # Crude on purpose: both sides go through the same rule, so "papers"/"paper" meet even where English disagrees.
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def product_tokens(title: str, description: str = "") -> frozenset[str]:
    """The words of a title that name the product (request verbs and filler removed, plurals folded).

    go4WorldBusiness titles are only "Wanted : X"; their templated description's ``Product Name:`` line is added.
    """
    text = clean_title(title)
    named = _PRODUCT_NAME.search(description or "")
    if named:
        text = f"{text} {named.group(1)}"
    return frozenset(_singular(t) for t in normalize_text(text).split() if t not in _STOPWORDS and len(t) > 1)


def quantity_key(quantity: str | None) -> tuple[float | None, str | None]:
    """(value, canonical unit) of a quantity text; ``(None, None)`` when it states no number."""
    return parse_quantity(quantity)


def _content_hash(title: str, description: str, quantity: tuple[float | None, str | None], country: str) -> str | None:
    norm_title = normalize_text(clean_title(title))
    norm_description = normalize_text(description)
    if not norm_title and not norm_description:
        return None  # blank rows must not all collapse into one cluster
    value, unit = quantity
    quantity_text = f"{value:g} {unit or ''}".strip() if value is not None else ""
    payload = "\x1f".join((norm_title, norm_description, quantity_text, country))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RfqFields:
    """What dedup reads of one RFQ (raw scraped text; normalized here so every source is treated alike)."""

    id: int
    source: str
    external_id: str
    title: str
    description: str = ""
    quantity_text: str = ""
    country: str = ""  # raw country text or an ISO code
    buyer: str = ""  # company when known, else the buyer's name
    canonical_url: str = ""


@dataclass(frozen=True)
class RfqKeys:
    """The normalized keys of one RFQ, computed once and compared many times."""

    id: int
    source: str
    external_id: str
    content_hash: str | None
    url_key: str | None
    tokens: frozenset[str]
    numbers: frozenset[str]  # tokens with a digit: model numbers, sizes ("s500", "iphone 13", "400ml")
    quantity: tuple[float | None, str | None]
    country_code: str | None
    buyer_key: str | None
    has_description: bool = False


@lru_cache(maxsize=50_000)  # a clustered RFQ is read again by every new one that finds it as a candidate
def keys_for(rfq: RfqFields) -> RfqKeys:
    """Normalize an RFQ's fields into the keys the decision compares."""
    raw_country = (rfq.country or "").strip()
    code = raw_country.upper() if re.fullmatch(r"[A-Za-z]{2}", raw_country) else country_code(raw_country or None)
    quantity = quantity_key(rfq.quantity_text)
    tokens = product_tokens(rfq.title, rfq.description)
    return RfqKeys(
        id=rfq.id,
        source=rfq.source,
        external_id=rfq.external_id,
        content_hash=_content_hash(rfq.title, rfq.description, quantity, code or normalize_text(raw_country)),
        url_key=canonical_url_key(rfq.canonical_url),
        tokens=tokens,
        numbers=frozenset(t for t in tokens if any(ch.isdigit() for ch in t)),
        quantity=quantity,
        country_code=code,
        buyer_key=normalize_text(rfq.buyer) or None,
        has_description=len(normalize_text(rfq.description)) >= MIN_DESCRIPTION_CHARS,
    )


def quantities_compatible(a: tuple[float | None, str | None], b: tuple[float | None, str | None]) -> bool:
    """True when either quantity is unknown, or both are the same amount (within ``QUANTITY_MAX_RATIO``)."""
    (va, ua), (vb, ub) = a, b
    if va is None or vb is None:
        return True
    if ua != ub:
        if ua is None or ub is None:
            return False  # "500" against "500 kg": a number with and without a unit cannot be compared
        base_a, base_b = _UNIT_BASE.get(ua), _UNIT_BASE.get(ub)
        if base_a is None or base_b is None or base_a[0] != base_b[0]:
            return False
        va, vb = va * base_a[1], vb * base_b[1]
    low, high = sorted((va, vb))
    if low <= 0:
        return low == high
    return high / low <= QUANTITY_MAX_RATIO


def title_overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Overlap coefficient of two token sets (shared / size of the smaller); 0 when either is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def title_jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two token sets; 0 when either is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _corroborating_fields(new: RfqKeys, known: RfqKeys) -> list[str]:
    # Fields both RFQs state (and that already passed their checks): with none, two short look-alike titles
    # ("Used Laptops", "Laptops") would be matched on the title alone.
    fields = []
    if new.has_description and known.has_description:
        fields.append("description")
    if new.quantity[0] is not None and known.quantity[0] is not None:
        fields.append("quantity")
    if new.buyer_key and known.buyer_key:
        fields.append("buyer")
    return fields


@dataclass(frozen=True)
class MatchDecision:
    """Whether two RFQs are one request, by which evidence, and every check that was made (for the UI and logs)."""

    matched: bool
    matched_by: str | None
    similarity: float | None
    checks: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def decide(new: RfqKeys, known: RfqKeys, similarity: float | None, min_similarity: float) -> MatchDecision:
    """Decide whether ``new`` is the same request as the already-clustered ``known``.

    ``similarity`` is the cosine similarity of their embeddings (``None`` when not compared); ``min_similarity`` is
    the near-duplicate threshold (``RFQ_DEDUP_MIN_SIMILARITY``).
    """
    if new.source == known.source and new.external_id == known.external_id:
        return MatchDecision(True, "external_id", similarity, {"external_id": new.external_id}, "same listing id")

    country_ok = new.country_code is None or known.country_code is None or new.country_code == known.country_code
    buyer_ok = new.buyer_key is None or known.buyer_key is None or new.buyer_key == known.buyer_key
    checks: dict[str, Any] = {"country_compatible": country_ok, "buyer_compatible": buyer_ok}
    if not buyer_ok:
        return MatchDecision(False, None, similarity, checks, "different buyers")
    if not country_ok:
        return MatchDecision(False, None, similarity, checks, "different destination countries")

    if new.url_key is not None and new.url_key == known.url_key:
        return MatchDecision(True, "canonical_url", similarity, checks | {"url_key": new.url_key}, "same listing URL")
    if new.content_hash is not None and new.content_hash == known.content_hash:
        return MatchDecision(True, "content_hash", similarity, checks, "same normalized content")

    checks["similarity"] = None if similarity is None else round(similarity, 4)
    if similarity is None or similarity < min_similarity:
        return MatchDecision(False, None, similarity, checks, f"similarity below {min_similarity}")
    overlap = title_overlap(new.tokens, known.tokens)
    jaccard = title_jaccard(new.tokens, known.tokens)
    corroborated_by = _corroborating_fields(new, known)
    numbers_conflict = bool(new.numbers and known.numbers and not new.numbers & known.numbers)
    quantity_ok = quantities_compatible(new.quantity, known.quantity)
    checks |= {
        "title_overlap": round(overlap, 3),
        "title_jaccard": round(jaccard, 3),
        "corroborated_by": corroborated_by,
        "numbers_conflict": numbers_conflict,
        "quantity_compatible": quantity_ok,
    }
    if overlap < TITLE_MIN_OVERLAP:
        return MatchDecision(False, None, similarity, checks, f"title overlap {overlap:.2f} < {TITLE_MIN_OVERLAP}")
    if numbers_conflict:
        return MatchDecision(False, None, similarity, checks, "different model numbers or sizes")
    if not quantity_ok:
        return MatchDecision(False, None, similarity, checks, "incompatible quantities")
    if not corroborated_by and jaccard < TITLE_SAME_JACCARD:
        return MatchDecision(False, None, similarity, checks, "only the title to go on, and the titles differ")
    return MatchDecision(True, "near_duplicate", similarity, checks, "similar text, fields agree")


def best_decision(decisions: list[MatchDecision]) -> MatchDecision | None:
    """The strongest accepted decision (evidence rank, then similarity), or ``None`` when none matched."""
    accepted = [d for d in decisions if d.matched]
    if not accepted:
        return None
    return min(accepted, key=lambda d: (EVIDENCE_RANK[d.matched_by or ""], -(d.similarity or 0.0)))
