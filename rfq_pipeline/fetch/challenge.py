"""Recognise anti-bot and login pages so they are recorded as such instead of being parsed as empty listings.

Marketplaces answer suspicious clients with pages that look like success to a naive client: Cloudflare's
"Just a moment..." interstitial (403/503), AWS WAF's JavaScript challenge (202), Alibaba's slider captcha ("punish"
page, served with 200) and login walls (200). Detection looks at the status, headers and a few stable markers of
each vendor's page; it deliberately ignores markers that also appear on normal pages (Cloudflare injects its
``/cdn-cgi/challenge-platform/scripts/jsd`` beacon into ordinary pages, Alibaba pages mention ``login.alibaba.com``
in their header configuration).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Cloudflare's interstitial pages define this options object; normal pages behind Cloudflare never do.
_CLOUDFLARE_BODY = re.compile(
    r"window\._cf_chl_opt|/cdn-cgi/challenge-platform/h/[a-z]/orchestrate/|<title>\s*Just a moment\.\.\.\s*</title>"
    r"|<title>\s*Attention Required! \| Cloudflare\s*</title>",
    re.IGNORECASE,
)
_AWS_WAF_BODY = re.compile(r"window\.gokuProps|AwsWafIntegration\.|\.awswaf\.com/[^\"']*/(?:challenge|captcha)\.js")
# Alibaba's risk-control ("baxia"/x5sec) interception page and its slider ("nc_1_n1z" is the slider handle).
_ALIBABA_CAPTCHA_BODY = re.compile(
    r"/_____tmd_____/punish|x5secdata|nc_1_n1z|<title>\s*Captcha Interception\s*</title>"
    r"|\bslide to verify\b",
    re.IGNORECASE,
)
_PASSWORD_INPUT = re.compile(r"<input\b[^>]*\btype\s*=\s*[\"']?password\b", re.IGNORECASE)
_LOGIN_TITLE = re.compile(r"<title>[^<]*\b(?:sign\s*in|log\s*in|login)\b[^<]*</title>", re.IGNORECASE)
_LOGIN_FORM = re.compile(
    r"<form\b[^>]*\baction\s*=\s*[\"'][^\"']*(?:login|signin|sign_in|passport)[^\"']*[\"']", re.IGNORECASE
)
_LOGIN_LOCATION = re.compile(r"login|signin|sign_in|passport", re.IGNORECASE)


def detect_challenge(status: int, headers: Mapping[str, str], body: str) -> str | None:
    """Classify a response as an anti-bot or login page.

    Returns ``"cloudflare"``, ``"aws_waf"``, ``"captcha"`` (Alibaba slider captcha / punish page) or ``"login"``,
    or ``None`` for an ordinary page (including ordinary error pages such as a plain 404 or 503).
    Header names are matched case-insensitively.
    """
    h = {k.lower(): v for k, v in headers.items()}

    if h.get("cf-mitigated", "").strip().lower() == "challenge":
        return "cloudflare"
    if "cloudflare" in h.get("server", "").lower() and status in (403, 429, 503) and _CLOUDFLARE_BODY.search(body):
        return "cloudflare"
    if "window._cf_chl_opt" in body:
        return "cloudflare"

    waf_action = h.get("x-amzn-waf-action", "").strip().lower()
    if waf_action in ("challenge", "captcha"):
        return "aws_waf"
    if _AWS_WAF_BODY.search(body) and (status in (202, 405) or "gokuProps" in body):
        return "aws_waf"

    if h.get("bxpunish") or _ALIBABA_CAPTCHA_BODY.search(body):
        return "captcha"

    if status in (301, 302, 303, 307, 308) and _LOGIN_LOCATION.search(h.get("location", "")):
        return "login"
    if status == 401:
        return "login"
    if _PASSWORD_INPUT.search(body) and (_LOGIN_TITLE.search(body) or _LOGIN_FORM.search(body)):
        return "login"
    return None
