"""The ffmpeg command builders, pinned down by equality (no process is started here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clips import commands
from live import recorder_commands
from live.recorder_commands import Encoder, Source

FF = "/usr/bin/ffmpeg"
BASE = [FF, "-hide_banner", "-nostdin", "-loglevel", "warning", "-nostats",
        "-progress", "pipe:1", "-y"]
HLS_TAIL = [
    "-f", "hls", "-hls_time", "2", "-hls_list_size", "0", "-hls_playlist_type", "event",
    "-hls_segment_type", "mpegts", "-hls_flags",
    "program_date_time+append_list+omit_endlist+independent_segments+temp_file",
    "-hls_segment_filename", "/m/s/1/hls/seg_%06d.ts", "/m/s/1/hls/index.m3u8",
]
OUT = Path("/m/s/1/hls")


def test_copy_recording_copies_both_streams_into_event_hls_with_dates() -> None:
    args = recorder_commands.record_args(
        FF, ["-listen", "1", "-i", "rtmp://0.0.0.0:1935/live/k"], OUT,
        copy_video=True, copy_audio=True)
    assert args == [*BASE, "-listen", "1", "-i", "rtmp://0.0.0.0:1935/live/k",
                    "-map", "0:v:0", "-map", "0:a:0?", "-c:v", "copy", "-c:a", "copy",
                    *HLS_TAIL]


def test_encoded_recording_forces_a_keyframe_at_every_segment_start() -> None:
    args = recorder_commands.record_args(FF, ["-i", "in.mkv"], OUT, copy_video=False,
                                copy_audio=False, encoder=Encoder(maxrate_kbps=3000))
    assert args == [*BASE, "-i", "in.mkv", "-map", "0:v:0", "-map", "0:a:0?",
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
                    "-pix_fmt", "yuv420p", "-maxrate", "3000k", "-bufsize", "6000k",
                    "-force_key_frames", "expr:gte(t,n_forced*2)", "-sc_threshold", "0",
                    "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2", *HLS_TAIL]


def test_segment_length_reaches_keyframes_and_hls_time() -> None:
    args = recorder_commands.record_args(FF, ["-i", "x"], OUT, copy_video=False, copy_audio=True,
                                segment_seconds=4)
    assert "expr:gte(t,n_forced*4)" in args
    assert args[args.index("-hls_time") + 1] == "4"


def test_test_picture_has_pattern_tone_and_clock_from_two_paced_inputs() -> None:
    inputs = recorder_commands.test_source_args(size="320x180", rate=30,
                                       fontfile="/fonts/Dejavu Sans:Mono.ttf")
    assert inputs == [
        "-re", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
        "-re", "-f", "lavfi", "-i", "sine=frequency=440:beep_factor=2:sample_rate=48000",
        "-vf", "drawtext=fontfile=/fonts/Dejavu Sans\\\\:Mono.ttf:text='%{localtime}'"
               ":fontsize=h/12:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=8"
               ":x=(w-tw)/2:y=h-th-h/12",
    ]
    args = recorder_commands.record_args(FF, inputs, OUT, copy_video=False, copy_audio=False,
                                two_inputs=True)
    assert args[args.index("-vf") + 2:args.index("-vf") + 6] == [
        "-map", "0:v:0", "-map", "1:a:0"]


def test_test_picture_without_drawtext_has_no_filter() -> None:
    assert "-vf" not in recorder_commands.test_source_args(clock=False)


@pytest.mark.parametrize(("text", "kind", "input_args"), [
    ("", "test", None),
    ("listen:rtmp://0.0.0.0:1935/live/secret", "listen",
     ["-listen", "1", "-i", "rtmp://0.0.0.0:1935/live/secret"]),
    ("listen:srt://0.0.0.0:9000", "listen", ["-i", "srt://0.0.0.0:9000?mode=listener"]),
    ("srt://cam.example:9000?mode=caller", "pull", ["-i", "srt://cam.example:9000?mode=caller"]),
    ("https://cdn.example/live.m3u8", "pull", ["-i", "https://cdn.example/live.m3u8"]),
    ("/srv/demo.mp4", "file", ["-re", "-i", "/srv/demo.mp4"]),
    ("file:-rf.ts", "file", ["-re", "-i", "-rf.ts"]),
])
def test_sources_parse_into_input_arguments(text: str, kind: str,
                                            input_args: list[str] | None) -> None:
    source = Source.parse(text)
    assert source.kind == kind
    if input_args is None:
        with pytest.raises(ValueError):
            recorder_commands.source_input_args(source)
    else:
        assert recorder_commands.source_input_args(source) == input_args


def test_only_rtmp_and_srt_can_listen() -> None:
    with pytest.raises(ValueError, match="listen"):
        Source.parse("listen:http://0.0.0.0:8080/")


def test_source_label_hides_credentials_and_stream_key() -> None:
    assert Source.parse("listen:rtmp://0.0.0.0:1935/live/s3cret").label == \
        "listen rtmp://0.0.0.0:1935/live/…"
    assert Source.parse("rtmp://user:pw@cam.example/app/key?token=x").label == \
        "pull rtmp://cam.example/app/…"
    assert Source.parse("").label == "test picture"
    assert Source.parse("/srv/x/demo.mp4").label == "file demo.mp4"


SEGS = [Path("/r/seg_000003.ts"), Path("/r/seg_000004.ts")]


def test_copy_cut_joins_segments_and_copies_for_a_duration() -> None:
    assert commands.cut_copy_args(FF, SEGS, Path("/o/.c.mp4.part"), duration=3.5) == [
        *BASE, "-i", "concat:/r/seg_000003.ts|/r/seg_000004.ts", "-map", "0:v:0",
        "-map", "0:a:0", "-c", "copy", "-t", "3.500000", "-movflags", "+faststart",
        "-f", "mp4", "/o/.c.mp4.part"]


def test_concat_refuses_a_path_with_a_bar() -> None:
    with pytest.raises(ValueError, match="'\\|'"):
        commands.concat_url([Path("/r/a|b.ts")])


def test_piece_encode_keeps_recording_timestamps_and_continues_decode_order() -> None:
    args = commands.encode_piece_args(FF, SEGS[:1], Path("/w/head.ts"), start_pts=133200,
                                      end_pts=None, encoder=Encoder(), decode_lead=0.08)
    assert args == [
        *BASE, "-copyts", "-i", "concat:/r/seg_000003.ts", "-map", "0:v:0",
        "-vf", "trim=start_pts=133200", "-fps_mode", "passthrough",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
        "-bf", "0", "-enc_time_base", "1:90000",
        "-bsf:v", "setts=dts=PTS-round(0.080000/TB)", "-an",
        "-mpegts_copyts", "1", "-f", "mpegts", "/w/head.ts"]
    tail = commands.encode_piece_args(FF, SEGS[1:], Path("/w/tail.ts"), start_pts=10,
                                      end_pts=20, encoder=Encoder(), decode_lead=0)
    assert "trim=start_pts=10:end_pts=20" in tail
    assert "-bsf:v" not in tail  # no B-frames in the recording: DTS = PTS already


def test_join_copies_video_pieces_and_seeks_audio() -> None:
    args = commands.join_pieces_args(FF, [Path("/w/head.ts"), SEGS[1]], SEGS,
                                     Path("/o/c.part"), audio_seek=0.52, duration=3.48)
    assert args == [
        *BASE, "-i", "concat:/w/head.ts|/r/seg_000004.ts",
        "-ss", "0.520000", "-i", "concat:/r/seg_000003.ts|/r/seg_000004.ts",
        "-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-t", "3.480000",
        "-movflags", "+faststart", "-f", "mp4", "/o/c.part"]
    silent = commands.join_pieces_args(FF, [Path("/w/only.ts")], None, Path("/o/c.part"),
                                       audio_seek=0, duration=1)
    assert "1:a:0" not in silent and "-ss" not in silent


def test_full_reencode_trims_both_streams_on_recording_time() -> None:
    args = commands.cut_accurate_args(FF, SEGS, Path("/o/c.part"), start_pts=180000,
                                      end_pts=450000, encoder=Encoder(preset="fast"))
    assert args == [
        *BASE, "-copyts", "-i", "concat:/r/seg_000003.ts|/r/seg_000004.ts",
        "-map", "0:v:0", "-vf", "trim=start_pts=180000:end_pts=450000,setpts=PTS-STARTPTS",
        "-c:v", "libx264", "-preset", "fast", "-crf", "23", "-pix_fmt", "yuv420p",
        "-map", "0:a:0", "-af", "atrim=start=2.000000:end=5.000000,asetpts=PTS-STARTPTS",
        "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
        "-movflags", "+faststart", "-f", "mp4", "/o/c.part"]


def test_poster_is_one_jpeg_frame_found_by_decoding() -> None:
    assert commands.poster_args(FF, SEGS[0], Path("/o/p.part"), at=1.0, width=640) == [
        FF, "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress",
        "pipe:1", "-y", "-threads", "1", "-i", "/r/seg_000003.ts", "-map", "0:v:0",
        "-ss", "1.000000",
        "-frames:v", "1", "-vf", "scale=640:-2", "-c:v", "mjpeg", "-q:v", "3",
        "-f", "image2", "-update", "1", "/o/p.part"]
    assert "-ss" not in commands.poster_args(FF, SEGS[0], Path("/o/p.part"), at=0)


def test_ffconcat_listing_quotes_paths() -> None:
    assert commands.ffconcat_listing([Path("/w/piece0.mp4"), Path("/w/it's.mp4")]) == (
        "ffconcat version 1.0\nfile '/w/piece0.mp4'\nfile '/w/it'\\''s.mp4'\n")
    assert commands.concat_clips_args(FF, Path("/w/l.ffconcat"), Path("/o/c.part")) == [
        *BASE, "-f", "concat", "-safe", "0", "-i", "/w/l.ffconcat", "-c", "copy",
        "-movflags", "+faststart", "-f", "mp4", "/o/c.part"]


def test_filter_value_escapes_for_the_option_then_the_graph_parser() -> None:
    assert recorder_commands.filter_value("a:b'c\\d,e") == "a\\\\:b\\\\\\'c\\\\\\\\d\\,e"


def test_the_test_picture_clock_runs_in_the_desk_time_zone() -> None:
    """``%{localtime}`` is ffmpeg's local time: the recorder sets ``TZ`` to the desk's zone
    as a POSIX rule (read from the zone's TZif file), daylight saving included."""
    assert recorder_commands.posix_tz("Asia/Shanghai") == "CST-8"
    assert recorder_commands.posix_tz("America/New_York") == "EST5EDT,M3.2.0,M11.1.0"
    assert recorder_commands.clock_env("Asia/Tokyo") == {"TZ": "JST-9"}
    assert recorder_commands.posix_tz("Not/AZone") == "Not/AZone"
