"""Sending an approved draft: one ``Dispatcher`` interface, adapters for Slack, HubSpot and a CSV sheet; and the
Slack messages that ask a person to act on a draft (a new draft, the 24 h reminder, the 48 h escalation) with signed,
single-use buttons into the desk.

Every adapter reports a :class:`DispatchResult` instead of raising for the failures it expects (an HTTP error, a
network error), and :func:`dispatch_all` turns anything else an adapter raises into a failed result, so one broken
channel never stops the others and the caller can record every outcome.

Secrets stay out of results, reprs and logs: a Slack webhook URL is itself the credential, and the HubSpot token
travels only in the ``Authorization`` header. Error text coming back from a server or from curl is scrubbed of both
before it becomes a result's ``detail``.

The desk links in review messages are not secrets in that sense (following one needs a signed-in desk user), but
they are single use, so they go only into the message, never into a result or a log.

Neither Slack nor a HubSpot deal create is idempotent, so both are posted once and never retried on a 5xx or a
timeout (the post may have landed). The one exception is HubSpot's 429: HubSpot rejects a rate-limited request
before processing it, so waiting and trying again cannot create a second deal. The CSV sheet is keyed by draft id,
so sending a draft again replaces its row.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from rfq_pipeline.fetch.http_client import FetchResponse, HttpClient, parse_retry_after
from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import ObjectStore

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "LINK_TTL",
    "REVIEW_PURPOSES",
    "SHEET_COLUMNS",
    "CsvSheet",
    "DispatchItem",
    "DispatchResult",
    "Dispatcher",
    "HubSpot",
    "ReviewLinks",
    "SlackWebhook",
    "dispatch_all",
    "dispatchers_from_settings",
    "line_summaries",
    "post_new_drafts",
    "post_review",
    "ready_to_approve",
    "review_message",
    "review_reasons",
]

log = logging.getLogger(__name__)

SHEET_COLUMNS = ("draft_id", "rfq_id", "buyer", "email", "currency", "total", "lines", "pdf_uri", "sent_at")
MAX_DETAIL_CHARS = 300
SLACK_MAX_LINES = 10
_REDACTED = "***"


@dataclass(frozen=True)
class DispatchItem:
    """What every channel needs to know about one approved draft. ``total`` is ``None`` when nothing was priced."""

    draft_id: int | str
    rfq_id: str
    currency: str
    total: Decimal | None
    lines: Sequence[str] = ()  # one human-readable summary per priced line
    pdf_uri: str | None = None
    cover_text: str = ""
    buyer_company: str | None = None
    buyer_email: str | None = None

    def __post_init__(self) -> None:
        # Callers hand in the draft's JSON strings as often as Decimals; normalise once so every adapter agrees.
        if self.total is not None and not isinstance(self.total, Decimal):
            try:
                object.__setattr__(self, "total", Decimal(str(self.total)))
            except InvalidOperation as error:
                raise ValueError(f"total {self.total!r} is not a number") from error
        object.__setattr__(self, "lines", tuple(self.lines))

    @property
    def total_text(self) -> str:
        """``"AED 71190.00"``, or ``"no priced lines"`` when the draft has no total."""
        return f"{self.currency} {self.total}" if self.total is not None else "no priced lines"

    @classmethod
    def from_draft(
        cls,
        draft: Mapping[str, Any],
        *,
        draft_id: int | str,
        pdf_uri: str | None,
        buyer_company: str | None = None,
        buyer_email: str | None = None,
    ) -> DispatchItem:
        """The item for a draft in the shape of ``QuoteDraft.as_json()``."""
        total = draft.get("total")
        return cls(
            draft_id=draft_id,
            rfq_id=str(draft.get("rfq_id") or ""),
            currency=str(draft.get("currency") or ""),
            total=None if total is None else Decimal(str(total)),
            lines=line_summaries(draft),
            pdf_uri=pdf_uri,
            cover_text=str(draft.get("cover_text") or ""),
            buyer_company=buyer_company,
            buyer_email=buyer_email,
        )


def line_summaries(draft: Mapping[str, Any]) -> list[str]:
    """``"BC-SKN-0001 Shea Butter Body Lotion 250ml: 5,000 tube x AED 7.95 = AED 39750.00"`` per priced line."""
    summaries = []
    for line in draft.get("lines") or []:
        if line.get("sku") is None or line.get("unit_price") is None:
            continue
        currency = line.get("currency") or draft.get("currency") or ""
        try:
            quantity = f"{int(line.get('quantity')):,}"
        except (TypeError, ValueError):
            quantity = str(line.get("quantity"))
        summaries.append(
            f"{line['sku']} {line.get('name') or ''}: {quantity} {line.get('unit') or ''} x {currency} "
            f"{line['unit_price']} = {currency} {line.get('total')}"
        )
    return summaries


@dataclass(frozen=True)
class DispatchResult:
    """One channel's outcome. ``external_id`` is the channel's id for what it created (a deal id), if any."""

    channel: str
    delivered: bool
    external_id: str | None = None
    detail: str = ""


@runtime_checkable
class Dispatcher(Protocol):
    """A channel an approved draft is sent to."""

    name: str

    def send(self, draft: DispatchItem) -> DispatchResult:
        """Send ``draft``; report failures in the result rather than raising where possible."""
        ...


def _redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` without any of ``secrets`` (longest first, so a URL goes before its path), cut to a sane length."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


def _failure_detail(response: FetchResponse) -> str:
    """What went wrong, from the status and the body (or curl's error when there was no answer)."""
    if response.status is None:
        return f"{response.outcome}: {response.error or 'no answer'}"
    body = response.text.strip()
    return f"HTTP {response.status}" + (f": {body}" if body else "")


# --- Slack ---------------------------------------------------------------------------------------------------------


def _slack_escape(text: object) -> str:
    """Text for Slack mrkdwn: ``&``, ``<`` and ``>`` escaped, so buyer text cannot ``<!channel>`` or fake a link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SlackWebhook:
    """Posts a short message per approved draft to a Slack incoming webhook (the URL is the secret)."""

    name = "slack"

    def __init__(self, url: str, client: HttpClient) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("the Slack webhook URL must be an http(s) URL")  # never echo the URL itself
        self._url = url
        self._host = parts.hostname or ""
        self._secrets = (url, parts.path, parts.path.rstrip("/").rsplit("/", 1)[-1])
        self._client = client

    def __repr__(self) -> str:
        return f"SlackWebhook(host={self._host!r})"

    def payload(self, item: DispatchItem) -> dict[str, Any]:
        """The message: a fallback ``text`` plus blocks with buyer, total, lines and the PDF link."""
        buyer = item.buyer_company or f"RFQ {item.rfq_id}"
        if item.pdf_uri and item.pdf_uri.startswith(("https://", "http://")):
            pdf = f"<{item.pdf_uri}|Quote PDF>"
        elif item.pdf_uri:
            pdf = f"`{_slack_escape(item.pdf_uri)}`"
        else:
            pdf = "no PDF"
        fields = [
            f"*Buyer*\n{_slack_escape(_cut(buyer, 200))}",
            f"*Total*\n{_slack_escape(item.total_text)}",
            f"*RFQ*\n{_slack_escape(_cut(item.rfq_id, 200))}",
            f"*PDF*\n{pdf}",
        ]
        if item.buyer_email:
            fields.insert(1, f"*Email*\n{_slack_escape(_cut(item.buyer_email, 200))}")
        shown = [f"• {_slack_escape(_cut(line, 200))}" for line in item.lines[:SLACK_MAX_LINES]]
        if len(item.lines) > SLACK_MAX_LINES:
            shown.append(f"…and {len(item.lines) - SLACK_MAX_LINES} more")
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": f"Quote #{item.draft_id} approved"[:150]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": text} for text in fields]},
        ]
        if shown:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(shown), 2900)}})
        text = (
            f"Quote #{item.draft_id} approved for {_slack_escape(_cut(buyer, 200))}: "
            f"{_slack_escape(item.total_text)}. PDF: {pdf}"
        )
        return {"text": text, "blocks": blocks}

    def send(self, draft: DispatchItem) -> DispatchResult:
        """POST the approved-quote message once; any 2xx is delivered."""
        return self.post(self.payload(draft))

    def post(self, message: Mapping[str, Any]) -> DispatchResult:
        """POST any message (``text`` and/or ``blocks``) once; any 2xx is delivered, the result names no secret."""
        try:
            response = self._client.post(self._url, json_body=dict(message))
        except Exception as error:  # the client should not raise; if it does, its text may hold the URL
            return DispatchResult(self.name, False, None, _redact(f"{type(error).__name__}: {error}", self._secrets))
        if response.ok:
            return DispatchResult(self.name, True, None, f"posted to Slack (HTTP {response.status})")
        return DispatchResult(self.name, False, None, _redact(_failure_detail(response), self._secrets))


# --- Slack review messages: a new draft, the 24 h reminder, the 48 h escalation --------------------------------------

REVIEW_PURPOSES = ("new_draft", "reminder", "escalation")
# How long the buttons of a review message work: past the 48 h escalation of a draft posted when it was made, so the
# first message's buttons still work when the escalation goes out.
LINK_TTL = timedelta(hours=72)
# Line flags of the drafter (matching and pricing), as a person reads them.
_FLAG_TEXT = {
    "unmatched": "matches no catalog product",
    "no_quantity": "no quantity given",
    "below_moq": "below the minimum order",
    "exceeds_stock": "more than in stock",
    "discount_capped": "requested discount capped",
    "repeated_sku": "same product asked in two quantities",
}


def ready_to_approve(draft: Mapping[str, Any]) -> bool:
    """Whether a stored draft (``store.get_draft``) may be approved from a button: waiting for a decision, not
    flagged for review, its cover text through the guardrails and its buyer not high risk. Anything else is
    opened and read in the desk first."""
    return (
        draft.get("state") in ("queued", "edited")
        and not draft.get("needs_review")
        and bool(draft.get("guardrails_passed"))
        and str(draft.get("risk_level") or "").lower() != "high"
    )


def review_reasons(draft: Mapping[str, Any]) -> list[str]:
    """Why a stored draft needs a person's eyes, one sentence each (empty when it is ready to approve as is)."""
    body = draft.get("body") or {}
    reasons = []
    for line in body.get("lines") or []:
        flags = [_FLAG_TEXT.get(flag, str(flag).replace("_", " ")) for flag in line.get("flags") or []]
        if flags:
            what = line.get("sku") or line.get("phrase") or "a line"
            reasons.append(f"{_cut(str(what), 80)}: {', '.join(flags)}")
    failed = [g.get("name") for g in body.get("guardrails") or [] if not g.get("passed")]
    if failed or draft.get("guardrails_passed") is False:
        reasons.append("cover text failed the guardrails" + (f" ({', '.join(map(str, failed))})" if failed else ""))
    clarification = body.get("clarification")
    if isinstance(clarification, Mapping):
        asked = ", ".join(str(r).replace("_", " ") for r in clarification.get("reasons") or [])
        reasons.append("a question for the buyer is drafted" + (f" ({asked})" if asked else ""))
    if str(draft.get("risk_level") or "").lower() == "high":
        score = draft.get("risk_score")
        reasons.append("buyer risk is high" + (f" (score {score})" if score is not None else ""))
    if draft.get("needs_review") and not reasons:
        reasons.append("flagged for review by the drafter")
    return reasons


@dataclass(frozen=True)
class ReviewLinks:
    """The desk links of one review message; ``approve_url`` is ``None`` when the draft must be opened first."""

    open_url: str
    approve_url: str | None
    expires_at: datetime
    valid_for: timedelta = LINK_TTL

    def __repr__(self) -> str:  # single-use links stay out of reprs, and so out of logs and tracebacks
        return f"ReviewLinks(approve={self.approve_url is not None}, expires_at={self.expires_at.isoformat()})"


def _hours(span: timedelta) -> str:
    hours = round(span.total_seconds() / 3600)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def review_message(draft: Mapping[str, Any], purpose: str, links: ReviewLinks) -> dict[str, Any]:
    """The Block Kit message asking a person to act on a stored draft (``store.get_draft``): what it is, for whom,
    how much, its lines, why it needs review, and link buttons (approve, when allowed, and open) into the desk."""
    if purpose not in REVIEW_PURPOSES:
        raise ValueError(f"review purpose {purpose!r} must be one of {', '.join(REVIEW_PURPOSES)}")
    draft_id = draft["id"]
    buyer = _slack_escape(_cut(str(draft.get("buyer_company") or f"RFQ {draft.get('rfq_id')}"), 200))
    total = draft.get("total")
    total_text = f"{draft.get('currency') or ''} {total}".strip() if total is not None else "no priced lines"
    ready = links.approve_url is not None
    status = "ready to approve" if ready else "needs review"
    if purpose == "new_draft":
        header = f"New quote draft #{draft_id}: {status}"
        fallback = f"New quote draft #{draft_id} for {buyer} ({_slack_escape(total_text)}): {status}."
    elif purpose == "reminder":
        header = f"Reminder: quote draft #{draft_id} has waited 24 hours"
        fallback = (
            f"Reminder: quote draft #{draft_id} for {buyer} ({_slack_escape(total_text)}) has waited 24 hours for a "
            "decision."
        )
    else:
        header = f"Escalated to the sales lead: quote draft #{draft_id} has waited 48 hours"
        fallback = (
            f"ESCALATION to the sales lead: quote draft #{draft_id} for {buyer} ({_slack_escape(total_text)}) has "
            "waited 48 hours for a decision."
        )
    fields = [
        f"*Draft*\n#{draft_id} ({status})",
        f"*Buyer*\n{buyer}",
        f"*Total*\n{_slack_escape(total_text)}",
        f"*RFQ*\n{_slack_escape(_cut(str(draft.get('rfq_id')), 200))}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": text} for text in fields]},
    ]
    lines = line_summaries(draft.get("body") or {})
    if lines:
        shown = [f"• {_slack_escape(_cut(line, 200))}" for line in lines[:SLACK_MAX_LINES]]
        if len(lines) > SLACK_MAX_LINES:
            shown.append(f"…and {len(lines) - SLACK_MAX_LINES} more")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(shown), 2900)}})
    reasons = review_reasons(draft)
    if reasons:
        why = "\n".join(f"• {_slack_escape(reason)}" for reason in reasons[:SLACK_MAX_LINES])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"*Needs review:*\n{why}", 2900)}})
    buttons: list[dict[str, Any]] = []
    if links.approve_url is not None:
        buttons.append(
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "url": links.approve_url,
            }
        )
    buttons.append(
        {
            "type": "button",
            "action_id": "open",
            "text": {"type": "plain_text", "text": "Open in the desk"},
            "url": links.open_url,
        }
    )
    blocks.append({"type": "actions", "block_id": f"draft-{draft_id}", "elements": buttons})
    expires = links.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    validity = (
        f"Each button works once and is valid for {_hours(links.valid_for)} (until {expires}); the desk asks you to "
        "sign in."
    )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": validity}]})
    return {"text": fallback, "blocks": blocks}


