"""A local AWS for ``make run`` and tests: a moto server over HTTP on loopback, bootstrapped like a real account.

``make run`` uses it to show every kind of intake with no account: sample e-mails are written to the raw-MIME bucket
the way SES's receipt rule writes them, a document is uploaded, a scrape request is queued, and the same sensors
that run in production turn them into runs. Outbound mail works too: ``RFQ_QUOTE_FROM`` and ``RFQ_INTAKE_ADDRESS``
get example addresses when unset, bootstrap makes the sending identity, and :func:`sent_mail` reads back what moto
"sent".
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SAMPLE_MAIL_DIR = Path(__file__).resolve().parent / "corpus" / "mail"
SAMPLE_UPLOAD_DIR = Path(__file__).resolve().parent / "corpus" / "uploads"

_ENV_KEYS = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "RFQ_S3_BUCKET_RAW_MIME",
    "RFQ_S3_BUCKET_UPLOADS",
    "RFQ_QUOTE_FROM",
    "RFQ_INTAKE_ADDRESS",
)
# Outbound mail for `make run` / `make ui` when nothing else is configured (example.com never receives anything).
LOCAL_QUOTE_FROM = "quotes@example.com"
LOCAL_INTAKE_ADDRESS = "rfq@example.com"
MAIL_HEADERS = ("From", "To", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References")


@dataclass
class LocalAws:
    """A running moto server and the environment that points boto3 at it."""

    endpoint_url: str
    server: Any = field(repr=False)

    def stop(self) -> None:
        """Stop the server."""
        self.server.stop()


def scan_before_giving_up() -> None:
    """Make moto's SQS long poll look at the queue at least once, as SQS does.

    moto computes the poll's deadline before its first scan and checks it first, so a server thread delayed past
    the wait (a busy machine) answers "no messages" for a queue that holds some, and a sensor takes the queue for
    empty. An empty long poll is followed by one immediate scan. Idempotent: patched once per process.
    """
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message
    if getattr(original, "_scans_once", False):
        return

    def receive_message(
        self: SQSBackend, queue_name: str, count: int, wait_seconds_timeout: int, *args: Any, **kwargs: Any
    ):
        messages = original(self, queue_name, count, wait_seconds_timeout, *args, **kwargs)
        if messages or not wait_seconds_timeout:
            return messages
        return original(self, queue_name, count, 0, *args, **kwargs)

    receive_message._scans_once = True  # type: ignore[attr-defined]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]


@contextmanager
def local_aws(*, bootstrap: bool = True) -> Iterator[LocalAws]:
    """Start moto on a free loopback port, point the environment at it, bootstrap it; restore everything after.

    Only the raw-MIME and uploads roles move to S3; pages, exports and PDFs stay in the local directory. The quote
    sender and the intake address default to example addresses so quotes can be e-mailed (into moto).
    """
    from moto.server import ThreadedMotoServer

    from rfq_pipeline.aws.naming import bucket_name
    from rfq_pipeline.settings import Settings

    # The server's request log would bury the run summary.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    scan_before_giving_up()
    saved = {key: os.environ.get(key) for key in _ENV_KEYS}
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    handle = LocalAws(endpoint_url=f"http://{host}:{port}", server=server)
    # moto keeps its state per process, not per server: start from an empty account every time.
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{handle.endpoint_url}/moto-api/reset", method="POST"), timeout=10)
    try:
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": handle.endpoint_url,
                "AWS_ACCESS_KEY_ID": "testing",  # moto accepts any credentials; nothing real is ever used here
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
            }
        )
        settings = Settings.from_env()
        os.environ["RFQ_S3_BUCKET_RAW_MIME"] = bucket_name(settings, "raw_mime")
        os.environ["RFQ_S3_BUCKET_UPLOADS"] = bucket_name(settings, "uploads")
        os.environ.setdefault("RFQ_QUOTE_FROM", LOCAL_QUOTE_FROM)
        os.environ.setdefault("RFQ_INTAKE_ADDRESS", LOCAL_INTAKE_ADDRESS)
        if bootstrap:
            from rfq_pipeline.aws.bootstrap import bootstrap as run_bootstrap

            run_bootstrap(Settings.from_env())
        yield handle
    finally:
        handle.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def deliver_mail(paths: list[Path] | None = None) -> list[str]:
    """Write raw MIME files into the raw-MIME bucket under ``inbound/``, as SES's receipt rule does."""
    chosen = paths if paths is not None else sorted(SAMPLE_MAIL_DIR.glob("*.eml"))
    return [deliver_raw_mail(path.read_bytes(), path.stem) for path in chosen]


