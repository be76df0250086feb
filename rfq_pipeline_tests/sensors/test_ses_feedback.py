"""SES feedback: notifications in the shapes AWS documents, parsed; and end to end on a bootstrapped moto over HTTP
(send -> SES bounce -> SNS -> SQS -> sensor -> email_suppressions -> the next send is refused)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from rfq_pipeline.aws.clients import boto3_client
from rfq_pipeline.aws.naming import SES_FEEDBACK, feedback_topic_name
from rfq_pipeline.aws.sqs import SqsQueue
from rfq_pipeline.definitions import resources
from rfq_pipeline.devtools.local_aws import local_aws, sent_mail
from rfq_pipeline.quotes.suppression import (
    FeedbackParseError,
    Suppression,
    is_suppressed,
    parse_feedback,
    record_suppressions,
)
from rfq_pipeline.sensors.ses_feedback import ses_feedback_sensor
from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import LocalObjectStore
from rfq_pipeline_tests.quotes.test_outbound import _send, seed_draft

MAIL = {
    "timestamp": "2026-03-02T12:05:00.000Z",
    "source": "quotes@example.com",
    "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/quotes@example.com",
    "sendingAccountId": "123456789012",
    "messageId": "0100018e0b2c3d4e-5f6a7b8c-9d0e-1f2a-3b4c-5d6e7f8a9b0c-000000",
    "destination": ["jane@buyer.example"],
    "headersTruncated": False,
    "commonHeaders": {"from": ["quotes@example.com"], "to": ["jane@buyer.example"], "subject": "Quotation Q-1 v1"},
}


def _bounce(bounce_type: str, subtype: str, *addresses: str) -> dict:
    """A bounce notification as SES publishes it to SNS."""
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": subtype,
            "bouncedRecipients": [
                {
                    "emailAddress": a,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": f"smtp; 550 5.1.1 <{a}>... User unknown",
                }
                for a in addresses
            ],
            "timestamp": "2026-03-02T12:05:01.000Z",
            "feedbackId": "0100018e0b2c3d4e-aaaa-bbbb-cccc-dddd-000000",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
            "remoteMtaIp": "127.0.2.0",
        },
        "mail": MAIL,
    }


def _complaint(*addresses: str) -> dict:
    return {
        "notificationType": "Complaint",
        "complaint": {
            "userAgent": "ExampleCorp Feedback Loop (V0.01)",
            "complainedRecipients": [{"emailAddress": a} for a in addresses],
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2026-03-02T12:10:00.000Z",
            "timestamp": "2026-03-02T12:10:01.000Z",
            "feedbackId": "0100018e0b2c3d4e-eeee-ffff-0000-1111-000000",
        },
        "mail": MAIL,
    }


def _envelope(notification: dict) -> str:
    """The SNS -> SQS envelope (no raw message delivery): the SES JSON as a string in ``Message``."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "2b0c7a5e-0c1d-5e2f-9a3b-4c5d6e7f8a9b",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:rfq-pipeline-ses-feedback",
            "Message": json.dumps(notification),
            "Timestamp": "2026-03-02T12:05:02.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-EXAMPLE.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=EXAMPLE",
        }
    )


def test_a_permanent_bounce_suppresses_every_bounced_recipient() -> None:
    feedback = parse_feedback(_envelope(_bounce("Permanent", "General", "Jane@Buyer.example", "ops@buyer.example")))
    assert feedback.kind == "Bounce"
    assert [s.address for s in feedback.suppressions] == ["jane@buyer.example", "ops@buyer.example"]
    first = feedback.suppressions[0]
    assert first.reason == "bounce" and first.feedback_id == "0100018e0b2c3d4e-aaaa-bbbb-cccc-dddd-000000"
    assert first.detail["bounce_type"] == "Permanent" and first.detail["bounce_subtype"] == "General"
    assert "550 5.1.1" in first.detail["diagnostic_code"] and first.detail["ses_message_id"] == MAIL["messageId"]
    # Raw message delivery hands over the SES JSON without the envelope: the same answer.
    assert parse_feedback(json.dumps(_bounce("Permanent", "General", "Jane@Buyer.example"))).suppressions[0] == first


@pytest.mark.parametrize(("bounce_type", "subtype"), [("Transient", "MailboxFull"), ("Undetermined", "Undetermined")])
def test_a_transient_or_undetermined_bounce_suppresses_nothing(bounce_type: str, subtype: str) -> None:
    feedback = parse_feedback(_envelope(_bounce(bounce_type, subtype, "jane@buyer.example")))
    assert feedback.suppressions == () and "not suppressed" in feedback.note and subtype in feedback.note


