"""``rfq-pipeline quote ...``: draft one RFQ from a JSON file; act on stored drafts (approve, reject, mark, mail)."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rfq_pipeline.settings import Settings

_TEXT_FIELDS = ("title", "description", "quantity", "country")


class InputError(ValueError):
    """The RFQ file cannot be drafted; the message says why."""


def read_rfq(path: Path) -> Any:
    """An :class:`~rfq_pipeline.ai.labels.RfqText` from a JSON object with at least a ``title``."""
    from rfq_pipeline.ai.labels import RfqText

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise InputError(f"{path.name} is not UTF-8 text: {error.reason}") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path.name} is not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path.name} must hold one JSON object (title, description, quantity, country)")
    for name in _TEXT_FIELDS:
        if name in data and not isinstance(data[name], str | int | float):
            raise InputError(f"{path.name}: {name!r} must be text")
    title = str(data.get("title") or "").strip()
    if not title:
        raise InputError(f"{path.name}: 'title' is required")
    return RfqText(
        id=str(data.get("id") or path.stem),
        title=title,
        description=str(data.get("description") or ""),
        quantity=str(data.get("quantity") or ""),
        country=str(data.get("country") or ""),
    )


def draft_command(path: Path, *, discount: str, incoterm: str | None, currency: str | None) -> int:
    """Print the draft of one RFQ as JSON (lines, prices, citations, guardrail results)."""
    from rfq_pipeline.quotes.catalog import CatalogError, load_catalog, load_rates
    from rfq_pipeline.quotes.draft import draft_quote
    from rfq_pipeline.quotes.pricing import PricingError

    settings = Settings.from_env()
    try:
        rfq = read_rfq(path)
        catalog, rates = load_catalog(settings.catalog_path), load_rates(settings.fx_rates_path)
        draft = draft_quote(
            rfq,
            catalog,
            rates,
            requested_discount_pct=Decimal(discount),
            incoterm=incoterm or settings.quote_incoterm,
            currency=currency,
        )
    except (InputError, CatalogError, PricingError, ArithmeticError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(draft.as_json(), indent=2, ensure_ascii=False))
    return 0


def cli_actor() -> str:
    """Who acts from a shell: ``cli:<login name>`` (``cli`` when the login is unknown)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


def action_command(
    action: str,
    draft_id: int,
    *,
    note: str = "",
    state: str | None = None,
    resend: bool = False,
    confirm_address: bool = False,
) -> int:
    """Approve, reject, mark, dispatch, mail or show a stored draft; prints the result as JSON."""
    from rfq_pipeline.db.database import Database, resolve_database_url
    from rfq_pipeline.fetch.http_client import HttpClient
    from rfq_pipeline.quotes import store, workflow
    from rfq_pipeline.quotes.dispatch import dispatchers_from_settings
    from rfq_pipeline.store.object_store import object_store_for

    settings = Settings.from_env()
    now = datetime.now(UTC)
    with Database(resolve_database_url(settings), min_size=1, max_size=1) as db, db.connection() as conn:
        try:
            if action == "show":
                row = store.get_draft(conn, draft_id)
                if row is None:
                    raise store.DraftNotFound(f"no quote draft {draft_id}")
                print(_json({**row, "events": store.draft_events(conn, draft_id)}))
                return 0
            if action in ("reject", "mark"):
                target = "rejected" if action == "reject" else str(state)
                left = workflow.set_state(conn, draft_id, target, actor=cli_actor(), now=now, note=note)
                print(_json({"draft_id": draft_id, "from": left, "state": target}))
                return 0
            pdfs = object_store_for("quote_pdfs", settings)
            if action == "mail":
                from dataclasses import asdict

                from rfq_pipeline.quotes import outbound

                # The same send as the desk's: once per version, never to an invalid or suppressed address.
                sent = outbound.send_draft_mail(
                    conn, draft_id, kind="quote", actor=cli_actor(), now=now, settings=settings, pdf_store=pdfs,
                    confirm_unknown=confirm_address,
                )  # fmt: skip
                print(_json({"draft_id": draft_id, **asdict(sent)}))
                return 0 if sent.status in ("sent", "already_sent", "marketplace_task") else 2
            client = HttpClient.from_settings(settings)
            try:
                dispatchers = dispatchers_from_settings(settings, client, object_store_for("exports", settings))
                if action == "approve":
                    approval = workflow.approve(
                        conn, draft_id, actor=cli_actor(), now=now, pdf_store=pdfs, dispatchers=dispatchers, note=note
                    )
                    print(
                        _json(
                            {
                                "draft_id": draft_id,
                                "state": "approved",
                                "pdf_uri": approval.pdf_uri,
                                "dispatches": approval.dispatches,
                            }
                        )
                    )
                    return 0
                row = store.get_draft(conn, draft_id)
                if row is None:
                    raise store.DraftNotFound(f"no quote draft {draft_id}")
                if row["state"] != "approved" or not row["pdf_uri"]:
                    print(
                        f"error: draft {draft_id} is {row['state']}; only approved drafts are dispatched",
                        file=sys.stderr,
                    )
                    return 2
                records = workflow.dispatch(conn, draft_id, row, row["pdf_uri"], dispatchers, resend=resend)
                print(_json({"draft_id": draft_id, "dispatches": records}))
                return 0
            finally:
                client.close()
        except (store.DraftNotFound, workflow.InvalidTransition) as error:
            conn.rollback()
            print(f"error: {error}", file=sys.stderr)
            return 2


def list_command(state: str | None, limit: int) -> int:
    """One JSON line per draft, newest first."""
    from rfq_pipeline.db.database import Database, resolve_database_url

    settings = Settings.from_env()
    query = (
        "SELECT q.id, q.state, q.rfq_id, r.title, b.company AS buyer, b.risk_level, q.currency, q.total, "
        "q.needs_review, q.pdf_uri, q.ready_at FROM quote_drafts q JOIN rfqs r ON r.id = q.rfq_id "
        "LEFT JOIN buyers b ON b.id = q.buyer_id WHERE (%(state)s::text IS NULL OR q.state = %(state)s) "
        "ORDER BY q.id DESC LIMIT %(limit)s"
    )
    with Database(resolve_database_url(settings), min_size=1, max_size=1) as db, db.connection() as conn:
        cur = conn.execute(query, {"state": state, "limit": limit})
        names = [c.name for c in cur.description or ()]
        for values in cur.fetchall():
            print(json.dumps(dict(zip(names, values, strict=True)), default=str, ensure_ascii=False))
    return 0
