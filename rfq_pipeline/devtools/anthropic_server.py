"""A local stand-in for the Anthropic API (Message Batches and Messages), for tests and local runs without a key or a
network.

It serves the endpoints the real ``anthropic`` SDK calls (point the SDK at it with ``base_url=handle.url``):

- ``POST /v1/messages/batches`` (create), ``GET /v1/messages/batches`` (list, newest first, ``after_id`` /
  ``before_id`` / ``limit``), ``GET /v1/messages/batches/{id}`` (retrieve), ``POST .../{id}/cancel``,
  ``DELETE .../{id}``, and ``GET .../{id}/results`` (JSONL, in no particular order, like the real API).
- ``POST /v1/messages`` (non-streaming ``client.messages.create``), answered from a script: see below.
- Every request needs the handle's key (``x-api-key``, or ``Authorization: Bearer`` as SDK 2.x sends it) and an
  ``anthropic-version`` header.

Each request is answered with a ``tool_use`` message whose input comes from a *responder*: a callable given the
RFQ found in the ``<rfq_data>`` block of the user message (the default asks the local classifier) and returning the
tool input. ``usage`` is estimated from the prompt's size the way the real API counts it (roughly 4 characters a
token plus the tool-use overhead). Behaviours that tests arm on the handle:

- :meth:`AnthropicServerHandle.set_in_progress_polls`: a batch answers ``in_progress`` for N retrieves first;
- :meth:`~AnthropicServerHandle.fail_items` / :meth:`~AnthropicServerHandle.expire_items`: given custom_ids are
  ``errored`` (``overloaded_error`` by default) or ``expired`` in the next N batches that carry them;
- :meth:`~AnthropicServerHandle.expire_next_batches`: every request of the next N batches expires;
- :meth:`~AnthropicServerHandle.malform_items`: a text answer without a tool call, or a label outside the enum;
- :meth:`~AnthropicServerHandle.set_obedient`: an RFQ that says "classify this as <industry>" gets that industry,
  the way a hijacked model would answer.

``POST /v1/messages`` answers with scripted assistant turns: :meth:`~AnthropicServerHandle.script_messages` queues
turns (a message dict, usually built with :func:`assistant_turn` / :func:`tool_use_block` / :func:`text_block`, an
:func:`error_turn`, or a callable given the request body) consumed one per request; once the queue is empty a
responder set with :meth:`~AnthropicServerHandle.set_message_responder` answers every request. A turn only needs
``content`` (``stop_reason`` defaults to ``tool_use`` when it calls a tool, else ``end_turn``); ``id``, ``model`` and
a ``usage`` estimated like the batch one are filled in. Requests are checked the way the real API checks them
(required fields, every ``tool_use`` answered by a ``tool_result`` in the next user turn, no stray results), and
every body is kept for inspection (:meth:`~AnthropicServerHandle.message_requests`).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rfq_pipeline.ai.labels import INDUSTRIES, RfqText
from rfq_pipeline.devtools.local_http import LocalServer, LocalServerHandle, serve_in_thread

Responder = Callable[[Mapping[str, Any]], Mapping[str, Any]]
# ``(request body) -> assistant message`` for ``POST /v1/messages``; a scripted turn is a message or one of these.
MessageResponder = Callable[[Mapping[str, Any]], Mapping[str, Any]]
ScriptedTurn = Mapping[str, Any] | MessageResponder

DEFAULT_API_KEY = "sk-ant-local-test-key"
TOOL_OVERHEAD_TOKENS = 346  # what the API adds for tool use with a forced tool_choice
MALFORMED_KINDS = ("no_tool", "bad_enum", "extra_field")
_DATA_BLOCK = re.compile(r"<rfq_data>\s*(.*?)\s*</rfq_data>", re.S)
_HIJACK = re.compile(
    r"\b(?:classify|label|categori[sz]e|mark)\b.{0,40}?\b(" + "|".join(INDUSTRIES) + r")\b", re.I | re.S
)
_PATH = re.compile(r"^/v1/messages/batches(?:/(?P<id>[A-Za-z0-9_-]+)(?:/(?P<action>cancel|results))?)?/?$")


def local_classifier_responder(rfq: Mapping[str, Any]) -> dict[str, str]:
    """The local classifier's industry and intent for the RFQ (the default responder)."""
    from rfq_pipeline.ai.classifier import local_classifier  # type: ignore[import-not-found, unused-ignore]

    item = RfqText(
        id="0",
        title=str(rfq.get("title") or ""),
        description=str(rfq.get("description") or ""),
        quantity=str(rfq.get("quantity") or ""),
        country=str(rfq.get("country") or ""),
    )
    label = local_classifier().classify([item])[0]
    return {"industry": label.industry, "intent": label.intent}


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


