-- Labels people (and Claude) give RFQs: corrections of the classifier, kept with who gave them and when. A human
-- label overrides every model version's classification of that RFQ, now and in every later run; Claude's labels
-- are kept apart (source 'claude') and never override a person's.
CREATE TABLE labels (
    id                  bigserial PRIMARY KEY,
    rfq_id              bigint NOT NULL REFERENCES rfqs (id) ON DELETE CASCADE,
    source              text NOT NULL CHECK (source IN ('human', 'claude')),
    actor               text NOT NULL,
    industry            text,
    relevant            boolean,
    note                text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT labels_say_something CHECK (industry IS NOT NULL OR relevant IS NOT NULL)
);
CREATE INDEX labels_rfq_idx ON labels (rfq_id, source, created_at DESC);
