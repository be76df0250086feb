"""Create the project's AWS resources idempotently: ``rfq-pipeline aws bootstrap``.

What it makes (names from :mod:`rfq_pipeline.aws.naming`):

* the five buckets (``raw_pages``, ``raw_mime``, ``uploads``, ``exports``, ``quote_pdfs``): all public access blocked,
  SSE-S3 (AES256) default encryption, versioning left off (an existing bucket's versioning is reported, never
  changed);
* queues ``inbound-mail``, ``uploads`` and ``scrape-requests``, each with a ``-dlq`` dead-letter queue (14 days
  retention) and a redrive policy (``maxReceiveCount`` 5), SQS-managed encryption;
* queue policies letting S3 send from the raw-MIME bucket to ``inbound-mail`` and from the uploads bucket to
  ``uploads`` (this account only);
* S3 event notifications ``s3:ObjectCreated:*``: raw-MIME bucket, prefix ``inbound/`` -> ``inbound-mail``; uploads
  bucket, prefix ``uploads/`` -> ``uploads``. Two queues rather than one so that each sensor owns its queue;
* a bucket policy letting SES write to the raw-MIME bucket under ``inbound/`` (this account and rule only), and an SES
  receipt rule set with one rule storing inbound mail there, set active. SES allows one active rule set per account
  and region: when another one is active, bootstrap leaves it and reports it unless ``replace_active_rule_set``;
* outbound mail feedback: queue ``ses-feedback`` (with its DLQ, like the others), the SNS topic
  ``RFQ_SNS_SES_FEEDBACK_TOPIC``, a queue policy letting that topic send, and the topic's subscription of the queue;
  when ``RFQ_QUOTE_FROM`` is set, the SES email identity of that address (SES mails it a verification link) and its
  Bounce and Complaint notification topics. SES accepts topics only on a verified identity, so until the link is
  followed that item is ``skipped`` and a later run sets it. The topics are set on the address's domain identity as
  well when SES takes them there (moto looks them up by the sender's domain; on SES the address's own win), and a
  domain identity that already notifies another topic is left alone.

Run again, every item reports ``exists`` and nothing is written. Items that exist with other settings are brought in
line and reported ``updated`` (foreign statements in policies and foreign notification configurations are kept).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rfq_pipeline.aws import naming
from rfq_pipeline.aws.clients import boto3_client
from rfq_pipeline.settings import BUCKET_ROLES, Settings

CREATED, EXISTS, UPDATED, SKIPPED = "created", "exists", "updated", "skipped"
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
QUEUE_VISIBILITY_SECONDS = 120
SES_BUCKET_POLICY_SID = "AllowSesPutRawMime"


@dataclass(frozen=True)
class BootstrapItem:
    """One resource: what it is, its name, what bootstrap did, details."""

    kind: str
    name: str
    status: str
    detail: str = ""

    def render(self) -> str:
        """``created  bucket  name  (detail)``."""
        suffix = f"  ({self.detail})" if self.detail else ""
        return f"{self.status:<8} {self.kind:<20} {self.name}{suffix}"


@dataclass
class BootstrapReport:
    """Everything bootstrap found or made, in order."""

    items: list[BootstrapItem] = field(default_factory=list)
    buckets: dict[str, str] = field(default_factory=dict)  # role -> bucket
    queue_urls: dict[str, str] = field(default_factory=dict)  # logical -> URL
    dlq_urls: dict[str, str] = field(default_factory=dict)  # logical -> DLQ URL
    feedback_topic_arn: str | None = None
    notes: list[str] = field(default_factory=list)  # things worth knowing that are not a resource's status

    def add(self, kind: str, name: str, status: str, detail: str = "") -> None:
        """Record one item."""
        self.items.append(BootstrapItem(kind, name, status, detail))

    @property
    def changed(self) -> bool:
        """Whether anything was created or updated."""
        return any(i.status in (CREATED, UPDATED) for i in self.items)

    def status_of(self, kind: str, name: str) -> str:
        """The status of one item (``KeyError`` when bootstrap did not handle it)."""
        for item in self.items:
            if item.kind == kind and item.name == name:
                return item.status
        raise KeyError((kind, name))

    def render(self) -> str:
        """One line per item, then the variables that point the pipeline at these buckets."""
        lines = [item.render() for item in self.items]
        if self.notes:
            lines.append("")
            lines.extend(f"note: {note}" for note in self.notes)
        lines.append("")
        lines.append("environment for the pipeline:")
        lines.extend(f"  RFQ_S3_BUCKET_{role.upper()}={bucket}" for role, bucket in self.buckets.items())
        return "\n".join(lines)


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _bucket_exists(s3: Any, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if _error_code(exc) in {"404", "NoSuchBucket", "NotFound"}:
            return False
        raise
    return True


_PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
_SSE_S3 = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def _ensure_bucket(s3: Any, bucket: str, region: str | None, report: BootstrapReport) -> None:
    from botocore.exceptions import ClientError

    changes: list[str] = []
    created = False
    if not _bucket_exists(s3, bucket):
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)
        created = True

    try:
        current = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if _error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
            raise
        current = {}
    if any(current.get(k) is not True for k in _PUBLIC_ACCESS_BLOCK):
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=_PUBLIC_ACCESS_BLOCK)
        changes.append("public access blocked")

    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as exc:
        if _error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        rules = []
    if not any(r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules):
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=_SSE_S3)
        changes.append("SSE-S3 default encryption")

    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    notes = [f"versioning {versioning}, left as is"] if versioning == "Enabled" else []
    if created:
        report.add("bucket", bucket, CREATED, ", ".join(["public access blocked, SSE-S3, versioning off", *notes]))
    elif changes:
        report.add("bucket", bucket, UPDATED, ", ".join(changes + notes))
    else:
        report.add("bucket", bucket, EXISTS, ", ".join(notes))


def _queue_url(sqs: Any, name: str) -> str | None:
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return None


def _ensure_queue(
    sqs: Any, name: str, attributes: dict[str, str], kind: str, report: BootstrapReport
) -> tuple[str, str]:
    """Create the queue or bring ``attributes`` in line; returns (URL, ARN)."""
    url = _queue_url(sqs, name)
    if url is None:
        create_attributes = dict(attributes)
        if name.endswith(".fifo"):
            create_attributes["FifoQueue"] = "true"
        url = sqs.create_queue(QueueName=name, Attributes=create_attributes)["QueueUrl"]
        status = CREATED
        detail = ", ".join(f"{k}={v}" for k, v in attributes.items() if k != "RedrivePolicy")
    else:
        current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        drift = {k: v for k, v in attributes.items() if not _same_attribute(k, current.get(k), v)}
        if drift:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=drift)
            status, detail = UPDATED, "set " + ", ".join(sorted(drift))
        else:
            status, detail = EXISTS, ""
    if "RedrivePolicy" in attributes:
        redrive = json.loads(attributes["RedrivePolicy"])
        dlq = redrive["deadLetterTargetArn"].rsplit(":", 1)[-1]
        detail = ", ".join(filter(None, [detail, f"DLQ {dlq} after {redrive['maxReceiveCount']} receives"]))
    report.add(kind, name, status, detail)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _same_attribute(name: str, current: str | None, desired: str) -> bool:
    if current is None:
        return False
    if name in {"RedrivePolicy", "Policy"}:
        try:
            parsed = json.loads(current)
        except json.JSONDecodeError:
            return False
        wanted = json.loads(desired)
        if name == "RedrivePolicy":
            return str(parsed.get("deadLetterTargetArn")) == wanted["deadLetterTargetArn"] and int(
                parsed.get("maxReceiveCount", 0)
            ) == int(wanted["maxReceiveCount"])
        return parsed == wanted
    return str(current).lower() == str(desired).lower()


def _queue_policy(queue_arn: str, bucket: str, account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": f"{queue_arn}/s3-notifications",
            "Statement": [
                {
                    "Sid": "AllowS3Notifications",
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
                        "StringEquals": {"aws:SourceAccount": account},
                    },
                }
            ],
        },
        sort_keys=True,
    )


def _notification_id(settings: Settings, logical: str, prefix: str) -> str:
    # One configuration per prefix; the first route of a queue keeps the id it always had.
    first = next(p for _, p, q in naming.NOTIFICATION_ROUTES if q == logical)
    suffix = "" if prefix == first else "-" + prefix.strip("/")
    return f"{settings.aws_resource_prefix}-{logical}{suffix}"


def _normalized_queue_config(config: dict[str, Any]) -> tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]]:
    rules = config.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    return (
        config.get("QueueArn", ""),
        tuple(sorted(config.get("Events", []))),
        tuple(sorted((r["Name"].lower(), r["Value"]) for r in rules)),
    )


def _ensure_notification(
    s3: Any, bucket: str, config_id: str, queue_arn: str, prefix: str, report: BootstrapReport
) -> None:
    desired = {
        "Id": config_id,
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
    }
    current = s3.get_bucket_notification_configuration(Bucket=bucket)
    current.pop("ResponseMetadata", None)
    queues = current.get("QueueConfigurations", [])
    ours = [q for q in queues if q.get("Id") == config_id]
    name = f"{bucket}/{prefix}* -> {queue_arn.rsplit(':', 1)[-1]}"
    if len(ours) == 1 and _normalized_queue_config(ours[0]) == _normalized_queue_config(desired):
        report.add("s3 notification", name, EXISTS, "s3:ObjectCreated:*")
        return
    status = UPDATED if ours else CREATED
    current["QueueConfigurations"] = [q for q in queues if q.get("Id") != config_id] + [desired]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=current)
    report.add("s3 notification", name, status, "s3:ObjectCreated:*")


def _ensure_ses_bucket_policy(
    s3: Any, bucket: str, account: str, region: str, rule_set: str, report: BootstrapReport
) -> None:
    from botocore.exceptions import ClientError

    statement = {
        "Sid": SES_BUCKET_POLICY_SID,
        "Effect": "Allow",
        "Principal": {"Service": "ses.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/{naming.INBOUND_MAIL_PREFIX}*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {
                "aws:SourceArn": f"arn:aws:ses:{region}:{account}:receipt-rule-set/{rule_set}:receipt-rule/"
                f"{naming.SES_RULE_NAME}"
            },
        },
    }
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as exc:
        if _error_code(exc) != "NoSuchBucketPolicy":
            raise
        policy = None
    if policy is None:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
        report.add("bucket policy", bucket, CREATED, "SES may put inbound/*")
        return
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    existing = [s for s in statements if s.get("Sid") == SES_BUCKET_POLICY_SID]
    if existing == [statement]:
        report.add("bucket policy", bucket, EXISTS, "SES may put inbound/*")
        return
    policy["Statement"] = [s for s in statements if s.get("Sid") != SES_BUCKET_POLICY_SID] + [statement]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    report.add("bucket policy", bucket, UPDATED, "SES may put inbound/*")


def _ensure_queue_policy(sqs: Any, url: str, queue: str, policy: str, detail: str, report: BootstrapReport) -> None:
    """Set the queue's access policy to ``policy`` unless it already is that policy."""
    current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
    if _same_attribute("Policy", current.get("Policy"), policy):
        report.add("sqs queue policy", queue, EXISTS, detail)
        return
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    report.add("sqs queue policy", queue, UPDATED if current.get("Policy") else CREATED, detail)


