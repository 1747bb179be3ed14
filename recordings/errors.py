"""One exception per way an archive operation can fail; each says what went wrong in words an admin reads."""

from __future__ import annotations


class RecordingsError(Exception):
    """Base of every archive error."""


class IngestError(RecordingsError):
    """An ingest attempt failed; the job is retried with backoff, then quarantined with this message."""

    reason = "ingest failed"

    def __str__(self) -> str:
        detail = super().__str__()
        return f"{self.reason}: {detail}" if detail else self.reason


class SourceMissing(IngestError):
    reason = "original not found"


class DownloadFailed(IngestError):
    reason = "download failed"


class SourceRefused(IngestError):
    """The source reference points somewhere we must not fetch from (a forged host, a path outside the spool)."""

    reason = "source refused"


class EmptyAudio(IngestError):
    reason = "empty recording"


class UnreadableAudio(IngestError):
    """ffmpeg could not decode the original: corrupt or of an unknown format."""

    reason = "corrupt or unknown audio format"


class StorageFull(IngestError):
    reason = "no space left for the recording"


class VerificationFailed(IngestError):
    """The stored copy did not read back, decrypt, checksum or decode as written."""

    reason = "stored copy failed verification"


class StorageError(RecordingsError):
    """The store could not read or write an object."""


class ObjectMissing(StorageError):
    """No object under this key."""


class UnknownKey(RecordingsError):
    """A file names an encryption key id that is not configured."""


class DecryptionFailed(RecordingsError):
    """Wrong key, or the ciphertext was altered or truncated."""


class NotArchived(RecordingsError):
    """No archived audio for this recording (not ingested yet, quarantined or purged)."""


class BadRange(RecordingsError):
    """A byte range outside the audio (HTTP 416)."""


class UnknownRecording(RecordingsError):
    """No recording (or call) with this id."""
