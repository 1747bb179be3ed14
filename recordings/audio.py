"""pydub, wired to the ffmpeg binary that the imageio-ffmpeg wheel ships: a fresh machine needs only
pip, never a system ffmpeg. Every module that does audio work gets AudioSegment from here."""

from __future__ import annotations

import warnings
from functools import cache
from typing import BinaryIO, Protocol


class Segment(Protocol):
    """The part of a pydub AudioSegment instance this project uses (pydub ships no types)."""

    def export(self, out_f: str, format: str, parameters: list[str]) -> BinaryIO: ...


class SegmentClass(Protocol):
    """The part of the pydub AudioSegment class this project uses."""

    converter: str

    def from_wav(self, file: BinaryIO | str) -> Segment: ...


@cache
def audio_segment() -> SegmentClass:
    """pydub's AudioSegment with its converter set to imageio-ffmpeg's binary.

    pydub looks for ffmpeg on PATH at import and warns when there is none; we never use PATH, so
    that one warning is silenced here (and pydub's audioop/escape warnings, see pyproject)."""
    import imageio_ffmpeg

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Couldn't find ffmpeg", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="'audioop' is deprecated", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="invalid escape sequence", category=SyntaxWarning)
        from pydub import AudioSegment
    segment_class: SegmentClass = AudioSegment
    segment_class.converter = imageio_ffmpeg.get_ffmpeg_exe()
    return segment_class
