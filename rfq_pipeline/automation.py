"""Declarative automation of the downstream stages and freshness of the sources.

The sources run on their own schedules (``schedules.py``). Everything after them follows by declarative automation
instead of a second set of cron jobs: ``rfqs/normalized`` runs for a day once a source (or intake) has materialized
that day, ``rfqs/classified`` once normalized has, and so on to ``rfqs/clusters``. A stage never starts for a day
while one of its upstream assets is being materialized for that day, nor while it is itself running for that day.

Partitions covered: the days within :data:`LOOKBACK` of the end of the latest daily partition (today, as the
partitions end one day ahead). That covers everything a source tick requests: a 3-hourly source re-reads yesterday
after midnight, and the monthly FDA loader requests the whole previous month. An older day (a manual backfill of
a source) is not followed automatically; backfill its downstream assets with it.

Unlike :meth:`dagster.AutomationCondition.eager`, the condition does not wait for *every* upstream partition to
exist: ``rfqs/normalized`` reads ten marketplaces and two intake channels, and a disabled source or one whose
breaker is open leaves its partition missing; normalization must still follow the sources that did run. Nor does
it run a stage merely because a new day's partition appeared (``newly_missing``): a new day has nothing to
normalize until a source has collected it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

# The cron iterator of the pinned Dagster version; it honours the same cron dialect as the schedules themselves.
from dagster._utils.schedules import cron_string_iterator

from rfq_pipeline.settings import Settings

# The monthly FDA tick requests every day since the previous month's tick (up to 32 days).
LOOKBACK = timedelta(days=32)

# Freshness: a source is late after one cadence interval plus the slack, stale after two intervals plus the slack.
FRESHNESS_SLACK = timedelta(hours=1)

# Ticks examined to find a cadence's longest interval; from a fixed start so the result is stable.
_REFERENCE_START = datetime(2025, 1, 1, tzinfo=UTC)
_REFERENCE_SPAN = timedelta(days=366)
_MAX_TICKS = 5000

AUTOMATION_SENSOR = "downstream_automation"


def downstream_condition(
    lookback: timedelta = LOOKBACK, *, ignore: dg.AssetSelection | None = None
) -> dg.AutomationCondition:
    """Run a partition when any upstream partition of the same day updated since the partition was last handled.

    Not while any upstream partition of that day is in progress, nor while the partition itself is; only for days
    within ``lookback`` of the latest partition. Updates of the ``ignore`` assets do not trigger a run (reference
    data such as the catalog, whose reload must not re-run a month of partitions).
    """
    updated = dg.AutomationCondition.any_deps_updated()
    if ignore is not None:
        updated = updated.ignore(ignore)
    return (
        dg.AutomationCondition.in_latest_time_window(lookback_delta=lookback)
        & updated.since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("follows upstream, not while upstream is in progress")


DOWNSTREAM_CONDITION = downstream_condition()
"""The condition of ``rfqs/normalized``, ``rfqs/classified``, ``rfqs/embedded`` and ``rfqs/clusters``."""


def cadence_interval(cadence: str) -> timedelta:
    """The longest time between two consecutive ticks of a cron cadence (UTC), e.g. 31 days for a monthly one."""
    ticks = cron_string_iterator(_REFERENCE_START.timestamp(), cadence, "UTC")
    previous = next(ticks)
    longest = timedelta(0)
    for _ in range(_MAX_TICKS):
        current = next(ticks)
        longest = max(longest, current - previous)
        if current - _REFERENCE_START > _REFERENCE_SPAN:
            break
        previous = current
    return longest


def freshness_for(cadence: str) -> dg.FreshnessPolicy:
    """The freshness policy of a source collected at ``cadence``.

    Warn when no materialization arrived within one interval plus :data:`FRESHNESS_SLACK` (a tick was missed or
    skipped), fail after two intervals plus the slack (the source has stalled: disabled, breaker open, failing).
    """
    interval = cadence_interval(cadence)
    return dg.FreshnessPolicy.time_window(
        fail_window=2 * interval + FRESHNESS_SLACK, warn_window=interval + FRESHNESS_SLACK
    )


def build_automation_sensor(running: bool) -> dg.AutomationConditionSensorDefinition:
    """The sensor that evaluates the downstream conditions (assets without a condition are not evaluated)."""
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        description="Runs normalized, classified, embedded and clusters after their upstream assets, never while "
        "upstream is in progress.",
    )


automation_sensors = [build_automation_sensor(Settings.from_env().schedules_running)]
