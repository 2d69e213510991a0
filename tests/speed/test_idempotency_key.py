"""The idempotency key's one-pass form (issue 16) hashes the same bytes as before: a retry of a
webhook stored by the previous version is still recognised."""

from __future__ import annotations

import hashlib
import random

from werkzeug.datastructures import MultiDict

from hotline.telephony.webhooks import idempotency_key


def _previous(path_and_query: str, form) -> str:
    digest = hashlib.sha256(path_and_query.encode())
    for name in sorted(set(form)):
        for value in sorted(set(form.getlist(name))):
            digest.update(b"\x00" + name.encode() + b"\x01" + value.encode())
    return digest.hexdigest()


def test_the_key_is_the_previous_versions():
    rng = random.Random(16)
    alphabet = "aZ0 &=?\x00\x01你好😀"
    for _ in range(500):
        form = MultiDict()
        for _ in range(rng.randrange(0, 8)):
            name = rng.choice(["CallSid", "From", "Digits", "b", "a", "名字", ""])
            for _ in range(rng.choice([1, 1, 2, 3])):
                form.add(name, "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 5))))
        if form and rng.random() < 0.3:
            name = rng.choice(list(form.keys()))
            form.add(name, form.getlist(name)[0])
        path = rng.choice(["/twilio/voice", "/twilio/voice/menu?node=main&lang=zh-CN", ""])
        assert idempotency_key(path, form) == _previous(path, form)


def test_a_known_key_does_not_change():
    form = MultiDict([("CallSid", "CA1"), ("Digits", "1"), ("Digits", "2"), ("From", "+86")])
    assert idempotency_key("/twilio/voice/menu?node=main", form) == _previous(
        "/twilio/voice/menu?node=main", form
    )
