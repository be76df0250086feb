"""``make bench`` (AI stages): the default embedder against the torch baseline, and what the speed costs in quality.

Prints texts/s of the distilled static MiniLM and of the transformer on the same real marketplace texts (2 CPU
cores), the ratio, their agreement (cosine of the two vectors of a text, top-10 neighbour overlap), classification
throughput, the binary-COPY write rate into pgvector, and, side by side for both embedders, the classifier's
cross-validated quality and the dedup precision/recall on the repost cases.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from rfq_pipeline.ai.embeddings import Embedder, StaticMiniLM, TorchMiniLM, text_sha256
from rfq_pipeline.ai.training_data import distillation_split


def _rate_line(name: str, seconds: float, rows: int, unit: str = "texts") -> None:
    print(f"{name:<52}{rows:>9} {unit:<6}{seconds:>9.3f} s{rows / seconds:>12,.0f} {unit}/s")


def bench_embedders(
    torch_texts: int = 1_000, static_texts: int = 30_000, static: Embedder | None = None
) -> dict[str, float]:
    """Throughput of both embedders on real marketplace texts, and how closely the static one follows torch.

    ``static`` (default: the default static table) lets another teacher's table be held to the same >= 5x rule;
    its agreement with torch MiniLM only means something for a MiniLM table.
    """
    texts = list(distillation_split()[1])  # text the static table was not fitted on
    sample = [texts[i % len(texts)] for i in range(torch_texts)]
    many = [texts[i % len(texts)] + ("" if i < len(texts) else f" {i}") for i in range(static_texts)]
    print(f"{'embedding texts: held-out marketplace texts':<52}{len(texts):>9}")

    torch_model = TorchMiniLM()
    torch_model.embed(sample[:32])  # warm-up: first call allocates
    started = time.perf_counter()
    reference = torch_model.embed(sample)
    torch_seconds = time.perf_counter() - started
    _rate_line("embed: torch all-MiniLM-L6-v2 (baseline)", torch_seconds, len(sample))

    static = static or StaticMiniLM()
    static.embed(many[:32])
    started = time.perf_counter()
    static.embed(many)
    static_seconds = time.perf_counter() - started
    _rate_line(f"embed: static {static.name}", static_seconds, len(many))
    torch_rate, static_rate = len(sample) / torch_seconds, len(many) / static_seconds
    print(f"{'ratio static / torch texts/s (target >= 5)':<52}{static_rate / torch_rate:>9.1f}")

    mine = static.embed(sample)
    cosine = float(np.mean(np.sum(mine * reference, axis=1)))
    unique = min(len(texts), len(sample))
    ref_sim, own_sim = reference[:unique] @ reference[:unique].T, mine[:unique] @ mine[:unique].T
    ref_top, own_top = np.argsort(-ref_sim, axis=1)[:, 1:11], np.argsort(-own_sim, axis=1)[:, 1:11]
    overlap = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ref_top, own_top, strict=True)]))
    print(f"{'agreement: mean cosine static vs torch vector':<52}{cosine:>9.3f}")
    print(f"{'agreement: top-10 neighbour overlap':<52}{overlap:>9.3f}")
    return {"torch_texts_per_s": torch_rate, "static_texts_per_s": static_rate, "cosine": cosine, "knn10": overlap}


def bench_classifier(n: int = 20_000) -> float:
    """RFQs/s of the local classifier (features, model, rules) on real titles, and its ratio to the floor."""
    from rfq_pipeline.ai.classifier import local_classifier
    from rfq_pipeline.ai.training_data import labeled_examples

    classifier = local_classifier()
    items = [e.item for e in labeled_examples()]
    batch = [dataclasses.replace(items[i % len(items)], id=str(i)) for i in range(n)]
    classifier.classify(batch[:100])
    started = time.perf_counter()
    classifier.classify(batch)
    seconds = time.perf_counter() - started
    _rate_line("classify: local model (RFQs, batch)", seconds, n, "rfqs")
    print(f"{'ratio classify RFQs/s / floor (floor >= 5,000)':<52}{n / seconds / 5_000:>9.2f}")
    return n / seconds


def bench_embedding_writes(n: int = 50_000, maintained: int = 4_000) -> dict[str, float]:
    """Binary COPY of halfvec rows into a fresh database, as ``store_embeddings`` writes them.

    The bulk load of ``n`` rows (the model's HNSW index dropped, COPY and merge, the index built once, one
    transaction) is timed against its anchor, the same rows written with no HNSW index at all; then the same rows
    again (idempotent: nothing changes, the index is kept), and ``maintained`` more rows through the small path, which
    adds each row to the live index (the rate a bulk load would run at without the rebuild).
    """
    from psycopg import sql

    from rfq_pipeline.ai.embedding_store import store_embeddings, vector_index_name, vector_index_statement
    from rfq_pipeline.ai.embeddings import STATIC_NAME
    from rfq_pipeline.db.database import Database
    from rfq_pipeline.dedup.tempdb import temporary_database
    from rfq_pipeline.devtools.bench_dedup import corpus_texts, synthetic_vectors

    model, index = STATIC_NAME, vector_index_name(STATIC_NAME)
    # Realistic vectors (around real RFQ embeddings), not uniform noise: HNSW insert cost depends on the data.
    vectors = synthetic_vectors(StaticMiniLM().embed(corpus_texts()), n + maintained, np.random.default_rng(0))
    with temporary_database(prefix="rfq_bench_ai") as url, Database(url, max_size=1) as db:
        with db.connection() as conn:
            conn.execute(
                "INSERT INTO sources (name, kind, base_url, cadence) VALUES ('bench', 'loader', 'local', 'never')"
            )
            ids = [
                int(r[0])
                for r in conn.execute(
                    "INSERT INTO rfqs (source, external_id, canonical_url, title, content_sha256) "
                    "SELECT 'bench', g::text, 'local:' || g, 'bench ' || g, md5(g::text) "
                    "FROM generate_series(1, %(n)s) AS g RETURNING id",
                    {"n": n + maintained},
                ).fetchall()
            ]
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index)))
        hashes = [text_sha256(str(i)) for i in ids]
        bulk_ids, bulk_vectors, bulk_hashes = ids[:n], vectors[:n], hashes[:n]

        # The anchor: the same rows with no HNSW index to drop or build (COPY into staging and the merge only).
        started = time.perf_counter()
        with db.connection() as conn:
            written = store_embeddings(conn, model, bulk_ids, bulk_vectors, bulk_hashes)
        anchor = time.perf_counter() - started
        _rate_line("store embeddings without any HNSW index (anchor)", anchor, written, "rows")
        with db.connection() as conn:
            conn.execute("DELETE FROM rfq_embeddings")
            conn.execute(vector_index_statement(model))  # the migration's index, on the emptied table

        started = time.perf_counter()
        with db.connection() as conn:
            written = store_embeddings(conn, model, bulk_ids, bulk_vectors, bulk_hashes)
        bulk = time.perf_counter() - started
        _rate_line("store embeddings, bulk: COPY + merge + HNSW build", bulk, written, "rows")
        with db.connection() as conn:
            assert conn.execute("SELECT to_regclass(%s)", (index,)).fetchone() != (None,), "index not rebuilt"
        print(f"{'ratio bulk incl. index build / without index rows/s':<52}{anchor / bulk:>9.3f}")
        target = "(target >= 10,000 rows/s incl. index build)"
        print(f"{'ratio bulk rows/s / 10,000':<52}{n / bulk / 10_000:>9.3f}  {target}")

        started = time.perf_counter()
        with db.connection() as conn:
            again = store_embeddings(conn, model, bulk_ids, bulk_vectors, bulk_hashes)
        seconds = time.perf_counter() - started
        print(f"{'store embeddings again (idempotent): rows changed':<52}{again:>9} {'':<6}{seconds:>9.3f} s")

        started = time.perf_counter()
        with db.connection() as conn:
            written = store_embeddings(conn, model, ids[n:], vectors[n:], hashes[n:])
        live = time.perf_counter() - started
        _rate_line("store embeddings, small path into the live index", live, written, "rows")
        print(f"{'ratio small path (live index) / bulk rows/s':<52}{(maintained / live) / (n / bulk):>9.3f}")
    return {"anchor_rows_per_s": n / anchor, "bulk_rows_per_s": n / bulk, "live_rows_per_s": maintained / live}


def bench_quality() -> None:
    """Classifier and dedup quality with each embedder, side by side (what the speed-up costs)."""
    from rfq_pipeline.ai import evaluation
    from rfq_pipeline.dedup.evaluation import evaluate as evaluate_dedup
    from rfq_pipeline.settings import Settings

    for embedder in ("minilm-static", "minilm"):
        results = evaluation.evaluate(embedder=embedder)
        cv = results["cv"]["all"]
        print(f"{'quality [' + embedder + '] classifier (cv, all rows)':<52}{cv.render()}")
        settings = dataclasses.replace(Settings.from_env(), embedder=embedder)
        dedup = evaluate_dedup(settings=settings)
        print(f"{'quality [' + embedder + '] dedup on repost cases':<52}precision={dedup.precision:.4f} "
              f"recall={dedup.recall:.4f} false_pairs={dedup.false_positive_pairs}")


def run() -> None:
    """Every AI-stage benchmark, one line each."""
    bench_embedders()
    bench_classifier()
    bench_embedding_writes()
    bench_quality()


if __name__ == "__main__":
    run()
