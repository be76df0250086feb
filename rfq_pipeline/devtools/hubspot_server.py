"""A local stand-in for the HubSpot CRM deals API (v3), for tests and local runs without a portal or a network.

It serves what the quote dispatcher calls, with HubSpot's status codes and error shape
(``{"status": "error", "message": ..., "correlationId": ..., "category": ...}``):

- ``POST /crm/v3/objects/deals`` with ``{"properties": {...}}``: ``201`` and the created deal (``id``, string
  ``properties`` including ``hs_object_id`` and ``createdate``, ``createdAt``, ``updatedAt``, ``archived``);
  ``400 VALIDATION_ERROR`` when ``dealname`` is missing, a property is not a deal property or ``amount`` is not a
  number; ``400`` with ``INVALID_JSON``-style message for a body that is not JSON.
- ``GET /crm/v3/objects/deals/{id}``: the deal, or ``404 OBJECT_NOT_FOUND``.
- Every call needs ``Authorization: Bearer <token>`` with the handle's token, else ``401 INVALID_AUTHENTICATION``.

:meth:`HubSpotServerHandle.fail_next` makes the next N calls answer ``500`` (``INTERNAL_ERROR``) or ``429`` (HubSpot's
``RATE_LIMIT`` body, with ``Retry-After`` when given) before anything else is checked.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from rfq_pipeline.devtools.local_http import LocalServer, LocalServerHandle, serve_in_thread

__all__ = ["DEAL_PROPERTIES", "DEFAULT_TOKEN", "HubSpotServerHandle", "LoggedCall", "start_hubspot_server"]

DEFAULT_TOKEN = "pat-na1-00000000-local-test-token"
# The default deal properties a portal has; HubSpot rejects a create that names any other.
DEAL_PROPERTIES = frozenset(
    {"dealname", "amount", "deal_currency_code", "pipeline", "dealstage", "description", "closedate", "dealtype"}
    | {"hubspot_owner_id", "hs_priority"}
)
_DEALS = "/crm/v3/objects/deals"
_DEAL = re.compile(r"^/crm/v3/objects/deals/(?P<id>[^/]+)/?$")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, category: str, message: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    body = {"status": "error", "message": message, "correlationId": secrets.token_hex(16), "category": category}
    body.update(extra)
    return status, body


@dataclass(frozen=True)
class LoggedCall:
    """One API call the server answered."""

    method: str
    path: str
    status: int
    authorization: str  # the header as received, so tests can check what the client sent


@dataclass
class _Failure:
    status: int
    retry_after: str | None


@dataclass
class _HubSpotState:
    token: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1001
    failures: list[_Failure] = field(default_factory=list)
    log: list[LoggedCall] = field(default_factory=list)

    def create(self, properties: dict[str, Any]) -> dict[str, Any]:
        deal_id = str(self.next_id)
        self.next_id += 1
        now = _iso(datetime.now(UTC))
        stored = {key: None if value is None else str(value) for key, value in properties.items()}
        stored.update(hs_object_id=deal_id, createdate=now, hs_lastmodifieddate=now)
        deal = {"id": deal_id, "properties": stored, "createdAt": now, "updatedAt": now, "archived": False}
        self.deals[deal_id] = deal
        return deal


def _problem(name: str, error: str, message: str) -> dict[str, Any]:
    return {"isValid": False, "message": message, "error": error, "name": name}


def _validate(properties: dict[str, Any]) -> str | None:
    """HubSpot's "Property values were not valid" message for ``properties``, or ``None`` when they are."""
    problems: list[dict[str, Any]] = []
    if not str(properties.get("dealname") or "").strip():
        problems.append(_problem("dealname", "REQUIRED_FIELD", "dealname is required"))
    for name in sorted(set(properties) - DEAL_PROPERTIES):
        problems.append(_problem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
    amount = properties.get("amount")
    if amount not in (None, ""):
        try:
            float(str(amount))
        except ValueError:
            problems.append(_problem("amount", "INVALID_FLOAT", f"{amount} was not a valid number."))
    if not problems:
        return None
    return "Property values were not valid: " + json.dumps(problems)


class _Handler(BaseHTTPRequestHandler):
    server: LocalServer[_HubSpotState]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean; the handle keeps a request log

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        state = self.server.state
        headers: dict[str, str] = {}
        with state.lock:
            failure = state.failures.pop(0) if state.failures else None
        if failure is not None:
            status, payload = self._failure(failure)
            if failure.retry_after is not None:
                headers["Retry-After"] = failure.retry_after
        else:
            status, payload = self._route(method, path, raw)
        with state.lock:
            state.log.append(LoggedCall(method, path, status, self.headers.get("authorization") or ""))
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json;charset=utf-8")
        self.send_header("content-length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    @staticmethod
    def _failure(failure: _Failure) -> tuple[int, dict[str, Any]]:
        if failure.status == 429:
            return failure.status, {
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": secrets.token_hex(16),
                "policyName": "SECONDLY",
            }
        return _error(failure.status, "INTERNAL_ERROR", "internal error")

    def _route(self, method: str, path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        state = self.server.state
        bearer = (self.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(bearer.encode(), state.token.encode()):
            return _error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
                "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        if path.rstrip("/") == _DEALS:
            if method != "POST":
                return _error(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {_DEALS}")
            try:
                body = json.loads(raw or b"null")
            except (json.JSONDecodeError, UnicodeDecodeError):
                return _error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1, column 1: body is not JSON")
            properties = body.get("properties") if isinstance(body, dict) else None
            if not isinstance(properties, dict):
                return _error(400, "VALIDATION_ERROR", "Invalid input JSON: properties is required")
            problem = _validate(properties)
            if problem:
                return _error(400, "VALIDATION_ERROR", problem)
            with state.lock:
                return 201, state.create(properties)
        match = _DEAL.match(path)
        if match and method == "GET":
            with state.lock:
                deal = state.deals.get(match.group("id"))
            if deal is None:
                return _error(
                    404,
                    "OBJECT_NOT_FOUND",
                    "Object not found.  objectId are usually numeric.",
                    context={"id": [match.group("id")]},
                )
            return 200, deal
        return _error(404, "OBJECT_NOT_FOUND", f"No route for {method} {path}")


class HubSpotServerHandle(LocalServerHandle):
    """A running server: its URL and token, the deals created, the request log and failure switches."""

    def __init__(self, server: LocalServer[_HubSpotState], thread: threading.Thread) -> None:
        super().__init__(server, thread)
        self.state = server.state
        self.url = server.base_url
        self.token = server.state.token

    def fail_next(self, count: int = 1, status: int = 500, *, retry_after: str | None = None) -> None:
        """The next ``count`` calls answer ``status`` (``500`` or ``429``), with ``Retry-After`` when given."""
        if status not in (429, 500):
            raise ValueError(f"status {status} must be 429 or 500")
        with self.state.lock:
            self.state.failures.extend(_Failure(status, retry_after) for _ in range(count))

    @property
    def deals(self) -> dict[str, dict[str, Any]]:
        """A snapshot of the deals created, by id."""
        with self.state.lock:
            return {deal_id: json.loads(json.dumps(deal)) for deal_id, deal in self.state.deals.items()}

    @property
    def request_log(self) -> list[LoggedCall]:
        """A snapshot of the calls answered so far."""
        with self.state.lock:
            return list(self.state.log)

    def reset(self) -> None:
        """Forget deals, armed failures and the log (ids keep counting up, like a real portal's)."""
        with self.state.lock:
            self.state.deals.clear()
            self.state.failures.clear()
            self.state.log.clear()


def start_hubspot_server(host: str = "127.0.0.1", port: int = 0, *, token: str = DEFAULT_TOKEN) -> HubSpotServerHandle:
    """Start the server in a daemon thread (``port=0``: any free port) and return its handle."""
    server = LocalServer((host, port), _Handler, _HubSpotState(token=token))
    thread = serve_in_thread(server, "rfq-hubspot-server")
    return HubSpotServerHandle(server, thread)
