"""The AMI client against the stand-in AMI server over real TCP."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select

from acd.models import Agent
from calls.models import Call, CallLeg, Recording
from hotline.telephony.asterisk.ami import AmiActionError, AmiAuthError, AmiClient, AmiTimeout
from hotline.telephony.asterisk.bridge import AsteriskBridge
from tests.asterisk.conftest import FAST, with_ami
from tests.asterisk.doubles import RecordingAcd, ScriptedIvr
from tests.standins.asterisk import FakeAgiCall, FakeAmiServer


def client_for(server: FakeAmiServer, secret: str = "s3cret", **kwargs) -> AmiClient:
    kwargs.setdefault("backoff_initial_s", 0.01)
    kwargs.setdefault("action_timeout_s", 2.0)
    return AmiClient("127.0.0.1", server.port, "hotline", secret, **kwargs)


async def test_login_ping_and_filters(ami_server: FakeAmiServer) -> None:
    client = client_for(ami_server, event_filters=("Event: Hangup",))
    await client.start()
    try:
        await client.wait_logged_in()
        reply = await client.action({"Action": "Ping"})
        assert reply.ping == "Pong"
        assert (await ami_server.wait_action("Filter"))["Filter"] == "Event: Hangup"
        login = ami_server.actions[0]
        assert (login["Action"], login["Username"]) == ("Login", "hotline")
    finally:
        await client.stop()


async def test_wrong_secret_is_reported_not_retried_silently(ami_server: FakeAmiServer, caplog) -> None:
    client = client_for(ami_server, secret="wrong", backoff_initial_s=5.0)
    await client.start()
    try:
        with pytest.raises(AmiAuthError):
            await client.wait_logged_in(timeout_s=5)
        assert client.auth_failed and not client.logged_in.is_set()
        assert "refused login" in caplog.text and "wrong" not in caplog.text  # the secret is never logged
        assert len(ami_server._named("Login")) == 1  # backing off, not hammering the PBX
    finally:
        await client.stop()


async def test_utf8_split_across_packets_survives(ami_server: FakeAmiServer) -> None:
    seen: list[str] = []
    got = asyncio.Event()
    client = client_for(ami_server)
    client.on("UserEvent", lambda m: (seen.append(m.get("Name", "")), got.set()))
    await client.start()
    try:
        await client.wait_logged_in()
        ami_server.split_writes = 1  # one byte per write: every multi-byte character is split
        ami_server.emit({"Event": "UserEvent", "UserEvent": "Hello", "Name": "Zoë 李伟"})
        await asyncio.wait_for(got.wait(), 5)
        assert seen == ["Zoë 李伟"]
    finally:
        await client.stop()


async def test_repeated_headers_come_back_as_a_list(ami_server: FakeAmiServer) -> None:
    from hotline.telephony.asterisk.ami import header_list

    client = client_for(ami_server)
    await client.start()
    try:
        reply = await client.action({"Action": "Command", "Command": "core show version"})
        assert header_list(reply, "Output") == ["Asterisk 20.20.1 (stand-in)"]
    finally:
        await client.stop()


async def test_action_errors_carry_the_pbx_message(ami_server: FakeAmiServer) -> None:
    client = client_for(ami_server)
    await client.start()
    try:
        with pytest.raises(AmiActionError) as refused:
            await client.hangup("PJSIP/nobody-00000001")
        assert refused.value.message == "No such channel"
        with pytest.raises(AmiActionError, match="Invalid/unknown command"):
            await client.action({"Action": "NoSuchAction"})
        ami_server.originate_outcomes.extend(["failure", "error"])
        with pytest.raises(AmiActionError, match="Failure"):
            await client.originate("PJSIP/agent1", context="hotline-outbound", exten="100")
        with pytest.raises(AmiActionError, match="Originate failed"):
            await client.originate("PJSIP/agent1", context="hotline-outbound", exten="100")
        ok = await client.originate("PJSIP/agent1", context="hotline-outbound", exten="100", variables={"A": "1"})
        assert (ok.event, ok.response, ok.reason) == ("OriginateResponse", "Success", "4")
        sent = await ami_server.wait_action("Originate", 3)
        assert sent["Async"] == "true" and sent["Variable"] == "A=1"
    finally:
        await client.stop()


async def test_action_timeout_and_silent_connection_is_dropped(ami_server: FakeAmiServer, caplog) -> None:
    client = client_for(ami_server, ping_interval_s=0.05, ping_timeout_s=0.1)
    await client.start()
    try:
        await client.wait_logged_in()
        ami_server.silent = True
        with pytest.raises(AmiTimeout):
            await client.action({"Action": "Ping"}, timeout_s=0.05)
        await client.wait_until(lambda: not client.logged_in.is_set())  # our ping noticed and aborted
        assert "no Pong" in caplog.text
        ami_server.silent = False
        await client.wait_until(lambda: client.connections == 2)
        assert (await client.action({"Action": "Ping"})).ping == "Pong"
    finally:
        await client.stop()


async def make_call(db, uniqueid: str, call_id: str) -> None:
    """A call as the IVR opens it: the call and the caller's leg, named by the channel's Uniqueid."""
    async with db.session() as s:
        s.add(Call(id=call_id, channel="asterisk", external_id=uniqueid, caller_number="13800138000", attributes={}))
        await s.flush()
        s.add(CallLeg(call_id=call_id, kind="caller", external_id=uniqueid, endpoint="13800138000"))


async def ami_bridge(settings, db, server, acd=None, ivr=None) -> AsteriskBridge:
    bridge = AsteriskBridge(with_ami(settings, server.port), db, ivr or ScriptedIvr(db=db), acd or RecordingAcd(),
                            options=FAST, ami_backoff_s=(0.01, 0.05))
    await bridge.start()
    await bridge.ami.wait_logged_in()
    return bridge


async def test_pbx_restart_mid_call_resyncs_channels_and_presence(settings, db, ami_server: FakeAmiServer) -> None:
    acd = RecordingAcd(endpoints={"PJSIP/agent1": 1, "PJSIP/agent2": 2})
    await make_call(db, "1795353700.1", "live-call")
    await make_call(db, "1795353700.2", "gone-call")
    ami_server.channels = {"1795353700.1": {"Channel": "PJSIP/caller-00000001"}, "1795353700.2": {"Channel": "PJSIP/c-2"}}
    ami_server.devices = {"PJSIP/agent1": "NOT_INUSE", "PJSIP/agent2": "UNAVAILABLE"}
    bridge = await ami_bridge(settings, db, ami_server, acd)
    try:
        await acd.wait_for("set_reachable")
        await ami_server.wait_action("DeviceStateList")
        # the PBX restarts: the second call's channel did not survive, agent2's phone registered meanwhile
        del ami_server.channels["1795353700.2"]
        ami_server.devices["PJSIP/agent2"] = "NOT_INUSE"
        acd.calls.clear()
        await ami_server.restart()
        await bridge.ami.wait_until(lambda: bridge.ami.connections == 2)
        await ami_server.wait_action("DeviceStateList", 2)
        while len([c for c in acd.calls if c[0] == "set_reachable"]) < 2:
            acd.changed.clear()
            await acd.changed.wait()
        assert sorted(c for c in acd.calls if c[0] == "set_reachable") == [("set_reachable", 1, True), ("set_reachable", 2, True)]
        async with db.session() as s:
            calls = {c.id: c for c in (await s.execute(select(Call))).scalars()}
        assert calls["live-call"].ended_at is None
        assert (calls["gone-call"].end_reason, calls["gone-call"].status) == ("pbx-channel-gone", "completed")
    finally:
        await bridge.stop()


def mixmonitor_events(channel: str, uniqueid: str, path: str) -> list[dict[str, str]]:
    common = {"Privilege": "dialplan,all", "Channel": channel, "Uniqueid": uniqueid, "Linkedid": uniqueid}
    return [
        {"Event": "VarSet", **common, "Variable": "MIXMONITOR_FILENAME", "Value": path},
        {"Event": "MixMonitorStart", **common, "Privilege": "call,all"},
    ]


async def test_recording_row_from_mixmonitor_events_and_hangup_ends_it(settings, db, ami_server) -> None:
    await make_call(db, "1795353800.5", "rec-call")
    ami_server.channels["1795353800.5"] = {"Channel": "PJSIP/caller-0000000e"}
    bridge = await ami_bridge(settings, db, ami_server)
    try:
        for event in mixmonitor_events("PJSIP/caller-0000000e", "1795353800.5", "/var/spool/asterisk/monitor/rec-call-7.wav"):
            ami_server.emit(event)
        ami_server.emit({"Event": "Newexten", "Channel": "PJSIP/caller-0000000e"})  # filtered out by the PBX
        await ami_server.drain()
        await bridge.ami.action({"Action": "Ping"})  # everything before the Pong has been received
        await bridge.events_drained()
        assert bridge.facts.recording_channels == {"PJSIP/caller-0000000e": "/var/spool/asterisk/monitor/rec-call-7.wav"}
        ami_server.emit({"Event": "Hangup", "Privilege": "call,all", "Channel": "PJSIP/caller-0000000e",
                         "Uniqueid": "1795353800.5", "Linkedid": "1795353800.5", "Cause": "16", "Cause-txt": "Normal Clearing"})
        await bridge.ami.action({"Action": "Ping"})
        await bridge.events_drained()
        async with db.session() as s:
            rec = (await s.execute(select(Recording))).scalar_one()
            leg = (await s.execute(select(CallLeg))).scalar_one()
            call = await s.get(Call, "rec-call")
        assert (rec.call_id, rec.leg_id, rec.external_id, rec.source_url, rec.status) == (
            "rec-call", leg.id, "rec-call-7.wav", "/var/spool/asterisk/monitor/rec-call-7.wav", "ready")
        assert (leg.kind, leg.external_id, leg.end_reason) == ("caller", "1795353800.5", "cause-16 Normal Clearing")
        assert call.attributes["hangup_cause"] == "16"
        assert bridge.facts.recording_channels == {}
    finally:
        await bridge.stop()


async def test_secure_gather_mutes_the_running_recording(settings, db, ami_server, caplog) -> None:
    ivr = ScriptedIvr(db=db)
    ami_server.channels["1795353419.13"] = {"Channel": "PJSIP/caller-00000001"}
    bridge = await ami_bridge(settings, db, ami_server, ivr=ivr)
    try:
        for event in mixmonitor_events("PJSIP/caller-00000001", "1795353419.13", "/tmp/whole-call.wav"):
            ami_server.emit(event)
        await bridge.ami.action({"Action": "Ping"})
        await bridge.events_drained()
        phone = FakeAgiCall(bridge.agi.port, keys=["1", "6222020000000001#", "147258#"])
        await phone.run()
        mutes = [(a["Channel"], a["State"]) for a in ami_server._named("MixMonitorMute")]
        assert mutes == [("PJSIP/caller-00000001", "1"), ("PJSIP/caller-00000001", "0")]
        # muted exactly around the PIN entry
        assert ivr.events[-1][1].digits == "147258"
        assert "147258" not in caplog.text
    finally:
        await bridge.stop()


async def test_event_flood_is_applied_in_order(settings, db, ami_server) -> None:
    acd = RecordingAcd(endpoints={f"PJSIP/agent{i}": i for i in range(10)})
    bridge = await ami_bridge(settings, db, ami_server, acd)
    try:
        await bridge.ami.action({"Action": "Ping"})
        await bridge.events_drained()
        acd.calls.clear()
        for n in range(3000):
            agent = n % 10
            state = "UNAVAILABLE" if (n // 10) % 2 else "NOT_INUSE"
            ami_server.emit({"Event": "DeviceStateChange", "Privilege": "call,all", "Device": f"PJSIP/agent{agent}", "State": state})
            ami_server.emit({"Event": "Newexten", "Channel": "x", "Application": "Wait"})  # filtered by the PBX
            if n % 100 == 0:
                await ami_server.drain()
        await ami_server.drain()
        await bridge.ami.action({"Action": "Ping"})
        await bridge.events_drained()
        reach = [c for c in acd.calls if c[0] == "set_reachable"]
        assert reach == [("set_reachable", n % 10, not (n // 10) % 2) for n in range(3000)]  # all, in order
    finally:
        await bridge.stop()


async def test_dialend_reports_the_answer_before_dial_returns(settings, db, ami_server) -> None:
    from tests.asterisk.doubles import offer

    acd = RecordingAcd()
    ami_server.channels["1795353419.13"] = {"Channel": "PJSIP/caller-00000001"}
    bridge = await ami_bridge(settings, db, ami_server, acd)
    talking = asyncio.Event()
    async with db.session() as s:
        s.add(Agent(id=7, name="Agent Seven", endpoint="PJSIP/agent1"))
    try:
        phone = FakeAgiCall(bridge.agi.port, keys=["9"], dial_hold=talking)
        runner = asyncio.create_task(phone.run())
        await phone.wait_for("WAIT FOR DIGIT 250")
        await bridge.offer(offer("call-1795353419.13"))
        await phone.wait_for("EXEC Dial")
        ami_server.emit({"Event": "DialEnd", "Privilege": "call,all", "Channel": "PJSIP/caller-00000001",
                         "DestChannel": "PJSIP/agent1-00000002", "DestUniqueid": "1795353420.2", "DialStatus": "ANSWER"})
        await acd.wait_for("offer_answered")
        assert not any(c[0] == "call_ended" for c in acd.calls)  # still talking
        ami_server.emit({"Event": "Hangup", "Privilege": "call,all", "Channel": "PJSIP/agent1-00000002",
                         "Uniqueid": "1795353420.2", "Cause": "16", "Cause-txt": "Normal Clearing"})
        await bridge.ami.action({"Action": "Ping"})
        await bridge.events_drained()
        talking.set()
        await asyncio.wait_for(runner, 10)
        assert [c[0] for c in acd.calls] == ["enqueue", "offer_answered", "call_ended"]
        async with db.session() as s:
            leg = (await s.execute(select(CallLeg))).scalar_one()
        assert (leg.kind, leg.agent_id, leg.endpoint, leg.external_id, leg.end_reason) == (
            "agent", 7, "PJSIP/agent1", "1795353420.2", "cause-16 Normal Clearing")
        assert leg.answered_at is not None
    finally:
        await bridge.stop()


async def test_place_outbound_rings_the_agent_first(settings, db, ami_server) -> None:
    from acd.ports import OutboundCall

    acd = RecordingAcd()
    bridge = await ami_bridge(settings, db, ami_server, acd)
    try:
        ami_server.originate_outcomes.extend(["success", "failure"])
        await bridge.place_outbound(OutboundCall("cb-1", 3, "PJSIP/agent3", "13800138000", "callback", 11))
        await acd.wait_for("offer_answered")
        sent = await ami_server.wait_action("Originate")
        assert (sent["Channel"], sent["Context"], sent["Exten"], sent["Async"]) == (
            "PJSIP/agent3", "hotline-outbound", "13800138000", "true")
        assert sent["CallerID"] == settings.ami.originate_caller_id
        assert sorted(sent["Variable"]) == ["HOTLINE_CALL_ID=cb-1", "HOTLINE_PURPOSE=callback", "HOTLINE_REFERENCE=11"]
        await bridge.place_outbound(OutboundCall("cb-2", 3, "PJSIP/agent3", "13800138000", "callback", 12))
        assert await acd.wait_for("offer_failed") == ("offer_failed", "cb-2", 3, "no-answer")
    finally:
        await bridge.stop()


async def test_status_reports_listener_and_login(settings, db, ami_server) -> None:
    bridge = await ami_bridge(settings, db, ami_server)
    try:
        assert bridge.status() == {"asterisk_agi": True, "asterisk_ami": True}
        await ami_server.stop()
        await bridge.ami.wait_until(lambda: not bridge.ami.logged_in.is_set())
        assert bridge.status() == {"asterisk_agi": True, "asterisk_ami": False}
    finally:
        await bridge.stop()
    assert bridge.status()["asterisk_agi"] is False


async def test_logs_never_contain_the_ami_secret(settings, db, ami_server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    bridge = await ami_bridge(settings, db, ami_server)
    await bridge.stop()
    assert "s3cret" not in caplog.text


async def test_ami_restart_while_a_caller_waits_on_hold(settings, db, ami_server) -> None:
    """The AMI link drops and comes back while an AGI caller is on hold: the resync keeps the call
    (a live session of ours), and the caller still reaches an agent afterwards."""
    from tests.asterisk.doubles import offer

    acd = RecordingAcd()
    bridge = await ami_bridge(settings, db, ami_server, acd)
    try:
        phone = FakeAgiCall(bridge.agi.port, keys=["9"])
        runner = asyncio.create_task(phone.run())
        await phone.wait_for("WAIT FOR DIGIT 250")
        call_id = next(iter(bridge.sessions))
        await make_call(db, "unrelated.1", "stale-call")
        await ami_server.restart()  # CoreShowChannels now lists nothing at all
        await bridge.ami.wait_until(lambda: bridge.ami.connections == 2)
        await ami_server.wait_action("DeviceStateList", 2)
        await bridge.ami.action({"Action": "Ping"})
        await bridge.events_drained()
        async with db.session() as s:
            stale = await s.get(Call, "stale-call")
            held = await s.get(Call, call_id)
        assert stale.end_reason == "pbx-channel-gone"
        assert held.ended_at is None  # a live session of ours: untouched by the resync
        await bridge.offer(offer(call_id))
        await asyncio.wait_for(runner, 10)
        assert [c[0] for c in acd.calls] == ["enqueue", "offer_answered", "call_ended"]
        await bridge.wait_idle()
        async with db.session() as s:
            held = await s.get(Call, call_id)
        assert (held.end_reason, held.status) == ("completed", "completed")  # closed by the bridge
    finally:
        await bridge.stop()


async def test_actions_before_login_wait_instead_of_crashing(ami_server: FakeAmiServer) -> None:
    from hotline.telephony.asterisk.ami import AmiNotConnected

    client = client_for(ami_server)
    with pytest.raises(AmiNotConnected):  # never started: a clear error, not AttributeError
        await client.action({"Action": "Ping"}, timeout_s=0.05)
    pending = asyncio.create_task(client.action({"Action": "Ping"}))  # sent as soon as we are logged in
    await client.start()
    try:
        assert (await pending).ping == "Pong"
    finally:
        await client.stop()


async def test_queueadd_reply_resolves(ami_server: FakeAmiServer) -> None:
    # panoramisk takes "Added interface to queue" for the start of a list unless as_list=False
    client = client_for(ami_server)
    await client.start()
    try:
        reply = await client.action({"Action": "QueueAdd", "Queue": "support", "Interface": "PJSIP/agent1"})
        assert reply.message == "Added interface to queue"
    finally:
        await client.stop()


async def test_filter_actions_are_well_formed(settings, db, ami_server) -> None:
    bridge = await ami_bridge(settings, db, ami_server)
    try:
        first = await ami_server.wait_action("Filter")
        second = await ami_server.wait_action("Filter", 2)
        for action in (first, second):
            assert action["Operation"] == "Add" and "\r" not in action["Filter"] and "\n" not in action["Filter"]
        assert second["Filter"] == "Variable: MIXMONITOR_FILENAME"
        assert not any(set(a) <= {"Operation"} for a in ami_server.actions)  # nothing split off
    finally:
        await bridge.stop()


async def test_line_breaks_in_values_are_refused_before_sending(ami_server: FakeAmiServer) -> None:
    client = client_for(ami_server)
    await client.start()
    try:
        await client.wait_logged_in()
        with pytest.raises(ValueError, match="line break"):
            await client.originate("PJSIP/agent1", context="hotline-outbound", exten="100\r\nAction: Hangup")
        assert not ami_server._named("Originate") and not ami_server._named("Hangup")
    finally:
        await client.stop()


async def test_resync_leaves_calls_that_began_after_the_channel_list_was_asked_for(db) -> None:
    """A call answered over FastAGI while the PBX lists its channels is not in that list: it must
    not be closed as "gone"."""
    from datetime import timedelta

    from calls.record import CallRecord
    from hotline.db import utcnow
    from hotline.telephony.asterisk.facts import PbxFacts

    asked_at = utcnow()
    async with db.session() as s:
        s.add(Call(id="old", channel="asterisk", external_id="1.1", started_at=asked_at - timedelta(minutes=5),
                   attributes={}))
        s.add(Call(id="new", channel="asterisk", external_id="1.2", started_at=asked_at + timedelta(seconds=1),
                   attributes={}))
    closed = await PbxFacts(CallRecord(db)).resync_channels(set(), set(), keep=(), started_before=asked_at)
    assert closed == 1
    async with db.session() as s:
        old, new = await s.get(Call, "old"), await s.get(Call, "new")
    assert old.end_reason == "pbx-channel-gone" and new.ended_at is None
