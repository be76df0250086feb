"""The sales desk web app: the queue, the draft page, the actions on a draft, signed Slack links, the dev outbox.

Server-side pages only (Flask + Jinja2, autoescaped; no script). Everything the pages do goes through
:mod:`rfq_pipeline.desk.actions`, :mod:`~rfq_pipeline.desk.queries`, :mod:`~rfq_pipeline.desk.links` and
:mod:`~rfq_pipeline.desk.auth`; this module parses requests, checks sessions and CSRF tokens, and renders.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.utils import secure_filename

from rfq_pipeline.ai import review_queue
from rfq_pipeline.ai.labels import INDUSTRIES
from rfq_pipeline.db.database import Database, resolve_database_url
from rfq_pipeline.desk import actions, auth, links, queries
from rfq_pipeline.desk.actions import Outcome, Refused
from rfq_pipeline.quotes import outbound, store
from rfq_pipeline.quotes.states import TRANSITIONS
from rfq_pipeline.settings import Settings, SettingsError
from rfq_pipeline.store.object_store import ObjectStore, object_store_for

SESSION_LIFETIME = timedelta(hours=12)
CSRF_FIELD = "csrf_token"
CSRF_REFUSED = "the form's security token is missing or wrong; reload the page and try again"
# The load balancer's own session cookies: expiring them is the desk's half of signing out behind the ALB.
ALB_SESSION_COOKIES = tuple(f"AWSELBAuthSessionCookie-{n}" for n in range(4))
SECURITY_HEADERS = {
    # The PDF preview is a same-origin frame; nothing else is framed, scripted or loaded from elsewhere.
    "Content-Security-Policy": (
        "default-src 'self'; frame-src 'self'; object-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}

bp = Blueprint("desk", __name__)


@dataclass(frozen=True)
class Desk:
    """What the views share: settings, the database, the PDF store, the secret, the ALB verifier (ALB mode)."""

    settings: Settings
    db: Database
    pdf_store: ObjectStore
    secret: str
    alb: auth.AlbVerifier | None


def _desk() -> Desk:
    desk: Desk = current_app.extensions["rfq_desk"]
    return desk


def _now() -> datetime:
    return datetime.now(UTC)


def is_loopback_url(url: str | None) -> bool:
    """Whether ``url`` points at this machine (the local AWS of ``make ui``), never at a real account."""
    if not url:
        return False
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def object_key(pdf_store: ObjectStore, uri: str) -> str | None:
    """The key of ``uri`` in ``pdf_store``, or ``None`` when the URI names an object somewhere else.

    The store is asked for the URI of each trailing part of the URI's path until one matches exactly, so neither
    backend's URI format is parsed here and a URI outside the store is never read.
    """
    parts = [unquote(p) for p in urlsplit(uri).path.split("/") if p]
    for start in range(len(parts) - 1, -1, -1):
        key = "/".join(parts[start:])
        try:
            if pdf_store.uri(key) == uri:
                return key
        except ValueError:
            continue
    return None


# --- Sessions, CSRF, who is signed in ------------------------------------------------------------------------------


def csrf_token() -> str:
    """The session's CSRF token, made on first use; signing in replaces it (the per-login nonce)."""
    token = session.get("nonce")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["nonce"] = token
    return token


def _csrf_ok() -> bool:
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get("nonce")
    if not isinstance(expected, str) or not expected or not sent:
        return False
    return hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))


