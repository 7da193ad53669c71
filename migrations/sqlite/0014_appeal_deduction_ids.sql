-- Appeals name the deductions they dispute by the deductions' stable ids, no longer by their
-- positions in the form (which shift when the panel or a supervisor amends the deductions).
-- Forms stored before ids existed are read with derived ids: the deduction at position i
-- has id i + 1 (domain::grading::Form::with_derived_ids). Every appeal filed so far was filed
-- on such a form, so its indexes become those ids. [] (the whole evaluation) stays [].
UPDATE appeals SET deductions = (
    SELECT COALESCE(json_group_array(CAST(value AS INTEGER) + 1), '[]')
    FROM (SELECT value FROM json_each(appeals.deductions) ORDER BY key)
);
