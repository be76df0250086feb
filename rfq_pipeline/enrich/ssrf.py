"""A guard for fetching buyer-supplied URLs: only public http(s) hosts, re-checked on every redirect.

A buyer's "website" is untrusted input. Before fetching it the host is resolved and every address it resolves to
must be public: private, loopback, link-local (cloud metadata at 169.254.169.254), multicast, reserved, unspecified
and IPv4-mapped/embedded private IPv6 addresses are refused. Tests allow their loopback server explicitly.

Callers should connect to one of ``CheckedUrl.addresses`` (or re-check right before connecting) so a DNS answer that
changes between check and use cannot reach an internal address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
ALLOWED_SCHEMES = frozenset({"http", "https"})


class UnsafeUrl(ValueError):
    """A URL the guard refuses to fetch; ``reason`` says why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"refusing {url!r}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class Allow:
    """Explicit exceptions: host names fetched whatever they resolve to, and networks whose addresses are accepted."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IpNetwork, ...] = ()

    @classmethod
    def of(cls, hosts: Iterable[str] = (), networks: Iterable[str] = ()) -> Allow:
        return cls(
            frozenset(h.lower().strip("[]") for h in hosts), tuple(ipaddress.ip_network(n) for n in networks)
        )

    def permits(self, address: IpAddress) -> bool:
        return any(address in network for network in self.networks if network.version == address.version)


@dataclass(frozen=True)
class CheckedUrl:
    """A URL that passed the guard, with the addresses its host resolved to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...] = field(default_factory=tuple)


def default_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (``socket.getaddrinfo``)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]


def address_problem(address: IpAddress) -> str | None:
    """Why an address is not a public unicast one, or ``None`` when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            inner = address_problem(embedded)
            if inner:
                return f"IPv6 address embedding a non-public IPv4 address ({inner})"
    checks = (
        ("is_unspecified", "unspecified address"),
        ("is_loopback", "loopback address"),
        ("is_link_local", "link-local address"),
        ("is_multicast", "multicast address"),
        ("is_reserved", "reserved address"),
        ("is_private", "private address"),
    )
    for attribute, reason in checks:
        if getattr(address, attribute):
            return reason
    if not address.is_global:
        return "non-global address"
    return None


def checked_url(url: str, allow: Allow | None = None, *, resolver: Resolver = default_resolver) -> CheckedUrl:
    """``url`` if it is safe to fetch; raises :class:`UnsafeUrl` with the reason otherwise."""
    allow = allow or Allow()
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(url, f"unparseable URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UnsafeUrl(url, f"scheme {scheme or '(none)'!r} is not http or https")
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeUrl(url, "no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl(url, "credentials in the URL")
    port = port or (443 if scheme == "https" else 80)
    try:
        literal: IpAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if host in allow.hosts:
        return CheckedUrl(url, scheme, host, port, (str(literal),) if literal else ())
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise UnsafeUrl(url, f"host {host!r} does not resolve: {type(exc).__name__}") from None
        if not addresses:
            raise UnsafeUrl(url, f"host {host!r} does not resolve")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        if allow.permits(address):
            continue
        problem = address_problem(address)
        if problem:
            shown = host if literal is not None else f"{host} -> {address}"
            raise UnsafeUrl(url, f"{problem} ({shown})")
    return CheckedUrl(url, scheme, host, port, tuple(dict.fromkeys(addresses)))


def checked_redirect(
    current_url: str, location: str, allow: Allow | None = None, *, resolver: Resolver = default_resolver
) -> CheckedUrl:
    """The target of a redirect from ``current_url`` (relative ``Location`` resolved), checked like any URL."""
    if not location or not location.strip():
        raise UnsafeUrl(current_url, "redirect without a Location")
    return checked_url(urljoin(current_url, location.strip()), allow, resolver=resolver)


def checked_redirect_chain(
    urls: Iterable[str], allow: Allow | None = None, *, max_hops: int = 5, resolver: Resolver = default_resolver
) -> list[CheckedUrl]:
    """Check the first URL and every redirect hop after it (each may be relative to the one before)."""
    checked: list[CheckedUrl] = []
    for hop, url in enumerate(urls):
        if hop > max_hops:
            raise UnsafeUrl(url, f"more than {max_hops} redirects")
        checked.append(
            checked_url(url, allow, resolver=resolver)
            if not checked
            else checked_redirect(checked[-1].url, url, allow, resolver=resolver)
        )
    return checked
