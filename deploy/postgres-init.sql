-- Each service owns its database.
CREATE DATABASE binome_enrollment;
CREATE DATABASE binome_matching;
CREATE DATABASE binome_sessions;
CREATE DATABASE binome_feedback;
CREATE DATABASE binome_reporting;
