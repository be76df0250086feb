from datetime import date
from pathlib import Path

import pytest

from rfq_pipeline.settings import Settings, SettingsError
from rfq_pipeline.sources.registry import SOURCES, resolve


def test_defaults_need_no_configuration(tmp_path: Path) -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None
    assert settings.data_dir == Path(".rfq").resolve()
    assert settings.embedded_pgdata == settings.data_dir / "pg"
    assert settings.bucket_for("raw_pages") is None
    assert settings.http_timeouts == (30.0, 60.0, 120.0)
    assert settings.http_impersonate is None  # each source uses its own browser profile
    assert settings.partitions_start == date(2025, 1, 1)


def test_database_url_is_used_exactly_as_given() -> None:
    # The predecessor forced SSL in code and broke local development; sslmode must come from the URL alone.
    for url in (
        "postgresql://rfq:secret@localhost:5432/rfq",
        "postgresql://rfq:secret@db.example.internal:5432/rfq?sslmode=disable",
        "postgresql://rfq:secret@aurora.example.internal:5432/rfq?sslmode=verify-full&sslrootcert=/ca.pem",
    ):
        assert Settings.from_env({"DATABASE_URL": url}).database_url == url


def test_secrets_are_not_in_repr() -> None:
    settings = Settings.from_env(
        {"DATABASE_URL": "postgresql://rfq:hunter2@db/rfq", "ANTHROPIC_API_KEY": "sk-ant-very-secret"}
    )
    text = repr(settings)
    assert "hunter2" not in text
    assert "sk-ant-very-secret" not in text


def test_buckets_and_aws() -> None:
    settings = Settings.from_env(
        {
            "RFQ_S3_BUCKET_RAW_PAGES": "acme-raw",
            "RFQ_S3_BUCKET_EXPORTS": "acme-exports",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
            "AWS_DEFAULT_REGION": "ap-northeast-2",
        }
    )
    assert settings.bucket_for("raw_pages") == "acme-raw"
    assert settings.bucket_for("exports") == "acme-exports"
    assert settings.bucket_for("uploads") is None
    assert settings.aws_endpoint_url == "http://127.0.0.1:5000"
    assert settings.aws_region == "ap-northeast-2"
    with pytest.raises(SettingsError):
        settings.bucket_for("nonsense")


def test_per_source_overrides_apply_to_the_spec() -> None:
    settings = Settings.from_env(
        {
            "RFQ_SIMULATOR_URL": "http://127.0.0.1:9999/",
            "RFQ_SOURCE_GO4WORLDBUSINESS_ENABLED": "false",
            "RFQ_SOURCE_GO4WORLDBUSINESS_MAX_PAGES": "3",
            "RFQ_SOURCE_GO4WORLDBUSINESS_LISTINGS": "/buyers/cosmetics.html?region=worldwide&pg_buyers={page}",
            "RFQ_SOURCE_ALIBABA_RFQ_BASE_URL": "https://mirror.example.com",
            "RFQ_SOURCE_ALIBABA_RFQ_RATE_PER_MINUTE": "4.5",
        }
    )
    go4w = resolve(SOURCES["go4worldbusiness"], settings)
    assert go4w.base_url == "http://127.0.0.1:9999/go4worldbusiness"
    assert go4w.enabled is False
    assert go4w.max_pages == 3
    assert go4w.list_url(go4w.listings[0], 2) == (
        "http://127.0.0.1:9999/go4worldbusiness/buyers/cosmetics.html?region=worldwide&pg_buyers=2"
    )
    assert go4w.impersonate == SOURCES["go4worldbusiness"].impersonate
    assert resolve(go4w, Settings.from_env({"RFQ_HTTP_IMPERSONATE": "safari"})).impersonate == "safari"
    alibaba = resolve(SOURCES["alibaba_rfq"], settings)
    assert alibaba.base_url == "https://mirror.example.com"  # an explicit base URL beats the simulator
    assert alibaba.rate_per_minute == 4.5
    assert resolve(SOURCES["alibaba_rfq"], Settings.from_env({})).base_url == "https://sourcing.alibaba.com"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"RFQ_PARTITIONS_START": "yesterday"}, "RFQ_PARTITIONS_START"),
        ({"RFQ_HTTP_TIMEOUTS": "30,soon"}, "RFQ_HTTP_TIMEOUTS"),
        ({"RFQ_SOURCE_EC21_ENABLED": "maybe"}, "RFQ_SOURCE_EC21_ENABLED"),
        ({"RFQ_SOURCE_EC21_MAX_PAGES": "2.5"}, "RFQ_SOURCE_EC21_MAX_PAGES"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(env)


def test_ai_settings_default_to_local_models() -> None:
    settings = Settings.from_env({})
    assert settings.classifier == "local"
    assert settings.embedder == "minilm-static"
    assert settings.target_industries == ("beauty_personal_care",)
    assert settings.llm_daily_limit_usd == 100.0
    assert settings.anthropic_model == "claude-haiku-4-5"


def test_an_api_key_switches_the_classifier_to_anthropic_unless_told_otherwise() -> None:
    assert Settings.from_env({"ANTHROPIC_API_KEY": "k"}).classifier == "anthropic"
    assert Settings.from_env({"ANTHROPIC_API_KEY": "k", "RFQ_CLASSIFIER": "local"}).classifier == "local"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RFQ_CLASSIFIER": "anthropic"}, "needs ANTHROPIC_API_KEY"),
        ({"RFQ_CLASSIFIER": "gpt"}, "RFQ_CLASSIFIER"),
        ({"RFQ_EMBEDDER": "bert"}, "RFQ_EMBEDDER"),
        ({"RFQ_TARGET_INDUSTRIES": "beauty_personal_care,cosmetics"}, "cosmetics"),
        ({"RFQ_LLM_DAILY_LIMIT_USD": "-1"}, "RFQ_LLM_DAILY_LIMIT_USD"),
        ({"RFQ_LLM_DAILY_LIMIT_USD": "lots"}, "RFQ_LLM_DAILY_LIMIT_USD"),
        ({"RFQ_DEDUP_MIN_SIMILARITY": "1.5"}, "RFQ_DEDUP_MIN_SIMILARITY"),
    ],
)
def test_bad_ai_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_target_industries_are_configurable() -> None:
    settings = Settings.from_env({"RFQ_TARGET_INDUSTRIES": "beauty_personal_care, medical_health"})
    assert settings.target_industries == ("beauty_personal_care", "medical_health")
