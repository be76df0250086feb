"""``make bench`` (import): RFQs from an archive file to dedup clusters, end to end, with the time per stage and the
peak memory of the pipeline's process and the database server together.

The archive is synthetic but drawn from the real samples: the corpus's real requests (Alibaba board rows,
go4WorldBusiness records, TradeKey titles, the labeled dedup records), then reposts, re-wordings and the same products
for other buyers (``bench_dedup.throughput_workload``), posted over the 365 days of 2025, written as CSV. It is
imported with ``rfq-pipeline import``'s code into a temporary database, then each stage runs over the whole range as
its single-run backfill does: normalize, classify, embed, clusters. The target is 1M rows in 15 minutes under 8 GB;
a stage still running when the budget is spent is stopped and reported with how far it got, never extrapolated.

``python -m rfq_pipeline.devtools.bench_import [--rows N] [--budget-minutes M]``
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

TARGET_ROWS = 1_000_000
TARGET_MINUTES = 15.0
TARGET_MEMORY_GB = 8.0
STAGE_BATCH = 50_000  # rows a stage holds in memory at a time
CLUSTER_BATCH = 2_000  # RFQs per assignment transaction


class PeakMemory:
    """Samples the resident memory of this process and every PostgreSQL server process, twice a second."""

    def __init__(self) -> None:
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _total(self) -> int:
        total = psutil.Process().memory_info().rss
        for process in psutil.process_iter(["name"]):
            try:
                if (process.info["name"] or "").startswith("postgres"):
                    # Shared buffers are counted in every backend's RSS: take unique set size where the OS gives it.
                    info = process.memory_full_info()
                    total += getattr(info, "uss", info.rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.peak_bytes = max(self.peak_bytes, self._total())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def write_archive(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` RFQs drawn from the real samples, as an archive CSV with posting dates over 2025."""
    from rfq_pipeline.devtools.bench_dedup import throughput_workload

    requests, _held_out, _rng = throughput_workload(rows, seed)
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Ref", "Title", "Details", "Quantity", "Country", "Buyer", "Posted"])
        for i, request in enumerate(requests):
            posted = start + timedelta(seconds=rng.randrange(365 * 86_400))
            writer.writerow(
                [f"R{i}", request.title, request.description, request.quantity, request.country, request.buyer,
                 posted.isoformat()]
            )  # fmt: skip


MAPPING = """columns:
  external_id: Ref
  title: Title
  description: Details
  quantity: Quantity
  country: Country
  buyer: Buyer
  posted: Posted
"""


def _line(name: str, seconds: float, rows: int, unit: str = "rows") -> None:
    rate = rows / seconds if seconds else 0.0
    print(f"{name:<52}{rows:>9} {unit:<6}{seconds:>9.1f} s{rate:>12,.0f} {unit}/s", flush=True)


