-- Drafts waiting for review, by age.
-- Answers: how many drafts sat queued or edited (waiting on a person) at the time of the export, bucketed by how long
-- they had been ready, and how many of them were flagged as needing review (an unmatched product, a quantity below
-- the minimum order, no quantity). The age is measured at the export (export_meta.exported_at), not at query time:
-- a draft may have been approved since.
WITH as_of AS (
    SELECT max(exported_at) AS exported_at FROM export_meta WHERE table_name = 'quote_drafts'
), waiting AS (
    SELECT d.draft_id, d.needs_review, date_diff('minute', d.ready_at, as_of.exported_at) / 60.0 AS age_hours
    FROM quote_drafts AS d, as_of
    WHERE d.state IN ('queued', 'edited')
)
SELECT
    CASE
        WHEN age_hours < 24 THEN '0-24 h'
        WHEN age_hours < 48 THEN '24-48 h'
        WHEN age_hours < 168 THEN '2-7 days'
        ELSE 'over 7 days'
    END AS age,
    count(*) AS drafts,
    count(*) FILTER (WHERE needs_review) AS needs_review,
    round(max(age_hours), 1) AS oldest_hours
FROM waiting
GROUP BY age
ORDER BY min(age_hours);
