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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
from pgvector import HalfVector
from psycopg.types.json import Jsonb

from rfq_pipeline.ai.embedding_store import embed_rfqs
from rfq_pipeline.ai.embeddings import Embedder
from rfq_pipeline.dedup.matching import (
    EVIDENCE_RANK,
    MatchDecision,
    RfqFields,
    RfqKeys,
    best_decision,
    decide,
    keys_for,
)

# Any stable constant distinct from the migration lock; every assigner of every process uses the same one.
DEDUP_LOCK_KEY = 7_310_420_404
DEFAULT_K = 10
DEFAULT_EF_SEARCH = 100
# Members sharing a content hash or URL are read at most this many at a time (a repost storm is one cluster anyway).
EXACT_CANDIDATE_LIMIT = 50

SELECT_DEDUP_FIELDS = """
SELECT id, source, external_id, canonical_url, title, description, quantity_text,
       COALESCE(country_code::text, country_raw) AS country,
       COALESCE(NULLIF(buyer_company, ''), buyer_name) AS buyer
FROM rfqs
WHERE id = ANY(%(ids)s::bigint[])
"""

SELECT_CLUSTER_MEMBER_FIELDS = """
SELECT m.cluster_id, r.id, r.source, r.external_id, r.canonical_url, r.title, r.description, r.quantity_text,
       COALESCE(r.country_code::text, r.country_raw) AS country,
       COALESCE(NULLIF(r.buyer_company, ''), r.buyer_name) AS buyer
FROM dedup_cluster_members m
JOIN rfqs r ON r.id = m.rfq_id
WHERE m.cluster_id = ANY(%(cluster_ids)s::bigint[])
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

SELECT_CANONICALS = """
SELECT c.id, c.canonical_rfq_id, e.embedding
FROM dedup_clusters c
LEFT JOIN rfq_embeddings e ON e.rfq_id = c.canonical_rfq_id AND e.model = %(model)s
WHERE c.id = ANY(%(ids)s::bigint[])
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


def _buyers_and_countries(keys: Iterable[RfqKeys]) -> tuple[set[str], set[str]]:
    buyers = {k.buyer_key for k in keys if k.buyer_key}
    countries = {k.country_code for k in keys if k.country_code}
    return buyers, countries


def _mergeable_clusters(conn: psycopg.Connection, ordered_cluster_ids: list[int], new_keys: RfqKeys) -> list[int]:
    """Of the clusters the new RFQ matched (strongest match first), those that may be merged with the first.

    A buyer-less RFQ can match two clusters of two known buyers; merging those would join two requests, so a cluster
    is added only while the merged set still has at most one known buyer and one known country.
    """
    rows = conn.execute(SELECT_CLUSTER_MEMBER_FIELDS, {"cluster_ids": ordered_cluster_ids}).fetchall()
    members: dict[int, list[RfqKeys]] = {}
    for row in rows:
        members.setdefault(int(row[0]), []).append(keys_for(_fields(row[1:])))
    chosen = [ordered_cluster_ids[0]]
    buyers, countries = _buyers_and_countries([new_keys, *members.get(ordered_cluster_ids[0], [])])
    for cluster_id in ordered_cluster_ids[1:]:
        more_buyers, more_countries = _buyers_and_countries(members.get(cluster_id, []))
        if len(buyers | more_buyers) <= 1 and len(countries | more_countries) <= 1:
            chosen.append(cluster_id)
            buyers |= more_buyers
            countries |= more_countries
    return chosen


