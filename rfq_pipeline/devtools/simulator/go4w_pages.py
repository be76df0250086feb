"""The simulated go4WorldBusiness in the markup ``www.go4worldbusiness.com`` served in August 2026.

Imitated from the two served-page fixtures (``rfq_pipeline_tests/sources/fixtures/go4worldbusiness``: the category
page ``/buyers/tea.html`` and the site-search answer to ``/buyers/rosa-roxburghii.html``) and their survey
(``SURVEY.md`` there, which also quotes the BLUEBERRY page's member card):

- Lists are per keyword, ``/buyers/<keyword>.html``, 20 cards a page, page N at ``?region=worldwide&pg_buyers=N``
  (the paging block's form) or ``?pg_buyers=N`` (the head's ``link rel=next``, absolute on the www host). A keyword
  that is one of the site's categories gets a category page: canonical ``/buyers/<keyword>.html``, a breadcrumb with
  its ``BreadcrumbList``, the "Discuss sourcing & trends" box. Any other keyword gets the site search, as the survey
  shows for rosa-roxburghii: canonical and next link ``/find?searchText=<keyword>&BuyersOrSuppliers=buyers``, paging
  links ``/find?searchText=...&pg_buyers=N&pg_suppliers=1&_format=html&BuyersOrSuppliers=buyers``, no breadcrumb,
  and loose matching (any word of the keyword starting a word of the lead, its contact included).
- Cards: the served card skeleton element for element and class for class, with most of its whitespace: the
  ``div.search-results`` wrapper, the top row with VERIFIED (``id="item-verified-div_<position>"``) or ARCHIVED and
  the day as " Mon-DD-YY ", the flag, the title link ``/buylead/view/<id>/wanted-:-<slug>.html`` around
  ``h2[title="<title> wholesale buyer from <country>"]``, "Buyer From [<city>,] <country>", the facts block
  (quantity value and unit lines or "Not specified"), the inquiry and favourites buttons, the whole request one
  ``<br />`` line per text line (``&``, ``'`` and ``"`` raw as served), the read-more arrow and the "Buyer Of"
  category links padded to 64 characters. Now and then (at most one a page, at position 19 as on BLUEBERRY) a GOLD
  member card: ``borderGOLD`` with its badge, ``/member/view/<id>/<slug>.html``, an ``h2`` without
  ``text-capitalize``, the location on several lines of a ``span.subtitle`` and a ``<p>`` description.
- Head: canonical, ``link rel=next`` when there is a next page, the ``WebPage`` and ``ItemList`` JSON-LD (one entry
  per card: ``Demand`` for leads, ``Organization`` for members). The paging block ends the results: First, Previous,
  up to ten numbered ``li.currentPage`` (the current one ``active currentPage``), then the ``&raquo;`` and Last
  links, both ``aria-label="Next"``, closed by ``</diV>``.

Lists: the site's categories are the categories its leads are filed under (each 2019 record's own list, the
coconut-milk reposts' "Coconut Milk", and the beauty categories ``catalog.GO4W_FILED_UNDER`` adds by product words).
A category list holds every lead whose title, categories or text has each word of the keyword as a word start,
singular or plural. Of the watched keywords all are categories but ``peppermint-oil`` (the 2019 category is
"Peppermint"), which the site search answers.

Order: not by date. Category pages run by relevance, which on the served TEA page is roughly newest first with
days out of order: each lead's age plus up to ``RECENCY_JITTER_DAYS`` drawn from a hash. Search pages are in hash
order (ROSA mixes 2021-2026). The member cards are the corpus's member records matching the keyword.

Inferred (no served page shows them): pages after the first (canonical with ``?pg_buyers=N``, ``link rel=prev``,
the window of page numbers), the last page (no ``rel=next``, no ``&raquo;``/Last links), the answer to a keyword
with no leads, to a page past the end and to ``/buyers/<slug>`` without ``.html`` for a slug that is no category
(the page with a "No buyers found" notice instead of cards), the search's three-letter minimum per word, the
parts of the member card the survey does not quote (its buttons and where its ``<p>`` sits), and the lead and
member pages (the crawler no longer fetches them: they show the card). Left out: the nav header, the left
suggestions panel, the filter tab bar, the modals and the footer, which the crawler does not read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date
from html import escape
from urllib.parse import quote, unquote

from rfq_pipeline.devtools.simulator.catalog import Go4wLead, Go4wMember, hash_fraction, page_slug, title_case
from rfq_pipeline.devtools.simulator.faults import Reply, redesigned
from rfq_pipeline.sources.go4worldbusiness import SPEC

HOST = "https://www.go4worldbusiness.com"
PAGE_SIZE = 20
PAGE_LINKS = 10  # numbered links in the paging block (TEA page 1: 1-10 of 643)
MEMBER_POSITION = 19  # 1-based place of a member card on a page, as on BLUEBERRY
MEMBER_SHARE = 0.5  # share of full pages that carry one
RECENCY_JITTER_DAYS = 8
MIN_SEARCH_WORD = 3  # shorter words of a keyword do not take part in the site search (inferred)
CATEGORY_LINK_WIDTH = 64  # "Buyer Of" link texts are padded to this width before escaping
# Keywords the default crawl watches: expected() answers for what a crawl of the registered listings finds.
WATCHED_KEYWORDS = tuple(listing.removeprefix("/buyers/").removesuffix(".html") for listing in SPEC.listings)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ENTITY_START = re.compile(r"&(?=[A-Za-z#])")
_LEAD_PATH = re.compile(r"^buylead/view/(\d+)/[^/]+\.html$")
_MEMBER_PATH = re.compile(r"^member/view/(\d+)/[^/]+\.html$")

Card = Go4wLead | Go4wMember


def card_date(day: date) -> str:
    """The site's day format, "Aug-27-26" (English month names whatever the server locale)."""
    return f"{_MONTHS[day.month - 1]}-{day.day:02d}-{day.year % 100:02d}"


