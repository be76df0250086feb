"""Embeddings in the real database: binary COPY + idempotent merge, change detection, HNSW nearest-neighbour search."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence

import numpy as np
import psycopg
import pytest
from pgvector import HalfVector

from rfq_pipeline.ai.embedding_store import (
    COPY_STAGING,
    NEAREST,
    embed_rfqs,
    embedded_hashes,
    nearest,
    rfq_embedding_text,
    staging_copy_data,
    store_embeddings,
    vector_index_name,
    vector_index_statement,
)
from rfq_pipeline.ai.embeddings import STATIC_NAME, TORCH_NAME, StaticMiniLM, text_sha256
from rfq_pipeline.db import repository

HNSW_INDEX = "rfq_embeddings_minilm_static_v1_hnsw_idx"

INSERT_RFQ = """
INSERT INTO rfqs (source, external_id, canonical_url, title, description, content_sha256, posted_at)
VALUES ('alibaba_rfq', %s, %s, %s, %s, %s, now())
RETURNING id
"""

RFQS = [
    ("1", "Wholesale private label vitamin C face serum 30ml", "Glass dropper bottles, custom logo"),
    ("2", "20ft container of basmati rice", "1121 sella, 25 kg bags"),
    ("3", "Toyota Land Cruiser 2020 used", ""),
    ("4", "Solar panels 550W mono", "36 pieces, Dubai"),
]


class CountingEmbedder:
    """The static embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: StaticMiniLM) -> None:
        self.inner = inner
        self.name = inner.name
        self.dims = inner.dims
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.embed(texts)


@pytest.fixture(scope="module")
def static() -> StaticMiniLM:
    return StaticMiniLM()


@pytest.fixture()
def db(clean_db: str) -> Iterator[tuple[psycopg.Connection, list[int]]]:
    """A connection (autocommit) to the emptied database with one source and the RFQs above."""
    from pgvector.psycopg import register_vector

    with psycopg.connect(clean_db, autocommit=True) as conn:
        register_vector(conn)  # as the pool's configure hook does (rfq_pipeline.db.database._configure)
        repository.upsert_source(
            conn, name="alibaba_rfq", kind="marketplace", base_url="https://example.test", cadence="1h", enabled=True
        )
        ids = [
            int(
                conn.execute(
                    INSERT_RFQ, (ext, f"https://example.test/rfq/{ext}", title, desc, text_sha256(title + desc))
                ).fetchone()[0]
            )
            for ext, title, desc in RFQS
        ]
        yield conn, ids


def _embeddings(conn: psycopg.Connection) -> dict[int, tuple[str, int, str, object]]:
    rows = conn.execute(
        "SELECT rfq_id, model, dims, text_sha256, embedded_at FROM rfq_embeddings ORDER BY rfq_id"
    ).fetchall()
    return {int(r[0]): (r[1], r[2], r[3], r[4]) for r in rows}


