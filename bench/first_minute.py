"""The first minute of a call, measured: each journey's keys and seconds of speech until a person.

Every journey is played through the signed voice webhooks, following the TwiML as Twilio does
(a key or words posted to the <Gather> action, silence to the <Redirect>), until the answer
holds an <Enqueue> (a person), a <Record> (the voicemail) or a <Hangup>. The seconds are the
speech estimate of `flask --app hotline ivr check` (hotline.ivr.check.speech_seconds: Chinese
characters and English words per second, a pause per punctuation mark) over every <Say> the
caller heard, at the rate the TwiML asks for (85 %) and at the hard-of-hearing 75 %.

    .venv/bin/python -m bench.first_minute          # prints the table (SQLite in a temp dir)

The journeys are also the webhook tests (tests/ivr/test_first_minute.py), which assert on the
same measurements.
"""

from __future__ import annotations

import re
import tempfile
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from hotline.ivr.check import speech_seconds

#: What a caller does at each prompt: a key ("0"), words ("看病"), or None for silence.
Answer = str | None
DIGITS = re.compile(r"^[0-9*#]$")
#: Twilio's <Say> language codes back to script languages (for the speech estimate).
SAY_LANGUAGES = {"cmn-CN": "zh-CN", "yue-CN": "yue-HK", "en-US": "en-US"}
ELDER_NUMBER = "+8613100000001"
FAMILY_NUMBER = "+8613100000002"
NOMENU_LINE_NUMBER = "+861012345679"
MAX_REQUESTS = 12


@dataclass(frozen=True)
class Journey:
    """One caller's first minute: who calls (`caller`), which line, and what they do."""

    name: str
    language: str
    answers: tuple[Answer, ...] = ()
    #: new, known (language stored), elder (straight to a person), blocked, family,
    #: family_callbacks (may request callbacks).
    caller: str = "new"
    line: str = "main"
    _: KW_ONLY
    #: The caller answers in the first second (Twilio stops the prompt at a key or at speech):
    #: only that second of each answered prompt is heard.
    at_once: bool = False


@dataclass
class Outcome:
    """What the caller heard and where they ended."""

    journey: Journey
    end: str = ""  # queue, voicemail, hangup, stuck
    requests: int = 0  # webhooks after the first
    prompts: int = 0  # <Gather>s the caller waited at
    inputs: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    seconds_85: float = 0.0
    seconds_75: float = 0.0
    sid: str = ""

    @property
    def heard(self) -> str:
        """Everything the caller heard, in order."""
        return "".join(self.said)


LANGUAGE_KEY = {"zh-CN": None, "yue-HK": "9", "en-US": "8"}
SAID = {
    "kanbing": {"zh-CN": "我想看病", "yue-HK": "我想睇医生", "en-US": "I need a doctor"},
    "emergency": {"zh-CN": "救命,我摔倒了", "yue-HK": "救命,我跌倒咗", "en-US": "Help me, I fell"},
    "about": {
        "zh-CN": "我想问养老金",
        "yue-HK": "我想问长者津贴",
        "en-US": "A question about my pension",
    },
}


def journeys() -> list[Journey]:
    """The journeys of issue 17, in the three languages where they apply."""
    out: list[Journey] = []
    for language in ("zh-CN", "yue-HK", "en-US"):
        who = "new" if language == "zh-CN" else "known"
        out += [
            Journey("silence", language, (), who),
            Journey("0 at the first second", language, ("0",), who, at_once=True),
            Journey("invalid keys", language, ("6", "6"), who),
            Journey("看病 / medical words", language, (SAID["kanbing"][language],), who),
            Journey(
                "emergency phrase at once",
                language,
                (SAID["emergency"][language],),
                who,
                at_once=True,
            ),
            Journey("registered elder", language, (), "elder"),
            Journey("blocked caller", language, (), "blocked"),
            Journey("family proxy, 0", language, ("0",), "family"),
            Journey("family proxy, callback", language, ("5",), "family_callbacks"),
            Journey("no-menu line, silence", language, (), who, "nomenu"),
            Journey("no-menu line, words", language, (SAID["about"][language],), who, "nomenu"),
        ]
    out.append(Journey("Cantonese chosen at the first prompt", "zh-CN", ("9", None, None)))
    return out


def prepare(app: Any, journey: Journey) -> str:
    """Create the rows this journey's caller needs; returns the number they call from."""
    from hotline.callers.models import (
        Caller,
        CallerRestriction,
        ConsentMethod,
        FamilyContact,
    )
    from hotline.db import db
    from hotline.lines.models import Line
    from hotline.operators.models import Operator
    from hotline.seed import DEMO_NOMENU_LINE_NUMBER
    from hotline.timeutil import utcnow

    number = "+86131" + str(uuid.uuid4().int)[:8]
    with app.app_context():
        session = db.session
        if journey.line == "nomenu" and session.query(Line).filter_by(key="nomenu").first() is None:
            main = session.query(Line).filter_by(key="main").one()
            session.add(
                Line(
                    key="nomenu",
                    name="无菜单热线",
                    phone_number=DEMO_NOMENU_LINE_NUMBER,
                    script_key="nomenu",
                    is_open_every_day=True,
                    opens_at=main.opens_at,
                    closes_at=main.closes_at,
                )
            )
        stored = None if journey.caller == "new" else journey.language
        caller = Caller(phone_number=number, language=stored)
        if journey.caller == "elder":
            caller.display_name = {"zh-CN": "王阿姨", "yue-HK": "陈伯", "en-US": "Mrs Wang"}[
                journey.language
            ]
            caller.is_older_caller = caller.is_straight_to_person = True
        if journey.caller == "blocked":
            caller.restriction = CallerRestriction.BLOCK
            caller.restriction_reason = "abusive calls"
            caller.restriction_until = utcnow() + timedelta(days=7)
        session.add(caller)
        if journey.caller.startswith("family"):
            elder_name = {"zh-CN": "王阿姨", "yue-HK": "陈伯", "en-US": "Mrs Wang"}[
                journey.language
            ]
            elder = Caller(
                phone_number="+86132" + str(uuid.uuid4().int)[:8],
                display_name=elder_name,
                is_older_caller=True,
                language=journey.language,
            )
            operator = Operator(username="op-" + uuid.uuid4().hex[:8], display_name="坐席")
            session.add_all([elder, operator])
            session.flush()
            session.add(
                FamilyContact(
                    caller_id=elder.id,
                    name="女儿",
                    relation="女儿",
                    phone_number=number,
                    may_request_callbacks=journey.caller == "family_callbacks",
                    consented_at=utcnow(),
                    consent_method=ConsentMethod.ELDER_ON_CALL,
                    consent_recorded_by=operator.id,
                )
            )
        session.commit()
    return number


