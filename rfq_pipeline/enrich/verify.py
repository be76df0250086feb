"""E-mail verification: syntax, disposable and role accounts, MX lookup, and optional paid-provider checks.

The status is deliberately conservative. ``valid`` needs a provider that confirmed the mailbox; a catch-all domain, a
provider that could not decide, an unreachable resolver or provider, or no provider at all give ``unknown``, never
``valid``. API keys are only ever placed in the request URL: results, errors and ``repr`` never contain them.
"""

from __future__ import annotations

import json
import secrets
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import urlencode

from rfq_pipeline.enrich.company import is_free_mail
from rfq_pipeline.fetch.http_client import FetchResponse, HttpClient

Status = Literal["valid", "invalid", "disposable", "do_not_mail", "unknown"]
MxStatus = Literal["found", "none", "nxdomain", "unknown"]

_DATA = Path(__file__).with_name("data")
ROLE_LOCAL_PARTS: frozenset[str] = frozenset(
    {
        "info", "sales", "admin", "administrator", "contact", "contactus", "office", "support", "help", "enquiry",
        "enquiries", "inquiry", "inquiries", "marketing", "export", "import", "purchase", "purchasing",
        "procurement", "hr", "jobs", "careers", "billing", "accounts", "account", "finance", "webmaster",
        "postmaster", "hostmaster", "abuse", "noreply", "no-reply", "mail", "hello", "team", "service",
        "customerservice", "orders", "order", "trade", "business",
    }
)
_LOCAL_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-.")


