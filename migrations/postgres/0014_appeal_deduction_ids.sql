-- Appeals name the deductions they dispute by the deductions' stable ids, no longer by their
-- positions in the form (which shift when the panel or a supervisor amends the deductions).
-- Forms stored before ids existed are read with derived ids: the deduction at position i
-- has id i + 1 (domain::grading::Form::with_derived_ids). Every appeal filed so far was filed
-- on such a form, so its indexes become those ids. [] (the whole evaluation) stays [].
UPDATE appeals SET deductions = COALESCE((
    SELECT json_agg(t.v::bigint + 1 ORDER BY t.n)::text
    FROM json_array_elements_text(appeals.deductions::json) WITH ORDINALITY AS t(v, n)
), '[]');
