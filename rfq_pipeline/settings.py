"""The one settings object, read from the environment.

Everything configurable lives here so that the embedded default (no variables set) and production (RDS, S3, API
keys) differ only in environment variables. Secrets are held but never printed: ``repr`` masks them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

# Object-store roles. Each maps to its own bucket in production and to a sub-directory locally.
BUCKET_ROLES = ("raw_pages", "raw_mime", "uploads", "exports", "quote_pdfs", "models")

_REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value the project cannot use; the message names the variable."""


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (use true/false)")


def _env_float(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a number") from exc


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    value = _env_float(env, name)
    if value is None:
        return None
    if value != int(value):
        raise SettingsError(f"{name}={value!r} is not an integer")
    return int(value)


def _env_seconds(env: Mapping[str, str], name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        values = tuple(float(t) for t in raw.split(","))
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} must be comma-separated seconds") from exc
    if any(v < 0 for v in values):
        raise SettingsError(f"{name}={raw!r} must not be negative")
    return values


@dataclass(frozen=True)
class SourceOverride:
    """Per-source settings from ``RFQ_SOURCE_<NAME>_*`` variables; ``None`` means "use the spec's value"."""

    base_url: str | None = None
    enabled: bool | None = None
    rate_per_minute: float | None = None
    max_pages: int | None = None
    listings: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Settings:
    """Typed view of the environment. Build it with :meth:`from_env`."""

    data_dir: Path
    database_url: str | None = field(default=None, repr=False)  # may embed a password
    migrations_dir: Path = _REPO_ROOT / "sql"
    partitions_start: date = date(2025, 1, 1)
    buckets: Mapping[str, str] = field(default_factory=dict)  # role -> S3 bucket; missing role = local directory
    aws_region: str | None = None
    aws_endpoint_url: str | None = None
    anthropic_api_key: str | None = field(default=None, repr=False)
    simulator_url: str | None = None
    simulator_rate_multiplier: float = 60.0  # the simulator is ours: per-minute limits become per-second
    schedules_running: bool = False
    slack_webhook_url: str | None = field(default=None, repr=False)  # run-failure notices; a secret
    quotes_slack_webhook_url: str | None = field(default=None, repr=False)  # approved-quote posts; a secret
    hubspot_token: str | None = field(default=None, repr=False)  # private-app access token; a secret
    hubspot_base_url: str = "https://api.hubapi.com"
    http_timeouts: tuple[float, ...] = (30.0, 60.0, 120.0)
    http_backoff: tuple[float, ...] = (1.0, 2.0, 4.0)
    http_impersonate: str | None = None  # overrides every source's own curl_cffi browser profile
    source_overrides: Mapping[str, SourceOverride] = field(default_factory=dict)
    # AI stages
    classifier: str = "local"  # "local" | "anthropic"; anthropic by default once an API key is set
    anthropic_model: str = "claude-haiku-4-5"
    anthropic_base_url: str | None = None  # a local server implementing the API in tests
    llm_daily_limit_usd: float = 100.0
    target_industries: tuple[str, ...] = ("beauty_personal_care",)
    # Below this calibrated confidence a local label is 'uncertain': Claude (with a key) or a person settles it.
    classify_min_confidence: float = 0.6
    retrain_after_labels: int = 25  # new human/Claude labels that make models/classifier train a new version
    embedder: str = "minilm-static"  # "minilm-static" (distilled, fast) | "minilm" (the torch model)
    dedup_min_similarity: float = 0.50  # ANN neighbours at or above this cosine become candidates
    dedup_min_probability: float | None = None  # the pair model's operating point (None: the fitted one)
    dedup_claude_band: tuple[float, float] | None = (0.2, 0.8)  # pairs Claude judges when a key is set; None: off
    # AWS resources created by `rfq-pipeline aws bootstrap` (queue values are names or queue URLs)
    aws_resource_prefix: str = "rfq-pipeline"
    sqs_inbound_mail_queue: str = "rfq-pipeline-inbound-mail"
    sqs_uploads_queue: str = "rfq-pipeline-uploads"
    sqs_scrape_requests_queue: str = "rfq-pipeline-scrape-requests"
    ses_rule_set: str = "rfq-pipeline-inbound"
    ses_recipients: tuple[str, ...] = ()  # empty: the rule matches every recipient of the verified domains
    # Enrichment and quotes
    catalog_path: Path = _REPO_ROOT / "rfq_pipeline" / "quotes" / "data" / "catalog.csv"
    fx_rates_path: Path = _REPO_ROOT / "rfq_pipeline" / "quotes" / "data" / "fx_rates.csv"
    quote_incoterm: str = "FOB"
    quote_composer: str = "template"  # "template" | "anthropic"; anthropic by default once an API key is set
    quote_validity_days: int = 14
    enrich_fetch_pages: bool = True
    fetch_allow_networks: tuple[str, ...] = ()  # private networks the SSRF guard lets through (tests, intranets)
    dns_server: str | None = None  # None: the system's first nameserver; "off": no MX lookups
    millionverifier_api_key: str | None = field(default=None, repr=False)
    zerobounce_api_key: str | None = field(default=None, repr=False)
    research_agent: bool = False  # the Claude research agent; on by default once an API key is set
    research_max_steps: int = 6
    research_max_usd: float = 0.05  # per buyer, on top of the daily limit
    # Analyst exports
    export_pii_salt: str | None = field(default=None, repr=False)  # a secret; None: the per-installation salt file
    export_contacts: bool = False  # export buyer contacts (pseudonymized); off: the table has zero rows
    export_role: str | None = "rfq_export_reader"  # role the export assumes (SET LOCAL ROLE); None: no SET ROLE
    export_duckdb_path: Path | None = None  # None: <data dir>/exports/analytics.duckdb
    # Deployment
    executor: str = "multiprocess"  # "multiprocess" (Dagster's default) | "in_process" | "k8s" (a pod per step)
    # The sales desk and outbound mail.
    desk_url: str = "http://127.0.0.1:3100"  # where Slack buttons and mails point people
    desk_secret_key: str | None = field(default=None, repr=False)  # signs cookies and links; None: installation file
    desk_auth: str = "password"  # "password" (desk users sign in) | "alb-oidc" (the load balancer signed them in)
    desk_alb_arn: str | None = None  # the ALB whose signed OIDC header the desk trusts (alb-oidc only)
    desk_proxy_hops: int = 0  # proxies in front of the desk whose X-Forwarded-For/-Proto it believes
    quote_from_address: str | None = None  # a verified SES identity; None: quotes are not e-mailed
    intake_address: str | None = None  # Reply-To of every outbound mail: the SES inbound address
    sqs_ses_feedback_queue: str = "rfq-pipeline-ses-feedback"
    sns_ses_feedback_topic: str = "rfq-pipeline-ses-feedback"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default: ``os.environ``), validating as it goes."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("RFQ_DATA_DIR") or ".rfq").expanduser().resolve()

        start_raw = env.get("RFQ_PARTITIONS_START", "").strip()
        try:
            partitions_start = date.fromisoformat(start_raw) if start_raw else date(2025, 1, 1)
        except ValueError as exc:
            raise SettingsError(f"RFQ_PARTITIONS_START={start_raw!r} is not a date (YYYY-MM-DD)") from exc

        # Quote posts go to the run-failure channel unless a channel of their own is set; set but empty turns
        # them off while failure notices keep flowing.
        quotes_webhook = env.get("RFQ_QUOTES_SLACK_WEBHOOK_URL")
        if quotes_webhook is None:
            quotes_webhook = env.get("RFQ_SLACK_WEBHOOK_URL")
        hubspot_base_url = (env.get("RFQ_HUBSPOT_BASE_URL") or "").strip().rstrip("/") or "https://api.hubapi.com"
        if not hubspot_base_url.startswith(("https://", "http://")):
            raise SettingsError(f"RFQ_HUBSPOT_BASE_URL={hubspot_base_url!r} must be an http(s) URL")

        buckets = {
            role: env[f"RFQ_S3_BUCKET_{role.upper()}"].strip()
            for role in BUCKET_ROLES
            if env.get(f"RFQ_S3_BUCKET_{role.upper()}", "").strip()
        }

        return cls(
            data_dir=data_dir,
            database_url=(env.get("DATABASE_URL") or "").strip() or None,
            migrations_dir=Path(env.get("RFQ_MIGRATIONS_DIR") or _REPO_ROOT / "sql").resolve(),
            partitions_start=partitions_start,
            buckets=buckets,
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            anthropic_api_key=env.get("ANTHROPIC_API_KEY") or None,
            simulator_url=(env.get("RFQ_SIMULATOR_URL") or "").rstrip("/") or None,
            simulator_rate_multiplier=_env_float(env, "RFQ_SIMULATOR_RATE_MULTIPLIER") or 60.0,
            schedules_running=_env_bool(env, "RFQ_SCHEDULES_RUNNING", False),
            slack_webhook_url=(env.get("RFQ_SLACK_WEBHOOK_URL") or "").strip() or None,
            quotes_slack_webhook_url=(quotes_webhook or "").strip() or None,
            hubspot_token=(env.get("HUBSPOT_ACCESS_TOKEN") or "").strip() or None,
            hubspot_base_url=hubspot_base_url,
            http_timeouts=_env_seconds(env, "RFQ_HTTP_TIMEOUTS", (30.0, 60.0, 120.0)),
            http_backoff=_env_seconds(env, "RFQ_HTTP_BACKOFF", (1.0, 2.0, 4.0)),
            http_impersonate=env.get("RFQ_HTTP_IMPERSONATE") or None,
            source_overrides=_source_overrides(env),
            **_ai_settings(env),
            **_aws_resource_settings(env),
            **_enrichment_quote_settings(env),
            **_export_settings(env),
            **_deploy_settings(env),
            **_desk_settings(env),
        )

    def source_override(self, source: str) -> SourceOverride:
        """The overrides for ``source`` (all ``None`` when nothing is set)."""
        return self.source_overrides.get(source, SourceOverride())

    def bucket_for(self, role: str) -> str | None:
        """The S3 bucket configured for an object-store role, or ``None`` for the local directory."""
        if role not in BUCKET_ROLES:
            raise SettingsError(f"unknown object-store role {role!r}; expected one of {BUCKET_ROLES}")
        return self.buckets.get(role)

    @property
    def embedded_pgdata(self) -> Path:
        """Where the embedded PostgreSQL keeps its data when no ``DATABASE_URL`` is set."""
        return self.data_dir / "pg"

    @property
    def models_cache_dir(self) -> Path:
        """Where model versions fetched from the ``models`` object store are kept, by digest."""
        return self.data_dir / "models"

    @property
    def local_objects_dir(self) -> Path:
        """Root of the local object store used in place of S3."""
        return self.data_dir / "objects"


