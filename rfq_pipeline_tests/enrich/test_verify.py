"""E-mail verification against a local UDP DNS responder and a local HTTP server standing in for the providers."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from rfq_pipeline.enrich.verify import (
    MillionVerifier,
    MxResult,
    UdpDnsResolver,
    ZeroBounce,
    disposable_domains,
    is_role_account,
    syntax_problem,
    verify_email,
)
from rfq_pipeline.fetch.http_client import FetchResponse, HttpClient, RetryPolicy

SECRET = "sk-test-SECRET-4242"

# ------------------------------------------------------------------------------------------------ a tiny DNS server

MX_ZONE = {
    "noorcosmetics.ae": [(20, "mx2.noorcosmetics.ae"), (10, "mx1.noorcosmetics.ae")],
    "gmail.com": [(5, "gmail-smtp-in.l.google.com")],
    "catchall.example": [(10, "mx.catchall.example")],
}
EMPTY_ZONE = {"nomx.example"}  # exists, no MX


def _qname(message: bytes) -> tuple[str, int]:
    labels, offset = [], 12
    while message[offset]:
        length = message[offset]
        labels.append(message[offset + 1 : offset + 1 + length].decode())
        offset += 1 + length
    return ".".join(labels).lower(), offset + 1 + 4


def _answer(query: bytes) -> bytes:
    (qid,) = struct.unpack_from("!H", query)
    name, question_end = _qname(query)
    question = query[12:question_end]
    records = MX_ZONE.get(name)
    rcode = 0 if records or name in EMPTY_ZONE else 3
    answers = b""
    for preference, host in records or []:
        rdata = struct.pack("!H", preference) + b"".join(
            bytes([len(label)]) + label.encode() for label in host.split(".")
        ) + b"\x00"
        answers += b"\xc0\x0c" + struct.pack("!HHIH", 15, 1, 300, len(rdata)) + rdata
    header = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(records or []), 0, 0)
    return header + question + answers


@pytest.fixture()
def dns_server() -> Iterator[tuple[int, list[str]]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    asked: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                query, peer = sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            asked.append(_qname(query)[0])
            sock.sendto(_answer(query), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], asked
    stop.set()
    thread.join(2)
    sock.close()


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A bound UDP port that never answers (a black-holed resolver)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def test_mx_lookup_over_udp(dns_server) -> None:
    port, asked = dns_server
    resolver = UdpDnsResolver("127.0.0.1", port, timeout_s=1.0)
    result = resolver.lookup_mx("NoorCosmetics.ae")
    assert result == MxResult("found", ("mx1.noorcosmetics.ae", "mx2.noorcosmetics.ae"))
    assert asked == ["noorcosmetics.ae"]
    assert resolver.lookup_mx("does-not-exist.example").status == "nxdomain"
    assert resolver.lookup_mx("nomx.example").status == "none"


def test_unreachable_dns_is_unknown(silent_port) -> None:
    result = UdpDnsResolver("127.0.0.1", silent_port, timeout_s=0.2, attempts=1).lookup_mx("noorcosmetics.ae")
    assert result.status == "unknown" and "unreachable" in result.detail
    silent = UdpDnsResolver("127.0.0.1", silent_port, timeout_s=0.2)
    verification = verify_email("ahmed@noorcosmetics.ae", resolver=silent)
    assert verification.status == "unknown"


# ----------------------------------------------------------------------------------------------- syntax and lists


@pytest.mark.parametrize(
    ("email", "ok"),
    [
        ("ahmed@noorcosmetics.ae", True),
        ("first.last+rfq@sub.glow.com.au", True),
        ("o'neil@example.ie", True),
        ("user@bücher.de", True),
        ("no-at-sign.com", False),
        ("two@@ats.com", False),
        (".dot@start.com", False),
        ("dot.@end.com", False),
        ("dou..ble@dots.com", False),
        ("spaces in@local.com", False),
        ("user@nodot", False),
        ("user@-hyphen.com", False),
        ("user@numeric.123", False),
        ("a" * 65 + "@long.com", False),
        ("a@" + "b" * 64 + ".com", False),
        ("a@" + ".".join(["abcdefghi"] * 26) + ".com", False),  # > 254 characters
    ],
)
def test_syntax(email, ok) -> None:
    assert (syntax_problem(email) is None) is ok


def test_role_accounts_and_disposable_list() -> None:
    assert is_role_account("info@noorcosmetics.ae") and is_role_account("Sales.Dubai@x.ae")
    assert is_role_account("export-team@x.com") and not is_role_account("ahmed@noorcosmetics.ae")
    assert {"mailinator.com", "yopmail.com", "guerrillamail.com"} <= disposable_domains()
    assert not any(line.startswith("#") for line in disposable_domains())


def test_statuses_without_provider(dns_server) -> None:
    resolver = UdpDnsResolver("127.0.0.1", dns_server[0], timeout_s=1.0)
    assert verify_email("bad@@x.com", resolver=resolver).status == "invalid"
    disposable = verify_email("buyer@mailinator.com", resolver=resolver)
    assert disposable.status == "disposable" and disposable.disposable
    assert verify_email("buyer@does-not-exist.example", resolver=resolver).status == "invalid"
    assert verify_email("buyer@nomx.example", resolver=resolver).status == "invalid"
    # MX found but no mailbox check: still unknown, never valid
    found = verify_email("info@noorcosmetics.ae", resolver=resolver)
    assert found.status == "unknown" and found.role_account and found.checks["mx"] == "found"
    assert verify_email("x@gmail.com", resolver=resolver).free_mail
    # no resolver at all: unknown
    assert verify_email("ahmed@noorcosmetics.ae").status == "unknown"


# ------------------------------------------------------------------------------------------- provider HTTP server

MV_RESULTS = {
    "ahmed@noorcosmetics.ae": "ok",
    "buyer@catchall.example": "catch_all",
    "gone@noorcosmetics.ae": "invalid",
    "who@noorcosmetics.ae": "unknown",
    "temp@noorcosmetics.ae": "disposable",
}
ZB_STATUSES = {
    "ahmed@noorcosmetics.ae": "valid",
    "buyer@catchall.example": "catch-all",
    "gone@noorcosmetics.ae": "invalid",
    "trap@noorcosmetics.ae": "spamtrap",
    "who@noorcosmetics.ae": "unknown",
}


class _Handler(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict[str, list[str]]]] = []  # noqa: RUF012

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        type(self).requests.append((parts.path, query))
        email = query.get("email", [""])[0]
        if parts.path == "/api/v3/" and query.get("api") == [SECRET]:
            body: dict[str, object] = {"email": email, "result": MV_RESULTS.get(email, "unknown"), "credits": 99}
        elif parts.path == "/v2/validate" and query.get("api_key") == [SECRET]:
            body = {"address": email, "status": ZB_STATUSES.get(email, "unknown"), "sub_status": ""}
        elif parts.path == "/broken":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>not json</html>")
            return
        else:
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b'{"error": "bad key"}')
            return
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def provider_server() -> Iterator[str]:
    _Handler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(2)


@pytest.fixture()
def client() -> Iterator[HttpClient]:
    http = HttpClient(policy=RetryPolicy(timeouts_s=(2.0,), backoff_s=()), sleep=lambda _s: None)
    yield http
    http.close()


def _assert_no_secret(*objects: object) -> None:
    for item in objects:
        assert SECRET not in repr(item)


@pytest.mark.parametrize(
    ("email", "status"),
    [
        ("ahmed@noorcosmetics.ae", "valid"),
        ("buyer@catchall.example", "unknown"),
        ("gone@noorcosmetics.ae", "invalid"),
        ("who@noorcosmetics.ae", "unknown"),
        ("temp@noorcosmetics.ae", "disposable"),
    ],
)
def test_millionverifier(provider_server, client, dns_server, email, status) -> None:
    provider = MillionVerifier(SECRET, client, base_url=provider_server + "/api/v3/")
    resolver = UdpDnsResolver("127.0.0.1", dns_server[0], timeout_s=1.0)
    result = verify_email(email, resolver=resolver, provider=provider)
    assert result.status == status
    path, query = _Handler.requests[-1]
    assert path == "/api/v3/" and query["email"] == [email] and query["timeout"] == ["10"]
    _assert_no_secret(result, provider)
    if email.startswith("buyer@catchall"):
        assert any("catch-all" in reason for reason in result.reasons)


@pytest.mark.parametrize(
    ("email", "status"),
    [
        ("ahmed@noorcosmetics.ae", "valid"),
        ("buyer@catchall.example", "unknown"),
        ("gone@noorcosmetics.ae", "invalid"),
        ("trap@noorcosmetics.ae", "do_not_mail"),
        ("who@noorcosmetics.ae", "unknown"),
    ],
)
def test_zerobounce(provider_server, client, dns_server, email, status) -> None:
    provider = ZeroBounce(SECRET, client, base_url=provider_server + "/v2/validate")
    resolver = UdpDnsResolver("127.0.0.1", dns_server[0], timeout_s=1.0)
    result = verify_email(email, resolver=resolver, provider=provider)
    assert result.status == status
    assert _Handler.requests[-1][1]["api_key"] == [SECRET]
    _assert_no_secret(result, provider)


def test_provider_valid_but_dns_unreachable_is_unknown(provider_server, client, silent_port) -> None:
    provider = MillionVerifier(SECRET, client, base_url=provider_server + "/api/v3/")
    result = verify_email(
        "ahmed@noorcosmetics.ae", resolver=UdpDnsResolver("127.0.0.1", silent_port, timeout_s=0.2), provider=provider
    )
    assert result.provider is not None and result.provider.status == "valid"
    assert result.status == "unknown"


def test_provider_failures_are_unknown_and_never_leak_the_key(provider_server, client, silent_port) -> None:
    wrong_key = MillionVerifier("other-key", client, base_url=provider_server + "/api/v3/").check("a@b.com")
    assert wrong_key.status == "unknown" and "401" in wrong_key.detail
    broken = ZeroBounce(SECRET, client, base_url=provider_server + "/broken").check("a@b.com")
    assert broken.status == "unknown" and "JSON" in broken.detail
    # nothing listens on this TCP port: a network error whose curl message would include the URL and the key
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    dead = MillionVerifier(SECRET, client, base_url=f"http://127.0.0.1:{dead_port}/api/v3/")
    result = verify_email("ahmed@noorcosmetics.ae", provider=dead)
    assert result.status == "unknown" and result.provider is not None and result.provider.status == "unknown"
    _assert_no_secret(result, dead, broken)


class _EchoingClient:
    """A client whose error message echoes the URL, as some transport errors do."""

    def get(self, url: str, **_: object) -> FetchResponse:
        return FetchResponse(url=url, outcome="network_error", error=f"could not fetch {url}")


def test_key_is_scrubbed_from_transport_errors() -> None:
    provider = ZeroBounce(SECRET, _EchoingClient(), base_url="https://api.zerobounce.net/v2/validate")  # type: ignore[arg-type]
    result = provider.check("a@b.com")
    assert result.status == "unknown" and "<redacted>" in result.detail and "a%40b.com" in result.detail
    _assert_no_secret(result, provider)