def _load_user(desk: Desk) -> None:
    g.user = None
    g.auth_problem = (401, "not signed in")
    if desk.alb is not None:
        token = request.headers.get(auth.ALB_HEADER)
        if not token:
            g.auth_problem = (401, "the load balancer did not sign you in")
            return
        try:
            claims = desk.alb.claims(token, now=_now())
        except auth.AlbTokenError as error:
            g.auth_problem = (401, f"the sign-in from the load balancer was refused: {error}")
            return
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            g.auth_problem = (401, "the load balancer's sign-in carries no e-mail address")
            return
        with desk.db.connection() as conn:
            g.user = auth.active_user_by_email(conn, email)
        if g.user is None:
            # Signed in at the identity provider, but nobody gave this person a desk role.
            g.auth_problem = (403, f"{email} is not an active desk user; ask a sales lead to add you")
        return
    user_id, since = session.get("uid"), session.get("since")
    if not isinstance(user_id, int):
        return
    if not isinstance(since, int | float) or _now().timestamp() - since > SESSION_LIFETIME.total_seconds():
        session.clear()
        return
    with desk.db.connection() as conn:
        user = auth.user_by_id(conn, user_id)
    if user is None or not user.active:
        session.clear()  # a deactivated user's cookie stops working on the next request
        return
    if user.password_changed_at is not None and since < int(user.password_changed_at.timestamp()):
        session.clear()  # signed in with a password that has since been replaced
        return
    g.user = user


@bp.before_app_request
def _before() -> Response | None:
    if request.endpoint in ("static", "desk.healthz", "desk.favicon"):
        return None
    if request.method == "POST" and not _csrf_ok():
        abort(400, description=CSRF_REFUSED)
    _load_user(_desk())
    return None


@bp.after_app_request
def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _safe_next(target: str | None) -> str | None:
    """A local path to return to after sign-in; anything that could leave the desk is dropped."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Views for signed-in desk users only: others go to the sign-in page (or get 401/403 behind the ALB)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.user is None:
            if _desk().alb is not None:
                return _message(*g.auth_problem)
            here = request.full_path if request.query_string else request.path
            return redirect(url_for("desk.login", next=here))
        return view(*args, **kwargs)

    return wrapper


def _message(status: int, text: str, title: str | None = None) -> tuple[str, int]:
    return render_template("message.html", status=status, message=text, title=title), status


def _flash_outcome(outcome: Outcome) -> None:
    for note in outcome.notes:
        flash(note, "ok")
    for problem in outcome.problems:
        flash(problem, "error")


def _flash_refusal(refusal: Refused) -> None:
    for reason in refusal.reasons:
        flash(reason, "error")


# --- Sign in and out -----------------------------------------------------------------------------------------------


@bp.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    """For the load balancer's health check: no sign-in, no database."""
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/favicon.ico")
def favicon() -> tuple[str, int]:
    """No icon: an empty answer instead of a 404 in every browser console."""
    return "", 204


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The password sign-in (not used behind the ALB, which signs people in itself)."""
    desk = _desk()
    next_path = _safe_next(request.values.get("next"))
    if desk.alb is not None:
        return redirect(next_path or url_for("desk.queue"))
    if request.method == "GET":
        if g.user is not None:
            return redirect(next_path or url_for("desk.queue"))
        return render_template("login.html", next_path=next_path, email="")
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    with desk.db.connection() as conn:
        try:
            user = auth.sign_in(conn, email, password, request.remote_addr or "unknown", _now())
        except auth.SignInRefused as refusal:
            flash(refusal.message, "error")
            return render_template("login.html", next_path=next_path, email=email), refusal.status
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["since"] = int(_now().timestamp())
    session["nonce"] = secrets.token_urlsafe(32)  # a new CSRF token per sign-in: one from before it is worthless
    return redirect(next_path or url_for("desk.queue"))


@bp.post("/logout")
def logout() -> Any:
    """Forget the session (and, behind the ALB, its session cookies)."""
    session.clear()
    if _desk().alb is not None:
        response = Response(
            render_template("message.html", status=200, message="You are signed out.", title="Signed out")
        )
        for name in ALB_SESSION_COOKIES:
            response.delete_cookie(name)
        return response
    flash("signed out", "ok")
    return redirect(url_for("desk.login"))


# --- The queue and the draft page ----------------------------------------------------------------------------------


@bp.get("/")
@signed_in
def queue() -> str:
    """Drafts waiting for someone, with filters."""
    filters = queries.QueueFilters.from_args(request.args)
    with _desk().db.connection() as conn:
        rows = queries.queue(conn, filters, now=_now(), lead=g.user.is_lead)
        options = queries.filter_options(conn)
    return render_template("queue.html", rows=rows, filters=filters, options=options)


def _draft_context(conn: psycopg.Connection, draft_id: int) -> dict[str, Any] | None:
    view = queries.draft_view(conn, draft_id)
    if view is None:
        return None
    state = view["draft"]["state"]
    view["recipient"] = outbound.recipient_for(conn, draft_id)
    # Closed drafts offer no approve or reject; an open one always does, and the server says why when it refuses.
    view["is_open"] = state in queries.OPEN_STATES
    view["can_approve"] = "approved" in TRANSITIONS[state]
    view["can_edit"] = "edited" in TRANSITIONS[state]
    view["can_clarify"] = "clarifying" in TRANSITIONS[state]
    view["marks"] = [m for m in actions.MARKS if m in TRANSITIONS[state]]
    view["question"] = actions.clarification_text(conn, draft_id) if view["can_clarify"] else ""
    view["high_risk_blocked"] = (view["buyer"] or {}).get("risk_level") == "high" and not g.user.is_lead
    return view


@bp.get("/drafts/<int:draft_id>")
@signed_in
def draft(draft_id: int) -> Any:
    """Everything about one draft, and the forms to act on it."""
    with _desk().db.connection() as conn:
        view = _draft_context(conn, draft_id)
    if view is None:
        return _message(404, f"there is no draft {draft_id}")
    return render_template("draft.html", industries=INDUSTRIES, **view)


@bp.get("/drafts/<int:draft_id>/pdf")
@signed_in
def draft_pdf(draft_id: int) -> Any:
    """The draft's current PDF from the quote-PDF store."""
    desk = _desk()
    with desk.db.connection() as conn:
        row = store.get_draft(conn, draft_id)
    if row is None or not row["pdf_uri"]:
        return _message(404, f"draft {draft_id} has no PDF")
    key = object_key(desk.pdf_store, row["pdf_uri"])
    if key is None:
        return _message(404, f"the PDF of draft {draft_id} is not in the quote-PDF store")
    try:
        data = desk.pdf_store.get(key)
    except KeyError:
        return _message(404, f"the PDF of draft {draft_id} is missing from the quote-PDF store")
    name = key.rsplit("/", 1)[-1]
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "private, no-store"},
    )


