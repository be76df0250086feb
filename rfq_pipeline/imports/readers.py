"""Records of an archive file, each with the line (or sheet row) it starts on, whatever the format.

CSV (``.csv``, ``.tsv``), JSON lines (``.jsonl``, ``.ndjson``), either of them gzipped (``.gz``), Parquet
(``.parquet``) and Excel workbooks (``.xlsx``, first sheet). A record that cannot be read (a JSON line that is not an
object, a CSV row with more fields than the header) is yielded as a :class:`BadRecord`, and reading goes on.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

FORMATS = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".xlsx": "xlsx"}


class UnsupportedFile(ValueError):
    """A file whose format the importer does not read."""


@dataclass(frozen=True)
class BadRecord:
    """A record that could not be read at all, with the reason."""

    line: int
    message: str


@dataclass(frozen=True)
class ArchiveFile:
    """An opened archive: its format, its column names (as far as known before reading) and a size estimate."""

    path: Path
    format: str
    header: list[str]
    estimated_rows: int


def file_format(path: Path) -> str:
    """The format of ``path`` from its suffix (``.gz`` looked through)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
        if suffixes and FORMATS.get(suffixes[-1]) not in {"csv", "jsonl"}:
            raise UnsupportedFile(f"{path.name}: only CSV and JSON lines are read gzipped")
    found = FORMATS.get(suffixes[-1]) if suffixes else None
    if found is None:
        if suffixes and suffixes[-1] == ".xls":
            raise UnsupportedFile(f"{path.name}: the old .xls format is not read; save the sheet as .xlsx or CSV")
        raise UnsupportedFile(f"{path.name}: unknown format; expected one of {', '.join(sorted(FORMATS))} (or .gz)")
    return found


def _open_text(path: Path) -> IO[str]:
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _count_lines(path: Path) -> int:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    count = 0
    with opener(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def open_archive(path: Path) -> ArchiveFile:
    """Read the header (column names) and estimate the number of records."""
    kind = file_format(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if kind == "csv":
        with _open_text(path) as handle:
            header = next(csv.reader(handle, dialect=_dialect(path)), [])
        return ArchiveFile(path, kind, [h.strip() for h in header], max(_count_lines(path) - 1, 0))
    if kind == "jsonl":
        keys: dict[str, None] = {}
        with _open_text(path) as handle:
            for _, line in zip(range(50), handle, strict=False):  # the keys of the first records
                try:
                    value = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(value, dict):
                    keys.update(dict.fromkeys(value))
        return ArchiveFile(path, kind, list(keys), _count_lines(path))
    if kind == "parquet":
        import polars as pl

        schema = pl.read_parquet_schema(path)
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        return ArchiveFile(path, kind, list(schema), int(rows))
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        first = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
        header = [str(v).strip() if v is not None else "" for v in first]
        rows = max((sheet.max_row or 1) - 1, 0)
    finally:
        book.close()
    return ArchiveFile(path, kind, header, rows)


def _dialect(path: Path) -> type[csv.Dialect]:
    name = path.name.lower().removesuffix(".gz")
    return csv.excel_tab if name.endswith(".tsv") else csv.excel


def iter_records(archive: ArchiveFile) -> Iterator[tuple[int, dict[str, Any]] | BadRecord]:
    """Each record as ``(line, {column: value})``; ``line`` is where the record starts (1 is the header in CSV and
    Excel, the first record in JSON lines; the row number in Parquet)."""
    if archive.format == "csv":
        yield from _csv_records(archive)
    elif archive.format == "jsonl":
        yield from _jsonl_records(archive)
    elif archive.format == "parquet":
        import polars as pl

        frame = pl.read_parquet(archive.path)
        yield from enumerate(frame.iter_rows(named=True), start=1)
    else:
        yield from _xlsx_records(archive)


def _csv_records(archive: ArchiveFile) -> Iterator[tuple[int, dict[str, Any]] | BadRecord]:
    with _open_text(archive.path) as handle:
        reader = csv.reader(handle, dialect=_dialect(archive.path))
        header = [h.strip() for h in next(reader, [])]
        start = reader.line_num + 1
        try:
            for row in reader:
                if not any(cell.strip() for cell in row):
                    start = reader.line_num + 1
                    continue
                if len(row) > len(header):
                    yield BadRecord(start, f"{len(row)} fields where the header has {len(header)}")
                else:
                    yield start, dict(zip(header, row, strict=False))
                start = reader.line_num + 1
        except csv.Error as exc:  # e.g. a NUL byte or an unterminated quote at the end of the file
            yield BadRecord(start, f"unreadable CSV from here on: {exc}")


def _jsonl_records(archive: ArchiveFile) -> Iterator[tuple[int, dict[str, Any]] | BadRecord]:
    with _open_text(archive.path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield BadRecord(number, f"not JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(value, dict):
                yield BadRecord(number, f"a JSON {type(value).__name__}, not an object")
                continue
            yield number, value


def _xlsx_records(archive: ArchiveFile) -> Iterator[tuple[int, dict[str, Any]] | BadRecord]:
    from openpyxl import load_workbook

    book = load_workbook(archive.path, read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(v).strip() if v is not None else "" for v in next(rows, ())]
        for number, row in enumerate(rows, start=2):
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
                continue
            yield number, {name: value for name, value in zip(header, row, strict=False) if name}
    finally:
        book.close()
