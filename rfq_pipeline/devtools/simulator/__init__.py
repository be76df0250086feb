"""A local stand-in for the marketplaces, built from real scraped records, for tests and ``make run``.

Each marketplace is served under a path prefix of one stdlib HTTP server: the base URL of a source is
``http://HOST:PORT/<source>`` (``go4worldbusiness``, ``alibaba_rfq``). Pages follow the real sites' structure, records
are re-dated deterministically relative to a simulated day (see :mod:`.catalog`), and faults (rate limits, errors,
timeouts, anti-bot pages, truncation, layout drift) can be armed per source from Python or over HTTP
(``POST /_sim/faults``). Nothing here imports Dagster or touches the network beyond the loopback server.
"""

from rfq_pipeline.devtools.simulator.faults import FAULT_KINDS
from rfq_pipeline.devtools.simulator.server import SOURCES, LoggedRequest, SimulatorHandle, serve, start_simulator

__all__ = ["FAULT_KINDS", "SOURCES", "LoggedRequest", "SimulatorHandle", "serve", "start_simulator"]
