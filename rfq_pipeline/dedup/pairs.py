"""The pair decision: is RFQ ``a`` the same buyer request as RFQ ``b``?

Two kinds of evidence, kept apart on purpose:

- **Vetoes** say the records are two requests, whatever the text similarity: another destination, another buyer,
  another value of one specification dimension (30 ml vs 100 ml, W240 vs W320, black vs white, bovine vs marine), a
  quantity off by 2x or more, or one record saying it is a separate, new or repeat order.
- **Support** says how likely one request it is when nothing vetoes: product-word overlap (typo-tolerant), text
  overlap, embedding cosine, a confirmed buyer, destination and quantity, and agreeing specification values. A small
  logistic model, fitted on the labeled dev pairs (:mod:`rfq_pipeline.dedup.pair_model`), turns them into a
  probability; ``RFQ_DEDUP_MIN_PROBABILITY`` is the one setting that trades precision for recall.

A record joins a cluster when it is likely enough the same as one member and no member vetoes it (so a cluster
never drifts from 30 ml to 100 ml through a chain of look-alikes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from rfq_pipeline.dedup.attributes import BuyerIdentity, Quantity, RfqAttributes, same_company

MODEL_PATH = Path(__file__).resolve().parent / "pair_model.json"
# Quantities this far apart (after units) are different orders: the dev set's decision rule.
QUANTITY_MAX_RATIO = 2.0
# Below this product-word overlap a pair needs agreeing facts (buyer and amount or spec) to be judged at all.
MIN_PRODUCT_OVERLAP = 0.34
# Product-name Jaccard a pair needs when nothing but the destination agrees.
WEAK_MIN_PRODUCT_JACCARD = 0.5
# Word-valued dimensions conflict only when each side names a value the other does not (a black logo on both).
WORD_DIMENSIONS = frozenset({"colour", "material", "variant", "scent", "finish", "processing"})
FEATURES = (
    "product_overlap",
    "text_overlap",
    "cosine",
    "buyer_same",
    "country_same",
    "quantity_same",
    "spec_agreements",
    "both_english",
)


def _edit_distance_at_most_one(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        # one swap of neighbours ("nigth" / "night")
        return (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def tokens_match(a: str, b: str) -> bool:
    """Typo-tolerant word equality: ``remower``~``remover``, ``nials``~``nails``, ``cashewnut``~``cashew``."""
    if a == b:
        return True
    # A compound written as one word ("cashewnuts") or a clipped plural; "hand" is not "handmade".
    if min(len(a), len(b)) >= 5 and abs(len(a) - len(b)) <= 3 and (a.startswith(b) or b.startswith(a)):
        return True
    return min(len(a), len(b)) >= 4 and _edit_distance_at_most_one(a, b)


@lru_cache(maxsize=200_000)
def _match_keys(token: str) -> frozenset[str]:
    """Strings two words within :func:`tokens_match` of each other share: the word, its one-letter deletions and
    its longer prefixes (a candidate filter; :func:`tokens_match` decides)."""
    keys = {token}
    if len(token) >= 4:
        keys |= {token[:i] + token[i + 1 :] for i in range(len(token))}
    if len(token) >= 6:
        keys |= {token[:n] for n in range(max(5, len(token) - 3), len(token))}
    return frozenset(keys)


@lru_cache(maxsize=50_000)
def _index(tokens: frozenset[str]) -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for token in tokens:
        for key in _match_keys(token):
            index.setdefault(key, []).append(token)
    return {key: tuple(found) for key, found in index.items()}


def fuzzy_matches(a: frozenset[str], b: frozenset[str]) -> int:
    """How many words of the smaller set have a typo-tolerant match in the other."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    exact = small & large
    count = len(exact)
    rest = small - exact
    if not rest:
        return count
    index = _index(large)
    for word in rest:
        candidates = {c for key in _match_keys(word) for c in index.get(key, ()) if c not in exact}
        if any(tokens_match(word, other) for other in candidates):
            count += 1
    return count


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Typo-tolerant overlap coefficient (matches / size of the smaller set); 0 when either is empty."""
    if not a or not b:
        return 0.0
    return fuzzy_matches(a, b) / min(len(a), len(b))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Typo-tolerant Jaccard similarity; 0 when either is empty."""
    if not a or not b:
        return 0.0
    matched = fuzzy_matches(a, b)
    return matched / (len(a) + len(b) - matched)


