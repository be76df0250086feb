"""Every SQL statement in the package is prepared against the migrated schema.

PostgreSQL resolves every table and column when it prepares a statement, so a column the code reads or writes but
the migrations never created (the predecessor's ``column "created_at" does not exist``) fails here.
"""

import ast
import re
from pathlib import Path

import psycopg
import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "rfq_pipeline"
_DML = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.I)
_NAMED = re.compile(r"%\((\w+)\)s")


def _sql_literals() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "devtools" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _DML.match(node.value):
                text = node.value
                # skip prose that merely starts with a keyword
                if re.search(r"\b(FROM|INTO|SET|VALUES)\b", text) or text.strip().upper().startswith("SELECT"):
                    found.append((f"{path.relative_to(PACKAGE.parent)}:{node.lineno}", text))
    return found


def _to_positional(statement: str) -> str:
    names: dict[str, int] = {}

    def named(match: re.Match[str]) -> str:
        return f"${names.setdefault(match.group(1), len(names) + 1)}"

    statement = _NAMED.sub(named, statement)
    counter = iter(range(len(names) + 1, 10_000))
    return re.sub(r"%s", lambda _m: f"${next(counter)}", statement)


STATEMENTS = _sql_literals()


def test_the_scan_finds_the_code_sql() -> None:
    # If the scan silently stopped finding statements this whole file would pass vacuously.
    places = " ".join(place for place, _ in STATEMENTS)
    assert len(STATEMENTS) >= 10
    assert "db/repository.py" in places and "db/migrations.py" in places


@pytest.mark.parametrize(("place", "statement"), STATEMENTS, ids=[p for p, _ in STATEMENTS])
def test_statement_prepares_against_schema(pg_url: str, place: str, statement: str) -> None:
    assert not re.search(r"SELECT\s+\*", statement, re.I), f"{place}: name the columns instead of SELECT *"
    with psycopg.connect(pg_url) as conn:
        result = conn.pgconn.prepare(b"", _to_positional(statement).encode())
        message = (result.error_message or b"").decode()
        assert result.status == psycopg.pq.ExecStatus.COMMAND_OK, f"{place}: {message}"


def test_parity_catches_a_missing_column(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        result = conn.pgconn.prepare(b"", b"SELECT created_at FROM rfqs WHERE id = $1")
    assert result.status != psycopg.pq.ExecStatus.COMMAND_OK
    assert b'column "created_at" does not exist' in (result.error_message or b"")
