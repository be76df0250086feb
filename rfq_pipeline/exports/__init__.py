"""Analyst exports: daily Parquet files of the pipeline's tables, pseudonymized, and a DuckDB file over them.

``tables`` holds the typed table specs and the personal-data policy, ``writer`` the export and the DuckDB build,
``cli`` the ``rfq-pipeline export`` and ``rfq-pipeline sql`` commands.
"""

from rfq_pipeline.exports.tables import ALL, SCHEMA_VERSION, TABLES, Column, TableSpec
from rfq_pipeline.exports.writer import (
    BuildReport,
    ExportError,
    ExportOptions,
    ExportReport,
    build_duckdb,
    export_day,
    export_root,
)

__all__ = [
    "ALL",
    "SCHEMA_VERSION",
    "TABLES",
    "BuildReport",
    "Column",
    "ExportError",
    "ExportOptions",
    "ExportReport",
    "TableSpec",
    "build_duckdb",
    "export_day",
    "export_root",
]
