"""`hotline call`: the scripted softphone checks a demo customer's balance, as the README shows."""

import argparse
import asyncio
import io
import os
import termios

import pytest
from sqlalchemy import select

from calls.models import Call
from hotline import softphone
from hotline.db import Database
from hotline.settings import Settings
from ivr.actions import Gather
from ivr.events import Digits, Timeout
from ivr.service import IvrService


def parse(argv: list[str]) -> argparse.Namespace:
    """The in-process softphone (--local); tests/test_softphone_webhooks.py covers the webhook one."""
    parser = argparse.ArgumentParser()
    softphone.add_arguments(parser)
    return parser.parse_args(["--local", *argv])


async def test_scripted_balance_check(settings: Settings, demo_db: Database,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(["--keys", "1 1 6222020000000001# 147258# 2"])
    assert await softphone.run(args, settings) == 0
    out = capsys.readouterr().out
    assert "李先生，您好。" in out
    assert "您尾号零零零一的储蓄账户可用余额为一万二千三百四十五元六角七分。" in out
    assert "您尾号零零零二的活期结算账户可用余额为一千零五元。" in out
    assert "> ****************#" in out and "> ******#" in out
    assert "6222020000000001" not in out and "147258" not in out
    assert out.rstrip().endswith("[the hotline hangs up: completed]")
    async with demo_db.session() as s:
        call = await s.scalar(select(Call))
    assert (call.channel, call.self_service_done, call.status) == ("softphone", True, "completed")


async def test_english_silence_and_audio(settings: Settings, demo_db: Database) -> None:
    out = io.StringIO()
    phone = softphone.Softphone(IvrService(settings, demo_db), out, show_audio=True)
    status = await phone.call("+8613111111111", "95588", "en-US", iter([".", "5"]))
    text = out.getvalue()
    assert status == 0
    assert text.count("For your balance, press 1.") == 2  # silence: the menu again
    assert "♪ hotline/en-US/main_menu" in text
    assert "Hello," not in text  # an unknown caller
    assert "[transferred to an agent: queue complaints, category complaint, skills complaints, priority 0]" in text


async def test_keys_running_out_hangs_up(settings: Settings, demo_db: Database) -> None:
    out = io.StringIO()
    phone = softphone.Softphone(IvrService(settings, demo_db), out)
    assert await phone.call("+8613800138000", "95588", None, iter(["1"])) == 0
    assert out.getvalue().rstrip().endswith("[you hang up]")
    async with demo_db.session() as s:
        call = await s.scalar(select(Call))
    assert call.end_reason == "hangup:caller"


def test_entries_as_a_bridge_reports_them() -> None:
    entry = Gather(prompts=(), max_digits=7, finish_on_key="#", secure=True)
    menu = Gather(prompts=(), max_digits=1, finish_on_key="")
    assert softphone.parse_entry("147258#", entry) == Digits("147258")
    assert softphone.parse_entry("#", entry) == Digits("")  # what a real Asterisk reports
    assert softphone.parse_entry("#", menu) == Digits("#")  # "back"
    assert softphone.parse_entry(".", menu) == Timeout()


async def test_interactive_keys_from_the_terminal(settings: Settings, demo_db: Database,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # an empty line is silence; q hangs up
    monkeypatch.setattr("sys.stdin", io.StringIO("2\n1\n6222020000000001#\n147258#\n\nq\n"))
    assert await softphone.run(parse(["--from", "+8613800138000"]), settings) == 0
    out = capsys.readouterr().out
    assert out.count("Your savings account ending zero zero zero one has an available balance of twelve "
                     "thousand three hundred forty-five yuan sixty-seven.") == 2
    assert out.rstrip().endswith("[you hang up]")


# --- the terminal: lines read through the event loop, echo off for secrets ---------------------------


async def test_key_reader_reads_lines_from_a_pipe_until_its_end() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "r") as stream:
        reader = softphone.KeyReader(stream, out=io.StringIO())
        os.write(write_end, b"1\n6222020000000001#\n\nq")
        assert await reader.ask("keys> ", False) == "1"
        assert await reader.ask("keys> ", False) == "6222020000000001#"
        assert await reader.ask("keys> ", False) == softphone.SILENCE  # an empty line
        os.close(write_end)
        assert await reader.ask("keys> ", False) is None  # "q" without a newline, then the end: hang up
        assert await reader.ask("keys> ", False) is None


async def test_waiting_for_a_key_is_cancelled_at_once() -> None:
    """What Ctrl-C does to a caller who is thinking: nothing is left blocked on the terminal."""
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "r") as stream:
        waiting = asyncio.create_task(softphone.KeyReader(stream, out=io.StringIO()).ask("keys> ", False))
        await asyncio.sleep(0)  # one loop turn: the task runs up to its wait for input
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert not asyncio.get_running_loop().remove_reader(read_end)  # nothing still watches the input
    os.close(write_end)


def _echoes(fd: int) -> bool:
    return bool(termios.tcgetattr(fd)[3] & termios.ECHO)


@pytest.mark.parametrize("cancelled", [False, True])
async def test_a_hidden_entry_turns_echo_off_and_always_back_on(cancelled: bool) -> None:
    controller, terminal = os.openpty()
    os.set_blocking(controller, False)
    with os.fdopen(terminal, "r") as stream:
        reader = softphone.KeyReader(stream, out=io.StringIO())
        assert reader.can_hide() and _echoes(terminal)
        entry = asyncio.create_task(reader.ask("PIN> ", True))
        await asyncio.sleep(0)  # one loop turn: the task turns echo off and waits for input
        assert not _echoes(terminal)
        if cancelled:
            entry.cancel()
            with pytest.raises(asyncio.CancelledError):
                await entry
        else:
            os.write(controller, b"147258#\n")
            assert await entry == "147258#"
            with pytest.raises(BlockingIOError):
                os.read(controller, 1024)  # the terminal showed nothing of what was typed
        assert _echoes(terminal)
    os.close(controller)
