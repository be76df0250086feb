"""Export days of the database to Parquet in the exports store, and build the analysts' DuckDB file over them.

``export_day`` reads every table of one day inside one ``READ ONLY``, ``REPEATABLE READ`` transaction under the
reader role (one snapshot, so the tables of a day agree with each other), streams each table out with
``COPY (...) TO STDOUT (FORMAT csv)`` into polars, pseudonymizes personal data in this process, and writes Parquet
(zstd). Nothing is published until every table of the day has been read and encoded; then each file is put under
its final key (``exports/<table>/date=YYYY-MM-DD/data.parquet``), which both stores do atomically (a local
temporary file renamed over the old one, or one S3 PUT), so an analyst never reads half a file and a re-run of a
day replaces its files.

The export reads as the NOLOGIN role ``rfq_export_reader`` (``sql/009_export_reader.sql``: USAGE on the schema,
SELECT on every table, default privileges for later ones), assumed with ``SET LOCAL ROLE``. The login must be a
member of it (the migration grants it to the migrating user; a superuser needs nothing). Where the pipeline's login
cannot assume it (a managed database whose login may not be granted roles), set ``RFQ_EXPORT_ROLE`` empty: the
transaction is still ``READ ONLY``, only without the role's narrower grants. ``RFQ_EXPORT_ROLE=<name>`` names
another role.

``build_duckdb`` writes a DuckDB database with one view per table over all days' files plus an ``export_meta``
table, to a temporary path renamed over the old file: a reader holding the old file open keeps reading it. The
views name the files by absolute path or URI and read them at query time, so the DuckDB file is small and a new
export shows as soon as its files are put. With an S3 exports bucket the views read
``s3://<bucket>/exports/<table>/*/*.parquet``: DuckDB then needs its ``httpfs`` extension (it installs it itself
where there is internet, or ``INSTALL httpfs`` from a mirror) and S3 credentials in the session, e.g.
``CREATE SECRET (TYPE s3, PROVIDER credential_chain)``; both for the build and for every analyst session.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import psycopg
from psycopg import sql

from rfq_pipeline.db.database import Database
from rfq_pipeline.exports.tables import (
    ALL,
    SCHEMA_VERSION,
    TABLES,
    Column,
    TableSpec,
    duckdb_type,
    object_key,
    resolve_tables,
)
from rfq_pipeline.installation_secrets import InstallationSecretError, installation_secret
from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import ObjectStore

log = logging.getLogger(__name__)

PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
SALT_FILE = Path("secrets") / "export_pii_salt"  # under RFQ_DATA_DIR, away from the exports analysts are given
META_TABLE = "export_meta"

# What is scrubbed from exported free text (titles, errors). E-mail addresses, and phone numbers written in the
# international form (+971 50 123 4567, 0086 ...): a national number cannot be told from a quantity or a model
# number, so it is left alone (titles are listing headlines, where contact details are rare).
EMAIL_PATTERN = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"
PHONE_PATTERN = r"(?:\+|\b00)\d(?:[\s().\-]{0,2}\d){6,14}"


class ExportError(RuntimeError):
    """An export could not run (no reader role, no membership in it, a table that does not read)."""


@dataclass(frozen=True)
class ExportOptions:
    """How an export reads and pseudonymizes: the salt (a secret), whether contacts are exported, the role."""

    salt: bytes = field(repr=False)
    contacts: bool = False
    role: str | None = "rfq_export_reader"

    @classmethod
    def from_settings(cls, settings: Settings) -> ExportOptions:
        """Options from the settings; the salt is ``RFQ_EXPORT_PII_SALT`` or the installation's salt file."""
        salt = settings.export_pii_salt.encode() if settings.export_pii_salt else installation_salt(settings.data_dir)
        return cls(salt=salt, contacts=settings.export_contacts, role=settings.export_role)

    def allows(self, spec: TableSpec) -> bool:
        """Whether the table's rows are read (an opt-in table without its flag is written empty)."""
        return spec.opt_in is None or bool(getattr(self, spec.opt_in))


