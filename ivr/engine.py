"""The voice-menu interpreter: `step(session, event) -> actions`. Pure: no I/O, no clock of its own.

Banking work is asked for with `RunOperation`; the IVR service runs it and feeds back an
`OperationResult`. Everything the caller can press:
- in a menu (one key, no finish key): an option, `*` repeat, `#` back, `0` an agent;
- in an entry (card number, PIN, amount: ended by `#`): the digits; `*` alone repeats the question,
  `0` alone asks for an agent. An empty entry is silence: a real Asterisk returns an empty result
  when a `#` left over from the previous entry ends the next one at once.
Invalid input plays "not a valid choice" and asks again; silence asks again; after
`max_failures` of either at one question the caller goes to an agent (when the queue is open) or
hears goodbye.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from hotline.db import utcnow
from hotline.settings import IvrSettings
from ivr.actions import Action, Gather, Hangup, Prompt, RunOperation, SetAttribute, Transfer
from ivr.banking.pins import PIN_LENGTH, weak_pin_reason
from ivr.banking.ports import AccountInfo, BillerInfo
from ivr.events import CallStarted, Digits, Event, HungUp, OperationResult, Timeout
from ivr.menus import AgentNode, GoodbyeNode, LanguageNode, MenuNode, MenuTree, Routing, ServiceNode
from ivr.prompts import PromptBook
from ivr.session import PathStep, Session

IsOpen = Callable[[str, datetime], bool]

MENU_TIMEOUT_S = 6.0
ENTRY_TIMEOUT_S = 10.0
NUMBER_MAX = 20  # card numbers run to 19 digits; one more so a trailing '#' is read, not left over
PIN_MAX = PIN_LENGTH + 1
LAST4_MAX = 5
AMOUNT_MAX = 13  # 9 digits of yuan, '*', 2 of fen, and one spare
CARD_CATEGORY = "card_loss"  # the business of a caller whose card is lost or frozen

# Prompt ids the engine plays itself (menus name theirs in menus.yaml); checked at start-up.
ENGINE_PROMPTS = frozenset({
    "welcome", "greet_customer", "invalid_choice", "goodbye", "service_error", "cancelled", "transfer_hold",
    "agent_closed", "enter_card", "invalid_card", "enter_pin", "wrong_pin", "pin_locked", "pin_busy",
    "card_blocked", "balance_account",
    "account_savings", "account_current", "account_other", "no_accounts", "loss_enter_last4", "loss_not_found",
    "loss_done", "loss_already", "pin_enter_old", "pin_enter_new", "pin_enter_again", "pin_format",
    "pin_mismatch", "pin_weak_same_digit", "pin_weak_sequence", "pin_weak_same_as_old", "pin_weak_birth_date",
    "pin_changed", "transfer_need_two", "choose_from_account", "choose_to_account", "account_option",
    "enter_amount", "invalid_amount", "transfer_confirm", "transfer_done", "insufficient_funds", "daily_limit",
    "bill_none", "choose_biller", "biller_option", "biller_other", "bill_confirm", "bill_done",
})


# Prompt ids the bridges play around the IVR (queue announcements, callbacks, the survey).
BRIDGE_PROMPTS = frozenset({
    "queue_hold", "queue_position", "callback_offer", "callback_confirmed", "agent_unavailable",
    "agent_closed", "survey_question", "survey_thanks", "invalid_choice", "goodbye", "transfer_hold",
})


def always_open(queue: str, now: datetime) -> bool:
    return True


def parse_amount(keys: str) -> int | None:
    """Keys as entered, `*` for the decimal point ("1234*5" = 1234.50 CNY) → fen; None if invalid."""
    yuan, _, fraction = keys.partition("*")
    if not (yuan or fraction) or not (yuan.isdigit() or yuan == "") or len(yuan) > 9:
        return None
    if fraction and (not fraction.isdigit() or len(fraction) > 2):
        return None
    fen = int(yuan or "0") * 100 + (int(fraction.ljust(2, "0")) if fraction else 0)
    return fen or None


class Engine:
    def __init__(self, menus: MenuTree, prompts: PromptBook, settings: IvrSettings, routing: Routing, *,
                 is_open: IsOpen | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.menus = menus
        self.routing = routing
        self.prompts = prompts
        self.settings = settings
        self.is_open = is_open or always_open
        self.clock = clock

    def new_session(self, call_id: str) -> Session:
        return Session(call_id=call_id, language=self.settings.default_language)

    # --- the one entry point -------------------------------------------------------------------

    def step(self, s: Session, event: Event) -> list[Action]:
        if isinstance(event, HungUp):
            if not s.ended:
                s.ended, s.end_reason = True, f"hangup:{event.reason}"
                s.scratch.clear()
                s.path.append(PathStep(self._where(s), "end", event.reason))
            return []
        if s.finished:
            return [Hangup(reason="ivr_finished")]
        if isinstance(event, CallStarted):
            return self._start(s, event)
        if isinstance(event, OperationResult):
            return self._result(s, event)
        if isinstance(event, Digits) and event.digits:
            return self._keys(s, event.digits)
        if isinstance(event, Digits | Timeout):
            return self._silence(s)
        raise TypeError(f"not an IVR event: {event!r}")

    # --- start and language ----------------------------------------------------------------------

    def _start(self, s: Session, event: CallStarted) -> list[Action]:
        s.caller_number, s.dialled_number = event.caller_number, event.dialled_number
        language = event.language
        if language is None and event.dialled_number in self.settings.english_numbers:
            language = "en-US"
        if language is not None:
            s.language, s.language_known = language, True
        s.path.append(PathStep("start", "enter", "", s.language if s.language_known else ""))
        return self._run(s, "identify", caller_number=event.caller_number)

    def _identified(self, s: Session, result: OperationResult) -> list[Action]:
        s.customer = result.data.get("customer")
        actions: list[Action] = []
        if s.customer is not None:
            actions.append(SetAttribute("customer_id", str(s.customer.id)))
        if not s.language_known:
            return actions + self._enter(s, self.menus.language_menu)
        return actions + [SetAttribute("language", s.language)] + self._welcome(s)

    def _welcome(self, s: Session) -> list[Action]:
        lead = [self._p(s, "welcome")]
        if s.customer is not None:
            english = s.language == "en-US"
            c = s.customer
            lead.append(self._p(s, "greet_customer", surname=c.surname_en if english else c.surname,
                                title=c.title_en if english else c.title))
        return self._enter(s, self.menus.start, lead=lead, push=False)

    def _language_key(self, s: Session, node: LanguageNode, keys: str) -> list[Action]:
        if keys == "*":
            return self._reask(s)
        if keys not in node.options:
            return self._fail(s, invalid=True)
        s.language, s.language_known = node.options[keys], True
        return [SetAttribute("language", s.language)] + self._welcome(s)

    # --- menus -------------------------------------------------------------------------------------

    def _enter(self, s: Session, name: str, *, lead: Sequence[Prompt] = (), keep: Sequence[Prompt] = (),
               push: bool = True) -> list[Action]:
        """Go to a node. `lead` is heard once; `keep` is heard again when the caller presses `*`."""
        node = self.menus.nodes[name]
        s.path.append(PathStep(name, "enter"))
        if isinstance(node, LanguageNode):
            s.node = name
            prompts = [self.prompts.render(pid, lang) for pid in node.prompts for lang in ("zh-CN", "en-US")]
            return self._ask(s, "language", [*keep, *prompts], lead=lead)
        if isinstance(node, MenuNode):
            if name == self.menus.start:
                s.stack.clear()  # the top: nothing to go back to
            elif push and s.node and s.node != name and isinstance(self.menus.nodes.get(s.node), MenuNode):
                s.stack.append(s.node)
            s.node, s.service, s.category = name, "", node.category
            s.scratch.clear()
            return self._ask(s, "menu", [*keep, self._p(s, node.prompt)], lead=lead)
        if isinstance(node, ServiceNode):
            s.service, s.category, s.business = name, node.category, node.category
            s.scratch.clear()
            if node.verify and not s.verified:
                return self._ask_number(s, lead)
            return self._begin_flow(s, node, lead)
        if isinstance(node, AgentNode):
            return self._agent(s, node.category, lead=lead, queue=node.queue, giving_up=False)
        assert isinstance(node, GoodbyeNode)
        return self._goodbye(s, "completed", lead)

    def _menu_key(self, s: Session, keys: str) -> list[Action]:
        node = self.menus.nodes[s.node]
        assert isinstance(node, MenuNode)
        if keys in node.options:
            return self._enter(s, node.options[keys])
        return self._fail(s, invalid=True)

    def _back(self, s: Session, lead: Sequence[Prompt] = ()) -> list[Action]:
        """`#`: leave a service for its menu, or a menu for the one before it."""
        if s.service:
            s.service = ""
            return self._enter(s, s.node, lead=lead, push=False)
        if s.stack:
            return self._enter(s, s.stack.pop(), lead=lead, push=False)
        return self._reask(s, lead)

    def _after_service(self, s: Session, result: Sequence[Prompt], *, done: bool = True) -> list[Action]:
        s.business_done = s.business_done or done
        s.service = ""
        actions = self._enter(s, self.menus.after_service, keep=result)
        # `0` right after an operation is most likely about it
        s.category = s.business or s.category
        return actions

    # --- input dispatch ----------------------------------------------------------------------------

    def _keys(self, s: Session, keys: str) -> list[Action]:
        secure = s.repeat is not None and s.repeat.secure
        s.path.append(PathStep(self._where(s), "key", "*" * len(keys) if secure else keys))
        if s.step == "language":
            node = self.menus.nodes[s.node]
            assert isinstance(node, LanguageNode)
            return self._language_key(s, node, keys)
        if keys == "*":
            return self._reask(s)
        if keys == "0":
            return self._agent(s, s.category, giving_up=False)
        if keys == "#" and s.step in _CHOICE_STEPS:
            return self._back(s)
        handler = _HANDLERS.get(s.step)
        if handler is None:  # keys while an operation runs: the service never lets this happen
            return []
        return handler(self, s, keys)

    def _silence(self, s: Session) -> list[Action]:
        s.path.append(PathStep(self._where(s), "timeout"))
        if s.step.startswith("op:") or s.repeat is None:
            return []
        return self._fail(s, invalid=False)

    def _fail(self, s: Session, *, invalid: bool, lead: Sequence[Prompt] = ()) -> list[Action]:
        s.failures += 1
        if s.failures >= self.settings.max_failures:
            if s.step == "language":  # nobody chose: carry on in the default language
                s.language_known = True
                return [SetAttribute("language", s.language)] + self._welcome(s)
            return self._give_up(s)
        if invalid and not lead:
            lead = [self._p(s, "invalid_choice")]
        return self._reask(s, lead)

    def _give_up(self, s: Session, lead: Sequence[Prompt] = ()) -> list[Action]:
        return self._agent(s, s.category, lead=lead, giving_up=True)

    # --- leaving the IVR -----------------------------------------------------------------------------

    def _agent(self, s: Session, category: str, *, lead: Sequence[Prompt] = (), queue: str | None = None,
               giving_up: bool) -> list[Action]:
        vip = s.customer is not None and s.customer.segment == "vip"
        queue = self.menus.agent.vip_queue if vip else (queue or self.routing.queue_for(category))
        if not self.is_open(queue, self.clock()):
            closed = [*lead, self._p(s, "agent_closed")]
            if giving_up or s.repeat is None:
                return self._goodbye(s, "agent_closed", closed)
            s.path.append(PathStep(self._where(s), "transfer", f"{queue}/{category}", "closed"))
            return self._reask(s, closed)
        s.transferred, s.queue, s.category = True, queue, category
        s.scratch.clear()
        s.path.append(PathStep(self._where(s), "transfer", f"{queue}/{category}", "failures" if giving_up else ""))
        priority = self.menus.agent.vip_priority if vip else 0
        return [Transfer(queue=queue, category=category, skills=self.menus.skills_for(category), priority=priority,
                         prompts=(*lead, self._p(s, "transfer_hold")))]

    def _goodbye(self, s: Session, reason: str, lead: Sequence[Prompt] = ()) -> list[Action]:
        s.ended, s.end_reason = True, reason
        s.scratch.clear()
        s.path.append(PathStep(self._where(s), "end", reason))
        return [Hangup(reason=reason, prompts=(*lead, self._p(s, "goodbye")))]

    # --- verification --------------------------------------------------------------------------------

    def _ask_number(self, s: Session, lead: Sequence[Prompt] = ()) -> list[Action]:
        return self._ask(s, "verify_number", [self._p(s, "enter_card")], lead=lead, max_digits=NUMBER_MAX,
                         finish="#", secure=True, timeout=ENTRY_TIMEOUT_S)

    def _ask_pin(self, s: Session, step: str, prompt_id: str, lead: Sequence[Prompt] = ()) -> list[Action]:
        return self._ask(s, step, [self._p(s, prompt_id)], lead=lead, max_digits=PIN_MAX, finish="#",
                         secure=True, timeout=ENTRY_TIMEOUT_S)

    def _number_entered(self, s: Session, keys: str) -> list[Action]:
        if not keys.isdigit() or not 12 <= len(keys) <= 19:
            return self._fail(s, invalid=True, lead=[self._p(s, "invalid_card")])
        s.scratch["number"] = keys
        return self._ask_pin(s, "verify_pin", "enter_pin")

    def _pin_entered(self, s: Session, keys: str) -> list[Action]:
        if len(keys) != PIN_LENGTH or not keys.isdigit():
            return self._fail(s, invalid=True, lead=[self._p(s, "pin_format")])
        return self._run(s, "verify", number=s.scratch["number"], pin=keys)

    def _verified(self, s: Session, result: OperationResult) -> list[Action]:
        outcome = result.outcome
        if outcome == "ok":
            s.scratch.clear()
            s.verified, s.customer, s.card_id = True, result.data["customer"], result.data["card_id"]
            s.identity_verified = True
            node = self.menus.nodes[s.service]
            assert isinstance(node, ServiceNode)
            return [SetAttribute("customer_id", str(s.customer.id)), SetAttribute("verified", "true"),
                    *self._begin_flow(s, node, ())]
        if outcome == "wrong_pin":
            lead = [self._p(s, "wrong_pin", attempts_left=result.data.get("attempts_left", 0))]
            return self._ask_pin(s, "verify_pin", "enter_pin", lead)
        if outcome == "not_found":
            misses = s.scratch.get("unknown_numbers", 0) + 1
            s.scratch = {"unknown_numbers": misses}
            lead = [self._p(s, "invalid_card")]
            if misses >= self.settings.max_failures:
                return self._give_up(s, lead)
            return self._ask_number(s, lead)
        if outcome == "busy":  # nothing was checked: not a failure, just ask again
            return self._ask_pin(s, "verify_pin", "enter_pin", [self._p(s, "pin_busy")])
        if outcome == "locked":
            return self._locked(s)
        if outcome == "card_blocked":
            return self._card_blocked(s)
        return self._error(s)

    def _locked(self, s: Session) -> list[Action]:
        return self._refused(s, "pin_locked")

    def _card_blocked(self, s: Session) -> list[Action]:
        """A lost or frozen card: no self-service with it. Back to the menu, where `0` (as the
        prompt says) reaches the card desk: reissuing or unfreezing a card is theirs."""
        actions = self._refused(s, "card_blocked")
        s.category = CARD_CATEGORY
        return actions

    def _refused(self, s: Session, prompt_id: str) -> list[Action]:
        s.scratch.clear()
        s.verified, s.card_id = False, None
        return self._back(s, [self._p(s, prompt_id)])

    def _error(self, s: Session) -> list[Action]:
        s.scratch.clear()
        return self._give_up(s, [self._p(s, "service_error")])

    # --- services --------------------------------------------------------------------------------------

    def _begin_flow(self, s: Session, node: ServiceNode, lead: Sequence[Prompt]) -> list[Action]:
        assert s.customer is not None
        s.scratch.clear()
        if node.flow == "balance" or node.flow == "transfer":
            return self._run(s, "accounts", customer_id=s.customer.id)
        if node.flow == "bill":
            return self._run(s, "billers", customer_id=s.customer.id)
        if node.flow == "card_loss":
            return self._ask(s, "loss_last4", [self._p(s, "loss_enter_last4")], lead=lead, max_digits=LAST4_MAX,
                             finish="#", secure=True, timeout=ENTRY_TIMEOUT_S)
        return self._ask_pin(s, "pin_old", "pin_enter_old", lead)

    def _flow(self, s: Session) -> str:
        node = self.menus.nodes[s.service]
        assert isinstance(node, ServiceNode)
        return node.flow

    def _accounts(self, s: Session, result: OperationResult) -> list[Action]:
        if result.outcome != "ok":
            return self._error(s)
        accounts: list[AccountInfo] = result.data["accounts"]
        flow = self._flow(s)
        if not accounts:
            return self._after_service(s, [self._p(s, "no_accounts")], done=False)
        if flow == "balance":
            lines = [self._p(s, "balance_account", kind=self._kind(a), last4=a.last4, amount=a.balance_fen)
                     for a in accounts]
            return self._after_service(s, lines)
        if flow == "transfer" and len(accounts) < 2:
            return self._after_service(s, [self._p(s, "transfer_need_two")], done=False)
        s.scratch["accounts"] = accounts
        if len(accounts) == 1:  # a bill from the only account there is
            s.scratch["from"] = accounts[0]
            return self._ask_amount(s)
        return self._ask_account(s, "pay_from", "choose_from_account", accounts)

    def _ask_account(self, s: Session, step: str, intro: str, choices: list[AccountInfo]) -> list[Action]:
        s.scratch["choices"] = choices
        options = [self._p(s, "account_option", kind=self._kind(a), last4=a.last4, key=str(i))
                   for i, a in enumerate(choices, 1)]
        return self._ask(s, step, [self._p(s, intro), *options])

    def _chosen(self, s: Session, keys: str) -> Any | None:
        choices = s.scratch["choices"]
        if keys.isdigit() and 1 <= int(keys) <= len(choices):
            return choices[int(keys) - 1]
        return None

    def _from_chosen(self, s: Session, keys: str) -> list[Action]:
        account = self._chosen(s, keys)
        if account is None:
            return self._fail(s, invalid=True)
        s.scratch["from"] = account
        if self._flow(s) == "bill":
            return self._ask_amount(s)
        others = [a for a in s.scratch["accounts"] if a.id != account.id]
        if len(others) == 1:
            s.scratch["to"] = others[0]
            return self._ask_amount(s)
        return self._ask_account(s, "pay_to", "choose_to_account", others)

    def _to_chosen(self, s: Session, keys: str) -> list[Action]:
        account = self._chosen(s, keys)
        if account is None:
            return self._fail(s, invalid=True)
        s.scratch["to"] = account
        return self._ask_amount(s)

    def _ask_amount(self, s: Session, lead: Sequence[Prompt] = ()) -> list[Action]:
        return self._ask(s, "pay_amount", [self._p(s, "enter_amount")], lead=lead, max_digits=AMOUNT_MAX,
                         finish="#", timeout=ENTRY_TIMEOUT_S)

    def _amount_entered(self, s: Session, keys: str) -> list[Action]:
        amount = parse_amount(keys)
        if amount is None:
            return self._fail(s, invalid=True, lead=[self._p(s, "invalid_amount")])
        s.scratch["amount"] = amount
        s.payments += 1
        s.scratch["key"] = f"{s.call_id}:{s.payments}"
        source = s.scratch["from"]
        if self._flow(s) == "transfer":
            confirm = self._p(s, "transfer_confirm", amount=amount, from_last4=source.last4,
                              to_last4=s.scratch["to"].last4)
        else:
            confirm = self._p(s, "bill_confirm", amount=amount, biller=self._biller(s.scratch["biller"]),
                              from_last4=source.last4)
        return self._ask(s, "pay_confirm", [confirm])

    def _confirmed(self, s: Session, keys: str) -> list[Action]:
        if keys == "2":
            return self._after_service(s, [self._p(s, "cancelled")], done=False)
        if keys != "1":
            return self._fail(s, invalid=True)
        assert s.customer is not None
        common = {"customer_id": s.customer.id, "from_account_id": s.scratch["from"].id,
                  "amount_fen": s.scratch["amount"], "idempotency_key": s.scratch["key"]}
        if self._flow(s) == "transfer":
            return self._run(s, "transfer", to_account_id=s.scratch["to"].id, **common)
        return self._run(s, "pay_bill", biller_id=s.scratch["biller"].id, **common)

    def _paid(self, s: Session, result: OperationResult) -> list[Action]:
        outcome = result.outcome
        if outcome == "ok":
            done_prompt = "transfer_done" if result.operation == "transfer" else "bill_done"
            return self._after_service(s, [self._p(s, done_prompt, reference=result.data["reference"])])
        if outcome == "insufficient_funds":
            return self._ask_amount(s, [self._p(s, "insufficient_funds")])
        if outcome == "limit_exceeded":
            return self._ask_amount(s, [self._p(s, "daily_limit", remaining=result.data.get("remaining_fen", 0))])
        return self._error(s)

    def _billers(self, s: Session, result: OperationResult) -> list[Action]:
        if result.outcome != "ok":
            return self._error(s)
        billers: list[BillerInfo] = result.data["billers"]
        if not billers:
            return self._after_service(s, [self._p(s, "bill_none")], done=False)
        s.scratch["billers"] = billers
        options = [self._p(s, "biller_option", biller=self._biller(b), key=str(i)) for i, b in enumerate(billers, 1)]
        return self._ask(s, "bill_choose", [self._p(s, "choose_biller"), *options])

    def _biller_chosen(self, s: Session, keys: str) -> list[Action]:
        billers = s.scratch["billers"]
        if not (keys.isdigit() and 1 <= int(keys) <= len(billers)):
            return self._fail(s, invalid=True)
        s.scratch["biller"] = billers[int(keys) - 1]
        assert s.customer is not None
        return self._run(s, "accounts", customer_id=s.customer.id)

    # card loss

    def _last4_entered(self, s: Session, keys: str) -> list[Action]:
        if len(keys) != 4 or not keys.isdigit():
            return self._fail(s, invalid=True)
        assert s.customer is not None
        return self._run(s, "report_loss", customer_id=s.customer.id, last4=keys)

    def _loss_reported(self, s: Session, result: OperationResult) -> list[Action]:
        data = result.data
        if result.outcome in ("ok", "already_reported"):
            prompt = "loss_done" if result.outcome == "ok" else "loss_already"
            lines = [self._p(s, prompt, last4=data["last4"], reference=data["reference"])]
            if s.verified and data.get("card_id") == s.card_id:
                # the card that verified this caller is now lost: it authorises nothing more
                s.verified, s.card_id = False, None
            return self._after_service(s, lines)
        if result.outcome == "not_found":
            s.step = "loss_last4"
            return self._fail(s, invalid=True, lead=[self._p(s, "loss_not_found")])
        return self._error(s)

    # PIN change: nothing is stored before the last step, so a hang-up anywhere changes nothing

    def _old_pin_entered(self, s: Session, keys: str) -> list[Action]:
        if len(keys) != PIN_LENGTH or not keys.isdigit():
            return self._fail(s, invalid=True, lead=[self._p(s, "pin_format")])
        s.scratch["old"] = keys
        return self._ask_pin(s, "pin_new", "pin_enter_new")

    def _new_pin_entered(self, s: Session, keys: str) -> list[Action]:
        reason = weak_pin_reason(keys, s.scratch["old"])
        if reason:
            return self._fail(s, invalid=True, lead=[self._p(s, _weak_prompt(reason))])
        s.scratch["new"] = keys
        return self._ask_pin(s, "pin_again", "pin_enter_again")

    def _pin_again_entered(self, s: Session, keys: str) -> list[Action]:
        if keys != s.scratch["new"]:
            del s.scratch["new"]
            return self._ask_pin(s, "pin_new", "pin_enter_new", [self._p(s, "pin_mismatch")])
        return self._run(s, "change_pin", card_id=s.card_id, old_pin=s.scratch["old"], new_pin=keys)

    def _pin_changed(self, s: Session, result: OperationResult) -> list[Action]:
        outcome = result.outcome
        if outcome == "ok":
            s.scratch.clear()
            return self._after_service(s, [self._p(s, "pin_changed")])
        if outcome == "wrong_pin":
            s.scratch.clear()
            lead = [self._p(s, "wrong_pin", attempts_left=result.data.get("attempts_left", 0))]
            return self._ask_pin(s, "pin_old", "pin_enter_old", lead)
        if outcome == "weak_pin":
            s.scratch.pop("new", None)
            lead = [self._p(s, _weak_prompt(result.data.get("reason", "format")))]
            return self._ask_pin(s, "pin_new", "pin_enter_new", lead)
        if outcome == "busy":  # the old PIN was not checked: key it again, then the new one
            s.scratch.clear()
            return self._ask_pin(s, "pin_old", "pin_enter_old", [self._p(s, "pin_busy")])
        if outcome == "locked":
            return self._locked(s)
        if outcome == "card_blocked":
            return self._card_blocked(s)
        return self._error(s)

    # --- plumbing --------------------------------------------------------------------------------------

    def _result(self, s: Session, result: OperationResult) -> list[Action]:
        if s.step != f"op:{result.operation}":
            raise ValueError(f"result of {result.operation!r} while waiting at {s.step!r}")
        s.path.append(PathStep(self._where(s), "operation", result.operation, result.outcome))
        if result.operation == "identify":
            return self._identified(s, result)
        if result.operation == "verify":
            return self._verified(s, result)
        return _RESULTS[result.operation](self, s, result)

    def _run(self, s: Session, operation: str, **params: Any) -> list[Action]:
        s.step = f"op:{operation}"
        return [RunOperation(operation, params)]

    def _ask(self, s: Session, step: str, prompts: Iterable[Prompt], *, lead: Sequence[Prompt] = (),
             max_digits: int = 1, finish: str = "", secure: bool = False,
             timeout: float = MENU_TIMEOUT_S) -> list[Action]:
        s.step, s.failures = step, 0
        s.repeat = Gather(prompts=tuple(prompts), max_digits=max_digits, timeout_s=timeout, finish_on_key=finish,
                          secure=secure)
        return self._reask(s, lead)

    def _reask(self, s: Session, lead: Sequence[Prompt] = ()) -> list[Action]:
        assert s.repeat is not None
        g = s.repeat
        if not lead:
            return [g]
        return [Gather(prompts=(*lead, *g.prompts), max_digits=g.max_digits, timeout_s=g.timeout_s,
                       finish_on_key=g.finish_on_key, secure=g.secure)]

    def _p(self, s: Session, prompt_id: str, **params: Any) -> Prompt:
        return self.prompts.render(prompt_id, s.language, **params)

    def _kind(self, account: AccountInfo) -> str:
        pid = f"account_{account.kind}"
        return pid if pid in self.prompts else "account_other"

    def _biller(self, biller: BillerInfo) -> str:
        pid = f"biller_{biller.code}"
        return pid if pid in self.prompts else "biller_other"

    def _where(self, s: Session) -> str:
        if s.step.startswith("op:") or s.step in ("menu", "language", "new"):
            return s.service or s.node or "start"
        return f"{s.service or s.node}.{s.step}"


def _weak_prompt(reason: str) -> str:
    return "pin_format" if reason == "format" else f"pin_weak_{reason}"


# Questions answered with one key, where `#` means "back" rather than "end of entry".
_CHOICE_STEPS = frozenset({"menu", "pay_from", "pay_to", "pay_confirm", "bill_choose"})

_HANDLERS: dict[str, Callable[[Engine, Session, str], list[Action]]] = {
    "menu": Engine._menu_key,
    "verify_number": Engine._number_entered,
    "verify_pin": Engine._pin_entered,
    "loss_last4": Engine._last4_entered,
    "pin_old": Engine._old_pin_entered,
    "pin_new": Engine._new_pin_entered,
    "pin_again": Engine._pin_again_entered,
    "pay_from": Engine._from_chosen,
    "pay_to": Engine._to_chosen,
    "pay_amount": Engine._amount_entered,
    "pay_confirm": Engine._confirmed,
    "bill_choose": Engine._biller_chosen,
}

_RESULTS: dict[str, Callable[[Engine, Session, OperationResult], list[Action]]] = {
    "accounts": Engine._accounts,
    "billers": Engine._billers,
    "report_loss": Engine._loss_reported,
    "change_pin": Engine._pin_changed,
    "transfer": Engine._paid,
    "pay_bill": Engine._paid,
}

__all__ = ["BRIDGE_PROMPTS", "ENGINE_PROMPTS", "Engine", "IsOpen", "always_open", "parse_amount"]
