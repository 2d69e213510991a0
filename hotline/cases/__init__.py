"""Cases (工单): every request for help, followed to its end.

Modules: `lifecycle` (open or continue, contacts, notes, status, escalation, auto-close),
`referrals`, `followups` (回访 and callbacks scheduled from a case), `queries` (search, the
scenario review, the case screen's reads), `export` (CSV), `privacy` (retention, erasure),
`subscribers` (event reactions), `events` (what this feature announces), `views`, `forms`, `jobs`.

What other features use (all flush and leave the commit to the entry point, unless noted):

- `lifecycle.open_or_continue_case(session, *, caller_id, line_id, channel, scenario=None,
  operator_id=None) -> Case`: the caller's latest active case, else a new one ("20261129-0042").
- `lifecycle.record_contact(session, case, *, kind, call_id=None, sms_id=None, callback_id=None,
  referral_id=None, operator_id=None, note="") -> CaseContact`; kinds: call, voicemail,
  callback_attempt, sms_in, sms_out, referral. The same call or text is linked once. A closed
  case refuses with `errors.CaseIsClosed` (an `errors.ActionRefused`): catch it.
- `lifecycle.add_note(session, case, *, text, operator_id) -> CaseNote`.
- `lifecycle.overdue_escalations(session, now) -> list[Case]` and
  `lifecycle.mark_overdue_alerted(session, case, now)` for the supervisor alerts.
- Referrals: `referrals.refer_case(...)` publishes `events.CaseReferred` in its transaction;
  `referrals.pending_referrals(session)`; `referrals.record_referral_response(session, referral,
  *, is_accepted, response_text="", actor=None)` (answering twice the same way is a no-op;
  changing the answer is refused).
- `queries.cases_of_callback(session, callback)`, `followups.case_for_callback(session, id)`.
- Subscribers: `subscribers.on_callback_attempt_ended` records each callback attempt on the
  callback's cases (closed cases skipped).
- Console: `url_for("cases.case_for_call", call_sid=...)` opens or continues the case of a taken
  call and shows the case screen (a POST form with the CSRF token: it changes data; a GET of
  the address only shows the button; taking a call twice lands on the same case).

The call-ended hook (`lifecycle.link_ended_call`) puts every inbound call that carried a request
(answered, voicemail, abandoned after the threshold, callback requested, wait cap) on a case.
Clock jobs (`jobs.JOBS`): follow-up callbacks on their day, closing long-resolved cases, and the
retention sweep (HOTLINE_RETENTION_DAYS, default 730). Erasure (`privacy.anonymise_caller`)
clears the person from every table, the stored webhooks of their calls and texts included.
"""
