"""A tiny website on 127.0.0.1 for the page-fetching and research tests: routes set per test, every hit logged."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Route:
    """What one path answers."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})


def html(body: str, *, title: str = "Page") -> Route:
    """A 200 HTML page with ``body`` inside ``<body>``."""
    page = f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"
    return Route(body=page.encode())


def redirect(location: str, status: int = 302) -> Route:
    """A redirect to ``location`` (absolute or relative)."""
    return Route(status=status, headers={"Location": location, "Content-Type": "text/html"}, body=b"moved")


class LocalSite:
    """The running site: ``url(path)`` to address it, ``routes`` to change it, ``hits`` to see what was asked."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.base = f"http://127.0.0.1:{server.server_address[1]}"
        self.routes: dict[str, Route] = {}
        self.hits: list[str] = []
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this site."""
        return self.base + path

    def add(self, path: str, route: Route) -> None:
        """Serve ``route`` at ``path``."""
        with self.lock:
            self.routes[path] = route

    def reset(self) -> None:
        """Forget every route and hit."""
        with self.lock:
            self.routes.clear()
            self.hits.clear()


def _handler(site_ref: list[LocalSite]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site = site_ref[0]
            with site.lock:
                site.hits.append(self.path)
                route = site.routes.get(self.path, Route(status=404, body=b"<html><body>Not found</body></html>"))
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def local_site() -> Iterator[LocalSite]:
    """Serve a :class:`LocalSite` on a free loopback port for the duration of the block."""
    ref: list[LocalSite] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
    server.daemon_threads = True
    site = LocalSite(server)
    ref.append(site)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(2)
