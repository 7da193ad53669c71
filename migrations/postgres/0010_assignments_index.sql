-- PostgreSQL twin of the SQLite migration.
-- A month's draw inserts every sample into each index of `assignments`. The index on
-- (plan_id, agent_id) took its entries at 2 000 places at once (one per agent), the most
-- scattered of the four, and no query needs it: a plan's rows are found through the unique
-- (plan_id, recording_id) index, whose range per plan the per-agent counts also read.
-- Measured in psql with a month's 126 000 samples: 0.98 s with it, 0.70-0.76 s without.
DROP INDEX assignments_plan_agent;

-- A draw also writes a row per agent and week (`plan_cells`) and per agent (`plan_agents`).
-- PostgreSQL checked their references to the plan and the agent with a locking query per
-- row and reference, as it did for the samples before migration 0008: a month's 8 000
-- cells took 0.13-0.16 s to store. Users and plans are never deleted (0008's triggers), so
-- these references go too. SQLite checks a reference with a plain lookup (the same 8 000
-- cells: 0.03 s) and keeps them.
ALTER TABLE plan_cells
    DROP CONSTRAINT plan_cells_plan_id_fkey,
    DROP CONSTRAINT plan_cells_agent_id_fkey;
ALTER TABLE plan_agents
    DROP CONSTRAINT plan_agents_plan_id_fkey,
    DROP CONSTRAINT plan_agents_agent_id_fkey;
