"""Watching the loop: Evidently reports, canary analysis and the admin dashboard's data."""
