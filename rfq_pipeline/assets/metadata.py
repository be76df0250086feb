"""Helpers that turn results into the metadata a person wants to see in the Dagster UI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, limit: int = 10) -> dg.MetadataValue:
    """A markdown preview of the first ``limit`` rows (cells shortened, pipes escaped)."""

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        text = " ".join(text.split()).replace("|", "\\|")
        return text if len(text) <= 60 else text[:57] + "..."

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows[:limit]]
    if not rows:
        lines.append("| " + " | ".join("" for _ in columns) + " |")
    return dg.MetadataValue.md("\n".join(lines))


def counts_table(counts: Mapping[str, int], key: str, *, limit: int = 15) -> dg.MetadataValue:
    """A two-column markdown table of the largest counts."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:limit]
    return markdown_table([{key: k, "rows": v} for k, v in ordered], [key, "rows"], limit=limit)
