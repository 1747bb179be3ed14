"""Asterisk bridge: FastAGI call driver and AMI client (see docs/asterisk.md).

    from hotline.telephony import asterisk
    asterisk.setup(app)          # starts/stops the FastAGI listener and the AMI client with the app
    asterisk.status(app)         # {"asterisk_agi": True, "asterisk_ami": True} for /readyz
    asterisk.agi_port(app)       # the listener's bound port (HOTLINE_AGI_PORT=0 in tests)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hotline.telephony.asterisk.bridge import AsteriskBridge
from hotline.web.keys import ACD, DB, IVR, RECORD, SETTINGS

BRIDGE = web.AppKey("asterisk_bridge", AsteriskBridge)

__all__ = ["BRIDGE", "AsteriskBridge", "agi_port", "setup", "status"]


def setup(app: web.Application) -> None:
    """Start the bridge with the app and stop it on shutdown (reads SETTINGS, DB, IVR and, if set,
    ACD). A cleanup context: it stops before whatever the app set up ahead of it."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        bridge = None
        if settings.agi.enabled or settings.ami.enabled:
            bridge = AsteriskBridge(settings, app[DB], app[IVR], app.get(ACD), record=app.get(RECORD))
            app[BRIDGE] = bridge
            await bridge.start()
        yield
        if bridge is not None:
            await bridge.stop()

    app.cleanup_ctx.append(lifecycle)


def status(app: web.Application) -> dict[str, bool]:
    """Readiness of what is enabled: the FastAGI listener is up, the AMI client is logged in."""
    bridge = app.get(BRIDGE)
    if bridge is None:
        settings = app.get(SETTINGS)
        if settings is None:
            return {}
        result: dict[str, bool] = {}
        if settings.agi.enabled:
            result["asterisk_agi"] = False
        if settings.ami.enabled:
            result["asterisk_ami"] = False
        return result
    return bridge.status()


def agi_port(app: web.Application) -> int | None:
    bridge = app.get(BRIDGE)
    return bridge.agi.port if bridge is not None and bridge.agi is not None else None
