"""``make bench`` (analyst exports): ``export_day`` and ``build_duckdb`` over one busy day, and the analyst queries.

For each size (100k and 1M RFQs posted on one day across the ten registered sources) a scratch database on the
configured server (the embedded one by default; :func:`~rfq_pipeline.dedup.tempdb.temporary_database`) is migrated
and seeded with set-based SQL (``INSERT ... SELECT`` over ``generate_series``), which is timed apart and not counted:

- RFQs with real marketplace titles, quantities and countries (the labeled Alibaba/go4WorldBusiness examples,
  normalized by the pipeline's own normalizer), buyer names and companies, ~5% without a posting time, ~1% with an
  e-mail address or an international phone number in the title (the export's redaction has something to do);
- one classification each, ~15% relevant (relevant RFQs get the relevant examples' titles and industries);
- dedup clusters: every RFQ is a member, ~10% join an earlier RFQ's cluster as a duplicate (a content-hash copy or a
  near-duplicate re-wording, usually on another marketplace);
- buyers for ~70% of the relevant clusters (one or two contacts each), quote drafts for ~90% of those, in mixed
  states (queued, edited, approved, sent, won, lost, rejected, expired) with the state-change events that lead
  there; and a day of crawls and the breaker state per source.

Then ``export_day`` writes the day to a :class:`LocalObjectStore` in a temporary directory (one snapshot, as the
CLI does; per table the time is split into the ``COPY`` out of PostgreSQL, the polars decode and pseudonymization,
and the Parquet encode), ``build_duckdb`` writes the analysts' file, and every ``sql/analyst/*.sql`` query runs
against it (median of 3). The scratch database and the temporary files are removed at the end.

The scratch database is never a system of record, so seeding takes the fast road (1M RFQs and their rows in about
a minute on 2 cores instead of about a minute and a half): ``synchronous_commit = off``; the bulk tables (and every
table referencing them) are made unlogged, which saves the WAL; their secondary indexes are dropped for the load and
rebuilt from their own definitions afterwards (one sorted build instead of a million incremental inserts); and, on a
superuser login such as the embedded server's, the per-row foreign-key triggers are skipped and every foreign key is
checked afterwards with one anti-join each (the seed fails on a dangling reference). Primary and unique keys and
CHECK constraints are enforced throughout. ``VACUUM ANALYZE`` then leaves the tables as autovacuum would.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from rfq_pipeline.exports import writer

SIZES = (100_000, 1_000_000)
SALT = b"bench-exports-salt-0123456789abcdef"
MODEL_VERSION = "local-bench-1"
CATALOG_VERSION = "c0ffee1234abcd56"

# Share of a day's RFQs per source, in percent (sums to 100): the big marketplaces list most.
SOURCE_SHARES = {
    "alibaba_rfq": 28,
    "go4worldbusiness": 15,
    "made_in_china": 12,
    "tradeindia": 10,
    "tradekey": 9,
    "exportersindia": 8,
    "ec21": 6,
    "globalsources": 6,
    "us_fda": 3,
    "bizmaps": 3,
}
FIRST_NAMES = (
    "Sara", "Omar", "Layla", "Khalid", "Ivan", "Priya", "Rahul", "Wei", "Mei", "Ahmed", "Fatima", "John", "Maria",
    "Carlos", "Aisha", "Yusuf", "Elena", "Hassan", "Noor", "Arjun", "Chen", "Olga", "Tariq", "Zainab", "David",
    "Anna", "Kenji", "Amir", "Leila", "Samir", "Grace", "Mohammed", "Ravi", "Sofia", "Daniel", "Hana", "Ali",
    "Nadia", "Peter", "Lina",
)  # fmt: skip
LAST_NAMES = (
    "Ali", "Haddad", "Nasser", "Mansour", "Petrov", "Sharma", "Patel", "Zhang", "Li", "Khan", "Rahman", "Smith",
    "Garcia", "Lopez", "Hussain", "Yilmaz", "Ivanova", "Farouk", "Saleh", "Gupta", "Wang", "Sokolova", "Aziz",
    "Qureshi", "Brown", "Muller", "Tanaka", "Karimi", "Hosseini", "Mehta", "Okafor", "Abdullah", "Iyer", "Rossi",
    "Cohen", "Kim", "Hamdan", "Bakr", "Novak", "Santos",
)  # fmt: skip
COMPANY_WORDS = (
    "Oasis", "Desert Rose", "Glow House", "Gulf Star", "Pearl", "Falcon", "Emirates", "Silk Road", "Blue Nile",
    "Golden Sands", "Crescent", "Al Noor", "Sunrise", "Lotus", "Cedar", "Atlas", "Zenith", "Orchid", "Palm",
    "Horizon", "Royal", "Amber", "Saffron", "Marina", "Summit", "Jade", "Coral", "Nova", "Unity", "Delta",
)  # fmt: skip
COMPANY_TRADES = (
    "Beauty", "Cosmetics", "Trading", "Supplies", "Industries", "Foods", "Textiles", "Medical", "Electronics",
    "Packaging", "Chemicals", "Home", "Motors", "Agro", "Machinery",
)  # fmt: skip
COMPANY_SUFFIXES = ("LLC", "FZE", "General Trading LLC", "Pvt Ltd", "Co., Ltd", "GmbH", "Inc")

# The state-change events that lead to each draft state: (state, step, from, to, actor kind), and the step count.
DRAFT_PATHS = (
    ("edited", 1, "queued", "edited", "cli"),
    ("approved", 1, "queued", "approved", "cli"),
    ("sent", 1, "queued", "approved", "slack"),
    ("sent", 2, "approved", "sent", "run"),
    ("won", 1, "queued", "approved", "cli"),
    ("won", 2, "approved", "sent", "run"),
    ("won", 3, "sent", "won", "hubspot"),
    ("lost", 1, "queued", "approved", "slack"),
    ("lost", 2, "approved", "sent", "run"),
    ("lost", 3, "sent", "lost", "hubspot"),
    ("rejected", 1, "queued", "rejected", "cli"),
    ("expired", 1, "queued", "expired", "sensor"),
)
# Cumulative share (percent) below which a draft is in each state, and how many events brought it there.
DRAFT_STATES = (
    (35, "queued", 0),
    (40, "edited", 1),
    (50, "approved", 1),
    (68, "sent", 2),
    (80, "won", 3),
    (93, "lost", 3),
    (97, "rejected", 1),
    (100, "expired", 1),
)
BULK_TABLES = ("rfqs", "classifications", "dedup_clusters", "dedup_cluster_members", "buyers", "buyer_contacts",
               "quote_drafts", "quote_draft_events")  # fmt: skip


def _bind(conn: psycopg.Connection, statement: str, params: dict[str, Any]) -> str:
    """``statement`` with its ``%(name)s`` placeholders replaced by literals, so its ``%`` are modulo operators."""
    return re.sub(r"%\((\w+)\)s", lambda m: sql.Literal(params[m.group(1)]).as_string(conn), statement)


def _h(expr: str, seed: int) -> str:
    """SQL for a deterministic non-negative 63-bit hash of ``expr`` (per seed): the seed data's randomness."""
    return f"(hashint8extended(({expr})::bigint, {seed}) & 9223372036854775807)"


