"""What one buyer request asks for, read out of an RFQ before any similarity is computed.

Two write-ups of one request share little surface text: a go4WorldBusiness template, an Alibaba keyword title, a
German e-mail. They share the facts: the product and its specification, the amount, the destination and the buyer.
:func:`extract` reads those facts from any source's fields and free text:

- the product: the title without the site's boilerplate ("Wanted :", "[Buying]", "Purchasing Request:" ...), plus
  go4WorldBusiness's ``Product Name`` line;
- specification values by dimension: volume, pack mass, percentages, sizes, counts in a pack, codes (W320, E330),
  and colours, materials, scents and variants from a small lexicon (with the words the e-mails use in Italian,
  German, Portuguese, Spanish, French and Turkish);
- the quantity in a base unit (pieces, kilograms, containers of a stated size), with a container also stated as a
  mass kept as an alternative;
- the destination country, from any language or script (ISO 3166 names in every locale pycountry ships);
- the buyer's identities: pseudonym hashes, company-name keys and e-mail domains;
- flags for a request that says it is a separate, new or repeat order.

Everything here is plain data; :mod:`rfq_pipeline.dedup.pairs` compares two of them.
"""

from __future__ import annotations

import bisect
import gettext
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pycountry

from rfq_pipeline.normalize.rfqs import country_code as english_country_code

ATTRIBUTES_VERSION = "rfq-attributes-1"

# The site's words around a product name, at the start of a title.
_TITLE_BOILERPLATE = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw)\s*:\s*)*"
    r"(?:\[buying\]|wanted\s*:|buying request\s*:|purchasing request\s*:|requirement of|looking for|"
    r"want to buy|we want to buy|buy|need|rfq\s*[-:]|inquiry\s*:|enquiry\s*:|quotation request\s*:|"
    r"request for quotation\s*:|offer request\s*[-–:]|anfrage\s*:|richiesta di offerta\s*[-–:]|cotação\s*[-–:]|"
    r"solicitud de cotización\s*[-–:]|demande de prix\s*[-–:])?\s*",
    re.I,
)
_PRODUCT_NAME_LINE = re.compile(r"product\s*name\s*:\s*([^\n]+)", re.I)
_PSEUDONYM = re.compile(r"\b(?:buyer|contact)-([0-9a-f]{8})\b", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@([\w-]+(?:\.[\w-]+)+)\b")
# Lines that describe the deal, not the product: their numbers and countries are not the request's specification.
_NON_SPEC_LINE = re.compile(
    r"^\s*(?:payment|looking for suppliers|contact|shipping terms|destination|port|delivery|shipment|resa|entrega|"
    r"lieferung|teslim|buyer|company|quantity|qty|order qty|miktar|menge|quantità)\b",
    re.I,
)
_ORDER_FLAG = re.compile(
    r"\b(?:(?:repeat|new|separate|second|another|re-?)\s*(?:new\s+)?(?:order|po|purchase order|lot)|"
    r"separate from (?:po|order|our)|not a change to (?:po|order))\b",
    re.I,
)

_NUMBER = r"\d+(?:[.,]\d+)*"


def fold(text: str | None) -> str:
    """Lower-case text without accents or Arabic diacritics, with single spaces."""
    if not text:
        return ""
    if text.isascii():
        return " ".join(text.casefold().split())
    stripped = unicodedata.normalize("NFKD", text).translate(_COMBINING_MARKS)
    return " ".join(stripped.replace("ı", "i").casefold().split())


class _CombiningMarks(dict[int, str | None]):
    """A ``str.translate`` table that deletes the characters with a combining class (accents, Arabic diacritics) and
    keeps the others: one C pass instead of a Python test per character. Each character is looked up in unicodedata
    the first time it is seen and remembered, up to a bound (a text can hold any of a million code points)."""

    LIMIT = 1 << 16

    def __missing__(self, code: int) -> str | None:
        character = chr(code)
        kept = None if unicodedata.combining(character) else character
        if len(self) < self.LIMIT:
            self[code] = kept
        return kept


_COMBINING_MARKS = _CombiningMarks()


def _might_contain(text: str, *needles: str) -> bool:
    """Whether a case-insensitive pattern that cannot match without one of the lower-case ASCII ``needles`` may
    match ``text``.

    Each regex scan costs a Python-level attempt at every position, and most texts lack the word a pattern needs; a
    substring test skips the scan. It is exact for ASCII text only, where ``re.I`` is plain ASCII case folding; other
    text can match case variants a substring test misses (``İ`` and ``ı`` match ``i``), so it always gets the scan.
    """
    if not text.isascii():
        return True
    lowered = text.lower()
    return any(needle in lowered for needle in needles)


_THOUSANDS = re.compile(r"\d{1,3}([.,]\d{3})+")
_DECIMAL_COMMA = re.compile(r"\d+,\d{1,2}")
_SEPARATORS = re.compile(r"[.,]")


def parse_number(text: str) -> float | None:
    """A number as marketplaces and e-mails write it: ``10,000`` = ``10.000`` = ``10 000`` = 10000; ``0.5`` = 0.5."""
    raw = text.strip().replace("\u00a0", " ").replace(" ", "")
    if _THOUSANDS.fullmatch(raw):
        return float(_SEPARATORS.sub("", raw))
    if _DECIMAL_COMMA.fullmatch(raw):
        return float(raw.replace(",", "."))  # a European decimal comma ("1,5 kg")
    try:
        return float(raw.replace(",", ""))
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------------- quantities

_COUNT_UNITS = (
    "pieces|piece|pcs|pc|units|unit|nos|sets|set|kits|kit|boxes|box|packs|pack|packets|cans|can|jars|jar|bottles|"
    "bottle|rolls|roll|tubes|tube|pairs|pair|cartons|carton|bags|bag|pz|pezzi|stück|stuck|stk|peças|pecas|unidades|"
    "adet|kutu|szt|шт"
)
_MASS_UNITS = {
    "kg": 1.0, "kgs": 1.0, "kilogram": 1.0, "kilograms": 1.0, "kilo": 1.0, "kilos": 1.0,
    "mt": 1000.0, "mts": 1000.0, "metric ton": 1000.0, "metric tons": 1000.0, "ton": 1000.0, "tons": 1000.0,
    "tonne": 1000.0, "tonnes": 1000.0, "tonnen": 1000.0, "ton/tons": 1000.0, "t": 1000.0,
}  # fmt: skip
_MULTIPLIER = {"k": 1_000.0, "lakh": 100_000.0, "lac": 100_000.0, "lakhs": 100_000.0, "million": 1_000_000.0}
_QUANTITY_AMOUNT = re.compile(
    rf"(?P<number>{_NUMBER}(?:\s\d{{3}})*)\s*(?:(?P<mult>k|lakhs?|lac|million)(?![a-z]))?\s*"
    rf"(?P<unit>metric\s+tons?|kilograms?|kilos?|kgs?|mts?|tonnes?|tonnen|tons?|{_COUNT_UNITS})?(?![\w])",
    re.I,
)
_CONTAINER_AMOUNT = re.compile(
    r"(?P<count>\d+)\s*(?:x\s*)?(?P<size>20|40|twenty|forty)\s*(?:'|ft|feet|foot|-foot)?\s*"
    r"(?P<kind>hq|hc|fcl|reefer|container|gp)?",
    re.I,
)
_SPELLED_CONTAINER = re.compile(
    r"(?P<count>\d+|one|two|three)\s+(?P<size>twenty|forty|20|40)\s*-?\s*(?:ft|foot|feet)\s*"
    r"containers?",
    re.I,
)
_CONTAINER_MASS = re.compile(
    rf"(?P<mass>{_NUMBER})\s*(?P<unit>mt|tons?|tonnes?|kgs?)\s*(?:per|/)\s*(?:1\s*x\s*)?(?P<size>20|40)\s*(?:'|ft)",
    re.I,
)
_PARENTHESISED_MASS = re.compile(rf"\(\s*(?P<mass>{_NUMBER})\s*(?P<unit>mt|tons?|tonnes?|kgs?)\b", re.I)
_TEXT_QUANTITY = re.compile(
    rf"(?:quantity|qty|order quantity|order qty|menge|miktar|quantità|quantidade|cantidad|quantité)\s*"
    rf"(?:required)?\s*[:\-]?\s*(?P<amount>{_NUMBER}[^\n.;]*)",
    re.I,
)
_WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "twenty": 20, "forty": 40}
_CONTAINER_MARK = re.compile(r"['′]|ft|foot|feet")
_HYPHENATED_CONTAINER = re.compile(r"(\d+)\s+(twenty|forty)-foot\s+containers?", re.I)
# What every match of _TEXT_QUANTITY contains (lower-case ASCII; "quantità"/"quantité" only occur in other text).
_TEXT_QUANTITY_WORDS = ("quantity", "qty", "menge", "miktar", "quantidade", "cantidad")


