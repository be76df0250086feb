"""The one HTTP client layer: curl_cffi with browser impersonation, growing timeouts, and polite retries.

Marketplaces fingerprint TLS and answer plain clients with 403s, so every request goes through a curl_cffi session
impersonating a real browser. Retries follow what the predecessor learned: 5xx and timeouts back off exponentially
with jitter, a 429 waits as long as ``Retry-After`` says, any other 4xx is final, and a challenge page is recorded as
such rather than retried or parsed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Literal

from curl_cffi import requests as curl_requests

from rfq_pipeline.fetch.challenge import detect_challenge

if TYPE_CHECKING:
    from rfq_pipeline.settings import Settings

Outcome = Literal["ok", "http_error", "timeout", "network_error", "challenge", "robots_disallowed"]


@dataclass(frozen=True)
class FetchResponse:
    """What one logical fetch (including its retries) produced."""

    url: str
    outcome: Outcome
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    attempts: int = 1
    elapsed_s: float = 0.0
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    error: str | None = None
    challenge: str | None = None

    @property
    def ok(self) -> bool:
        """True for a usable 2xx page."""
        return self.outcome == "ok"

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (replacing undecodable bytes rather than failing)."""
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: timeouts per attempt, backoff per retry, and the longest ``Retry-After`` to honour."""

    timeouts_s: Sequence[float] = (30.0, 60.0, 120.0)
    backoff_s: Sequence[float] = (1.0, 2.0, 4.0)
    jitter: float = 0.25
    max_retry_after_s: float = 300.0

    @property
    def max_attempts(self) -> int:
        """One first try plus one retry per backoff step."""
        return len(self.backoff_s) + 1

    def timeout_for(self, attempt: int) -> float:
        """The timeout of attempt ``attempt`` (0-based): it grows on retry and stays at the last value."""
        return self.timeouts_s[min(attempt, len(self.timeouts_s) - 1)]


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HttpClient:
    """Fetches pages with impersonation and retries. One instance per process or run; it is thread-safe."""

    def __init__(
        self,
        *,
        impersonate: str = "chrome",
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.impersonate = impersonate
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._session = curl_requests.Session(impersonate=impersonate)

    @classmethod
    def from_settings(cls, settings: Settings, impersonate: str = "chrome") -> HttpClient:
        """A client with the retry policy of the settings (``RFQ_HTTP_TIMEOUTS``, ``RFQ_HTTP_BACKOFF``)."""
        return cls(
            impersonate=impersonate,
            policy=RetryPolicy(timeouts_s=settings.http_timeouts, backoff_s=settings.http_backoff),
        )

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        before_attempt: Callable[[], None] | None = None,
        on_throttle: Callable[[str, float], None] | None = None,
        follow_redirects: bool = True,
    ) -> FetchResponse:
        """GET ``url`` following the retry policy; never raises for HTTP or network failures.

        ``before_attempt`` runs before every attempt, retries included (a rate limiter waits there: a retry is a
        request too); ``on_throttle`` is told about every 429 and the wait it asked for. With ``follow_redirects``
        off a 3xx comes back as it is (outcome ``http_error``, ``location`` in the headers), so a caller that must
        vet every hop (the SSRF guard) follows redirects itself.
        """
        return self._send("GET", url, headers, None, before_attempt, on_throttle, follow_redirects, retry=True)

    def post(
        self,
        url: str,
        *,
        json_body: object = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = False,
    ) -> FetchResponse:
        """POST ``json_body`` (serialised, with its content type) or raw ``body``; never raises for HTTP or network
        failures. Not retried unless ``retry``: a webhook that timed out may still have posted, and posting twice
        is worse than reporting the failure to a caller that records it."""
        import json

        request_headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            request_headers.setdefault("Content-Type", "application/json")
        return self._send("POST", url, request_headers, body, None, None, False, retry=retry)

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        before_attempt: Callable[[], None] | None,
        on_throttle: Callable[[str, float], None] | None,
        follow_redirects: bool,
        *,
        retry: bool,
    ) -> FetchResponse:
        policy = self.policy
        started = time.monotonic()
        last: FetchResponse | None = None
        for attempt in range(policy.max_attempts if retry else 1):
            if before_attempt is not None:
                before_attempt()
            last = self._attempt(method, url, attempt, headers, body, follow_redirects)
            last = replace(last, attempts=attempt + 1, elapsed_s=time.monotonic() - started)
            if not retry or attempt == policy.max_attempts - 1:
                break
            wait = self._retry_wait(last, attempt, on_throttle)
            if wait is None:
                break
            self._sleep(wait)
        assert last is not None
        return last

    def _attempt(
        self,
        method: str,
        url: str,
        attempt: int,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        follow_redirects: bool,
    ) -> FetchResponse:
        fetched_at = datetime.now(UTC)
        try:
            response = self._session.request(
                method,
                url,
                timeout=self.policy.timeout_for(attempt),
                headers=dict(headers or {}),
                data=body,
                allow_redirects=follow_redirects,
            )
        except curl_requests.exceptions.Timeout as exc:
            return FetchResponse(url=url, outcome="timeout", fetched_at=fetched_at, error=f"timeout: {exc}")
        except curl_requests.exceptions.RequestException as exc:
            return FetchResponse(url=url, outcome="network_error", fetched_at=fetched_at, error=str(exc))
        resp_headers = {k.lower(): v for k, v in response.headers.items()}
        body = response.content
        status = response.status_code
        challenge = detect_challenge(status, resp_headers, body.decode("utf-8", errors="replace"))
        if challenge:
            outcome: Outcome = "challenge"
            error: str | None = f"{challenge} challenge page (HTTP {status})"
        elif 200 <= status < 300:
            outcome, error = "ok", None
        else:
            outcome, error = "http_error", f"HTTP {status}"
        return FetchResponse(
            url=url,
            outcome=outcome,
            status=status,
            headers=resp_headers,
            body=body,
            fetched_at=fetched_at,
            error=error,
            challenge=challenge,
        )

    def _retry_wait(
        self, response: FetchResponse, attempt: int, on_throttle: Callable[[str, float], None] | None
    ) -> float | None:
        """Seconds to wait before retrying, or ``None`` when the failure is final."""
        policy = self.policy
        backoff = policy.backoff_s[min(attempt, len(policy.backoff_s) - 1)]
        jittered = backoff * (1 + random.uniform(0, policy.jitter))
        if response.outcome in ("timeout", "network_error"):
            return jittered
        if response.outcome != "http_error" or response.status is None:
            return None
        if response.status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            wait = min(retry_after if retry_after is not None else jittered, policy.max_retry_after_s)
            if on_throttle:
                on_throttle(response.url, wait)
            return wait
        if response.status >= 500:
            return jittered
        return None

    def close(self) -> None:
        """Release the underlying curl handles."""
        self._session.close()
