"""The simulator's records: real corpus rows re-dated relative to a simulated day, deterministically.

Alibaba RFQ board: the CSV was scraped on 13-07-2025, so each row's ``Inquiry Date`` is shifted by
``today - 2025-07-13`` (day offsets kept); the 20 requests of the saved page are dated ``today``. Every request's
time of day is the same fraction (a hash of its id) of the time elapsed since midnight at the frozen ``now``: all
of today's requests are already visible when the simulator starts and none appears later in the day, and a request
dated ``today - k`` is between ``k`` and ``k + 1`` days old, so the board's "k days ago" maps back to its own day.

go4WorldBusiness: the real 2019 buy leads keep their order (original date, newest first) and are dealt out 10-15
per day going back from ``today``; the reposted coconut-milk lead keeps its real repost pattern (same text, new ids),
shifted so that its last repost falls on ``today``. Each lead keeps its real text; what its 2026 list card shows
besides (the facts block's quantity, payment terms, destination and suppliers-from, the contact, the flag, the
VERIFIED/ARCHIVED marker and the "Buyer Of" categories) is derived from that text and record as described at
:class:`Go4wLead`. The corpus's member records (``/member/view/...``) become the companies of the GOLD member cards.
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
# The served lists show VERIFIED leads of the current year and ARCHIVED ones of earlier years (SURVEY.md section 4);
# the simulator squeezes fifteen years of leads into six weeks, so its leads turn ARCHIVED after ten days.
GO4W_ARCHIVED_AFTER_DAYS = 10
# A member card shows a day of its own (BLUEBERRY's GOLD member: ten months before the crawl).
GO4W_MEMBER_DAYS = 300
# Reposts get ids above every real 2019 lead id (the reposts are from 2021); spaced like a busy board.
COCONUT_FIRST_ID = 1_046_215
COCONUT_ID_STEP = 1_187
COCONUT_CATEGORY = "Coconut Milk"
# The CSV's Buyer column holds only "United"; the lead's destination port says the buyer is in the United States.
COCONUT_COUNTRY = "United States"
# The 2019 records were scraped from five category lists (food flavors, float glass, frozen watermelon, peppermint,
# fresh clams) and hold no hair- or skin-care request. The site lists one lead under several "Buyer Of" categories,
# so the simulator files a record under these beauty categories too when its product name has one of the words;
# its text stays as it was.
GO4W_FILED_UNDER: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Essential Oils", re.compile(r"\bessential\s+oils?\b|\baroma", re.I)),
    ("Skin Care", re.compile(r"\b(?:lavender|tea\s+tree|sandal|chamomile|roses?\b)", re.I)),
    ("Hair Care", re.compile(r"\b(?:rosemary|eucalyptus|lemongrass|tea\s+tree)", re.I)),
    ("Cosmetics", re.compile(r"\bfragrances?\b|\bcosmetic", re.I)),
)
GO4W_MAX_CATEGORIES = 6  # the served cards link one to six categories
GO4W_NOT_SPECIFIED = "Not specified"
# Country names of the 2019 site that pycountry does not know, to the flag icon's code.
_GO4W_FLAGS = {"reunion": "re", "south korea (republic of korea)": "kr"}

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


def keyword_matches(keyword: str, text: str) -> bool:
    """Whether a marketplace's keyword search lists ``text``: every word of the keyword, singular or plural, starts a
    word of the text ("skin-care" also matches "skincare"), as EC21 and TradeKey match stems."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    stems = [part.removesuffix("s") for part in keyword.lower().split("-") if part]
    joined = "".join(stems)
    return any(word.startswith(joined) for word in words) or all(
        any(word.startswith(stem) for word in words) for stem in stems
    )


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
    """One buy lead on the simulated go4WorldBusiness, with what its list card shows.

    ``text`` is the record's real request. The facts block is read from it: ``quantity`` from its last "Quantity
    Required :" line when that is "<number or range> <unit>" (a site unit such as "Ton/Tons" in the number's
    grammatical number, "(sample)" and "Monthly"-like qualifiers dropped), else "Not specified" as the served cards
    say; ``payment_terms``, ``destination`` and ``suppliers_from`` from their template lines ("Not specified" when
    missing, inferred); ``contact`` from the last "Contact :" / "Contact Person :" line.
    """

    lead_id: str
    posted_on: date
    title: str  # the card title after "Wanted : ", title-cased as the site does
    country: str
    country_code: str  # lower-case ISO alpha-2 of the flag icon
    categories: tuple[str, ...]  # "Buyer Of" categories as displayed, the record's own category first
    text: str  # the whole request, line breaks normalised to "\n"
    archived: bool
    quantity: tuple[str, str]  # (value, unit) of the facts block; ("Not specified", "") when none
    payment_terms: str
    destination: str
    suppliers_from: str
    contact: str  # "" when the request has no Contact line
    city: str = ""  # "Buyer From <city>, <country>": the corpus names no city, the card renders one when given

    @property
    def heading(self) -> str:
        """The title as the card's link shows it."""
        return f"Wanted : {self.title}"

    @property
    def slug(self) -> str:
        """The detail URL's file name without ``.html`` ("wanted-:-tea-like-masala-tea-matcha-tea")."""
        return "wanted-:-" + page_slug(self.title)

    @property
    def detail_path(self) -> str:
        """Site path of the lead's page."""
        return f"/buylead/view/{self.lead_id}/{self.slug}.html"

    @property
    def quantity_text(self) -> str:
        """The quantity as a reader of the card gets it: "5 Kilograms", or "" when not specified."""
        value, unit = self.quantity
        return "" if value == GO4W_NOT_SPECIFIED else " ".join(f"{value} {unit}".split())


