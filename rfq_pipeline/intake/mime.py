"""Parse one raw e-mail (an SES inbound object, an uploaded ``.eml``) into what the RFQ intake needs.

:func:`parse_email` never raises for bad input and never returns silent garbage: a message it cannot read, or can
read only in part (a multipart cut off before its closing boundary, a body whose base64 is invalid), comes back with
``error`` saying why; whatever could still be read is kept beside it. Smaller oddities (a mislabelled charset, an
unparseable date, replaced bytes) are listed in ``warnings``.

``new_text`` is what the sender wrote in this message: the quoted history of a reply and the signature are cut
(``signature`` keeps the latter), while a forwarded message's text counts as new content and its sender is recorded in
``forwarded_from``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import email
import email.errors
import email.header
import email.parser
import email.policy
import email.utils
import hashlib
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC
from email.message import Message

from selectolax.lexbor import LexborHTMLParser

from rfq_pipeline.intake.documents import DEFAULT_MAX_BYTES, codec_name, decode_bytes, extract_text

DEFAULT_MAX_MESSAGE_BYTES = 40 * 1024 * 1024
DEFAULT_MAX_ATTACHMENT_BYTES = DEFAULT_MAX_BYTES
_MAX_DEPTH = 12  # nested multiparts / forwarded messages
# Private-use characters marking breaks while HTML text is flattened: a block edge (runs collapse to one line
# break), a paragraph edge (a blank line) and a <br> (each one a line break).
_BLOCK, _PARA, _BR = "\ue000", "\ue001", "\ue002"
_DERIVED_ID_DOMAIN = "derived.rfq-pipeline.invalid"
_KNOWN_HEADERS = ("from", "to", "cc", "subject", "date", "message-id", "received", "mime-version", "content-type",
                  "return-path", "reply-to", "sender", "in-reply-to", "references", "delivered-to")


@dataclass(frozen=True)
class Attachment:
    """One attachment. ``data`` (the decoded bytes) is kept for storing the file but left out of ``as_dict``."""

    name: str
    content_type: str
    size: int
    sha256: str
    kind: str
    text: str | None = None
    error: str | None = None
    pages: int | None = None
    inline: bool = False
    data: bytes = field(default=b"", repr=False, compare=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "kind": self.kind,
            "text": self.text,
            "error": self.error,
            "pages": self.pages,
            "inline": self.inline,
        }


@dataclass(frozen=True)
class ParsedEmail:
    """One parsed message. ``date`` is ISO 8601 in UTC; ``thread_keys`` are ``<message-id>`` strings."""

    message_id: str
    from_: str = ""
    from_address: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    reply_to: str = ""
    subject: str = ""
    date: str | None = None
    new_text: str = ""
    full_text: str = ""
    signature: str = ""
    thread_keys: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    forwarded_from: str | None = None
    message_id_derived: bool = False
    body_source: str = "none"  # "text/plain" | "text/html" | "none"
    size: int = 0
    sha256: str = ""
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


# --------------------------------------------------------------------------------------------------- subjects


_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|vs|antw|tr|rv|rif|r|enc|res|odp|转发|轉寄|转寄|回复|回覆|答复|答覆|답장|회신|전달|返信|転送)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.I,
)


def clean_subject(subject: str | None) -> str:
    """The subject without reply/forward prefixes (``Re:``, ``Fwd:``, ``AW:``, ``RE：``, ``回复:``, ``답장:``...)."""
    if not subject:
        return ""
    text = " ".join(subject.split())
    previous = None
    while previous != text:
        previous = text
        text = _SUBJECT_PREFIX.sub("", text).strip()
        text = re.sub(r"^\[(?:fwd?|re)\s*:?\s*(.*)\]$", r"\1", text, flags=re.I).strip()  # "[Fwd: ...]"
    return text


def thread_subject_key(subject: str | None) -> str:
    """A key for subject-based thread matching: prefixes stripped, NFKC, whitespace collapsed, case-folded."""
    return clean_subject(unicodedata.normalize("NFKC", subject or "")).casefold()


def _is_forward_subject(subject: str) -> bool:
    prefix = r"^\s*(?:fw|fwd|wg|tr|rv|enc|转发|轉寄|转寄|전달|転送)\s*[:：]"
    return bool(re.match(prefix, unicodedata.normalize("NFKC", subject), re.I))


# --------------------------------------------------------------------------------------------------- reply text

_ATTRIBUTION = [
    re.compile(p, re.I)
    for p in (
        r"^(?:on|am|le|el|il|em|op|den|dnia)\s.{0,300}"
        r"(?:wrote|schrieb|a écrit|escribió|ha scritto|escreveu|schreef|skrev|napisał)\s*:\s*$",
        r"^.{0,300}[@\d].{0,300}\s(?:wrote|schrieb|a écrit|escribió):\s*$",
        r"^(?:am|op)\s.{0,200}\s(?:schrieb|schreef)\s.{0,200}[:：]\s*$",  # German/Dutch: "Am <date> schrieb <name>:"
        r"^.{0,300}님이\s*작성(?:한\s*글|했습니다)?\s*[:：]?\s*$",
        r"^.{0,300}のメッセージ\s*[:：]\s*$",
        r"^.{0,300}(?:は|が)書きました\s*[:：]\s*$",
        r"^\d{4}\s*[年/.-].{0,200}<[^<>\s]+@[^<>\s]+>\s*[:：]\s*$",  # Gmail in Japanese/Chinese: date, name <addr>:
        r"^.{0,300}(?:写道|寫道|wrote)\s*[:：]\s*$",
        r"^\s*-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|원본 메시지|"
        r"元のメッセージ|原始邮件|原始郵件|原邮件)\s*-{2,}\s*$",
    )
]
_FORWARD_MARKER = re.compile(
    r"^\s*(?:-{2,}\s*(?:forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado|전달된 메시지|"
    r"転送されたメッセージ|転送メッセージ|转发的邮件|轉寄的郵件|original message)\s*-{2,}|begin forwarded message\s*:|"
    r"-{2,}\s*forwarded by .{0,100})\s*$",
    re.I,
)
_HEADER_LINE = re.compile(
    r"^\s*\*?(from|sent|date|to|cc|subject|보낸 사람|보낸 날짜|받는 사람|참조|제목|差出人|送信日時|宛先|件名|"
    r"发件人|發件人|发送时间|發送時間|收件人|主题|主旨|von|gesendet|an|betreff|de|envoyé|à|objet)\*?\s*[:：]\s*(.*)$",
    re.I,
)
_FROM_NAMES = {"from", "보낸 사람", "差出人", "发件人", "發件人", "von", "de"}
_DATE_NAMES = {"sent", "date", "보낸 날짜", "送信日時", "发送时间", "發送時間", "gesendet", "envoyé"}
_SUBJECT_NAMES = {"subject", "제목", "件名", "主题", "主旨", "betreff", "objet"}
_SIGNATURE_LINE = re.compile(
    r"^\s*(?:sent from my .{1,40}|sent from (?:outlook|mail|yahoo mail|gmail).{0,40}|get outlook for .{1,30}|"
    r"sent via .{1,40}|iphone에서 보냄|갤럭시에서 보냄|samsung galaxy.{0,30}에서 보냄|iphoneから送信|"
    r"发自我的\s*iphone|發自我的\s*iphone|从我的\s*iphone\s*发送|来自我的.{1,20})\s*$",
    re.I,
)
_CLOSING_LINE = re.compile(
    r"^\s*(?:(?:best|kind|warm|warmest|many|with best)\s+regards|regards|best wishes|best|cheers|sincerely|"
    r"yours (?:sincerely|faithfully|truly)|thanks(?: and| &)? (?:best )?regards|thanks|thank you|many thanks|br|"
    r"감사합니다|고맙습니다|감사드립니다|よろしくお願い(?:いた|致)?します|宜しくお願い(?:いた|致)?します|以上、?よろしくお願いします|"
    r"此致|此致敬礼|谢谢|謝謝|祝好|顺祝商祺|mit freundlichen grüßen|cordialement|saludos|atentamente)"
    r"\s*[,.!。！、]*\s*$",
    re.I,
)
_MAX_SIGNATURE_LINES = 10


def _attribution_at(lines: list[str], i: int) -> int:
    """How many lines (1 or 2) an attribution starting at ``lines[i]`` spans; 0 when it is not one."""
    line = lines[i].strip()
    if not line or line.startswith(">"):
        return 0
    if any(p.match(line) for p in _ATTRIBUTION):
        return 1
    # Gmail wraps long attributions: "On Mon, 5 Jan 2026 at 10:00, Jane Doe <\njane@example.com> wrote:"
    if i + 1 < len(lines) and len(line) < 300:
        joined = f"{line} {lines[i + 1].strip()}"
        if any(p.match(joined) for p in _ATTRIBUTION[:-1]):
            return 2
    return 0


def _header_block_at(lines: list[str], i: int) -> tuple[int, dict[str, str]]:
    """An Outlook-style ``From: / Sent: / To: / Subject:`` block starting at ``lines[i]``: (length, fields) or 0."""
    fields: dict[str, str] = {}
    j = i
    while j < len(lines) and j < i + 12:
        match = _HEADER_LINE.match(lines[j])
        if not match:
            if lines[j].strip() == "" and fields:
                break
            if fields and lines[j].startswith((" ", "\t")):  # a folded To: list
                j += 1
                continue
            break
        fields.setdefault(match.group(1).lower(), match.group(2).strip())
        j += 1
    names = set(fields)
    first = _HEADER_LINE.match(lines[i]) if i < len(lines) else None
    if not first or first.group(1).lower() not in _FROM_NAMES | _DATE_NAMES:
        return 0, {}
    sender = _field(fields, _FROM_NAMES)
    # "From: Busan / Date: ASAP" in an RFQ is not a header block: ask for an address or a Subject line as well
    if sender and names & _DATE_NAMES and len(names) >= 3 and ("@" in sender or names & _SUBJECT_NAMES):
        return j - i, fields
    return 0, {}


def _field(fields: dict[str, str], names: set[str]) -> str:
    return next((v for k, v in fields.items() if k in names), "")


def _strip_quote_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.lstrip().startswith(">")]


def _split_signature(lines: list[str]) -> tuple[list[str], list[str]]:
    """Cut a trailing signature: the ``-- `` delimiter, mobile footers, or a closing phrase with a short block."""
    for i, line in enumerate(lines):
        if line.rstrip("\r") in ("-- ", "--") and i > 0:
            return lines[:i], lines[i:]
    for i, line in enumerate(lines):
        if _SIGNATURE_LINE.match(line):
            rest = [x for x in lines[i + 1 :] if x.strip()]
            if len(rest) <= _MAX_SIGNATURE_LINES:
                return lines[:i], lines[i:]
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    for position in range(len(nonblank) - 1, 0, -1):  # the last closing phrase: an earlier "Thanks!" is content
        i = nonblank[position]
        if _CLOSING_LINE.match(lines[i]):
            rest = [lines[k] for k in nonblank[position + 1 :]]
            if len(rest) <= _MAX_SIGNATURE_LINES and all(len(x.strip()) <= 80 for x in rest):
                return lines[:i], lines[i:]
    return lines, []


def _tidy(lines: list[str]) -> str:
    text = "\n".join(line.rstrip() for line in lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


@dataclass(frozen=True)
class ReplyParts:
    """A body split into what was written now, the signature, the quoted history and any forwarded message."""

    new_text: str
    signature: str = ""
    quoted: str = ""
    forwarded_text: str = ""
    forwarded_from: str | None = None


def split_reply(text: str, *, forward: bool = False) -> ReplyParts:
    """Split a plain-text body. ``forward`` (the subject says Fwd/FW) reads an Outlook header block as a forward."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for i in range(len(lines)):
        stripped = lines[i].strip()
        if _FORWARD_MARKER.match(stripped) and not (
            _ATTRIBUTION[-1].match(stripped) and not forward  # "-----Original Message-----" in a reply is history
        ):
            return _forwarded(lines[:i], lines[i + 1 :])
        span = _attribution_at(lines, i)
        if span:
            return _cut(lines[:i], lines[i:])
        if stripped.strip("_") == "" and len(stripped) >= 10 and i + 1 < len(lines):
            nxt = next((k for k in range(i + 1, min(i + 3, len(lines))) if lines[k].strip()), None)
            if nxt is not None and _header_block_at(lines, nxt)[0]:
                if forward:
                    return _forwarded(lines[:i], lines[nxt:])
                return _cut(lines[:i], lines[i:])
        length, _fields = _header_block_at(lines, i) if _HEADER_LINE.match(lines[i]) else (0, {})
        if length:
            if forward:
                return _forwarded(lines[:i], lines[i:])
            return _cut(lines[:i], lines[i:])
    return _cut(lines, [])


