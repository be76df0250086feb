"""The intake part of ``make run``: mail, an upload and a scrape request through the real sensors, on a local AWS.

Sample e-mails (``corpus/mail``: UTF-8, EUC-KR, ISO-2022-JP, HTML-only, attachments, a broken multipart, an RFQ
that is replied to later) are written to the raw-MIME bucket as SES would; a spreadsheet RFQ is uploaded; an
operator's scrape request is queued. Each sensor is evaluated once, as the daemon would, and the runs it requests
are executed in process. The replies arrive in a second tick, after the RFQs they answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg

REPLIES_DIR = Path(__file__).resolve().parent / "corpus" / "mail_replies"


@dataclass
class IntakeDemoReport:
    """What the demo delivered and what the runs made of it."""

    mails: int = 0
    uploads: int = 0
    scrape_requests: int = 0
    runs: Counter[str] = field(default_factory=Counter)
    failed_runs: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def render(self) -> str:
        """Lines for the run summary."""
        runs = ", ".join(f"{job} x{count}" for job, count in sorted(self.runs.items())) or "none"
        lines = [
            f"intake: delivered {self.mails} e-mails, {self.uploads} upload, {self.scrape_requests} scrape request "
            f"to a local AWS; runs: {runs}"
        ]
        lines += [f"intake run failed: {name}" for name in self.failed_runs]
        return "\n".join(lines)


def tick(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, report: IntakeDemoReport, cursor: str | None = None
) -> str | None:
    """Evaluate ``sensor`` once and execute the runs it requests; returns its new cursor."""
    from rfq_pipeline.definitions import defs, resources

    with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        result = sensor(context)
    if isinstance(result, dg.SkipReason):
        report.skipped.append(f"{sensor.name}: {result.skip_message}")
        return cursor
    for request in result.run_requests or []:
        # The jobs are asset jobs (define_asset_job): Dagster 1.13 builds them against the asset graph only in
        # resolve_job_def; get_job_def warns about every job that was not passed in as a JobDefinition.
        job = defs.resolve_job_def(request.job_name)
        outcome = job.execute_in_process(
            # The run summary is the output; step events stay in each run's log.
            run_config={**(request.run_config or {}), "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            partition_key=request.partition_key,
            instance=instance,
            tags={**request.tags, "dagster/run_key": request.run_key or ""},
            raise_on_error=False,
        )
        report.runs[request.job_name] += 1
        if not outcome.success:
            report.failed_runs.append(f"{request.job_name} {request.partition_key}")
    return result.cursor if result.cursor is not None else cursor


def run_intake_demo(instance: dg.DagsterInstance, day: date) -> IntakeDemoReport:
    """Deliver the samples to a fresh local AWS and let the sensors turn them into runs."""
    from rfq_pipeline.devtools.local_aws import deliver_mail, local_aws, request_scrape, upload_documents
    from rfq_pipeline.sensors.intake import inbound_mail_sensor, scrape_requests_sensor, uploads_sensor

    report = IntakeDemoReport()
    with local_aws():
        report.mails += len(deliver_mail())
        report.uploads += len(upload_documents())
        request_scrape("ec21", day.isoformat(), "make run: an operator asks for a re-crawl of today")
        report.scrape_requests += 1
        tick(inbound_mail_sensor, instance, report)
        tick(uploads_sensor, instance, report)
        tick(scrape_requests_sensor, instance, report)
        # Replies come later, once their RFQs exist: they join those RFQs' threads.
        report.mails += len(deliver_mail(sorted(REPLIES_DIR.glob("*.eml"))))
        tick(inbound_mail_sensor, instance, report)
    return report
