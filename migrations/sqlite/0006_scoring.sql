-- Scores: imported components, commendations, and every recomputation of a month kept as a
-- version (a run) with each agent's and each lead's results. Times are integer
-- milliseconds since the Unix epoch (UTC), flags 0/1, as everywhere.

-- Component values imported per agent and month (CSV: agent,month,component,points). The
-- value is what the source system gives; the component's rule and cap (the scoring
-- configuration) turn it into points when a month is computed. A new import replaces it.
CREATE TABLE component_values (
    agent_id       INTEGER NOT NULL REFERENCES users(id),
    month          TEXT NOT NULL,
    component      TEXT NOT NULL,
    value          REAL NOT NULL,
    imported_by    INTEGER REFERENCES users(id),
    imported_at_ms INTEGER NOT NULL,
    PRIMARY KEY (month, agent_id, component)
);

-- Praise an agent received (phone, in writing, in the media), recorded by a supervisor.
CREATE TABLE commendations (
    id            INTEGER PRIMARY KEY,
    agent_id      INTEGER NOT NULL REFERENCES users(id),
    month         TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('phone','written','media')),
    note          TEXT NOT NULL,
    created_by    INTEGER NOT NULL REFERENCES users(id),
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX commendations_month ON commendations(month, agent_id);

-- One computation of a month: what triggered it (publication, an appeal decision, a
-- post-lock correction, an import, a supervisor) and the configuration it used. The newest
-- run of a month is its current result; older runs stay as its history.
CREATE TABLE score_runs (
    id            INTEGER PRIMARY KEY,
    month         TEXT NOT NULL,
    cause         TEXT NOT NULL,
    detail        TEXT,
    triggered_by  INTEGER REFERENCES users(id),
    at_ms         INTEGER NOT NULL,
    config        TEXT NOT NULL
);
CREATE INDEX score_runs_month ON score_runs(month, id);

-- Each published agent's result in a run.
CREATE TABLE agent_scores (
    run_id        INTEGER NOT NULL REFERENCES score_runs(id),
    agent_id      INTEGER NOT NULL REFERENCES users(id),
    team_id       INTEGER,
    evaluations   INTEGER NOT NULL,
    -- Service-quality score (mean of the month's published evaluation scores) and its 95 %
    -- interval; NULL without evaluations (interval: with fewer than two).
    sq_score      REAL,
    sq_low        REAL,
    sq_high       REAL,
    pay           INTEGER NOT NULL,
    pay_cancelled INTEGER NOT NULL,
    overall       REAL NOT NULL,
    level         TEXT NOT NULL,
    -- JSON: grade counts, commendations, the components with raw value and points, what was
    -- missing.
    detail        TEXT NOT NULL,
    PRIMARY KEY (run_id, agent_id)
);
CREATE INDEX agent_scores_agent ON agent_scores(agent_id, run_id);

-- Each team lead's assessment in a run: missing spot-checks and their penalty, and the
-- team's service-quality points.
CREATE TABLE lead_scores (
    run_id         INTEGER NOT NULL REFERENCES score_runs(id),
    lead_id        INTEGER NOT NULL REFERENCES users(id),
    team_id        INTEGER,
    missing        INTEGER NOT NULL,
    penalty        REAL NOT NULL,
    team_sq_points REAL,
    PRIMARY KEY (run_id, lead_id)
);
