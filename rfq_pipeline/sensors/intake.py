"""Sensors for inbound mail (SQS notifications of SES's raw MIME in S3), uploads (S3 listing) and scrape requests.

At-least-once in, exactly-once in effect: each tick drains a bounded batch, records every object or request in
``intake_requests`` (idempotent on its natural key) and only then deletes the queue message; runs are requested
under run keys derived from those records, so a redelivered message or a repeated tick requests nothing new. A
message that is not an S3 event or not a valid scrape request goes to the queue's DLQ with the reason; one whose
recording keeps failing is left to SQS's redrive policy, and dead-lettered with the error on its last receive.
"""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from rfq_pipeline.assets.imports import IMPORTS_KEY, import_archives_job, import_run_config, import_stages_job
from rfq_pipeline.assets.intake import intake_email_job, intake_uploads_job, run_config_for
from rfq_pipeline.imports.objects import is_archive
from rfq_pipeline.imports.pipeline import partition_range
from rfq_pipeline.intake import store
from rfq_pipeline.intake.processing import ObjectRef
from rfq_pipeline.intake.scrape_requests import InvalidScrapeRequest, parse_scrape_request
from rfq_pipeline.resources import PostgresResource, SqsResource
from rfq_pipeline.schedules import source_jobs
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.registry import SOURCES

MAX_MESSAGES_PER_TICK = 50  # five receives of ten: well inside the sensor's time limit
MAX_RUNS_PER_TICK = 25
MAX_OBJECTS_PER_TICK = 100
VISIBILITY_TIMEOUT_S = 120  # a message being recorded is hidden from other ticks this long
SOURCE_TAG = "rfq/source"


def _default_status() -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if Settings.from_env().schedules_running else dg.DefaultSensorStatus.STOPPED


def _aws_configured(settings: Settings) -> str | None:
    if settings.aws_endpoint_url or settings.aws_region:
        return None
    return "AWS is not configured (set AWS_REGION, or AWS_ENDPOINT_URL for a local moto server)"


@dataclass
class TickReport:
    """What one tick did, for the sensor's log and skip reason."""

    received: int = 0
    recorded: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    left_for_retry: int = 0

    def describe(self) -> str:
        """One line."""
        return (
            f"received {self.received}, recorded {self.recorded}, already known {self.duplicates}, "
            f"dead-lettered {self.dead_lettered}, left for retry {self.left_for_retry}"
        )


def batch_run_key(kind: str, tick: str, ref: ObjectRef) -> str:
    """The run key of the objects one tick records for one day: they are processed together, in one run."""
    return f"{kind}:{tick}:{ref.received_at().date().isoformat()}"


def _kind_of(kind: str, key: str) -> str | None:
    """The request kind of an object: archives under ``imports/`` of the uploads bucket are imports; a mapping file
    beside them is read by the import, not imported."""
    from rfq_pipeline.aws.naming import IMPORTS_PREFIX

    if kind == "upload" and key.startswith(IMPORTS_PREFIX):
        return "import" if is_archive(key) else None
    return kind


def drain_object_events(
    queue, postgres: PostgresResource, kind: str, bucket: str, prefix: str | tuple[str, ...], report: TickReport
) -> None:
    """Record every created object of ``bucket`` under ``prefix`` announced on ``queue``; DLQ what is not an S3
    event."""
    from rfq_pipeline.aws.sqs import S3EventParseError, created_objects, parse_s3_notification, record_then_delete

    tick = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
    while report.received < MAX_MESSAGES_PER_TICK:
        messages = queue.receive(max_messages=10, wait_seconds=1, visibility_timeout=VISIBILITY_TIMEOUT_S)
        if not messages:
            return
        for message in messages:
            report.received += 1
            try:
                notification = parse_s3_notification(message.body)
            except S3EventParseError as exc:
                queue.send_to_dlq(message, f"not an S3 event notification: {exc}")
                report.dead_lettered += 1
                continue

            def record(notification: Any = notification) -> None:
                with postgres.db.connection() as conn:
                    for event in created_objects(notification, [bucket]):
                        if not event.key.startswith(prefix):
                            continue
                        ref = ObjectRef(event.bucket, event.key, event.etag or "", event.size, event.event_time)
                        object_kind = _kind_of(kind, event.key)
                        if object_kind is None:
                            continue
                        run_key = batch_run_key(object_kind, tick, ref)
                        new = store.record_request(conn, object_kind, ref.request_key, run_key, ref.as_payload())
                        report.recorded += new
                        report.duplicates += not new

            outcome = record_then_delete(queue, message, record)
            report.dead_lettered += outcome == "dead_lettered"
            report.left_for_retry += outcome == "left_for_retry"


