-- Purpose of use (issue 15, D4): a clinic may require every clinical read to
-- state why (the `X-Purpose-Of-Use` header, an HL7 PurposeOfUse code), kept
-- in the read's audit event. Off by default.
ALTER TABLE clinics ADD COLUMN purpose_of_use_required boolean NOT NULL DEFAULT false;