def buyer_relation(a: BuyerIdentity, b: BuyerIdentity) -> str:
    """``same`` (shared pseudonym, company or mail domain), ``different`` (both named, none shared) or ``unknown``."""
    if a.pseudonyms & b.pseudonyms or a.email_domains & b.email_domains:
        return "same"
    if any(same_company(x, y) for x in a.companies for y in b.companies):
        return "same"
    if a.pseudonyms and b.pseudonyms:
        return "different"
    if a.companies and b.companies:
        return "different"
    return "unknown"


def quantity_relation(a: Sequence[Quantity], b: Sequence[Quantity]) -> str:
    """``same`` / ``different`` (2x or more apart in a shared unit) / ``unknown`` (no amount or no shared unit)."""
    ratios = [
        max(x.value, y.value) / min(x.value, y.value) if min(x.value, y.value) > 0 else math.inf
        for x in a
        for y in b
        if x.unit == y.unit
    ]
    if not ratios:
        return "unknown"
    return "same" if min(ratios) < QUANTITY_MAX_RATIO else "different"


def spec_relation(a: dict[str, frozenset[str]], b: dict[str, frozenset[str]]) -> tuple[list[str], int]:
    """(dimensions whose values conflict, number of values both state)."""
    conflicts: list[str] = []
    agreements = 0
    for dimension in sorted(a.keys() & b.keys()):
        left, right = a[dimension], b[dimension]
        shared = left & right
        agreements += len(shared)
        if dimension in WORD_DIMENSIONS:
            if left - right and right - left:
                conflicts.append(dimension)
        elif not shared:
            conflicts.append(dimension)
    return conflicts, agreements


