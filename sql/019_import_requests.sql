-- Archives uploaded under imports/<source>/ are recorded like mail and documents, as requests of kind 'import'.
ALTER TABLE intake_requests DROP CONSTRAINT intake_requests_kind_check;
ALTER TABLE intake_requests ADD CONSTRAINT intake_requests_kind_check
    CHECK (kind IN ('email', 'upload', 'scrape', 'import'));
