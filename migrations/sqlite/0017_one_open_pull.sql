-- Two pulls of the same call into the same grader's queue at once both passed the
-- check-then-insert (on PostgreSQL at READ COMMITTED, or from two nodes); one open pull per
-- call and grader is now a constraint, so the second gets 409 `already_queued`. Blind
-- re-grades (pulls with an appeal) are outside it: each appeal has its own.
--
-- An earlier race may have left duplicates: the later ones are closed as completed when
-- created (they never had an evaluation, or the first one holds it), so the index can be
-- built. Their rows stay.
UPDATE assignments SET completed_at_ms = created_at_ms
WHERE kind = 'pull' AND appeal_id IS NULL AND completed_at_ms IS NULL
  AND NOT EXISTS (SELECT 1 FROM evaluations e WHERE e.assignment_id = assignments.id)
  AND EXISTS (SELECT 1 FROM assignments b
              WHERE b.kind = 'pull' AND b.appeal_id IS NULL AND b.completed_at_ms IS NULL
                AND b.recording_id = assignments.recording_id
                AND b.grader_id = assignments.grader_id AND b.id < assignments.id);
CREATE UNIQUE INDEX assignments_one_open_pull ON assignments(recording_id, grader_id)
    WHERE kind = 'pull' AND appeal_id IS NULL AND completed_at_ms IS NULL;
