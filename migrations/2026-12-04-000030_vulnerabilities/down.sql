DROP TABLE vulnerabilities;
