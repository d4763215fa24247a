"""The scenario modules of `make bench`: each exposes ``scenarios(options)``."""
