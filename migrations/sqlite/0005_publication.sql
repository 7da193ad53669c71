-- Publication, acknowledgement, appeals and the audit trail of evaluations, plus in-app
-- notifications and the webhook outbox. Times are integer milliseconds since the Unix epoch
-- (UTC), flags 0/1, as everywhere.

-- Center-wide settings a supervisor edits (name → JSON), e.g. 'publication' (the windows,
-- the appeal limit and the working-day calendar).
CREATE TABLE settings (
    name          TEXT PRIMARY KEY,
    value         TEXT NOT NULL,
    updated_by    INTEGER REFERENCES users(id),
    updated_at_ms INTEGER NOT NULL
);

-- One release of a month's results to a population (all agents, or some teams), with the
-- deadlines computed at that moment from the policy then in force (kept in `policy`), so a
-- later policy edit never moves a window that is already running.
CREATE TABLE publications (
    id                    INTEGER PRIMARY KEY,
    month                 TEXT NOT NULL,
    -- JSON list of team names; NULL: every agent.
    teams                 TEXT,
    published_by          INTEGER NOT NULL REFERENCES users(id),
    published_at_ms       INTEGER NOT NULL,
    appeal_closes_at_ms   INTEGER NOT NULL,
    acknowledge_due_at_ms INTEGER NOT NULL,
    policy                TEXT NOT NULL,
    -- Set when the leads were told who had not acknowledged by the deadline.
    ack_reminded_at_ms    INTEGER
);
CREATE INDEX publications_month ON publications(month);

-- An agent's published month: what the agent signs off and appeals within. The month's
-- bounds are kept as instants so "is this call's month published for its agent" is a range
-- test in SQL.
CREATE TABLE agent_months (
    agent_id           INTEGER NOT NULL REFERENCES users(id),
    month              TEXT NOT NULL,
    starts_at_ms       INTEGER NOT NULL,
    ends_at_ms         INTEGER NOT NULL,
    publication_id     INTEGER NOT NULL REFERENCES publications(id),
    acknowledged_at_ms INTEGER,
    -- Appeals filed so far (decided ones included): checked and bumped in one statement, so
    -- two appeals at once cannot both slip under the limit.
    appeals_filed      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, month)
);
CREATE INDEX agent_months_publication ON agent_months(publication_id);

-- An agent's appeal of one evaluation (or of particular deductions in it).
CREATE TABLE appeals (
    id             INTEGER PRIMARY KEY,
    evaluation_id  INTEGER NOT NULL REFERENCES evaluations(id),
    agent_id       INTEGER NOT NULL REFERENCES users(id),
    month          TEXT NOT NULL,
    publication_id INTEGER NOT NULL REFERENCES publications(id),
    -- JSON list of indexes into the form's deductions; [] appeals the whole evaluation.
    deductions     TEXT NOT NULL,
    reason         TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('open','decided')),
    filed_at_ms    INTEGER NOT NULL,
    -- The panel answers by then.
    due_at_ms      INTEGER NOT NULL,
    -- The inspector asked for a blind re-grade, if any.
    regrader_id    INTEGER REFERENCES users(id),
    decision       TEXT CHECK (decision IN ('upheld','overturned','amended')),
    decision_reason TEXT,
    decided_by     INTEGER REFERENCES users(id),
    decided_at_ms  INTEGER,
    -- Set when the panel was told the appeal is overdue.
    overdue_notified_at_ms INTEGER
);
-- One open appeal per evaluation: of two filed at the same moment, the second fails here.
CREATE UNIQUE INDEX appeals_one_open ON appeals(evaluation_id) WHERE status = 'open';
CREATE INDEX appeals_status ON appeals(status, due_at_ms);
CREATE INDEX appeals_agent ON appeals(agent_id, month);
CREATE INDEX appeals_publication ON appeals(publication_id, status);

-- A blind re-grade is a pull in the re-grader's queue that belongs to an appeal: it is not
-- one of the agent's results, flags nobody, and its grader cannot see the original.
ALTER TABLE assignments ADD COLUMN appeal_id INTEGER REFERENCES appeals(id);

-- Every change to an evaluation, append-only (the triggers below refuse UPDATE and DELETE):
-- who, when, why, the state before (NULL for the submission) and after, as JSON of
-- domain::audit::EvaluationState.
CREATE TABLE evaluation_revisions (
    id            INTEGER PRIMARY KEY,
    evaluation_id INTEGER NOT NULL REFERENCES evaluations(id),
    seq           INTEGER NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('submit','override','appeal_decision','correction')),
    post_lock     INTEGER NOT NULL DEFAULT 0,
    appeal_id     INTEGER REFERENCES appeals(id),
    actor_id      INTEGER NOT NULL REFERENCES users(id),
    at_ms         INTEGER NOT NULL,
    reason        TEXT,
    old_value     TEXT,
    new_value     TEXT NOT NULL,
    UNIQUE (evaluation_id, seq)
);

CREATE TRIGGER evaluation_revisions_no_update BEFORE UPDATE ON evaluation_revisions
BEGIN
    SELECT RAISE(ABORT, 'evaluation_revisions is append-only: UPDATE is not allowed');
END;

CREATE TRIGGER evaluation_revisions_no_delete BEFORE DELETE ON evaluation_revisions
BEGIN
    SELECT RAISE(ABORT, 'evaluation_revisions is append-only: DELETE is not allowed');
END;

-- Evaluations submitted before the trail existed get their submission as revision 1.
INSERT INTO evaluation_revisions (evaluation_id, seq, kind, actor_id, at_ms, reason, new_value)
SELECT id, 1, 'submit', grader_id, COALESCE(submitted_at_ms, updated_at_ms), override_reason,
       json_object('status', status, 'form', json(form), 'score', score, 'grade', grade,
                   'computed_grade', computed_grade, 'override_reason', override_reason)
FROM evaluations WHERE status = 'submitted';

-- In-app notifications. `dedupe_key` makes repeated checks (overdue appeals, missing
-- acknowledgements) notify once.
CREATE TABLE notifications (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    kind          TEXT NOT NULL,
    -- JSON: texts in both languages, the link, the event's details.
    payload       TEXT NOT NULL,
    dedupe_key    TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    read_at_ms    INTEGER,
    UNIQUE (user_id, dedupe_key)
);
CREATE INDEX notifications_user ON notifications(user_id, read_at_ms);

-- Events waiting to be posted to the configured webhook (kept until delivered, so an event
-- survives a restart or the receiver being down).
CREATE TABLE webhook_outbox (
    id                 INTEGER PRIMARY KEY,
    event              TEXT NOT NULL,
    payload            TEXT NOT NULL,
    dedupe_key         TEXT NOT NULL UNIQUE,
    created_at_ms      INTEGER NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    delivered_at_ms    INTEGER,
    last_error         TEXT
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox(delivered_at_ms, next_attempt_at_ms);
