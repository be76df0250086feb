"""The bulk placement path writes exactly what the per-RFQ path writes.

The rows are the labeled dedup records and variants of them (reposts, re-wordings, the same product for another
buyer), interleaved in posting order. The first half is clustered one by one (a stored state); the second half is
placed once as one big batch (the bulk path) and once one RFQ per ``assign_clusters`` call (the per-RFQ path, as rows
arriving one by one); every dedup table must come out the same:
memberships with their evidence, clusters with their ids and canonical RFQs, merges and the membership history.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from rfq_pipeline.ai.embeddings import embedder_named
from rfq_pipeline.db import repository
from rfq_pipeline.dedup import clusters
from rfq_pipeline.dedup.clusters import assign_clusters, cluster_invariants, ensure_embeddings
from rfq_pipeline.devtools.bench_dedup import Request, _insert_requests, _variant

LABELS = Path(__file__).resolve().parents[2] / "rfq_pipeline" / "dedup" / "labels" / "records.jsonl"
EMBEDDER = embedder_named("minilm-static")
TABLES = ["dedup_membership_history", "dedup_cluster_merges", "dedup_cluster_members", "dedup_clusters", "rfqs"]


def _requests() -> list[Request]:
    rng = random.Random(7)
    records = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]
    base = [
        Request(r["source"], r["title"], r["description"], r["quantity"], r["country"], r["buyer"]) for r in records
    ]
    variants = [
        _variant(rng.choice(base), rng.choice(("repost", "reword", "reword", "other_buyer")), rng) for _ in range(110)
    ]
    requests = base + variants
    rng.shuffle(requests)  # a variant may come before its original
    return requests


def _dump(url: str) -> dict[str, list[Any]]:
    """Every dedup table's content (timestamps aside: the per-RFQ path commits once per RFQ)."""
    queries = {
        "members": "SELECT rfq_id, cluster_id, matched_by, similarity, matched_rfq_id, content_hash, url_key, "
        "evidence::text, assigned_by FROM dedup_cluster_members ORDER BY rfq_id",
        "clusters": "SELECT id, canonical_rfq_id, member_count, merged_into, merged_at IS NOT NULL, split_from "
        "FROM dedup_clusters ORDER BY id",
        "merges": "SELECT id, from_cluster_id, into_cluster_id, trigger_rfq_id, matched_by, similarity, moved_rfq_ids, "
        "merged_by, reason FROM dedup_cluster_merges ORDER BY id",
        "history": "SELECT id, rfq_id, cluster_id, event, reason, actor FROM dedup_membership_history ORDER BY id",
    }
    with psycopg.connect(url) as conn:
        dump = {name: [tuple(row) for row in conn.execute(query).fetchall()] for name, query in queries.items()}
        dump["invariants"] = [tuple(sorted(cluster_invariants(conn).items()))]
    return dump


def _placed(url: str, requests: list[Request], place: Callable[[psycopg.Connection, list[int]], None]) -> dict:
    with psycopg.connect(url) as conn:
        conn.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(sql.SQL(", ").join(map(sql.Identifier, TABLES)))
        )
        for source in sorted({r.source for r in requests}):
            repository.upsert_source(conn, name=source, kind="loader", base_url="file:", cadence="manual", enabled=True)
        ids = _insert_requests(conn, requests, "t", datetime(2025, 1, 1, tzinfo=UTC))
        ensure_embeddings(conn, EMBEDDER, ids)
        conn.commit()
        stored = len(ids) // 2
        for rfq_id in ids[:stored]:
            _assign(conn, [rfq_id])
        place(conn, ids[stored:])
    return _dump(url)


