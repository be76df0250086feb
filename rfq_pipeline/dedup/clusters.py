"""Assigns RFQs to stable dedup clusters in PostgreSQL: exact keys first, then ANN candidates confirmed by fields.

One call handles a batch of RFQ ids inside the caller's transaction:

1. a transaction-scoped advisory lock serialises every assigner (two runs reading the same request at once would
   otherwise both find no cluster and found two);
2. each RFQ not yet in a cluster, in id order, looks for members with its content hash or listing URL and for its
   nearest embedded neighbours among clustered RFQs (the model's partial HNSW index), and every candidate is judged by
   :func:`rfq_pipeline.dedup.matching.decide`;
3. no match founds a cluster (the RFQ is its canonical member); matches in one cluster join it; matches in several
   clusters merge them into the oldest one, which keeps its id and canonical RFQ, and the absorbed clusters keep
   their rows with ``merged_into`` set and a line each in ``dedup_cluster_merges``.

Re-running on assigned RFQs changes nothing: membership is decided once per RFQ.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
from pgvector import HalfVector
from psycopg.types.json import Jsonb

from rfq_pipeline.ai.embedding_store import embed_rfqs
from rfq_pipeline.ai.embeddings import Embedder
from rfq_pipeline.dedup.attributes import ATTRIBUTES_VERSION, RfqAttributes, extract, inputs_sha256
from rfq_pipeline.dedup.matching import (
    EVIDENCE_RANK,
    MatchDecision,
    RfqFields,
    RfqKeys,
    best_decision,
    decide,
    keys_for,
)
from rfq_pipeline.dedup.pairs import (
    Member,
    PairDecision,
    PairModel,
    clusters_compatible,
    decide_pair,
    default_model,
    judge_clusters,
)
from rfq_pipeline.settings import Settings

# Any stable constant distinct from the migration lock; every assigner of every process uses the same one.
DEDUP_LOCK_KEY = 7_310_420_404
DEFAULT_K = 10
DEFAULT_EF_SEARCH = 100
# Members sharing a content hash or URL are read at most this many at a time (a repost storm is one cluster anyway).
EXACT_CANDIDATE_LIMIT = 50
# Clustered RFQs sharing a buyer or product key with the new one, judged at most this many (same buyer first).
BLOCKING_CANDIDATE_LIMIT = 40
# Product words a blocking key is made of, at most (a keyword title has dozens; pairs of ten are 45 keys).
MAX_BLOCKING_WORDS = 10
# A cluster's members read for the complete-linkage veto at most this many (a repost storm repeats itself).
MEMBER_LIMIT = 50

UPSERT_ATTRIBUTES = """
INSERT INTO rfq_dedup_attributes (rfq_id, version, text_sha256, attributes, blocking_keys)
VALUES (%(rfq_id)s, %(version)s, %(text_sha256)s, %(attributes)s, %(blocking_keys)s)
ON CONFLICT (rfq_id) DO UPDATE SET version = EXCLUDED.version, text_sha256 = EXCLUDED.text_sha256,
    attributes = EXCLUDED.attributes, blocking_keys = EXCLUDED.blocking_keys, extracted_at = now()
WHERE rfq_dedup_attributes.text_sha256 IS DISTINCT FROM EXCLUDED.text_sha256
   OR rfq_dedup_attributes.version IS DISTINCT FROM EXCLUDED.version
"""

SELECT_STORED_ATTRIBUTE_HASHES = """
SELECT rfq_id, text_sha256, version FROM rfq_dedup_attributes WHERE rfq_id = ANY(%(ids)s::bigint[])
"""

# The GIN index finds the RFQs sharing a key first (materialized, so the planner cannot trade it for a walk of the
# primary key in id order); only those are ranked, same buyer first, then the most recent.
SELECT_BLOCKING_CANDIDATES = """
WITH hits AS MATERIALIZED (
    SELECT a.rfq_id, a.blocking_keys && %(buyer_keys)s::text[] AS same_buyer
    FROM rfq_dedup_attributes a
    WHERE a.blocking_keys && %(keys)s::text[] AND a.rfq_id <> %(rfq_id)s
)
SELECT h.rfq_id, m.cluster_id
FROM hits h
JOIN dedup_cluster_members m ON m.rfq_id = h.rfq_id
ORDER BY h.same_buyer DESC, h.rfq_id DESC
LIMIT %(limit)s
"""

SELECT_MEMBER_IDS = """
SELECT cluster_id, rfq_id FROM (
    SELECT m.cluster_id, m.rfq_id, row_number() OVER (PARTITION BY m.cluster_id ORDER BY m.rfq_id DESC) AS n
    FROM dedup_cluster_members m WHERE m.cluster_id = ANY(%(cluster_ids)s::bigint[])
) ranked WHERE n <= %(limit)s
"""

INSERT_HISTORY = """
INSERT INTO dedup_membership_history (rfq_id, cluster_id, event, reason, actor)
SELECT unnest(%(rfq_ids)s::bigint[]), %(cluster_id)s, %(event)s, %(reason)s, %(actor)s
"""

SELECT_DEDUP_FIELDS = """
SELECT id, source, external_id, canonical_url, title, description, quantity_text,
       COALESCE(country_code::text, country_raw) AS country,
       COALESCE(NULLIF(buyer_company, ''), buyer_name) AS buyer
FROM rfqs
WHERE id = ANY(%(ids)s::bigint[])
"""

SELECT_MEMBERSHIP = """
SELECT m.rfq_id, m.cluster_id, m.matched_by, m.similarity
FROM dedup_cluster_members m
WHERE m.rfq_id = ANY(%(ids)s::bigint[])
"""

SELECT_VECTORS = """
SELECT e.rfq_id, e.embedding
FROM rfq_embeddings e
WHERE e.model = %(model)s AND e.rfq_id = ANY(%(ids)s::bigint[])
"""

SELECT_EXACT_CANDIDATES = """
SELECT m.rfq_id, m.cluster_id
FROM dedup_cluster_members m
WHERE (m.content_hash = %(content_hash)s OR m.url_key = %(url_key)s) AND m.rfq_id <> %(rfq_id)s
ORDER BY m.cluster_id, m.rfq_id
LIMIT %(limit)s
"""

# Same cast, operator and predicate as the model's partial HNSW index, so the planner walks the index; the join keeps
# only clustered rows and hnsw.iterative_scan keeps scanning when the join filters neighbours out.
SELECT_ANN_CANDIDATES = """
SELECT e.rfq_id, m.cluster_id, 1 - (e.embedding::halfvec(384) <=> %(query)s::halfvec(384)) AS similarity
FROM rfq_embeddings e
JOIN dedup_cluster_members m ON m.rfq_id = e.rfq_id
WHERE e.model = %(model)s AND e.rfq_id <> %(rfq_id)s
ORDER BY e.embedding::halfvec(384) <=> %(query)s::halfvec(384)
LIMIT %(k)s
"""

INSERT_CLUSTER = """
INSERT INTO dedup_clusters (canonical_rfq_id, member_count) VALUES (%(rfq_id)s, 0) RETURNING id
"""

INSERT_MEMBER = """
INSERT INTO dedup_cluster_members (rfq_id, cluster_id, matched_by, similarity, matched_rfq_id, content_hash, url_key,
                                   evidence, assigned_by)
VALUES (%(rfq_id)s, %(cluster_id)s, %(matched_by)s, %(similarity)s, %(matched_rfq_id)s, %(content_hash)s,
        %(url_key)s, %(evidence)s, %(assigned_by)s)
ON CONFLICT (rfq_id) DO NOTHING
"""

REFRESH_MEMBER_COUNTS = """
UPDATE dedup_clusters AS c SET
    member_count = (SELECT count(*) FROM dedup_cluster_members m WHERE m.cluster_id = c.id),
    updated_at = now()
WHERE c.id = ANY(%(ids)s::bigint[])
"""

MOVE_MEMBERS = """
UPDATE dedup_cluster_members SET cluster_id = %(into_id)s WHERE cluster_id = %(from_id)s RETURNING rfq_id
"""

# Clusters absorbed earlier into the one being absorbed now point straight at the survivor: one hop resolves any id.
REPOINT_MERGED = """
UPDATE dedup_clusters SET merged_into = %(into_id)s, updated_at = now() WHERE merged_into = %(from_id)s
"""

MARK_MERGED = """
UPDATE dedup_clusters SET merged_into = %(into_id)s, merged_at = now(), member_count = 0, updated_at = now()
WHERE id = %(from_id)s
"""

INSERT_MERGE = """
INSERT INTO dedup_cluster_merges (from_cluster_id, into_cluster_id, trigger_rfq_id, matched_by, similarity,
                                  moved_rfq_ids, merged_by, reason)