def installation_salt(data_dir: Path) -> bytes:
    """The per-installation salt under ``data_dir``, created once (32 random bytes as hex, mode 0600)."""
    try:
        return installation_secret(data_dir, SALT_FILE.name).encode()
    except InstallationSecretError as error:
        raise ExportError(f"{error} (the export hashes will change)") from None


# --- pseudonymization -------------------------------------------------------------------------------------------


def _normalize_email(value: str) -> str:
    return value.strip().lower()


def _normalize_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return f"+{digits}" if digits else ""


def _normalize_name(value: str) -> str:
    return " ".join(value.split()).casefold()


_NORMALIZERS: dict[str, Callable[[str], str]] = {
    "email": _normalize_email,
    "phone": _normalize_phone,
    "name": _normalize_name,
}


def pseudonym(value: str | None, salt: bytes, kind: str) -> str | None:
    """``sha256(salt || normalized value)`` as hex; ``None`` for a missing or blank value."""
    if value is None:
        return None
    normalized = _NORMALIZERS[kind](value)
    if not normalized:
        return None
    return hashlib.sha256(salt + normalized.encode("utf-8")).hexdigest()


def _hash_series(series: pl.Series, salt: bytes, kind: str) -> pl.Series:
    # Hash each distinct value once: a day repeats buyers, and hashlib per row is the slow part of an export.
    base = hashlib.sha256(salt)
    normalize = _NORMALIZERS[kind]
    mapping: dict[str, str | None] = {}
    for value in series.drop_nulls().unique().to_list():
        normalized = normalize(value)
        if normalized:
            digest = base.copy()
            digest.update(normalized.encode("utf-8"))
            mapping[value] = digest.hexdigest()
        else:
            mapping[value] = None
    if not mapping:
        return pl.Series(series.name, [None] * len(series), dtype=pl.String)
    return series.replace_strict(mapping, default=None, return_dtype=pl.String)


def redact_expr(expr: pl.Expr) -> pl.Expr:
    """Replace e-mail addresses and international phone numbers in a text column by ``[email]`` / ``[phone]``."""
    return expr.str.replace_all(EMAIL_PATTERN, "[email]").str.replace_all(PHONE_PATTERN, "[phone]")


# --- reading ----------------------------------------------------------------------------------------------------


@contextmanager
def export_transaction(conn: psycopg.Connection, role: str | None) -> Iterator[psycopg.Connection]:
    """A ``READ ONLY``, ``REPEATABLE READ`` transaction under ``SET LOCAL ROLE role`` (none when ``role`` is None).

    The role and the session settings (UTC, ISO dates, which the CSV decoding relies on) are local to the
    transaction, so a pooled connection goes back to the pool as it came.
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ExportError("the export needs a connection that is not inside a transaction")
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute("SET LOCAL TimeZone = 'UTC'")
        conn.execute("SET LOCAL DateStyle = 'ISO, YMD'")
        if role:
            try:
                with conn.transaction():  # a savepoint, so the error below leaves a usable transaction to close
                    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            except (psycopg.errors.InvalidParameterValue, psycopg.errors.InsufficientPrivilege) as exc:
                raise ExportError(
                    f"cannot assume the export role {role!r} ({exc.diag.message_primary}): run `rfq-pipeline db "
                    f"migrate`, grant it to this login (GRANT {role} TO <login>), or set RFQ_EXPORT_ROLE empty"
                ) from exc
        yield conn


def day_window(day: date) -> dict[str, Any]:
    """The query parameters of a day: ``start``/``end`` (UTC midnight to midnight) and ``day``."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {"start": start, "end": start + timedelta(days=1), "day": day}


# PostgreSQL's ISO output under TimeZone UTC; an explicit format parses about three times faster than letting the
# CSV reader infer one per column.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S%.f%#z"


def _read_dtype(column: Column) -> pl.DataType:
    # Booleans arrive as t/f, timestamps as ISO text and nested values as JSON text; polars parses the rest itself.
    if column.dtype == pl.Boolean or isinstance(column.dtype, pl.List | pl.Struct | pl.Datetime):
        return pl.String()
    return column.dtype