def _chunks(ids: Sequence[int], size: int) -> list[Sequence[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def run(rows: int = TARGET_ROWS, budget_minutes: float = TARGET_MINUTES) -> dict[str, float]:
    """Import ``rows`` RFQs and run the stages to clusters within ``budget_minutes``; print and return the figures."""
    from rfq_pipeline.ai.classification_store import write_labels
    from rfq_pipeline.ai.classifier import local_classifier
    from rfq_pipeline.ai.embedding_store import embed_rfqs
    from rfq_pipeline.ai.embeddings import StaticMiniLM, text_sha256
    from rfq_pipeline.ai.labels import RfqText
    from rfq_pipeline.db import repository
    from rfq_pipeline.db.database import Database
    from rfq_pipeline.dedup.clusters import assign_clusters
    from rfq_pipeline.dedup.tempdb import temporary_database
    from rfq_pipeline.imports.loader import import_archives
    from rfq_pipeline.imports.mapping import load_mapping
    from rfq_pipeline.normalize.stage import normalize_window
    from rfq_pipeline.settings import Settings

    settings = Settings.from_env()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="rfq-bench-import-") as tmp:
        archive, mapping_path = Path(tmp) / "archive.csv", Path(tmp) / "map.yaml"
        started = time.perf_counter()
        write_archive(archive, rows)
        mapping_path.write_text(MAPPING, encoding="utf-8")
        written_in = time.perf_counter() - started
        print(f"{'archive: synthetic rows from the real samples':<52}{rows:>9} rows {written_in:>9.1f} s to write")
        with temporary_database(prefix="rfq_bench_import") as url, Database(url, max_size=2) as db, PeakMemory() as mem:
            began = time.perf_counter()
            deadline = began + budget_minutes * 60

            def stage(name: str, fn: Callable[[], int]) -> int:
                t = time.perf_counter()
                done = fn()
                figures[name] = time.perf_counter() - t
                _line(f"import to clusters: {name}", figures[name], done)
                return done

            mapping = load_mapping(mapping_path)
            stage("import (read, check, bulk upsert)",
                  lambda: import_archives(db, [archive], "bench_archive", mapping).rows_loaded)  # fmt: skip
            window = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
            with db.connection() as conn:
                ids = repository.rfq_ids_between(conn, *window)

            def normalize() -> int:
                with db.connection() as conn:
                    return normalize_window(conn, *window).updated

            stage("normalize (polars, one statement)", normalize)
            classifier = local_classifier()

            def classify() -> int:
                written = 0
                for chunk in _chunks(ids, STAGE_BATCH):
                    with db.connection() as conn:
                        texts = conn.execute(
                            "SELECT id, title, description, quantity_text, country_raw FROM rfqs WHERE id = ANY(%s)",
                            (list(chunk),),
                        ).fetchall()
                        items = [RfqText(id=str(i), title=t or "", description=d or "", quantity=q or "",
                                         country=c or "") for i, t, d, q, c in texts]  # fmt: skip
                        labels = classifier.classify(items)
                        written += write_labels(conn, labels, {i.id: text_sha256(i.text()) for i in items},
                                                min_confidence=settings.classify_min_confidence)  # fmt: skip
                return written

            stage("classify (local model)", classify)

            def embed() -> int:
                with db.connection() as conn:
                    return embed_rfqs(conn, StaticMiniLM(), ids)

            stage("embed (static MiniLM, pgvector)", embed)

            def clusters() -> int:
                placed = 0
                for chunk in _chunks(ids, CLUSTER_BATCH):
                    if time.perf_counter() > deadline:
                        print(f"{'':<52}budget spent: {placed} of {len(ids)} RFQs placed", flush=True)
                        break
                    with db.connection() as conn:
                        placed += assign_clusters(conn, chunk, model=StaticMiniLM().name,
                                                  min_similarity=settings.dedup_min_similarity,
                                                  actor="bench").considered  # fmt: skip
                return placed

            placed = stage("clusters (dedup decisions)", clusters)
            total = time.perf_counter() - began
        figures.update(total_seconds=total, placed=placed, rows=len(ids), peak_gb=mem.peak_bytes / 1e9)
    finished = placed == len(ids)
    print(f"{'import to clusters: total':<52}{len(ids):>9} rows {total:>9.1f} s{len(ids) / total:>12,.0f} rows/s")
    print(f"{'ratio total time / 15-minute budget (target <= 1)':<52}"
          f"{(total / 60 / TARGET_MINUTES if finished else float('inf')):>9.2f}"
          f"{'' if finished else '  (clusters not finished)'}")  # fmt: skip
    print(f"{'peak memory, pipeline + PostgreSQL (target < 8 GB)':<52}{figures['peak_gb']:>9.2f} GB")
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``--rows`` (default 1,000,000), ``--budget-minutes`` (default 15)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=TARGET_ROWS)
    parser.add_argument("--budget-minutes", type=float, default=TARGET_MINUTES)
    args = parser.parse_args(argv)
    run(args.rows, args.budget_minutes)


if __name__ == "__main__":
    main()
