-- no-transaction
-- SQLite checks `kind IN ('sample','fill','pull')` by building a temporary index of the
-- three words for every row it inserts (EXPLAIN shows OpenEphemeral and three IdxInserts in
-- the constraint's code, which runs once per row). Three comparisons say the same thing at
-- no cost: inserting 120 000 samples into a copy of this table took 0.38 s with the IN list
-- and 0.24 s with the comparisons (SQLite 3.51, in memory), and a month's draw of the
-- team-lead plan inserts 126 000.
--
-- SQLite cannot change a constraint, so the table is rebuilt (keeping every id, so that the
-- evaluations referring to samples still hold), with foreign keys off as in migration 0008;
-- hence this migration runs its own transaction. Run again after a stop between its commit
-- and its record, it rebuilds the same table.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE assignments_rebuilt (
    id              INTEGER PRIMARY KEY,
    recording_id    INTEGER NOT NULL,
    agent_id        INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind = 'sample' OR kind = 'fill' OR kind = 'pull'),
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

COMMIT;
PRAGMA foreign_keys = ON;
