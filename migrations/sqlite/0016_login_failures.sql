-- Failed logins, counted in the database so that every node of a center sees the same
-- guesses (in one process's memory, N nodes gave N times the tries). One row per counter:
-- `name:<username>|<client address>` and `addr:<client address>` (domain::login).
-- Times are integer milliseconds since the Unix epoch (UTC).
CREATE TABLE login_failures (
    key             TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_at_ms      INTEGER NOT NULL,
    locked_until_ms INTEGER NOT NULL DEFAULT 0
);
-- Old counters are swept by age.
CREATE INDEX login_failures_last ON login_failures(last_at_ms);
