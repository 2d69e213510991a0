"""Recorded calls: what the recording webhook stores, who may play a recording, and fetching
its audio from Twilio for the console.

A line with recording on tells callers so in the greeting (the `recording_notice` message of
its IVR scripts) and records the caller's conference from its start. The recording webhook
says how many channels it has (RecordingChannels); a dual-channel one (the caller, and everyone
else, as the dev gateway's are) is fetched with `RequestedChannels=2` so both channels reach
the player (`media_url`). Twilio's own documentation says it mixes a TwiML <Conference>
recording into one channel; such a recording says 1 and is fetched as it is. The audio stays
at Twilio; the console plays it through the app (hotline.transfers.views.recording_media), which
fetches it with the account credentials, so no page ever holds a provider URL. Voicemails
(Call.recording_url) are played the same way.

Who may play: supervisors (and admins), operators who handled the case the call belongs to
(hotline.cases.queries.case_operator_ids), and every operator who talked on the call: their
stretches of talk (hotline.queue.models.OperatorTalk), so the operator who first took it keeps
the right after handing it over to a colleague or an agency; and the entry's operator or
transfer target right now. Every playback is in the audit trail.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import requests
from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hotline import audit
from hotline.cases import queries
from hotline.cases.models import AuditEntry, Case, CaseContact
from hotline.queue.models import OperatorTalk, QueueEntry
from hotline.telephony.params import RecordingStatusParams
from hotline.telephony.twiml import with_query
from hotline.timeutil import utcnow
from hotline.transfers.models import CallRecording

log = logging.getLogger(__name__)

#: Bytes per chunk streamed to the browser.
CHUNK_BYTES = 64 * 1024
TWILIO_API_ORIGIN = "https://api.twilio.com/"


def recording_status_url(entry_id: int) -> str:
    """Where Twilio posts the conference recording of this queue entry's conversation."""
    return with_query("/twilio/transfers/recording-status", entry=entry_id)


def store(session: Session, entry: QueueEntry | None, params: RecordingStatusParams) -> None:
    """Keep a finished recording (a retried webhook or a second event changes nothing).
    Flushes; the webhook guard commits."""
    if params.recording_status != "completed":
        return  # "absent" (nothing was said) or "failed": there is nothing to play
    existing = session.scalar(
        select(CallRecording).where(CallRecording.recording_sid == params.recording_sid)
    )
    if existing is not None:
        return
    session.add(
        CallRecording(
            recording_sid=params.recording_sid,
            call_id=entry.call_id if entry is not None else None,
            queue_entry_id=entry.id if entry is not None else None,
            conference_sid=params.conference_sid,
            duration_seconds=params.duration_seconds,
            channels=params.channels,
            media_url=params.recording_url,
        )
    )
    session.flush()


# --------------------------------------------------------------------------- access


def may_play(
    session: Session, *, operator_id: int, is_supervisor: bool, call_id: int | None
) -> bool:
    """Supervisors may play any recording; an operator only those of a case they handled, or
    of a call they talked on themselves (they took it, even if they handed it over later, or
    joined it as a colleague's transfer) even when they never opened its case."""
    if is_supervisor:
        return True
    if call_id is None:
        return False
    had_a_stretch = session.scalar(
        select(OperatorTalk.id)
        .where(OperatorTalk.call_id == call_id, OperatorTalk.operator_id == operator_id)
        .limit(1)
    )
    if had_a_stretch is not None:
        return True
    talked_on = session.scalar(
        select(QueueEntry.id).where(
            QueueEntry.call_id == call_id,
            or_(
                QueueEntry.operator_id == operator_id,
                QueueEntry.transfer_operator_id == operator_id,
            ),
        )
    )
    if talked_on is not None:
        return True
    case_ids = session.scalars(
        select(CaseContact.case_id).where(CaseContact.call_id == call_id).distinct()
    ).all()
    for case_id in case_ids:
        case = session.get(Case, case_id)
        if case is not None and operator_id in queries.case_operator_ids(session, case):
            return True
    return False


def record_playback(
    session: Session, *, operator_id: int, call_id: int | None, what: str, sid: str | None
) -> None:
    """Every playback in the audit trail (flushes; the view commits)."""
    audit.record(
        session,
        entity="call",
        entity_id=call_id,
        action="recording_played",
        operator_id=operator_id,
        after={"what": what, "recording_sid": sid},
    )


#: A range request that does not start at byte 0 (a seek) without a playback of the same call
#: by the same person in this long is audited as a playback of its own.
SEEK_WITHIN = timedelta(minutes=10)