@dataclass(frozen=True)
class Quantity:
    """An amount in a base unit: ``count`` (pieces, sets, boxes ...), ``kg``, or ``container_20``/``container_40``."""

    value: float
    unit: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"value": self.value, "unit": self.unit}


def _container_size(word: str) -> str:
    size = _WORD_NUMBERS.get(word.lower())
    return f"container_{size if size else int(word)}"


def parse_amount(text: str | None) -> list[Quantity]:
    """Every reading of a quantity text: ``1 X 20' FCL (16 MT)`` gives 1 container_20 and 16,000 kg."""
    if not text or not text.strip():
        return []
    cleaned = " ".join(text.replace("\u00a0", " ").split())
    found: list[Quantity] = []
    container = _CONTAINER_AMOUNT.search(cleaned)
    if container and (container.group("kind") or _CONTAINER_MARK.search(container.group(0))):
        found.append(Quantity(float(container.group("count")), _container_size(container.group("size"))))
        mass = _PARENTHESISED_MASS.search(cleaned)
        if mass:
            value = parse_number(mass.group("mass"))
            if value is not None:
                found.append(Quantity(value * _MASS_UNITS[mass.group("unit").lower()], "kg"))
        return found
    spelled = _HYPHENATED_CONTAINER.search(cleaned)
    if spelled:
        return [Quantity(float(spelled.group(1)), _container_size(spelled.group(2)))]
    match = _QUANTITY_AMOUNT.search(cleaned)
    if not match:
        return []
    value = parse_number(match.group("number"))
    if value is None:
        return []
    if match.group("mult"):
        value *= _MULTIPLIER[match.group("mult").lower()]
    unit_word = (match.group("unit") or "").lower()
    unit_word = " ".join(unit_word.split())
    if unit_word in _MASS_UNITS:
        return [Quantity(value * _MASS_UNITS[unit_word], "kg")]
    return [Quantity(value, "count")]  # a bare number counts items, as every marketplace's default unit does


def _text_quantity(text: str) -> list[Quantity]:
    if not _might_contain(text, *_TEXT_QUANTITY_WORDS):
        return []
    for match in _TEXT_QUANTITY.finditer(text):
        amounts = parse_amount(match.group("amount"))
        if amounts:
            return amounts
    return []


def _container_equivalents(text: str, amounts: list[Quantity]) -> list[Quantity]:
    """A container count restated as a mass where the post says how much one container holds."""
    extra: list[Quantity] = []
    # Without a container among the amounts no mass is added; the scan is kept for text outside ASCII all the same,
    # where a unit such as "tonſ" (re.I takes "ſ" for "s") raises as it always did.
    has_container = any(amount.unit.startswith("container_") for amount in amounts)
    for per in _CONTAINER_MASS.finditer(text) if has_container or not text.isascii() else ():
        mass = parse_number(per.group("mass"))
        if mass is None:
            continue
        kg = mass * _MASS_UNITS[per.group("unit").lower()]
        for amount in amounts:
            if amount.unit == f"container_{per.group('size')}":
                extra.append(Quantity(amount.value * kg, "kg"))
    if not _might_contain(text, "container"):
        return extra
    for spelled in _SPELLED_CONTAINER.finditer(text):
        count = spelled.group("count").lower()
        number = _WORD_NUMBERS.get(count) or int(count)
        extra.append(Quantity(float(number), _container_size(spelled.group("size"))))
    return extra


# -------------------------------------------------------------------------------------------------- specification

