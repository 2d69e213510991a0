"""Sign-in throttling (issue 12, item 5): per account and per client address, counted
atomically under parallel tries, forwarded addresses believed only from trusted proxies, and
unknown usernames cost the same hashing as real ones."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from hotline.db import db
from hotline.operators import auth
from hotline.operators.auth import (
    MAX_FAILED_LOGINS_PER_ACCOUNT,
    MAX_FAILED_LOGINS_PER_ACCOUNT_AND_ADDRESS,
    MAX_FAILED_LOGINS_PER_ADDRESS,
)
from hotline.operators.models import LoginAttempt, Operator

from .conftest import FAST_HASH, PASSWORD, login


@pytest.fixture
def hash_checks(monkeypatch) -> list[str]:
    """Every password hash the sign-in checks, in order."""
    checked: list[str] = []
    real = auth.check_password_hash

    def counting(stored: str, password: str) -> bool:
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(auth, "check_password_hash", counting)
    return checked


def test_spraying_one_password_over_many_usernames_is_throttled_per_address(client, add_operator):
    add_operator("real")
    for i in range(MAX_FAILED_LOGINS_PER_ADDRESS):
        assert login(client, f"guess{i}", "Password1!").status_code == 401
    assert login(client, "guess-next", "Password1!").status_code == 429
    assert login(client, "real").status_code == 429, "the address is paused for every account"
    assert login(client, "real", address="198.51.100.7").status_code == 302


def test_guessing_one_account_from_many_addresses_is_throttled_per_account(client, add_operator):
    add_operator("op1")
    for i in range(MAX_FAILED_LOGINS_PER_ACCOUNT):
        assert login(client, "op1", "wrong", address=f"203.0.113.{i}").status_code == 401
    assert login(client, "op1", "wrong", address="203.0.113.200").status_code == 429
    assert login(client, "op1", address="203.0.113.201").status_code == 429
    add_operator("op2")
    assert login(client, "op2", address="203.0.113.200").status_code == 302


def test_a_guesser_at_one_address_does_not_lock_the_operator_out(client, add_operator):
    """The right password from the operator's own address works while the guesser is paused."""
    add_operator("op1")
    attacker = "203.0.113.66"
    for _ in range(MAX_FAILED_LOGINS_PER_ACCOUNT_AND_ADDRESS):
        assert login(client, "op1", "wrong", address=attacker).status_code == 401
    assert login(client, "op1", "wrong", address=attacker).status_code == 429
    assert login(client, "op1", address=attacker).status_code == 429, "no check while paused"
    assert login(client, "op1", address="198.51.100.20").status_code == 302


def test_forwarded_addresses_are_ignored_without_trusted_proxies(client, add_operator):
    """Default TRUSTED_PROXY_COUNT=0: a client cannot choose its address with a header."""
    add_operator("op1")
    for i in range(MAX_FAILED_LOGINS_PER_ADDRESS):
        headers = {"X-Forwarded-For": f"198.51.100.{i}"}
        assert login(client, f"guess{i}", "x", headers=headers).status_code == 401
    headers = {"X-Forwarded-For": "198.51.100.250"}
    assert login(client, "someone", "x", headers=headers).status_code == 429
    with client.application.app_context():
        addresses = set(db.session.scalars(select(LoginAttempt.address)))
    assert addresses == {"192.0.2.10"}


def test_behind_a_trusted_proxy_each_client_has_its_own_address(make_app, add_operator):
    """Behind one reverse proxy (TRUSTED_PROXY_COUNT=1) clients are told apart, and only the
    entry the proxy appended is believed."""
    application = make_app(TRUSTED_PROXY_COUNT=1)
    client = application.test_client()
    add_operator("op1")
    proxy = "10.0.0.2"
    for i in range(MAX_FAILED_LOGINS_PER_ADDRESS):
        # The client forges a first entry; the proxy appends the address it saw.
        headers = {"X-Forwarded-For": f"192.0.2.99, 198.51.100.{i}"}
        assert login(client, f"guess{i}", "x", address=proxy, headers=headers).status_code == 401
    headers = {"X-Forwarded-For": "198.51.100.77"}
    assert login(client, "op1", address=proxy, headers=headers).status_code == 302
    with application.app_context():
        addresses = set(db.session.scalars(select(LoginAttempt.address)))
    assert "192.0.2.99" not in addresses and proxy not in addresses


def test_unknown_and_disabled_accounts_cost_one_hash_check_like_real_ones(
    app, client, add_operator, hash_checks
):
    add_operator("op1")
    with app.app_context():
        db.session.add(Operator(username="gone", password_hash=FAST_HASH, is_active=False))
        db.session.add(Operator(username="nopass", password_hash=""))
        db.session.commit()
    for username in ("op1", "nobody-by-this-name", "gone", "nopass"):
        hash_checks.clear()
        assert login(client, username, "wrong password").status_code == 401
        assert len(hash_checks) == 1, username
    assert login(client, "gone", PASSWORD).status_code == 401, "a disabled account stays out"
    # The stand-in hash costs what a real one does: the same algorithm as new passwords.
    assert auth._dummy_hash().split("$")[0] == auth.hash_password("x").split("$")[0]


def _parallel_bad_tries(application, tries: int = 40) -> int:
    """Post `tries` wrong passwords for op1 at once; returns how many answered 401."""
    barrier = threading.Barrier(tries)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def one_try() -> None:
        try:
            client = application.test_client()
            barrier.wait(timeout=30)
            statuses.append(login(client, "op1", "wrong").status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_try) for _ in range(tries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(statuses) == tries and set(statuses) <= {401, 429}, statuses
    return statuses.count(401)


def _add_op1(application) -> None:
    with application.app_context():
        db.session.add(Operator(username="op1", password_hash=FAST_HASH))
        db.session.commit()


def _assert_at_most_the_limit_checked(application, hash_checks: list[str]) -> None:
    refused = _parallel_bad_tries(application)
    assert len(hash_checks) <= MAX_FAILED_LOGINS_PER_ACCOUNT_AND_ADDRESS, len(hash_checks)
    assert refused == len(hash_checks)
    with application.app_context():
        recorded = db.session.scalar(select(func.count()).select_from(LoginAttempt))
    assert recorded == 40, "every try is recorded, checked or not"


def test_parallel_tries_are_counted_atomically_on_sqlite(app, hash_checks):
    _add_op1(app)
    _assert_at_most_the_limit_checked(app, hash_checks)


@pytest.mark.postgres
def test_parallel_tries_are_counted_atomically_on_postgres(make_app, pg_url, hash_checks):
    url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    application = make_app(DATABASE_URL=url)
    with application.app_context():
        db.create_all()
    _add_op1(application)
    _assert_at_most_the_limit_checked(application, hash_checks)


def test_a_real_hash_is_checked_for_a_real_account(client, app, hash_checks):
    with app.app_context():
        db.session.add(Operator(username="slow", password_hash=generate_password_hash(PASSWORD)))
        db.session.commit()
    assert login(client, "slow").status_code == 302
    assert hash_checks and hash_checks[0].startswith("scrypt:")