@dataclass(frozen=True)
class PairEvidence:
    """Everything compared for one pair, shown with the decision."""

    buyer: str
    country: str
    quantity: str
    spec_conflicts: tuple[str, ...]
    spec_agreements: int
    measured_agreements: int  # of those, measured values and codes (30 ml, W320), not words ("plastic", "black")
    separate_order: bool
    product_overlap: float
    product_jaccard: float
    text_overlap: float
    cosine: float | None
    both_english: bool

    @property
    def vetoes(self) -> list[str]:
        """Reasons the two records are two requests, strongest first; empty when nothing vetoes."""
        reasons = []
        if self.country == "different":
            reasons.append("different destination")
        if self.buyer == "different":
            reasons.append("different buyer")
        if self.quantity == "different":
            reasons.append("quantity 2x or more apart")
        reasons += [f"different {dimension}" for dimension in self.spec_conflicts]
        if self.separate_order:
            reasons.append("stated as a separate order")
        return reasons

    @property
    def unsupported(self) -> bool:
        """Nothing says one request (not a veto on a cluster): no product word in common and no agreeing facts, or
        not one field beyond the text that agrees."""
        if self.product_overlap < MIN_PRODUCT_OVERLAP and (self.both_english or not self.facts_agree):
            # Another language names the product in other words; then the buyer and the amount or a spec must agree.
            # In one language, products with no word in common are two products, whoever asks (one Alibaba buyer
            # posts egg incubators and a motorcycle, one piece each).
            return True
        # "Gas Scooters" and "Electric Moped Scooter", "BUY HELMETS" and "F1 Helmets": with no buyer, destination,
        # amount or spec value in common, the text alone says too little (an identical listing matches by hash).
        if not self.corroborated:
            return True
        # Only the destination agrees ("Onion Hair Oil" and "Hair Oil Bottle Filling Machine", both to India): then
        # the products must be named alike, not merely share a word or two.
        weakly = self.buyer != "same" and self.quantity != "same" and self.measured_agreements == 0
        return weakly and self.product_jaccard < WEAK_MIN_PRODUCT_JACCARD

    @property
    def corroborated(self) -> bool:
        """A field beyond the text agrees: buyer, destination, amount or a specification value."""
        return "same" in (self.buyer, self.country, self.quantity) or self.measured_agreements > 0

    @property
    def facts_agree(self) -> bool:
        """The same known buyer, and the same amount or a shared specification value."""
        return self.buyer == "same" and (self.quantity == "same" or self.spec_agreements > 0)

    def features(self) -> list[float]:
        """The model's inputs, in :data:`FEATURES` order."""
        return [
            self.product_overlap,
            self.text_overlap,
            0.0 if self.cosine is None else self.cosine,
            float(self.buyer == "same"),
            float(self.country == "same"),
            float(self.quantity == "same"),
            min(self.spec_agreements, 4) / 4,
            float(self.both_english),
        ]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the membership evidence."""
        return {
            "buyer": self.buyer,
            "country": self.country,
            "quantity": self.quantity,
            "spec_conflicts": list(self.spec_conflicts),
            "spec_agreements": self.spec_agreements,
            "separate_order": self.separate_order,
            "product_overlap": round(self.product_overlap, 3),
            "product_jaccard": round(self.product_jaccard, 3),
            "text_overlap": round(self.text_overlap, 3),
            "cosine": None if self.cosine is None else round(self.cosine, 4),
        }


def compare(a: RfqAttributes, b: RfqAttributes, cosine: float | None = None) -> PairEvidence:
    """Compare two RFQs' attributes (``cosine``: their embeddings' similarity, when known)."""
    country = ("same" if a.country == b.country else "different") if a.country and b.country else "unknown"
    conflicts, agreements = spec_relation(a.specs, b.specs)
    if "colour" not in conflicts and (
        (a.name_colours and not b.specs.get("colour")) or (b.name_colours and not a.specs.get("colour"))
    ):
        conflicts.append("colour")  # "Burgundy Henna Powder" against a henna powder of no stated colour
    conflicts += [
        f"'{key}'" for key in sorted(a.labelled.keys() & b.labelled.keys()) if not a.labelled[key] & b.labelled[key]
    ]
    measured = sum(len(a.specs[d] & b.specs[d]) for d in a.specs.keys() & b.specs.keys() if d not in WORD_DIMENSIONS)
    buyer = buyer_relation(a.buyer, b.buyer)
    quantity = quantity_relation(a.quantities, b.quantities)
    separate_order = ("separate_order" in a.flags) != ("separate_order" in b.flags)
    vetoed = bool(conflicts) or separate_order or "different" in (country, buyer, quantity)
    return PairEvidence(
        measured_agreements=measured,
        buyer=buyer,
        country=country,
        quantity=quantity,
        spec_conflicts=tuple(conflicts),
        spec_agreements=agreements,
        # One side says "this is a new order": the other is the earlier one. Both saying it may be one repeat order.
        separate_order=separate_order,
        # Text overlaps decide nothing for a vetoed pair; they are the costly part, so they are left at 0 there.
        product_overlap=0.0 if vetoed else overlap(a.product_tokens, b.product_tokens),
        product_jaccard=0.0 if vetoed else jaccard(a.product_tokens, b.product_tokens),
        text_overlap=0.0 if vetoed else jaccard(a.text_tokens, b.text_tokens),
        cosine=cosine,
        both_english=a.english and b.english,
    )


@dataclass(frozen=True)
class PairModel:
    """Logistic weights over :data:`FEATURES`, and the probability at or above which a pair is one request."""

    weights: tuple[float, ...]
    intercept: float
    min_probability: float = 0.5
    version: str = "unfitted"
    fitted_on: dict[str, Any] = field(default_factory=dict)

    def probability(self, evidence: PairEvidence) -> float:
        """The calibrated probability that the pair is one request, ignoring vetoes."""
        z = self.intercept + sum(w * x for w, x in zip(self.weights, evidence.features(), strict=True))
        return 1.0 / (1.0 + math.exp(-z))

    def with_threshold(self, min_probability: float | None) -> PairModel:
        """The same model with another operating point (``None`` keeps the fitted one)."""
        if min_probability is None:
            return self
        return PairModel(self.weights, self.intercept, min_probability, self.version, self.fitted_on)

    def to_json(self) -> dict[str, Any]:
        """The stored form (``pair_model.json``)."""
        return {
            "version": self.version,
            "features": list(FEATURES),
            "weights": list(self.weights),
            "intercept": self.intercept,
            "min_probability": self.min_probability,
            "fitted_on": self.fitted_on,
        }


@lru_cache(maxsize=1)
def default_model() -> PairModel:
    """The model shipped with the package (fitted by ``python -m rfq_pipeline.dedup.pair_model --write``)."""
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    if list(data["features"]) != list(FEATURES):
        raise ValueError(f"{MODEL_PATH.name} was fitted on other features: {data['features']}")
    return PairModel(
        tuple(float(w) for w in data["weights"]),
        float(data["intercept"]),
        float(data["min_probability"]),
        str(data["version"]),
        dict(data.get("fitted_on", {})),
    )


@dataclass(frozen=True)
class PairDecision:
    """The decision on one pair: matched or not, the probability, the vetoes and the evidence."""

    matched: bool
    probability: float
    vetoes: tuple[str, ...]
    evidence: PairEvidence

    @property
    def reason(self) -> str:
        """One line for logs and the UI."""
        if self.vetoes:
            return "; ".join(self.vetoes)
        if self.evidence.unsupported:
            return "no product word in common and no agreeing buyer facts"
        verdict = "same request" if self.matched else "not alike enough"
        return f"{verdict} (p={self.probability:.2f})"


def decide_pair(a: RfqAttributes, b: RfqAttributes, cosine: float | None, model: PairModel) -> PairDecision:
    """Decide one pair with ``model`` at its operating point."""
    evidence = compare(a, b, cosine)
    vetoes = tuple(evidence.vetoes)
    probability = model.probability(evidence)
    matched = not vetoes and not evidence.unsupported and probability >= model.min_probability
    return PairDecision(matched, probability, vetoes, evidence)


@dataclass(frozen=True)
class Member:
    """A clustered RFQ as the decision sees it."""

    rfq_id: int
    attributes: RfqAttributes
    cosine: float | None = None  # similarity to the RFQ being placed


@dataclass(frozen=True)
class ClusterVerdict:
    """How an RFQ relates to one candidate cluster."""

    cluster_id: int
    matched: bool
    best: PairDecision  # the decision with the most likely member (or the vetoing one)
    best_rfq_id: int
    veto: str = ""  # why a member rules the cluster out


def judge_clusters(
    new: RfqAttributes,
    clusters: dict[int, Sequence[Member]],
    model: PairModel,
    override: Callable[[int, PairDecision], PairDecision] | None = None,
) -> list[ClusterVerdict]:
    """Judge ``new`` against each candidate cluster, most likely first.

    A cluster matches when at least one member is the same request and no member vetoes it. ``override`` (member id,
    local decision) -> decision lets a second opinion (Claude, for the uncertain band) replace a local ``matched``.
    """
    verdicts = []
    for cluster_id, members in clusters.items():
        decisions = [(m.rfq_id, decide_pair(new, m.attributes, m.cosine, model)) for m in members]
        if override is not None:
            decisions = [(rfq_id, override(rfq_id, d)) for rfq_id, d in decisions]
        if not decisions:
            continue
        vetoed = next(((rfq_id, d) for rfq_id, d in decisions if d.vetoes), None)
        # The best member: a matched one first, then the most likely.
        best_id, best = max(decisions, key=lambda item: (item[1].matched, item[1].probability))
        if vetoed is not None:
            reason = f"rfq {vetoed[0]}: {vetoed[1].reason}"
            verdicts.append(ClusterVerdict(cluster_id, False, vetoed[1], vetoed[0], reason))
        else:
            verdicts.append(ClusterVerdict(cluster_id, best.matched, best, best_id))
    return sorted(verdicts, key=lambda v: (not v.matched, -v.best.probability, v.cluster_id))


def clusters_compatible(a: Sequence[Member], b: Sequence[Member]) -> bool:
    """Whether two clusters may be merged: no member of one vetoes a member of the other."""
    return not any(compare(x.attributes, y.attributes).vetoes for x in a for y in b)