VALUES (%(from_id)s, %(into_id)s, %(rfq_id)s, %(matched_by)s, %(similarity)s, %(moved)s::bigint[], %(merged_by)s,
        %(reason)s)
"""

# The invariants the asset check and the tests hold the tables to.
SELECT_INVARIANTS = """
SELECT count(*) FILTER (WHERE c.merged_into IS NULL) AS active_clusters,
       count(*) FILTER (WHERE c.merged_into IS NOT NULL) AS merged_clusters,
       count(*) FILTER (WHERE c.merged_into IS NULL AND c.member_count <> COALESCE(m.n, 0)) AS wrong_member_count,
       count(*) FILTER (WHERE c.merged_into IS NULL AND COALESCE(m.n, 0) = 0) AS empty_clusters,
       count(*) FILTER (WHERE c.merged_into IS NOT NULL AND COALESCE(m.n, 0) > 0) AS merged_with_members,
       count(*) FILTER (WHERE c.merged_into IS NOT NULL AND t.merged_into IS NOT NULL) AS chained_merges,
       count(*) FILTER (WHERE c.merged_into IS NULL AND NOT EXISTS (
           SELECT 1 FROM dedup_cluster_members cm WHERE cm.rfq_id = c.canonical_rfq_id AND cm.cluster_id = c.id
       )) AS canonical_not_member
FROM dedup_clusters c
LEFT JOIN (SELECT cluster_id, count(*) AS n FROM dedup_cluster_members GROUP BY cluster_id) m ON m.cluster_id = c.id
LEFT JOIN dedup_clusters t ON t.id = c.merged_into
"""


@dataclass(frozen=True)
class Assignment:
    """Where one RFQ went and why."""

    rfq_id: int
    cluster_id: int
    matched_by: str  # 'new' for the founder of a cluster
    similarity: float | None
    matched_rfq_id: int | None
    merged_clusters: tuple[int, ...] = ()  # clusters absorbed into ``cluster_id`` because of this RFQ


@dataclass
class AssignmentResult:
    """What one assignment call did."""

    considered: int = 0
    already_assigned: int = 0
    new_clusters: int = 0
    joined: int = 0
    merged: int = 0  # clusters absorbed into older ones
    without_embedding: int = 0  # matched on exact keys only
    split: int = 0  # members whose changed text no longer fits their cluster, moved out
    min_probability: float = 0.0  # the pair model's operating point used
    second_opinions: Counter[str] = field(default_factory=Counter)  # Claude band: asked, cached, submitted, answered
    by_matched_by: Counter[str] = field(default_factory=Counter)
    assignments: list[Assignment] = field(default_factory=list)


def _fields(row: Sequence[Any]) -> RfqFields:
    rfq_id, source, external_id, url, title, description, quantity, country, buyer = row
    return RfqFields(
        id=int(rfq_id),
        source=source,
        external_id=external_id,
        title=title or "",
        description=description or "",
        quantity_text=quantity or "",
        country=country or "",
        buyer=buyer or "",
        canonical_url=url or "",
    )


def load_keys(conn: psycopg.Connection, rfq_ids: Iterable[int]) -> dict[int, RfqKeys]:
    """The dedup keys of the given RFQs (missing ids are left out)."""
    rows = conn.execute(SELECT_DEDUP_FIELDS, {"ids": list(rfq_ids)}).fetchall()
    return {int(row[0]): keys_for(_fields(row)) for row in rows}


def ensure_embeddings(conn: psycopg.Connection, embedder: Embedder, rfq_ids: Sequence[int]) -> int:
    """Embed the given RFQs that have no current vector for ``embedder`` (``rfqs/embedded`` normally did this already;
    this keeps dedup correct when it has not). Returns rows embedded."""
    return embed_rfqs(conn, embedder, rfq_ids)


def _acquire_lock(conn: psycopg.Connection) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (DEDUP_LOCK_KEY,))


def _after_candidate_search(rfq_id: int) -> None:
    """Test seam: called between candidate search and assignment (the window the advisory lock protects)."""


SELECT_ATTRIBUTE_FIELDS = """
SELECT id, title, description, quantity_text, COALESCE(country_code::text, country_raw), buyer_name, buyer_company
FROM rfqs WHERE id = ANY(%(ids)s::bigint[])
"""

SELECT_POSTING_ORDER = """
SELECT id FROM rfqs WHERE id = ANY(%(ids)s::bigint[]) ORDER BY posted_at NULLS LAST, id
"""


def _attribute_inputs(row: Sequence[Any]) -> dict[str, str]:
    _rfq_id, title, description, quantity, country, name, company = row
    description = description or ""
    if company and name and name != company:
        description = f"{description}\n{name}"  # a contact's pseudonym next to the company still links posts
    return {
        "title": title or "",
        "description": description,
        "quantity": quantity or "",
        "country": country or "",
        "buyer": company or name or "",
    }


def blocking_keys(attributes: RfqAttributes) -> tuple[list[str], list[str]]:
    """(every blocking key, the buyer keys among them): buyer pseudonyms, company words, domains, product word pairs."""
    buyer = [f"p:{h}" for h in sorted(attributes.buyer.pseudonyms)]
    buyer += [f"c:{' '.join(c[:2])}" for c in attributes.buyer.companies]
    buyer += [f"d:{d}" for d in sorted(attributes.buyer.email_domains)]
    # Pairs of product words: one word ("hair", "oil") is shared by thousands of RFQs, two rarely by chance.
    words = sorted(t for t in attributes.product_tokens if len(t) >= 4)[:MAX_BLOCKING_WORDS]
    product = [f"t:{a}+{b}" for i, a in enumerate(words) for b in words[i + 1 :]] if len(words) > 1 else []
    product += [f"t:{w}" for w in words] if len(words) == 1 else []
    return buyer + product, buyer


def load_attributes(
    conn: psycopg.Connection,
    rfq_ids: Iterable[int],
    inputs_out: dict[int, dict[str, str]] | None = None,
    changed_out: set[int] | None = None,
) -> dict[int, RfqAttributes]:
    """The dedup attributes of the given RFQs, stored (with blocking keys) where missing or out of date.

    ``inputs_out`` receives the fields each RFQ's attributes were read from (what a second opinion is shown);
    ``changed_out`` the RFQs whose text changed since their attributes were stored.
    """
    ids = list(rfq_ids)
    if not ids:
        return {}
    rows = conn.execute(SELECT_ATTRIBUTE_FIELDS, {"ids": ids}).fetchall()
    stored = {int(r[0]): (r[1], r[2]) for r in conn.execute(SELECT_STORED_ATTRIBUTE_HASHES, {"ids": ids}).fetchall()}
    result: dict[int, RfqAttributes] = {}
    writes = []
    for row in rows:
        rfq_id = int(row[0])
        inputs = _attribute_inputs(row)
        if inputs_out is not None:
            inputs_out[rfq_id] = inputs
        attributes = extract(**inputs)
        result[rfq_id] = attributes
        digest = inputs_sha256(inputs)
        if changed_out is not None and rfq_id in stored and stored[rfq_id][0] != digest:
            changed_out.add(rfq_id)
        if stored.get(rfq_id) != (digest, ATTRIBUTES_VERSION):
            keys, _buyer = blocking_keys(attributes)
            writes.append(
                {
                    "rfq_id": rfq_id,
                    "version": ATTRIBUTES_VERSION,
                    "text_sha256": digest,
                    "attributes": Jsonb(attributes.as_dict()),
                    "blocking_keys": keys,
                }
            )
    if writes:
        with conn.cursor() as cur:
            cur.executemany(UPSERT_ATTRIBUTES, writes)
    return result


def _cluster_members(conn: psycopg.Connection, cluster_ids: Iterable[int]) -> dict[int, list[int]]:
    members: dict[int, list[int]] = {}
    rows = conn.execute(SELECT_MEMBER_IDS, {"cluster_ids": list(cluster_ids), "limit": MEMBER_LIMIT}).fetchall()
    for cluster_id, rfq_id in rows:
        members.setdefault(int(cluster_id), []).append(int(rfq_id))
    return members


def _record_history(
    conn: psycopg.Connection, rfq_ids: Sequence[int], cluster_id: int, event: str, reason: str, actor: str
) -> None:
    conn.execute(
        INSERT_HISTORY,
        {"rfq_ids": list(rfq_ids), "cluster_id": cluster_id, "event": event, "reason": reason, "actor": actor},
    )


def assign_clusters(
    conn: psycopg.Connection,
    rfq_ids: Iterable[int],
    *,
    model: str,
    min_similarity: float,
    k: int = DEFAULT_K,
    ef_search: int = DEFAULT_EF_SEARCH,
    actor: str = "",
    pair_model: PairModel | None = None,
    settings: Settings | None = None,
) -> AssignmentResult:
    """Put every given RFQ that is not in a cluster yet into one (found, joined or merged); idempotent.

    RFQs are placed in posting order, so a bulk load and the same rows arriving one by one meet the same clusters.
    Runs in the caller's transaction (which must not be autocommit: the advisory lock lasts until it commits).
    ``model`` is the embedder whose vectors are compared (``min_similarity``: the cosine an ANN neighbour needs to be
    a candidate); ``pair_model`` decides pairs (default: the fitted one, at ``settings.dedup_min_probability``).
    With ``settings.anthropic_api_key``, pairs in ``settings.dedup_claude_band`` get Claude's cached verdict and the
    new ones go out in a batch (:mod:`rfq_pipeline.dedup.claude_band`). ``actor`` (a run id, ``cli``) is recorded on
    members, merges and the membership history.

    A batch of at least ``BULK_MIN_BATCH`` new RFQs is read and written a few statements at a time (:class:`_Bulk`),
    with the decisions and every table's content of the per-RFQ path; it takes that path when it cannot reproduce its
    reads (stale stored attributes, a sparsely clustered store), when an RFQ was split out, or with Claude's band.
    """
    if conn.autocommit:
        raise ValueError("assign_clusters needs a transaction: the advisory lock is released at commit")
    from pgvector.psycopg import register_vector

    register_vector(conn)  # idempotent; halfvec values come back as HalfVector
    pair_model = (pair_model or default_model()).with_threshold(settings.dedup_min_probability if settings else None)
    ids = sorted({int(i) for i in rfq_ids})
    result = AssignmentResult(considered=len(ids), min_probability=pair_model.min_probability)
    if not ids:
        return result
    conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")  # a generic plan cannot use the partial index
    conn.execute(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    # Every lookup here is by key, and tables grow faster than ANALYZE sees: statistics of a nearly empty table would
    # have the planner scan the whole (by then large) attribute table for each RFQ instead of probing its indexes.
    conn.execute("SET LOCAL enable_seqscan = off")
    _acquire_lock(conn)

    assigned = {int(r[0]) for r in conn.execute(SELECT_MEMBERSHIP, {"ids": ids}).fetchall()}
    result.already_assigned = len(assigned)
    inputs: dict[int, dict[str, str]] = {}
    changed: set[int] = set()
    attributes = load_attributes(conn, sorted(assigned), inputs, changed)  # a changed text is judged again
    todo = [int(r[0]) for r in conn.execute(SELECT_POSTING_ORDER, {"ids": [i for i in ids if i not in assigned]})]
    keys = load_keys(conn, todo)
    attributes |= load_attributes(conn, todo, inputs)
    vectors: dict[int, np.ndarray] = {
        int(r[0]): r[1].to_numpy()
        for r in conn.execute(SELECT_VECTORS, {"model": model, "ids": todo}, binary=True).fetchall()
    }
    context = _Context(conn, keys, attributes, vectors, model, min_similarity, k, actor, pair_model, settings, inputs)
    for rfq_id in sorted(changed):
        if _reevaluate(context, rfq_id):
            result.split += 1
            todo.append(rfq_id)  # placed again below, as a new arrival
    bulk = _place_in_bulk(context, todo) if _bulk_applies(context, todo) else None
    for rfq_id in todo:
        if rfq_id not in keys:
            result.considered -= 1  # deleted meanwhile
            continue
        assignment = bulk[rfq_id] if bulk is not None else _assign_one(context, rfq_id)
        if rfq_id in context.splits:
            _record_split(context, assignment)
        if rfq_id not in vectors:
            result.without_embedding += 1
        result.assignments.append(assignment)
        result.by_matched_by[assignment.matched_by] += 1
        if assignment.matched_by == "new":
            result.new_clusters += 1
        else:
            result.joined += 1
        result.merged += len(assignment.merged_clusters)
    result.second_opinions = context.band_counts
    return result


@dataclass
class _Context:
    """What one assignment call reads once and shares across its RFQs (keys and attributes grow as it goes)."""

    conn: psycopg.Connection
    keys: dict[int, RfqKeys]
    attributes: dict[int, RfqAttributes]
    vectors: dict[int, np.ndarray]
    model: str
    min_similarity: float
    k: int
    actor: str
    pair_model: PairModel
    settings: Settings | None = None
    inputs: dict[int, dict[str, str]] = field(default_factory=dict)
    band_counts: Counter[str] = field(default_factory=Counter)
    splits: dict[int, tuple[int, str]] = field(default_factory=dict)  # rfq -> (cluster it left, why)

    def load(self, rfq_ids: Iterable[int]) -> None:
        """Read keys, attributes and vectors of RFQs not seen yet in this call."""
        missing = [i for i in set(rfq_ids) if i not in self.attributes or i not in self.keys]
        if not missing:
            return
        self.keys.update(load_keys(self.conn, missing))
        self.attributes.update(load_attributes(self.conn, missing, self.inputs))
        # Binary results: parsing a vector's text form costs more than the query.
        rows = self.conn.execute(SELECT_VECTORS, {"model": self.model, "ids": missing}, binary=True).fetchall()
        self.vectors.update({int(r[0]): r[1].to_numpy() for r in rows})

    def cosine(self, a: int, b: int) -> float | None:
        """Cosine similarity of two RFQs' vectors (both are unit length), ``None`` when either has none."""
        if a not in self.vectors or b not in self.vectors:
            return None
        return float(np.dot(self.vectors[a].astype(np.float32), self.vectors[b].astype(np.float32)))

    def members(self, rfq_id: int, cluster_rfq_ids: Sequence[int]) -> list[Member]:
        """A cluster's members as the pair decision sees them, with their similarity to ``rfq_id``."""
        return [
            Member(other, self.attributes[other], self.cosine(rfq_id, other))
            for other in cluster_rfq_ids
            if other in self.attributes
        ]


