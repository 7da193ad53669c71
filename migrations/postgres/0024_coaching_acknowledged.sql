-- The agent reads the record of each coaching session about their call and acknowledges
-- it (the first acknowledgement counts).
ALTER TABLE coaching_sessions ADD COLUMN agent_ack_at_ms BIGINT;
