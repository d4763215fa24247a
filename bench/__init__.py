"""`make bench`: the one-table benchmark of issue 11 (``python -m bench``; see README,
Performance)."""
