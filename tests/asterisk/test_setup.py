"""`hotline.telephony.asterisk.setup(app)` starts and stops the bridge with the aiohttp app."""

from __future__ import annotations

from aiohttp import web

from hotline.telephony import asterisk
from hotline.web.keys import DB, IVR, SETTINGS
from tests.asterisk.conftest import with_ami
from tests.asterisk.doubles import ScriptedIvr
from tests.standins.asterisk import FakeAgiCall


async def test_setup_runs_the_listener_and_ami_with_the_app(settings, db, ami_server) -> None:
    app = web.Application()
    app[SETTINGS] = with_ami(settings, ami_server.port)
    app[DB] = db
    ivr = ScriptedIvr(db=db)
    app[IVR] = ivr
    asterisk.setup(app)
    assert asterisk.status(app) == {"asterisk_agi": False, "asterisk_ami": False}
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        bridge = app[asterisk.BRIDGE]
        await bridge.ami.wait_logged_in()
        assert asterisk.status(app) == {"asterisk_agi": True, "asterisk_ami": True}
        port = asterisk.agi_port(app)
        assert port and port > 0
        phone = FakeAgiCall(port, keys=["2"])
        await phone.run()
        assert ivr.hangups == [("call-1795353419.13", "completed")]
    finally:
        await runner.cleanup()
    assert asterisk.status(app) == {"asterisk_agi": False, "asterisk_ami": False}


async def test_setup_with_ami_disabled_reports_only_the_listener(settings, db) -> None:
    app = web.Application()
    app[SETTINGS] = settings
    app[DB] = db
    app[IVR] = ScriptedIvr(db=db)
    asterisk.setup(app)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        assert asterisk.status(app) == {"asterisk_agi": True}
    finally:
        await runner.cleanup()