def post_review(
    conn: psycopg.Connection,
    settings: Settings,
    slack: SlackWebhook,
    draft: Mapping[str, Any],
    purpose: str,
    *,
    now: datetime,
    ttl: timedelta = LINK_TTL,
) -> DispatchResult:
    """Mint the draft's desk links, commit them, and post :func:`review_message` once.

    The token rows are committed before the post, so a button works as soon as the message shows. A failed post
    leaves them unused until they expire. Reports failures (minting included) in the result, never raises for them.
    """
    from rfq_pipeline.desk.links import mint_link

    draft_id = int(draft["id"])
    try:
        open_url = mint_link(conn, settings, draft_id, "open", purpose, now=now, ttl=ttl)
        approve_url = (
            mint_link(conn, settings, draft_id, "approve", purpose, now=now, ttl=ttl)
            if ready_to_approve(draft)
            else None
        )
        conn.commit()
    except Exception as error:  # a database or key-file problem: reported like a failed post, never raised
        conn.rollback()
        detail = _redact(f"links not minted: {type(error).__name__}: {error}", (settings.desk_secret_key,))
        return DispatchResult(slack.name, False, None, detail)
    links = ReviewLinks(open_url, approve_url, now + ttl, ttl)
    return slack.post(review_message(draft, purpose, links))


