"""The bulk embedding load: the same rows as the small path, idempotent, the model's index rebuilt exactly as the
migrations define it, and nearest() still answering what an exact scan answers."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

from rfq_pipeline.ai import embedding_store
from rfq_pipeline.ai.embedding_store import (
    NEAREST,
    embed_rfqs,
    load_embeddings,
    nearest,
    rebuild_pays,
    store_embeddings,
    vector_index_name,
)
from rfq_pipeline.ai.embeddings import STATIC_NAME, StaticMiniLM

N = 300
INSERT_RFQS = """
INSERT INTO rfqs (source, external_id, canonical_url, title, content_sha256)
SELECT 'bench', g::text, 'local:' || g, 'bulk ' || g, md5(g::text) FROM generate_series(1, %(n)s) AS g
RETURNING id
"""
STORED = "SELECT rfq_id, model, dims, embedding::text, text_sha256, embedded_at FROM rfq_embeddings ORDER BY rfq_id"
INDEX_DEF = "SELECT indexdef FROM pg_indexes WHERE tablename = 'rfq_embeddings' AND indexname = %(name)s"
INDEX_OID = "SELECT to_regclass(%(name)s)::oid"


@pytest.fixture()
def db(clean_db: str) -> Iterator[tuple[psycopg.Connection, list[int]]]:
    """An autocommit connection to the emptied database with ``N`` RFQs."""
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute("INSERT INTO sources (name, kind, base_url, cadence) VALUES ('bench', 'loader', 'local', 'never')")
        yield conn, [int(r[0]) for r in conn.execute(INSERT_RFQS, {"n": N}).fetchall()]


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors in a few tight groups, as embeddings of reposts are (near-ties make an ANN answer differ)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((12, 384)).astype(np.float32)
    out = centres[rng.integers(0, len(centres), n)] + 0.4 * rng.standard_normal((n, 384)).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _hashes(ids: list[int]) -> list[str]:
    # Mixed lengths on purpose: the COPY writer groups rows by the hash's byte length.
    return [f"{i:064x}" if i % 3 else f"h{i}" for i in ids]


def _stored(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(STORED).fetchall()


def _by_similarity(hits: list[tuple[int, float]]) -> dict[float, set[int]]:
    grouped: dict[float, set[int]] = {}
    for rfq_id, similarity in hits:
        grouped.setdefault(round(similarity, 5), set()).add(rfq_id)
    return grouped


def _without_time(rows: list[tuple]) -> list[tuple]:
    return [r[:-1] for r in rows]


def test_bulk_path_stores_the_same_rows_as_the_small_path(db) -> None:
    conn, ids = db
    vectors, hashes = _vectors(N), _hashes(ids)
    assert not rebuild_pays(conn, STATIC_NAME, N)  # below BULK_MIN_ROWS: today's path
    assert store_embeddings(conn, STATIC_NAME, ids, vectors, hashes) == N
    small = _stored(conn)
    conn.execute("DELETE FROM rfq_embeddings")
    load = load_embeddings(conn, STATIC_NAME, ids, vectors, hashes, rebuild_index=True)
    assert (load.written, load.rebuilt_index) == (N, vector_index_name(STATIC_NAME))
    assert _without_time(_stored(conn)) == _without_time(small)
    assert conn.execute("SELECT count(*) FROM rfq_embeddings_staging").fetchone() == (0,)


def test_bulk_path_is_idempotent_and_replaces_only_changed_texts(db) -> None:
    conn, ids = db
    vectors, hashes = _vectors(N), _hashes(ids)
    assert load_embeddings(conn, STATIC_NAME, ids, vectors, hashes, rebuild_index=True).written == N
    before = _stored(conn)
    assert load_embeddings(conn, STATIC_NAME, ids, vectors, hashes, rebuild_index=True).written == 0
    assert _stored(conn) == before  # embedded_at kept too
    changed = [f"new{i}" if i == ids[7] else h for i, h in zip(ids, hashes, strict=True)]
    assert load_embeddings(conn, STATIC_NAME, ids, vectors[::-1].copy(), changed, rebuild_index=True).written == 1
    after = {r[0]: r for r in _stored(conn)}
    assert after[ids[7]][4] == f"new{ids[7]}"
    assert all(after[r[0]] == r for r in before if r[0] != ids[7])
    # a model without an index is loaded all the same, nothing rebuilt
    load = load_embeddings(conn, "model-without-index", ids[:5], vectors[:5], hashes[:5], rebuild_index=True)
    assert (load.written, load.rebuilt_index) == (5, None)


def test_bulk_path_rebuilds_the_index_exactly_as_the_migration_defines_it(db) -> None:
    conn, ids = db
    name = vector_index_name(STATIC_NAME)
    migrated = conn.execute(INDEX_DEF, {"name": name}).fetchone()
    old_oid = conn.execute(INDEX_OID, {"name": name}).fetchone()
    settings = "SELECT current_setting('maintenance_work_mem'), current_setting('max_parallel_maintenance_workers')"
    with conn.transaction():
        before = conn.execute(settings).fetchone()
        load_embeddings(conn, STATIC_NAME, ids, _vectors(N), _hashes(ids), rebuild_index=True)
        assert conn.execute(settings).fetchone() == before  # the build's settings do not outlive the build
    assert conn.execute(INDEX_DEF, {"name": name}).fetchone() == migrated
    assert conn.execute(INDEX_OID, {"name": name}).fetchone() != old_oid  # built again, not kept


def test_store_embeddings_rebuilds_the_index_when_most_rows_are_new(db, monkeypatch: pytest.MonkeyPatch) -> None:
    conn, ids = db
    vectors, hashes = _vectors(N), _hashes(ids)
    name = vector_index_name(STATIC_NAME)
    monkeypatch.setattr(embedding_store, "BULK_MIN_ROWS", 100)
    oid = conn.execute(INDEX_OID, {"name": name}).fetchone()
    assert store_embeddings(conn, STATIC_NAME, ids[:50], vectors[:50], hashes[:50]) == 50  # below the minimum
    assert conn.execute(INDEX_OID, {"name": name}).fetchone() == oid
    assert store_embeddings(conn, STATIC_NAME, ids[50:], vectors[50:], hashes[50:]) == N - 50  # 250 new onto 50
    rebuilt = conn.execute(INDEX_OID, {"name": name}).fetchone()
    assert rebuilt != oid
    # the whole batch again, 5 texts changed: too few to rebuild for, the index is maintained
    changed = [f"new{i}" if n < 5 else h for n, (i, h) in enumerate(zip(ids, hashes, strict=True))]
    assert store_embeddings(conn, STATIC_NAME, ids, vectors, changed) == 5
    assert conn.execute(INDEX_OID, {"name": name}).fetchone() == rebuilt
    # past the minimum, the share of what the model already has decides
    monkeypatch.setattr(embedding_store, "BULK_MIN_ROWS", 10)
    boundary = math.ceil(embedding_store.BULK_MIN_FRACTION * N)
    assert not rebuild_pays(conn, STATIC_NAME, boundary - 1)
    assert rebuild_pays(conn, STATIC_NAME, boundary)


def test_embed_rfqs_stores_a_large_set_in_one_write(db, monkeypatch: pytest.MonkeyPatch) -> None:
    conn, ids = db
    monkeypatch.setattr(embedding_store, "BULK_MIN_ROWS", 100)
    writes: list[int] = []
    store = embedding_store.store_embeddings

    def counted(conn: psycopg.Connection, model: str, rows: list[int], vectors: np.ndarray, digests: list[str]) -> int:
        writes.append(len(rows))
        return store(conn, model, rows, vectors, digests)

    monkeypatch.setattr(embedding_store, "store_embeddings", counted)
    name = vector_index_name(STATIC_NAME)
    oid = conn.execute(INDEX_OID, {"name": name}).fetchone()
    embedder = StaticMiniLM()
    assert embed_rfqs(conn, embedder, ids, batch_size=64) == N
    assert writes == [N]  # embedded 64 at a time, stored at once: one rebuild, not one per batch
    assert conn.execute(INDEX_OID, {"name": name}).fetchone() != oid
    assert embed_rfqs(conn, embedder, ids, batch_size=64) == 0
    assert writes == [N]


def test_a_rolled_back_bulk_load_leaves_the_index_and_rows_as_they_were(db) -> None:
    conn, ids = db
    name = vector_index_name(STATIC_NAME)
    oid = conn.execute(INDEX_OID, {"name": name}).fetchone()
    with pytest.raises(psycopg.errors.ForeignKeyViolation), conn.transaction():
        load_embeddings(
            conn, STATIC_NAME, [*ids[:10], 10**12], _vectors(11), _hashes([*ids[:10], 10**12]), rebuild_index=True
        )
    assert conn.execute(INDEX_OID, {"name": name}).fetchone() == oid
    assert _stored(conn) == []


def test_nearest_after_a_bulk_load_answers_as_an_exact_scan(db) -> None:
    conn, ids = db
    load_embeddings(conn, STATIC_NAME, ids, _vectors(N), _hashes(ids), rebuild_index=True)
    conn.execute("ANALYZE rfq_embeddings")
    for query in _vectors(20, seed=1):
        literal = "[" + ",".join(f"{v:.5g}" for v in query) + "]"
        params = {"query": literal, "model": STATIC_NAME, "k": 10}
        with conn.transaction():
            conn.execute("SET LOCAL enable_sort = off")  # 300 rows: the planner would rather sort them all
            approximate = nearest(conn, STATIC_NAME, query, k=10)
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + NEAREST, params).fetchall())
        assert vector_index_name(STATIC_NAME) in plan, plan  # the rebuilt index answered
        with conn.transaction():
            conn.execute("SET LOCAL enable_indexscan = off")  # the same query by a full scan: exact
            exact = conn.execute(NEAREST, params).fetchall()
        # the same neighbours in the same order, but for ties: of several at the k-th distance, either may be kept
        assert [s for _, s in approximate] == pytest.approx([float(r[1]) for r in exact], abs=1e-6)
        found, expected = _by_similarity(approximate), _by_similarity([(int(r[0]), float(r[1])) for r in exact])
        last = round(float(exact[-1][1]), 5)
        assert len(found.pop(last, ())) == len(expected.pop(last))
        assert found == expected
