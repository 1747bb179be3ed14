"""Audio work runs on the ffmpeg of the imageio-ffmpeg wheel, with no ffmpeg on PATH."""

import os
from pathlib import Path

import imageio_ffmpeg

from recordings.audio import audio_segment


def test_pydub_converts_with_the_bundled_ffmpeg_and_no_system_ffmpeg(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing called ffmpeg can be found on PATH
    AudioSegment = audio_segment()
    assert AudioSegment.converter == imageio_ffmpeg.get_ffmpeg_exe() and os.path.isabs(AudioSegment.converter)
    tone = AudioSegment.silent(duration=500, frame_rate=16000)
    out = tmp_path / "tone.wav"
    tone.export(out, format="wav", parameters=["-ar", "8000", "-ac", "1"]).close()
    with out.open("rb") as wav:  # pydub's from_wav(path) never closes the file it opens
        back = AudioSegment.from_wav(wav)
    assert (back.frame_rate, back.channels) == (8000, 1)
    assert 450 <= len(back) <= 550
