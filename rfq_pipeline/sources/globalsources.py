"""Global Sources: not crawled. Its buying requests arrive as the notification mails a supplier account receives.

The site's RFQ list (``/highSeas/highSeasRFQList``) is rendered by JavaScript behind a sign-in, its robots.txt
disallows the content paths, and its terms of use forbid automated collection. So the source is off and cannot be
switched on; :func:`parse_list` refuses any page. The legitimate channel is the buying-request notification mail
that Global Sources sends to a registered supplier: forwarded to the inbound address, such a mail becomes an RFQ
through the mail intake and is attributed to this source by its sender's domain (``mail_domains``).
"""

from __future__ import annotations

from datetime import datetime

from rfq_pipeline.sources.model import ListPage, PageParseError
from rfq_pipeline.sources.spec import SourceSpec

SOURCE = "globalsources"
SITE_URL = "https://www.globalsources.com"
NOT_CRAWLED = (
    "Global Sources is not crawled: its RFQ list sits behind a sign-in, robots.txt disallows it and the terms of use "
    "forbid automated collection. Forward the buying-request notification mails of a registered supplier account "
    "to the inbound address instead; they become RFQs of this source through the mail intake."
)


def parse_list(html: str, *, fetched_at: datetime) -> ListPage:
    """Refuse: there is no page of this site the pipeline may read (see :data:`NOT_CRAWLED`)."""
    del html, fetched_at
    raise PageParseError("not_crawled", NOT_CRAWLED)


SPEC = SourceSpec(
    name="globalsources",
    kind="marketplace",
    site_url=SITE_URL,
    listings=(),
    detail_pattern="(none: requests arrive by mail)",
    parse_list=parse_list,
    parse_detail=None,
    cadence="0 */12 * * *",
    rate_per_minute=1.0,
    burst=1,
    impersonate="chrome",
    max_pages=0,
    respect_robots=True,
    description="Global Sources buying requests, received as the notification mails a registered supplier account "
    "gets and forwarded to the inbound address (intake/email attributes them here by sender domain).",
    enabled=False,
    disabled_reason=NOT_CRAWLED,
    evidence="second_hand",
    known_gaps=(
        "no served list page: the list needs a sign-in and is rendered by JavaScript",
        "requests reach the pipeline only as forwarded notification mails",
    ),
    mail_domains=("globalsources.com",),
)
