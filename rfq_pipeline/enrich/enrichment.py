"""One cluster in, one buyer profile out: gather what every sighting says about the buyer, fetch the buyer's own
pages when a domain is known, let the research agent add evidence-backed findings when it is configured, then
resolve, verify and score (``resolve_buyer``).

Nothing here knows about Dagster or the database; the ``buyers/enriched`` asset passes the fetcher, resolver,
provider and agent it built from the settings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rfq_pipeline.enrich.buyer import BuyerProfile, resolve_buyer
from rfq_pipeline.enrich.company import domain_from_email, domain_from_url, is_free_mail
from rfq_pipeline.enrich.store import ClusterToEnrich
from rfq_pipeline.enrich.verify import EmailProvider, MxResolver, MxResult

ENRICHER_VERSION = "enrich-v1"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WEBSITE_KEYS = ("website", "company_website", "company_url", "homepage", "url_company")
_EMAIL_KEYS = ("email", "buyer_email", "from")

# Domain -> {page URL: visible text}; the asset's implementation goes through the SSRF guard and the shared client.
PageFetcher = Callable[[str], Mapping[str, str]]


@dataclass(frozen=True)
class ResearchOutcome:
    """What the research agent contributed: page texts that back its findings, and its own record for the row."""

    company: str | None = None
    website: str | None = None
    email: str | None = None
    evidence_pages: Mapping[str, str] = field(default_factory=dict)
    record: Mapping[str, Any] = field(default_factory=dict)


# (the cluster's gathered facts, a stable research key) -> the agent's outcome; ``None`` when it did not run.
Researcher = Callable[["BuyerFacts", str], ResearchOutcome | None]


@dataclass(frozen=True)
class BuyerFacts:
    """What the sightings of one request say about its buyer, canonical sighting first."""

    title: str
    description: str
    country: str | None
    company: str | None
    website: str | None
    email: str | None
    email_body: str
    email_message_id: str | None
    quantity_units: float | None

    @property
    def domain(self) -> str | None:
        """The buyer's own domain: the website's, else a business e-mail's (free-mail domains are not the buyer's)."""
        site = domain_from_url(self.website)
        if site:
            return site
        if self.email and not is_free_mail(self.email):
            return domain_from_email(self.email)
        return None


def _first(values: list[str | None]) -> str | None:
    for value in values:
        if value and value.strip():
            return value.strip()
    return None


def gather_facts(cluster: ClusterToEnrich) -> BuyerFacts:
    """Merge the sightings: the canonical one wins where it has a value, the others fill its gaps."""
    members = [cluster.canonical, *[m for m in cluster.members if m.rfq_id != cluster.canonical.rfq_id]]
    canonical = members[0]
    emails: list[str | None] = []
    websites: list[str | None] = []
    for member in members:
        attrs = member.attributes or {}
        emails.append(member.email_from)
        emails += [str(attrs[k]) for k in _EMAIL_KEYS if isinstance(attrs.get(k), str)]
        websites += [str(attrs[k]) for k in _WEBSITE_KEYS if isinstance(attrs.get(k), str)]
    email = _first([e for e in emails if e and _EMAIL.match(e.strip())])
    # An e-mail intake stores the sender's domain as the company; a marketplace's company name is better.
    companies = [m.buyer_company for m in members if m.source != "email"] + [m.buyer_company for m in members]
    descriptions = list(dict.fromkeys(m.description for m in members if m.description))
    email_member = next((m for m in members if m.source == "email"), None)
    return BuyerFacts(
        title=canonical.title,
        description="\n\n".join(descriptions),
        country=canonical.country_code or _first([m.country for m in members]) or None,
        company=_first(companies),
        website=_first(websites),
        email=email.lower() if email else None,
        email_body=email_member.description if email_member else "",
        email_message_id=email_member.attributes.get("message_id") if email_member else None,
        quantity_units=canonical.quantity_value,
    )


def enrich_cluster(
    cluster: ClusterToEnrich,
    *,
    fetch_pages: PageFetcher | None = None,
    resolver: MxResolver | None = None,
    provider: EmailProvider | None = None,
    researcher: Researcher | None = None,
) -> tuple[BuyerProfile, str, dict[str, Any]]:
    """The cluster's buyer, the method (``deterministic`` or ``research_agent``) and a record of what was done."""
    facts = gather_facts(cluster)
    record: dict[str, Any] = {"sightings": len(cluster.members)}
    pages: dict[str, str] = {}
    domain = facts.domain
    if fetch_pages is not None and domain:
        pages.update(fetch_pages(domain))
        record["pages_fetched"] = sorted(pages)
    company, website, email, method = facts.company, facts.website, facts.email, "deterministic"
    if researcher is not None:
        outcome = researcher(facts, f"cluster-{cluster.cluster_id}")
        if outcome is not None and outcome.record.get("steps"):
            method = "research_agent"
            record["research"] = dict(outcome.record)
            pages.update(outcome.evidence_pages)
            # The agent fills gaps; it never overrides what the buyer's own listing or message said.
            company = company or outcome.company
            website = website or outcome.website
            email = email or outcome.email
        elif outcome is not None:
            record["research"] = dict(outcome.record)  # why it did not run (the daily budget, say)
    profile = resolve_buyer(
        title=facts.title,
        description=facts.description,
        country=facts.country,
        company=company,
        website=website,
        email=email,
        email_message_id=facts.email_message_id,
        email_body=facts.email_body,
        pages=pages,
        quantity_units=facts.quantity_units,
        resolver=resolver,
        provider=provider,
    )
    return profile, method, record


class RunScopedResolver:
    """Wraps a resolver for one run: one lookup per domain, and after the first unreachable answer no more tries.

    Without this an offline run would wait the resolver's full timeout for every buyer; the verdict (``unknown``)
    is the same either way.
    """

    def __init__(self, inner: MxResolver) -> None:
        self._inner = inner
        self._cache: dict[str, MxResult] = {}
        self._unreachable: MxResult | None = None

    def lookup_mx(self, domain: str) -> MxResult:
        """The MX answer for ``domain``, from the cache when it was asked before."""
        if self._unreachable is not None:
            return self._unreachable
        if domain not in self._cache:
            result = self._inner.lookup_mx(domain)
            if result.status == "unknown" and "unreachable" in result.detail:
                self._unreachable = result
            self._cache[domain] = result
        return self._cache[domain]


def system_nameserver(resolv_conf: str = "/etc/resolv.conf") -> str | None:
    """The first ``nameserver`` of the system's resolver configuration, if there is one."""
    try:
        with open(resolv_conf, encoding="utf-8") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    return parts[1]
    except OSError:
        return None
    return None
