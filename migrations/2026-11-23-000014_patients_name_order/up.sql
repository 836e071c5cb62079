-- The patient list pages in (lower(family_name), lower(given_name), id) order. The
-- name-prefix index (text_pattern_ops) cannot give that order, so every page read
-- and sorted all of a clinic's patients (about 20 ms for 10,000, make bench (3)).
-- This index gives the order, and a cursor page starts where the last one ended.
CREATE INDEX patients_name_order ON patients (clinic_id, lower(family_name), lower(given_name), id);
