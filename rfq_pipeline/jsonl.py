"""JSON Lines input for the commands that take a file of RFQs (``classify``, ``dedup``).

One rule for both: blank lines are skipped; a line that is not a JSON object with a non-empty ``id`` is an error
naming its line number, collected so the good lines are still processed (or raised when no list is given).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def iter_records(
    path: Path, errors: list[str] | None = None, check: Callable[[dict[str, Any]], None] | None = None
) -> Iterator[dict[str, Any]]:
    """The objects of a JSONL file, in order; bad lines are appended to ``errors`` (or raised as ``ValueError``).

    ``check`` may refuse a record with a ``ValueError`` of its own; it is reported with the line number too.
    """
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"line {number}: not JSON ({exc.msg})") from exc
                if not isinstance(value, dict):
                    raise ValueError(f"line {number}: expected a JSON object")
                if value.get("id") in (None, ""):
                    raise ValueError(f"line {number}: missing 'id'")
                if check is not None:
                    try:
                        check(value)
                    except ValueError as exc:
                        raise ValueError(f"line {number}: {exc}") from exc
            except ValueError as exc:
                if errors is None:
                    raise
                errors.append(str(exc))
                continue
            yield value


def write_records(path: Path, rows: Any) -> None:
    """Write one JSON object per line, aside first and then renamed, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
