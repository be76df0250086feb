-- Enrichment (one buyer per dedup cluster) and quote drafts (priced from the catalog, with a state history).

-- The catalog as loaded by the catalog/products asset. A new file version replaces the rows of SKUs it lists and
-- retires the others (active = false) so drafts citing an old SKU still resolve it.
CREATE TABLE catalog_products (
    sku                 text PRIMARY KEY,
    name                text NOT NULL,
    aliases             text[] NOT NULL DEFAULT '{}',
    category            text NOT NULL,
    unit                text NOT NULL,
    moq                 integer NOT NULL CHECK (moq > 0),
    tiers               jsonb NOT NULL,             -- [{"min_quantity": n, "unit_price": "1.23"}, ...] ascending
    currency            char(3) NOT NULL,
    stock               integer NOT NULL CHECK (stock >= 0),
    max_discount_pct    numeric NOT NULL CHECK (max_discount_pct >= 0 AND max_discount_pct <= 100),
    source_row          integer NOT NULL,           -- line of the CSV, for the draft's citation
    catalog_version     text NOT NULL,              -- sha256 of the file the row came from
    active              boolean NOT NULL DEFAULT true,
    loaded_at           timestamptz NOT NULL DEFAULT now()
);

-- One buyer per dedup cluster: enrichment runs once per cluster, so reposts of one request are paid for once.
CREATE TABLE buyers (
    id                  bigserial PRIMARY KEY,
    cluster_id          bigint NOT NULL REFERENCES dedup_clusters (id),
    rfq_id              bigint NOT NULL REFERENCES rfqs (id),  -- the cluster's canonical RFQ when enriched
    company             text,
    company_key         text NOT NULL DEFAULT '',
    domain              text,
    country_code        char(2),
    email               text,
    email_status        text CHECK (email_status IN ('valid', 'invalid', 'disposable', 'do_not_mail', 'unknown')),
    email_detail        jsonb NOT NULL DEFAULT '{}'::jsonb,
    confidence          jsonb NOT NULL DEFAULT '{}'::jsonb,
    risk_score          integer NOT NULL CHECK (risk_score >= 0 AND risk_score <= 100),
    risk_level          text NOT NULL CHECK (risk_level IN ('low', 'medium', 'high')),
    risk_reasons        jsonb NOT NULL DEFAULT '[]'::jsonb,
    method              text NOT NULL CHECK (method IN ('deterministic', 'research_agent')),
    research            jsonb NOT NULL DEFAULT '{}'::jsonb,  -- the agent's steps, pages, spend and stop reason
    enricher_version    text NOT NULL,
    enriched_at         timestamptz NOT NULL DEFAULT now(),
    run_id              text,
    CONSTRAINT buyers_cluster_key UNIQUE (cluster_id)
);
CREATE INDEX buyers_company_key_idx ON buyers (company_key);
CREATE INDEX buyers_domain_idx ON buyers (domain);

CREATE TABLE buyer_contacts (
    buyer_id            bigint NOT NULL REFERENCES buyers (id) ON DELETE CASCADE,
    contact_key         text NOT NULL,
    name                text,
    role                text,
    email               text,
    phone               text,
    phone_country       char(2),
    confidence          jsonb NOT NULL DEFAULT '{}'::jsonb,
    evidence            jsonb NOT NULL DEFAULT '[]'::jsonb,  -- [{"source": page URL or message id, "text": ...}]
    PRIMARY KEY (buyer_id, contact_key)
);

-- One draft per cluster. The body is the whole draft as JSON (lines, stages, citations, guardrail results); the
-- columns beside it are what people filter on.
CREATE TABLE quote_drafts (
    id                  bigserial PRIMARY KEY,
    cluster_id          bigint NOT NULL REFERENCES dedup_clusters (id),
    rfq_id              bigint NOT NULL REFERENCES rfqs (id),
    buyer_id            bigint REFERENCES buyers (id),
    state               text NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'approved', 'edited', 'rejected', 'expired', 'sent', 'won', 'lost')),
    currency            char(3) NOT NULL,
    incoterm            text NOT NULL,
    total               numeric,
    needs_review        boolean NOT NULL,
    guardrails_passed   boolean NOT NULL,
    cover_source        text NOT NULL CHECK (cover_source IN ('composer', 'template')),
    catalog_version     text NOT NULL,
    fx_as_of            date NOT NULL,
    body                jsonb NOT NULL,
    pdf_uri             text,
    ready_at            timestamptz NOT NULL DEFAULT now(),
    state_changed_at    timestamptz NOT NULL DEFAULT now(),
    notified            text[] NOT NULL DEFAULT '{}',    -- follow-ups already sent: reminder, escalation
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    run_id              text,
    CONSTRAINT quote_drafts_cluster_key UNIQUE (cluster_id)
);
CREATE INDEX quote_drafts_state_idx ON quote_drafts (state, ready_at);

-- Every state change, by whom and why; the draft row holds only the current state.
CREATE TABLE quote_draft_events (
    id                  bigserial PRIMARY KEY,
    draft_id            bigint NOT NULL REFERENCES quote_drafts (id) ON DELETE CASCADE,
    from_state          text NOT NULL,
    to_state            text NOT NULL,
    actor               text NOT NULL,
    note                text NOT NULL DEFAULT '',
    at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quote_draft_events_draft_idx ON quote_draft_events (draft_id, at);

-- One row per draft per channel: a re-sent approval updates its row rather than posting a second time unnoticed.
CREATE TABLE quote_dispatches (
    draft_id            bigint NOT NULL REFERENCES quote_drafts (id) ON DELETE CASCADE,
    channel             text NOT NULL,
    delivered           boolean NOT NULL,
    external_id         text,
    detail              text NOT NULL DEFAULT '',
    attempts            integer NOT NULL DEFAULT 1,
    dispatched_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (draft_id, channel)
);
