-- Sampling: plans, their weekly strata, what each agent must get, the samples and pulls
-- graders work through (assignments), and month publication (which reveals plan seeds).
-- Times are integer milliseconds since the Unix epoch (UTC), flags 0/1, as everywhere.

-- When the draw reads only what arrived since its last run, it finds the new rows by this.
-- It covers the scan's columns (as recordings_sampling does), so a day's arrivals are one
-- short range of the index and no table lookups (measured on SQLite: the 117 000 calls of
-- a day read in 0.10 s, against 0.21 s through every agent's open weeks).
CREATE INDEX recordings_created ON recordings(created_at_ms, agent_id, started_at_ms,
    duration_ms, damaged, short_call, direction, queue, call_id);
-- The draw reads every call of a week, agent by agent, with the columns its filters need:
-- covering them turns a million table lookups into one pass over the index (measured on
-- SQLite: 0.3 s instead of 2.7 s for a week of 2 000 agents). It starts with the old
-- (agent_id, started_at_ms) index's columns, which it replaces.
CREATE INDEX recordings_sampling ON recordings(agent_id, started_at_ms, created_at_ms,
    duration_ms, damaged, short_call, direction, queue, call_id);
DROP INDEX recordings_agent_started;

CREATE TABLE sampling_plans (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    -- YYYY-MM in the time zone below (fixed at creation, so the strata never move).
    month         TEXT NOT NULL,
    time_zone     TEXT NOT NULL,
    -- JSON: {"kind":"all"} | {"kind":"teams","teams":[names]} | {"kind":"agents","agents":[usernames]}
    population    TEXT NOT NULL,
    per_agent     INTEGER NOT NULL,
    graders       TEXT NOT NULL CHECK (graders IN ('inspectors','team_lead')),
    -- JSON: min/max duration, direction, queues, skip_damaged (see domain::sampling::Filters).
    filters       TEXT NOT NULL,
    -- JSON focus rule or NULL for none (see domain::sampling::FocusRule).
    focus         TEXT,
    grace_ms      INTEGER NOT NULL,
    -- 32 random bytes (hex). Kept secret until the month is published; seed_hash
    -- (SHA-256 of the bytes) is shown from the start as the commitment.
    seed          TEXT NOT NULL,
    seed_hash     TEXT NOT NULL,
    -- created_at_ms of recordings already merged into the provisional picks.
    watermark_ms  INTEGER NOT NULL DEFAULT 0,
    -- Bumped by every draw that writes: two concurrent draws cannot both commit.
    draw_version  INTEGER NOT NULL DEFAULT 0,
    last_drawn_at_ms INTEGER,
    -- Set once every week has frozen and the grading period is over (lead shortfalls
    -- recorded): the background draw leaves the plan alone from then on.
    settled_at_ms INTEGER,
    created_by    INTEGER NOT NULL REFERENCES users(id),
    created_at_ms INTEGER NOT NULL,
    UNIQUE (month, name)
);
CREATE INDEX sampling_plans_month ON sampling_plans(month);

-- The weeks of the plan's month. A stratum freezes at deadline_ms (its end plus the grace
-- period); only recordings created before the deadline are eligible.
CREATE TABLE plan_strata (
    plan_id         INTEGER NOT NULL REFERENCES sampling_plans(id),
    stratum         INTEGER NOT NULL,
    start_ms        INTEGER NOT NULL,
    end_ms          INTEGER NOT NULL,
    deadline_ms     INTEGER NOT NULL,
    days            INTEGER NOT NULL,
    frozen_at_ms    INTEGER,
    eligible_count  INTEGER,
    eligible_digest TEXT,
    PRIMARY KEY (plan_id, stratum)
);

-- Who is in the plan and how many calls each must get (twice N for focus agents); fixed the
-- first time the agent is seen so that the draw stays reproducible.
CREATE TABLE plan_agents (
    plan_id      INTEGER NOT NULL REFERENCES sampling_plans(id),
    agent_id     INTEGER NOT NULL REFERENCES users(id),
    target       INTEGER NOT NULL,
    focus_reason TEXT,
    PRIMARY KEY (plan_id, agent_id)
);

