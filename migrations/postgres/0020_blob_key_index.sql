-- PostgreSQL twin of the SQLite migration.
-- Stored bytes are looked up by their key: after a commit that failed without saying whether
-- it happened (ingest), and by the sweeper, which removes only bytes no recording refers to.
-- Not unique: keys are 128 random bits, and a constraint would only add a failure mode.
CREATE INDEX recordings_blob_key ON recordings (blob_key);