def _esc(text: str) -> str:
    # The site escapes titles and links like PHP's htmlspecialchars: apostrophes as &#039;.
    return escape(text).replace("&#x27;", "&#039;")


def _description_html(text: str) -> str:
    """The request as the card holds it: raw text, one ``<br />`` per line.

    The served descriptions keep ``&``, ``'`` and ``"`` raw; only what would start a tag or a character reference is
    escaped here, so that the text reads back as written.
    """
    lines = [_ENTITY_START.sub("&amp;", line).replace("<", "&lt;") for line in text.split("\n")]
    return "<br />\n".join(lines)


def list_path(keyword: str, page: int = 1, *, search: bool = False, paging: bool = False) -> str:
    """Site path of page ``page`` of a list as the head (``paging=False``) or the paging block (``True``) links it."""
    if search:
        text = quote(keyword, safe="-")
        if paging:
            return (
                f"/find?searchText={text}&countryFilter%5B0%5D=&cityFilter%5B0%5D=&pg_buyers={page}"
                "&pg_suppliers=1&_format=html&BuyersOrSuppliers=buyers"
            )
        return f"/find?searchText={text}&BuyersOrSuppliers=buyers" + (f"&pg_buyers={page}" if page > 1 else "")
    base = f"/buyers/{keyword}.html"
    if paging:
        return base + "?region=worldwide" + (f"&pg_buyers={page}" if page > 1 else "")
    return base + (f"?pg_buyers={page}" if page > 1 else "")


def _status(lead: Go4wLead, position: int) -> str:
    if lead.archived:
        return """                            <div class="archived-lead col-xs-12 nopadding" data-type="buyleads">
                  <span class="archived-text" data-type="buyleads">
                      <small> ARCHIVED </small>
                  </span>
                  <i class="question-icon fal fa-question-circle" aria-hidden="true"></i>
                </div>
"""
    return f"""                                                <div class="item-verified-div" data-type="buyleads" \
id="item-verified-div_{position}">
                                                    <i class="pointer verify-icon fas fa-check-square"></i>
                            <span class="verify-text" data-type="buyleads">
                                <small> VERIFIED </small>
                            </span>
                            <i class="question-icon fal fa-question-circle" aria-hidden="true"></i>
                                            </div>
"""


def _top_row(border: str, badge: str, status: str, day: date, flag: str) -> str:
    return f"""    <div class="col-xs-12 nopadding search-results">
        <!-- Lazy load off screen images -->
                                    <!--  Search Results  Center box-->
        <div class="col-xs-12 nopadding  entity-rows-container entity-rows-container-auto-height \
search-results-center ">
            \t
\x20
<!-- Top row - Membership type, Verified/Archived and date -->
    <div class="col-xs-12 xs-padd-lr-2 {border}">
        <!--  Gold or no Gold and Verified -->
        <div class="col-xs-5 col-sm-6 nopadding">
{badge}                    </div>

        <!-- Verified -->
        <div class="col-xs-4 col-sm-4 xs-padd-lr-2 nopadding">
{status}                    </div>

        <!-- Date -->
        <div class="col-xs-3 col-sm-2 xs-padd-lr-2 nopadding text-right">
                                                                        <small> {card_date(day)} </small>
                                                        </div>
    </div>
         <!-- Flag, Title -->
<div
\tclass="col-xs-12 xs-padd-lr-5 ">
\t<!-- Flag -->
\t<span class="pull-left">
\t\t<h5 class="nopadding">
\t\t\t<i class="famfamfam-flag famfamfam-flag-{flag}"></i>
\t\t\t&nbsp;
\t\t</h5>
\t</span>

\t<!-- Title  -->
\t<span class="pull-left">
"""


