"""`hotline prompts build`: every prompt of config/ivr/prompts.yaml as Asterisk sound files.

Text-to-speech with espeak-ng (Mandarin voice `cmn` for zh-CN, `en-us` for en-US), then ffmpeg
(imageio-ffmpeg's binary, driven by pydub) resamples to what Asterisk plays natively: 8 kHz, mono,
16-bit WAV. Files land at `<out>/<audio name>.wav`, e.g. `var/sounds/hotline/en-US/welcome.wav`;
copy `<out>/hotline` into Asterisk's sounds directory (see docs/asterisk.md).

Besides each prompt's own pieces this renders the number vocabulary of ivr/speech.py
(`hotline/<lang>/num/<token>`) and the letters (`hotline/<lang>/letters/<a-z>`).
The synthesis and conversion run in worker threads, never on the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from hotline.settings import Settings
from recordings.audio import audio_segment

log = logging.getLogger(__name__)

VOICES = {"zh-CN": "cmn", "en-US": "en-us"}
ZH_TOKENS = {"0": "零", "1": "一", "2": "二", "3": "三", "4": "四", "5": "五", "6": "六", "7": "七", "8": "八",
             "9": "九", "shi": "十", "bai": "百", "qian": "千", "wan": "万", "yi": "亿", "yuan": "元", "jiao": "角",
             "fen": "分", "fu": "负", "liang": "两"}
EN_TOKENS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million "
    "billion trillion yuan minus"
).split()


@dataclass(frozen=True, slots=True)
class SoundFile:
    name: str  # audio name without extension, e.g. "hotline/en-US/welcome"
    language: str
    text: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("var/sounds"), help="output directory (default var/sounds)")
    parser.add_argument("--language", choices=sorted(VOICES), action="append", help="only this language (repeatable)")
    parser.add_argument("--only", action="append", metavar="PROMPT_ID", help="only these prompt ids (repeatable)")
    parser.add_argument("--no-vocabulary", action="store_true", help="skip number and letter files")
    parser.add_argument("--force", action="store_true", help="render files that already exist again")
    parser.add_argument("--jobs", type=int, default=4, help="parallel renders (default 4)")
    parser.add_argument("--espeak", default=None, help="espeak-ng binary (default: found on PATH)")


def sound_files(settings: Settings, languages: tuple[str, ...], only: set[str] | None, vocabulary: bool) -> list[SoundFile]:
    """Every sound file the IVR can ask Asterisk to play, with the words it holds."""
    from ivr.prompts import load_prompts

    book = load_prompts(settings.config_path(settings.ivr.prompts))
    files: dict[str, SoundFile] = {}
    # every literal piece of every variant of every prompt, with its file name
    for prompt_id, language, audio, words in book.sound_pieces():
        if language not in languages or (only is not None and prompt_id not in only):
            continue
        files[audio] = SoundFile(audio, language, words)
    if vocabulary:
        for language in languages:
            tokens = ZH_TOKENS.items() if language == "zh-CN" else ((t, t) for t in EN_TOKENS)
            for token, text in tokens:
                name = f"hotline/{language}/num/{token}"
                files[name] = SoundFile(name, language, text)
            for letter in "abcdefghijklmnopqrstuvwxyz":
                name = f"hotline/{language}/letters/{letter}"
                files[name] = SoundFile(name, language, letter.upper())
    return list(files.values())


def render(espeak: str, sound: SoundFile, target: Path) -> None:
    """espeak-ng → WAV at its own rate → ffmpeg resample to 8 kHz mono 16-bit."""
    AudioSegment = audio_segment()  # noqa: N806
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "tts.wav"
        subprocess.run(
            [espeak, "-v", VOICES[sound.language], "-w", str(raw), sound.text],
            check=True, capture_output=True, timeout=60,
        )
        with raw.open("rb") as handle:  # pydub leaves a file it opened itself unclosed
            segment = AudioSegment.from_wav(handle)
        exported = segment.export(
            str(target), format="wav", parameters=["-ar", "8000", "-ac", "1", "-acodec", "pcm_s16le"]
        )
        exported.close()


async def run(args: argparse.Namespace, settings: Settings) -> int:
    espeak = shutil.which(args.espeak) if args.espeak else shutil.which("espeak-ng") or shutil.which("espeak")
    if not espeak:
        print(
            "hotline prompts build: espeak-ng was not found. Install it (Debian/Ubuntu: apt-get install espeak-ng)\n"
            "or record the prompts yourself as 8 kHz mono WAV files named as in docs/asterisk.md."
        )
        return 2
    languages = tuple(args.language or VOICES)
    only = set(args.only) if args.only else None
    files = sound_files(settings, languages, only, vocabulary=not args.no_vocabulary)
    todo = [f for f in files if args.force or not (args.out / f"{f.name}.wav").exists()]
    print(f"{len(files)} sound files, {len(todo)} to render into {args.out}")
    audio_segment()  # import pydub here, not in a worker thread
    loop = asyncio.get_running_loop()
    failures = 0
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        jobs = [loop.run_in_executor(pool, render, espeak, f, args.out / f"{f.name}.wav") for f in todo]
        for sound, result in zip(todo, await asyncio.gather(*jobs, return_exceptions=True), strict=True):
            if isinstance(result, BaseException):
                failures += 1
                print(f"  failed: {sound.name}: {result}")
    print(f"done: {len(todo) - failures} rendered, {failures} failed")
    return 1 if failures else 0
