-- Message Batches submitted to an LLM provider (the classification stage's submit/poll split) and their items.
-- A batch is polled by a sensor until the provider says it ended; its results are then processed exactly once per
-- item: an item leaves 'pending' only once, so a re-polled or re-delivered batch writes nothing twice.

CREATE TABLE llm_batches (
    batch_id            text PRIMARY KEY,
    provider            text NOT NULL,
    model               text NOT NULL,
    model_version       text NOT NULL,
    stage               text NOT NULL,
    -- the provider's processing status; processed_at says whether our side has consumed the results
    status              text NOT NULL CHECK (status IN ('in_progress', 'canceling', 'ended')),
    request_count       integer NOT NULL CHECK (request_count > 0),
    succeeded_count     integer NOT NULL DEFAULT 0,
    errored_count       integer NOT NULL DEFAULT 0,
    expired_count       integer NOT NULL DEFAULT 0,
    canceled_count      integer NOT NULL DEFAULT 0,
    -- worst-case cost, counted against the daily limit while the batch is open
    estimated_cost_usd  numeric(12, 6) NOT NULL DEFAULT 0 CHECK (estimated_cost_usd >= 0),
    partition_key       text,
    run_id              text,
    submitted_at        timestamptz NOT NULL DEFAULT now(),
    last_polled_at      timestamptz,
    ended_at            timestamptz,
    processed_at        timestamptz
);
CREATE INDEX llm_batches_unprocessed_idx ON llm_batches (submitted_at) WHERE processed_at IS NULL;

-- One row per RFQ per attempt. status: pending (in a batch still open) -> succeeded | failed (final, reason in
-- error) | retry (errored/expired/canceled; a later batch carries attempt + 1).
CREATE TABLE llm_batch_items (
    batch_id        text NOT NULL REFERENCES llm_batches (batch_id) ON DELETE CASCADE,
    custom_id       text NOT NULL,
    rfq_id          bigint NOT NULL REFERENCES rfqs (id) ON DELETE CASCADE,
    model_version   text NOT NULL,
    attempt         integer NOT NULL CHECK (attempt >= 1),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'retry')),
    result_type     text CHECK (result_type IN ('succeeded', 'errored', 'expired', 'canceled', 'missing')),
    error           text,
    labels_written  boolean NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, custom_id),
    -- an RFQ goes out at most once per attempt for a model version, whichever batch carries it
    CONSTRAINT llm_batch_items_attempt_key UNIQUE (rfq_id, model_version, attempt)
);
CREATE INDEX llm_batch_items_pending_idx ON llm_batch_items (batch_id) WHERE status = 'pending';
