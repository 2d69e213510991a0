"""A dispatcher process that claims due callbacks, says so, and hangs until it is killed.

Run by test_exactly_once.py: `python claim_then_hang.py DATABASE_URL ISO_TIME LEASE_SECONDS`.
The clock is pinned to ISO_TIME (ticking) so the claim happens inside the calling window and the
test knows when the lease expires. Twilio points at a closed port: this process must never get
as far as placing a call.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime

import time_machine


def main() -> None:
    database_url, moment, lease_seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test",
            "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
            "TWILIO_AUTH_TOKEN": "test-auth-token-0123456789",
            "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
        }
    )
    from hotline import create_app
    from hotline.callbacks.dispatcher import Dispatcher
    from hotline.callbacks.settings import CallbackSettings

    app = create_app({"TESTING": True})
    settings = CallbackSettings(
        calls_per_second=0, ringing_margin=None, lease_seconds=lease_seconds, batch_size=1000
    )

    def hang(claims) -> None:
        print("CLAIMED " + " ".join(str(c.callback_id) for c in claims), flush=True)
        while True:
            time.sleep(1)

    with time_machine.travel(datetime.fromisoformat(moment), tick=True):
        Dispatcher(app, owner="doomed", settings=settings).run_once(after_claim=hang)


if __name__ == "__main__":
    main()