def _fact(icon: str, label: str, value: str, extra_class: str, indent: str = "\t\t\t\t") -> str:
    return f"""\t\t<div class="col-xs-12 col-sm-6 nopadding {extra_class}ellipsis">
\t\t\t<i class="fas {icon}" style="color: #666;"></i>
\t\t\t<span>
\t\t\t\t{label}:
\t\t\t</span>
\t\t\t<span style="font-weight: 300">
{indent}{value}
\t\t\t</span>
\t\t</div>
"""


def _buttons(kind: str, entity_id: str, slug: str) -> str:
    href = f"/inquiries/send/{kind}/{entity_id}/{slug}"
    return f"""\t\t\t\t\t<a href="{href}"
        class="btn btn-default underline-none entity-row-inquiry-cta"
        style="background: #00a9ea; color: #fff; border: none;"
        data-entity-id="{entity_id}"
        data-entity-type="{kind}"
        data-inquiry-fallback-href="{href}"
        data-inquiry-fallback-label="Inquire Now">
    <i class="fas fa-envelope fa-icon inquiry-cta-envelope-icon" style="color: #fff;"></i>
    <i class="fas fa-comment fa-icon inquiry-cta-comment-icon" style="color: #fff; display: none;"></i>
    &nbsp;<span class="inquiry-cta-label">Inquire Now</span>
</a>
\t\t\t\t<button class="add-favorite btn btn-default" onclick="addToFavorites('{kind}', '{entity_id}', \
'\\/favorites\\/add.ajax'); return false;" style=" cursor: pointer; color: #00a9ea; background:#ffffff;">
\t\t<i class="fal fa-heart fa-icon" style="color: #00a9ea;"></i>
\t\t&nbsp;Add to Favorites
\t</button>
"""


def _category_links(categories: Sequence[str]) -> str:
    links = []
    for number, name in enumerate(categories):
        href = f"/buyers/{page_slug(name)}.html"
        text = _esc(name.ljust(CATEGORY_LINK_WIDTH))
        if number == 0:
            links.append(
                "                                        \n"
                "                                                            \n"
                f'            <a href="{href}"  >\n                Buyer Of\n        {text}\n    </a>\n\n'
            )
        else:
            links.append(
                "                                                \n"
                '                                                                    <span class="grey-pipe">\n'
                "            &nbsp;&nbsp;|&nbsp;&nbsp;\n        </span>\n    \n"
                f'            <a href="{href}"  >\n            {text}\n    </a>\n\n'
            )
    return "".join(links) + "                                                \n"


