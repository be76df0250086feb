"""``intake/email`` and ``intake/uploads``: RFQs from inbound mail and uploaded documents (thin wrappers).

Sensors record each object in ``intake_requests`` and request a run of these assets under a stable run key; the run
parses the objects named in its config and writes RFQs, thread updates or recorded failures. The jobs include the
downstream stages, so an e-mail becomes a normalized, classified, embedded and de-duplicated RFQ in one run. A reply
to one of our quotes or clarifying questions also drafts that quote's next version once the message is recorded.
"""

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg

from rfq_pipeline.assets.metadata import counts_table, markdown_table
from rfq_pipeline.intake import store
from rfq_pipeline.intake.processing import ObjectRef, process_email, process_upload
from rfq_pipeline.partitions import daily_partitions
from rfq_pipeline.resources import ObjectStoreResource, PostgresResource

EMAIL_KEY = dg.AssetKey(["intake", "email"])
UPLOADS_KEY = dg.AssetKey(["intake", "uploads"])
INTAKE_TAG = "rfq/intake"
PARSED_CHECK = "messages_parsed"
DOWNSTREAM = [
    dg.AssetKey(["rfqs", "normalized"]),
    dg.AssetKey(["rfqs", "classified"]),
    dg.AssetKey(["rfqs", "embedded"]),
    dg.AssetKey(["rfqs", "clusters"]),
]


class IntakeBatch(dg.Config):
    """The recorded requests (``intake_requests.request_key``) this run processes."""

    request_keys: list[str]


def _process(
    context: dg.AssetExecutionContext,
    kind: str,
    config: IntakeBatch,
    postgres: PostgresResource,
    objects: ObjectStoreResource,
    quote_pdfs: ObjectStoreResource | None = None,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    handler = process_email if kind == "email" else process_upload
    object_store = objects.get_store()
    outcomes: list[store.IntakeOutcome] = []
    failures: list[dict[str, str]] = []
    redrafts: list[dict[str, object]] = []
    with postgres.db.connection() as conn:
        requests = store.requests_by_key(conn, kind, config.request_keys)
    missing = sorted(set(config.request_keys) - {r["request_key"] for r in requests})
    for request in requests:
        ref = ObjectRef.from_payload(request["payload"])
        # One transaction per object: one bad message cannot roll back the others.
        with postgres.db.connection() as conn:
            try:
                outcome = handler(conn, object_store, ref, run_id=context.run.run_id)
            except Exception as exc:  # recorded as the request's failure, never lost
                conn.rollback()
                reason = f"{type(exc).__name__}: {exc}"
                store.finish_request(conn, kind, request["request_key"], "failed", reason, context.run.run_id)
                failures.append({"object": ref.key, "error": reason})
                context.log.warning(f"intake {kind} {ref.key} failed: {reason}")
                continue
            store.finish_request(
                conn, kind, request["request_key"], "done" if outcome.status != "failed" else "failed",
                outcome.error, context.run.run_id,
            )
        outcomes.append(outcome)
        if outcome.status == "failed":
            failures.append({"object": ref.key, "error": outcome.error or ""})
        if outcome.reply_to_draft is not None and quote_pdfs is not None:
            error = _redraft(outcome, postgres, quote_pdfs)
            if error:
                failures.append({"object": ref.key, "error": error})
                context.log.warning(f"redraft of quote draft {outcome.reply_to_draft} failed: {error}")
            redrafts.append({"draft": outcome.reply_to_draft, "message": outcome.message_key, "error": error})
    statuses = Counter(
        "thread_update" if o.joined_thread and o.status == "parsed" else o.status for o in outcomes
    )
    yield dg.MaterializeResult(
        asset_key=EMAIL_KEY if kind == "email" else UPLOADS_KEY,
        metadata={
            "dagster/row_count": sum(1 for o in outcomes if o.rfq_id is not None),
            "requests": len(config.request_keys),
            "outcomes": counts_table(statuses, "outcome"),
            "unknown_requests": len(missing),
            "failures": markdown_table(failures, ["object", "error"]),
            "quote_replies": markdown_table(redrafts, ["draft", "message", "error"]),
        },
    )
    yield dg.AssetCheckResult(
        asset_key=EMAIL_KEY if kind == "email" else UPLOADS_KEY,
        check_name=PARSED_CHECK,
        passed=not failures and not missing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"failed": len(failures), "unknown_requests": len(missing)},
    )


