"""Pages of the simulated go4WorldBusiness: buyer listings and buy-lead detail pages.

Listing cards use the selectors known from public scrapers of the site (``div.search-results``,
``h2.entity-row-title span``, ``span.subtitle``, ``small``, ``div.entity-row-description-search p``); the rest of
the page (navigation, pagination, the empty-result message) and the detail page are a plausible design, since no
saved page of the site is available. Links are site-root relative, as on the real site.
"""

from __future__ import annotations

from datetime import date
from html import escape

from rfq_pipeline.devtools.simulator.catalog import Go4wLead

PAGE_SIZE = 20
SNIPPET_CHARS = 180
_LIST_QUERY = "?region=worldwide&amp;pg_buyers={page}"


def card_date(day: date) -> str:
    """The site's date format, "Nov-15-21" (English month names whatever the server locale)."""
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{months[day.month - 1]}-{day.day:02d}-{day.year % 100:02d}"


def _document(title: str, body: str, canonical: str = "") -> str:
    link = f'\n<link rel="canonical" href="https://www.go4worldbusiness.com{escape(canonical)}">' if canonical else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>{link}
<link rel="stylesheet" href="/css/bootstrap.min.css">
<link rel="stylesheet" href="/css/site.css">
</head>
<body>
<nav class="navbar navbar-default navbar-static-top">
 <div class="container">
  <a class="navbar-brand" href="/">go4WorldBusiness</a>
  <ul class="nav navbar-nav">
   <li><a href="/buyers?region=worldwide&amp;pg_buyers=1">Buyers</a></li>
   <li><a href="/suppliers?region=worldwide&amp;pg_suppliers=1">Suppliers</a></li>
   <li><a href="/post/buylead">Post Buy Lead</a></li>
  </ul>
  <ul class="nav navbar-nav navbar-right">
   <li><a href="/user/login">Sign In</a></li>
   <li><a href="/user/register">Join Free</a></li>
  </ul>
 </div>
</nav>
{body}
<footer class="footer">
 <div class="container">
  <p class="text-muted">&copy; go4WorldBusiness.com - Connecting Importers and Exporters.</p>
 </div>
</footer>
<script src="/js/jquery.min.js"></script>
<script src="/js/bootstrap.min.js"></script>
</body>
</html>
"""


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    return flat[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " ..."


def _card(lead: Go4wLead) -> str:
    return f"""<div class="search-results">
 <div class="row entity-row">
  <div class="col-xs-10">
   <a href="{escape(lead.detail_path)}" class="entity-row-link">
    <h2 class="entity-row-title h2-item-title"><span>{escape(lead.heading)}</span></h2>
   </a>
   <span class="subtitle">Buyer From {escape(lead.country)}</span>
  </div>
  <div class="col-xs-2 text-right"><small>{card_date(lead.posted_on)}</small></div>
  <div class="col-xs-12 entity-row-description-search"><p>{escape(_snippet(lead.text))}</p></div>
  <div class="col-xs-12 entity-row-categories">
   <a href="/buyers/{escape(lead.category)}{_LIST_QUERY.format(page=1)}">{escape(lead.category_name)}</a>
  </div>
  <div class="col-xs-12 entity-row-actions">
   <a class="btn btn-success btn-sm" href="/inquire/buylead/{lead.lead_id}">Inquire Now</a>
   <a class="btn btn-default btn-sm" href="/favorites/add/buylead/{lead.lead_id}">Add to Favorites</a>
  </div>
 </div>
</div>"""


def _pagination(base: str, page: int, total_pages: int) -> str:
    if total_pages <= 1 and page <= 1:
        return ""
    items = []
    if page > 1:
        items.append(
            f'<li class="prev"><a rel="prev" href="{base}{_LIST_QUERY.format(page=page - 1)}">&laquo; Prev</a></li>'
        )
    else:
        items.append('<li class="prev disabled"><span>&laquo; Prev</span></li>')
    start = max(1, min(page - 2, total_pages - 4))
    for number in range(start, min(total_pages, start + 4) + 1):
        if number == page:
            items.append(f'<li class="active"><span>{number}</span></li>')
        else:
            items.append(f'<li><a href="{base}{_LIST_QUERY.format(page=number)}">{number}</a></li>')
    if page < total_pages:
        items.append(
            f'<li class="next"><a rel="next" href="{base}{_LIST_QUERY.format(page=page + 1)}">Next &raquo;</a></li>'
        )
        items.append(f'<li class="last"><a href="{base}{_LIST_QUERY.format(page=total_pages)}">Last</a></li>')
    else:
        items.append('<li class="next disabled"><span>Next &raquo;</span></li>')
    return '<nav aria-label="Buyers pages">\n<ul class="pagination">\n' + "\n".join(items) + "\n</ul>\n</nav>"


def render_list(leads: list[Go4wLead], category: str | None, page: int, *, known_category: bool = True) -> str:
    """Page ``page`` of a category listing (``category`` None: all buy leads), newest first."""
    name = category.replace("-", " ") if category else "All"
    base = f"/buyers/{escape(category)}" if category else "/buyers"
    total_pages = -(-len(leads) // PAGE_SIZE)
    chunk = leads[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    if chunk:
        first = (page - 1) * PAGE_SIZE + 1
        summary = f"Showing {first} - {first + len(chunk) - 1} of {len(leads)} {escape(name)} buy leads"
        results = "\n".join(_card(lead) for lead in chunk)
    elif known_category:
        summary = f"{len(leads)} {escape(name)} buy leads"
        results = (
            '<div class="alert alert-info no-results">No buyers found on this page. '
            f'<a href="{base}{_LIST_QUERY.format(page=1)}">Back to the first page</a>.</div>'
        )
    else:
        summary = "0 buy leads"
        results = (
            f'<div class="alert alert-info no-results">No buyers found for &quot;{escape(name)}&quot;. '
            'Try a broader category or <a href="/buyers?region=worldwide&amp;pg_buyers=1">browse all buy leads</a>.'
            "</div>"
        )
    body = f"""<div class="container search-page">
 <ol class="breadcrumb"><li><a href="/">Home</a></li><li class="active">{escape(name)} Buyers</li></ol>
 <h1 class="page-title">{escape(name)} Buyers, Importers &amp; Buy Leads</h1>
 <p class="results-summary">{summary}</p>
 <div class="row">
  <div class="col-md-9" id="search-results-list">
{results}
  </div>
  <div class="col-md-3 sidebar">
   <div class="panel panel-default"><div class="panel-heading">Get buy leads by e-mail</div>
    <div class="panel-body"><a class="btn btn-primary" href="/user/register">Join Free</a></div></div>
  </div>
 </div>
{_pagination(base, page, total_pages)}
</div>"""
    return _document(f"{name} Buyers, Importers & Buy Leads | go4WorldBusiness", body)


def render_list_drift(leads: list[Go4wLead], category: str | None, page: int) -> str:
    """A listing after a hypothetical redesign: same leads, new markup (``article.lead-card``, ``time``)."""
    chunk = leads[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    cards = "\n".join(
        f"""<article class="lead-card" data-lead="{lead.lead_id}">
 <a class="lead-card__link" href="{escape(lead.detail_path)}">
  <h3 class="lead-card__title">{escape(lead.heading)}</h3>
 </a>
 <div class="lead-card__meta"><span class="lead-card__origin">{escape(lead.country)}</span>
 <time datetime="{lead.posted_on.isoformat()}">{lead.posted_on.strftime("%d %b %Y")}</time></div>
 <div class="lead-card__excerpt">{escape(_snippet(lead.text))}</div>
