"""Compressing recordings with the ffmpeg binary pydub is wired to (recordings.audio): one ffmpeg run
per recording does decoding, merging the legs, silencing the secure spans and encoding, so the
samples never pass through Python; a second ffmpeg decodes the result as it is made."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recordings.audio import audio_segment
from recordings.errors import EmptyAudio, SourceMissing, UnreadableAudio, VerificationFailed
from recordings.states import AudioFormat

Span = tuple[int, int]  # [start_ms, end_ms)

_STREAM = re.compile(r"Stream #0:\d+.*?: Audio: [^,]+, (\d+) Hz, ([^,]+)")
_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2}


@dataclass(frozen=True)
class Compressed:
    """The compressed audio, its SHA-256, and what a complete decode of exactly these bytes found."""

    audio: bytes
    sha256: str
    channels: int
    sample_rate: int
    duration_ms: int


@dataclass(frozen=True)
class Decoded:
    channels: int
    sample_rate: int
    duration_ms: int


@dataclass(frozen=True)
class Probe:
    channels: int
    duration_ms: int | None  # None when the container does not say


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


def encode_args(inputs: Sequence[Path], out: str, fmt: AudioFormat, bitrate_kbps: int,
                silence: Sequence[Span] = ()) -> list[str]:
    """The ffmpeg command line: two mono legs (MixMonitor r() and t()) are joined into one stereo
    stream, left the first; the spans are silenced; the bitrate is the stream's total."""
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
    return [*args, "-map_metadata", "-1", "-nostats", out]


def _decode_args() -> list[str]:
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-xerror", "-i", "pipe:0", "-map", "0:a:0",
            "-f", "null", "-nostats", "-progress", "pipe:1", "-"]


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")


async def probe(path: Path) -> Probe:
    """Channels and duration of the file's first audio stream, as ffmpeg describes its input."""
    process = await asyncio.create_subprocess_exec(
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, stderr = await process.communicate()  # exits 1 ("no output file") once it has described the input
    errors = stderr.decode(errors="replace")
    stream = _STREAM.search(errors)
    if stream is None:
        raise UnreadableAudio(f"{path.name}: {_last_error(errors)}")
    duration = _DURATION.search(errors)
    duration_ms = None
    if duration:
        hours, minutes, seconds = duration.groups()
        duration_ms = round((int(hours) * 3600 + int(minutes) * 60 + float(seconds)) * 1000)
    return Probe(_channels(stream.group(2)) or 1, duration_ms)


def _out_time_ms(progress: bytes) -> int:
    values = re.findall(rb"^out_time_us=(\d+)", progress, re.M)
    return int(values[-1]) // 1000 if values else 0


async def compress(inputs: Sequence[Path], fmt: AudioFormat, bitrate_kbps: int,
                   silence: Sequence[Span] = ()) -> Compressed:
    """Encode the original(s) at `bitrate_kbps` per channel (Opus folds two channels into one below
    about 20 kbit/s, so a stereo call gets twice the bitrate to keep both sides apart).

    The encoder's output is decoded completely as it is produced, by a second ffmpeg on the other
    core, and hashed on the way: the caller then proves that what it stored and read back is these
    very bytes (same SHA-256), so the stored copy is known to decode without a second pass over it.
    Raises EmptyAudio, UnreadableAudio, SourceMissing or VerificationFailed."""
    names = ", ".join(path.name for path in inputs)
    for path in inputs:
        if not path.is_file():
            raise SourceMissing(str(path))
        if path.stat().st_size == 0:
            raise EmptyAudio(f"{path.name} is 0 bytes")
    probes = [await probe(path) for path in inputs]
    if any(p.duration_ms == 0 for p in probes):
        raise EmptyAudio(f"{names} holds no audio")
    channels = 2 if len(inputs) == 2 else min(probes[0].channels, 2)
    encoder = await asyncio.create_subprocess_exec(
        *encode_args(inputs, "pipe:1", fmt, bitrate_kbps * channels, silence),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    decoder = await asyncio.create_subprocess_exec(
        *_decode_args(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    digest = hashlib.sha256()
    parts: list[bytes] = []

    async def pump() -> None:
        assert encoder.stdout is not None and decoder.stdin is not None
        feeding = True
        while chunk := await encoder.stdout.read(1 << 16):
            parts.append(chunk)
            digest.update(chunk)
            if feeding:
                try:
                    decoder.stdin.write(chunk)
                    await decoder.stdin.drain()
                except (BrokenPipeError, ConnectionResetError):
                    feeding = False  # the decoder gave up; its exit status says why
        if feeding:
            decoder.stdin.close()

    async def read_all(stream: asyncio.StreamReader | None) -> bytes:
        assert stream is not None
        return await stream.read()

    try:
        _, encoder_err, progress, decoder_err = await asyncio.gather(
            pump(), read_all(encoder.stderr), read_all(decoder.stdout), read_all(decoder.stderr))
        await encoder.wait()
        await decoder.wait()
    finally:
        for process in (encoder, decoder):
            if process.returncode is None:
                process.kill()
                await process.wait()
    if encoder.returncode != 0:
        raise UnreadableAudio(f"{names}: {_last_error(encoder_err.decode(errors='replace'))}")
    if b"Output file is empty, nothing was encoded" in encoder_err:  # a header and no samples
        raise EmptyAudio(f"{names} holds no audio")
    if decoder.returncode != 0:
        raise VerificationFailed(f"compressed audio does not decode: {_last_error(decoder_err.decode(errors='replace'))}")
    stream = _STREAM.search(decoder_err.decode(errors="replace"))
    duration_ms = _out_time_ms(progress)
    if stream is None or duration_ms <= 0:
        raise EmptyAudio(f"{names} holds no audio")
    known = [p.duration_ms for p in probes if p.duration_ms is not None]
    if len(known) == len(probes):
        tolerance = max(250, max(known) // 100)
        if not min(known) - tolerance <= duration_ms <= max(known) + tolerance:
            raise VerificationFailed(f"compressed audio lasts {duration_ms} ms, the original {max(known)} ms")
    return Compressed(b"".join(parts), digest.hexdigest(), _channels(stream.group(2)), int(stream.group(1)),
                      duration_ms)


async def decode_check(audio: bytes) -> Decoded:
    """Decode compressed audio completely (`hotline recordings verify --decode`); VerificationFailed if ffmpeg cannot."""
    process = await asyncio.create_subprocess_exec(
        *_decode_args(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await process.communicate(audio)
    errors = stderr.decode(errors="replace")
    if process.returncode != 0:
        raise VerificationFailed(f"does not decode: {_last_error(errors)}")
    stream = _STREAM.search(errors)
    if stream is None:
        raise VerificationFailed("decoder reported no audio stream")
    return Decoded(_channels(stream.group(2)), int(stream.group(1)), _out_time_ms(stdout))


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
