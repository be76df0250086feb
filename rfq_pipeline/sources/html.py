"""Helpers every HTML parser shares: the guard that keeps truncated and anti-bot pages out of the parsers."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rfq_pipeline.fetch.challenge import detect_challenge
from rfq_pipeline.sources.model import PageParseError

_TAIL_AFTER_HTML = re.compile(
    r"(?:\s+|<!--.*?-->|<(script|style|noscript)\b[^>]*>.*?</\1\s*>|<img\b[^>]*>|</?(?:body|html)\s*>)*",
    re.IGNORECASE | re.DOTALL,
)


def ensure_whole_page(html: str, *, what: str) -> None:
    """Make sure ``html`` is a whole page of the site, not a cut-off or challenge page.

    Raises :class:`PageParseError` ``truncated`` when the document does not end with ``</html>`` (a dropped
    connection), and ``challenge`` for Cloudflare/AWS WAF/captcha/login pages that arrived with a 200.
    ``what`` names the page in the messages ("buy lead list").
    """
    end = html.lower().rfind("</html>")
    # Some sites print a stray </html> mid-page (TradeKey, at about 116,000 characters): a page cut after it must
    # still read as cut, so what follows the last </html> may only be the tails servers append.
    if end < 0 or not _TAIL_AFTER_HTML.fullmatch(html[end + len("</html>") :]):
        raise PageParseError("truncated", f"{what} page does not end with </html>")
    challenge = detect_challenge(200, {}, html)
    if challenge:
        raise PageParseError("challenge", f"{challenge} page instead of the {what}")


def checked_tree(html: str, *, what: str) -> LexborHTMLParser:
    """Parse ``html`` after :func:`ensure_whole_page`."""
    ensure_whole_page(html, what=what)
    return LexborHTMLParser(html)


def clean_text(text: str | None) -> str:
    """Collapse all whitespace runs to single spaces and strip the ends."""
    return " ".join((text or "").split())


def block_text(node: LexborNode, *, paragraphs: bool = False, keep_blank_lines: bool = False) -> str:
    """Text of a block with line breaks only where the markup puts them.

    Every ``<br>`` breaks a line; with ``paragraphs`` each child element (``<p>``) is a line of its own. Source
    line breaks are plain whitespace in HTML, so all other whitespace collapses. Blank lines are dropped unless
    ``keep_blank_lines`` (templated texts use them to separate sections).
    """
    parts: list[str] = []
    for child in node.iter(include_text=True):
        if child.tag == "br":
            parts.append("\n")
        elif child.tag == "-text":
            parts.append((child.text_content or "").replace("\n", " "))
        else:
            text = (child.text(separator=" ") or "").replace("\n", " ")
            parts.append(f"\n{text}\n" if paragraphs else text)
    lines = [" ".join(line.split()) for line in "".join(parts).split("\n")]
    if keep_blank_lines:
        return "\n".join(lines).strip()
    return "\n".join(line for line in lines if line)


_LABEL_KEY = re.compile(r"[^a-z0-9]+")


def label_key(label: str) -> str:
    """A page's field label as a snake_case key: "Quantity Required :" -> "quantity_required"."""
    return _LABEL_KEY.sub("_", clean_text(label).lower()).strip("_")


def unique_nodes(nodes: list[LexborNode]) -> list[LexborNode]:
    """The nodes once each, in order (a node matched by two selectors of a group comes back twice)."""
    seen: set[int] = set()
    unique = []
    for node in nodes:
        if node.mem_id not in seen:
            seen.add(node.mem_id)
            unique.append(node)
    return unique
