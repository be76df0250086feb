from __future__ import annotations

import json
from dataclasses import replace

import pytest

from rfq_pipeline.aws import naming
from rfq_pipeline.aws.bootstrap import CREATED, EXISTS, SKIPPED, UPDATED, bootstrap
from rfq_pipeline.aws.clients import boto3_client
from rfq_pipeline.aws.iam import iam_policy
from rfq_pipeline.aws.sqs import SqsQueue, parse_s3_notification
from rfq_pipeline.settings import Settings
from rfq_pipeline_tests.aws.conftest import BUCKETS


def _snapshot(settings: Settings) -> dict:
    """Everything bootstrap configures, as the services report it."""
    s3, sqs, ses = (boto3_client(s, settings) for s in ("s3", "sqs", "ses"))
    out: dict = {"buckets": sorted(b["Name"] for b in s3.list_buckets()["Buckets"])}
    for bucket in BUCKETS.values():
        notification = s3.get_bucket_notification_configuration(Bucket=bucket)
        notification.pop("ResponseMetadata")
        out[f"notification:{bucket}"] = notification
    out["policy:raw_mime"] = s3.get_bucket_policy(Bucket=BUCKETS["raw_mime"])["Policy"]
    for logical in naming.LOGICAL_QUEUES:
        queue = SqsQueue.resolve(sqs, settings, logical)
        attributes = queue.attributes()
        out[f"queue:{logical}"] = {k: attributes.get(k) for k in ("RedrivePolicy", "Policy", "VisibilityTimeout")}
    out["rule_set"] = ses.describe_receipt_rule_set(RuleSetName=settings.ses_rule_set)["Rules"]
    out["active"] = ses.describe_active_receipt_rule_set()["Metadata"]["Name"]
    return out


def test_bootstrap_creates_everything_and_a_second_run_changes_nothing(aws_env: Settings) -> None:
    first = bootstrap(aws_env)
    assert first.changed
    assert {i.status for i in first.items} == {CREATED}, [i.render() for i in first.items if i.status != CREATED]
    assert first.buckets == BUCKETS  # names come from RFQ_S3_BUCKET_<ROLE>
    before = _snapshot(aws_env)

    second = bootstrap(aws_env)
    assert not second.changed
    assert [(i.kind, i.name) for i in second.items] == [(i.kind, i.name) for i in first.items]
    assert {i.status for i in second.items} == {EXISTS}
    assert _snapshot(aws_env) == before
    assert "created" not in second.render()


def test_bootstrapped_resources_are_configured(aws_env: Settings) -> None:
    report = bootstrap(aws_env)
    s3, sqs, ses = (boto3_client(s, aws_env) for s in ("s3", "sqs", "ses"))

    for bucket in BUCKETS.values():
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert s3.get_bucket_versioning(Bucket=bucket).get("Status") is None  # never enabled

    for logical in naming.LOGICAL_QUEUES:
        queue = SqsQueue.resolve(sqs, aws_env, logical)
        assert queue.name == f"rfq-pipeline-{logical}"
        redrive = json.loads(queue.attributes()["RedrivePolicy"])
        dlq = queue.dead_letter_queue()
        assert dlq is not None and dlq.name == f"rfq-pipeline-{logical}-dlq"
        assert redrive == {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 5}
        assert report.dlq_urls[logical] == dlq.url

    for role, prefix, logical in naming.NOTIFICATION_ROUTES:
        queue = SqsQueue.resolve(sqs, aws_env, logical)
        [statement] = json.loads(queue.attributes()["Policy"])["Statement"]
        assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
        assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:s3:::{BUCKETS[role]}"
        configs = s3.get_bucket_notification_configuration(Bucket=BUCKETS[role])["QueueConfigurations"]
        # moto answers "prefix", S3 "Prefix"
        [config] = [c for c in configs if c["Filter"]["Key"]["FilterRules"][0]["Value"] == prefix]
        assert config["QueueArn"] == queue.arn
        assert config["Events"] == ["s3:ObjectCreated:*"]
        [rule] = config["Filter"]["Key"]["FilterRules"]
        assert (rule["Name"].lower(), rule["Value"]) == ("prefix", prefix)
    uploads = s3.get_bucket_notification_configuration(Bucket=BUCKETS["uploads"])["QueueConfigurations"]
    assert sorted(c["Filter"]["Key"]["FilterRules"][0]["Value"] for c in uploads) == ["imports/", "uploads/"]
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=BUCKETS["exports"])

    [ses_statement] = json.loads(s3.get_bucket_policy(Bucket=BUCKETS["raw_mime"])["Policy"])["Statement"]
    assert ses_statement["Principal"] == {"Service": "ses.amazonaws.com"}
    assert ses_statement["Resource"] == f"arn:aws:s3:::{BUCKETS['raw_mime']}/inbound/*"
    active = ses.describe_active_receipt_rule_set()
    assert active["Metadata"]["Name"] == "rfq-pipeline-inbound"
    [rule] = active["Rules"]
    assert rule["Name"] == naming.SES_RULE_NAME
    assert rule["Actions"] == [{"S3Action": {"BucketName": BUCKETS["raw_mime"], "ObjectKeyPrefix": "inbound/"}}]


