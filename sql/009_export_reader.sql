-- Analyst exports read the database through a read-only role: the export transaction is READ ONLY and runs
-- `SET LOCAL ROLE rfq_export_reader`, so even a bug in an export query cannot write, and the role's grants say
-- exactly what an export may see.

-- Roles belong to the cluster, not the database, so another database (or a concurrent runner) may have created it
-- already; both cases are fine.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rfq_export_reader') THEN
        CREATE ROLE rfq_export_reader NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO rfq_export_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO rfq_export_reader;
-- Tables that later migrations create (as the same migrating user) are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO rfq_export_reader;

-- The migrating user may assume the role (SET ROLE needs membership; a superuser needs none). A pipeline that logs in
-- as another user needs `GRANT rfq_export_reader TO <login>`, or RFQ_EXPORT_ROLE set empty.
GRANT rfq_export_reader TO CURRENT_USER;

-- Every export and the daily stages select a posting day as COALESCE(posted_at, first_seen_at); index it.
CREATE INDEX IF NOT EXISTS rfqs_posted_or_seen_idx ON rfqs ((COALESCE(posted_at, first_seen_at)));