def assign_clusters(
    conn: psycopg.Connection,
    rfq_ids: Iterable[int],
    *,
    model: str,
    min_similarity: float,
    k: int = DEFAULT_K,
    ef_search: int = DEFAULT_EF_SEARCH,
    actor: str = "",
) -> AssignmentResult:
    """Put every given RFQ that is not in a cluster yet into one (found, joined or merged); idempotent.

    Runs in the caller's transaction (which must not be autocommit: the advisory lock lasts until it commits).
    ``model`` is the embedder whose vectors are compared; RFQs without a vector are matched on exact keys only.
    ``actor`` (a run id, ``cli``) is recorded on members and merges.
    """
    if conn.autocommit:
        raise ValueError("assign_clusters needs a transaction: the advisory lock is released at commit")
    from pgvector.psycopg import register_vector

    register_vector(conn)  # idempotent; halfvec values come back as HalfVector
    ids = sorted({int(i) for i in rfq_ids})
    result = AssignmentResult(considered=len(ids))
    if not ids:
        return result
    conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")  # a generic plan cannot use the partial index
    conn.execute(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    _acquire_lock(conn)

    assigned = {int(r[0]) for r in conn.execute(SELECT_MEMBERSHIP, {"ids": ids}).fetchall()}
    result.already_assigned = len(assigned)
    todo = [i for i in ids if i not in assigned]
    if not todo:
        return result
    keys = load_keys(conn, todo)
    vectors: dict[int, np.ndarray] = {
        int(r[0]): r[1].to_numpy() for r in conn.execute(SELECT_VECTORS, {"model": model, "ids": todo}).fetchall()
    }
    for rfq_id in todo:
        if rfq_id not in keys:
            result.considered -= 1  # deleted meanwhile
            continue
        assignment = _assign_one(conn, keys, keys[rfq_id], vectors.get(rfq_id), model, min_similarity, k, actor)
        if rfq_id not in vectors:
            result.without_embedding += 1
        result.assignments.append(assignment)
        result.by_matched_by[assignment.matched_by] += 1
        if assignment.matched_by == "new":
            result.new_clusters += 1
        else:
            result.joined += 1
        result.merged += len(assignment.merged_clusters)
    return result


def _candidates(
    conn: psycopg.Connection,
    rfq: RfqKeys,
    vector: np.ndarray | None,
    model: str,
    min_similarity: float,
    k: int,
) -> dict[int, tuple[int, float | None]]:
    """Clustered RFQs worth judging: same content hash or URL, or among the ``k`` nearest above the threshold."""
    found: dict[int, tuple[int, float | None]] = {}
    if rfq.content_hash or rfq.url_key:
        params = {"content_hash": rfq.content_hash, "url_key": rfq.url_key, "rfq_id": rfq.id}
        for other, cluster_id in conn.execute(SELECT_EXACT_CANDIDATES, params | {"limit": EXACT_CANDIDATE_LIMIT}):
            found[int(other)] = (int(cluster_id), None)
    if vector is not None:
        params = {"query": HalfVector(np.asarray(vector, dtype=np.float16)), "model": model, "rfq_id": rfq.id, "k": k}
        for other, cluster_id, similarity in conn.execute(SELECT_ANN_CANDIDATES, params):
            if float(similarity) >= min_similarity or int(other) in found:
                found[int(other)] = (int(cluster_id), float(similarity))
    return found


def _assign_one(
    conn: psycopg.Connection,
    cache: dict[int, RfqKeys],
    rfq: RfqKeys,
    vector: np.ndarray | None,
    model: str,
    min_similarity: float,
    k: int,
    actor: str,
) -> Assignment:
    candidates = _candidates(conn, rfq, vector, model, min_similarity, k)
    missing = [i for i in candidates if i not in cache]
    if missing:
        cache.update(load_keys(conn, missing))
    per_cluster: dict[int, tuple[MatchDecision, int]] = {}
    for other, (cluster_id, similarity) in candidates.items():
        if other not in cache:
            continue
        decision = decide(rfq, cache[other], similarity, min_similarity)
        if not decision.matched:
            continue
        current = per_cluster.get(cluster_id)
        if current is None or best_decision([current[0], decision]) is decision:
            per_cluster[cluster_id] = (decision, other)
    _confirm_with_canonicals(conn, cache, rfq, vector, per_cluster, model, min_similarity)
    _after_candidate_search(rfq.id)

    base = {"rfq_id": rfq.id, "content_hash": rfq.content_hash, "url_key": rfq.url_key, "assigned_by": actor}
    if not per_cluster:
        row = conn.execute(INSERT_CLUSTER, {"rfq_id": rfq.id}).fetchone()
        assert row is not None
        cluster_id = int(row[0])
        member = {"cluster_id": cluster_id, "matched_by": "new", "similarity": None, "matched_rfq_id": None}
        conn.execute(INSERT_MEMBER, base | member | {"evidence": Jsonb({"reason": "no matching cluster"})})
        conn.execute(REFRESH_MEMBER_COUNTS, {"ids": [cluster_id]})
        return Assignment(rfq.id, cluster_id, "new", None, None)

    ranked = sorted(per_cluster, key=lambda c: (*_rank(per_cluster[c][0]), c))  # strongest match first
    chosen = _mergeable_clusters(conn, ranked, rfq) if len(ranked) > 1 else ranked
    target = min(chosen)  # the oldest cluster survives (ids grow with creation, serialised by the lock)
    absorbed = sorted(c for c in chosen if c != target)
    decision, matched_rfq = per_cluster[ranked[0]]
    for from_id in absorbed:
        moved = [int(r[0]) for r in conn.execute(MOVE_MEMBERS, {"into_id": target, "from_id": from_id}).fetchall()]
        conn.execute(REPOINT_MERGED, {"into_id": target, "from_id": from_id})
        conn.execute(MARK_MERGED, {"into_id": target, "from_id": from_id})
        merge_decision, merge_rfq = per_cluster[from_id]
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
                "reason": f"rfq {rfq.id} matches {merge_rfq} of cluster {from_id} ({merge_decision.reason}) "
                f"and cluster {target}",
            },
        )
    evidence = {"reason": decision.reason, "checks": decision.checks, "merged_clusters": absorbed}
    member = {
        "cluster_id": target,
        "matched_by": decision.matched_by,
        "similarity": decision.similarity,
        "matched_rfq_id": matched_rfq,
        "evidence": Jsonb(evidence),
    }
    conn.execute(INSERT_MEMBER, base | member)
    conn.execute(REFRESH_MEMBER_COUNTS, {"ids": [target]})
    assert decision.matched_by is not None
    return Assignment(rfq.id, target, decision.matched_by, decision.similarity, matched_rfq, tuple(absorbed))


