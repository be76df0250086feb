"""The commands people run, as subprocesses: migrations, `rfq-pipeline run` (what `make run` calls), validation."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RFQ_", "DAGSTER_")) and k != "DATABASE_URL"}
    env.update(extra)
    return env


def _cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "rfq-pipeline"), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_db_migrate_is_idempotent_from_the_cli(fresh_database: str, tmp_path: Path) -> None:
    env = _env(DATABASE_URL=fresh_database, RFQ_DATA_DIR=str(tmp_path))
    first = _cli("db", "migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied 001_initial_schema.sql" in first.stdout
    second = _cli("db", "migrate", env=env)
    assert second.returncode == 0 and "up to date" in second.stdout
    status = _cli("db", "status", env=env)
    assert status.returncode == 0 and "pending migrations: none" in status.stdout


def test_run_twice_prints_the_same_nonzero_counts(clean_db: str, tmp_path: Path) -> None:
    env = _env(DATABASE_URL=clean_db, RFQ_DATA_DIR=str(tmp_path), DAGSTER_HOME=str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", tmp_path / "dagster" / "dagster.yaml")
    outputs = []
    for _ in range(2):
        run = _cli("run", env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        outputs.append(run.stdout)
    row = re.compile(r"^(go4worldbusiness|alibaba_rfq)" + r"\s+(\d+)" * 8 + "$", re.M)
    first, second = (row.findall(out) for out in outputs)
    assert {name for name, *_ in first} == {"go4worldbusiness", "alibaba_rfq"}
    for counts, again in zip(sorted(first), sorted(second), strict=True):
        name, on_day, new, normalized, classified, relevant, uncertain, duplicates, total = counts
        assert int(on_day) > 0 and int(new) == int(on_day) and int(normalized) == int(on_day), name
        assert int(classified) == int(on_day) and int(relevant) + int(uncertain) <= int(on_day)
        assert int(duplicates) < int(on_day)
        # The second run finds nothing new and labels and clusters the same way.
        assert again == (name, on_day, "0", normalized, classified, relevant, uncertain, duplicates, total)
    assert "DEBUG" not in outputs[0]
    assert "succeeded" in outputs[1]


def test_configuration_errors_are_reported_plainly(tmp_path: Path) -> None:
    run = _cli("sources", env=_env(RFQ_DATA_DIR=str(tmp_path), RFQ_SOURCE_EC21_ENABLED="maybe"))
    assert run.returncode == 2
    assert "RFQ_SOURCE_EC21_ENABLED" in run.stderr


@pytest.mark.timeout(300)
def test_dagster_definitions_validate_on_the_workspace(tmp_path: Path) -> None:
    env = _env(DAGSTER_HOME=str(tmp_path), RFQ_DATA_DIR=str(tmp_path))
    shutil.copy(REPO_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_breaker_health_and_reset_from_the_cli(clean_db: str, tmp_path: Path) -> None:
    from rfq_pipeline.db.database import Database
    from rfq_pipeline.fetch.breaker import CircuitBreaker
    from rfq_pipeline.settings import Settings
    from rfq_pipeline.sources.ingest import register_sources
    from rfq_pipeline.sources.registry import SOURCES, resolve

    with Database(clean_db, max_size=1) as db:
        register_sources(db, [resolve(SOURCES["alibaba_rfq"], Settings.from_env({}))])
        breaker = CircuitBreaker(db, "alibaba_rfq", threshold=1)
        breaker.record_failure("HTTP 503")
    env = _env(DATABASE_URL=clean_db, RFQ_DATA_DIR=str(tmp_path))
    health = _cli("sources", "health", env=env)
    assert re.search(r"^alibaba_rfq\s+open until .* \(last: HTTP 503\)$", health.stdout, re.M), health.stdout
    assert re.search(r"^go4worldbusiness\s+never fetched$", health.stdout, re.M)
    reset = _cli("sources", "reset-breaker", "alibaba_rfq", env=env)
    assert reset.returncode == 0 and "reset to closed" in reset.stdout
    assert "alibaba_rfq          closed (0 consecutive failures)" in _cli("sources", "health", env=env).stdout
    assert _cli("sources", "reset-breaker", "nope", env=env).returncode == 2
