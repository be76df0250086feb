"""The label vocabulary shared by every classifier (local or LLM) and the deterministic parts of a label.

The industry taxonomy is exactly the one the labeled data was written against. Relevance is derived from the
industry and the configured target set, and quality from the RFQ's own fields, never taken from a model: text a buyer
wrote cannot talk its way into being "relevant" or "high quality".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

INDUSTRIES: tuple[str, ...] = (
    "beauty_personal_care",
    "food_beverage",
    "agriculture_raw",
    "chemicals_materials",
    "electronics",
    "apparel_textiles",
    "machinery_industrial",
    "medical_health",
    "home_living",
    "vehicles_transport",
    "packaging_general",
    "other",
)
INTENTS: tuple[str, ...] = ("buy_request", "supplier_advert", "spam_or_junk")
DEFAULT_TARGET_INDUSTRIES: tuple[str, ...] = ("beauty_personal_care",)


@dataclass(frozen=True)
class RfqText:
    """What a classifier sees of one RFQ. ``id`` is the caller's key (the database id as text, or a CLI line's id)."""

    id: str
    title: str
    description: str = ""
    quantity: str = ""
    country: str = ""

    def text(self) -> str:
        """Title and description as one string (the embedding and classification input)."""
        description = " ".join(self.description.split())
        return f"{self.title.strip()}. {description}" if description else self.title.strip()


@dataclass(frozen=True)
class Labels:
    """The labels of one RFQ from one model version."""

    id: str
    industry: str
    relevant: bool
    intent: str
    quality: float
    provider: str
    model_version: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.industry not in INDUSTRIES:
            raise ValueError(f"industry {self.industry!r} is not in the taxonomy")
        if self.intent not in INTENTS:
            raise ValueError(f"intent {self.intent!r} is not one of {INTENTS}")
        if not 0.0 <= self.quality <= 1.0:
            raise ValueError(f"quality {self.quality!r} is outside 0..1")

    def as_output(self) -> dict[str, Any]:
        """The CLI's output line."""
        return {
            "id": self.id,
            "industry": self.industry,
            "relevant": self.relevant,
            "intent": self.intent,
            "quality": round(self.quality, 3),
        }


def label_confidence(labels: Labels) -> float | None:
    """How sure the model is of a label: the lower of its calibrated industry and relevance confidences (``None``
    when the provider gives none, as Claude and people do)."""
    details = labels.details or {}
    values = [float(details[k]) for k in ("confidence", "relevance_confidence") if details.get(k) is not None]
    return min(values) if values else None


def is_uncertain(labels: Labels, min_confidence: float) -> bool:
    """A local label below ``min_confidence``: kept as the model's guess, but not counted as relevant until a person
    or Claude labels the RFQ."""
    confidence = label_confidence(labels)
    return labels.provider == "local" and confidence is not None and confidence < min_confidence


def is_relevant(industry: str, targets: Iterable[str] = DEFAULT_TARGET_INDUSTRIES) -> bool:
    """Whether an industry is one the exporter sells into."""
    return industry in set(targets)


_QUANTITY = re.compile(
    r"\b\d[\d,.]*\s*(?:k\b|pcs|pieces?|units?|tons?|tonnes?|mt\b|kg|kgs|g\b|liters?|litres?|l\b|ml|boxes|box|cartons?|"
    r"bottles?|pairs?|sets?|bags?|containers?|fcl|dozens?|rolls?|meters?|m\b|sq|barrels?|gallons?|lbs?|packs?)",
    re.I,
)
_GENERIC_TITLES = {"", "wanted", "buy", "buying", "need", "request", "rfq", "product", "products", "test"}


def quality_score(item: RfqText) -> float:
    """How quotable an RFQ is, 0..1: a specific product, a quantity, a destination, and some specification.

    Weights: product 0.4 (specific title), quantity 0.25, destination 0.2, specification 0.15 (a description of
    at least a few words beyond the title).
    """
    title_words = re.findall(r"[^\W\d_]{2,}", item.title.lower())
    specific = [w for w in title_words if w not in _GENERIC_TITLES]
    score = 0.0
    if len(specific) >= 2:
        score += 0.4
    elif specific:
        score += 0.25
    if item.quantity.strip() and re.search(r"\d", item.quantity):
        score += 0.25
    elif _QUANTITY.search(item.description):
        score += 0.15
    if item.country.strip():
        score += 0.2
    if len(item.description.split()) >= 8:
        score += 0.15
    elif item.description.strip():
        score += 0.05
    return round(min(score, 1.0), 3)
