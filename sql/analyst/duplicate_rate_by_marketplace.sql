-- Duplicate rate by marketplace.
-- Answers: of the RFQs each marketplace listed (those dedup has assigned to a cluster), what share were a repost or a
-- copy of a request already known, and how many of those copies were first seen on another marketplace.
SELECT
    r.source,
    count(*) AS rfqs,
    count(*) FILTER (WHERE r.is_duplicate) AS duplicates,
    count(*) FILTER (WHERE r.is_duplicate AND canonical.source <> r.source) AS cross_marketplace_duplicates,
    round(count(*) FILTER (WHERE r.is_duplicate) / count(*), 3) AS duplicate_rate
FROM rfqs AS r
LEFT JOIN rfqs AS canonical ON canonical.rfq_id = r.canonical_rfq_id
WHERE r.is_duplicate IS NOT NULL
GROUP BY r.source
ORDER BY duplicate_rate DESC, r.source;
