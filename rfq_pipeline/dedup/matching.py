"""Pure dedup logic for exact evidence: normalized keys of an RFQ and whether two RFQs are one listing.

A buyer request is seen many times: reposted on new dates under new ids, re-rendered with different punctuation or
quantity spelling. Three kinds of exact evidence, strongest first:

- ``external_id``: the same marketplace id (the same listing seen again);
- ``canonical_url``: the same listing URL once tracking parameters, scheme, ``www.`` and trailing slashes are gone;
- ``content_hash``: the same title, description, quantity and destination after normalizing case, whitespace,
  punctuation, accents, HTML entities and digit formatting (``1,000`` = ``1000``, ``10.00`` = ``10``).

Whatever the evidence except the marketplace id, the destination country must be equal or missing and the buyer must
be equal or missing: two known, different buyers asking for the same thing are two requests (the Alibaba board has
several identical "2022 Mercedes-Benz S500" requests from different buyers). Everything short of exact evidence is
the pair decision's (:mod:`rfq_pipeline.dedup.pairs`), which reports itself as ``near_duplicate``.
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

# Query parameters that identify a visit, not a listing.
_TRACKING_PARAMS = frozenset(
    {"uuid", "language", "lang", "spm", "ref", "from", "source", "tracelog", "tracking", "sid", "sessionid", "gclid"}
)

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_TRAILING_ZEROS = re.compile(r"(?<=\d)\.0+\b")
_NON_WORD = re.compile(r"[^\w.]+|(?<!\d)\.|\.(?!\d)|_")


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
    quantity: tuple[float | None, str | None]
    country_code: str | None
    buyer_key: str | None


@lru_cache(maxsize=50_000)  # a clustered RFQ is read again by every new one that finds it as a candidate
def keys_for(rfq: RfqFields) -> RfqKeys:
    """Normalize an RFQ's fields into the keys the decision compares."""
    raw_country = (rfq.country or "").strip()
    code = raw_country.upper() if re.fullmatch(r"[A-Za-z]{2}", raw_country) else country_code(raw_country or None)
    quantity = quantity_key(rfq.quantity_text)
    return RfqKeys(
        id=rfq.id,
        source=rfq.source,
        external_id=rfq.external_id,
        content_hash=_content_hash(rfq.title, rfq.description, quantity, code or normalize_text(raw_country)),
        url_key=canonical_url_key(rfq.canonical_url),
        quantity=quantity,
        country_code=code,
        buyer_key=normalize_text(rfq.buyer) or None,
    )


@dataclass(frozen=True)
class MatchDecision:
    """Whether two RFQs are one request, by which evidence, and every check that was made (for the UI and logs)."""

    matched: bool
    matched_by: str | None
    similarity: float | None
    checks: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def decide(new: RfqKeys, known: RfqKeys) -> MatchDecision:
    """Whether ``new`` is the same listing or content as the already-clustered ``known`` (exact evidence only)."""
    if new.source == known.source and new.external_id == known.external_id:
        return MatchDecision(True, "external_id", None, {"external_id": new.external_id}, "same listing id")

    country_ok = new.country_code is None or known.country_code is None or new.country_code == known.country_code
    buyer_ok = new.buyer_key is None or known.buyer_key is None or new.buyer_key == known.buyer_key
    checks: dict[str, Any] = {"country_compatible": country_ok, "buyer_compatible": buyer_ok}
    if not buyer_ok:
        return MatchDecision(False, None, None, checks, "different buyers")
    if not country_ok:
        return MatchDecision(False, None, None, checks, "different destination countries")
    if new.url_key is not None and new.url_key == known.url_key:
        return MatchDecision(True, "canonical_url", None, checks | {"url_key": new.url_key}, "same listing URL")
    if new.content_hash is not None and new.content_hash == known.content_hash:
        return MatchDecision(True, "content_hash", None, checks, "same normalized content")
    return MatchDecision(False, None, None, checks, "no exact key in common")


def best_decision(decisions: list[MatchDecision]) -> MatchDecision | None:
    """The strongest accepted decision (evidence rank, then similarity), or ``None`` when none matched."""
    accepted = [d for d in decisions if d.matched]
    if not accepted:
        return None
    return min(accepted, key=lambda d: (EVIDENCE_RANK[d.matched_by or ""], -(d.similarity or 0.0)))