@lru_cache(maxsize=1)
def disposable_domains() -> frozenset[str]:
    """The shipped disposable-domain list (``data/disposable_domains.txt``)."""
    lines = (_DATA / "disposable_domains.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.lstrip().startswith("#"))


def syntax_problem(email: str) -> str | None:
    """Why ``email`` is not a usable address (RFC 5321/5322 dot-atom rules and length limits), or ``None``."""
    if len(email) > 254:
        return "address longer than 254 characters"
    if email.count("@") != 1:
        return "address must contain exactly one @"
    local, domain = email.split("@")
    if not local or len(local) > 64:
        return "local part empty or longer than 64 characters"
    if not set(local) <= _LOCAL_ALLOWED or local.startswith(".") or local.endswith(".") or ".." in local:
        return "local part has characters or dots that are not allowed"
    if not domain or len(domain) > 253:
        return "domain empty or longer than 253 characters"
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        return "domain is not a valid internationalized name"
    labels = ascii_domain.split(".")
    if len(labels) < 2:
        return "domain has no dot"
    for label in labels:
        if not 1 <= len(label) <= 63 or label.startswith("-") or label.endswith("-"):
            return "domain label empty, too long, or starts/ends with a hyphen"
        if not all(ch.isalnum() or ch == "-" for ch in label):
            return "domain label has characters that are not allowed"
    if labels[-1].isdigit() or len(labels[-1]) < 2:
        return "top-level domain is not valid"
    return None


def is_role_account(email: str) -> bool:
    """True for shared mailboxes such as ``info@`` or ``sales@`` (also ``sales.dubai@``, ``info-uk@``)."""
    local = email.split("@", 1)[0].lower()
    return local in ROLE_LOCAL_PARTS or local.split(".")[0].split("-")[0].split("_")[0] in ROLE_LOCAL_PARTS


# ---------------------------------------------------------------------------------------------------------- MX lookup


@dataclass(frozen=True)
class MxResult:
    """What a resolver said about a domain's mail exchangers (hosts ordered by preference)."""

    status: MxStatus
    hosts: tuple[str, ...] = ()
    detail: str = ""


class MxResolver(Protocol):
    """Anything that can look up MX records."""

    def lookup_mx(self, domain: str) -> MxResult: ...


class NoResolver:
    """The resolver used when none is configured: every lookup is ``unknown``."""

    def lookup_mx(self, domain: str) -> MxResult:
        return MxResult("unknown", detail="no resolver configured")


def _encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("idna") if not label.isascii() else label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad DNS label in {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def _read_name(message: bytes, offset: int) -> tuple[str, int]:
    """A (possibly compressed) name at ``offset``, and the offset after it in the original position."""
    labels: list[str] = []
    end: int | None = None
    for _ in range(128):  # bounded: a pointer loop in a hostile answer cannot hang us
        length = message[offset]
        if length & 0xC0 == 0xC0:
            pointer = struct.unpack_from("!H", message, offset)[0] & 0x3FFF
            if end is None:
                end = offset + 2
            offset = pointer
            continue
        if length == 0:
            return ".".join(labels), (end if end is not None else offset + 1)
        labels.append(message[offset + 1 : offset + 1 + length].decode("ascii", errors="replace"))
        offset += 1 + length
    raise ValueError("DNS name too long or looping")


def build_mx_query(domain: str, query_id: int) -> bytes:
    """A standard recursive query for ``domain IN MX``."""
    return struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + _encode_name(domain) + struct.pack("!HH", 15, 1)


def parse_mx_response(message: bytes, query_id: int) -> MxResult:
    """The MX hosts of a DNS response to the query ``query_id``."""
    if len(message) < 12:
        return MxResult("unknown", detail="short DNS response")
    rid, flags, qdcount, ancount, _ns, _ar = struct.unpack_from("!HHHHHH", message, 0)
    if rid != query_id or not flags & 0x8000:
        return MxResult("unknown", detail="response does not answer our query")
    rcode = flags & 0x000F
    if rcode == 3:
        return MxResult("nxdomain", detail="domain does not exist")
    if rcode != 0:
        return MxResult("unknown", detail=f"DNS rcode {rcode}")
    if flags & 0x0200:
        return MxResult("unknown", detail="truncated DNS response")
    offset = 12
    for _ in range(qdcount):
        _, offset = _read_name(message, offset)
        offset += 4
    records: list[tuple[int, str]] = []
    for _ in range(ancount):
        _, offset = _read_name(message, offset)
        rtype, _rclass, _ttl, rdlength = struct.unpack_from("!HHIH", message, offset)
        offset += 10
        if rtype == 15:
            preference = struct.unpack_from("!H", message, offset)[0]
            host, _ = _read_name(message, offset + 2)
            records.append((preference, host.lower()))
        offset += rdlength
    if not records:
        return MxResult("none", detail="no MX records")
    hosts = tuple(host for _, host in sorted(records))
    if hosts == ("",):
        return MxResult("none", detail="null MX: the domain accepts no mail")  # RFC 7505
    return MxResult("found", hosts=hosts)


class UdpDnsResolver:
    """A stdlib DNS client: one MX question over UDP to a configured resolver; any failure is ``unknown``."""

    def __init__(self, server: str, port: int = 53, *, timeout_s: float = 2.0, attempts: int = 2) -> None:
        self.server, self.port, self.timeout_s, self.attempts = server, port, timeout_s, attempts

    def lookup_mx(self, domain: str) -> MxResult:
        try:
            family = socket.AF_INET6 if ":" in self.server else socket.AF_INET
            query_id = secrets.randbelow(0x10000)
            query = build_mx_query(domain, query_id)
        except (ValueError, UnicodeError) as exc:
            return MxResult("unknown", detail=f"cannot query: {exc}")
        last = "no answer"
        for _ in range(self.attempts):
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.settimeout(self.timeout_s)
                try:
                    sock.sendto(query, (self.server, self.port))
                    while True:
                        message, peer = sock.recvfrom(4096)
                        if peer[0] == self.server or family == socket.AF_INET6:
                            break
                except OSError as exc:  # timeouts, refused ports, unreachable networks
                    last = f"resolver unreachable: {type(exc).__name__}"
                    continue
            try:
                result = parse_mx_response(message, query_id)
            except (ValueError, IndexError, struct.error):
                return MxResult("unknown", detail="malformed DNS response")
            if result.detail == "response does not answer our query":
                last = result.detail
                continue
            return result
        return MxResult("unknown", detail=last)


# ------------------------------------------------------------------------------------------------- provider adapters


@dataclass(frozen=True)
class ProviderResult:
    """One provider's verdict, already mapped to our statuses; ``raw`` is the provider's own word for it."""

    provider: str
    status: Status
    raw: str | None = None
    detail: str = ""


class EmailProvider(Protocol):
    """A paid verification API."""

    name: str

    def check(self, email: str) -> ProviderResult: ...


class _JsonProvider:
    name = "provider"
    _key_param = "api"
    _field = "result"
    _mapping: dict[str, Status] = {}  # noqa: RUF012

    def __init__(self, api_key: str, client: HttpClient, *, base_url: str) -> None:
        self._api_key = api_key
        self._client = client
        self.base_url = base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<redacted>)"

    def _params(self, email: str) -> dict[str, str]:
        return {self._key_param: self._api_key, "email": email}

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "<redacted>") if self._api_key else text

    def check(self, email: str) -> ProviderResult:
        separator = "&" if "?" in self.base_url else "?"
        response: FetchResponse = self._client.get(self.base_url + separator + urlencode(self._params(email)))
        if not response.ok:
            detail = self._scrub(response.error or response.outcome)
            return ProviderResult(self.name, "unknown", None, f"provider unreachable or failed: {detail}")
        try:
            payload = json.loads(response.body)
        except ValueError:
            return ProviderResult(self.name, "unknown", None, "provider answered with invalid JSON")
        raw = payload.get(self._field) if isinstance(payload, dict) else None
        if not isinstance(raw, str):
            return ProviderResult(self.name, "unknown", None, f"provider answer has no {self._field!r}")
        raw = raw.strip().lower()
        status = self._mapping.get(raw, "unknown")
        return ProviderResult(self.name, status, self._scrub(raw), "")


