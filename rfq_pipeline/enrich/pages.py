"""Fetch a buyer's web page safely and turn it into visible text.

A buyer's website is untrusted input, and so is every redirect it answers with: a public page can redirect to
``http://169.254.169.254/`` (cloud metadata) or to an internal service. :func:`fetch_page` therefore never lets the
HTTP client follow redirects; it follows each 3xx itself and vets every hop with the SSRF guard
(:mod:`rfq_pipeline.enrich.ssrf`) before connecting.

Known limit: the guard resolves the host, then the shared client resolves it again to connect. A DNS answer that
changes between the two (rebinding with a very short TTL) is not caught here; pinning the checked address needs
support in :class:`~rfq_pipeline.fetch.http_client.HttpClient`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from rfq_pipeline.enrich.company import is_free_mail, registrable_domain
from rfq_pipeline.enrich.ssrf import Allow, Resolver, UnsafeUrl, checked_redirect, checked_url, default_resolver
from rfq_pipeline.fetch.http_client import FetchResponse, HttpClient
from rfq_pipeline.intake.documents import decode_bytes
from rfq_pipeline.intake.mime import html_to_text

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
DEFAULT_MAX_HOPS = 5
DEFAULT_MAX_BYTES = 2_000_000
BUYER_PAGE_PATHS = ("/", "/contact", "/about", "/contact-us")
REQUEST_HEADERS = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"}


@dataclass(frozen=True)
class PageResult:
    """What fetching one page produced.

    ``url`` is the URL asked for and ``final_url`` the last one requested (after redirects; the URL asked for when
    nothing was fetched). ``error`` is ``None`` for a usable HTML page whose visible text is in ``text``; otherwise
    it says why there is no text ("refused: loopback address (127.0.0.1)", "HTTP 404", "too many redirects ...").
    """

    url: str
    final_url: str
    status: int | None = None
    text: str = ""
    error: str | None = None
    content_type: str | None = None
    redirects: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when the page was fetched and converted to text."""
        return self.error is None


def fetch_page(
    client: HttpClient,
    url: str,
    allow: Allow | None = None,
    *,
    max_hops: int = DEFAULT_MAX_HOPS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    resolver: Resolver = default_resolver,
) -> PageResult:
    """GET ``url`` through the SSRF guard, following at most ``max_hops`` redirects, each re-checked.

    Never raises for bad input, refused addresses, HTTP or network failures: the reason is in ``error``.
    """
    if not isinstance(url, str) or not url.strip():
        return PageResult(url=str(url), final_url=str(url), error="refused: no URL")
    try:
        current = checked_url(url, allow, resolver=resolver).url
    except UnsafeUrl as exc:
        return PageResult(url=url, final_url=url, error=f"refused: {exc.reason}")
    hops: list[str] = []
    while True:
        response = client.get(current, headers=REQUEST_HEADERS, follow_redirects=False)
        if response.outcome == "challenge":
            return _failed(url, current, hops, response, response.error or "challenge page")
        if response.status not in REDIRECT_STATUSES:
            break
        location = response.headers.get("location", "")
        if len(hops) >= max_hops:
            return _failed(url, current, hops, response, f"too many redirects (more than {max_hops})")
        try:
            target = checked_redirect(current, location, allow, resolver=resolver).url
        except UnsafeUrl as exc:
            return _failed(url, current, hops, response, f"refused: {exc.reason} (redirect to {exc.url})")
        hops.append(target)
        current = target
    if not response.ok:
        return _failed(url, current, hops, response, response.error or f"HTTP {response.status}")
    content_type = response.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in HTML_TYPES and not (not media_type and _looks_like_html(response.body)):
        shown = media_type or "missing"
        return _failed(url, current, hops, response, f"not an HTML page (content type {shown})", content_type)
    if len(response.body) > max_bytes:
        # The client has already read the body; refusing here still keeps huge pages away from the parser and the
        # model's context.
        error = f"page too large ({len(response.body)} bytes, limit {max_bytes})"
        return _failed(url, current, hops, response, error, content_type)
    html, _, _ = decode_bytes(response.body, _charset(content_type))
    return PageResult(
        url=url,
        final_url=current,
        status=response.status,
        text=html_to_text(html, drop_quotes=False),
        content_type=media_type or "text/html",
        redirects=tuple(hops),
    )


def buyer_pages(domain: str) -> list[str]:
    """Candidate https URLs worth reading for a buyer's contacts: home, /contact, /about, /contact-us.

    ``domain`` may be a bare host, a URL or an e-mail address. Free-mail domains (gmail.com, qq.com, ...) and
    junk give an empty list: they are nobody's company site.
    """
    text = (domain or "").strip().lower()
    if "@" in text and "://" not in text:
        text = text.rsplit("@", 1)[1]
    try:
        host = urlsplit(text if "://" in text else f"https://{text}").hostname or ""
    except ValueError:
        return []
    host = host.rstrip(".")
    if registrable_domain(host) is None or is_free_mail(host):
        return []
    return [f"https://{host}{path}" for path in BUYER_PAGE_PATHS]


def _failed(
    url: str, current: str, hops: list[str], response: FetchResponse, error: str, content_type: str | None = None
) -> PageResult:
    return PageResult(
        url=url,
        final_url=current,
        status=response.status,
        error=error,
        content_type=content_type or response.headers.get("content-type") or None,
        redirects=tuple(hops),
    )


def _charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("'\"")
    return None


def _looks_like_html(body: bytes) -> bool:
    """A page served without a content type still counts as HTML when it starts like one."""
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head


__all__ = ["BUYER_PAGE_PATHS", "PageResult", "buyer_pages", "fetch_page"]
