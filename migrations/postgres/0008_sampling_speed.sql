-- PostgreSQL twin of the SQLite migration: faster draws on a full-size center (measured with
-- `bench sampling`: 2 000 agents, 3.5 million calls in a month).

-- PostgreSQL keeps a row's id out of its indexes, so the draw's scans, which need the id of
-- every eligible call, visited the table for each of them. Carrying the id makes them
-- index-only (one week of 2 000 agents: 0.29 s instead of 0.65-1.0 s). SQLite's indexes
-- always carry the row id.
DROP INDEX recordings_sampling;
CREATE INDEX recordings_sampling ON recordings(agent_id, started_at_ms, created_at_ms,
    duration_ms, damaged, short_call, direction, queue, call_id) INCLUDE (id);
DROP INDEX recordings_created;
CREATE INDEX recordings_created ON recordings(created_at_ms, agent_id, started_at_ms,
    duration_ms, damaged, short_call, direction, queue, call_id) INCLUDE (id);

-- Recordings, people and plans are the evidence behind samples, grades, appeals and pay:
-- the store never deletes one (people leave as inactive), and now refuses to. A draw's rows
-- therefore cannot lose what they refer to, and the foreign keys of the two tables a draw
-- fills in bulk go. PostgreSQL checked each with a query per row that locks the referenced
-- row (for a call, a write to its page): a month's 126 000 samples took 7 s to store, 2.5 s
-- without the check of the call, and about 1.2 s without any.
CREATE FUNCTION rows_are_kept() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% are kept: % is not allowed', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER recordings_no_delete BEFORE DELETE ON recordings
    FOR EACH STATEMENT EXECUTE FUNCTION rows_are_kept();
CREATE TRIGGER recordings_no_truncate BEFORE TRUNCATE ON recordings
    FOR EACH STATEMENT EXECUTE FUNCTION rows_are_kept();
CREATE TRIGGER users_no_delete BEFORE DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION rows_are_kept();
CREATE TRIGGER users_no_truncate BEFORE TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION rows_are_kept();
CREATE TRIGGER sampling_plans_no_delete BEFORE DELETE ON sampling_plans
    FOR EACH STATEMENT EXECUTE FUNCTION rows_are_kept();
CREATE TRIGGER sampling_plans_no_truncate BEFORE TRUNCATE ON sampling_plans
    FOR EACH STATEMENT EXECUTE FUNCTION rows_are_kept();

ALTER TABLE assignments
    DROP CONSTRAINT assignments_recording_id_fkey,
    DROP CONSTRAINT assignments_agent_id_fkey,
    DROP CONSTRAINT assignments_grader_id_fkey,
    DROP CONSTRAINT assignments_plan_id_fkey;
ALTER TABLE provisional_picks
    DROP CONSTRAINT provisional_picks_recording_id_fkey,
    DROP CONSTRAINT provisional_picks_agent_id_fkey,
    DROP CONSTRAINT provisional_picks_plan_id_fkey;