def _candidates(context: _Context, rfq_id: int) -> dict[int, tuple[int, float | None]]:
    """Clustered RFQs worth judging: same content hash or URL, a shared buyer or product key, or ANN neighbours."""
    conn, rfq = context.conn, context.keys[rfq_id]
    found: dict[int, tuple[int, float | None]] = {}
    if rfq.content_hash or rfq.url_key:
        params = {"content_hash": rfq.content_hash, "url_key": rfq.url_key, "rfq_id": rfq.id}
        for other, cluster_id in conn.execute(SELECT_EXACT_CANDIDATES, params | {"limit": EXACT_CANDIDATE_LIMIT}):
            found[int(other)] = (int(cluster_id), None)
    keys, buyer_keys = blocking_keys(context.attributes[rfq_id])
    if keys:
        params = {"keys": keys, "buyer_keys": buyer_keys, "rfq_id": rfq_id, "limit": BLOCKING_CANDIDATE_LIMIT}
        for other, cluster_id in conn.execute(SELECT_BLOCKING_CANDIDATES, params):
            found.setdefault(int(other), (int(cluster_id), None))
    vector = context.vectors.get(rfq_id)
    if vector is not None:
        query = HalfVector(np.asarray(vector, dtype=np.float16))
        params = {"query": query, "model": context.model, "rfq_id": rfq.id, "k": context.k}
        for other, cluster_id, similarity in conn.execute(SELECT_ANN_CANDIDATES, params):
            if float(similarity) >= context.min_similarity or int(other) in found:
                found[int(other)] = (int(cluster_id), float(similarity))
    return found


