"""AMI client: panoramisk's Manager with the fixes LIBRARIES.md calls for.

- Bytes are buffered to the end of each message before decoding (a UTF-8 character split across
  TCP reads survives); the greeting line is consumed on its own.
- Our own supervisor connects, logs in and reconnects with exponential backoff; a wrong secret is
  reported (AmiAuthError to waiters, an error log per attempt, `auth_failed` for /readyz) instead
  of panoramisk's silent retry loop.
- Our own liveness ping with a timeout aborts a silent-but-open connection to force a reconnect.
- Actions wait for the login (never panoramisk's AttributeError before connect), carry an ActionID,
  time out after `action_timeout_s`, and raise AmiActionError carrying the PBX's message when it
  says no. Pending actions fail at once when the connection drops; nothing is silently resent
  after a reconnect (a resent Originate would ring a customer twice).
- Originate always carries `Async`; replies are read with explicit `as_list`.
- After every login and every FullyBooted: `on_resync` runs (live channels, agent device states).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from panoramisk import actions
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.manager import Manager
from panoramisk.message import Message

log = logging.getLogger(__name__)

GREETING = b"Asterisk Call Manager/"


class AmiError(Exception):
    """Base of every AMI failure."""


class AmiActionError(AmiError):
    """The PBX refused an action; `message` is the PBX's own text."""

    def __init__(self, action: str, message: str, response: Any = None) -> None:
        super().__init__(f"{action}: {message}")
        self.action = action
        self.message = message
        self.response = response


class AmiTimeout(AmiError):
    pass


class AmiNotConnected(AmiError):
    pass


class AmiConnectionLost(AmiError):
    pass


class AmiAuthError(AmiError):
    """The PBX refused our username/secret."""


class _EverythingForgettable:
    """panoramisk resends unanswered actions after a reconnect unless 'forgettable': we never want that."""

    def __contains__(self, item: object) -> bool:
        return True


class BufferedAmiProtocol(AMIProtocol):  # type: ignore[misc]  # panoramisk ships no types
    """Splits the byte stream into messages first, then decodes each one whole."""

    factory: _Manager

    def __init__(self, factory: _Manager) -> None:
        self._factory = factory

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.factory = self._factory  # the base class resets it; events may arrive before we return
        self._buffer = bytearray()
        self._greeted = False
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._greeted:
            end = self._buffer.find(b"\r\n")
            if end < 0:
                return
            line = bytes(self._buffer[:end])
            if line.startswith(GREETING):
                self.version = line[len(GREETING) :].decode("ascii", "replace").strip()
                del self._buffer[: end + 2]
            self._greeted = True
        buffer, start = self._buffer, 0
        while True:
            end = buffer.find(b"\r\n\r\n", start)
            if end < 0:
                break
            text = buffer[start:end].decode("utf-8", "replace").strip()
            start = end + 4
            message = parse_message(text)
            if message is None:
                continue
            try:
                if "actionid" in message:
                    self.handle_message(message)  # a reply, a list item, OriginateResponse...
                else:
                    self.factory.dispatch(message)  # a plain event: skip the reply lookup
            except Exception:  # one odd message must not drop the connection (panoramisk would)
                log.exception("ami: could not handle %s", message.get("Event") or message.get("Response"))
        if start:
            del buffer[:start]  # once per read, not once per message

    def close(self) -> None:
        for action in list(self.responses.values()):
            if not action.future.done():
                action.future.set_exception(AmiConnectionLost("AMI connection lost"))
                action.future.add_done_callback(_retrieve)
        super().close()
        if not self.lost.done():
            self.lost.set_result(None)


