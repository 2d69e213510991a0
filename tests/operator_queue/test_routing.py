"""Routing as a pure function: skills, lines, priorities, thresholds and waits, case by case."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hotline.queue import routing
from hotline.queue.routing import LANGUAGE, OVERFLOW, Skills, Waiting

T0 = datetime(2026, 12, 4, 9, 0)

MANDARIN = Skills(frozenset({"zh-CN"}))
CANTONESE = Skills(frozenset({"yue-HK"}))
BOTH = Skills(frozenset({"zh-CN", "yue-HK"}))
ANYONE = Skills()
LINE_2_CANTONESE = Skills(frozenset({"yue-HK"}), frozenset({2}))
SHANGHAINESE = Skills(frozenset({"上海话"}))


def w(entry_id, *, line=1, priority=3, arrived=0, language="zh-CN", waited=30, after=120):
    """A waiting caller: `arrived` minutes after T0, `waited` seconds in the queue."""
    return Waiting(
        entry_id=entry_id,
        line_id=line,
        priority=priority,
        arrived_at=T0 + timedelta(minutes=arrived),
        language=language,
        waited_seconds=waited,
        overflow_after_seconds=after,
    )


CASES = [
    # (case, operator skills, waiting callers, expected offers [(entry id, reason)])
    ("nobody waiting", MANDARIN, [], []),
    ("same language offered", CANTONESE, [w(1, language="yue-HK")], [(1, LANGUAGE)]),
    (
        "Cantonese operator: the Cantonese caller first, though a Mandarin caller came earlier",
        CANTONESE,
        [w(1, arrived=0), w(2, arrived=1, language="yue-HK")],
        [(2, LANGUAGE)],
    ),
    (
        "Mandarin operator skips the Cantonese caller under the threshold",
        MANDARIN,
        [w(1, arrived=0, language="yue-HK", waited=119), w(2, arrived=1)],
        [(2, LANGUAGE)],
    ),
    (
        "at the threshold the Cantonese caller is offered to anyone, in arrival order",
        MANDARIN,
        [w(1, arrived=0, language="yue-HK", waited=120), w(2, arrived=1)],
        [(1, OVERFLOW), (2, LANGUAGE)],
    ),
    (
        "each line has its own threshold",
        MANDARIN,
        [
            w(1, line=1, language="yue-HK", waited=100, after=120),
            w(2, line=2, language="yue-HK", waited=100, after=60, arrived=1),
        ],
        [(2, OVERFLOW)],
    ),
    (
        "no threshold: never offered to a non-speaker",
        MANDARIN,
        [w(1, language="yue-HK", waited=100_000, after=None)],
        [],
    ),
    (
        "priority before arrival",
        BOTH,
        [w(1, arrived=0, priority=3), w(2, arrived=5, priority=0, language="yue-HK")],
        [(2, LANGUAGE), (1, LANGUAGE)],
    ),
    (
        "original arrival, not this wait, orders a priority",
        MANDARIN,
        [w(1, arrived=10, waited=300), w(2, arrived=2, waited=5)],
        [(2, LANGUAGE), (1, LANGUAGE)],
    ),
    (
        "same priority and arrival: the entry id decides",
        MANDARIN,
        [w(7), w(3)],
        [(3, LANGUAGE), (7, LANGUAGE)],
    ),
    (
        "an urgent caller in another language waits for the threshold too",
        MANDARIN,
        [w(1, priority=0, language="yue-HK", waited=30), w(2, arrived=1)],
        [(2, LANGUAGE)],
    ),
    (
        "no languages set: every language",
        ANYONE,
        [w(1, language="yue-HK"), w(2, language="en-US", arrived=1)],
        [(1, LANGUAGE), (2, LANGUAGE)],
    ),
    (
        "only the operator's lines, even past the threshold",
        LINE_2_CANTONESE,
        [
            w(1, line=1, language="yue-HK", waited=999),
            w(2, line=2, language="zh-CN", waited=999, arrived=1),
            w(3, line=2, language="zh-CN", waited=5, arrived=2),
        ],
        [(2, OVERFLOW)],
    ),
    (
        "a local dialect named by the centre matches as written",
        SHANGHAINESE,
        [w(1, language="zh-CN"), w(2, language="上海话", arrived=1)],
        [(2, LANGUAGE)],
    ),
]


@pytest.mark.parametrize(
    ("skills", "waiting", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_routing_table(skills, waiting, expected):
    offers = routing.offers(skills, waiting)
    assert [(o.entry_id, o.reason) for o in offers] == expected
    first = routing.next_offer(skills, waiting)
    assert (first.entry_id if first else None) == (expected[0][0] if expected else None)


def test_an_offer_carries_the_language_and_wait_it_is_explained_by():
    offer = routing.next_offer(MANDARIN, [w(1, language="yue-HK", waited=150)])
    assert offer == routing.Offer(1, OVERFLOW, "yue-HK", 150)
