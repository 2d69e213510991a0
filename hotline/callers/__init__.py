"""Callers: profiles recognised by number, family contacts with consent, merging (see
`service`); their console pages live in `hotline.cases.views`."""
