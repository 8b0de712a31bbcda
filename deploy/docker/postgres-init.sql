-- compose.yaml: one database per service on the one PostgreSQL container, as in a
-- cluster (where each service gets its own CloudNativePG cluster or external server).
CREATE DATABASE shangji_intake;
CREATE DATABASE shangji_dedup;
CREATE DATABASE shangji_assignment;
CREATE DATABASE shangji_pipeline;
CREATE DATABASE shangji_reminders;
CREATE DATABASE shangji_analytics;
