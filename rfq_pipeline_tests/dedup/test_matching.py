"""The pure dedup rules: normalization, keys and the explainable decision."""

from rfq_pipeline.dedup.matching import (
    MatchDecision,
    RfqFields,
    best_decision,
    canonical_url_key,
    decide,
    keys_for,
    normalize_text,
)

COCONUT = (
    "Please quote for the following wholesale product requirement -\n\nProduct Name: Coconut Milk\n\n"
    "Specifications :\n17% Fat\nPvt. Label\nPackaging Terms  : 400ml Cans, Tetra Pack\n\n"
    "Quantity Required : 1 Forty-Foot Container \n\nDestination Port : New York, Miami, Florida, United States"
)


def rfq(rfq_id: int = 1, **kw: str) -> RfqFields:
    fields = {"source": "go4worldbusiness", "external_id": str(rfq_id), "title": "Wanted : Coconut Milk"} | kw
    return RfqFields(id=rfq_id, **fields)


def test_normalize_text_folds_case_punctuation_accents_entities_and_digits() -> None:
    assert normalize_text("  Caf&eacute; CRÈME, 1,000.00 pcs!!  ") == "cafe creme 1000 pcs"
    assert normalize_text("17.5% fat") == "17.5 fat"
    assert normalize_text("&amp;quot;Quoted&amp;quot;") == "quoted"


def test_content_hash_ignores_formatting_but_not_content() -> None:
    a = keys_for(rfq(1, description=COCONUT, quantity_text="1 Forty-Foot Container", country="United States"))
    b = keys_for(
        rfq(
            2,
            title="WANTED: coconut   milk",
            description=COCONUT.replace("\n", " "),
            quantity_text="1 x 40' FCL",
            country="USA",
        )
    )
    c = keys_for(rfq(3, description=COCONUT, quantity_text="2 Forty-Foot Container", country="United States"))
    assert a.content_hash == b.content_hash
    assert a.content_hash != c.content_hash
    assert keys_for(rfq(4, title="", description="")).content_hash is None


def test_canonical_url_key_drops_tracking_scheme_www_and_slash() -> None:
    a = canonical_url_key("https://sourcing.alibaba.com/rfq_detail.htm?p=ID1&language=ar_AR&uuid=3845")
    b = canonical_url_key("http://www.sourcing.alibaba.com/rfq_detail.htm?uuid=other&p=ID1&utm_source=x")
    assert a == b == "sourcing.alibaba.com/rfq_detail.htm?p=ID1"
    assert canonical_url_key("https://sourcing.alibaba.com/rfq_detail.htm?p=ID2") != a
    assert canonical_url_key("") is None and canonical_url_key("dedup-cli:7") is None


def test_same_listing_id_matches_regardless_of_fields() -> None:
    d = decide(keys_for(rfq(1, buyer="A")), keys_for(rfq(2, external_id="1", buyer="B")))
    assert d.matched and d.matched_by == "external_id"


def test_exact_content_from_a_different_known_buyer_is_a_different_request() -> None:
    title = "Pristine clean for 2022 Mer-cedess-Benz S500"
    a = keys_for(rfq(1, source="alibaba_rfq", title=title, quantity_text="1 Unit/Units", buyer="Buyer-561bc8ba"))
    b = keys_for(rfq(2, source="alibaba_rfq", title=title, quantity_text="1 Unit/Units", buyer="Buyer-e05197a8"))
    assert a.content_hash == b.content_hash
    decision = decide(b, a)
    assert not decision.matched and decision.reason == "different buyers"
    same_buyer = keys_for(rfq(3, source="alibaba_rfq", title=title, quantity_text="1 Unit", buyer="buyer-561BC8BA"))
    assert decide(same_buyer, a).matched_by == "content_hash"


def test_different_destination_country_blocks_even_exact_content() -> None:
    a = keys_for(rfq(1, country="United States"))
    b = keys_for(rfq(2, country="Philippines, Philippines"))
    assert not decide(b, a).matched
    # a missing country is compatible, but the content hash includes the country: that pair is for the pair decision
    missing = decide(keys_for(rfq(3, country="")), a)
    assert not missing.matched and missing.checks["country_compatible"] and missing.reason == "no exact key in common"


def test_same_url_matches_on_canonical_url() -> None:
    a = keys_for(rfq(1, title="Buy Toner", canonical_url="https://importer.tradekey.com/buyoffer/Buy-Toner-1.html"))
    b = keys_for(
        rfq(2, title="Buy Toner Cartridges", canonical_url="https://importer.tradekey.com/buyoffer/Buy-Toner-1.html/")
    )
    assert decide(b, a).matched_by == "canonical_url"


def test_best_decision_prefers_stronger_evidence_then_similarity() -> None:
    near = MatchDecision(True, "near_duplicate", 0.99)
    exact = MatchDecision(True, "content_hash", 0.85)
    rejected = MatchDecision(False, None, 1.0)
    assert best_decision([near, rejected, exact]) is exact
    assert best_decision([rejected]) is None
