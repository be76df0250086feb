"""The simulator's records: real corpus rows re-dated relative to a simulated day, deterministically.

Alibaba RFQ board: the CSV was scraped on 13-07-2025, so each row's ``Inquiry Date`` is shifted by
``today - 2025-07-13`` (day offsets kept); the 20 requests of the saved page are dated ``today``. Every request's
time of day is the same fraction (a hash of its id) of the time elapsed since midnight at the frozen ``now``: all
of today's requests are already visible when the simulator starts and none appears later in the day, and a request
dated ``today - k`` is between ``k`` and ``k + 1`` days old, so the board's "k days ago" maps back to its own day.

go4WorldBusiness: the real buy leads keep their order (original date, newest first) and are dealt out 10-15 per
day going back from ``today``; the reposted coconut-milk lead keeps its real repost pattern (same text, new ids),
shifted so that its last repost falls on ``today``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
ALIBABA_PAGE = "alibaba_rfq_list_page_2025-07.html"
ALIBABA_CSV = "alibaba_rfq_uae_2025-07.csv"
GO4W_JSONL = "go4w_buyers_2019.jsonl"
GO4W_REPOSTS = "go4w_reposted_lead_2021.csv"

ALIBABA_SCRAPED_ON = date(2025, 7, 13)  # "Scraping Date" of every CSV row
GO4W_MIN_PER_DAY, GO4W_MAX_PER_DAY = 10, 15
# Reposts get ids above every real 2019 lead id (the reposts are from 2021); spaced like a busy board.
COCONUT_FIRST_ID = 1_046_215
COCONUT_ID_STEP = 1_187
COCONUT_CATEGORY = "Coconut-Milk"
# The CSV's Buyer column holds only "United"; the lead's destination port says the buyer is in the United States.
COCONUT_COUNTRY = "United States"

_PUSH_BLOCK = re.compile(r"[ \t]*window\.PAGE_DATA\[\"index\"\]\.data\.push\(\{.*?\n[ \t]*\}\);", re.DOTALL)
_FLAG_TAGS = (  # CSV buyer flag -> tag name, in the order the real page lists buyer tags
    ("Experienced Buyer", "experienced_buyer"),
    ("Complete Order via RFQ", "complete_order_via_rfq"),
    ("Email Confirmed", "emailConfirm"),
    ("Typical Replies", "typically_replies"),
    ("Interactive User", "interactive_user"),
)
_MONTHS = {
    m: i
    for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)
}


def hash_fraction(key: str) -> float:
    """A stable number in [0, 1) derived from ``key`` (independent of Python's per-process hash seed)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def time_on_day(day: date, key: str, now: datetime) -> datetime:
    """``day`` at the fraction ``hash_fraction(key)`` of the seconds elapsed since midnight at ``now``."""
    midnight_now = datetime.combine(now.date(), time(0), UTC)
    elapsed = int((now - midnight_now).total_seconds())
    return datetime.combine(day, time(0), UTC) + timedelta(seconds=int(hash_fraction(key) * elapsed))


@dataclass(frozen=True)
class AlibabaRecord:
    """One request on the simulated RFQ board."""

    rfq_id: str
    posted_at: datetime
    subject: str  # as the site serves it (HTML entities such as &quot; included)
    page_block: str = ""  # the saved page's own PAGE_DATA block (served verbatim); the fields below are then unused
    buyer_name: str = ""
    quantity: str = ""
    quantity_unit: str = ""
    quotes_left: str = ""
    enr_rfq_id: str = ""
    language: str = ""  # the detail URL's language parameter, if any (e.g. "ar_AR")
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Go4wLead:
    """One buy lead on the simulated go4WorldBusiness."""

    lead_id: str
    posted_on: date
    heading: str  # the card/detail title as displayed ("Wanted : X", or the company for old leads)
    country: str
    category: str  # URL form, e.g. "Food-Flavors"
    text: str  # full request text, line breaks normalised to "\n"
    company: str
    slug: str

    @property
    def detail_path(self) -> str:
        """Site path of the lead's detail page."""
        return f"/buylead/view/{self.lead_id}/{self.slug}.html"

    @property
    def category_name(self) -> str:
        """The category as displayed ("Food Flavors")."""
        return self.category.replace("-", " ")


def slugify(heading: str) -> str:
    """The site's slug: lower case, spaces to hyphens, ':' kept ("Wanted : Float Glass" -> "wanted-:-float-glass")."""
    slug = re.sub(r"[^a-z0-9:\-]+", "", re.sub(r"\s+", "-", heading.strip().lower()))
    return re.sub(r"-{2,}", "-", slug).strip("-") or "lead"


def parse_go4w_date(text: str) -> date:
    """Parse the site's "Nov-15-21" date format."""
    month, day, year = text.strip().split("-")
    return date(2000 + int(year), _MONTHS[month.lower()], int(day))


@cache
def _alibaba_page_blocks() -> dict[str, str]:
    page = (CORPUS / ALIBABA_PAGE).read_text(encoding="utf-8")
    blocks = {}
    for block in _PUSH_BLOCK.findall(page):
        rfq_id = re.search(r'rfqId: "(\d+)"', block)
        if rfq_id:
            blocks[rfq_id.group(1)] = block
    return blocks


def alibaba_records(today: date, now: datetime) -> list[AlibabaRecord]:
    """Every request of the simulated board, newest first."""
    page_blocks = _alibaba_page_blocks()
    records: list[AlibabaRecord] = []
    for rfq_id, block in page_blocks.items():
        subject = re.search(r'subject: "((?:[^"\\]|\\.)*)"', block)
        records.append(
            AlibabaRecord(
                rfq_id=rfq_id,
                posted_at=time_on_day(today, rfq_id, now),
                subject=_unescape_js(subject.group(1)) if subject else "",
                page_block=block,
            )
        )
    with (CORPUS / ALIBABA_CSV).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rfq_id = row["RFQ ID"].strip()
            # The saved page's requests are shown as today's; rows without an inquiry date cannot be placed.
            if rfq_id in page_blocks or not row["Inquiry Date"].strip():
                continue
            inquiry = datetime.strptime(row["Inquiry Date"].strip(), "%d-%m-%Y").date()
            day = today - (ALIBABA_SCRAPED_ON - inquiry)
            quantity, _, unit = row["Quantity Required"].strip().partition(" ")
            query = dict(part.split("=", 1) for part in row["Inquiry URL"].split("?", 1)[1].split("&") if "=" in part)
            records.append(
                AlibabaRecord(
                    rfq_id=rfq_id,
                    posted_at=time_on_day(day, rfq_id, now),
                    subject=row["Title"].strip(),
                    buyer_name=row["Buyer Name"].strip(),
                    quantity=quantity,
                    quantity_unit=unit.strip(),
                    quotes_left=row["Quotes Left"].strip(),
                    enr_rfq_id=query.get("p", ""),
                    language=query.get("language", ""),
                    tags=tuple(tag for flag, tag in _FLAG_TAGS if row[flag].strip().lower() == "yes"),
                )
            )
    # Ordering by the hash fraction (not the rounded time) keeps the order identical whatever ``now`` is.
    records.sort(key=lambda r: (r.posted_at.date(), hash_fraction(r.rfq_id), int(r.rfq_id)), reverse=True)
    return records


@cache
def _go4w_sources() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    leads = []
    with (CORPUS / GO4W_JSONL).open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if re.search(r"/buylead/view/\d+/", record.get("buyerCompanyLink") or ""):
                leads.append(record)
    with (CORPUS / GO4W_REPOSTS).open(newline="", encoding="utf-8") as handle:
        reposts = list(csv.DictReader(handle))
    return leads, reposts


def go4w_leads(today: date) -> list[Go4wLead]:
    """Every buy lead of the simulated site, newest first."""
    raw_leads, reposts = _go4w_sources()

    def lead_id(record: dict[str, str]) -> int:
        return int(re.search(r"/buylead/view/(\d+)/", record["buyerCompanyLink"]).group(1))  # type: ignore[union-attr]

    ordered = sorted(raw_leads, key=lambda r: (parse_go4w_date(r["date"]), lead_id(r)), reverse=True)
    leads: list[tuple[date, int, Go4wLead]] = []
    day_index, left_today = 0, _leads_on_day(0)
    for rank, record in enumerate(ordered):
        if left_today == 0:
            day_index += 1
            left_today = _leads_on_day(day_index)
        left_today -= 1
        product = record["buyerProductName"].strip()
        company = record["buyerCompanyName"].strip()
        heading = f"Wanted : {product}" if product else company
        lead = Go4wLead(
            lead_id=str(lead_id(record)),
            posted_on=today - timedelta(days=day_index),
            heading=heading,
            country=record["buyerCountry"].strip(),
            category=record["searchCategory"].split("/buyers/", 1)[1].split("?", 1)[0],
            text=_normalise_text(record["buyerText"]),
            company=company,
            slug=slugify(heading),
        )
        leads.append((lead.posted_on, 1_000_000 + rank, lead))

    last_repost = max(parse_go4w_date(row["Date"]) for row in reposts)
    by_date = sorted(enumerate(reposts), key=lambda item: (parse_go4w_date(item[1]["Date"]), item[0]))
    for position, (_, row) in enumerate(by_date):
        text = _normalise_text(row["Commodities"])
        product = re.search(r"Product Name\s*:\s*(.+)", text)
        heading = f"Wanted : {product.group(1).strip() if product else 'Coconut Milk'}"
        lead = Go4wLead(
            lead_id=str(COCONUT_FIRST_ID + position * COCONUT_ID_STEP),
            posted_on=today - (last_repost - parse_go4w_date(row["Date"])),
            heading=heading,
            country=COCONUT_COUNTRY,
            category=COCONUT_CATEGORY,
            text=text,
            company="",
            slug=slugify(heading),
        )
        # Within a day the reposts (newer ids) come first, latest repost first.
        leads.append((lead.posted_on, -position, lead))

    leads.sort(key=lambda item: (-item[0].toordinal(), item[1]))
    return [lead for _, _, lead in leads]


def _leads_on_day(day_index: int) -> int:
    span = GO4W_MAX_PER_DAY - GO4W_MIN_PER_DAY + 1
    return GO4W_MIN_PER_DAY + int(hash_fraction(f"go4w-day-{day_index}") * span)


def _unescape_js(value: str) -> str:
    # Only the \xNN / \uNNNN forms the saved page uses; the block itself is served verbatim.
    return re.sub(r"\\x([0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1) or m.group(2), 16)), value)


def _normalise_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()
