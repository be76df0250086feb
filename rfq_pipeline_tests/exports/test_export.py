"""Exporting a seeded day: Parquet per table and day, the DuckDB file over it, pseudonymized personal data, the
read-only role, re-exports and interrupted exports."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path

import duckdb
import polars as pl
import psycopg
import pytest

from rfq_pipeline.db import migrations
from rfq_pipeline.db.database import Database
from rfq_pipeline.exports.tables import ALL, RFQS, TABLES, TableSpec, duckdb_type, object_key
from rfq_pipeline.exports.writer import (
    ExportError,
    ExportOptions,
    build_duckdb,
    export_day,
    export_root,
    export_transaction,
    installation_salt,
    pseudonym,
)
from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import LocalObjectStore
from rfq_pipeline_tests.conftest import MIGRATIONS_DIR
from rfq_pipeline_tests.exports.conftest import DAY, NOW, SALT, Seeded, SeedRfq, _insert_rfq

D = DAY.date()
EXPECTED_ROWS = {
    "rfqs": 6,
    "classifications": 7,  # the lathe has two model versions
    "clusters": 5,
    "buyers": 4,  # the lathe is not relevant: never enriched
    "contacts": 0,  # off by default
    "quote_drafts": 4,
    "quote_draft_events": 7,  # won: 3 moves, lost: 3, edited: 1
    "source_health": 2,
    "quote_outcomes": 4,
}


def _export(db: Database, store: LocalObjectStore, options: ExportOptions, path: Path, **kwargs) -> dict[str, int]:
    report = export_day(db, store, D, options=options, **kwargs)
    build_duckdb(export_root(store), path)
    return {t.table: t.rows for t in report.tables}


def _counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {name: con.execute(f'FROM "{name}" SELECT count(*)').fetchall()[0][0] for name in TABLES}


def _rows(path: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(query).fetchall()


def _unquote(type_name: str) -> str:
    return type_name.replace('"', "")


def test_a_day_exports_every_table_and_duckdb_reads_it(
    seeded: Seeded, db: Database, exports_store: LocalObjectStore, options: ExportOptions, tmp_path: Path
) -> None:
    path = tmp_path / "analytics.duckdb"
    report = export_day(db, exports_store, D, options=options)
    assert [t.table for t in report.tables] == list(ALL)
    assert {t.table: t.rows for t in report.tables} == EXPECTED_ROWS
    for item in report.tables:
        assert item.key == object_key(item.table, "2025-07-13") and exports_store.exists(item.key)
        assert item.bytes == len(exports_store.get(item.key)) and item.bytes > 0
    build = build_duckdb(export_root(exports_store), path)
    assert _counts(path) == EXPECTED_ROWS
    assert {name: (m.rows, m.days, m.first_day) for name, m in build.tables.items()} == {
        name: (rows, 1, D) for name, rows in EXPECTED_ROWS.items()
    }

    with duckdb.connect(str(path), read_only=True) as con:
        for name, spec in TABLES.items():  # every view has the spec's columns and types, then the partition day
            described = [(row[0], _unquote(row[1])) for row in con.execute(f'DESCRIBE "{name}"').fetchall()]
            assert described == [(c.name, _unquote(duckdb_type(c.dtype))) for c in spec.columns] + [("date", "DATE")]
        meta = con.execute(
            "FROM export_meta SELECT table_name, schema_version, file_schema_versions, rows, days, first_day "
            "ORDER BY table_name"
        ).fetchall()
        assert meta == sorted((name, 1, "1", rows, 1, D) for name, rows in EXPECTED_ROWS.items())

    ids = seeded.rfq_ids
    lotion_cluster = seeded.cluster_ids["lotion"]
    (cluster,) = _rows(
        path,
        f"FROM clusters SELECT canonical_rfq_id, member_count, source_count, sightings, first_seen_at IS NOT NULL, "
        f'"date" WHERE cluster_id = {lotion_cluster}',
    )
    assert cluster[:3] == (ids["lotion"], 2, 2) and cluster[4:] == (True, D)
    assert [(s["source"], s["external_id"], s["url"], s["matched_by"]) for s in cluster[3]] == [
        ("alibaba_rfq", "A-1", "https://alibaba_rfq.example/rfq/A-1", "new"),
        ("tradekey", "T-9", "https://tradekey.example/rfq/T-9", "near_duplicate"),
    ]
    assert _rows(path, "FROM rfqs SELECT rfq_id, is_duplicate, canonical_rfq_id WHERE is_duplicate") == [
        (ids["lotion_repost"], True, ids["lotion"])
    ]
    assert _rows(path, f"FROM rfqs SELECT title WHERE rfq_id = {ids['argan']}") == [("Argan oil 100ml, call [phone]",)]
    # The lathe was once labelled relevant; its latest label (the newer model version) is not.
    assert _rows(
        path, f"FROM classifications SELECT model_version, relevant, is_latest WHERE rfq_id = {ids['lathe']} ORDER BY 1"
    ) == [("test-v1", True, False), ("test-v2", False, True)]
    assert _rows(path, "FROM classifications SELECT count(*) WHERE is_latest") == [(6,)]
    states = dict(_rows(path, "FROM quote_drafts SELECT draft_id, state"))
    assert {key: states[draft_id] for key, draft_id in seeded.draft_ids.items()} == {
        "lotion": "won",
        "argan": "lost",
        "shampoo": "queued",
        "cream": "edited",
    }
    assert _rows(path, "FROM quote_drafts SELECT min(rfq_posted_at) = min(ready_at) - INTERVAL 12 HOUR") == [(True,)]
    assert _rows(path, "FROM source_health SELECT source, crawls, pages_fetched, pages_failed ORDER BY source") == [
        ("alibaba_rfq", 0, 0, 0),
        ("tradekey", 1, 4, 1),
    ]


def test_personal_data_is_hashed_or_left_out_everywhere(
    seeded: Seeded, db: Database, exports_store: LocalObjectStore, tmp_path: Path
) -> None:
    options = ExportOptions(salt=SALT.encode(), contacts=True)  # the widest export there is
    path = tmp_path / "analytics.duckdb"
    _export(db, exports_store, options, path)
    clear = {value.casefold() for value in seeded.clear_values}
    phone_digits = {re.sub(r"\D", "", v) for v in seeded.clear_values if v.startswith("+")}
    phone_digits |= {d[3:] for d in phone_digits}  # without the country code, as written locally
    assert len(clear) >= 12 and "buyer@oasis-beauty.ae" in clear and "sara ali" in clear and phone_digits

    files = [exports_store.root / key for key in exports_store.list_keys("exports/")]
    assert len(files) == len(ALL)
    for file in files:
        raw = file.read_bytes().decode("latin-1").casefold()
        text = pl.read_parquet(file).write_ndjson().casefold()
        for value in clear:
            assert value not in raw and value not in text, f"{value!r} in {file.name} of {file.parent.parent.name}"
        for cell in re.findall(r'"([^"]*)"', text):
            if not re.fullmatch(r"[0-9a-f]{64}", cell):  # hashes are hex; any other text must not carry a number
                assert not any(d in re.sub(r"\D", "", cell) for d in phone_digits), cell

    email = "buyer@oasis-beauty.ae"
    assert _rows(path, f"FROM buyers SELECT email_sha256, email_domain WHERE rfq_id = {seeded.rfq_ids['lotion']}") == [
        (pseudonym(email, SALT.encode(), "email"), "oasis-beauty.ae")
    ]
    assert pseudonym(" Buyer@Oasis-Beauty.AE ", SALT.encode(), "email") == pseudonym(email, SALT.encode(), "email")
    assert pseudonym(email, b"another-salt-0123456789", "email") != pseudonym(email, SALT.encode(), "email")
    # Reposts by one person still group: both sightings of the lotion request carry the same hashed buyer name.
    ids = seeded.rfq_ids
    assert _rows(
        path,
        f"FROM rfqs SELECT count(DISTINCT buyer_name_sha256) WHERE rfq_id IN ({ids['lotion']}, {ids['lotion_repost']})",
    ) == [(1,)]
    assert _rows(path, "FROM quote_draft_events SELECT DISTINCT actor_kind, actor_sha256") == [
        ("cli", pseudonym("cli:reviewer.jane", SALT.encode(), "name"))
    ]


def test_contacts_are_empty_by_default_and_hashed_when_enabled(
    seeded: Seeded, db: Database, exports_store: LocalObjectStore, tmp_path: Path
) -> None:
    path = tmp_path / "analytics.duckdb"
    env = {"RFQ_DATA_DIR": str(tmp_path / "data"), "RFQ_EXPORT_PII_SALT": SALT}
    _export(db, exports_store, ExportOptions.from_settings(Settings.from_env(env)), path)
    assert _counts(path)["contacts"] == 0
    empty_columns = _rows(path, "DESCRIBE contacts")

    enabled = ExportOptions.from_settings(Settings.from_env({**env, "RFQ_EXPORT_CONTACTS": "true"}))
    assert enabled.contacts and enabled.salt == SALT.encode()
    _export(db, exports_store, enabled, path)
    assert _rows(path, "DESCRIBE contacts") == empty_columns  # the same table, now with rows
    with psycopg.connect(seeded.url) as conn:
        stored = conn.execute("SELECT count(*), count(email), count(phone), count(name) FROM buyer_contacts").fetchone()
    assert _rows(path, "FROM contacts SELECT count(*), count(email_sha256), count(phone_sha256), count(*) FILTER "
                       "(WHERE has_name)") == [stored]  # fmt: skip
    assert _rows(path, "FROM contacts SELECT DISTINCT phone_country WHERE phone_sha256 IS NOT NULL") == [("AE",)]
    assert sorted(_rows(path, "FROM contacts SELECT DISTINCT email_domain WHERE email_domain IS NOT NULL")) == [
        ("desertrose.ae",),
        ("glowhouse.ae",),
        ("khalidbeauty.ae",),
        ("oasis-beauty.ae",),
    ]
    assert _rows(path, "FROM contacts SELECT phone_sha256 WHERE phone_sha256 IS NOT NULL ORDER BY 1") == sorted(
        [(pseudonym("+971501234567", SALT.encode(), "phone"),), (pseudonym("+97145550199", SALT.encode(), "phone"),)]
    )
    assert _rows(path, "FROM contacts SELECT DISTINCT role WHERE has_name ORDER BY 1") == [
        ("procurement manager",),
        ("purchasing manager",),
    ]


INSERT_CLARIFICATION_MAIL = """
INSERT INTO outbound_emails (draft_id, version, kind, to_address, from_address, reply_to, subject, message_id, status,
                             actor)
