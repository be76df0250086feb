"""The dedup throughput benchmark runs end to end at a tiny size (a smoke test: no timing is asserted)."""

from pathlib import Path

import psycopg
import pytest

from rfq_pipeline.devtools.bench_dedup import bench_throughput, corpus_requests, fresh_requests, throughput_workload


@pytest.fixture()
def server_env(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("RFQ_DATA_DIR", str(tmp_path / "data"))
    for name in ("RFQ_EMBEDDER", "RFQ_DEDUP_MIN_SIMILARITY", "RFQ_MIGRATIONS_DIR", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_workload_mixes_real_records_reposts_and_new_requests() -> None:
    assert len(corpus_requests()) > 3_000
    base, held_out, rng = throughput_workload(50, seed=1)
    batch = fresh_requests(base, held_out, 8, rng)
    assert len(base) == 50 and held_out
    assert [kind for kind, _r in batch] == ["repost", "reword", "other_buyer", "new"] * 2
    assert batch[0][1] in base  # an exact repost of a stored RFQ
    assert batch[3][1] == held_out[0]  # a real record the store has never seen


def test_throughput_benchmark_places_a_fresh_batch_and_drops_its_database(
    server_env: None, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(pg_url) as conn:
        before = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    report = bench_throughput(60, 20, batch_size=10, base_batch_size=30, base_seconds=0, fresh_seconds=0, pairs=50)
    assert report["stored"] == 60 and report["fresh_placed"] == 20
    assert sum(report["fresh_by_matched_by"].values()) == 20
    assert report["fresh_by_matched_by"].get("content_hash", 0) >= 5  # the exact reposts join on their hash
    for key in ("extract_rfqs_per_s", "pairs_per_s", "whole_rfqs_per_s", "ratio_whole_to_extract"):
        assert report[key] > 0
    out = capsys.readouterr().out
    assert "dedup: whole decision, assign_clusters (10/batch)" in out and "rfqs/s" in out
    with psycopg.connect(pg_url) as conn:
        assert {r[0] for r in conn.execute("SELECT datname FROM pg_database")} == before
