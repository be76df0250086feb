-- Time from posting to draft (median and p90 hours) by posting month.
-- Answers: how long after a buyer posted a request (posted_at, else when we first saw it) its quote draft was ready
-- for a person to review (quote_drafts.ready_at), so slow sources or a lagging pipeline show.
SELECT
    date_trunc('month', d.rfq_posted_at)::DATE AS month,
    count(*) AS drafts,
    round(median(date_diff('second', d.rfq_posted_at, d.ready_at) / 3600.0), 2) AS median_hours,
    round(quantile_cont(date_diff('second', d.rfq_posted_at, d.ready_at) / 3600.0, 0.9), 2) AS p90_hours
FROM quote_drafts AS d
WHERE d.rfq_posted_at IS NOT NULL
GROUP BY month
ORDER BY month;
