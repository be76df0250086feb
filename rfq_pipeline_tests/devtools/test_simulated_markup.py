"""The simulator imitates the served pages, not the other way round.

For every source with served-page fixtures, page 1 of its first listing in the simulator must be built like the
real page: the same card elements and classes (the simulator invents none), and read by the parser into the same
set of fields. A simulated site that drifted from its site's real markup fails here before any crawl test can pass
against fiction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.devtools.simulator import SimulatorHandle, start_simulator
from rfq_pipeline.fetch.http_client import HttpClient
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.reading import lead_record, read_list_page
from rfq_pipeline.sources.registry import SOURCES, resolve

FIXTURES = Path(__file__).resolve().parents[1] / "sources" / "fixtures"
REPO = Path(__file__).resolve().parents[2]
# The element that holds one lead on each site's list, as the served pages show it.
CARDS = {
    "ec21": "div.conProduct_list li.listLs",
    "tradekey": "div.listing_box",
    "go4worldbusiness": "div.search-results",
}
SERVED = sorted(name for name, spec in SOURCES.items() if spec.evidence == "served_page" and name in CARDS)
FIELDS = ("title", "url", "posted_at", "country_code", "country", "quantity", "buyer", "description")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with start_simulator() as handle:
        yield handle


def _signatures(card: LexborNode) -> set[str]:
    """Every element of a card as tag.class.class (sorted classes), the card's own skeleton.

    Class names that carry a record's value (a country flag: ``cfImg11_kr``, ``f_in``, ``famfamfam-flag-gb``;
    a running number: ``item-verified-div_0``) are kept by their shape, not their value.
    """
    found = set()
    for node in card.traverse():
        if node.tag and not node.tag.startswith("-"):
            tokens = (
                re.sub(r"([_-])(?:[a-z]{2}|\d+)$", r"\1*", token)
                for token in (node.attributes.get("class") or "").split()
            )
            classes = ".".join(sorted(set(tokens)))
            found.add(f"{node.tag}.{classes}" if classes else node.tag)
    return found


def _cards(html: str, name: str) -> list[LexborNode]:
    """The lead cards of a page (go4WorldBusiness lists supplier cards in the same wrapper: not leads)."""
    cards = LexborHTMLParser(html).css(CARDS[name])
    if name == "go4worldbusiness":
        cards = [card for card in cards if card.css_first('a[href^="/buylead/view/"]') is not None]
    return cards


def _filled(records: list[dict]) -> set[str]:
    return {name for name in FIELDS if any(record[name] for record in records)}


def _real_pages(name: str) -> list[str]:
    return [(REPO / fixture).read_text(encoding="utf-8") for fixture in SOURCES[name].fixtures]


def _simulated_page(sim: SimulatorHandle, name: str) -> str:
    spec = resolve(SOURCES[name], Settings.from_env({"RFQ_SIMULATOR_URL": sim.url}))
    client = HttpClient()
    try:
        response = client.get(spec.list_url(spec.listings[0], 1))
    finally:
        client.close()
    assert response.ok, response.error
    return response.text


def test_every_served_source_is_compared() -> None:
    assert set(SERVED) == {name for name, spec in SOURCES.items() if spec.evidence == "served_page"} - {"us_fda"} - {
        "alibaba_rfq"
    }


@pytest.mark.parametrize("name", SERVED)
def test_simulated_cards_are_built_like_the_served_ones(sim: SimulatorHandle, name: str) -> None:
    real: set[str] = set()
    for html in _real_pages(name):
        for card in _cards(html, name):
            real |= _signatures(card)
    simulated_cards = _cards(_simulated_page(sim, name), name)
    assert simulated_cards, f"the simulated {name} page has no {CARDS[name]}"
    simulated = set().union(*(_signatures(card) for card in simulated_cards))
    assert simulated <= real, f"{name}: the simulator invents {sorted(simulated - real)}"
    assert len(simulated) >= 0.8 * len(real), f"{name}: the simulator leaves out {sorted(real - simulated)}"


@pytest.mark.parametrize("name", SERVED)
def test_simulated_and_served_pages_give_the_same_fields(sim: SimulatorHandle, name: str) -> None:
    spec = SOURCES[name]
    moment = datetime(2026, 8, 27, 21, 0, tzinfo=UTC)
    real = [lead_record(e) for html in _real_pages(name) for e in read_list_page(spec, html, fetched_at=moment).entries]
    page = read_list_page(spec, _simulated_page(sim, name), fetched_at=sim.now)
    assert page.extraction == "selectors"
    simulated = [lead_record(e) for e in page.entries]
    assert _filled(simulated) == _filled(real)