def post_new_drafts(
    conn: psycopg.Connection, settings: Settings, slack: SlackWebhook, draft_ids: Iterable[int], *, now: datetime
) -> dict[int, DispatchResult]:
    """One ``new_draft`` review message per draft, in order; the result of each (a failed post is not retried: the
    24 h reminder brings the draft up again)."""
    from rfq_pipeline.quotes.store import get_draft

    results: dict[int, DispatchResult] = {}
    for draft_id in draft_ids:
        row = get_draft(conn, draft_id)
        if row is None:
            continue
        results[draft_id] = result = post_review(conn, settings, slack, row, "new_draft", now=now)
        if not result.delivered:
            log.warning("quote draft %s: new-draft message not delivered: %s", draft_id, result.detail)
    return results


# --- HubSpot -------------------------------------------------------------------------------------------------------


class HubSpot:
    """Creates a HubSpot deal per approved draft through the CRM v3 REST API (private-app token)."""

    name = "hubspot"
    deals_path = "/crm/v3/objects/deals"

    def __init__(
        self,
        token: str,
        client: HttpClient,
        base_url: str = "https://api.hubapi.com",
        *,
        pipeline: str = "default",
        dealstage: str = "appointmentscheduled",
        rate_limit_retries: int = 2,
        max_wait_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token or not token.strip():
            raise ValueError("a HubSpot access token is required")
        self._token = token.strip()
        self._client = client
        self.base_url = base_url.rstrip("/")
        self.pipeline = pipeline
        self.dealstage = dealstage
        self.rate_limit_retries = rate_limit_retries
        self.max_wait_s = max_wait_s
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"HubSpot(base_url={self.base_url!r})"

    def properties(self, item: DispatchItem) -> dict[str, str]:
        """The deal's properties (HubSpot takes every value as a string; ``amount`` only when there is a total)."""
        who = item.buyer_company or f"RFQ {item.rfq_id}"
        description = [f"RFQ {item.rfq_id}"]
        if item.buyer_email:
            description.append(f"Buyer e-mail: {item.buyer_email}")
        description += list(item.lines)
        if item.pdf_uri:
            description.append(f"PDF: {item.pdf_uri}")
        properties = {
            "dealname": _cut(f"Quote #{item.draft_id} - {who}", 250),
            "pipeline": self.pipeline,
            "dealstage": self.dealstage,
            "description": _cut("\n".join(description), 5000),
        }
        if item.currency:
            properties["deal_currency_code"] = item.currency
        if item.total is not None:
            properties["amount"] = str(item.total)
        return properties

    def send(self, draft: DispatchItem) -> DispatchResult:
        """Create the deal; the answer's ``id`` is the external id."""
        secrets = (self._token,)
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        body = {"properties": self.properties(draft)}
        try:
            for attempt in range(self.rate_limit_retries + 1):
                response = self._client.post(self.base_url + self.deals_path, json_body=body, headers=headers)
                if response.status != 429 or attempt == self.rate_limit_retries:
                    break
                wait = parse_retry_after(response.headers.get("retry-after"))
                # HubSpot's limits are per second or per ten seconds; without a header one second is the usual wait.
                self._sleep(min(self.max_wait_s, 1.0 if wait is None else wait))
        except Exception as error:  # the client should not raise; if it does, keep the token out of the result
            return DispatchResult(self.name, False, None, _redact(f"{type(error).__name__}: {error}", secrets))
        answer = _json_object(response.body)
        if response.ok:
            deal_id = answer.get("id")
            if deal_id is None:
                return DispatchResult(self.name, True, None, f"deal created (HTTP {response.status}), answer had no id")
            return DispatchResult(self.name, True, str(deal_id), f"deal {deal_id} created")
        if response.status is None:
            return DispatchResult(self.name, False, None, _redact(_failure_detail(response), secrets))
        category = answer.get("category") or answer.get("errorType")
        message = answer.get("message") or response.text.strip()
        detail = f"HTTP {response.status}" + (f" {category}" if category else "") + (f": {message}" if message else "")
        if response.status == 429:
            detail += f" (after {self.rate_limit_retries + 1} attempts)"
        return DispatchResult(self.name, False, None, _redact(detail, secrets))


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


# --- CSV sheet -----------------------------------------------------------------------------------------------------

# Read-modify-write of one object: serialise the writers of this process. Two processes writing the same sheet at
# once can still lose a row; approvals are made one at a time by people, so that is accepted, not engineered away.
_SHEET_LOCK = threading.Lock()


def _sheet_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading ``= + - @`` would make buyer text a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@dataclass
class CsvSheet:
    """One CSV of approved quotes in the object store, one row per draft: sending a draft again replaces its row."""

    store: ObjectStore
    key: str = "quote_sheet/approved_quotes.csv"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)
    name: str = "sheet"

    def rows(self) -> list[dict[str, str]]:
        """The sheet's rows (empty when it does not exist yet)."""
        try:
            data = self.store.get(self.key)
        except KeyError:
            return []
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
        return [{column: row.get(column) or "" for column in SHEET_COLUMNS} for row in reader]

    def row(self, item: DispatchItem) -> dict[str, str]:
        """The row ``item`` becomes."""
        values = {
            "draft_id": item.draft_id,
            "rfq_id": item.rfq_id,
            "buyer": item.buyer_company,
            "email": item.buyer_email,
            "currency": item.currency,
            "total": item.total,
            "lines": "; ".join(item.lines),
            "pdf_uri": item.pdf_uri,
            "sent_at": self.clock().astimezone(UTC).isoformat(timespec="seconds"),
        }
        return {column: _sheet_cell(values[column]) for column in SHEET_COLUMNS}

    def send(self, draft: DispatchItem) -> DispatchResult:
        """Replace the draft's row (or append it) and write the sheet back."""
        new = self.row(draft)
        with _SHEET_LOCK:
            rows = self.rows()
            index = next((i for i, row in enumerate(rows) if row["draft_id"] == new["draft_id"]), None)
            if index is None:
                rows.append(new)
            else:
                rows[index] = new
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=SHEET_COLUMNS, lineterminator="\r\n")
            writer.writeheader()
            writer.writerows(rows)
            # A BOM makes Excel read the file as UTF-8 (buyer names are often not ASCII); csv readers skip it.
            uri = self.store.put(self.key, buffer.getvalue().encode("utf-8-sig"), content_type="text/csv")
        action = "added" if index is None else "replaced"
        return DispatchResult(self.name, True, uri, f"row {action} ({len(rows)} rows)")


