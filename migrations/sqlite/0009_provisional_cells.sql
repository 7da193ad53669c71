-- A plan's provisional picks (each open week's smallest keys so far) become one row per agent
-- and week instead of one row per pick. The daily draw replaces about a third of every
-- agent's picks: as rows that was 10 000 deletes and 10 000 inserts for the team-lead plan
-- (three index entries each), against 2 000 rewritten rows now; and the next run reads
-- 2 000 rows instead of 30 000 (measured in the sqlite3 shell on the benchmark's database:
-- writing 0.025 s against 0.010 s, reading 0.039 s against 0.007 s).
-- Rowid table: a cell's picks (about 1 KB for 15) then stay in the row's leaf page, where a
-- WITHOUT ROWID table would spill them to overflow pages.
CREATE TABLE provisional_cells (
    id       INTEGER PRIMARY KEY,
    plan_id  INTEGER NOT NULL,
    agent_id INTEGER NOT NULL,
    stratum  INTEGER NOT NULL,
    -- How many picks the cell holds.
    n        INTEGER NOT NULL,
    -- Space-separated pairs of recording id and sample key (64 hex digits).
    picks    TEXT NOT NULL,
    UNIQUE (plan_id, agent_id, stratum)
);
INSERT INTO provisional_cells (plan_id, agent_id, stratum, n, picks)
SELECT plan_id, agent_id, stratum, COUNT(*),
    group_concat(CAST(recording_id AS TEXT) || ' ' || sample_key, ' ')
FROM provisional_picks GROUP BY plan_id, agent_id, stratum;
DROP TABLE provisional_picks;
