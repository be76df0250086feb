"""Every ``sql/analyst/*.sql`` query runs against the DuckDB views and answers its question on the seeded day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from rfq_pipeline.db.database import Database
from rfq_pipeline.exports.writer import ExportOptions, build_duckdb, export_day, export_root
from rfq_pipeline.store.object_store import LocalObjectStore
from rfq_pipeline_tests.conftest import REPO_ROOT
from rfq_pipeline_tests.exports.conftest import DAY, Seeded

ANALYST_DIR = REPO_ROOT / "sql" / "analyst"
JULY = date(2025, 7, 1)

# What each query answers on the seeded day (see conftest.py): columns, then rows.
EXPECTED = {
    "new_relevant_rfqs_per_source_per_day.sql": (
        ["day", "source", "relevant_rfqs", "new_relevant_rfqs"],
        # alibaba: lotion and shampoo (the lathe is not relevant); tradekey: the lotion repost, argan oil, face cream
        [(DAY.date(), "alibaba_rfq", 2, 2), (DAY.date(), "tradekey", 3, 2)],
    ),
    "duplicate_rate_by_marketplace.sql": (
        ["source", "rfqs", "duplicates", "cross_marketplace_duplicates", "duplicate_rate"],
        [("tradekey", 3, 1, 1, 0.333), ("alibaba_rfq", 3, 0, 0, 0.0)],
    ),
    "time_from_posting_to_draft.sql": (
        ["month", "drafts", "median_hours", "p90_hours"],
        # posted at 09:00, 06:00, 03:00 and 00:00, drafted at 12:00: 3, 6, 9 and 12 hours
        [(JULY, 4, 7.5, 11.1)],
    ),
    "win_rate_by_month.sql": (["month", "won", "lost", "win_rate"], [(JULY, 1, 1, 0.5)]),
    "quote_outcomes.sql": (
        [
            "dimension",
            "value",
            "drafts",
            "approved",
            "sent",
            "median_hours_to_first_quote",
            "p90_hours_to_first_quote",
            "approval_rate",
            "won",
            "lost",
            "win_rate",
        ],
        # lotion (alibaba, sent 4 h after posting, won) and argan oil (tradekey, sent after 7 h, lost) were approved;
        # the shampoo and face cream drafts still wait for review, so no approval rate counts them
        [
            ("source", "alibaba_rfq", 2, 1, 1, 4.0, 4.0, 1.0, 1, 0, 1.0),
            ("source", "tradekey", 2, 1, 1, 7.0, 7.0, 1.0, 0, 1, 0.0),
            ("industry", "beauty_personal_care", 4, 2, 2, 5.5, 6.7, 1.0, 1, 1, 0.5),
            ("country", "United Arab Emirates", 4, 2, 2, 5.5, 6.7, 1.0, 1, 1, 0.5),
        ],
    ),
    "drafts_waiting_for_review_by_age.sql": (
        ["age", "drafts", "needs_review"],
        # the shampoo draft (queued, fully priced) and the face cream draft (edited, needs review), made on DAY
        [("over 7 days", 2, 1)],
    ),
}


@pytest.fixture()
def analytics(seeded: Seeded, db: Database, exports_store: LocalObjectStore, options: ExportOptions,
              tmp_path: Path) -> Path:  # fmt: skip
    export_day(db, exports_store, DAY.date(), options=options)
    path = tmp_path / "analytics.duckdb"
    build_duckdb(export_root(exports_store), path)
    return path


def test_every_analyst_query_is_checked_and_says_what_it_answers() -> None:
    files = sorted(p.name for p in ANALYST_DIR.glob("*.sql"))
    assert files == sorted(EXPECTED)
    for name in files:
        header = (ANALYST_DIR / name).read_text(encoding="utf-8").splitlines()[:2]
        assert all(line.startswith("-- ") for line in header), f"{name} starts with a comment saying what it answers"
        assert "answers" in (ANALYST_DIR / name).read_text(encoding="utf-8").lower()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_analyst_query_on_the_seeded_day(analytics: Path, name: str) -> None:
    columns, rows = EXPECTED[name]
    with duckdb.connect(str(analytics), read_only=True) as con:
        result = con.execute((ANALYST_DIR / name).read_text(encoding="utf-8"))
        names = [d[0] for d in result.description]
        got = result.fetchall()
    assert names[: len(columns)] == columns
    assert [tuple(row[: len(columns)]) for row in got] == rows