# Unit-bearing values: (dimension, pattern, factor to the dimension's unit).
_SPEC_UNITS: tuple[tuple[str, str, float], ...] = (
    ("volume_ml", r"ml|mls|millilit(?:er|re)s?", 1.0),
    ("volume_ml", r"l|ltr|lit(?:er|re)s?", 1000.0),
    ("volume_ml", r"fl\.?\s?oz|oz", 29.5735),
    ("mass_g", r"g|gm|gms|gr|gram|grams|gramm", 1.0),
    ("percent", r"%", 1.0),
    ("power_w", r"w|watt|watts", 1.0),
    ("battery_mah", r"mah", 1.0),
    ("colour_temp_k", r"k", 1.0),
    ("length_inch", r"inch|inches|in\b|\"", 1.0),
    ("weight_gsm", r"gsm", 1.0),
    ("mesh", r"mesh", 1.0),
    ("molecular_da", r"da|dalton|daltons", 1.0),
    ("spf", r"spf", 1.0),
)
_DIMENSIONS = re.compile(
    rf"(?P<a>{_NUMBER})\s*[x×*]\s*(?P<b>{_NUMBER})(?:\s*[x×*]\s*(?P<c>{_NUMBER}))?\s*(?P<unit>mm|cm|m)\b", re.I
)
_RANGE_MESH = re.compile(r"(?P<range>\d+\s*-\s*\d+)\s*mesh", re.I)
_PERCENT_BEFORE = re.compile(rf"%\s*(?P<number>{_NUMBER})")  # Turkish writes "%99"
_SPF = re.compile(r"\bspf\s*(?P<number>\d+)", re.I)
# "Not after a digit, dot or comma" is asserted behind the first digit, not before it: the same matches, but the
# engine skips to the next digit instead of trying every position (see _ANY_UNIT).
_PACK_COUNT = re.compile(
    r"(?P<number>\d(?<![\d.,]\d)\d?)\s*-?\s*(?:pcs|pc|pieces?|peças|pecas|pezzi|stück|teile|piezas|parça|adet)\b"
    r"(?!\s*(?:cartons?|boxes?)\b)",
    re.I,
)
# Grade and model codes mix letters and digits (W320, E330, DIN18, A60, 1B, 4D); bare numbers are too often amounts.
# A code is a whole run of word characters (the pattern was "\b(?:...)\b" over the text), so the codes of a text are
# its runs this matches whole: a C-speed split instead of a regex attempt at every position.
_CODE_RUN = re.compile(r"(?:[a-z]{1,3}\d{2,4}|\d[abcdefhijnopqrsuvyz])")
_WORD_CHARS = re.compile(r"\w+")
_SPACE = re.compile(r"\s")
# Every numeric value, unit-bearing or code, has a digit; a text without one (most product phrases) skips them all.
_DIGIT = re.compile(r"\d")
# A digit outside 0-9 (Arabic-Indic, Devanagari ...): \d takes it, the units' "not followed by [a-z0-9]" does not.
_OTHER_DIGIT = re.compile(r"[^\D0-9]")
# A number right after a unit that ends in a symbol ("5%3g", '5"3 ml'): see _unit_values.
_DIGIT_AFTER_SYMBOL_UNIT = re.compile(r'[%"]\d')
_NON_CODE_NUMBER = re.compile(r"^(?:19|20)\d\d$")  # years in titles ("2024 New Style")

# Word-valued dimensions; each value is listed with the words that name it in the languages the e-mails use.
_LEXICON: dict[str, dict[str, tuple[str, ...]]] = {
    "colour": {
        "black": ("black", "nero", "nera", "preto", "preta", "negro", "negra", "noir", "noire", "schwarz", "siyah"),
        "white": ("white", "bianco", "bianca", "branco", "branca", "blanco", "blanca", "blanc", "weiss", "weiß",
                  "beyaz"),
        "brown": ("brown", "marrone", "marrom", "marron", "braun", "kahverengi"),
        "pink": ("pink", "rosa", "rose gold"),
        "nude": ("nude",),
        "red": ("red", "rosso", "vermelho", "rojo", "rouge", "rot", "kirmizi"),
        "blue": ("blue", "blu", "azul", "bleu", "blau", "mavi"),
        "green": ("green", "verde", "vert", "grun", "grün", "yesil"),
        "silver": ("silver", "argento", "prata", "plata", "argent", "silber", "gumus"),
        "gold": ("gold", "golden", "oro", "dorata", "dorato", "dourado", "dorado", "dore", "altin"),
        "amber": ("amber", "ambra", "ambar", "ambre", "bernstein"),
        "clear": ("clear", "transparent", "trasparente", "transparente", "seffaf"),
        "frosted": ("frosted", "matte glass"),
        "burgundy": ("burgundy", "bordeaux", "bordo"),
        "grey": ("grey", "gray", "grigio", "cinza", "gris", "grau"),
        "beige": ("beige",),
        "yellow": ("yellow", "giallo", "amarelo", "amarillo", "jaune", "gelb"),
        "purple": ("purple", "viola", "roxo", "morado", "violet", "lila"),
        "french_tip": ("french tip",),
        "warm_white": ("warm white",),
        "cool_white": ("cool white", "daylight"),
    },
    "material": {
        "cotton": ("cotton", "cotone", "algodao", "algodon", "coton", "baumwolle", "pamuk"),
        "canvas": ("canvas", "tela"),
        "pu_leather": ("pu", "similpelle", "faux leather", "vegan leather", "kunstleder", "couro sintetico"),
        "genuine_leather": ("genuine leather", "real leather", "cowhide"),
        "polyester": ("polyester", "poliestere"),
        "nylon": ("nylon",),
        "silicone": ("silicone", "silikon"),
        "glass": ("glass", "vetro", "vidro", "vidrio", "verre", "glas", "cam"),
        "plastic": ("plastic", "pet", "hdpe", "pp", "plastica", "plastico", "kunststoff", "plastik"),
        "aluminium": ("aluminium", "aluminum", "alluminio", "aluminio", "alu", "aluminyum"),
        "tin_plate": ("tinplate", "tin plate"),
        "steel": ("steel", "stainless", "acciaio", "aco", "acero"),
        "wood": ("wood", "wooden", "legno", "madeira", "madera", "bois", "holz", "ahsap"),
        "bamboo": ("bamboo", "bambu", "bambus"),
        "synthetic": ("synthetic", "sintetiche", "sinteticas", "sinteticos", "synthetisch", "sentetik"),
        "natural_hair": ("goat hair", "horse hair", "human hair", "remy"),
    },
    "variant": {
        "marine": ("marine", "fish", "pesce", "peixe", "pescado", "poisson", "fisch", "balik"),
        "bovine": ("bovine", "beef", "cow", "bovino"),
        "porcine": ("porcine", "pork", "pig"),
        "plant": ("vegan collagen", "plant based", "plant-based"),
        "kaolin": ("kaolin",),
        "bentonite": ("bentonite",),
        "rhassoul": ("rhassoul", "ghassoul"),
        "monohydrate": ("monohydrate",),
        "anhydrous": ("anhydrous",),
        "eye": ("eye cream", "eye serum", "under eye"),
        "night": ("night cream", "nigth cream", "night serum"),
        "day": ("day cream",),
        "waterproof": ("waterproof", "water proof", "wasserfest", "impermeabile", "a prova d'agua"),
    },
    "finish": {
        "matte": ("matte", "matt", "opaco", "mate", "fosco"),
        "glossy": ("glossy", "gloss", "high shine", "lucido", "brilho"),
        "satin": ("satin", "satinato"),
        "shimmer": ("shimmer", "metallic", "glitter", "pearl"),
    },
    "processing": {
        "refined": ("refined", "raffinato", "refinado"),
        "unrefined": ("unrefined", "crude", "non raffinato", "nao refinado"),
        "cold_pressed": ("cold pressed", "cold-pressed", "spremuto a freddo", "prensado a frio"),
        "deodorized": ("deodorized", "deodorised"),
        "roasted": ("roasted", "tostato", "torrado"),
        "hydrolyzed": ("hydrolyzed", "hydrolysed"),
    },
    "scent": {
        "unscented": ("unscented", "fragrance free", "fragrance-free", "no fragrance", "without fragrance",
                      "parfumsuz", "senza profumo", "sem perfume", "sin perfume", "sans parfum", "parfumfrei",
                      "unparfumiert", "odourless", "odorless"),
        "fig": ("fig",),
        "cucumber": ("cucumber",),
        "lavender": ("lavender", "lavanda", "lavendel"),
        "rose": ("rose scent", "rose scented", "rose fragrance"),
        "vanilla": ("vanilla", "vaniglia", "baunilha", "vainilla"),
        "coconut": ("coconut scent", "coconut scented"),
        "citrus": ("citrus", "lemon scent", "orange scent"),
        "fresh": ("fresh scent", "fresh fragrance"),
    },
}  # fmt: skip


