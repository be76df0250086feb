"""How far back a source's listings reach, and what a crawl of a range of days covered, day by day.

A listing shows a bounded history: Alibaba's RFQ board stops at 100 pages, a keyword list at its last page. The
oldest posting day a listing showed when it was read to its end (or to the page cap) is its reach. A day older than
the reach of every listing of the source cannot be collected: it is reported as out of reach and costs no request,
unless an operator forces the crawl (a site whose history has grown). Listings queried by date and sources whose
entries carry no date have no reach.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the crawl imports the fetch layer, which imports the repository, which imports this module
    from rfq_pipeline.sources.crawl import CrawlResult, DayCoverage
    from rfq_pipeline.sources.spec import SourceSpec


@dataclass(frozen=True)
class ListingReach:
    """How far back a listing reached on its last crawl that read it to its end or to the page cap."""

    listing: str
    oldest_day: date
    stopped_by: str  # end_of_listing | page_cap
    pages_read: int


def has_reach(spec: SourceSpec, listing: str) -> bool:
    """Whether ``listing`` can run out of history: a dated listing not queried by date."""
    return spec.dated and not spec.queries_by_date(listing)


def reach_seen(spec: SourceSpec, result: CrawlResult) -> list[ListingReach]:
    """The reach a crawl established: listings read to their end, or (sorted newest first) to the page cap."""
    seen = []
    for listing, stop in result.stops.items():
        if not has_reach(spec, listing) or stop.oldest_seen is None:
            continue
        # An unsorted list cut at the cap says nothing of what lies beyond it.
        if stop.code == "end_of_listing" or (stop.code == "page_cap" and spec.date_sorted):
            seen.append(ListingReach(listing, stop.oldest_seen, stop.code, result.pages_read.get(listing, 0)))
    return seen


def beyond_reach(spec: SourceSpec, days: Iterable[date], reach: Mapping[str, ListingReach]) -> dict[date, str]:
    """The days older than the recorded reach of every listing of ``spec``, each with the reason people read.

    A listing with no recorded reach (never read to its end, or one that has none) keeps every day in reach.
    """
    if not spec.listings or not all(has_reach(spec, listing) and listing in reach for listing in spec.listings):
        return {}
    horizon = min(reach[listing].oldest_day for listing in spec.listings)
    how = sorted({f"{reach[listing].stopped_by.replace('_', ' ')} after {reach[listing].pages_read} pages"
                  for listing in spec.listings})  # fmt: skip
    reason = f"older than {horizon.isoformat()}, the oldest day the listing showed ({'; '.join(how)})"
    return {day: reason for day in days if day < horizon}


def day_coverage(spec: SourceSpec, result: CrawlResult, days: Sequence[date]) -> dict[date, DayCoverage]:
    """Per day of a crawled range: read whole, beyond every listing's reach, or only partly read.

    A listing the crawl never got to (the breaker opened first) read nothing of any day.
    """
    coverage: dict[date, DayCoverage] = {}
    for day in days:
        per_listing = [
            result.stops[listing].coverage(
                day, date_sorted=spec.date_sorted, dated=spec.dated, dates_in_query=spec.queries_by_date(listing)
            )
            if listing in result.stops
            else "partly_read"
            for listing in spec.listings
        ]
        if "partly_read" in per_listing:
            coverage[day] = "partly_read"
        elif per_listing and all(c == "beyond_reach" for c in per_listing):
            coverage[day] = "beyond_reach"
        else:
            coverage[day] = "read"
    return coverage
