"""Import every model module so Base.metadata knows the whole schema (Alembic, create_all).

Importing one class registers every model of its module; a new feature adds a line here.
"""

from hotline.callbacks.models import CallbackAttempt, CallbackRequest, OutboundPacing  # noqa: F401
from hotline.callers.models import Caller  # noqa: F401
from hotline.calls.models import Call, WebhookEvent  # noqa: F401
from hotline.cases.models import Case  # noqa: F401
from hotline.checkins.models import CheckinEnrolment, CheckinEpisode  # noqa: F401
from hotline.directory.models import Agency, Volunteer, VolunteerElder  # noqa: F401
from hotline.lines.models import CalendarOverride, Line, LineRecipient  # noqa: F401
from hotline.operators.models import LoginAttempt, Operator  # noqa: F401
from hotline.queue.models import OperatorTalk, QueueEntry  # noqa: F401
from hotline.reports.models import DailySummary  # noqa: F401
from hotline.schedule import ClockHeartbeat  # noqa: F401
from hotline.sms.models import (  # noqa: F401
    SmsMessage,
    SmsOptOut,
    SmsStatusEvent,
    SmsSweep,
    SupervisorAlert,
)
from hotline.transfers.models import CallRecording, ExternalTransfer  # noqa: F401
