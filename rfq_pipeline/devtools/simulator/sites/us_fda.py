"""The simulated openFDA drug NDC endpoint (``/drug/ndc.json``) with recently listed OTC products.

Records follow the shape openFDA serves (``product_ndc``, ``labeler_name``, ``active_ingredients``, ``packaging``,
``openfda`` ...) and are generated from the hand-written seed in ``corpus/us_fda``: fictional labelers, each listing
products of the OTC groups it makes (sunscreens, acne, skin protectants, hand sanitizers, antiperspirants, fluoride
toothpastes, dandruff shampoos, and non-beauty OTC drugs such as oral analgesics and homeopathics). A day's products
depend only on its date. The export lags a day behind, as openFDA's does: the newest ``marketing_start_date`` is
yesterday and ``meta.last_updated`` says so.

The request handling mirrors openFDA's API: ``search`` (``field:[A TO B]`` ranges, ``field:"phrase"`` and
``field:value`` terms joined by ``AND``; ranges include both ends), ``sort=field:asc|desc``, ``limit`` (default 1,
at most 1000) and ``skip`` (at most 25000); a query or page with no results is answered ``404`` with
``{"error": {"code": "NOT_FOUND", "message": "No matches found!"}}``, and invalid parameters with ``400``.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from rfq_pipeline.devtools.simulator.catalog import CORPUS, hash_fraction
from rfq_pipeline.devtools.simulator.faults import Reply

NAME = "us_fda"
SEED = CORPUS / NAME / "ndc_otc_seed.json"
HISTORY_DAYS = 90  # marketing start dates from this many days back ...
LAG_DAYS = 1  # ... up to this many days before today
MIN_PER_DAY, MAX_PER_DAY = 3, 12
OPENFDA_SHARE = 0.6  # new listings whose "openfda" harmonisation is already done; the rest have {}
UPPER_CASE_SHARE = 0.3  # labelers who submit generic names in capitals
MAX_SKIP, MAX_LIMIT, DEFAULT_LIMIT = 25_000, 1_000, 1
PRODUCT_EPOCH = date(2024, 1, 1)  # product codes count 16 slots per day from here (more than MAX_PER_DAY)
ALLOWED_PARAMS = frozenset({"search", "sort", "limit", "skip", "api_key"})
DISCLAIMER = (
    "Do not rely on openFDA to make decisions regarding medical care. While we make every effort to ensure that "
    "data is accurate, you should assume all results are unvalidated. We may limit or otherwise restrict your "
    "access to the API in line with our Terms of Service."
)
JSON_TYPE = "application/json; charset=utf-8"
_HEADERS = (("Access-Control-Allow-Origin", "*"), ("X-Content-Type-Options", "nosniff"))
_CLAUSE = re.compile(r'\s*([A-Za-z_][\w.]*):(\[[^\]]*\]|"[^"]*"|[^\s"\[\]]+)\s*')
_AND = re.compile(r"\s*AND\s*")


@dataclass(frozen=True)
class NdcProduct:
    """One product listing as the NDC endpoint returns it, with what the simulator needs to select it."""

    product_ndc: str
    marketing_start: date
    group: str  # seed group (sunscreen, acne, oral_analgesic ...), for tests of the mix; not part of the record
    record: dict[str, Any]


@cache
def _seed() -> dict[str, Any]:
    return json.loads(SEED.read_text(encoding="utf-8"))


def _pick(options: list[Any], key: str) -> Any:
    return options[int(hash_fraction(key) * len(options))]


def _uuid(key: str) -> str:
    # A deterministic version-4 UUID, shaped like the SPL ids openFDA shows.
    return str(uuid.UUID(bytes=hashlib.sha256(key.encode()).digest()[:16], version=4))


def day_products(day: date) -> list[NdcProduct]:
    """The OTC products whose marketing starts on ``day``, newest product code first."""
    seed = _seed()
    count = MIN_PER_DAY + int(hash_fraction(f"{NAME}/{day}/count") * (MAX_PER_DAY - MIN_PER_DAY + 1))
    products = []
    for index in range(count):
        key = f"{NAME}/{day}/{index}"
        labeler = _pick(seed["labelers"], key + "/labeler")
        group = _pick(labeler["groups"], key + "/group")
        template = _pick(seed["templates"][group], key + "/template")
        product_code = 1000 + (16 * (day - PRODUCT_EPOCH).days + index) % 9000
        ndc = f"{labeler['code']}-{product_code:04d}"
        products.append(NdcProduct(ndc, day, group, _record(key, ndc, day, labeler, template)))
    products.sort(key=lambda p: p.product_ndc, reverse=True)
    return products


def _record(key: str, ndc: str, day: date, labeler: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    start = day.strftime("%Y%m%d")
    spl_id = _uuid(key + "/spl")
    outer, inner = template["package"]
    package_ndc = f"{ndc}-1"
    # openFDA's package text: the outer package with its NDC, then "  > " and what one package holds.
    description = f"{outer} ({package_ndc})  > {inner}" if outer and inner else f"{outer or inner} ({package_ndc})"
    generic = template["generic"]
    if hash_fraction(key + "/caps") < UPPER_CASE_SHARE:
        generic = generic.upper()
    brand = template["brand"].format(brand=labeler["brand"])
    openfda: dict[str, Any] = {}
    if hash_fraction(key + "/openfda") < OPENFDA_SHARE:
        upc = f"{int(hash_fraction(key + '/upc') * 10**11):011d}"
        openfda = {
            "manufacturer_name": [labeler["name"]],
            "spl_set_id": [_uuid(key + "/set")],
            "is_original_packager": [True],
            "upc": ["0" + upc],
        }
    record: dict[str, Any] = {
        "product_ndc": ndc,
        "generic_name": generic,
        "labeler_name": labeler["name"],
        "brand_name": brand,
        "active_ingredients": [{"name": name, "strength": strength} for name, strength in template["ingredients"]],
        "finished": True,
        "packaging": [
            {"package_ndc": package_ndc, "description": description, "marketing_start_date": start, "sample": False}
        ],
        "listing_expiration_date": f"{day.year + 1}1231",
        "openfda": openfda,
        "marketing_category": template["category"],
        "dosage_form": template["form"],
        "spl_id": spl_id,
        "product_type": "HUMAN OTC DRUG",
        "route": list(template["route"]),
        "marketing_start_date": start,
        "product_id": f"{ndc}_{spl_id}",
        "brand_name_base": brand,
    }
    if template["application"]:
        record["application_number"] = template["application"]
    return record


def _error(status: int, code: str, message: str) -> Reply:
    body = json.dumps({"error": {"code": code, "message": message}}, indent=2)
    return Reply(status, body.encode(), _HEADERS, content_type=JSON_TYPE)


def _field_values(record: dict[str, Any], path: str) -> list[str]:
    value: Any = record
    for part in path.removesuffix(".exact").split("."):
        if not isinstance(value, dict) or part not in value:
            return []
        value = value[part]
    values = value if isinstance(value, list) else [value]
    return [str(v) for v in values if not isinstance(v, dict | list)]


def parse_search(search: str) -> list[tuple[str, str, str]] | None:
    """Split ``a:[x TO y] AND b:"z"`` into (field, kind, value) clauses; ``None`` for syntax beyond that."""
    clauses: list[tuple[str, str, str]] = []
    position = 0
    while position < len(search):
        if clauses:
            joiner = _AND.match(search, position)
            if joiner is None:
                return None
            position = joiner.end()
        match = _CLAUSE.match(search, position)
        if match is None:
            return None
        field, value = match.group(1), match.group(2)
        kind = "range" if value.startswith("[") else "phrase" if value.startswith('"') else "term"
        clauses.append((field, kind, value.strip('[]"')))
        position = match.end()
    return clauses


def _matches(record: dict[str, Any], clauses: list[tuple[str, str, str]]) -> bool:
    for field, kind, value in clauses:
        values = _field_values(record, field)
        if kind == "range":
            bounds = value.split(" TO ")
            if len(bounds) != 2:
                return False
            low, high = (bound.strip().replace("-", "") for bound in bounds)
            # openFDA ranges include both ends; "*" leaves a side open.
            if not any((low == "*" or v >= low) and (high == "*" or v <= high) for v in values):
                return False
        elif value.lower() not in {v.lower() for v in values}:
            return False
    return True


class UsFdaSite:
    """The :class:`~rfq_pipeline.devtools.simulator.site.SimulatedSite` of the openFDA NDC endpoint."""

    name = NAME
    server_header = "openresty"
    # openFDA publishes no robots policy for the API paths; the source does not consult robots.txt.
    robots_txt = """User-agent: *
