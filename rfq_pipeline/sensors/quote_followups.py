"""Drafts nobody acted on: expire them after their validity, remind at 24 h, escalate at 48 h.

The sensor launches no run; each tick is one :func:`rfq_pipeline.quotes.workflow.sweep`. Follow-ups go to the quotes
Slack channel when ``RFQ_QUOTES_SLACK_WEBHOOK_URL`` (or ``RFQ_SLACK_WEBHOOK_URL``) is set, else to the log; a
follow-up is recorded as sent only once delivered, so a Slack outage delays it rather than losing it.
"""


import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from rfq_pipeline.quotes.store import FollowUp
from rfq_pipeline.resources import HttpClientResource, PostgresResource
from rfq_pipeline.settings import Settings

log = logging.getLogger(__name__)


def followup_text(followup: FollowUp, draft: dict[str, Any]) -> str:
    """The message for one follow-up: which draft, for whom, how long it has waited, and the command to act."""
    waited = "24 hours" if followup.kind == "reminder" else "48 hours"
    who = draft.get("buyer_company") or f"RFQ {draft['rfq_id']}"
    total = f"{draft['currency']} {draft['total']}" if draft.get("total") is not None else "no priced lines"
    prefix = "Reminder" if followup.kind == "reminder" else "ESCALATION"
    return (
        f"{prefix}: quote draft #{draft['id']} for {who} ({total}) has waited {waited} for a decision. "
        f"`rfq-pipeline quote approve {draft['id']}` or `rfq-pipeline quote reject {draft['id']}`."
    )


def slack_notifier(webhook_url: str | None, client: Any, logger: logging.Logger | None = None):
    """A notifier posting to ``webhook_url`` through the shared client, or logging when there is none."""
    logger = logger or log

    def notify(followup: FollowUp, draft: dict[str, Any]) -> bool:
        text = followup_text(followup, draft)
        if not webhook_url:
            logger.warning(text)
            return True
        response = client.post(webhook_url, json_body={"text": text})
        if not response.ok:
            # The webhook URL is a secret: only the status goes to the log.
            logger.error(
                f"follow-up for draft {followup.draft_id} not delivered: {response.status or response.outcome}"
            )
        return response.ok

    return notify


@dg.sensor(
    name="quote_followups_sensor",
    minimum_interval_seconds=900,
    default_status=dg.DefaultSensorStatus.RUNNING
    if Settings.from_env().schedules_running
    else dg.DefaultSensorStatus.STOPPED,
    description="Expires quote drafts past their validity and sends the 24 h reminders and 48 h escalations for "
    "drafts nobody acted on.",
)
def quote_followups_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, http: HttpClientResource
) -> dg.SkipReason:
    """One sweep; the tick's reason says what it did."""
    from rfq_pipeline.quotes.workflow import sweep

    settings = Settings.from_env()
    client = http.get_client(settings.http_impersonate or "chrome")
    try:
        with postgres.db.connection() as conn:
            result = sweep(
                conn,
                datetime.now(UTC),
                slack_notifier(settings.quotes_slack_webhook_url, client, context.log),
                validity=timedelta(days=settings.quote_validity_days),
                actor="quote_followups_sensor",
            )
    finally:
        client.close()
    return dg.SkipReason(
        f"expired {len(result.expired)}, sent {len(result.notified)} follow-ups, {len(result.failed)} not delivered"
    )


quote_sensors = [quote_followups_sensor]