# --- seeding ------------------------------------------------------------------------------------------------------

CREATE_POOL = """
CREATE UNLOGGED TABLE bench_pool (
    relevant boolean, i integer, title text, title_clean text, quantity_text text, quantity_value numeric,
    quantity_unit text, country_raw text, country_code char(2), country_name text, industry text, is_rfq boolean,
    PRIMARY KEY (relevant, i)
)
"""

CREATE_PLAN = f"""
CREATE UNLOGGED TABLE bench_plan AS
SELECT s.g, s.base, s.g <> s.base AS dup, s.g <> s.base AND {_h("s.g", 5)} % 4 <> 1 AS near,
       {_h("s.base", 2)} % 100 < 15 AS rel, {_h("s.base", 3)} AS hp, src.name AS source, src.prefix,
       {_h("s.g", 5)} AS hx, {_h("s.base", 6)} AS hb,
       CASE WHEN {_h("s.g", 7)} % 20 = 0 THEN NULL ELSE s.seen END AS posted_at,
       s.seen + ({_h("s.g", 8)} % 300) * interval '1 second' AS first_seen_at
FROM (
    SELECT g,
           CASE WHEN g % 10 = 0 THEN g - 1 - {_h("g", 1)} % 9 ELSE g END AS base,
           %(start)s::timestamptz + (g - 1) * (86000.0 / %(n)s) * interval '1 second' AS seen
    FROM generate_series(1, %(n)s::bigint) AS g
) AS s
JOIN bench_sources AS src ON src.pct = {_h("s.g", 4)} % 100
"""

INSERT_RFQS = """
INSERT INTO rfqs (id, source, external_id, canonical_url, title, description, posted_at, posted_text, quantity_text,
                  buyer_name, buyer_company, country_raw, content_sha256, first_seen_at, last_seen_at, updated_at,
                  quantity_value, quantity_unit, country_code, country_name, posted_date, title_clean, normalized_at,
                  normalizer_version)
SELECT p.g, p.source, p.prefix || p.g, 'https://' || p.source || '.example/rfq/' || p.prefix || p.g,
       t.title || x.suffix || x.contact,
       'Please quote ' || t.quantity_text || ' of ' || t.title || '. Delivery to ' || t.country_raw || '.',
       p.posted_at, CASE WHEN p.posted_at IS NULL THEN '' ELSE 'Just now' END, t.quantity_text,
       x.buyer_name, x.buyer_company, t.country_raw, md5(CASE WHEN p.near THEN p.g ELSE p.base END::text),
       p.first_seen_at, p.first_seen_at + (p.hx % 7200) * interval '1 second',
       p.first_seen_at + (p.hx % 7200) * interval '1 second',
       t.quantity_value, t.quantity_unit, t.country_code, t.country_name, (p.posted_at AT TIME ZONE 'UTC')::date,
       t.title_clean || x.suffix || x.contact, p.first_seen_at + interval '30 seconds', 'rfq-normalize-1'
FROM bench_plan AS p
JOIN bench_pool AS t ON t.relevant = p.rel AND t.i = p.hp % CASE WHEN p.rel THEN %(relevant)s ELSE %(other)s END
CROSS JOIN LATERAL (
    SELECT CASE WHEN p.near THEN (ARRAY[' - bulk order', ' wholesale', ' urgent'])[1 + p.hx / 4 % 3] ELSE '' END
               AS suffix,
           CASE WHEN p.hx % 200 = 0 THEN ' call +971 50 ' || lpad((p.hx / 200 % 10000000)::text, 7, '0')
                WHEN p.hx % 200 = 1 THEN ' email buyer' || p.base || '@gmail.com'
                ELSE '' END AS contact,
           CASE WHEN p.hb % 5 = 0 THEN ''
                ELSE (%(first)s::text[])[1 + p.hb / 7 % %(nfirst)s] || ' ' || chr(65 + (p.hb / 13 % 26)::int)
                     || '. ' || (%(last)s::text[])[1 + p.hb / 11 % %(nlast)s] END AS buyer_name,
           CASE WHEN p.hb % 4 = 0 THEN ''
                ELSE (%(words)s::text[])[1 + p.hb / 17 % %(nwords)s] || ' '
                     || (%(trades)s::text[])[1 + p.hb / 19 % %(ntrades)s] || ' '
                     || (%(suffixes)s::text[])[1 + p.hb / 23 % %(nsuffixes)s] END AS buyer_company
) AS x
ORDER BY p.g
"""

