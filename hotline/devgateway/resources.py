"""Twilio 2010-04-01 JSON shapes for the resources the gateway emulates.

Field names follow what twilio-python's instance classes read (`payload.get(...)` in
twilio/rest/api/v2010/account/...), with Twilio's RFC 2822 dates and string durations.
"""

from __future__ import annotations

from typing import Any

from hotline.devgateway.model import Call, Conference, Message, Participant, Queue
from hotline.devgateway.util import rfc2822

API_VERSION = "2010-04-01"


def account_path(account_sid: str) -> str:
    """The common prefix of every resource URI."""
    return f"/{API_VERSION}/Accounts/{account_sid}"


def call_json(call: Call) -> dict[str, Any]:
    """A Call resource."""
    uri = f"{account_path(call.account_sid)}/Calls/{call.sid}"
    started = call.answered_at if call.answered_at is not None else (
        call.created_at if call.status != "queued" else None
    )  # fmt: skip
    return {
        "account_sid": call.account_sid,
        "annotation": None,
        "answered_by": call.answered_by,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": rfc2822(call.created_at),
        "date_updated": rfc2822(call.updated_at or call.created_at),
        "direction": call.direction,
        "duration": str(call.duration) if call.duration is not None else None,
        "end_time": rfc2822(call.ended_at),
        "forwarded_from": None,
        "from": call.from_,
        "from_formatted": call.from_,
        "group_sid": None,
        "parent_call_sid": call.parent_call_sid,
        "phone_number_sid": None,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": call.sid,
        "start_time": rfc2822(started),
        "status": call.status,
        "subresource_uris": {
            "notifications": f"{uri}/Notifications.json",
            "recordings": f"{uri}/Recordings.json",
            "payments": f"{uri}/Payments.json",
            "events": f"{uri}/Events.json",
            "siprec": f"{uri}/Siprec.json",
            "streams": f"{uri}/Streams.json",
            "user_defined_message_subscriptions": f"{uri}/UserDefinedMessageSubscriptions.json",
            "user_defined_messages": f"{uri}/UserDefinedMessages.json",
        },
        "to": call.to,
        "to_formatted": call.to,
        "trunk_sid": None,
        "uri": f"{uri}.json",
    }


def message_json(message: Message) -> dict[str, Any]:
    """A Message resource."""
    uri = f"{account_path(message.account_sid)}/Messages/{message.sid}"
    return {
        "account_sid": message.account_sid,
        "api_version": API_VERSION,
        "body": message.body,
        "date_created": rfc2822(message.created_at),
        "date_sent": rfc2822(message.sent_at),
        "date_updated": rfc2822(message.updated_at),
        "direction": message.direction,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "from": message.from_ or None,
        "messaging_service_sid": message.messaging_service_sid,
        "num_media": "0",
        "num_segments": str(message.num_segments),
        "price": None,
        "price_unit": "USD",
        "sid": message.sid,
        "status": message.status,
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        "to": message.to,
        "uri": f"{uri}.json",
    }


def queue_json(queue: Queue, account_sid: str, now: float) -> dict[str, Any]:
    """A Queue resource (average_wait_time over the callers waiting now)."""
    uri = f"{account_path(account_sid)}/Queues/{queue.sid}"
    waits = [now - m.enqueued_at for m in queue.members]
    return {
        "account_sid": account_sid,
        "average_wait_time": int(sum(waits) / len(waits)) if waits else 0,
        "current_size": len(queue.members),
        "date_created": rfc2822(queue.created_at),
        "date_updated": rfc2822(queue.updated_at),
        "friendly_name": queue.friendly_name,
        "max_size": queue.max_size,
        "sid": queue.sid,
        "subresource_uris": {"members": f"{uri}/Members.json"},
        "uri": f"{uri}.json",
    }


def member_json(snapshot: dict[str, Any], account_sid: str) -> dict[str, Any]:
    """A Queue Member resource from `Simulator.member_snapshot`."""
    return {
        "call_sid": snapshot["call_sid"],
        "date_enqueued": rfc2822(snapshot["date_enqueued"]),
        "position": snapshot["position"],
        "queue_sid": snapshot["queue_sid"],
        "uri": f"{account_path(account_sid)}/Queues/{snapshot['queue_sid']}/Members/{snapshot['call_sid']}.json",
        "wait_time": snapshot["wait_time"],
    }


def conference_json(conference: Conference, account_sid: str) -> dict[str, Any]:
    """A Conference resource."""
    uri = f"{account_path(account_sid)}/Conferences/{conference.sid}"
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "call_sid_ending_conference": conference.call_sid_ending,
        "date_created": rfc2822(conference.created_at),
        "date_updated": rfc2822(conference.updated_at),
        "friendly_name": conference.friendly_name,
        "reason_conference_ended": conference.reason_ended,
        "region": "us1",
        "sid": conference.sid,
        "status": conference.status,
        "subresource_uris": {
            "participants": f"{uri}/Participants.json",
            "recordings": f"{uri}/Recordings.json",
        },
        "uri": f"{uri}.json",
    }


def participant_json(participant: Participant, account_sid: str) -> dict[str, Any]:
    """A Conference Participant resource."""
    return {
        "account_sid": account_sid,
        "call_sid": participant.call_sid,
        "call_sid_to_coach": participant.call_sid_to_coach,
        "coaching": participant.coaching,
        "conference_sid": participant.conference_sid,
        "date_created": rfc2822(participant.created_at),
        "date_updated": rfc2822(participant.updated_at),
        "end_conference_on_exit": participant.end_conference_on_exit,
        "hold": participant.hold,
        "label": participant.label,
        "muted": participant.muted,
        "queue_time": None,
        "start_conference_on_enter": participant.start_conference_on_enter,
        "status": participant.status,
        "uri": (
            f"{account_path(account_sid)}/Conferences/{participant.conference_sid}"
            f"/Participants/{participant.call_sid}.json"
        ),
    }


def page_json(
    key: str, records: list[dict[str, Any]], *, path: str, page: int, page_size: int
) -> dict[str, Any]:
    """A list page in the 2010 API's envelope (records under `key`, page URIs beside them)."""
    start = page * page_size
    chunk = records[start : start + page_size]
    has_next = start + page_size < len(records)

    def page_uri(number: int) -> str:
        """URI of another page of the same list."""
        return f"{path}?PageSize={page_size}&Page={number}"

    return {
        key: chunk,
        "end": start + max(len(chunk) - 1, 0),
        "first_page_uri": page_uri(0),
        "next_page_uri": page_uri(page + 1) if has_next else None,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": page_uri(page - 1) if page > 0 else None,
        "start": start,
        "uri": page_uri(page),
    }


def error_json(status: int, code: int, message: str) -> dict[str, Any]:
    """Twilio's error body: the SDK raises TwilioRestException with `.code`."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
