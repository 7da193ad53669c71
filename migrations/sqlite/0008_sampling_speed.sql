-- no-transaction
-- Faster draws on a full-size center (measured with `bench sampling`: 2 000 agents, 3.5
-- million calls in a month).
--
-- Recordings, people and plans are the evidence behind samples, grades, appeals and pay:
-- the store never deletes one (people leave as inactive), and now refuses to. A draw's rows
-- therefore cannot lose what they refer to, and the foreign keys of the two tables a draw
-- fills in bulk go: checking the call of each sample looked it up in the largest table, at
-- random (0.65 s of the 1.0 s that a month's 126 000 samples took to insert).
--
-- SQLite cannot drop a foreign key, so the two tables are rebuilt without them (keeping every
-- id, so the references to them hold). That needs foreign keys off, which only works outside
-- a transaction; hence this migration runs its own. Should the process stop after the commit
-- but before the migration is recorded, running it again rebuilds the same tables.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TRIGGER IF NOT EXISTS recordings_no_delete BEFORE DELETE ON recordings
BEGIN
    SELECT RAISE(ABORT, 'recordings are kept: DELETE is not allowed');
END;
CREATE TRIGGER IF NOT EXISTS users_no_delete BEFORE DELETE ON users
BEGIN
    SELECT RAISE(ABORT, 'users are kept: DELETE is not allowed');
END;
CREATE TRIGGER IF NOT EXISTS sampling_plans_no_delete BEFORE DELETE ON sampling_plans
BEGIN
    SELECT RAISE(ABORT, 'sampling_plans are kept: DELETE is not allowed');
END;

CREATE TABLE assignments_rebuilt (
    id              INTEGER PRIMARY KEY,
    recording_id    INTEGER NOT NULL,
    agent_id        INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('sample','fill','pull')),
    plan_id         INTEGER,
    stratum         INTEGER,
    sample_key      TEXT,
    -- NULL when nobody could be assigned (e.g. a team without a lead).
    grader_id       INTEGER,
    reason          TEXT,
    complaint       INTEGER NOT NULL DEFAULT 0,
    created_by      INTEGER REFERENCES users(id),
    created_at_ms   INTEGER NOT NULL,
    due_at_ms       INTEGER NOT NULL,
    completed_at_ms INTEGER,
    -- A blind re-grade for an appeal.
    appeal_id       INTEGER REFERENCES appeals(id),
    UNIQUE (plan_id, recording_id)
);
INSERT INTO assignments_rebuilt (id, recording_id, agent_id, kind, plan_id, stratum,
    sample_key, grader_id, reason, complaint, created_by, created_at_ms, due_at_ms,
    completed_at_ms, appeal_id)
SELECT id, recording_id, agent_id, kind, plan_id, stratum, sample_key, grader_id, reason,
    complaint, created_by, created_at_ms, due_at_ms, completed_at_ms, appeal_id
FROM assignments;
DROP TABLE assignments;
ALTER TABLE assignments_rebuilt RENAME TO assignments;
CREATE INDEX assignments_grader ON assignments(grader_id, completed_at_ms);
CREATE INDEX assignments_plan_agent ON assignments(plan_id, agent_id);

CREATE TABLE provisional_picks_rebuilt (
    plan_id      INTEGER NOT NULL,
    agent_id     INTEGER NOT NULL,
    stratum      INTEGER NOT NULL,
    recording_id INTEGER NOT NULL,
    sample_key   TEXT NOT NULL,
    PRIMARY KEY (plan_id, recording_id)
);
INSERT INTO provisional_picks_rebuilt (plan_id, agent_id, stratum, recording_id, sample_key)
SELECT plan_id, agent_id, stratum, recording_id, sample_key FROM provisional_picks;
DROP TABLE provisional_picks;
ALTER TABLE provisional_picks_rebuilt RENAME TO provisional_picks;
CREATE INDEX provisional_picks_cell ON provisional_picks(plan_id, agent_id, stratum);

COMMIT;
PRAGMA foreign_keys = ON;
