"""The simulator's HTTP server, its in-process handle, and the admin endpoints to drive it from outside."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from rfq_pipeline.devtools.simulator import alibaba_pages, faults, go4w_pages
from rfq_pipeline.devtools.simulator.catalog import AlibabaRecord, alibaba_records, go4w_leads, go4w_members
from rfq_pipeline.devtools.simulator.faults import FAULT_KINDS, Fault, Reply
from rfq_pipeline.devtools.simulator.site import SITE_MODULES, SimulatedSite, load_sites

BUILT_IN = ("go4worldbusiness", "alibaba_rfq")
SOURCES = (*BUILT_IN, *SITE_MODULES)
_SERVER_HEADER = {"alibaba_rfq": "Tengine", "go4worldbusiness": "nginx"}

ROBOTS = {
    "alibaba_rfq": """User-agent: *
Disallow: /{p}/rfq/rfq_quotation_post.htm
Disallow: /{p}/rfq/manage/
Disallow: /{p}/trade/
Disallow: /{p}/_____tmd_____/
Allow: /{p}/rfq/rfq_search_list.htm

Sitemap: https://sourcing.alibaba.com/sitemap.xml
""",
    "go4worldbusiness": """User-agent: *
Disallow: /{p}/admin/
Disallow: /{p}/user/
Disallow: /{p}/inquire/
Disallow: /{p}/favorites/
Disallow: /{p}/search/redirect
Disallow: /{p}/inquiries/

Sitemap: https://www.go4worldbusiness.com/sitemap.xml
""",
}


class LoggedRequest(NamedTuple):
    """One request as the simulator answered it."""

    source: str
    path: str
    status: int
    timestamp: datetime


@dataclass
class SimulatorState:
    """Everything the request handlers share: the catalogs (fixed at start) and the mutable fault/log state."""

    today: date
    now: datetime
    alibaba: list[AlibabaRecord]
    go4w: go4w_pages.Go4wSite
    sites: dict[str, SimulatedSite] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    faults: list[Fault] = field(default_factory=list)
    log: list[LoggedRequest] = field(default_factory=list)

    @classmethod
    def build(cls, today: date | None, now: datetime | None) -> SimulatorState:
        """Freeze ``now`` (default: the current UTC time on ``today``) and date every record relative to it."""
        if now is None:
            current = datetime.now(UTC).replace(microsecond=0)
            now = current if today is None else datetime.combine(today, current.timetz())
        now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
        if today is None:
            today = now.date()
        if now.date() != today:
            raise ValueError(f"now ({now.isoformat()}) is not on today ({today.isoformat()})")
        return cls(
            today=today,
            now=now,
            alibaba=alibaba_records(today, now),
            go4w=go4w_pages.Go4wSite(go4w_leads(today), go4w_members(today), today),
            sites=load_sites(today, now),
        )

    @property
    def sources(self) -> tuple[str, ...]:
        """Every source this simulator serves."""
        return (*BUILT_IN, *self.sites)

    def add_fault(self, source: str, kind: str, times: int = 1, retry_after: int = 1, delay: float = 0.0) -> None:
        """Arm a fault for the next ``times`` page requests of ``source`` (queued after faults already armed)."""
        if source not in self.sources:
            raise ValueError(f"unknown source {source!r}; expected one of {self.sources}")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if times < 1:
            raise ValueError("times must be at least 1")
        if kind == "timeout" and delay <= 0:
            delay = faults.DEFAULT_TIMEOUT_DELAY
        with self.lock:
            self.faults.append(Fault(source, kind, int(times), int(retry_after), float(delay)))

    def take_fault(self, source: str) -> Fault | None:
        """The fault that applies to this request of ``source``, consuming one of its uses."""
        with self.lock:
            for fault in self.faults:
                if fault.source == source:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def expected(self, source: str, day: date) -> list[str]:
        """External ids shown as posted on ``day`` (UTC), newest first."""
        if source in self.sites:
            return self.sites[source].expected(day)
        if source == "alibaba_rfq":
            visible = self.alibaba[: alibaba_pages.PAGE_SIZE * alibaba_pages.MAX_PAGES]
            return [r.rfq_id for r in visible if r.posted_at.date() == day]
        if source == "go4worldbusiness":
            return self.go4w.expected(day)
        raise ValueError(f"unknown source {source!r}")

    def expected_total(self, source: str) -> int:
        """How many records the source's full listing shows."""
        if source in self.sites:
            return self.sites[source].expected_total()
        if source == "alibaba_rfq":
            return min(len(self.alibaba), alibaba_pages.PAGE_SIZE * alibaba_pages.MAX_PAGES)
        if source == "go4worldbusiness":
            return self.go4w.expected_total()
        raise ValueError(f"unknown source {source!r}")

    def stats(self) -> dict[str, Any]:
        """Request counts per source and per status, and the faults still armed."""
        with self.lock:
            return {
                "requests": dict(Counter(entry.source for entry in self.log)),
                "statuses": {str(k): v for k, v in Counter(entry.status for entry in self.log).items()},
                "faults_pending": [asdict(fault) for fault in self.faults],
            }


