"""Benchmark of the dedup ANN lookup: HNSW latency and recall@10 against an exact (sequential scan) search.

Runs on a temporary database of the configured server (the embedded one by default) with ``n`` stored vectors of
the default 384-dimensional static embedder. The vectors are synthetic but shaped like real RFQs: the real corpus
texts (2,000 Alibaba requests, 1,200 TradeKey titles, the go4WorldBusiness records) are embedded, and each stored
vector is either a random perturbation of one real embedding (a repost or re-wording: cosine ~0.9 to its source) or
a blend of two real embeddings plus noise (a request between two known ones), normalized. Queries are fresh
perturbations of real embeddings, so each has close neighbours, as a new repost does.

Loading is binary COPY with the model's partial HNSW index dropped, then the index is rebuilt exactly as migration
003 defines it (with ``maintenance_work_mem`` raised and parallel workers), and that build time is reported.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

CORPUS = Path(__file__).resolve().parent / "corpus"
BENCH_SOURCE = "bench_dedup"
INDEX_NAME = "rfq_embeddings_minilm_static_v1_hnsw_idx"

COPY_EMBEDDINGS = "COPY rfq_embeddings (rfq_id, model, dims, embedding, text_sha256) FROM STDIN WITH (FORMAT BINARY)"

EXACT = """
SELECT e.rfq_id
FROM rfq_embeddings e
WHERE e.model = %(model)s
ORDER BY e.embedding::halfvec(384) <=> %(query)s::halfvec(384)
LIMIT %(k)s
"""


def corpus_texts() -> list[str]:
    """Real RFQ texts from the package's corpus (titles, and descriptions where the source has them)."""
    texts: list[str] = []
    with (CORPUS / "alibaba_rfq_uae_2025-07.csv").open(encoding="utf-8", newline="") as handle:
        texts += [row["Title"] for row in csv.DictReader(handle)]
    from rfq_pipeline.devtools.simulator.sites.tradekey import corpus_urls, title_from_slug

    texts += [title_from_slug(slug) for _line, slug, _id in corpus_urls()]
    with (CORPUS / "go4w_buyers_2019.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            text = " ".join(str(record.get(k) or "") for k in ("buyerProductName", "buyerText")).strip()
            if text:
                texts.append(text)
    return texts


def synthetic_vectors(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors around the real embeddings ``base``: half perturbations, half noisy blends of two."""
    dims = base.shape[1]
    picks = rng.integers(0, len(base), size=n)
    out = base[picks].copy()
    blend = rng.random(n) < 0.5
    partners = base[rng.integers(0, len(base), size=int(blend.sum()))]
    alpha = rng.uniform(0.2, 0.8, size=(int(blend.sum()), 1)).astype(np.float32)
    out[blend] = alpha * out[blend] + (1 - alpha) * partners
    # Per-dimension sigma 0.015-0.035: a noise norm of 0.3-0.7 against unit vectors, cosine ~0.8-0.95 to the source.
    sigma = rng.uniform(0.015, 0.035, size=(n, 1)).astype(np.float32)
    out += rng.standard_normal((n, dims), dtype=np.float32) * sigma
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)


def _percentile_ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values) * 1000.0, q)), 3)


def bench_dedup(n: int = 100_000, *, queries: int = 200, k: int = 10, ef_search: int = 100, seed: int = 0) -> dict:
    """Measure HNSW lookups over ``n`` stored vectors: p50/p99 latency (ms), recall@k vs an exact scan, build time."""
    import psycopg
    from pgvector import HalfVector
    from pgvector.psycopg import register_vector

    from rfq_pipeline.ai.embedding_store import nearest
    from rfq_pipeline.ai.embeddings import embedder_named
    from rfq_pipeline.db import repository
    from rfq_pipeline.dedup.tempdb import temporary_database
    from rfq_pipeline.settings import Settings

    started = time.perf_counter()
    settings = Settings.from_env()
    embedder = embedder_named("minilm-static")
    rng = np.random.default_rng(seed)
    base = embedder.embed(corpus_texts())
    stored = synthetic_vectors(base, n, rng)
    probe = synthetic_vectors(base, queries, rng)
    report: dict[str, Any] = {"n": n, "dims": embedder.dims, "model": embedder.name, "k": k, "ef_search": ef_search}
    report["base_texts"] = len(base)

    with temporary_database(settings, prefix="rfq_bench") as url, psycopg.connect(url) as conn:
        register_vector(conn)
        repository.upsert_source(
            conn, name=BENCH_SOURCE, kind="loader", base_url="file:", cadence="manual", enabled=True
        )
        conn.execute(f"DROP INDEX {INDEX_NAME}")  # loading into a live HNSW index is many times slower
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy("COPY rfqs (source, external_id, canonical_url, title, content_sha256) FROM STDIN") as copy:
                for i in range(n):
                    copy.write_row((BENCH_SOURCE, str(i), "", f"bench {i}", "x"))
            ids = [int(r[0]) for r in cur.execute("SELECT id FROM rfqs ORDER BY id").fetchall()]
            halves = stored.astype(np.float16)
            with cur.copy(COPY_EMBEDDINGS) as copy:
                copy.set_types(["int8", "text", "int4", "halfvec", "text"])
                for rfq_id, vector in zip(ids, halves, strict=True):
                    copy.write_row((rfq_id, embedder.name, embedder.dims, HalfVector(vector), "x"))
        conn.commit()
        report["load_seconds"] = round(time.perf_counter() - t0, 2)

        t0 = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '1GB'")  # the graph must fit, or the build spills and crawls
        conn.execute("SET max_parallel_maintenance_workers = 2")
        conn.execute(
            f"CREATE INDEX {INDEX_NAME} ON rfq_embeddings USING hnsw ((embedding::halfvec(384)) halfvec_cosine_ops) "
            f"WHERE model = '{embedder.name}'"
        )
        conn.execute("ANALYZE rfq_embeddings")
        conn.commit()
        report["index_build_seconds"] = round(time.perf_counter() - t0, 2)

        params = {"model": embedder.name, "k": k, "query": HalfVector(probe[0].astype(np.float16))}
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + EXACT, params).fetchall())
        report["ann_uses_hnsw_index"] = INDEX_NAME in plan
        conn.commit()

        for q in probe[:10]:  # warm the index pages into shared buffers
            nearest(conn, embedder.name, q, k, ef_search)
        ann_latency: list[float] = []
        ann_results: list[list[int]] = []
        for q in probe:
            t = time.perf_counter()
            found = nearest(conn, embedder.name, q, k, ef_search)
            ann_latency.append(time.perf_counter() - t)
            ann_results.append([rfq_id for rfq_id, _sim in found])
        conn.commit()

        exact_latency: list[float] = []
        exact_results: list[list[int]] = []
        with conn.transaction():
            conn.execute("SET LOCAL enable_indexscan = off")  # the same query, answered by a full scan: exact
            for q in probe:
                t = time.perf_counter()
                rows = conn.execute(EXACT, {"model": embedder.name, "k": k, "query": HalfVector(q.astype(np.float16))})
                exact_results.append([int(r[0]) for r in rows.fetchall()])
                exact_latency.append(time.perf_counter() - t)

    recalls = [len(set(a) & set(e)) / len(e) for a, e in zip(ann_results, exact_results, strict=True) if e]
    report |= {
        "queries": queries,
        "ann_p50_ms": _percentile_ms(ann_latency, 50),
        "ann_p99_ms": _percentile_ms(ann_latency, 99),
        "exact_p50_ms": _percentile_ms(exact_latency, 50),
        "exact_p99_ms": _percentile_ms(exact_latency, 99),
        f"recall_at_{k}": round(float(np.mean(recalls)), 4),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    return report


def main() -> None:
    """Print the benchmark at its default size as one JSON object."""
    print(json.dumps(bench_dedup(), indent=2))


if __name__ == "__main__":
    main()
