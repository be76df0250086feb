-- Win rate by month: won / (won + lost).
-- Answers: of the quotes decided in each month, the share the buyer accepted. A draft's won and lost states are
-- final, so its state_changed_at is when the outcome was recorded; undecided drafts do not count.
SELECT
    date_trunc('month', d.state_changed_at)::DATE AS month,
    count(*) FILTER (WHERE d.state = 'won') AS won,
    count(*) FILTER (WHERE d.state = 'lost') AS lost,
    round(count(*) FILTER (WHERE d.state = 'won') / count(*), 3) AS win_rate
FROM quote_drafts AS d
WHERE d.state IN ('won', 'lost')
GROUP BY month
ORDER BY month;
