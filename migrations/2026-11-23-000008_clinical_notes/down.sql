DROP TABLE clinical_notes;
DROP FUNCTION clinical_notes_signed_are_immutable();