def _run_requests(postgres: PostgresResource, kind: str, job_name: str) -> list[dg.RunRequest]:
    """One run per batch of pending requests, under the batch's stable run key (recorded with the requests).

    Dagster drops a run key this sensor already used, so a batch whose run is queued or running is not requested
    twice; the run marks its requests done.
    """
    with postgres.db.connection() as conn:
        pending = store.pending_requests(conn, kind, MAX_OBJECTS_PER_TICK)
    batches: dict[str, list[store.IntakeRequest]] = {}
    for request in pending:
        batches.setdefault(request.run_key, []).append(request)
    requests = []
    for run_key, batch in list(batches.items())[:MAX_RUNS_PER_TICK]:
        ref = ObjectRef.from_payload(batch[0].payload)
        requests.append(
            dg.RunRequest(
                run_key=run_key,
                job_name=job_name,
                partition_key=ref.received_at().date().isoformat(),
                run_config=run_config_for(kind, [r.request_key for r in batch]),
                tags={"rfq/intake": kind, "rfq/objects": str(len(batch))},
            )
        )
    return requests


def _import_run_requests(postgres: PostgresResource) -> list[dg.RunRequest]:
    """One run per batch of recorded archives (not partitioned: an archive spans many days)."""
    with postgres.db.connection() as conn:
        pending = store.pending_requests(conn, "import", MAX_OBJECTS_PER_TICK)
    batches: dict[str, list[store.IntakeRequest]] = {}
    for request in pending:
        batches.setdefault(request.run_key, []).append(request)
    return [
        dg.RunRequest(
            run_key=run_key,
            job_name=import_archives_job.name,
            run_config=import_run_config([r.request_key for r in batch]),
            tags={"rfq/intake": "import", "rfq/objects": str(len(batch))},
        )
        for run_key, batch in list(batches.items())[:MAX_RUNS_PER_TICK]
    ]


@dg.sensor(
    name="inbound_mail_sensor",
    jobs=[intake_email_job],
    minimum_interval_seconds=30,
    default_status=_default_status(),
    description="Drains the inbound-mail queue (S3 notifications of raw MIME written by SES) into intake/email runs.",
)
def inbound_mail_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, sqs: SqsResource
) -> dg.SensorResult | dg.SkipReason:
    """Record new raw-MIME objects and request one run per message."""
    from rfq_pipeline.aws.naming import INBOUND_MAIL, INBOUND_MAIL_PREFIX, bucket_name

    settings = Settings.from_env()
    if reason := _aws_configured(settings):
        return dg.SkipReason(reason)
    report = TickReport()
    drain_object_events(
        sqs.get_queue(INBOUND_MAIL), postgres, "email", bucket_name(settings, "raw_mime"), INBOUND_MAIL_PREFIX, report
    )
    requests = _run_requests(postgres, "email", intake_email_job.name)
    context.log.info(report.describe())
    if not requests:
        return dg.SkipReason(f"no new mail ({report.describe()})")
    return dg.SensorResult(run_requests=requests)


@dg.sensor(
    name="uploads_sensor",
    jobs=[intake_uploads_job, import_archives_job],
    minimum_interval_seconds=60,
    default_status=_default_status(),
    description="Lists the uploads and imports prefixes in S3; requests an intake/uploads run per new or re-uploaded "
    "document and an imports/archives run per archive.",
)
def uploads_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, sqs: SqsResource
) -> dg.SensorResult | dg.SkipReason:
    """Cursor = (LastModified, key) of the newest object seen; a re-upload has a newer LastModified and a new ETag.

    Objects that share the cursor's timestamp are compared by key, so none is skipped when several land in the same
    second; the natural key (bucket/key@etag) keeps an object that is listed twice from being processed twice. The
    uploads queue's S3 notifications are drained too (recorded under the same key, then deleted): the listing is
    what guarantees completeness, the queue only keeps it from piling up.
    """
    from rfq_pipeline.aws.clients import boto3_client
    from rfq_pipeline.aws.naming import IMPORTS_PREFIX, UPLOADS, UPLOADS_PREFIX, bucket_name

    settings = Settings.from_env()
    if reason := _aws_configured(settings):
        return dg.SkipReason(reason)
    report = TickReport()
    prefixes = (UPLOADS_PREFIX, IMPORTS_PREFIX)
    drain_object_events(sqs.get_queue(UPLOADS), postgres, "upload", bucket_name(settings, "uploads"), prefixes, report)
    cursor = json.loads(context.cursor) if context.cursor else {"last_modified": "", "key": ""}
    bucket = bucket_name(settings, "uploads")
    s3 = boto3_client("s3", settings)
    seen: list[tuple[str, str, dict]] = []
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                modified = item["LastModified"].astimezone(UTC).isoformat()
                if (modified, item["Key"]) > (cursor["last_modified"], cursor["key"]):
                    seen.append((modified, item["Key"], item))
    seen.sort()
    batch = seen[:MAX_OBJECTS_PER_TICK]
    recorded = 0
    tick = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
    with postgres.db.connection() as conn:
        for modified, key, item in batch:
            ref = ObjectRef(bucket, key, item.get("ETag", ""), int(item.get("Size", 0)), modified)
            kind = _kind_of("upload", key)
            if kind is None:
                continue
            run_key = batch_run_key(kind, tick, ref)
            recorded += store.record_request(conn, kind, ref.request_key, run_key, ref.as_payload())
    new_cursor = {"last_modified": batch[-1][0], "key": batch[-1][1]} if batch else cursor
    requests = _run_requests(postgres, "upload", intake_uploads_job.name) + _import_run_requests(postgres)
    context.log.info(f"listed {len(seen)} new objects, recorded {recorded}; notifications: {report.describe()}")
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(new_cursor))