CLASSIFIERS = ("local", "anthropic")
EMBEDDERS = ("minilm-static", "minilm")


def _ai_settings(env: Mapping[str, str]) -> dict[str, object]:
    from rfq_pipeline.ai.labels import INDUSTRIES

    has_key = bool(env.get("ANTHROPIC_API_KEY"))
    classifier = (env.get("RFQ_CLASSIFIER") or ("anthropic" if has_key else "local")).strip().lower()
    if classifier not in CLASSIFIERS:
        raise SettingsError(f"RFQ_CLASSIFIER={classifier!r} must be one of {', '.join(CLASSIFIERS)}")
    if classifier == "anthropic" and not has_key:
        raise SettingsError("RFQ_CLASSIFIER='anthropic' needs ANTHROPIC_API_KEY")
    embedder = (env.get("RFQ_EMBEDDER") or "minilm-static").strip().lower()
    if embedder not in EMBEDDERS:
        raise SettingsError(f"RFQ_EMBEDDER={embedder!r} must be one of {', '.join(EMBEDDERS)}")
    targets_raw = env.get("RFQ_TARGET_INDUSTRIES", "").strip()
    targets = tuple(t.strip() for t in targets_raw.split(",") if t.strip()) or ("beauty_personal_care",)
    unknown = [t for t in targets if t not in INDUSTRIES]
    if unknown:
        raise SettingsError(f"RFQ_TARGET_INDUSTRIES has unknown industries {unknown}; known: {', '.join(INDUSTRIES)}")
    limit = _env_float(env, "RFQ_LLM_DAILY_LIMIT_USD")
    if limit is not None and limit < 0:
        raise SettingsError(f"RFQ_LLM_DAILY_LIMIT_USD={limit!r} must not be negative")
    min_confidence = _env_float(env, "RFQ_CLASSIFY_MIN_CONFIDENCE")
    if min_confidence is not None and not 0 <= min_confidence <= 1:
        raise SettingsError(f"RFQ_CLASSIFY_MIN_CONFIDENCE={min_confidence!r} must be in [0, 1] (0: never uncertain)")
    retrain_text = (env.get("RFQ_RETRAIN_AFTER_LABELS") or "25").strip()
    if not retrain_text.isdigit() or int(retrain_text) < 1:
        raise SettingsError(f"RFQ_RETRAIN_AFTER_LABELS={retrain_text!r} must be a whole number >= 1")
    similarity = _env_float(env, "RFQ_DEDUP_MIN_SIMILARITY")
    if similarity is not None and not 0 < similarity <= 1:
        raise SettingsError(f"RFQ_DEDUP_MIN_SIMILARITY={similarity!r} must be in (0, 1]")
    probability = _env_float(env, "RFQ_DEDUP_MIN_PROBABILITY")
    if probability is not None and not 0 < probability < 1:
        raise SettingsError(f"RFQ_DEDUP_MIN_PROBABILITY={probability!r} must be in (0, 1)")
    band_text = (env.get("RFQ_DEDUP_CLAUDE_BAND") or "0.2,0.8").strip().lower()
    band: tuple[float, float] | None = None
    if band_text not in ("off", "none", "0"):
        try:
            low, high = (float(part) for part in band_text.split(","))
        except ValueError:
            raise SettingsError(f"RFQ_DEDUP_CLAUDE_BAND={band_text!r} must be 'LOW,HIGH' or 'off'") from None
        if not 0 <= low < high <= 1:
            raise SettingsError(f"RFQ_DEDUP_CLAUDE_BAND={band_text!r} needs 0 <= LOW < HIGH <= 1")
        band = (low, high)
    return {
        "classifier": classifier,
        "anthropic_model": (env.get("RFQ_ANTHROPIC_MODEL") or "claude-haiku-4-5").strip(),
        "anthropic_base_url": (env.get("ANTHROPIC_BASE_URL") or "").rstrip("/") or None,
        "llm_daily_limit_usd": 100.0 if limit is None else limit,
        "target_industries": targets,
        "classify_min_confidence": 0.6 if min_confidence is None else min_confidence,
        "retrain_after_labels": int(retrain_text),
        "embedder": embedder,
        "dedup_min_similarity": 0.50 if similarity is None else similarity,
        "dedup_min_probability": probability,
        "dedup_claude_band": band,
    }


