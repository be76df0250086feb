-- Dedup: the keys each member was matched on, the evidence of the match, and a history of cluster merges.
-- Cluster ids are stable: a cluster absorbed by a merge keeps its row (no members, merged_into = the survivor), so
-- an id handed out earlier still resolves.

ALTER TABLE dedup_cluster_members
    ADD COLUMN content_hash text,
    ADD COLUMN url_key text,
    ADD COLUMN matched_rfq_id bigint REFERENCES rfqs (id) ON DELETE SET NULL,
    ADD COLUMN evidence jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN assigned_by text NOT NULL DEFAULT '',
    ADD CONSTRAINT dedup_cluster_members_matched_by_check
        CHECK (matched_by IN ('new', 'external_id', 'canonical_url', 'content_hash', 'near_duplicate'));
CREATE INDEX dedup_cluster_members_content_hash_idx ON dedup_cluster_members (content_hash);
CREATE INDEX dedup_cluster_members_url_key_idx ON dedup_cluster_members (url_key);

ALTER TABLE dedup_clusters
    ADD COLUMN merged_into bigint REFERENCES dedup_clusters (id),
    ADD COLUMN merged_at timestamptz,
    ADD CONSTRAINT dedup_clusters_not_merged_into_itself CHECK (merged_into IS DISTINCT FROM id);
CREATE INDEX dedup_clusters_merged_into_idx ON dedup_clusters (merged_into) WHERE merged_into IS NOT NULL;

-- One row per cluster absorbed into an older one: which RFQ's match caused it, on what evidence, who ran it.
CREATE TABLE dedup_cluster_merges (
    id              bigserial PRIMARY KEY,
    from_cluster_id bigint NOT NULL REFERENCES dedup_clusters (id),
    into_cluster_id bigint NOT NULL REFERENCES dedup_clusters (id),
    trigger_rfq_id  bigint REFERENCES rfqs (id) ON DELETE SET NULL,
    matched_by      text NOT NULL,
    similarity      real,
    moved_rfq_ids   bigint[] NOT NULL,
    merged_by       text NOT NULL DEFAULT '',
    reason          text NOT NULL DEFAULT '',
    merged_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dedup_cluster_merges_into_idx ON dedup_cluster_merges (into_cluster_id);
CREATE INDEX dedup_cluster_merges_from_idx ON dedup_cluster_merges (from_cluster_id);
