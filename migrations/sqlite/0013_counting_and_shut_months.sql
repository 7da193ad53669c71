-- Which evaluations feed an agent's score and pay, and what a published month keeps shut.
-- Times are integer milliseconds since the Unix epoch (UTC), flags 0/1, as everywhere.

-- A plan says whether its evaluations count towards the agent's service-quality score and
-- pay. The handbook's 10 monthly QA evaluations do ("每月根据电话录音做10次质量评定…作为月考核及服务考核
-- 工资的发放标准"); a team lead's spot-checks are the lead's monitoring work and do not.
-- Fixed when the plan is created, like its weeks.
ALTER TABLE sampling_plans ADD COLUMN counts INTEGER NOT NULL DEFAULT 1;
UPDATE sampling_plans SET counts = 0 WHERE graders = 'team_lead';

-- A pull says so itself (chosen when pulling; by default it does not count). NULL for
-- samples, which follow their plan: the draw's bulk inserts leave it out.
ALTER TABLE assignments ADD COLUMN counts INTEGER;
UPDATE assignments SET counts = 0 WHERE kind = 'pull';

-- Agents with no counting evaluation in a month have nothing to acknowledge. Known at
-- publication: nothing can be submitted into a published month afterwards.
ALTER TABLE agent_months ADD COLUMN ack_required INTEGER NOT NULL DEFAULT 1;

-- Each run says how many of an agent's evaluations counted and how many did not, and
-- whether every component of the overall score was in (a level is only given when it was).
ALTER TABLE agent_scores ADD COLUMN uncounted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agent_scores ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;

-- A month's scores must follow every audited change of it (publication, an appeal
-- decision, an override, a correction). The change writes a job here in its own
-- transaction; the job is run right after and, when that fails, again by the background
-- task with a growing pause until it succeeds. A node works on a job only while it holds
-- its claim (claimed_until_ms), so several nodes do not compute the same job at once.
CREATE TABLE score_jobs (
    id                 INTEGER PRIMARY KEY,
    month              TEXT NOT NULL,
    cause              TEXT NOT NULL,
    detail             TEXT,
    requested_by       INTEGER REFERENCES users(id),
    requested_at_ms    INTEGER NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    claimed_until_ms   INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    done_at_ms         INTEGER,
    run_id             INTEGER REFERENCES score_runs(id)
);
CREATE INDEX score_jobs_pending ON score_jobs(done_at_ms, next_attempt_at_ms);
