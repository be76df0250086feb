"""``rfq-pipeline export`` and ``rfq-pipeline sql`` through ``rfq_pipeline.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rfq_pipeline.cli import main
from rfq_pipeline_tests.conftest import REPO_ROOT
from rfq_pipeline_tests.exports.conftest import Seeded


def _export(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["export", *args]) == 0
    return capsys.readouterr().out


def test_export_prints_rows_and_bytes_per_table_and_builds_the_duckdb_file(
    export_env: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _export(capsys, "--date", "2025-07-13")
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line and not line.startswith(" ")}
    assert lines["rfqs"][0] == "6" and lines["quote_drafts"][0] == "4" and lines["contacts"][0] == "0"
    assert lines["rfqs"][2] in {"B", "KiB"} and "exported 1 day(s) (2025-07-13)" in out
    duckdb_file = tmp_path / "data" / "exports" / "analytics.duckdb"
    assert f"duckdb: {duckdb_file}" in out and duckdb_file.exists()
    exported = tmp_path / "data" / "objects" / "exports" / "exports" / "rfqs" / "date=2025-07-13" / "data.parquet"
    assert exported.exists()


def test_export_of_a_range_and_bad_ranges(export_env: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    out = _export(capsys, "--from", "2025-07-12", "--to", "2025-07-14")
    assert (
        "2025-07-12: 2 rows" in out and "2025-07-13: " in out and "exported 3 day(s) (2025-07-12 .. 2025-07-14)" in out
    )
    for args, message in (
        (["--from", "2025-07-14", "--to", "2025-07-12"], "is before --from"),
        (["--date", "2025-07-13", "--from", "2025-07-12"], "either --date or --from/--to"),
        (["--date", "13/07/2025"], "is not a date"),
    ):
        assert main(["export", *args]) == 2
        assert message in capsys.readouterr().err


def test_sql_prints_an_aligned_table_csv_or_json(export_env: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    _export(capsys, "--date", "2025-07-13")
    query = "SELECT source, count(*) AS rfqs, round(avg(quantity_value), 1) AS q FROM rfqs GROUP BY 1 ORDER BY 1"
    assert main(["sql", query]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "source       rfqs  q",
        "-----------  ----  -",
        "alibaba_rfq     3",
        "tradekey        3",
        "(2 rows)",
    ]
    assert main(["sql", "SELECT state, count(*) AS n FROM quote_drafts GROUP BY 1 ORDER BY 1", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["state,n", "edited,1", "lost,1", "queued,1", "won,1"]
    assert main(["sql", "SELECT draft_id, rfq_posted_at FROM quote_drafts ORDER BY 1 LIMIT 1", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["draft_id"] == 1 and row["rfq_posted_at"].startswith("2025-07-13 09:00:00")
    analyst = REPO_ROOT / "sql" / "analyst" / "win_rate_by_month.sql"
    assert main(["sql", "--file", str(analyst)]) == 0
    assert "0.5" in capsys.readouterr().out
    outcomes = REPO_ROOT / "sql" / "analyst" / "quote_outcomes.sql"
    assert main(["sql", "--file", str(outcomes), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("dimension,value,drafts,approved,sent,median_hours_to_first_quote,")
    assert "industry,beauty_personal_care,4,2,2,5.5,6.7,1.0,1,1,0.5" in lines


def test_sql_errors(export_env: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    assert main(["sql", "SELECT 1"]) == 1
    assert "run `rfq-pipeline export` first" in capsys.readouterr().err
    _export(capsys, "--date", "2025-07-13")
    assert main(["sql", "SELEC count(*) FROM rfqs"]) == 2
    assert "Parser Error" in capsys.readouterr().err
    assert main(["sql", "SELECT no_such_column FROM rfqs"]) == 2
    assert 'Referenced column "no_such_column" not found' in capsys.readouterr().err
    assert main(["sql", "CREATE TABLE notes (x INT)"]) == 2  # the file is opened read-only
    assert "read-only" in capsys.readouterr().err
    assert main(["sql"]) == 2
    assert "give a query or --file" in capsys.readouterr().err
