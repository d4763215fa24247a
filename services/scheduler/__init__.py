"""Scheduler: owns communities, rituals (RFC 5545 schedules) and enrolments; emits RitualDue."""
