"""Turn a parsed e-mail into the RFQ text the classifier and the dedup read, and into the CLI's JSON.

The buyer's words are data: nothing here interprets them beyond pulling a title, a quantity and a country out with
regular expressions. Text that looks like instructions ("ignore all previous instructions...") is kept verbatim.
"""

from __future__ import annotations

import re
from typing import Any

from rfq_pipeline.ai.labels import RfqText
from rfq_pipeline.intake.mime import ParsedEmail, clean_subject, thread_subject_key
from rfq_pipeline.normalize.rfqs import country_code, country_name

DEFAULT_MAX_DESCRIPTION_CHARS = 8000
DEFAULT_MAX_ATTACHMENT_CHARS = 3000
_MAX_TITLE_CHARS = 200

_GENERIC_SUBJECTS = {
    "", "rfq", "inquiry", "enquiry", "request", "quotation", "quote", "request for quotation", "price inquiry",
    "(no subject)", "no subject", "hello", "hi", "urgent", "urgent rfq", "rfq documents attached", "order",
    "견적", "견적 요청", "문의", "見積", "見積依頼", "お問い合わせ", "询价", "询盘", "报价",
}
_GREETING = re.compile(
    r"^(?:dear\b.*|hi\b.*|hello\b.*|good (?:morning|afternoon|day)\b.*|greetings\b.*|to whom it may concern.*|"
    r"안녕하세요.*|.*님,?|お世話になっております.*|ご担当者様.*|.*様|您好.*|你好.*|尊敬的.*|fyi\b.*)$",
    re.I,
)
_QUANTITY_LABEL = re.compile(
    r"(?:^|\n)\s*[-*•]?\s*(?:order\s+)?(?:quantity|qty|moq|volume|amount|수량|주문\s*수량|数量|數量|発注数|采购量)"
    r"\s*(?:required|needed|wanted)?\s*(?:[:：=\-|]|\t)\s*(?P<value>[^\n]{1,80})",
    re.I,
)
_UNITS = (
    r"pcs|pieces?|units?|bottles?|jars?|tubes?|boxes|box|cartons?|cases?|sets?|pairs?|packs?|bags?|sachets?|bars?|"
    r"rolls?|dozens?|kgs?|kilograms?|tons?|tonnes?|mt|lbs?|liters?|litres?|gallons?|containers?|fcl|pallets?|"
    r"sheets?|개|병|박스|톤|本|個|枚|箱|瓶|支|件|吨|套"
)
_QUANTITY_PHRASE = re.compile(rf"(?<![A-Za-z\d.,])(?P<value>\d[\d,.]*\s*(?:k\s*)?(?:{_UNITS}))(?![A-Za-z])", re.I)
_COUNTRY_LABEL = re.compile(
    r"(?:^|\n)\s*[-*•]?\s*(?:destination(?:\s+(?:country|port|market))?|country(?:\s+of\s+destination)?|ship(?:ping)?\s+to|"
    r"deliver(?:y)?\s+to|import(?:ing)?\s+country|목적지|도착국|국가|仕向地|仕向国|目的地|目的国|国家)"
    r"\s*(?:[:：=\-|]|\t)\s*(?P<value>[^\n;]{2,60})",
    re.I,
)
# Destination names written in the buyers' own languages that pycountry does not know.
_LOCAL_COUNTRY_NAMES = {
    "한국": "KR", "대한민국": "KR", "미국": "US", "일본": "JP", "중국": "CN", "베트남": "VN", "태국": "TH",
    "日本": "JP", "中国": "CN", "韓国": "KR", "韩国": "KR", "美国": "US", "米国": "US", "台湾": "TW", "香港": "HK",
    "ベトナム": "VN", "越南": "VN", "タイ": "TH", "泰国": "TH",
}


_SUBJECT_LABEL = re.compile(
    r"^(?:rfq|inquiry|enquiry|request for quotation|견적\s*요청|見積依頼|询价)\s*[:：\-]\s*", re.I
)


