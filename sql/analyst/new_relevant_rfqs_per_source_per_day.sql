-- New relevant RFQs per source per day.
-- Answers: how many RFQs of the target industries each marketplace brought in on each posting day, and how many of
-- those were new requests rather than reposts or copies of a request already seen (on any marketplace).
-- Relevance is the label that counts (classifications.is_latest), not an uncertain one the model was unsure of;
-- `day` is the posting day (the partition).
SELECT
    r."date" AS day,
    r.source,
    count(*) AS relevant_rfqs,
    count(*) FILTER (WHERE NOT coalesce(r.is_duplicate, false)) AS new_relevant_rfqs
FROM rfqs AS r
JOIN classifications AS c ON c.rfq_id = r.rfq_id AND c.is_latest
WHERE c.relevant AND NOT c.uncertain
GROUP BY r."date", r.source
ORDER BY day, r.source;