INSERT_CLASSIFICATIONS = """
INSERT INTO classifications (rfq_id, model_version, provider, industry, relevant, intent, quality, classified_at,
                             text_sha256)
SELECT p.g, %(model_version)s, 'local', t.industry, t.relevant,
       CASE WHEN t.relevant THEN 'buy_request' WHEN NOT t.is_rfq THEN 'supplier_advert'
            WHEN p.hx % 40 = 3 THEN 'spam_or_junk' ELSE 'buy_request' END,
       (0.35 + (p.hx / 3 % 65) / 100.0)::real, p.first_seen_at + interval '2 minutes', md5(p.g::text)
FROM bench_plan AS p
JOIN bench_pool AS t ON t.relevant = p.rel AND t.i = p.hp % CASE WHEN p.rel THEN %(relevant)s ELSE %(other)s END
ORDER BY p.g
"""

INSERT_CLUSTERS = """
INSERT INTO dedup_clusters (id, canonical_rfq_id, member_count, created_at, updated_at)
SELECT base, base, count(*), min(first_seen_at) + interval '1 minute', max(first_seen_at) + interval '1 minute'
FROM bench_plan
GROUP BY base
ORDER BY base
"""

INSERT_MEMBERS = """
INSERT INTO dedup_cluster_members (rfq_id, cluster_id, matched_by, similarity, added_at, content_hash, url_key,
                                   matched_rfq_id, evidence, assigned_by)
SELECT g, base, CASE WHEN NOT dup THEN 'new' WHEN near THEN 'near_duplicate' ELSE 'content_hash' END,
       CASE WHEN near THEN (0.82 + (hx / 7 % 17) / 100.0)::real END, first_seen_at + interval '1 minute',
       md5(CASE WHEN near THEN g ELSE base END::text), source || ':' || prefix || g, CASE WHEN dup THEN base END,
       CASE WHEN dup THEN jsonb_build_object('matched_rfq_id', base, 'similarity', round((0.82 + (hx / 7 % 17) / 100.0),
                                             2))
            ELSE '{}'::jsonb END,
       'dedup'
FROM bench_plan
ORDER BY g
"""

INSERT_BUYERS = """
INSERT INTO buyers (id, cluster_id, rfq_id, company, company_key, domain, country_code, email, email_status,
                    confidence, risk_score, risk_level, risk_reasons, method, enricher_version, enriched_at, run_id)
SELECT x.id, x.id, x.id, x.company, coalesce(lower(x.company), ''), x.domain, x.country_code, x.email,
       CASE WHEN x.email IS NULL THEN NULL
            ELSE (ARRAY['valid', 'valid', 'valid', 'valid', 'valid', 'valid', 'unknown', 'unknown', 'invalid',
                        'disposable', 'do_not_mail'])[1 + x.hb / 29 % 11] END,
       '{"company": 0.8, "email": 0.7, "country": 0.9}'::jsonb, x.risk,
       CASE WHEN x.risk < 30 THEN 'low' WHEN x.risk < 60 THEN 'medium' ELSE 'high' END,
       CASE WHEN x.risk < 30 THEN '[]'
            WHEN x.risk < 60 THEN '[{"code": "free_mail_large_order", "weight": 15, "evidence": "gmail.com"}]'
            ELSE '[{"code": "scam_phrase", "weight": 30, "evidence": "western union"},
                   {"code": "new_domain", "weight": 20, "evidence": "registered 12 days ago"}]' END::jsonb,
       CASE WHEN x.hb % 20 = 0 THEN 'research_agent' ELSE 'deterministic' END, 'enrich-v1',
       x.first_seen_at + interval '5 minutes', 'bench'
FROM (
    SELECT p.g AS id, p.hb, p.first_seen_at, NULLIF(r.buyer_company, '') AS company, r.country_code,
           CASE WHEN r.buyer_company <> ''
                THEN trim(BOTH '-' FROM regexp_replace(lower(r.buyer_company), '[^a-z0-9]+', '-', 'g')) || '.ae'
           END AS domain,
           (p.hb / 31 % 100) * (p.hb / 37 % 100) / 100 AS risk,  -- skewed low, as most buyers are
           r.buyer_name, r.buyer_company
    FROM bench_plan AS p
    JOIN rfqs AS r ON r.id = p.g
    WHERE NOT p.dup AND p.rel AND p.hb / 41 % 100 < 70
) AS y
CROSS JOIN LATERAL (
    SELECT y.id, y.hb, y.first_seen_at, y.company, y.country_code, y.domain, y.risk,
           CASE WHEN y.hb / 43 % 10 < 6 AND y.domain IS NOT NULL THEN 'procurement@' || y.domain
                WHEN y.hb / 43 % 10 < 8 AND y.buyer_name <> ''
                THEN trim(BOTH '.' FROM regexp_replace(lower(y.buyer_name), '[^a-z]+', '.', 'g')) || '@gmail.com'
                WHEN y.hb / 43 % 10 = 9 AND y.domain IS NOT NULL THEN 'info@' || y.domain
           END AS email
) AS x
ORDER BY x.id
"""

