"""After an import: the imported days through normalize -> classify -> embed -> clusters, as one Dagster run.

The stages have single-run backfill policies, so a year of imported days is one run over a partition range (the
UI shows a materialization per day). Days before the first partition (``RFQ_PARTITIONS_START``) are stored but no
stage runs for them; the caller is told how many.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from rfq_pipeline.partitions import daily_partitions


@dataclass(frozen=True)
class StagesRun:
    """The downstream run of an import."""

    first_day: date | None
    last_day: date | None
    success: bool
    run_id: str = ""
    skipped_reason: str = ""
    rows_per_stage: dict[str, int] | None = None

    def render(self) -> str:
        """One or two lines for the terminal."""
        if self.first_day is None:
            return f"stages: not run ({self.skipped_reason})"
        days = (self.last_day - self.first_day).days + 1 if self.last_day else 0
        done = ", ".join(f"{k} {v}" for k, v in (self.rows_per_stage or {}).items())
        line = (
            f"stages: {'succeeded' if self.success else 'FAILED'} for {days} day(s) {self.first_day} .. "
            f"{self.last_day} in one run ({self.run_id[:8]}): {done}"
        )
        return line + (f"\n  {self.skipped_reason}" if self.skipped_reason else "")


def partition_range(first: date, last: date) -> tuple[date, date] | None:
    """``[first, last]`` clipped to the days that are partitions, or ``None`` when none of them is."""
    keys = daily_partitions.get_partition_keys(current_time=datetime.now(UTC) + timedelta(days=1))
    if not keys:
        return None
    low, high = max(first, date.fromisoformat(keys[0])), min(last, date.fromisoformat(keys[-1]))
    return (low, high) if low <= high else None


def run_stages(first: date, last: date, instance: dg.DagsterInstance | None = None) -> StagesRun:
    """Materialize the four stages for the partitions ``first`` .. ``last`` in one run."""
    clipped = partition_range(first, last)
    start_key = daily_partitions.get_first_partition_key()
    if clipped is None:
        return StagesRun(None, None, False, skipped_reason=f"no imported day is a partition (they start {start_key})")
    low, high = clipped
    note = ""
    if low > first:
        note = (
            f"days before {start_key} are stored but not processed: set RFQ_PARTITIONS_START earlier and "
            "backfill rfqs/normalized .. rfqs/clusters for them"
        )
    # Loading the definitions warns about beta parameters on every load (as in `make run`); the summary is the output.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", message=".*(varying BackfillPolicies|multiple backfill policies).*")
    from rfq_pipeline.assets.imports import STAGE_KEYS
    from rfq_pipeline.definitions import pipeline_assets, resources

    if instance is None:
        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        pipeline_assets,
        selection=STAGE_KEYS,
        resources=resources,
        instance=instance,
        raise_on_error=False,
        tags={
            "dagster/asset_partition_range_start": low.isoformat(),
            "dagster/asset_partition_range_end": high.isoformat(),
            "rfq/trigger": "import",
        },
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    rows: dict[str, int] = {}
    for materialization in result.get_asset_materialization_events():
        event = materialization.event_specific_data.materialization  # type: ignore[union-attr]
        count = event.metadata.get("dagster/row_count")
        name = event.asset_key.to_user_string()
        if count is not None and name not in rows:
            rows[name] = int(count.value)  # type: ignore[arg-type]
    return StagesRun(low, high, result.success, result.run_id, note, rows)
