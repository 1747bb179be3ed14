"""The `hotline` command: serve, database, demo data, users, the softphone and prompt building."""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from aiohttp import web

from hotline.db import Database
from hotline.logs import ACCESS_LOG, AccessLogger, configure_logging, mark_secret
from hotline.roles import ROLES
from hotline.settings import SecuritySettings, Settings, SettingsError, load_settings

log = logging.getLogger("hotline")
DEMO_SECRET_KEY = SecuritySettings().secret_key.get_secret_value()
Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


async def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.app import create_app

    if args.demo:
        await cmd_db_upgrade(args, settings)
        await cmd_demo(args, settings)
    elif settings.security.secret_key.get_secret_value() == DEMO_SECRET_KEY:
        # card and account digests keyed with a published key can be reversed by brute force
        print("hotline serve: security.secret_key is the published demo key. Set HOTLINE_SECURITY_SECRET_KEY "
              "to a long random value (or run the demo with --demo).", file=sys.stderr)
        return 2
    from hotline.telephony.asterisk.agi_server import AgiListenError

    runner = app_runner(create_app(settings))
    try:
        section = "agi"
        await runner.setup()  # start-up hooks: the FastAGI listener binds here
        section = "http"
        await web.TCPSite(runner, settings.http.host, settings.http.port).start()
    except OSError as exc:
        await runner.cleanup()
        if section == "agi" and not isinstance(exc, AgiListenError):
            raise  # not a listener: some other start-up step failed
        print(f"hotline serve: {_listen_problem(exc, settings, section)}", file=sys.stderr)
        return 2
    log.info("hotline serving", extra={"http": f"http://{settings.http.host}:{settings.http.port}"})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("hotline stopping")
        await runner.cleanup()
    return 0


def app_runner(app: web.Application) -> web.AppRunner:
    """How `hotline serve` runs the app: one access-log line per request, our own signal handling."""
    return web.AppRunner(app, access_log_class=AccessLogger, access_log=ACCESS_LOG, handle_signals=False)


def _listen_problem(exc: OSError, settings: Settings, section: str) -> str:
    """One line naming the port and the setting that moves it."""
    listener = settings.http if section == "http" else settings.agi
    if exc.errno == errno.EADDRINUSE:
        return (f"port {listener.port} is in use "
                f"(set HOTLINE_{section.upper()}_PORT or {section}.port)")
    return (f"cannot listen on {listener.host}:{listener.port}: {exc.strerror or exc} "
            f"(set HOTLINE_{section.upper()}_HOST / _PORT or {section}.host / {section}.port)")