def _says(root: ET.Element) -> list[tuple[str, str, int]]:
    """(text, language, rate) of every <Say>, in order (inside a <Gather> too)."""
    out = []
    for say in root.iter("Say"):
        prosody = say.find("prosody")
        text = "".join(say.itertext())
        rate = int((prosody.get("rate") if prosody is not None else "100%").rstrip("%"))
        out.append((text, SAY_LANGUAGES.get(say.get("language", ""), "zh-CN"), rate))
    return out


def run(
    app: Any, post: Callable[[str, dict], Any], journey: Journey, *, to: str | None = None
) -> Outcome:
    """Play `journey` through the webhooks with `post(path, params)` (signed by the caller)."""
    number = prepare(app, journey)
    line_number = NOMENU_LINE_NUMBER if journey.line == "nomenu" else "+861012345678"
    sid = "CA" + uuid.uuid4().hex
    params = {
        "CallSid": sid,
        "AccountSid": "AC" + "1" * 32,
        "From": number,
        "To": to or line_number,
        "Caller": number,
        "Called": to or line_number,
        "CallStatus": "ringing",
        "ApiVersion": "2010-04-01",
        "Direction": "inbound",
    }
    outcome = Outcome(journey, sid=sid)
    response = post("/twilio/voice", params)
    answers = list(journey.answers)
    params["CallStatus"] = "in-progress"
    while True:
        root = ET.fromstring(response.get_data())
        gather = root.find("Gather")
        interrupted = journey.at_once and gather is not None and bool(answers)
        for text, language, rate in _says(root):
            outcome.said.append(text)
            outcome.seconds_85 += speech_seconds(text, language, rate)
            outcome.seconds_75 += speech_seconds(text, language, min(rate, 75))
        if interrupted:
            # Only the first second of the prompt was heard before the key or the words.
            heard = [speech_seconds(t, lang, r) for t, lang, r in _says(gather)]
            heard_75 = [speech_seconds(t, lang, min(r, 75)) for t, lang, r in _says(gather)]
            outcome.seconds_85 -= sum(heard) - min(1.0, sum(heard))
            outcome.seconds_75 -= sum(heard_75) - min(1.0, sum(heard_75))
        if root.find("Enqueue") is not None:
            outcome.end = "queue"
            break
        if root.find("Record") is not None:
            outcome.end = "voicemail"
            break
        if gather is None or outcome.requests >= MAX_REQUESTS:
            outcome.end = "hangup" if root.find("Hangup") is not None else "stuck"
            break
        outcome.prompts += 1
        answer = answers.pop(0) if answers else None
        extra: dict[str, str] = {}
        if answer is None:
            url = root.find("Redirect").text
            outcome.inputs.append("(silence)")
        else:
            url = gather.get("action")
            if DIGITS.match(answer):
                extra["Digits"] = answer
            else:
                extra.update(SpeechResult=answer, Confidence="0.9")
            outcome.inputs.append(answer)
        outcome.requests += 1
        response = post(url, {**params, **extra})
    return outcome


def table(outcomes: list[Outcome]) -> str:
    """A Markdown table: journey, language, what the caller did, requests, prompts, seconds."""
    rows = [
        "| journey | language | caller did | requests | prompts | speech s (85 %) "
        "| speech s (75 %) | ends at |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for o in outcomes:
        did = ", ".join(o.inputs) or "(nothing)"
        rows.append(
            f"| {o.journey.name} | {o.journey.language} | {did} | {o.requests} | {o.prompts} "
            f"| {o.seconds_85:.1f} | {o.seconds_75:.1f} | {o.end} |"
        )
    return "\n".join(rows)


def main() -> None:
    """Build a throwaway app (SQLite), play every journey, print the table."""
    from twilio.request_validator import RequestValidator

    from hotline import create_app
    from hotline.db import db
    from hotline.seed import seed_demo_data

    token = "first-minute-bench-token"
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "first-minute",
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'first_minute.sqlite3'}",
                "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
                "TWILIO_AUTH_TOKEN": token,
                "TWILIO_API_BASE_URL": None,
                "LOCAL_TELEPHONY": False,
                "PUBLIC_BASE_URL": None,
                "FALLBACK_SPOOL_DIR": str(Path(tmp) / "spool"),
            }
        )
        with app.app_context():
            db.create_all()
            seed_demo_data(db.session)
        client = app.test_client()
        validator = RequestValidator(token)

        def post(path: str, params: dict) -> Any:
            signature = validator.compute_signature("http://localhost" + path, params)
            response = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
            assert response.status_code == 200, response.get_data(as_text=True)
            return response

        outcomes = [run(app, post, j) for j in journeys()]
        with app.app_context():
            db.engine.dispose()
    print(table(outcomes))


if __name__ == "__main__":
    main()
