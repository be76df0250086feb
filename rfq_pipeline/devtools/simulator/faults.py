"""Faults the simulator can inject, and the pages real sites send in those situations.

The anti-bot pages follow the public structure of the vendors' pages (Cloudflare's managed-challenge interstitial,
AWS WAF's JavaScript challenge, Alibaba's x5sec slider "punish" page) with made-up tokens.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

FAULT_KINDS = (
    "429",
    "500",
    "503",
    "timeout",
    "challenge_cloudflare",
    "challenge_awswaf",
    "captcha_alibaba",
    "login",
    "truncated",
    "drift",
)
DEFAULT_TIMEOUT_DELAY = 5.0  # a "timeout" fault set without a delay still has to outlast a short client timeout
TRUNCATE_AT = 0.6


@dataclass
class Fault:
    """A fault armed for the next ``remaining`` requests of one source."""

    source: str
    kind: str
    remaining: int
    retry_after: int = 1
    delay: float = 0.0


@dataclass(frozen=True)
class Reply:
    """A complete HTTP answer."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "text/html; charset=utf-8"


def _token(seed: str, length: int = 32) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def error_page(status: int, retry_after: int | None = None) -> Reply:
    """A plain nginx-style error page for 429/500/503."""
    reason = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Temporarily Unavailable"}[status]
    body = (
        f"<!DOCTYPE html>\n<html>\n<head><title>{status} {reason}</title></head>\n<body>\n"
        f"<center><h1>{status} {reason}</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
    )
    headers = (("Retry-After", str(retry_after)),) if retry_after is not None else ()
    return Reply(status, body.encode(), headers)


