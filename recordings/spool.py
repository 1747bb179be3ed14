"""The Asterisk spool: the directory MixMonitor writes into, as this host sees it (the same host or
a mounted share). A job's ref is a file name relative to the spool, or the r() and t() legs of one
recording as `caller-leg.wav|agent-leg.wav` (merged to stereo, left the first)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from recordings.errors import SourceMissing, SourceRefused

LEG_SEPARATOR = "|"
AUDIO_SUFFIXES = (".wav", ".WAV", ".gsm", ".ulaw", ".alaw", ".sln", ".wav49")


def leg_ref(*names: str) -> str:
    """The job ref for one file or for the two legs of a recording."""
    return LEG_SEPARATOR.join(names)


@dataclass(frozen=True)
class UnclaimedFile:
    name: str
    size: int
    age_s: float


class AsteriskSpool:
    def __init__(self, root: Path) -> None:
        self.root = root

    def resolve(self, ref: str) -> list[Path]:
        names = ref.split(LEG_SEPARATOR)
        if not 1 <= len(names) <= 2 or not all(names):
            raise SourceRefused(f"{ref!r}: expected one file name or two separated by {LEG_SEPARATOR!r}")
        root = self.root.resolve()
        paths = []
        for name in names:
            path = (root / name).resolve()
            # a ref comes from an AMI event: it must not name a file outside the spool
            if not path.is_relative_to(root) or path == root:
                raise SourceRefused(f"{name!r} is outside the spool {self.root}")
            paths.append(path)
        return paths

    async def fetch(self, ref: str, workdir: Path) -> list[Path]:
        paths = self.resolve(ref)
        missing = [path.name for path in paths if not path.is_file()]
        if missing:
            raise SourceMissing(f"{', '.join(missing)} not in the spool {self.root}")
        return paths  # read in place: the spool is ours to read, and the file is removed only by discard

    async def discard(self, ref: str) -> None:
        for path in self.resolve(ref):
            path.unlink(missing_ok=True)

    def unclaimed(self, claimed_refs: Iterable[str], *, older_than_s: float = 600.0,
                  now: float | None = None) -> list[UnclaimedFile]:
        """Audio files in the spool that no job names and that nobody is still writing (older than
        `older_than_s`): a recording whose AMI stop event never arrived. Reported, never deleted."""
        now = time.time() if now is None else now
        claimed = set()
        for ref in claimed_refs:
            claimed.update(ref.split(LEG_SEPARATOR))
        found: list[UnclaimedFile] = []
        if not self.root.is_dir():
            return found
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or not path.name.endswith(AUDIO_SUFFIXES):
                continue
            name = path.relative_to(self.root).as_posix()
            stat = path.stat()
            if name not in claimed and now - stat.st_mtime >= older_than_s:
                found.append(UnclaimedFile(name, stat.st_size, now - stat.st_mtime))
        return found
