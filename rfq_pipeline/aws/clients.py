"""The one place that builds boto3 clients.

Region and endpoint come from :class:`~rfq_pipeline.settings.Settings` (``AWS_REGION`` / ``AWS_DEFAULT_REGION``,
``AWS_ENDPOINT_URL``) unless a caller overrides them; credentials always come from boto3's own chain (environment,
IRSA web identity, instance profile, a named profile) and are never read, passed or logged here.
"""

from __future__ import annotations

from typing import Any

from rfq_pipeline.settings import Settings


def boto3_client(
    service: str,
    settings: Settings,
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    profile_name: str | None = None,
    max_attempts: int | None = None,
    use_ssl: bool = True,
    verify: bool | None = None,
) -> Any:
    """A boto3 client for ``service`` (``s3``, ``sqs``, ``ses``, ``sts``, ...).

    Explicit arguments win over the settings; ``max_attempts`` (the first call included, as in dagster-aws) switches
    botocore to its "standard" retry mode.
    """
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {}
    region = region_name or settings.aws_region
    if region:
        kwargs["region_name"] = region
    endpoint = endpoint_url or settings.aws_endpoint_url
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    if max_attempts is not None:
        kwargs["config"] = Config(retries={"total_max_attempts": max_attempts, "mode": "standard"})
    if not use_ssl:
        kwargs["use_ssl"] = False
    if verify is not None:
        kwargs["verify"] = verify
    session = boto3.session.Session(profile_name=profile_name) if profile_name else boto3.session.Session()
    return session.client(service, **kwargs)
