"""Company-name normalization, registrable domains, and free-mail providers.

Names are compared after dropping legal-form suffixes (in many languages and scripts), punctuation and case, so
"ABC Trading L.L.C." and "abc trading llc" meet. Domains are cut to the registrable part with a small built-in
public-suffix table: enough for the countries buyers write from, not a full PSL.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

# Latin-script legal forms, written without dots and lower-cased; multi-word forms are matched as word sequences.
_LEGAL_FORMS: tuple[str, ...] = (
    "private limited company", "public limited company", "limited liability company", "company limited",
    "co ltd", "pvt ltd", "pvt limited", "private limited", "pte ltd", "sdn bhd", "pty ltd", "fze llc",
    "llc", "fze", "fzco", "fzc", "fzllc", "fz llc", "dmcc", "ltd", "limited", "inc", "incorporated", "corp",
    "corporation", "co", "company", "plc", "llp", "lp", "gmbh", "gmbh co kg", "co kg", "kg", "ag", "ug", "ohg",
    "sa", "sas", "sarl", "sàrl", "srl", "spa", "sl", "sab de cv", "sa de cv", "de cv", "bv", "nv", "oy", "ab",
    "as", "asa", "aps", "kft", "sp zoo", "sro", "ooo", "zao", "oao", "pao", "ao", "tov", "ltda", "eireli", "me",
    "jsc", "ojsc", "cjsc", "pjsc", "tbk", "pt", "bhd", "sdn", "pte", "pty", "pvt", "kk", "gk", "yk", "est",
    "establishment", "wll", "w l l", "spc", "saoc", "saog", "lda", "ltée", "ltee", "sti", "as", "a s",
)
_LEGAL_SET = frozenset(_LEGAL_FORMS)
_MAX_FORM_WORDS = max(len(form.split()) for form in _LEGAL_FORMS)
# Legal forms in CJK and Korean scripts, matched as substrings at either end.
_SCRIPT_FORMS: tuple[str, ...] = (
    "股份有限公司", "有限责任公司", "有限責任公司", "有限公司", "株式会社", "有限会社", "合同会社", "（株）", "(株)",
    "㈱", "주식회사", "유한회사", "(주)", "（주）", "㈜", "(유)", "공사", "集团", "集團", "公司",
)
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def normalize_company(name: str | None) -> str:
    """A comparison key for a company name: case-folded, punctuation dropped, legal-form suffixes/prefixes removed.

    >>> normalize_company("ABC Trading Co., Ltd.")
    'abc trading'
    """
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", name).strip()
    changed = True
    while changed:
        changed = False
        for form in _SCRIPT_FORMS:
            normalized_form = unicodedata.normalize("NFKC", form)
            if text.endswith(normalized_form) and len(text) > len(normalized_form):
                text, changed = text[: -len(normalized_form)].strip(), True
            elif text.startswith(normalized_form) and len(text) > len(normalized_form):
                text, changed = text[len(normalized_form) :].strip(), True
    text = text.casefold().replace("&", " and ")
    # "L.L.C." -> "llc", "S.A." -> "sa": join single letters separated by dots before dropping punctuation
    text = re.sub(r"\b(?:\w\.){2,}", lambda m: m.group(0).replace(".", ""), text)
    words = _PUNCT.sub(" ", text).split()
    # strip trailing legal forms (longest first), repeatedly: "Foo Trading Co., Ltd." -> "foo trading"
    while len(words) > 1:
        for size in range(min(_MAX_FORM_WORDS, len(words) - 1), 0, -1):
            if " ".join(words[-size:]) in _LEGAL_SET:
                words = words[:-size]
                while len(words) > 1 and words[-1] in {"and", "und", "et", "y"}:
                    words = words[:-1]  # "GmbH & Co. KG"
                break
        else:
            break
    # a leading "PT" (Indonesia) or "OOO" (Russia) form
    if len(words) > 1 and words[0] in {"pt", "ooo", "tov", "zao", "oao", "pao", "cv"}:
        words = words[1:]
    return " ".join(words)


# Public suffixes with more than one label (or second-level ones) that matter to this business; a full PSL is not
# shipped, so an unknown multi-label suffix falls back to the last two labels.
PUBLIC_SUFFIXES: frozenset[str] = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk",
        "com.au", "net.au", "org.au", "edu.au", "gov.au",
        "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp",
        "co.kr", "or.kr", "ne.kr", "ac.kr", "go.kr",
        "com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn",
        "com.hk", "com.tw", "com.sg", "com.my", "co.id", "co.th", "com.vn", "com.ph", "co.in", "net.in",
        "com.pk", "com.bd", "com.lk", "co.nz",
        "co.ae", "ae", "com.sa", "com.qa", "com.kw", "com.bh", "com.om", "com.eg", "co.il", "com.tr",
        "co.za", "com.ng", "co.ke", "com.gh",
        "com.br", "com.mx", "com.ar", "com.co", "com.pe", "cl",
        "com.ru", "com.ua", "co.uz", "com.kz",
    }
)

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.co.jp", "yahoo.co.in", "yahoo.fr",
        "ymail.com", "rocketmail.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "outlook.com", "live.com",
        "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "mail.com", "gmx.com", "gmx.de", "gmx.net",
        "web.de", "yandex.ru", "yandex.com", "mail.ru", "bk.ru", "inbox.ru", "list.ru", "rambler.ru",
        "protonmail.com", "proton.me", "zoho.com", "tutanota.com", "qq.com", "foxmail.com", "163.com", "126.com",
        "yeah.net", "sina.com", "sina.cn", "sohu.com", "aliyun.com", "139.com", "naver.com", "daum.net",
        "hanmail.net", "kakao.com", "nate.com", "rediffmail.com", "libero.it", "orange.fr", "wanadoo.fr",
        "free.fr", "laposte.net", "t-online.de", "seznam.cz", "wp.pl", "o2.pl", "interia.pl", "bol.com.br",
        "uol.com.br", "terra.com.br", "btinternet.com", "comcast.net", "verizon.net", "att.net", "sbcglobal.net",
    }
)

_HOST_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _clean_host(host: str) -> str | None:
    host = host.strip().rstrip(".").lower()
    if not host:
        return None
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return None
    labels = host.split(".")
    if len(labels) < 2 or not all(_HOST_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        return None
    return host


def registrable_domain(host: str | None) -> str | None:
    """The registrable domain of a host name (``shop.abc.co.uk`` -> ``abc.co.uk``); ``None`` for IPs and junk."""
    if not host:
        return None
    cleaned = _clean_host(host)
    if cleaned is None:
        return None
    labels = cleaned.split(".")
    for size in (3, 2):  # the longest known public suffix wins: "co.uk" before "uk"
        suffix = ".".join(labels[-(size - 1) :]) if size > 1 else ""
        if len(labels) >= size and suffix in PUBLIC_SUFFIXES:
            return ".".join(labels[-size:])
    return ".".join(labels[-2:])


def domain_from_url(url: str | None) -> str | None:
    """The registrable domain of a URL (a bare ``www.abc.com`` is accepted too)."""
    if not url or not url.strip():
        return None
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    return registrable_domain(host)


def domain_from_email(email: str | None) -> str | None:
    """The registrable domain of an e-mail address's host (``a@mail.abc.com.cn`` -> ``abc.com.cn``)."""
    if not email or "@" not in email:
        return None
    return registrable_domain(email.strip().rsplit("@", 1)[1])


