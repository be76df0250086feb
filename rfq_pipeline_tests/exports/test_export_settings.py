"""The export settings: salt, contacts opt-in, reader role and the DuckDB file's path."""

from __future__ import annotations

from pathlib import Path

import pytest

from rfq_pipeline.exports.writer import default_duckdb_path
from rfq_pipeline.settings import Settings, SettingsError


def test_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"RFQ_DATA_DIR": str(tmp_path)})
    assert settings.export_pii_salt is None and settings.export_contacts is False
    assert settings.export_role == "rfq_export_reader"
    assert settings.export_duckdb_path == tmp_path.resolve() / "exports" / "analytics.duckdb"
    assert default_duckdb_path(settings) == settings.export_duckdb_path


def test_values_are_read_and_the_salt_is_never_shown(tmp_path: Path) -> None:
    salt = "s3cr3t-salt-value-0123"
    settings = Settings.from_env({
        "RFQ_DATA_DIR": str(tmp_path),
        "RFQ_EXPORT_PII_SALT": salt,
        "RFQ_EXPORT_CONTACTS": "true",
        "RFQ_EXPORT_ROLE": "analytics_ro",
        "RFQ_EXPORT_DUCKDB_PATH": str(tmp_path / "elsewhere.duckdb"),
    })  # fmt: skip
    assert settings.export_pii_salt == salt and salt not in repr(settings)
    assert settings.export_contacts is True and settings.export_role == "analytics_ro"
    assert settings.export_duckdb_path == (tmp_path / "elsewhere.duckdb").resolve()


def test_an_empty_role_turns_set_role_off() -> None:
    assert Settings.from_env({"RFQ_EXPORT_ROLE": ""}).export_role is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RFQ_EXPORT_PII_SALT": "short"}, "RFQ_EXPORT_PII_SALT must be at least 16 characters"),
        ({"RFQ_EXPORT_ROLE": "reader; DROP TABLE rfqs"}, "RFQ_EXPORT_ROLE="),
        ({"RFQ_EXPORT_CONTACTS": "maybe"}, "RFQ_EXPORT_CONTACTS='maybe' is not a boolean"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as error:
        Settings.from_env(env)
    if "RFQ_EXPORT_PII_SALT" in env:
        assert env["RFQ_EXPORT_PII_SALT"] not in str(error.value)  # a secret is never echoed
