-- Failed Dagster runs of the sources, recorded by the run-failure sensor: one row per run (the sensor may see a
-- run again after a restart; the primary key makes recording idempotent).
CREATE TABLE run_failures (
    run_id      text PRIMARY KEY,
    source      text NOT NULL,
    job_name    text NOT NULL,
    failed_at   timestamptz NOT NULL,
    error       text NOT NULL DEFAULT ''
);
CREATE INDEX run_failures_source_idx ON run_failures (source, failed_at DESC);
