from rfq_pipeline.enrich.contacts import extract_contacts, merge_contacts, normalize_phone

PAGE = """Contact us
Ahmed Al Mansouri, Purchasing Manager
Tel: +971 50 123 4567   Fax: +971 4 555 1234
E-mail: ahmed@noorcosmetics.ae or sales [at] noorcosmetics [dot] ae
Mobile 050 765 4321 (WhatsApp). Posted 2024-05-12.
Managing Director: Fatima Khan
"""
URL = "https://noorcosmetics.ae/contact"


def _by(contacts, attr):
    return {getattr(c, attr): c for c in contacts if getattr(c, attr)}


def test_extracts_emails_phones_and_roles_with_evidence() -> None:
    contacts = extract_contacts(PAGE, URL, country_hint="AE")
    emails, phones, names = _by(contacts, "email"), _by(contacts, "phone"), _by(contacts, "name")
    assert set(emails) == {"ahmed@noorcosmetics.ae", "sales@noorcosmetics.ae"}
    assert emails["ahmed@noorcosmetics.ae"].confidence["email"] > emails["sales@noorcosmetics.ae"].confidence["email"]
    assert emails["sales@noorcosmetics.ae"].evidence[0].source == URL
    assert "[at]" in emails["sales@noorcosmetics.ae"].evidence[0].snippet
    # the fax line and the date are not phones; the national mobile number gets the AE code from the hint
    assert set(phones) == {"+971501234567", "+971507654321"}
    assert phones["+971501234567"].phone_country == "AE"
    assert phones["+971501234567"].confidence["phone"] > phones["+971507654321"].confidence["phone"]
    assert "+971 50 123 4567" in phones["+971501234567"].evidence[0].snippet
    assert names["Ahmed Al Mansouri"].role == "purchasing manager"
    assert names["Fatima Khan"].role == "managing director"
    assert "Purchasing Manager" in names["Ahmed Al Mansouri"].evidence[0].snippet


def test_national_number_without_hint_is_not_guessed() -> None:
    contacts = extract_contacts("Call 050 765 4321 today", "msg-1")
    assert [c.phone for c in contacts if c.phone] == []


def test_duplicates_merge_keeping_all_evidence() -> None:
    first = extract_contacts("write to Buyer@Glow.com.au please", "msg-1")
    second = extract_contacts("mail buyer@glow.com.au or call +61 2 9876 5432", "https://glow.com.au/about")
    merged = merge_contacts(first + second)
    emails = [c for c in merged if c.email]
    assert len(emails) == 1 and emails[0].email == "buyer@glow.com.au"
    assert {e.source for e in emails[0].evidence} == {"msg-1", "https://glow.com.au/about"}
    assert [c.phone for c in merged if c.phone] == ["+61298765432"]


def test_normalize_phone() -> None:
    assert normalize_phone("+82 10-1234-5678") == ("+821012345678", "KR")
    assert normalize_phone("0086 138 0013 8000") == ("+8613800138000", "CN")
    assert normalize_phone("(212) 555-0199", "US") == ("+12125550199", "US")
    assert normalize_phone("020 7946 0958", "GB") == ("+442079460958", "GB")
    assert normalize_phone("+1 2") is None
    assert normalize_phone("12345", "AE") is None


def test_quantities_and_order_numbers_are_not_phones() -> None:
    text = "Order no. 20240512991, quantity 20 000 000 pieces, 1,500,000 units. Call us on 04 555 1234"
    assert [c.phone for c in extract_contacts(text, "rfq", country_hint="AE") if c.phone] == ["+97145551234"]