def _redraft(outcome: store.IntakeOutcome, postgres: PostgresResource, quote_pdfs: ObjectStoreResource) -> str:
    """The next version of the draft the reply answers, after its message is committed; the error, or ``""``."""
    from rfq_pipeline.quotes.versions import redraft_from_reply

    assert outcome.reply_to_draft is not None
    with postgres.db.connection() as conn:
        try:
            redraft_from_reply(
                conn,
                outcome.reply_to_draft,
                outcome.reply_text,
                message_id=outcome.message_key,
                now=datetime.now(UTC),
                pdf_store=quote_pdfs.get_store(),
            )
        except Exception as exc:  # the message stays recorded; a re-run of its request names the reply again
            conn.rollback()
            return f"{type(exc).__name__}: {exc}"
    return ""


@dg.asset(
    key=EMAIL_KEY,
    partitions_def=daily_partitions,
    group_name="intake",
    kinds={"s3", "sqs", "postgres"},
    owners=["team:data-acquisition"],
    tags={INTAKE_TAG: "email"},
    description="Inbound e-mail (SES -> S3 -> SQS): each message by Message-ID becomes an RFQ, a reply on an existing "
    "RFQ's thread, or a recorded parse failure; attachments stored and their text extracted. A reply to one of our "
    "quotes or clarifying questions drafts that quote's next version.",
    check_specs=[dg.AssetCheckSpec(PARSED_CHECK, asset=EMAIL_KEY, description="Every message of the run parsed.")],
)
def intake_email(
    context: dg.AssetExecutionContext,
    config: IntakeBatch,
    postgres: PostgresResource,
    raw_mime: ObjectStoreResource,
    quote_pdfs: ObjectStoreResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Parse the raw MIME objects named in the run config into RFQs; a reply to our mail redrafts its quote."""
    yield from _process(context, "email", config, postgres, raw_mime, quote_pdfs)


@dg.asset(
    key=UPLOADS_KEY,
    partitions_def=daily_partitions,
    group_name="intake",
    kinds={"s3", "postgres"},
    owners=["team:data-acquisition"],
    tags={INTAKE_TAG: "upload"},
    description="Documents buyers uploaded (PDF, DOCX, XLSX, CSV, images recorded only): text extracted into RFQs.",
    check_specs=[dg.AssetCheckSpec(PARSED_CHECK, asset=UPLOADS_KEY, description="Every document of the run read.")],
)
def intake_uploads(
    context: dg.AssetExecutionContext, config: IntakeBatch, postgres: PostgresResource, uploads: ObjectStoreResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Extract the uploaded documents named in the run config into RFQs."""
    yield from _process(context, "upload", config, postgres, uploads)


intake_email_job = dg.define_asset_job(
    "intake_email_job",
    selection=dg.AssetSelection.assets(EMAIL_KEY, *DOWNSTREAM),
    tags={INTAKE_TAG: "email"},
    description="One inbound e-mail (requested by inbound_mail_sensor) through every stage.",
)
intake_uploads_job = dg.define_asset_job(
    "intake_uploads_job",
    selection=dg.AssetSelection.assets(UPLOADS_KEY, *DOWNSTREAM),
    tags={INTAKE_TAG: "upload"},
    description="One uploaded document (requested by uploads_sensor) through every stage.",
)


def run_config_for(kind: str, request_keys: list[str]) -> dict:
    """The run config of an intake run over ``request_keys``."""
    op = "intake__email" if kind == "email" else "intake__uploads"
    return {"ops": {op: {"config": {"request_keys": request_keys}}}}


intake_assets = [intake_email, intake_uploads]
intake_jobs = [intake_email_job, intake_uploads_job]
