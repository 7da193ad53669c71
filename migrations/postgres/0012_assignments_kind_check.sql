-- Twin of SQLite's migration 0012, which rewrites the check on `assignments.kind` as three
-- comparisons because SQLite builds a temporary index for an IN list on every row it
-- inserts. PostgreSQL compares against the list directly, so nothing gets faster here; the
-- constraint is written the same way so that both schemas say the same thing.
ALTER TABLE assignments DROP CONSTRAINT assignments_kind_check;
ALTER TABLE assignments ADD CONSTRAINT assignments_kind_check
    CHECK (kind = 'sample' OR kind = 'fill' OR kind = 'pull');
