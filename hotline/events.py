"""In-process domain events: how one feature tells another what happened without importing it.

A publisher says what happened (`publish(session, CallbackGaveUp(...))`); every subscriber of
that event type runs at once, in the publisher's transaction, with the publisher's session. So
the publisher's work and everything the event causes commit together, once, at the entry point
(webhook guard, console view, CLI command, clock job), or roll back together.

Rules:

- Event classes live beside their publisher (`hotline/<feature>/events.py`), as frozen
  dataclasses carrying ids and plain values, never a request or a Flask object.
- Subscriptions are listed explicitly in the wiring layer (`hotline.app.SUBSCRIPTIONS`), not
  registered at import time, so reading one list shows who reacts to what.
- A subscriber never commits or rolls back: a commit raises `SubscriberCommitted`, because it
  would commit the publisher's half-done work (and a rollback would discard it). It may flush, and it may use a
  savepoint (`session.begin_nested()`) to absorb a unique-key race of its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

#: A subscriber: called with the publisher's session and the event.
Subscriber = Callable[[Session, Any], None]

_IN_EVENT = "hotline.events.depth"


class SubscriberCommitted(RuntimeError):
    """A subscriber tried to commit or roll back the publisher's transaction."""


class EventBus:
    """Event type -> subscribers, in the order they were listed."""

    def __init__(self) -> None:
        self._subscribers: dict[type, list[Subscriber]] = defaultdict(list)

    def subscribe(self, event_type: type, subscriber: Subscriber) -> None:
        """Call `subscriber(session, event)` for every published `event_type` (once per pair)."""
        if subscriber not in self._subscribers[event_type]:
            self._subscribers[event_type].append(subscriber)

    def subscribers(self, event_type: type) -> list[Subscriber]:
        """The subscribers of exactly `event_type`, in subscription order."""
        return list(self._subscribers.get(event_type, ()))

    def publish(self, session: Session, event: object) -> None:
        """Run every subscriber of `type(event)` inside the caller's transaction."""
        subscribers = self._subscribers.get(type(event))
        if not subscribers:
            return
        session.info[_IN_EVENT] = session.info.get(_IN_EVENT, 0) + 1
        try:
            for subscriber in subscribers:
                subscriber(session, event)
        finally:
            session.info[_IN_EVENT] -= 1


def _refuse_commit_inside_subscriber(session: Session) -> None:
    # Releasing a savepoint (`begin_nested()`) also fires before_commit; it commits nothing of
    # the publisher's, and the rules allow it.
    if session.info.get(_IN_EVENT) and not session.in_nested_transaction():
        raise SubscriberCommitted(
            "an event subscriber must not commit or roll back the publisher's transaction"
        )


_listeners_installed = False


def init_app(app: Flask, subscriptions: Iterable[tuple[type, Subscriber]]) -> EventBus:
    """Give `app` its event bus with the wiring layer's explicit list of subscriptions."""
    global _listeners_installed
    bus = EventBus()
    for event_type, subscriber in subscriptions:
        bus.subscribe(event_type, subscriber)
    app.extensions["hotline.events"] = bus
    if not _listeners_installed:
        sa_event.listen(Session, "before_commit", _refuse_commit_inside_subscriber)
        _listeners_installed = True
    return bus


def publish(session: Session, event: object) -> None:
    """Tell the current app's subscribers that `event` happened (in `session`'s transaction)."""
    bus: EventBus | None = current_app.extensions.get("hotline.events")
    if bus is not None:
        bus.publish(session, event)
