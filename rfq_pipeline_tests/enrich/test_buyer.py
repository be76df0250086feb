from datetime import date

from rfq_pipeline.enrich.buyer import resolve_buyer
from rfq_pipeline.enrich.verify import MxResult


class _StaticResolver:
    """A resolver answering from a table (the UDP path is covered in test_verify)."""

    def __init__(self, table: dict[str, MxResult]) -> None:
        self.table = table
        self.asked: list[str] = []

    def lookup_mx(self, domain: str) -> MxResult:
        self.asked.append(domain)
        return self.table.get(domain, MxResult("nxdomain"))


def test_resolves_a_real_looking_buyer() -> None:
    resolver = _StaticResolver({"noorcosmetics.ae": MxResult("found", ("mx1.noorcosmetics.ae",))})
    profile = resolve_buyer(
        title="SPF 50 sunscreen private label",
        description="10,000 pcs SPF 50, 50 ml tubes, COA required.",
        country="United Arab Emirates",
        company="Al Noor Cosmetics L.L.C.",
        website="https://www.noorcosmetics.ae",
        pages={
            "https://www.noorcosmetics.ae/contact": "Ahmed Al Mansouri, Purchasing Manager\n"
            "Tel: +971 50 123 4567\nahmed@noorcosmetics.ae",
        },
        email_body="Please quote. Call me on 050 123 4567.\nRegards, Ahmed",
        email_message_id="<msg-77@noorcosmetics.ae>",
        order_value_usd=40_000,
        domain_created=date(2012, 1, 1),
        resolver=resolver,
        today=date(2026, 12, 1),
    )
    assert profile.company_key == "al noor cosmetics"
    assert profile.domain == "noorcosmetics.ae" and profile.country == "AE"
    assert profile.email == "ahmed@noorcosmetics.ae"
    assert profile.email_verification is not None and profile.email_verification.status == "unknown"
    assert resolver.asked == ["noorcosmetics.ae"]
    phones = [c for c in profile.contacts if c.phone]
    assert len(phones) == 1 and phones[0].phone == "+971501234567"
    sources = {e.source for e in phones[0].evidence}
    assert sources == {"https://www.noorcosmetics.ae/contact", "<msg-77@noorcosmetics.ae>"}
    assert any(c.name == "Ahmed Al Mansouri" and c.role == "purchasing manager" for c in profile.contacts)
    assert profile.risk.score == 0
    assert profile.confidence["domain"] == 0.95 and profile.confidence["company"] == 0.9
    assert 0 < profile.confidence["email"] < 1


def test_a_risky_buyer() -> None:
    profile = resolve_buyer(
        title="Cosmetics urgent",
        description="Need your products. Payment by Western Union, urgent reply needed.",
        country="UK",
        company="Royal Beauty House",
        email="royal.beauty.house@mailinator.com",
        email_body="WhatsApp +234 803 123 4567",
        order_value_usd=90_000,
    )
    assert profile.email_verification is not None and profile.email_verification.status == "disposable"
    assert profile.country == "GB"
    assert {"scam_phrase", "disposable_domain", "phone_country_mismatch", "urgent_payment_no_specs"} <= set(
        profile.risk.codes
    )
    assert profile.risk.score >= 80
    assert profile.confidence["email"] < 0.2


def test_free_mail_is_not_taken_as_the_company_domain() -> None:
    profile = resolve_buyer(title="Lip balm", company="Seoul Glow", email="seoulglow@naver.com", country="KR")
    assert profile.domain is None
    assert profile.email_verification is not None and profile.email_verification.free_mail
    assert profile.confidence["company"] == 0.6
