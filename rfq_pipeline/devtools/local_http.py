"""What the local stand-ins for outside services (Anthropic, HubSpot, a Slack webhook) share: a threaded HTTP server
on loopback that carries the stand-in's state, and a handle that stops it."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Self, TypeVar

State = TypeVar("State")


class LocalServer(ThreadingHTTPServer, Generic[State]):
    """A threaded server whose handlers reach the stand-in's ``state``; ``base_url`` is where it listens."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], state: State) -> None:
        super().__init__(address, handler)
        self.state = state
        host, port = self.server_address[:2]
        self.base_url = f"http://{host}:{port}"


class LocalServerHandle:
    """A running stand-in: stop it (or use it as a context manager) to release the port."""

    def __init__(self, server: LocalServer[Any], thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_in_thread(server: LocalServer[Any], name: str) -> threading.Thread:
    """Serve ``server`` from a daemon thread named ``name``."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread
