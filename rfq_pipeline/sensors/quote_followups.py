"""Drafts nobody acted on: expire them after their validity, remind at 24 h, escalate at 48 h.

The sensor launches no run; each tick is one :func:`rfq_pipeline.quotes.workflow.sweep`. Follow-ups go to the quotes
Slack channel when ``RFQ_QUOTES_SLACK_WEBHOOK_URL`` (or ``RFQ_SLACK_WEBHOOK_URL``) is set, as a message with signed,
single-use desk buttons (approve, when the draft is ready, and open); the escalation says it goes to the sales lead.
Without a webhook they go to the log, without links. A follow-up is recorded as sent only once delivered, so a Slack
outage delays it rather than losing it.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import psycopg

from rfq_pipeline.quotes.store import FollowUp
from rfq_pipeline.resources import HttpClientResource, PostgresResource
from rfq_pipeline.settings import Settings

log = logging.getLogger(__name__)


def followup_text(followup: FollowUp, draft: dict[str, Any]) -> str:
    """The log line for one follow-up when there is no Slack channel: which draft, for whom, how long it has waited,
    and the command to act."""
    waited = "24 hours" if followup.kind == "reminder" else "48 hours"
    who = draft.get("buyer_company") or f"RFQ {draft['rfq_id']}"
    total = f"{draft['currency']} {draft['total']}" if draft.get("total") is not None else "no priced lines"
    prefix = "Reminder" if followup.kind == "reminder" else "ESCALATION to the sales lead"
    return (
        f"{prefix}: quote draft #{draft['id']} for {who} ({total}) has waited {waited} for a decision. "
        f"`rfq-pipeline quote approve {draft['id']}` or `rfq-pipeline quote reject {draft['id']}`."
    )


def followup_notifier(
    conn: psycopg.Connection,
    settings: Settings,
    client: Any,
    now: datetime,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> Callable[[FollowUp, dict[str, Any]], bool]:
    """A notifier posting each follow-up with its desk buttons to the quotes webhook, or logging it when there is
    none. Links are minted on ``conn`` (committed before the post) and valid from ``now``."""
    from rfq_pipeline.quotes.dispatch import SlackWebhook, post_review

    logger = logger or log
    slack = SlackWebhook(settings.quotes_slack_webhook_url, client) if settings.quotes_slack_webhook_url else None

    def notify(followup: FollowUp, draft: dict[str, Any]) -> bool:
        if slack is None:
            logger.warning(followup_text(followup, draft))
            return True
        result = post_review(conn, settings, slack, draft, followup.kind, now=now)
        if not result.delivered:
            # The detail is scrubbed of the webhook URL and carries no link.
            logger.error(f"{followup.kind} for draft {followup.draft_id} not delivered: {result.detail}")
        return result.delivered

    return notify


@dg.sensor(
    name="quote_followups_sensor",
    minimum_interval_seconds=900,
    default_status=dg.DefaultSensorStatus.RUNNING
    if Settings.from_env().schedules_running
    else dg.DefaultSensorStatus.STOPPED,
    description="Expires quote drafts past their validity and sends the 24 h reminders and 48 h escalations (with "
    "approve/open buttons into the desk) for drafts nobody acted on.",
)
def quote_followups_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, http: HttpClientResource
) -> dg.SkipReason:
    """One sweep; the tick's reason says what it did."""
    from rfq_pipeline.quotes.workflow import sweep

    settings = Settings.from_env()
    client = http.get_client(settings.http_impersonate or "chrome")
    now = datetime.now(UTC)
    try:
        with postgres.db.connection() as conn:
            result = sweep(
                conn,
                now,
                followup_notifier(conn, settings, client, now, context.log),
                validity=timedelta(days=settings.quote_validity_days),
                actor="quote_followups_sensor",
            )
    finally:
        client.close()
    return dg.SkipReason(
        f"expired {len(result.expired)}, sent {len(result.notified)} follow-ups, {len(result.failed)} not delivered"
    )


quote_sensors = [quote_followups_sensor]
