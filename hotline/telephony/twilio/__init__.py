"""The Twilio bridge: signed webhooks in, TwiML out, REST for mid-call changes and outbound calls.

    from hotline.telephony import twilio
    twilio.setup(app)      # routes under /twilio/, REST client on startup/cleanup, "twilio" connector
    twilio.status(app)     # {"twilio_rest": bool} for /readyz

Webhook paths for the Twilio console: docs/twilio.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hotline.telephony.twilio.bridge import TwilioBridge
from hotline.telephony.twilio.rest import RestError, TwilioRest
from hotline.telephony.twilio.signature import SignatureChecker
from hotline.telephony.twilio.webhooks import TwilioWebhooks
from hotline.web.keys import ACD, DB, IVR, RECORD, SETTINGS

BRIDGE = web.AppKey("twilio_bridge", TwilioBridge)

__all__ = ["BRIDGE", "RestError", "TwilioBridge", "setup", "status"]


def setup(app: web.Application) -> None:
    """Add the webhooks and the REST client's lifecycle; register the "twilio" connector with the ACD.

    Reads app[SETTINGS], app[DB], app[IVR] and app[ACD] (the ACD may be absent: transfers then say
    "agents unavailable")."""
    settings = app[SETTINGS]
    acd = app.get(ACD)
    rest = TwilioRest(settings.twilio)
    bridge = TwilioBridge(settings, app[DB], app[IVR], acd, rest, app.get(RECORD))
    checker = SignatureChecker(settings.public.url, settings.twilio.auth_token.get_secret_value())
    app[BRIDGE] = bridge
    app.router.add_routes(TwilioWebhooks(bridge, checker).routes())
    if acd is not None:
        acd.register_connector("twilio", bridge)
    app.cleanup_ctx.append(_lifecycle)


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    bridge = app[BRIDGE]
    await bridge.rest.start()  # the async HTTP client must be created inside the running loop
    yield
    await bridge.close()
    await bridge.rest.close()


def status(app: web.Application) -> dict[str, bool]:
    """Readiness: webhooks need nothing; the REST client only when an account is configured."""
    bridge = app[BRIDGE]
    return {"twilio_rest": bridge.rest.ready or not bridge.rest.configured}
