"""The clip cutter's ffmpeg commands, as pure functions that return argument lists.

Nothing here runs anything or touches the disk: each function takes paths, numbers and
settings and returns the exact ``argv`` to hand to ``live.ffmpeg.run_ffmpeg``, so the tests
pin each command down by equality. Lists, never strings: no shell ever parses them, and no
text from users ever reaches them (captions are written to a file by ``clips.captions``).
The common prefix (``base``) and the encoder settings are the recorder's
(``live.recorder_commands``), so the re-encoded ends of a clip match its copied middle.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from live.recorder_commands import Encoder, audio_encode_args, base, video_encode_args

# --------------------------------------------------------------------------------------------
# Cutting


def concat_url(paths: Sequence[Path]) -> str:
    """The ``concat:`` protocol URL joining TS files byte for byte (TS is concatenable)."""
    for p in paths:
        if "|" in str(p):
            raise ValueError(f"a '|' in a segment path cannot go through concat: {p}")
    return "concat:" + "|".join(str(p) for p in paths)


def _seconds(value: float) -> str:
    return f"{value:.6f}"


def cut_copy_args(ffmpeg: str, segments: Sequence[Path], out: Path, *, duration: float,
                  audio: bool = True) -> list[str]:
    """Stream copy from the start of ``segments[0]`` (a keyframe) for ``duration`` seconds
    into an MP4 with the index at the front."""
    return [*base(ffmpeg), "-i", concat_url(segments), "-map", "0:v:0",
            *(["-map", "0:a:0"] if audio else []), "-c", "copy", "-t", _seconds(duration),
            "-movflags", "+faststart", "-f", "mp4", str(out)]


def encode_piece_args(ffmpeg: str, segments: Sequence[Path], out: Path, *, start_pts: int,
                      end_pts: int | None, encoder: Encoder, decode_lead: float) -> list[str]:
    """Re-encode the video frames with ``start_pts <= pts < end_pts`` (90 kHz ticks of the
    recording) into a video-only TS piece that keeps the recording's own timestamps
    (``-copyts``, ``-mpegts_copyts``), so it can be joined byte for byte with copied
    segments.

    Joining needs the decode timestamps to run on across each seam. The recording's decode
    order runs ``decode_lead`` seconds ahead of display (its B-frame depth); the piece is
    encoded without B-frames, so its DTS can simply be set to PTS minus that lead (``setts``,
    in a 90 kHz encoder time base) — exact for any depth and any piece length, which the
    encoder's own DTS is not (x264 cannot know its delay for a piece of one frame)."""
    trim = f"trim=start_pts={start_pts}" + (f":end_pts={end_pts}" if end_pts is not None
                                            else "")
    shift = (["-bsf:v", f"setts=dts=PTS-round({decode_lead:.6f}/TB)"] if decode_lead > 0
             else [])
    return [*base(ffmpeg), "-copyts", "-i", concat_url(segments), "-map", "0:v:0",
            "-vf", trim, "-fps_mode", "passthrough", *video_encode_args(encoder),
            "-bf", "0", "-enc_time_base", "1:90000", *shift, "-an",
            "-mpegts_copyts", "1", "-f", "mpegts", str(out)]


def join_pieces_args(ffmpeg: str, video: Sequence[Path], audio: Sequence[Path] | None,
                     out: Path, *, audio_seek: float, duration: float) -> list[str]:
    """Join the video pieces (re-encoded ends, copied middle) and the audio copied from the
    recording (``audio_seek`` from the start of ``audio[0]``, for ``duration``) into the MP4."""
    args = [*base(ffmpeg), "-i", concat_url(video)]
    if audio:
        args += ["-ss", _seconds(audio_seek), "-i", concat_url(audio),
                 "-map", "0:v:0", "-map", "1:a:0"]
    else:
        args += ["-map", "0:v:0"]
    return [*args, "-c", "copy", "-t", _seconds(duration), "-movflags", "+faststart",
            "-f", "mp4", str(out)]


def cut_accurate_args(ffmpeg: str, segments: Sequence[Path], out: Path, *, start_pts: int,
                      end_pts: int, encoder: Encoder, audio: bool = True) -> list[str]:
    """Re-encode the whole span (frames with ``start_pts <= pts < end_pts``, audio over the
    same times) into an MP4: the simple frame-accurate cut, and the ``reencode`` mode."""
    start, end = start_pts / 90_000, end_pts / 90_000
    args = [*base(ffmpeg), "-copyts", "-i", concat_url(segments), "-map", "0:v:0",
            "-vf", f"trim=start_pts={start_pts}:end_pts={end_pts},setpts=PTS-STARTPTS",
            *video_encode_args(encoder)]
    if audio:
        args += ["-map", "0:a:0",
                 "-af", f"atrim=start={_seconds(start)}:end={_seconds(end)},"
                        "asetpts=PTS-STARTPTS",
                 *audio_encode_args(encoder)]
    return [*args, "-movflags", "+faststart", "-f", "mp4", str(out)]


def concat_clips_args(ffmpeg: str, listing: Path, out: Path) -> list[str]:
    """Join finished MP4 pieces (one per recording run) listed in an ffconcat file."""
    return [*base(ffmpeg), "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
            "-movflags", "+faststart", "-f", "mp4", str(out)]


def ffconcat_listing(paths: Sequence[Path]) -> str:
    """The text of an ffconcat file naming ``paths`` (quoted for the concat demuxer)."""
    lines = ["ffconcat version 1.0"]
    for p in paths:
        lines.append("file '" + str(p).replace("'", "'\\''") + "'")
    return "\n".join(lines) + "\n"


def poster_args(ffmpeg: str, source: Path, out: Path, *, at: float,
                width: int | None = None) -> list[str]:
    """One JPEG frame of ``source`` (a recording segment), ``at`` seconds in, scaled to
    ``width`` if given. The seek is on the output side: frames are decoded from the start
    and dropped up to ``at`` (seeking inside a 2-second TS file can land past its only
    keyframe and yield nothing)."""
    scale = ["-vf", f"scale={width}:-2"] if width else []
    # Errors only: swscale warns about the full-range JPEG pixel format on every poster.
    # One decoding thread: frame threads only add start-up work for a frame or two.
    return [*base(ffmpeg, "error"), "-threads", "1", "-i", str(source), "-map", "0:v:0",
            *(["-ss", _seconds(at)] if at > 0 else []), "-frames:v", "1", *scale,
            "-c:v", "mjpeg", "-q:v", "3", "-f", "image2", "-update", "1", str(out)]
