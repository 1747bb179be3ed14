"""`hotline call`: a terminal softphone. Prints what the caller hears and sends the keys they press.

By default it calls the running server exactly as Twilio would: webhooks to the server's public URL
(`public.url`, or http://<http.host>:<http.port> when that is empty: the address the server derives
from the same settings), signed with `twilio.auth_token`, TwiML walked verb by verb. It needs the
settings the server runs with, e.g. `hotline call --config config/demo.yaml`; HOTLINE_HTTP_PORT and
the like apply to both. `--local` instead drives the IVR in-process on the configured database (no
server, no Twilio settings).

Scripted: `hotline call --keys "1 1 6222020000000001# 147258# 2"`. Each space-separated group
answers one question; a trailing `#` is the finish key of entries that end with `#`; a group `.`
is silence (the question times out). When the keys run out the caller hangs up.
Interactive (no --keys): type the keys and Enter; an empty line is silence; `q`, Ctrl-D or Ctrl-C
hangs up. Card numbers and PINs (the gathers the server marks secure) are typed hidden and echoed
as `*`; menu keys and amounts are not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from typing import Protocol, TextIO

import aiohttp

from hotline.db import Database
from hotline.settings import Settings
from hotline.twilio_walker import HANGUP, GatherInfo, TwilioCaller, WebhookError
from ivr.actions import BridgeAction, Gather, Hangup, Play, Prompt, SetAttribute, Transfer
from ivr.events import CallStarted, Digits, Timeout
from ivr.service import IvrService

DEMO_CALLER = "+8613800138000"  # 李伟, a demo customer (hotline/demo.py)
HOTLINE_NUMBER = "95588"
SILENCE = "."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", "--caller", dest="caller", default=DEMO_CALLER,
                        help=f"caller ID to present (default: demo customer {DEMO_CALLER})")
    parser.add_argument("--to", dest="dialled", default=HOTLINE_NUMBER, help="number dialled")
    parser.add_argument("--language", choices=("zh-CN", "en-US"),
                        help="skip the language menu (as a dialled number can)")
    parser.add_argument("--keys", help='scripted keys, e.g. "1 1 6222020000000001# 147258# 2" ("." = silence)')
    parser.add_argument("--audio", action="store_true",
                        help="--local only: also print the sound files Asterisk would play")
    parser.add_argument("--local", action="store_true",
                        help="run the menus in-process instead of calling the running server")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.local:
        return await call_server(args, settings, sys.stdout)
    db = Database(settings.database.url)
    try:
        service = IvrService(settings, db)
        phone = Softphone(service, sys.stdout, show_audio=args.audio)
        keys = None if args.keys is None else iter(args.keys.split())
        return await phone.call(args.caller, args.dialled, args.language, keys)
    finally:
        await db.dispose()


class Softphone:
    def __init__(self, service: IvrService, out: TextIO, *, show_audio: bool = False,
                 reader: Keyboard | None = None) -> None:
        self.service = service
        self.out = out
        self.show_audio = show_audio
        self.reader = reader or KeyReader(out=out)

    async def call(self, caller: str, dialled: str, language: str | None, keys: Iterator[str] | None) -> int:
        """Place one call; `keys` None reads them from the terminal. Returns the exit status."""
        turn = await self.service.start_call("softphone", f"softphone-{uuid.uuid4().hex[:12]}",
                                             CallStarted(caller, dialled, language))
        call_id = turn.call_id
        self._print(f"[call {call_id} from {caller} to {dialled}]")
        actions = turn.actions
        try:
            while True:
                final = self._hear(actions)
                if not isinstance(final, Gather):
                    return 0
                entry = await self._next_entry(final, keys)
                if entry is None:
                    self._print("[you hang up]")
                    return 0
                actions = await self.service.handle(call_id, entry)
        finally:
            await self.service.hangup(call_id, "caller")

    def _hear(self, actions: Sequence[BridgeAction]) -> BridgeAction:
        for action in actions:
            if isinstance(action, SetAttribute):
                self._print(f"  ({action.name} = {action.value})")
            elif isinstance(action, Play | Gather | Hangup | Transfer):
                self._say(action.prompts)
        final = actions[-1]
        if isinstance(final, Transfer):
            skills = ", ".join(final.skills) or "-"
            self._print(f"[transferred to an agent: queue {final.queue}, category {final.category}, "
                        f"skills {skills}, priority {final.priority}]")
        elif isinstance(final, Hangup):
            self._print(f"[the hotline hangs up: {final.reason}]")
        return final

    def _say(self, prompts: Sequence[Prompt]) -> None:
        for prompt in prompts:
            self._print(f"  {prompt.text}")
            if self.show_audio:
                self._print(f"      ♪ {' '.join(prompt.audio)}")

    async def _next_entry(self, gather: Gather, keys: Iterator[str] | None) -> Digits | Timeout | None:
        hint = f"up to {gather.max_digits} keys" + (f", end with {gather.finish_on_key}" if gather.finish_on_key
                                                     else "")
        if keys is not None:
            group = next(keys, None)
            if group is None:
                return None
            self._print(f"> {_masked(group, gather)}")
        else:
            hidden = gather.secure and self.reader.can_hide()
            group = await self.reader.ask(f"keys ({hint}{', hidden' if hidden else ''})> ", hidden)
            if group is None:
                return None
        return parse_entry(group, gather)

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)


def parse_entry(group: str, gather: Gather) -> Digits | Timeout:
    """One group of keys as the bridge would report it: finish key removed, "." as silence."""
    if group == SILENCE:
        return Timeout()
    if gather.finish_on_key and group.endswith(gather.finish_on_key):
        group = group[: -len(gather.finish_on_key)]
    return Digits(group)


def _masked(group: str, gather: Gather) -> str:
    return mask_entry(group, gather.finish_on_key) if gather.secure else group


def mask_entry(group: str, finish_on_key: str = "#") -> str:
    """Keys as the softphone echoes a secret entry: `******#`."""
    if group == SILENCE:
        return group
    finish = finish_on_key if finish_on_key and group.endswith(finish_on_key) else ""
    return "*" * (len(group) - len(finish)) + finish


# --- calling the running server through its Twilio webhooks ------------------------------------


async def call_server(args: argparse.Namespace, settings: Settings, out: TextIO,
                      reader: Keyboard | None = None) -> int:
    token = settings.twilio.auth_token.get_secret_value()
    if not token:
        print("hotline call: twilio.auth_token is not set, and the server refuses unsigned webhooks.\n"
              "Use the server's settings (e.g. `hotline call --config config/demo.yaml`), "
              "or --local to run the menus in-process.", file=sys.stderr)
        return 2
    keys = _TerminalKeys(out, None if args.keys is None else args.keys.split(), reader)
    url = settings.public.url  # the URL the server checks signatures over (see Settings.public)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        caller = TwilioCaller(http, url, token, from_=args.caller, to=args.dialled, keys=keys)
        keys.caller = caller
        print(f"[calling {url} from {args.caller} to {args.dialled}]", file=out, flush=True)
        try:
            status = await caller.run()
        except (aiohttp.ClientError, WebhookError, TimeoutError) as exc:
            keys.flush()
            print(f"hotline call: the server did not answer as Twilio expects: {exc}", file=sys.stderr)
            return 1
        except asyncio.CancelledError:
            # Ctrl-C: the caller puts the phone down now, and the server hears it as Twilio tells it
            keys.flush()
            print("[you hang up]", file=out, flush=True)
            with contextlib.suppress(aiohttp.ClientError, WebhookError, TimeoutError):
                await caller.send_status("completed")
            print("[call ended: completed]", file=out, flush=True)
            return 130
    keys.flush()
    print(f"[call ended: {status}]", file=out, flush=True)
    return 0


class _TerminalKeys:
    """A key source for TwilioCaller: prints what was heard since the last question, then takes the
    next scripted group or asks the person at the terminal. Secure entries are typed hidden."""

    def __init__(self, out: TextIO, script: list[str] | None, reader: Keyboard | None = None) -> None:
        self.out = out
        self.script = script
        self.reader = reader or KeyReader(out=out)
        self.caller: TwilioCaller | None = None
        self._printed = 0

    def flush(self) -> None:
        heard = self.caller.heard if self.caller else []
        for item in heard[self._printed:]:
            print(f"  {item.text}" if item.verb == "say" else f"  [{item.verb} {item.text}]", file=self.out,
                  flush=True)
        self._printed = len(heard)

    async def __call__(self, gather: GatherInfo) -> str | None:
        self.flush()
        if gather.on_hold and self.script is not None:
            return None  # scripted callers keep holding
        if self.script is not None:
            if not self.script:
                print("[you hang up]", file=self.out, flush=True)
                return HANGUP
            group = self.script.pop(0)
            shown = mask_entry(group, gather.finish_on_key) if gather.secure else group
            print(f"> {shown}", file=self.out, flush=True)
            return None if group == SILENCE else group
        hidden = gather.secure and self.reader.can_hide()
        entry = await self.reader.ask("keys (end with #, hidden)> " if hidden else "keys> ", hidden)
        if entry is None:
            print("[you hang up]", file=self.out, flush=True)
            return HANGUP
        return None if entry == SILENCE else entry


class Keyboard(Protocol):
    """Where the keys of an interactive call come from (KeyReader: the terminal)."""

    def can_hide(self) -> bool: ...

    async def ask(self, label: str, hidden: bool) -> str | None: ...


class KeyReader:
    """Lines of keys typed at the terminal. A terminal or a pipe is read through the event loop,
    never by a thread blocked in input(), so Ctrl-C ends the call at once instead of after the
    next Enter; hidden entries turn the terminal's echo off and always turn it back on."""

    def __init__(self, stream: TextIO | None = None, out: TextIO | None = None) -> None:
        self._stream = stream
        self.out = out or sys.stdout
        self._pending = b""

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdin

    def can_hide(self) -> bool:
        fd = _fileno(self.stream)
        return fd is not None and os.isatty(fd)

    async def ask(self, label: str, hidden: bool) -> str | None:
        """One line of keys: None to hang up (q or end of input), "." for silence."""
        print(label, end="", file=self.out, flush=True)
        fd = _fileno(self.stream)
        try:
            if fd is None:
                text = self.stream.readline() or None  # a script or a test's StringIO: nothing to wait for
            elif hidden and os.isatty(fd):
                with _echo_off(fd):
                    text = await self._read_line(fd)
                print(file=self.out, flush=True)  # the Enter was not echoed either
            else:
                text = await self._read_line(fd)
        except asyncio.CancelledError:
            print(file=self.out, flush=True)  # Ctrl-C at the prompt: what follows starts a line of its own
            raise
        if text is None or text.strip().lower() == "q":
            return None
        return text.strip() or SILENCE

    async def _read_line(self, fd: int) -> str | None:
        while b"\n" not in self._pending:
            await _readable(fd)
            chunk = os.read(fd, 4096)
            if not chunk:  # end of input
                rest, self._pending = self._pending, b""
                return rest.decode(errors="replace") if rest else None
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode(errors="replace")


async def _readable(fd: int) -> None:
    """Until `fd` has input; the wait is cancellable (Ctrl-C), unlike a read in a thread."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    try:
        loop.add_reader(fd, wake)
    except PermissionError:  # not pollable (/dev/null, a regular file): reading never blocks
        return
    try:
        await ready
    finally:
        loop.remove_reader(fd)


def _fileno(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


@contextlib.contextmanager
def _echo_off(fd: int) -> Iterator[None]:
    import termios  # POSIX only, like the terminal it controls

    saved = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