def test_bootstrap_fixes_drift_and_keeps_foreign_configuration(aws_env: Settings) -> None:
    bootstrap(aws_env)
    s3, sqs = boto3_client("s3", aws_env), boto3_client("sqs", aws_env)
    queue = SqsQueue.resolve(sqs, aws_env, "inbound-mail")
    dlq = queue.dead_letter_queue()
    assert dlq is not None
    sqs.set_queue_attributes(
        QueueUrl=queue.url,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 50})},
    )
    foreign = {
        "Sid": "SomeoneElse",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKETS['raw_mime']}/public/*",
    }
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKETS["raw_mime"])["Policy"])
    s3.put_bucket_policy(Bucket=BUCKETS["raw_mime"], Policy=json.dumps({**policy, "Statement": [foreign]}))

    report = bootstrap(aws_env)
    assert report.status_of("sqs queue", "rfq-pipeline-inbound-mail") == UPDATED
    assert report.status_of("bucket policy", BUCKETS["raw_mime"]) == UPDATED
    assert json.loads(queue.attributes(refresh=True)["RedrivePolicy"])["maxReceiveCount"] == 5
    statements = json.loads(s3.get_bucket_policy(Bucket=BUCKETS["raw_mime"])["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["SomeoneElse", "AllowSesPutRawMime"]
    assert not bootstrap(aws_env).changed


def test_another_active_rule_set_is_left_unless_asked(aws_env: Settings) -> None:
    ses = boto3_client("ses", aws_env)
    ses.create_receipt_rule_set(RuleSetName="existing-mail")
    ses.set_active_receipt_rule_set(RuleSetName="existing-mail")

    report = bootstrap(aws_env)
    assert report.status_of("ses active rule set", "rfq-pipeline-inbound") == SKIPPED
    assert ses.describe_active_receipt_rule_set()["Metadata"]["Name"] == "existing-mail"

    report = bootstrap(aws_env, replace_active_rule_set=True)
    assert report.status_of("ses active rule set", "rfq-pipeline-inbound") == UPDATED
    assert ses.describe_active_receipt_rule_set()["Metadata"]["Name"] == "rfq-pipeline-inbound"


def _received_events(queue: SqsQueue) -> list:
    """Receive until the queue is empty; skip (and delete) s3:TestEvents; return the object events."""
    events = []
    while batch := queue.receive(max_messages=10, wait_seconds=1, visibility_timeout=30):
        for message in batch:
            notification = parse_s3_notification(message.body)
            events.extend(notification.records)
            queue.delete(message)
    return events


def test_objects_under_the_prefixes_notify_their_queue_with_decoded_keys(aws_env: Settings) -> None:
    bootstrap(aws_env)
    s3, sqs = boto3_client("s3", aws_env), boto3_client("sqs", aws_env)
    inbound = SqsQueue.resolve(sqs, aws_env, "inbound-mail")
    uploads = SqsQueue.resolve(sqs, aws_env, "uploads")
    _received_events(inbound)  # the s3:TestEvent S3 sends when notifications are configured
    _received_events(uploads)

    key = "inbound/2026-12-02/re: quote 50+ units (final).eml"
    s3.put_object(Bucket=BUCKETS["raw_mime"], Key=key, Body=b"From: buyer@example.com\r\n\r\nhello")
    s3.put_object(Bucket=BUCKETS["raw_mime"], Key="elsewhere/ignored.eml", Body=b"x")  # outside the prefix
    s3.put_object(Bucket=BUCKETS["uploads"], Key="uploads/price list+v2.xlsx", Body=b"xlsx")

    [event] = _received_events(inbound)
    assert event.key == key  # '+' in the notification decodes to ' ', '%2B' to '+'
    assert event.bucket == BUCKETS["raw_mime"]
    assert event.event_name == "ObjectCreated:Put" and event.created
    assert event.size == len(b"From: buyer@example.com\r\n\r\nhello")
    assert s3.get_object(Bucket=event.bucket, Key=event.key)["Body"].read().startswith(b"From:")

    [upload] = _received_events(uploads)
    assert (upload.bucket, upload.key) == (BUCKETS["uploads"], "uploads/price list+v2.xlsx")


def test_iam_policy_names_the_configured_resources(aws_env: Settings) -> None:
    policy = iam_policy(aws_env)
    json.dumps(policy)  # serializable
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert set(by_sid) == {
        "ObjectsReadWrite",
        "ObjectsList",
        "Queues",
        "BootstrapBuckets",
        "BootstrapQueues",
        "BootstrapSes",
        "BootstrapFeedbackTopic",
    }
    assert f"arn:aws:s3:::{BUCKETS['uploads']}/*" in by_sid["ObjectsReadWrite"]["Resource"]
    assert "arn:aws:sqs:us-east-1:*:rfq-pipeline-inbound-mail-dlq" in by_sid["Queues"]["Resource"]
    assert "arn:aws:sqs:us-east-1:*:rfq-pipeline-ses-feedback" in by_sid["Queues"]["Resource"]
    assert "sqs:ReceiveMessage" in by_sid["Queues"]["Action"]
    assert by_sid["BootstrapFeedbackTopic"]["Resource"] == ["arn:aws:sns:us-east-1:*:rfq-pipeline-ses-feedback"]
    runtime = iam_policy(aws_env, runtime_only=True)
    assert [s["Sid"] for s in runtime["Statement"]] == ["ObjectsReadWrite", "ObjectsList", "Queues"]

    # With a sender, the runtime may send from it (and its domain), bootstrap may set the identity up.
    sending = replace(aws_env, quote_from_address="quotes@acme.example")
    by_sid = {s["Sid"]: s for s in iam_policy(sending)["Statement"]}
    identities = [
        "arn:aws:ses:us-east-1:*:identity/quotes@acme.example",
        "arn:aws:ses:us-east-1:*:identity/acme.example",
    ]
    assert by_sid["SendMail"]["Action"] == ["ses:SendEmail", "ses:SendRawEmail"]
    assert by_sid["SendMail"]["Resource"] == identities
    assert by_sid["BootstrapSesIdentity"]["Resource"] == identities
    assert "ses:SetIdentityNotificationTopic" in by_sid["BootstrapSesIdentity"]["Action"]
    runtime = iam_policy(sending, runtime_only=True)
    assert [s["Sid"] for s in runtime["Statement"]] == ["ObjectsReadWrite", "ObjectsList", "Queues", "SendMail"]


def test_ses_feedback_is_wired_and_the_sender_identity_notifies_it(
    aws_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RFQ_QUOTE_FROM", "quotes@acme.example")
    settings = Settings.from_env()
    report = bootstrap(settings)
    sqs, sns, sesv2 = (boto3_client(s, settings) for s in ("sqs", "sns", "sesv2"))
    topic = report.feedback_topic_arn
    assert topic is not None and topic.endswith(":rfq-pipeline-ses-feedback")
    assert report.status_of("sns topic", "rfq-pipeline-ses-feedback") == CREATED
    assert report.status_of("ses identity", "quotes@acme.example") == CREATED
    assert report.status_of("ses notifications", "quotes@acme.example -> rfq-pipeline-ses-feedback") == CREATED
    assert report.status_of("ses notifications", "acme.example -> rfq-pipeline-ses-feedback") == CREATED
    assert sesv2.get_email_identity(EmailIdentity="quotes@acme.example")["IdentityType"] == "EMAIL_ADDRESS"

    queue = SqsQueue.resolve(sqs, settings, naming.SES_FEEDBACK)
    assert queue.dead_letter_queue() is not None and queue.dead_letter_queue().name == "rfq-pipeline-ses-feedback-dlq"
    [statement] = json.loads(queue.attributes()["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": topic}}
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("sqs", queue.arn)

    again = bootstrap(settings)
    # moto does not report identity notification topics back, so only SES can say those are already set.
    unchanged = [i for i in again.items if i.kind != "ses notifications"]
    assert {i.status for i in unchanged} == {EXISTS}, [i.render() for i in unchanged if i.status != EXISTS]
    assert len(sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) == 1