def lead_card(lead: Go4wLead, position: int) -> str:
    """One lead's card as the served lists show it; ``position`` is its 0-based place on the page."""
    value, unit = lead.quantity
    if lead.city:
        place = f"\t\t\tBuyer From\n\t\t\t\t\t\t\t{_esc(lead.city)},\n\t\t\t\t\t\t\t\t\t{_esc(lead.country)}\n"
    else:
        place = f"\t\t\tBuyer From\n\t\t\t\t\t\t\t\t\t{_esc(lead.country)}\n"
    title = _esc(lead.title)
    top = _top_row("borderJUNIOR", "", _status(lead, position), lead.posted_on, lead.country_code)
    quantity = _fact("fa-cart-plus", "Quantity Required", f"{_esc(value)}\n\t\t\t\t{_esc(unit)}", "mar-bot-5 ")
    payment = _fact("fa-usd-circle", "Payment Terms", _esc(lead.payment_terms), "", "\t\t\t\t\t\t\t\t\t")
    destination = _fact("fa-globe", "Destination", _esc(lead.destination), "mar-top-5 ")
    suppliers = _fact("fa-globe", "Looking for suppliers from", _esc(lead.suppliers_from), "mar-top-5 ")
    return f"""{top}\t\t\t\t\t\t\t<a href="{lead.detail_path}" class="underline-none">
\t\t\t\t<h2 class="text-capitalize entity-row-title h2-item-title" title="{title} wholesale buyer from \
{_esc(lead.country)}">
\t\t\t\t\t<span>
\t\t\t\t\t\tWanted : {title}

\t\t\t\t\t</span>
\t\t\t\t</h2>
\t\t\t</a>
\t\t\t</span>
</div>

<!-- Country  -->
\t<div class="col-xs-12 xs-padd-lr-5 ">
\t\t<span class="pull-left subtitle text-capitalize">
{place}\t\t</span>
\t</div>

<!-- Description -->

<div class="col-xs-12  xs-padd-lr-5">
\t<div class="col-xs-12 nopadding mar-top-5">
{quantity}{payment}\t</div>
\t<div class="col-xs-12 nopadding">
{destination}{suppliers}\t</div>
\t<div class="col-xs-12 nopadding mar-top-15">
\t\t
{_buttons("buyleads", lead.lead_id, lead.slug)}\t\t\t</div>
</div>
<div class="col-xs-12  xs-padd-lr-5 sec-1">
\t<div class="col-xs-12 nopadding mar-top-15">
\t\t<div class="col-xs-12 nopadding" style="font-weight: 500;">
\t\t\tProduct Description
\t\t</div>
\t</div>
\t<div class="col-xs-12 nopadding entity-row-description-search" style="max-height: 3em;">
\t\t{_description_html(lead.text)}
\t\t
\t</div>

\t\t\t<!-- Find More -->
\t\t\t\t\t\t\t\t\t\t\t\t<!-- Find More -->
\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t<div class="col-xs-offset-11  col-xs-1 read-moreless pointer nopadding pull-right">
\t\t\t\t<i class="fas fa-angle-down"></i>
\t\t\t</div>
\t\t\t</div>
\t<div class="col-xs-12 xs-padd-lr-5 showHideContent">
\t\t\t\t\t<!-- Category Stub -->



<div class="mar-top-10" style="line-height: 1.7em;">
{_category_links(lead.categories)}        </div>
\t\t\t</div>
        </div>
    </div>
"""


def member_card(member: Go4wMember) -> str:
    """A GOLD member's card among the leads (BLUEBERRY position 19); not a lead, so never in ``expected()``."""
    badge = """                            <span class="star-icon star-iconG">
                  <i class="pointer fas fa-star gold"></i>
                </span>
                      <span class="star-textG">
                  GOLD Member
                </span>
"""
    top = _top_row("borderGOLD", badge, "", member.shown_on, member.country_code)
    company = _esc(member.company)
    *places, country = member.location or ("",)
    lines = "".join(f"\t\t\t\t\t\t\t{_esc(place)},\n" for place in places)
    return f"""{top}<a href="{member.profile_path}"
        class="underline-none">
    <h2 class="entity-row-title h2-item-title"
        title="{company}, wholesale supplier  from {_esc(country)}">
        <span> {company}
 </span>
    </h2>
</a>
\t</span>
</div>

<!-- Country  -->
\t<div class="col-xs-12 xs-padd-lr-5 ">
\t<span class="subtitle text-capitalize">
\t\t\t\t\t\t\t\t\tBuyer From
{lines}\t\t\t\t{_esc(country)}
\t</span>
\t</div>

<div class="col-xs-12  xs-padd-lr-5">
\t<div class="col-xs-12 nopadding mar-top-15">
\t\t
{_buttons("members", member.member_id, member.slug)}\t\t\t</div>
</div>
<div class="col-xs-12  xs-padd-lr-5 sec-1">
\t<div class="col-xs-12 nopadding entity-row-description-search" style="max-height: 3em;">
\t\t<p>{_esc(member.text)}</p>
\t</div>
\t\t\t</div>
        </div>
    </div>
"""


