import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rfq_pipeline.enrich.ssrf import Allow, UnsafeUrl, checked_redirect, checked_redirect_chain, checked_url
from rfq_pipeline.fetch.http_client import HttpClient, RetryPolicy


def _fake_dns(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror("no such host")
        return table[host]

    return resolve


PUBLIC = _fake_dns(
    {
        "buyer.example": ["93.184.216.34"],
        "rebind.example": ["93.184.216.34", "10.1.2.3"],
        "metadata.example": ["169.254.169.254"],
        "v6.example": ["2606:4700:4700::1111"],
    }
)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.1.2.3:8080/admin", "loopback"),
        ("http://10.0.0.5/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "IPv4"),
        ("http://[::ffff:127.0.0.1]/", "IPv4"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fc00::1]/", "private"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://100.64.0.1/", "non-global"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://buyer.example/", "scheme"),
        ("ftp://buyer.example/", "scheme"),
        ("//buyer.example/x", "scheme"),
        ("http:///nohost", "no host"),
        ("http://user:pw@buyer.example/", "credentials"),
        ("http://rebind.example/", "private"),  # one bad address among good ones is enough
        ("http://metadata.example/", "link-local"),
        ("http://missing.example/", "does not resolve"),
    ],
)
def test_refusals(url, reason) -> None:
    with pytest.raises(UnsafeUrl) as error:
        checked_url(url, resolver=PUBLIC)
    assert reason in error.value.reason


def test_public_hosts_pass() -> None:
    checked = checked_url("https://buyer.example/contact", resolver=PUBLIC)
    assert checked.host == "buyer.example" and checked.port == 443 and checked.addresses == ("93.184.216.34",)
    assert checked_url("http://v6.example:8080/", resolver=PUBLIC).port == 8080
    assert checked_url("http://93.184.216.34/").addresses == ("93.184.216.34",)


def test_real_resolution_of_localhost_is_refused() -> None:
    with pytest.raises(UnsafeUrl) as error:
        checked_url("http://localhost:8000/")  # the system resolver: localhost -> 127.0.0.1 / ::1
    assert "loopback" in error.value.reason


def test_explicit_allow() -> None:
    assert checked_url("http://127.0.0.1:9/", Allow.of(networks=["127.0.0.0/8"])).host == "127.0.0.1"
    assert checked_url("http://localhost:9/", Allow.of(hosts=["localhost"])).host == "localhost"
    # an allowed network does not open others, and the scheme rule still holds
    with pytest.raises(UnsafeUrl):
        checked_url("http://10.0.0.1/", Allow.of(networks=["127.0.0.0/8"]))
    with pytest.raises(UnsafeUrl):
        checked_url("file:///etc/passwd", Allow.of(hosts=["localhost", ""]))


def test_redirects_are_rechecked() -> None:
    assert checked_redirect("https://buyer.example/a", "/b", resolver=PUBLIC).url == "https://buyer.example/b"
    with pytest.raises(UnsafeUrl, match="link-local"):
        checked_redirect("https://buyer.example/a", "http://169.254.169.254/latest/", resolver=PUBLIC)
    with pytest.raises(UnsafeUrl, match="scheme"):
        checked_redirect("https://buyer.example/a", "file:///etc/passwd", resolver=PUBLIC)
    with pytest.raises(UnsafeUrl, match="Location"):
        checked_redirect("https://buyer.example/a", "", resolver=PUBLIC)
    chain = checked_redirect_chain(["https://buyer.example/a", "/b", "https://v6.example/c"], resolver=PUBLIC)
    assert [c.url for c in chain] == ["https://buyer.example/a", "https://buyer.example/b", "https://v6.example/c"]
    with pytest.raises(UnsafeUrl, match="redirects"):
        checked_redirect_chain(["https://buyer.example/a"] + ["/b"] * 6, resolver=PUBLIC)


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<p>Contact: buyer@glow.com.au</p>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def page_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/contact"
    server.shutdown()
    server.server_close()
    thread.join(2)


def test_guarded_fetch_through_the_shared_client(page_server) -> None:
    with pytest.raises(UnsafeUrl):
        checked_url(page_server)
    checked = checked_url(page_server, Allow.of(networks=["127.0.0.1/32"]))
    client = HttpClient(policy=RetryPolicy(timeouts_s=(2.0,), backoff_s=()))
    try:
        response = client.get(checked.url)
    finally:
        client.close()
    assert response.ok and "buyer@glow.com.au" in response.text
