"""The polite fetcher of one source: robots.txt, the shared rate limit and the circuit breaker around the client.

Every request a crawl makes goes through :meth:`PoliteFetcher.get`, so the limits hold for list pages, detail pages,
retries and robots.txt alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rfq_pipeline.fetch.breaker import CircuitBreaker
from rfq_pipeline.fetch.http_client import FetchResponse, HttpClient
from rfq_pipeline.fetch.rate_limit import SharedRateLimiter
from rfq_pipeline.fetch.robots import RobotsCache, robots_url_for


class SourceUnavailable(RuntimeError):
    """The source's circuit breaker is open: no request was sent."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


def counts_against_breaker(response: FetchResponse) -> bool:
    """Failures that say the site is down or blocking us (after retries), as opposed to a page that is gone."""
    if response.outcome in ("timeout", "network_error", "challenge"):
        return True
    return (
        response.outcome == "http_error"
        and response.status is not None
        and (response.status >= 500 or response.status == 429)
    )


@dataclass
class FetchStats:
    """What the fetcher did, for run metadata."""

    requests: int = 0
    robots_blocked: int = 0
    breaker_failures: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class PoliteFetcher:
    """Fetches pages of one source within its robots policy, rate limit and circuit breaker."""

    def __init__(
        self,
        source: str,
        base_url: str,
        client: HttpClient,
        *,
        limiter: SharedRateLimiter | None,
        breaker: CircuitBreaker | None,
        respect_robots: bool,
    ) -> None:
        self.source = source
        self.base_url = base_url
        self.client = client
        self.limiter = limiter
        self.breaker = breaker
        self.respect_robots = respect_robots
        self.stats = FetchStats()
        self._robots = RobotsCache(self._guarded_get)

    def get(self, url: str) -> FetchResponse:
        """Fetch ``url`` politely. Raises :class:`SourceUnavailable` when the breaker is open."""
        if self.respect_robots:
            policy = self._robots.policy_for(robots_url_for(self.base_url))
            if not policy.allows(url):
                self.stats.robots_blocked += 1
                return FetchResponse(
                    url=url, outcome="robots_disallowed", error=f"disallowed by robots.txt ({policy.note})"
                )
        return self._guarded_get(url)

    def _guarded_get(self, url: str) -> FetchResponse:
        if self.breaker is not None:
            admission = self.breaker.admit()
            if not admission.allowed:
                raise SourceUnavailable(self.source, admission.reason or "circuit breaker open")
        response = self.client.get(
            url,
            before_attempt=self.limiter.acquire if self.limiter else None,
            on_throttle=(lambda _url, wait: self.limiter.slow_down(wait)) if self.limiter else None,
        )
        self.stats.requests += response.attempts
        self.stats.outcomes[response.outcome] = self.stats.outcomes.get(response.outcome, 0) + 1
        if self.breaker is not None:
            if counts_against_breaker(response):
                self.stats.breaker_failures += 1
                self.breaker.record_failure(f"{response.outcome}: {response.error or ''} ({url})")
            else:
                self.breaker.record_success()
        return response
