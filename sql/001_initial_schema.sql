-- The system of record for rfq-pipeline. Later stages add their own numbered migrations; never edit an applied one.

CREATE EXTENSION IF NOT EXISTS vector;

-- One row per source in the registry (marketplace or non-marketplace loader), upserted from the code's specs.
CREATE TABLE sources (
    name            text PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('marketplace', 'loader')),
    base_url        text NOT NULL,
    cadence         text NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Every fetched page: where its bytes live in the object store and what happened when it was fetched and parsed.
-- A page fetched again with the same bytes updates its row; a changed page gets a new row. A fetch that returned no
-- body (timeout, connection error) has a NULL hash and keeps one row per URL with the latest failure.
CREATE TABLE raw_pages (
    id              bigserial PRIMARY KEY,
    source          text NOT NULL REFERENCES sources (name),
    url             text NOT NULL,
    page_kind       text NOT NULL CHECK (page_kind IN ('list', 'detail', 'api')),
    partition_date  date,
    content_sha256  text,
    object_key      text,
    byte_size       integer,
    http_status     integer,
    fetch_status    text NOT NULL CHECK (fetch_status IN ('ok', 'http_error', 'timeout', 'network_error', 'challenge')),
    parse_status    text NOT NULL DEFAULT 'pending'
                    CHECK (parse_status IN ('pending', 'ok', 'failed', 'skipped')),
    error           text,
    fetch_count     integer NOT NULL DEFAULT 1,
    first_fetched_at timestamptz NOT NULL DEFAULT now(),
    last_fetched_at timestamptz NOT NULL DEFAULT now(),
    run_id          text,
    CONSTRAINT raw_pages_source_url_content_key UNIQUE NULLS NOT DISTINCT (source, url, content_sha256)
);
CREATE INDEX raw_pages_source_partition_idx ON raw_pages (source, partition_date);

-- One row per buyer request per marketplace. The scraped text is kept as shown (quantity_text, country_raw,
-- posted_text) and the normalization stage fills the normalized columns, so normalization can be improved and
-- re-run without fetching again.
CREATE TABLE rfqs (
    id                  bigserial PRIMARY KEY,
    source              text NOT NULL REFERENCES sources (name),
    external_id         text NOT NULL,
    canonical_url       text NOT NULL,
    title               text NOT NULL,
    description         text NOT NULL DEFAULT '',
    posted_at           timestamptz,
    posted_text         text NOT NULL DEFAULT '',
    quantity_text       text NOT NULL DEFAULT '',
    buyer_name          text NOT NULL DEFAULT '',
    buyer_company       text NOT NULL DEFAULT '',
    country_raw         text NOT NULL DEFAULT '',
    attributes          jsonb NOT NULL DEFAULT '{}'::jsonb,
    content_sha256      text NOT NULL,
    raw_page_id         bigint REFERENCES raw_pages (id),
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- written by the normalization stage
    quantity_value      numeric,
    quantity_unit       text,
    country_code        char(2),
    country_name        text,
    posted_date         date,
    title_clean         text,
    normalized_at       timestamptz,
    normalizer_version  text,
    CONSTRAINT rfqs_source_external_id_key UNIQUE (source, external_id)
);
CREATE INDEX rfqs_posted_at_idx ON rfqs (posted_at);
CREATE INDEX rfqs_posted_date_idx ON rfqs (posted_date);
CREATE INDEX rfqs_canonical_url_idx ON rfqs (canonical_url);

-- Labels per RFQ per model version: an RFQ is classified once per version, and a new version can be backfilled.
CREATE TABLE classifications (
    rfq_id          bigint NOT NULL REFERENCES rfqs (id) ON DELETE CASCADE,
    model_version   text NOT NULL,
    provider        text NOT NULL,
    industry        text NOT NULL,
    relevant        boolean NOT NULL,
    intent          text NOT NULL CHECK (intent IN ('buy_request', 'supplier_advert', 'spam_or_junk')),
    quality         real NOT NULL CHECK (quality >= 0 AND quality <= 1),
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    classified_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rfq_id, model_version)
);

-- Embeddings as half-precision vectors. The column has no fixed dimension so several models can coexist; each
-- model gets its own partial HNSW index over a cast to its dimension.
CREATE TABLE rfq_embeddings (
    rfq_id          bigint NOT NULL REFERENCES rfqs (id) ON DELETE CASCADE,
    model           text NOT NULL,
    dims            integer NOT NULL CHECK (dims > 0),
    embedding       halfvec NOT NULL,
    text_sha256     text NOT NULL,
    embedded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rfq_id, model),
    CHECK (vector_dims(embedding) = dims)
);
CREATE INDEX rfq_embeddings_minilm_hnsw_idx ON rfq_embeddings
    USING hnsw ((embedding::halfvec(384)) halfvec_cosine_ops)
    WHERE model = 'all-MiniLM-L6-v2';

-- Dedup: one cluster per unique request, every sighting a member.
CREATE TABLE dedup_clusters (
    id                  bigserial PRIMARY KEY,
    canonical_rfq_id    bigint NOT NULL REFERENCES rfqs (id),
    member_count        integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dedup_cluster_members (
    rfq_id          bigint PRIMARY KEY REFERENCES rfqs (id) ON DELETE CASCADE,
    cluster_id      bigint NOT NULL REFERENCES dedup_clusters (id) ON DELETE CASCADE,
    matched_by      text NOT NULL,
    similarity      real,
    added_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dedup_cluster_members_cluster_idx ON dedup_cluster_members (cluster_id);

-- Health of each source, shared by every process: the circuit breaker and the token bucket live here.
CREATE TABLE source_health (
    source                  text PRIMARY KEY REFERENCES sources (name),
    breaker_state           text NOT NULL DEFAULT 'closed' CHECK (breaker_state IN ('closed', 'open', 'half_open')),
    consecutive_failures    integer NOT NULL DEFAULT 0,
    open_until              timestamptz,
    last_success_at         timestamptz,
    last_failure_at         timestamptz,
    last_error              text,
    bucket_tokens           double precision,
    bucket_updated_at       timestamptz,
    updated_at              timestamptz NOT NULL DEFAULT now()
);

-- One row per crawl of a source's partition: what it fetched and found, for the UI and the analysts.
CREATE TABLE source_crawls (
    source              text NOT NULL REFERENCES sources (name),
    partition_date      date NOT NULL,
    run_id              text NOT NULL,
    started_at          timestamptz NOT NULL,
    finished_at         timestamptz NOT NULL DEFAULT now(),
    pages_fetched       integer NOT NULL,
    pages_failed        integer NOT NULL,
    rfqs_seen           integer NOT NULL,
    rfqs_new            integer NOT NULL,
    rfqs_changed        integer NOT NULL,
    status              text NOT NULL CHECK (status IN ('ok', 'partial', 'failed')),
    PRIMARY KEY (source, partition_date, run_id)
);