@dataclass(frozen=True)
class Go4wMember:
    """A member company of the site, shown as a GOLD member card among a list's leads (never a lead itself)."""

    member_id: str
    slug: str
    company: str
    location: tuple[str, ...]  # city and region parts as the record gives them, the country last
    country_code: str
    categories: tuple[str, ...]
    text: str
    shown_on: date

    @property
    def country(self) -> str:
        """The member's country (the last part of its location)."""
        return self.location[-1] if self.location else ""

    @property
    def profile_path(self) -> str:
        """Site path of the member's profile."""
        return f"/member/view/{self.member_id}/{self.slug}.html"


def page_slug(text: str) -> str:
    """The site's slug of a title: lower case, every run of other characters one hyphen ("Dragon's" -> "dragon-s")."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "lead"


def title_case(text: str) -> str:
    """Upper-case the first letter of every space-separated word and keep the rest ("Assam CTC BOP" stays)."""
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), " ".join(text.split()))


def flag_code(country: str) -> str:
    """The lower-case ISO code of the flag icon shown for a country as the site writes it ("" when unknown)."""
    from rfq_pipeline.normalize.rfqs import country_code  # pycountry is only needed once the catalog is built

    return _GO4W_FLAGS.get(country.strip().lower()) or (country_code(country) or "").lower()


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
def _go4w_sources() -> tuple[list[dict[str, str]], list[dict[str, str]], list[dict[str, str]]]:
    leads, members = [], []
    with (CORPUS / GO4W_JSONL).open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            link = record.get("buyerCompanyLink") or ""
            if re.search(r"/buylead/view/\d+/", link):
                leads.append(record)
            elif re.search(r"/member/view/\d+/", link):
                members.append(record)
    with (CORPUS / GO4W_REPOSTS).open(newline="", encoding="utf-8") as handle:
        reposts = list(csv.DictReader(handle))
    return leads, reposts, members


def go4w_leads(today: date) -> list[Go4wLead]:
    """Every buy lead of the simulated site, newest first."""
    raw_leads, reposts, _ = _go4w_sources()

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
        # Seven free-text leads of 2004-05 have no product name: the 2019 site titled them by the buyer company.
        title = title_case(record["buyerProductName"] or record["buyerCompanyName"])
        own = _category_name(record["searchCategory"])
        lead = _lead(
            str(lead_id(record)),
            today - timedelta(days=day_index),
            today,
            title,
            record["buyerCountry"].strip(),
            _categories(own, title),
            record["buyerText"],
        )
        leads.append((lead.posted_on, 1_000_000 + rank, lead))

    last_repost = max(parse_go4w_date(row["Date"]) for row in reposts)
    by_date = sorted(enumerate(reposts), key=lambda item: (parse_go4w_date(item[1]["Date"]), item[0]))
    for position, (_, row) in enumerate(by_date):
        text = _normalise_text(row["Commodities"])
        product = re.search(r"Product Name\s*:\s*(.+)", text)
        title = title_case(product.group(1) if product else "Coconut Milk")
        lead = _lead(
            str(COCONUT_FIRST_ID + position * COCONUT_ID_STEP),
            today - (last_repost - parse_go4w_date(row["Date"])),
            today,
            title,
            COCONUT_COUNTRY,
            _categories(COCONUT_CATEGORY, title),
            text,
        )
        # Within a day the reposts (newer ids) come first, latest repost first.
        leads.append((lead.posted_on, -position, lead))

    leads.sort(key=lambda item: (-item[0].toordinal(), item[1]))
    return [lead for _, _, lead in leads]


def go4w_members(today: date) -> list[Go4wMember]:
    """The member companies of the corpus (its ``/member/view/`` records), in corpus order."""
    _, _, records = _go4w_sources()
    members = []
    for record in records:
        link = re.search(r"/member/view/(\d+)/([^/?#]+?)\.html", record["buyerCompanyLink"])
        if link is None:
            continue
        location = tuple(part.strip() for part in record["buyerCountry"].split(",") if part.strip())
        members.append(
            Go4wMember(
                member_id=link.group(1),
                slug=link.group(2),
                company=record["buyerCompanyName"].strip(),
                location=location,
                country_code=flag_code(record["buyerCountry"]),
                categories=(_category_name(record["searchCategory"]),),
                text=" ".join(record["buyerText"].split()),
                shown_on=today - timedelta(days=int(hash_fraction(f"go4w-member-{link.group(1)}") * GO4W_MEMBER_DAYS)),
            )
        )
    return members


def _lead(
    lead_id: str, posted_on: date, today: date, title: str, country: str, categories: tuple[str, ...], text: str
) -> Go4wLead:
    text = _normalise_text(text)
    return Go4wLead(
        lead_id=lead_id,
        posted_on=posted_on,
        title=title,
        country=country,
        country_code=flag_code(country),
        categories=categories,
        text=text,
        archived=(today - posted_on).days > GO4W_ARCHIVED_AFTER_DAYS,
        quantity=_quantity(text),
        payment_terms=_template_line(text, r"Payment\s+Terms?") or GO4W_NOT_SPECIFIED,
        destination=_template_line(text, r"Destination\s+Port") or GO4W_NOT_SPECIFIED,
        suppliers_from=_template_line(text, r"Looking\s+for\s+Suppliers?\s+From") or GO4W_NOT_SPECIFIED,
        contact=_template_line(text, r"Contact(?:\s+Person)?", last=True),
    )


def _category_name(search_category: str) -> str:
    """ "https://.../buyers/Food-Flavors?region=..." -> "Food Flavors"."""
    return search_category.split("/buyers/", 1)[1].split("?", 1)[0].replace("-", " ")


def _categories(own: str, title: str) -> tuple[str, ...]:
    filed = [name for name, words in GO4W_FILED_UNDER if words.search(title) and name != own]
    return (own, *filed)[:GO4W_MAX_CATEGORIES]


def _template_line(text: str, label: str, *, last: bool = False) -> str:
    """The value of a "Label : value" line of a templated request ("" when there is none)."""
    values = re.findall(rf"(?im)^[ \t]*{label}[ \t]*:[ \t]*(.*?)[ \t]*$", text)
    values = [value for value in values if value]
    if not values:
        return ""
    return values[-1] if last else values[0]


_AMOUNT = re.compile(r"^(\d[\d,.]*(?:\s*-\s*\d[\d,.]*)?)\s+([A-Za-z].*)$")
_QUALIFIER = re.compile(r"\s*(?:\(sample\)|\b(?:daily|weekly|monthly|yearly))\s*$", re.I)


def _quantity(text: str) -> tuple[str, str]:
    line = _template_line(text, r"Quantity\s+Required", last=True)
    amount = _AMOUNT.match(line)
    if amount is None:
        return GO4W_NOT_SPECIFIED, ""
    value, unit = amount.group(1), amount.group(2)
    while (qualifier := _QUALIFIER.search(unit)) and qualifier.start() > 0:
        unit = unit[: qualifier.start()]
    if "/" in unit:  # the site's units are "Kilogram/Kilograms": the card says "1 Kilogram", "5 Kilograms"
        singular, _, plural = unit.partition("/")
        unit = singular if value == "1" else plural
    return value, unit


def _leads_on_day(day_index: int) -> int:
    span = GO4W_MAX_PER_DAY - GO4W_MIN_PER_DAY + 1
    return GO4W_MIN_PER_DAY + int(hash_fraction(f"go4w-day-{day_index}") * span)


def _unescape_js(value: str) -> str:
    # Only the \xNN / \uNNNN forms the saved page uses; the block itself is served verbatim.
    return re.sub(r"\\x([0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1) or m.group(2), 16)), value)


def _normalise_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()