def _exact_matches(
    context: _Context, rfq_id: int, candidates: dict[int, tuple[int, float | None]]
) -> dict[int, tuple[MatchDecision, int]]:
    """Clusters matched on a listing id, URL or identical content (no similarity needed)."""
    per_cluster: dict[int, tuple[MatchDecision, int]] = {}
    for other, (cluster_id, _similarity) in candidates.items():
        if other not in context.keys:
            continue
        decision = decide(context.keys[rfq_id], context.keys[other])
        if not decision.matched:
            continue
        current = per_cluster.get(cluster_id)
        if current is None or best_decision([current[0], decision]) is decision:
            per_cluster[cluster_id] = (decision, other)
    return per_cluster


def _same_request_matches(
    context: _Context, rfq_id: int, cluster_ids: Iterable[int], members: dict[int, list[int]]
) -> dict[int, tuple[MatchDecision, int]]:
    """Clusters the pair model says ``rfq_id`` belongs to: one member likely the same request, none vetoing."""
    clusters = {c: context.members(rfq_id, members.get(c, [])) for c in cluster_ids}
    override = _second_opinion(context, rfq_id, clusters)
    verdicts = judge_clusters(context.attributes[rfq_id], clusters, context.pair_model, override)
    matched: dict[int, tuple[MatchDecision, int]] = {}
    for verdict in verdicts:
        if not verdict.matched:
            continue
        evidence = verdict.best.evidence
        checks = evidence.as_dict() | {"probability": round(verdict.best.probability, 4)}
        decision = MatchDecision(True, "near_duplicate", evidence.cosine, checks, verdict.best.reason)
        matched[verdict.cluster_id] = (decision, verdict.best_rfq_id)
    return matched


SELECT_CLUSTER_OF = """
SELECT m.cluster_id, c.canonical_rfq_id FROM dedup_cluster_members m JOIN dedup_clusters c ON c.id = m.cluster_id
WHERE m.rfq_id = %(rfq_id)s
"""

DELETE_MEMBER = "DELETE FROM dedup_cluster_members WHERE rfq_id = %(rfq_id)s"

# The oldest remaining member becomes the canonical RFQ when the canonical one leaves.
REPOINT_CANONICAL = """
UPDATE dedup_clusters SET canonical_rfq_id = (
    SELECT min(rfq_id) FROM dedup_cluster_members WHERE cluster_id = %(cluster_id)s
), updated_at = now()
WHERE id = %(cluster_id)s AND canonical_rfq_id = %(rfq_id)s
"""

INSERT_SPLIT = """
INSERT INTO dedup_cluster_splits (from_cluster_id, into_cluster_id, rfq_ids, reason, split_by)
VALUES (%(from_id)s, %(into_id)s, %(rfq_ids)s::bigint[], %(reason)s, %(split_by)s)
"""

MARK_SPLIT_FROM = "UPDATE dedup_clusters SET split_from = %(from_id)s WHERE id = %(into_id)s"


def _reevaluate(context: _Context, rfq_id: int) -> bool:
    """Judge a clustered RFQ whose text changed against the rest of its cluster; take it out if it no longer fits.

    Returns whether it was taken out (the caller places it again). A cluster of one keeps its member.
    """
    conn = context.conn
    row = conn.execute(SELECT_CLUSTER_OF, {"rfq_id": rfq_id}).fetchone()
    if row is None:
        return False
    cluster_id = int(row[0])
    others = [m for m in _cluster_members(conn, [cluster_id]).get(cluster_id, []) if m != rfq_id]
    if not others:
        return False
    context.load([rfq_id, *others])
    verdicts = judge_clusters(
        context.attributes[rfq_id], {cluster_id: context.members(rfq_id, others)}, context.pair_model
    )
    exact = _exact_matches(context, rfq_id, {other: (cluster_id, None) for other in others})
    verdict = verdicts[0]
    if exact or verdict.matched:
        reason = "text changed; still the same request" + ("" if exact else f" ({verdict.best.reason})")
        _record_history(conn, [rfq_id], cluster_id, "kept", reason, context.actor)
        return False
    reason = f"text changed: {verdict.veto or verdict.best.reason}"
    conn.execute(DELETE_MEMBER, {"rfq_id": rfq_id})
    conn.execute(REPOINT_CANONICAL, {"cluster_id": cluster_id, "rfq_id": rfq_id})
    conn.execute(REFRESH_MEMBER_COUNTS, {"ids": [cluster_id]})
    _record_history(conn, [rfq_id], cluster_id, "split_out", reason, context.actor)
    context.splits[rfq_id] = (cluster_id, reason)
    return True


def _record_split(context: _Context, assignment: Assignment) -> None:
    """Log where a split-out RFQ went; a cluster it founded remembers the one it left."""
    from_id, reason = context.splits.pop(assignment.rfq_id)
    params = {"from_id": from_id, "into_id": assignment.cluster_id, "rfq_ids": [assignment.rfq_id]}
    context.conn.execute(INSERT_SPLIT, params | {"reason": reason, "split_by": context.actor})
    if assignment.matched_by == "new":
        context.conn.execute(MARK_SPLIT_FROM, {"from_id": from_id, "into_id": assignment.cluster_id})


def _second_opinion(
    context: _Context, rfq_id: int, clusters: dict[int, list[Member]]
) -> Callable[[int, PairDecision], PairDecision] | None:
    """Claude's verdicts for the pairs in the uncertain band (cached at once, new ones batched), when configured."""
    settings = context.settings
    if settings is None or not settings.anthropic_api_key or settings.dedup_claude_band is None:
        return None
    from rfq_pipeline.dedup.claude_band import PairRfq, UncertainPair, is_uncertain, resolve_uncertain

    band = settings.dedup_claude_band
    new_side = PairRfq.from_inputs(str(rfq_id), context.inputs[rfq_id], context.attributes[rfq_id])
    pairs: dict[int, UncertainPair] = {}
    for members in clusters.values():
        for member in members:
            decision = decide_pair(context.attributes[rfq_id], member.attributes, member.cosine, context.pair_model)
            if member.rfq_id in context.inputs and is_uncertain(decision, band):
                other = PairRfq.from_inputs(str(member.rfq_id), context.inputs[member.rfq_id], member.attributes)
                pairs[member.rfq_id] = UncertainPair(new_side, other, decision)
    if not pairs:
        return None
    result = resolve_uncertain(context.conn, list(pairs.values()), settings=settings, band=band, run_id=context.actor)
    context.band_counts.update({"asked": result.considered, "cached": result.cached, "submitted": result.submitted})
    context.band_counts["answered"] += len(result.verdicts)

    def override(member_id: int, decision: PairDecision) -> PairDecision:
        pair = pairs.get(member_id)
        return decision if pair is None else result.decision_for(pair)

    return override


def _promising_clusters(
    context: _Context,
    rfq_id: int,
    candidates: dict[int, tuple[int, float | None]],
    exact: dict[int, tuple[MatchDecision, int]],
) -> set[int]:
    """Clusters where a candidate member is the same request (or one for Claude to judge): only those clusters'
    other members are read for the complete-linkage check."""
    settings = context.settings
    band = settings.dedup_claude_band if settings is not None and settings.anthropic_api_key else None
    new = context.attributes[rfq_id]
    promising: set[int] = set()
    for other, (cluster_id, _similarity) in candidates.items():
        if cluster_id in exact or cluster_id in promising or other not in context.attributes:
            continue
        decision = decide_pair(new, context.attributes[other], context.cosine(rfq_id, other), context.pair_model)
        uncertain = band is not None and not decision.vetoes and band[0] <= decision.probability < band[1]
        if decision.matched or uncertain:
            promising.add(cluster_id)
    return promising


