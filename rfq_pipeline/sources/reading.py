"""Reading a listing page the one way every caller shares: the source's selectors first, the fallback after drift.

The crawler, ``rfq-pipeline sources parse`` and ``sources probe`` all call :func:`read_list_page`, so a page reads
the same in a run, at an operator's prompt and in the tests. :func:`lead_record` is the lead as a reader of the page
sees it, the shape the CLI prints and the fixture tests compare.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from rfq_pipeline.normalize.rfqs import country_code as lookup_country_code
from rfq_pipeline.sources import fallback
from rfq_pipeline.sources.model import ListPage, PageParseError, ParsedRfq
from rfq_pipeline.sources.spec import SourceSpec

LEAD_FIELDS = ("title", "url", "posted_at", "country_code", "country", "quantity", "buyer", "description")


def read_list_page(spec: SourceSpec, text: str, *, fetched_at: datetime) -> ListPage:
    """Parse one listing page of ``spec``; after layout drift, let the generic extractor find the leads.

    Raises :class:`PageParseError` as the source's parser does (``truncated``, ``challenge`` ...), and
    ``layout_drift`` only when the fallback extractor finds no lead either, so nothing is lost silently.
    """
    try:
        return spec.parse_list(text, fetched_at=fetched_at)
    except PageParseError as exc:
        if exc.kind != "layout_drift" or not spec.detail_regex or text.lstrip().startswith(("{", "[")):
            raise
        found = fallback.extract(
            text, source=spec.name, detail_regex=spec.detail_regex, site_url=spec.site_url, drift=str(exc)
        )
        if not found.entries:
            raise PageParseError("layout_drift", f"{exc}; the fallback extractor found no lead either") from exc
        entries = found.entries
        if not spec.dated:  # dates on a directory's cards (a founding year) are no posting days
            entries = [replace(entry, posted_at=None, posted_text="") for entry in entries]
        if spec.refine_fallback is not None:
            entries = [spec.refine_fallback(entry) for entry in entries]
        return replace(found, entries=entries)


def lead_record(rfq: ParsedRfq) -> dict[str, Any]:
    """What a reader sees of a lead: title, absolute URL, posting time (ISO 8601 UTC), country, quantity, buyer."""
    code = rfq.country_code or (lookup_country_code(rfq.country_raw) if rfq.country_raw else None) or ""
    return {
        "title": rfq.title,
        "url": rfq.canonical_url,
        "posted_at": rfq.posted_at.isoformat().replace("+00:00", "Z") if rfq.posted_at else None,
        "country_code": code or None,
        "country": rfq.country_raw or None,
        "quantity": rfq.quantity_text or None,
        "buyer": rfq.buyer_company or rfq.buyer_name or None,
        "description": rfq.description or None,
        "extraction": rfq.extraction,
    }
