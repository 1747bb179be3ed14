"""Every state of the archive as a StrEnum."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    QUARANTINED = "quarantined"  # gave up after retries; the reason is in last_error, the original is kept


class SourceKind(StrEnum):
    TWILIO = "twilio"  # ref: the RecordingUrl of the status callback
    ASTERISK = "asterisk"  # ref: MixMonitor file name(s) in the spool, r() and t() legs separated by "|"


class AudioFormat(StrEnum):
    OPUS = "opus"  # Ogg container
    MP3 = "mp3"

    @property
    def extension(self) -> str:
        return "ogg" if self is AudioFormat.OPUS else "mp3"

    @property
    def codec(self) -> str:
        return "libopus" if self is AudioFormat.OPUS else "libmp3lame"

    @property
    def media_type(self) -> str:
        return "audio/ogg" if self is AudioFormat.OPUS else "audio/mpeg"
