"""Enrichment's tables: which clusters still need a buyer, and writing one buyer (with contacts) per cluster.

A cluster is enriched once: ``buyers`` is unique on ``cluster_id`` and the write is ``ON CONFLICT DO NOTHING``, so a
re-run of a partition, or a second partition that sees a repost of the same request, pays for nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from rfq_pipeline.enrich.buyer import BuyerProfile

# The label that counts decides relevance (effective_labels: a person's over Claude's over the local model's; an
# uncertain local label is not relevant until one of them settles it).
SELECT_CLUSTERS_TO_ENRICH = """
WITH latest AS (
    SELECT e.rfq_id, e.relevant, e.industry
    FROM effective_labels(ARRAY(
        SELECT r.id FROM rfqs r
        WHERE COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
    )) e
), relevant_clusters AS (
    SELECT DISTINCT m.cluster_id
    FROM latest l
    JOIN dedup_cluster_members m ON m.rfq_id = l.rfq_id
    WHERE l.relevant
)
SELECT k.id AS cluster_id, k.canonical_rfq_id
FROM relevant_clusters rc
JOIN dedup_clusters k ON k.id = rc.cluster_id AND k.merged_into IS NULL
WHERE NOT EXISTS (SELECT 1 FROM buyers b WHERE b.cluster_id = k.id)
  -- A request split off a cluster whose buyer is known keeps that buyer (read through split_from): the same buyer is
  -- not researched and paid for twice. Only a split because the buyer differs needs its own.
  AND NOT EXISTS (
      SELECT 1 FROM dedup_cluster_splits s JOIN buyers b ON b.cluster_id = s.from_cluster_id
      WHERE s.into_cluster_id = k.id AND s.reason NOT LIKE '%%different buyer%%'
  )
ORDER BY k.id
"""

SELECT_CLUSTER_MEMBERS = """
SELECT m.cluster_id, r.id, r.source, r.title, r.description, r.buyer_name, r.buyer_company, r.country_raw,
       r.country_code, r.quantity_value, r.quantity_unit, r.quantity_text, r.attributes, r.canonical_url,
       r.first_seen_at, im.from_address AS email_from
FROM dedup_cluster_members m
JOIN rfqs r ON r.id = m.rfq_id
LEFT JOIN intake_messages im ON im.rfq_id = r.id AND im.kind = 'email' AND im.status = 'parsed'
WHERE m.cluster_id = ANY(%(clusters)s::bigint[])
ORDER BY m.cluster_id, r.first_seen_at, r.id
"""

INSERT_BUYER = """
INSERT INTO buyers (cluster_id, rfq_id, company, company_key, domain, country_code, email, email_status, email_detail,
                    confidence, risk_score, risk_level, risk_reasons, method, research, enricher_version, run_id)
VALUES (%(cluster_id)s, %(rfq_id)s, %(company)s, %(company_key)s, %(domain)s, %(country_code)s, %(email)s,
        %(email_status)s, %(email_detail)s, %(confidence)s, %(risk_score)s, %(risk_level)s, %(risk_reasons)s,
        %(method)s, %(research)s, %(enricher_version)s, %(run_id)s)
ON CONFLICT (cluster_id) DO NOTHING
RETURNING id
"""

INSERT_CONTACT = """
INSERT INTO buyer_contacts (buyer_id, contact_key, name, role, email, phone, phone_country, confidence, evidence)
VALUES (%(buyer_id)s, %(contact_key)s, %(name)s, %(role)s, %(email)s, %(phone)s, %(phone_country)s, %(confidence)s,
        %(evidence)s)
ON CONFLICT (buyer_id, contact_key) DO NOTHING
"""

SELECT_BUYERS_BETWEEN = """
SELECT DISTINCT ON (b.id) b.id, b.cluster_id, b.rfq_id, b.company, b.domain, b.country_code, b.email, b.email_status,
       b.risk_score, b.risk_level, b.risk_reasons, b.method, b.enriched_at,
       (SELECT count(*) FROM buyer_contacts c WHERE c.buyer_id = b.id) AS contacts
