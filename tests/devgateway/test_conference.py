"""Conferences: <Dial><Conference>, the Participants resource, hold, mute, kick, callbacks."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException

from .harness import ELDER, LINE, OPERATOR, StandIn, twiml

ROOM = twiml(
    '<Dial action="/dial-done"><Conference startConferenceOnEnter="false" waitUrl="/conf-wait"'
    ' statusCallback="/conf-events" statusCallbackEvent="start end join leave hold mute">'
    "room-1</Conference></Dial>"
)
HOST = twiml('<Dial><Conference endConferenceOnExit="true" waitUrl="">room-1</Conference></Dial>')


def _conference_events(standin: StandIn) -> list[tuple[str, str]]:
    """(StatusCallbackEvent, SequenceNumber) of every conference callback, in arrival order."""
    return [
        (r["StatusCallbackEvent"], r["SequenceNumber"]) for r in standin.requests_to("/conf-events")
    ]


def test_dial_conference_bridges_two_calls_and_both_see_who_is_there(standin: StandIn, gateway):
    """The first caller waits (waitUrl) until the host starts the room; then both are connected."""
    standin.route("/twilio/voice", lambda req: ROOM if req.form["From"] == ELDER else HOST)
    standin.route("/conf-wait", twiml("<Say>请稍候</Say><Pause length='10'/>"))
    standin.route("/dial-done", twiml("<Say>会议结束</Say><Hangup/>"))
    caller = gateway.dial(ELDER)
    assert gateway.call(caller["sid"])["activity"] == "conference-waiting"
    assert standin.last("/conf-wait")["CallSid"] == caller["sid"]

    host = gateway.dial("+8613123456702")
    gateway.idle()
    caller_view = gateway.call(caller["sid"])
    host_view = gateway.call(host["sid"])
    assert caller_view["activity"] == host_view["activity"] == "conference"
    assert caller_view["conference"]["status"] == "in-progress"
    assert {p["number"] for p in caller_view["conference"]["participants"]} == {
        ELDER,
        "+8613123456702",
    }
    assert "+8613123456702" in caller_view["transcript"][-1]["text"]

    # They "talk": what one says appears on the other's transcript.
    gateway.say(host["sid"], "您好，我是接线员")
    peer_lines = [e for e in gateway.call(caller["sid"])["transcript"] if e["kind"] == "peer"]
    assert peer_lines[-1]["text"] == "您好，我是接线员"

    # The host leaves with endConferenceOnExit: the room ends, the caller's Dial action runs.
    gateway.api("POST", f"/calls/{host['sid']}/hangup", expect=200)
    gateway.idle()
    done = standin.last("/dial-done")
    assert done["CallSid"] == caller["sid"]
    assert done["DialCallStatus"] == "completed"
    events = _conference_events(standin)
    assert [e for e, _ in events] == [
        "participant-join",
        "participant-join",
        "conference-start",
        "participant-leave",
        "participant-leave",
        "conference-end",
    ]
    assert [int(n) for _, n in events] == list(range(6))
    end = standin.requests_to("/conf-events")[-1]
    assert end["ReasonConferenceEnded"] == "participant-with-end-conference-on-exit-left"
    assert end["CallSidEndingConference"] == host["sid"]
    assert all(r.signature_ok for r in standin.received)


def test_participants_create_rings_the_operator_and_joins_on_answer(
    standin: StandIn, gateway, twilio_client
):
    """conferences(friendly name).participants.create with status callbacks, then hold and kick."""
    standin.route("/twilio/voice", ROOM)
    standin.route("/conf-wait", twiml("<Pause length='30'/>"))
    standin.route("/hold-music", twiml("<Say>请稍等，接线员马上回来</Say><Pause length='20'/>"))
    standin.route("/dial-done", twiml("<Say>谢谢来电</Say><Pause length='60'/>"))
    caller = gateway.dial(ELDER)
    gateway.api("GET", f"/phones/{OPERATOR}", expect=200)  # the operator's dev phone is open

    participant = twilio_client.conferences("room-1").participants.create(
        from_=LINE, to=OPERATOR, label="operator", start_conference_on_enter=True,
        end_conference_on_exit=False, early_media=True, beep="false",
        status_callback=standin.url + "/participant-status",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
    )  # fmt: skip
    assert participant.call_sid.startswith("CA")
    assert participant.conference_sid.startswith("CF")
    assert participant.status == "queued"
    assert participant.label == "operator"
    gateway.idle()
    phone = gateway.api("GET", f"/phones/{OPERATOR}", expect=200)
    assert phone["incoming"][0]["call_sid"] == participant.call_sid

    gateway.api("POST", f"/calls/{participant.call_sid}/answer", expect=200)
    gateway.idle()
    assert gateway.call(caller["sid"])["activity"] == "conference"
    listed = twilio_client.conferences(participant.conference_sid).participants.list()
    assert {p.call_sid for p in listed} == {caller["sid"], participant.call_sid}
    conferences = twilio_client.conferences.list(friendly_name="room-1", status="in-progress")
    assert [c.sid for c in conferences] == [participant.conference_sid]

    # Hold the caller with music, then take them off hold.
    updated = (
        twilio_client.conferences(participant.conference_sid)
        .participants(caller["sid"])
        .update(hold=True, hold_url=standin.url + "/hold-music")
    )
    assert updated.hold is True
    gateway.idle()
    assert gateway.call(caller["sid"])["activity"] == "on-hold"
    assert standin.last("/hold-music")["CallSid"] == caller["sid"]
    twilio_client.conferences(participant.conference_sid).participants(caller["sid"]).update(
        hold=False
    )
    gateway.idle()
    assert gateway.call(caller["sid"])["activity"] == "conference"

    # Mute the operator by label.
    muted = (
        twilio_client.conferences(participant.conference_sid)
        .participants("operator")
        .update(muted=True)
    )
    assert muted.muted is True

    # Remove the operator: the operator's call ends, the caller is alone in the room.
    twilio_client.conferences(participant.conference_sid).participants(
        participant.call_sid
    ).delete()
    gateway.idle()
    assert gateway.call(participant.call_sid)["status"] == "completed"
    statuses = [r["CallStatus"] for r in standin.requests_to("/participant-status")]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]
    sequence = [r["SequenceNumber"] for r in standin.requests_to("/participant-status")]
    assert sequence == ["0", "1", "2", "3"]
    events = [e for e, _ in _conference_events(standin)]
    assert events[:3] == ["participant-join", "participant-join", "conference-start"]
    assert "participant-hold" in events and "participant-unhold" in events
    assert "participant-mute" in events
    leave = [
        r
        for r in standin.requests_to("/conf-events")
        if r["StatusCallbackEvent"] == "participant-leave"
    ]
    assert leave[0]["CallSid"] == participant.call_sid
    assert leave[0]["ReasonParticipantLeft"] == "participant_kicked"
    assert leave[0]["ParticipantLabel"] == "operator"


def test_unanswered_participant_is_no_answer(standin: StandIn, gateway, twilio_client):
    """Nobody picks up within Timeout: the participant call ends no-answer."""
    standin.route("/twilio/voice", ROOM)
    standin.route("/conf-wait", twiml("<Pause length='100'/>"))
    gateway.dial(ELDER)
    participant = twilio_client.conferences("room-1").participants.create(
        from_=LINE, to=OPERATOR, timeout=20, status_callback=standin.url + "/participant-status"
    )
    gateway.advance(21)
    assert gateway.call(participant.call_sid)["status"] == "no-answer"
    final = standin.last("/participant-status")
    assert final["CallStatus"] == "no-answer"
    assert final["SequenceNumber"] == "0"  # only "completed" was asked for


def test_participants_of_an_unknown_conference_sid_is_a_404(gateway, twilio_client):
    """A CF... SID that does not exist."""
    with pytest.raises(TwilioRestException) as error:
        twilio_client.conferences("CF" + "0" * 32).participants.create(from_=LINE, to=OPERATOR)
    assert error.value.status == 404


def test_caller_hangup_leaves_the_conference_and_ends_it_when_last(standin: StandIn, gateway):
    """The last participant leaving ends the room: participant-leave then conference-end."""
    standin.route(
        "/twilio/voice",
        twiml(
            '<Dial><Conference statusCallback="/conf-events" statusCallbackEvent="start end leave">solo</Conference></Dial>'
        ),
    )
    call = gateway.dial(ELDER)
    gateway.api("POST", f"/calls/{call['sid']}/hangup", expect=200)
    gateway.idle()
    events = standin.requests_to("/conf-events")
    assert [e["StatusCallbackEvent"] for e in events] == [
        "conference-start",
        "participant-leave",
        "conference-end",
    ]
    assert events[1]["ReasonParticipantLeft"] == "participant_hung_up"
    assert events[2]["ReasonConferenceEnded"] == "last-participant-left"


def test_announce_url_speaks_to_the_participant(standin: StandIn, gateway, twilio_client):
    """AnnounceUrl TwiML is fetched (signed) and its <Say> reaches that participant."""
    standin.route("/twilio/voice", twiml("<Dial><Conference>room-2</Conference></Dial>"))
    standin.route("/announce", twiml('<Say language="zh-CN">接线员马上就来</Say>'))
    call = gateway.dial()
    conference = twilio_client.conferences.list(friendly_name="room-2")[0]
    twilio_client.conferences(conference.sid).participants(call["sid"]).update(
        announce_url=standin.url + "/announce"
    )
    gateway.idle()
    announce = standin.last("/announce")
    assert announce.signature_ok
    assert announce["ConferenceSid"] == conference.sid
    says = [e for e in gateway.call(call["sid"])["transcript"] if e["kind"] == "say"]
    assert says[-1]["text"] == "接线员马上就来"
    assert says[-1]["speech_lang"] == "zh-CN"
