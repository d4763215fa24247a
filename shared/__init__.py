"""What every Connection Rituals service needs: contracts, subjects, streams, clock, plumbing.

Nothing service-specific lives here.
"""