def is_new_playback(
    session: Session, *, operator_id: int, call_id: int | None, byte_range: str | None
) -> bool:
    """Whether this request for a recording's audio is a playback for the audit trail. A
    browser starts one with no Range or "bytes=0-" (anything the proxy does not pass on
    counts as no Range: the whole file); its later range requests (seeking, re-buffering)
    are the same playback, unless nobody played that call's audio as this person lately, so
    the audio can never be fetched without an audit row."""
    wanted = byte_range if byte_range and _RANGE.match(byte_range) else None
    if wanted in (None, "bytes=0-"):
        return True
    lately = session.scalar(
        select(AuditEntry.id)
        .where(
            AuditEntry.entity == "call",
            AuditEntry.entity_id == call_id,
            AuditEntry.occurred_at >= utcnow() - SEEK_WITHIN,
            AuditEntry.action == "recording_played",
            AuditEntry.operator_id == operator_id,
        )
        .limit(1)
    )
    return lately is None


# --------------------------------------------------------------------------- media


@dataclass
class Media:
    """An open response from Twilio's media URL, streamed to the browser."""

    status_code: int
    content_type: str
    chunks: Iterator[bytes]
    length: str | None = None
    content_range: str | None = None
    #: Twilio's Accept-Ranges, passed on only when it sent one (the browser may then seek).
    accept_ranges: str | None = None


def _allowed_origin(url: str) -> bool:
    """Only Twilio's API (or the configured API base, e.g. the dev gateway) is fetched with the
    account credentials."""
    base = (current_app.config.get("TWILIO_API_BASE_URL") or "").rstrip("/")
    return url.startswith(TWILIO_API_ORIGIN) or bool(base) and url.startswith(base + "/")


def _session() -> requests.Session:
    """The HTTP session media is fetched with (tests put a recording adapter in config)."""
    configured = current_app.config.get("RECORDING_MEDIA_SESSION")
    return configured if configured is not None else requests.Session()


#: A byte range as browsers ask for one ("bytes=0-", "bytes=1024-2047"): passed on, so the
#: audio element can seek; anything else is ignored (the whole file).
_RANGE = re.compile(r"^bytes=\d+-\d*$")


def media_url(url: str, *, channels: int | None = None) -> str:
    """The address of a recording's audio: as WAV (Twilio's default format, asked for by name)
    and, for a dual-channel recording (`channels` 2, from the recording webhook's
    RecordingChannels), with `RequestedChannels=2`, which asks Twilio's media endpoint for both
    channels (caller, and everyone else) rather than a downmix. A mono recording is fetched
    without it: Twilio refuses a dual-channel download of a mono recording (warning 16113)."""
    if not url.rsplit("/", 1)[-1].count("."):
        url += ".wav"
    if channels != 2:
        return url
    return f"{url}{'&' if '?' in url else '?'}RequestedChannels=2"


def open_media(
    url: str, *, byte_range: str | None = None, channels: int | None = None
) -> Media | None:
    """Fetch a recording's audio from Twilio with the account credentials (`media_url`), or
    None when it cannot be fetched. `byte_range` (the browser's Range header) is passed on;
    the answer's status (a 206 with its Content-Range), Content-Type, Content-Length and
    Accept-Ranges are passed back as Twilio sent them."""
    if not _allowed_origin(url):
        log.warning("refused to fetch a recording outside Twilio's API: %s", url[:80])
        return None
    cfg = current_app.config
    timeout = cfg.get("TWILIO_HTTP_TIMEOUT_SECONDS") or 10
    url = media_url(url, channels=channels)
    headers = {"Range": byte_range} if byte_range and _RANGE.match(byte_range) else {}
    try:
        response = _session().get(
            url,
            auth=(cfg["TWILIO_ACCOUNT_SID"], cfg["TWILIO_AUTH_TOKEN"]),
            headers=headers,
            stream=True,
            timeout=timeout,
        )
    except requests.RequestException as exc:
        log.warning("recording fetch failed: %s", type(exc).__name__)
        return None
    if response.status_code not in (200, 206):
        log.warning("recording fetch answered %s", response.status_code)
        response.close()
        return None
    return Media(
        status_code=response.status_code,
        content_range=response.headers.get("Content-Range"),
        accept_ranges=response.headers.get("Accept-Ranges"),
        content_type=response.headers.get("Content-Type", "audio/wav"),
        chunks=response.iter_content(CHUNK_BYTES),
        # requests decodes a compressed body while streaming: its length is then unknown.
        length=(
            None
            if response.headers.get("Content-Encoding")
            else response.headers.get("Content-Length")
        ),
    )
