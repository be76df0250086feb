"""The SSRF-guarded page fetcher against a real HTTP server on 127.0.0.1, through the shared HTTP client."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from rfq_pipeline.enrich.pages import BUYER_PAGE_PATHS, buyer_pages, fetch_page
from rfq_pipeline.enrich.ssrf import Allow
from rfq_pipeline.fetch.http_client import HttpClient, RetryPolicy
from rfq_pipeline_tests.enrich.local_site import LocalSite, Route, html, local_site, redirect

LOOPBACK = Allow.of(networks=["127.0.0.0/8"])
ONLY_THIS_HOST = Allow.of(networks=["127.0.0.1/32"])


def fake_dns(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror("no such host")
        return table[host]

    return resolve


@pytest.fixture(scope="module")
def module_site() -> Iterator[LocalSite]:
    with local_site() as site:
        yield site


@pytest.fixture()
def site(module_site: LocalSite) -> Iterator[LocalSite]:
    module_site.reset()
    yield module_site
    module_site.reset()


@pytest.fixture(scope="module")
def client() -> Iterator[HttpClient]:
    http = HttpClient(policy=RetryPolicy(timeouts_s=(5.0,), backoff_s=()))
    yield http
    http.close()


def test_page_text_is_the_visible_text(site: LocalSite, client: HttpClient) -> None:
    site.add(
        "/contact",
        html(
            "<script>var secret = 'hidden';</script><style>p {color: red}</style>"
            "<h1>Glow Cosmetics</h1><p>Email: sales@glow.example<br>Tel: +971 4 123 4567</p>"
        ),
    )
    page = fetch_page(client, site.url("/contact"), LOOPBACK)
    assert page.ok and page.error is None and page.status == 200
    assert page.final_url == page.url == site.url("/contact") and page.redirects == ()
    assert "Glow Cosmetics" in page.text and "sales@glow.example" in page.text and "+971 4 123 4567" in page.text
    assert "hidden" not in page.text and "color" not in page.text
    assert page.content_type == "text/html"


def test_allowed_redirect_chain_is_followed_hop_by_hop(site: LocalSite, client: HttpClient) -> None:
    site.add("/start", redirect(site.url("/middle"), 301))
    site.add("/middle", redirect("/final", 307))
    site.add("/final", html("<p>Welcome to the buyer's site</p>"))
    page = fetch_page(client, site.url("/start"), LOOPBACK)
    assert page.ok, page.error
    assert page.final_url == site.url("/final")
    assert page.redirects == (site.url("/middle"), site.url("/final"))
    assert "Welcome to the buyer's site" in page.text
    assert site.hits == ["/start", "/middle", "/final"]  # the client followed nothing on its own


def test_relative_location_is_resolved_against_the_current_url(site: LocalSite, client: HttpClient) -> None:
    site.add("/en/about/", redirect("../contact?x=1"))
    site.add("/en/contact?x=1", html("<p>Contact us</p>"))
    page = fetch_page(client, site.url("/en/about/"), LOOPBACK)
    assert page.ok, page.error
    assert page.final_url == site.url("/en/contact?x=1") and page.text == "Contact us"


def test_loopback_is_refused_without_an_allow_and_nothing_is_requested(site: LocalSite, client: HttpClient) -> None:
    site.add("/contact", html("<p>secret internal page</p>"))
    page = fetch_page(client, site.url("/contact"))
    assert not page.ok and page.text == "" and page.status is None
    assert page.error.startswith("refused: loopback address") and "127.0.0.1" in page.error
    assert site.hits == []


def test_redirect_to_loopback_is_refused(site: LocalSite, client: HttpClient) -> None:
    # 127.0.0.1 stands for the public site; 127.0.0.2 is another loopback address the allow does not cover.
    port = site.url("").rsplit(":", 1)[1]
    site.add("/go", redirect(f"http://127.0.0.2:{port}/admin"))
    page = fetch_page(client, site.url("/go"), ONLY_THIS_HOST)
    assert not page.ok and page.status == 302 and page.text == ""
    assert page.error.startswith("refused: loopback address (127.0.0.2)")
    assert f"http://127.0.0.2:{port}/admin" in page.error
    assert site.hits == ["/go"]


def test_redirect_to_cloud_metadata_is_refused(site: LocalSite, client: HttpClient) -> None:
    site.add("/go", redirect("http://169.254.169.254/latest/meta-data/iam/security-credentials/"))
    page = fetch_page(client, site.url("/go"), LOOPBACK)
    assert not page.ok and page.error.startswith("refused: link-local address (169.254.169.254)")
    assert page.final_url == site.url("/go")


def test_redirect_to_a_host_resolving_to_a_private_address_is_refused(site: LocalSite, client: HttpClient) -> None:
    resolver = fake_dns({"rebind.example": ["10.0.0.5"]})
    site.add("/go", redirect("http://rebind.example/internal"))
    page = fetch_page(client, site.url("/go"), LOOPBACK, resolver=resolver)
    assert not page.ok and page.error.startswith("refused: private address (rebind.example -> 10.0.0.5)")


def test_host_resolving_to_a_private_address_is_refused_before_connecting(client: HttpClient) -> None:
    resolver = fake_dns({"buyer.example": ["10.0.0.5"], "mixed.example": ["93.184.216.34", "10.0.0.5"]})
    for url in ("http://buyer.example/contact", "https://mixed.example/"):
        page = fetch_page(client, url, LOOPBACK, resolver=resolver)
        assert not page.ok and page.status is None
        assert page.error.startswith("refused: private address") and "10.0.0.5" in page.error


def test_too_many_redirects(site: LocalSite, client: HttpClient) -> None:
    site.add("/loop", redirect("/loop"))
    page = fetch_page(client, site.url("/loop"), LOOPBACK, max_hops=3)
    assert not page.ok and page.error == "too many redirects (more than 3)"
    assert len(site.hits) == 4 and len(page.redirects) == 3


def test_redirect_without_location_is_refused(site: LocalSite, client: HttpClient) -> None:
    site.add("/bad", Route(status=302, headers={"Content-Type": "text/html"}))
    page = fetch_page(client, site.url("/bad"), LOOPBACK)
    assert not page.ok and "redirect without a Location" in page.error


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"email": "x@y.example"}'),
        ("application/pdf", b"%PDF-1.7 ..."),
        ("image/png", b"\x89PNG\r\n"),
    ],
)
def test_non_html_is_refused(site: LocalSite, client: HttpClient, content_type: str, body: bytes) -> None:
    site.add("/file", Route(body=body, headers={"Content-Type": content_type}))
    page = fetch_page(client, site.url("/file"), LOOPBACK)
    assert not page.ok and page.text == ""
    assert page.error == f"not an HTML page (content type {content_type})" and page.status == 200


def test_html_without_a_content_type_is_sniffed(site: LocalSite, client: HttpClient) -> None:
    site.add("/bare", Route(body=b"<!DOCTYPE html><html><body><p>Plain page</p></body></html>", headers={}))
    site.add("/blob", Route(body=b"\x00\x01binary", headers={}))
    assert fetch_page(client, site.url("/bare"), LOOPBACK).text == "Plain page"
    assert fetch_page(client, site.url("/blob"), LOOPBACK).error == "not an HTML page (content type missing)"


def test_declared_charset_is_honoured(site: LocalSite, client: HttpClient) -> None:
    body = "<html><body><p>Компания Ромашка</p></body></html>".encode("cp1251")
    site.add("/ru", Route(body=body, headers={"Content-Type": "text/html; charset=windows-1251"}))
    assert fetch_page(client, site.url("/ru"), LOOPBACK).text == "Компания Ромашка"


def test_http_errors_are_reported(site: LocalSite, client: HttpClient) -> None:
    page = fetch_page(client, site.url("/missing"), LOOPBACK)
    assert not page.ok and page.status == 404 and page.error == "HTTP 404" and page.text == ""
    site.add("/gone", redirect("/missing"))
    page = fetch_page(client, site.url("/gone"), LOOPBACK)
    assert page.error == "HTTP 404" and page.final_url == site.url("/missing")


def test_oversized_page_is_refused(site: LocalSite, client: HttpClient) -> None:
    site.add("/big", html("<p>" + "x" * 5000 + "</p>"))
    page = fetch_page(client, site.url("/big"), LOOPBACK, max_bytes=1000)
    assert not page.ok and page.error.startswith("page too large")


def test_network_failure_is_reported_not_raised(client: HttpClient) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    page = fetch_page(client, f"http://127.0.0.1:{port}/", LOOPBACK)
    assert not page.ok and page.status is None and page.error


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "refused: no URL"),
        ("file:///etc/passwd", "refused: scheme 'file'"),
        ("gopher://buyer.example/", "refused: scheme 'gopher'"),
        ("http://user:pw@buyer.example/", "refused: credentials"),
        ("http://[::1/", "refused: unparseable URL"),
        ("http://missing.invalid/", "refused: host 'missing.invalid' does not resolve"),
    ],
)
def test_bad_input_never_raises(client: HttpClient, url: str, reason: str) -> None:
    page = fetch_page(client, url, resolver=fake_dns({}))
    assert not page.ok and page.error.startswith(reason)


def test_buyer_pages() -> None:
    assert buyer_pages("glow.com.au") == [f"https://glow.com.au{p}" for p in BUYER_PAGE_PATHS]
    assert buyer_pages("https://WWW.Glow.com.au/shop?x=1") == [f"https://www.glow.com.au{p}" for p in BUYER_PAGE_PATHS]
    assert buyer_pages("buyer@glow.com.au")[0] == "https://glow.com.au/"
    assert buyer_pages("https://glow.com.au")[1] == "https://glow.com.au/contact"
    for junk in ("", "gmail.com", "someone@qq.com", "127.0.0.1", "localhost", "not a domain"):
        assert buyer_pages(junk) == [], junk
