"""Anti-bot and login page detection: vendor pages are recognised, real and simulated normal pages are not."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import rfq_pipeline.devtools
from rfq_pipeline.devtools.simulator import faults, go4w_pages
from rfq_pipeline.devtools.simulator.catalog import go4w_leads, go4w_members
from rfq_pipeline.fetch.challenge import detect_challenge

REAL_ALIBABA_PAGE = Path(rfq_pipeline.devtools.__file__).parent / "corpus" / "alibaba_rfq_list_page_2025-07.html"


def _decoded(reply: faults.Reply) -> tuple[int, dict[str, str], str]:
    return reply.status, dict(reply.headers), reply.body.decode()


def test_real_saved_alibaba_page_is_not_a_challenge() -> None:
    html = REAL_ALIBABA_PAGE.read_text(encoding="utf-8")
    # It mentions login.alibaba.com and sign-in tips in its configuration, but has no login form.
    assert "login.alibaba.com" in html
    headers = {"Content-Type": "text/html;charset=UTF-8", "Server": "Tengine"}
    assert detect_challenge(200, headers, html) is None


def test_simulated_normal_pages_are_not_challenges() -> None:
    today = date(2025, 7, 13)
    site = go4w_pages.Go4wSite(go4w_leads(today), go4w_members(today), today)
    pages = [
        site.list_page("food-flavors", 1),  # a category page with a GOLD member card
        site.list_page("peppermint-oil", 1),  # the site search's answer
        go4w_pages.render_no_results("nothing"),
        go4w_pages.render_lead_page(site.leads[0]),
        go4w_pages.render_member_page(site.members[0]),
        go4w_pages.render_not_found("/buylead/view/1/x.html"),
    ]
    for html in pages:
        assert detect_challenge(200, {"Server": "nginx"}, html) is None


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (faults.cloudflare_challenge("/buyers/food-flavors.html"), "cloudflare"),
        (faults.awswaf_challenge("/rfq/rfq_search_list.htm"), "aws_waf"),
        (faults.alibaba_captcha("/rfq/rfq_search_list.htm"), "captcha"),
        (faults.login_wall("alibaba_rfq", "/rfq_detail.htm"), "login"),
        (faults.login_wall("go4worldbusiness", "/buylead/view/1/x.html"), "login"),
    ],
)
def test_vendor_pages_with_their_headers(reply: faults.Reply, kind: str) -> None:
    assert detect_challenge(*_decoded(reply)) == kind


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (faults.cloudflare_challenge("/x"), "cloudflare"),
        (faults.awswaf_challenge("/x"), "aws_waf"),
        (faults.alibaba_captcha("/x"), "captcha"),
        (faults.login_wall("alibaba_rfq", "/x"), "login"),
    ],
)
def test_vendor_pages_by_body_alone(reply: faults.Reply, kind: str) -> None:
    # A proxy or cache may drop the vendor headers; the body still gives the page away.
    assert detect_challenge(reply.status, {}, reply.body.decode()) == kind


def test_headers_alone_and_in_any_case() -> None:
    assert detect_challenge(403, {"CF-Mitigated": "challenge"}, "") == "cloudflare"
    assert detect_challenge(202, {"X-Amzn-Waf-Action": "challenge"}, "") == "aws_waf"
    assert detect_challenge(405, {"x-amzn-waf-action": "captcha"}, "") == "aws_waf"
    assert detect_challenge(200, {"bxpunish": "1"}, "<html></html>") == "captcha"
    assert detect_challenge(302, {"Location": "https://login.alibaba.com/newlogin/icbuLogin.htm"}, "") == "login"
    assert detect_challenge(401, {}, "") == "login"


def test_cloudflare_block_page_with_cloudflare_server() -> None:
    html = "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body></body></html>"
    assert detect_challenge(403, {"server": "cloudflare"}, html) == "cloudflare"


def test_ordinary_pages_behind_cloudflare_are_not_challenges() -> None:
    # Cloudflare injects its bot-management beacon into normal pages; that alone is no challenge.
    html = (
        "<!DOCTYPE html><html><head><title>Food Flavors Buyers</title></head><body><div class='search-results'></div>"
        "<script src='/cdn-cgi/challenge-platform/scripts/jsd/main.js'></script></body></html>"
    )
    assert detect_challenge(200, {"server": "cloudflare", "cf-ray": "8a1b2c3d4e5f-FRA"}, html) is None


def test_plain_error_pages_are_not_challenges() -> None:
    for status in (429, 500, 503):
        assert detect_challenge(*_decoded(faults.error_page(status, retry_after=1))) is None
    assert detect_challenge(404, {}, "<html><body><h1>Not Found</h1></body></html>") is None


def test_a_sign_in_link_is_not_a_login_wall() -> None:
    html = "<html><head><title>Buyers</title></head><body><a href='/user/login'>Sign In</a></body></html>"
    assert detect_challenge(200, {}, html) is None
    newsletter = "<html><head><title>Log in to save searches</title></head><body><form><input type='email'></form>"
    assert detect_challenge(200, {}, newsletter) is None