def _aws_resource_settings(env: Mapping[str, str]) -> dict[str, object]:
    prefix = (env.get("RFQ_AWS_RESOURCE_PREFIX") or "rfq-pipeline").strip().lower()
    if not prefix or len(prefix) > 40 or not all(c.isalnum() or c == "-" for c in prefix) or prefix[0] == "-":
        raise SettingsError(f"RFQ_AWS_RESOURCE_PREFIX={prefix!r} must be 1-40 letters, digits or '-'")
    recipients = env.get("RFQ_SES_RECIPIENTS", "")
    return {
        "aws_resource_prefix": prefix,
        "sqs_inbound_mail_queue": (env.get("RFQ_SQS_INBOUND_MAIL_QUEUE") or f"{prefix}-inbound-mail").strip(),
        "sqs_uploads_queue": (env.get("RFQ_SQS_UPLOADS_QUEUE") or f"{prefix}-uploads").strip(),
        "sqs_scrape_requests_queue": (env.get("RFQ_SQS_SCRAPE_REQUESTS_QUEUE") or f"{prefix}-scrape-requests").strip(),
        "ses_rule_set": (env.get("RFQ_SES_RULE_SET") or f"{prefix}-inbound").strip(),
        "ses_recipients": tuple(r.strip() for r in recipients.split(",") if r.strip()),
        "sqs_ses_feedback_queue": (env.get("RFQ_SQS_SES_FEEDBACK_QUEUE") or f"{prefix}-ses-feedback").strip(),
        "sns_ses_feedback_topic": (env.get("RFQ_SNS_SES_FEEDBACK_TOPIC") or f"{prefix}-ses-feedback").strip(),
    }


