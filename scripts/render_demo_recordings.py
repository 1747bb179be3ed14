#!/usr/bin/env python3
"""Render the demo's recorded agent calls once (espeak-ng, Mandarin): agent on the left channel,
customer on the right, as a dual-channel PBX recording would be; compressed to Opus in Ogg and
committed under hotline/demo_data/recordings/. `hotline demo` files them as calls and archives them.

    .venv/bin/python scripts/render_demo_recordings.py      # needs espeak-ng (apt-get install espeak-ng)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline.demo import DEMO_CONVERSATIONS  # noqa: E402
from recordings.transcode import ffmpeg_exe  # noqa: E402

VOICES = {"agent": ["-v", "cmn+f2", "-p", "55", "-s", "165"], "customer": ["-v", "cmn+m3", "-p", "40", "-s", "155"]}
PAUSE_S = 0.6
OUT = ROOT / "hotline" / "demo_data" / "recordings"


def render(conversation_file: str, turns: tuple[tuple[str, str], ...], folder: Path) -> None:
    inputs: list[str] = []
    filters: list[str] = []
    for n, (who, text) in enumerate(turns):
        wav = folder / f"{n}.wav"
        subprocess.run(["espeak-ng", *VOICES[who], "-w", str(wav), text], check=True)
        inputs += ["-i", str(wav)]
        # each turn: the speaker's channel speaks, the other is silent for as long; then a pause on both
        pan = "c0=c0|c1=0*c0" if who == "agent" else "c0=0*c0|c1=c0"
        filters.append(f"[{n}:a]aresample=8000,pan=stereo|{pan},apad=pad_dur={PAUSE_S}[t{n}]")
    joined = "".join(f"[t{n}]" for n in range(len(turns)))
    filters.append(f"{joined}concat=n={len(turns)}:v=0:a=1[out]")
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *inputs, "-filter_complex", ";".join(filters),
                    "-map", "[out]", "-c:a", "libopus", "-b:a", "32k", "-ar", "48000",
                    str(OUT / conversation_file)], check=True)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for conversation in DEMO_CONVERSATIONS:
            folder = Path(tmp) / conversation.file
            folder.mkdir()
            render(conversation.file, conversation.turns, folder)
            print(f"{OUT / conversation.file}: {(OUT / conversation.file).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
