"""Compression through the real bundled ffmpeg: channels kept, legs merged, secure spans silenced, bad input named."""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path

import pytest

from recordings.errors import EmptyAudio, SourceMissing, UnreadableAudio, VerificationFailed
from recordings.states import AudioFormat
from recordings.transcode import compress, decode_check, encode_args, normalise_spans
from tests.recordings.audio_probe import channels_of, rms
from tests.recordings.conftest import make_wav


async def test_a_two_channel_call_stays_two_channels_at_speech_bitrate_per_channel(tmp_path: Path):
    wav = make_wav(tmp_path / "in.wav", seconds=6.0, channels=2, silent=[1])
    compressed = await compress([wav], AudioFormat.OPUS, 16)
    audio = compressed.audio
    assert audio[:4] == b"OggS" and abs(compressed.duration_ms - 6000) <= 60
    assert compressed.channels == 2 and compressed.sha256 == hashlib.sha256(audio).hexdigest()
    assert len(audio) < wav.stat().st_size / 5 and len(audio) * 8 / 6.0 <= 32_000 * 1.2
    decoded = await decode_check(audio)
    assert decoded.channels == 2 and abs(decoded.duration_ms - 6000) <= 60
    left, right = channels_of(audio)
    assert rms(left, 500, 5500) > 500 and rms(right, 500, 5500) < 50  # the customer and the agent apart


async def test_mixmonitor_r_and_t_legs_are_merged_into_one_stereo_file_left_first(tmp_path: Path):
    caller = make_wav(tmp_path / "r.wav", seconds=3.0, channels=1, freqs=[300])
    agent = make_wav(tmp_path / "t.wav", seconds=3.0, channels=1, silent=[0])
    compressed = await compress([caller, agent], AudioFormat.OPUS, 16)
    assert compressed.channels == 2 and (await decode_check(compressed.audio)).channels == 2
    left, right = channels_of(compressed.audio)
    assert rms(left, 300, 2700) > 500 and rms(right, 300, 2700) < 50


async def test_secure_entry_spans_are_silent_and_the_rest_is_not(tmp_path: Path):
    wav = make_wav(tmp_path / "in.wav", seconds=5.0, channels=2)
    compressed = await compress([wav], AudioFormat.OPUS, 24, [(1000, 2500), (3500, 4000)])
    left, right = channels_of(compressed.audio)
    for channel in (left, right):
        assert rms(channel, 1100, 2400) < 30 and rms(channel, 3600, 3900) < 30  # PIN and card entry
        assert rms(channel, 100, 900) > 500 and rms(channel, 2700, 3300) > 500 and rms(channel, 4200, 4900) > 500


async def test_mp3_by_configuration(tmp_path: Path):
    wav = make_wav(tmp_path / "in.wav", seconds=2.0, channels=1, freqs=[500])
    compressed = await compress([wav], AudioFormat.MP3, 32)
    assert compressed.audio[:3] == b"ID3" or compressed.audio[0] == 0xFF
    decoded = await decode_check(compressed.audio)
    # piped MP3 has no LAME tag to trim the encoder padding: up to a few 72 ms frames longer
    assert decoded.channels == compressed.channels == 1 and 0 <= decoded.duration_ms - 2000 <= 250
    assert "libmp3lame" in encode_args([wav], "pipe:1", AudioFormat.MP3, 32)


async def test_an_empty_file_is_empty_audio(tmp_path: Path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(EmptyAudio, match="0 bytes"):
        await compress([tmp_path / "empty.wav"], AudioFormat.OPUS, 24)


async def test_a_wav_with_a_header_and_no_samples_is_empty_audio(tmp_path: Path):
    with wave.open(str(tmp_path / "hollow.wav"), "wb") as hollow:
        hollow.setnchannels(2)
        hollow.setsampwidth(2)
        hollow.setframerate(8000)
    with pytest.raises(EmptyAudio, match="hollow.wav holds no audio"):
        await compress([tmp_path / "hollow.wav"], AudioFormat.OPUS, 24)


async def test_a_file_that_is_not_audio_is_named_as_corrupt_or_unknown(tmp_path: Path):
    (tmp_path / "junk.wav").write_bytes(b"this is not a recording at all" * 100)
    with pytest.raises(UnreadableAudio, match="corrupt or unknown audio format: junk.wav: .*Invalid data"):
        await compress([tmp_path / "junk.wav"], AudioFormat.OPUS, 24)


async def test_a_missing_original_is_reported_missing(tmp_path: Path):
    with pytest.raises(SourceMissing):
        await compress([tmp_path / "gone.wav"], AudioFormat.OPUS, 24)


async def test_a_stored_copy_cut_short_does_not_pass_as_the_whole_recording(tmp_path: Path):
    wav = make_wav(tmp_path / "in.wav", seconds=4.0, channels=2)
    audio = (await compress([wav], AudioFormat.OPUS, 24)).audio
    half = await decode_check(audio[:len(audio) // 2])
    assert half.duration_ms < 3000
    with pytest.raises(VerificationFailed, match="does not decode"):
        await decode_check(b"OggS" + b"\x00" * 400)


def test_spans_are_sorted_merged_and_checked():
    assert normalise_spans([[3000, 4000], [100, 900], [800, 1200]]) == [(100, 1200), (3000, 4000)]
    with pytest.raises(ValueError, match="start_ms < end_ms"):
        normalise_spans([[500, 500]])
    with pytest.raises(ValueError, match="expected"):
        normalise_spans([[1, 2, 3]])
