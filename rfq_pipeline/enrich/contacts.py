"""Contacts from page and e-mail text: e-mail addresses, phone numbers, and names with their roles.

Every contact carries its evidence (where it was seen and the matched snippet) and a confidence per field, so a
reviewer can see why the pipeline believes it. Contacts found more than once are merged, keeping every evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# ISO alpha-2 -> country calling code, for the countries buyers and this exporter deal with most.
CALLING_CODES: dict[str, str] = {
    "US": "1", "CA": "1", "GB": "44", "AE": "971", "SA": "966", "QA": "974", "KW": "965", "BH": "973", "OM": "968",
    "EG": "20", "JO": "962", "LB": "961", "IQ": "964", "IR": "98", "TR": "90", "IL": "972", "IN": "91", "PK": "92",
    "BD": "880", "LK": "94", "NP": "977", "CN": "86", "HK": "852", "TW": "886", "MO": "853", "JP": "81", "KR": "82",
    "VN": "84", "TH": "66", "MY": "60", "SG": "65", "ID": "62", "PH": "63", "AU": "61", "NZ": "64", "RU": "7",
    "KZ": "7", "UA": "380", "UZ": "998", "DE": "49", "FR": "33", "IT": "39", "ES": "34", "PT": "351", "NL": "31",
    "BE": "32", "CH": "41", "AT": "43", "PL": "48", "CZ": "420", "SE": "46", "NO": "47", "DK": "45", "FI": "358",
    "IE": "353", "GR": "30", "RO": "40", "HU": "36", "NG": "234", "GH": "233", "KE": "254", "ZA": "27", "MA": "212",
    "DZ": "213", "TN": "216", "ET": "251", "TZ": "255", "BR": "55", "MX": "52", "AR": "54", "CL": "56", "CO": "57",
    "PE": "51",
}
# Calling code -> the country it most likely means (shared codes pick the larger market).
_CODE_COUNTRY: dict[str, str] = {}
for _country, _code in CALLING_CODES.items():
    _CODE_COUNTRY.setdefault(_code, _country)
_CODE_COUNTRY["1"], _CODE_COUNTRY["7"] = "US", "RU"

_EMAIL = re.compile(
    r"(?<![\w.+-])([A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63})@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w-])"
)
# "name [at] domain [dot] com" obfuscation
_OBFUSCATED_EMAIL = re.compile(
    r"\b([A-Za-z0-9._%+-]{1,64})\s*[\[(]\s*at\s*[\])]\s*([A-Za-z0-9-]{1,63}(?:\s*[\[(]\s*dot\s*[\])]\s*[A-Za-z0-9-]{1,63})+)\b",
    re.I,
)
_PHONE = re.compile(r"(?<![\w+])(\+|00)?(\(?\d[\d\s().\-/]{6,20}\d)(?![\w])")
_PHONE_LABEL = re.compile(
    r"\b(?:tel|telephone|phone|mobile|mob|cell|whatsapp|wa|viber|ph|t|m|call(?:\s+(?:me|us))?(?:\s+(?:on|at))?)"
    r"\s*[.:#]?\s*$",
    re.I,
)
_FAX_LABEL = re.compile(r"fax\s*[.:#]?\s*$", re.I)

ROLE_TITLES: tuple[str, ...] = (
    "chief executive officer", "managing director", "general manager", "purchasing manager", "procurement manager",
    "sales manager", "export manager", "import manager", "marketing manager", "product manager", "category manager",
    "operations manager", "business development manager", "head of procurement", "head of purchasing", "buyer",
    "senior buyer", "purchasing officer", "procurement officer", "ceo", "coo", "cfo", "cto", "founder",
    "co-founder", "owner", "director", "president", "vice president", "partner", "manager",
)
_ROLE_ALT = "|".join(re.escape(t) for t in sorted(ROLE_TITLES, key=len, reverse=True))
_NAME = r"(?:(?:Mr|Mrs|Ms|Miss|Dr)\.?[ \t]+)?[A-Z][a-z'’-]+(?:[ \t]+[A-Z][a-z'’-]+){1,3}"
# "John Smith, Purchasing Manager" / "John Smith - CEO" / "John Smith (Buyer)"
_NAME_THEN_ROLE = re.compile(rf"(?P<name>{_NAME})[ \t]*(?:,|-|–|\||\(|/)[ \t]*(?P<role>(?i:{_ROLE_ALT}))\b")
# "Purchasing Manager: John Smith" / "CEO John Smith"
_ROLE_THEN_NAME = re.compile(rf"\b(?P<role>(?i:{_ROLE_ALT}))[ \t]*(?::|-|–)?[ \t]*(?P<name>{_NAME})")
_NOT_NAMES = frozenset({"dear sir", "best regards", "kind regards", "thank you", "united arab", "hong kong"})


@dataclass(frozen=True)
class Evidence:
    """Where a contact field was seen: the page URL or message id and the matched text."""

    source: str
    snippet: str


@dataclass
class Contact:
    """One person or mailbox; each field has a confidence in 0..1 and the evidence that supports it."""

    email: str | None = None
    phone: str | None = None
    name: str | None = None
    role: str | None = None
    phone_country: str | None = None
    confidence: dict[str, float] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)

    def key(self) -> str:
        """What identifies the contact for de-duplication."""
        return self.email or self.phone or (self.name or "").casefold()


def _snippet(text: str, start: int, end: int, pad: int = 40) -> str:
    return " ".join(text[max(0, start - pad) : min(len(text), end + pad)].split())


def normalize_phone(raw: str, country_hint: str | None = None) -> tuple[str, str | None] | None:
    """An E.164-style ``+<digits>`` form of a phone number and the country its calling code means.

    International forms (``+971 50 ...``, ``0086 ...``) keep their code; a national form (``050 123 4567``) needs the
    country hint, and without one the number is refused (``None``) rather than guessed.
    """
    text = raw.strip()
    international = text.startswith("+") or text.startswith("00")
    digits = re.sub(r"\D", "", text)
    if text.startswith("00"):
        digits = digits[2:]
    if international:
        if not 8 <= len(digits) <= 15:
            return None
        for size in (3, 2, 1):
            if digits[:size] in _CODE_COUNTRY:
                return "+" + digits, _CODE_COUNTRY[digits[:size]]
        return "+" + digits, None
    code = CALLING_CODES.get((country_hint or "").upper())
    if code is None:
        return None
    if code == "1" and len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    national = digits[1:] if digits.startswith("0") and code != "39" else digits
    if not 6 <= len(national) <= 12 or len(code + national) > 15:
        return None
    return "+" + code + national, country_hint.upper() if country_hint else None


def extract_contacts(text: str, source: str, *, country_hint: str | None = None) -> list[Contact]:
    """Every e-mail, phone and named role in ``text``, each with evidence from ``source``; de-duplicated."""
    found: list[Contact] = []
    for match in _EMAIL.finditer(text):
        email = match.group(1).rstrip(".").lower()
        found.append(
            Contact(
                email=email,
                confidence={"email": 0.95},
                evidence=[Evidence(source, _snippet(text, match.start(), match.end()))],
            )
        )
    for match in _OBFUSCATED_EMAIL.finditer(text):
        domain = re.sub(r"\s*[\[(]\s*dot\s*[\])]\s*", ".", match.group(2), flags=re.I)
        found.append(
            Contact(
                email=f"{match.group(1)}@{domain}".lower(),
                confidence={"email": 0.8},
                evidence=[Evidence(source, _snippet(text, match.start(), match.end()))],
            )
        )
    for match in _PHONE.finditer(text):
        raw = (match.group(1) or "") + match.group(2)
        before = text[max(0, match.start() - 20) : match.start()]
        if _FAX_LABEL.search(before) or re.fullmatch(r"\d{4}[-/.]\d{2}[-/.]\d{2}", match.group(2).strip()):
            continue  # a fax line or a date, not someone to call
        normalized = normalize_phone(raw, country_hint)
        if normalized is None:
            continue
        labelled = bool(_PHONE_LABEL.search(before))
        if not labelled and not match.group(1):
            continue  # a bare national-format digit run is as likely a quantity or an order number as a phone
        confidence = 0.9 if labelled and match.group(1) else 0.75
        found.append(
            Contact(
                phone=normalized[0],
                phone_country=normalized[1],
                confidence={"phone": confidence},
                evidence=[Evidence(source, _snippet(text, match.start(), match.end()))],
            )
        )
    for pattern, confidence in ((_NAME_THEN_ROLE, 0.8), (_ROLE_THEN_NAME, 0.7)):
        for match in pattern.finditer(text):
            name = " ".join(match.group("name").split())
            if name.casefold() in _NOT_NAMES or name.split()[0].casefold() in {r.split()[0] for r in ROLE_TITLES}:
                continue
            found.append(
                Contact(
                    name=name,
                    role=match.group("role").lower(),
                    confidence={"name": confidence, "role": confidence},
                    evidence=[Evidence(source, _snippet(text, match.start(), match.end(), pad=10))],
                )
            )
    return merge_contacts(found)


def merge_contacts(contacts: Iterable[Contact]) -> list[Contact]:
    """De-duplicate by e-mail, phone or name; the merged contact keeps every evidence and the highest confidences."""
    merged: dict[str, Contact] = {}
    for contact in contacts:
        key = contact.key()
        if not key:
            continue
        existing = merged.get(key)
        if existing is None:
            merged[key] = Contact(
                contact.email,
                contact.phone,
                contact.name,
                contact.role,
                contact.phone_country,
                dict(contact.confidence),
                list(contact.evidence),
            )
            continue
        for attr in ("email", "phone", "name", "role", "phone_country"):
            if getattr(existing, attr) is None and getattr(contact, attr) is not None:
                setattr(existing, attr, getattr(contact, attr))
        for name, value in contact.confidence.items():
            existing.confidence[name] = max(existing.confidence.get(name, 0.0), value)
        for item in contact.evidence:
            if item not in existing.evidence:
                existing.evidence.append(item)
    return list(merged.values())
