-- The sales desk: people who act on drafts, versions of a draft, the mail that leaves, what comes back.

-- A draft waiting for the buyer's answer to a clarifying question is 'clarifying'; the answer makes a new version
-- and puts the draft back in the queue.
ALTER TABLE quote_drafts DROP CONSTRAINT quote_drafts_state_check;
ALTER TABLE quote_drafts ADD CONSTRAINT quote_drafts_state_check
    CHECK (state IN ('queued', 'approved', 'edited', 'rejected', 'expired', 'sent', 'won', 'lost', 'clarifying'));
ALTER TABLE quote_drafts ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE quote_drafts ADD COLUMN first_sent_at timestamptz;

-- Every version of a draft's body: version 1 as drafted, then a rep's edit or a redraft after the buyer's reply.
-- quote_drafts.body is always the body of quote_drafts.version.
CREATE TABLE quote_draft_versions (
    draft_id            bigint NOT NULL REFERENCES quote_drafts (id) ON DELETE CASCADE,
    version             integer NOT NULL CHECK (version >= 1),
    reason              text NOT NULL CHECK (reason IN ('drafted', 'edited', 'buyer_reply')),
    body                jsonb NOT NULL,
    total               numeric,
    needs_review        boolean NOT NULL,
    guardrails_passed   boolean NOT NULL,
    pdf_uri             text,
    actor               text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (draft_id, version)
);
INSERT INTO quote_draft_versions (draft_id, version, reason, body, total, needs_review, guardrails_passed, pdf_uri,
                                  actor, created_at)
SELECT id, 1, 'drafted', body, total, needs_review, guardrails_passed, pdf_uri, 'drafter', created_at
FROM quote_drafts;

-- Events: state changes as before, and the actions that do not change the state (an edit, a sent question, a
-- confirmed address, a reply that came back) with the version they concern and what they carried.
ALTER TABLE quote_draft_events ADD COLUMN action text NOT NULL DEFAULT 'state';
ALTER TABLE quote_draft_events ADD COLUMN version integer;
ALTER TABLE quote_draft_events ADD COLUMN detail jsonb NOT NULL DEFAULT '{}'::jsonb;

-- Desk users. The password hash is argon2id (its own parameters and salt inside the encoded string).
CREATE TABLE desk_users (
    id                  bigserial PRIMARY KEY,
    email               text NOT NULL,
    role                text NOT NULL CHECK (role IN ('rep', 'lead')),
    password_hash       text NOT NULL,
    active              boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_login_at       timestamptz,
    CONSTRAINT desk_users_email_key UNIQUE (email),
    CONSTRAINT desk_users_email_lower CHECK (email = lower(email))
);

-- Sign-in attempts, for the rate limit (per address and per client) and for the record.
CREATE TABLE desk_login_attempts (
    id                  bigserial PRIMARY KEY,
    email               text NOT NULL,
    remote_addr         text NOT NULL,
    succeeded           boolean NOT NULL,
    at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX desk_login_attempts_email_idx ON desk_login_attempts (email, at);
CREATE INDEX desk_login_attempts_addr_idx ON desk_login_attempts (remote_addr, at);

-- Signed links in Slack messages are single-use: the signature proves who minted a link, this row that it was
-- not used before.
CREATE TABLE desk_link_tokens (
    token_id            text PRIMARY KEY,
    draft_id            bigint NOT NULL REFERENCES quote_drafts (id) ON DELETE CASCADE,
    action              text NOT NULL CHECK (action IN ('approve', 'open')),
    purpose             text NOT NULL,               -- new_draft | reminder | escalation
    issued_at           timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    used_at             timestamptz,
    used_by             text
);
CREATE INDEX desk_link_tokens_draft_idx ON desk_link_tokens (draft_id);

-- Mail that leaves: one row per draft, version and kind, claimed before the SES call, so a retry never sends twice.
CREATE TABLE outbound_emails (
    id                  bigserial PRIMARY KEY,
    draft_id            bigint NOT NULL REFERENCES quote_drafts (id) ON DELETE CASCADE,
    version             integer NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('quote', 'clarification')),
    to_address          text NOT NULL,
    from_address        text NOT NULL,
    reply_to            text NOT NULL,
    subject             text NOT NULL,
    message_id          text NOT NULL,               -- our RFC 5322 Message-ID, without angle brackets
    in_reply_to         text,
    references_header   text,
    ses_message_id      text,
    status              text NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'sent', 'failed')),
    detail              text NOT NULL DEFAULT '',
    actor               text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    CONSTRAINT outbound_emails_once UNIQUE (draft_id, version, kind),
    CONSTRAINT outbound_emails_message_id_key UNIQUE (message_id)
);

-- Addresses never to mail again: fed by SES bounce and complaint notifications (SNS -> SQS -> sensor).
CREATE TABLE email_suppressions (
    address             text PRIMARY KEY CHECK (address = lower(address)),
    reason              text NOT NULL CHECK (reason IN ('bounce', 'complaint', 'manual')),
    detail              jsonb NOT NULL DEFAULT '{}'::jsonb,
    feedback_id         text,
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- A marketplace RFQ with no e-mail: the rep answers on the marketplace, with the text and the PDF ready.
CREATE TABLE marketplace_reply_tasks (
    draft_id            bigint NOT NULL REFERENCES quote_drafts (id) ON DELETE CASCADE,
    version             integer NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('quote', 'clarification')),
    source              text NOT NULL,
    url                 text,
    body_text           text NOT NULL,
    pdf_uri             text,
    status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    done_at             timestamptz,
    done_by             text,
    PRIMARY KEY (draft_id, version, kind)
);