@lru_cache(maxsize=1)
def _lexicon() -> tuple[re.Pattern[str], dict[str, tuple[tuple[str, str], ...]]]:
    """One pattern for every lexicon word (longest first) and what each folded word names.

    A phrase also names what its own lexicon words name ("cool white" is white too, "rose gold" is gold too), so a
    post that says "cool white" still agrees with one that says "white".
    """
    meaning: dict[str, list[tuple[str, str]]] = {}
    for dimension, values in _LEXICON.items():
        for value, words in values.items():
            for word in words:
                meaning.setdefault(fold(word), []).append((dimension, value))
    for phrase in [w for w in meaning if " " in w or "-" in w]:
        for part in re.split(r"[ -]", phrase):
            meaning[phrase] += [m for m in meaning.get(part, []) if m not in meaning[phrase]]
    pattern = re.compile(rf"(?<![\w-])(?:{_longest_first_trie(meaning)})(?![\w])")
    return pattern, {word: tuple(found) for word, found in meaning.items()}


def _longest_first_trie(words: Iterable[str]) -> str:
    """A regex for the alternation of ``words`` tried longest first, written as a character trie.

    An alternation of ~280 words makes the engine try every word at every position; the trie tries one branch per
    character. It matches what the longest-first alternation matches: at one position the words that fit are
    prefixes of one another, and each optional tail is greedy, so the longest one that fits is tried first and the
    shorter ones only when what follows the pattern rejects it.
    """
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def pattern(node: dict[str, dict]) -> str:
        branches = [re.escape(ch) + pattern(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return pattern(trie)


# One pattern per unit, applied one after another, each removing what it read (the reference semantics).
_UNIT_PATTERNS = tuple(
    (dimension, re.compile(rf"(?<![\w.,])(?P<number>{_NUMBER})\s*(?:{unit})(?![a-z0-9])"), factor)
    for dimension, unit, factor in _SPEC_UNITS
)
# All of them in one pattern: group ``number`` then one group per unit, in _SPEC_UNITS order (group i + 2). The number
# starts with its digit and asserts "not after a word character, dot or comma" behind it: the same numbers as
# _NUMBER behind (?<![\w.,]), but the engine can skip to the next digit instead of trying every position.
_ANY_UNIT = re.compile(
    r"(?P<number>\d(?<![\w.,]\d)\d*(?:[.,]\d+)*)\s*(?:"
    + "|".join(f"(?P<u{i}>{unit})" for i, (_dimension, unit, _factor) in enumerate(_SPEC_UNITS))
    + r")(?![a-z0-9])"
)


def _blank(text: str, matches: Sequence[re.Match[str]]) -> str:
    """``text`` with each of its (non-overlapping, ordered) ``matches`` replaced by one space: ``pattern.sub(" ",
    text)`` for the matches already found, without scanning again."""
    if not matches:
        return text
    parts = []
    start = 0
    for match in matches:
        parts.append(text[start : match.start()])
        start = match.end()
    parts.append(text[start:])
    return " ".join(parts)


def _unit_values(folded: str, add: Callable[[str, str], None]) -> str:
    """Add the unit-bearing values of ``folded`` (volume, mass, percent, power ...) and return it without them.

    The reference semantics are _UNIT_PATTERNS applied in turn, each reading its values and then blanking them out
    before the next one runs. No two unit patterns can match the same text (their units begin differently and a
    number cannot start inside another match), so one pass of _ANY_UNIT finds the same matches, unless a blanked match
    lets a later pattern match where it could not before. That needs a digit right after a match's unit: either one
    outside 0-9, which "not followed by [a-z0-9]" lets through ("5ml٣g"), or one after a unit ending in a symbol
    ("5%3g": blanking "3g" frees "5%"). Texts with either take the reference path.
    """
    if _DIGIT_AFTER_SYMBOL_UNIT.search(folded) or (not folded.isascii() and _OTHER_DIGIT.search(folded)):
        for dimension, pattern, factor in _UNIT_PATTERNS:
            for match in pattern.finditer(folded):
                _add_unit_value(add, dimension, factor, match)
            folded = pattern.sub(" ", folded)
        return folded
    matches = list(_ANY_UNIT.finditer(folded))
    if not matches:
        return folded
    # Values in the order the reference adds them (pattern by pattern), so the dimensions keep their order.
    by_unit: dict[int, list[re.Match[str]]] = {}
    for match in matches:
        by_unit.setdefault(match.lastindex or 0, []).append(match)
    for group in sorted(by_unit):
        dimension, _unit, factor = _SPEC_UNITS[group - 2]
        for match in by_unit[group]:
            _add_unit_value(add, dimension, factor, match)
    return _blank(folded, matches)


def _add_unit_value(add: Callable[[str, str], None], dimension: str, factor: float, match: re.Match[str]) -> None:
    number = parse_number(match.group("number"))
    if number is not None and (dimension != "colour_temp_k" or number >= 1000):  # "5k units" is no colour
        add(dimension, f"{round(number * factor, 1):g}")


def _spec_text(title: str, description: str) -> str:
    """Title and the lines of the description that describe the product (not payment, port or contact)."""
    lines = [line for line in description.splitlines() if not _NON_SPEC_LINE.match(line)]
    return "\n".join([title, *lines])


def specification(title: str, description: str) -> dict[str, frozenset[str]]:
    """Specification values by dimension, e.g. ``{"volume_ml": {"60"}, "colour": {"black"}, "code": {"w320"}}``."""
    return _folded_specification(fold(_spec_text(title or "", description or "")))


# What every match of _PACK_COUNT contains, as fold leaves it.
_PACK_WORDS = ("pc", "piece", "peças", "pecas", "pezzi", "stück", "teile", "piezas", "parça", "adet")


def _folded_specification(folded: str) -> dict[str, frozenset[str]]:
    """:func:`specification` of a text already folded.

    Each step reads its values and blanks them out before the next, as the steps were first written; a step whose
    pattern cannot match is skipped, decided by a substring test. On folded text that test is exact even for the
    case-insensitive patterns: fold leaves no upper case and none of the characters ``re.I`` also takes for an ASCII
    letter (``İ``, ``ı``, ``ſ``, the Kelvin sign).
    """
    values: dict[str, set[str]] = {}

    def add(dimension: str, value: str) -> None:
        values.setdefault(dimension, set()).add(value)

    has_digit = _DIGIT.search(folded) is not None
    if has_digit:
        if "x" in folded or "×" in folded or "*" in folded:
            matches = list(_DIMENSIONS.finditer(folded))
            for match in matches:
                factor = {"mm": 0.1, "cm": 1.0, "m": 100.0}[match.group("unit").lower()]
                parts = [parse_number(match.group(g)) for g in ("a", "b", "c") if match.group(g)]
                if all(p is not None for p in parts):
                    add("size_cm", "x".join(f"{p * factor:g}" for p in parts if p is not None))
            folded = _blank(folded, matches)
        if "mesh" in folded:
            matches = list(_RANGE_MESH.finditer(folded))
            for match in matches:
                add("mesh", _SPACE.sub("", match.group("range")))
            folded = _blank(folded, matches)
        if "%" in folded:
            for match in _PERCENT_BEFORE.finditer(folded):
                number = parse_number(match.group("number"))
                if number is not None:
                    add("percent", f"{number:g}")
        if "spf" in folded:
            for match in _SPF.finditer(folded):
                add("spf", match.group("number"))
        folded = _unit_values(folded, add)
        if any(word in folded for word in _PACK_WORDS):
            matches = list(_PACK_COUNT.finditer(folded))
            for match in matches:
                add("pack_count", str(int(match.group("number"))))
            folded = _blank(folded, matches)
    lexicon, meaning = _lexicon()
    for match in lexicon.finditer(folded):
        for dimension, value in meaning[match.group(0)]:
            add(dimension, value)
    if has_digit:  # a code has a digit, and blanking out values adds none
        for token in _WORD_CHARS.findall(folded):
            # At most 7 characters and not only letters, else _CODE_RUN cannot match: most runs are words.
            candidate = len(token) <= 7 and not token.isalpha()
            if candidate and _CODE_RUN.fullmatch(token) and not _NON_CODE_NUMBER.match(token):
                add("code", token)
    return {dimension: frozenset(found) for dimension, found in values.items()}


_LABELLED_LINE = re.compile(r"^\s*(?P<key>[^\W\d_][^\W\d_ ]*(?: [^\W\d_]+){0,2})\s*:\s*(?P<value>.+)$")
_NOT_A_SPEC_KEY = re.compile(
    r"^(?:payment|looking for|contact|shipping|destination|port|delivery|shipment|quantity|qty|buyer|company|"
    r"purpose|order|price|lead time|product name|product|specifications?|item|note|remarks?|moq|email|phone|"
    r"certifications?|certificates?)",
)
_DIGIT_LETTER_BOUNDARY = re.compile(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)")
_WORDS = re.compile(r"[^\W_]+")
_KEY_SYNONYMS = {
    "colour": "color", "packaging terms": "packaging", "packing": "packaging", "pack": "packaging",
    "capacity": "volume", "scent": "fragrance", "material type": "material",
}  # fmt: skip


def labelled_values(description: str) -> dict[str, frozenset[str]]:
    """``Key : value`` specification lines (the go4WorldBusiness, Made-in-China and TradeIndia templates).

    Two posts of one template that give one key values with no word in common ("Fragrance : Fig Scented" against
    "Fragrance : Fragrance Free") describe two products, whatever the key.
    """
    return _labelled_lines((description or "").splitlines())


def _labelled_lines(lines: Iterable[str]) -> dict[str, frozenset[str]]:
    found: dict[str, frozenset[str]] = {}
    for line in lines:
        match = _LABELLED_LINE.match(line) if ":" in line else None  # most lines are prose, not "Key : value"
        if not match:
            continue
        key = fold(match.group("key"))
        if _NOT_A_SPEC_KEY.match(key):
            continue
        value = _DIGIT_LETTER_BOUNDARY.sub(" ", fold(match.group("value")))  # "100ml"
        words = frozenset(_WORDS.findall(value))
        if words:
            found[_KEY_SYNONYMS.get(key, key)] = words
    return found


# -------------------------------------------------------------------------------------------------------- product

_PRODUCT_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "of",
        "on",
        "or",
        "our",
        "the",
        "to",
        "with",
        "we",
        "you",
        "your",
        "us",
        "per",
        "private",
        "label",
        "oem",
        "odm",
        "custom",
        "customized",
        "logo",
        "wholesale",
        "bulk",
        "new",
        "hot",
        "sale",
        "high",
        "quality",
        "best",
        "price",
        "professional",
        "organic",
        "natural",
        "premium",
        "pure",
        "manufacturer",
        "supplier",
        "factory",
        "direct",
        "cheap",
        "top",
        "still",
        "looking",
        "quote",
        "quotation",
        "please",
        "pls",
        "urgent",
        "urgently",
        "required",
        "request",
    ]
)


