"""Reading an RFQ's facts: quantities, countries in any language, specification values, buyers, order flags."""

import pytest

from rfq_pipeline.dedup.attributes import (
    Quantity,
    buyer_identity,
    company_key,
    country_in_text,
    country_of,
    extract,
    fold,
    parse_amount,
    same_company,
    specification,
    strip_boilerplate,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10,000 Pieces", [Quantity(10000, "count")]),
        ("10.000 Stück", [Quantity(10000, "count")]),
        ("10 000 pcs", [Quantity(10000, "count")]),
        ("10k", [Quantity(10000, "count")]),
        ("1 lakh pcs", [Quantity(100000, "count")]),
        ("3.000 kits", [Quantity(3000, "count")]),
        ("2 MT", [Quantity(2000, "kg")]),
        ("2.000 kg", [Quantity(2000, "kg")]),
        ("0.5 MT", [Quantity(500, "kg")]),
        ("500kg", [Quantity(500, "kg")]),
        ("18 Ton", [Quantity(18000, "kg")]),
        ("250 Metric Ton/Metric Tons", [Quantity(250000, "kg")]),
        ("1 X 20' FCL (16 MT)", [Quantity(1, "container_20"), Quantity(16000, "kg")]),
        ("2 Forty-Foot Container", [Quantity(2, "container_40")]),
        ("3 x 40' HQ", [Quantity(3, "container_40")]),
        ("", []),
        ("to be discussed", []),
    ],
)
def test_amounts_in_every_format_become_one_base_unit(text: str, expected: list[Quantity]) -> None:
    assert parse_amount(text) == expected


def test_a_container_restated_as_a_mass_in_the_text_meets_the_mass() -> None:
    attributes = extract(
        title="Wanted : Talc Powder",
        description="Packaging Terms : 25 Kg Bags, 18 MT Per 20' FCL\nQuantity Required : 2 X 20' FCL",
        quantity="2 X 20' FCL",
    )
    assert Quantity(36000, "kg") in attributes.quantities


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Türkei", "TR"), ("Türkiye", "TR"), ("日本", "JP"), ("Ελλάδα", "GR"), ("الإمارات", "AE"),
        ("Emirates", "AE"), ("UAE", "AE"), ("KSA", "SA"), ("Maroc", "MA"), ("Polska", "PL"), ("España", "ES"),
        ("Россия", "RU"), ("الكويت", "KW"), ("مصر", "EG"), ("Danmark", "DK"), ("Deutschland", "DE"),
        ("Brasil", "BR"), ("México", "MX"), ("Nederland", "NL"), ("Sverige", "SE"), ("AE", "AE"),
    ],
)  # fmt: skip
def test_countries_are_read_in_any_language_and_script(written: str, code: str) -> None:
    assert country_of(written) == code


def test_unknown_or_ambiguous_country_names_give_none() -> None:
    assert country_of("Guinea") == "GN"  # an exact name wins over the names it is part of
    assert country_of("Republic") is None
    assert country_of("") is None


def test_a_blank_country_is_taken_from_the_places_the_text_names_but_not_from_supplier_origins() -> None:
    assert country_in_text("Please quote CIF Mombasa.") == "KE"
    assert country_in_text("Regards, Al Wafra Beauty Co. – الكويت") == "KW"
    assert country_in_text("Looking for suppliers from : China, India\nCIF Casablanca") == "MA"
    assert country_in_text("CIF Osaka or CIF Mombasa") is None  # two countries: no guess
    assert country_in_text("we need 5000 pcs private label") is None


def test_specification_values_by_dimension() -> None:
    specs = specification("30ml Amber Glass Dropper Bottle, DIN18", "Size: 220 x 140 x 80 mm\nPurity : %99, W320")
    assert specs["volume_ml"] == {"30"}
    assert specs["size_cm"] == {"22x14x8"}
    assert specs["percent"] == {"99"}
    assert {"din18", "w320"} <= specs["code"]
    assert specs["colour"] == {"amber"} and specs["material"] == {"glass"}
    # Colours and scents in the languages the e-mails use.
    assert specification("pochette", "colore nero, cerniera dorata")["colour"] == {"black", "gold"}
    assert specification("Aloe vera jel", "parfümsüz")["scent"] == {"unscented"}
    # Payment terms and the supplier line are not the product's specification.
    assert "percent" not in specification("Hand Cream", "Payment Terms : 30% Advance, 70% Against BL")


def test_pack_counts_and_order_amounts_are_kept_apart() -> None:
    specs = specification("12 Pcs Makeup Brush Set", "Order qty 3,000 sets, 12-piece set")
    assert specs["pack_count"] == {"12"}


@pytest.mark.parametrize(
    ("title", "product"),
    [
        ("Wanted : Aloe Vera Gel", "Aloe Vera Gel"),
        ("[Buying] Kraft mailer boxes", "Kraft mailer boxes"),
        ("Purchasing Request: Citric Acid E330", "Citric Acid E330"),
        ("Buying Request: Loofah pads", "Loofah pads"),
        ("Requirement of Henna Powder", "Henna Powder"),
        ("Looking For Tea Tree Oil", "Tea Tree Oil"),
        ("Want To Buy Coffee Body Scrub", "Coffee Body Scrub"),
        ("Buy Dry Shampoo Spray 200ml", "Dry Shampoo Spray 200ml"),
        ("Re: Fwd: Wanted : Rosemary Hair Oil", "Rosemary Hair Oil"),
        ("Hydrolyzed Collagen Powder...", "Hydrolyzed Collagen Powder"),
    ],
)
def test_site_boilerplate_is_stripped_from_titles(title: str, product: str) -> None:
    assert strip_boilerplate(title) == product


