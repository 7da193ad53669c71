-- Foundation: organisation, sign-in and recordings.
-- Times are integers (milliseconds since the Unix epoch, UTC) so that SQLite and PostgreSQL
-- compare and sort them the same way; flags are 0/1 integers for the same reason.

CREATE TABLE teams (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('supervisor','inspector','team_lead','agent','panel')),
    team_id       INTEGER REFERENCES teams(id),
    hire_date     TEXT,
    -- NULL: the person cannot log in (e.g. imported without a password yet).
    password_hash TEXT,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX users_team ON users(team_id);

-- Server-side sessions; only a hash of the cookie value is stored, so a leaked database
-- does not hand out live sessions.
CREATE TABLE sessions (
    token_hash    TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Tokens call recorders use to push recordings (hash only, like sessions).
CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
);

CREATE TABLE recordings (
    id              INTEGER PRIMARY KEY,
    call_id         TEXT NOT NULL UNIQUE,
    agent_id        INTEGER NOT NULL REFERENCES users(id),
    started_at_ms   INTEGER NOT NULL,
    direction       TEXT NOT NULL CHECK (direction IN ('inbound','outbound')),
    queue           TEXT NOT NULL,
    customer_number TEXT,
    channel_layout  TEXT NOT NULL CHECK (channel_layout IN ('mono','agent_left','agent_right')),
    container       TEXT NOT NULL,
    codec           TEXT NOT NULL,
    sample_rate     INTEGER NOT NULL,
    channels        INTEGER NOT NULL,
    frames          INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL,
    damaged         INTEGER NOT NULL,
    damage_reason   TEXT,
    short_call      INTEGER NOT NULL,
    blob_key        TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    source          TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL
);
CREATE INDEX recordings_agent_started ON recordings(agent_id, started_at_ms);
CREATE INDEX recordings_started ON recordings(started_at_ms, id);
