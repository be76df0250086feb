import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from rfq_pipeline.db import migrations
from rfq_pipeline_tests.conftest import MIGRATIONS_DIR


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_migrate_applies_every_file_once_and_rerun_is_a_noop(fresh_database: str) -> None:
    applied = migrations.migrate(fresh_database, MIGRATIONS_DIR)
    assert [m.version for m in applied] == [m.version for m in migrations.discover(MIGRATIONS_DIR)]
    assert {
        "sources",
        "raw_pages",
        "rfqs",
        "classifications",
        "rfq_embeddings",
        "dedup_clusters",
        "dedup_cluster_members",
        "source_health",
        "source_crawls",
        "schema_migrations",
    } <= _tables(fresh_database)
    assert migrations.migrate(fresh_database, MIGRATIONS_DIR) == []
    assert migrations.pending(fresh_database, MIGRATIONS_DIR) == []


def test_concurrent_runners_apply_each_migration_once(fresh_database: str) -> None:
    results: list[list[migrations.Migration]] = []
    errors: list[BaseException] = []

    def runner() -> None:
        try:
            results.append(migrations.migrate(fresh_database, MIGRATIONS_DIR))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=runner) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(len(r) for r in results) == [0, 0, 0, len(migrations.discover(MIGRATIONS_DIR))]
    with psycopg.connect(fresh_database) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [m.version for m in migrations.discover(MIGRATIONS_DIR)]


def test_failed_migration_rolls_back_and_is_not_recorded(fresh_database: str, tmp_path: Path) -> None:
    shutil.copy(MIGRATIONS_DIR / "001_initial_schema.sql", tmp_path)
    (tmp_path / "002_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\n"
        "ALTER TABLE rfqs ADD COLUMN created_at timestamptz;\n"
        "SELECT no_such_function();\n"
    )
    with pytest.raises(migrations.MigrationError, match=r"002_broken\.sql failed"):
        migrations.migrate(fresh_database, tmp_path)
    assert "half_done" not in _tables(fresh_database)
    assert [m.name for m in migrations.pending(fresh_database, tmp_path)] == ["broken"]


def test_changed_applied_migration_is_refused(fresh_database: str, tmp_path: Path) -> None:
    shutil.copy(MIGRATIONS_DIR / "001_initial_schema.sql", tmp_path)
    migrations.migrate(fresh_database, tmp_path)
    path = tmp_path / "001_initial_schema.sql"
    path.write_text(path.read_text() + "\n-- edited after the fact\n")
    with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
        migrations.migrate(fresh_database, tmp_path)


@pytest.mark.parametrize("name", ["1_short.sql", "001-dash.sql", "001_UPPER.sql"])
def test_misnamed_files_are_rejected(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(migrations.MigrationError, match="NNN_lower_snake"):
        migrations.discover(tmp_path)


def test_duplicate_versions_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "001_a.sql").write_text("SELECT 1;")
    (tmp_path / "001_b.sql").write_text("SELECT 1;")
    with pytest.raises(migrations.MigrationError, match="version 1"):
        migrations.discover(tmp_path)
