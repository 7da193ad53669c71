-- PostgreSQL twin of the SQLite migration.
-- A month's computation reads its evaluations from the month's calls: this index finds the
-- evaluations of a call and carries what the computation needs, so the read follows one
-- month's calls however much history is stored.
CREATE INDEX evaluations_recording ON evaluations(recording_id, status, agent_id, assignment_id, score, grade);
