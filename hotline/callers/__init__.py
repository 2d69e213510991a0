"""Callers: profiles recognised by number, family contacts with consent, merging (see
`service`); their console pages are `views` (blueprint `callers`) with `forms` and templates.
This package imports no other feature (only their models)."""
