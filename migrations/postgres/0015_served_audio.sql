-- What audio the server really streamed to each person (PostgreSQL twin of the SQLite
-- migration): listen coverage is credited only for served audio and no faster than the
-- fastest playback speed since it was served (`domain::listening`). Kept in the database,
-- not in a server's memory: several nodes may serve one person's player.
--
-- One row per person and recording: the merged, sorted stretches of the call served to
-- them as JSON `[[start_ms, end_ms, served_at_ms], ...]` (a stretch keeps the time its first
-- part was served), so the many byte ranges a player fetches coalesce into a handful.
CREATE TABLE served_audio (
    recording_id  BIGINT NOT NULL REFERENCES recordings(id),
    user_id       BIGINT NOT NULL REFERENCES users(id),
    spans         TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (recording_id, user_id)
);
