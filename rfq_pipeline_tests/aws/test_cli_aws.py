from __future__ import annotations

import base64
import json

import pytest
import requests

from rfq_pipeline.aws.clients import boto3_client
from rfq_pipeline.aws.sqs import REDRIVE_REASON, SqsQueue, parse_s3_notification
from rfq_pipeline.cli import main
from rfq_pipeline.settings import Settings
from rfq_pipeline_tests.aws.conftest import BUCKETS


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_aws_bootstrap_prints_what_it_created_then_what_it_found(aws_env: Settings, capsys) -> None:
    code, out, _ = _run(capsys, "aws", "bootstrap")
    assert code == 0
    assert "created  bucket               t-raw-mime" in out
    assert "created  sqs queue            rfq-pipeline-inbound-mail" in out
    assert "created  ses receipt rule     rfq-pipeline-inbound/store-raw-mime" in out
    assert "RFQ_S3_BUCKET_UPLOADS=t-uploads" in out
    assert "note: RFQ_QUOTE_FROM is not set" in out

    code, again, _ = _run(capsys, "aws", "bootstrap")
    lines = [line for line in again.splitlines() if line and not line.startswith(("environment", "  RFQ_", "note:"))]
    assert code == 0 and len(lines) == len([x for x in out.splitlines() if x.startswith("created")])
    assert all(line.startswith("exists ") for line in lines)


def test_aws_bootstrap_fails_when_it_could_not_activate_the_rule_set(aws_env: Settings, capsys) -> None:
    ses = boto3_client("ses", aws_env)
    ses.create_receipt_rule_set(RuleSetName="existing-mail")
    ses.set_active_receipt_rule_set(RuleSetName="existing-mail")
    code, out, _ = _run(capsys, "aws", "bootstrap")
    assert code == 1 and "skipped  ses active rule set" in out and "--replace-active-rule-set" in out
    code, out, _ = _run(capsys, "aws", "bootstrap", "--replace-active-rule-set")
    assert code == 0 and "updated  ses active rule set  rfq-pipeline-inbound  (was existing-mail)" in out


def test_aws_iam_policy(aws_env: Settings, capsys) -> None:
    code, out, _ = _run(capsys, "aws", "iam-policy")
    policy = json.loads(out)
    assert code == 0 and policy["Version"] == "2012-10-17"
    assert "BootstrapSes" in {s["Sid"] for s in policy["Statement"]}
    code, out, _ = _run(capsys, "aws", "iam-policy", "--runtime-only")
    assert "BootstrapSes" not in {s["Sid"] for s in json.loads(out)["Statement"]}
    code, out, _ = _run(capsys, "aws", "iam-policy", "--notes")
    assert out.startswith("# IAM for rfq-pipeline")


def test_dlq_list_and_replay(aws_env: Settings, capsys) -> None:
    _run(capsys, "aws", "bootstrap")
    queue = SqsQueue.resolve(boto3_client("sqs", aws_env), aws_env, "scrape-requests")
    body = json.dumps({"source": "tradekey", "note": "x" * 400})
    sent = queue.send(body)
    for _ in range(5):
        assert queue.receive(wait_seconds=1, visibility_timeout=0)
    assert queue.receive(wait_seconds=1, visibility_timeout=0) == []

    code, out, err = _run(capsys, "dlq", "list", "scrape-requests")
    [line] = out.splitlines()
    listed = json.loads(line)
    assert code == 0 and "1 dead-lettered message(s)" in err
    assert listed["id"] == sent and listed["reason"] == REDRIVE_REASON
    assert listed["body"] == body[:200] and listed["receive_count"] >= 5

    code, out, _ = _run(capsys, "dlq", "list", queue.url)  # a URL works as well as the logical name
    assert json.loads(out)["id"] == sent

    code, out, err = _run(capsys, "dlq", "replay", "scrape-requests", "--max", "5")
    assert code == 0 and out.startswith(f"replayed {sent} -> ") and "1 message(s) moved back" in err
    [back] = queue.receive(wait_seconds=1)
    assert back.body == body
    code, out, _ = _run(capsys, "dlq", "list", "scrape-requests")
    assert out == ""

    code, _, err = _run(capsys, "dlq", "list", "no-such-queue")
    assert code == 2 and "does not exist" in err


def _policy(fields: dict[str, str]) -> dict:
    return json.loads(base64.b64decode(fields["policy"]))


def test_uploads_presign_post_within_the_limits_is_stored_and_notified(aws_env: Settings, capsys) -> None:
    _run(capsys, "aws", "bootstrap")
    code, out, _ = _run(capsys, "uploads", "presign", "price list+2026.pdf", "--max-bytes", "1000", "--expires", "600")
    presigned = json.loads(out)
    assert code == 0
    assert presigned["key"] == "uploads/price list+2026.pdf"
    assert presigned["bucket"] == BUCKETS["uploads"]
    assert presigned["content_type"] == "application/pdf"
    fields = presigned["fields"]
    assert fields["key"] == "uploads/price list+2026.pdf" and fields["Content-Type"] == "application/pdf"

    # moto does not enforce POST policy conditions, so the conditions S3 would enforce are checked here.
    conditions = _policy(fields)["conditions"]
    assert ["content-length-range", 1, 1000] in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert {"bucket": BUCKETS["uploads"]} in conditions
    assert {"key": "uploads/price list+2026.pdf"} in conditions

    uploads = SqsQueue.resolve(boto3_client("sqs", aws_env), aws_env, "uploads")
    while batch := uploads.receive(wait_seconds=1):  # drop the s3:TestEvent
        for message in batch:
            uploads.delete(message)

    content = b"%PDF-1.7 price list"
    response = requests.post(
        presigned["url"],
        data=fields,
        files={"file": ("price list+2026.pdf", content, "application/pdf")},
        timeout=10,
    )
    assert response.status_code == 204, response.text
    s3 = boto3_client("s3", aws_env)
    assert s3.get_object(Bucket=BUCKETS["uploads"], Key="uploads/price list+2026.pdf")["Body"].read() == content

    [message] = uploads.receive(wait_seconds=2)
    [event] = parse_s3_notification(message.body).records
    assert (event.bucket, event.key) == (BUCKETS["uploads"], "uploads/price list+2026.pdf")


def test_uploads_presign_defaults_and_refusals(aws_env: Settings, capsys) -> None:
    code, out, _ = _run(capsys, "uploads", "presign", "uploads/rfq.csv", "--content-type", "text/csv")
    presigned = json.loads(out)
    assert presigned["key"] == "uploads/rfq.csv"  # already under the prefix: kept
    assert ["content-length-range", 1, 26214400] in _policy(presigned["fields"])["conditions"]
    assert {"Content-Type": "text/csv"} in _policy(presigned["fields"])["conditions"]

    code, out, _ = _run(capsys, "uploads", "presign", "blob")
    assert json.loads(out)["content_type"] == "application/octet-stream"

    for bad in ("../etc/passwd", "uploads/", ""):
        code, _, err = _run(capsys, "uploads", "presign", bad)
        assert code == 2 and "invalid upload key" in err
    code, _, err = _run(capsys, "uploads", "presign", "a.pdf", "--expires", "0")
    assert code == 2 and "expiry" in err
