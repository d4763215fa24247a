"""Notifier: the only holder of contact data and consent; sends prompts and takes replies."""
