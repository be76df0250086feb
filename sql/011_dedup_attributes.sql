-- Dedup reads facts before similarity: each RFQ's extracted attributes (product, specification, quantity, country,
-- buyer identities) are stored with the blocking keys that find its candidates, and are shown with its cluster.
-- Clusters can be split when a later decision contradicts a merge; every membership change is kept as history.

CREATE TABLE rfq_dedup_attributes (
    rfq_id        bigint PRIMARY KEY REFERENCES rfqs (id) ON DELETE CASCADE,
    version       text NOT NULL,
    text_sha256   text NOT NULL,           -- of the fields the attributes were read from: a change re-extracts
    attributes    jsonb NOT NULL,
    blocking_keys text[] NOT NULL DEFAULT '{}',
    extracted_at  timestamptz NOT NULL DEFAULT now()
);
-- fastupdate off: a key written is looked up by the next RFQ at once; a pending list would be scanned linearly.
CREATE INDEX rfq_dedup_attributes_blocking_idx ON rfq_dedup_attributes USING gin (blocking_keys) WITH (fastupdate = off);

ALTER TABLE dedup_clusters ADD COLUMN split_from bigint REFERENCES dedup_clusters (id);

-- Every time an RFQ enters or leaves a cluster: founded, joined, moved by a merge, split out, re-evaluated.
CREATE TABLE dedup_membership_history (
    id         bigserial PRIMARY KEY,
    rfq_id     bigint NOT NULL REFERENCES rfqs (id) ON DELETE CASCADE,
    cluster_id bigint NOT NULL REFERENCES dedup_clusters (id),
    event      text NOT NULL CHECK (event IN ('founded', 'joined', 'merged_in', 'split_out', 'kept')),
    reason     text NOT NULL DEFAULT '',
    actor      text NOT NULL DEFAULT '',
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dedup_membership_history_rfq_idx ON dedup_membership_history (rfq_id, at);

-- One row per split: which RFQs left which cluster for which new one, and why.
CREATE TABLE dedup_cluster_splits (
    id              bigserial PRIMARY KEY,
    from_cluster_id bigint NOT NULL REFERENCES dedup_clusters (id),
    into_cluster_id bigint NOT NULL REFERENCES dedup_clusters (id),
    rfq_ids         bigint[] NOT NULL,
    reason          text NOT NULL,
    split_by        text NOT NULL DEFAULT '',
    split_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dedup_cluster_splits_from_idx ON dedup_cluster_splits (from_cluster_id);