INSERT_CONTACTS = """
INSERT INTO buyer_contacts (buyer_id, contact_key, name, role, email, phone, phone_country, confidence, evidence)
SELECT b.id, COALESCE('email:' || b.email, 'buyer:' || b.id), NULLIF(r.buyer_name, ''),
       (ARRAY['Purchasing Manager', 'Procurement Officer', 'Owner', NULL])[1 + b.id % 4], b.email,
       CASE WHEN b.id % 3 = 0 THEN '+97150' || lpad((b.id % 10000000)::text, 7, '0') END,
       CASE WHEN b.id % 3 = 0 THEN 'AE' END, '{"email": 0.9, "phone": 0.6}'::jsonb,
       jsonb_build_array(jsonb_build_object('source', 'rfq:' || b.rfq_id, 'text', r.title))
FROM buyers AS b
JOIN rfqs AS r ON r.id = b.rfq_id
UNION ALL
SELECT b.id, 'phone:+9714' || lpad((b.id % 10000000)::text, 7, '0'), NULL, 'Sales desk', NULL,
       '+9714' || lpad((b.id % 10000000)::text, 7, '0'), 'AE', '{"phone": 0.8}'::jsonb,
       '[{"source": "company website", "text": "Tel"}]'::jsonb
FROM buyers AS b
WHERE b.id % 10 < 3
"""

INSERT_DRAFTS = """
INSERT INTO quote_drafts (id, cluster_id, rfq_id, buyer_id, state, currency, incoterm, total, needs_review,
                          guardrails_passed, cover_source, catalog_version, fx_as_of, body, ready_at,
                          state_changed_at, created_at, updated_at, run_id)
SELECT x.id, x.id, x.id, x.id, s.state, x.currency, x.incoterm, x.total, x.needs_review, x.hb / 53 % 100 < 96,
       CASE WHEN x.hb / 59 % 100 < 85 THEN 'composer' ELSE 'template' END, %(catalog_version)s, %(fx_as_of)s,
       jsonb_build_object(
           'rfq_id', x.id, 'currency', x.currency, 'incoterm', x.incoterm, 'total', x.total::text,
           'needs_review', x.needs_review, 'catalog_version', %(catalog_version)s,
           'lines', (SELECT jsonb_agg(jsonb_build_object(
                         'phrase', r.title_clean, 'requested_quantity', r.quantity_value,
                         'requested_unit', r.quantity_unit, 'flags', '[]'::jsonb,
                         'sku', 'SKU-' || lpad(((x.hb / 61 + l) % 400)::text, 4, '0'), 'quantity', 1000 * l,
                         'unit', 'pieces', 'currency', x.currency,
                         'unit_price', CASE WHEN (x.hb / 67 + l) % 5 <> 0 THEN (1.25 * l)::text END,
                         'total', CASE WHEN (x.hb / 67 + l) % 5 <> 0 THEN (1250 * l * l)::text END)
                         ORDER BY l)
                     FROM generate_series(1, 1 + (x.hb / 71 % 3)::int) AS l),
           'cover_text', 'Dear ' || coalesce(NULLIF(r.buyer_name, ''), 'buyer') || ', thank you for your request for '
                         || r.title_clean || '. Please find our offer attached; prices are valid for 14 days.',
           'cover_source', 'composer',
           'guardrails', '[{"name": "prices_cited", "passed": true, "failures": []}]'::jsonb),
       x.ready_at, x.ready_at + s.steps * x.gap, x.ready_at, x.ready_at + s.steps * x.gap, 'bench'
FROM (
    SELECT b.id, p.hb, (ARRAY['USD', 'USD', 'AED', 'EUR'])[1 + p.hb / 73 % 4] AS currency,
           (ARRAY['FOB', 'CIF', 'EXW', 'DDP'])[1 + p.hb / 79 % 4] AS incoterm,
           round((50 + p.hb / 83 % 50000) + (p.hb % 100) / 100.0, 2) AS total, p.hb / 89 % 100 < 30 AS needs_review,
           p.first_seen_at + (10 + p.hb / 97 % 80) * interval '1 minute' AS ready_at,
           (20 + p.hb / 101 % 400) * interval '1 minute' AS gap, p.hb / 103 % 100 AS pick
    FROM buyers AS b
    JOIN bench_plan AS p ON p.g = b.cluster_id
    WHERE p.hb / 107 % 100 < 90
) AS x
JOIN rfqs AS r ON r.id = x.id
JOIN bench_draft_states AS s ON x.pick >= s.lo AND x.pick < s.hi
ORDER BY x.id
"""