-- One row per agent and frozen stratum: the quota, what was carried in from earlier
-- shortfalls, how many calls were eligible, how many were taken, and the digest of the
-- agent's eligible calls (so an agent can check their own part of the proof).
CREATE TABLE plan_cells (
    plan_id   INTEGER NOT NULL REFERENCES sampling_plans(id),
    agent_id  INTEGER NOT NULL REFERENCES users(id),
    stratum   INTEGER NOT NULL,
    quota     INTEGER NOT NULL,
    carry_in  INTEGER NOT NULL,
    eligible  INTEGER NOT NULL,
    taken     INTEGER NOT NULL,
    filled    INTEGER NOT NULL,
    digest    TEXT NOT NULL,
    -- 1: the agent joined the plan after this week froze (e.g. hired mid-month); the week's
    -- draw did not include their calls, so its whole quota carried forward.
    late_join INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (plan_id, agent_id, stratum)
);

-- The current picks of strata that have not frozen yet; they may still be displaced by a
-- call with a smaller key and are nobody's work until the stratum freezes.
CREATE TABLE provisional_picks (
    plan_id      INTEGER NOT NULL REFERENCES sampling_plans(id),
    agent_id     INTEGER NOT NULL REFERENCES users(id),
    stratum      INTEGER NOT NULL,
    recording_id INTEGER NOT NULL REFERENCES recordings(id),
    sample_key   TEXT NOT NULL,
    PRIMARY KEY (plan_id, recording_id)
);
CREATE INDEX provisional_picks_cell ON provisional_picks(plan_id, agent_id, stratum);

-- A grader's work: frozen samples (kind 'sample', or 'fill' when taken from another week to
-- make up a shortfall) and pulls (a call put in a queue by hand, e.g. after a complaint;
-- never part of a quota).
CREATE TABLE assignments (
    id              INTEGER PRIMARY KEY,
    recording_id    INTEGER NOT NULL REFERENCES recordings(id),
    agent_id        INTEGER NOT NULL REFERENCES users(id),
    kind            TEXT NOT NULL CHECK (kind IN ('sample','fill','pull')),
    plan_id         INTEGER REFERENCES sampling_plans(id),
    stratum         INTEGER,
    sample_key      TEXT,
    -- NULL when nobody could be assigned (e.g. a team without a lead).
    grader_id       INTEGER REFERENCES users(id),
    reason          TEXT,
    complaint       INTEGER NOT NULL DEFAULT 0,
    created_by      INTEGER REFERENCES users(id),
    created_at_ms   INTEGER NOT NULL,
    due_at_ms       INTEGER NOT NULL,
    completed_at_ms INTEGER,
    UNIQUE (plan_id, recording_id)
);
CREATE INDEX assignments_grader ON assignments(grader_id, completed_at_ms);
CREATE INDEX assignments_plan_agent ON assignments(plan_id, agent_id);

-- A team lead's missing spot-checks for a month (0.5 points each by default), recorded
-- when the plan's grading period ends, for the lead's own assessment.
CREATE TABLE lead_penalties (
    plan_id       INTEGER NOT NULL REFERENCES sampling_plans(id),
    lead_id       INTEGER NOT NULL REFERENCES users(id),
    month         TEXT NOT NULL,
    missing       INTEGER NOT NULL,
    -- Hundredths of a point, to stay an exact integer on both databases.
    points_centi  INTEGER NOT NULL,
    computed_at_ms INTEGER NOT NULL,
    PRIMARY KEY (plan_id, lead_id)
);

-- Publication of a month's results; publishing reveals the seeds of the month's plans.
CREATE TABLE month_publications (
    month           TEXT PRIMARY KEY,
    published_at_ms INTEGER NOT NULL,
    published_by    INTEGER NOT NULL REFERENCES users(id)
);
