"""normalise() keeps the outcome per plain string in a bounded cache (issue 16) and answers
exactly as without it: the same E.164, the same refusals, every time."""

from __future__ import annotations

import pytest

from hotline import phone

CASES = [
    "131 2345 6701",
    "+86 131-2345-6701",
    "0086 13123456701",
    "(010) 1234 5678",
    "client:operator-7",
    "sip:desk@example.org",
    "",
    "   ",
    "abc",
    "12",
    "+8613800000021",
]


@pytest.mark.parametrize("raw", CASES)
def test_cached_and_uncached_agree(raw):
    def uncached():
        number, problem = phone._normalise(raw, "CN")
        return ("ok", number) if problem is None else ("refused", problem)

    def cached():
        try:
            return ("ok", phone.normalise(raw))
        except phone.InvalidNumber as exc:
            return ("refused", str(exc))

    assert cached() == uncached()
    assert cached() == uncached()  # the second answer comes from the cache


def test_none_and_str_subclasses_are_not_cached():
    class Number(str):
        pass

    with pytest.raises(phone.InvalidNumber):
        phone.normalise(None)
    before = phone._normalised.cache_info().currsize
    assert phone.normalise(Number("13123456701")) == "+8613123456701"
    assert phone.try_normalise(None) is None
    assert phone._normalised.cache_info().currsize == before


def test_the_cache_is_bounded():
    info = phone._normalised.cache_info()
    assert info.maxsize == phone.NORMALISE_CACHE_SIZE <= 10_000
    phone.normalise("+8613123456701")
    hits = phone._normalised.cache_info().hits
    phone.normalise("+8613123456701")
    assert phone._normalised.cache_info().hits == hits + 1


def test_the_region_is_part_of_the_key():
    assert phone.normalise("020 7946 0018", region="GB") == "+442079460018"
    assert phone.try_normalise("020 7946 0018", region="CN") != "+442079460018"
