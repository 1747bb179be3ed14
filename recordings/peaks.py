"""How loud each channel is over the length of a recording, for the call page's two activity bars
(agent left, customer right). The stored audio is decoded by the same ffmpeg the archive uses, down
to 8 kHz 16-bit PCM, and the peak of each of `buckets` equal slices is kept per channel."""

from __future__ import annotations

import asyncio
import sys
from array import array
from dataclasses import dataclass

from recordings.errors import UnreadableAudio
from recordings.transcode import ffmpeg_exe

RATE = 8000
FULL_SCALE = 32768


@dataclass(frozen=True)
class Peaks:
    channels: list[list[float]]  # per channel, each bucket's peak from 0.0 (silence) to 1.0 (full scale)
    bucket_ms: float


async def compute_peaks(audio: bytes, *, channels: int, buckets: int = 400) -> Peaks:
    """Peaks of `audio` (a whole stored file, Ogg/Opus or MP3) in `buckets` slices per channel."""
    if channels not in (1, 2):
        raise ValueError(f"channels must be 1 or 2, not {channels}")
    proc = await asyncio.create_subprocess_exec(
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", "pipe:0", "-ac", str(channels),
        "-ar", str(RATE), "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    pcm, err = await proc.communicate(audio)
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip().splitlines()
        raise UnreadableAudio(detail[-1] if detail else f"ffmpeg exited with {proc.returncode}")
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    frames = len(samples) // channels
    if frames == 0:
        return Peaks([[] for _ in range(channels)], 0.0)
    buckets = max(1, min(buckets, frames))
    per_bucket = frames / buckets
    result: list[list[float]] = [[] for _ in range(channels)]
    for bucket in range(buckets):
        first, last = int(bucket * per_bucket), max(int((bucket + 1) * per_bucket), int(bucket * per_bucket) + 1)
        for channel in range(channels):
            part = samples[first * channels + channel:last * channels:channels]
            peak = max(max(part), -min(part))  # slices of an array stay in C: no per-sample Python work
            result[channel].append(round(min(peak, FULL_SCALE) / FULL_SCALE, 3))
    return Peaks(result, per_bucket * 1000 / RATE)
