"""The call panel's external transfers and the recordings' playback (blueprint `transfers`,
under /console).

- GET /console/api/transfers/current: the operator's call, its transfer, where it can go and
  what to read out to an emergency service (polled by transfers.js while on a call).
- POST /console/api/transfers/<entry>/start|hand-over|three-way|cancel (JSON, CSRF header).
- GET /console/recordings/<id>/audio and /console/calls/<id>/voicemail-audio: the audio,
  fetched from Twilio by the app (never a provider URL in a page), for supervisors and the
  operators of the call's case; every playback audited, anyone else 403.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request, stream_with_context
from flask_login import current_user

from hotline.calls.models import Call
from hotline.cases import privacy
from hotline.db import db
from hotline.i18n import t
from hotline.operators.auth import role_required
from hotline.operators.models import Role
from hotline.queue import connect
from hotline.transfers import recordings, service
from hotline.transfers.models import CallRecording, ExternalTransfer, TransferMode
from hotline.transfers.service import TransferError

bp = Blueprint(
    "transfers",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/transfers",
)


def transfer_json(transfer: ExternalTransfer | None) -> dict | None:
    if transfer is None:
        return None
    return {
        "id": transfer.id,
        "name": transfer.target_name,
        "kind": transfer.kind,
        "mode": transfer.mode.value,
        "status": transfer.status.value,
        "answered": transfer.answered_at is not None,
        "live": transfer.status.is_live,
    }


@bp.get("/api/transfers/current")
@role_required(Role.OPERATOR)
def api_current():
    """The operator's call and its external transfer (nothing when not on a call)."""
    session = db.session
    entry = connect.active_entry(session, current_user.id)
    if entry is None or entry.operator_id != current_user.id:
        response = jsonify(entry_id=None)
    else:
        response = jsonify(
            entry_id=entry.id,
            connected=entry.status.value == "connected",
            on_hold=entry.is_on_hold,
            transfer=transfer_json(service.latest_transfer(session, entry.id)),
            caller=service.caller_facts(session, entry),
            destinations=[
                {"key": d.key, "name": d.name, "number": d.number, "kind": d.kind}
                for d in service.destinations(
                    session, console_language=current_user.console_language
                )
            ],
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused(error: TransferError):
    status = {"busy": 409, "telephony": 502}.get(error.code, 400)
    return jsonify(ok=False, code=error.code, error=t(error.zh, error.en)), status


@bp.post("/api/transfers/<int:entry_id>/<action>")
@role_required(Role.OPERATOR)
def api_action(entry_id: int, action: str):
    """start (choice or number, mode), hand-over, three-way, cancel."""
    session, me = db.session, current_user.id
    try:
        if action == "start":
            mode = TransferMode.COLD if request.form.get("mode") == "cold" else TransferMode.WARM
            transfer = service.start(
                session,
                entry_id,
                me,
                choice=request.form.get("choice"),
                typed_number=request.form.get("number"),
                mode=mode,
            )
        elif action == "hand-over":
            transfer = service.hand_over(session, entry_id, me)
        elif action == "three-way":
            transfer = service.three_way(session, entry_id, me)
        elif action == "cancel":
            transfer = service.cancel(session, entry_id, me)
        else:
            return jsonify(ok=False, error="unknown action"), 404
    except TransferError as error:
        session.rollback()
        return _refused(error)
    session.commit()
    return jsonify(ok=True, transfer=transfer_json(transfer))


# --------------------------------------------------------------------------- playback


def _play(
    *,
    call_id: int | None,
    url: str | None,
    what: str,
    sid: str | None,
    channels: int | None = None,
) -> Response:
    session = db.session
    if not url:
        abort(404)
    if not recordings.may_play(
        session,
        operator_id=current_user.id,
        is_supervisor=current_user.has_role(Role.SUPERVISOR),
        call_id=call_id,
    ):
        abort(403)
    byte_range = request.headers.get("Range")
    media = recordings.open_media(url, byte_range=byte_range, channels=channels)
    if media is None:
        abort(502)
    # One playback, one audit row: a browser's later range requests (seeking, re-buffering)
    # within the same playback are not new playbacks (recordings.is_new_playback).
    if recordings.is_new_playback(
        session, operator_id=current_user.id, call_id=call_id, byte_range=byte_range
    ):
        recordings.record_playback(
            session, operator_id=current_user.id, call_id=call_id, what=what, sid=sid
        )
        session.commit()
    headers = {"Cache-Control": "private, no-store"}
    if media.accept_ranges:
        headers["Accept-Ranges"] = media.accept_ranges
    if media.length:
        headers["Content-Length"] = media.length
    if media.status_code == 206 and media.content_range:
        headers["Content-Range"] = media.content_range
    return Response(
        stream_with_context(media.chunks),
        status=media.status_code,
        mimetype=media.content_type,
        headers=headers,
    )


@bp.get("/recordings/<int:recording_id>/audio")
@role_required(Role.OPERATOR)
def recording_audio(recording_id: int):
    """A recorded conversation's audio, through the app."""
    recording = db.session.get(CallRecording, recording_id)
    if recording is None:
        abort(404)
    return _play(
        call_id=recording.call_id,
        url=recording.media_url,
        what="conversation",
        sid=recording.recording_sid,
        channels=recording.channels,
    )


@bp.get("/calls/<int:call_id>/voicemail-audio")
@role_required(Role.OPERATOR)
def voicemail_audio(call_id: int):
    """A voicemail's audio, through the app."""
    call = db.session.get(Call, call_id)
    if call is None:
        abort(404)
    return _play(
        call_id=call.id,
        url=call.recording_url,
        what="voicemail",
        sid=privacy.recording_sid(call.recording_url),
    )
