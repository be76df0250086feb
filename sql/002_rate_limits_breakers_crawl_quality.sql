-- Shared rate limits and circuit breakers per source, and what each crawl saw (for drift checks in the UI).

-- The rate limiter reserves a time slot per request instead of counting tokens: at most `capacity` slots fall in any
-- window of `window` seconds, across every process sharing this database. Slots older than the window are pruned.
CREATE TABLE rate_limit_slots (
    source      text NOT NULL REFERENCES sources (name),
    slot_at     timestamptz NOT NULL
);
CREATE INDEX rate_limit_slots_source_slot_idx ON rate_limit_slots (source, slot_at DESC);

ALTER TABLE source_health
    DROP COLUMN bucket_tokens,
    DROP COLUMN bucket_updated_at,
    ADD COLUMN opened_count integer NOT NULL DEFAULT 0,
    ADD COLUMN half_open_since timestamptz,
    ADD COLUMN paused_until timestamptz,  -- a 429's Retry-After: no request before this
    ADD COLUMN slow_until timestamptz;    -- after a 429 the window is doubled until this time

ALTER TABLE raw_pages DROP CONSTRAINT raw_pages_fetch_status_check;
ALTER TABLE raw_pages ADD CONSTRAINT raw_pages_fetch_status_check
    CHECK (fetch_status IN ('ok', 'http_error', 'timeout', 'network_error', 'challenge', 'robots_disallowed'));

ALTER TABLE source_crawls
    ADD COLUMN challenges integer NOT NULL DEFAULT 0,
    ADD COLUMN parse_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN field_fill jsonb NOT NULL DEFAULT '{}'::jsonb,  -- share of rows with each field filled
    ADD COLUMN stopped_by text;                                -- why the crawl stopped early, if it did
ALTER TABLE source_crawls DROP CONSTRAINT source_crawls_status_check;
ALTER TABLE source_crawls ADD CONSTRAINT source_crawls_status_check
    CHECK (status IN ('ok', 'partial', 'failed', 'skipped'));
