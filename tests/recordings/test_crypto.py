"""AES-GCM at rest: chunks that open one by one for ranges, a key id per file, rotation, tampering detected."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.settings import SettingsError, load_settings
from recordings.crypto import KeyRing, decrypt, decrypt_range, encrypt, parse_header
from recordings.errors import BadRange, DecryptionFailed, UnknownKey

OLD = KeyRing({"2025": b"o" * 32}, "2025")
ROTATED = KeyRing({"2025": b"o" * 32, "2026": b"n" * 32}, "2026")
AUDIO = os.urandom(200_000)


def _reader(blob: bytes):  # type: ignore[no-untyped-def]
    reads: list[tuple[int, int]] = []

    async def read_at(offset: int, length: int) -> bytes:
        reads.append((offset, length))
        return blob[offset:offset + length]

    return read_at, reads


def test_a_sealed_file_names_its_key_and_opens_to_the_same_bytes():
    blob = encrypt(AUDIO, OLD)
    assert parse_header(blob).key_id == "2025" and AUDIO[:1000] not in blob
    assert decrypt(blob, OLD) == AUDIO


def test_after_rotation_old_files_still_open_and_new_ones_use_the_active_key():
    old_file = encrypt(AUDIO, OLD)
    new_file = encrypt(AUDIO, ROTATED)
    assert parse_header(new_file).key_id == "2026"
    assert decrypt(old_file, ROTATED) == AUDIO == decrypt(new_file, ROTATED)
    with pytest.raises(UnknownKey, match="'2026' is not configured"):
        decrypt(new_file, OLD)


@pytest.mark.parametrize("where", [0, 30, 5000, -1])
def test_any_altered_byte_is_detected(where: int):
    blob = bytearray(encrypt(AUDIO, OLD))
    blob[where] ^= 0x01
    with pytest.raises((DecryptionFailed, UnknownKey)):
        decrypt(bytes(blob), OLD)


def test_a_truncated_file_or_dropped_last_chunk_is_detected():
    blob = encrypt(AUDIO, OLD, chunk_size=1000)
    with pytest.raises(DecryptionFailed, match="does not match the header"):
        decrypt(blob[:-1016], OLD)


def test_a_file_sealed_with_another_key_of_the_same_id_does_not_open():
    impostor = KeyRing({"2025": b"x" * 32}, "2025")
    with pytest.raises(DecryptionFailed, match="does not authenticate"):
        decrypt(encrypt(AUDIO, impostor), OLD)


def test_empty_audio_is_sealed_and_authenticated_too():
    blob = encrypt(b"", OLD)
    assert decrypt(blob, OLD) == b""
    with pytest.raises(DecryptionFailed):
        decrypt(blob[:-1] + bytes([blob[-1] ^ 1]), OLD)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, len(AUDIO) - 1), st.integers(0, 70_000))
async def test_a_byte_range_decrypts_to_the_same_bytes_reading_only_its_chunks(start: int, span: int):
    blob = encrypt(AUDIO, ROTATED, chunk_size=4096)
    end = min(len(AUDIO) - 1, start + span)
    read_at, reads = _reader(blob)
    assert await decrypt_range(read_at, ROTATED, start, end) == AUDIO[start:end + 1]
    chunks_needed = end // 4096 - start // 4096 + 1
    assert sum(length for _, length in reads[1:]) == sum(
        min(4096, len(AUDIO) - i * 4096) + 16 for i in range(start // 4096, start // 4096 + chunks_needed))


async def test_a_range_past_the_end_is_refused():
    read_at, _ = _reader(encrypt(b"abc", OLD))
    with pytest.raises(BadRange):
        await decrypt_range(read_at, OLD, 2, 3)


def test_keys_come_from_settings_as_base64_and_without_them_one_is_derived_from_the_secret_key():
    key = base64.b64encode(b"k" * 32).decode()
    ring = KeyRing.from_settings(load_settings(environ={"HOTLINE_RECORDINGS_KEYS": f"k1:{key}",
                                                        "HOTLINE_RECORDINGS_ACTIVE_KEY": "k1"}))
    assert ring.active == "k1" and ring.key("k1") == b"k" * 32
    derived = KeyRing.from_settings(load_settings(environ={"HOTLINE_SECURITY_SECRET_KEY": "one"}))
    other = KeyRing.from_settings(load_settings(environ={"HOTLINE_SECURITY_SECRET_KEY": "two"}))
    assert derived.active.startswith("derived-") and derived.active != other.active
    with pytest.raises(SettingsError, match="not valid base64"):
        KeyRing.from_settings(load_settings(environ={"HOTLINE_RECORDINGS_KEYS": "k1:!!!",
                                                     "HOTLINE_RECORDINGS_ACTIVE_KEY": "k1"}))
    with pytest.raises(SettingsError, match="expected 32 bytes"):
        KeyRing.from_settings(load_settings(environ={"HOTLINE_RECORDINGS_KEYS": "k1:YWJj",
                                                     "HOTLINE_RECORDINGS_ACTIVE_KEY": "k1"}))
    with pytest.raises(SettingsError, match="active_key 'k2' is not one of keys"):
        load_settings(environ={"HOTLINE_RECORDINGS_KEYS": f"k1:{key}", "HOTLINE_RECORDINGS_ACTIVE_KEY": "k2"})
