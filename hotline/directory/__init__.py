"""The directory: the agencies a case can be referred to (and later transferred to), and the
roster of community volunteers (邻里守望) with the elders each looks after.

Modules: `models` (Agency, Volunteer, VolunteerElder), `service` (the one validation of an
agency or a volunteer, shared by the console forms, the CSV import and the CLI; create, update,
CSV import/export, the roster for a referral), `views` (blueprint `directory`, admin edits,
operators and supervisors read), `forms`, `cli` (`flask volunteers import|export`).

What other features use (all flush; the entry point commits):

- `service.roster_for_caller(session, caller_id) -> list[Volunteer]`: the active volunteers,
  those who look after this elder first, then those of the elder's district, then the others.
- `service.active_agencies(session) -> list[Agency]`.
"""
