-- Claude's verdicts on dedup pairs whose local probability fell in the uncertain band (rfq_pipeline.dedup.claude_band).
-- A verdict is cached per pair of RFQ texts (the sha256 of the fields the attributes are read from, the smaller hash
-- first), model and prompt version: the same two texts are never sent twice to one model through one prompt. A row is
-- also the in-flight marker while its Message Batch is open (status 'pending', batch_id set), so two runs cannot send
-- the same pair at once.
--
-- status: pending (in an open batch) -> succeeded (same_request set) | guarded (the RFQ text carried instruction-like
-- phrases and the model disagreed with the local decision: no verdict, the local decision stands) | retry (errored,
-- expired, canceled or missing; a later call sends it again, attempts + 1) | failed (final: malformed output, a
-- permanent error, or out of attempts).

CREATE TABLE dedup_llm_verdicts (
    text_sha256_a       text NOT NULL,
    text_sha256_b       text NOT NULL,
    model               text NOT NULL,
    prompt_version      text NOT NULL,
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'succeeded', 'guarded', 'retry', 'failed')),
    same_request        boolean,            -- the verdict callers use; NULL unless succeeded
    model_same_request  boolean,            -- what the model answered (kept for guarded rows too)
    reason              text NOT NULL DEFAULT '',
    error               text,
    local_probability   real,               -- the local model's view when the pair was sent
    local_matched       boolean,
    injection_signals   text[] NOT NULL DEFAULT '{}',
    batch_id            text REFERENCES llm_batches (batch_id) ON DELETE SET NULL,
    custom_id           text,
    attempts            integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dedup_llm_verdicts_pair_key PRIMARY KEY (text_sha256_a, text_sha256_b, model, prompt_version),
    CONSTRAINT dedup_llm_verdicts_pair_ordered CHECK (text_sha256_a <= text_sha256_b),
    CONSTRAINT dedup_llm_verdicts_verdict_set CHECK ((status = 'succeeded') = (same_request IS NOT NULL))
);
CREATE INDEX dedup_llm_verdicts_pending_idx ON dedup_llm_verdicts (batch_id) WHERE status = 'pending';
