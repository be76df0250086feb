"""``rfq-pipeline classify --input IN.jsonl --output OUT.jsonl``: the local classifier for analysts and evaluation.

Each input line is a JSON object with ``id`` and ``title`` (``description``, ``quantity`` and ``country`` optional);
each output line has ``id``, ``industry``, ``relevant``, ``intent`` and ``quality``. A line that is not such an
object is reported with its line number and skipped; every good line is still classified.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rfq_pipeline.ai.labels import RfqText

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


def parse_line(line: str, number: int) -> RfqText:
    """One input line as an ``RfqText``; raises ``ValueError`` naming the line for anything unusable."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"line {number}: not JSON ({exc.msg})") from exc
    if not isinstance(record, dict):
        raise ValueError(f"line {number}: expected a JSON object")
    if record.get("id") in (None, ""):
        raise ValueError(f"line {number}: missing 'id'")
    if not isinstance(record.get("title", ""), str):
        raise ValueError(f"line {number}: 'title' must be a string")
    return RfqText(
        id=_text(record["id"]),
        title=_text(record.get("title")),
        description=_text(record.get("description")),
        quantity=_text(record.get("quantity")),
        country=_text(record.get("country")),
    )


def _batches(path: Path, report: ClassifyReport) -> Iterator[list[RfqText]]:
    batch: list[RfqText] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                batch.append(parse_line(line, number))
            except ValueError as exc:
                report.errors.append(str(exc))
                continue
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
    tmp = output_path.with_name(output_path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as out:
            for batch in _batches(input_path, report):
                for labels in classifier.classify(batch):
                    out.write(json.dumps(labels.as_output(), ensure_ascii=False) + "\n")
                    report.classified += 1
                    report.relevant += labels.relevant
                    report.industries[labels.industry] += 1
    except BaseException:
        tmp.unlink(missing_ok=True)  # no half-written output next to the real one
        raise
    tmp.replace(output_path)
    report.seconds = time.perf_counter() - started
    return report