def _cut(own: list[str], quoted: list[str]) -> ReplyParts:
    body, signature = _split_signature(_strip_quote_lines(own))
    return ReplyParts(new_text=_tidy(body), signature=_tidy(signature), quoted=_tidy(quoted))


def _forwarded(own: list[str], forwarded: list[str]) -> ReplyParts:
    note = _cut(own, [])
    while forwarded and not forwarded[0].strip():
        forwarded = forwarded[1:]
    fields: dict[str, str] = {}
    if forwarded:
        length, fields = _header_block_at(forwarded, 0)
        if not length:  # "Begin forwarded message:" blocks may start with Subject: or Date:
            k = 0
            while k < len(forwarded) and _HEADER_LINE.match(forwarded[k]):
                match = _HEADER_LINE.match(forwarded[k])
                fields.setdefault(match.group(1).lower(), match.group(2).strip())
                k += 1
            length = k
        forwarded = forwarded[length:]
    inner = split_reply("\n".join(forwarded))
    sender = _field(fields, _FROM_NAMES).strip("* ") or None
    parts = [p for p in (note.new_text, inner.new_text) if p]
    return ReplyParts(
        new_text="\n\n".join(parts),
        signature=note.signature,
        quoted=inner.quoted,
        forwarded_text=inner.new_text,
        forwarded_from=_format_address_text(sender) if sender else None,
    )