def cloudflare_challenge(path: str) -> Reply:
    """Cloudflare's managed challenge: 403, ``cf-mitigated: challenge`` and the "Just a moment..." page."""
    ray = _token("ray" + path, 16)
    body = f"""<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><meta http-equiv="X-UA-Compatible" content="IE=Edge">
<meta name="robots" content="noindex,nofollow"><meta name="viewport" content="width=device-width,initial-scale=1">
<style>*{{box-sizing:border-box;margin:0;padding:0}}html{{line-height:1.15;color:#313131}}
body{{display:flex;flex-direction:column;height:100vh;min-height:100vh}}
.main-content{{margin:8rem auto;max-width:60rem}}
</style><meta http-equiv="refresh" content="390"></head><body class="no-js"><div class="main-wrapper" role="main">
<div class="main-content"><noscript><div class="h2"><span id="challenge-error-text">Enable JavaScript and cookies to
continue</span></div></noscript></div></div><script>(function(){{window._cf_chl_opt={{cvId: '3',cZone: "simulated",
cType: 'managed',cRay: '{ray}',cH: '{_token("ch" + path, 43)}',cUPMDTk: "{path}?__cf_chl_tk={_token("tk" + path, 40)}",
cFPWv: 'b',cITimeS: '1752123129',cTplV: 5,cTplB: 'cf',fa: "{path}?__cf_chl_f_tk={_token("fa" + path, 40)}",md: '',
mdrd: ''}};var cpo = document.createElement('script');
cpo.src = '/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1?ray={ray}';window._cf_chl_opt.cOgUHash =
location.hash === '' && location.href.indexOf('#') !== -1 ? '#' : location.hash;
document.getElementsByTagName('head')[0].appendChild(cpo);}}());</script></body></html>"""
    headers = (
        ("cf-mitigated", "challenge"),
        ("cf-ray", f"{ray}-FRA"),
        ("Cache-Control", "private, max-age=0, no-store, no-cache, must-revalidate, post-check=0, pre-check=0"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Server", "cloudflare"),
    )
    return Reply(403, body.encode(), headers)


def awswaf_challenge(path: str) -> Reply:
    """AWS WAF's JavaScript challenge: 202 with a page that loads ``challenge.js`` and calls ``AwsWafIntegration``."""
    host = f"{_token('host' + path, 12)}.{_token('edge', 8)}.eu-central-1.token.awswaf.com"
    body = f"""<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title></title>
    <style>
        body {{ font-family: "Arial"; }}
        #loading-state {{ display: flex; height: 100vh; align-items: center; justify-content: center; }}
    </style>
    <script>
        window.awsWafCookieDomainList = [];
        window.gokuProps = {{
            "key": "AQIDAHjcYu/GjX+QlghicBgQ/7bFaQZ+m5FKCMDnO+vTbNg96AH{_token("key" + path, 40)}",
            "iv": "{_token("iv" + path, 24)}",
            "context": "{_token("ctx" + path, 64)}"
        }};
    </script>
    <script src="https://{host}/{_token("t1", 12)}/{_token("t2", 12)}/challenge.js"></script>
</head>
<body>
    <div id="challenge-container"></div>
    <div id="loading-state" role="status">Verifying your connection...</div>
    <script>
        AwsWafIntegration.saveReferrer();
        AwsWafIntegration.checkForceRefresh().then((forceRefresh) => {{
            if (forceRefresh) {{
                AwsWafIntegration.forceRefreshToken().then(() => {{ window.location.reload(true); }});
            }} else {{
                AwsWafIntegration.getToken().then(() => {{ window.location.reload(true); }});
            }}
        }});
    </script>
    <noscript>
        <h1>JavaScript is disabled</h1>
        In order to continue, we need to verify that you're not a robot. This requires JavaScript. Enable JavaScript
        and then reload the page.
    </noscript>
</body>
</html>"""
    headers = (("x-amzn-waf-action", "challenge"), ("Cache-Control", "no-store, max-age=0"))
    return Reply(202, body.encode(), headers)


def alibaba_captcha(path: str) -> Reply:
    """Alibaba's risk-control interception ("punish") page with the slider captcha, served with 200."""
    secdata = _token("x5" + path, 64)
    body = f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,maximum-scale=1,user-scalable=no">
<title>Captcha Interception</title>
<link rel="stylesheet" href="//g.alicdn.com/sd/ncpc/nc.css?t=1752123129">
<script src="//g.alicdn.com/AWSC/AWSC/awsc.js"></script>
</head>
<body>
<div class="wrapper">
  <div class="bannar"><img src="//img.alicdn.com/tfs/TB1Y0P9x7voK1RjSZFwXXciCFXa-600-88.png" alt="Alibaba.com"></div>
  <div class="warnning-text">Sorry, we have detected unusual traffic from your network.</div>
  <div class="captcha-tips">Please slide to verify</div>
  <div id="nocaptcha" class="nc-container">
    <div id="nc_1_wrapper" class="nc_wrapper">
      <div id="nc_1__scale_text" class="scale_text"><span class="nc-lang-cnt">Please slide to verify</span></div>
      <span id="nc_1_n1z" class="nc_iconfont btn_slide">&#xe620;</span>
    </div>
  </div>
</div>
<script>
window._config_ = {{
  "action": "captcha",
  "HOST": "sourcing.alibaba.com",
  "PATH": "{path}",
  "url": "/_____tmd_____/punish",
  "NCTOKENSTR": "{_token("nc" + path, 32)}",
  "SECDATA": "{secdata}",
  "NCAPPKEY": "X82Y__{_token("appkey", 24)}",
  "language": "en"
}};
var nc = new noCaptcha({{renderTo: '#nocaptcha', appkey: window._config_.NCAPPKEY,
  token: window._config_.NCTOKENSTR, callback: function (data) {{
    location.href = '/_____tmd_____/slide?x5secdata={secdata}&slidedata=' + encodeURIComponent(JSON.stringify(data));
  }}}});
</script>
</body>
</html>"""
    return Reply(200, body.encode(), (("bxpunish", "1"),))


def login_wall(source: str, path: str) -> Reply:
    """A sign-in page served instead of content (200), as each site shows it."""
    if source == "alibaba_rfq":
        title, action, brand = "Sign in | Alibaba.com", "https://login.alibaba.com/newlogin/login.do", "Alibaba.com"
        note = "Please sign in to view buying requests."
    else:
        title, action, brand = "Login | go4WorldBusiness", "/user/login", "go4WorldBusiness"
        note = "Please login to view buyer details. New here? Join free to contact buyers."
    body = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
</head>
<body class="login-page">
<div class="login-box">
  <h1>{brand}</h1>
  <p class="login-note">{note}</p>
  <form id="login-form" method="post" action="{action}">
    <input type="hidden" name="return_url" value="{path}">
    <label for="fm-login-id">Email address or member ID</label>
    <input id="fm-login-id" type="text" name="loginId" autocomplete="username">
    <label for="fm-login-password">Password</label>
    <input id="fm-login-password" type="password" name="password" autocomplete="current-password">
    <button type="submit" class="login-submit">Sign in</button>
  </form>
</div>
</body>
</html>"""
    return Reply(200, body.encode())


def truncate(reply: Reply) -> Reply:
    """The same answer with its body cut at 60% of its bytes (sent completely, with a matching Content-Length)."""
    return Reply(reply.status, reply.body[: int(len(reply.body) * TRUNCATE_AT)], reply.headers, reply.content_type)


def redesigned(html: str) -> str:
    """The same page after a redesign that renames every class (hashed names, as CSS-in-JS builds produce).

    Links, texts, JSON-LD and ids stay: what a redesign usually keeps, and what the fallback extractor reads.
    """

    def rename(match: re.Match[str]) -> str:
        quote = match.group(1)
        names = " ".join("sc-" + _token("class" + name, 6) for name in match.group(2).split())
        return f"class={quote}{names}{quote}"

    return re.sub(r"""class=(["'])([^"']*)\1""", rename, html)
