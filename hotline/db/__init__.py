"""Persistence base shared by every package: declarative base, engine and session helpers.

Domain packages (ivr, acd, recordings, qa) import from here and from `hotline.settings` only.
"""

from hotline.db.base import Base, Database, aware, utcnow
from hotline.db.hashing import digest_number, hash_secret, verify_secret

__all__ = ["Base", "Database", "aware", "digest_number", "hash_secret", "utcnow", "verify_secret"]
