"""`hotline prompts build`: real espeak-ng and ffmpeg, 8 kHz mono WAV out."""

from __future__ import annotations

import argparse
import shutil
import wave

import pytest

from hotline.telephony.asterisk import prompts_build
from ivr.speech import LANGUAGES, say_digits, say_money, say_number


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    prompts_build.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng not installed")
async def test_builds_8khz_mono_wav_for_both_languages(settings, tmp_path, capsys) -> None:
    args = parse("--out", str(tmp_path), "--only", "goodbye", "--only", "queue_position", "--no-vocabulary")
    assert await prompts_build.run(args, settings) == 0
    built = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.wav"))
    assert "hotline/en-US/goodbye.wav" in built and "hotline/zh-CN/goodbye.wav" in built
    assert "hotline/en-US/queue_position.2.wav" in built  # the words after {position}
    for path in tmp_path.rglob("*.wav"):
        with wave.open(str(path)) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
            assert wav.getnframes() > 800  # at least 0.1 s of speech
    # a second run renders nothing new
    assert await prompts_build.run(args, settings) == 0
    assert "0 to render" in capsys.readouterr().out


async def test_missing_espeak_is_a_clear_message(settings, tmp_path, capsys) -> None:
    args = parse("--out", str(tmp_path), "--espeak", str(tmp_path / "no-espeak-here"))
    assert await prompts_build.run(args, settings) == 2
    assert "espeak-ng was not found" in capsys.readouterr().out
    assert not list(tmp_path.rglob("*.wav"))


def test_vocabulary_covers_every_number_file_the_ivr_can_ask_for(settings) -> None:
    names = {f.name for f in prompts_build.sound_files(settings, LANGUAGES, None, vocabulary=True)}
    for language in LANGUAGES:
        asked = set()
        for n in [*range(0, 120), 1005, 10005, 100000, 12345678, 10**8 + 5, 10**9 + 7, 10**12 + 1, -42]:
            asked.update(say_number(n, language).audio)
        for fen in (0, 5, 50, 123456, 100000005, -99):
            asked.update(say_money(fen, language).audio)
        asked.update(say_digits("0123456789", language).audio)
        assert asked <= names, asked - names
    assert "hotline/zh-CN/welcome" in names and "hotline/en-US/main_menu" in names
