"""The `hotline` command as an operator runs it: a real process, real sockets, real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import PG_URL


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({"HOTLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
                "HOTLINE_RECORDINGS_DIR": str(tmp_path / "rec"), "HOTLINE_LOGGING_FORMAT": "json", **extra})
    return env


async def _hotline(*args: str, env: dict[str, str], stdin: bytes | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline.cli", *args, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=120)
    return process.returncode, out.decode(), err.decode()


@pytest.mark.skipif(bool(PG_URL), reason="runs its own SQLite database; the PostgreSQL run adds nothing")
async def test_serve_demo_answers_health_and_stops_cleanly_on_sigterm(tmp_path):
    http_port, agi_port = _free_port(), _free_port()
    env = _env(tmp_path, HOTLINE_HTTP_PORT=str(http_port), HOTLINE_AGI_PORT=str(agi_port))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline.cli", "serve", "--demo", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with aiohttp.ClientSession() as http:
            body = None
            for _ in range(600):  # until the server is up (bounded: ~60 s)
                try:
                    async with http.get(f"http://127.0.0.1:{http_port}/healthz") as response:
                        body = await response.json()
                        break
                except aiohttp.ClientConnectionError:
                    if process.returncode is not None:
                        break
                    await asyncio.sleep(0.1)
            assert body == {"status": "ok"}, (await process.stderr.read()).decode()[-2000:]
            async with http.get(f"http://127.0.0.1:{http_port}/readyz") as response:
                ready = await response.json()
            assert response.status == 200, ready
        reader, writer = await asyncio.open_connection("127.0.0.1", agi_port)  # FastAGI listener is up
        writer.close()
        await writer.wait_closed()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(process.wait(), timeout=30)
    stderr = (await process.stderr.read()).decode()
    assert code == 0, stderr[-2000:]
    assert "hotline stopping" in stderr and "Traceback" not in stderr


async def test_serve_refuses_the_published_demo_secret_key_outside_demo_mode(tmp_path):
    code, _, err = await _hotline("serve", env=_env(tmp_path, HOTLINE_HTTP_PORT=str(_free_port())))
    assert code == 2 and "HOTLINE_SECURITY_SECRET_KEY" in err


@pytest.mark.skipif(bool(PG_URL), reason="runs its own SQLite database; the PostgreSQL run adds nothing")
async def test_user_add_reads_the_password_from_stdin_and_never_echoes_it(tmp_path):
    env = _env(tmp_path)
    assert (await _hotline("db", "upgrade", env=env))[0] == 0
    code, out, err = await _hotline("user", "add", "carol", "--role", "qa", "--password-stdin", env=env,
                                    stdin=b"carol-secret-pw\n")
    assert code == 0 and "user carol (qa) created" in out
    assert "carol-secret-pw" not in out + err
    code, _, err = await _hotline("user", "add", "carol", "--role", "qa", "--password-stdin", env=env,
                                  stdin=b"another-pw-1\n")
    assert code == 2 and "already exists" in err
