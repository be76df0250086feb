"""The LLM spend ledger (``llm_spend``) and the daily kill-switch that reads it.

Every model call, or every item of a Message Batch, is one ledger row keyed by a stable ``call_id`` (for a batch
item ``<batch id>:<custom id>``), so a re-polled or re-delivered result never counts twice. Costs come from one
price table; a model missing from it is an error (:class:`UnknownModelPrice`) rather than a guess, because a
guessed price would let the kill-switch under-count.

The kill-switch is a plain comparison of today's spend (UTC day) plus what open batches have already committed
against ``RFQ_LLM_DAILY_LIMIT_USD``; the LLM stages call :func:`check_budget` before sending anything and
:func:`affordable_count` to cap a batch so its worst-case cost fits what is left of the day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import psycopg

# USD per million tokens (input, output) at the standard (synchronous) rate. Dated ids are listed alongside their
# alias because responses echo the dated id.
PRICES_USD_PER_MTOK: dict[str, tuple[float, float]] = {
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-haiku-4-5-20251001": (1.0, 5.0),
}
BATCH_DISCOUNT = 0.5  # Message Batches are billed at half the standard rate
CACHE_WRITE_MULTIPLIER = 1.25  # 5-minute prompt-cache writes, relative to the input price
CACHE_READ_MULTIPLIER = 0.1
LIMIT_VARIABLE = "RFQ_LLM_DAILY_LIMIT_USD"

INSERT_SPEND = """
INSERT INTO llm_spend (call_id, provider, model, stage, input_tokens, output_tokens, cost_usd, spent_at, run_id)
VALUES (%(call_id)s, %(provider)s, %(model)s, %(stage)s, %(input_tokens)s, %(output_tokens)s, %(cost_usd)s,
        %(spent_at)s, %(run_id)s)
ON CONFLICT (call_id) DO NOTHING
"""

SELECT_SPENT_BETWEEN = """
SELECT COALESCE(SUM(cost_usd), 0) AS spent FROM llm_spend WHERE spent_at >= %(start)s AND spent_at < %(end)s
"""


class UnknownModelPrice(KeyError):
    """The model has no entry in :data:`PRICES_USD_PER_MTOK`; add its price before using it."""

    def __str__(self) -> str:
        model = self.args[0] if self.args else "?"
        return (
            f"no price for model {model!r} in rfq_pipeline.ai.spend.PRICES_USD_PER_MTOK "
            f"(known: {', '.join(sorted(PRICES_USD_PER_MTOK))}); add it before using the model"
        )


class BudgetExceeded(RuntimeError):
    """Today's LLM spend has reached the daily limit: the LLM stages stop until tomorrow (UTC)."""

    def __init__(self, spent_usd: float, limit_usd: float, day: date) -> None:
        self.spent_usd = spent_usd
        self.limit_usd = limit_usd
        self.day = day
        super().__init__(
            f"LLM daily budget exceeded: ${spent_usd:.4f} spent or committed on {day.isoformat()} (UTC) against a "
            f"limit of ${limit_usd:.2f}. LLM stages are stopped until tomorrow UTC or until the limit "
            f"({LIMIT_VARIABLE}) is raised."
        )


@dataclass(frozen=True)
class Usage:
    """Token counts of one call as the API reports them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        """Every input token, cached or not (the ledger's ``input_tokens``)."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens


@dataclass(frozen=True)
class SpendItem:
    """One ledger row."""

    call_id: str
    model: str
    stage: str
    usage: Usage
    cost_usd: float
    provider: str = "anthropic"
    run_id: str | None = None
    spent_at: datetime | None = None  # default: the database's now()


def price_for(model: str) -> tuple[float, float]:
    """(input, output) USD per million tokens at the standard rate; :class:`UnknownModelPrice` if unknown."""
    try:
        return PRICES_USD_PER_MTOK[model]
    except KeyError:
        raise UnknownModelPrice(model) from None


def cost_usd(model: str, usage: Usage, *, batch: bool) -> float:
    """What ``usage`` costs on ``model``; ``batch`` applies the Message Batches discount."""
    input_price, output_price = price_for(model)
    dollars = (
        usage.input_tokens * input_price
        + usage.cache_creation_input_tokens * input_price * CACHE_WRITE_MULTIPLIER
        + usage.cache_read_input_tokens * input_price * CACHE_READ_MULTIPLIER
        + usage.output_tokens * output_price
    ) / 1_000_000
    if batch:
        dollars *= BATCH_DISCOUNT
    return round(dollars, 6)


def record_spend(conn: psycopg.Connection, item: SpendItem) -> bool:
    """Write one ledger row; ``False`` when ``call_id`` was already recorded (a re-delivered result)."""
    with conn.cursor() as cur:
        cur.execute(
            INSERT_SPEND,
            {
                "call_id": item.call_id,
                "provider": item.provider,
                "model": item.model,
                "stage": item.stage,
                "input_tokens": item.usage.total_input_tokens,
                "output_tokens": item.usage.output_tokens,
                "cost_usd": Decimal(str(item.cost_usd)),
                "spent_at": item.spent_at or datetime.now(UTC),
                "run_id": item.run_id,
            },
        )
        return cur.rowcount == 1


def utc_day_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Start and end of the UTC day containing ``now`` (default: the current time)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    start = datetime.combine(moment.date(), time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def spent_today(conn: psycopg.Connection, now: datetime | None = None) -> float:
    """Dollars recorded in the ledger during the current UTC day."""
    start, end = utc_day_bounds(now)
    row = conn.execute(SELECT_SPENT_BETWEEN, {"start": start, "end": end}).fetchone()
    return float(row[0]) if row else 0.0


def check_budget(
    conn: psycopg.Connection, limit_usd: float, *, committed_usd: float = 0.0, now: datetime | None = None
) -> float:
    """Dollars left today; raises :class:`BudgetExceeded` when nothing is left.

    ``committed_usd`` is spend already set in motion but not yet in the ledger (the estimated cost of batches still
    processing): a batch is billed when it ends, so counting it only then would let a second batch overshoot.
    """
    spent = spent_today(conn, now) + committed_usd
    if spent >= limit_usd:
        raise BudgetExceeded(spent, limit_usd, utc_day_bounds(now)[0].date())
    return limit_usd - spent


def affordable_count(estimates_usd: Sequence[float], remaining_usd: float) -> int:
    """How many items, taken in order, fit in ``remaining_usd`` given each one's estimated cost."""
    total = 0.0
    for count, estimate in enumerate(estimates_usd):
        total += estimate
        if total > remaining_usd:
            return count
    return len(estimates_usd)


def charge(
    conn: psycopg.Connection,
    *,
    call_id: str,
    model: str,
    stage: str,
    usage: Usage,
    batch: bool,
    provider: str = "anthropic",
    run_id: str | None = None,
    spent_at: datetime | None = None,
) -> tuple[float, bool]:
    """Price ``usage`` and write its ledger row: ``(cost in USD, whether a row was written)``.

    A re-delivered result (its ``call_id`` already recorded) costs nothing twice: the row is not written again.
    """
    cost = cost_usd(model, usage, batch=batch)
    item = SpendItem(call_id, model, stage, usage, cost, provider, run_id, spent_at)
    return cost, record_spend(conn, item)