async def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.migrate import upgrade

    db = Database(settings.database.url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()
    log.info("database schema is up to date", extra={"database": db.url.render_as_string(hide_password=True)})
    return 0


async def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.demo import NotDemoData, load_demo, load_demo_recordings, reset_demo

    db = Database(settings.database.url)
    try:
        if getattr(args, "reset", False):
            await reset_demo(db, settings, force=args.yes)
            await load_demo_recordings(db, settings)
            log.info("demo data reset")
            return 0
        created = await load_demo(db, settings)
        if archived := await load_demo_recordings(db, settings):
            log.info("demo recordings archived", extra={"recordings": archived})
    except NotDemoData as exc:
        print(f"hotline demo --reset: {exc}", file=sys.stderr)
        return 2
    finally:
        await db.dispose()
    log.info("demo data created" if created else "demo data already present")
    return 0


async def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.users import UserError, add_user

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
    mark_secret(password)
    db = Database(settings.database.url)
    try:
        user = await add_user(db, args.username, password, args.role, display_name=args.name or "",
                              endpoint=args.endpoint or "")
    except UserError as exc:
        print(f"hotline user add: {exc}", file=sys.stderr)
        return 2
    finally:
        await db.dispose()
    print(f"user {user.username} ({user.role}) created")
    return 0


CONFIG_HELP = "YAML file with settings to change (see config/hotline.yaml)"


def _package_version() -> str:
    try:
        return version("hotline")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="Bank hotline telephony server")
    parser.add_argument("--version", action="version", version=f"hotline {_package_version()}")
    parser.add_argument("--config", type=Path, help=CONFIG_HELP)
    # `--config` is also taken after the command (`hotline serve --config site.yaml`); SUPPRESS
    # keeps a subcommand from resetting a --config given before it
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=CONFIG_HELP)
    commands = _Commands(parser.add_subparsers(dest="command", required=True), config)

    serve = commands.add("serve", help="run HTTP, FastAGI and AMI until SIGINT/SIGTERM")
    serve.add_argument("--demo", action="store_true", help="first upgrade the database and load the demo data")
    serve.set_defaults(run=cmd_serve)

    db = commands.group("db", "db_command", help="database schema")
    db.add("upgrade", help="apply all migrations").set_defaults(run=cmd_db_upgrade)

    demo = commands.add("demo", help="create the demo data (idempotent)")
    demo.add_argument("--reset", action="store_true",
                      help="empty every table and load the demo data afresh (stop the server first)")
    demo.add_argument("--yes", action="store_true",
                      help="with --reset: also when the database holds users or customers of its own")
    demo.set_defaults(run=cmd_demo)

    user = commands.group("user", "user_command", help="web users")
    add = user.add("add", help="create a web user (password asked, or read from stdin)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--name", help="display name")
    add.add_argument("--endpoint", help="agents: where to ring them (client:NAME, sip:..., +86..., PJSIP/NAME)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(run=cmd_user_add)

    _add_recordings_commands(commands)
    _add_report_commands(commands)
    _add_optional_commands(commands)
    return parser


def _add_recordings_commands(commands: _Commands) -> None:
    from recordings import commands as recording_commands

    async def verify(args: argparse.Namespace, settings: Settings) -> int:
        return await recording_commands.verify(settings, decode=args.decode)

    async def purge(args: argparse.Namespace, settings: Settings) -> int:
        return await recording_commands.purge(settings, apply=args.apply)

    async def rekey(args: argparse.Namespace, settings: Settings) -> int:
        return await recording_commands.rekey(settings)

    group = commands.group("recordings", "recordings_command", help="the recordings archive")
    check = group.add("verify", help="re-read, decrypt and checksum every stored recording (exit 1 if any is bad)")
    check.add_argument("--decode", action="store_true", help="also decode each file completely with ffmpeg")
    check.set_defaults(run=verify)
    remove = group.add("purge", help="list recordings past retention and not on legal hold; --apply deletes them")
    remove.add_argument("--apply", action="store_true", help="delete them (audited); without it, a dry run")
    remove.set_defaults(run=purge)
    group.add("rekey", help="re-encrypt every recording not sealed with recordings.active_key").set_defaults(run=rekey)


def _add_report_commands(commands: _Commands) -> None:
    from reports import commands as report_commands

    async def weekly(args: argparse.Namespace, settings: Settings) -> int:
        return await report_commands.weekly(settings, args.week, args.format, args.out)

    week = commands.group("report", "report_command", help="reports from the event logs").add(
        "weekly", help="the figures of one ISO week (centre's time zone) as a CSV or XLSX file")
    week.add_argument("--week", required=True, help="ISO week, e.g. 2026-W48")
    week.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    week.add_argument("--out", type=Path, required=True, help="the file to write")
    week.set_defaults(run=weekly)


class _Commands:
    """Subcommands that all accept `--config`."""

    def __init__(self, actions: argparse._SubParsersAction[argparse.ArgumentParser],
                 config: argparse.ArgumentParser) -> None:
        self._actions = actions
        self._config = config

    def add(self, name: str, *, help: str) -> argparse.ArgumentParser:
        return self._actions.add_parser(name, help=help, parents=[self._config])

    def group(self, name: str, dest: str, *, help: str) -> _Commands:
        parser = self.add(name, help=help)
        return _Commands(parser.add_subparsers(dest=dest, required=True), self._config)


def _add_optional_commands(commands: _Commands) -> None:
    from hotline import softphone
    from hotline.telephony.asterisk import prompts_build, prompts_check

    call = commands.add("call", help="terminal softphone: call the hotline as a customer would")
    softphone.add_arguments(call)
    call.set_defaults(run=softphone.run)

    prompts = commands.group("prompts", "prompts_command", help="sound files for Asterisk")
    build = prompts.add("build", help="render every prompt to 8 kHz mono WAV (needs espeak-ng)")
    prompts_build.add_arguments(build)
    build.set_defaults(run=prompts_build.run)
    check = prompts.add("check", help="list the sound files a PBX is missing (its sounds dir or a file listing)")
    prompts_check.add_arguments(check)
    check.set_defaults(run=prompts_check.run)


def _configuration_error(exc: SettingsError) -> int:
    """One line per problem (`file:line: key: message`), as the operator fixes them one by one."""
    for problem in str(exc).splitlines():
        print(f"hotline: configuration error: {problem}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        return _configuration_error(exc)
    configure_logging(settings.logging.level, settings.logging.format)
    for secret in (settings.twilio.auth_token, settings.ami.secret, settings.security.secret_key):
        if secret.get_secret_value():
            mark_secret(secret.get_secret_value())
    run: Command = args.run  # each subcommand's set_defaults(run=...)
    try:
        return asyncio.run(run(args, settings))
    except SettingsError as exc:  # menus, prompts and queue files are read when the app is built
        return _configuration_error(exc)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