def _assign_one(context: _Context, rfq_id: int) -> Assignment:
    conn, actor = context.conn, context.actor
    candidates = _candidates(context, rfq_id)
    context.load(candidates)
    per_cluster = _exact_matches(context, rfq_id, candidates)
    promising = _promising_clusters(context, rfq_id, candidates, per_cluster)
    members = _cluster_members(conn, set(per_cluster) | promising)
    context.load(rfq for ids in members.values() for rfq in ids)
    per_cluster |= _same_request_matches(context, rfq_id, sorted(promising - set(per_cluster)), members)
    _after_candidate_search(rfq_id)

    rfq = context.keys[rfq_id]
    base = {"rfq_id": rfq.id, "content_hash": rfq.content_hash, "url_key": rfq.url_key, "assigned_by": actor}
    attributes = context.attributes[rfq_id].as_dict()
    if not per_cluster:
        row = conn.execute(INSERT_CLUSTER, {"rfq_id": rfq.id}).fetchone()
        assert row is not None
        cluster_id = int(row[0])
        member = {"cluster_id": cluster_id, "matched_by": "new", "similarity": None, "matched_rfq_id": None}
        evidence = {"reason": "no matching cluster", "attributes": attributes}
        with conn.pipeline():  # three writes, one round trip
            conn.execute(INSERT_MEMBER, base | member | {"evidence": Jsonb(evidence)})
            conn.execute(REFRESH_MEMBER_COUNTS, {"ids": [cluster_id]})
            _record_history(conn, [rfq.id], cluster_id, "founded", "no matching cluster", actor)
        return Assignment(rfq.id, cluster_id, "new", None, None)

    ranked, target, absorbed = _choose_clusters(context, rfq_id, per_cluster, members)
    decision, matched_rfq = per_cluster[ranked[0]]
    for from_id in absorbed:
        moved = [int(r[0]) for r in conn.execute(MOVE_MEMBERS, {"into_id": target, "from_id": from_id}).fetchall()]
        conn.execute(REPOINT_MERGED, {"into_id": target, "from_id": from_id})
        conn.execute(MARK_MERGED, {"into_id": target, "from_id": from_id})
        merge_decision, merge_rfq = per_cluster[from_id]
        reason = f"rfq {rfq.id} matches {merge_rfq} of cluster {from_id} ({merge_decision.reason}) and cluster {target}"
        conn.execute(
            INSERT_MERGE,
            {
                "from_id": from_id,
                "into_id": target,
                "rfq_id": rfq.id,
                "matched_by": merge_decision.matched_by,
                "similarity": merge_decision.similarity,
                "moved": moved,
                "merged_by": actor,
                "reason": reason,
            },
        )
        _record_history(conn, moved, target, "merged_in", reason, actor)
    evidence = {
        "reason": decision.reason,
        "checks": decision.checks,
        "merged_clusters": absorbed,
        "attributes": attributes,
    }
    member = {
        "cluster_id": target,
        "matched_by": decision.matched_by,
        "similarity": decision.similarity,
        "matched_rfq_id": matched_rfq,
        "evidence": Jsonb(evidence),
    }
    with conn.pipeline():
        conn.execute(INSERT_MEMBER, base | member)
        conn.execute(REFRESH_MEMBER_COUNTS, {"ids": [target]})
        _record_history(conn, [rfq.id], target, "joined", f"matches rfq {matched_rfq}: {decision.reason}", actor)
    assert decision.matched_by is not None
    return Assignment(rfq.id, target, decision.matched_by, decision.similarity, matched_rfq, tuple(absorbed))


def _choose_clusters(
    context: _Context,
    rfq_id: int,
    per_cluster: Mapping[int, tuple[MatchDecision, int]],
    members: Mapping[int, Sequence[int]],
) -> tuple[list[int], int, list[int]]:
    """The matched clusters strongest first, the one the RFQ joins and those merged into it.

    A record can match two clusters that must stay apart (two buyers, two sizes): only compatible ones are merged,
    and the oldest survives (ids grow with creation, serialised by the lock).
    """
    ranked = sorted(per_cluster, key=lambda c: (*_rank(per_cluster[c][0]), c))
    chosen = [ranked[0]]
    for cluster_id in ranked[1:]:
        if all(
            clusters_compatible(
                context.members(rfq_id, members.get(c, [])), context.members(rfq_id, members.get(cluster_id, []))
            )
            for c in chosen
        ):
            chosen.append(cluster_id)
    target = min(chosen)
    return ranked, target, sorted(c for c in chosen if c != target)


def _rank(decision: MatchDecision) -> tuple[int, float]:
    return EVIDENCE_RANK[decision.matched_by or ""], -(decision.similarity or 0.0)


def memberships(conn: psycopg.Connection, rfq_ids: Iterable[int]) -> dict[int, tuple[int, str, float | None]]:
    """``rfq_id -> (cluster_id, matched_by, similarity)`` for the given RFQs that are in a cluster."""
    rows = conn.execute(SELECT_MEMBERSHIP, {"ids": list(rfq_ids)}).fetchall()
    return {int(r[0]): (int(r[1]), str(r[2]), None if r[3] is None else float(r[3])) for r in rows}


def cluster_invariants(conn: psycopg.Connection) -> dict[str, int]:
    """Counts of active and merged clusters and of every invariant violation (all violations should be 0)."""
    cur = conn.execute(SELECT_INVARIANTS)
    row = cur.fetchone()
    assert row is not None and cur.description is not None
    return {col.name: int(value) for col, value in zip(cur.description, row, strict=True)}


# ------------------------------------------------------------------------------------------------ the bulk path
#
# One round trip per statement per RFQ caps the per-RFQ path at about a hundred RFQs a second. The bulk path reads the
# stored (pre-batch) state a few set-based statements at a time, decides every RFQ in posting order in memory (what
# the batch itself placed, joined and merged so far is tracked here, so an earlier RFQ of the batch is a candidate for
# a later one exactly as on the per-RFQ path) and writes everything at the end, in the order the per-RFQ path would.
# Nothing is written before the end, so any read of the database during the decisions still sees the pre-batch state.

# Batches smaller than this take the per-RFQ path (the same decisions; fewer statements for one or two RFQs).
BULK_MIN_BATCH = 8
# Provisional ids of clusters founded in the batch: above every stored id and in founding order, as the real ones
# (handed out by the sequence at the end, under the advisory lock) will be.
_PROVISIONAL_BASE = 1 << 62
# Neighbours of each RFQ's HNSW scan read up front; an RFQ with fewer than k clustered ones among them reads further,
# and with fewer still among ANN_RESCAN_LIMIT sends the batch to the per-RFQ path (a sparsely clustered store).
ANN_SCAN_LIMIT = 40
ANN_RESCAN_LIMIT = 1_000

SELECT_EXACT_CANDIDATES_BULK = """
SELECT q.id, c.rfq_id, c.cluster_id
FROM unnest(%(ids)s::bigint[], %(hashes)s::text[], %(urls)s::text[]) AS q(id, content_hash, url_key)
CROSS JOIN LATERAL (
    SELECT m.rfq_id, m.cluster_id FROM dedup_cluster_members m
    WHERE (m.content_hash = q.content_hash OR m.url_key = q.url_key) AND m.rfq_id <> q.id
    ORDER BY m.cluster_id, m.rfq_id
    LIMIT %(limit)s
) c
"""

# The exact candidates of one RFQ as the per-RFQ query would see them after the batch's merges so far: a merge moves
# members to an older cluster, which can reorder them ahead of the limit.
SELECT_EXACT_CANDIDATES_MERGED = """
SELECT m.rfq_id, m.cluster_id
FROM dedup_cluster_members m
LEFT JOIN unnest(%(from_ids)s::bigint[], %(into_ids)s::bigint[]) AS a(from_id, into_id) ON a.from_id = m.cluster_id
WHERE (m.content_hash = %(content_hash)s OR m.url_key = %(url_key)s) AND m.rfq_id <> %(rfq_id)s
ORDER BY COALESCE(a.into_id, m.cluster_id), m.rfq_id
LIMIT %(limit)s
"""

# Keys travel joined by a unit separator (arrays of arrays must be rectangular); OFFSET 0 keeps the GIN probe a
# subquery of its own, as the per-RFQ query's materialized CTE does.
SELECT_BLOCKING_CANDIDATES_BULK = """
SELECT q.id, c.rfq_id, c.cluster_id, c.same_buyer
FROM (
    SELECT t.id, string_to_array(t.keys, E'\\x1f') AS keys, string_to_array(t.buyer_keys, E'\\x1f') AS buyer_keys
    FROM unnest(%(ids)s::bigint[], %(keys)s::text[], %(buyer_keys)s::text[]) AS t(id, keys, buyer_keys)
) q
CROSS JOIN LATERAL (
    SELECT h.rfq_id, m.cluster_id, h.same_buyer
    FROM (
        SELECT a.rfq_id, a.blocking_keys && q.buyer_keys AS same_buyer
        FROM rfq_dedup_attributes a
        WHERE a.blocking_keys && q.keys AND a.rfq_id <> q.id
        OFFSET 0
    ) h
    JOIN dedup_cluster_members m ON m.rfq_id = h.rfq_id
    ORDER BY h.same_buyer DESC, h.rfq_id DESC
    LIMIT %(limit)s
) c
"""