def _decode(column: Column) -> pl.Expr:
    expr = pl.col(column.name)
    if isinstance(column.dtype, pl.Datetime):
        expr = expr.str.to_datetime(TIMESTAMP_FORMAT, time_unit="us", time_zone="UTC")
    elif column.dtype == pl.Boolean:
        expr = expr.replace_strict({"t": True, "f": False}, default=None, return_dtype=pl.Boolean)
    elif isinstance(column.dtype, pl.List | pl.Struct):
        expr = expr.str.json_decode(column.dtype)
    if column.treatment == "redact":
        expr = redact_expr(expr)
    return expr.cast(column.dtype).alias(column.name)


def _copy_csv(conn: psycopg.Connection, spec: TableSpec, params: dict[str, Any]) -> bytes:
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(sql.SQL(spec.sql.strip()))
    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(statement, params) as copy:
        for chunk in copy:
            buffer.write(chunk)
    return buffer.getvalue()


def read_table(conn: psycopg.Connection, spec: TableSpec, day: date, options: ExportOptions) -> pl.DataFrame:
    """One table's rows for ``day`` as a frame of exactly ``spec.schema``, personal data already pseudonymized.

    Call inside :func:`export_transaction`. A table the options do not allow is returned empty, unread.
    """
    if not options.allows(spec):
        return pl.DataFrame(schema=spec.schema)
    data = _copy_csv(conn, spec, day_window(day))
    header, _, body = data.partition(b"\n")
    names = header.decode().split(",")
    expected = [c.name for c in spec.columns]
    if names != expected:
        raise ExportError(f"{spec.name}: the query returns {names}, the spec lists {expected}")
    if not body.strip():
        return pl.DataFrame(schema=spec.schema)
    raw = pl.read_csv(
        io.BytesIO(data),
        has_header=True,
        schema={c.name: _read_dtype(c) for c in spec.columns},
        infer_schema=False,
    )
    frame = raw.select([_decode(c) for c in spec.columns])
    hashed = [
        _hash_series(frame.get_column(c.name), options.salt, c.treatment)
        for c in spec.columns
        if c.treatment in _NORMALIZERS
    ]
    if hashed:
        frame = frame.with_columns(hashed)
    return frame


def to_parquet(frame: pl.DataFrame, spec: TableSpec, day: date, exported_at: datetime) -> bytes:
    """The frame as Parquet (zstd) with the export's version, table, day and time in the file metadata."""
    buffer = io.BytesIO()
    frame.write_parquet(
        buffer,
        compression="zstd",
        statistics=True,
        metadata={
            "rfq_export.schema_version": str(SCHEMA_VERSION),
            "rfq_export.table": spec.name,
            "rfq_export.date": day.isoformat(),
            "rfq_export.exported_at": exported_at.isoformat(),
        },
    )
    return buffer.getvalue()


# --- export -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableExport:
    """One table's file for one day."""

    table: str
    day: date
    rows: int
    bytes: int
    key: str
    uri: str


@dataclass
class ExportReport:
    """What exporting one day wrote."""

    day: date
    exported_at: datetime
    tables: list[TableExport] = field(default_factory=list)
    read_seconds: float = 0.0
    write_seconds: float = 0.0

    @property
    def rows(self) -> int:
        """Rows over every table of the day."""
        return sum(t.rows for t in self.tables)

    def render(self) -> str:
        """One line per table: rows and bytes."""
        lines = [f"{self.day.isoformat()}: {self.rows} rows in {len(self.tables)} tables"]
        lines += [f"  {t.table:<20} {t.rows:>9} rows {t.bytes:>11} bytes" for t in self.tables]
        return "\n".join(lines)


