"""Reading decoded samples back with the bundled ffmpeg, to check what a stored file sounds like."""

from __future__ import annotations

import math
import subprocess
from array import array

from recordings.transcode import ffmpeg_exe

RATE = 8000


def channels_of(audio: bytes, channels: int = 2) -> list[array[int]]:
    """Decode compressed audio to 8 kHz 16-bit samples, one array per channel."""
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ac", str(channels),
                          "-ar", str(RATE), "pipe:1"], input=audio, capture_output=True, check=True).stdout
    samples = array("h", raw)
    return [samples[c::channels] for c in range(channels)]


def rms(samples: array[int], start_ms: int = 0, end_ms: int | None = None) -> float:
    part = samples[start_ms * RATE // 1000:None if end_ms is None else end_ms * RATE // 1000]
    return math.sqrt(sum(s * s for s in part) / len(part)) if part else 0.0
