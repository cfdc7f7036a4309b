"""Rate limits and slow mode, driven by a fake clock."""

from __future__ import annotations

import pytest

from moderation.ratelimit import RateLimiter, SlowMode, wait_message


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- RateLimiter ---------------------------------------------------------------------------


def test_allows_count_attempts_then_says_how_long_to_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, 60, clock=clock)
    assert [limiter.check("v") for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.advance(10)
    assert limiter.check("v") == pytest.approx(50.0)


def test_window_slides_one_attempt_at_a_time() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, 60, clock=clock)
    assert limiter.check("v") == 0.0
    clock.advance(30)
    assert limiter.check("v") == 0.0
    clock.advance(29)
    assert limiter.check("v") == pytest.approx(1.0)
    clock.advance(1)  # the first attempt leaves the window
    assert limiter.check("v") == 0.0
    assert limiter.check("v") == pytest.approx(30.0)


def test_refused_attempts_are_not_counted() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, 10, clock=clock)
    assert limiter.check("v") == 0.0
    for _ in range(5):
        clock.advance(1)
        assert limiter.check("v") > 0
    clock.advance(5)
    assert limiter.check("v") == 0.0


def test_keys_are_independent_and_reset_forgets_one() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, 60, clock=clock)
    assert limiter.check("a") == 0.0
    assert limiter.check("b") == 0.0
    assert limiter.check("a") > 0
    limiter.reset("a")
    assert limiter.check("a") == 0.0
    assert limiter.check("b") > 0


def test_idle_keys_are_evicted_as_new_keys_arrive() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, 60, clock=clock)
    for n in range(100):
        limiter.check(f"old-{n}")
    clock.advance(61)
    limiter.check("new")
    assert len(limiter) == 1


def test_memory_is_bounded_by_max_keys() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, 60, clock=clock, max_keys=10)
    for n in range(1000):
        assert limiter.check(f"k{n}") == 0.0
    assert len(limiter) == 10
    assert limiter.check("k999") > 0  # recent keys are kept


def test_a_clock_stepping_back_never_asks_for_more_than_the_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, 60, clock=clock)
    limiter.check("v")
    clock.advance(-3600)
    assert 0 < limiter.check("v") <= 60


@pytest.mark.parametrize(("count", "per"), [(0, 60), (1, 0), (1, -5), (1, float("nan"))])
def test_nonsense_configuration_is_refused(count: int, per: float) -> None:
    with pytest.raises(ValueError):
        RateLimiter(count, per, clock=FakeClock())


# --- SlowMode ------------------------------------------------------------------------------


def test_slow_mode_off_lets_everyone_ask() -> None:
    slow = SlowMode(clock=FakeClock())
    assert slow.interval == 0
    assert [slow.check("v") for _ in range(5)] == [0.0] * 5


def test_slow_mode_enforces_the_interval_per_viewer() -> None:
    clock = FakeClock()
    slow = SlowMode(30, clock=clock)
    assert slow.check("a") == 0.0
    assert slow.check("b") == 0.0
    clock.advance(10)
    assert slow.check("a") == pytest.approx(20.0)
    clock.advance(20)
    assert slow.check("a") == 0.0
    assert slow.check("a") == pytest.approx(30.0)


def test_turning_slow_mode_on_applies_to_someone_who_just_asked() -> None:
    clock = FakeClock()
    slow = SlowMode(0, clock=clock)
    assert slow.check("v") == 0.0
    clock.advance(5)
    slow.set_interval(60)
    assert slow.check("v") == pytest.approx(55.0)
    slow.set_interval(0)
    assert slow.check("v") == 0.0


def test_shortening_the_interval_takes_effect_at_once() -> None:
    clock = FakeClock()
    slow = SlowMode(120, clock=clock)
    slow.check("v")
    clock.advance(15)
    slow.set_interval(10)
    assert slow.check("v") == 0.0


def test_slow_mode_memory_is_bounded() -> None:
    clock = FakeClock()
    slow = SlowMode(10, clock=clock, max_keys=5)
    for n in range(50):
        slow.check(f"v{n}")
    assert len(slow) == 5
    clock.advance(11)
    slow.check("late")
    assert len(slow) == 1


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_nonsense_interval_is_refused(seconds: float) -> None:
    with pytest.raises(ValueError):
        SlowMode(seconds, clock=FakeClock())
    with pytest.raises(ValueError):
        SlowMode(clock=FakeClock()).set_interval(seconds)


# --- messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(("wait", "seconds"), [(0.2, 1), (1.0, 1), (1.01, 2), (29.5, 30)])
def test_wait_message_rounds_up_to_whole_seconds(wait: float, seconds: int) -> None:
    assert wait_message(wait) == f"提问太频繁，请 {seconds} 秒后再试。"


def test_a_check_without_recording_leaves_no_trace() -> None:
    now = [0.0]
    limiter = RateLimiter(1, 60, clock=lambda: now[0])
    slow = SlowMode(30, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.check("v", record=False) == 0.0
        assert slow.check("v", record=False) == 0.0
    assert limiter.check("v") == 0.0 and slow.check("v") == 0.0
    assert limiter.check("v", record=False) > 0 and slow.check("v", record=False) > 0