FROM rfqs r
JOIN dedup_cluster_members m ON m.rfq_id = r.id
JOIN buyers b ON b.cluster_id = m.cluster_id
WHERE COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
ORDER BY b.id
"""


@dataclass(frozen=True)
class ClusterMember:
    """One sighting of the request, with what it says about the buyer."""

    rfq_id: int
    source: str
    title: str
    description: str
    buyer_name: str
    buyer_company: str
    country: str
    country_code: str | None
    quantity_value: float | None
    quantity_unit: str | None
    quantity_text: str
    attributes: Mapping[str, Any]
    canonical_url: str
    email_from: str | None


@dataclass(frozen=True)
class ClusterToEnrich:
    """A relevant cluster without a buyer yet: its canonical RFQ first, then the other sightings."""

    cluster_id: int
    canonical_rfq_id: int
    members: tuple[ClusterMember, ...] = field(default_factory=tuple)

    @property
    def canonical(self) -> ClusterMember:
        """The canonical sighting (the first member when the canonical RFQ is not among them)."""
        for member in self.members:
            if member.rfq_id == self.canonical_rfq_id:
                return member
        return self.members[0]


def clusters_to_enrich(conn: psycopg.Connection, start: datetime, end: datetime) -> list[ClusterToEnrich]:
    """Active clusters with a relevant RFQ posted in ``[start, end)`` and no buyer yet, with all their members."""
    with conn.cursor(row_factory=dict_row) as cur:
        clusters = cur.execute(SELECT_CLUSTERS_TO_ENRICH, {"start": start, "end": end}).fetchall()
        if not clusters:
            return []
        rows = cur.execute(SELECT_CLUSTER_MEMBERS, {"clusters": [c["cluster_id"] for c in clusters]}).fetchall()
    members: dict[int, list[ClusterMember]] = {}
    for row in rows:
        members.setdefault(row["cluster_id"], []).append(
            ClusterMember(
                rfq_id=row["id"],
                source=row["source"],
                title=row["title"] or "",
                description=row["description"] or "",
                buyer_name=row["buyer_name"] or "",
                buyer_company=row["buyer_company"] or "",
                country=row["country_raw"] or "",
                country_code=(row["country_code"] or None),
                quantity_value=float(row["quantity_value"]) if row["quantity_value"] is not None else None,
                quantity_unit=row["quantity_unit"],
                quantity_text=row["quantity_text"] or "",
                attributes=row["attributes"] or {},
                canonical_url=row["canonical_url"],
                email_from=row["email_from"],
            )
        )
    return [
        ClusterToEnrich(c["cluster_id"], c["canonical_rfq_id"], tuple(members[c["cluster_id"]]))
        for c in clusters
        if c["cluster_id"] in members
    ]


def write_buyer(
    conn: psycopg.Connection,
    cluster: ClusterToEnrich,
    profile: BuyerProfile,
    *,
    method: str,
    enricher_version: str,
    research: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> int | None:
    """Insert the cluster's buyer and contacts; ``None`` when another run enriched the cluster first."""
    verification = profile.email_verification
    row = {
        "cluster_id": cluster.cluster_id,
        "rfq_id": cluster.canonical.rfq_id,
        "company": profile.company,
        "company_key": profile.company_key,
        "domain": profile.domain,
        "country_code": profile.country,
        "email": profile.email,
        "email_status": verification.status if verification else None,
        "email_detail": Jsonb(
            {}
            if verification is None
            else {
                "reasons": list(verification.reasons),
                "checks": verification.checks,
                "role_account": verification.role_account,
                "free_mail": verification.free_mail,
            }
        ),
        "confidence": Jsonb(profile.confidence),
        "risk_score": profile.risk.score,
        "risk_level": profile.risk.level,
        "risk_reasons": Jsonb(
            [{"code": r.code, "weight": r.weight, "evidence": r.evidence} for r in profile.risk.reasons]
        ),
        "method": method,
        "research": Jsonb(dict(research or {})),
        "enricher_version": enricher_version,
        "run_id": run_id,
    }
    inserted = conn.execute(INSERT_BUYER, row).fetchone()
    if inserted is None:
        return None
    buyer_id = int(inserted[0])
    for contact in profile.contacts:
        conn.execute(
            INSERT_CONTACT,
            {
                "buyer_id": buyer_id,
                "contact_key": contact.key(),
                "name": contact.name,
                "role": contact.role,
                "email": contact.email,
                "phone": contact.phone,
                "phone_country": contact.phone_country,
                "confidence": Jsonb(contact.confidence),
                "evidence": Jsonb([{"source": e.source, "text": e.snippet} for e in contact.evidence]),
            },
        )
    return buyer_id


def buyers_between(conn: psycopg.Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The buyers of clusters with an RFQ posted in ``[start, end)`` (for the asset's metadata)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(SELECT_BUYERS_BETWEEN, {"start": start, "end": end}).fetchall()
