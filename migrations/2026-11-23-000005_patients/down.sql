DROP TABLE patients, clinic_keys;
