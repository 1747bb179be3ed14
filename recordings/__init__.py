"""Call recordings: storage, transcoding, protection, serving (next milestone)."""
