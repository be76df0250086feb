"""Embeddings in PostgreSQL: ``halfvec`` rows written by binary COPY, searched through each model's HNSW index.

Two write paths, both a binary COPY into a staging table and one idempotent merge. Routine batches (a run's new
RFQs) are merged into the live table, so each row joins the model's HNSW graph as it lands and readers never wait. A
bulk load (a backfill, a re-embedding under a promoted model) rebuilds the index instead, because growing an HNSW
graph row by row is many times slower than building it once: in one transaction the model's index is dropped, the
rows are merged, and the index is built again from :func:`vector_index_statement` with build memory and parallel
workers raised. DROP INDEX holds an ACCESS EXCLUSIVE lock on ``rfq_embeddings`` until the commit, so a concurrent
reader waits for the new index rather than reading the table without one (or a half-built one).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from pgvector import HalfVector
from psycopg import sql
from psycopg.adapt import PyFormat

from rfq_pipeline.ai.embeddings import Embedder, text_sha256

# The dimension every ANN index casts to; a model of another dimension is stored but not indexed.
INDEX_DIMS = 384
# Candidates the HNSW search of nearest() keeps (``hnsw.ef_search``). Measured at 100k stored vectors (bench_dedup
# data, several builds, p50 at a quiet moment on 2 cores): recall@10 0.962-0.971 at 100 (p50 1.1 ms), 0.987-0.991 at
# 200 (2.2 ms), 0.9895-0.992 at 250 (2.4 ms), 0.9905-0.992 at 300 (2.7 ms): 300 is the narrowest that kept 0.99 in
# every build. The dedup candidates keep 100 (rfq_pipeline.dedup.clusters.DEFAULT_EF_SEARCH): pgvector costs an HNSW
# scan by ef_search, and at 300 the planner answers a store of a few thousand RFQs by full scans, which the batched
# candidate lookup repeats for every RFQ of a batch (250 RFQs over 2,000 clustered: 85 s instead of 2 s).
DEFAULT_EF_SEARCH = 300

# The default models' indexes are created by the migrations under these names; a promoted version's gets a name
# derived from the version (see vector_index_name).
MIGRATION_INDEX_NAMES = {
    "all-MiniLM-L6-v2": "rfq_embeddings_minilm_hnsw_idx",
    "all-MiniLM-L6-v2-static-v1": "rfq_embeddings_minilm_static_v1_hnsw_idx",
}

# A write rebuilds the model's index (drop it, merge, build it again) when it has at least BULK_MIN_ROWS new or
# changed rows and at least BULK_MIN_FRACTION as many as the model already has stored. Measured (bench_ai, 50k rows,
# 2 cores): rows added to a live HNSW index go in 7-10x slower than rows of a fresh build (660 vs 4,900 rows/s), so a
# rebuild of stored + new rows breaks even at about 1/7 new; at a quarter it takes 1.5-2x less time than maintaining
# the index, which is worth the table lock it holds (readers wait for the build). Below the minimum, a run's routine
# batch, the index is maintained and nobody waits.
BULK_MIN_ROWS = 5_000
BULK_MIN_FRACTION = 0.25
# Build memory: the whole graph must fit, or pgvector falls back to a build many times slower. Estimated per row
# (the vector, its neighbour lists and the element), with a floor and a ceiling.
BUILD_MEMORY_PER_ROW = 2_048
BUILD_MEMORY_MIN_MB = 64
BUILD_MEMORY_MAX_MB = 2_048
# Parallel workers of the build besides the leader (each builds part of the graph).
BUILD_PARALLEL_WORKERS = 2

COPY_STAGING = """
COPY rfq_embeddings_staging (batch_token, rfq_id, model, dims, embedding, text_sha256) FROM STDIN WITH (FORMAT BINARY)
"""

# Idempotent: an unchanged text keeps its row (and its embedded_at); a changed one is replaced.
MERGE_STAGING = """
INSERT INTO rfq_embeddings (rfq_id, model, dims, embedding, text_sha256)
SELECT rfq_id, model, dims, embedding, text_sha256 FROM rfq_embeddings_staging WHERE batch_token = %(token)s
ON CONFLICT (rfq_id, model) DO UPDATE SET
    dims = EXCLUDED.dims,
    embedding = EXCLUDED.embedding,
    text_sha256 = EXCLUDED.text_sha256,
    embedded_at = now()
