"""``LoginThrottle``: back-off per (account, address), with an injected clock."""

from __future__ import annotations

from moderation.logins import ADDRESS_FACTOR, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_allowance_is_free_then_waits_double_up_to_the_cap() -> None:
    clock = Clock()
    throttle = LoginThrottle(5, 320, clock=clock)
    for _ in range(4):
        throttle.failed("boss", "A")
        assert throttle.retry_after("boss", "A") == 0
    waits = []
    for _ in range(7):
        throttle.failed("boss", "A")
        waits.append(throttle.retry_after("boss", "A"))
    assert waits == [20, 40, 80, 160, 320, 320, 320]


def test_pairs_are_independent_and_success_resets_only_its_own() -> None:
    clock = Clock()
    throttle = LoginThrottle(3, 160, clock=clock)
    for _ in range(3):
        throttle.failed("boss", "A")
    assert throttle.retry_after("boss", "A") == 10
    assert throttle.retry_after("boss", "B") == 0
    assert throttle.retry_after("other", "A") == 0
    throttle.succeeded("boss", "B")
    assert throttle.retry_after("boss", "A") == 10


def test_names_are_compared_as_the_login_does() -> None:
    throttle = LoginThrottle(1, 16, clock=Clock())
    throttle.failed(" Boss ", "A")
    assert throttle.retry_after("boss", "A") == 1


def test_a_lock_ends_and_is_forgotten_after_a_quiet_period() -> None:
    clock = Clock()
    throttle = LoginThrottle(2, 160, clock=clock)
    throttle.failed("boss", "A")
    throttle.failed("boss", "A")
    assert throttle.retry_after("boss", "A") == 10
    clock.now += 10
    assert throttle.retry_after("boss", "A") == 0
    throttle.failed("boss", "A")  # still remembered: the next wait doubles
    assert throttle.retry_after("boss", "A") == 20
    clock.now += 20 + 160
    throttle.failed("boss", "A")  # forgotten: one failure of two again
    assert throttle.retry_after("boss", "A") == 0


def test_a_spray_of_names_from_one_address_backs_off_that_address_only() -> None:
    clock = Clock()
    throttle = LoginThrottle(5, 160, clock=clock)
    for n in range(5 * ADDRESS_FACTOR):
        throttle.failed(f"user{n}", "A")
    assert throttle.retry_after("boss", "A") == 10
    assert throttle.retry_after("boss", "B") == 0
    throttle.succeeded("boss", "A")
    assert throttle.retry_after("boss", "A") == 10


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(5, 160, clock=Clock(), max_keys=100)
    for n in range(1000):
        throttle.failed(f"user{n}", f"addr{n}")
    assert len(throttle._failures) <= 100


def test_zero_failures_allowed_turns_the_throttle_off() -> None:
    throttle = LoginThrottle(0, 0, clock=Clock())
    throttle.failed("boss", "A")
    assert throttle.retry_after("boss", "A") == 0
