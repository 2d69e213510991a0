"""Import every model so that Base.metadata knows the whole schema (Alembic, create_all)."""

from hotline.callbacks.models import CallbackAttempt, CallbackRequest, OutboundPacing  # noqa: F401
from hotline.callers.models import Caller  # noqa: F401
from hotline.calls.models import Call, WebhookEvent  # noqa: F401
from hotline.clock import ClockHeartbeat  # noqa: F401
from hotline.lines.models import CalendarOverride, Line  # noqa: F401
from hotline.operators.models import LoginAttempt, Operator  # noqa: F401

# Feature packages add their models below (queue, cases, sms, reports).
from hotline.cases.models import Case  # noqa: F401, E402
from hotline.queue.models import QueueEntry  # noqa: F401, E402
from hotline.reports.models import DailySummary  # noqa: F401, E402
from hotline.sms.models import (  # noqa: F401, E402
    SmsMessage,
    SmsOptOut,
    SmsStatusEvent,
    SmsSweep,
    SupervisorAlert,
)
