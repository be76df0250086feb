"""Archive rows to RFQs of a loader source: read, check, sort by posting time and upsert in bulk.

Idempotent on (source, external id): importing the same file again changes nothing. A row that cannot become an
RFQ (no title, a date that is not a date) is reported with its file, line and column, and the others load. Rows are
written in posting order, so the RFQ ids (and with them the dedup stage, which works in id order) follow the
buyers' timeline even when the archive lists newest first.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rfq_pipeline.db import repository
from rfq_pipeline.db.database import Database
from rfq_pipeline.imports.mapping import JOINED_FIELDS, ColumnMapping, MappingError, detect_layout
from rfq_pipeline.imports.readers import ArchiveFile, BadRecord, iter_records, open_archive
from rfq_pipeline.sources.dates import as_utc, parse_day
from rfq_pipeline.sources.model import ParsedRfq
from rfq_pipeline.sources.registry import SOURCES

CHUNK_ROWS = 5_000  # one COPY + merge per chunk, each in its own transaction
MAX_TITLE_CHARS = 300
MAX_REPORTED_ERRORS = 1_000  # every bad row is counted; this many are kept with their line and column
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")

Progress = Callable[[str, int, int], None]  # (phase, rows done, rows expected)


class ImportRefused(ValueError):
    """An import that cannot start: a bad source name, an unreadable mapping, an unknown layout."""


@dataclass(frozen=True)
class RowError:
    """One row that did not load, and why."""

    file: str
    line: int
    column: str
    message: str

    def render(self) -> str:
        """``file:line: column: message``."""
        return f"{self.file}:{self.line}: {self.column}: {self.message}"


@dataclass
class ImportReport:
    """What an import read and wrote."""

    source: str
    files: list[str] = field(default_factory=list)
    layouts: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    inserted: int = 0
    changed: int = 0
    repeated_keys: int = 0  # rows whose external id appeared earlier in the import (the later row wins)
    bad_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    first_day: date | None = None
    last_day: date | None = None
    undated: int = 0  # filed under the day of the import (an RFQ's day is its posting day, else its first sighting)
    import_day: date | None = None
    seconds: float = 0.0

    def day_ranges(self) -> list[tuple[date, date]]:
        """The days the imported rows belong to: the posting days' span, and the import's day for undated rows."""
        ranges = [(self.first_day, self.last_day)] if self.first_day and self.last_day else []
        day = self.import_day
        if self.undated and day and not any(low <= day <= high for low, high in ranges):
            ranges.append((day, day))
        return ranges

    @property
    def unchanged(self) -> int:
        """Rows that were already stored as they are."""
        return self.rows_loaded - self.repeated_keys - self.inserted - self.changed

    def add_error(self, error: RowError) -> None:
        """Count a bad row; keep its details while there are not too many."""
        self.bad_rows += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)

    def render(self) -> str:
        """A few lines for the terminal."""
        rate = self.rows_loaded / self.seconds if self.seconds else 0.0
        days = f"{self.first_day} .. {self.last_day}" if self.first_day else "none"
        lines = [
            f"import into source {self.source!r} from {', '.join(self.files)} ({', '.join(self.layouts)})",
            f"  rows read {self.rows_read}, loaded {self.rows_loaded} ({self.inserted} new, {self.changed} changed,"
            f" {self.unchanged} unchanged, {self.repeated_keys} repeated ids), bad {self.bad_rows}",
            f"  posting days {days}; {self.undated} rows without a date (filed under {self.import_day}, the day of"
            " the import)",
            f"  {self.seconds:.1f} s, {rate:,.0f} rows/s",
        ]
        for error in self.errors[:20]:
            lines.append(f"  bad row {error.render()}")
        if self.bad_rows > 20:
            lines.append(f"  ... and {self.bad_rows - 20} more bad rows (--errors FILE writes them all)")
        return "\n".join(lines)


def check_source_name(name: str) -> None:
    """A loader source's name: lowercase, and not a marketplace the pipeline crawls (their rows come from crawls)."""
    if not SOURCE_NAME.match(name):
        raise ImportRefused(f"source {name!r}: use 2-63 lowercase letters, digits or '_', starting with a letter")
    if name in SOURCES:
        raise ImportRefused(
            f"source {name!r} is a registered marketplace; import archives under a loader source of their own "
            f"(for example {name}_archive), so crawl health and archive rows stay apart"
        )