def _format_address_text(text: str) -> str:
    text = re.sub(r"\[mailto:([^\]]+)\]", r"<\1>", text)  # Outlook: "Jane Doe [mailto:jane@example.com]"
    name, address = email.utils.parseaddr(text)
    if address and "@" in address:
        return format_address(name, address)
    return text


def format_address(name: str, address: str) -> str:
    """``Name <address>`` in Unicode (``email.utils.formataddr`` would RFC 2047-encode a non-ASCII name)."""
    name = " ".join(name.split())
    if not name:
        return address
    if re.search(r'[()<>@,;:\\".\[\]]', name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


# --------------------------------------------------------------------------------------------------- HTML

_HTML_QUOTES = (
    "div.gmail_quote",
    "div.gmail_quote_container",
    "blockquote[type=cite]",
    "div.moz-cite-prefix",
    "div.yahoo_quoted",
    "div.OutlookMessageHeader",
    "blockquote.gmail_quote",
)
_FORWARD_HINT = re.compile(
    r"forwarded message|begin forwarded|weitergeleitete|전달된 메시지|転送されたメッセージ|転送メッセージ|"
    r"转发的邮件|轉寄的郵件",
    re.I,
)
_HTML_SIGNATURES = ("div.gmail_signature", "div.moz-signature", "div[data-smartmail=gmail_signature]")
_HTML_BLOCKS = "p,div,li,tr,h1,h2,h3,h4,h5,h6,blockquote,pre,table,ul,ol,section,article,header,footer,hr,dt,dd"


def html_to_text(html: str, *, drop_quotes: bool = True) -> str:
    """Readable text of an HTML body: line breaks kept for ``<br>``/``<p>``/``<div>``/``<li>``/rows.

    With ``drop_quotes``, Gmail/Apple/Thunderbird quote containers and the Outlook reply header with everything after
    it are removed (a Gmail forward, which also sits in a quote container, is kept).
    """
    tree = LexborHTMLParser(html)
    for node in tree.css("script,style,head,template,noscript,title"):
        node.decompose()
    if drop_quotes:
        for selector in _HTML_QUOTES:
            for node in tree.css(selector):
                if not _FORWARD_HINT.search(node.text(deep=True, separator=" ")):
                    node.decompose()
        for selector in ("div#divRplyFwdMsg", "div#appendonsend"):
            node = tree.css_first(selector)
            if node is not None:
                sibling = node.next
                while sibling is not None:
                    following = sibling.next
                    sibling.decompose()
                    sibling = following
                node.decompose()
        for selector in _HTML_SIGNATURES:
            for node in tree.css(selector):
                node.decompose()
    for node in tree.css("br"):
        node.insert_after(_BR)
    for node in tree.css(_HTML_BLOCKS):
        marker = _PARA if node.tag in {"p", "table", "ul", "ol", "blockquote", "pre"} else _BLOCK
        node.insert_before(marker)
        node.insert_after(marker)
    for node in tree.css("td,th"):
        node.insert_after(" ")
    root = tree.body or tree.root
    raw = root.text(deep=True, separator="") if root is not None else ""
    raw = re.sub(r"\s+", " ", raw.replace("\u00a0", " "))
    raw = re.sub(f"[ {_BLOCK}{_PARA}]*[{_BLOCK}{_PARA}][ {_BLOCK}{_PARA}]*",
                 lambda m: "\n\n" if _PARA in m.group(0) else "\n", raw)
    lines = [line.strip() for line in raw.replace(_BR, "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --------------------------------------------------------------------------------------------------- headers


def _raw_header(msg: Message, name: str) -> str | None:
    for key, value in msg.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def _redecode_header(raw: str) -> str:
    """Decode a header ourselves (RFC 2047 words with a mislabelled charset, raw 8-bit bytes)."""
    raw = re.sub(r"\r?\n[ \t]+", " ", raw)
    try:
        chunks = email.header.decode_header(raw)
    except (email.errors.HeaderParseError, ValueError):
        return raw
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            chunk = chunk.encode("ascii", "surrogateescape")
        out.append(decode_bytes(chunk, charset)[0])
    return "".join(out).strip()


def _header(msg: Message, name: str, warnings: list[str]) -> str:
    try:
        value = msg.get(name)
        text = "" if value is None else str(value)
    except Exception as exc:  # the default policy's header classes raise on some malformed values
        warnings.append(f"{name} header unparseable ({type(exc).__name__}); decoded raw")
        raw = _raw_header(msg, name.lower())
        return _redecode_header(raw) if raw else ""
    if "\ufffd" in text or re.search(r"[\udc80-\udcff]", text):
        raw = _raw_header(msg, name.lower())
        if raw:
            redecoded = _redecode_header(raw)
            if redecoded.count("\ufffd") < text.count("\ufffd") or re.search(r"[\udc80-\udcff]", text):
                warnings.append(f"{name} header re-decoded (mislabelled or undeclared charset)")
                text = redecoded
    return " ".join(text.split())


def _addresses(msg: Message, name: str, warnings: list[str]) -> list[str]:
    raw = _raw_header(msg, name)
    if not raw:
        return []
    raw = re.sub(r"\r?\n[ \t]+", " ", raw)
    out: list[str] = []
    for display, address in email.utils.getaddresses([raw]):
        if not address and not display:
            continue
        display = _redecode_header(display) if display else ""
        if address and "@" not in address:
            warnings.append(f"{name} address {address!r} has no domain")
        out.append(format_address(display, address) if address else display)
    return out


def _normalize_id(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    match = re.search(r"<([^<>\s]+)>", value)
    if match:
        return f"<{match.group(1)}>"
    token = value.split()[0].strip("<>")
    return f"<{token}>" if "@" in token else None


def _thread_keys(msg: Message) -> list[str]:
    keys: list[str] = []
    for name in ("in-reply-to", "references"):
        raw = _raw_header(msg, name)
        if not raw:
            continue
        found = re.findall(r"<[^<>\s]+>", raw)
        if not found:
            normalized = _normalize_id(raw)
            found = [normalized] if normalized else []
        for key in found:
            if key not in keys:
                keys.append(key)
    return keys


def _iso_date(raw: str | None, warnings: list[str]) -> str | None:
    if not raw:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(" ".join(raw.split()))
    except (TypeError, ValueError, IndexError):
        warnings.append(f"unparseable Date header {raw[:80]!r}")
        return None
    if parsed.tzinfo is None:  # "-0000": time zone unknown; RFC 5322 says treat it as UTC
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------------- bodies


@dataclass
class _Walk:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    forwards: list[tuple[str, str]] = field(default_factory=list)  # (sender, text) of message/rfc822 parts
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


_DATA_LOSS_DEFECTS = {
    "CloseBoundaryNotFoundDefect": "truncated multipart: closing boundary not found",
    "StartBoundaryNotFoundDefect": "broken multipart: start boundary not found",
    "NoBoundaryInMultipartDefect": "broken multipart: no boundary parameter",
    "MultipartInvariantViolationDefect": "broken multipart: content is not multipart",
    "InvalidBase64CharactersDefect": "invalid base64: characters outside the alphabet",
    "InvalidBase64PaddingDefect": "invalid base64: bad padding",
    "InvalidBase64LengthDefect": "invalid base64: impossible length",
}


def _defect_messages(part: Message) -> list[str]:
    out = []
    for defect in getattr(part, "defects", []):
        reason = _DATA_LOSS_DEFECTS.get(type(defect).__name__)
        if reason and reason not in out:
            out.append(reason)
    return out


def _lenient_base64(part: Message) -> bytes:
    """Decode what can be decoded of invalid base64: drop characters outside the alphabet and a ragged tail."""
    raw = part.get_payload()
    text = raw if isinstance(raw, str) else ""
    alphabet = re.sub(r"[^A-Za-z0-9+/]", "", text)
    alphabet = alphabet[: len(alphabet) - len(alphabet) % 4]
    try:
        return base64.b64decode(alphabet)
    except (binascii.Error, ValueError):
        return b""


def _decode_part(part: Message) -> bytes:
    if part.get("content-transfer-encoding", "").strip().lower() == "base64":
        payload = part.get_payload(decode=True)
        if any(type(d).__name__ == "InvalidBase64LengthDefect" for d in part.defects):
            return _lenient_base64(part)  # the stdlib hands back the undecoded base64 text in this case
        return payload if isinstance(payload, bytes) else b""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # pragma: no cover - get_payload(decode=True) is lenient; keep it that way for odd inputs
        payload = None
    if payload is None:
        raw = part.get_payload()
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return payload


def _part_text(part: Message, walk: _Walk) -> str:
    payload = _decode_part(part)
    defects = _defect_messages(part)
    walk.errors.extend(d for d in defects if d not in walk.errors)
    declared = part.get_content_charset()
    text, codec, replaced = decode_bytes(payload, declared)
    if declared and codec not in {codec_name(declared), "utf_8_sig"} and not replaced:
        walk.warnings.append(f"charset declared {declared}, decoded as {codec}")
    if replaced:
        ctype = part.get_content_type()
        walk.warnings.append(f"{replaced} undecodable characters replaced in a {ctype} part ({codec})")
    return text


def _attachment_name(part: Message, index: int) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name:
        name = _redecode_header(name) if ("\ufffd" in name or "=?" in name) else name
        return name.replace("/", "_").replace("\\", "_").strip() or f"attachment-{index}"
    extension = mimetypes.guess_extension(part.get_content_type()) or ".bin"
    return f"attachment-{index}{extension}"


def _add_attachment(part: Message, walk: _Walk, max_attachment_bytes: int) -> None:
    index = len(walk.attachments) + 1
    name = _attachment_name(part, index)
    content_type = part.get_content_type()
    data = _decode_part(part)
    defects = _defect_messages(part)
    digest = hashlib.sha256(data).hexdigest()
    inline = part.get_content_disposition() == "inline"
    if defects:
        walk.warnings.append(f"attachment {name!r}: {'; '.join(defects)}")
        attachment = Attachment(name, content_type, len(data), digest, "unknown", None, "; ".join(defects),
                                inline=inline, data=data)
    elif len(data) > max_attachment_bytes:
        attachment = Attachment(name, content_type, len(data), digest, "unknown", None,
                                f"too large: {len(data)} bytes (limit {max_attachment_bytes})", inline=inline,
                                data=data)
    else:
        doc = extract_text(data, name, content_type, max_bytes=max_attachment_bytes)
        attachment = Attachment(name, content_type, len(data), digest, doc.kind, doc.text, doc.error, doc.pages,
                                inline=inline, data=data)
    walk.attachments.append(attachment)


def _walk(part: Message, walk: _Walk, max_attachment_bytes: int, depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        walk.errors.append(f"MIME structure nested deeper than {_MAX_DEPTH} levels; rest not read")
        return
    walk.errors.extend(d for d in _defect_messages(part) if d not in walk.errors and "multipart" in d)
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        inner = part.get_payload()
        inner_msg = inner[0] if isinstance(inner, list) and inner else None
        if not isinstance(inner_msg, Message):
            _add_attachment(part, walk, max_attachment_bytes)
            return
        sub = _Walk()
        _walk(inner_msg, sub, max_attachment_bytes, depth + 1)
        sender = ", ".join(_addresses(inner_msg, "from", walk.warnings))
        body = _choose_body(sub, forward=False)[0]
        walk.forwards.append((sender, body))
        walk.attachments.extend(sub.attachments)
        walk.forwards.extend(sub.forwards)
        walk.warnings.extend(sub.warnings)
        walk.errors.extend(e for e in sub.errors if e not in walk.errors)
        return
    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        if ctype == "multipart/alternative" and children:
            subs = []
            for child in children:
                sub = _Walk()
                _walk(child, sub, max_attachment_bytes, depth + 1)
                subs.append(sub)
            chosen = next((s for s in subs if "".join(s.plain).strip()), None) or next(
                (s for s in subs if "".join(s.html).strip()), subs[-1]
            )
            walk.plain.extend(chosen.plain)
            walk.html.extend(chosen.html)
            for sub in subs:
                seen = {a.sha256 for a in walk.attachments}
                walk.attachments.extend(a for a in sub.attachments if a.sha256 not in seen)
                walk.forwards.extend(sub.forwards)
                walk.warnings.extend(sub.warnings)
                walk.errors.extend(e for e in sub.errors if e not in walk.errors)
            return
        for child in children:
            _walk(child, walk, max_attachment_bytes, depth + 1)
        return
    disposition = part.get_content_disposition()
    has_name = bool(part.get_param("filename", header="content-disposition") or part.get_param("name"))
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not has_name:
        text = _part_text(part, walk)
        (walk.plain if ctype == "text/plain" else walk.html).append(text)
        return
    _add_attachment(part, walk, max_attachment_bytes)


def _choose_body(walk: _Walk, *, forward: bool) -> tuple[str, str]:
    plain = "\n\n".join(t.strip("\n") for t in walk.plain if t.strip())
    if plain:
        return plain, "text/plain"
    html = "\n".join(walk.html)
    if html.strip():
        return html_to_text(html, drop_quotes=not forward), "text/html"
    return "", "none"


# --------------------------------------------------------------------------------------------------- entry point


def _looks_binary(raw: bytes) -> bool:
    sample = raw[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))  # 27: ESC of ISO-2022-JP
    return controls / len(sample) > 0.02


def _has_headers(msg: Message) -> bool:
    return any(key.lower() in _KNOWN_HEADERS for key in msg)


def _text(value: str) -> str:
    """A string safe to print and store: raw 8-bit header bytes (surrogate escapes) decoded, or replaced."""
    if not re.search(r"[\ud800-\udfff]", value):
        return value
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")


def _clean(parsed: ParsedEmail) -> ParsedEmail:
    changes: dict[str, object] = {}
    for name in ("message_id", "from_", "from_address", "reply_to", "subject", "new_text", "full_text", "signature",
                 "error"):
        value = getattr(parsed, name)
        if isinstance(value, str) and _text(value) != value:
            changes[name] = _text(value)
    for name in ("to", "cc", "thread_keys", "warnings"):
        values = getattr(parsed, name)
        if any(_text(v) != v for v in values):
            changes[name] = [_text(v) for v in values]
    if parsed.forwarded_from and _text(parsed.forwarded_from) != parsed.forwarded_from:
        changes["forwarded_from"] = _text(parsed.forwarded_from)
    if any(_text(a.name) != a.name or _text(a.content_type) != a.content_type for a in parsed.attachments):
        changes["attachments"] = [
            dataclasses.replace(a, name=_text(a.name), content_type=_text(a.content_type)) for a in parsed.attachments
        ]
    return dataclasses.replace(parsed, **changes) if changes else parsed


def _derived_id(raw: bytes) -> str:
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@{_DERIVED_ID_DOMAIN}>"


def parse_email(
    raw: bytes,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
) -> ParsedEmail:
    """Parse a raw RFC 5322 message. Never raises for bad input; see the module docstring for ``error``."""
    try:
        return _clean(_parse(raw, max_message_bytes, max_attachment_bytes))
    except Exception as exc:  # a bug or an input no branch foresaw: report it as this message's error
        data = bytes(raw or b"")
        return ParsedEmail(
            message_id=_derived_id(data),
            message_id_derived=True,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            error=f"unparseable message: {type(exc).__name__}: {exc}"[:300],
        )


def _parse(raw: bytes, max_message_bytes: int, max_attachment_bytes: int) -> ParsedEmail:
    raw = bytes(raw or b"")
    digest = hashlib.sha256(raw).hexdigest()
    base = {"size": len(raw), "sha256": digest}
    if not raw.strip():
        return ParsedEmail(message_id=_derived_id(raw), message_id_derived=True, error="empty message", **base)
    if _looks_binary(raw[:8192]):
        return ParsedEmail(
            message_id=_derived_id(raw), message_id_derived=True, error="binary data, not an e-mail message", **base
        )
    too_large = len(raw) > max_message_bytes
    try:
        if too_large:  # read the headers only, so the message can still be identified and answered
            msg = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(raw[:256 * 1024])
        else:
            msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the parser is lenient; this guards against the unexpected
        return ParsedEmail(
            message_id=_derived_id(raw), message_id_derived=True, error=f"unparseable message: {exc}"[:300], **base
        )
    if not _has_headers(msg):
        return ParsedEmail(
            message_id=_derived_id(raw),
            message_id_derived=True,
            error="no headers: not an e-mail message (no From, Date, Subject or Message-ID)",
            **base,
        )

    warnings: list[str] = []
    message_id = _normalize_id(_raw_header(msg, "message-id") or "")
    derived = message_id is None
    if derived:
        message_id = _derived_id(raw)
        warnings.append("no Message-ID header; derived one from the SHA-256 of the raw message")
    from_list = _addresses(msg, "from", warnings)
    subject = _header(msg, "subject", warnings)
    common = {
        "message_id": message_id,
        "message_id_derived": derived,
        "from_": from_list[0] if from_list else "",
        "from_address": (email.utils.parseaddr(from_list[0])[1].lower() if from_list else ""),
        "to": _addresses(msg, "to", warnings),
        "cc": _addresses(msg, "cc", warnings),
        "reply_to": ", ".join(_addresses(msg, "reply-to", warnings)),
        "subject": subject,
        "date": _iso_date(_raw_header(msg, "date"), warnings),
        "thread_keys": _thread_keys(msg),
        **base,
    }
    if too_large:
        return ParsedEmail(
            **common,
            warnings=warnings,
            error=f"message too large: {len(raw)} bytes (limit {max_message_bytes}); headers read, body not",
        )

    walk = _Walk()
    try:
        _walk(msg, walk, max_attachment_bytes)
    except Exception as exc:  # a structure the walker does not expect; keep the headers, say so
        walk.errors.append(f"unreadable MIME structure: {type(exc).__name__}: {exc}"[:300])
    forward = _is_forward_subject(subject)
    body, source = _choose_body(walk, forward=forward)
    parts = split_reply(body, forward=forward) if body else ReplyParts(new_text="")
    new_text = parts.new_text
    forwarded_from = parts.forwarded_from
    for sender, text in walk.forwards:  # forwarded as message/rfc822 attachments
        inner = split_reply(text)
        if inner.new_text:
            new_text = f"{new_text}\n\n{inner.new_text}".strip()
        forwarded_from = forwarded_from or sender or None
    return ParsedEmail(
        **common,
        new_text=new_text,
        full_text=body.strip(),
        signature=parts.signature,
        attachments=walk.attachments,
        forwarded_from=forwarded_from,
        body_source=source,
        warnings=warnings + walk.warnings,
        error="; ".join(walk.errors) or None,
    )