# --- fan-out -------------------------------------------------------------------------------------------------------


def dispatch_all(item: DispatchItem, dispatchers: Iterable[Dispatcher]) -> list[DispatchResult]:
    """Send ``item`` through every dispatcher in order; one result each, and never an exception.

    An adapter that raises becomes a failed result naming the exception type (its message is kept, cut short:
    the adapters with secrets scrub their own errors before they get here).
    """
    results: list[DispatchResult] = []
    for dispatcher in dispatchers:
        channel = str(getattr(dispatcher, "name", None) or type(dispatcher).__name__)
        try:
            result = dispatcher.send(item)
            if not isinstance(result, DispatchResult):
                raise TypeError(f"send returned {type(result).__name__}, not a DispatchResult")
        except Exception as error:  # one broken channel must not keep the others from sending
            result = DispatchResult(channel, False, None, _redact(f"{type(error).__name__}: {error}", ()))
        results.append(result)
        if result.delivered:
            log.info("quote draft %s: %s delivered (%s)", item.draft_id, result.channel, result.detail)
        else:
            log.warning("quote draft %s: %s not delivered: %s", item.draft_id, result.channel, result.detail)
    return results


def dispatchers_from_settings(settings: Settings, client: HttpClient, store: ObjectStore) -> list[Dispatcher]:
    """The configured channels: the CSV sheet always, Slack with a quotes webhook, HubSpot with a token."""
    dispatchers: list[Dispatcher] = [CsvSheet(store)]
    if settings.quotes_slack_webhook_url:
        dispatchers.append(SlackWebhook(settings.quotes_slack_webhook_url, client))
    if settings.hubspot_token:
        dispatchers.append(HubSpot(settings.hubspot_token, client, settings.hubspot_base_url))
    return dispatchers
