-- The player: what ingest computes from a recording's audio (waveform peaks, call
-- analysis), what each person has listened to, and comments pinned to a moment of a call.
-- Times are integer milliseconds (since the Unix epoch for *_at_ms, from the start of the
-- recording otherwise), as everywhere.

-- One row per recording, written in the same transaction as the recording row.
CREATE TABLE recording_media (
    recording_id      INTEGER PRIMARY KEY REFERENCES recordings(id),
    -- Frames per waveform pixel (about 16 ms whatever the sample rate).
    samples_per_pixel INTEGER NOT NULL,
    channels          INTEGER NOT NULL,
    -- Per channel, one after the other: min, max, min, max, ... one signed byte each
    -- (-127..127), one pair per pixel.
    peaks             BLOB NOT NULL,
    -- Talk segments, silences and overtalk as JSON (see `audio::analysis`).
    analysis          TEXT NOT NULL,
    -- SHA-256 (hex) of peaks and analysis: the ETags of the two routes derive from it.
    digest            TEXT NOT NULL,
    created_at_ms     INTEGER NOT NULL
);

-- What each person's player really played of a recording: the merged, sorted union of
-- [start_ms, end_ms] intervals as JSON, and its total length.
CREATE TABLE listen_coverage (
    recording_id  INTEGER NOT NULL REFERENCES recordings(id),
    user_id       INTEGER NOT NULL REFERENCES users(id),
    intervals     TEXT NOT NULL,
    listened_ms   INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (recording_id, user_id)
);
CREATE INDEX listen_coverage_user ON listen_coverage(user_id);

-- Comments pinned to a moment (at_ms) of a call.
CREATE TABLE recording_comments (
    id            INTEGER PRIMARY KEY,
    recording_id  INTEGER NOT NULL REFERENCES recordings(id),
    author_id     INTEGER NOT NULL REFERENCES users(id),
    at_ms         INTEGER NOT NULL,
    body          TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX recording_comments_recording ON recording_comments(recording_id, at_ms, id);
