"""The supervisor SMS commands: 状态 / STATUS gets the line's live numbers and today's figures,
anything else the list of commands.

`on_supervisor_texted` subscribes to `SupervisorTexted` (hotline.app.SUBSCRIPTIONS); it queues
the reply in the outbox inside the webhook's transaction and never commits.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from hotline.lines.models import Line
from hotline.operators.models import Operator
from hotline.reports import metrics
from hotline.sms import texts
from hotline.sms.events import SupervisorTexted
from hotline.sms.inbound import STATUS_WORDS
from hotline.sms.models import SmsMessage, SmsPurpose
from hotline.sms.outbox import queue_sms
from hotline.sms.texts import Head

log = logging.getLogger(__name__)


def on_supervisor_texted(session: Session, event: SupervisorTexted) -> None:
    """Answer a supervisor's text: the status for 状态 / STATUS, else the help text."""
    row = session.get(SmsMessage, event.sms_id)
    line = session.get(Line, event.line_id)
    supervisor = session.get(Operator, event.operator_id)
    if row is None or line is None or supervisor is None:
        return
    lang = event.language
    head = Head(row.created_at, line.timezone)
    if event.word in STATUS_WORDS:
        live = metrics.live_numbers(session, line)
        report = metrics.today_report(session, line, now=row.created_at)
        body, kind = texts.status_reply(lang, head, live, report), "status_reply"
    else:
        body, kind = texts.help_supervisor(lang, head), "help_supervisor"
    log.info("supervisor %s texted %r", supervisor.username, event.word[:20])
    queue_sms(
        session,
        to=row.from_number,
        body=body,
        purpose=SmsPurpose.REPLY,
        line_id=line.id,
        operator_id=supervisor.id,
        kind=kind,
        language=lang,
    )
