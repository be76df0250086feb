"""The source registry: every source module's ``SPEC``, resolved against the settings.

The Dagster layer turns each spec into its own partitioned asset; nothing here knows about Dagster. Adding a source
means adding its module (parser + ``SPEC``) to :data:`SOURCE_MODULES`.
"""

from __future__ import annotations

import email.utils
import importlib
from dataclasses import replace

from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.spec import SourceSpec

SOURCE_MODULES: tuple[str, ...] = (
    "rfq_pipeline.sources.go4worldbusiness",
    "rfq_pipeline.sources.alibaba_rfq",
    "rfq_pipeline.sources.tradekey",
    "rfq_pipeline.sources.ec21",
    "rfq_pipeline.sources.made_in_china",
    "rfq_pipeline.sources.tradeindia",
    "rfq_pipeline.sources.exportersindia",
    "rfq_pipeline.sources.globalsources",
    "rfq_pipeline.sources.us_fda",
    "rfq_pipeline.sources.bizmaps",
)


def _load() -> dict[str, SourceSpec]:
    specs: dict[str, SourceSpec] = {}
    for module_name in SOURCE_MODULES:
        spec: SourceSpec = importlib.import_module(module_name).SPEC
        if spec.name in specs:
            raise ValueError(f"two sources are named {spec.name!r}")
        specs[spec.name] = spec
    return specs


SOURCES: dict[str, SourceSpec] = _load()


def resolve(spec: SourceSpec, settings: Settings) -> SourceSpec:
    """Apply settings to a spec: base URL (override, simulator, or the real site) and per-source overrides.

    Against the simulator the request rate is multiplied (``RFQ_SIMULATOR_RATE_MULTIPLIER``) so local runs and
    tests are not paced like a real marketplace; an explicit per-source rate still wins.
    """
    override = settings.source_override(spec.name)
    rate = spec.rate_per_minute
    if override.base_url:
        base_url = override.base_url
    elif settings.simulator_url:
        base_url = f"{settings.simulator_url}/{spec.name}"
        rate = spec.rate_per_minute * settings.simulator_rate_multiplier
    else:
        base_url = spec.site_url
    enabled = spec.enabled if override.enabled is None else override.enabled
    return replace(
        spec,
        base_url=base_url.rstrip("/"),
        # A site whose terms forbid collection stays off whatever the settings say.
        enabled=enabled and spec.crawl_allowed,
        rate_per_minute=override.rate_per_minute or rate,
        max_pages=override.max_pages or spec.max_pages,
        listings=override.listings or spec.listings,
        impersonate=settings.http_impersonate or spec.impersonate,
    )


def resolved_sources(settings: Settings) -> list[SourceSpec]:
    """Every registered source with the settings applied."""
    return [resolve(spec, settings) for spec in SOURCES.values()]


def marketplace_for_sender(*senders: str | None) -> str | None:
    """The source whose notification mails come from one of ``senders`` (addresses, with or without a name).

    A sender matches a source when its domain is one of the source's ``mail_domains`` or a subdomain of one
    (``rfq@notice.globalsources.com``); the first sender that matches decides, so pass the forwarded-from address
    before the forwarding mailbox.
    """
    for sender in senders:
        address = email.utils.parseaddr(sender or "")[1].lower()
        domain = address.rpartition("@")[2].strip(".")
        if not domain:
            continue
        for spec in SOURCES.values():
            if any(domain == known or domain.endswith("." + known) for known in spec.mail_domains):
                return spec.name
    return None
