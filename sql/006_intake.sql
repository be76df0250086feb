-- Intake from e-mail (SES -> S3 -> SQS), uploaded documents (S3) and scrape requests (SQS).
-- At-least-once delivery becomes exactly-once in effect here: every queue message or object is recorded under a
-- natural key before its queue message is deleted, and the run that processes it is requested under a run key
-- derived from that record.

ALTER TABLE sources DROP CONSTRAINT sources_kind_check;
ALTER TABLE sources ADD CONSTRAINT sources_kind_check CHECK (kind IN ('marketplace', 'loader', 'intake'));

CREATE TABLE intake_requests (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('email', 'upload', 'scrape')),
    request_key     text NOT NULL,              -- Message-ID-independent: bucket/key@etag, or the SQS message id
    run_key         text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed', 'dead_lettered')),
    error           text,
    attempts        integer NOT NULL DEFAULT 0,
    run_id          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT intake_requests_kind_key UNIQUE (kind, request_key)
);
CREATE INDEX intake_requests_pending_idx ON intake_requests (kind, created_at) WHERE status = 'pending';

-- One row per distinct e-mail (by Message-ID) or uploaded document (by bucket/key/etag): what the parser made of
-- it, and the RFQ it created or the thread it joined. A message that cannot be parsed is a row with its error.
CREATE TABLE intake_messages (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('email', 'upload')),
    message_key     text NOT NULL,
    object_uri      text NOT NULL,
    status          text NOT NULL CHECK (status IN ('parsed', 'failed')),
    error           text,
    from_address    text NOT NULL DEFAULT '',
    subject         text NOT NULL DEFAULT '',
    subject_key     text NOT NULL DEFAULT '',
    thread_keys     text[] NOT NULL DEFAULT '{}',
    parsed          jsonb NOT NULL DEFAULT '{}'::jsonb,
    rfq_id          bigint REFERENCES rfqs (id) ON DELETE SET NULL,
    joined_thread   boolean NOT NULL DEFAULT false,
    received_at     timestamptz NOT NULL DEFAULT now(),
    run_id          text,
    CONSTRAINT intake_messages_kind_key UNIQUE (kind, message_key)
);
CREATE INDEX intake_messages_subject_idx ON intake_messages (from_address, subject_key);
CREATE INDEX intake_messages_rfq_idx ON intake_messages (rfq_id);

CREATE TABLE intake_attachments (
    message_id      bigint NOT NULL REFERENCES intake_messages (id) ON DELETE CASCADE,
    position        integer NOT NULL,
    name            text NOT NULL,
    content_type    text NOT NULL,
    byte_size       integer NOT NULL,
    sha256          text NOT NULL,
    object_uri      text,
    text            text,
    error           text,
    PRIMARY KEY (message_id, position)
);
