"""``rfq-pipeline import FILE... --source NAME [--mapping MAP.yaml]``: load archives of past RFQs, then run the
stages for the days they cover."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rfq_pipeline.imports.mapping import MappingError, load_mapping
from rfq_pipeline.imports.readers import UnsupportedFile


class _Bars:
    """One progress bar per phase (read, load) on stderr, with rows/s and the time left."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict[str, object] = {}

    def __call__(self, phase: str, done: int, expected: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(phase)
        if bar is None:
            label = {"read": "reading", "load": "loading"}.get(phase, phase)
            bar = self.bars[phase] = tqdm(total=expected, desc=label, unit="rows", unit_scale=True, file=sys.stderr)
        bar.total = max(expected, done)  # type: ignore[attr-defined]
        bar.update(done - bar.n)  # type: ignore[attr-defined]
        if done >= expected:
            bar.close()  # type: ignore[attr-defined]

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()  # type: ignore[attr-defined]


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``import`` command."""
    parser = sub.add_parser(
        "import",
        help="load archives of past RFQs (CSV, JSONL, Parquet, Excel) as a loader source, then classify and cluster",
        description=(
            "Load past RFQs as RFQs of the loader source NAME, idempotent on (NAME, external id), and run "
            "normalize, classify, embed and clusters for the days they were posted. Known layouts (the Alibaba "
            "RFQ-board CSV, go4WorldBusiness JSON lines, this project's rfqs export) are recognised by their "
            "columns; any other file needs --mapping. Bad rows are reported by line and column; the rest load."
        ),
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--source", required=True, metavar="NAME", help="the loader source the rows belong to")
    parser.add_argument("--mapping", type=Path, metavar="MAP.yaml", help="columns per field (see docs/operating.md)")
    parser.add_argument("--errors", type=Path, metavar="FILE", help="write every bad row (file:line: column: why)")
    parser.add_argument("--no-stages", action="store_true", help="load only; the stages run on their schedule")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The ``import`` command: exit 0 when every row loaded, 1 when some were bad or a stage failed, 2 on refusal."""
    from rfq_pipeline.db import migrations
    from rfq_pipeline.db.database import Database, resolve_database_url
    from rfq_pipeline.imports.loader import ImportRefused, import_archives
    from rfq_pipeline.settings import Settings

    bars = _Bars(enabled=not args.quiet and sys.stderr.isatty())
    try:
        mapping = load_mapping(args.mapping) if args.mapping else None
        settings = Settings.from_env()
        url = resolve_database_url(settings)
        migrations.migrate(url, settings.migrations_dir)
        with Database(url, min_size=1, max_size=2) as db:
            report = import_archives(db, args.files, args.source, mapping, progress=bars)
    except (MappingError, UnsupportedFile, ImportRefused) as exc:
        print(f"import refused: {exc}", file=sys.stderr)
        return 2
    finally:
        bars.close()
    print(report.render())
    if args.errors:
        args.errors.write_text("".join(e.render() + "\n" for e in report.errors), encoding="utf-8")
        if report.bad_rows > len(report.errors):
            print(f"  {args.errors} lists the first {len(report.errors)} of {report.bad_rows} bad rows")
    stages_ok = True
    if not args.no_stages:
        from rfq_pipeline.imports.pipeline import run_stages

        for first, last in report.day_ranges():
            stages = run_stages(first, last)
            print(stages.render())
            stages_ok = stages_ok and (stages.success or stages.first_day is None)
    return 0 if report.bad_rows == 0 and stages_ok else 1
