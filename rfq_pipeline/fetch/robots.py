"""robots.txt, fetched once per crawl through the same polite client and honoured for the sources that ask for it.

We present ourselves as a browser (see the README's User-Agent policy), so the rules for ``*`` apply. Following
RFC 9309: a missing robots.txt (4xx) allows everything; an unreachable one (5xx, timeout) disallows everything until
it can be read, because we cannot know what the site wants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib import robotparser
from urllib.parse import urlsplit

from rfq_pipeline.fetch.http_client import FetchResponse

ROBOTS_AGENT = "*"


@dataclass
class RobotsPolicy:
    """The parsed robots.txt of one site, or a blanket allow/deny when it could not be read."""

    parser: robotparser.RobotFileParser | None
    allow_all: bool
    note: str

    @classmethod
    def from_response(cls, response: FetchResponse) -> RobotsPolicy:
        """Interpret the answer to ``GET /robots.txt``."""
        if response.ok:
            parser = robotparser.RobotFileParser()
            parser.parse(response.text.splitlines())
            return cls(parser, allow_all=False, note="robots.txt read")
        if response.status is not None and 400 <= response.status < 500 and response.status != 429:
            return cls(None, allow_all=True, note=f"no robots.txt (HTTP {response.status}): everything allowed")
        return cls(None, allow_all=False, note=f"robots.txt unreachable ({response.error}): everything disallowed")

    def allows(self, url: str) -> bool:
        """Whether ``url`` may be fetched."""
        if self.parser is None:
            return self.allow_all
        return self.parser.can_fetch(ROBOTS_AGENT, url)


class RobotsCache:
    """Reads each site's robots.txt once (per crawl) with the given fetch function."""

    def __init__(self, fetch: Callable[[str], FetchResponse]) -> None:
        self._fetch = fetch
        self._policies: dict[str, RobotsPolicy] = {}

    def policy_for(self, robots_url: str) -> RobotsPolicy:
        """The policy published at ``robots_url``."""
        if robots_url not in self._policies:
            self._policies[robots_url] = RobotsPolicy.from_response(self._fetch(robots_url))
        return self._policies[robots_url]


def robots_url_for(base_url: str) -> str:
    """Where the robots.txt governing ``base_url`` lives.

    A source served under a path prefix (the simulator's ``/<source>``) publishes its robots.txt under that prefix;
    a real site at its root.
    """
    parts = urlsplit(base_url)
    prefix = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{prefix}/robots.txt"