def parse_message(text: str) -> Message | None:
    """One AMI message (without its blank line) → panoramisk Message; repeated headers → lists."""
    if text.startswith("Response: Follows"):
        return Message.from_line(text)  # the pre-AMI-2 command body form
    headers: dict[str, Any] = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            if not line.endswith(":"):
                continue
            key, value = line[:-1], ""
        if key == "Result":
            value = unquote(value).strip()  # as panoramisk does for AGI results over AMI
        previous = headers.get(key)
        if previous is None:
            headers[key] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            headers[key] = [previous, value]
    if "Event" not in headers and "Response" not in headers:
        return None
    # Message(headers) would set the keys one by one through CaseInsensitiveDict.__setitem__;
    # building its store directly halves the cost of an event (same content, same behaviour).
    message = Message.__new__(Message)
    store = {key.lower(): (key, value) for key, value in headers.items()}
    store.setdefault("content", ("content", ""))
    message._store = store
    message.manager = None
    return message


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class _Manager(Manager):  # type: ignore[misc]  # panoramisk ships no types
    """Manager whose connection life cycle is driven by AmiClient (no built-in retry, no blind ping)."""

    pinger: asyncio.TimerHandle | None

    def ping(self) -> None:  # liveness is AmiClient's job
        return None

    def dispatch(self, event: Message) -> list[str]:
        """Exact event names by dict lookup (the hot path), wildcard patterns as panoramisk does."""
        name = event.get("Event", "")
        event.manager = self
        handlers = self.callbacks.get(name)
        matches = []
        if handlers and name not in self._wildcards:
            matches.append(name)
            for callback in handlers:
                self._call(callback, event)
        for pattern, regexp in self.patterns:
            if pattern in self._wildcards and regexp.match(name):
                matches.append(pattern)
                for callback in self.callbacks[pattern]:
                    self._call(callback, event)
        return matches

    def _call(self, callback: Any, event: Message) -> None:
        ret = callback(self, event)
        if asyncio.iscoroutine(ret) or isinstance(ret, asyncio.Future):
            asyncio.ensure_future(ret)

    def register_event(self, pattern: str, callback: Any = None) -> Any:
        if any(ch in pattern for ch in "*?["):
            self._wildcards.add(pattern)
        return super().register_event(pattern, callback)

    @property
    def _wildcards(self) -> set[str]:
        wildcards = self.__dict__.get("_wildcard_set")
        if wildcards is None:
            wildcards = self.__dict__["_wildcard_set"] = set()
        return wildcards

    def connection_lost(self, exc: Any) -> None:
        self._connected = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None


EventHandler = Callable[[Message], None]


