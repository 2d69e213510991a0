"""Lines: the hotline numbers, their hours and calendar, and their administration.

`models` (Line, CalendarOverride, LineRecipient), `calendar` (working days and hours),
`service` (finding a line; saving settings, overrides and recipients, audited), `settings` (the
one validation shared by the console and the CLI), `readiness` (what stops a line from
working), `views` (the console's Lines pages) and `cli` (`flask lines`, `flask calendar`).
"""
