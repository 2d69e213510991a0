"""The bare Flask baseline: one POST route answering a fixed small TwiML document.

Served by gunicorn with the same settings as the hotline (`gunicorn "bench.baseline:create_app()"`),
and sent the same signed forms at the same concurrency, so the ratio of the two throughputs shows
what the hotline's own work (signature check, idempotency record, database, TwiML) costs.
"""

from __future__ import annotations

from flask import Flask, Response

#: About the size of a short menu answer (a <Gather> with one <Say>, then a <Redirect>).
TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    '<Gather action="/twilio/voice/input?node=main_menu&amp;lang=zh-CN&amp;turn=2" '
    'input="dtmf speech" method="POST" numDigits="1" timeout="9">'
    '<Say language="cmn-CN" voice="Polly.Zhiyu"><prosody rate="85%">'
    "找人工服务,请按0。看病就医,请按1。</prosody></Say></Gather>"
    '<Redirect method="POST">/twilio/voice/input?node=main_menu&amp;lang=zh-CN&amp;turn=2</Redirect>'
    "</Response>"
)


def create_app() -> Flask:
    """A Flask app with the one route, reading the form like a real view."""
    app = Flask("bench_baseline")

    @app.post("/twilio/voice/input")
    def twiml():
        from flask import request

        request.form.get("CallSid", "")  # parse the body, as every webhook view does
        return Response(TWIML, mimetype="text/xml")

    return app
