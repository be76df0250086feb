from __future__ import annotations

import json

import dagster as dg
import pytest

from rfq_pipeline.aws.bootstrap import bootstrap
from rfq_pipeline.aws.clients import boto3_client
from rfq_pipeline.aws.sqs import (
    ORIGINAL_MESSAGE_ID_ATTRIBUTE,
    REASON_ATTRIBUTE,
    REDRIVE_REASON,
    S3EventParseError,
    SqsError,
    SqsQueue,
    created_objects,
    parse_s3_notification,
    resolve_source_queue,
)
from rfq_pipeline.resources import SqsResource
from rfq_pipeline.settings import Settings


def _s3_event(key: str, bucket: str = "t-raw-mime", event: str = "ObjectCreated:Put") -> dict:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-12-02T07:00:00.000Z",
                "eventName": event,
                "s3": {
                    "configurationId": "rfq-pipeline-inbound-mail",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key, "size": 12, "eTag": "abc", "sequencer": "0055AED6DCD90281E5"},
                },
            }
        ]
    }


def test_keys_are_url_decoded_plus_is_space_and_percent_2b_is_plus() -> None:
    notification = parse_s3_notification(json.dumps(_s3_event("inbound/re%3A+50%2B+units.eml")))
    [record] = notification.records
    assert record.key == "inbound/re: 50+ units.eml"
    assert (record.bucket, record.size, record.sequencer) == ("t-raw-mime", 12, "0055AED6DCD90281E5")
    assert record.uri == "s3://t-raw-mime/inbound/re: 50+ units.eml"
    assert not notification.test_event


def test_test_event_and_sns_envelope() -> None:
    test = parse_s3_notification(
        json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-12-02T07:00:00Z", "Bucket": "b"})
    )
    assert test.test_event and test.records == () and test.test_bucket == "b"

    envelope = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:uploads",
        "Message": json.dumps(_s3_event("uploads/a+b.pdf", bucket="t-uploads")),
    }
    [record] = parse_s3_notification(json.dumps(envelope)).records
    assert (record.bucket, record.key) == ("t-uploads", "uploads/a b.pdf")

    removed = parse_s3_notification(json.dumps(_s3_event("inbound/x", event="ObjectRemoved:Delete")))
    assert created_objects(removed) == []
    created = parse_s3_notification(json.dumps(_s3_event("inbound/x")))
    assert created_objects(created, buckets=["other"]) == []
    assert [r.key for r in created_objects(created, buckets=["t-raw-mime"])] == ["inbound/x"]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        json.dumps({"hello": "world"}),
        json.dumps({"Records": [{"eventName": "x"}]}),
        json.dumps({"Type": "Notification", "Message": "{broken"}),
    ],
)
def test_bodies_that_are_not_s3_events_are_refused(body: str) -> None:
    with pytest.raises(S3EventParseError):
        parse_s3_notification(body)


@pytest.fixture()
def queues(aws_env: Settings) -> Settings:
    bootstrap(aws_env)
    return aws_env


def test_receive_is_bounded(queues: Settings) -> None:
    queue = SqsQueue.resolve(boto3_client("sqs", queues), queues, "scrape-requests")
    for kwargs in ({"wait_seconds": 6}, {"max_messages": 11}, {"max_messages": 0}, {"visibility_timeout": -1}):
        with pytest.raises(ValueError):
            queue.receive(**kwargs)
    with pytest.raises(SqsError, match="does not exist"):
        SqsQueue.resolve(boto3_client("sqs", queues), queues, "no-such-queue")


def test_send_receive_change_visibility_delete(queues: Settings) -> None:
    queue = SqsQueue.resolve(boto3_client("sqs", queues), queues, "scrape-requests")
    sent = queue.send(json.dumps({"source": "tradekey"}), string_attributes={"requested-by": "ops"})
    [message] = queue.receive(wait_seconds=1, visibility_timeout=30)
    assert message.message_id == sent and message.receive_count == 1
    assert message.string_attribute("requested-by") == "ops"
    assert queue.receive(wait_seconds=0) == []  # invisible for 30 s
    queue.change_visibility(message, 0)
    [again] = queue.receive(wait_seconds=1, visibility_timeout=30)
    assert again.message_id == sent and again.receive_count == 2
    queue.delete(again)
    assert queue.receive(wait_seconds=0, visibility_timeout=0) == []