def deliver_raw_mail(raw: bytes, name: str) -> str:
    """Write one raw MIME message into the raw-MIME bucket as ``inbound/<name>``; returns the key."""
    from rfq_pipeline.aws.clients import boto3_client
    from rfq_pipeline.aws.naming import INBOUND_MAIL_PREFIX, bucket_name
    from rfq_pipeline.settings import Settings

    settings = Settings.from_env()
    key = f"{INBOUND_MAIL_PREFIX}{name}"
    boto3_client("s3", settings).put_object(Bucket=bucket_name(settings, "raw_mime"), Key=key, Body=raw)
    return key


def buyer_reply(mail: dict[str, Any], text: str) -> bytes:
    """The buyer's answer to a mail the local SES accepted (an entry of :func:`sent_mail`): from its recipient to its
    Reply-To, in its thread, quoting nothing (mail clients' quoting is the MIME parser's business, tested there)."""
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    headers = mail["headers"]
    reply = EmailMessage()
    reply["From"] = headers["To"]
    reply["To"] = headers.get("Reply-To") or headers["From"]
    subject = headers.get("Subject") or ""
    reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    reply["Date"] = format_datetime(datetime.now(UTC))
    domain = str(headers["To"]).rpartition("@")[2].strip("> ") or "buyer.example"
    reply["Message-ID"] = make_msgid(domain=domain)
    reply["In-Reply-To"] = headers["Message-ID"]
    reply["References"] = " ".join(part for part in (headers.get("References"), headers["Message-ID"]) if part)
    reply.set_content(text)
    return reply.as_bytes()


def upload_documents(paths: list[Path] | None = None) -> list[str]:
    """Put documents under the uploads prefix, as a buyer's presigned POST does."""
    from rfq_pipeline.aws.clients import boto3_client
    from rfq_pipeline.aws.naming import UPLOADS_PREFIX, bucket_name
    from rfq_pipeline.settings import Settings

    settings = Settings.from_env()
    s3 = boto3_client("s3", settings)
    bucket = bucket_name(settings, "uploads")
    keys = []
    for path in paths if paths is not None else sorted(p for p in SAMPLE_UPLOAD_DIR.glob("*") if p.suffix != ".md"):
        key = f"{UPLOADS_PREFIX}{path.name}"
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        keys.append(key)
    return keys


def request_scrape(source: str, day: str, reason: str) -> str:
    """Queue a scrape request as an operator would."""
    import json

    from rfq_pipeline.aws.clients import boto3_client
    from rfq_pipeline.aws.naming import SCRAPE_REQUESTS
    from rfq_pipeline.aws.sqs import SqsQueue
    from rfq_pipeline.settings import Settings

    settings = Settings.from_env()
    queue = SqsQueue.resolve(boto3_client("sqs", settings), settings, SCRAPE_REQUESTS)
    return queue.send(json.dumps({"source": source, "date": day, "reason": reason}))


def _mail_entry(instance: dict[str, Any]) -> dict[str, Any]:
    """One message moto recorded: raw MIME parsed into headers, attachments and text; a simple one as it came."""
    import email
    import email.policy

    entry: dict[str, Any] = {
        "id": instance.get("id"),
        "source": instance.get("source"),
        "destinations": instance.get("destinations"),
    }
    raw = instance.get("raw_data")
    if raw is None:  # SendEmail with Simple content: moto keeps subject and body, no MIME
        entry.update(headers={"Subject": instance.get("subject")}, attachments=[], text=instance.get("body") or "")
        return entry
    message = email.message_from_string(raw, policy=email.policy.default)
    entry["headers"] = {name: str(message[name]) if message[name] is not None else None for name in MAIL_HEADERS}
    entry["attachments"] = [
        {
            "name": part.get_filename(),
            "content_type": part.get_content_type(),
            "size": len(part.get_payload(decode=True) or b""),
        }
        for part in message.iter_attachments()
    ]
    body = message.get_body(preferencelist=("plain",))
    entry["text"] = body.get_content() if body is not None else ""
    entry["raw"] = raw
    return entry


def sent_mail(endpoint_url: str | None = None) -> list[dict[str, Any]]:
    """Every message the moto server at ``endpoint_url`` (default ``AWS_ENDPOINT_URL``) accepted through SES, oldest
    first, read over HTTP from its ``/moto-api/data.json``.

    Each is ``{"id", "source", "destinations", "headers": {From, To, Reply-To, Subject, Date, Message-ID,
    In-Reply-To, References}, "attachments": [{"name", "content_type", "size"}], "text", "raw"}`` (simple
    messages have only the Subject header and no ``raw``).
    """
    import json
    import urllib.request

    endpoint = (endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "").rstrip("/")
    if not endpoint:
        raise ValueError("no moto endpoint: pass endpoint_url or set AWS_ENDPOINT_URL")
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=30) as response:
        data = json.load(response)
    ses = data.get("ses", {})
    # Raw messages first, then simple ones; moto keeps no timestamp, so within each kind the order is moto's.
    return [_mail_entry(i) for i in ses.get("RawMessage", [])] + [_mail_entry(i) for i in ses.get("Message", [])]