def _feedback_queue_policy(queue_arn: str, topic_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": f"{queue_arn}/sns-ses-feedback",
            "Statement": [
                {
                    "Sid": "AllowSesFeedbackTopic",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        },
        sort_keys=True,
    )


def _ensure_feedback_topic(sns: Any, settings: Settings, report: BootstrapReport, region: str, account: str) -> str:
    """The SNS topic SES publishes bounces and complaints to; returns its ARN."""
    name = naming.feedback_topic_name(settings)
    arn = f"arn:aws:sns:{region}:{account}:{name}"
    try:
        sns.get_topic_attributes(TopicArn=arn)
    except sns.exceptions.NotFoundException:
        arn = sns.create_topic(Name=name)["TopicArn"]
        report.add("sns topic", name, CREATED, "SES bounces and complaints")
    else:
        report.add("sns topic", name, EXISTS, "SES bounces and complaints")
    return arn


def _ensure_subscription(sns: Any, topic_arn: str, queue_arn: str, queue: str, report: BootstrapReport) -> None:
    name = f"{topic_arn.rsplit(':', 1)[-1]} -> {queue}"
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for subscription in page.get("Subscriptions", []):
            if subscription.get("Protocol") == "sqs" and subscription.get("Endpoint") == queue_arn:
                report.add("sns subscription", name, EXISTS, "sqs, SNS envelope")
                return
    # No raw message delivery: the envelope keeps the notification's type and id next to the SES JSON.
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, ReturnSubscriptionArn=True)
    report.add("sns subscription", name, CREATED, "sqs, SNS envelope")


