"""Failed source runs: recorded per source, fed to the source's circuit breaker, and announced.

A run belongs to a source when it carries the ``rfq/source`` tag (every source job and schedule sets it) or, for
a run launched another way (a backfill from the UI), when it targets ``source/<name>`` assets. For each such source
the failure is appended to ``run_failures`` (once per run: the sensor may see a run again) and, the first time it
is recorded, counted by the source's circuit breaker as one failure: runs that keep failing for a reason the
fetch-level breaker does not see (a crash after fetching, a database error) open the breaker like failed fetches
do, so the schedule skips with the reason instead of starting doomed runs; one successful fetch closes it again.

The message goes to Slack when ``RFQ_SLACK_WEBHOOK_URL`` is set (the URL is a secret: never logged), else to the
log. Passwords in URLs inside the error text are masked before the error is stored or sent.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from rfq_pipeline.assets.sources import SOURCE_TAG
from rfq_pipeline.db.database import Database, resolve_database_url
from rfq_pipeline.fetch.breaker import CircuitBreaker
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.registry import SOURCES

SENSOR_NAME = "source_run_failures"
SLACK_TIMEOUT_S = 5.0
MAX_ERROR_CHARS = 2000

RECORD = """
INSERT INTO run_failures (run_id, source, job_name, failed_at, error)
VALUES (%(run_id)s, %(source)s, %(job_name)s, %(failed_at)s, %(error)s)
ON CONFLICT (run_id) DO NOTHING
RETURNING run_id
"""

SOURCE_REGISTERED = "SELECT 1 FROM sources WHERE name = %(source)s"

_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE)
_PASSWORD_PARAM = re.compile(r"(?P<head>\bpassword\s*=\s*)\S+", re.IGNORECASE)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunFailure:
    """One failed run of one source."""

    run_id: str
    source: str
    job_name: str
    failed_at: datetime
    error: str


def mask_secrets(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with URL passwords, ``password=...`` values and the given secret values replaced by ``***``."""
    masked = _URL_PASSWORD.sub(r"\g<head>***@", text)
    masked = _PASSWORD_PARAM.sub(r"\g<head>***", masked)
    for secret in secrets:
        if secret and len(secret) >= 4:
            masked = masked.replace(secret, "***")
    return masked


def sources_of_run(run: dg.DagsterRun, instance: dg.DagsterInstance) -> list[str]:
    """The sources a run collected: its ``rfq/source`` tag, else the ``source/<name>`` assets it targeted.

    The targeted assets are the run's asset selection or, for a job over all its assets (no selection), the
    materializations it planned.
    """
    tagged = run.tags.get(SOURCE_TAG)
    if tagged:
        return [tagged]
    keys = set(run.asset_selection or ())
    if not keys:
        planned = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=1000
        ).records
        keys = {r.event_log_entry.dagster_event.asset_key for r in planned if r.event_log_entry.dagster_event}
    return sorted({k.path[1] for k in keys if k and len(k.path) == 2 and k.path[0] == "source"} & set(SOURCES))


def failure_message(context: dg.RunFailureSensorContext) -> str:
    """The errors of the failed steps (what raised), or the run's failure message when no step failed."""
    errors = []
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error
        text = error.message.strip() if error else (event.message or "")
        errors.append(f"{event.step_key}: {text}" if event.step_key else text)
    if not errors:
        errors.append(context.failure_event.message or "run failed")
    return "\n".join(errors)


def run_failures(context: dg.RunFailureSensorContext, settings: Settings) -> list[RunFailure]:
    """The per-source failures of the context's run (empty for a run of no source)."""
    run = context.dagster_run
    stats = context.instance.get_run_stats(run.run_id)
    failed_at = datetime.fromtimestamp(stats.end_time, UTC) if stats.end_time else datetime.now(UTC)
    error = mask_secrets(failure_message(context), _secrets(settings))[:MAX_ERROR_CHARS]
    return [
        RunFailure(run.run_id, source, run.job_name, failed_at, error)
        for source in sources_of_run(run, context.instance)
    ]


def record(db: Database, failure: RunFailure, breaker_threshold: int = 5, breaker_cooldown_s: float = 900.0) -> bool:
    """Store the failure; the first time, count it on the source's breaker. ``False`` when already recorded."""
    with db.connection() as conn:
        inserted = conn.execute(RECORD, failure.__dict__).fetchone() is not None
        registered = conn.execute(SOURCE_REGISTERED, {"source": failure.source}).fetchone() is not None
    if inserted and registered:
        # Sources are registered on their first crawl; a source that never ran has no breaker to feed.
        breaker = CircuitBreaker(db, failure.source, threshold=breaker_threshold, cooldown_s=breaker_cooldown_s)
        breaker.record_failure(f"run {failure.run_id} failed: {failure.error.splitlines()[0][:300]}")
    return inserted


def slack_payload(failure: RunFailure) -> dict[str, str]:
    """The Slack message of a failure: source, job, run and error, nothing from the settings."""
    return {
        "text": f":rotating_light: {failure.source}: run {failure.run_id} of {failure.job_name} failed at "
        f"{failure.failed_at.isoformat(timespec='seconds')}\n```{failure.error[:1500]}```",
        "source": failure.source,
        "job_name": failure.job_name,
        "run_id": failure.run_id,
        "error": failure.error,
    }


def notify(failure: RunFailure, webhook_url: str | None, logger: logging.Logger | None = None) -> bool:
    """POST the message to the Slack webhook (5 s timeout), or log it when none is set; ``True`` when delivered."""
    logger = logger or log
    payload = slack_payload(failure)
    if not webhook_url:
        logger.warning(payload["text"])
        return False
    request = urllib.request.Request(
        webhook_url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=SLACK_TIMEOUT_S) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        logger.error(f"Slack notification for run {failure.run_id} failed: HTTP {exc.code}")
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        # The reason of a URLError never includes the URL; the exception's repr might, so only its type is logged.
        logger.error(f"Slack notification for run {failure.run_id} failed: {type(exc).__name__}")
    else:
        return True
    logger.warning(payload["text"])
    return False


def handle_run_failure(context: dg.RunFailureSensorContext, settings: Settings | None = None) -> dg.SkipReason | None:
    """Record, feed the breaker and notify for each source of the failed run."""
    settings = settings or Settings.from_env()
    failures = run_failures(context, settings)
    if not failures:
        return dg.SkipReason(f"run {context.dagster_run.run_id} ({context.dagster_run.job_name}) is not a source run")
    with Database(resolve_database_url(settings), min_size=1, max_size=1) as db:
        new = [f for f in failures if record(db, f)]
    for failure in new:
        notify(failure, settings.slack_webhook_url, context.log)
    if not new:
        return dg.SkipReason(f"run {context.dagster_run.run_id} was already recorded")
    return None


def build_run_failure_sensor(running: bool) -> dg.SensorDefinition:
    """The sensor over every job of the code location (the source jobs, and backfills of source assets)."""

    @dg.run_failure_sensor(
        name=SENSOR_NAME,
        description="Records failed source runs, counts them on the source's circuit breaker and posts them to "
        "Slack (RFQ_SLACK_WEBHOOK_URL) or the log.",
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
    )
    def _sensor(context: dg.RunFailureSensorContext) -> dg.SkipReason | None:
        return handle_run_failure(context)

    return _sensor


def _secrets(settings: Settings) -> list[str | None]:
    return [settings.anthropic_api_key, settings.slack_webhook_url, settings.database_url]


run_failure_sensors = [build_run_failure_sensor(Settings.from_env().schedules_running)]
