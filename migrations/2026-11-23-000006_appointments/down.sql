DROP TABLE appointment_history, appointments, practitioners;