def _pagination(keyword: str, page: int, total_pages: int, *, search: bool) -> str:
    def href(number: int) -> str:
        return _esc(list_path(keyword, number, search=search, paging=True))

    first = max(1, min(page - PAGE_LINKS // 2 + 1, total_pages - PAGE_LINKS + 1))
    numbers = "".join(
        f"""                            <li class="{"active" if number == page else ""} currentPage">
                    <a href="{href(number)}">
                        {number}
                    </a>
                </li>
"""
        for number in range(first, min(total_pages, first + PAGE_LINKS - 1) + 1)
    )
    onward = ""
    if page < total_pages:
        onward = f"""            <li>
                <a aria-label="Next" href="{href(page + 1)}">
                    <span aria-hidden="true">&raquo;</span>
                </a>
            </li>

            <li>
                <a aria-label="Next" href="{href(total_pages)}">
                    Last
                </a>
            </li>
"""
    return f"""    <!-- Bottom Paging -->
                                                                                                        \
<div class="col-xs-12 text-center">
        <ul class="pagination">
            <li>
                <a href="{href(1)}">
                    First
                </a>
            </li>
            <li>
                <a aria-label="Previous" href="{href(max(1, page - 1))}">
                    <span aria-hidden="true">&laquo;</span>
                </a>
            </li>

{numbers}
{onward}        </ul>
    </diV>
"""


def _jsonld(data: object) -> str:
    # "</" would end the script element early; JSON allows the escaped slash.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _item(card: Card, position: int) -> dict[str, object]:
    if isinstance(card, Go4wMember):
        url = HOST + card.profile_path
        address = {"@type": "PostalAddress", "addressCountry": card.country}
        item: dict[str, object] = {"@type": "Organization", "@id": url, "url": url, "name": card.company}
        item["address"] = address
    else:
        url = HOST + card.detail_path
        value, unit = card.quantity
        low, _, high = (part.strip() for part in value.partition("-"))
        quantity = (
            {"unitText": "MOQ"}
            if card.quantity_text == ""
            else {"minValue": low, **({"maxValue": high} if high else {}), "unitText": unit.strip()}
        )
        place: dict[str, str] = {"addressLocality": card.city} if card.city else {}
        item = {
            "@type": "Demand",
            "@id": url,
            "url": url,
            "name": f"WANTED : {card.title}",
            "description": card.text.replace("\n", "\r\n"),
            "eligibleQuantity": {**quantity, "@type": "QuantitativeValue"},
            "acceptedPaymentMethod": card.payment_terms,
            "eligibleRegion": "Worldwide",
            "availableAtOrFrom": {"@type": "Place", "address": {**place, "addressCountry": card.country}},
        }
    return {"@type": "ListItem", "position": str(position), "item": item}


def _document(head: str, body: str, tail: str = "") -> str:
    return f"""<!DOCTYPE html>
<html lang="en">

<head>
    <meta charset="utf-8">
    <meta http-equiv="X-UA-Compatible" content="IE=edge">
    <meta name="viewport" content="width=device-width, initial-scale=1.0, maximum-scale=1.0, user-scalable=0" />
{head}
    <link rel="icon" type="image/x-icon" href="https://d2oel0jzphnd1z.cloudfront.net/icons/favicon.ico" />
        </head>

<body>
<div class="container-fluid xs-padd-lr-5 body-container">

        <!-- left Panel - suggest searches and applied filter -->
        <div class="col-xs-12 nopadding mar-top-15">
<div class="col-xs-12 col-sm-9 col-md-8 dmar-top-10 right_panel  mnopadding dmin-height-600 m-body-container-400">
{body}
            </div>
        </div>
    </div>
{tail}
    </body>

</html>
"""


def _heading(name: str, keyword: str, *, search: bool) -> str:
    crumbs = ""
    if not search:
        trail = {
            "@context": "https://schema.org",
            "@type": "BreadcrumbList",
            "itemListElement": [
                {"@type": "ListItem", "position": 1, "item": {"@type": "WebPage", "@id": HOST, "url": HOST,
                                                              "name": "Buyers"}},
                {"@type": "ListItem", "position": 2, "item": {"@type": "WebPage", "@id": HOST + list_path(keyword),
                                                              "url": HOST + list_path(keyword), "name": name}},
            ],
        }  # fmt: skip
        crumbs = f"""        <div id="category-breadcrumb" class="hidden-xs" \
style="font-size: 14px; margin-bottom: 10px;">
                                                            <span style="color: #999">Buyers</span>
                         <span>&gt;</span>                                     <span style="color: #999">\
{_esc(name.ljust(CATEGORY_LINK_WIDTH))}</span>
                                    </div>

    <script type="application/ld+json">
    {_jsonld(trail)}
    </script>
"""
    return f"""                                <div role="tabpanel search-tab">
                    <div class="col-xs-12 nopadding">
                                                <div>
                            <h1 align=center>
                                                                                                            \
<span class="onlyforsuppliers">
                                            Find Verified
                                            {_esc(name)}
                                                                                            \
Buyers, Importers and Buy Leads
                                                                                        <br><br>
                                        </span>
                                                                                                </h1>
{crumbs}                                                                                </div>
                    </div>
<!-- Tab panes search results-->
                    <div class="tab-content">

                                                    <!-- Tab Panel for Buyers -->
                            <div class="tab-pane search-panel-tab col-xs-12 nopadding  active "
                                 id="Buyers" role="tabpanel">

                                <!-- Tab Panel for Buyers and Suppliers -->
<!-- Main Search Result Tabs -->
<div class="tab-pane search-panel-tab active  col-xs-12 nopadding" id="Buyers " role="tabpanel">

            <!--  Results Array -->
"""


_CLOSE_RESULTS = """    </div>
                            </div>
                                            </div>
                </div>



"""


def _head(name: str, canonical: str, links: str = "") -> str:
    label = _esc(name)
    return f"""                            <link rel="canonical" href="{_esc(canonical)}"/>
{links}    <title>          {label} Buyers &amp; Importers | go4WorldBusiness.com
    </title>
    <meta name="description"
        content="          Sell {label} in bulk to verified buyers and importers. Connect with businesses actively \
looking to buy wholesale {label} at best prices.
    " />"""


def _web_page(name: str, url: str) -> str:
    page = {
        "@context": "https://schema.org",
        "@type": "WebPage",
        "url": url,
        "name": f"{_esc(name)} Buyers &amp; Importers | go4WorldBusiness.com",
        "description": f"Sell {name} in bulk to verified buyers and importers. Connect with businesses actively "
        f"looking to buy wholesale {name} at best prices.",
        "publisher": {"@id": "https://www.go4worldbusiness.com#organization"},
        "isPartOf": {"@id": "https://www.go4worldbusiness.com#website"},
    }
    return f"""        <script type="application/ld+json">
        {_jsonld(page)}
    </script>
"""


def render_list(
    cards: Sequence[Card], keyword: str, page: int, *, name: str | None = None, search: bool = False
) -> str:
    """Page ``page`` of the list of ``keyword`` holding ``cards`` (all pages, in list order) as the site serves it.

    ``name`` is the list's display name (default: the keyword title-cased); ``search`` serves it as the site search
    does for a keyword that is no category. A page with no cards is :func:`render_no_results`.
    """
    name = name or title_case(keyword.replace("-", " "))
    total_pages = -(-len(cards) // PAGE_SIZE)
    chunk = list(cards[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
    if not chunk:
        return render_no_results(keyword, page, name=name, search=search)
    canonical = HOST + list_path(keyword, page, search=search)
    links = ""
    if page < total_pages:
        next_href = _esc(HOST + list_path(keyword, page + 1, search=search))
        links += f'                    <link rel="next" href="{next_href}"/>\n'
    if page > 1:
        links += f'    <link rel="prev" href="{_esc(HOST + list_path(keyword, page - 1, search=search))}"/>\n'
    results = "                                <!--  Search Results  Center Area-->\n".join(
        lead_card(card, position) if isinstance(card, Go4wLead) else member_card(card)
        for position, card in enumerate(chunk)
    )
    if search:
        box = f"""                        <div class="grey-box">
                    Explore {_esc(name)} related import export discussions
        </div>"""
    else:
        box = f"""        <div class="grey-box">
                                                Discuss sourcing & trends in
                    <a href="/import-export-communities/{keyword}" target="_blank">
                        {_esc(name)}
                    </a>
                    import export community
                                    </div>"""
    body = f"""{_heading(name, keyword, search=search)}        <!--  Search Results  Center Area-->
{results}

{_pagination(keyword, page, total_pages, search=search)}
    <div class="col-xs-12 text-center mar-bot-15 nopadding">

{box}
    </div>

    <div class="col-xs-12 text-center">
        <i class="fas fa-comment fa-site-green"></i>
                <a href=/member/becomepremium>Become Premium Member and Get Found by Buyers Worldwide.</a>
            </div>
{_CLOSE_RESULTS}"""
    item_list = {
        "@context": "https://schema.org",
        "@type": "ItemList",
        "itemListElement": [_item(card, position) for position, card in enumerate(chunk, start=1)],
    }
    tail = f"""{_web_page(name, canonical)}
                <script type="application/ld+json">
        {_jsonld(item_list)}
        </script>
"""
    return _document(_head(name, canonical, links), body, tail)


def render_no_results(keyword: str, page: int = 1, *, name: str | None = None, search: bool = False) -> str:
    """A list with no cards (a keyword nothing matches, or a page past the end): inferred, no served page shows it."""
    name = name or title_case(keyword.replace("-", " "))
    canonical = HOST + list_path(keyword, page, search=search)
    body = f"""{_heading(name, keyword, search=search)}        <div class="col-xs-12 text-center mar-top-15">
            <h4>No buyers found for {_esc(name)}.</h4>
            <a href="/buyers.html">Browse all buyer categories</a>
        </div>
{_CLOSE_RESULTS}"""
    return _document(_head(name, canonical), body, _web_page(name, canonical))


def render_lead_page(lead: Go4wLead) -> str:
    """A buy lead's own page (inferred: the crawler reads leads from the lists and no longer fetches these)."""
    url = HOST + lead.detail_path
    head = f"""                            <link rel="canonical" href="{_esc(url)}"/>
    <title>{_esc(lead.heading)} | Buyer From {_esc(lead.country)} | go4WorldBusiness.com</title>"""
    body = f"""<h1 class="text-capitalize">{_esc(lead.heading)}</h1>
<!--  Search Results  Center Area-->
{lead_card(lead, 0)}"""
    return _document(head, body)


def render_member_page(member: Go4wMember) -> str:
    """A member's profile page (inferred: the crawler never follows member links)."""
    url = HOST + member.profile_path
    head = f"""                            <link rel="canonical" href="{_esc(url)}"/>
    <title>{_esc(member.company)} | go4WorldBusiness.com</title>"""
    return _document(head, f"<h1>{_esc(member.company)}</h1>\n{member_card(member)}")


def render_not_found(path: str) -> str:
    """The answer to an unknown path or lead id (inferred)."""
    head = "    <title>Page Not Found | go4WorldBusiness.com</title>"
    body = f"""<h1>Page Not Found</h1>
<p>The page {_esc(path)} does not exist or the buy lead has been removed.</p>
<p><a href="/buyers.html">Browse buyer categories</a></p>"""
    return _document(head, body)


def _page_number(query: dict[str, list[str]]) -> int:
    try:
        return max(1, int(query.get("pg_buyers", ["1"])[0]))
    except ValueError:
        return 1


def _words(*texts: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[a-z0-9]+", " ".join(texts).lower()))


def keyword_matches(words: Sequence[str], keyword: str) -> bool:
    """Whether a category list holds a record with these words: every word of the keyword, singular or plural,
    starts one of them ("skin-care" also matches "skincare")."""
    stems = [part.removesuffix("s") for part in keyword.lower().split("-") if part]
    if not stems:
        return False
    joined = "".join(stems)
    return any(word.startswith(joined) for word in words) or all(
        any(word.startswith(stem) for word in words) for stem in stems
    )


def search_matches(words: Sequence[str], keyword: str) -> bool:
    """Whether the site search returns a record for ``keyword``: any word of it starts one of the record's words
    (ROSA: "rosa-roxburghii" found every contact called Rosa or Rosas)."""
    terms = [term for term in re.findall(r"[a-z0-9]+", keyword.lower()) if len(term) >= MIN_SEARCH_WORD]
    return any(word.startswith(term) for term in terms for word in words)


class Go4wSite:
    """The simulated site: its leads and members, the lists they make, and the answer to every path."""

    def __init__(self, leads: Sequence[Go4wLead], members: Sequence[Go4wMember], today: date) -> None:
        self.today = today
        self.leads = list(leads)  # newest first
        self.members = [member for member in members if member.country_code and member.location]
        self._lead_ids = {lead.lead_id: lead for lead in self.leads}
        self._member_ids = {member.member_id: member for member in self.members}
        self._lead_words = {lead.lead_id: _words(lead.title, *lead.categories, lead.text) for lead in self.leads}
        self._member_words = {
            member.member_id: _words(member.company, *member.categories, member.text) for member in self.members
        }
        # A category page exists for every category a lead is filed under.
        self.categories = {page_slug(name): name for lead in self.leads for name in lead.categories}
        self._cards: dict[tuple[str, bool], list[Card]] = {}
        self._watched = {
            card.lead_id
            for keyword in WATCHED_KEYWORDS
            for card in self.cards(keyword)[: PAGE_SIZE * SPEC.max_pages]
            if isinstance(card, Go4wLead)
        }

    def is_category(self, keyword: str) -> bool:
        """Whether ``/buyers/<keyword>.html`` is a category page (otherwise the site search answers it)."""
        return keyword.lower() in self.categories

    def listing(self, keyword: str, *, search: bool | None = None) -> list[Go4wLead]:
        """The leads of ``keyword``'s list in the list's order (not by date); ``search`` defaults to "no category"."""
        return [card for card in self.cards(keyword, search=search) if isinstance(card, Go4wLead)]

    def cards(self, keyword: str, *, search: bool | None = None) -> list[Card]:
        """Every card of ``keyword``'s list, all pages in order: its leads with now and then a member card."""
        keyword = keyword.lower()
        search = not self.is_category(keyword) if search is None else search
        cached = self._cards.get((keyword, search))
        if cached is not None:
            return cached
        match = search_matches if search else keyword_matches
        leads = [lead for lead in self.leads if match(self._lead_words[lead.lead_id], keyword)]
        if search:
            leads.sort(key=lambda lead: hash_fraction(f"go4w-search-{keyword}-{lead.lead_id}"))
        else:
            leads.sort(
                key=lambda lead: (
                    (self.today - lead.posted_on).days
                    + RECENCY_JITTER_DAYS * hash_fraction(f"go4w-rank-{keyword}-{lead.lead_id}")
                )
            )
        members = iter(
            sorted(
                (member for member in self.members if match(self._member_words[member.member_id], keyword)),
                key=lambda member: hash_fraction(f"go4w-member-{keyword}-{member.member_id}"),
            )
        )
        cards: list[Card] = []
        for lead in leads:
            cards.append(lead)
            page = len(cards) // PAGE_SIZE + 1
            if len(cards) % PAGE_SIZE == MEMBER_POSITION - 1 and (
                hash_fraction(f"go4w-member-page-{keyword}-{page}") < MEMBER_SHARE
            ):
                member = next(members, None)
                if member is not None:
                    cards.append(member)
        self._cards[(keyword, search)] = cards
        return cards

    def list_page(self, keyword: str, page: int, *, search: bool | None = None) -> str:
        """Page ``page`` of ``keyword``'s list (a category page, or the site search for any other keyword)."""
        keyword = keyword.lower()
        search = not self.is_category(keyword) if search is None else search
        name = None if search else self.categories[keyword]
        return render_list(self.cards(keyword, search=search), keyword, page, name=name, search=search)

    def render(self, rest: str, query: dict[str, list[str]], style: str) -> Reply:
        """Answer ``GET /go4worldbusiness/<rest>?<query>``; ``style="drift"`` serves the page redesigned."""
        reply = self._answer(rest, query)
        if style == "drift":
            return Reply(reply.status, redesigned(reply.body.decode()).encode(), reply.headers, reply.content_type)
        return reply

    def _answer(self, rest: str, query: dict[str, list[str]]) -> Reply:
        page = _page_number(query)
        parts = rest.split("/")
        if len(parts) == 2 and parts[0] == "buyers" and parts[1]:
            name = unquote(parts[1]).lower()
            if name.endswith(".html"):
                return Reply(200, self.list_page(name.removesuffix(".html"), page).encode())
            # "/buyers/<slug>" without .html is the form of the site's parent categories ("/buyers/agriculture-and-
            # food"); for a slug that is no category the simulator answers "no buyers found" (inferred).
            if self.is_category(name):
                return Reply(200, self.list_page(name, page).encode())
            return Reply(200, render_no_results(name, page).encode())
        if rest == "find":
            keyword = re.sub(r"[^a-z0-9]+", "-", query.get("searchText", [""])[0].lower()).strip("-")
            if not keyword:
                return Reply(200, render_no_results("", page, name="All", search=True).encode())
            return Reply(200, self.list_page(keyword, page, search=True).encode())
        lead = _LEAD_PATH.match(rest)
        if lead and lead.group(1) in self._lead_ids:
            return Reply(200, render_lead_page(self._lead_ids[lead.group(1)]).encode())
        member = _MEMBER_PATH.match(rest)
        if member and member.group(1) in self._member_ids:
            return Reply(200, render_member_page(self._member_ids[member.group(1)]).encode())
        return Reply(404, render_not_found("/" + rest).encode())

    def expected(self, day: date) -> list[str]:
        """Ids a crawl of the watched keyword lists (``SPEC.listings``, up to ``SPEC.max_pages`` pages each) finds
        posted on ``day``, newest first."""
        return [lead.lead_id for lead in self.leads if lead.posted_on == day and lead.lead_id in self._watched]

    def expected_total(self) -> int:
        """Every lead on a watched list."""
        return len(self._watched)