_ELLIPSIS = re.compile(r"\s*(\.\.\.|…)$")
_LETTER_RUNS = re.compile(r"[^\W\d_]+")


def strip_boilerplate(title: str) -> str:
    """A title without the site's request words, reply prefixes and truncation ellipsis."""
    text = " ".join((title or "").split())
    previous = None
    while previous != text:  # "Re: Wanted : X" has two layers
        previous = text
        text = _TITLE_BOILERPLATE.sub("", text, count=1)
    if text.endswith(("...", "…")):  # the only way _ELLIPSIS matches: the text has no line break or end space
        text = _ELLIPSIS.sub("", text)
    return text.strip(" -–:")


@lru_cache(maxsize=1 << 16)  # bounded; the words of RFQs repeat, most of them many times
def _stem(token: str) -> str:
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("es") and token[-3] in "sxz":
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def content_tokens(text: str) -> frozenset[str]:
    """Stemmed words of a text without request filler, numbers or one-letter tokens."""
    return _content_tokens_of(_LETTER_RUNS.findall(fold(text)))


def _content_tokens_of(letter_runs: Iterable[str]) -> frozenset[str]:
    # Runs of two letters or more are the letter runs (a run is maximal either way) without the one-letter ones. Each
    # distinct word is stemmed once: texts repeat their words.
    words = {word for word in letter_runs if len(word) > 1}
    return frozenset(map(_stem, words.difference(_PRODUCT_STOPWORDS)))


