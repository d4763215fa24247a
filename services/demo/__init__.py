"""The whole system on one machine: embedded NATS, SQLite, an SMTP sink, the three services."""