class AmiClient:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        action_timeout_s: float = 10.0,
        ping_interval_s: float = 10.0,
        ping_timeout_s: float | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        events: str = "system,call,dialplan,agent,user",
        event_filters: tuple[str, ...] = (),
        on_resync: Callable[[AmiClient], Awaitable[None]] | None = None,
    ) -> None:
        self.host, self.port, self.username = host, port, username
        self._secret = secret
        self.action_timeout_s = action_timeout_s
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s or action_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.events = events
        self.event_filters = event_filters
        self.on_resync = on_resync
        self.manager = _Manager(
            host=host, port=port, protocol_factory=BufferedAmiProtocol, forgetable_actions=_EverythingForgettable()
        )
        self.manager.callbacks.pop("FullyBooted", None)
        self.manager.patterns.clear()
        self.manager.register_event("FullyBooted", self._on_fully_booted)
        self.logged_in = asyncio.Event()
        self.auth_failed = False
        self.last_error: str = ""
        self.connections = 0  # successful logins so far (tests and /readyz detail)
        self._state_changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._resync_generation = -1
        self._protocol: BufferedAmiProtocol | None = None

    # --- life cycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="ami-supervisor")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._side_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        self._side_tasks.clear()
        if self._protocol is not None:
            self._protocol.close()
        self.logged_in.clear()

    async def wait_logged_in(self, timeout_s: float | None = None) -> None:
        """Wait until logged in. AmiAuthError if the PBX refused our secret, AmiNotConnected on timeout."""
        try:
            async with asyncio.timeout(self.action_timeout_s if timeout_s is None else timeout_s):
                while not self.logged_in.is_set():
                    if self.auth_failed:
                        raise AmiAuthError(self.last_error)
                    self._state_changed.clear()
                    await self._state_changed.wait()
        except TimeoutError:
            raise AmiNotConnected(self.last_error or "AMI not connected") from None

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until `predicate()` holds, re-checked at every connection state change."""
        while not predicate():
            self._state_changed.clear()
            await self._state_changed.wait()

    def on(self, pattern: str, handler: EventHandler) -> None:
        """Call `handler(message)` for events matching `pattern` (fnmatch, e.g. "Hangup", "Agent*")."""
        self.manager.register_event(pattern, lambda _manager, message: handler(message))

    def _changed(self) -> None:
        self._state_changed.set()

    async def _supervise(self) -> None:
        delay = self.backoff_initial_s
        while True:
            protocol = None
            try:
                protocol = await self._connect_and_login()
            except AmiAuthError as exc:
                self.auth_failed = True
                self.last_error = str(exc)
                log.error(
                    "ami: %s:%d refused login for user %r (%s): check manager.conf and HOTLINE_AMI_SECRET",
                    self.host, self.port, self.username, exc,
                )
            except (OSError, TimeoutError, AmiError) as exc:
                self.last_error = f"cannot reach AMI at {self.host}:{self.port}: {exc or type(exc).__name__}"
                log.warning("ami: %s; retrying in %.1f s", self.last_error, delay)
            else:
                delay = self.backoff_initial_s
                self.auth_failed = False
                self.last_error = ""
                self.connections += 1
                self.logged_in.set()
                self._changed()
                log.info("ami: logged in to %s:%d as %r", self.host, self.port, self.username)
                pinger = asyncio.create_task(self._liveness(protocol))
                self._spawn(self._after_login())
                try:
                    await protocol.lost
                finally:
                    pinger.cancel()
                    self.logged_in.clear()
                    self._changed()
                log.warning("ami: connection to %s:%d lost; reconnecting", self.host, self.port)
                self.last_error = "connection lost"
            finally:
                if protocol is not None and not protocol.lost.done():
                    protocol.close()
            self._changed()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max_s)

    async def _connect_and_login(self) -> BufferedAmiProtocol:
        loop = asyncio.get_running_loop()
        mgr = self.manager
        async with asyncio.timeout(self.action_timeout_s):
            _, protocol = await loop.create_connection(lambda: BufferedAmiProtocol(mgr), self.host, self.port)
        assert isinstance(protocol, BufferedAmiProtocol)
        mgr.loop = loop
        mgr.protocol = protocol
        protocol.log = log
        protocol.encoding = mgr.encoding = "utf-8"
        mgr.responses = protocol.responses
        mgr._connected = True
        self._protocol = protocol
        login = actions.Action(
            {"Action": "Login", "Username": self.username, "Secret": self._secret, "Events": self.events},
            as_list=False,
        )
        try:
            async with asyncio.timeout(self.action_timeout_s):
                reply = await protocol.send(login, as_list=False)
        except BaseException:
            protocol.close()
            raise
        if not reply.success:
            protocol.close()
            raise AmiAuthError(reply.message or "Authentication failed")
        mgr.authenticated = True
        return protocol

    async def _liveness(self, protocol: BufferedAmiProtocol) -> None:
        while True:
            await asyncio.sleep(self.ping_interval_s)
            try:
                await self.action({"Action": "Ping"}, timeout_s=self.ping_timeout_s)
            except AmiTimeout:
                log.warning("ami: no Pong within %.1f s; dropping the connection", self.ping_timeout_s)
                if protocol.transport is not None:
                    protocol.transport.abort()
                return
            except AmiError:
                return

    async def _after_login(self) -> None:
        for expression in self.event_filters:
            try:
                await self.action({"Action": "Filter", "Operation": "Add", "Filter": expression})
            except AmiError as exc:  # permission missing: manager.conf eventfilter does the same job
                log.info("ami: event filter not set (%s); relying on manager.conf eventfilter", exc)
                break
        await self._resync()

    def _on_fully_booted(self, _manager: Manager, _message: Message) -> None:
        self._spawn(self._resync())

    async def _resync(self) -> None:
        generation = self.connections
        if self._resync_generation == generation or self.on_resync is None:
            return
        self._resync_generation = generation
        try:
            await self.on_resync(self)
        except AmiError as exc:
            log.warning("ami: resync failed: %s", exc)
            self._resync_generation = -1
        except Exception:
            log.exception("ami: resync failed")
            self._resync_generation = -1

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    # --- actions ------------------------------------------------------------------------------------

    async def action(
        self, fields: dict[str, Any], *, as_list: bool | None = False, timeout_s: float | None = None
    ) -> Any:
        """Send one action and return its reply: a Message, or a list of Messages for list actions
        (`as_list=True`) and async Originate. Raise AmiActionError / AmiTimeout / AmiNotConnected."""
        timeout = self.action_timeout_s if timeout_s is None else timeout_s
        name = fields.get("Action", "?")
        for key, value in fields.items():
            for item in value if isinstance(value, list | tuple) else (value,):
                if any(ch in str(item) for ch in "\r\n"):
                    # a line break would end the header early and smuggle in another action
                    raise ValueError(f"AMI {name}: {key} holds a line break")
        if not self.logged_in.is_set():
            await self.wait_logged_in(timeout)
        protocol = self._protocol
        assert protocol is not None
        action = actions.Action(dict(fields), as_list=as_list)
        future = protocol.send(action, as_list=as_list)
        try:
            async with asyncio.timeout(timeout):
                reply = await future
        except TimeoutError:
            protocol.responses.pop(action.action_id, None)
            raise AmiTimeout(f"{name}: no reply within {timeout:.1f} s") from None
        except AmiConnectionLost:
            raise AmiConnectionLost(f"{name}: AMI connection lost before the reply") from None
        first = reply[0] if isinstance(reply, list) else reply
        if not first.success:
            raise AmiActionError(name, first.message or first.response or "refused", reply)
        return reply

    async def list_action(self, fields: dict[str, Any], item_event: str) -> list[Message]:
        """A list action (EventList: start ... <X>Complete); return its item events."""
        # as_list=None: panoramisk tells a list (EventList: start) from a refusal (Response: Error);
        # with as_list=True a refusal would never resolve.
        replies = await self.action(fields, as_list=None)
        replies = replies if isinstance(replies, list) else [replies]
        return [m for m in replies if m.get("Event", "") == item_event]

    async def originate(
        self,
        channel: str,
        *,
        context: str = "",
        exten: str = "",
        priority: int = 1,
        application: str = "",
        data: str = "",
        caller_id: str = "",
        variables: dict[str, str] | None = None,
        ring_timeout_s: float = 30.0,
        account: str = "",
    ) -> Message:
        """Async Originate; wait for OriginateResponse. Return it on Success; AmiActionError on Failure."""
        fields: dict[str, Any] = {
            "Action": "Originate",
            "Channel": channel,
            "Async": "true",  # without it panoramisk raises inside data_received
            "Timeout": str(int(ring_timeout_s * 1000)),
        }
        if application:
            fields.update(Application=application, Data=data)
        else:
            fields.update(Context=context, Exten=exten, Priority=str(priority))
        if caller_id:
            fields["CallerID"] = caller_id
        if account:
            fields["Account"] = account
        if variables:
            fields["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        # as_list=None: "successfully queued" + OriginateResponse is a list, "Originate failed" is not.
        replies = await self.action(fields, as_list=None, timeout_s=self.action_timeout_s + ring_timeout_s)
        result = replies[-1] if isinstance(replies, list) else replies
        if result.get("Event", "") == "OriginateResponse" and result.get("Response", "") != "Success":
            raise AmiActionError("Originate", f"{result.get('Response', 'Failure')} (reason {result.get('Reason', '?')})", result)
        return result

    async def hangup(self, channel: str, cause: int = 16) -> None:
        await self.action({"Action": "Hangup", "Channel": channel, "Cause": str(cause)})

    async def mix_monitor_mute(self, channel: str, muted: bool, direction: str = "both") -> None:
        await self.action(
            {"Action": "MixMonitorMute", "Channel": channel, "Direction": direction, "State": "1" if muted else "0"}
        )

    async def ping(self) -> None:
        await self.action({"Action": "Ping"})


def header_list(message: Message, name: str) -> list[str]:
    """A header that may repeat (Output:, Variable:) always as a list."""
    value = message.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