def test_a_complaint_suppresses_the_complainer_and_deliveries_are_ignored() -> None:
    [complaint] = parse_feedback(_envelope(_complaint("Richard@Buyer.example"))).suppressions
    assert (complaint.address, complaint.reason) == ("richard@buyer.example", "complaint")
    assert complaint.detail["complaint_feedback_type"] == "abuse"
    delivery = {"notificationType": "Delivery", "mail": MAIL,
                "delivery": {"timestamp": "2026-03-02T12:05:01.000Z", "recipients": ["jane@buyer.example"],
                             "smtpResponse": "250 ok"}}  # fmt: skip
    assert parse_feedback(_envelope(delivery)).suppressions == ()
    subscribed = {"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "You have successfully subscribed"}
    assert parse_feedback(_envelope(subscribed)).suppressions == ()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "body is not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"Type": "Notification"}), "without a Message"),
        (json.dumps({"Type": "Notification", "Message": "{oops"}), "SNS message is not JSON"),
        (json.dumps({"hello": "world"}), "no notificationType"),
        (json.dumps({"notificationType": "Bounce"}), "without a bounce object"),
        (_envelope({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent"}}), "no bouncedRecipients"),
        (_envelope({"notificationType": "Complaint", "complaint": {"complainedRecipients": [{}]}}), "emailAddress"),
        (_envelope(_bounce("Permanent", "General", "not-an-address")), "not an e-mail address"),
        (_envelope({"notificationType": "Surprise"}), "unknown SES notification type"),
    ],
)
def test_a_body_that_is_not_an_ses_notification_is_refused_with_the_reason(body: str, reason: str) -> None:
    with pytest.raises(FeedbackParseError, match=reason):
        parse_feedback(body)


def test_suppressions_are_idempotent_and_keep_the_first_reason(clean_db: str) -> None:
    with psycopg.connect(clean_db) as conn:
        assert record_suppressions(conn, [Suppression("jane@buyer.example", "bounce", {"n": 1}, "fb-1")]) == 1
        assert record_suppressions(conn, [Suppression("JANE@buyer.example", "complaint", {"n": 2}, "fb-2")]) == 0
        assert is_suppressed(conn, " Jane@Buyer.example ").startswith("suppressed after a bounce on ")
        assert is_suppressed(conn, "someone@else.example") is None
        assert conn.execute("SELECT reason, detail, feedback_id FROM email_suppressions").fetchall() == [
            ("bounce", {"n": 1}, "fb-1")
        ]


@pytest.fixture()
def aws(pipeline_env: Settings) -> Iterator[Settings]:
    with local_aws():
        yield Settings.from_env()


@pytest.fixture()
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def _tick(instance: dg.DagsterInstance) -> dg.SkipReason:
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = ses_feedback_sensor(context)
    assert isinstance(result, dg.SkipReason)
    return result


def _queue(settings: Settings) -> SqsQueue:
    return SqsQueue.resolve(boto3_client("sqs", settings), settings, SES_FEEDBACK)


def test_a_bounce_from_ses_suppresses_the_address_and_the_next_send_is_refused(
    aws: Settings, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    url, pdfs = aws.database_url, LocalObjectStore(tmp_path / "quote_pdfs")
    first = seed_draft(url, pdfs, email_address="bounce@simulator.amazonses.com")
    assert _send(url, first, aws, pdfs).status == "sent"

    # moto answers a send to the bounce simulator by publishing a bounce to the identity's topic; its canned
    # notification names the example recipients of AWS's documentation, not the address it was sent to.
    tick = _tick(instance)
    assert "received 1, suppressed 2 new addresses" in tick.skip_message, tick.skip_message
    with psycopg.connect(url) as conn:
        assert is_suppressed(conn, "recipient1@example.com").startswith("suppressed after a bounce on ")

    # SES's own notification for the simulator address, published to the topic as SES publishes it.
    sns = boto3_client("sns", aws)
    [topic] = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(feedback_topic_name(aws))]
    sns.publish(TopicArn=topic, Message=json.dumps(_bounce("Permanent", "General", "bounce@simulator.amazonses.com")))
    tick = _tick(instance)
    assert "received 1, suppressed 1 new addresses" in tick.skip_message, tick.skip_message
    assert _queue(aws).receive(wait_seconds=0) == []  # handled messages are deleted

    second = seed_draft(url, pdfs, email_address="bounce@simulator.amazonses.com", external_id="rfq-2")
    refused = _send(url, second, aws, pdfs)
    assert refused.status == "refused" and refused.detail.startswith("suppressed after a bounce on ")
    assert len(sent_mail()) == 1
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT address, reason, feedback_id FROM email_suppressions ORDER BY address").fetchall()
    assert [r[0] for r in rows] == ["bounce@simulator.amazonses.com", "recipient1@example.com",
                                    "recipient2@example.com"]  # fmt: skip
    assert {r[1] for r in rows} == {"bounce"} and all(r[2] for r in rows)


def test_poison_messages_go_to_the_dlq_with_their_reason(aws: Settings, instance: dg.DagsterInstance) -> None:
    queue = _queue(aws)
    queue.send("not json at all")
    queue.send(json.dumps({"Type": "Notification", "Message": json.dumps({"notificationType": "Surprise"})}))
    queue.send(_envelope(_complaint("richard@buyer.example")))

    tick = _tick(instance)
    assert "received 3, suppressed 1 new addresses" in tick.skip_message and "dead-lettered 2" in tick.skip_message
    reasons = sorted(letter.reason for letter in queue.list_dlq())
    assert reasons == [
        "not an SES notification: body is not JSON: Expecting value: line 1 column 1 (char 0)",
        "not an SES notification: unknown SES notification type 'Surprise'",
    ]
    assert queue.receive(wait_seconds=0) == []
    with psycopg.connect(aws.database_url) as conn:
        assert is_suppressed(conn, "richard@buyer.example").startswith("suppressed after a complaint on ")


def test_without_aws_the_sensor_skips(pipeline_env: Settings, instance: dg.DagsterInstance) -> None:
    assert "AWS is not configured" in _tick(instance).skip_message
