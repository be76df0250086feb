"""Per-source jobs and schedules from the registry's cadences.

A tick requests every daily partition from the day of the previous tick up to today: a 3-hourly source re-crawls
yesterday once after midnight (requests posted late yesterday), and the monthly FDA loader covers the whole month.
Several days go into one run over their range, which reads the source once for all of them.
Ticks are skipped, with the reason on the tick, while a source is disabled or its circuit breaker is open.
"""

from datetime import date, datetime, timedelta

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG as RANGE_END_TAG
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_START_TAG as RANGE_START_TAG

# The cron iterator of the pinned Dagster version; it honours the same cron dialect as the schedules themselves.
from dagster._utils.schedules import cron_string_iterator

from rfq_pipeline.assets.sources import SOURCE_TAG, source_asset_key
from rfq_pipeline.db.database import Database, resolve_database_url
from rfq_pipeline.fetch.breaker import breaker_status
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.registry import SOURCES, resolve
from rfq_pipeline.sources.spec import SourceSpec


def partition_days_for_tick(cadence: str, scheduled: datetime, first_day: date) -> list[date]:
    """Days to collect at a tick: from the previous tick's day to the tick's day, not before ``first_day``."""
    ticks = cron_string_iterator(scheduled.timestamp(), cadence, "UTC", ascending=False)
    current = next(ticks)
    previous = next(ticks) if current.timestamp() >= scheduled.timestamp() else current
    start = max(previous.date(), first_day)
    return [start + timedelta(days=i) for i in range((scheduled.date() - start).days + 1)]


def blocked_reason(spec: SourceSpec, settings: Settings) -> str | None:
    """Why a source must not be crawled now (disabled, or its breaker open), or ``None``."""
    resolved = resolve(spec, settings)
    if not resolved.enabled:
        return f"{spec.name} is disabled (RFQ_SOURCE_{spec.name.upper()}_ENABLED=false)"
    with Database(resolve_database_url(settings), min_size=1, max_size=1) as db:
        status = breaker_status(db, spec.name)
    if status is None:
        return None
    if status.state == "open" and status.open_until and status.open_until > datetime.now(status.open_until.tzinfo):
        return f"{spec.name}: circuit breaker {status.describe()}"
    return None


def build_source_job(spec: SourceSpec) -> UnresolvedAssetJobDefinition:
    """The job that collects one source; its runs carry the ``rfq/source`` tag the run queue limits by."""
    return dg.define_asset_job(
        f"{spec.name}_job",
        selection=dg.AssetSelection.assets(source_asset_key(spec.name)),
        tags={SOURCE_TAG: spec.name},
        description=f"Collect {spec.name} for the requested posting days.",
    )


def build_source_schedule(spec: SourceSpec, job: UnresolvedAssetJobDefinition, running: bool) -> dg.ScheduleDefinition:
    """The schedule of one source at its cadence."""

    @dg.schedule(
        name=f"{spec.name}_schedule",
        cron_schedule=spec.cadence,
        job=job,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED,
        description=f"{spec.name} at its cadence ({spec.cadence} UTC).",
        tags={SOURCE_TAG: spec.name},
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.SkipReason | list[dg.RunRequest]:
        settings = Settings.from_env()
        reason = blocked_reason(spec, settings)
        if reason:
            return dg.SkipReason(reason)
        scheduled = context.scheduled_execution_time
        days = partition_days_for_tick(spec.cadence, scheduled, settings.partitions_start)
        if len(days) == 1:
            return [
                dg.RunRequest(
                    run_key=f"{spec.name}:{days[0].isoformat()}:{scheduled:%Y%m%dT%H%M}",
                    partition_key=days[0].isoformat(),
                    tags={SOURCE_TAG: spec.name},
                )
            ]
        # Several days: one run over the range, so the listing is read once for all of them.
        first, last = days[0].isoformat(), days[-1].isoformat()
        return [
            dg.RunRequest(
                run_key=f"{spec.name}:{first}..{last}:{scheduled:%Y%m%dT%H%M}",
                tags={SOURCE_TAG: spec.name, RANGE_START_TAG: first, RANGE_END_TAG: last},
            )
        ]

    return _schedule


_settings = Settings.from_env()
source_jobs = {name: build_source_job(spec) for name, spec in SOURCES.items()}
source_schedules = [
    build_source_schedule(spec, source_jobs[name], _settings.schedules_running) for name, spec in SOURCES.items()
]
