"""rfq-pipeline: collects buyer RFQs from B2B marketplaces and turns them into priced, reviewable quotes."""

__version__ = "0.1.0"
