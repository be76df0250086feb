-- Which reader found a row: the source's own selectors, or the generic extractor that runs after layout drift.
-- A fallback row is kept (nothing is lost silently) and marked, so analysts and the drift check can see it.
ALTER TABLE rfqs
    ADD COLUMN extraction text NOT NULL DEFAULT 'selectors'
        CHECK (extraction IN ('selectors', 'fallback'));

-- Per crawl: list pages the fallback extractor read, and per listing how many pages were read and why paging
-- stopped (lists that are not sorted by date are read to their last page or the page cap).
ALTER TABLE source_crawls
    ADD COLUMN fallback_pages integer NOT NULL DEFAULT 0,
    ADD COLUMN listings jsonb NOT NULL DEFAULT '{}'::jsonb;
