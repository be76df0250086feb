from __future__ import annotations

import pytest

from rfq_pipeline.aws import naming
from rfq_pipeline.aws.clients import boto3_client
from rfq_pipeline.settings import Settings, SettingsError
from rfq_pipeline.store.object_store import S3ObjectStore, object_store_for
from rfq_pipeline_tests.aws.conftest import BUCKETS


def test_clients_take_region_and_endpoint_from_settings_unless_overridden(aws_env: Settings) -> None:
    for service in ("s3", "sqs", "ses", "sts"):
        client = boto3_client(service, aws_env)
        assert client.meta.endpoint_url == aws_env.aws_endpoint_url
        assert client.meta.region_name == "us-east-1"
    other = boto3_client("sqs", aws_env, region_name="eu-west-1", endpoint_url="http://127.0.0.1:9", max_attempts=2)
    assert (other.meta.region_name, other.meta.endpoint_url) == ("eu-west-1", "http://127.0.0.1:9")
    assert other.meta.config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert "testing" not in repr(other.meta.config)  # credentials stay in the chain, not in the client config


def test_the_object_store_uses_the_shared_client(aws_env: Settings) -> None:
    store = object_store_for("raw_mime", aws_env)
    assert isinstance(store, S3ObjectStore) and store.bucket == BUCKETS["raw_mime"]
    store._client.create_bucket(Bucket=store.bucket)
    store.put("inbound/a.eml", b"mail")
    assert store.get("inbound/a.eml") == b"mail"


def test_resource_names_and_their_settings() -> None:
    settings = Settings.from_env({"RFQ_DATA_DIR": "/tmp/rfq-unused"})
    assert naming.bucket_name(settings, "raw_mime") == "rfq-pipeline-raw-mime"
    assert naming.queue_name(settings, "inbound-mail") == "rfq-pipeline-inbound-mail"
    assert settings.ses_rule_set == "rfq-pipeline-inbound" and settings.ses_recipients == ()

    custom = Settings.from_env(
        {
            "RFQ_AWS_RESOURCE_PREFIX": "acme-prod",
            "RFQ_S3_BUCKET_UPLOADS": "acme-uploads",
            "RFQ_SQS_SCRAPE_REQUESTS_QUEUE": "https://sqs.eu-west-1.amazonaws.com/123456789012/crawl-me",
            "RFQ_SES_RECIPIENTS": "rfq@acme.example, quotes@acme.example",
        }
    )
    assert naming.bucket_name(custom, "uploads") == "acme-uploads"
    assert naming.bucket_name(custom, "quote_pdfs") == "acme-prod-quote-pdfs"
    assert custom.sqs_inbound_mail_queue == "acme-prod-inbound-mail"
    assert naming.queue_name(custom, "scrape-requests") == "crawl-me"
    assert naming.dlq_name("crawl-me") == "crawl-me-dlq" and naming.dlq_name("a.fifo") == "a-dlq.fifo"
    assert custom.ses_rule_set == "acme-prod-inbound"
    assert custom.ses_recipients == ("rfq@acme.example", "quotes@acme.example")
    with pytest.raises(SettingsError, match="RFQ_AWS_RESOURCE_PREFIX"):
        Settings.from_env({"RFQ_AWS_RESOURCE_PREFIX": "bad_prefix!"})
    with pytest.raises(SettingsError, match="unknown queue"):
        naming.queue_setting(custom, "nope")
