"""The plug-in interface of the simulator: one :class:`SimulatedSite` per source, listed in :data:`SITE_MODULES`.

go4worldbusiness and alibaba_rfq are built into the server; every other source is a module under ``sites/`` whose
``SITE`` object renders its pages from a catalog dated relative to the simulated day.
"""

from __future__ import annotations

import importlib
from datetime import date, datetime
from typing import Protocol

from rfq_pipeline.devtools.simulator.faults import Reply

# Source name -> module defining SITE. Order is the order the simulator lists them in.
SITE_MODULES: dict[str, str] = {
    "tradekey": "rfq_pipeline.devtools.simulator.sites.tradekey",
    "ec21": "rfq_pipeline.devtools.simulator.sites.ec21",
    "made_in_china": "rfq_pipeline.devtools.simulator.sites.made_in_china",
    "tradeindia": "rfq_pipeline.devtools.simulator.sites.tradeindia",
    "exportersindia": "rfq_pipeline.devtools.simulator.sites.exportersindia",
    "us_fda": "rfq_pipeline.devtools.simulator.sites.us_fda",
    "bizmaps": "rfq_pipeline.devtools.simulator.sites.bizmaps",
}


class SimulatedSite(Protocol):
    """A simulated source. ``build`` is called once per simulator start; the rest per request."""

    name: str
    server_header: str  # value of the Server header the real site sends (nginx, cloudflare, ...)
    robots_txt: str  # robots.txt body; ``{p}`` is replaced by the source's path prefix (its name)

    def build(self, today: date, now: datetime) -> None:
        """Date the site's catalog relative to ``today`` (records of today must be posted before ``now``)."""
        ...

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """Answer ``GET /<name>/<rest>?<query>``: ``style`` is ``normal`` or ``drift`` (a redesigned layout)."""
        ...

    def expected(self, day: date) -> list[str]:
        """External ids shown as posted on ``day`` (UTC), newest first (what a crawl of that day must find)."""
        ...

    def expected_total(self) -> int:
        """How many records the full listing shows."""
        ...


def load_sites(today: date, now: datetime) -> dict[str, SimulatedSite]:
    """Import and build every site module."""
    sites: dict[str, SimulatedSite] = {}
    for name, module_name in SITE_MODULES.items():
        site: SimulatedSite = importlib.import_module(module_name).SITE
        if site.name != name:
            raise ValueError(f"{module_name}.SITE is named {site.name!r}, expected {name!r}")
        site.build(today, now)
        sites[name] = site
    return sites
