-- A result of a published month that changes after the agent acknowledged it (an appeal
-- decision, a supervisor's override or correction) asks for the acknowledgement again: the
-- earlier sign-off moves here, with when the change came, and acknowledged_at_ms is cleared.
ALTER TABLE agent_months ADD COLUMN previous_ack_at_ms BIGINT;
ALTER TABLE agent_months ADD COLUMN changed_after_ack_at_ms BIGINT;