def export_day(
    db: Database,
    store: ObjectStore,
    day: date,
    *,
    tables: Iterable[str | TableSpec] = ALL,
    options: ExportOptions | None = None,
) -> ExportReport:
    """Export ``day`` of every table in ``tables`` to ``exports/<table>/date=<day>/data.parquet`` in ``store``.

    All tables are read from one snapshot and encoded before the first file is put, so a failure while reading
    leaves the day's previous files as they were; re-running a day replaces its files.
    """
    options = options or ExportOptions.from_settings(Settings.from_env())
    specs = resolve_tables(tables)
    exported_at = datetime.now(UTC)
    report = ExportReport(day=day, exported_at=exported_at)
    staged: list[tuple[TableSpec, int, bytes]] = []
    started = time.perf_counter()
    with db.connection() as conn, export_transaction(conn, options.role):
        for spec in specs:
            frame = read_table(conn, spec, day, options)
            staged.append((spec, frame.height, to_parquet(frame, spec, day, exported_at)))
    report.read_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for spec, rows, data in staged:
        key = object_key(spec.name, day.isoformat())
        uri = store.put(key, data, content_type=PARQUET_CONTENT_TYPE)
        report.tables.append(TableExport(spec.name, day, rows, len(data), key, uri))
    report.write_seconds = time.perf_counter() - started
    log.info("exported %s: %d rows in %d tables", day, report.rows, len(report.tables))
    return report


def export_root(store: ObjectStore) -> str:
    """The root the DuckDB views read from: the local store's directory, or ``s3://<bucket>``."""
    root = getattr(store, "root", None)
    if root is not None:
        return Path(root).resolve().as_posix()
    bucket = getattr(store, "bucket", None)
    if bucket:
        return f"s3://{bucket}"
    raise ExportError(f"cannot tell where {type(store).__name__} keeps its objects (no root directory or bucket)")


# --- DuckDB -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableMeta:
    """What the DuckDB file's view of one table holds."""

    table: str
    rows: int
    days: int
    first_day: date | None
    last_day: date | None
    exported_at: datetime | None  # the newest export time among the table's files
    file_schema_versions: str  # the schema versions the files were written with, e.g. "1" or "1,2"


@dataclass
class BuildReport:
    """What :func:`build_duckdb` wrote."""

    path: Path
    built_at: datetime
    tables: dict[str, TableMeta] = field(default_factory=dict)

    def render(self) -> str:
        """One line per view."""
        lines = [f"duckdb: {self.path} ({len(self.tables)} views, schema version {SCHEMA_VERSION})"]
        for meta in self.tables.values():
            span = f"{meta.first_day} .. {meta.last_day}" if meta.first_day else "no days"
            lines.append(f"  {meta.table:<20} {meta.rows:>9} rows {meta.days:>5} days  {span}")
        return "\n".join(lines)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _root_text(store_root_or_uri: str | Path) -> str:
    text = str(store_root_or_uri)
    if "://" in text and not text.startswith("file://"):
        return text.rstrip("/")  # s3://bucket[/prefix]: DuckDB's httpfs reads it
    return Path(text.removeprefix("file://")).resolve().as_posix()


def _parquet_source(pattern: str) -> str:
    return (
        f"read_parquet({_literal(pattern)}, hive_partitioning = true, union_by_name = true, "
        "hive_types = {'date': DATE})"
    )


def _files_columns(con: duckdb.DuckDBPyConnection, pattern: str) -> set[str] | None:
    """The columns the table's files have, or ``None`` when there are no files yet."""
    try:
        relation = con.read_parquet(pattern, hive_partitioning=True, union_by_name=True)
    except duckdb.IOException as exc:
        if "No files found" in str(exc):
            return None
        raise
    return set(relation.columns)


def _create_view(con: duckdb.DuckDBPyConnection, spec: TableSpec, root: str) -> bool:
    """Create the table's view; ``False`` when it has no files yet (the view is then empty)."""
    pattern = f"{root}/exports/{spec.name}/*/*.parquet"
    present = _files_columns(con, pattern)
    # The view names the spec's columns: a column added after some days were exported reads NULL on those days, and
    # a table never exported is an empty view of the right types rather than a missing one.
    items = [
        _ident(c.name)
        if present is not None and c.name in present
        else f"CAST(NULL AS {duckdb_type(c.dtype)}) AS {_ident(c.name)}"
        for c in spec.columns
    ]
    if present is None:
        body = f"{', '.join(items)}, CAST(NULL AS DATE) AS {_ident('date')} WHERE false"
    else:
        body = f"{', '.join(items)}, {_ident('date')} FROM {_parquet_source(pattern)}"
    con.execute(f"CREATE VIEW {_ident(spec.name)} AS SELECT {body}")
    return present is not None


