import pytest

from rfq_pipeline.enrich.company import (
    domain_from_email,
    domain_from_url,
    is_free_mail,
    name_matches_domain,
    normalize_company,
    registrable_domain,
)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("ABC Trading Co., Ltd.", "abc trading"),
        ("Al Noor Cosmetics L.L.C.", "al noor cosmetics"),
        ("AL NOOR COSMETICS LLC", "al noor cosmetics"),
        ("Gulf Beauty FZE", "gulf beauty"),
        ("Gulf Beauty F.Z.C.O.", "gulf beauty"),
        ("Desert Rose FZCO", "desert rose"),
        ("Kosmetik Müller GmbH & Co. KG", "kosmetik müller"),
        ("Beauté Paris S.A.", "beauté paris"),
        ("Maison Lumière SARL", "maison lumière"),
        ("Mumbai Herbals Pvt. Ltd.", "mumbai herbals"),
        ("Mumbai Herbals Private Limited", "mumbai herbals"),
        ("Glow Imports Inc.", "glow imports"),
        ("PT Sari Ayu Indonesia Tbk", "sari ayu indonesia"),
        ("OOO Krasota", "krasota"),
        ("株式会社資生堂", "資生堂"),
        ("資生堂株式会社", "資生堂"),
        ("上海美妆有限公司", "上海美妆"),
        ("广州美容股份有限公司", "广州美容"),
        ("(주)아모레퍼시픽", "아모레퍼시픽"),
        ("아모레퍼시픽 주식회사", "아모레퍼시픽"),
        ("Shinsegae (주)", "shinsegae"),
        ("  Rose   &  Thorn   Ltd ", "rose and thorn"),
        ("Ltd", "ltd"),  # a name that is only a legal form is kept rather than emptied
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_company(name, key) -> None:
    assert normalize_company(name) == key


def test_spelling_variants_meet() -> None:
    assert normalize_company("ABC Trading L.L.C") == normalize_company("abc trading llc") == "abc trading"


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("https://shop.abc.co.uk/contact", "abc.co.uk"),
        ("www.glow.com.au", "glow.com.au"),
        ("http://a.b.kose.co.jp/x?y=1", "kose.co.jp"),
        ("https://www.amore.co.kr", "amore.co.kr"),
        ("http://mall.meizhuang.com.cn", "meizhuang.com.cn"),
        ("https://sub.noon.ae/", "noon.ae"),
        ("https://shop.noon.co.ae/", "noon.co.ae"),
        ("https://WWW.Example.COM:8080/path", "example.com"),
        ("http://127.0.0.1:8000/", None),
        ("http://[::1]/", None),
        ("not a url", None),
        ("", None),
        (None, None),
    ],
)
def test_domain_from_url(url, domain) -> None:
    assert domain_from_url(url) == domain


def test_domain_from_email_and_hosts() -> None:
    assert domain_from_email("Ann.Lee@Mail.ABC.com.cn") == "abc.com.cn"
    assert domain_from_email("buyer@gmail.com") == "gmail.com"
    assert domain_from_email("no-at-sign") is None
    assert registrable_domain("co.uk") == "co.uk"  # a bare suffix stays what it is
    assert registrable_domain("bücher.de") == "xn--bcher-kva.de"


@pytest.mark.parametrize(
    ("value", "free"),
    [
        ("someone@gmail.com", True),
        ("x@qq.com", True),
        ("x@163.com", True),
        ("x@naver.com", True),
        ("x@hanmail.net", True),
        ("daum.net", True),
        ("x@yahoo.co.jp", True),
        ("buyer@amore.co.kr", False),
        ("buyer@noorcosmetics.ae", False),
        ("", False),
    ],
)
def test_free_mail(value, free) -> None:
    assert is_free_mail(value) is free


def test_name_matches_domain() -> None:
    assert name_matches_domain("Al Noor Cosmetics LLC", "noorcosmetics.ae") is True
    assert name_matches_domain("Gulf Beauty Trading FZE", "gbt.ae") is True  # initials
    assert name_matches_domain("Glow Imports Pty Ltd", "glow-imports.com.au") is True
    assert name_matches_domain("Al Noor Cosmetics LLC", "cheapphones.biz") is False
    assert name_matches_domain("Al Noor Cosmetics LLC", "gmail.com") is None
    assert name_matches_domain("株式会社資生堂", "shiseido.co.jp") is None
