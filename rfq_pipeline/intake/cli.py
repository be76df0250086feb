"""``rfq-pipeline intake parse-email FILE.eml``: print what the intake reads from one message, as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from rfq_pipeline.intake.email_rfq import to_json
from rfq_pipeline.intake.mime import DEFAULT_MAX_ATTACHMENT_BYTES, DEFAULT_MAX_MESSAGE_BYTES, parse_email


def parse_email_command(
    path: Path,
    *,
    out: TextIO | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
) -> int:
    """Print the parsed message as JSON. Exit status: 0 parsed, 1 parsed with ``error`` set, 2 file unreadable."""
    out = out or sys.stdout
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    parsed = parse_email(raw, max_message_bytes=max_message_bytes, max_attachment_bytes=max_attachment_bytes)
    print(json.dumps(to_json(parsed), ensure_ascii=False, indent=2), file=out)
    return 1 if parsed.error else 0