INSERT_EVENTS = """
INSERT INTO quote_draft_events (draft_id, from_state, to_state, actor, note, at)
SELECT q.id, e.from_state, e.to_state,
       CASE e.actor_kind
           WHEN 'cli' THEN 'cli:reviewer.' || lower((%(first)s::text[])[1 + q.id % 5])
           WHEN 'slack' THEN 'slack:U0' || (q.id % 7 + 1) || 'REVIEWER'
           WHEN 'run' THEN 'run:' || left(md5(q.id::text), 8)
           WHEN 'hubspot' THEN 'hubspot:deal-' || q.id
           ELSE 'sensor:quote_expiry' END,
       CASE WHEN e.to_state = 'rejected' THEN 'not our product range' ELSE '' END,
       q.ready_at + (q.state_changed_at - q.ready_at) * (e.step::double precision / s.steps)
FROM quote_drafts AS q
JOIN bench_draft_states AS s ON s.state = q.state
JOIN bench_draft_paths AS e ON e.state = q.state
ORDER BY q.id, e.step
"""

INSERT_CRAWLS = """
INSERT INTO source_crawls (source, partition_date, run_id, started_at, finished_at, pages_fetched, pages_failed,
                           rfqs_seen, rfqs_new, rfqs_changed, status, challenges, parse_failures)
SELECT c.source, %(day)s, 'bench-' || c.source || '-' || h, %(start)s::timestamptz + h * interval '2 hours',
       %(start)s::timestamptz + h * interval '2 hours' + interval '7 minutes', c.rfqs / 12 / 25 + 1,
       CASE WHEN h = 5 THEN 2 ELSE 0 END, c.rfqs / 12, c.rfqs / 12 * 9 / 10, c.rfqs / 12 / 20,
       CASE WHEN h = 5 THEN 'partial' ELSE 'ok' END, CASE WHEN h = 5 THEN 1 ELSE 0 END, 0
FROM (SELECT source, count(*) AS rfqs FROM bench_plan GROUP BY source) AS c
CROSS JOIN generate_series(0, 11) AS h
"""

INSERT_HEALTH = """
INSERT INTO source_health (source, breaker_state, consecutive_failures, open_until, last_success_at, last_failure_at,
                           last_error, opened_count)
SELECT name,
       CASE WHEN name = 'ec21' THEN 'open' ELSE 'closed' END, CASE WHEN name = 'ec21' THEN 5 ELSE 0 END,
       CASE WHEN name = 'ec21' THEN %(end)s::timestamptz + interval '1 hour' END,
       %(end)s::timestamptz - interval '1 hour',
       CASE WHEN name = 'ec21' THEN %(end)s::timestamptz - interval '10 minutes' END,
       CASE WHEN name = 'ec21' THEN 'HTTP 503 from ec21 (contact ops@example.com)' END,
       CASE WHEN name = 'ec21' THEN 1 ELSE 0 END
FROM sources
"""


@dataclass
class Step:
    """One timed part of a run."""

    name: str
    seconds: float
    rows: int | None = None


@dataclass
class TableTiming:
    """Where one table's export time went."""

    copy_s: float = 0.0  # COPY ... TO STDOUT into a buffer
    read_s: float = 0.0  # the whole read_table: COPY, CSV decode, redaction, hashing
    parquet_s: float = 0.0


@dataclass
class SizeResult:
    """Everything measured for one size."""

    n: int
    day: date
    seed: list[Step] = field(default_factory=list)
    export_s: float = 0.0
    read_s: float = 0.0
    write_s: float = 0.0
    tables: list[tuple[str, int, int, TableTiming]] = field(default_factory=list)  # name, rows, bytes, timing
    build_s: float = 0.0
    views: int = 0
    duckdb_bytes: int = 0
    queries: list[tuple[str, float, int]] = field(default_factory=list)  # file, median seconds, result rows
    peak_rss_mb: float = 0.0

    @property
    def export_bytes(self) -> int:
        """Parquet bytes over every table."""
        return sum(size for _name, _rows, size, _t in self.tables)


def _pool_rows() -> list[tuple[Any, ...]]:
    """The labeled real RFQs, normalized by the pipeline's normalizer, numbered per relevance."""
    from rfq_pipeline.ai.training_data import labeled_examples
    from rfq_pipeline.normalize.rfqs import clean_title, country_code, country_name, parse_quantity

    rows, counters = [], {True: 0, False: 0}
    for example in labeled_examples():
        title = " ".join(example.item.title.split())
        if not title:
            continue
        value, unit = parse_quantity(example.item.quantity)
        code = country_code(example.item.country)
        number = counters[example.relevant]
        counters[example.relevant] += 1
        rows.append(
            (example.relevant, number, title, clean_title(title), example.item.quantity, value, unit,
             example.item.country, code, country_name(code), example.industry, example.is_rfq)
        )  # fmt: skip
    return rows


