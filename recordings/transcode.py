"""Compressing recordings with the ffmpeg binary pydub is wired to (recordings.audio): one ffmpeg run
per recording does decoding, merging the legs, silencing the secure spans and encoding, so the audio
never passes through Python; a second run decodes the stored copy to prove it plays."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recordings.audio import audio_segment
from recordings.errors import EmptyAudio, SourceMissing, StorageFull, UnreadableAudio, VerificationFailed
from recordings.states import AudioFormat

Span = tuple[int, int]  # [start_ms, end_ms)

_STREAM = re.compile(r"Stream #0:\d+.*?: Audio: [^,]+, (\d+) Hz, ([^,]+)")
_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2}


@dataclass(frozen=True)
class Encoded:
    path: Path
    duration_ms: int


@dataclass(frozen=True)
class Decoded:
    channels: int
    sample_rate: int
    duration_ms: int


def ffmpeg_exe() -> str:
    return audio_segment().converter


def normalise_spans(spans: Sequence[Sequence[int]]) -> list[Span]:
    """Spans sorted, overlaps merged, each checked (0 <= start < end)."""
    cleaned: list[Span] = []
    for span in spans:
        if len(span) != 2 or not all(isinstance(v, int) for v in span):
            raise ValueError(f"secure span {span!r}: expected [start_ms, end_ms]")
        start, end = span
        if not 0 <= start < end:
            raise ValueError(f"secure span {span!r}: expected 0 <= start_ms < end_ms")
        cleaned.append((start, end))
    merged: list[Span] = []
    for start, end in sorted(cleaned):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def encode_args(inputs: Sequence[Path], out: Path, fmt: AudioFormat, bitrate_kbps: int,
                silence: Sequence[Span] = ()) -> list[str]:
    """The ffmpeg command line: two mono legs (MixMonitor r() and t()) are joined into one stereo
    stream, left the first; the spans are silenced; speech bitrate, channels kept."""
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y"]
    for path in inputs:
        args += ["-i", str(path)]
    filters = []
    if len(inputs) == 2:
        filters.append("[0:a][1:a]join=inputs=2:channel_layout=stereo:map=0.0-FL|1.0-FR")
    elif len(inputs) != 1:
        raise ValueError(f"expected one recording or two legs, got {len(inputs)} files")
    if silence:
        between = "+".join(f"between(t,{start / 1000:.3f},{end / 1000:.3f})" for start, end in silence)
        filters.append(f"volume=volume=0:enable='{between}'")
    if filters:
        source = "" if len(inputs) == 2 else "[0:a]"
        args += ["-filter_complex", source + ",".join(filters) + "[out]", "-map", "[out]"]
    else:
        args += ["-map", "0:a:0"]
    args += ["-c:a", fmt.codec, "-b:a", f"{bitrate_kbps}k"]
    if fmt is AudioFormat.OPUS:
        args += ["-application", "voip", "-f", "ogg"]
    else:
        args += ["-f", "mp3"]
    args += ["-map_metadata", "-1", "-nostats", "-progress", "pipe:1", str(out)]
    return args


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


async def probe_channels(path: Path) -> int:
    """How many channels the file has, from ffmpeg's description of its first audio stream."""
    process = await asyncio.create_subprocess_exec(
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, stderr = await process.communicate()  # exits 1 ("no output file") once it has described the input
    errors = stderr.decode(errors="replace")
    stream = _STREAM.search(errors)
    if stream is None:
        raise UnreadableAudio(f"{path.name}: {_last_error(errors)}")
    return _channels(stream.group(2)) or 1


async def compress(inputs: Sequence[Path], out: Path, fmt: AudioFormat, bitrate_kbps: int,
                   silence: Sequence[Span] = ()) -> Encoded:
    """Encode the original(s) into `out` at `bitrate_kbps` per channel (Opus folds two channels
    into one below about 20 kbit/s, so a stereo call gets twice the bitrate to keep both sides
    apart); raises EmptyAudio, UnreadableAudio, SourceMissing or StorageFull."""
    for path in inputs:
        if not path.is_file():
            raise SourceMissing(str(path))
        if path.stat().st_size == 0:
            raise EmptyAudio(f"{path.name} is 0 bytes")
    channels = 2 if len(inputs) == 2 else await probe_channels(inputs[0])
    process = await asyncio.create_subprocess_exec(
        *encode_args(inputs, out, fmt, bitrate_kbps * min(channels, 2), silence),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await process.communicate()
    errors = stderr.decode(errors="replace")
    if process.returncode != 0:
        _remove(out)
        if "No space left on device" in errors:
            raise StorageFull(f"writing {out.name}")
        raise UnreadableAudio(f"{', '.join(p.name for p in inputs)}: {_last_error(errors)}")
    out_us = [int(value) for value in re.findall(rb"^out_time_us=(\d+)", stdout, re.M)]
    duration_ms = (out_us[-1] // 1000) if out_us else 0
    if duration_ms <= 0:
        _remove(out)
        raise EmptyAudio(f"{', '.join(p.name for p in inputs)} holds no audio")
    return Encoded(out, duration_ms)


async def decode_check(audio: bytes) -> Decoded:
    """Decode compressed audio completely (fed from memory: what was read back from the store) and
    report what it holds; VerificationFailed if ffmpeg cannot."""
    process = await asyncio.create_subprocess_exec(
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-xerror", "-i", "pipe:0", "-map", "0:a:0",
        "-f", "null", "-nostats", "-progress", "pipe:1", "-",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await process.communicate(audio)
    errors = stderr.decode(errors="replace")
    if process.returncode != 0:
        raise VerificationFailed(f"does not decode: {_last_error(errors)}")
    stream = _STREAM.search(errors)
    out_us = [int(value) for value in re.findall(rb"^out_time_us=(\d+)", stdout, re.M)]
    if stream is None or not out_us:
        raise VerificationFailed("decoder reported no audio stream")
    return Decoded(_channels(stream.group(2)), int(stream.group(1)), out_us[-1] // 1000)


def _channels(layout: str) -> int:
    """ffmpeg's channel layout name ("mono", "stereo", "3 channels", "5.1") as a count."""
    layout = layout.strip()
    if layout in _LAYOUT_CHANNELS:
        return _LAYOUT_CHANNELS[layout]
    counted = re.match(r"(\d+) channels", layout)
    if counted:
        return int(counted.group(1))
    surround = re.match(r"(\d+)\.(\d+)", layout)
    return int(surround.group(1)) + int(surround.group(2)) if surround else 0
