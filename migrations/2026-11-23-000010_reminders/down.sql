DROP TABLE appointment_reminders;
ALTER TABLE clinics DROP COLUMN reminder_offset_hours;
