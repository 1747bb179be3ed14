"""The recordings archive: ingest from both PBXs, compress, encrypt, store, verify, keep, purge, play.

See docs/recordings.md. Entry points: `recordings.ingest` (enqueue, IngestWorker), `recordings.archive`
(Archive: read_audio, verify, purge, rekey, holds), `recordings.commands` (the CLI)."""
