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

-- Recordings are the evidence behind samples, grades and appeals: the store never deletes
-- one, and now refuses to. A sample's reference to its call can therefore never dangle, and
-- the foreign keys from the draw's tables go: PostgreSQL checked each by locking the call's
-- row, a write to its page, which made a month's 126 000 samples cost 7 s to store.
CREATE FUNCTION recordings_are_kept() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'recordings are kept: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER recordings_no_delete BEFORE DELETE ON recordings
    FOR EACH STATEMENT EXECUTE FUNCTION recordings_are_kept();

CREATE TRIGGER recordings_no_truncate BEFORE TRUNCATE ON recordings
    FOR EACH STATEMENT EXECUTE FUNCTION recordings_are_kept();

ALTER TABLE assignments DROP CONSTRAINT assignments_recording_id_fkey;
ALTER TABLE provisional_picks DROP CONSTRAINT provisional_picks_recording_id_fkey;
