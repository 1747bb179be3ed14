"""`hotline recordings verify | rekey | purge [--apply]`: what the CLI runs, printing one line per finding."""

from __future__ import annotations

import sys
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from hotline.db import Database
from hotline.settings import Settings
from recordings.archive import Archive
from recordings.crypto import KeyRing
from recordings.errors import RecordingsError
from recordings.storage import store_from_settings


def _archive(settings: Settings, db: Database) -> Archive:
    return Archive(db, settings.recordings, store_from_settings(settings), KeyRing.from_settings(settings))


def _failed(command: str, exc: Exception) -> int:
    """One line instead of a traceback: the database not migrated or unreachable, the store unreadable."""
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    print(f"hotline recordings {command}: {detail}", file=sys.stderr)
    return 2


async def verify(settings: Settings, *, decode: bool = False, out: TextIO = sys.stdout) -> int:
    """Exit code 1 when any file is missing, unreadable or does not match its checksum."""
    db = Database(settings.database.url)
    try:
        report = await _archive(settings, db).verify(decode=decode)
    except (SQLAlchemyError, RecordingsError) as exc:
        return _failed("verify", exc)
    finally:
        await db.dispose()
    for problem in report.problems:
        print(f"recording {problem.recording_id}: {problem.storage_key or '(no key)'}: {problem.problem}", file=out)
    print(f"{report.checked} checked, {len(report.problems)} bad", file=out)
    return 0 if report.ok else 1


async def purge(settings: Settings, *, apply: bool, actor: str = "cli", out: TextIO = sys.stdout) -> int:
    db = Database(settings.database.url)
    try:
        report = await _archive(settings, db).purge(apply=apply, actor=actor)
    except (SQLAlchemyError, RecordingsError) as exc:
        return _failed("purge", exc)
    finally:
        await db.dispose()
    verb = "purged" if apply else "would purge"
    for item in report.due:
        print(f"{verb} recording {item.recording_id} (call {item.call_id}, kept until "
              f"{item.retention_until:%Y-%m-%d})", file=out)
    for recording_id in report.held:
        print(f"kept recording {recording_id}: legal hold", file=out)
    for problem in report.failed:
        print(f"could not purge recording {problem.recording_id}: {problem.problem}", file=out)
    print(f"{len(report.due)} {verb}, {len(report.held)} on hold" + ("" if apply else " (dry run; --apply to delete)")
          + (f", {len(report.failed)} failed" if report.failed else ""), file=out)
    return 1 if report.failed else 0


async def rekey(settings: Settings, *, actor: str = "cli", out: TextIO = sys.stdout) -> int:
    db = Database(settings.database.url)
    try:
        report = await _archive(settings, db).rekey(actor=actor)
    except (SQLAlchemyError, RecordingsError) as exc:
        return _failed("rekey", exc)
    finally:
        await db.dispose()
    for problem in report.problems:
        print(f"recording {problem.recording_id}: {problem.storage_key}: {problem.problem}", file=out)
    print(f"{report.rewritten} rewritten with key {KeyRing.from_settings(settings).active}, "
          f"{len(report.problems)} failed", file=out)
    return 0 if not report.problems else 1
