"""recordings/peaks.py: each channel's loudness over a stored (compressed) recording, by real ffmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordings.errors import UnreadableAudio
from recordings.peaks import compute_peaks
from recordings.states import AudioFormat
from recordings.transcode import compress
from tests.recordings.conftest import make_wav


async def test_each_channel_shows_its_own_activity(tmp_path: Path) -> None:
    # one call where both sides sound throughout, one where the customer (right) is silent
    wav = make_wav(tmp_path / "call.wav", seconds=4.0)
    stored = await compress([wav], AudioFormat.OPUS, 16, [])
    quiet = await compress([make_wav(tmp_path / "q.wav", seconds=4.0, silent=(1,))], AudioFormat.OPUS, 16, [])
    loud = await compute_peaks(stored.audio, channels=2, buckets=40)
    half = await compute_peaks(quiet.audio, channels=2, buckets=40)

    assert len(loud.channels) == 2 and all(len(c) == 40 for c in loud.channels)
    assert 95 <= loud.bucket_ms <= 105
    assert min(loud.channels[0][2:-2]) > 0.04 and min(loud.channels[1][2:-2]) > 0.04
    assert max(half.channels[1]) < 0.1 * max(half.channels[0])


async def test_mono_and_tiny_files(tmp_path: Path) -> None:
    mono = await compress([make_wav(tmp_path / "m.wav", seconds=0.5, channels=1)], AudioFormat.MP3, 16, [])
    peaks = await compute_peaks(mono.audio, channels=1, buckets=400)
    assert len(peaks.channels) == 1 and 1 <= len(peaks.channels[0]) <= 400


async def test_bytes_that_are_not_audio_are_refused() -> None:
    with pytest.raises(UnreadableAudio):
        await compute_peaks(b"not audio at all" * 100, channels=2)
    with pytest.raises(ValueError):
        await compute_peaks(b"", channels=3)
