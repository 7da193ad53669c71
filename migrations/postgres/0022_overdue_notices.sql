-- The deadline check tells supervisors once about coaching left undone past a flag's due
-- time and about queue items unfinished at theirs; these record that it did.
ALTER TABLE flags ADD COLUMN overdue_notified_at_ms BIGINT;
ALTER TABLE assignments ADD COLUMN overdue_notified_at_ms BIGINT;