def _scrape_run_requests(context: dg.SensorEvaluationContext, postgres: PostgresResource) -> list[dg.RunRequest]:
    """Runs for recorded scrape requests; a request whose run exists is done (its run is the source's own job)."""
    from dagster._core.storage.tags import RUN_KEY_TAG

    requests = []
    with postgres.db.connection() as conn:
        for request in store.pending_requests(conn, "scrape", MAX_RUNS_PER_TICK):
            if context.instance.get_run_records(dg.RunsFilter(tags={RUN_KEY_TAG: request.run_key}), limit=1):
                store.finish_request(conn, "scrape", request.request_key, "done")
                continue
            source, day, reason = request.payload["source"], request.payload["date"], request.payload["reason"]
            requests.append(
                dg.RunRequest(
                    run_key=request.run_key,
                    job_name=source_jobs[source].name,
                    partition_key=day,
                    tags={SOURCE_TAG: source, "rfq/trigger": "scrape-request", "rfq/reason": reason[:200]},
                )
            )
    return requests


@dg.sensor(
    name="scrape_requests_sensor",
    jobs=list(source_jobs.values()),
    minimum_interval_seconds=30,
    default_status=_default_status(),
    description='Turns {"source", "date", "reason"} messages into runs of that source\'s partition; invalid ones go '
    "to the DLQ with the reason.",
)
def scrape_requests_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, sqs: SqsResource
) -> dg.SensorResult | dg.SkipReason:
    """Validate each request, record it (by SQS message id), delete it, request the source job's partition."""
    from rfq_pipeline.aws.naming import SCRAPE_REQUESTS

    settings = Settings.from_env()
    if reason := _aws_configured(settings):
        return dg.SkipReason(reason)
    queue = sqs.get_queue(SCRAPE_REQUESTS)
    report = TickReport()
    today = datetime.now(UTC).date()
    while report.received < MAX_MESSAGES_PER_TICK:
        messages = queue.receive(max_messages=10, wait_seconds=1, visibility_timeout=VISIBILITY_TIMEOUT_S)
        if not messages:
            break
        for message in messages:
            report.received += 1
            try:
                request = parse_scrape_request(
                    message.body, known_sources=SOURCES, first_day=settings.partitions_start, today=today
                )
            except InvalidScrapeRequest as exc:
                queue.send_to_dlq(message, str(exc))
                report.dead_lettered += 1
                continue
            # The original id survives a DLQ replay, so a replayed request keeps its run key.
            message_id = message.original_message_id
            with postgres.db.connection() as conn:
                payload = {"source": request.source, "date": request.partition_key, "reason": request.reason}
                new = store.record_request(conn, "scrape", message_id, f"scrape:{message_id}", payload)
            report.recorded += new
            report.duplicates += not new
            queue.delete(message)  # only now: the request is durably recorded
    requests = _scrape_run_requests(context, postgres)
    context.log.info(report.describe())
    if not requests:
        return dg.SkipReason(f"no scrape requests ({report.describe()})")
    return dg.SensorResult(run_requests=requests)


@dg.run_status_sensor(
    name="import_stages_sensor",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[import_archives_job],
    request_job=import_stages_job,
    default_status=_default_status(),
    description="After an import run: one run of normalize -> classify -> embed -> clusters over the days it loaded.",
)
def import_stages_sensor(context: dg.RunStatusSensorContext) -> list[dg.RunRequest] | dg.SkipReason:
    """The day ranges the import recorded in its materialization, as partition-range runs (single-run backfills)."""
    run_id = context.dagster_run.run_id
    requests = import_stage_requests(context.instance, run_id)
    return requests or dg.SkipReason(f"import {run_id} loaded no day the stages cover")


def import_stage_requests(instance: dg.DagsterInstance, run_id: str) -> list[dg.RunRequest]:
    """One run request per day range that the import run ``run_id`` loaded, clipped to the partitions."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    ranges: set[tuple[str, str]] = set()
    for record in records.records:
        materialization = record.event_log_entry.asset_materialization
        if materialization is None or materialization.asset_key != IMPORTS_KEY:
            continue
        value = materialization.metadata.get("day_ranges")
        ranges.update((str(low), str(high)) for low, high in (value.value if value is not None else []))
    requests = []
    for low, high in sorted(ranges):
        clipped = partition_range(date.fromisoformat(low), date.fromisoformat(high))
        if clipped is None:  # before RFQ_PARTITIONS_START: stored, but no stage runs for it
            continue
        start, end = (day.isoformat() for day in clipped)
        requests.append(
            dg.RunRequest(
                run_key=f"import-stages:{run_id}:{start}:{end}",
                tags={ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end,
                      "rfq/trigger": "import", "rfq/import_run": run_id},
            )
        )  # fmt: skip
    return requests


intake_sensors = [inbound_mail_sensor, uploads_sensor, scrape_requests_sensor, import_stages_sensor]
