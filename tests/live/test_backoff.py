"""live.backoff: the wait before a supervised process runs again."""

from __future__ import annotations

from live.backoff import Backoff


def test_doubles_up_to_the_most_and_starts_over_after_a_good_run() -> None:
    b = Backoff(1.0, 8.0)
    waits = []
    for _ in range(5):  # failures that were never up
        waits.append(b.after(0))
        b.grow()
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert b.after(7.9) == 8.0  # up, but not for long
    assert b.after(8.0) == 1.0  # up for the whole ceiling: back to the start