def product_phrase(title: str, description: str) -> str:
    """The product as the post names it: go4WorldBusiness's ``Product Name`` line, else the cleaned title."""
    named = _product_name_line(description or "")
    return strip_boilerplate(title) if named is None else named


def _product_name_line(description: str) -> str | None:
    if not _might_contain(description, "product"):
        return None
    named = _PRODUCT_NAME_LINE.search(description)
    return " ".join(named.group(1).split()) if named else None


# --------------------------------------------------------------------------------------------------------- country


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """Folded country name -> alpha-2, from the English names and every locale's translation (ambiguous dropped)."""
    names: dict[str, set[str]] = {}

    def add(name: str, code: str) -> None:
        key = fold(name).replace("-", " ")
        if key:
            names.setdefault(key, set()).add(code)

    translations = []
    for locale in sorted(_locales()):
        try:
            translations.append(gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[locale]))
        except OSError:
            continue
    for country in pycountry.countries:
        code = str(country.alpha_2)
        for attr in ("name", "common_name", "official_name"):
            english = getattr(country, attr, None)
            if not english:
                continue
            add(english, code)
            for translation in translations:
                add(translation.gettext(english), code)
    return {name: next(iter(codes)) for name, codes in names.items() if len(codes) == 1}


def _locales() -> list[str]:
    import os

    return [name for name in os.listdir(pycountry.LOCALES_DIR) if not name.startswith(".")]


@lru_cache(maxsize=4096)
def country_of(text: str | None) -> str | None:
    """ISO alpha-2 code of a country written in any language or script, or ``None``.

    Tries the English names and marketplace abbreviations first (``UAE``, ``KSA``), then every locale's name
    (``Türkei``, ``日本``, ``Ελλάδα``), then a name that is a run of whole words in exactly one country's name in
    some locale (``Emirates``, ``الإمارات``).
    """
    if not text or not text.strip():
        return None
    code = english_country_code(text)
    if code:
        return code
    key = fold(text).replace("-", " ").strip(" .")
    names = _country_names()
    if key in names:
        return names[key]
    if len(key) < 4:
        return None
    # The key as a run of whole words of a name: the name has it between spaces once both are padded with one
    # (names are folded, so a space is the only whitespace in them).
    joined, starts, codes_at = _padded_names()
    needle = f" {key} "
    codes = set()
    found = joined.find(needle)
    while found >= 0:
        i = bisect.bisect_right(starts, found) - 1
        if found + len(needle) <= starts[i + 1]:  # within one name, not across two
            codes.add(codes_at[i])
        found = joined.find(needle, found + 1)
    return codes.pop() if len(codes) == 1 else None


@lru_cache(maxsize=1)
def _padded_names() -> tuple[str, list[int], list[str]]:
    """Every country name with a space either side, joined: one ``str.find`` replaces a regex search per name (tens
    of thousands) for each new country text. Also where each name starts (and the end) and its code."""
    parts: list[str] = []
    starts: list[int] = []
    codes: list[str] = []
    position = 0
    for name, code in _country_names().items():
        parts.append(f" {name} ")
        starts.append(position)
        codes.append(code)
        position += len(name) + 2
    starts.append(position)
    return "".join(parts), starts, codes


_SUPPLIER_ORIGIN = re.compile(r"suppliers? from|made in|origin", re.I)


def _words_key(text: str) -> str:
    return " ".join(_WORDS.findall(text))


