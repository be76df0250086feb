"""Simulated marketplaces and loaders beyond the first two, one module per source.

Each module defines ``SITE``: an object implementing :class:`rfq_pipeline.devtools.simulator.site.SimulatedSite`.
"""
