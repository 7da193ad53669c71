-- A plan's provisional picks (each open week's smallest keys so far) become one row per agent
-- and week instead of one row per pick. The daily draw replaces about a third of every
-- agent's picks: as rows that was 10 000 deletes and 10 000 inserts for the team-lead plan,
-- against 2 000 rewritten rows now; and the next run reads 2 000 rows instead of 30 000.
CREATE TABLE provisional_cells (
    plan_id  BIGINT NOT NULL,
    agent_id BIGINT NOT NULL,
    stratum  BIGINT NOT NULL,
    -- How many picks the cell holds.
    n        BIGINT NOT NULL,
    -- Space-separated pairs of recording id and sample key (64 hex digits).
    picks    TEXT NOT NULL,
    PRIMARY KEY (plan_id, agent_id, stratum)
);
INSERT INTO provisional_cells (plan_id, agent_id, stratum, n, picks)
SELECT plan_id, agent_id, stratum, COUNT(*),
    string_agg(CAST(recording_id AS TEXT) || ' ' || sample_key, ' ')
FROM provisional_picks GROUP BY plan_id, agent_id, stratum;
DROP TABLE provisional_picks;
