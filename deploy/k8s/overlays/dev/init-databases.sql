-- A database per service, as in prod (the notifier's holds personal data; nothing else reads it).
CREATE DATABASE scheduler;
CREATE DATABASE notifier;
CREATE DATABASE insights;
