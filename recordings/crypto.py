"""Encryption at rest: AES-256-GCM in independently sealed chunks, with the key id in each file.

Layout of a stored file:

    header  = b"HLREC1" | key id length (1 byte) | key id | nonce prefix (8) | chunk size (4) | audio length (8)
    chunk i = AES-GCM(key, nonce = prefix | i (4 bytes), aad = header) of audio[i*size:(i+1)*size], + 16-byte tag

Chunks let a byte range be decrypted (HTTP Range, the player seeking) by reading only the chunks that
hold it. Every chunk authenticates the whole header as associated data, so the key id, the chunk
size and the total length cannot be altered; the counter in the nonce stops chunks being reordered;
and since the length is authenticated, dropping the last chunks is detected. Keys rotate: new files
use the active key, older files name theirs, and `rekey` rewrites them under the active one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hotline.settings import Settings, SettingsError
from recordings.errors import BadRange, DecryptionFailed, UnknownKey

MAGIC = b"HLREC1"
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
MAX_HEADER = len(MAGIC) + 1 + 255 + 8 + 4 + 8


@dataclass(frozen=True)
class KeyRing:
    """The configured keys by id, and the one new files are sealed with."""

    keys: Mapping[str, bytes]
    active: str

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise UnknownKey(f"active key {self.active!r} is not configured")
        for key_id, key in self.keys.items():
            if len(key) != 32:
                raise SettingsError(f"recordings.keys.{key_id}: expected 32 bytes (base64), got {len(key)}")
            if not key_id or len(key_id.encode()) > 64:
                raise SettingsError(f"recordings.keys: key id {key_id!r} must be 1 to 64 bytes")

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise UnknownKey(f"encryption key {key_id!r} is not configured (recordings.keys)") from None

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """recordings.keys (base64 of 32 bytes each) with recordings.active_key; with no keys
        configured, one key derived from security.secret_key, its id naming a digest of it so that a
        changed secret key shows up as an unknown key rather than as files that fail to decrypt."""
        configured = settings.recordings.keys
        if not configured:
            secret = settings.security.secret_key.get_secret_value().encode()
            key = HKDF(SHA256(), 32, salt=b"hotline-recordings", info=b"recordings-at-rest-v1").derive(secret)
            key_id = "derived-" + hashlib.sha256(key).hexdigest()[:12]
            return cls({key_id: key}, key_id)
        keys = {}
        for key_id, value in configured.items():
            try:
                keys[key_id] = base64.b64decode(value.get_secret_value(), validate=True)
            except (binascii.Error, ValueError):
                raise SettingsError(f"recordings.keys.{key_id}: not valid base64") from None
        return cls(keys, settings.recordings.active_key)


@dataclass(frozen=True)
class Header:
    key_id: str
    prefix: bytes
    chunk_size: int
    length: int  # of the audio
    raw: bytes

    @property
    def chunks(self) -> int:
        return max(1, -(-self.length // self.chunk_size))

    def chunk_span(self, index: int) -> tuple[int, int]:
        """Offset and length of sealed chunk `index` in the file."""
        plain = min(self.chunk_size, self.length - index * self.chunk_size)
        return len(self.raw) + index * (self.chunk_size + TAG_SIZE), plain + TAG_SIZE

    @property
    def sealed_size(self) -> int:
        return len(self.raw) + self.length + self.chunks * TAG_SIZE


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def encrypt(audio: bytes, ring: KeyRing, *, chunk_size: int = CHUNK_SIZE) -> bytes:
    key_id = ring.active.encode()
    prefix = os.urandom(8)
    header = MAGIC + bytes([len(key_id)]) + key_id + prefix + struct.pack(">IQ", chunk_size, len(audio))
    aead = AESGCM(ring.key(ring.active))
    parts = [header]
    for index, start in enumerate(range(0, max(1, len(audio)), chunk_size)):
        parts.append(aead.encrypt(_nonce(prefix, index), audio[start:start + chunk_size], header))
    return b"".join(parts)


def parse_header(blob: bytes) -> Header:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 1:
        raise DecryptionFailed("not an encrypted recording (bad magic)")
    id_len = blob[len(MAGIC)]
    end = len(MAGIC) + 1 + id_len + 8 + 12
    if len(blob) < end:
        raise DecryptionFailed("truncated header")
    at = len(MAGIC) + 1
    key_id = blob[at:at + id_len].decode("utf-8", errors="replace")
    prefix = blob[at + id_len:at + id_len + 8]
    chunk_size, length = struct.unpack(">IQ", blob[at + id_len + 8:end])
    if chunk_size == 0:
        raise DecryptionFailed("bad header: chunk size 0")
    return Header(key_id, prefix, chunk_size, length, blob[:end])


def _open_chunk(aead: AESGCM, header: Header, index: int, sealed: bytes) -> bytes:
    try:
        return aead.decrypt(_nonce(header.prefix, index), sealed, header.raw)
    except InvalidTag:
        raise DecryptionFailed(f"chunk {index} does not authenticate (altered, truncated or wrong key)") from None


def decrypt(blob: bytes, ring: KeyRing) -> bytes:
    header = parse_header(blob)
    if len(blob) != header.sealed_size:
        raise DecryptionFailed(f"size {len(blob)} does not match the header ({header.sealed_size})")
    aead = AESGCM(ring.key(header.key_id))
    out = []
    for index in range(header.chunks):
        offset, length = header.chunk_span(index)
        out.append(_open_chunk(aead, header, index, blob[offset:offset + length]))
    return b"".join(out)


ReadAt = Callable[[int, int], Awaitable[bytes]]  # (offset, length) -> bytes of the stored file


async def read_header(read_at: ReadAt) -> Header:
    head = await read_at(0, MAX_HEADER)
    return parse_header(head)


async def decrypt_range(read_at: ReadAt, ring: KeyRing, start: int, end: int,
                        header: Header | None = None) -> bytes:
    """Audio bytes start..end (inclusive, as in HTTP Range), reading and opening only the chunks that hold them."""
    header = header or await read_header(read_at)
    if not 0 <= start <= end < header.length:
        raise BadRange(f"bytes {start}-{end} outside 0-{header.length - 1}")
    aead = AESGCM(ring.key(header.key_id))
    first, last = start // header.chunk_size, end // header.chunk_size
    offset, _ = header.chunk_span(first)
    last_offset, last_length = header.chunk_span(last)
    sealed = await read_at(offset, last_offset + last_length - offset)
    if len(sealed) != last_offset + last_length - offset:
        raise DecryptionFailed("stored file is shorter than its header says")
    plain = []
    for index in range(first, last + 1):
        at, length = header.chunk_span(index)
        plain.append(_open_chunk(aead, header, index, sealed[at - offset:at - offset + length]))
    joined = b"".join(plain)
    skip = start - first * header.chunk_size
    return joined[skip:skip + end - start + 1]