WHERE rfq_embeddings.text_sha256 IS DISTINCT FROM EXCLUDED.text_sha256
"""

CLEAR_STAGING = "DELETE FROM rfq_embeddings_staging WHERE batch_token = %(token)s"

SELECT_EMBEDDED_HASHES = """
SELECT rfq_id, text_sha256 FROM rfq_embeddings WHERE model = %(model)s AND rfq_id = ANY(%(ids)s)
"""

# Counting stops at the limit: the bulk decision only needs to know whether the model has more rows than that.
COUNT_STORED_UP_TO = """
SELECT count(*) FROM (SELECT 1 FROM rfq_embeddings WHERE model = %(model)s LIMIT %(limit)s) AS stored
"""

SELECT_INDEX_EXISTS = "SELECT to_regclass(%(name)s) IS NOT NULL"

# The staged rows the merge will write: no stored row yet, or one embedded from another text.
COUNT_CHANGED_STAGING = """
SELECT count(*) FROM rfq_embeddings_staging s
WHERE s.batch_token = %(token)s AND NOT EXISTS (
    SELECT 1 FROM rfq_embeddings e WHERE e.rfq_id = s.rfq_id AND e.model = s.model AND e.text_sha256 = s.text_sha256
)
"""

SELECT_SETTINGS = """
SELECT current_setting('maintenance_work_mem'), current_setting('max_parallel_maintenance_workers')
"""

SET_BUILD_SETTINGS = """
SELECT set_config('maintenance_work_mem', %(memory)s, true),
       set_config('max_parallel_maintenance_workers', %(workers)s, true)
