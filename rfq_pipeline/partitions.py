"""The one partitioning of the asset graph: UTC days of posting date.

Sources and downstream stages share it so that a backfill of a date range flows through the whole graph. The cadence
of a source is its schedule, not its partitioning. ``end_offset=1`` makes today a partition, so the current day can
be collected while it is still going on.
"""

from __future__ import annotations

import dagster as dg

from rfq_pipeline.settings import Settings

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=Settings.from_env().partitions_start.isoformat(), timezone="UTC", end_offset=1
)
