"""`hotline prompts check`: which of the IVR's sound files a PBX does not have.

Asterisk plays `hotline/en-US/welcome` from `<sounds dir>/hotline/en-US/welcome.<format>` (any format it
can read: wav, gsm, ulaw, ...). A file it lacks is found by a caller as silence (STREAM FILE answers -1 and
Asterisk logs "File ... does not exist in any format"); this finds it first, from either

    --sounds-dir /var/lib/asterisk/sounds          the directory itself (on the PBX, or a mounted copy)
    --listing sounds.txt                            a listing made on the PBX (`-` reads standard input):
        find /var/lib/asterisk/sounds/hotline -type f > sounds.txt

Prints each missing file name and exits 1 when any is missing, 0 when none is, 2 when the directory or
listing cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path, PurePosixPath

from hotline.settings import Settings
from hotline.telephony.asterisk.prompts_build import VOICES, sound_files

DEFAULT_SOUNDS_DIR = "/var/lib/asterisk/sounds"


class ListingUnreadable(Exception):
    """The sounds directory or the listing cannot be read."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--sounds-dir", type=Path, help=f"Asterisk's sounds directory (default {DEFAULT_SOUNDS_DIR})")
    where.add_argument("--listing", help="a file listing of the sounds directory made on the PBX (`-`: stdin)")
    parser.add_argument("--root", default=DEFAULT_SOUNDS_DIR,
                        help="where the listing's absolute paths start (default %(default)s)")
    parser.add_argument("--language", choices=sorted(VOICES), action="append", help="only this language (repeatable)")
    parser.add_argument("--no-vocabulary", action="store_true", help="skip number and letter files")


def present_names(paths: list[str], root: str) -> set[str]:
    """Sound names (no extension, relative to the sounds directory) from listed file paths."""
    prefix = PurePosixPath(root)
    names = set()
    for line in paths:
        line = line.strip()
        if not line:
            continue
        path = PurePosixPath(line)
        if path.is_absolute():
            if not path.is_relative_to(prefix):
                continue
            path = path.relative_to(prefix)
        names.add(str(path.with_suffix("")))
    return names


def _read(args: argparse.Namespace) -> set[str]:
    try:
        if args.listing == "-":
            return present_names(sys.stdin.read().splitlines(), args.root)
        if args.listing:
            return present_names(Path(args.listing).read_text(encoding="utf-8").splitlines(), args.root)
        directory = args.sounds_dir or Path(DEFAULT_SOUNDS_DIR)
        if not directory.is_dir():
            raise ListingUnreadable(f"{directory} is not a directory")
        return {str(PurePosixPath(p.relative_to(directory).as_posix()).with_suffix(""))
                for p in directory.rglob("*") if p.is_file()}
    except (OSError, UnicodeDecodeError) as exc:
        raise ListingUnreadable(str(exc)) from exc


def missing(settings: Settings, present: set[str], languages: tuple[str, ...], vocabulary: bool) -> list[str]:
    return sorted(f.name for f in sound_files(settings, languages, None, vocabulary) if f.name not in present)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        present = _read(args)
    except ListingUnreadable as exc:
        print(f"hotline prompts check: cannot read the sound files: {exc}", file=sys.stderr)
        return 2
    languages = tuple(args.language or VOICES)
    wanted = sound_files(settings, languages, None, vocabulary=not args.no_vocabulary)
    absent = missing(settings, present, languages, vocabulary=not args.no_vocabulary)
    for name in absent:
        print(name)
    print(f"{len(absent)} of {len(wanted)} sound files missing" if absent else f"all {len(wanted)} sound files present",
          file=sys.stderr)
    return 1 if absent else 0
