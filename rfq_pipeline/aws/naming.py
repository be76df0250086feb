"""Names of the AWS resources: buckets per object-store role, the logical queues and their DLQs, key prefixes.

Buckets: ``RFQ_S3_BUCKET_<ROLE>`` when set, else ``<RFQ_AWS_RESOURCE_PREFIX>-<role with '-'>``
(``rfq-pipeline-raw-mime``). Queues: ``RFQ_SQS_<QUEUE>_QUEUE`` (a name or a queue URL), else ``<prefix>-<logical>``;
each queue's dead-letter queue is ``<queue name>-dlq``.

Routing (what bootstrap wires up; the sensors read one queue each):

* SES receipt rule -> raw-MIME bucket under ``inbound/`` -> S3 ``ObjectCreated:*`` -> queue ``inbound-mail``
* uploads bucket under ``uploads/`` (presigned POSTs) -> S3 ``ObjectCreated:*`` -> queue ``uploads``
* uploads bucket under ``imports/`` (archives of past RFQs) -> S3 ``ObjectCreated:*`` -> queue ``uploads``
* anyone who wants a crawl -> queue ``scrape-requests`` (JSON bodies; no S3 events)
* SES bounce and complaint notifications of the sending identity (``RFQ_QUOTE_FROM``) -> SNS topic
  ``RFQ_SNS_SES_FEEDBACK_TOPIC`` (default ``<prefix>-ses-feedback``) -> queue ``ses-feedback`` (SNS envelopes)
"""

from __future__ import annotations

from rfq_pipeline.settings import BUCKET_ROLES, Settings, SettingsError

INBOUND_MAIL = "inbound-mail"
UPLOADS = "uploads"
SCRAPE_REQUESTS = "scrape-requests"
SES_FEEDBACK = "ses-feedback"
LOGICAL_QUEUES = (INBOUND_MAIL, UPLOADS, SCRAPE_REQUESTS, SES_FEEDBACK)

# Key prefixes inside the buckets that S3 notifies about.
INBOUND_MAIL_PREFIX = "inbound/"  # in the raw_mime bucket, written by the SES receipt rule
UPLOADS_PREFIX = "uploads/"  # in the uploads bucket, written by presigned POSTs
IMPORTS_PREFIX = "imports/"  # in the uploads bucket: archives of past RFQs, imports/<source>/<file>

# Which bucket role feeds which queue, under which prefix.
NOTIFICATION_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("raw_mime", INBOUND_MAIL_PREFIX, INBOUND_MAIL),
    ("uploads", UPLOADS_PREFIX, UPLOADS),
    ("uploads", IMPORTS_PREFIX, UPLOADS),
)

DLQ_SUFFIX = "-dlq"
MAX_RECEIVE_COUNT = 5
SES_RULE_NAME = "store-raw-mime"


def bucket_name(settings: Settings, role: str) -> str:
    """The bucket of an object-store role: the configured one, else ``<prefix>-<role>``."""
    configured = settings.bucket_for(role)  # validates the role
    return configured or f"{settings.aws_resource_prefix}-{role.replace('_', '-')}"


def bucket_names(settings: Settings) -> dict[str, str]:
    """Every role's bucket."""
    return {role: bucket_name(settings, role) for role in BUCKET_ROLES}


def queue_setting(settings: Settings, logical: str) -> str:
    """The configured name or URL of a logical queue (``inbound-mail``, ``uploads``, ``scrape-requests``,
    ``ses-feedback``)."""
    values = {
        INBOUND_MAIL: settings.sqs_inbound_mail_queue,
        UPLOADS: settings.sqs_uploads_queue,
        SCRAPE_REQUESTS: settings.sqs_scrape_requests_queue,
        SES_FEEDBACK: settings.sqs_ses_feedback_queue,
    }
    if logical not in values:
        raise SettingsError(f"unknown queue {logical!r}; expected one of {', '.join(LOGICAL_QUEUES)} or a queue URL")
    return values[logical]


def queue_name(settings: Settings, logical: str) -> str:
    """The SQS queue name of a logical queue (the last path segment when a URL is configured)."""
    return queue_setting(settings, logical).rstrip("/").rsplit("/", 1)[-1]


def dlq_name(queue: str) -> str:
    """The dead-letter queue name of a queue name (``.fifo`` queues keep their suffix last)."""
    if queue.endswith(".fifo"):
        return queue[: -len(".fifo")] + DLQ_SUFFIX + ".fifo"
    return queue + DLQ_SUFFIX


def is_queue_url(value: str) -> bool:
    """Whether ``value`` is a queue URL rather than a name."""
    return value.startswith(("http://", "https://"))


def feedback_topic_name(settings: Settings) -> str:
    """The SNS topic SES publishes bounces and complaints to (the last segment when an ARN is configured)."""
    return settings.sns_ses_feedback_topic.rsplit(":", 1)[-1]


def sender_identities(settings: Settings) -> tuple[str, ...]:
    """The SES identities mail is sent from: the ``RFQ_QUOTE_FROM`` address and its domain (none when unset).

    SES applies an address identity's notification topics before its domain's, so the address is what matters on
    real SES; the domain is there too because moto looks the topics up by the sender's domain only.
    """
    address = (settings.quote_from_address or "").strip()
    if not address:
        return ()
    return (address, address.rpartition("@")[2])
