"""Peak and average concurrent viewers per session from the stored samples
(``Store.viewer_figures``), on both backends."""

from __future__ import annotations

from store.aggregates import ViewerFigures, Window
from store.base import Store
from store.desk_records import ViewerSample

T0 = 1_800_000_000.0


async def test_viewer_figures_per_session_in_a_window(store: Store) -> None:
    for session, counts in (("s1", (4, 10, 7)), ("s2", (2, 2)), ("s3", (5,))):
        for n, viewers in enumerate(counts):
            at = T0 + 60 * n + (86400 if session == "s3" else 0)
            await store.insert(ViewerSample(id=f"{session}:{n}", session_id=session, at=at,
                                            viewers=viewers, created_at=at, updated_at=at))
    day = Window(T0, T0 + 86400)
    assert await store.viewer_figures(day) == [
        ViewerFigures("s1", 10, 7.0, 3, T0, T0 + 120),
        ViewerFigures("s2", 2, 2.0, 2, T0, T0 + 60)]
    assert [f.session_id for f in await store.viewer_figures()] == ["s1", "s2", "s3"]
    assert [f.session_id for f in await store.viewer_figures(session_ids=["s3", "s2"])] == [
        "s2", "s3"]
    assert await store.viewer_figures(Window(T0 + 1, T0 + 60), ["s1"]) == []