FEEDBACK_NOTIFICATION_TYPES = ("Bounce", "Complaint")


def _ensure_sending_identity(sesv2: Any, ses: Any, settings: Settings, topic_arn: str, report: BootstrapReport) -> None:
    """The SES identity of ``RFQ_QUOTE_FROM`` and its Bounce/Complaint topics (on the address, and its domain)."""
    from botocore.exceptions import ClientError

    address, domain = naming.sender_identities(settings)
    try:
        identity = sesv2.get_email_identity(EmailIdentity=address)
    except sesv2.exceptions.NotFoundException:
        sesv2.create_email_identity(EmailIdentity=address)
        report.add("ses identity", address, CREATED, "SES mails a verification link to the address; follow it")
    else:
        verified = identity.get("VerifiedForSendingStatus")
        report.add("ses identity", address, EXISTS, "" if verified else "not verified for sending yet")

    # One read for both: SES allows one notification call per second.
    attributes = ses.get_identity_notification_attributes(Identities=[address, domain])["NotificationAttributes"]
    for name in (address, domain):
        current = attributes.get(name, {})
        topics = {kind: current.get(f"{kind}Topic") for kind in FEEDBACK_NOTIFICATION_TYPES}
        item = f"{name} -> {topic_arn.rsplit(':', 1)[-1]}"
        if all(topic == topic_arn for topic in topics.values()):
            report.add("ses notifications", item, EXISTS, "Bounce, Complaint")
            continue
        foreign = {topic for topic in topics.values() if topic and topic != topic_arn}
        if name == domain and foreign:
            report.notes.append(
                f"domain identity {domain} notifies {', '.join(sorted(foreign))}; left as is (the topics of "
                f"{address} apply to its mail)"
            )
            continue
        try:
            for kind in FEEDBACK_NOTIFICATION_TYPES:
                ses.set_identity_notification_topic(Identity=name, NotificationType=kind, SnsTopic=topic_arn)
        except ClientError as exc:
            reason = f"{_error_code(exc)}: {getattr(exc, 'response', {}).get('Error', {}).get('Message', '')}"
            if name == domain:
                # Only a verified domain identity takes topics; without one the address's own topics do the work.
                report.notes.append(f"no notification topics on domain identity {domain} ({reason.strip(': ')})")
                continue
            report.add(
                "ses notifications",
                item,
                SKIPPED,
                f"SES refused ({reason.strip(': ')}); verify {address} and run bootstrap again",
            )
            continue
        report.add("ses notifications", item, UPDATED if any(topics.values()) else CREATED, "Bounce, Complaint")