def _confirm_with_canonicals(
    conn: psycopg.Connection,
    cache: dict[int, RfqKeys],
    rfq: RfqKeys,
    vector: np.ndarray | None,
    per_cluster: dict[int, tuple[MatchDecision, int]],
    model: str,
    min_similarity: float,
) -> None:
    """Drop near-duplicate matches the cluster's canonical RFQ does not confirm.

    Matching any one member would chain: A~B, B~C, C~D puts "Gas Saving Mopeds" with "Electric drift scooter". A
    near-duplicate must therefore also match the canonical RFQ, which never changes, so a cluster cannot drift.
    """
    weak = [c for c, (d, other) in per_cluster.items() if d.matched_by == "near_duplicate"]
    if not weak:
        return
    rows = conn.execute(SELECT_CANONICALS, {"ids": weak, "model": model}).fetchall()
    canonical = {int(r[0]): (int(r[1]), None if r[2] is None else r[2].to_numpy()) for r in rows}
    missing = [rid for rid, _vec in canonical.values() if rid not in cache]
    if missing:
        cache.update(load_keys(conn, missing))
    for cluster_id in weak:
        canonical_id, canonical_vector = canonical.get(cluster_id, (None, None))
        if canonical_id is None or canonical_id == per_cluster[cluster_id][1] or canonical_id not in cache:
            continue
        similarity = None
        if vector is not None and canonical_vector is not None:
            similarity = float(np.dot(vector.astype(np.float32), canonical_vector.astype(np.float32)))
        if not decide(rfq, cache[canonical_id], similarity, min_similarity).matched:
            del per_cluster[cluster_id]


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