</article>"""
        for lead in chunk
    )
    name = category.replace("-", " ") if category else "All"
    body = f"""<main class="leads-page">
 <header class="leads-page__header"><h1>{escape(name)} buy leads</h1></header>
 <section class="lead-list">
{cards}
 </section>
 <div class="pager"><button class="pager__more" data-page="{page + 1}">Load more</button></div>
</main>"""
    return _document(f"{name} buy leads | go4WorldBusiness", body)


def render_detail(lead: Go4wLead) -> str:
    """A buy lead's detail page: title, country, date, buyer company (when known) and the full request text."""
    text_html = "<br>\n".join(escape(line) for line in lead.text.split("\n"))
    company = (
        f'\n   <p class="buyer-block">Buyer : <span class="buyer-company">{escape(lead.company)}</span></p>'
        if lead.company
        else ""
    )
    body = f"""<div class="container buylead-view">
 <ol class="breadcrumb">
  <li><a href="/">Home</a></li>
  <li><a href="/buyers/{escape(lead.category)}{_LIST_QUERY.format(page=1)}">{escape(lead.category_name)} Buyers</a></li>
  <li class="active">{escape(lead.heading)}</li>
 </ol>
 <div class="row">
  <div class="col-md-9">
   <h1 class="entity-title">{escape(lead.heading)}</h1>
   <p class="entity-meta">
    <span class="subtitle">Buyer From <span class="buylead-country">{escape(lead.country)}</span></span>
    <small class="buylead-date">Posted On : {card_date(lead.posted_on)}</small>
   </p>{company}
   <h4>Buy Lead Details</h4>
   <div class="buylead-description">
{text_html}
   </div>
   <p class="buylead-categories">Categories :
    <a href="/buyers/{escape(lead.category)}{_LIST_QUERY.format(page=1)}">{escape(lead.category_name)}</a>
   </p>
   <a class="btn btn-success" href="/inquire/buylead/{lead.lead_id}">Contact Buyer Now</a>
  </div>
  <div class="col-md-3 sidebar">
   <div class="panel panel-default"><div class="panel-heading">Similar buy leads</div>
    <div class="panel-body"><a href="/buyers/{escape(lead.category)}{_LIST_QUERY.format(page=1)}">More
     {escape(lead.category_name)} buyers</a></div></div>
  </div>
 </div>
</div>"""
    return _document(f"{lead.heading} | Buyer From {lead.country} | go4WorldBusiness", body, lead.detail_path)


def render_detail_drift(lead: Go4wLead) -> str:
    """A detail page after a hypothetical redesign (no h1, the text in ``section.lead-body``)."""
    paragraphs = "\n".join(f"<p>{escape(p)}</p>" for p in lead.text.split("\n\n"))
    body = f"""<main class="lead-page">
 <header class="lead-header"><h2 class="lead-title">{escape(lead.heading)}</h2>
  <div class="lead-origin">{escape(lead.country)} &middot; {lead.posted_on.isoformat()}</div></header>
 <section class="lead-body">
{paragraphs}
 </section>
</main>"""
    return _document(f"{lead.heading} | go4WorldBusiness", body, lead.detail_path)


def render_not_found(path: str) -> str:
    """The site's 404 page."""
    body = f"""<div class="container error-page">
 <h1>Page Not Found</h1>
 <p>The page {escape(path)} does not exist or the buy lead has expired.</p>
 <p><a href="/buyers?region=worldwide&amp;pg_buyers=1">Browse the latest buy leads</a></p>
</div>"""
    return _document("Page Not Found | go4WorldBusiness", body)
