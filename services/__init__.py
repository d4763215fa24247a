"""The three Connection Rituals services: scheduler, notifier, insights."""
