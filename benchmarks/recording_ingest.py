"""Recording ingest: a stereo call through the whole archive ingest (decode, compress, encrypt,
checksum, store, read back, verify, record), in multiples of real time, beside the same ffmpeg
binary run directly on the same file with the same encoder settings, in the same run.

    python benchmarks/recording_ingest.py [--quick]     # 10 minutes of audio; --quick: 2 minutes

Last line: {"x_realtime": ..., "ratio_vs_ffmpeg": ...}  (ratio = ffmpeg-alone time ÷ ingest time)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine  # noqa: E402

from calls.models import Call, Recording  # noqa: E402
from hotline.db import Database  # noqa: E402
from hotline.schema import metadata  # noqa: E402
from hotline.settings import load_settings  # noqa: E402
from recordings.crypto import KeyRing  # noqa: E402
from recordings.ingest import IngestWorker, enqueue  # noqa: E402
from recordings.spool import AsteriskSpool  # noqa: E402
from recordings.states import AudioFormat, JobStatus, SourceKind  # noqa: E402
from recordings.storage import LocalStore  # noqa: E402
from recordings.transcode import encode_args, ffmpeg_exe  # noqa: E402

KEY = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="


def make_call(path: Path, seconds: int) -> None:
    """Two 8 kHz channels like Twilio's dual recordings: a voice-band tone sweep plus noise on one
    side, a different one on the other, so neither channel is trivially compressible silence."""
    sides = [f"sine=f={f}:r=8000:d={seconds},vibrato=f=4:d=0.5[s{n}];"
             f"anoisesrc=r=8000:d={seconds}:c=pink:a=0.05[n{n}];[s{n}][n{n}]amix=inputs=2[c{n}]"
             for n, f in enumerate((220, 330))]
    graph = ";".join(sides) + ";[c0][c1]join=inputs=2:channel_layout=stereo:map=0.0-FL|1.0-FR[out]"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-filter_complex", graph, "-map", "[out]",
                    "-c:a", "pcm_s16le", str(path)], check=True)


def ffmpeg_alone(wav: Path, out: Path, bitrate_kbps: int) -> float:
    args = encode_args([wav], out, AudioFormat.OPUS, bitrate_kbps * 2)
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


async def ingest_once(root: Path, wav: Path, run: int) -> float:
    settings = load_settings(environ={
        "HOTLINE_DATABASE_URL": f"sqlite+aiosqlite:///{root / f'bench{run}.db'}",
        "HOTLINE_RECORDINGS_DIR": str(root / "store"), "HOTLINE_RECORDINGS_SPOOL_DIR": str(root / "spool"),
        "HOTLINE_RECORDINGS_KEYS": f"k:{KEY}", "HOTLINE_RECORDINGS_ACTIVE_KEY": "k"})
    engine = create_engine(f"sqlite:///{root / f'bench{run}.db'}")
    metadata.create_all(engine)
    engine.dispose()
    db = Database(settings.database.url)
    spool = AsteriskSpool(settings.recordings.spool_dir)
    spool.root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(wav, spool.root / f"call{run}.wav")  # the spool file the worker consumes
    try:
        async with db.session() as s:
            s.add(Call(id=f"call-{run}", channel="asterisk"))
            recording = Recording(call_id=f"call-{run}", external_id=f"call{run}.wav")
            s.add(recording)
            await s.flush()
            await enqueue(s, recording.id, SourceKind.ASTERISK, f"call{run}.wav")
        worker = IngestWorker(db, settings.recordings, LocalStore(settings.recordings.dir),
                              KeyRing.from_settings(settings), {SourceKind.ASTERISK: spool}, workdir=root / "work")
        start = time.perf_counter()
        outcome = await worker.run_once()
        elapsed = time.perf_counter() - start
        if outcome is None or outcome.status != JobStatus.DONE:
            raise SystemExit(f"ingest failed: {outcome}")
        return elapsed
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 minutes of audio instead of 10")
    parser.add_argument("--runs", type=int, default=0, help="runs of each (default 3, quick 2)")
    args = parser.parse_args()
    seconds = 120 if args.quick else 600
    runs = args.runs or (2 if args.quick else 3)
    bitrate = load_settings(environ={}).recordings.bitrate_kbps
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        root = Path(tmp)
        wav = root / "call.wav"
        make_call(wav, seconds)
        print(f"{seconds} s stereo 8 kHz call, {wav.stat().st_size / 1e6:.1f} MB WAV; "
              f"Opus {bitrate * 2} kbit/s; {runs} runs each, best taken", flush=True)
        direct, ingest = [], []
        for run in range(runs):  # interleaved, so a busy moment of the machine hits both alike
            direct.append(ffmpeg_alone(wav, root / f"direct{run}.ogg", bitrate))
            ingest.append(asyncio.run(ingest_once(root, wav, run)))
            print(f"run {run + 1}: ffmpeg alone {direct[-1]:.2f} s, whole ingest {ingest[-1]:.2f} s", flush=True)
    best_direct, best_ingest = min(direct), min(ingest)
    print(f"ffmpeg alone: {seconds / best_direct:.1f}x real time; whole ingest: {seconds / best_ingest:.1f}x real time")
    print(json.dumps({"x_realtime": round(seconds / best_ingest, 1),
                      "ratio_vs_ffmpeg": round(best_direct / best_ingest, 3)}))


if __name__ == "__main__":
    main()