def is_free_mail(domain_or_email: str | None) -> bool:
    """True for consumer mailbox providers (gmail, qq, naver, ...), given an address or a domain."""
    if not domain_or_email:
        return False
    value = domain_or_email.strip().lower()
    host = value.rsplit("@", 1)[1] if "@" in value else value
    return host in FREE_MAIL_DOMAINS or (registrable_domain(host) or "") in FREE_MAIL_DOMAINS


def domain_label(domain: str | None) -> str:
    """The distinctive part of a registrable domain (``abc-trading.co.uk`` -> ``abctrading``)."""
    if not domain:
        return ""
    labels = domain.lower().split(".")
    for size in (2, 1):
        if len(labels) > size and ".".join(labels[-size:]) in PUBLIC_SUFFIXES:
            return labels[-size - 1].replace("-", "")
    return labels[0].replace("-", "") if len(labels) > 1 else labels[0]


def name_matches_domain(company: str | None, domain: str | None) -> bool | None:
    """Whether a company name plausibly owns a domain; ``None`` when either side is missing or it is free mail.

    Matches when the domain label contains the name's words joined, or the initials, or any 4+ letter word.
    """
    key = normalize_company(company)
    label = domain_label(domain)
    if not key or not label or is_free_mail(domain):
        return None
    words = re.findall(r"[a-z0-9]+", key)
    if not words:
        return None  # a name in a non-Latin script cannot be compared with an ASCII domain
    joined = "".join(words)
    initials = "".join(w[0] for w in words)
    if joined in label or label in joined:
        return True
    if len(words) > 1 and len(initials) >= 2 and label.startswith(initials):
        return True
    return any(len(w) >= 4 and w in label for w in words if w not in {"trading", "group", "international", "general"})
