"""Insights: turns pseudonymous responses into community indicators for public-health teams."""
