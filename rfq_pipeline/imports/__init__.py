"""Bulk import of RFQ archives (CSV, JSONL, Parquet, Excel) as RFQs of a loader source."""
