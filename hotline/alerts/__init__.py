"""Alerts: what the supervisors are told by SMS.

This feature combines the figures of hotline.reports with the texts and outbox of hotline.sms
(neither imports the other): the alert conditions and their episodes (`conditions`,
`supervisor`), the daily summary (`summary`), the supervisor commands 状态 / STATUS
(`commands`), the final-failure texts of a callback that gave up (`callbacks`), the supervisor
page (`views`), quiet hours for non-urgent alerts (`quiet`) and the clock jobs. Who receives
staff texts is one rule per line and alert kind, `hotline.sms.recipients.recipients_for`.
"""