# SELECT_ANN_CANDIDATES without the join to the members (same cast, operator, predicate: the same HNSW scan).
SELECT_ANN_SCAN = """
SELECT e.rfq_id, 1 - (e.embedding::halfvec(384) <=> %(query)s::halfvec(384)) AS similarity
FROM rfq_embeddings e
WHERE e.model = %(model)s AND e.rfq_id <> %(rfq_id)s
ORDER BY e.embedding::halfvec(384) <=> %(query)s::halfvec(384)
LIMIT %(limit)s
"""

SELECT_CLUSTER_IDS = """
SELECT nextval(pg_get_serial_sequence('dedup_clusters', 'id')) FROM generate_series(1, %(n)s)
"""

INSERT_CLUSTERS_BULK = """
INSERT INTO dedup_clusters (id, canonical_rfq_id, member_count)
SELECT id, rfq_id, 0 FROM unnest(%(ids)s::bigint[], %(rfq_ids)s::bigint[]) WITH ORDINALITY AS t(id, rfq_id, n)
ORDER BY n
"""

INSERT_MEMBERS_BULK = """
INSERT INTO dedup_cluster_members (rfq_id, cluster_id, matched_by, similarity, matched_rfq_id, content_hash, url_key,
                                   evidence, assigned_by)
SELECT rfq_id, cluster_id, matched_by, similarity, matched_rfq_id, content_hash, url_key, evidence, %(assigned_by)s
FROM unnest(%(rfq_ids)s::bigint[], %(cluster_ids)s::bigint[], %(matched_by)s::text[], %(similarity)s::float8[],
            %(matched_rfq_ids)s::bigint[], %(content_hashes)s::text[], %(url_keys)s::text[], %(evidence)s::jsonb[])
     WITH ORDINALITY AS t(rfq_id, cluster_id, matched_by, similarity, matched_rfq_id, content_hash, url_key, evidence,
                          n)
ORDER BY n
ON CONFLICT (rfq_id) DO NOTHING
"""

INSERT_HISTORY_BULK = """
INSERT INTO dedup_membership_history (rfq_id, cluster_id, event, reason, actor)
SELECT rfq_id, cluster_id, event, reason, %(actor)s
FROM unnest(%(rfq_ids)s::bigint[], %(cluster_ids)s::bigint[], %(events)s::text[], %(reasons)s::text[])
     WITH ORDINALITY AS t(rfq_id, cluster_id, event, reason, n)
ORDER BY n
"""

# The per-RFQ path's move, merge line and history in one statement: the moved ids keep the order the UPDATE returns.
MERGE_CLUSTER = """
WITH moved AS (
    UPDATE dedup_cluster_members SET cluster_id = %(into_id)s WHERE cluster_id = %(from_id)s RETURNING rfq_id
), merge AS (
    INSERT INTO dedup_cluster_merges (from_cluster_id, into_cluster_id, trigger_rfq_id, matched_by, similarity,
                                      moved_rfq_ids, merged_by, reason)
    SELECT %(from_id)s::bigint, %(into_id)s::bigint, %(rfq_id)s::bigint, %(matched_by)s::text, %(similarity)s::float8,
           COALESCE(array_agg(moved.rfq_id), '{}'::bigint[]), %(merged_by)s::text, %(reason)s::text
    FROM moved
)
INSERT INTO dedup_membership_history (rfq_id, cluster_id, event, reason, actor)
SELECT moved.rfq_id, %(into_id)s::bigint, 'merged_in', %(reason)s::text, %(merged_by)s::text FROM moved
"""


class _FallBack(Exception):
    """The bulk path cannot reproduce the per-RFQ path's reads for this batch (nothing is written yet): a stored RFQ's
    attributes are out of date (the per-RFQ path rewrites them as it meets them, which changes the blocking keys
    later RFQs see), or an RFQ's nearest clustered neighbours lie beyond the scanned ones (a sparsely clustered
    store). The batch takes the per-RFQ path."""


@dataclass
class _Placed:
    """One RFQ's decision, waiting to be written (cluster ids provisional until the end)."""

    rfq_id: int
    cluster_id: int
    matched_by: str
    similarity: float | None
    matched_rfq_id: int | None
    evidence: dict[str, Any]
    history_reason: str
    founded: bool
    # (absorbed cluster, its decision, the member it matched) in the order the per-RFQ path merges them
    merges: list[tuple[int, MatchDecision, int]] = field(default_factory=list)