"""

SET_EF_SEARCH = "SELECT set_config('hnsw.ef_search', %(ef_search)s, true)"

# The ORDER BY must match the partial index (same cast, same operator, same predicate) for the planner to use HNSW.
NEAREST = """
SELECT e.rfq_id, 1 - (e.embedding::halfvec(384) <=> %(query)s::halfvec(384)) AS similarity
FROM rfq_embeddings e
WHERE e.model = %(model)s
ORDER BY e.embedding::halfvec(384) <=> %(query)s::halfvec(384)
LIMIT %(k)s
"""

_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # no flags, no header extension
_COPY_TRAILER = b"\xff\xff"


def vector_index_name(model: str) -> str:
    """The name of ``model``'s ANN index: the migration's for a default model, else one derived from the name."""
    if model in MIGRATION_INDEX_NAMES:
        return MIGRATION_INDEX_NAMES[model]
    return "rfq_embeddings_" + hashlib.sha256(model.encode()).hexdigest()[:12] + "_hnsw_idx"


def vector_index_statement(model: str, dims: int = INDEX_DIMS, *, if_not_exists: bool = False) -> sql.Composed:
    """``CREATE INDEX`` of ``model``'s partial HNSW index, exactly as the migrations define the default models' (the
    one definition every build uses: migrations, promoted versions and the bulk path's rebuild).

    The graph keeps pgvector's build parameters (m 16, ef_construction 64). Measured at 100k vectors (bench_dedup):
    a sparser graph (m 8 or 12) builds 1.5-3x faster but misses recall@10 0.99 even at ef_search 300-400, and a
    denser one (m 24, or ef_construction 100) builds 1.4-2x slower for at most 0.003 more recall at the same search.
    """
    return sql.SQL(
        "CREATE INDEX {exists}{name} ON rfq_embeddings USING hnsw ((embedding::halfvec({dims})) halfvec_cosine_ops) "
        "WHERE model = {model}"
    ).format(
        exists=sql.SQL("IF NOT EXISTS " if if_not_exists else ""),
        name=sql.Identifier(vector_index_name(model)),
        dims=sql.Literal(int(dims)),
        model=sql.Literal(model),
    )


def staging_copy_data(
    token: uuid.UUID, model: str, rfq_ids: Sequence[int], vectors: np.ndarray, text_hashes: Sequence[str]
) -> bytes:
    """The rows of ``COPY_STAGING`` in PostgreSQL's binary COPY format, signature and trailer included.

    Built column by column with numpy: adapting each row's ``HalfVector`` in Python caps COPY at ~20k rows/s. A row
    is six fields (count, then each as length + big-endian bytes); ``halfvec`` is int16 dims, int16 unused, then the
    float16 values. Rows are grouped by the byte length of their hash (one group in practice: hex SHA-256), since
    a numpy record has a fixed size; the order of rows in a COPY does not matter to the merge.
    """
    values = np.asarray(vectors)
    if values.ndim != 2:
        raise ValueError("vectors must be a 2-D array")
    dims = int(values.shape[1])
    model_bytes = model.encode()
    hashes = [h.encode() for h in text_hashes]
    lengths = np.fromiter((len(h) for h in hashes), dtype=np.int64, count=len(hashes))
    ids = np.asarray(rfq_ids, dtype=np.int64)
    parts = [_COPY_SIGNATURE]
    groups = np.unique(lengths)
    for length in groups:
        # One group (the usual case) is written from the arrays as they are, without gathering a copy first.
        rows = np.flatnonzero(lengths == length) if len(groups) > 1 else slice(None)
        out = np.empty(len(ids[rows]), dtype=_staging_record(len(model_bytes), dims, int(length)))
        out["fields"] = 6
        out["token_len"] = 16
        out["token"] = np.void(token.bytes)
        out["id_len"] = 8
        out["id"] = ids[rows]
        out["model_len"] = len(model_bytes)
        out["model"] = np.void(model_bytes)
        out["dims_len"] = 4
        out["dims"] = dims
        out["vector_len"] = 4 + 2 * dims
        out["vector_dims"] = dims
        out["vector_unused"] = 0
        out["vector"] = values[rows]  # converted to big-endian float16 on assignment, as HalfVector rounds
        out["hash_len"] = int(length)
        if length:
            selected = hashes if isinstance(rows, slice) else [hashes[i] for i in rows]
            out["hash"] = np.frombuffer(b"".join(selected), dtype=f"V{int(length)}")
        parts.append(out.tobytes())
    parts.append(_COPY_TRAILER)
    return b"".join(parts)


def _staging_record(model_bytes: int, dims: int, hash_bytes: int) -> np.dtype:
    """One staging row as binary COPY lays it out (each field's length, then its big-endian value)."""
    return np.dtype(
        [
            ("fields", ">i2"),
            ("token_len", ">i4"),
            ("token", "V16"),
            ("id_len", ">i4"),
            ("id", ">i8"),
            ("model_len", ">i4"),
            ("model", f"V{model_bytes}"),
            ("dims_len", ">i4"),
            ("dims", ">i4"),
            ("vector_len", ">i4"),
            ("vector_dims", ">i2"),
            ("vector_unused", ">i2"),
            ("vector", ">f2", (dims,)),
            ("hash_len", ">i4"),
            ("hash", f"V{hash_bytes}"),
        ]
    )


def _copy_to_staging(cur: psycopg.Cursor[Any], data: bytes) -> None:
    with cur.copy(COPY_STAGING) as copy:
        view = memoryview(data)
        for start in range(0, len(data), 1 << 20):  # in 1 MiB blocks, as psycopg sends them
            copy.write(view[start : start + (1 << 20)])


def _check(rfq_ids: Sequence[int], vectors: np.ndarray, text_hashes: Sequence[str]) -> None:
    if len(rfq_ids) != len(vectors) or len(rfq_ids) != len(text_hashes):
        raise ValueError("rfq_ids, vectors and text_hashes must have the same length")


def store_embeddings(
    conn: psycopg.Connection,
    model: str,
    rfq_ids: Sequence[int],
    vectors: np.ndarray,
    text_hashes: Sequence[str],
) -> int:
    """Write vectors for ``rfq_ids`` (binary COPY into a staging table, then one merge); returns rows written.

    A batch of at least ``BULK_MIN_ROWS`` goes through :func:`load_embeddings`, which rebuilds the model's index
    instead of maintaining it when enough of the rows are new or changed.
    """
    _check(rfq_ids, vectors, text_hashes)
    if not len(rfq_ids):
        return 0
    if len(rfq_ids) >= BULK_MIN_ROWS:
        return load_embeddings(conn, model, rfq_ids, vectors, text_hashes).written
    token = uuid.uuid4()
    data = staging_copy_data(token, model, rfq_ids, vectors, text_hashes)
    with conn.cursor() as cur:
        _copy_to_staging(cur, data)
        cur.execute(MERGE_STAGING, {"token": token})
        written = cur.rowcount
        cur.execute(CLEAR_STAGING, {"token": token})
    return written


def rebuild_pays(conn: psycopg.Connection, model: str, changed: int) -> bool:
    """Whether writing ``changed`` rows of ``model`` is done by rebuilding its index: at least ``BULK_MIN_ROWS``,
    and at least ``BULK_MIN_FRACTION`` of the rows the model already has."""
    if changed < BULK_MIN_ROWS:
        return False
    limit = int(changed / BULK_MIN_FRACTION) + 1
    stored = conn.execute(COUNT_STORED_UP_TO, {"model": model, "limit": limit}).fetchone()
    return stored is not None and int(stored[0]) * BULK_MIN_FRACTION <= changed


@dataclass(frozen=True)
class EmbeddingLoad:
    """What :func:`load_embeddings` did: rows written, the index it rebuilt (None: the index was maintained, or
    the model has none), and the seconds of the load (COPY and merge) and of the index build."""

    written: int
    rebuilt_index: str | None
    load_seconds: float
    index_seconds: float


def build_memory(rows: int) -> str:
    """``maintenance_work_mem`` for building a graph of ``rows`` vectors (see ``BUILD_MEMORY_PER_ROW``)."""
    mb = -(-rows * BUILD_MEMORY_PER_ROW // (1 << 20))
    return f"{min(max(mb, BUILD_MEMORY_MIN_MB), BUILD_MEMORY_MAX_MB)}MB"


def load_embeddings(
    conn: psycopg.Connection,
    model: str,
    rfq_ids: Sequence[int],
    vectors: np.ndarray,
    text_hashes: Sequence[str],
    *,
    rebuild_index: bool | None = None,
) -> EmbeddingLoad:
    """Write vectors for ``rfq_ids`` in one transaction, rebuilding ``model``'s index around the merge if it pays.

    The same merge as the small path (an unchanged text keeps its row), so the stored rows are the same either way.
    ``rebuild_index`` None decides by the rows the merge will write (:func:`rebuild_pays`), so a batch that is mostly
    unchanged keeps the index. A rebuild drops the index after the COPY into the staging table, so readers wait only
    for the merge and the build, then builds it from :func:`vector_index_statement` with ``maintenance_work_mem`` and
    parallel workers raised for the build alone. Runs in the caller's transaction when there is one (as a
    savepoint), else in its own; the lock lasts until that transaction ends.
    """
    _check(rfq_ids, vectors, text_hashes)
    started = time.perf_counter()
    token = uuid.uuid4()
    data = staging_copy_data(token, model, rfq_ids, vectors, text_hashes)
    name = vector_index_name(model)
    with conn.transaction(), conn.cursor() as cur:
        _copy_to_staging(cur, data)
        row = cur.execute(SELECT_INDEX_EXISTS, {"name": name}).fetchone()
        index = name if row and row[0] else None
        if index and rebuild_index is None:
            changed = cur.execute(COUNT_CHANGED_STAGING, {"token": token}).fetchone()
            rebuild_index = rebuild_pays(conn, model, int(changed[0]) if changed else 0)
        if index and rebuild_index:
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index)))
        else:
            index = None
        cur.execute(MERGE_STAGING, {"token": token})
        written = cur.rowcount
        cur.execute(CLEAR_STAGING, {"token": token})
        loaded = time.perf_counter()
        if index:
            saved = cur.execute(SELECT_SETTINGS).fetchone()
            stored = cur.execute(COUNT_STORED_UP_TO, {"model": model, "limit": None}).fetchone()
            memory = build_memory(int(stored[0]) if stored else len(rfq_ids))
            cur.execute(SET_BUILD_SETTINGS, {"memory": memory, "workers": str(BUILD_PARALLEL_WORKERS)})
            cur.execute(vector_index_statement(model, int(np.shape(vectors)[1])))
            if saved:  # the caller's transaction goes on with its own settings
                cur.execute(SET_BUILD_SETTINGS, {"memory": saved[0], "workers": saved[1]})
    finished = time.perf_counter()
    return EmbeddingLoad(written, index, loaded - started, finished - loaded)