def _table_meta(con: duckdb.DuckDBPyConnection, spec: TableSpec, root: str, has_files: bool) -> TableMeta:
    (rows,) = con.view(spec.name).aggregate("count(*)").fetchall()[0]
    days, first, last, exported_at, versions = 0, None, None, None, ""
    if has_files:
        # The days come from the files' own metadata, so a day exported with zero rows still counts as exported.
        # DuckDB's FROM-first form: the project's SQL scan prepares every literal that starts with SELECT against
        # PostgreSQL, and this statement is DuckDB's.
        days, first, last, exported_at, versions = con.execute(
            """
            FROM (FROM parquet_kv_metadata(?) SELECT decode(key) AS k, decode(value) AS v)
            SELECT count(DISTINCT v) FILTER (WHERE k = 'rfq_export.date'),
                   min(v) FILTER (WHERE k = 'rfq_export.date'),
                   max(v) FILTER (WHERE k = 'rfq_export.date'),
                   max(v) FILTER (WHERE k = 'rfq_export.exported_at'),
                   string_agg(DISTINCT v, ',' ORDER BY v) FILTER (WHERE k = 'rfq_export.schema_version')
            """,
            [f"{root}/exports/{spec.name}/*/*.parquet"],
        ).fetchall()[0]
    return TableMeta(
        table=spec.name,
        rows=int(rows),
        days=int(days or 0),
        first_day=date.fromisoformat(first) if first else None,
        last_day=date.fromisoformat(last) if last else None,
        exported_at=datetime.fromisoformat(exported_at) if exported_at else None,
        file_schema_versions=versions or "",
    )


def build_duckdb(
    store_root_or_uri: str | Path, path: str | Path, *, tables: Iterable[str | TableSpec] = ALL
) -> BuildReport:
    """(Re)build the DuckDB file at ``path``: one view per table over every exported day, and ``export_meta``.

    ``store_root_or_uri`` is the exports store's root (a directory, or ``s3://bucket``; see :func:`export_root`).
    The file is written beside ``path`` and renamed over it, so a reader of the old file is never disturbed.
    """
    specs = resolve_tables(tables)
    root = _root_text(store_root_or_uri)
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    report = BuildReport(path=target, built_at=datetime.now(UTC))
    try:
        con = duckdb.connect(str(tmp))
        try:
            has_files = {spec.name: _create_view(con, spec, root) for spec in specs}
            con.execute(
                f"CREATE TABLE {META_TABLE} (table_name VARCHAR PRIMARY KEY, schema_version INTEGER, "
                "file_schema_versions VARCHAR, rows BIGINT, days BIGINT, first_day DATE, last_day DATE, "
                "exported_at TIMESTAMPTZ, built_at TIMESTAMPTZ, description VARCHAR)"
            )
            meta = con.table(META_TABLE)
            for spec in specs:
                entry = _table_meta(con, spec, root, has_files[spec.name])
                report.tables[spec.name] = entry
                meta.insert(
                    [
                        spec.name,
                        SCHEMA_VERSION,
                        entry.file_schema_versions,
                        entry.rows,
                        entry.days,
                        entry.first_day,
                        entry.last_day,
                        entry.exported_at,
                        report.built_at,
                        spec.description,
                    ]
                )
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return report


def default_duckdb_path(settings: Settings) -> Path:
    """Where the analysts' DuckDB file lives: ``RFQ_EXPORT_DUCKDB_PATH`` or ``<data dir>/exports/analytics.duckdb``."""
    return settings.export_duckdb_path or settings.data_dir / "exports" / "analytics.duckdb"


__all__ = [
    "ALL",
    "TABLES",
    "BuildReport",
    "ExportError",
    "ExportOptions",
    "ExportReport",
    "TableExport",
    "TableMeta",
    "build_duckdb",
    "default_duckdb_path",
    "export_day",
    "export_root",
    "export_transaction",
    "installation_salt",
    "pseudonym",
    "read_table",
    "redact_expr",
]