class _Bulk:
    """The state of one bulk placement: the stored candidates read up front and what the batch did so far."""

    def __init__(self, context: _Context, todo: Sequence[int]) -> None:
        self.context = context
        self.todo = list(todo)
        self.stored_cluster: dict[int, int] = {}  # stored member -> its cluster before the batch
        self.stored_members: dict[int, list[int]] = {}  # stored cluster -> its newest members, newest first
        self.merged_into: dict[int, int] = {}  # cluster absorbed in this batch -> the one it went into
        self.absorbed: dict[int, list[int]] = {}  # active cluster -> every cluster absorbed into it in this batch
        self.placed_cluster: dict[int, int] = {}  # batch RFQ -> the cluster it was placed in
        self.batch_members: dict[int, list[int]] = {}  # cluster -> batch RFQs placed in it
        self.by_exact: dict[str, list[int]] = {}  # "h:"/"u:" + key -> batch RFQs with it
        self.by_block: dict[str, list[int]] = {}
        self.block_keys: dict[int, set[str]] = {}
        self.exact: dict[int, list[tuple[int, int]]] = {}
        self.blocking: dict[int, list[tuple[int, int, bool]]] = {}  # (other, cluster, same buyer)
        self.ann: dict[int, list[tuple[int, float]]] = {}  # the HNSW scan's first neighbours, in scan order
        self.founded = 0
        self.out: list[_Placed] = []

    # ---------------------------------------------------------------------------------------------- stored reads

    def prefetch(self) -> None:
        """Every todo RFQ's stored candidates, their data, and the members of the clusters it will likely judge."""
        conn, context = self.context.conn, self.context
        ids = [i for i in self.todo if i in context.keys]
        exact_ids = [i for i in ids if context.keys[i].content_hash or context.keys[i].url_key]
        params = {
            "ids": exact_ids,
            "hashes": [context.keys[i].content_hash for i in exact_ids],
            "urls": [context.keys[i].url_key for i in exact_ids],
            "limit": EXACT_CANDIDATE_LIMIT,
        }
        for rfq_id, other, cluster_id in conn.execute(SELECT_EXACT_CANDIDATES_BULK, params):
            self.exact.setdefault(int(rfq_id), []).append((int(other), int(cluster_id)))
            self.stored_cluster[int(other)] = int(cluster_id)
        block_ids, keys, buyers = [], [], []
        for i in ids:
            all_keys, buyer_keys = blocking_keys(context.attributes[i])
            if all_keys:
                block_ids.append(i)
                keys.append("\x1f".join(all_keys))
                buyers.append("\x1f".join(buyer_keys))
        params = {"ids": block_ids, "keys": keys, "buyer_keys": buyers, "limit": BLOCKING_CANDIDATE_LIMIT}
        for rfq_id, other, cluster_id, same_buyer in conn.execute(SELECT_BLOCKING_CANDIDATES_BULK, params):
            self.blocking.setdefault(int(rfq_id), []).append((int(other), int(cluster_id), bool(same_buyer)))
            self.stored_cluster[int(other)] = int(cluster_id)
        # The HNSW scan of the per-RFQ lookup without its join: the same neighbours in the same order (the join only
        # filters the scan). Which of them are clustered is decided per RFQ below, batch included, so each RFQ keeps
        # the first k clustered neighbours of its scan, as its own lookup would.
        if not conn.execute("SELECT EXISTS (SELECT 1 FROM dedup_cluster_members)").fetchone()[0]:  # type: ignore[index]
            raise _FallBack("nothing clustered yet: the batch's own RFQs are all the neighbours it will find")
        # One statement per RFQ, pipelined (no round trip each): the planner walks the HNSW index for a constant query
        # vector, as on the per-RFQ path, where for a vector taken from a LATERAL row it may sort exact distances.
        ann_ids = [i for i in ids if i in context.vectors]
        with conn.pipeline():
            cursors = [
                conn.execute(
                    SELECT_ANN_SCAN,
                    {
                        "query": HalfVector(np.asarray(context.vectors[i], dtype=np.float16)),
                        "model": context.model,
                        "rfq_id": i,
                        "limit": ANN_SCAN_LIMIT,
                    },
                )
                for i in ann_ids
            ]
        for rfq_id, cursor in zip(ann_ids, cursors, strict=True):
            self.ann[rfq_id] = [(int(other), float(similarity)) for other, similarity in cursor.fetchall()]
        scanned = list({other for near in self.ann.values() for other, _s in near})
        self.stored_cluster.update(_stored_clusters(conn, scanned))
        self.load(self.stored_cluster)
        # Every stored candidate's cluster: a superset of the clusters the RFQs will read members of (those of exact
        # and promising candidates), read at once; a cluster missed (one the batch itself made a candidate) is read
        # when needed.
        likely = {self.stored_cluster[o] for i in ids for o in self._stored_only_candidates(i)}
        self.stored_member_ids(likely)

    def load(self, rfq_ids: Iterable[int]) -> None:
        """Keys, attributes and vectors of RFQs not read yet; stale stored attributes abort the bulk path."""
        context = self.context
        missing = [i for i in set(rfq_ids) if i not in context.attributes or i not in context.keys]
        if not missing:
            return
        context.keys.update(load_keys(context.conn, missing))
        context.attributes.update(_read_attributes(context.conn, missing, context.inputs))
        rows = context.conn.execute(SELECT_VECTORS, {"model": context.model, "ids": missing}, binary=True).fetchall()
        context.vectors.update({int(r[0]): r[1].to_numpy() for r in rows})

    def stored_member_ids(self, cluster_ids: Iterable[int]) -> None:
        """Read (and load) the stored members of stored clusters not read yet."""
        wanted = [c for c in set(cluster_ids) if c < _PROVISIONAL_BASE and c not in self.stored_members]
        if not wanted:
            return
        found = _cluster_members(self.context.conn, wanted)
        for cluster_id in wanted:
            members = sorted(found.get(cluster_id, []), reverse=True)
            self.stored_members[cluster_id] = members
            for rfq_id in members:
                self.stored_cluster.setdefault(rfq_id, cluster_id)
        self.load(rfq for c in wanted for rfq in self.stored_members[c])

    # ------------------------------------------------------------------------------------------- batch state

    def root(self, cluster_id: int) -> int:
        """The cluster a (possibly absorbed) cluster lives on in now."""
        while cluster_id in self.merged_into:
            cluster_id = self.merged_into[cluster_id]
        return cluster_id

    def cluster_of(self, rfq_id: int) -> int:
        placed = self.placed_cluster.get(rfq_id)
        return self.root(placed if placed is not None else self.stored_cluster[rfq_id])

    def members(self, cluster_ids: Iterable[int]) -> dict[int, list[int]]:
        """Each active cluster's newest MEMBER_LIMIT members, newest first (what SELECT_MEMBER_IDS returns now)."""
        wanted = set(cluster_ids)
        self.stored_member_ids(c for w in wanted for c in (w, *self.absorbed.get(w, ())))
        out: dict[int, list[int]] = {}
        for cluster_id in wanted:
            ids: list[int] = []
            for part in (cluster_id, *self.absorbed.get(cluster_id, ())):
                ids += self.stored_members.get(part, [])
                ids += self.batch_members.get(part, [])
            if ids:
                out[cluster_id] = sorted(ids, reverse=True)[:MEMBER_LIMIT]
        return out

    def _stored_only_candidates(self, rfq_id: int) -> dict[int, tuple[int, float | None]]:
        found: dict[int, tuple[int, float | None]] = {}
        for other, cluster_id in self.exact.get(rfq_id, []):
            found[other] = (cluster_id, None)
        for other, cluster_id, _same_buyer in self.blocking.get(rfq_id, []):
            found.setdefault(other, (cluster_id, None))
        clustered = [(o, s) for o, s in self.ann.get(rfq_id, []) if o in self.stored_cluster]
        for other, similarity in clustered[: self.context.k]:
            if similarity >= self.context.min_similarity or other in found:
                found[other] = (self.stored_cluster[other], similarity)
        return found

    def candidates(self, rfq_id: int) -> dict[int, tuple[int, float | None]]:
        """What :func:`_candidates` would return now: stored candidates and the batch's earlier RFQs, same limits."""
        context = self.context
        rfq = context.keys[rfq_id]
        found: dict[int, tuple[int, float | None]] = {}
        if rfq.content_hash or rfq.url_key:
            stored = self.exact.get(rfq_id, [])
            if self.merged_into and len(stored) >= EXACT_CANDIDATE_LIMIT:
                stored = self._exact_after_merges(rfq)
            batch = {o for k in _exact_keys(rfq) for o in self.by_exact.get(k, [])}
            rows = [(self.cluster_of(o), o) for o, _c in stored] + [(self.cluster_of(o), o) for o in batch]
            for cluster_id, other in sorted(rows)[:EXACT_CANDIDATE_LIMIT]:
                found[other] = (cluster_id, None)
        keys, buyer_keys = blocking_keys(context.attributes[rfq_id])
        if keys:
            buyer = set(buyer_keys)
            batch = {o for key in keys for o in self.by_block.get(key, [])}
            ranked = [(same, o) for o, _c, same in self.blocking.get(rfq_id, [])]
            ranked += [(bool(self.block_keys[o] & buyer), o) for o in batch]
            ranked.sort(key=lambda r: (not r[0], -r[1]))
            for _same, other in ranked[:BLOCKING_CANDIDATE_LIMIT]:
                found.setdefault(other, (self.cluster_of(other), None))
        if rfq_id in context.vectors:
            scan = self.ann.get(rfq_id, [])
            near = [(o, s) for o, s in scan if o in self.placed_cluster or o in self.stored_cluster][: context.k]
            if len(near) < context.k and len(scan) >= ANN_SCAN_LIMIT:
                scan = self._rescan(rfq_id)
                near = [(o, s) for o, s in scan if o in self.placed_cluster or o in self.stored_cluster][: context.k]
                if len(near) < context.k and len(scan) >= ANN_RESCAN_LIMIT:
                    raise _FallBack(f"rfq {rfq_id}: fewer than k clustered among the first scanned neighbours")
            for other, similarity in near:
                if similarity >= context.min_similarity or other in found:
                    found[other] = (self.cluster_of(other), similarity)
        return found

    def _rescan(self, rfq_id: int) -> list[tuple[int, float]]:
        """More of an RFQ's HNSW scan (the same sequence, further), with the stored members among it."""
        params = {
            "query": HalfVector(np.asarray(self.context.vectors[rfq_id], dtype=np.float16)),
            "model": self.context.model,
            "rfq_id": rfq_id,
            "limit": ANN_RESCAN_LIMIT,
        }
        scan = [(int(o), float(s)) for o, s in self.context.conn.execute(SELECT_ANN_SCAN, params)]
        for other, cluster_id in _stored_clusters(self.context.conn, [o for o, _s in scan]).items():
            self.stored_cluster.setdefault(other, cluster_id)
        self.ann[rfq_id] = scan
        return scan

    def _exact_after_merges(self, rfq: RfqKeys) -> list[tuple[int, int]]:
        sources = [c for c in self.merged_into if c < _PROVISIONAL_BASE]
        params = {
            "from_ids": sources,
            "into_ids": [self.root(c) for c in sources],
            "content_hash": rfq.content_hash,
            "url_key": rfq.url_key,
            "rfq_id": rfq.id,
            "limit": EXACT_CANDIDATE_LIMIT,
        }
        rows = [(int(r[0]), int(r[1])) for r in self.context.conn.execute(SELECT_EXACT_CANDIDATES_MERGED, params)]
        for other, cluster_id in rows:
            self.stored_cluster.setdefault(other, cluster_id)
        self.load(other for other, _c in rows)
        return rows

    # ------------------------------------------------------------------------------------------- decisions

    def place(self, rfq_id: int) -> None:
        """Decide one RFQ as :func:`_assign_one` would at this point, and remember it (written by :meth:`flush`)."""
        context = self.context
        candidates = self.candidates(rfq_id)
        self.load(candidates)
        per_cluster = _exact_matches(context, rfq_id, candidates)
        promising = _promising_clusters(context, rfq_id, candidates, per_cluster)
        members = self.members(set(per_cluster) | promising)
        per_cluster |= _same_request_matches(context, rfq_id, sorted(promising - set(per_cluster)), members)
        _after_candidate_search(rfq_id)

        attributes = context.attributes[rfq_id].as_dict()
        if not per_cluster:
            cluster_id = _PROVISIONAL_BASE + self.founded
            self.founded += 1
            evidence = {"reason": "no matching cluster", "attributes": attributes}
            self._remember(_Placed(rfq_id, cluster_id, "new", None, None, evidence, "no matching cluster", True))
            return
        ranked, target, absorbed = _choose_clusters(context, rfq_id, per_cluster, members)
        decision, matched_rfq = per_cluster[ranked[0]]
        merges = [(from_id, *per_cluster[from_id]) for from_id in absorbed]
        for from_id in absorbed:
            self.merged_into[from_id] = target
            self.absorbed.setdefault(target, []).extend([from_id, *self.absorbed.pop(from_id, [])])
        evidence = {"reason": decision.reason, "checks": decision.checks, "merged_clusters": absorbed}
        evidence["attributes"] = attributes
        assert decision.matched_by is not None
        reason = f"matches rfq {matched_rfq}: {decision.reason}"
        placed = _Placed(rfq_id, target, decision.matched_by, decision.similarity, matched_rfq, evidence, reason, False)
        placed.merges = merges
        self._remember(placed)

    def _remember(self, placed: _Placed) -> None:
        """Make a placed RFQ a candidate for the batch's later ones, as its row would on the per-RFQ path."""
        rfq_id, context = placed.rfq_id, self.context
        self.out.append(placed)
        self.placed_cluster[rfq_id] = placed.cluster_id
        self.batch_members.setdefault(placed.cluster_id, []).append(rfq_id)
        for key in _exact_keys(context.keys[rfq_id]):
            self.by_exact.setdefault(key, []).append(rfq_id)
        keys, _buyer = blocking_keys(context.attributes[rfq_id])
        self.block_keys[rfq_id] = set(keys)
        for key in keys:
            self.by_block.setdefault(key, []).append(rfq_id)

    # ------------------------------------------------------------------------------------------- writes

    def flush(self) -> list[Assignment]:
        """Write every decision, in the per-RFQ path's order and with its content; the assignments made."""
        conn, actor = self.context.conn, self.context.actor
        real: dict[int, int] = {}
        if self.founded:
            ids = sorted(int(r[0]) for r in conn.execute(SELECT_CLUSTER_IDS, {"n": self.founded}).fetchall())
            real = {_PROVISIONAL_BASE + n: cluster_id for n, cluster_id in enumerate(ids)}

        def real_id(cluster_id: int) -> int:
            return real.get(cluster_id, cluster_id)

        assignments: list[Assignment] = []
        group: list[_Placed] = []

        def write_group() -> None:
            if not group:
                return
            founded = [p for p in group if p.founded]
            if founded:
                params = {"ids": [real_id(p.cluster_id) for p in founded], "rfq_ids": [p.rfq_id for p in founded]}
                conn.execute(INSERT_CLUSTERS_BULK, params)
            keys = self.context.keys
            conn.execute(
                INSERT_MEMBERS_BULK,
                {
                    "rfq_ids": [p.rfq_id for p in group],
                    "cluster_ids": [real_id(p.cluster_id) for p in group],
                    "matched_by": [p.matched_by for p in group],
                    "similarity": [p.similarity for p in group],
                    "matched_rfq_ids": [p.matched_rfq_id for p in group],
                    "content_hashes": [keys[p.rfq_id].content_hash for p in group],
                    "url_keys": [keys[p.rfq_id].url_key for p in group],
                    "evidence": [Jsonb(p.evidence) for p in group],
                    "assigned_by": actor,
                },
            )
            conn.execute(REFRESH_MEMBER_COUNTS, {"ids": sorted({real_id(p.cluster_id) for p in group})})
            conn.execute(
                INSERT_HISTORY_BULK,
                {
                    "rfq_ids": [p.rfq_id for p in group],
                    "cluster_ids": [real_id(p.cluster_id) for p in group],
                    "events": ["founded" if p.founded else "joined" for p in group],
                    "reasons": [p.history_reason for p in group],
                    "actor": actor,
                },
            )
            group.clear()

        with conn.pipeline():
            for placed in self.out:
                target = real_id(placed.cluster_id)
                if placed.merges:
                    write_group()
                    for from_provisional, decision, merge_rfq in placed.merges:
                        from_id = real_id(from_provisional)
                        reason = (
                            f"rfq {placed.rfq_id} matches {merge_rfq} of cluster {from_id} ({decision.reason}) "
                            f"and cluster {target}"
                        )
                        conn.execute(
                            MERGE_CLUSTER,
                            {
                                "from_id": from_id,
                                "into_id": target,
                                "rfq_id": placed.rfq_id,
                                "matched_by": decision.matched_by,
                                "similarity": decision.similarity,
                                "merged_by": actor,
                                "reason": reason,
                            },
                        )
                        conn.execute(REPOINT_MERGED, {"into_id": target, "from_id": from_id})
                        conn.execute(MARK_MERGED, {"into_id": target, "from_id": from_id})
                    placed.evidence["merged_clusters"] = [real_id(c) for c, _d, _r in placed.merges]
                group.append(placed)
                absorbed = tuple(real_id(c) for c, _d, _r in placed.merges)
                assignments.append(
                    Assignment(
                        placed.rfq_id, target, placed.matched_by, placed.similarity, placed.matched_rfq_id, absorbed
                    )
                )
            write_group()
        return assignments


