"""The normalization stage over a window of posting days: read the RFQs, normalize them with polars, write back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl
import psycopg

from rfq_pipeline.db import repository
from rfq_pipeline.normalize.rfqs import NORMALIZER_VERSION, normalize_rfqs

INPUT_SCHEMA = {
    "id": pl.Int64,
    "source": pl.String,
    "title": pl.String,
    "quantity_text": pl.String,
    "country_raw": pl.String,
    "country_code_hint": pl.String,
    "posted_at": pl.Datetime("us", "UTC"),
    "first_seen_at": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class NormalizedWindow:
    """What one normalization pass read (``frame``), made of it (``normalized``) and how many rows it updated."""

    frame: pl.DataFrame
    normalized: pl.DataFrame
    updated: int


def normalize_window(conn: psycopg.Connection, start: datetime, end: datetime) -> NormalizedWindow:
    """Normalize every RFQ posted (or, undated, first seen) in ``[start, end)`` in one read and one write."""
    rows = repository.rfqs_posted_between(conn, start, end)
    frame = pl.DataFrame([{k: row[k] for k in INPUT_SCHEMA} for row in rows], schema=INPUT_SCHEMA, orient="row")
    del rows
    normalized = normalize_rfqs(frame)
    updated = repository.update_normalized(
        conn, {name: normalized[name].to_list() for name in normalized.columns}, NORMALIZER_VERSION
    )
    return NormalizedWindow(frame, normalized, updated)
