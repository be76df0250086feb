"""``rfq-pipeline classify --input IN.jsonl --output OUT.jsonl``: the local classifier for analysts and evaluation.

Each input line is a JSON object with ``id`` and ``title`` (``description``, ``quantity`` and ``country`` optional);
each output line has ``id``, ``industry``, ``relevant``, ``intent`` and ``quality``. A line that is not such an
object is reported with its line number and skipped; every good line is still classified.
"""

from __future__ import annotations

import errno
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rfq_pipeline.ai.labels import RfqText
from rfq_pipeline.jsonl import iter_records, write_records

BATCH = 2000


@dataclass
class ClassifyReport:
    """What one CLI run did."""

    classified: int = 0
    relevant: int = 0
    seconds: float = 0.0
    model_version: str = ""
    errors: list[str] = field(default_factory=list)
    industries: Counter[str] = field(default_factory=Counter)

    def render(self) -> str:
        """The summary printed on stderr."""
        rate = f"{self.classified / self.seconds:.0f} RFQs/s" if self.seconds else "-"
        lines = [
            f"classified {self.classified} RFQs ({self.relevant} relevant) with {self.model_version} in "
            f"{self.seconds:.1f}s ({rate})"
        ]
        lines += [f"error: {e}" for e in self.errors[:20]]
        if len(self.errors) > 20:
            lines.append(f"... and {len(self.errors) - 20} more errors")
        return "\n".join(lines)


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def check_record(record: dict[str, Any]) -> None:
    """Refuse a record the classifier cannot read (``ValueError``)."""
    if not isinstance(record.get("title", ""), str):
        raise ValueError("'title' must be a string")


def rfq_text(record: dict[str, Any]) -> RfqText:
    """One checked input record as an ``RfqText``."""
    return RfqText(
        id=_text(record["id"]),
        title=_text(record.get("title")),
        description=_text(record.get("description")),
        quantity=_text(record.get("quantity")),
        country=_text(record.get("country")),
    )


def _batches(path: Path, report: ClassifyReport) -> Iterator[list[RfqText]]:
    batch: list[RfqText] = []
    for record in iter_records(path, report.errors, check_record):
        batch.append(rfq_text(record))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def classify_jsonl(input_path: Path, output_path: Path) -> ClassifyReport:
    """Classify every good line of ``input_path`` into ``output_path`` (written aside, then renamed)."""
    from rfq_pipeline.ai.classifier import local_classifier

    if not input_path.is_file():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(input_path))
    classifier = local_classifier()
    report = ClassifyReport(model_version=classifier.model_version)
    started = time.perf_counter()

    def rows() -> Iterator[dict[str, Any]]:
        for batch in _batches(input_path, report):
            for labels in classifier.classify(batch):
                report.classified += 1
                report.relevant += labels.relevant
                report.industries[labels.industry] += 1
                yield labels.as_output()

    write_records(output_path, rows())
    report.seconds = time.perf_counter() - started
    return report
