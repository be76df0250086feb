-- A crawl may read several consecutive days of a source at once (a backfill reads the listing once for its whole
-- range): each day still gets its row, which names the range it was read in. A day older than what the source's
-- listings show is recorded as out of reach, with no request sent.
ALTER TABLE source_crawls
    ADD COLUMN window_start date,  -- first and last day of the range read by the crawl this row belongs to
    ADD COLUMN window_end date;
ALTER TABLE source_crawls DROP CONSTRAINT source_crawls_status_check;
ALTER TABLE source_crawls ADD CONSTRAINT source_crawls_status_check
    CHECK (status IN ('ok', 'partial', 'failed', 'skipped', 'out_of_reach'));

-- How far back each listing reached on its last crawl that read it to its end or to the page cap: the oldest
-- posting day it showed. A day older than every listing's reach is not crawled (an operator can force it).
CREATE TABLE listing_reach (
    source       text NOT NULL REFERENCES sources (name),
    listing      text NOT NULL,  -- the listing's URL template, as in the source's registry entry
    oldest_day   date NOT NULL,
    stopped_by   text NOT NULL CHECK (stopped_by IN ('end_of_listing', 'page_cap')),
    pages_read   integer NOT NULL,
    observed_at  timestamptz NOT NULL DEFAULT now(),
    run_id       text NOT NULL,
    PRIMARY KEY (source, listing)
);