def _exact_keys(rfq: RfqKeys) -> list[str]:
    """The batch index keys of an RFQ's content hash and URL (a missing one matches nothing, as NULL in SQL)."""
    keys = []
    if rfq.content_hash is not None:
        keys.append(f"h:{rfq.content_hash}")
    if rfq.url_key is not None:
        keys.append(f"u:{rfq.url_key}")
    return keys


def _read_attributes(
    conn: psycopg.Connection, rfq_ids: Sequence[int], inputs_out: dict[int, dict[str, str]]
) -> dict[int, RfqAttributes]:
    """:func:`load_attributes` without its write: raises :class:`_FallBack` where the write would happen."""
    rows = conn.execute(SELECT_ATTRIBUTE_FIELDS, {"ids": list(rfq_ids)}).fetchall()
    params = {"ids": list(rfq_ids)}
    stored = {int(r[0]): (r[1], r[2]) for r in conn.execute(SELECT_STORED_ATTRIBUTE_HASHES, params).fetchall()}
    result: dict[int, RfqAttributes] = {}
    for row in rows:
        rfq_id = int(row[0])
        inputs = _attribute_inputs(row)
        if stored.get(rfq_id) != (inputs_sha256(inputs), ATTRIBUTES_VERSION):
            raise _FallBack(rfq_id)
        inputs_out[rfq_id] = inputs
        result[rfq_id] = extract(**inputs)
    return result


def _bulk_applies(context: _Context, todo: Sequence[int]) -> bool:
    """Whether a batch takes the bulk path: big enough, no split-out RFQ to place again, no Claude second opinion
    (both read and write the database per RFQ; they keep the per-RFQ path)."""
    settings = context.settings
    second_opinion = (
        settings is not None and bool(settings.anthropic_api_key) and settings.dedup_claude_band is not None
    )
    return len(todo) >= BULK_MIN_BATCH and not context.splits and not second_opinion


def _place_in_bulk(context: _Context, todo: Sequence[int]) -> dict[int, Assignment] | None:
    """Place ``todo`` (posting order) as the per-RFQ path would, reading and writing a few statements at a time;
    ``None`` (nothing written) when a stored RFQ's attributes are out of date."""
    bulk = _Bulk(context, [i for i in todo if i in context.keys])
    try:
        bulk.prefetch()
        for rfq_id in bulk.todo:
            bulk.place(rfq_id)
    except _FallBack:
        return None
    return {a.rfq_id: a for a in bulk.flush()}


SELECT_CLUSTER_IDS_OF = "SELECT rfq_id, cluster_id FROM dedup_cluster_members WHERE rfq_id = ANY(%(ids)s::bigint[])"


def _stored_clusters(conn: psycopg.Connection, rfq_ids: Sequence[int]) -> dict[int, int]:
    """``rfq_id -> cluster_id`` of the given RFQs that are in a cluster."""
    return {int(r[0]): int(r[1]) for r in conn.execute(SELECT_CLUSTER_IDS_OF, {"ids": list(rfq_ids)}, binary=True)}
