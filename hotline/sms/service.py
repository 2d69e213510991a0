"""The SMS feature's operations, for other features and the views.

- `queue_sms(...)`: put one text in the outbox (rules applied; refused rows keep the reason).
- `receive_sms(...)`, `apply_message_status(...)`: the two webhooks.
- `send_due(...)`: the clock's sweep (alerts and the clock-silent check: hotline.alerts).
"""

from __future__ import annotations

from hotline.sms.inbound import IncomingSms, receive_sms  # noqa: F401
from hotline.sms.outbox import (  # noqa: F401
    apply_message_status,
    mark_opted_out,
    mark_resumed,
    queue_sms,
    send_due,
)
from hotline.sms.referrals import on_new_referral  # noqa: F401
