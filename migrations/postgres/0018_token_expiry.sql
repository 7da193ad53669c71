-- PostgreSQL twin of the SQLite migration. -- Recorder tokens can expire, and say who made them. A revoked or expired token keeps its
-- row (and its name taken), so the `token:<name>` recorded with each recording stays
-- unambiguous. Times are integer milliseconds since the Unix epoch (UTC).
ALTER TABLE api_tokens ADD COLUMN expires_at_ms BIGINT;
ALTER TABLE api_tokens ADD COLUMN created_by BIGINT REFERENCES users(id);
