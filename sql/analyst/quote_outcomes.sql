-- Quote outcomes per source, industry and country.
-- Answers: for the drafts of each marketplace, industry and buyer country, how long after the buyer posted the first
-- quote went out (median and p90 hours, sent drafts only), the approval rate (approved / drafts that left the review
-- queue: approved, rejected, or expired without a decision; drafts still waiting do not count) and the win rate
-- (won / (won + lost); undecided quotes do not count). One row per dimension and value; `value` '(unknown)' gathers
-- drafts whose RFQ had no label or no country.
WITH outcomes AS (
    SELECT
        o.source,
        o.industry,
        coalesce(o.country_name, o.country_code) AS country,
        o.approved,
        o.sent,
        o.outcome,
        o.time_to_first_quote_hours,
        o.approved OR o.state IN ('rejected', 'expired') AS left_review
    FROM quote_outcomes AS o
)
SELECT
    CASE WHEN grouping(source) = 0 THEN 'source' WHEN grouping(industry) = 0 THEN 'industry' ELSE 'country' END
        AS dimension,
    coalesce(
        CASE WHEN grouping(source) = 0 THEN source WHEN grouping(industry) = 0 THEN industry ELSE country END,
        '(unknown)'
    ) AS value,
    count(*) AS drafts,
    count(*) FILTER (WHERE approved) AS approved,
    count(*) FILTER (WHERE sent) AS sent,
    round(median(time_to_first_quote_hours), 2) AS median_hours_to_first_quote,
    round(quantile_cont(time_to_first_quote_hours, 0.9), 2) AS p90_hours_to_first_quote,
    round(count(*) FILTER (WHERE approved) / nullif(count(*) FILTER (WHERE left_review), 0), 3) AS approval_rate,
    count(*) FILTER (WHERE outcome = 'won') AS won,
    count(*) FILTER (WHERE outcome = 'lost') AS lost,
    round(count(*) FILTER (WHERE outcome = 'won') / nullif(count(*) FILTER (WHERE outcome IS NOT NULL), 0), 3)
        AS win_rate
FROM outcomes
GROUP BY GROUPING SETS ((source), (industry), (country))
ORDER BY grouping(source), grouping(industry), drafts DESC, value;