def _ses_rule(settings: Settings, bucket: str) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "Name": naming.SES_RULE_NAME,
        "Enabled": True,
        "TlsPolicy": "Require",
        "ScanEnabled": True,
        "Actions": [{"S3Action": {"BucketName": bucket, "ObjectKeyPrefix": naming.INBOUND_MAIL_PREFIX}}],
    }
    if settings.ses_recipients:
        rule["Recipients"] = list(settings.ses_recipients)
    return rule


def _same_rule(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    def key(rule: dict[str, Any]) -> tuple[Any, ...]:
        actions = [a.get("S3Action", {}) for a in rule.get("Actions", [])]
        return (
            str(rule.get("Enabled")).lower(),
            tuple(sorted(rule.get("Recipients", []) or [])),
            tuple((a.get("BucketName"), a.get("ObjectKeyPrefix")) for a in actions),
        )

    return key(current) == key(desired)


def _ensure_ses(
    ses: Any, settings: Settings, bucket: str, report: BootstrapReport, replace_active_rule_set: bool
) -> None:
    rule_set = settings.ses_rule_set
    try:
        rules = ses.describe_receipt_rule_set(RuleSetName=rule_set).get("Rules", [])
        report.add("ses rule set", rule_set, EXISTS)
    except ses.exceptions.RuleSetDoesNotExistException:
        ses.create_receipt_rule_set(RuleSetName=rule_set)
        rules = []
        report.add("ses rule set", rule_set, CREATED)

    desired = _ses_rule(settings, bucket)
    rule_name = f"{rule_set}/{naming.SES_RULE_NAME}"
    current = next((r for r in rules if r.get("Name") == naming.SES_RULE_NAME), None)
    detail = f"store in s3://{bucket}/{naming.INBOUND_MAIL_PREFIX}"
    if current is None:
        ses.create_receipt_rule(RuleSetName=rule_set, Rule=desired)
        report.add("ses receipt rule", rule_name, CREATED, detail)
    elif not _same_rule(current, desired):
        ses.update_receipt_rule(RuleSetName=rule_set, Rule=desired)
        report.add("ses receipt rule", rule_name, UPDATED, detail)
    else:
        report.add("ses receipt rule", rule_name, EXISTS, detail)

    active = ses.describe_active_receipt_rule_set().get("Metadata", {}).get("Name")
    if active == rule_set:
        report.add("ses active rule set", rule_set, EXISTS)
    elif active and not replace_active_rule_set:
        report.add(
            "ses active rule set",
            rule_set,
            SKIPPED,
            f"{active!r} is active; re-run with --replace-active-rule-set to switch (one active set per region)",
        )
    else:
        ses.set_active_receipt_rule_set(RuleSetName=rule_set)
        report.add("ses active rule set", rule_set, CREATED if not active else UPDATED, f"was {active or 'none'}")


def bootstrap(
    settings: Settings,
    *,
    client_factory: Callable[[str], Any] | None = None,
    replace_active_rule_set: bool = False,
) -> BootstrapReport:
    """Create (or find) every resource; see the module docstring. Safe to run any number of times."""
    make = client_factory or (lambda service: boto3_client(service, settings))
    s3, sqs, ses, sts = make("s3"), make("sqs"), make("ses"), make("sts")
    region = sqs.meta.region_name
    account = sts.get_caller_identity()["Account"]
    report = BootstrapReport()

    for role in BUCKET_ROLES:
        bucket = naming.bucket_name(settings, role)
        report.buckets[role] = bucket
        _ensure_bucket(s3, bucket, region, report)

    arns: dict[str, str] = {}
    for logical in naming.LOGICAL_QUEUES:
        name = naming.queue_name(settings, logical)
        dlq_url, dlq_arn = _ensure_queue(
            sqs,
            naming.dlq_name(name),
            {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS), "SqsManagedSseEnabled": "true"},
            "sqs dlq",
            report,
        )
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": naming.MAX_RECEIVE_COUNT})
        attributes = {
            "RedrivePolicy": redrive,
            "VisibilityTimeout": str(QUEUE_VISIBILITY_SECONDS),
            "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
            "SqsManagedSseEnabled": "true",
        }
        url, arn = _ensure_queue(sqs, name, attributes, "sqs queue", report)
        report.queue_urls[logical], report.dlq_urls[logical], arns[logical] = url, dlq_url, arn

    allowed: set[tuple[str, str]] = set()
    for role, prefix, logical in naming.NOTIFICATION_ROUTES:
        bucket = report.buckets[role]
        if (bucket, logical) not in allowed:  # one policy per bucket and queue, whatever the prefixes
            allowed.add((bucket, logical))
            policy = _queue_policy(arns[logical], bucket, account)
            queue = naming.queue_name(settings, logical)
            _ensure_queue_policy(sqs, report.queue_urls[logical], queue, policy, f"s3 {bucket} may send", report)
        # S3 validates the destination (the queue policy) when the notification is configured: policy first.
        _ensure_notification(s3, bucket, _notification_id(settings, logical, prefix), arns[logical], prefix, report)

    raw_mime = report.buckets["raw_mime"]
    _ensure_ses_bucket_policy(s3, raw_mime, account, region, settings.ses_rule_set, report)
    _ensure_ses(ses, settings, raw_mime, report, replace_active_rule_set)

    sns = make("sns")
    topic_arn = _ensure_feedback_topic(sns, settings, report, region, account)
    report.feedback_topic_arn = topic_arn
    feedback_queue = naming.queue_name(settings, naming.SES_FEEDBACK)
    policy = _feedback_queue_policy(arns[naming.SES_FEEDBACK], topic_arn)
    _ensure_queue_policy(
        sqs, report.queue_urls[naming.SES_FEEDBACK], feedback_queue, policy, f"sns {topic_arn} may send", report
    )
    # The subscription after the policy: SNS delivers as soon as it exists.
    _ensure_subscription(sns, topic_arn, arns[naming.SES_FEEDBACK], feedback_queue, report)
    if settings.quote_from_address:
        _ensure_sending_identity(make("sesv2"), ses, settings, topic_arn, report)
    else:
        report.notes.append("RFQ_QUOTE_FROM is not set: no SES sending identity, quotes are not e-mailed")
    return report