Disallow:
"""

    def __init__(self) -> None:
        self.products: list[NdcProduct] = []
        self.last_updated = date.min

    def build(self, today: date, now: datetime) -> None:
        """Generate the products whose marketing starts between ``HISTORY_DAYS`` days ago and yesterday."""
        del now  # dates only: nothing about a listing depends on the time of day
        self.last_updated = today - timedelta(days=LAG_DAYS)
        self.products = [
            product
            for back in range(LAG_DAYS, HISTORY_DAYS + 1)
            for product in day_products(today - timedelta(days=back))
        ]

    def render(self, rest: str, query: dict[str, list[str]], style: str, now: datetime) -> Reply:
        """Answer ``drug/ndc.json`` searches like openFDA; any other path is a JSON 404."""
        if rest != "drug/ndc.json":
            return _error(404, "NOT_FOUND", "Not Found")
        unknown = sorted(set(query) - ALLOWED_PARAMS)
        if unknown:
            return _error(400, "BAD_REQUEST", f"Invalid parameter: {unknown[0]}")
        try:
            limit = int(query.get("limit", [str(DEFAULT_LIMIT)])[0])
            skip = int(query.get("skip", ["0"])[0])
        except ValueError:
            return _error(400, "BAD_REQUEST", "Invalid limit or skip parameter value.")
        if skip > MAX_SKIP:
            return _error(400, "BAD_REQUEST", f"Skip value must {MAX_SKIP} or less.")
        if limit > MAX_LIMIT:
            return _error(
                400,
                "BAD_REQUEST",
                "Limit cannot exceed 1000 results for search requests. Use the skip or search_after param to get "
                "additional results.",
            )
        selected = [p.record for p in self.products]
        search = query.get("search", [""])[0].strip()
        if search:
            clauses = parse_search(search)
            if clauses is None:
                # The real API hands the query to Elasticsearch; this simulator understands AND-ed clauses only.
                return _error(400, "BAD_REQUEST", f"Unsupported search syntax in the simulator: {search}")
            selected = [record for record in selected if _matches(record, clauses)]
        sort = query.get("sort", [""])[0]
        if sort:
            field, _, direction = sort.partition(":")
            selected = sorted(
                selected,
                key=lambda r: ((_field_values(r, field) or [""])[0], r["product_ndc"]),
                reverse=direction.lower() != "asc",
            )
        else:
            selected = sorted(selected, key=lambda r: r["product_ndc"])
        page = selected[skip : skip + limit]
        if not page:
            return _error(404, "NOT_FOUND", "No matches found!")
        meta = {
            "disclaimer": DISCLAIMER,
            "terms": "https://open.fda.gov/terms/",
            "license": "https://open.fda.gov/license/",
            "last_updated": self.last_updated.isoformat(),
            "results": {"skip": skip, "limit": limit, "total": len(selected)},
        }
        # A hypothetical API revision renaming the envelope keys stands in for layout drift.
        payload = {"metadata": meta, "data": page} if style == "drift" else {"meta": meta, "results": page}
        return Reply(200, json.dumps(payload, indent=2).encode(), _HEADERS, content_type=JSON_TYPE)

    def expected(self, day: date) -> list[str]:
        """Product NDCs whose marketing starts on ``day``, in the order ``sort=marketing_start_date:desc`` gives."""
        return [p.product_ndc for p in self.products if p.marketing_start == day]

    def expected_total(self) -> int:
        """How many products the endpoint holds."""
        return len(self.products)


SITE = UsFdaSite()
