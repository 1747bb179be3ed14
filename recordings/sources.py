"""Where originals come from. The domain only knows this Protocol: the Twilio downloader lives with
the Twilio bridge (hotline/telephony/twilio/recording_source.py), the Asterisk spool in recordings/spool.py."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class RecordingSource(Protocol):
    async def fetch(self, ref: str, workdir: Path) -> list[Path]:
        """The original file(s) of `ref` as local paths: one recording, or two legs to merge (left
        first). Downloads go into `workdir`. Raises an IngestError subclass saying what went wrong."""

    async def discard(self, ref: str) -> None:
        """Delete the original; called only once our copy is stored, verified and recorded."""