VALUES (%s, %s, 'clarification', 'khalid@khalidbeauty.ae', 'quotes@seller.example', 'rfq@seller.example',
        'Your RFQ: face cream', %s, %s, 'desk:rep@seller.example')
"""


def test_quote_outcomes_follow_each_draft_to_its_outcome(
    seeded: Seeded, db: Database, exports_store: LocalObjectStore, options: ExportOptions, tmp_path: Path
) -> None:
    drafts = seeded.draft_ids
    with psycopg.connect(seeded.url) as conn:
        # The lotion quote was mailed at 12:30, before a person marked it sent at 13:00: the earlier time counts.
        conn.execute(
            "UPDATE quote_drafts SET first_sent_at = %s WHERE id = %s", (NOW + timedelta(minutes=30), drafts["lotion"])
        )
        # The cream draft asked the buyer twice (a mail and a marketplace reply; a failed mail does not count) and
        # was redrafted from the answer; a non-state event repeating 'edited' is not a move.
        cream = drafts["cream"]
        conn.execute("UPDATE quote_drafts SET version = 2 WHERE id = %s", (cream,))
        conn.execute(INSERT_CLARIFICATION_MAIL, (cream, 1, "m-1@seller.example", "sent"))
        conn.execute(INSERT_CLARIFICATION_MAIL, (cream, 2, "m-2@seller.example", "failed"))
        conn.execute(
            "INSERT INTO marketplace_reply_tasks (draft_id, version, kind, source, body_text, status) "
            "VALUES (%s, 2, 'clarification', 'tradekey', 'Which jar colour?', 'done')",
            (cream,),
        )
        conn.execute(
            "INSERT INTO quote_draft_events (draft_id, from_state, to_state, actor, action, at) "
            "VALUES (%s, 'edited', 'edited', 'desk:rep@seller.example', 'clarification_sent', %s)",
            (cream, NOW),
        )
    path = tmp_path / "analytics.duckdb"
    _export(db, exports_store, options, path)

    rows = _rows(
        path,
        "FROM quote_outcomes SELECT draft_id, source, industry, country_code, state, version_count, approved, sent, "
        "outcome, time_to_first_quote_hours, clarifications_sent, approver_kind ORDER BY draft_id",
    )
    by_key = {key: rows[[r[0] for r in rows].index(draft_id)][1:] for key, draft_id in drafts.items()}
    beauty = ("beauty_personal_care", "AE")
    assert by_key == {
        # posted 09:00, mailed 12:30
        "lotion": ("alibaba_rfq", *beauty, "won", 1, True, True, "won", 3.5, 0, "cli"),
        # posted 06:00, marked sent 13:00
        "argan": ("tradekey", *beauty, "lost", 1, True, True, "lost", 7.0, 0, "cli"),
        "shampoo": ("alibaba_rfq", *beauty, "queued", 1, False, False, None, None, 0, None),
        "cream": ("tradekey", *beauty, "edited", 2, False, False, None, None, 2, None),
    }
    # The approver is hashed like the actor of the events, so the two tables join on it.
    assert _rows(
        path,
        "FROM quote_outcomes o JOIN quote_draft_events e ON e.draft_id = o.draft_id AND e.to_state = 'approved' "
        "SELECT count(*), count(*) FILTER (WHERE o.approver_sha256 = e.actor_sha256 AND o.approved_at = e.at)",
    ) == [(2, 2)]
    assert _rows(path, "FROM quote_outcomes SELECT DISTINCT approver_sha256 WHERE approved") == [
        (pseudonym("cli:reviewer.jane", SALT.encode(), "name"),)
    ]
    assert _rows(path, "FROM quote_outcomes SELECT count(*) WHERE drafted_at IS NULL OR rfq_posted_at IS NULL") == [
        (0,)
    ]


def test_re_exporting_a_day_replaces_its_files(
    seeded: Seeded, db: Database, exports_store: LocalObjectStore, options: ExportOptions, tmp_path: Path
) -> None:
    path = tmp_path / "analytics.duckdb"
    _export(db, exports_store, options, path)
    _export(db, exports_store, options, path)
    assert _counts(path) == EXPECTED_ROWS  # no day counted twice
    with psycopg.connect(seeded.url) as conn:
        conn.execute("UPDATE quote_drafts SET state = 'rejected' WHERE id = %s", (seeded.draft_ids["shampoo"],))
    _export(db, exports_store, options, path)
    assert _counts(path) == EXPECTED_ROWS
    assert _rows(path, f"FROM quote_drafts SELECT state WHERE draft_id = {seeded.draft_ids['shampoo']}") == [
        ("rejected",)
    ]
    assert len(list(exports_store.list_keys("exports/"))) == len(ALL)
    assert not list(exports_store.root.rglob(".tmp-*"))


def _snapshot(store: LocalObjectStore) -> dict[str, bytes]:
    return {key: store.get(key) for key in store.list_keys("exports/")}


def _add_rfq(url: str) -> None:
    with psycopg.connect(url) as conn:
        _insert_rfq(conn, SeedRfq("late", "tradekey", "T-99", "Hand cream 75ml", "", "", "Late Buyer", 23))


BOOM = TableSpec(name="boom", description="fails while reading", sql="SELECT 1 / 0 AS x", columns=RFQS.columns[:1])


def test_a_failure_while_reading_publishes_nothing(
    seeded: Seeded, db: Database, exports_store: LocalObjectStore, options: ExportOptions, tmp_path: Path
) -> None:
    path = tmp_path / "analytics.duckdb"
    _export(db, exports_store, options, path)
    before, duck_before = _snapshot(exports_store), path.read_bytes()
    _add_rfq(seeded.url)
    with pytest.raises(psycopg.errors.DivisionByZero):
        export_day(db, exports_store, D, options=options, tables=[*ALL[:3], BOOM, *ALL[3:]])
    assert _snapshot(exports_store) == before  # rfqs was read with its new row, but never put
    assert path.read_bytes() == duck_before and _counts(path) == EXPECTED_ROWS


class FailingStore(LocalObjectStore):
    """A local store whose ``fail_on``-th put raises, as a full disk or a lost S3 connection would."""

    def __init__(self, root: Path, fail_on: int) -> None:
        super().__init__(root)
        self.puts, self.fail_on = 0, fail_on

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> str:
        self.puts += 1
        if self.puts == self.fail_on:
            raise OSError(28, "No space left on device")
        return super().put(key, data, content_type=content_type)


def test_a_failure_while_publishing_leaves_every_file_and_the_duckdb_file_readable(
    seeded: Seeded, db: Database, exports_store: LocalObjectStore, options: ExportOptions, tmp_path: Path
) -> None:
    path = tmp_path / "analytics.duckdb"
    _export(db, exports_store, options, path)
    before = _snapshot(exports_store)
    _add_rfq(seeded.url)
    flaky = FailingStore(exports_store.root, fail_on=3)
    with pytest.raises(OSError, match="No space left"):
        export_day(db, flaky, D, options=options)
    after = _snapshot(exports_store)
    changed = {key for key in before if after[key] != before[key]}
    assert changed == {object_key("rfqs", "2025-07-13"), object_key("classifications", "2025-07-13")}
    for key in after:  # whole files only: each one reads
        pl.read_parquet(exports_store.root / key)
    assert not list(exports_store.root.rglob(".tmp-*"))
    # The DuckDB file was not rebuilt, and still works: the views read the files as they now are.
    assert _rows(path, "FROM export_meta SELECT rows WHERE table_name = 'rfqs'") == [(6,)]
    assert _counts(path) == {**EXPECTED_ROWS, "rfqs": 7, "classifications": 7}
    _export(db, exports_store, options, path)  # the next run completes the day
    assert _rows(path, "FROM export_meta SELECT rows WHERE table_name = 'rfqs'") == [(7,)]


def test_a_reader_of_the_old_duckdb_file_keeps_working_through_a_rebuild(
    seeded: Seeded, db: Database, exports_store: LocalObjectStore, options: ExportOptions, tmp_path: Path
) -> None:
    path = tmp_path / "analytics.duckdb"
    _export(db, exports_store, options, path)
    reader = duckdb.connect(str(path), read_only=True)
    try:
        (old_built,) = reader.execute("FROM export_meta SELECT max(built_at)").fetchall()[0]
        _export(db, exports_store, options, path)
        assert reader.execute("FROM rfqs SELECT count(*)").fetchall() == [(6,)]
        assert reader.execute("FROM export_meta SELECT max(built_at)").fetchall() == [(old_built,)]
    finally:
        reader.close()
    assert _rows(path, "FROM export_meta SELECT max(built_at)")[0][0] > old_built
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temporaries left


def test_a_column_added_later_reads_null_on_older_days(
    seeded: Seeded, db: Database, exports_store: LocalObjectStore, options: ExportOptions, tmp_path: Path
) -> None:
    # An older release exported rfqs without its last column; the current one adds it (an additive change).
    names = ", ".join(c.name for c in RFQS.columns[:-1])
    old_rfqs = dataclasses.replace(RFQS, sql=f"SELECT {names} FROM ({RFQS.sql}) AS t", columns=RFQS.columns[:-1])
    export_day(db, exports_store, D, options=options, tables=[old_rfqs])
    with psycopg.connect(seeded.url) as conn:
        _insert_rfq(conn, SeedRfq("next", "tradekey", "T-50", "Body wash", "", "", "X", 1), day=DAY + timedelta(days=1))
    export_day(db, exports_store, D + timedelta(days=1), options=options, tables=["rfqs"])
    path = tmp_path / "analytics.duckdb"
    build_duckdb(export_root(exports_store), path)
    assert _rows(path, 'FROM rfqs SELECT "date", count(*), count(is_duplicate) GROUP BY 1 ORDER BY 1') == [
        (D, 6, 0),
        (D + timedelta(days=1), 1, 0),
    ]
    assert _rows(path, "FROM export_meta SELECT days, last_day WHERE table_name = 'rfqs'") == [
        (2, D + timedelta(days=1))
    ]


def test_tables_never_exported_are_empty_views_with_their_columns(tmp_path: Path) -> None:
    path = tmp_path / "analytics.duckdb"
    report = build_duckdb(tmp_path / "nothing-here", path)
    assert {m.rows for m in report.tables.values()} == {0} and {m.days for m in report.tables.values()} == {0}
    assert _counts(path) == dict.fromkeys(TABLES, 0)
    assert [row[0] for row in _rows(path, "DESCRIBE buyers")] == [c.name for c in TABLES["buyers"].columns] + ["date"]


def test_the_export_transaction_cannot_write(db: Database) -> None:
    with db.connection() as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), export_transaction(conn, "rfq_export_reader"):
            assert conn.execute("SELECT current_user").fetchone() == ("rfq_export_reader",)
            assert conn.execute("SELECT count(*) FROM rfqs").fetchone() == (6,)
            conn.execute("INSERT INTO run_failures (run_id, source, job_name, failed_at) VALUES ('x', 'y', 'z', now())")
        login = conn.execute("SELECT current_user").fetchone()[0]
        assert login != "rfq_export_reader"  # SET LOCAL: the pooled connection is back to its login
        conn.rollback()
        # The role alone, in a writable transaction, may not write either.
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("SET LOCAL ROLE rfq_export_reader")
            conn.execute("DELETE FROM rfqs")
    with psycopg.connect(db.url) as check:
        assert check.execute("SELECT count(*) FROM rfqs").fetchone() == (6,)


def test_a_role_the_login_cannot_assume_is_explained(
    seeded: Seeded, db: Database, exports_store: LocalObjectStore, tmp_path: Path
) -> None:
    with pytest.raises(ExportError, match=r"'no_such_reader'.*RFQ_EXPORT_ROLE empty"):
        export_day(db, exports_store, D, options=ExportOptions(salt=SALT.encode(), role="no_such_reader"))
    assert list(exports_store.list_keys()) == []
    report = export_day(db, exports_store, D, options=ExportOptions(salt=SALT.encode(), role=None))  # SET ROLE off
    assert report.rows == sum(EXPECTED_ROWS.values())


def test_the_migration_creates_the_reader_role_idempotently(fresh_database: str) -> None:
    migrations.migrate(fresh_database, MIGRATIONS_DIR)  # the role exists already (roles are per server): fine
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'rfq_export_reader'").fetchone() == (
            False,
        )
        conn.execute("CREATE TABLE later_table (id int)")  # as a later migration would, as the migrating user
        rows = conn.execute(
            "SELECT t, has_table_privilege('rfq_export_reader', t, 'SELECT'), "
            "has_table_privilege('rfq_export_reader', t, 'INSERT') FROM unnest(%s::text[]) AS t",
            (["rfqs", "buyer_contacts", "quote_drafts", "later_table"],),
        ).fetchall()
        assert rows == [(t, True, False) for t in ("rfqs", "buyer_contacts", "quote_drafts", "later_table")]
        conn.rollback()
        conn.execute((MIGRATIONS_DIR / "009_export_reader.sql").read_text())  # running it again changes nothing
        conn.rollback()


def test_the_installation_salt_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = installation_salt(tmp_path)
    assert installation_salt(tmp_path) == first and len(first) == 64
    salt_file = tmp_path / "secrets" / "export_pii_salt"
    assert salt_file.stat().st_mode & 0o777 == 0o600
    options = ExportOptions.from_settings(Settings.from_env({"RFQ_DATA_DIR": str(tmp_path)}))
    assert options.salt == first and not options.contacts and options.role == "rfq_export_reader"
    assert SALT not in repr(options) and first.decode() not in repr(options)
