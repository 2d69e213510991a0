"""Cases (工单): every request for help, followed to its end.

What other features use (all flush and leave the commit to the caller, unless noted):

- `service.open_or_continue_case(session, *, caller_id, line_id, channel, scenario=None,
  operator_id=None) -> Case`: the caller's latest active case, else a new one ("20261129-0042").
- `service.record_contact(session, case, *, kind, call_id=None, sms_id=None, callback_id=None,
  referral_id=None, operator_id=None, note="") -> CaseContact`; kinds: call, voicemail,
  callback_attempt, sms_in, sms_out, referral. The same call or text is linked once. A closed
  case refuses with `errors.CaseIsClosed` (an `errors.ActionRefused`): catch it.
- `service.add_note(session, case, *, text, operator_id) -> CaseNote`.
- `service.is_repeat_caller(session, caller_id, now) -> bool` (3 inbound calls in 7 days) and
  `hotline.callers.service.repeat_caller_ids(session, ids, now)` for lists.
- `service.consented_family_contacts(session, caller_id, permission) -> list[FamilyContact]`.
- `service.overdue_escalations(session, now) -> list[Case]` and
  `service.mark_overdue_alerted(session, case, now)` for the SMS alerts.
- Referrals: `service.add_referral_hook(app, fn)` registers `fn(session, referral)`, called in the
  transaction that creates a referral (must not commit); `service.pending_referrals(session)`;
  `service.record_referral_response(session, referral, *, is_accepted, response_text="",
  actor=None)` (answering twice the same way is a no-op; changing the answer is refused).
- `service.case_for_callback(session, callback_id) -> Case | None`.
- Console: `url_for("cases.case_for_call", call_sid=...)` opens or continues the case of a taken
  call and shows the case screen (GET or POST; taking a call twice lands on the same case).
- Caller preferences from the voice menu: `hotline.callers.service.set_preferences(session,
  caller_id, source="caller", is_straight_to_person=True)`.

The call-ended hook (`service.link_ended_call`) puts every inbound call that carried a request
(answered, voicemail, abandoned after the threshold, callback requested, wait cap) on a case.
Clock jobs (`jobs.JOBS`): follow-up callbacks on their day, closing long-resolved cases, and the
retention sweep (HOTLINE_RETENTION_DAYS, default 730).
"""
