"""WebVTT captions: escaping user text, timing, and the question/reply layout."""

from __future__ import annotations

from clips.captions import Cue, escape_cue_text, question_cues, timestamp, webvtt
from tests.clips.media import parse_vtt


def test_markup_and_arrows_in_user_text_are_escaped() -> None:
    assert escape_cue_text("a <b>bold</b> & x --> y") == \
        "a &lt;b&gt;bold&lt;/b&gt; &amp; x --&gt; y"


def test_blank_lines_cannot_end_a_cue_early() -> None:
    text = "first\r\n\r\n\n00:00:01.000 --> 00:00:02.000\n\nsecond"
    vtt = webvtt([Cue(0, 2, text)])
    cues = parse_vtt(vtt)
    assert len(cues) == 1
    assert cues[0][2] == "first\n00:00:01.000 --&gt; 00:00:02.000\nsecond"


def test_timestamps_are_hours_minutes_seconds_millis() -> None:
    assert timestamp(0) == "00:00:00.000"
    assert timestamp(3725.0456) == "01:02:05.046"
    assert timestamp(-1) == "00:00:00.000"


def test_file_has_header_and_one_block_per_cue() -> None:
    vtt = webvtt([Cue(0, 1.5, "Why was I fined?"), Cue(1.5, 3, "Because…")])
    assert vtt == ("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nWhy was I fined?\n\n"
                   "00:00:01.500 --> 00:00:03.000\nBecause…\n")


def test_empty_and_backwards_cues_are_left_out() -> None:
    assert webvtt([Cue(0, 1, "  \n "), Cue(2, 1, "x")]) == "WEBVTT\n"


def test_question_alone_covers_the_clip_and_a_reply_takes_the_second_half() -> None:
    assert question_cues("Q?", "", 10) == [Cue(0, 10, "Q?")]
    assert question_cues("Q?", "A.", 10) == [Cue(0, 5, "Q?"), Cue(5, 10, "A.")]