def _first_meaningful_line(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip(" \t-*•>")
        if len(stripped) < 4 or _GREETING.match(stripped):
            continue
        return stripped
    return ""


def rfq_title(parsed: ParsedEmail) -> str:
    """The cleaned subject, or the first meaningful line of the text when the subject says nothing specific."""
    subject = clean_subject(parsed.subject)
    subject = _SUBJECT_LABEL.sub("", subject).strip()
    if subject.casefold() not in _GENERIC_SUBJECTS:
        return subject[:_MAX_TITLE_CHARS]
    line = _first_meaningful_line(parsed.new_text)
    if not line:
        line = next((_first_meaningful_line(a.text) for a in parsed.attachments if a.text), "")
    return (line or subject or "(no subject)")[:_MAX_TITLE_CHARS]


def rfq_description(
    parsed: ParsedEmail,
    *,
    max_chars: int = DEFAULT_MAX_DESCRIPTION_CHARS,
    max_attachment_chars: int = DEFAULT_MAX_ATTACHMENT_CHARS,
) -> str:
    """The new text followed by each attachment's extracted text (each bounded), cut at ``max_chars``."""
    parts = [parsed.new_text.strip()] if parsed.new_text.strip() else []
    for attachment in parsed.attachments:
        if attachment.text and attachment.text.strip():
            text = attachment.text.strip()
            if len(text) > max_attachment_chars:
                text = text[:max_attachment_chars].rstrip() + " …"
            parts.append(f"[Attachment: {attachment.name}]\n{text}")
    description = "\n\n".join(parts)
    if len(description) > max_chars:
        description = description[:max_chars].rstrip() + " …"
    return description


def find_quantity(text: str) -> str:
    """A stated quantity: labelled (``Quantity:``, ``Qty``, ``MOQ``, ``수량``, ``数量``) or ``<number> <unit>``."""
    labelled = _QUANTITY_LABEL.search(text)
    if labelled:
        value = labelled.group("value").strip(" .;,")
        if re.search(r"\d", value):
            return value
    phrase = _QUANTITY_PHRASE.search(text)
    return phrase.group("value").strip() if phrase else ""


def find_country(text: str) -> str:
    """The destination country when the text states one (``Destination: ...``, ``Country: ...``, ``목적지: ...``).

    Returned as the common English name when it is recognizable, otherwise as written.
    """
    match = _COUNTRY_LABEL.search(text)
    if not match:
        return ""
    value = match.group("value").strip(" .,")
    code = _LOCAL_COUNTRY_NAMES.get(value) or country_code(value)
    if code is None:
        # "CIF Rotterdam, Netherlands", "Spain (Madrid)": try the words after the last comma or before a bracket
        for candidate in (value.split(",")[-1], value.split("(")[0]):
            code = _LOCAL_COUNTRY_NAMES.get(candidate.strip()) or country_code(candidate.strip())
            if code:
                break
    return (country_name(code) or value) if code else value


def rfq_from_email(
    parsed: ParsedEmail,
    *,
    rfq_id: str | None = None,
    max_description_chars: int = DEFAULT_MAX_DESCRIPTION_CHARS,
) -> RfqText:
    """The classifier's view of an e-mailed RFQ; ``rfq_id`` defaults to the Message-ID."""
    description = rfq_description(parsed, max_chars=max_description_chars)
    searchable = "\n".join([parsed.subject, description])
    return RfqText(
        id=rfq_id or parsed.message_id,
        title=rfq_title(parsed),
        description=description,
        quantity=find_quantity(searchable),
        country=find_country(searchable),
    )


def _marketplace(parsed: ParsedEmail) -> str | None:
    """The marketplace whose notification this is (by the sender's domain, the forwarded sender first)."""
    from rfq_pipeline.sources.registry import marketplace_for_sender

    return marketplace_for_sender(parsed.forwarded_from, parsed.from_address)


def to_json(parsed: ParsedEmail) -> dict[str, Any]:
    """The CLI's JSON: ``message_id, from, to, subject, date, new_text, thread_keys, attachments, error`` and extras.

    Attachments are listed without their bytes.
    """
    rfq = rfq_from_email(parsed)
    return {
        "message_id": parsed.message_id,
        "from": parsed.from_,
        "to": list(parsed.to),
        "subject": parsed.subject,
        "date": parsed.date,
        "new_text": parsed.new_text,
        "thread_keys": list(parsed.thread_keys),
        "attachments": [a.as_dict() for a in parsed.attachments],
        "error": parsed.error,
        "message_id_derived": parsed.message_id_derived,
        "from_address": parsed.from_address,
        "cc": list(parsed.cc),
        "forwarded_from": parsed.forwarded_from,
        "marketplace": _marketplace(parsed),
        "signature": parsed.signature,
        "thread_subject_key": thread_subject_key(parsed.subject),
        "body_source": parsed.body_source,
        "size": parsed.size,
        "sha256": parsed.sha256,
        "warnings": list(parsed.warnings),
        "rfq": {"title": rfq.title, "description": rfq.description, "quantity": rfq.quantity, "country": rfq.country},
    }
