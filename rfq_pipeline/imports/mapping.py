"""Which column of an archive holds which field of an RFQ: a mapping file, or a layout recognised by its columns.

A mapping names, for each field, one column or a list of columns. Of a list, the first non-empty value wins, except
for ``external_id`` and ``quantity``, whose values are joined (a composite key such as source and id stays unique;
an amount and its unit make one quantity). Columns the mapping does not name are kept in the RFQ's ``attributes``,
so an import loses nothing of the archive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Fields whose listed columns are joined, with this separator, rather than tried in turn.
JOINED_FIELDS = {"external_id": ":", "quantity": " "}

FIELDS = (
    "title", "description", "posted", "quantity", "country", "buyer", "buyer_company", "url", "external_id",
)  # fmt: skip


class MappingError(ValueError):
    """A mapping file that cannot be used, or an archive whose layout is unknown and has no mapping."""


@dataclass(frozen=True)
class ColumnMapping:
    """Columns per RFQ field; ``date_format`` (strptime) when the posting dates are not ISO 8601 or written out."""

    columns: Mapping[str, tuple[str, ...]]
    date_format: str = ""
    layout: str = "mapping"  # the recognised layout's name, or "mapping" for a mapping file
    # Columns that are the archive's own bookkeeping, not what the buyer asked (not kept in attributes).
    ignore: tuple[str, ...] = field(default_factory=tuple)

    def named(self) -> set[str]:
        """Every column the mapping reads or ignores."""
        return {c for cols in self.columns.values() for c in cols} | set(self.ignore)

    def missing_from(self, header: Iterable[str]) -> list[str]:
        """Columns the mapping names that the archive lacks."""
        present = set(header)
        return sorted(c for cols in self.columns.values() for c in cols if c not in present)


def _columns(raw: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise MappingError(f"unknown field(s) {', '.join(unknown)}; a mapping names columns for: {', '.join(FIELDS)}")
    columns: dict[str, tuple[str, ...]] = {}
    for name, value in raw.items():
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise MappingError(f"field {name!r}: give a column name or a list of column names")
        columns[name] = tuple(names)
    if "title" not in columns:
        raise MappingError("a mapping must name the title column")
    return columns


def load_mapping(path: Path) -> ColumnMapping:
    """Read a mapping file: ``columns:`` (field -> column or list of columns), optional ``date_format``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("columns"), dict):
        raise MappingError(f"{path}: expected a 'columns:' section naming the column of each field")
    date_format = raw.get("date_format") or ""
    if not isinstance(date_format, str):
        raise MappingError(f"{path}: date_format must be a strptime format such as '%d/%m/%Y'")
    ignore = raw.get("ignore") or []
    if not isinstance(ignore, list) or not all(isinstance(c, str) for c in ignore):
        raise MappingError(f"{path}: ignore must be a list of column names")
    return ColumnMapping(columns=_columns(raw["columns"]), date_format=date_format, ignore=tuple(ignore))


# What an exporting installation derived from its RFQs: the importing one derives it again.
_EXPORT_DERIVED = (
    "rfq_id", "title_clean", "posted_date", "posted_or_seen_at", "first_seen_at", "last_seen_at", "normalized_at",
    "normalizer_version", "cluster_id", "canonical_rfq_id", "matched_by",
)  # fmt: skip

# Layouts recognised by their columns. The Alibaba RFQ-board export (a scraper's CSV of the board), go4WorldBusiness
# buyer records (JSON lines of a scraper) and this project's own `rfqs` export.
LAYOUTS: dict[str, ColumnMapping] = {
    "alibaba_rfq_csv": ColumnMapping(
        layout="alibaba_rfq_csv",
        columns=_columns(
            {
                "external_id": "RFQ ID",
                "title": "Title",
                "buyer": "Buyer Name",
                "country": "Country",
                "quantity": "Quantity Required",
                "url": "Inquiry URL",
                "posted": "Inquiry Date",
            }
        ),
        date_format="%d-%m-%Y",
        # "Just now" / "3 hours before" relative to a scrape long past, and the scrape's own date.
        ignore=("Inquiry Time", "Scraping Date"),
    ),
    "go4worldbusiness_jsonl": ColumnMapping(
        layout="go4worldbusiness_jsonl",
        columns=_columns(
            {
                "external_id": "record_id",
                "title": ["buyerProductName", "buyerText"],
                "description": "buyerText",
                "buyer_company": "buyerCompanyName",
                "country": "buyerCountry",
                "posted": "date",
            }
        ),
        date_format="%b-%d-%y",
        # The card's text again in other words, and page furniture.
        ignore=("Buyer", "Contact Details: ", "logoSrc", "buyerBuyerOF"),
    ),
    "rfq_pipeline_export": ColumnMapping(
        layout="rfq_pipeline_export",
        columns=_columns(
            {
                "external_id": ["source", "external_id"],
                "title": "title",
                "buyer_company": "buyer_company",
                "country": ["country_name", "country_code"],
                "quantity": ["quantity_value", "quantity_unit"],
                "url": "canonical_url",
                "posted": "posted_at",
            }
        ),
        ignore=_EXPORT_DERIVED,
    ),
}


def detect_layout(header: Iterable[str]) -> ColumnMapping | None:
    """The known layout whose columns the archive has (every column it reads), or ``None``."""
    present = set(header)
    for mapping in LAYOUTS.values():
        if not mapping.missing_from(present):
            return mapping
    return None
