"""The `hotline` command as an operator runs it: a real process, real sockets, real signals."""

from __future__ import annotations

import asyncio
import json
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


SECRET_KEY = "cli-test-secret-key-0123456789-abcdefghij"


@pytest.mark.parametrize("section", ["http", "agi"])
@pytest.mark.skipif(bool(PG_URL), reason="runs its own SQLite database; the PostgreSQL run adds nothing")
async def test_serve_on_a_busy_port_names_the_port_and_its_setting(tmp_path, section):
    ports = {"http": _free_port(), "agi": _free_port()}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports[section]))
        taken.listen()
        env = _env(tmp_path, HOTLINE_HTTP_PORT=str(ports["http"]), HOTLINE_AGI_PORT=str(ports["agi"]))
        code, _, err = await _hotline("serve", "--demo", env=env)
    name = section.upper()
    assert code == 2
    assert err.splitlines()[-1] == (
        f"hotline serve: port {ports[section]} is in use (set HOTLINE_{name}_PORT or {section}.port)")
    assert "Traceback" not in err


def _replace(old: str, new: str):
    def edit(text: str) -> str:
        assert text.count(old) == 1
        return text.replace(old, new)
    return edit


@pytest.mark.parametrize(("setting", "shipped", "edit", "on_line", "message"), [
    ("HOTLINE_IVR_MENUS", "ivr/menus.yaml", _replace('"3": transfer,', '"3": transferr,'), "transferr",
     "nodes.main.options.3: unknown node 'transferr'"),
    ("HOTLINE_ACD_QUEUES", "acd/queues.yaml", _replace("timezone: Asia/Shanghai", "timezone: Mars/Base"),
     "Mars/Base", "timezone: Value error, unknown timezone 'Mars/Base'"),
    # a quote left open on the last line: YAML's mark points one past the end of the file
    ("HOTLINE_IVR_PROMPTS", "ivr/prompts.yaml", lambda text: text + 'extra:\n  zh-CN: "never closed\n',
     "never closed", "found unexpected end of stream"),
])
async def test_broken_menus_queues_and_prompts_stop_serve_with_one_line(
        tmp_path, setting, shipped, edit, on_line, message):
    from hotline.settings import DEFAULT_CONFIG

    broken = tmp_path / Path(shipped).name
    broken.write_text(edit((DEFAULT_CONFIG.parent / shipped).read_text(encoding="utf-8")), encoding="utf-8")
    env = _env(tmp_path, HOTLINE_SECURITY_SECRET_KEY=SECRET_KEY, **{setting: str(broken)})
    code, _, err = await _hotline("serve", env=env)
    assert code == 2
    assert "Traceback" not in err
    lines = broken.read_text(encoding="utf-8").splitlines()
    line = next(n for n, text in enumerate(lines, 1) if on_line in text)
    assert err.splitlines() == [f"hotline: configuration error: {broken}:{line}: {message}"]


def test_version_prints_the_installed_package_version(capsys):
    from importlib.metadata import version

    from hotline.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"hotline {version('hotline')}\n"


@pytest.mark.parametrize("argv", [
    ["serve", "--config", "{bad}"],
    ["call", "--config", "{bad}", "--local"],
    ["demo", "--reset", "--config", "{bad}"],
    ["db", "upgrade", "--config", "{bad}"],
    ["user", "add", "dora", "--role", "qa", "--config", "{bad}"],
    ["--config", "{bad}", "serve"],
])
def test_config_is_accepted_before_or_after_the_command(tmp_path, capsys, argv):
    from hotline.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("agi:\n  port: -5\n")
    assert main([arg.format(bad=bad) for arg in argv]) == 2  # the file was read: its error is reported
    assert capsys.readouterr().err.startswith(f"hotline: configuration error: {bad}:2: agi.port:")


def test_a_config_before_the_command_is_kept_when_none_follows_it():
    from hotline.cli import build_parser

    assert build_parser().parse_args(["--config", "a.yaml", "serve"]).config == Path("a.yaml")
    assert build_parser().parse_args(["--config", "a.yaml", "serve", "--config", "b.yaml"]).config == Path("b.yaml")
    assert build_parser().parse_args(["call"]).config is None


@pytest.mark.skipif(bool(PG_URL), reason="runs its own SQLite database; the PostgreSQL run adds nothing")
async def test_demo_reset_refuses_a_database_with_users_of_its_own_unless_told_yes(tmp_path):
    env = _env(tmp_path)
    assert (await _hotline("db", "upgrade", env=env))[0] == 0
    assert (await _hotline("demo", env=env))[0] == 0
    code, _, err = await _hotline("demo", "--reset", env=env)
    assert code == 0, err  # only demo data: reset at once
    assert (await _hotline("user", "add", "erin", "--role", "qa", "--password-stdin", env=env,
                           stdin=b"erin-password-1\n"))[0] == 0
    code, _, err = await _hotline("demo", "--reset", env=env)
    assert code == 2
    assert err.strip() == ("hotline demo --reset: the database holds data the demo did not create (user erin); "
                           "nothing was deleted. Add --yes to delete it all.")
    code, _, err = await _hotline("demo", "--reset", "--yes", env=env)
    assert code == 0, err
    code, _, err = await _hotline("user", "add", "erin", "--role", "qa", "--password-stdin", env=env,
                                  stdin=b"erin-password-1\n")
    assert code == 0, err  # erin was deleted by the forced reset


@pytest.mark.skipif(bool(PG_URL), reason="runs its own SQLite database; the PostgreSQL run adds nothing")
async def test_db_upgrade_says_it_is_done_without_alembic_chatter(tmp_path):
    code, _, err = await _hotline("db", "upgrade", env=_env(tmp_path))
    assert code == 0
    assert [json.loads(line)["msg"] for line in err.splitlines()] == ["database schema is up to date"]