# --- Actions -------------------------------------------------------------------------------------------------------


def _expect_version(conn: psycopg.Connection, draft_id: int) -> None:
    """Refuse a form made for another version of the draft: the rep would act on text they have not seen."""
    sent = request.form.get("version", "")
    row = conn.execute("SELECT version FROM quote_drafts WHERE id = %s", (draft_id,)).fetchone()
    if row is None:
        raise Refused([f"there is no draft {draft_id}"])
    if sent != str(row[0]):
        raise Refused([f"draft {draft_id} changed since this page was loaded (now version {row[0]}); check it again"])


def _act(draft_id: int, action: Callable[[psycopg.Connection], Outcome], *, check_version: bool = False) -> Any:
    with _desk().db.connection() as conn:
        try:
            if check_version:
                _expect_version(conn, draft_id)
            _flash_outcome(action(conn))
        except Refused as refusal:
            conn.rollback()
            _flash_refusal(refusal)
    return redirect(url_for("desk.draft", draft_id=draft_id))


def _confirmed() -> bool:
    return request.form.get("confirm_address") in ("1", "on", "true")


@bp.post("/drafts/<int:draft_id>/approve")
@signed_in
def approve(draft_id: int) -> Any:
    """Approve the draft and send the quote."""
    desk = _desk()
    return _act(
        draft_id,
        lambda conn: actions.approve_draft(
            conn,
            draft_id,
            user=g.user,
            now=_now(),
            settings=desk.settings,
            pdf_store=desk.pdf_store,
            confirm_unknown=_confirmed(),
        ),
        check_version=True,
    )