def _staging_rows(conn: psycopg.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM rfq_embeddings_staging").fetchone()[0])


def test_embed_rfqs_writes_one_row_each_then_nothing(db, static: StaticMiniLM) -> None:
    conn, ids = db
    embedder = CountingEmbedder(static)
    assert embed_rfqs(conn, embedder, ids) == len(ids)
    stored = _embeddings(conn)
    assert sorted(stored) == sorted(ids)
    for rfq_id, (_ext, title, desc) in zip(ids, RFQS, strict=True):
        model, dims, digest, _at = stored[rfq_id]
        assert (model, dims) == (STATIC_NAME, 384)
        assert digest == text_sha256(rfq_embedding_text(title, desc))
    assert embedded_hashes(conn, STATIC_NAME, ids) == {i: stored[i][2] for i in ids}
    assert embedded_hashes(conn, "some-other-model", ids) == {}
    assert _staging_rows(conn) == 0

    # The second call finds every text unchanged: nothing embedded, nothing written, embedded_at kept.
    assert embed_rfqs(conn, embedder, ids) == 0
    assert len(embedder.calls) == 1
    assert _embeddings(conn) == stored
    assert _staging_rows(conn) == 0


def test_a_changed_title_re_embeds_exactly_that_row(db, static: StaticMiniLM) -> None:
    conn, ids = db
    embedder = CountingEmbedder(static)
    assert embed_rfqs(conn, embedder, ids) == len(ids)
    before = _embeddings(conn)
    old_vector = conn.execute("SELECT embedding::text FROM rfq_embeddings WHERE rfq_id = %s", (ids[1],)).fetchone()

    new_title = "40ft container of jasmine rice"
    conn.execute("UPDATE rfqs SET title = %s WHERE id = %s", (new_title, ids[1]))
    assert embed_rfqs(conn, embedder, ids) == 1
    assert embedder.calls[-1] == [rfq_embedding_text(new_title, RFQS[1][2])]

    after = _embeddings(conn)
    for rfq_id in ids:
        if rfq_id == ids[1]:
            assert after[rfq_id][2] == text_sha256(rfq_embedding_text(new_title, RFQS[1][2]))
            assert after[rfq_id][3] >= before[rfq_id][3]
        else:
            assert after[rfq_id] == before[rfq_id]
    new_vector = conn.execute("SELECT embedding::text FROM rfq_embeddings WHERE rfq_id = %s", (ids[1],)).fetchone()
    assert new_vector != old_vector
    assert _staging_rows(conn) == 0


def test_store_embeddings_is_idempotent_on_the_same_hash(db, static: StaticMiniLM) -> None:
    conn, ids = db
    vectors = static.embed([t for _, t, _ in RFQS])
    hashes = [f"h{i}" for i in range(len(ids))]
    assert store_embeddings(conn, STATIC_NAME, ids, vectors, hashes) == len(ids)
    assert store_embeddings(conn, STATIC_NAME, ids, vectors, hashes) == 0
    # another model is another row, never a replacement
    assert store_embeddings(conn, "other-model", ids[:1], vectors[:1], hashes[:1]) == 1
    counts = dict(conn.execute("SELECT model, count(*) FROM rfq_embeddings GROUP BY model").fetchall())
    assert counts == {STATIC_NAME: len(ids), "other-model": 1}
    assert store_embeddings(conn, STATIC_NAME, [], np.zeros((0, 384), dtype=np.float32), []) == 0
    with pytest.raises(ValueError, match="same length"):
        store_embeddings(conn, STATIC_NAME, ids, vectors[:2], hashes)
    assert _staging_rows(conn) == 0


def test_embed_rfqs_in_several_batches(db, static: StaticMiniLM) -> None:
    conn, ids = db
    embedder = CountingEmbedder(static)
    assert embed_rfqs(conn, embedder, ids, batch_size=3) == len(ids)
    assert [len(c) for c in embedder.calls] == [3, 1]
    assert embed_rfqs(conn, embedder, [], batch_size=3) == 0
    assert _staging_rows(conn) == 0


def test_nearest_finds_the_rfq_itself_first(db, static: StaticMiniLM) -> None:
    conn, ids = db
    embed_rfqs(conn, static, ids)
    for rfq_id, (_ext, title, desc) in zip(ids, RFQS, strict=True):
        query = static.embed([rfq_embedding_text(title, desc)])[0]
        with conn.transaction():  # SET LOCAL hnsw.ef_search needs a transaction
            hits = nearest(conn, STATIC_NAME, query, k=3)
        assert len(hits) == 3
        assert hits[0][0] == rfq_id
        assert hits[0][1] == pytest.approx(1.0, abs=2e-3)  # halfvec storage
        assert hits[0][1] > hits[1][1] >= hits[2][1]
    # vectors of another model are never returned
    with conn.transaction():
        assert nearest(conn, "other-model", query, k=3) == []
    with pytest.raises(ValueError, match="384"):
        nearest(conn, STATIC_NAME, np.zeros(128, dtype=np.float32))


def test_nearest_query_uses_the_hnsw_index(db, static: StaticMiniLM) -> None:
    conn, ids = db
    embed_rfqs(conn, static, ids)
    query = HalfVector(static.embed(["face serum"])[0].astype(np.float16))
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")  # four rows: the planner would rather scan
        plan = "\n".join(
            r[0] for r in conn.execute("EXPLAIN " + NEAREST, {"query": query, "model": STATIC_NAME, "k": 5}).fetchall()
        )
    assert HNSW_INDEX in plan, plan
    assert "Index Scan" in plan, plan
    assert "Sort" not in plan.split("Index Scan")[0], plan  # ordered by the index, not sorted afterwards


def test_an_empty_title_is_embedded_without_error(db, static: StaticMiniLM) -> None:
    conn, ids = db
    new_id = conn.execute(INSERT_RFQ, ("9", "https://example.test/rfq/9", "", "", text_sha256(""))).fetchone()[0]
    assert embed_rfqs(conn, static, [*ids, int(new_id)]) == len(ids) + 1
    assert _staging_rows(conn) == 0
    query = static.embed([RFQS[0][1]])[0]
    with conn.transaction():
        hits = nearest(conn, STATIC_NAME, query, k=10)
    assert hits[0][0] == ids[0]
    assert all(np.isfinite(sim) for _, sim in hits)


STAGED = """
SELECT rfq_id, model, dims, embedding::text, text_sha256 FROM rfq_embeddings_staging WHERE batch_token = %s
ORDER BY rfq_id
"""


def test_the_copy_writer_stages_what_per_row_adapters_stage(db) -> None:
    conn, ids = db
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(ids), 384)).astype(np.float32) * np.float32(0.07)
    vectors[0, :3] = [65504.0, -1e-8, 0.0]  # float16's largest value, an underflow, a zero
    hashes = ["a" * 64, "", "b" * 64, "\u00e9t\u00e9"]  # mixed byte lengths, an empty text and non-ASCII
    reference, fast = uuid.uuid4(), uuid.uuid4()
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy(COPY_STAGING) as copy:  # the writer this replaced: psycopg's per-row binary adapters
            copy.set_types(["uuid", "int8", "text", "int4", "halfvec", "text"])
            for rfq_id, vector, digest in zip(ids, vectors.astype(np.float16), hashes, strict=True):
                copy.write_row((reference, rfq_id, STATIC_NAME, 384, HalfVector(vector), digest))
        with cur.copy(COPY_STAGING) as copy:
            copy.write(staging_copy_data(fast, STATIC_NAME, ids, vectors, hashes))
        expected = cur.execute(STAGED, (reference,)).fetchall()
        assert cur.execute(STAGED, (fast,)).fetchall() == expected
        assert [r[4] for r in expected] == hashes
        conn.execute("DELETE FROM rfq_embeddings_staging")