def _set_unlogged(conn: psycopg.Connection, tables: tuple[str, ...]) -> int:
    """Make ``tables`` and every table referencing them (transitively) unlogged; returns how many were changed.

    A logged table may not reference an unlogged one, so the referencing tables go first.
    """
    edges = conn.execute(
        """
        WITH RECURSIVE closure (oid) AS (
            SELECT oid FROM pg_class
            WHERE relname = ANY(%s) AND relnamespace = 'public'::regnamespace AND relkind = 'r'
            UNION
            SELECT c.conrelid FROM pg_constraint AS c JOIN closure ON c.confrelid = closure.oid WHERE c.contype = 'f'
        )
        SELECT closure.oid::regclass::text, c.conrelid::regclass::text
        FROM closure
        LEFT JOIN pg_constraint AS c
               ON c.confrelid = closure.oid AND c.contype = 'f' AND c.conrelid <> closure.oid
        """,
        (list(tables),),
    ).fetchall()
    referencing: dict[str, set[str]] = {}
    for table, child in edges:
        referencing.setdefault(table, set())
        if child is not None:
            referencing[table].add(child)
    done: set[str] = set()
    while len(done) < len(referencing):
        ready = sorted(t for t, children in referencing.items() if t not in done and children <= done)
        if not ready:
            raise RuntimeError(f"a reference cycle among {sorted(set(referencing) - done)}")
        for table in ready:
            conn.execute(f"ALTER TABLE {table} SET UNLOGGED")
            done.add(table)
    return len(done)


@contextmanager
def _foreign_keys_checked_after_load(conn: psycopg.Connection, tables: tuple[str, ...]) -> Iterator[list[Step]]:
    """Load without the per-row foreign-key triggers, then check every foreign key of ``tables`` in one anti-join.

    Each inserted row otherwise costs one index probe per foreign key (about 4.5 s per million rows and key here);
    one hash anti-join per key checks the same thing in a fraction of that and fails the seed on a dangling
    reference. Skipping the triggers (``session_replication_role = replica``) needs a superuser, which the embedded
    server's login is; on another server the triggers simply stay on. Unique keys and CHECKs are enforced either way.
    """
    steps: list[Step] = []
    try:
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
        skipped = True
    except psycopg.errors.InsufficientPrivilege:
        skipped = False
    yield steps
    if not skipped:
        return
    conn.execute("SET LOCAL session_replication_role = origin")
    keys = conn.execute(
        """
        SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text,
               array_agg(a.attname ORDER BY k.n), array_agg(f.attname ORDER BY k.n)
        FROM pg_constraint AS c
        CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k (child, parent, n)
        JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.child
        JOIN pg_attribute AS f ON f.attrelid = c.confrelid AND f.attnum = k.parent
        WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(%s)
        GROUP BY c.conname, c.conrelid, c.confrelid
        ORDER BY 2, 1
        """,
        (list(tables),),
    ).fetchall()
    started = time.perf_counter()
    for name, child, parent, columns, targets in keys:
        present = " AND ".join(f"c.{col} IS NOT NULL" for col in columns)
        match = " AND ".join(f"p.{target} = c.{col}" for col, target in zip(columns, targets, strict=True))
        (dangling,) = conn.execute(
            f"SELECT count(*) FROM {child} AS c WHERE {present} "
            f"AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE {match})"
        ).fetchone() or (0,)
        if dangling:
            raise RuntimeError(f"the seed broke {name}: {dangling} rows of {child} reference no {parent} row")
    steps.append(Step(f"check {len(keys)} foreign keys (anti-joins)", time.perf_counter() - started))


@contextmanager
def _secondary_indexes_dropped(conn: psycopg.Connection, tables: tuple[str, ...]) -> Iterator[list[Step]]:
    """Drop the tables' indexes that back no constraint, and rebuild them from their own definitions on exit."""
    rows = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index AS i "
        "JOIN pg_class AS t ON t.oid = i.indrelid "
        "WHERE t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)",
        (list(tables),),
    ).fetchall()
    for name, _definition in rows:
        conn.execute(f"DROP INDEX {name}")
    steps: list[Step] = []
    yield steps
    started = time.perf_counter()
    for _name, definition in rows:
        conn.execute(definition)
    steps.append(Step(f"rebuild {len(rows)} secondary indexes", time.perf_counter() - started))