@bp.post("/drafts/<int:draft_id>/send")
@signed_in
def send(draft_id: int) -> Any:
    """Send the approved quote again after a send that did not go out (never twice for one version)."""
    desk = _desk()
    return _act(
        draft_id,
        lambda conn: actions.send_quote(
            conn,
            draft_id,
            user=g.user,
            now=_now(),
            settings=desk.settings,
            pdf_store=desk.pdf_store,
            confirm_unknown=_confirmed(),
        ),
    )


@bp.post("/drafts/<int:draft_id>/label")
@signed_in
def label(draft_id: int) -> Any:
    """Correct the classifier for the draft's RFQ: it becomes training data and never flips back."""
    from rfq_pipeline.ai.corrections import LabelError, record_label

    industry = request.form.get("industry") or None
    relevant = {"yes": True, "no": False}.get(request.form.get("relevant") or "")
    desk = _desk()
    with desk.db.connection() as conn:
        row = store.get_draft(conn, draft_id)
        if row is None:
            return _message(404, f"there is no draft {draft_id}")
        try:
            done = record_label(conn, int(row["rfq_id"]), actor=g.user.email, industry=industry, relevant=relevant,
                                targets=desk.settings.target_industries)  # fmt: skip
        except LabelError as error:
            conn.rollback()
            flash(str(error), "error")
        else:
            conn.commit()
            said = ", ".join(part for part in (done.industry, None if done.relevant is None else
                             ("relevant" if done.relevant else "not relevant")) if part)  # fmt: skip
            flash(f"RFQ {done.rfq_id} labeled {said}; the classifier keeps it and learns from it", "ok")
    return redirect(url_for("desk.draft", draft_id=draft_id))


@bp.post("/drafts/<int:draft_id>/reject")
@signed_in
def reject(draft_id: int) -> Any:
    """Reject the draft with a reason."""
    return _act(
        draft_id,
        lambda conn: actions.reject_draft(
            conn, draft_id, user=g.user, now=_now(), reason=request.form.get("reason", "")
        ),
    )


@bp.post("/drafts/<int:draft_id>/edit")
@signed_in
def edit(draft_id: int) -> Any:
    """Save changed lines and cover text as a new version; "save and approve" approves it after."""
    desk = _desk()

    def run(conn: psycopg.Connection) -> Outcome:
        row = store.get_draft(conn, draft_id)
        if row is None:
            raise Refused([f"there is no draft {draft_id}"])
        edit_request = actions.parse_edit(row["body"], request.form)
        now = _now()
        _version, outcome = actions.edit_draft(
            conn, draft_id, edit_request, user=g.user, now=now, pdf_store=desk.pdf_store
        )
        if request.form.get("submit") == "approve":
            try:
                approved = actions.approve_draft(
                    conn,
                    draft_id,
                    user=g.user,
                    now=now,
                    settings=desk.settings,
                    pdf_store=desk.pdf_store,
                    confirm_unknown=_confirmed(),
                )
            except Refused as refusal:
                # The edit is saved; only the approval was refused.
                outcome.problems.extend(refusal.reasons)
            else:
                outcome.notes.extend(approved.notes)
                outcome.problems.extend(approved.problems)
        return outcome

    return _act(draft_id, run, check_version=True)


@bp.post("/drafts/<int:draft_id>/clarify")
@signed_in
def clarify(draft_id: int) -> Any:
    """Send the clarifying question to the buyer."""
    desk = _desk()
    return _act(
        draft_id,
        lambda conn: actions.send_clarification(
            conn,
            draft_id,
            request.form.get("question", ""),
            user=g.user,
            now=_now(),
            settings=desk.settings,
            pdf_store=desk.pdf_store,
        ),
        check_version=True,
    )