def _page_number(query: dict[str, list[str]], name: str) -> int:
    try:
        return max(1, int(query.get(name, ["1"])[0]))
    except ValueError:
        return 1


def render(state: SimulatorState, source: str, rest: str, query: dict[str, list[str]], style: str) -> Reply:
    """The normal (``style="normal"``) or redesigned (``"drift"``) answer for a marketplace path."""
    if source in state.sites:
        return state.sites[source].render(rest, query, style, state.now)
    html: str
    if source == "alibaba_rfq":
        if rest == "rfq/rfq_search_list.htm":
            page = _page_number(query, "page")
            country_ok = query.get("country", ["AE"])[0].upper() == "AE"
            if style == "drift":
                html = alibaba_pages.render_drift(state.alibaba if country_ok else [], page, state.now)
            else:
                html = alibaba_pages.render_list(state.alibaba, page, state.now, country_ok=country_ok)
            return Reply(200, html.encode())
        if rest == "rfq_detail.htm":
            # Request details need a supplier account on the real board.
            return faults.login_wall(source, "/rfq_detail.htm")
        return Reply(404, alibaba_pages.render_not_found("/" + rest).encode())

    return state.go4w.render(rest, query, style)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # close idle keep-alive connections instead of holding a thread forever
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is kept in memory instead of spamming stderr

    def version_string(self) -> str:
        return getattr(self, "_server_header", "nginx")

    def do_HEAD(self) -> None:
        self._dispatch("GET", head=True)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str, head: bool = False) -> None:
        url = urlsplit(self.path)
        path = url.path
        query = parse_qs(url.query)
        self._server_header = "nginx"
        try:
            if path.startswith("/_sim/"):
                self._send(self._admin(method, path[len("/_sim/") :], query), head)
                return
            source, _, rest = path.lstrip("/").partition("/")
            if source not in self.server.state.sources or method != "GET":
                self._send(Reply(404, b"<!DOCTYPE html>\n<html><body><h1>Not Found</h1></body></html>"), head)
                return
            site = self.server.state.sites.get(source)
            self._server_header = site.server_header if site else _SERVER_HEADER[source]
            reply = self._marketplace(source, rest, query)
            with self.server.state.lock:
                self.server.state.log.append(LoggedRequest(source, self.path, reply.status, datetime.now(UTC)))
            self._send(reply, head)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a client timeout during a "timeout" fault)

    def _marketplace(self, source: str, rest: str, query: dict[str, list[str]]) -> Reply:
        state = self.server.state
        if rest == "robots.txt":
            # Faults leave robots.txt alone so that a polite client's first fetch does not consume them.
            site = state.sites.get(source)
            body = (site.robots_txt if site else ROBOTS[source]).replace("{p}", source).encode()
            return Reply(200, body, content_type="text/plain; charset=utf-8")
        fault = state.take_fault(source)
        if fault is not None and fault.delay > 0:
            time.sleep(fault.delay)
        kind = fault.kind if fault is not None else ""
        page_path = "/" + rest
        if kind in ("429", "500", "503"):
            return faults.error_page(int(kind), fault.retry_after if kind in ("429", "503") else None)  # type: ignore[union-attr]
        if kind == "challenge_cloudflare":
            return faults.cloudflare_challenge(page_path)
        if kind == "challenge_awswaf":
            return faults.awswaf_challenge(page_path)
        if kind == "captcha_alibaba":
            return faults.alibaba_captcha(page_path)
        if kind == "login":
            return faults.login_wall(source, page_path)
        reply = render(state, source, rest, query, "drift" if kind == "drift" else "normal")
        return faults.truncate(reply) if kind == "truncated" else reply

    def _admin(self, method: str, action: str, query: dict[str, list[str]]) -> Reply:
        state = self.server.state
        if action == "health" and method == "GET":
            return _json(200, {"status": "ok", "today": state.today.isoformat(), "now": state.now.isoformat()})
        if action == "stats" and method == "GET":
            return _json(200, state.stats())
        if action == "expected" and method == "GET":
            try:
                source = query["source"][0]
                ids = state.expected(source, date.fromisoformat(query["day"][0]))
            except (KeyError, ValueError) as exc:
                return _json(400, {"error": f"need ?source=...&day=YYYY-MM-DD: {exc}"})
            return _json(200, {"source": source, "ids": ids, "total": state.expected_total(source)})
        if action == "faults" and method == "DELETE":
            with state.lock:
                state.faults.clear()
            return _json(200, {"status": "cleared"})
        if action == "faults" and method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            try:
                spec = json.loads(self.rfile.read(length) or b"{}")
                state.add_fault(
                    spec["source"],
                    str(spec["kind"]),
                    times=int(spec.get("times", 1)),
                    retry_after=int(spec.get("retry_after", 1)),
                    delay=float(spec.get("delay", 0.0)),
                )
            except (KeyError, TypeError, ValueError) as exc:
                return _json(400, {"error": str(exc)})
            return _json(201, {"status": "armed", "faults_pending": state.stats()["faults_pending"]})
        return _json(404, {"error": f"no admin endpoint {method} /_sim/{action}"})

    def _send(self, reply: Reply, head: bool) -> None:
        self.send_response(reply.status)  # also sends Server and Date
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            if name.lower() == "server":
                continue  # already sent by send_response
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(reply.body)


