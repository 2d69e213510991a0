"""The guard every Twilio webhook view goes through: audit, idempotency, and never a 500.

The signature itself is checked earlier, for every URL under /twilio/, by the app's
before_request hook (see hotline.app), so a request that reaches a view is genuine.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Response, current_app, request
from sqlalchemy import bindparam, select

from hotline.calls.models import WebhookEvent
from hotline.db import db, upsert_insert
from hotline.lines.models import SEEN as SETTINGS_SEEN
from hotline.lines.models import SettingsVersion
from hotline.telephony.spool import SPOOL_REPLAY_ERRORS, open_spool
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)


class BadWebhook(ValueError):
    """A webhook missing what it cannot do without (answered 400, nothing written)."""


def idempotency_key(path_and_query: str, form) -> str:
    """Hash of the URL and every parameter value, in Twilio's signing order."""
    # One pass over form.lists() (issue 16: getlist() per name cost as much as the hashing);
    # the bytes hashed are unchanged, so records stored before still recognise their retries
    # (tests/speed/test_idempotency_key.py).
    parts = [path_and_query]
    for name, values in sorted(form.lists()):
        for value in sorted(set(values)) if len(values) > 1 else values:
            parts.append(f"\x00{name}\x01{value}")
    return hashlib.sha256("".join(parts).encode()).hexdigest()


#: Longest parameter value kept in webhook_events (an SMS body is at most 1600 characters); the
#: request itself is bounded by MAX_CONTENT_LENGTH (hotline.security).
MAX_STORED_PARAM_CHARS = 2000


def capped_params(params: dict) -> dict:
    """The parameters as stored: each value cut to MAX_STORED_PARAM_CHARS, at most 100 names."""

    def cap(value):
        if isinstance(value, list):
            return [cap(v) for v in value[:20]]
        return value[:MAX_STORED_PARAM_CHARS]

    return {name[:100]: cap(value) for name, value in list(params.items())[:100]}


#: What a status callback's record keeps (issue 16): its answer is an empty 204 that a retry
#: replays from `status_code` alone, so only what says which event it was is worth storing;
#: the caller's numbers and Twilio's other fields stay on the Call row or nowhere.
STATUS_PARAMS_KEPT = frozenset(
    {
        "CallSid",
        "MessageSid",
        "CallStatus",
        "MessageStatus",
        "SequenceNumber",
        "StatusCallbackEvent",
        "ConferenceSid",
        "CallDuration",
        "AnsweredBy",
        "ErrorCode",
    }
)


#: What Twilio sends with every voice webhook that says nothing about this request: our own
#: account and API version, copies of From/To (Caller, Called), and the geography Twilio
#: guesses from the numbers. Not kept in any record (issue 16): a record is for a retry (its
#: key hashes every parameter) and for looking into an incident, and these answer neither.
REDUNDANT_PARAMS = frozenset(
    {"AccountSid", "ApiVersion", "Caller", "Called"}
    | {
        f"{who}{where}"
        for who in ("From", "To", "Caller", "Called")
        for where in ("Country", "State", "City", "Zip")
    }
)


def stored_params(params: dict, status_code: int) -> dict:
    """The parameters kept in the WebhookEvent: the STATUS_PARAMS_KEPT of a status callback
    (204), the others (capped) but REDUNDANT_PARAMS for a webhook answered with a document."""
    if status_code == 204:
        params = {name: value for name, value in params.items() if name in STATUS_PARAMS_KEPT}
    else:
        params = {name: value for name, value in params.items() if name not in REDUNDANT_PARAMS}
    return capped_params(params)


#: Parameters that carry what a caller said or wrote (never written to a log).
FREE_TEXT_PARAMS = frozenset(
    {"Body", "SpeechResult", "UnstableSpeechResult", "CallerName", "TranscriptionText"}
)


def spool(kind: str, params: dict, error: str) -> None:
    """Keep a webhook we could not store in the database, for `flask spool replay`.

    Written as one JSON line to FALLBACK_SPOOL_DIR, so a database outage loses no voicemail,
    callback request or status change. A webhook that fails again while being replayed is
    already in the spool: its error goes back to the replay, which keeps the entry once.
    """
    replay_errors = request.environ.get(SPOOL_REPLAY_ERRORS)
    if replay_errors is not None:
        replay_errors.append(error)
        return
    directory = Path(current_app.config["FALLBACK_SPOOL_DIR"])
    record = {
        "kind": kind,
        "path": request.full_path.rstrip("?"),
        "params": params,
        "error": error,
        "at": utcnow().isoformat(),
    }
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with open_spool(directory) as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    except OSError:
        # The log is the last place this request survives, but it must not carry what a person
        # said or wrote: free text is replaced by its length (numbers are masked by the log
        # filter of hotline.cases.privacy).
        kept = {
            name: (f"<{len(str(value))} characters>" if name in FREE_TEXT_PARAMS else value)
            for name, value in params.items()
        }
        log.exception(
            "could not spool a %s webhook either (%s); params=%s", kind, record["path"], kept
        )