def _source_overrides(env: Mapping[str, str]) -> dict[str, SourceOverride]:
    prefix = "RFQ_SOURCE_"
    suffixes = ("BASE_URL", "ENABLED", "RATE_PER_MINUTE", "MAX_PAGES", "LISTINGS")
    names = {
        key[len(prefix) : -len(suffix) - 1]
        for key in env
        if key.startswith(prefix)
        for suffix in suffixes
        if key.endswith("_" + suffix)
    }
    overrides: dict[str, SourceOverride] = {}
    for upper in names:
        base = f"{prefix}{upper}_"
        enabled = env.get(base + "ENABLED")
        listings = env.get(base + "LISTINGS")
        overrides[upper.lower()] = SourceOverride(
            base_url=(env.get(base + "BASE_URL") or "").rstrip("/") or None,
            enabled=None if enabled is None else _env_bool(env, base + "ENABLED", True),
            rate_per_minute=_env_float(env, base + "RATE_PER_MINUTE"),
            max_pages=_env_int(env, base + "MAX_PAGES"),
            listings=tuple(p.strip() for p in listings.split(",") if p.strip()) if listings else None,
        )
    return overrides


INCOTERMS = ("EXW", "FOB", "CIF", "DDP")
QUOTE_COMPOSERS = ("template", "anthropic")


