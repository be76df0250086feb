"""A local stand-in for a Slack incoming webhook, for tests and local runs without a workspace or a network.

It answers ``POST`` on one secret-looking path (``/services/T.../B.../<token>``, like a real webhook URL, so a test
can check that the secret never leaks into a result or a log) and records every body it received. Like Slack it
answers ``200 ok`` as plain text, ``400 invalid_payload`` for a body that is not a JSON object, ``400 no_text`` for
a message without ``text`` or ``blocks`` and ``404 no_service`` on any other path. Tests can make it answer a chosen
status instead (:meth:`WebhookServerHandle.respond_with`) or only for the next N posts
(:meth:`WebhookServerHandle.fail_next`).
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from rfq_pipeline.devtools.local_http import LocalServer, LocalServerHandle, serve_in_thread

__all__ = ["ReceivedPost", "WebhookServerHandle", "start_webhook_server"]


@dataclass(frozen=True)
class ReceivedPost:
    """One POST the receiver accepted on its webhook path."""

    path: str
    headers: dict[str, str]
    body: bytes
    json: Any  # the parsed body, or None when it was not JSON


@dataclass
class _WebhookState:
    path: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    received: list[ReceivedPost] = field(default_factory=list)
    status: int | None = None  # a forced answer for every post; None answers like Slack
    body: bytes = b""
    failures: list[tuple[int, bytes]] = field(default_factory=list)  # one forced answer per upcoming post

    def answer(self, post: ReceivedPost) -> tuple[int, bytes]:
        with self.lock:
            self.received.append(post)
            if self.failures:
                return self.failures.pop(0)
            if self.status is not None:
                return self.status, self.body
        if not isinstance(post.json, dict):
            return 400, b"invalid_payload"
        if not post.json.get("text") and not post.json.get("blocks"):
            return 400, b"no_text"
        return 200, b"ok"


class _Handler(BaseHTTPRequestHandler):
    server: LocalServer[_WebhookState]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request line holds the secret path; the handle keeps what tests need

    def do_GET(self) -> None:
        self._reply(405, b"invalid_method")

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path != self.server.state.path:
            self._reply(404, b"no_service")
            return
        try:
            parsed: Any = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            parsed = None
        post = ReceivedPost(self.path, {k.lower(): v for k, v in self.headers.items()}, raw, parsed)
        self._reply(*self.server.state.answer(post))

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "text/plain; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class WebhookServerHandle(LocalServerHandle):
    """A running receiver: its webhook URL, the posts received and switches for the answer."""

    def __init__(self, server: LocalServer[_WebhookState], thread: threading.Thread) -> None:
        super().__init__(server, thread)
        self.state = server.state
        self.base_url = server.base_url
        self.url = server.base_url + server.state.path
        self.secret = server.state.path.rsplit("/", 1)[-1]

    @property
    def received(self) -> list[ReceivedPost]:
        """A snapshot of the posts received on the webhook path, in order."""
        with self.state.lock:
            return list(self.state.received)

    def respond_with(self, status: int | None, body: bytes | str = b"") -> None:
        """Answer every post with ``status`` and ``body`` from now on; ``None`` restores the Slack-like answers."""
        with self.state.lock:
            self.state.status = status
            self.state.body = body.encode() if isinstance(body, str) else body

    def fail_next(self, count: int = 1, status: int = 500, body: bytes | str = b"rollup_error") -> None:
        """Answer the next ``count`` posts with ``status`` (Slack's own 5xx body is ``rollup_error``)."""
        payload = body.encode() if isinstance(body, str) else body
        with self.state.lock:
            self.state.failures.extend([(status, payload)] * count)

    def reset(self) -> None:
        """Forget the posts received and any forced answer."""
        with self.state.lock:
            self.state.received.clear()
            self.state.failures.clear()
            self.state.status = None
            self.state.body = b""


def start_webhook_server(host: str = "127.0.0.1", port: int = 0) -> WebhookServerHandle:
    """Start the receiver in a daemon thread (``port=0``: any free port) and return its handle."""
    path = f"/services/T{secrets.token_hex(4).upper()}/B{secrets.token_hex(4).upper()}/{secrets.token_urlsafe(18)}"
    server = LocalServer((host, port), _Handler, _WebhookState(path=path))
    thread = serve_in_thread(server, "rfq-webhook-server")
    return WebhookServerHandle(server, thread)
