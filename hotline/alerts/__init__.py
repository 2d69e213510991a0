"""Alerts to supervisors: filled in by the cases/alerts architecture branch."""