_EVENTS = WebhookEvent.__table__
_SETTINGS = SettingsVersion.__table__
#: The two statements every webhook sends, built once and run as Core statements (the ORM's
#: per-statement work cost more than the database's on these two). The lookup of an earlier
#: answer also reads the settings counter the line cache checks once per transaction
#: (hotline.lines.cache): one round trip where most webhooks sent two.
_LOOKUP = select(
    select(_EVENTS.c.status_code)
    .where(_EVENTS.c.idempotency_key == bindparam("key"))
    .scalar_subquery()
    .label("status_code"),
    select(_EVENTS.c.response_body)
    .where(_EVENTS.c.idempotency_key == bindparam("key"))
    .scalar_subquery()
    .label("response_body"),
    select(_SETTINGS.c.version)
    .where(_SETTINGS.c.id == 1)
    .scalar_subquery()
    .label("settings_version"),
)
_RECORD: dict[str, Any] = {}


def _record_statement(session) -> Any:
    """INSERT ... ON CONFLICT (idempotency_key) DO NOTHING, for the session's dialect."""
    dialect = session.get_bind().dialect.name
    statement = _RECORD.get(dialect)
    if statement is None:
        statement = upsert_insert(session)(_EVENTS).on_conflict_do_nothing(
            index_elements=["idempotency_key"]
        )
        _RECORD[dialect] = statement
    return statement


def twilio_webhook(kind: str, *, on_failure: Callable[[], Response], sid_param: str = "CallSid"):
    """Decorate a webhook view.

    - A request identical to one already handled (Twilio's retry) gets the stored response
      (the key hashes every parameter; a status callback's record keeps only a few of them).
    - The view's services flush and never commit: the guard commits once, the effects and the
      WebhookEvent together (the entry point of every webhook).
    - BadWebhook becomes a 400 and the transaction is rolled back: no half-written rows.
    - Any other failure (a database stall, a bug) is logged, the parameters are spooled, and
      `on_failure()` answers instead: for voice, TwiML that still reaches a voicemail and a
      callback, so a caller never hears "application error".
    """

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            form = request.form
            path = request.full_path.rstrip("?")
            key = idempotency_key(path, form)
            params = {k: v[0] if len(v) == 1 else v for k, v in form.lists()}
            session = db.session
            try:
                connection = session.connection()
                prior = connection.execute(_LOOKUP, {"key": key}).one()
                if prior.status_code is not None:
                    log.info("duplicate %s webhook for %s: replaying", kind, form.get(sid_param))
                    return Response(
                        prior.response_body,
                        status=prior.status_code,
                        mimetype="text/xml" if prior.response_body else None,
                    )
                # Read in this transaction, as hotline.lines.cache.current_version would.
                session.info[SETTINGS_SEEN] = int(prior.settings_version or 0)
                response = view(*args, **kwargs)
                body = response.get_data(as_text=True) if response.status_code != 204 else ""
                # The same webhook may race in twice: the loser's record is dropped by the
                # database (ON CONFLICT DO NOTHING; the first one stands), never the view's
                # effects. One statement, where a SAVEPOINT around an ORM insert took three.
                stored = session.connection().execute(
                    _record_statement(session),
                    {
                        "kind": kind,
                        "sid": form.get(sid_param, "")[:64],
                        "idempotency_key": key,
                        "path": path[:300],
                        "params": stored_params(params, response.status_code),
                        "status_code": response.status_code,
                        "response_body": body,
                        "received_at": utcnow(),
                    },
                )
                if stored.rowcount == 0:
                    log.info("the %s webhook for %s raced in twice", kind, form.get(sid_param))
                # The one commit of this webhook: the view's effects and its WebhookEvent
                # together, so a retry replays exactly what was stored, or nothing was.
                session.commit()
            except BadWebhook as exc:
                session.rollback()
                log.warning("rejected %s webhook: %s", kind, exc)
                return Response(f"Bad request: {exc}\n", status=400, mimetype="text/plain")
            except Exception as exc:  # noqa: BLE001 - the caller must never hear an error
                session.rollback()
                log.exception("%s webhook failed; answering with the fallback", kind)
                spool(kind, params, repr(exc))
                return on_failure()
            return response

        return wrapper

    return decorate