def embedded_hashes(conn: psycopg.Connection, model: str, rfq_ids: Sequence[int]) -> dict[int, str]:
    """The text hash each already-embedded RFQ was embedded from, for ``model``."""
    rows = conn.execute(SELECT_EMBEDDED_HASHES, {"model": model, "ids": list(rfq_ids)}).fetchall()
    return {int(r[0]): str(r[1]) for r in rows}


def nearest(
    conn: psycopg.Connection, model: str, query: np.ndarray, k: int = 10, ef_search: int = DEFAULT_EF_SEARCH
) -> list[tuple[int, float]]:
    """The ``k`` nearest stored RFQs to ``query`` under ``model`` (approximate, via HNSW), with cosine similarity."""
    if query.shape[-1] != INDEX_DIMS:
        raise ValueError("the ANN indexes are built for 384-dimensional models")
    params: dict[str, Any] = {"query": _query_parameter(conn, query), "model": model, "k": k}
    # One round trip: pipelined, the setting and the lookup share a transaction even on an autocommit connection;
    # transaction-scoped (is_local), so a pooled connection does not keep the setting.
    with conn.pipeline():
        conn.execute(SET_EF_SEARCH, {"ef_search": str(int(ef_search))})
        cursor = conn.execute(NEAREST, params)
    return [(int(r[0]), float(r[1])) for r in cursor.fetchall()]


