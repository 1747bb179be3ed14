"""The `hotline` command: serve, database, demo data, users, the softphone and prompt building."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from hotline.db import Database
from hotline.logs import configure_logging, mark_secret
from hotline.settings import SecuritySettings, Settings, SettingsError, load_settings

log = logging.getLogger("hotline")
DEMO_SECRET_KEY = SecuritySettings().secret_key.get_secret_value()
Command = Callable[[argparse.Namespace, Settings], Awaitable[int]]


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
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.http.host, settings.http.port)
    await site.start()
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
    from hotline.demo import load_demo

    db = Database(settings.database.url)
    try:
        created = await load_demo(db, settings)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="Bank hotline telephony server")
    parser.add_argument("--config", type=Path, help="YAML file with settings to change (see config/hotline.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run HTTP, FastAGI and AMI until SIGINT/SIGTERM")
    serve.add_argument("--demo", action="store_true", help="first upgrade the database and load the demo data")
    serve.set_defaults(run=cmd_serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply all migrations").set_defaults(run=cmd_db_upgrade)

    commands.add_parser("demo", help="create the demo data (idempotent)").set_defaults(run=cmd_demo)

    user = commands.add_parser("user", help="web users").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="create a web user (password asked, or read from stdin)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=("agent", "supervisor", "qa", "admin"))
    add.add_argument("--name", help="display name")
    add.add_argument("--endpoint", help="agents: where to ring them (client:NAME, sip:..., +86..., PJSIP/NAME)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(run=cmd_user_add)

    _add_optional_commands(commands)
    return parser


def _add_optional_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from hotline import softphone
    from hotline.telephony.asterisk import prompts_build

    call = commands.add_parser("call", help="terminal softphone: call the hotline as a customer would")
    softphone.add_arguments(call)
    call.set_defaults(run=softphone.run)

    prompts = commands.add_parser("prompts", help="sound files for Asterisk").add_subparsers(
        dest="prompts_command", required=True)
    build = prompts.add_parser("build", help="render every prompt to 8 kHz mono WAV (needs espeak-ng)")
    prompts_build.add_arguments(build)
    build.set_defaults(run=prompts_build.run)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"hotline: configuration error:\n{exc}", file=sys.stderr)
        return 2
    configure_logging(settings.logging.level, settings.logging.format)
    for secret in (settings.twilio.auth_token, settings.ami.secret, settings.security.secret_key):
        if secret.get_secret_value():
            mark_secret(secret.get_secret_value())
    try:
        return asyncio.run(args.run(args, settings))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
