"""Global Sources is not crawled; its buying requests arrive as forwarded notification mails, attributed by domain."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.globalsources import NOT_CRAWLED, SPEC, parse_list
from rfq_pipeline.sources.model import PageParseError
from rfq_pipeline.sources.registry import SOURCES, marketplace_for_sender, resolve


def test_off_by_default_and_cannot_be_switched_on() -> None:
    assert SPEC.enabled is False and not SPEC.crawl_allowed
    forced = resolve(SPEC, Settings.from_env({"RFQ_SOURCE_GLOBALSOURCES_ENABLED": "true"}))
    assert forced.enabled is False
    assert "terms of use forbid automated collection" in SPEC.describe()
    assert SPEC.listings == () and SPEC.evidence == "second_hand"


def test_no_page_is_read() -> None:
    with pytest.raises(PageParseError) as refused:
        parse_list("<html><body>anything</body></html>", fetched_at=datetime.now(UTC))
    assert refused.value.kind == "not_crawled" and NOT_CRAWLED in str(refused.value)


@pytest.mark.parametrize(
    ("senders", "source"),
    [
        (("Global Sources <noreply@message.globalsources.com>",), "globalsources"),
        (("rfq@globalsources.com",), "globalsources"),
        (("Made-in-China.com <en_notification@made-in-china.com>",), "made_in_china"),
        (("feedback@service.alibaba.com",), "alibaba_rfq"),
        # forwarded by the supplier's own mailbox: the forwarded sender decides
        (("Global Sources <noreply@message.globalsources.com>", "sales@our-company.example"), "globalsources"),
        (("buyer@globalsources.com.evil.example",), None),
        (("someone@notglobalsources.com",), None),
        ((None, ""), None),
    ],
)
def test_marketplace_mail_domains(senders: tuple[str | None, ...], source: str | None) -> None:
    assert marketplace_for_sender(*senders) == source


def test_sources_list_says_why_it_is_off() -> None:
    out = subprocess.run(
        [str(Path(sys.executable).with_name("rfq-pipeline")), "sources", "list"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "RFQ_DATA_DIR": "/nonexistent"},
    ).stdout
    rows = {row["name"]: row for row in map(json.loads, out.splitlines())}
    assert set(rows) == set(SOURCES)
    assert rows["globalsources"]["enabled"] is False
    assert rows["globalsources"]["disabled_reason"] == NOT_CRAWLED
    assert all(row["evidence"] in ("served_page", "second_hand", "none") for row in rows.values())