def test_vector_index_statement_is_the_migrations_definition(db) -> None:
    conn, _ids = db
    indexdef = "SELECT indexdef FROM pg_indexes WHERE tablename = 'rfq_embeddings' AND indexname = %s"
    for model in (STATIC_NAME, TORCH_NAME):
        name = vector_index_name(model)
        migrated = conn.execute(indexdef, (name,)).fetchone()
        assert migrated is not None, name
        with conn.transaction(force_rollback=True):
            conn.execute(f"DROP INDEX {name}")
            conn.execute(vector_index_statement(model))
            assert conn.execute(indexdef, (name,)).fetchone() == migrated
    # a promoted version's index: its own name, the same shape
    version = "all-MiniLM-L6-v2-static-0123456789"
    promoted, default = vector_index_name(version), vector_index_name(STATIC_NAME)
    assert promoted.startswith("rfq_embeddings_") and promoted not in (default, vector_index_name(TORCH_NAME))
    with conn.transaction(force_rollback=True):
        conn.execute(vector_index_statement(version))
        (created,) = conn.execute(indexdef, (promoted,)).fetchone()
        (migrated,) = conn.execute(indexdef, (default,)).fetchone()
    assert created.replace(promoted, "NAME").replace(version, "MODEL") == migrated.replace(default, "NAME").replace(
        STATIC_NAME, "MODEL"
    )
