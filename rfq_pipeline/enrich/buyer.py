"""Tie the enrichment pieces together: from an RFQ's fields, an optional e-mail and page texts to a buyer profile.

Nothing is fetched here: the caller passes the page texts it fetched (through :mod:`rfq_pipeline.enrich.ssrf` and
the shared HTTP client). Every field carries a confidence in 0..1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from rfq_pipeline.enrich.company import (
    domain_from_email,
    domain_from_url,
    is_free_mail,
    name_matches_domain,
    normalize_company,
)
from rfq_pipeline.enrich.contacts import Contact, extract_contacts, merge_contacts
from rfq_pipeline.enrich.risk import RiskInput, RiskScore, score_risk
from rfq_pipeline.enrich.verify import EmailProvider, EmailVerification, MxResolver, verify_email
from rfq_pipeline.normalize.rfqs import country_code


@dataclass(frozen=True)
class BuyerProfile:
    """What enrichment knows about one buyer."""

    company: str | None
    company_key: str
    domain: str | None
    country: str | None
    email: str | None
    email_verification: EmailVerification | None
    contacts: tuple[Contact, ...]
    risk: RiskScore
    confidence: dict[str, float] = field(default_factory=dict)


def resolve_buyer(
    *,
    title: str,
    description: str = "",
    country: str | None = None,
    company: str | None = None,
    website: str | None = None,
    email: str | None = None,
    email_message_id: str | None = None,
    email_body: str = "",
    pages: Mapping[str, str] | None = None,
    order_value_usd: float | None = None,
    quantity_units: float | None = None,
    domain_created: date | None = None,
    resolver: MxResolver | None = None,
    provider: EmailProvider | None = None,
    today: date | None = None,
) -> BuyerProfile:
    """Build a :class:`BuyerProfile`; ``pages`` maps a page URL to its text, ``email_body`` is the buyer's message."""
    destination = country_code(country) if country else None
    found: list[Contact] = []
    if email_body:
        found += extract_contacts(email_body, email_message_id or "email", country_hint=destination)
    for url, text in (pages or {}).items():
        found += extract_contacts(text, url, country_hint=destination)
    for text, source in ((description, "rfq"),):
        if text:
            found += extract_contacts(text, source, country_hint=destination)
    contacts = tuple(merge_contacts(found))

    confidence: dict[str, float] = {}
    if email is None:  # the best e-mail seen on the buyer's own pages or message
        candidates = [c for c in contacts if c.email]
        if candidates:
            best = max(candidates, key=lambda c: (c.confidence.get("email", 0.0), len(c.evidence)))
            email, confidence["email"] = best.email, min(0.9, best.confidence.get("email", 0.0))
    elif email:
        confidence["email"] = 1.0  # given by the RFQ or the sender header
    verification = verify_email(email, resolver=resolver, provider=provider) if email else None
    if verification is not None:
        confidence["email"] = {"valid": 1.0, "unknown": 0.6}.get(verification.status, 0.1) * confidence["email"]

    email_domain = domain_from_email(email) if email and not is_free_mail(email) else None
    site_domain = domain_from_url(website)
    domain = site_domain or email_domain
    if domain:
        confidence["domain"] = 0.95 if site_domain and email_domain == site_domain else 0.7
    if company:
        match = name_matches_domain(company, domain)
        confidence["company"] = 0.9 if match else 0.6 if match is None else 0.4
    if destination:
        confidence["country"] = 0.9
    if any(c.phone for c in contacts):
        confidence["phone"] = max(c.confidence.get("phone", 0.0) for c in contacts if c.phone)

    risk = score_risk(
        RiskInput(
            title=title,
            description=f"{description}\n{email_body}",
            company=company,
            email=email,
            destination_country=destination,
            phone_countries=tuple(c.phone_country for c in contacts if c.phone_country),
            order_value_usd=order_value_usd,
            quantity_units=quantity_units,
            domain_created=domain_created,
            disposable_domain=bool(verification and verification.disposable),
            today=today,
        )
    )
    return BuyerProfile(
        company=company,
        company_key=normalize_company(company),
        domain=domain,
        country=destination,
        email=email,
        email_verification=verification,
        contacts=contacts,
        risk=risk,
        confidence=confidence,
    )