@bp.post("/drafts/<int:draft_id>/mark")
@signed_in
def mark(draft_id: int) -> Any:
    """Mark the draft sent, won or lost."""
    return _act(
        draft_id,
        lambda conn: actions.mark_draft(
            conn,
            draft_id,
            request.form.get("state", ""),
            user=g.user,
            now=_now(),
            note=request.form.get("note", "").strip(),
        ),
    )


@bp.post("/drafts/<int:draft_id>/tasks/<int:version>/<kind>/done")
@signed_in
def task_done(draft_id: int, version: int, kind: str) -> Any:
    """The rep posted the marketplace reply."""
    return _act(
        draft_id,
        lambda conn: actions.finish_marketplace_task(conn, draft_id, version, kind, user=g.user, now=_now()),
    )


# --- The review queue: RFQs the local model was unsure of -------------------------------------------------------


def _said(industry: str | None, relevant: bool | None) -> str:
    relevance = None if relevant is None else ("relevant" if relevant else "not relevant")
    return ", ".join(part for part in (industry, relevance) if part) or "unlabeled"


@bp.app_context_processor
def _review_count() -> dict[str, Any]:
    def review_waiting() -> int | None:
        """How many RFQs wait for a person, for the navigation; ``None`` rather than a failed page."""
        if "review_waiting" not in g:
            try:
                with _desk().db.connection() as conn:
                    g.review_waiting = review_queue.count_uncertain(conn)
            except psycopg.Error:
                g.review_waiting = None
        return g.review_waiting

    return {"review_waiting": review_waiting}


@bp.get("/review")
@signed_in
def review() -> str:
    """RFQs whose label that counts is an uncertain local one, newest first, each with a form to settle it."""
    source = (request.args.get("source") or "").strip() or None
    with _desk().db.connection() as conn:
        rows = review_queue.uncertain_rfqs(conn, limit=review_queue.DEFAULT_LIMIT, source=source)
        total = review_queue.count_uncertain(conn, source=source)
        sources = queries.source_names(conn)
    if source is None:
        g.review_waiting = total  # the navigation's count, without asking again
    return render_template("review.html", rows=rows, total=total, source=source, sources=sources,
                           industries=INDUSTRIES)  # fmt: skip


@bp.post("/rfqs/<int:rfq_id>/label")
@signed_in
def label_rfq(rfq_id: int) -> Any:
    """Settle an RFQ from the review queue: a person's label, which counts over the model's from now on."""
    from rfq_pipeline.ai.corrections import LabelError, record_label

    industry = request.form.get("industry") or None
    relevant = {"yes": True, "no": False}.get(request.form.get("relevant") or "")
    note = (request.form.get("note") or "").strip()
    source = (request.form.get("source") or "").strip() or None
    desk = _desk()
    with desk.db.connection() as conn:
        now = review_queue.lock_label_that_counts(conn, rfq_id)
        if now is None:
            flash(f"there is no RFQ {rfq_id}", "error")
        elif not now.uncertain:
            # Someone settled it while this page was open: their label stands (correct it on the draft page or with
            # `rfq-pipeline label` if it is wrong), never replaced by a form made before it.
            flash(f"RFQ {rfq_id} no longer waits: it is labeled {_said(now.industry, now.relevant)} "
                  f"({now.provider or 'not classified'}); nothing changed", "error")  # fmt: skip
        else:
            try:
                done = record_label(conn, rfq_id, actor=g.user.email, industry=industry, relevant=relevant,
                                    note=note, targets=desk.settings.target_industries)  # fmt: skip
            except LabelError as error:
                conn.rollback()
                flash(str(error), "error")
            else:
                conn.commit()
                flash(f"RFQ {done.rfq_id} labeled {_said(done.industry, done.relevant)}; the classifier keeps it "
                      "and learns from it", "ok")  # fmt: skip
    return redirect(url_for("desk.review", source=source))


