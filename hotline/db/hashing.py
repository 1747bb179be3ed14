"""How secrets are kept: argon2 for PINs and passwords, keyed digests for card/account numbers.

A card number must be found again from what the caller keys in, so it cannot be salted like a PIN;
an HMAC under the server's secret key lets us look it up without storing it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def digest_number(key: str, digits: str) -> str:
    return hmac.new(key.encode(), digits.encode(), hashlib.sha256).hexdigest()


def hash_secret_sync(secret: str) -> str:
    return _hasher.hash(secret)


async def hash_secret(secret: str) -> str:
    """argon2 is deliberately slow (tens of ms): keep it off the event loop."""
    return await asyncio.to_thread(_hasher.hash, secret)


def _verify(hashed: str, secret: str) -> bool:
    try:
        return _hasher.verify(hashed, secret)
    except (VerificationError, InvalidHashError):
        return False


async def verify_secret(hashed: str, secret: str) -> bool:
    return await asyncio.to_thread(_verify, hashed, secret)