def test_company_name_variants_are_one_company() -> None:
    assert same_company(
        company_key("AL NOOR KHALEEJ COSM. TRDG LLC"), company_key("Al Noor Khaleej Cosmetics Trading L.L.C")
    )
    assert same_company(company_key("Guzel Doga Kozmetik"), company_key("Güzel Doğa Kozmetik San. ve Tic. Ltd. Şti."))
    assert same_company(company_key("Trousse & Co. S.r.l."), company_key("Trousse and Co Srl"))
    assert same_company(company_key("Lind & Berg"), company_key("Lind & Berg Förpackning AB"))
    assert not same_company(company_key("Poudre & Plume SPRL"), company_key("Maison Poudrée SAS"))
    assert not same_company(company_key("Dar Trading"), company_key("Dar Al Hinna Trading Est."))


def test_buyer_and_contact_pseudonyms_with_one_hash_are_one_person() -> None:
    post = buyer_identity("Buyer-4be1d2a9", "")
    mail = buyer_identity("AL NOOR KHALEEJ COSM. TRDG LLC", "Regards,\nContact-4be1d2a9\nsales@alnoor-khaleej.ae")
    assert post.pseudonyms == mail.pseudonyms == {"4be1d2a9"}
    assert mail.email_domains == {"alnoor-khaleej.ae"}
    assert buyer_identity("", "ahmed@gmail.com").email_domains == frozenset()  # free mail names nobody


def test_separate_new_and_repeat_orders_are_flagged() -> None:
    assert "separate_order" in extract(title="Repeat order – night cream 50g").flags
    assert (
        "separate_order" in extract(title="Mailer boxes", description="please treat this as a separate new order").flags
    )
    assert "separate_order" not in extract(title="Night cream 50g", description="for the first shipment").flags


def test_mail_in_another_language_is_marked_as_such() -> None:
    german = extract(
        title="Anfrage: Lippenbalsam-Dosen",
        description="für unsere Linie suchen wir Dosen. Bitte senden Sie uns Ihr Angebot mit Muster.",
    )
    english = extract(title="Lip balm tins", description="We need 50k tins, please quote with the price per unit.")
    assert not german.english and english.english


def test_units_read_in_one_pass_agree_with_units_read_one_after_another() -> None:
    specs = specification("5 ml 3 l 2 fl oz 4 oz 10w 5000k 5k 3000 mah 20 inch 200 gsm 80 mesh 500 da 15%", "")
    assert specs["volume_ml"] == {"5", "3000", "59.1", "118.3"}
    assert specs["power_w"] == {"10"} and specs["colour_temp_k"] == {"5000"} and specs["battery_mah"] == {"3000"}
    assert specs["length_inch"] == {"20"} and specs["weight_gsm"] == {"200"} and specs["mesh"] == {"80"}
    assert specs["molecular_da"] == {"500"} and specs["percent"] == {"15"}
    # A value read out frees its neighbour: "3g" read first leaves "5%" followed by a space.
    assert specification("5%3g", "") == {"mass_g": {"3"}, "percent": {"3", "5"}}
    assert specification('5"3ml', "") == {"length_inch": {"5"}, "volume_ml": {"3"}}
    assert specification("5ml٣g", "") == {"volume_ml": {"5"}, "mass_g": {"3"}}  # an Arabic-Indic digit


def test_codes_are_whole_words_of_letters_then_digits() -> None:
    specs = specification("W320 cashew, E330 citric acid 2024, din18 dropper, abcd123, 12345, 1b", "")
    assert specs == {"code": {"w320", "e330", "din18", "1b"}}


def test_the_longest_lexicon_phrase_is_read_and_only_whole_words() -> None:
    assert specification("cool white led", "")["colour"] == {"cool_white", "white"}
    assert specification("golden caps", "")["colour"] == {"gold"}
    assert specification("rose gold tins", "")["colour"] == {"pink", "gold"}
    assert "colour" not in specification("blackboard, off-black", "")


def test_a_country_name_is_matched_as_a_run_of_whole_words_of_one_name() -> None:
    assert country_of("Arab Emirates") == "AE"
    assert country_of("rates") is None  # inside a word
    assert country_of("Emirates Arab") is None  # not in that order
    assert country_of("Kingdom") is None  # several countries' names
    assert country_in_text("Deliver to Dar es Salaam") == "TZ"
    assert country_in_text("Made in Kenya\nCIF Osaka") == "JP"


def test_case_insensitive_words_are_found_in_text_outside_ascii() -> None:
    # re.I takes the Turkish "İ" for "i": the text is not ASCII, so no substring test may rule the pattern out.
    assert extract(title="x", description="QUANTİTY: 500 pcs").quantities == (Quantity(500, "count"),)
    assert extract(title="REPEAT ORDER", description="Ürün").flags == {"separate_order"}
    assert buyer_identity("", "CONTACT-4BE1D2A9 – İstanbul").pseudonyms == {"4be1d2a9"}


def test_folding_drops_accents_and_diacritics() -> None:
    assert fold("Crème  Brûlée") == "creme brulee"
    assert fold("مَصر") == "مصر"
    assert fold("İSTANBUL Straße") == "istanbul strasse"