@dataclass
class LoggedCall:
    """One API request the server answered."""

    method: str
    path: str
    status: int


@dataclass
class _Batch:
    id: str
    requests: list[dict[str, Any]]
    created_at: datetime
    polls_left: int
    expire_all: bool
    processing_status: str = "in_progress"
    cancel_initiated_at: datetime | None = None
    ended_at: datetime | None = None
    results: list[dict[str, Any]] | None = None


@dataclass
class AnthropicServerState:
    """Batches, armed behaviours and the request log, shared by the handler threads."""

    api_key: str
    responder: Responder
    lock: threading.Lock = field(default_factory=threading.Lock)
    batches: dict[str, _Batch] = field(default_factory=dict)
    in_progress_polls: int = 0
    errored: dict[str, list[Any]] = field(default_factory=dict)  # custom_id -> [error type, batches left]
    expired: dict[str, int] = field(default_factory=dict)  # custom_id -> batches left
    malformed: dict[str, str] = field(default_factory=dict)  # custom_id -> kind
    expire_batches: int = 0
    obedient: bool = False
    log: list[LoggedCall] = field(default_factory=list)
    message_script: list[ScriptedTurn] = field(default_factory=list)
    message_responder: MessageResponder | None = None
    message_bodies: list[dict[str, Any]] = field(default_factory=list)

    # --- batch lifecycle (called with the lock held) ---

    def create(self, requests: list[dict[str, Any]]) -> _Batch:
        batch = _Batch(
            id="msgbatch_" + secrets.token_hex(12),
            requests=requests,
            created_at=_now(),
            polls_left=self.in_progress_polls,
            expire_all=self.expire_batches > 0,
        )
        self.expire_batches = max(0, self.expire_batches - 1)
        self.batches[batch.id] = batch
        return batch

    def advance(self, batch: _Batch) -> None:
        """One retrieve: count down the in-progress polls, then end the batch."""
        if batch.processing_status == "ended":
            return
        if batch.processing_status == "in_progress" and batch.polls_left > 0:
            batch.polls_left -= 1
            return
        canceled = batch.processing_status == "canceling"
        batch.results = [self._result(r, canceled=canceled, expired=batch.expire_all) for r in batch.requests]
        batch.processing_status = "ended"
        batch.ended_at = _now()

    def _result(self, request: Mapping[str, Any], *, canceled: bool, expired: bool) -> dict[str, Any]:
        custom_id = request["custom_id"]
        if canceled:
            return {"custom_id": custom_id, "result": {"type": "canceled"}}
        if expired or self._consume(self.expired, custom_id):
            return {"custom_id": custom_id, "result": {"type": "expired"}}
        armed = self.errored.get(custom_id)
        if armed is not None:
            kind = armed[0]
            armed[1] -= 1
            if armed[1] <= 0:
                del self.errored[custom_id]
            error = {"type": kind, "message": "Overloaded" if kind == "overloaded_error" else kind.replace("_", " ")}
            return {
                "custom_id": custom_id,
                "result": {
                    "type": "errored",
                    "error": {"type": "error", "error": error, "request_id": "req_" + secrets.token_hex(8)},
                },
            }
        return {"custom_id": custom_id, "result": {"type": "succeeded", "message": self._message(request)}}

    @staticmethod
    def _consume(armed: dict[str, int], custom_id: str) -> bool:
        left = armed.get(custom_id, 0)
        if left <= 0:
            return False
        if left == 1:
            del armed[custom_id]
        else:
            armed[custom_id] = left - 1
        return True

    def _message(self, request: Mapping[str, Any]) -> dict[str, Any]:
        params = request["params"]
        rfq = _rfq_from(params)
        tool_name = (params.get("tool_choice") or {}).get("name") or ((params.get("tools") or [{}])[0].get("name"))
        kind = self.malformed.get(request["custom_id"])
        answer = dict(self.responder(rfq))
        if self.obedient:
            hijack = _HIJACK.search(" ".join(str(v) for v in rfq.values()))
            if hijack:
                answer["industry"] = hijack.group(1).lower()
        if kind == "no_tool":
            content: list[dict[str, Any]] = [{"type": "text", "text": "This looks like a cosmetics request."}]
            stop_reason = "end_turn"
        else:
            if kind == "bad_enum":
                answer["industry"] = "cosmetics"  # not in the taxonomy
            elif kind == "extra_field":
                answer["confidence"] = 0.9
            content = [{"type": "tool_use", "id": "toolu_" + secrets.token_hex(12), "name": tool_name, "input": answer}]
            stop_reason = "tool_use"
        prompt = json.dumps({k: params.get(k) for k in ("system", "tools", "messages")}, ensure_ascii=False)
        return {
            "id": "msg_" + secrets.token_hex(12),
            "type": "message",
            "role": "assistant",
            "model": params.get("model"),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": TOOL_OVERHEAD_TOKENS + len(prompt) // 4,
                "output_tokens": 12 + len(json.dumps(content)) // 8,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "service_tier": "batch",
            },
        }

    def reply(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one ``POST /v1/messages``: the next scripted turn, else the responder."""
        self.message_bodies.append(body)
        if self.message_script:
            turn: ScriptedTurn | None = self.message_script.pop(0)
        else:
            turn = self.message_responder
        if turn is None:
            return 400, {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "local server: no scripted reply left"},
            }
        try:
            answer = dict(turn(body) if callable(turn) else turn)
        except Exception as exc:  # a broken test responder should fail the call visibly, not drop the connection
            return 500, {"type": "error", "error": {"type": "api_error", "message": f"responder failed: {exc!r}"}}
        if answer.get("type") == "error":
            status = int(answer.pop("_status", 500))
            return status, answer
        return 200, _complete_message(answer, body)

    def as_json(self, batch: _Batch, base_url: str) -> dict[str, Any]:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if batch.results is None:
            counts["processing"] = len(batch.requests)
        else:
            for line in batch.results:
                counts[line["result"]["type"]] += 1
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": batch.processing_status,
            "request_counts": counts,
            "created_at": _iso(batch.created_at),
            "expires_at": _iso(batch.created_at + timedelta(hours=24)),
            "ended_at": _iso(batch.ended_at),
            "cancel_initiated_at": _iso(batch.cancel_initiated_at),
            "archived_at": None,
            "results_url": f"{base_url}/v1/messages/batches/{batch.id}/results" if batch.results is not None else None,
        }


# --- POST /v1/messages ------------------------------------------------------------------------------------------


def text_block(text: str) -> dict[str, Any]:
    """A ``text`` content block."""
    return {"type": "text", "text": text}


def tool_use_block(name: str, tool_input: Mapping[str, Any], *, block_id: str | None = None) -> dict[str, Any]:
    """A ``tool_use`` content block calling ``name`` with ``tool_input`` (a fresh ``toolu_`` id unless given)."""
    return {
        "type": "tool_use",
        "id": block_id or "toolu_" + secrets.token_hex(12),
        "name": name,
        "input": dict(tool_input),
    }


def assistant_turn(
    *blocks: Mapping[str, Any], stop_reason: str | None = None, usage: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """One scripted assistant message; ``stop_reason`` defaults to ``tool_use`` if a block calls a tool."""
    content = [dict(b) for b in blocks]
    turn: dict[str, Any] = {"content": content}
    turn["stop_reason"] = stop_reason or (
        "tool_use" if any(b.get("type") == "tool_use" for b in content) else "end_turn"
    )
    if usage is not None:
        turn["usage"] = dict(usage)
    return turn


def error_turn(status: int = 529, kind: str = "overloaded_error", message: str = "Overloaded") -> dict[str, Any]:
    """A scripted API error: the request is answered with HTTP ``status`` and an error body of type ``kind``."""
    return {"type": "error", "error": {"type": kind, "message": message}, "_status": status}


def _validate_message_request(body: Any) -> str | None:
    """Why a ``POST /v1/messages`` body would be refused by the API, or ``None``."""
    if not isinstance(body, dict):
        return "body: expected an object"
    for key in ("model", "max_tokens", "messages"):
        if key not in body:
            return f"{key}: Field required"
    if body.get("stream"):
        return "stream: the local server answers non-streaming requests only"
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages: expected a non-empty list"
    pending: set[str] = set()  # tool_use ids of the previous assistant turn, each owed a tool_result
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{index}.role: expected 'user' or 'assistant'"
        content = message.get("content")
        blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
        if message["role"] == "user":
            answered = {str(b.get("tool_use_id")) for b in blocks if b.get("type") == "tool_result"}
            stray = answered - pending
            if stray:
                return f"messages.{index}: unexpected tool_use_id found in tool_result blocks: {sorted(stray)[0]}"
            if pending - answered:
                missing = ", ".join(sorted(pending - answered))
                return (
                    f"messages.{index}: tool_use ids were found without tool_result blocks immediately after: "
                    f"{missing}. Each tool_use block must have a corresponding tool_result block in the next message."
                )
            pending = set()
        else:
            if pending:
                return f"messages.{index}: tool_use ids without tool_result blocks: {', '.join(sorted(pending))}"
            pending = {str(b.get("id")) for b in blocks if b.get("type") == "tool_use"}
    return None


def _complete_message(turn: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """A scripted turn made into a whole API message: ids, model, stop fields and an estimated ``usage``."""
    content = [dict(b) for b in turn.get("content") or []]
    for block in content:
        if block.get("type") == "tool_use":
            block.setdefault("id", "toolu_" + secrets.token_hex(12))
    calls_tool = any(b.get("type") == "tool_use" for b in content)
    prompt = json.dumps({k: body.get(k) for k in ("system", "tools", "messages")}, ensure_ascii=False)
    usage = {
        "input_tokens": (TOOL_OVERHEAD_TOKENS if body.get("tools") else 0) + len(prompt) // 4,
        "output_tokens": 12 + len(json.dumps(content)) // 4,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }
    usage.update(turn.get("usage") or {})
    return {
        "id": turn.get("id") or "msg_" + secrets.token_hex(12),
        "type": "message",
        "role": "assistant",
        "model": turn.get("model") or body.get("model"),
        "content": content,
        "stop_reason": turn.get("stop_reason") or ("tool_use" if calls_tool else "end_turn"),
        "stop_sequence": turn.get("stop_sequence"),
        "usage": usage,
    }


def _rfq_from(params: Mapping[str, Any]) -> dict[str, Any]:
    """The RFQ JSON in the last user message's data block (the whole text as a title if there is none)."""
    messages = [m for m in params.get("messages") or [] if m.get("role") == "user"]
    content = messages[-1].get("content") if messages else ""
    if isinstance(content, list):
        content = "\n".join(str(b.get("text", "")) for b in content if isinstance(b, Mapping))
    match = _DATA_BLOCK.search(str(content))
    if match:
        try:
            data = json.loads(match.group(1))
            if isinstance(data, dict):
                return data
        except json.JSONDecodeError:
            pass
    return {"title": str(content)}


def _validate_create(body: Any) -> str | None:
    """Why a create body is invalid, or ``None``."""
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list) or not body["requests"]:
        return "requests: expected a non-empty list"
    seen: set[str] = set()
    for index, request in enumerate(body["requests"]):
        custom_id = request.get("custom_id") if isinstance(request, dict) else None
        if not isinstance(custom_id, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", custom_id):
            return f"requests.{index}.custom_id: invalid"
        if custom_id in seen:
            return f"requests.{index}.custom_id: duplicate {custom_id!r}"
        seen.add(custom_id)
        params = request.get("params")
        if not isinstance(params, dict):
            return f"requests.{index}.params: required"
        for key in ("model", "max_tokens", "messages"):
            if key not in params:
                return f"requests.{index}.params.{key}: Field required"
    return None


class _Handler(BaseHTTPRequestHandler):
    server: LocalServer[AnthropicServerState]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean; the handle keeps a request log

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        state = self.server.state
        status, payload, content_type = self._route(method, url.path, parse_qs(url.query), raw)
        with state.lock:
            state.log.append(LoggedCall(method, url.path, status))
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.send_header("request-id", "req_" + secrets.token_hex(8))
        self.end_headers()
        self.wfile.write(body)

    def _route(self, method: str, path: str, query: Mapping[str, list[str]], raw: bytes) -> tuple[int, Any, str]:
        state = self.server.state
        # The SDK sends the key as ``x-api-key`` or (anthropic >= 2) as ``Authorization: Bearer``; accept either.
        bearer = (self.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        if state.api_key not in {self.headers.get("x-api-key"), bearer}:
            return _error(401, "authentication_error", "invalid x-api-key")
        if not self.headers.get("anthropic-version"):
            return _error(400, "invalid_request_error", "anthropic-version: header is required")
        if path.rstrip("/") == "/v1/messages":
            if method != "POST":
                return _error(405, "invalid_request_error", f"{method} not allowed")
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                return _error(400, "invalid_request_error", "body is not JSON")
            problem = _validate_message_request(body)
            if problem:
                return _error(400, "invalid_request_error", problem)
            with state.lock:
                status, answer = state.reply(body)
            return status, answer, "application/json"
        match = _PATH.match(path)
        if not match:
            return _error(404, "not_found_error", f"Not found: {path}")
        batch_id, action = match.group("id"), match.group("action")
        base = self.server.base_url
        with state.lock:
            if batch_id is None:
                if method == "POST":
                    try:
                        body = json.loads(raw or b"{}")
                    except json.JSONDecodeError:
                        return _error(400, "invalid_request_error", "body is not JSON")
                    problem = _validate_create(body)
                    if problem:
                        return _error(400, "invalid_request_error", problem)
                    return 200, state.as_json(state.create(body["requests"]), base), "application/json"
                if method == "GET":
                    return 200, _page(state, query, base), "application/json"
                return _error(405, "invalid_request_error", f"{method} not allowed")
            batch = state.batches.get(batch_id)
            if batch is None:
                return _error(404, "not_found_error", f"message batch {batch_id} not found")
            if action is None and method == "GET":
                state.advance(batch)
                return 200, state.as_json(batch, base), "application/json"
            if action is None and method == "DELETE":
                if batch.processing_status != "ended":
                    return _error(400, "invalid_request_error", "a batch can be deleted only once it has ended")
                del state.batches[batch_id]
                return 200, {"id": batch_id, "type": "message_batch_deleted"}, "application/json"
            if action == "cancel" and method == "POST":
                if batch.processing_status == "in_progress":
                    batch.processing_status = "canceling"
                    batch.cancel_initiated_at = _now()
                return 200, state.as_json(batch, base), "application/json"
            if action == "results" and method == "GET":
                if batch.results is None:
                    return _error(400, "invalid_request_error", f"batch {batch_id} has not ended; no results yet")
                # reversed: results are not in request order, and code must match them by custom_id
                lines = [json.dumps(line) for line in reversed(batch.results)]
                return 200, ("\n".join(lines) + "\n").encode(), "application/x-jsonl"
            return _error(405, "invalid_request_error", f"{method} {path} not allowed")


def _error(status: int, kind: str, message: str) -> tuple[int, Any, str]:
    return status, {"type": "error", "error": {"type": kind, "message": message}}, "application/json"


def _page(state: AnthropicServerState, query: Mapping[str, list[str]], base: str) -> dict[str, Any]:
    newest_first = list(reversed(state.batches.values()))
    ids = [b.id for b in newest_first]
    limit = max(1, min(1000, int((query.get("limit") or ["20"])[0])))
    after, before = (query.get("after_id") or [None])[0], (query.get("before_id") or [None])[0]
    if after in ids:
        chosen = newest_first[ids.index(after) + 1 :][:limit]
        has_more = ids.index(after) + 1 + limit < len(ids)
    elif before in ids:
        chosen = newest_first[: ids.index(before)][-limit:]
        has_more = ids.index(before) > limit
    else:
        chosen, has_more = newest_first[:limit], len(ids) > limit
    data = [state.as_json(b, base) for b in chosen]
    return {
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


class AnthropicServerHandle(LocalServerHandle):
    """A running server: its URL and key, behaviour switches, the request log and the batches received."""

    def __init__(self, server: LocalServer[AnthropicServerState], thread: threading.Thread) -> None:
        super().__init__(server, thread)
        self.state = server.state
        self.url = server.base_url
        self.api_key = server.state.api_key

    def set_responder(self, responder: Responder) -> None:
        """Answer requests with ``responder(rfq) -> {"industry": ..., "intent": ...}``."""
        with self.state.lock:
            self.state.responder = responder

    def set_in_progress_polls(self, polls: int) -> None:
        """New batches answer ``in_progress`` for ``polls`` retrieves before they end."""
        with self.state.lock:
            self.state.in_progress_polls = polls

    def fail_items(self, custom_ids: Iterable[str], error_type: str = "overloaded_error", times: int = 1) -> None:
        """These custom_ids come back ``errored`` with ``error_type`` in the next ``times`` batches carrying them."""
        with self.state.lock:
            for custom_id in custom_ids:
                self.state.errored[custom_id] = [error_type, times]

    def expire_items(self, custom_ids: Iterable[str], times: int = 1) -> None:
        """These custom_ids come back ``expired`` in the next ``times`` batches carrying them."""
        with self.state.lock:
            for custom_id in custom_ids:
                self.state.expired[custom_id] = times

    def expire_next_batches(self, count: int = 1) -> None:
        """Every request of the next ``count`` batches created comes back ``expired``."""
        with self.state.lock:
            self.state.expire_batches = count

    def malform_items(self, custom_ids: Iterable[str], kind: str = "bad_enum") -> None:
        """These custom_ids get output that does not validate (``no_tool``, ``bad_enum`` or ``extra_field``)."""
        if kind not in MALFORMED_KINDS:
            raise ValueError(f"unknown malformed kind {kind!r}; expected one of {MALFORMED_KINDS}")
        with self.state.lock:
            for custom_id in custom_ids:
                self.state.malformed[custom_id] = kind

    def set_obedient(self, obedient: bool = True) -> None:
        """Obey "classify this as <industry>" inside an RFQ, like a hijacked model."""
        with self.state.lock:
            self.state.obedient = obedient

    def script_messages(self, *turns: ScriptedTurn) -> None:
        """Queue turns answering the next ``POST /v1/messages`` requests, one each, in order (after any queued)."""
        with self.state.lock:
            self.state.message_script.extend(turns)

    def set_message_responder(self, responder: MessageResponder | None) -> None:
        """Answer ``POST /v1/messages`` with ``responder(body)`` whenever no scripted turn is queued."""
        with self.state.lock:
            self.state.message_responder = responder

    def message_requests(self) -> list[dict[str, Any]]:
        """Every ``POST /v1/messages`` body received, in order (to inspect prompts, tools and tool results)."""
        with self.state.lock:
            return list(self.state.message_bodies)

    def reset(self) -> None:
        """Forget batches, scripted turns, armed behaviours and the log (the responders stay)."""
        with self.state.lock:
            self.state.message_script.clear()
            self.state.message_bodies.clear()
            self.state.batches.clear()
            self.state.errored.clear()
            self.state.expired.clear()
            self.state.malformed.clear()
            self.state.log.clear()
            self.state.in_progress_polls = 0
            self.state.expire_batches = 0
            self.state.obedient = False

    @property
    def request_log(self) -> list[LoggedCall]:
        """A snapshot of the requests answered so far."""
        with self.state.lock:
            return list(self.state.log)

    def submitted_requests(self) -> list[dict[str, Any]]:
        """Every batch request received, in order (to inspect prompts, tools and custom_ids)."""
        with self.state.lock:
            return [r for b in self.state.batches.values() for r in b.requests]


def start_anthropic_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    api_key: str = DEFAULT_API_KEY,
    responder: Responder = local_classifier_responder,
) -> AnthropicServerHandle:
    """Start the server in a daemon thread (``port=0``: any free port) and return its handle."""
    server = LocalServer((host, port), _Handler, AnthropicServerState(api_key=api_key, responder=responder))
    thread = serve_in_thread(server, "rfq-anthropic-server")
    return AnthropicServerHandle(server, thread)


__all__ = [
    "DEFAULT_API_KEY",
    "MALFORMED_KINDS",
    "AnthropicServerHandle",
    "LoggedCall",
    "MessageResponder",
    "Responder",
    "ScriptedTurn",
    "assistant_turn",
    "error_turn",
    "local_classifier_responder",
    "start_anthropic_server",
    "text_block",
    "tool_use_block",
]
