"""``imports/archives``: archives uploaded under ``imports/<source>/`` loaded as RFQs of that loader source.

The uploads sensor records each archive (bucket/key@etag: a re-upload of the same bytes is not imported twice) and
requests a run of this asset for it. The run loads the rows (idempotent on source and external id, bad rows
reported by line and column) and records the posting days they cover; ``import_stages_sensor`` then requests one
run of normalize -> classify -> embed -> clusters over those days (single-run backfill policy).
"""

from collections.abc import Iterator

import dagster as dg

from rfq_pipeline.assets.intake import DOWNSTREAM
from rfq_pipeline.assets.metadata import markdown_table
from rfq_pipeline.imports.loader import ImportReport, import_archives
from rfq_pipeline.imports.objects import archive_key, fetched
from rfq_pipeline.intake import store
from rfq_pipeline.intake.processing import ObjectRef
from rfq_pipeline.resources import ObjectStoreResource, PostgresResource
from rfq_pipeline.store.object_store import ObjectStoreError

IMPORTS_KEY = dg.AssetKey(["imports", "archives"])
ROWS_CHECK = "rows_loaded"
# The same stages an intake run takes a mail or a document through.
STAGE_KEYS = DOWNSTREAM
IMPORT_TAG = "rfq/import"
ARCHIVE_COLUMNS = ["archive", "source", "layout", "read", "new", "changed", "bad", "days", "error"]


class ImportBatch(dg.Config):
    """The recorded import requests (``intake_requests.request_key``) this run loads."""

    request_keys: list[str]


def _import_one(
    request: dict, postgres: PostgresResource, uploads: ObjectStoreResource
) -> tuple[ImportReport | None, str | None]:
    ref = ObjectRef.from_payload(request["payload"])
    try:
        archive = archive_key(ref.key)
        with fetched(uploads.get_store(), archive) as (local, mapping):
            return import_archives(postgres.db, [local], archive.source, mapping), None
    except ValueError as exc:  # a bad key, format, mapping or source name (all ValueErrors), refused with the reason
        return None, str(exc)
    except KeyError:  # deleted between the sensor's listing and this run
        return None, f"{ref.key}: no longer in the uploads store"
    except ObjectStoreError as exc:
        return None, f"{ref.key}: could not be read from the uploads store ({exc})"


@dg.asset(
    key=IMPORTS_KEY,
    group_name="intake",
    kinds={"s3", "postgres"},
    owners=["team:data-acquisition"],
    tags={IMPORT_TAG: "archive"},
    description="Archives of past RFQs (CSV, JSONL, Parquet, Excel) uploaded under imports/<source>/, loaded as RFQs "
    "of that loader source.",
    check_specs=[
        dg.AssetCheckSpec(ROWS_CHECK, asset=IMPORTS_KEY, description="Every row of every archive of the run loaded.")
    ],
)
def imports_archives(
    context: dg.AssetExecutionContext, config: ImportBatch, postgres: PostgresResource, uploads: ObjectStoreResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Load the archives named in the run config; a refused archive is recorded as failed with the reason."""
    with postgres.db.connection() as conn:
        requests = store.requests_by_key(conn, "import", config.request_keys)
    rows: list[dict[str, object]] = []
    ranges: set[tuple[str, str]] = set()
    bad: list[dict[str, object]] = []
    failed = 0
    for request in requests:
        report, refusal = _import_one(request, postgres, uploads)
        key = ObjectRef.from_payload(request["payload"]).key
        with postgres.db.connection() as conn:
            store.finish_request(
                conn, "import", request["request_key"], "failed" if refusal else "done", refusal, context.run.run_id
            )
        if report is None:
            failed += 1
            context.log.warning(f"import of {key} refused: {refusal}")
            rows.append({"archive": key, "error": refusal})
            continue
        ranges.update((low.isoformat(), high.isoformat()) for low, high in report.day_ranges())
        bad.extend({"archive": key, "line": e.line, "column": e.column, "error": e.message} for e in report.errors)
        rows.append(
            {"archive": key, "source": report.source, "layout": ",".join(report.layouts), "read": report.rows_read,
             "new": report.inserted, "changed": report.changed, "unchanged": report.unchanged, "bad": report.bad_rows,
             "days": f"{report.first_day} .. {report.last_day}"}
        )  # fmt: skip
    bad_rows = sum(int(r.get("bad", 0) or 0) for r in rows)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(int(r.get("read", 0) or 0) for r in rows),
            "archives": markdown_table(rows, ARCHIVE_COLUMNS),
            "new_rfqs": sum(int(r.get("new", 0) or 0) for r in rows),
            "bad_rows": bad_rows,
            "bad_rows_preview": markdown_table(bad[:20], ["archive", "line", "column", "error"]),
            # Read by import_stages_sensor: the days to run the stages for.
            "day_ranges": dg.MetadataValue.json(sorted(ranges)),
        }
    )
    yield dg.AssetCheckResult(
        check_name=ROWS_CHECK,
        passed=bad_rows == 0 and failed == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"bad_rows": bad_rows, "archives_refused": failed},
    )


import_archives_job = dg.define_asset_job(
    "import_archives_job",
    selection=dg.AssetSelection.assets(IMPORTS_KEY),
    tags={IMPORT_TAG: "archive"},
    description="Archives uploaded under imports/ (requested by uploads_sensor), loaded as RFQs of their source.",
)
import_stages_job = dg.define_asset_job(
    "import_stages_job",
    selection=dg.AssetSelection.assets(*STAGE_KEYS),
    tags={IMPORT_TAG: "stages"},
    description="normalize -> classify -> embed -> clusters over the days an import covered, in one run.",
)


def import_run_config(request_keys: list[str]) -> dict:
    """The run config of an import run over ``request_keys``."""
    return {"ops": {"imports__archives": {"config": {"request_keys": request_keys}}}}


import_assets = [imports_archives]
import_jobs = [import_archives_job, import_stages_job]
