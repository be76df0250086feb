"""``rfq-pipeline export`` (days of the database to Parquet, then the DuckDB file) and ``rfq-pipeline sql`` (a query
against that file, read-only)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rfq_pipeline.settings import Settings

MAX_DAYS = 3660  # a range longer than ten years is a typo, not a backfill


class UsageError(ValueError):
    """The command line cannot be acted on; the message says why."""


def days_between(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last``, both included."""
    if last < first:
        raise UsageError(f"--to {last} is before --from {first}")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise UsageError(f"{count} days is more than {MAX_DAYS}; export a shorter range")
    return [first + timedelta(days=n) for n in range(count)]


def _parse_day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a date (YYYY-MM-DD)") from None


def resolve_days(day: str | None, first: str | None, last: str | None) -> list[date]:
    """The days an ``export`` command line names: ``--date``, ``--from``/``--to`` (either alone means one day), or
    today (UTC)."""
    if day and (first or last):
        raise UsageError("use either --date or --from/--to, not both")
    if day:
        return [_parse_day(day, "--date")]
    if first or last:
        start = _parse_day(first or last or "", "--from" if first else "--to")
        end = _parse_day(last, "--to") if last else start
        return days_between(start, end)
    return [datetime.now(UTC).date()]


def _human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"


def export_command(day: str | None, first: str | None, last: str | None) -> int:
    """Export the days to the exports store, rebuild the DuckDB file, print rows and bytes per table."""
    import duckdb
    import psycopg

    from rfq_pipeline.db import migrations
    from rfq_pipeline.db.database import Database, resolve_database_url
    from rfq_pipeline.exports.tables import ALL
    from rfq_pipeline.exports.writer import (
        ExportError,
        ExportOptions,
        build_duckdb,
        default_duckdb_path,
        export_day,
        export_root,
    )
    from rfq_pipeline.store.object_store import object_store_for

    try:
        days = resolve_days(day, first, last)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    store = object_store_for("exports", settings)
    options = ExportOptions.from_settings(settings)
    url = resolve_database_url(settings)
    pending = migrations.pending(url, settings.migrations_dir)
    if pending and settings.database_url is None:
        migrations.migrate(url, settings.migrations_dir)  # the embedded default migrates itself, as runs do
    elif pending:
        names = ", ".join(m.path.name for m in pending)
        print(f"error: database has unapplied migrations ({names}); run `rfq-pipeline db migrate`", file=sys.stderr)
        return 2
    totals = {name: [0, 0] for name in ALL}
    with Database(url, min_size=1, max_size=1) as db:
        for one_day in days:
            try:
                report = export_day(db, store, one_day, options=options)
            except (ExportError, psycopg.Error) as error:
                print(f"error: export of {one_day} failed: {error}", file=sys.stderr)
                return 1
            for item in report.tables:
                totals[item.table][0] += item.rows
                totals[item.table][1] += item.bytes
            if len(days) > 1:
                print(f"{one_day}: {report.rows} rows")
    span = f"{days[0]} .. {days[-1]}" if len(days) > 1 else str(days[0])
    print(f"exported {len(days)} day(s) ({span}) to {store.uri('exports')}")
    print(f"{'table':<20} {'rows':>10} {'bytes':>12}")
    for name, (rows, size) in totals.items():
        print(f"{name:<20} {rows:>10} {_human_bytes(size):>12}")
    try:
        build = build_duckdb(export_root(store), default_duckdb_path(settings))
    except duckdb.Error as error:
        print(
            f"error: the files are exported but the DuckDB file was not rebuilt: {error} (an S3 exports bucket needs "
            "DuckDB's httpfs extension and S3 credentials)",
            file=sys.stderr,
        )
        return 1
    print(f'duckdb: {build.path} ({len(build.tables)} views; `rfq-pipeline sql "..."` queries it)')
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render_text(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An aligned text table: numbers right-aligned, everything else left-aligned, and a row count."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]

    def is_number(value: Any) -> bool:
        return value is None or (isinstance(value, int | float | Decimal) and not isinstance(value, bool))

    numeric = [bool(rows) and all(is_number(row[i]) for row in rows) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(list(columns)), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def sql_command(query: str | None, file: str | None, output_format: str) -> int:
    """Run ``query`` (or the file's) read-only against the DuckDB file and print the result."""
    import duckdb

    from rfq_pipeline.exports.writer import default_duckdb_path

    if bool(query) == bool(file):
        print("error: give a query or --file, not both and not neither", file=sys.stderr)
        return 2
    text = Path(file).read_text(encoding="utf-8") if file else str(query)
    path = default_duckdb_path(Settings.from_env())
    if not path.exists():
        print(f"error: no export at {path}; run `rfq-pipeline export` first", file=sys.stderr)
        return 1
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            result = con.execute(text)
            columns = [d[0] for d in result.description or []]
            rows = result.fetchall() if columns else []
    except duckdb.Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if output_format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    elif output_format == "json":
        for row in rows:
            print(json.dumps(dict(zip(columns, row, strict=True)), default=str, ensure_ascii=False))
    else:
        print(render_text(columns, rows))
    return 0
