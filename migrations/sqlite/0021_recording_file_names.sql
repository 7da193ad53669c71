-- Headerless recordings (.ulaw, .alaw, .sln, .gsm, ...) say what they are only by the name
-- they were uploaded under, and blobs are stored under server names: the row keeps the
-- original file name and, for a headerless file, the name of the raw format it was decoded
-- as, so the player and the waveform decode the stored bytes the same way again. NULL for
-- rows from before, and for files whose content names their format.
ALTER TABLE recordings ADD COLUMN original_filename TEXT;
ALTER TABLE recordings ADD COLUMN raw_format TEXT;