def seed(url: str, n: int, day: date) -> list[Step]:
    """Fill the scratch database at ``url`` with one day of ``n`` RFQs; returns the timed steps."""
    from rfq_pipeline.sources.registry import SOURCES

    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    pool = _pool_rows()
    relevant = sum(1 for row in pool if row[0])
    words = {
        "first": list(FIRST_NAMES), "nfirst": len(FIRST_NAMES), "last": list(LAST_NAMES), "nlast": len(LAST_NAMES),
        "words": list(COMPANY_WORDS), "nwords": len(COMPANY_WORDS), "trades": list(COMPANY_TRADES),
        "ntrades": len(COMPANY_TRADES), "suffixes": list(COMPANY_SUFFIXES), "nsuffixes": len(COMPANY_SUFFIXES),
    }  # fmt: skip
    params: dict[str, Any] = {
        "n": n, "start": start, "end": start + timedelta(days=1), "day": day, "relevant": relevant,
        "other": len(pool) - relevant, "model_version": MODEL_VERSION, "catalog_version": CATALOG_VERSION,
        "fx_as_of": day - timedelta(days=1), **words,
    }  # fmt: skip
    steps: list[Step] = []

    def run(name: str, statement: str) -> None:
        started = time.perf_counter()
        cur = conn.execute(_bind(conn, statement, params))
        steps.append(Step(name, time.perf_counter() - started, cur.rowcount))

    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET work_mem = '256MB'")
        started = time.perf_counter()
        with conn.cursor() as cur:
            for name, spec in SOURCES.items():
                cur.execute(
                    "INSERT INTO sources (name, kind, base_url, cadence) VALUES (%s, %s, %s, %s)",
                    (name, spec.kind, f"https://{name}.example", spec.cadence),
                )
            cur.execute("CREATE UNLOGGED TABLE bench_sources (pct integer PRIMARY KEY, name text, prefix text)")
            shares = [(name, share) for name, share in SOURCE_SHARES.items() if name in SOURCES]
            pct_rows = [(pct, name, name[:2].upper() + "-") for name, share in shares for pct in range(share)]
            pct_rows = [(i, name, prefix) for i, (_pct, name, prefix) in enumerate(pct_rows)]
            if len(pct_rows) != 100:
                raise RuntimeError(f"the source shares must cover 100 percent, not {len(pct_rows)}")
            cur.executemany("INSERT INTO bench_sources VALUES (%s, %s, %s)", pct_rows)
            cur.execute(CREATE_POOL)
            with cur.copy("COPY bench_pool FROM STDIN") as copy:
                for row in pool:
                    copy.write_row(row)
            cur.execute("CREATE UNLOGGED TABLE bench_draft_states (lo integer, hi integer, state text, steps integer)")
            lows = [0] + [hi for hi, _state, _steps in DRAFT_STATES[:-1]]
            cur.executemany(
                "INSERT INTO bench_draft_states VALUES (%s, %s, %s, %s)",
                [(lo, hi, state, count) for lo, (hi, state, count) in zip(lows, DRAFT_STATES, strict=True)],
            )
            cur.execute(
                "CREATE UNLOGGED TABLE bench_draft_paths (state text, step integer, from_state text, to_state text, "
                "actor_kind text)"
            )
            cur.executemany("INSERT INTO bench_draft_paths VALUES (%s, %s, %s, %s, %s)", DRAFT_PATHS)
        steps.append(Step("sources, pools, lookup tables", time.perf_counter() - started))
        run("plan (generate_series, hashes)", CREATE_PLAN)
        started = time.perf_counter()
        changed = _set_unlogged(conn, BULK_TABLES)
        steps.append(Step(f"set {changed} tables unlogged", time.perf_counter() - started))
        with (
            _foreign_keys_checked_after_load(conn, BULK_TABLES) as checked,
            _secondary_indexes_dropped(conn, BULK_TABLES) as rebuilt,
        ):
            run("rfqs", INSERT_RFQS)
            run("classifications", INSERT_CLASSIFICATIONS)
            run("dedup_clusters", INSERT_CLUSTERS)
            run("dedup_cluster_members", INSERT_MEMBERS)
            run("buyers", INSERT_BUYERS)
            run("buyer_contacts", INSERT_CONTACTS)
            run("quote_drafts", INSERT_DRAFTS)
            run("quote_draft_events", INSERT_EVENTS)
            run("source_crawls", INSERT_CRAWLS)
            run("source_health", INSERT_HEALTH)
        steps += rebuilt + checked
        for table in ("rfqs", "dedup_clusters", "buyers", "quote_drafts"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.execute("DROP TABLE bench_plan, bench_pool, bench_sources, bench_draft_states, bench_draft_paths")
        started = time.perf_counter()
        conn.commit()
        steps.append(Step("commit", time.perf_counter() - started))
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("VACUUM (ANALYZE) " + ", ".join((*BULK_TABLES, "source_crawls", "source_health", "sources")))
    steps.append(Step("vacuum analyze", time.perf_counter() - started))
    return steps


# --- export, build, queries ---------------------------------------------------------------------------------------


@contextmanager
def _timed_writer(timings: dict[str, TableTiming]) -> Iterator[None]:
    """Time the writer's COPY, read and Parquet steps per table while ``export_day`` runs unchanged."""
    originals = {name: getattr(writer, name) for name in ("_copy_csv", "read_table", "to_parquet")}

    def wrap(name: str, slot: str) -> Callable[..., Any]:
        def timed(conn: Any, spec: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return originals[name](conn, spec, *args, **kwargs)
            finally:
                entry = timings.setdefault(spec.name, TableTiming())
                setattr(entry, slot, getattr(entry, slot) + time.perf_counter() - started)

        return timed

    writer._copy_csv = wrap("_copy_csv", "copy_s")  # type: ignore[assignment]
    writer.read_table = wrap("read_table", "read_s")  # type: ignore[assignment]
    # to_parquet(frame, spec, ...): the spec is the second argument, as for the other two
    writer.to_parquet = wrap("to_parquet", "parquet_s")  # type: ignore[assignment]
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(writer, name, original)


def _median_query(path: Path, text: str, repeat: int = 3) -> tuple[float, int]:
    import duckdb

    seconds, rows = [], 0
    with duckdb.connect(str(path), read_only=True) as con:
        for _ in range(repeat):
            started = time.perf_counter()
            rows = len(con.execute(text).fetchall())
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), rows


def bench_size(n: int, *, contacts: bool = False) -> SizeResult:
    """Seed one day of ``n`` RFQs in a scratch database, export it, build the DuckDB file, run the analyst SQL."""
    from rfq_pipeline.db.database import Database
    from rfq_pipeline.dedup.tempdb import temporary_database
    from rfq_pipeline.settings import Settings
    from rfq_pipeline.store.object_store import LocalObjectStore

    settings = Settings.from_env()
    day = datetime.now(UTC).date() - timedelta(days=2)  # old enough that every seeded state change has happened
    result = SizeResult(n=n, day=day)
    options = writer.ExportOptions(salt=SALT, contacts=contacts, role=settings.export_role)
    with (
        tempfile.TemporaryDirectory(prefix="rfq-bench-exports-") as tmp,
        temporary_database(settings, prefix="rfq_bench_exports") as url,
    ):
        result.seed = seed(url, n, day)
        store = LocalObjectStore(Path(tmp) / "objects" / "exports")
        timings: dict[str, TableTiming] = {}
        with Database(url, min_size=1, max_size=1) as db, _timed_writer(timings):
            started = time.perf_counter()
            report = writer.export_day(db, store, day, options=options)
            result.export_s = time.perf_counter() - started
        result.read_s, result.write_s = report.read_seconds, report.write_seconds
        result.tables = [(t.table, t.rows, t.bytes, timings.get(t.table, TableTiming())) for t in report.tables]

        path = Path(tmp) / "analytics.duckdb"
        started = time.perf_counter()
        build = writer.build_duckdb(writer.export_root(store), path)
        result.build_s = time.perf_counter() - started
        result.views = len(build.tables)
        result.duckdb_bytes = path.stat().st_size
        for query in sorted((settings.migrations_dir / "analyst").glob("*.sql")):
            seconds, rows = _median_query(path, query.read_text(encoding="utf-8"))
            result.queries.append((query.name, seconds, rows))
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


# --- printing -----------------------------------------------------------------------------------------------------


def _rate(rows: int, seconds: float, width: int = 12) -> str:
    return f"{rows / seconds:>{width},.0f}" if seconds > 0 else f"{'-':>{width}}"


def render(result: SizeResult) -> str:
    """The compact report of one size."""
    n = result.n
    out = [f"exports: {n:,} RFQs posted on {result.day} across {len(SOURCE_SHARES)} sources"]
    seed_total = sum(step.seconds for step in result.seed)
    out.append(f"  {'seed (not counted)':<36}{'rows':>11}{'s':>9}{'rows/s':>12}")
    for step in result.seed:
        rows = f"{step.rows:>11,}" if step.rows is not None else f"{'':>11}"
        rate = _rate(step.rows, step.seconds) if step.rows else ""
        out.append(f"    {step.name:<34}{rows}{step.seconds:>9.2f}{rate}")
    out.append(f"    {'total':<34}{'':>11}{seed_total:>9.2f}{_rate(n, seed_total)} RFQs/s")
    out.append(
        f"  {'export_day':<22}{'rows':>11}{'bytes':>13}{'copy s':>8}{'decode s':>9}{'parquet s':>10}{'s':>8}"
        f"{'rows/s':>11}"
    )
    for name, rows, size, t in result.tables:
        seconds = t.read_s + t.parquet_s
        out.append(
            f"    {name:<20}{rows:>11,}{size:>13,}{t.copy_s:>8.2f}{t.read_s - t.copy_s:>9.2f}{t.parquet_s:>10.2f}"
            f"{seconds:>8.2f}{_rate(rows, seconds, 11)}"
        )
    rows = sum(r for _name, r, _size, _t in result.tables)
    size = result.export_bytes
    out.append(f"    {'write (store.put)':<20}{'':>11}{'':>13}{'':>8}{'':>9}{'':>10}{result.write_s:>8.2f}")
    out.append(
        f"    {'total':<20}{rows:>11,}{size:>13,}{'':>8}{'':>9}{'':>10}{result.export_s:>8.2f}"
        f"{_rate(rows, result.export_s, 11)}"
    )
    out.append(
        f"    {size / 1e6:.1f} MB Parquet, {size / n:.1f} bytes/RFQ, {n / result.export_s:,.0f} RFQs/s exported "
        f"(snapshot read + encode {result.read_s:.2f} s, put {result.write_s:.2f} s)"
    )
    out.append(
        f"  build_duckdb: {result.build_s:.2f} s ({result.views} views, file {result.duckdb_bytes / 1e6:.2f} MB)"
    )
    out.append(f"  {'analyst query (median of 3)':<48}{'s':>8}{'rows':>7}")
    for name, seconds, result_rows in result.queries:
        out.append(f"    {name:<46}{seconds:>8.3f}{result_rows:>7}")
    out.append(f"  peak RSS of this process so far: {result.peak_rss_mb:,.0f} MB")
    return "\n".join(out)


def render_ratios(results: list[SizeResult]) -> str:
    """How the export scales from the smallest size to the largest."""
    small, large = results[0], results[-1]
    factor = large.n / small.n
    lines = [f"scaling {large.n:,} / {small.n:,} RFQs (x{factor:.0f} rows)"]
    pairs = (
        ("export_day seconds", small.export_s, large.export_s),
        ("Parquet bytes", small.export_bytes, large.export_bytes),
        ("build_duckdb seconds", small.build_s, large.build_s),
    )
    for name, a, b in pairs:
        lines.append(f"  {name:<50}{b / a:>9.2f}")
    for (name, a, _rows), (_name, b, _rows2) in zip(small.queries, large.queries, strict=True):
        lines.append(f"  {'query ' + name:<50}{b / a:>9.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run every size and print its report, then the scaling ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(n) for n in SIZES), help="comma-separated RFQ counts")
    parser.add_argument("--contacts", action="store_true", help="export contacts too (RFQ_EXPORT_CONTACTS=true)")
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.sizes.split(",") if part.strip()]
    results = []
    for n in sizes:
        result = bench_size(n, contacts=args.contacts)
        print(render(result), flush=True)
        results.append(result)
    if len(results) > 1:
        print(render_ratios(results))


if __name__ == "__main__":
    main()
