-- Grading: versioned rubrics, evaluations (drafts and submitted), flags of poor and severe
-- calls to the team lead with the coaching that follows, and blind calibration sessions.
-- Times are integer milliseconds since the Unix epoch (UTC), flags 0/1, as everywhere.

-- A rubric version is never edited: an edit is a new row, and every evaluation keeps the
-- version it was graded with.
CREATE TABLE rubrics (
    id            INTEGER PRIMARY KEY,
    version       INTEGER NOT NULL UNIQUE,
    -- JSON: domain::grading::Rubric (grades with criteria, deduction items, score bands).
    spec          TEXT NOT NULL,
    -- NULL for the built-in default.
    created_by    INTEGER REFERENCES users(id),
    created_at_ms INTEGER NOT NULL
);

-- One call graded blind by several people (and optionally an expert, the reference).
CREATE TABLE calibration_sessions (
    id            INTEGER PRIMARY KEY,
    title         TEXT NOT NULL,
    recording_id  INTEGER NOT NULL REFERENCES recordings(id),
    rubric_id     INTEGER NOT NULL REFERENCES rubrics(id),
    expert_id     INTEGER REFERENCES users(id),
    created_by    INTEGER NOT NULL REFERENCES users(id),
    created_at_ms INTEGER NOT NULL
);

-- One grader's grading of one call: of an assignment (a sample or a pull), or their part of
-- a calibration session. A draft until submitted.
CREATE TABLE evaluations (
    id              INTEGER PRIMARY KEY,
    assignment_id   INTEGER UNIQUE REFERENCES assignments(id),
    calibration_id  INTEGER REFERENCES calibration_sessions(id),
    recording_id    INTEGER NOT NULL REFERENCES recordings(id),
    agent_id        INTEGER NOT NULL REFERENCES users(id),
    grader_id       INTEGER NOT NULL REFERENCES users(id),
    rubric_id       INTEGER NOT NULL REFERENCES rubrics(id),
    status          TEXT NOT NULL CHECK (status IN ('draft','submitted')),
    -- JSON: domain::grading::Form (deductions with times and notes, N/A items, chosen grade).
    form            TEXT NOT NULL,
    -- Set on submission, from the form and the rubric version.
    score           INTEGER,
    grade           TEXT,
    computed_grade  TEXT,
    override_reason TEXT,
    -- Bumped by every save: a save from a stale tab is refused instead of overwriting.
    revision        INTEGER NOT NULL DEFAULT 0,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    submitted_at_ms INTEGER,
    CHECK ((assignment_id IS NULL) <> (calibration_id IS NULL)),
    UNIQUE (calibration_id, grader_id)
);
CREATE INDEX evaluations_agent ON evaluations(agent_id, status);
CREATE INDEX evaluations_grader ON evaluations(grader_id, status);

-- A submitted poor or severe evaluation, waiting for the agent's team lead: 'open' until a
-- coaching session is recorded, 'coached' until its outcome is, then 'closed'.
CREATE TABLE flags (
    id              INTEGER PRIMARY KEY,
    evaluation_id   INTEGER NOT NULL UNIQUE REFERENCES evaluations(id),
    agent_id        INTEGER NOT NULL REFERENCES users(id),
    grade           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open','coached','closed')),
    created_at_ms   INTEGER NOT NULL,
    -- After this an open flag shows as overdue (the configured number of days).
    due_at_ms       INTEGER NOT NULL,
    outcome         TEXT CHECK (outcome IN ('improved','not_improved')),
    outcome_note    TEXT,
    outcome_by      INTEGER REFERENCES users(id),
    outcome_at_ms   INTEGER
);
CREATE INDEX flags_agent ON flags(agent_id, status);

-- The 1:1 coaching a lead records for a flag (there may be more than one).
CREATE TABLE coaching_sessions (
    id            INTEGER PRIMARY KEY,
    flag_id       INTEGER NOT NULL REFERENCES flags(id),
    -- YYYY-MM-DD, the day it took place.
    held_on       TEXT NOT NULL,
    discussed     TEXT NOT NULL,
    action        TEXT NOT NULL,
    coach_id      INTEGER NOT NULL REFERENCES users(id),
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX coaching_sessions_flag ON coaching_sessions(flag_id);
