"""The source registry: one typed spec per marketplace or loader, resolved against the settings.

A spec says where a source lives, how to walk its listings, how to parse what comes back and how politely to ask.
The Dagster layer turns each spec into its own partitioned asset; nothing here knows about Dagster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from rfq_pipeline.settings import Settings
from rfq_pipeline.sources import alibaba_rfq, go4worldbusiness
from rfq_pipeline.sources.model import ListPage, ParsedRfq

ListParser = Callable[..., ListPage]  # (html: str, *, fetched_at: datetime) -> ListPage
DetailParser = Callable[[str, ParsedRfq], ParsedRfq]


@dataclass(frozen=True)
class SourceSpec:
    """Everything the pipeline needs to know about one source."""

    name: str
    kind: Literal["marketplace", "loader"]
    site_url: str  # the public site; fetches go here unless a base-URL override or the simulator says otherwise
    listings: tuple[str, ...]  # listing paths relative to the base URL, each with a ``{page}`` placeholder
    detail_pattern: str  # how the site's detail URLs look, for people reading the registry
    parse_list: ListParser
    parse_detail: DetailParser | None
    cadence: str  # cron expression of the source's schedule (UTC)
    rate_per_minute: float  # token-bucket refill rate
    burst: int  # token-bucket capacity
    impersonate: str  # curl_cffi browser profile
    max_pages: int  # safety cap per listing and partition
    respect_robots: bool
    description: str
    enabled: bool = True
    base_url: str = ""  # resolved at run time, see :func:`resolve`

    def list_url(self, listing: str, page: int) -> str:
        """Absolute URL of page ``page`` (1-based) of ``listing``."""
        return self.base_url + listing.format(page=page)

    def absolute(self, path: str) -> str:
        """Absolute URL of a path found on a page (detail links are site-relative)."""
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url + (path if path.startswith("/") else "/" + path)


GO4WORLDBUSINESS = SourceSpec(
    name="go4worldbusiness",
    kind="marketplace",
    site_url="https://www.go4worldbusiness.com",
    # Category listings are the stable way in; which categories to watch is a setting (RFQ_SOURCE_..._LISTINGS).
    listings=tuple(
        f"/buyers/{category}?region=worldwide&pg_buyers={{page}}"
        for category in (
            "Food-Flavors",
            "Float-Glass",
            "Frozen-Watermelon",
            "Peppermint",
            "Fresh-Clams",
            "Coconut-Milk",
        )
    ),
    detail_pattern="/buylead/view/<id>/wanted-:-<slug>.html",
    parse_list=go4worldbusiness.parse_list,
    parse_detail=go4worldbusiness.parse_detail,
    cadence="0 */3 * * *",
    rate_per_minute=20.0,
    burst=5,
    impersonate="chrome",
    max_pages=30,
    respect_robots=True,
    description="go4WorldBusiness buy leads: templated requests with quantity, shipping terms and destination port.",
)

ALIBABA_RFQ = SourceSpec(
    name="alibaba_rfq",
    kind="marketplace",
    site_url="https://sourcing.alibaba.com",
    listings=("/rfq/rfq_search_list.htm?country=AE&recently=Y&page={page}",),
    detail_pattern="/rfq_detail.htm?p=<encrypted id>",
    parse_list=alibaba_rfq.parse_list,
    parse_detail=None,  # the list records carry everything the detail page shows without a login
    cadence="0 */2 * * *",
    rate_per_minute=12.0,
    burst=3,
    impersonate="chrome",
    max_pages=100,  # the board shows at most 100 pages
    respect_robots=True,
    description="Alibaba.com RFQ board (Most Recent): buyer requests with quantity, country and quotes left.",
)

SOURCES: dict[str, SourceSpec] = {spec.name: spec for spec in (GO4WORLDBUSINESS, ALIBABA_RFQ)}


def resolve(spec: SourceSpec, settings: Settings) -> SourceSpec:
    """Apply settings to a spec: base URL (override, simulator, or the real site) and per-source overrides."""
    override = settings.source_override(spec.name)
    if override.base_url:
        base_url = override.base_url
    elif settings.simulator_url:
        base_url = f"{settings.simulator_url}/{spec.name}"
    else:
        base_url = spec.site_url
    return replace(
        spec,
        base_url=base_url.rstrip("/"),
        enabled=spec.enabled if override.enabled is None else override.enabled,
        rate_per_minute=override.rate_per_minute or spec.rate_per_minute,
        max_pages=override.max_pages or spec.max_pages,
        listings=override.listings or spec.listings,
    )


def resolved_sources(settings: Settings) -> list[SourceSpec]:
    """Every registered source with the settings applied."""
    return [resolve(spec, settings) for spec in SOURCES.values()]


def posted_in_window(entry: ParsedRfq, start: datetime, end: datetime) -> bool:
    """Whether an entry belongs to the posting-date window ``[start, end)``; undated entries always do."""
    return entry.posted_at is None or start <= entry.posted_at < end