def mapping_for(archive: ArchiveFile, mapping: ColumnMapping | None) -> ColumnMapping:
    """The given mapping, checked against the file's columns, or the layout recognised from them."""
    if mapping is None:
        found = detect_layout(archive.header)
        if found is None:
            shown = ", ".join(archive.header[:12]) or "(none)"
            raise MappingError(
                f"{archive.path.name}: columns not recognised ({shown}); pass --mapping MAP.yaml naming the title, "
                "description, posted, quantity, country, buyer, buyer_company, url and external_id columns"
            )
        return found
    if archive.format in {"csv", "xlsx", "parquet"}:
        missing = mapping.missing_from(archive.header)
        if missing:
            raise MappingError(f"{archive.path.name}: the mapping names columns the file lacks: {', '.join(missing)}")
    return mapping


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        # Spreadsheets store ids and counts as floats: 1681369478.0 is the id 1681369478.
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _first(record: dict[str, Any], columns: Sequence[str]) -> tuple[str, str]:
    for column in columns:
        text = _text(record.get(column))
        if text:
            return text, column
    return "", columns[0] if columns else ""


def _posted(value: Any, date_format: str) -> datetime | None:
    """The posting time of a cell; ``None`` when empty. Raises ``ValueError`` when it is not a date."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = _text(value)
    if not text:
        return None
    if date_format:
        return as_utc(datetime.strptime(text, date_format))
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    found = parse_day(text)
    if found is None:
        raise ValueError(f"{text!r} is not a date this importer reads (set date_format in the mapping)")
    return found


def _attribute(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str | int | float | bool | list | dict) or value is None:
        return value.strip() if isinstance(value, str) else value
    return str(value)


def to_rfq(
    record: dict[str, Any], mapping: ColumnMapping, source: str, *, now: datetime
) -> ParsedRfq | tuple[str, str]:
    """One archive record as an RFQ of ``source``, or ``(column, message)`` saying why it cannot be one."""
    columns = mapping.columns
    title = _first(record, columns["title"])[0]
    title = " ".join(title.splitlines()[0].split()) if title else ""
    if not title:
        return ", ".join(columns["title"]), "empty: an RFQ needs a title"
    if len(title) > MAX_TITLE_CHARS:
        title = title[:MAX_TITLE_CHARS].rsplit(" ", 1)[0]
    posted_columns = columns.get("posted", ())
    posted_at = None
    posted_text = ""
    for column in posted_columns:
        raw = record.get(column)
        try:
            posted_at = _posted(raw, mapping.date_format)
        except ValueError as exc:
            return column, str(exc)
        if posted_at is not None:
            posted_text = _text(raw)
            break
    if posted_at is not None and posted_at > now + timedelta(days=1):
        return posted_columns[0], f"{posted_text!r} is in the future (is the day/month order right?)"
    fields = {name: _first(record, cols)[0] for name, cols in columns.items() if name not in JOINED_FIELDS}
    for name, separator in JOINED_FIELDS.items():
        if name in columns:
            fields[name] = separator.join(t for t in (_text(record.get(c)) for c in columns[name]) if t)
    if "external_id" in columns and not all(_text(record.get(c)) for c in columns["external_id"]):
        return ", ".join(columns["external_id"]), "empty: the mapping names this column as the row's id"
    url = fields.get("url", "")
    external_id = fields.get("external_id") or _derived_id(url, title, fields, posted_text)
    named = mapping.named()
    kept = ((column, _attribute(value)) for column, value in record.items() if column and column not in named)
    attributes = {column: value for column, value in kept if value not in (None, "", [], {})}
    return ParsedRfq(
        source=source,
        external_id=external_id,
        canonical_url=url or f"import:{source}/{external_id}",
        title=title,
        posted_at=posted_at,
        posted_text=posted_text,
        description=fields.get("description", "") if fields.get("description", "") != title else "",
        quantity_text=fields.get("quantity", ""),
        buyer_name=fields.get("buyer", ""),
        buyer_company=fields.get("buyer_company", ""),
        country_raw=fields.get("country", ""),
        attributes=attributes,
    )


def _derived_id(url: str, title: str, fields: dict[str, str], posted_text: str) -> str:
    """An id for an archive without one: its URL, else what the row says (the same row gets the same id again)."""
    basis = url or "\x1f".join(
        [title, fields.get("description", ""), posted_text, fields.get("buyer", ""),
         fields.get("buyer_company", ""), fields.get("country", ""), fields.get("quantity", "")]
    )  # fmt: skip
    return "h" + hashlib.sha256(basis.encode()).hexdigest()[:24]


def read_archives(
    paths: Sequence[Path],
    source: str,
    mapping: ColumnMapping | None,
    report: ImportReport,
    progress: Progress | None = None,
    *,
    now: datetime | None = None,
) -> list[ParsedRfq]:
    """Every good row of ``paths`` as an RFQ, in posting order (undated rows last, in file order)."""
    now = now or datetime.now(UTC)
    archives = [open_archive(path) for path in paths]
    mappings = [mapping_for(archive, mapping) for archive in archives]
    expected = sum(a.estimated_rows for a in archives)
    found: dict[str, tuple[int, ParsedRfq]] = {}
    order = 0
    for archive, used in zip(archives, mappings, strict=True):
        report.files.append(archive.path.name)
        report.layouts.append(used.layout)
        for item in iter_records(archive):
            report.rows_read += 1
            if isinstance(item, BadRecord):
                report.add_error(RowError(archive.path.name, item.line, "-", item.message))
                continue
            line, record = item
            rfq = to_rfq(record, used, source, now=now)
            if isinstance(rfq, tuple):
                report.add_error(RowError(archive.path.name, line, rfq[0], rfq[1]))
            else:
                if rfq.external_id in found:
                    report.repeated_keys += 1
                found[rfq.external_id] = (order, rfq)
                order += 1
            if progress is not None and report.rows_read % 10_000 == 0:
                progress("read", report.rows_read, expected)
    if progress is not None:
        progress("read", report.rows_read, max(expected, report.rows_read))
    rows = sorted(found.values(), key=lambda item: (item[1].posted_at is None, item[1].posted_at or now, item[0]))
    dated = [r.posted_at for _, r in rows if r.posted_at is not None]
    report.undated = len(rows) - len(dated)
    if dated:
        report.first_day, report.last_day = min(dated).date(), max(dated).date()
    report.import_day = now.date()
    return [rfq for _, rfq in rows]


def load_rfqs(db: Database, source: str, rfqs: Sequence[ParsedRfq], report: ImportReport,
              progress: Progress | None = None) -> None:  # fmt: skip
    """Upsert ``rfqs`` under the loader source ``source``, a chunk per transaction (a re-run finishes the job)."""
    with db.connection() as conn:
        repository.ensure_source(
            conn, name=source, kind="loader", base_url=f"import:{source}", cadence="manual", enabled=True
        )
    for start in range(0, len(rfqs), CHUNK_ROWS):
        chunk = rfqs[start : start + CHUNK_ROWS]
        with db.connection() as conn:
            counts = repository.upsert_rfqs(conn, ((rfq, None) for rfq in chunk))
        report.rows_loaded += counts.seen
        report.inserted += counts.inserted
        report.changed += counts.changed
        if progress is not None:
            progress("load", start + len(chunk), len(rfqs))
    # Rows repeated in the import were merged before loading; count them as loaded rows that wrote nothing.
    report.rows_loaded += report.repeated_keys


def import_archives(
    db: Database,
    paths: Iterable[Path],
    source: str,
    mapping: ColumnMapping | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Read ``paths`` and load their rows as RFQs of the loader source ``source``; see the module docstring."""
    import time

    check_source_name(source)
    started = time.perf_counter()
    report = ImportReport(source=source)
    rfqs = read_archives(list(paths), source, mapping, report, progress)
    load_rfqs(db, source, rfqs, report, progress)
    report.seconds = time.perf_counter() - started
    return report
