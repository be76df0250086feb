"""The spend ledger and the daily kill-switch, on the real embedded PostgreSQL."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from rfq_pipeline.ai import spend


def test_prices_haiku_standard_and_batch() -> None:
    million_in = spend.Usage(input_tokens=1_000_000)
    million_out = spend.Usage(output_tokens=1_000_000)
    assert spend.cost_usd("claude-haiku-4-5", million_in, batch=False) == 1.0
    assert spend.cost_usd("claude-haiku-4-5", million_out, batch=False) == 5.0
    assert spend.cost_usd("claude-haiku-4-5", million_in, batch=True) == 0.5
    assert spend.cost_usd("claude-haiku-4-5", million_out, batch=True) == 2.5
    mixed = spend.Usage(input_tokens=800, output_tokens=30, cache_read_input_tokens=1000)
    # (800 * 1 + 1000 * 0.1 + 30 * 5) / 1e6, halved
    assert spend.cost_usd("claude-haiku-4-5", mixed, batch=True) == pytest.approx(0.000525)


def test_unknown_model_is_refused_with_a_clear_message() -> None:
    with pytest.raises(spend.UnknownModelPrice) as excinfo:
        spend.cost_usd("claude-imaginary-9", spend.Usage(input_tokens=1), batch=True)
    assert "claude-imaginary-9" in str(excinfo.value) and "PRICES_USD_PER_MTOK" in str(excinfo.value)


def test_record_is_idempotent_and_spent_today_counts_only_the_utc_day(clean_db: str) -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    usage = spend.Usage(input_tokens=1000, output_tokens=100)
    item = spend.SpendItem("batch1:1", "claude-haiku-4-5", "classify", usage, 0.25, spent_at=now)
    with psycopg.connect(clean_db) as conn:
        assert spend.record_spend(conn, item) is True
        assert spend.record_spend(conn, item) is False  # re-delivered result
        yesterday = spend.SpendItem(
            "batch0:1", "claude-haiku-4-5", "classify", usage, 7.0, spent_at=now - timedelta(days=1)
        )
        spend.record_spend(conn, yesterday)
        assert spend.spent_today(conn, now) == pytest.approx(0.25)
        query = "SELECT call_id, input_tokens, output_tokens, cost_usd FROM llm_spend ORDER BY 1"
        rows = conn.execute(query).fetchall()
    assert [(r[0], r[1], r[2], float(r[3])) for r in rows] == [
        ("batch0:1", 1000, 100, 7.0),
        ("batch1:1", 1000, 100, 0.25),
    ]


def test_check_budget_raises_with_spent_limit_and_how_to_resume(clean_db: str) -> None:
    now = datetime(2026, 3, 10, 23, 59, tzinfo=UTC)
    with psycopg.connect(clean_db) as conn:
        spend.record_spend(
            conn, spend.SpendItem("c1", "claude-haiku-4-5", "classify", spend.Usage(), 4.0, spent_at=now)
        )
        assert spend.check_budget(conn, 5.0, now=now) == pytest.approx(1.0)
        with pytest.raises(spend.BudgetExceeded) as excinfo:
            spend.check_budget(conn, 5.0, committed_usd=1.5, now=now)  # open batches count too
        # the next UTC day starts from zero
        assert spend.check_budget(conn, 5.0, now=now + timedelta(minutes=2)) == 5.0
    message = str(excinfo.value)
    assert "$5.5000" in message and "$5.00" in message and "2026-03-10" in message
    assert "tomorrow UTC" in message and "RFQ_LLM_DAILY_LIMIT_USD" in message


def test_affordable_count_caps_in_order() -> None:
    assert spend.affordable_count([0.1, 0.1, 0.1], 0.25) == 2
    assert spend.affordable_count([0.1, 0.1], 5.0) == 2
    assert spend.affordable_count([0.3], 0.2) == 0
    assert spend.affordable_count([], 1.0) == 0