# --- Signed links from Slack ---------------------------------------------------------------------------------------


@bp.route("/l/<signed>", methods=["GET", "POST"])
@signed_in
def follow_link(signed: str) -> Any:
    """A Slack link: ``open`` goes to the draft; ``approve`` asks first (GET) and approves on the POST."""
    desk = _desk()
    now = _now()
    with desk.db.connection() as conn:
        try:
            link = links.read_link(conn, desk.secret, signed, now=now)
            if link.action == "open":
                links.consume_link(conn, link, actor=g.user.email, now=now)
                conn.commit()
                return redirect(url_for("desk.draft", draft_id=link.draft_id))
            if request.method == "GET":
                view = _draft_context(conn, link.draft_id)
                if view is None:
                    return _message(404, f"there is no draft {link.draft_id}")
                return render_template("link_confirm.html", signed=signed, link=link, **view)
            try:
                _expect_version(conn, link.draft_id)
                actions.check_approval(conn, link.draft_id, g.user, confirm_unknown=_confirmed())
            except Refused as refusal:
                conn.rollback()
                _flash_refusal(refusal)
                return redirect(url_for("desk.follow_link", signed=signed))
            links.consume_link(conn, link, actor=g.user.email, now=now)
            conn.commit()
        except links.LinkError as error:
            conn.rollback()
            return _message(400, str(error), title="This link cannot be used")
        try:
            outcome = actions.approve_draft(
                conn,
                link.draft_id,
                user=g.user,
                now=now,
                settings=desk.settings,
                pdf_store=desk.pdf_store,
                confirm_unknown=_confirmed(),
                checked=True,
            )
        except Refused as refusal:
            conn.rollback()
            _flash_refusal(refusal)
        else:
            _flash_outcome(outcome)
    return redirect(url_for("desk.draft", draft_id=link.draft_id))


# --- The local outbox ----------------------------------------------------------------------------------------------


@bp.get("/outbox")
@signed_in
def outbox() -> Any:
    """What the local SES recorded (only with the loopback AWS of ``make ui``; real mail is never listed here)."""
    endpoint = _desk().settings.aws_endpoint_url
    if not is_loopback_url(endpoint):
        return _message(404, "the outbox exists only with the local AWS")
    from rfq_pipeline.devtools.local_aws import sent_mail

    return render_template("outbox.html", mails=sent_mail(endpoint), intake_address=_desk().settings.intake_address)


def _local_mail(mail_id: str) -> dict[str, Any]:
    """One message the local SES recorded; 404 without the local AWS or for an unknown id."""
    endpoint = _desk().settings.aws_endpoint_url
    if not is_loopback_url(endpoint):
        abort(404, "the outbox exists only with the local AWS")
    from rfq_pipeline.devtools.local_aws import sent_mail

    found = next((m for m in sent_mail(endpoint) if m["id"] == mail_id and m.get("raw")), None)
    if found is None:
        abort(404, "no such mail in the local SES")
    return found


@bp.get("/outbox/<mail_id>/attachments/<int:position>")
@signed_in
def outbox_attachment(mail_id: str, position: int) -> Any:
    """An attachment of a mail the local SES accepted, as the buyer would open it (the quote's PDF)."""
    import email
    import email.policy

    message = email.message_from_string(_local_mail(mail_id)["raw"], policy=email.policy.default)
    parts = list(message.iter_attachments())
    if not 0 <= position < len(parts):
        abort(404, "no such attachment")
    part = parts[position]
    name = part.get_filename() or f"attachment-{position}"
    response = Response(part.get_payload(decode=True) or b"", mimetype=part.get_content_type())
    response.headers["Content-Disposition"] = f'inline; filename="{secure_filename(name) or "attachment"}"'
    return response