def _watch_bulk(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, per call that tries the bulk path, whether it placed the batch (``False``: it fell back)."""
    calls: list[bool] = []
    original = clusters._place_in_bulk

    def watched(context: Any, todo: Any) -> Any:
        placed = original(context, todo)
        calls.append(placed is not None)
        return placed

    monkeypatch.setattr(clusters, "_place_in_bulk", watched)
    return calls


def _assign(conn: psycopg.Connection, ids: list[int]) -> clusters.AssignmentResult:
    result = assign_clusters(conn, ids, model=EMBEDDER.name, min_similarity=0.80, actor="test")
    conn.commit()
    return result


def test_one_big_batch_writes_what_one_rfq_per_call_writes(clean_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    requests = _requests()
    bulk_calls = _watch_bulk(monkeypatch)
    bulk = _placed(clean_db, requests, lambda conn, ids: _assign(conn, ids))
    assert bulk_calls == [True]  # the big batch took the bulk path, not its fallback (single RFQs never try it)

    one_by_one = _placed(clean_db, requests, lambda conn, ids: [_assign(conn, [i]) for i in ids])

    assert len(bulk["members"]) == len(requests)
    joined = sum(row[2] != "new" for row in bulk["members"][len(requests) // 2 :])
    assert joined >= 40  # reposts and re-wordings join: the comparison is not between singletons
    for table in ("members", "clusters", "merges", "history", "invariants"):
        assert bulk[table] == one_by_one[table], table


INSERT_RFQ = """
INSERT INTO rfqs (source, external_id, canonical_url, title, description, posted_at, quantity_text, buyer_name,
                  country_raw, content_sha256)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
RETURNING id
"""


def _bridged(n: int) -> list[tuple[str, str, str, str, str]]:
    """Pairs of unrelated requests of one buyer, then a third row sharing the first's URL and the second's content:
    it matches both clusters, which merge. ``(url, title, description, quantity, buyer)`` in posting order."""
    products = [
        ("Rosemary hair oil 60ml amber dropper bottle", "Private label, Arabic/English label.", "5000 pcs"),
        ("Stainless steel kitchen sink double bowl", "Brushed finish, with drainer.", "200 units"),
        ("Organic medjool dates grade A", "Packed in 5 kg cartons.", "2 tons"),
        ("LED street light 100W IP66", "With photocell, 5 years warranty.", "300 pcs"),
        ("Basmati rice 1121 sella", "25 kg bags, long grain.", "50 tons"),
        ("Cotton bath towels 70x140", "500 gsm, white.", "1000 pcs"),
    ]
    rows = []
    for i in range(n):
        first, second = products[i % len(products)], products[(i + 1) % len(products)]
        buyer = f"Trading Co {i}"
        url = f"https://www.example-board.com/rfq/{i}"
        rows.append((url, first[0], first[1], first[2], buyer))
        rows.append(("", second[0], second[1], second[2], buyer))
        rows.append((url, second[0], second[1], second[2], buyer))
    return rows


def test_merges_in_one_big_batch_match_one_rfq_per_call(clean_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    requests = _requests()[:80]
    records = [("", r.title, r.description, r.quantity, r.buyer) for r in requests]
    triples = _bridged(8)
    # Stored: records, three whole triples, and two triples' unrelated pairs (one with a repost: a two-member cluster
    # to move). The batch: more records, the bridges of those two pairs (stored clusters merge), three whole triples
    # (clusters the batch founds merge), one with a repost before its bridge.
    stored = records[:40] + triples[:9] + triples[9:11] + [triples[10]] + triples[12:14]
    batch = [*records[40:], triples[11], triples[14], *triples[15:18], *triples[18:20], triples[19], triples[20]]
    batch += triples[21:24]
    rows = stored + batch

    def placed(place: Callable[[psycopg.Connection, list[int]], None]) -> dict:
        with psycopg.connect(clean_db) as conn:
            tables = sql.SQL(", ").join(map(sql.Identifier, TABLES))
            conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(tables))
            repository.upsert_source(
                conn, name="email", kind="loader", base_url="file:", cadence="manual", enabled=True
            )
            ids = []
            for i, (url, title, description, quantity, buyer) in enumerate(rows):
                posted = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
                values = ("email", f"m{i}", url, title, description, posted, quantity, buyer, "AE", f"x{i}")
                ids.append(int(conn.execute(INSERT_RFQ, values).fetchone()[0]))  # type: ignore[index]
            ensure_embeddings(conn, EMBEDDER, ids)
            conn.commit()
            for rfq_id in ids[: len(stored)]:
                _assign(conn, [rfq_id])
            place(conn, ids[len(stored) :])
        return _dump(clean_db)

    bulk_calls = _watch_bulk(monkeypatch)
    bulk = placed(lambda conn, ids: _assign(conn, ids))
    assert bulk_calls == [True]
    one_by_one = placed(lambda conn, ids: [_assign(conn, [i]) for i in ids])
    in_batch = [m for m in bulk["merges"] if m[3] > len(stored)]
    assert len(in_batch) >= 3  # stored clusters and clusters the batch itself founded merge
    assert any(len(m[6]) > 1 for m in in_batch)  # a merge moves more than one member
    for table in ("members", "clusters", "merges", "history", "invariants"):
        assert bulk[table] == one_by_one[table], table
