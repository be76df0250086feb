"""The IAM permissions the project needs, as a policy document: ``rfq-pipeline aws iam-policy``.

:data:`IAM_NOTES` (markdown, printed by ``rfq-pipeline aws iam-policy --notes``) explains the statements.
"""

from __future__ import annotations

from typing import Any

from rfq_pipeline.aws import naming
from rfq_pipeline.settings import BUCKET_ROLES, Settings

IAM_NOTES = """\
# IAM for rfq-pipeline

Two kinds of principal need permissions; `rfq-pipeline aws iam-policy` prints one JSON policy with a statement per
purpose (Sid), scoped to the configured bucket, queue and rule-set names:

* **Runtime** (the Dagster code location, sensors, `dlq`, `uploads presign`): `Objects*` (get/put/list in the five
  buckets), `Queues` (receive, delete, change visibility, send, read attributes on the queues and their DLQs, the
  `ses-feedback` queue included), and, when `RFQ_QUOTE_FROM` is set, `SendMail` (`ses:SendEmail` and
  `ses:SendRawEmail` on that address's identity and its domain's: SES checks the identity the mail is sent from).
  A presigned POST is signed with the runtime's credentials, so `s3:PutObject` on `uploads/*` must be granted to
  whoever signs (it is part of `ObjectsReadWrite`). `--runtime-only` prints just these statements.
* **Bootstrap** (an operator or the deploy pipeline, once per environment): `BootstrapBuckets`, `BootstrapQueues`,
  `BootstrapSes`, `BootstrapFeedbackTopic` (the SNS topic and its subscription) and, with `RFQ_QUOTE_FROM`,
  `BootstrapSesIdentity` (create the sending identity, point its bounces and complaints at the topic). SES
  receipt-rule actions and `GetIdentityNotificationAttributes` do not support resource-level permissions, hence
  `"Resource": "*"`.

What the policy does not need: no KMS permissions (buckets use SSE-S3, queues SQS-managed SSE); no `iam:PassRole`
(SES writes to S3 through the bucket policy bootstrap sets, S3 sends to SQS through the queue policies it sets).
`sts:GetCallerIdentity` (bootstrap reads the account id) needs no permission. Credentials come from boto3's chain
(IRSA / instance profile in production); never put keys in this project's files.

Service principals are granted by resource policies that bootstrap writes and that are limited to this account
(`aws:SourceAccount`) and the exact source (`aws:SourceArn`): `s3.amazonaws.com` may `sqs:SendMessage` to
`inbound-mail` from the raw-MIME bucket and to `uploads` from the uploads bucket; `ses.amazonaws.com` may
`s3:PutObject` into the raw-MIME bucket under `inbound/` from the one receipt rule; `sns.amazonaws.com` may
`sqs:SendMessage` to `ses-feedback` from the feedback topic only (`aws:SourceArn`).
"""


def _queue_arns(settings: Settings, region: str) -> list[str]:
    arns = []
    for logical in naming.LOGICAL_QUEUES:
        name = naming.queue_name(settings, logical)
        arns += [f"arn:aws:sqs:{region}:*:{name}", f"arn:aws:sqs:{region}:*:{naming.dlq_name(name)}"]
    return arns


def _identity_arns(settings: Settings, region: str) -> list[str]:
    return [f"arn:aws:ses:{region}:*:identity/{identity}" for identity in naming.sender_identities(settings)]


def iam_policy(settings: Settings, *, runtime_only: bool = False) -> dict[str, Any]:
    """The policy document (``Version`` 2012-10-17) for the configured names."""
    region = settings.aws_region or "*"
    buckets = [naming.bucket_name(settings, role) for role in BUCKET_ROLES]
    bucket_arns = [f"arn:aws:s3:::{b}" for b in buckets]
    queue_arns = _queue_arns(settings, region)
    identity_arns = _identity_arns(settings, region)
    topic_arn = f"arn:aws:sns:{region}:*:{naming.feedback_topic_name(settings)}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ObjectsReadWrite",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [f"{arn}/*" for arn in bucket_arns],
        },
        {
            "Sid": "ObjectsList",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": bucket_arns,
        },
        {
            "Sid": "Queues",
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:SendMessage",
                "sqs:GetQueueUrl",
                "sqs:GetQueueAttributes",
                "sqs:ListDeadLetterSourceQueues",
            ],
            "Resource": queue_arns,
        },
    ]
    if identity_arns:
        statements.append(
            {
                "Sid": "SendMail",
                "Effect": "Allow",
                "Action": ["ses:SendEmail", "ses:SendRawEmail"],
                "Resource": identity_arns,
            }
        )
    if not runtime_only:
        statements += [
            {
                "Sid": "BootstrapBuckets",
                "Effect": "Allow",
                "Action": [
                    "s3:CreateBucket",
                    "s3:ListBucket",
                    "s3:GetBucketPublicAccessBlock",
                    "s3:PutBucketPublicAccessBlock",
                    "s3:GetEncryptionConfiguration",
                    "s3:PutEncryptionConfiguration",
                    "s3:GetBucketVersioning",
                    "s3:GetBucketNotification",
                    "s3:PutBucketNotification",
                    "s3:GetBucketPolicy",
                    "s3:PutBucketPolicy",
                ],
                "Resource": bucket_arns,
            },
            {
                "Sid": "BootstrapQueues",
                "Effect": "Allow",
                "Action": ["sqs:CreateQueue", "sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes"],
                "Resource": queue_arns,
            },
            {
                "Sid": "BootstrapSes",
                "Effect": "Allow",
                "Action": [
                    "ses:CreateReceiptRuleSet",
                    "ses:DescribeReceiptRuleSet",
                    "ses:CreateReceiptRule",
                    "ses:UpdateReceiptRule",
                    "ses:DescribeActiveReceiptRuleSet",
                    "ses:SetActiveReceiptRuleSet",
                    "ses:GetIdentityNotificationAttributes",
                ],
                "Resource": "*",
            },
            {
                "Sid": "BootstrapFeedbackTopic",
                "Effect": "Allow",
                "Action": [
                    "sns:CreateTopic",
                    "sns:GetTopicAttributes",
                    "sns:ListSubscriptionsByTopic",
                    "sns:Subscribe",
                ],
                "Resource": [topic_arn],
            },
        ]
        if identity_arns:
            statements.append(
                {
                    "Sid": "BootstrapSesIdentity",
                    "Effect": "Allow",
                    "Action": ["ses:CreateEmailIdentity", "ses:GetEmailIdentity", "ses:SetIdentityNotificationTopic"],
                    "Resource": identity_arns,
                }
            )
    return {"Version": "2012-10-17", "Statement": statements}