@lru_cache(maxsize=1)
def _places() -> tuple[dict[str, str], frozenset[str]]:
    """Country names (every locale) and ISO 3166-2 subdivision names (Mombasa, Osaka, Casablanca) that name one
    country, keyed by their words; and every run of first words of those names (``"united"``, ``"united arab"``,
    ``"united arab emirates"`` ...)."""
    places: dict[str, set[str]] = {}
    for name, code in _country_names().items():
        if len(name) >= 4:
            places.setdefault(_words_key(name), set()).add(code)
    for subdivision in pycountry.subdivisions:
        for part in str(subdivision.name).split("/"):
            key = _words_key(fold(part))
            if len(key) >= 5:
                places.setdefault(key, set()).add(str(subdivision.country_code))
    unique = {name: codes.pop() for name, codes in places.items() if name and len(codes) == 1}
    prefixes = set(unique)
    for name in unique:  # words are joined by single spaces: a prefix of words ends before a space
        space = name.find(" ")
        while space >= 0:
            prefixes.add(name[:space])
            space = name.find(" ", space + 1)
    return unique, frozenset(prefixes)


def country_in_text(text: str) -> str | None:
    """The one country a text's places point to (supplier-origin lines ignored), or ``None`` when none or several."""
    lines = text.splitlines()
    if _might_contain(text, "supplier", "made in", "origin"):
        lines = [line for line in lines if not _SUPPLIER_ORIGIN.search(line)]
    return _country_in_words(_WORDS.findall(fold("\n".join(lines))))


def _country_in_words(words: Sequence[str]) -> str | None:
    """The one country the places among ``words`` point to, or ``None``.

    A place name has up to a few dozen words; rather than look up every run of every length, each run is extended
    from its first word only while it is still the beginning of some place name, which most words are not.
    """
    places, prefixes = _places()
    found = set()
    for start in range(len(words)):
        phrase = words[start]
        end = start + 1
        while phrase in prefixes:
            code = places.get(phrase)
            if code:
                found.add(code)
                if len(found) > 1:
                    return None  # two countries: no guess, whatever else the text names
            if end == len(words):
                break
            phrase = f"{phrase} {words[end]}"
            end += 1
    return found.pop() if found else None


# ----------------------------------------------------------------------------------------------------------- buyer

_LEGAL_FORMS = frozenset(
    [
        "llc",
        "ltd",
        "limited",
        "co",
        "company",
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "gmbh",
        "ag",
        "ab",
        "aps",
        "as",
        "bv",
        "nv",
        "sas",
        "sarl",
        "sprl",
        "srl",
        "spa",
        "sa",
        "de",
        "cv",
        "kk",
        "pty",
        "plc",
        "ltda",
        "est",
        "establishment",
        "sp",
        "z",
        "oo",
        "san",
        "ve",
        "tic",
        "sti",
        "pt",
        "ooo",
        "ike",
        "oy",
        "ou",
        "sl",
        "slu",
        "sro",
        "kft",
        "bhd",
        "sdn",
        "fze",
        "fzco",
        "fzc",
        "fzllc",
        "pvt",
        "private",
        "the",
    ]
)


_INITIALS_DOT = re.compile(r"(?<=\b\w)\.(?=\w\b)")


@lru_cache(maxsize=1 << 14)  # bounded; one buyer posts many requests
def company_key(name: str | None) -> tuple[str, ...]:
    """A company name's distinctive words: accents, punctuation, ``&``/``and`` and legal forms dropped."""
    if not name:
        return ()
    text = fold(name)
    if "." in text:
        text = _INITIALS_DOT.sub("", text)  # "l.l.c" -> "llc", "s.r.l" -> "srl"
    text = text.replace("&", " ").replace("-", " ").replace(".", " ")
    words = [w for w in _WORD_CHARS.findall(text) if w not in _LEGAL_FORMS and w != "and"]
    return tuple(words)


def _abbreviates(short: str, long: str) -> bool:
    """``cosm`` abbreviates ``cosmetics``, ``trdg`` abbreviates ``trading``: same first letter, letters in order."""
    if short == long:
        return True
    if len(short) < 3 or short[0] != long[0] or len(short) > len(long):
        return False
    position = 0
    for ch in short:
        position = long.find(ch, position) + 1
        if position == 0:
            return False
    return True


def same_company(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Two company keys name one company: the shorter is the longer's first words, each word or its abbreviation."""
    if not a or not b:
        return False
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) == 1 and len(short[0]) < 5:
        return False  # one short word ("Dar", "Al") names nobody
    return all(_abbreviates(x, y) or _abbreviates(y, x) for x, y in zip(short, long, strict=False))


@dataclass(frozen=True)
class BuyerIdentity:
    """Every way a record names its buyer."""

    pseudonyms: frozenset[str] = frozenset()  # 8-hex hashes of "Buyer-<h>" / "Contact-<h>"
    companies: tuple[tuple[str, ...], ...] = ()
    email_domains: frozenset[str] = frozenset()

    @property
    def known(self) -> bool:
        """Whether the record names its buyer at all."""
        return bool(self.pseudonyms or self.companies or self.email_domains)

    def merged(self, other: BuyerIdentity) -> BuyerIdentity:
        """The identities of a cluster: every name any member gave."""
        companies = tuple(dict.fromkeys(self.companies + other.companies))
        return BuyerIdentity(self.pseudonyms | other.pseudonyms, companies, self.email_domains | other.email_domains)