@bp.post("/outbox/<mail_id>/reply")
@signed_in
def outbox_reply(mail_id: str) -> Any:
    """Answer a sent mail as its buyer would: the reply goes where SES's receipt rule puts inbound mail, so the real
    intake (the inbound-mail queue and its sensor) takes it from there."""
    from rfq_pipeline.devtools.local_aws import buyer_reply, deliver_raw_mail

    mail = _local_mail(mail_id)
    text = (request.form.get("text") or "").strip()
    if not text:
        flash("write the buyer's answer first", "error")
        return redirect(url_for("desk.outbox"))
    key = deliver_raw_mail(buyer_reply(mail, text), f"local-reply-{secrets.token_hex(6)}")
    flash(
        f"the buyer's answer is in the inbound bucket ({key}); the inbound_mail_sensor turns it into an intake run "
        "(Dagster UI, Automation: start it if it is stopped), and the answer then shows on the draft",
        "ok",
    )
    return redirect(url_for("desk.outbox"))


# --- Errors and template helpers -----------------------------------------------------------------------------------


def _error_page(error: HTTPException) -> tuple[str, int]:
    return _message(error.code or 500, error.description or error.name, title=error.name)


def _money(value: Any) -> str:
    if value is None or value == "":
        return "–"
    try:
        return f"{Decimal(str(value)):,.2f}"
    except ArithmeticError:
        return str(value)


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return "–" if value is None else str(value)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=True)


def _http_url(value: Any) -> str | None:
    """The URL if it is http(s): buyer-supplied links never become ``javascript:`` hrefs."""
    text = str(value or "").strip()
    return text if urlsplit(text).scheme in ("http", "https") and urlsplit(text).netloc else None


def create_app(
    settings: Settings, database: Database | None = None, *, alb_verifier: auth.AlbVerifier | None = None
) -> Flask:
    """The desk app for ``settings``; ``database`` defaults to a pool on the configured database.

    With ``RFQ_DESK_AUTH=alb-oidc`` the identity comes from the load balancer's signed header: ``alb_verifier``, or
    one for the ALB named by ``RFQ_DESK_ALB_ARN``. Behind ``RFQ_DESK_PROXY_HOPS`` proxies the client address (which
    the sign-in limit counts) is read from their X-Forwarded-For.
    """
    if settings.desk_auth == "alb-oidc" and alb_verifier is None:
        if not settings.desk_alb_arn:
            raise SettingsError("RFQ_DESK_AUTH=alb-oidc needs RFQ_DESK_ALB_ARN (the load balancer signing people in)")
        try:
            alb_verifier = auth.AlbVerifier(settings.desk_alb_arn)
        except ValueError as error:
            raise SettingsError(f"RFQ_DESK_ALB_ARN: {error}") from error
    secret = auth.desk_secret(settings)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME="rfq_desk",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.desk_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.extensions["rfq_desk"] = Desk(
        settings=settings,
        db=database or Database(resolve_database_url(settings)),
        pdf_store=object_store_for("quote_pdfs", settings),
        secret=secret,
        alb=alb_verifier if settings.desk_auth == "alb-oidc" else None,
    )
    if settings.desk_proxy_hops:
        # Behind a load balancer every request comes from its address: the sign-in limit per client would lock
        # everyone out together. Trust exactly the configured number of proxies, never a header a client wrote.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = settings.desk_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)  # type: ignore[method-assign]
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _error_page)
    app.jinja_env.filters.update(money=_money, when=_when, pretty=_pretty, http_url=_http_url)
    app.context_processor(
        lambda: {"csrf_token": csrf_token, "outbox_enabled": is_loopback_url(settings.aws_endpoint_url)}
    )
    return app


__all__ = ["SECURITY_HEADERS", "SESSION_LIFETIME", "Desk", "create_app", "csrf_token", "is_loopback_url", "object_key"]
