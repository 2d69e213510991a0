"""The fault and abuse suite: what the hotline refuses from an outsider (issue 12)."""