def _json(status: int, payload: dict[str, Any]) -> Reply:
    return Reply(status, json.dumps(payload).encode(), content_type="application/json")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: SimulatorState) -> None:
        super().__init__(address, _Handler)
        self.state = state


class SimulatorHandle:
    """A running simulator: its URLs, fault controls, request log and the records it shows per day."""

    def __init__(self, server: _Server, thread: threading.Thread | None) -> None:
        self._server = server
        self._thread = thread
        self.state = server.state
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}"

    @property
    def today(self) -> date:
        """The simulated day (UTC)."""
        return self.state.today

    @property
    def now(self) -> datetime:
        """The frozen instant relative times are rendered from; pass it as ``fetched_at`` for exact parsing."""
        return self.state.now

    def base_url(self, source: str) -> str:
        """Base URL of one marketplace, e.g. ``http://127.0.0.1:43121/alibaba_rfq``."""
        if source not in self.state.sources:
            raise ValueError(f"unknown source {source!r}; expected one of {self.state.sources}")
        return f"{self.url}/{source}"

    def set_fault(self, source: str, kind: str, times: int = 1, retry_after: int = 1, delay: float = 0.0) -> None:
        """Apply fault ``kind`` to the next ``times`` page requests of ``source`` (robots.txt is never faulted)."""
        self.state.add_fault(source, kind, times=times, retry_after=retry_after, delay=delay)

    def clear_faults(self) -> None:
        """Disarm every pending fault."""
        with self.state.lock:
            self.state.faults.clear()

    @property
    def request_log(self) -> list[LoggedRequest]:
        """A snapshot of the marketplace requests answered so far: (source, path, status, timestamp)."""
        with self.state.lock:
            return list(self.state.log)

    def stats(self) -> dict[str, Any]:
        """Request counts per source and status, and the pending faults (as ``GET /_sim/stats``)."""
        return self.state.stats()

    def expected(self, source: str, day: date) -> list[str]:
        """External ids the simulator shows as posted on ``day`` (UTC), newest first."""
        return self.state.expected(source, day)

    def expected_total(self, source: str) -> int:
        """How many records the source's full listing shows."""
        return self.state.expected_total(source)

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_simulator(
    host: str = "127.0.0.1", port: int = 0, today: date | None = None, *, now: datetime | None = None
) -> SimulatorHandle:
    """Start the simulator in a daemon thread (``port=0``: any free port) and return its handle.

    ``today`` defaults to the current UTC date; ``now`` (frozen for the simulator's lifetime) defaults to the
    current UTC time of day on ``today``. Both decide which records are shown as posted when.
    """
    server = _Server((host, port), SimulatorState.build(today, now))
    thread = threading.Thread(target=server.serve_forever, name="rfq-marketplace-simulator", daemon=True)
    thread.start()
    return SimulatorHandle(server, thread)


def serve(host: str = "127.0.0.1", port: int = 8765, today: date | None = None) -> None:
    """Run the simulator in the foreground until interrupted (for ``rfq-pipeline simulator serve``)."""
    server = _Server((host, port), SimulatorState.build(today, None))
    handle = SimulatorHandle(server, None)
    print(f"marketplace simulator on {handle.url} (today={handle.today}, now={handle.now.isoformat()})", flush=True)
    for source in server.state.sources:
        print(f"  {source}: {handle.base_url(source)}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
