-- Large upserts of RFQs (archive imports, replays) go through binary COPY into this table and one set-based
-- INSERT ... ON CONFLICT, instead of a statement per row. Each writer tags its rows with its own batch token and
-- removes them in the same transaction. Unlogged: it is scratch space.
CREATE UNLOGGED TABLE rfqs_staging (
    batch_token     uuid NOT NULL,
    seq             integer NOT NULL,
    source          text NOT NULL,
    external_id     text NOT NULL,
    canonical_url   text NOT NULL,
    title           text NOT NULL,
    description     text NOT NULL,
    posted_at       timestamptz,
    posted_text     text NOT NULL,
    quantity_text   text NOT NULL,
    buyer_name      text NOT NULL,
    buyer_company   text NOT NULL,
    country_raw     text NOT NULL,
    attributes      jsonb NOT NULL,
    content_sha256  text NOT NULL,
    raw_page_id     bigint,
    extraction      text NOT NULL
);
CREATE INDEX rfqs_staging_batch_idx ON rfqs_staging (batch_token);
