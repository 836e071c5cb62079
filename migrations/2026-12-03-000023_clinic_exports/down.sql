DROP TABLE clinic_exports;
