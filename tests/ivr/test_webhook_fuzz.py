"""Generated webhook parameters never produce a 500, and the TwiML always leads to a person."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TwilioCaller

text = st.text(max_size=40)
maybe = st.one_of(st.none(), text)
param_sets = st.fixed_dictionaries(
    {},
    optional={
        "CallSid": st.one_of(text, st.from_regex(r"CA[0-9a-f]{32}", fullmatch=True)),
        "From": st.one_of(text, st.sampled_from(["+8613123456701", "anonymous", "", "client:op"])),
        "To": st.one_of(text, st.just("+861012345678")),
        "CallStatus": st.one_of(text, st.sampled_from(["ringing", "in-progress", "completed"])),
        "Direction": maybe,
        "Digits": st.one_of(text, st.sampled_from(list("0123456789*#"))),
        "SpeechResult": maybe,
        "Confidence": st.one_of(text, st.floats(allow_nan=True).map(str)),
        "SequenceNumber": text,
        "QueueTime": text,
        "RecordingUrl": maybe,
        "Unexpected": text,
    },
).map(lambda d: {k: v for k, v in d.items() if v is not None})
paths = st.sampled_from(
    [
        "/twilio/voice",
        "/twilio/voice/input?node=main_menu&lang=zh-CN&turn=1",
        "/twilio/voice/input?node=language&lang=yue-HK&turn=0",
        "/twilio/voice/input?node=nowhere&lang=xx",
        "/twilio/voice/wait?lang=en-US",
        "/twilio/voice/queue-exit",
        "/twilio/voice/recorded",
        "/twilio/voice/status",
        "/twilio/voice/fallback",
    ]
)


def _leads_to_a_person(root: ET.Element) -> bool:
    tags = {el.tag for el in root.iter()}
    if "Gather" in tags:
        return "Redirect" in tags  # silence comes back to us, and twice reaches a person
    return bool(tags & {"Enqueue", "Record", "Hangup", "Pause"})


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=paths, params=param_sets)
def test_generated_webhooks_never_500_and_always_lead_to_a_person(app, path, params):
    twilio = TwilioCaller(app.test_client())
    response = twilio.post(path, params)
    assert response.status_code in (200, 204, 400), response.get_data(as_text=True)
    if response.status_code == 200:
        assert response.mimetype == "text/xml"
        assert _leads_to_a_person(ET.fromstring(response.get_data())), response.get_data(
            as_text=True
        )
