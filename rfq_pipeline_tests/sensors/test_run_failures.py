import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import psycopg
import pytest

from rfq_pipeline.assets.sources import source_asset_key
from rfq_pipeline.db.database import Database
from rfq_pipeline.fetch.breaker import breaker_status
from rfq_pipeline.sensors.run_failures import (
    SENSOR_NAME,
    RunFailure,
    mask_secrets,
    notify,
    record,
    run_failure_sensors,
)
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.ingest import register_sources
from rfq_pipeline.sources.registry import SOURCES, resolve

WEBHOOK_TOKEN = "T0000/B0000/xoxb-s3cr3t-webhook-token"
API_KEY = "sk-ant-test-key-never-sent"
ERROR = "alibaba_rfq: no page of 2026-11-22 could be collected (challenge) via postgresql://rfq:hunter2@db:5432/rfq"


class Webhook:
    """A local HTTP server standing in for the Slack webhook; it keeps every request."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[tuple[str, dict]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests.append((self.path, json.loads(body)))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/{WEBHOOK_TOKEN}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.stop()


@pytest.fixture()
def env(pipeline_env: Settings, webhook: Webhook, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RFQ_SLACK_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    settings = Settings.from_env()
    with Database(settings.database_url, max_size=1) as db:
        register_sources(db, [resolve(SOURCES["alibaba_rfq"], settings)])
    return settings


def _failing_source_asset(name: str, message: str = ERROR) -> dg.AssetsDefinition:
    @dg.asset(key=source_asset_key(name))
    def _asset() -> None:
        raise dg.Failure(description=message)

    return _asset


def _failed_run_context(
    instance: dg.DagsterInstance, asset: dg.AssetsDefinition, tags: dict[str, str] | None = None
) -> dg.RunFailureSensorContext:
    """Really run ``asset`` (it fails) and build the sensor's context from the run's failure event."""
    result = dg.materialize([asset], instance=instance, tags=tags, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
    records = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    return dg.build_run_status_sensor_context(
        sensor_name=SENSOR_NAME,
        dagster_event=records[0].event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()


def _rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT run_id, source, job_name, failed_at, error FROM run_failures").fetchall()


def test_a_failed_source_run_is_recorded_fed_to_the_breaker_and_posted(env: Settings, webhook: Webhook) -> None:
    (sensor,) = run_failure_sensors
    with dg.instance_for_test() as instance:
        context = _failed_run_context(instance, _failing_source_asset("alibaba_rfq"), {"rfq/source": "alibaba_rfq"})
        run = context.dagster_run
        assert sensor(context) is None

        (row,) = _rows(env.database_url)
        assert row[:3] == (run.run_id, "alibaba_rfq", run.job_name)
        assert abs((row[3] - datetime.now(UTC)).total_seconds()) < 120
        assert "no page of 2026-11-22 could be collected" in row[4] and "hunter2" not in row[4]

        with Database(env.database_url, max_size=1) as db:
            status = breaker_status(db, "alibaba_rfq")
        assert status is not None and status.consecutive_failures == 1 and status.state == "closed"
        assert run.run_id in status.last_error

        ((path, payload),) = webhook.requests
        assert path == f"/services/{WEBHOOK_TOKEN}"
        assert payload["source"] == "alibaba_rfq" and payload["job_name"] == run.job_name
        assert "no page of 2026-11-22 could be collected" in payload["error"]
        assert "alibaba_rfq" in payload["text"] and run.job_name in payload["text"] and run.run_id in payload["text"]
        body = json.dumps(payload)
        for secret in (WEBHOOK_TOKEN, API_KEY, "hunter2", env.database_url):
            assert secret not in body

        # The sensor sees the run again (a daemon restart): nothing is counted or sent twice.
        again = sensor(context)
        assert isinstance(again, dg.SkipReason) and "already recorded" in again.skip_message
    assert len(_rows(env.database_url)) == 1 and len(webhook.requests) == 1
    with Database(env.database_url, max_size=1) as db:
        assert breaker_status(db, "alibaba_rfq").consecutive_failures == 1


def test_a_run_without_the_tag_is_attributed_by_its_source_assets(env: Settings, webhook: Webhook) -> None:
    (sensor,) = run_failure_sensors
    with dg.instance_for_test() as instance:
        context = _failed_run_context(instance, _failing_source_asset("tradekey", "tradekey: boom"))
        assert "rfq/source" not in context.dagster_run.tags
        assert sensor(context) is None
    ((_, source, *_),) = _rows(env.database_url)
    assert source == "tradekey"
    assert webhook.requests[0][1]["source"] == "tradekey"
    with Database(env.database_url, max_size=1) as db:
        assert breaker_status(db, "tradekey") is None  # never crawled: no breaker to feed, but recorded


def test_a_run_of_no_source_is_skipped(env: Settings, webhook: Webhook) -> None:
    @dg.asset(key=["rfqs", "normalized"])
    def normalized() -> None:
        raise dg.Failure(description="not a source")

    (sensor,) = run_failure_sensors
    with dg.instance_for_test() as instance:
        result = sensor(_failed_run_context(instance, normalized))
    assert isinstance(result, dg.SkipReason) and "not a source run" in result.skip_message
    assert _rows(env.database_url) == [] and webhook.requests == []


def test_repeated_run_failures_open_the_breaker(env: Settings) -> None:
    with Database(env.database_url, max_size=1) as db:
        for i in range(5):
            failure = RunFailure(f"run-{i}", "alibaba_rfq", "alibaba_rfq_job", datetime.now(UTC), "crash")
            assert record(db, failure)
        assert not record(db, failure)  # idempotent per run
        status = breaker_status(db, "alibaba_rfq")
    assert status.state == "open" and status.consecutive_failures == 5


def test_without_a_webhook_the_message_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    failure = RunFailure("r1", "ec21", "ec21_job", datetime.now(UTC), "ec21: timeout")
    logger = logging.getLogger("test_run_failures")
    with caplog.at_level(logging.WARNING, logger="test_run_failures"):
        assert notify(failure, None, logger) is False
    assert "ec21" in caplog.text and "ec21_job" in caplog.text and "timeout" in caplog.text


def test_a_failing_webhook_is_logged_without_its_url(caplog: pytest.LogCaptureFixture) -> None:
    hook = Webhook(status=500)
    failure = RunFailure("r2", "ec21", "ec21_job", datetime.now(UTC), "ec21: timeout")
    logger = logging.getLogger("test_run_failures")
    try:
        with caplog.at_level(logging.WARNING, logger="test_run_failures"):
            assert notify(failure, hook.url, logger) is False
            assert notify(failure, "http://127.0.0.1:9/services/" + WEBHOOK_TOKEN, logger) is False  # refused
    finally:
        hook.stop()
    assert len(hook.requests) == 1
    assert "HTTP 500" in caplog.text and "URLError" in caplog.text
    assert WEBHOOK_TOKEN not in caplog.text and "127.0.0.1" not in caplog.text
    assert "ec21: timeout" in caplog.text  # the message still reaches the log


def test_mask_secrets() -> None:
    assert mask_secrets("postgresql://u:pw@h/db failed") == "postgresql://u:***@h/db failed"
    assert mask_secrets("host=h password=pw dbname=x") == "host=h password=*** dbname=x"
    assert mask_secrets("key sk-abcdef used", ["sk-abcdef"]) == "key *** used"