class MillionVerifier(_JsonProvider):
    """MillionVerifier API v3 (``result``: ok / catch_all / unknown / invalid / disposable)."""

    name = "millionverifier"
    _key_param = "api"
    _field = "result"
    _mapping: dict[str, Status] = {  # noqa: RUF012
        "ok": "valid",
        "catch_all": "unknown",
        "unknown": "unknown",
        "invalid": "invalid",
        "disposable": "disposable",
    }

    def __init__(
        self, api_key: str, client: HttpClient, *, base_url: str = "https://api.millionverifier.com/api/v3/"
    ) -> None:
        super().__init__(api_key, client, base_url=base_url)

    def _params(self, email: str) -> dict[str, str]:
        return {"api": self._api_key, "email": email, "timeout": "10"}


class ZeroBounce(_JsonProvider):
    """ZeroBounce v2 validate (``status``: valid / invalid / catch-all / unknown / spamtrap / abuse / do_not_mail)."""

    name = "zerobounce"
    _key_param = "api_key"
    _field = "status"
    _mapping: dict[str, Status] = {  # noqa: RUF012
        "valid": "valid",
        "invalid": "invalid",
        "catch-all": "unknown",
        "unknown": "unknown",
        "spamtrap": "do_not_mail",
        "abuse": "do_not_mail",
        "do_not_mail": "do_not_mail",
    }

    def __init__(
        self, api_key: str, client: HttpClient, *, base_url: str = "https://api.zerobounce.net/v2/validate"
    ) -> None:
        super().__init__(api_key, client, base_url=base_url)


# ------------------------------------------------------------------------------------------------------ verification


@dataclass(frozen=True)
class EmailVerification:
    """The verdict on one address with every check that led to it."""

    email: str
    status: Status
    reasons: tuple[str, ...]
    role_account: bool = False
    free_mail: bool = False
    disposable: bool = False
    mx: MxResult | None = None
    provider: ProviderResult | None = None
    checks: dict[str, str] = field(default_factory=dict)


def verify_email(
    email: str,
    *,
    resolver: MxResolver | None = None,
    provider: EmailProvider | None = None,
    disposable: Callable[[str], bool] | None = None,
) -> EmailVerification:
    """Check an address: syntax, then disposable domain, then MX, then (if given) a provider.

    ``valid`` only when a provider confirmed the mailbox and DNS did not contradict it; ``unknown`` whenever a check
    could not decide (catch-all, unreachable resolver or provider, no provider).
    """
    address = email.strip()
    problem = syntax_problem(address)
    if problem:
        return EmailVerification(address, "invalid", (f"syntax: {problem}",), checks={"syntax": "invalid"})
    local, domain = address.rsplit("@", 1)
    address = f"{local}@{domain.lower()}"
    domain = domain.lower()
    role = is_role_account(address)
    free = is_free_mail(domain)
    is_disposable = (disposable or (lambda d: d in disposable_domains()))(domain)
    checks = {"syntax": "ok"}
    reasons: list[str] = []
    if role:
        reasons.append("role account (shared mailbox)")
    if free:
        reasons.append("free-mail provider")
    if is_disposable:
        reasons.append("disposable domain")
        checks["disposable"] = "yes"
        return EmailVerification(address, "disposable", tuple(reasons), role, free, True, checks=checks)
    mx = (resolver or NoResolver()).lookup_mx(domain)
    checks["mx"] = mx.status
    if mx.status in ("nxdomain", "none"):
        reasons.append(f"mx: {mx.detail}")
        return EmailVerification(address, "invalid", tuple(reasons), role, free, False, mx, checks=checks)
    if mx.status == "unknown":
        reasons.append(f"mx: {mx.detail}")
    result = provider.check(address) if provider is not None else None
    if result is None:
        reasons.append("no mailbox check: no provider configured")
        return EmailVerification(address, "unknown", tuple(reasons), role, free, False, mx, None, checks)
    checks["provider"] = f"{result.provider}:{result.raw or result.status}"
    if result.raw in ("catch_all", "catch-all"):
        reasons.append("catch-all domain: mailbox cannot be confirmed")
    elif result.detail:
        reasons.append(result.detail)
    status: Status = result.status
    if status == "valid" and mx.status != "found":
        status = "unknown"  # the provider says yes but our own DNS check could not confirm the domain takes mail
        reasons.append("provider said valid but MX could not be confirmed")
    return EmailVerification(address, status, tuple(reasons), role, free, status == "disposable", mx, result, checks)
