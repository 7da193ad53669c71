-- The deadline check tells supervisors once about coaching left undone past a flag's due
-- time and about queue items unfinished at theirs; these record that it did.
ALTER TABLE flags ADD COLUMN overdue_notified_at_ms INTEGER;
ALTER TABLE assignments ADD COLUMN overdue_notified_at_ms INTEGER;
-- The check runs every 30 s: it looks only at unfinished items not yet told about.
CREATE INDEX assignments_overdue_unnoticed ON assignments(due_at_ms)
    WHERE completed_at_ms IS NULL AND overdue_notified_at_ms IS NULL;