def test_a_long_poll_delayed_past_its_wait_still_sees_the_queue(
    queues: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's long poll checks its deadline before its first scan; on a busy machine that answered "empty"."""
    import moto.sqs.models

    queue = SqsQueue.resolve(boto3_client("sqs", queues), queues, "scrape-requests")
    sent = queue.send("{}")
    real = moto.sqs.models.unix_time
    calls = iter(range(1_000_000))
    # Every clock reading after the deadline is set lies 10 s later: the server thread "stalled".
    monkeypatch.setattr(moto.sqs.models, "unix_time", lambda *a: real(*a) + (10 if next(calls) else 0))
    assert [m.message_id for m in queue.receive(wait_seconds=1)] == [sent]


def test_a_message_received_five_times_reaches_the_dlq_and_replays_back(queues: Settings) -> None:
    client = boto3_client("sqs", queues)
    queue = SqsQueue.resolve(client, queues, "scrape-requests")
    body = json.dumps({"source": "ec21", "date": "2026-12-01"})
    sent = queue.send(body, string_attributes={"requested-by": "ops"})
    for attempt in range(1, 6):  # a consumer that keeps failing: never deletes
        [message] = queue.receive(wait_seconds=1, visibility_timeout=0)
        assert message.receive_count == attempt
    assert queue.receive(wait_seconds=1, visibility_timeout=0) == []  # the 6th receive moved it to the DLQ

    letters = queue.list_dlq()
    assert [(d.message_id, d.body, d.reason) for d in letters] == [(sent, body, REDRIVE_REASON)]
    assert letters[0].receive_count >= 5
    assert [d.message_id for d in queue.list_dlq()] == [sent]  # listing consumed nothing

    # The DLQ URL itself resolves to its source queue.
    dlq = queue.dead_letter_queue()
    assert dlq is not None
    assert resolve_source_queue(client, queues, dlq.url).url == queue.url

    report = queue.replay_dlq()
    assert report.replayed == [sent]
    assert queue.list_dlq() == []
    [back] = queue.receive(wait_seconds=1, visibility_timeout=30)
    assert back.body == body
    assert back.message_id == report.new_message_ids[0] != sent
    assert back.string_attribute("requested-by") == "ops"
    assert back.string_attribute(ORIGINAL_MESSAGE_ID_ATTRIBUTE) == sent == back.original_message_id
    assert back.receive_count == 1  # a fresh message: five more tries
    assert queue.replay_dlq().replayed == []  # nothing left: replaying again moves nothing


def test_send_to_dlq_keeps_body_attributes_and_reason(queues: Settings) -> None:
    queue = SqsQueue.resolve(boto3_client("sqs", queues), queues, "inbound-mail")
    while batch := queue.receive(wait_seconds=1):  # the s3:TestEvent from bootstrap
        for message in batch:
            queue.delete(message)
    sent = queue.send("not an s3 event", string_attributes={"trace": "t-1"})
    [message] = queue.receive(wait_seconds=1)
    queue.send_to_dlq(message, "unparseable: body is not JSON")
    assert queue.receive(wait_seconds=1, visibility_timeout=0) == []  # the original is deleted

    [letter] = queue.list_dlq()
    assert letter.body == "not an s3 event"
    assert letter.reason == "unparseable: body is not JSON"
    assert letter.original_message_id == sent
    assert letter.receive_count == 1  # receives in the source queue, not the DLQ's own count
    assert letter.message_attributes["trace"]["StringValue"] == "t-1"
    assert letter.message_attributes[REASON_ATTRIBUTE]["StringValue"] == "unparseable: body is not JSON"

    queue.replay_dlq(max_messages=1)
    [back] = queue.receive(wait_seconds=1)
    assert back.body == "not an s3 event" and back.dlq_reason is None  # the reason does not travel back
    assert back.string_attribute("trace") == "t-1" and back.original_message_id == sent


def test_sqs_resource_defaults_to_the_settings_and_refuses_keys(queues: Settings) -> None:
    resource = SqsResource()
    queue = resource.get_queue("scrape-requests")
    assert queue.url.startswith(queues.aws_endpoint_url)
    queue.send("hello")
    [message] = queue.receive(wait_seconds=1)
    assert message.body == "hello"

    @dg.asset
    def drained(sqs: SqsResource) -> str:
        [received] = sqs.get_queue("scrape-requests").receive(wait_seconds=1)
        sqs.get_queue("scrape-requests").delete(received)
        return received.body

    queue.send("from a run")
    result = dg.materialize([drained], resources={"sqs": SqsResource(max_attempts=2)})
    assert result.success and result.output_for_node("drained") == "from a run"

    with pytest.raises(dg.Failure, match="boto3's chain"):
        SqsResource(aws_access_key_id="AKIA", aws_secret_access_key="secret").get_client()
