"""The intake sensors against a moto server over HTTP, bootstrapped like a real account, and real materializations.

Every good message becomes exactly one RFQ (or one thread update), every bad one is recorded or dead-lettered with
its reason, none is lost, and a redelivered message creates nothing new.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from rfq_pipeline.assets.intake import intake_email, intake_uploads
from rfq_pipeline.aws.clients import boto3_client
from rfq_pipeline.aws.naming import INBOUND_MAIL, SCRAPE_REQUESTS, bucket_name
from rfq_pipeline.aws.sqs import SqsQueue
from rfq_pipeline.definitions import resources
from rfq_pipeline.devtools.local_aws import SAMPLE_MAIL_DIR, deliver_mail, local_aws, request_scrape, upload_documents
from rfq_pipeline.intake.mime import parse_email
from rfq_pipeline.sensors.intake import inbound_mail_sensor, scrape_requests_sensor, uploads_sensor
from rfq_pipeline.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "intake" / "fixtures"
REPLIES = SAMPLE_MAIL_DIR.parent / "mail_replies"


@pytest.fixture()
def aws(pipeline_env: Settings) -> Iterator[Settings]:
    with local_aws():
        yield Settings.from_env()


@pytest.fixture()
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def _tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None = None):
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        return sensor(context)


def _run(requests: list[dg.RunRequest], asset: dg.AssetsDefinition, instance: dg.DagsterInstance) -> None:
    for request in requests:
        result = dg.materialize(
            [asset],
            partition_key=request.partition_key,
            run_config=request.run_config,
            resources=resources,
            instance=instance,
        )
        assert result.success


def _queue(settings: Settings, name: str) -> SqsQueue:
    return SqsQueue.resolve(boto3_client("sqs", settings), settings, name)


def _rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_every_message_becomes_one_rfq_or_a_recorded_failure_and_redelivery_adds_nothing(
    aws: Settings, instance: dg.DagsterInstance
) -> None:
    paths = sorted(FIXTURES.glob("*.eml"))
    deliver_mail(paths)
    result = _tick(inbound_mail_sensor, instance)
    assert isinstance(result, dg.SensorResult)
    keys = [k for r in result.run_requests for k in r.run_config["ops"]["intake__email"]["config"]["request_keys"]]
    assert len(keys) == len(paths)  # one tick's objects, batched per day
    assert len(result.run_requests) == 1
    _run(result.run_requests, intake_email, instance)

    expected_failed = {parse_email(p.read_bytes()).message_id for p in paths if parse_email(p.read_bytes()).error}
    url = aws.database_url
    messages = _rows(url, "SELECT message_key, status, error, rfq_id, joined_thread FROM intake_messages")
    assert len(messages) == len(paths)  # none lost
    assert {m[0] for m in messages if m[1] == "failed"} == expected_failed
    assert all(m[2] for m in messages if m[1] == "failed")  # each failure says why
    assert all(m[3] is not None for m in messages if m[1] == "parsed")
    email_rfqs = _rows(url, "SELECT count(*) FROM rfqs WHERE attributes ->> 'channel' = 'email'")[0][0]
    assert email_rfqs == sum(1 for m in messages if m[1] == "parsed" and not m[4])
    assert _rows(url, "SELECT count(*) FROM intake_requests WHERE status = 'pending'")[0][0] == 0
    assert _rows(url, "SELECT count(*) FROM intake_attachments WHERE text IS NOT NULL")[0][0] > 0

    inbound = _queue(aws, INBOUND_MAIL)
    assert inbound.receive(wait_seconds=0) == []  # every notification deleted after it was recorded
    assert inbound.list_dlq() == []

    # SES or S3 redelivers (the same objects announced again): nothing new is recorded or requested.
    deliver_mail(paths)
    again = _tick(inbound_mail_sensor, instance)
    assert isinstance(again, dg.SkipReason)
    assert f"already known {len(paths)}" in again.skip_message
    assert len(_rows(url, "SELECT message_key FROM intake_messages")) == len(paths)


def test_a_reply_attaches_to_the_rfq_of_its_thread(aws: Settings, instance: dg.DagsterInstance) -> None:
    deliver_mail([SAMPLE_MAIL_DIR / "07_body_lotion_rfq.eml"])
    _run(_tick(inbound_mail_sensor, instance).run_requests, intake_email, instance)
    deliver_mail(sorted(REPLIES.glob("*.eml")))
    _run(_tick(inbound_mail_sensor, instance).run_requests, intake_email, instance)

    rfqs = _rows(aws.database_url, "SELECT id, title, attributes -> 'thread' FROM rfqs WHERE source = 'email'")
    assert len(rfqs) == 1
    rfq_id, title, thread = rfqs[0]
    assert title == "Quotation for body lotion"
    assert [entry["message_id"] for entry in thread] == ["<reply-0010@spa.example.com>"]
    assert "8,000 tubes" in thread[0]["new_text"]
    joined = _rows(aws.database_url, "SELECT rfq_id FROM intake_messages WHERE joined_thread")
    assert joined == [(rfq_id,)]


def test_a_forwarded_marketplace_notification_is_that_marketplaces_rfq(
    aws: Settings, instance: dg.DagsterInstance
) -> None:
    deliver_mail([SAMPLE_MAIL_DIR / "09_globalsources_forward.eml"])
    _run(_tick(inbound_mail_sensor, instance).run_requests, intake_email, instance)
    rows = _rows(
        aws.database_url,
        "SELECT source, title, quantity_text, country_raw, buyer_name, buyer_company, attributes ->> 'channel' "
        "FROM rfqs",
    )
    # Analysts see it under Global Sources; the notifier is not the buyer, and the buyer's text stays data.
    assert rows == [
        (
            "globalsources",
            "Buying Request: Vitamin C face serum 30ml, 10,000 pcs",
            "10,000 pieces",
            "United Arab Emirates",
            "",
            "",
            "email",
        )
    ]
    kind = _rows(aws.database_url, "SELECT kind, enabled FROM sources WHERE name = 'globalsources'")
    assert kind == [("marketplace", False)]


def test_a_message_that_is_not_an_s3_event_is_dead_lettered_with_the_reason(
    aws: Settings, instance: dg.DagsterInstance
) -> None:
    inbound = _queue(aws, INBOUND_MAIL)
    inbound.send("this is not an S3 event")
    result = _tick(inbound_mail_sensor, instance)
    assert isinstance(result, dg.SkipReason) and "dead-lettered 1" in result.skip_message
    dead = inbound.list_dlq()
    assert len(dead) == 1
    assert dead[0].body == "this is not an S3 event"
    assert "not an S3 event notification" in dead[0].reason


def test_a_message_whose_recording_keeps_failing_reaches_the_dlq_with_the_error(
    aws: Settings, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rfq_pipeline.intake import store
    from rfq_pipeline.sensors import intake as sensors

    def broken(*_args: object, **_kwargs: object) -> bool:
        raise RuntimeError("database is read-only")

    monkeypatch.setattr(store, "record_request", broken)
    monkeypatch.setattr(sensors, "VISIBILITY_TIMEOUT_S", 0)  # redelivered at once, so one tick sees every attempt
    deliver_mail([SAMPLE_MAIL_DIR / "01_plain_utf8_rfq.eml"])
    result = _tick(inbound_mail_sensor, instance)
    assert isinstance(result, dg.SkipReason)
    assert "left for retry" in result.skip_message and "dead-lettered 1" in result.skip_message
    [dead] = _queue(aws, INBOUND_MAIL).list_dlq()
    assert "could not be recorded: RuntimeError: database is read-only" in dead.reason
    # The original notification, untouched (S3 URL-encodes the key in it).
    assert json.loads(dead.body)["Records"][0]["s3"]["object"]["key"] == "inbound%2F01_plain_utf8_rfq"
    assert _queue(aws, INBOUND_MAIL).receive(wait_seconds=0) == []


def test_scrape_requests_become_partition_runs_and_bad_ones_go_to_the_dlq(
    aws: Settings, instance: dg.DagsterInstance
) -> None:
    today = datetime.now(UTC).date().isoformat()
    request_scrape("ec21", today, "buyer called about a lead")
    queue = _queue(aws, SCRAPE_REQUESTS)
    queue.send(json.dumps({"source": "nowhere", "date": today, "reason": "typo"}))
    queue.send(json.dumps({"source": "ec21", "date": "2026-13-45", "reason": "bad date"}))
    queue.send("{not json")

    result = _tick(scrape_requests_sensor, instance)
    assert isinstance(result, dg.SensorResult)
    [run] = result.run_requests
    assert run.job_name == "ec21_job" and run.partition_key == today
    assert run.tags["rfq/source"] == "ec21" and run.run_key.startswith("scrape:")
    # SQS may deliver a message twice; by original message id there are exactly the three bad requests.
    reasons = sorted({d.original_message_id: d.reason for d in queue.list_dlq()}.values())
    assert len(reasons) == 3
    assert any("unknown source 'nowhere'" in r for r in reasons)
    assert any("is not YYYY-MM-DD" in r for r in reasons)
    assert any("not JSON" in r for r in reasons)

    # Until its run exists the request is asked for again under the same key (Dagster drops a used key) ...
    again = _tick(scrape_requests_sensor, instance)
    assert [r.run_key for r in again.run_requests] == [run.run_key]
    # ... and once a run with that key exists the request is done.
    dg.materialize([_noop_asset()], instance=instance, tags={"dagster/run_key": run.run_key})
    assert isinstance(_tick(scrape_requests_sensor, instance), dg.SkipReason)
    assert _rows(aws.database_url, "SELECT status FROM intake_requests WHERE kind = 'scrape'") == [("done",)]


def _noop_asset() -> dg.AssetsDefinition:
    @dg.asset(name="scrape_run_stand_in")
    def stand_in() -> None:
        """A run carrying the request's run key, as the source job's run would."""

    return stand_in


def test_uploads_sensor_cursor_sees_new_and_reuploaded_objects_once(
    aws: Settings, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    first = tmp_path / "lipstick_rfq.csv"
    first.write_text("Item,Quantity,Destination\nMatte lipstick private label,5000 pcs,Riyadh\n", encoding="utf-8")
    upload_documents([first, SAMPLE_MAIL_DIR.parent / "uploads" / "salon_supply_rfq.xlsx"])
    result = _tick(uploads_sensor, instance)
    [run] = result.run_requests
    assert len(run.run_config["ops"]["intake__uploads"]["config"]["request_keys"]) == 2
    _run([run], intake_uploads, instance)
    titles = sorted(r[0] for r in _rows(aws.database_url, "SELECT title FROM rfqs WHERE source = 'upload'"))
    assert titles == [
        "Argan oil hair serum - 50 ml amber glass dropper, private label",
        "Matte lipstick private label - 5000 pcs",
    ]

    quiet = _tick(uploads_sensor, instance, result.cursor)
    assert quiet.run_requests == [] and quiet.cursor == result.cursor

    first.write_text("Item,Quantity,Destination\nMatte lipstick private label,8000 pcs,Riyadh\n", encoding="utf-8")
    upload_documents([first])  # the same key again, new content: a new request
    changed = _tick(uploads_sensor, instance, result.cursor)
    [rerun] = changed.run_requests
    assert len(rerun.run_config["ops"]["intake__uploads"]["config"]["request_keys"]) == 1
    _run([rerun], intake_uploads, instance)
    assert _rows(aws.database_url, "SELECT count(*) FROM rfqs WHERE source = 'upload'")[0][0] == 3
    bucket = bucket_name(aws, "uploads")
    assert all(bucket in r[0] for r in _rows(aws.database_url, "SELECT request_key FROM intake_requests"))
