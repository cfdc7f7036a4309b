"""Playlists as timelines: runs, gaps, and mapping wall-clock spans onto segments."""

from __future__ import annotations

from pathlib import Path

import pytest

from clips.timeline import NotRecorded, load_playlist, parse_pdt, parse_playlist, scan_ts

# Two runs: 3 segments from T, a restart, 2 segments from T+10 (a 4-second gap).
PLAYLIST = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-DISCONTINUITY
#EXTINF:2.000000,
#EXT-X-PROGRAM-DATE-TIME:2027-01-15T08:00:00.000+0000
seg_000000.ts
#EXTINF:2.000000,
#EXT-X-PROGRAM-DATE-TIME:2027-01-15T08:00:02.000+0000
seg_000001.ts
#EXTINF:2.000000,
seg_000002.ts
#EXT-X-DISCONTINUITY
#EXTINF:2.000000,
#EXT-X-PROGRAM-DATE-TIME:2027-01-15T08:00:10.000Z
seg_000003.ts
#EXTINF:1.500000,
#EXT-X-PROGRAM-DATE-TIME:2027-01-15T08:00:12.000+00:00
seg_000004.ts
"""
T = parse_pdt("2027-01-15T08:00:00+00:00")


def test_segments_get_wall_clock_from_dates_or_the_previous_segment() -> None:
    tl = parse_playlist(PLAYLIST)
    assert [s.start - T for s in tl.segments] == [0, 2, 4, 10, 12]
    assert [s.run for s in tl.segments] == [0, 0, 0, 1, 1]
    assert tl.end == T + 13.5
    assert tl.target_duration == 2
    assert not tl.ended
    assert parse_playlist(PLAYLIST + "#EXT-X-ENDLIST\n").ended


def test_a_discontinuity_starts_a_run_and_the_hole_is_a_gap() -> None:
    tl = parse_playlist(PLAYLIST)
    assert [len(r) for r in tl.runs()] == [3, 2]
    assert tl.gaps() == [(T + 6, T + 10)]


def test_a_jump_in_the_dates_is_a_gap_even_without_a_discontinuity() -> None:
    tl = parse_playlist(PLAYLIST.replace("#EXT-X-DISCONTINUITY\n", ""))
    assert tl.gaps() == [(T + 6, T + 10)]


def test_span_inside_one_run_gets_segments_and_offsets() -> None:
    [span] = parse_playlist(PLAYLIST).locate(T + 2.5, T + 5)
    assert [s.uri for s in span.segments] == ["seg_000001.ts", "seg_000002.ts"]
    assert (span.start_offset, span.end_offset, span.duration) == (0.5, 3.0, 2.5)


def test_span_partly_in_a_gap_is_clamped() -> None:
    [span] = parse_playlist(PLAYLIST).locate(T + 5, T + 9)
    assert (span.start_at - T, span.end_at - T) == (5, 6)
    [span] = parse_playlist(PLAYLIST).locate(T - 30, T + 1)
    assert (span.start_at - T, span.end_at - T) == (0, 1)


def test_span_across_a_gap_has_one_piece_per_run() -> None:
    spans = parse_playlist(PLAYLIST).locate(T + 5, T + 11)
    assert [(s.start_at - T, s.end_at - T) for s in spans] == [(5, 6), (10, 11)]
    assert [s.segments[0].uri for s in spans] == ["seg_000002.ts", "seg_000003.ts"]


@pytest.mark.parametrize(("start", "end"), [(6.5, 9.5), (20, 30), (-10, -1)])
def test_span_with_no_recording_is_not_recorded(start: float, end: float) -> None:
    with pytest.raises(NotRecorded, match="no recording between"):
        parse_playlist(PLAYLIST).locate(T + start, T + end)


def test_empty_span_is_refused() -> None:
    with pytest.raises(ValueError, match="empty span"):
        parse_playlist(PLAYLIST).locate(T + 3, T + 3)


def test_a_run_without_a_date_cannot_be_placed() -> None:
    undated = "#EXTM3U\n#EXTINF:2.0,\nseg_000000.ts\n"
    with pytest.raises(ValueError, match="without a program date"):
        parse_playlist(undated)


def test_dates_need_a_time_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        parse_pdt("2027-01-15T08:00:00")


def test_ts_scan_reads_first_frame_time_and_b_frame_depth(recordings: dict[str, Path]) -> None:
    for preset, depth in (("ultrafast", 0), ("veryfast", 2)):
        playlist = recordings[preset]
        tl = load_playlist(playlist)
        zero, first = (scan_ts(playlist.parent / s.uri) for s in tl.segments[:2])
        assert first.frame_ticks == 3600  # 25 fps at 90 kHz
        assert first.reorder_frames == depth
        assert first.audio_pts is not None
        assert first.start == min(first.video_pts, first.audio_pts)
        # Segment 1 starts 2 s of frames after segment 0, as its date says.
        assert first.video_pts - zero.video_pts == 2 * 90_000


def test_coverage_says_what_the_recording_holds_and_what_its_end_misses() -> None:
    tl = parse_playlist(PLAYLIST)  # recorded T..T+6 and T+10..T+13.5, still live
    whole = tl.coverage(T + 1, T + 5)
    assert whole.complete and whole.missing_end == 0 and whole.missing == 0
    assert whole.recorded == 4 and not whole.ended
    short = tl.coverage(T + 11, T + 16)  # past the end of the recording so far
    assert not short.complete
    assert short.missing_end == pytest.approx(2.5) and short.recorded == pytest.approx(2.5)
    across = tl.coverage(T + 4, T + 12)  # crosses the gap, ends inside the second run
    assert across.complete and across.missing == pytest.approx(4)
    after = tl.coverage(T + 20, T + 22)  # wholly after: all of it missing at the end
    assert after.missing_end == 2 and after.recorded == 0
    nothing = parse_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:2\n").coverage(T, T + 3)
    assert nothing.covered_end is None and nothing.missing_end == 3
    assert parse_playlist(PLAYLIST + "#EXT-X-ENDLIST\n").coverage(T + 11, T + 16).ended
    # locate still clamps to what exists; coverage is how a caller learns it did
    [_, last] = tl.locate(T + 4, T + 16)
    assert last.end_at == T + 13.5