_FREE_MAIL = frozenset({"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "mail.ru", "yandex.ru", "qq.com"})


def buyer_identity(buyer: str | None, description: str | None) -> BuyerIdentity:
    """Pseudonym hashes from the buyer field and the text, the company name and business e-mail domains."""
    text = f"{buyer or ''}\n{description or ''}"
    pseudonyms: frozenset[str] = frozenset()
    if _might_contain(text, "buyer-", "contact-"):
        pseudonyms = frozenset(h.lower() for h in _PSEUDONYM.findall(text))
    companies: tuple[tuple[str, ...], ...] = ()
    if buyer and not _PSEUDONYM.fullmatch(buyer.strip()):
        key = company_key(buyer)
        if key:
            companies = (key,)
    domains: frozenset[str] = frozenset()
    if "@" in text:
        domains = frozenset(d.lower() for d in _EMAIL.findall(text) if d.lower() not in _FREE_MAIL)
    return BuyerIdentity(pseudonyms, companies, domains)


# --------------------------------------------------------------------------------------------------------- the RFQ


@dataclass(frozen=True)
class RfqAttributes:
    """The facts of one RFQ that decide whether two RFQs are one request."""

    product: str
    product_tokens: frozenset[str]
    text_tokens: frozenset[str]
    specs: dict[str, frozenset[str]]
    quantities: tuple[Quantity, ...]
    country: str | None
    buyer: BuyerIdentity
    flags: frozenset[str] = field(default_factory=frozenset)
    english: bool = True
    labelled: dict[str, frozenset[str]] = field(default_factory=dict)  # "Key : value" specification lines
    # Colours a short product name carries ("Burgundy Henna Powder"): the colour is the product there.
    name_colours: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored with the cluster membership and shown in the UI."""
        return {
            "version": ATTRIBUTES_VERSION,
            "product": self.product,
            "specs": {k: sorted(v) for k, v in sorted(self.specs.items())},
            "quantity": [q.as_dict() for q in self.quantities],
            "country": self.country,
            "buyer": {
                "pseudonyms": sorted(self.buyer.pseudonyms),
                "companies": [" ".join(c) for c in self.buyer.companies],
                "email_domains": sorted(self.buyer.email_domains),
            },
            "flags": sorted(self.flags),
            "english": self.english,
            "labelled": {k: sorted(v) for k, v in sorted(self.labelled.items())},
            "name_colours": sorted(self.name_colours),
        }


_ENGLISH_MARKERS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "we",
        "our",
        "you",
        "your",
        "please",
        "need",
        "needs",
        "quote",
        "price",
        "of",
        "to",
        "in",
        "is",
        "are",
        "this",
        "that",
        "from",
        "kindly",
    ]
)
# Function words of the other languages buyers write in (German, Italian, Portuguese, Spanish, French, Turkish).
_OTHER_MARKERS = frozenset(
    [
        "und",
        "wir",
        "für",
        "fur",
        "die",
        "der",
        "das",
        "sie",
        "ihr",
        "bitte",
        "mit",
        "siamo",
        "di",
        "il",
        "che",
        "una",
        "un",
        "della",
        "cerchiamo",
        "potete",
        "para",
        "com",
        "nosso",
        "nossa",
        "os",
        "uma",
        "somos",
        "precisamos",
        "los",
        "las",
        "el",
        "una",
        "por",
        "nuestro",
        "necesitamos",
        "nous",
        "pour",
        "le",
        "les",
        "des",
        "et",
        "une",
        "vous",
        "ve",
        "bir",
        "icin",
        "için",
        "lutfen",
        "lütfen",
        "olarak",
        "istiyoruz",
    ]
)


def _looks_english(text: str) -> bool:
    return _runs_look_english(_LETTER_RUNS.findall(fold(text)))


def _runs_look_english(words: Sequence[str]) -> bool:
    return sum(map(_ENGLISH_MARKERS.__contains__, words)) >= sum(map(_OTHER_MARKERS.__contains__, words))


# A product name this short names only the product: each of its words defines it. Longer ones are keyword titles.
SHORT_NAME_WORDS = 4


def _name_colours(product: str, product_words: frozenset[str] | None = None) -> frozenset[str]:
    if len(content_tokens(product) if product_words is None else product_words) > SHORT_NAME_WORDS:
        return frozenset()
    return specification(product, "").get("colour", frozenset())


def inputs_sha256(inputs: dict[str, str]) -> str:
    """The hash of the fields attributes are read from (``extract``'s keyword arguments): a change re-extracts."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode("utf-8")).hexdigest()


def extract(
    *, title: str, description: str = "", quantity: str = "", country: str = "", buyer: str = ""
) -> RfqAttributes:
    """Read the facts of one RFQ from its fields and text (any source, any language).

    Cached per process on the fields: a clustered RFQ is compared again with every new one that finds it.
    """
    return _extract(title or "", description or "", quantity or "", country or "", buyer or "")


# What every match of _ORDER_FLAG contains.
_ORDER_FLAG_WORDS = ("order", "po", "lot", "separate from")


@lru_cache(maxsize=50_000)
def _extract(title: str, description: str, quantity: str, country: str, buyer: str) -> RfqAttributes:
    description = description.replace("\r", "")
    cleaned_title = strip_boilerplate(title)
    named = _product_name_line(description)
    product = cleaned_title if named is None else named  # product_phrase, without cleaning the title twice
    full_text = f"{title}\n{description}"
    amounts = parse_amount(quantity) or _text_quantity(description)
    amounts = amounts + [q for q in _container_equivalents(full_text, amounts) if q not in amounts]
    separate = _might_contain(full_text, *_ORDER_FLAG_WORDS) and _ORDER_FLAG.search(full_text) is not None
    # Folding goes character by character and splits only on whitespace, so the text folds to its title's and its
    # description's folds joined by a space: each is folded and split into words once, for the text's words and its
    # language, and the whole is read for its specification and its places. Lines joined again with other line
    # breaks fold to the same string too, so the specification and the places read this one unless they leave
    # lines out.
    folded_title, folded_description = fold(title), fold(description)
    if folded_title and folded_description:
        folded = f"{folded_title} {folded_description}"
    else:
        folded = folded_title or folded_description
    title_runs = _LETTER_RUNS.findall(folded_title)
    description_runs = _LETTER_RUNS.findall(folded_description)
    lines = description.splitlines()
    spec_lines = [line for line in lines if not _NON_SPEC_LINE.match(line)]
    spec_folded = folded if len(spec_lines) == len(lines) else fold("\n".join([title, *spec_lines]))
    if country and country.strip():
        country_code = country_of(country)
    elif _might_contain(full_text, "supplier", "made in", "origin"):
        country_code = country_in_text(full_text)
    else:
        country_code = _country_in_words(_WORDS.findall(folded))
    # The words of "<cleaned title> <product>" are those of each (folding keeps the space between them), and the
    # product's own decide whether it is a short name.
    product_words = content_tokens(product)
    product_tokens = product_words if named is None else content_tokens(cleaned_title) | product_words
    return RfqAttributes(
        product=product,
        product_tokens=product_tokens,
        text_tokens=_content_tokens_of(title_runs + description_runs),
        specs=_folded_specification(spec_folded),
        quantities=tuple(dict.fromkeys(amounts)),
        country=country_code,
        buyer=buyer_identity(buyer, description),
        flags=frozenset({"separate_order"} if separate else ()),
        english=_runs_look_english(description_runs if description else title_runs),
        labelled=_labelled_lines(lines),
        name_colours=_name_colours(product, product_words),
    )
