-- The AI stages: the distilled default embedder's ANN index, what a classification was made from, and the spend
-- ledger that every model call writes to (the daily kill-switch reads it).

-- Each embedding model gets its own partial HNSW index over a cast to its dimension, so spaces never mix.
CREATE INDEX rfq_embeddings_minilm_static_v1_hnsw_idx ON rfq_embeddings
    USING hnsw ((embedding::halfvec(384)) halfvec_cosine_ops)
    WHERE model = 'all-MiniLM-L6-v2-static-v1';

-- Binary COPY lands here first so the merge into rfq_embeddings can be idempotent (ON CONFLICT); each writer
-- tags its rows with its own batch token and removes them in the same transaction. Unlogged: it is scratch space.
CREATE UNLOGGED TABLE rfq_embeddings_staging (
    batch_token     uuid NOT NULL,
    rfq_id          bigint NOT NULL,
    model           text NOT NULL,
    dims            integer NOT NULL,
    embedding       halfvec NOT NULL,
    text_sha256     text NOT NULL
);
CREATE INDEX rfq_embeddings_staging_batch_idx ON rfq_embeddings_staging (batch_token);

-- The text a label was computed from, so a changed RFQ can be told apart from one already classified.
ALTER TABLE classifications ADD COLUMN text_sha256 text;
CREATE INDEX classifications_model_version_idx ON classifications (model_version);

-- One row per model call (or per batch item), with its tokens and cost. Idempotent on call_id.
CREATE TABLE llm_spend (
    call_id         text PRIMARY KEY,
    provider        text NOT NULL,
    model           text NOT NULL,
    stage           text NOT NULL,
    input_tokens    integer NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens   integer NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cost_usd        numeric(12, 6) NOT NULL CHECK (cost_usd >= 0),
    spent_at        timestamptz NOT NULL DEFAULT now(),
    run_id          text
);
CREATE INDEX llm_spend_spent_at_idx ON llm_spend (spent_at);