def _enrichment_quote_settings(env: Mapping[str, str]) -> dict[str, object]:
    import ipaddress

    defaults = Settings.__dataclass_fields__
    catalog = env.get("RFQ_CATALOG_PATH", "").strip()
    rates = env.get("RFQ_FX_RATES_PATH", "").strip()
    incoterm = (env.get("RFQ_QUOTE_INCOTERM") or "FOB").strip().upper()
    if incoterm not in INCOTERMS:
        raise SettingsError(f"RFQ_QUOTE_INCOTERM={incoterm!r} must be one of {', '.join(INCOTERMS)}")
    has_key = bool(env.get("ANTHROPIC_API_KEY"))
    composer = (env.get("RFQ_QUOTE_COMPOSER") or ("anthropic" if has_key else "template")).strip().lower()
    if composer not in QUOTE_COMPOSERS:
        raise SettingsError(f"RFQ_QUOTE_COMPOSER={composer!r} must be one of {', '.join(QUOTE_COMPOSERS)}")
    if composer == "anthropic" and not has_key:
        raise SettingsError("RFQ_QUOTE_COMPOSER='anthropic' needs ANTHROPIC_API_KEY")
    validity = _env_int(env, "RFQ_QUOTE_VALIDITY_DAYS")
    if validity is not None and validity < 1:
        raise SettingsError(f"RFQ_QUOTE_VALIDITY_DAYS={validity!r} must be at least 1")
    networks = tuple(n.strip() for n in env.get("RFQ_FETCH_ALLOW_NETWORKS", "").split(",") if n.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise SettingsError(f"RFQ_FETCH_ALLOW_NETWORKS has {network!r}, not a network (e.g. 10.0.0.0/8)") from exc
    steps = _env_int(env, "RFQ_RESEARCH_MAX_STEPS")
    if steps is not None and not 1 <= steps <= 20:
        raise SettingsError(f"RFQ_RESEARCH_MAX_STEPS={steps!r} must be 1..20")
    max_usd = _env_float(env, "RFQ_RESEARCH_MAX_USD")
    if max_usd is not None and max_usd < 0:
        raise SettingsError(f"RFQ_RESEARCH_MAX_USD={max_usd!r} must not be negative")
    research = _env_bool(env, "RFQ_RESEARCH_AGENT", has_key)
    if research and not has_key:
        raise SettingsError("RFQ_RESEARCH_AGENT=true needs ANTHROPIC_API_KEY")
    return {
        "catalog_path": Path(catalog).expanduser().resolve() if catalog else defaults["catalog_path"].default,
        "fx_rates_path": Path(rates).expanduser().resolve() if rates else defaults["fx_rates_path"].default,
        "quote_incoterm": incoterm,
        "quote_composer": composer,
        "quote_validity_days": validity or 14,
        "enrich_fetch_pages": _env_bool(env, "RFQ_ENRICH_FETCH_PAGES", True),
        "fetch_allow_networks": networks,
        "dns_server": (env.get("RFQ_DNS_SERVER") or "").strip() or None,
        "millionverifier_api_key": (env.get("MILLIONVERIFIER_API_KEY") or "").strip() or None,
        "zerobounce_api_key": (env.get("ZEROBOUNCE_API_KEY") or "").strip() or None,
        "research_agent": research,
        "research_max_steps": steps or 6,
        "research_max_usd": 0.05 if max_usd is None else max_usd,
    }


EXPORT_PII_SALT_MIN_LENGTH = 16


def _export_settings(env: Mapping[str, str]) -> dict[str, object]:
    import re

    salt = env.get("RFQ_EXPORT_PII_SALT") or None
    # A short salt makes the hashes of known addresses cheap to tabulate, which is what the salt is there to stop.
    if salt is not None and len(salt) < EXPORT_PII_SALT_MIN_LENGTH:
        raise SettingsError(f"RFQ_EXPORT_PII_SALT must be at least {EXPORT_PII_SALT_MIN_LENGTH} characters")
    # Unset means the migration's reader role; set but empty turns SET ROLE off (a login that cannot assume it).
    role_raw = env.get("RFQ_EXPORT_ROLE")
    role = "rfq_export_reader" if role_raw is None else role_raw.strip() or None
    if role is not None and not re.fullmatch(r"[a-z_][a-z0-9_$]{0,62}", role):
        raise SettingsError(f"RFQ_EXPORT_ROLE={role!r} is not a role name (lower-case letters, digits, '_')")
    duckdb_raw = (env.get("RFQ_EXPORT_DUCKDB_PATH") or "").strip()
    data_dir = Path(env.get("RFQ_DATA_DIR") or ".rfq").expanduser().resolve()
    return {
        "export_pii_salt": salt,
        "export_contacts": _env_bool(env, "RFQ_EXPORT_CONTACTS", False),
        "export_role": role,
        "export_duckdb_path": (
            Path(duckdb_raw).expanduser().resolve() if duckdb_raw else data_dir / "exports" / "analytics.duckdb"
        ),
    }


EXECUTORS = ("multiprocess", "in_process", "k8s")


def _deploy_settings(env: Mapping[str, str]) -> dict[str, object]:
    executor = (env.get("RFQ_EXECUTOR") or "multiprocess").strip().lower().replace("-", "_")
    if executor not in EXECUTORS:
        raise SettingsError(f"RFQ_EXECUTOR={executor!r} must be one of {', '.join(EXECUTORS)}")
    return {"executor": executor}


DESK_AUTH_MODES = ("password", "alb-oidc")
DESK_SECRET_MIN_LENGTH = 32


def _address(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    if value and (value.count("@") != 1 or value.startswith("@") or value.endswith("@") or " " in value):
        raise SettingsError(f"{name}={value!r} is not an e-mail address")
    return value or None


def _desk_settings(env: Mapping[str, str]) -> dict[str, object]:
    url = (env.get("RFQ_DESK_URL") or "http://127.0.0.1:3100").strip().rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise SettingsError(f"RFQ_DESK_URL={url!r} must be an http(s) URL")
    secret = env.get("RFQ_DESK_SECRET_KEY") or None
    # A short key makes forged cookies and Slack links a brute-force problem rather than an impossible one.
    if secret is not None and len(secret) < DESK_SECRET_MIN_LENGTH:
        raise SettingsError(f"RFQ_DESK_SECRET_KEY must be at least {DESK_SECRET_MIN_LENGTH} characters")
    auth = (env.get("RFQ_DESK_AUTH") or "password").strip().lower()
    if auth not in DESK_AUTH_MODES:
        raise SettingsError(f"RFQ_DESK_AUTH={auth!r} must be one of {', '.join(DESK_AUTH_MODES)}")
    alb_arn = (env.get("RFQ_DESK_ALB_ARN") or "").strip() or None
    if auth == "alb-oidc" and not alb_arn:
        raise SettingsError("RFQ_DESK_AUTH=alb-oidc needs RFQ_DESK_ALB_ARN (the load balancer that signs people in)")
    if alb_arn and not (alb_arn.startswith("arn:aws") and ":elasticloadbalancing:" in alb_arn):
        raise SettingsError(f"RFQ_DESK_ALB_ARN={alb_arn!r} is not a load balancer ARN")
    hops = _env_int(env, "RFQ_DESK_PROXY_HOPS")
    if hops is not None and not 0 <= hops <= 5:
        raise SettingsError(f"RFQ_DESK_PROXY_HOPS={hops!r} must be 0..5")
    return {
        "desk_alb_arn": alb_arn,
        "desk_proxy_hops": hops or 0,
        "desk_url": url,
        "desk_secret_key": secret,
        "desk_auth": auth,
        "quote_from_address": _address(env, "RFQ_QUOTE_FROM"),
        "intake_address": _address(env, "RFQ_INTAKE_ADDRESS"),
    }
