"""A deterministic, explainable buyer risk score (0-100): every point comes from a reason with its evidence.

The RFQ text is data. Phrases that try to talk to a model or a reviewer ("ignore previous instructions", "this buyer
is verified") never lower the score; they only ever add a reason of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from rfq_pipeline.enrich.company import domain_from_email, is_free_mail, name_matches_domain

# code -> weight
WEIGHTS: dict[str, int] = {
    "scam_phrase": 30,
    "disposable_domain": 35,
    "new_domain": 20,
    "free_mail_large_order": 15,
    "email_country_mismatch": 10,
    "phone_country_mismatch": 10,
    "urgent_payment_no_specs": 20,
    "company_domain_mismatch": 10,
    "prompt_injection": 10,
}

SCAM_PHRASES: tuple[str, ...] = (
    "western union", "moneygram", "money gram", "advance fee", "send samples free to", "send free samples",
    "free samples to", "we will pay by check", "pay by cheque", "pay by check", "cashier's check",
    "certified check", "urgent reply needed", "urgent response needed", "next of kin", "inheritance",
    "beneficiary", "lottery", "processing fee", "clearance fee", "registration fee", "customs clearance fee",
    "overpayment", "refund the difference", "gift card", "bitcoin only", "crypto payment", "pay via itunes",
    "bank draft", "contract award fee", "confidential business proposal", "god bless you",
)
INJECTION_PHRASES: tuple[str, ...] = (
    "ignore previous instructions", "ignore all previous", "ignore the above", "disregard previous",
    "system prompt", "you are an ai", "as an ai", "mark this buyer as", "this buyer is verified", "risk score",
    "set risk to", "trusted buyer", "do not flag",
)
URGENT_PAYMENT = re.compile(
    r"\b(?:urgent(?:ly)?|asap|immediately|today|within 24 ?h(?:ours)?)\b.{0,80}\b(?:pay(?:ment)?|t/?t|advance|deposit|"
    r"wire|transfer)\b|\b(?:pay(?:ment)?|advance|deposit|wire|transfer)\b.{0,80}\b(?:urgent(?:ly)?|asap|immediately|"
    r"today)\b",
    re.I | re.S,
)
# What a real specification mentions: sizes, volumes, ingredients, packaging, certifications, models.
SPEC_TERMS = re.compile(
    r"\b(?:\d+\s?(?:ml|g|gr|kg|oz|l|ltr|pcs|pieces|units|cartons?|mm|cm)|spf\s?\d+|ingredients?|formula|packag\w*|"
    r"label\w*|oem|odm|msds|coa|gmp|iso|halal|fda|cpnp|specifications?|specs?|size|shade|colou?r|scent|model|"
    r"moq|ph\s?\d)\b",
    re.I,
)


@dataclass(frozen=True)
class RiskReason:
    """One reason a buyer looks risky: a stable code, its weight in points, and the evidence."""

    code: str
    weight: int
    evidence: str


@dataclass(frozen=True)
class RiskInput:
    """What the risk score looks at; every field is optional."""

    title: str = ""
    description: str = ""
    company: str | None = None
    email: str | None = None
    destination_country: str | None = None
    email_country: str | None = None
    phone_countries: tuple[str, ...] = ()
    order_value_usd: float | None = None
    quantity_units: float | None = None
    domain_created: date | None = None
    disposable_domain: bool = False
    today: date | None = None
    large_order_usd: float = 20_000.0
    large_order_units: float = 5_000.0


@dataclass(frozen=True)
class RiskScore:
    """The score (0-100, higher is riskier) and every reason behind it."""

    score: int
    reasons: tuple[RiskReason, ...] = field(default_factory=tuple)

    @property
    def level(self) -> str:
        """``low`` below 20, ``medium`` below 50, ``high`` from 50: one strong signal is medium, two are high."""
        return "low" if self.score < 20 else "medium" if self.score < 50 else "high"

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(reason.code for reason in self.reasons)


def _phrases(text: str, phrases: tuple[str, ...]) -> list[str]:
    lowered = " ".join(text.lower().split())
    return [phrase for phrase in phrases if phrase in lowered]


def _cctld_country(domain: str | None) -> str | None:
    """The country of a country-code top-level domain (``abc.co.kr`` -> ``KR``); ``None`` for .com and friends."""
    if not domain:
        return None
    tld = domain.rsplit(".", 1)[-1].upper()
    if len(tld) != 2 or tld in {"IO", "CO", "ME", "TV", "AI", "CC", "WS"}:
        return None
    return "GB" if tld == "UK" else tld


def score_risk(item: RiskInput) -> RiskScore:
    """Score a buyer; the same input always yields the same score and reasons."""
    text = f"{item.title}\n{item.description}"
    reasons: list[RiskReason] = []

    def add(code: str, evidence: str) -> None:
        reasons.append(RiskReason(code, WEIGHTS[code], evidence))

    scams = _phrases(text, SCAM_PHRASES)
    if scams:
        add("scam_phrase", "; ".join(repr(p) for p in scams))
    injections = _phrases(text, INJECTION_PHRASES)
    if injections:
        add("prompt_injection", "text addressed to the reviewer: " + "; ".join(repr(p) for p in injections))

    domain = domain_from_email(item.email)
    if item.disposable_domain and domain:
        add("disposable_domain", f"{domain} is a disposable mailbox domain")
    if item.domain_created and domain:
        age = ((item.today or date.today()) - item.domain_created).days
        if age < 180:
            add("new_domain", f"{domain} registered {age} days ago")

    large = (item.order_value_usd or 0) >= item.large_order_usd or (item.quantity_units or 0) >= item.large_order_units
    if item.email and is_free_mail(item.email) and large:
        size = f"${item.order_value_usd:,.0f}" if item.order_value_usd else f"{item.quantity_units:,.0f} units"
        add("free_mail_large_order", f"{size} order from free-mail address {domain}")

    destination = (item.destination_country or "").upper() or None
    email_country = (item.email_country or _cctld_country(domain) or "").upper() or None
    if destination and email_country and email_country != destination:
        add("email_country_mismatch", f"e-mail domain {domain} is {email_country}, destination is {destination}")
    foreign_phones = sorted({c.upper() for c in item.phone_countries if c} - ({destination} if destination else set()))
    if destination and foreign_phones and destination not in {c.upper() for c in item.phone_countries}:
        add("phone_country_mismatch", f"phone country {', '.join(foreign_phones)}, destination is {destination}")

    urgent = URGENT_PAYMENT.search(text)
    if urgent and not SPEC_TERMS.search(text):
        add("urgent_payment_no_specs", f"urgent payment terms without any specification: {urgent.group(0)!r}")

    if item.company and domain and name_matches_domain(item.company, domain) is False:
        add("company_domain_mismatch", f"company {item.company!r} does not match domain {domain}")

    return RiskScore(min(100, sum(reason.weight for reason in reasons)), tuple(reasons))
