-- Provisional picks are stored as pairs of recording id and call id, tab-separated, instead
-- of recording id and sample key: the draw keys the call ids again when it reads a plan's
-- cells, and each cell is a third of its former size. The daily draw rewrites every
-- agent's cells (the team-lead plan: 2 000 cells of about 1 KB with keys), and writing them
-- was a third of its time.
-- Picks in the old form are dropped, and a zero watermark makes each plan's next run read
-- its open weeks whole, as a plan's first run does: it finds the same picks again.
DELETE FROM provisional_cells;
UPDATE sampling_plans SET watermark_ms = 0;
