-- Abstain instead of guess: a local label below the confidence threshold is 'uncertain'. It is kept (the model's
-- best guess, shown to the person who settles it) but does not count as relevant until a person or Claude labels
-- the RFQ.
ALTER TABLE classifications ADD COLUMN confidence real;
ALTER TABLE classifications ADD COLUMN uncertain boolean NOT NULL DEFAULT false;
CREATE INDEX classifications_uncertain_idx ON classifications (rfq_id) WHERE uncertain;

-- Claude's labels are kept in `labels` beside people's, once per RFQ and model version (a re-delivered batch
-- result adds nothing).
CREATE UNIQUE INDEX labels_claude_once_idx ON labels (rfq_id, actor) WHERE source = 'claude';

-- The label that counts for an RFQ: a person's over Claude's over the local model's, then the newest. A local
-- label that is uncertain never counts as relevant.
CREATE FUNCTION effective_labels(rfq_ids bigint[])
RETURNS TABLE (rfq_id bigint, industry text, relevant boolean, uncertain boolean, provider text,
               model_version text, confidence real, intent text, quality real)
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (c.rfq_id) c.rfq_id, c.industry,
           c.relevant AND NOT (c.uncertain AND c.provider = 'local'),
           c.uncertain AND c.provider = 'local', c.provider, c.model_version, c.confidence, c.intent,
           c.quality::real
    FROM classifications c
    WHERE c.rfq_id = ANY(rfq_ids)
    ORDER BY c.rfq_id, (c.provider = 'human') DESC, (c.provider = 'anthropic') DESC, c.classified_at DESC,
             c.model_version
$$;

-- Versions of the local models, each trained and evaluated by a materialization of its model asset. A version is
-- promoted only when it beats the current one on the same evaluation; the decision and its reason are kept either
-- way. The current version of a kind is the one promoted last.
CREATE TABLE model_versions (
    kind                text NOT NULL CHECK (kind IN ('classifier', 'static_embedder')),
    version             text NOT NULL,
    artifact_key        text NOT NULL,
    artifact_sha256     text NOT NULL,
    evaluation_id       text NOT NULL,
    score               double precision NOT NULL,
    evaluation          jsonb NOT NULL,
    training            jsonb NOT NULL,
    decision            text NOT NULL CHECK (decision IN ('promoted', 'kept_current')),
    reason              text NOT NULL,
    run_id              text,
    trained_at          timestamptz NOT NULL DEFAULT now(),
    promoted_at         timestamptz,
    PRIMARY KEY (kind, version)
);
CREATE INDEX model_versions_current_idx ON model_versions (kind, promoted_at DESC) WHERE promoted_at IS NOT NULL;