def _query_parameter(conn: psycopg.Connection, query: np.ndarray) -> Any:
    """The query vector as binary ``halfvec`` when the connection has pgvector's adapters (formatting and parsing
    384 numbers as text costs about as much as the HNSW search itself), else as pgvector's text form."""
    try:
        conn.adapters.get_dumper(HalfVector, PyFormat.BINARY)
    except psycopg.ProgrammingError:
        return "[" + ",".join(f"{v:.5g}" for v in np.asarray(query, dtype=np.float32)) + "]"
    return HalfVector(np.asarray(query, dtype=np.float16))


SELECT_RFQ_TEXTS = """
SELECT r.id, r.title, r.description, e.text_sha256
FROM rfqs r
LEFT JOIN rfq_embeddings e ON e.rfq_id = r.id AND e.model = %(model)s
WHERE r.id = ANY(%(ids)s::bigint[])
ORDER BY r.id
"""


def rfq_embedding_text(title: str, description: str) -> str:
    """What is embedded of an RFQ: the title and description as the classifier reads them."""
    from rfq_pipeline.ai.labels import RfqText

    return RfqText(id="", title=title or "", description=description or "").text()


def embed_rfqs(conn: psycopg.Connection, embedder: Embedder, rfq_ids: Sequence[int], batch_size: int = 2000) -> int:
    """Embed the given RFQs that have no vector for ``embedder`` yet or whose text changed; returns rows written.

    Texts are read and embedded ``batch_size`` at a time. At least ``BULK_MIN_ROWS`` RFQs are stored in one call at
    the end (float16, as stored), so a backfill can rebuild the index once instead of maintaining it row by row.
    """
    written = 0
    ids = list(rfq_ids)
    gather = len(ids) >= BULK_MIN_ROWS
    gathered: list[tuple[list[int], np.ndarray, list[str]]] = []
    for start in range(0, len(ids), batch_size):
        rows = conn.execute(SELECT_RFQ_TEXTS, {"ids": ids[start : start + batch_size], "model": embedder.name})
        todo = []
        for rfq_id, title, description, stored_hash in rows.fetchall():
            text = rfq_embedding_text(title, description)
            digest = text_sha256(text)
            if digest != stored_hash:
                todo.append((int(rfq_id), text, digest))
        if not todo:
            continue
        vectors = embedder.embed([t for _, t, _ in todo])
        if gather:
            gathered.append(([i for i, _, _ in todo], vectors.astype(np.float16), [d for _, _, d in todo]))
        else:
            written += store_embeddings(conn, embedder.name, [i for i, _, _ in todo], vectors, [d for _, _, d in todo])
    if gathered:
        all_ids = [i for batch, _, _ in gathered for i in batch]
        all_hashes = [d for _, _, digests in gathered for d in digests]
        written += store_embeddings(
            conn, embedder.name, all_ids, np.concatenate([v for _, v, _ in gathered]), all_hashes
        )
    return written
