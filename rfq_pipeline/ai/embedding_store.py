"""Embeddings in PostgreSQL: ``halfvec`` rows written by binary COPY, searched through each model's HNSW index."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from pgvector import HalfVector
from pgvector.psycopg import register_vector

from rfq_pipeline.ai.embeddings import Embedder, text_sha256

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

# The ORDER BY must match the partial index (same cast, same operator, same predicate) for the planner to use HNSW.
NEAREST = """
SELECT e.rfq_id, 1 - (e.embedding::halfvec(384) <=> %(query)s::halfvec(384)) AS similarity
FROM rfq_embeddings e
WHERE e.model = %(model)s
ORDER BY e.embedding::halfvec(384) <=> %(query)s::halfvec(384)
LIMIT %(k)s
"""


def store_embeddings(
    conn: psycopg.Connection,
    model: str,
    rfq_ids: Sequence[int],
    vectors: np.ndarray,
    text_hashes: Sequence[str],
) -> int:
    """Write vectors for ``rfq_ids`` (binary COPY into a staging table, then one merge); returns rows written."""
    if len(rfq_ids) != len(vectors) or len(rfq_ids) != len(text_hashes):
        raise ValueError("rfq_ids, vectors and text_hashes must have the same length")
    if not len(rfq_ids):
        return 0
    dims = int(vectors.shape[1])
    halves = np.asarray(vectors, dtype=np.float16)
    register_vector(conn)  # the binary COPY needs the halfvec type's oid on this connection
    token = uuid.uuid4()
    with conn.cursor() as cur:
        with cur.copy(COPY_STAGING) as copy:
            copy.set_types(["uuid", "int8", "text", "int4", "halfvec", "text"])
            for rfq_id, vector, digest in zip(rfq_ids, halves, text_hashes, strict=True):
                copy.write_row((token, int(rfq_id), model, dims, HalfVector(vector), digest))
        cur.execute(MERGE_STAGING, {"token": token})
        written = cur.rowcount
        cur.execute(CLEAR_STAGING, {"token": token})
    return written


def embedded_hashes(conn: psycopg.Connection, model: str, rfq_ids: Sequence[int]) -> dict[int, str]:
    """The text hash each already-embedded RFQ was embedded from, for ``model``."""
    rows = conn.execute(SELECT_EMBEDDED_HASHES, {"model": model, "ids": list(rfq_ids)}).fetchall()
    return {int(r[0]): str(r[1]) for r in rows}


def nearest(
    conn: psycopg.Connection, model: str, query: np.ndarray, k: int = 10, ef_search: int = 100
) -> list[tuple[int, float]]:
    """The ``k`` nearest stored RFQs to ``query`` under ``model`` (approximate, via HNSW), with cosine similarity."""
    if query.shape[-1] != 384:
        raise ValueError("the ANN indexes are built for 384-dimensional models")
    # Transaction-scoped (is_local), so a pooled connection does not keep the setting.
    conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(int(ef_search)),))
    # Passed as pgvector's text form: works on any connection, with or without the registered adapters.
    literal = "[" + ",".join(f"{v:.5g}" for v in np.asarray(query, dtype=np.float32)) + "]"
    params: dict[str, Any] = {"query": literal, "model": model, "k": k}
    return [(int(r[0]), float(r[1])) for r in conn.execute(NEAREST, params).fetchall()]


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
    """Embed the given RFQs that have no vector for ``embedder`` yet or whose text changed; returns rows written."""
    written = 0
    ids = list(rfq_ids)
    for start in range(0, len(ids), batch_size):
        rows = conn.execute(SELECT_RFQ_TEXTS, {"ids": ids[start : start + batch_size], "model": embedder.name})
        todo = []
        for rfq_id, title, description, stored_hash in rows.fetchall():
            text = rfq_embedding_text(title, description)
            digest = text_sha256(text)
            if digest != stored_hash:
                todo.append((int(rfq_id), text, digest))
        if todo:
            vectors = embedder.embed([t for _, t, _ in todo])
            written += store_embeddings(conn, embedder.name, [i for i, _, _ in todo], vectors, [d for _, _, d in todo])
    return written
