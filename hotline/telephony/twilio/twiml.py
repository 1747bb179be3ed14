"""IVR actions and ACD decisions rendered as TwiML with the twilio library's VoiceResponse.

Only what the caller hears and the keys we ask for go into TwiML: a secure gather differs from any
other gather in what we log, never in what we send (Twilio never echoes the keys back in TwiML).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from ivr.actions import Gather as GatherAction
from ivr.actions import Prompt

CONTENT_TYPE = "text/xml"
# Twilio's public hold music (documented in the <Enqueue> waitUrl examples); played between announcements
HOLD_MUSIC = "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"
DIAL_STATUS_EVENTS = "initiated ringing answered completed"


def say(target: VoiceResponse | Gather, prompts: Iterable[Prompt]) -> None:
    for prompt in prompts:
        target.say(prompt.text, language=prompt.language)


def gather(response: VoiceResponse, action: GatherAction, action_url: str) -> None:
    """`actionOnEmptyResult` makes a silence reach the engine as an empty Digits (= Timeout);
    the prompts are nested so a caller who knows the menu can key in without waiting."""
    element = response.gather(
        input="dtmf",
        num_digits=action.max_digits,
        finish_on_key=action.finish_on_key,
        timeout=max(1, math.ceil(action.timeout_s)),
        action_on_empty_result=True,
        action=action_url,
        method="POST",
    )
    say(element, action.prompts)


def key_gather(response: VoiceResponse, prompts: Iterable[Prompt], action_url: str, *,
               timeout_s: int = 5, on_empty: bool = True) -> None:
    """A one-key question (survey, callback offer)."""
    element = response.gather(input="dtmf", num_digits=1, timeout=timeout_s, action_on_empty_result=on_empty,
                              action=action_url, method="POST")
    say(element, prompts)


def enqueue(response: VoiceResponse, queue: str, wait_url: str, action_url: str) -> None:
    response.enqueue(queue, wait_url=wait_url, wait_url_method="POST", action=action_url, method="POST")


def dial_endpoint(dial: Dial, endpoint: str, status_url: str) -> None:
    """Agent endpoints as stored on Agent.endpoint: client:NAME, sip:URI, or an E.164 number."""
    kwargs = {"status_callback": status_url, "status_callback_event": DIAL_STATUS_EVENTS,
              "status_callback_method": "POST"}
    if endpoint.startswith("client:"):
        dial.client(endpoint.removeprefix("client:"), **kwargs)
    elif endpoint.startswith(("sip:", "sips:")):
        dial.sip(endpoint, **kwargs)
    elif endpoint.startswith("+") and endpoint[1:].isdigit():
        dial.number(endpoint, **kwargs)
    else:
        raise ValueError(f"endpoint {endpoint!r} cannot be dialled through Twilio")


def dial_agent(endpoint: str, *, ring_timeout_s: float, record: bool, action_url: str, status_url: str,
               recording_url: str) -> VoiceResponse:
    response = VoiceResponse()
    kwargs = {}
    if record:
        kwargs = {"record": "record-from-answer-dual", "recording_status_callback": recording_url,
                  "recording_status_callback_method": "POST", "recording_status_callback_event": "completed"}
    dial = response.dial(timeout=max(1, math.ceil(ring_timeout_s)), action=action_url, method="POST", **kwargs)
    dial_endpoint(dial, endpoint, status_url)
    return response


def dial_customer(number: str, *, caller_id: str, ring_timeout_s: float, action_url: str,
                  recording_url: str) -> VoiceResponse:
    """Outbound: the agent has answered; now ring the customer, recording both sides."""
    response = VoiceResponse()
    dial = response.dial(caller_id=caller_id or None, timeout=max(1, math.ceil(ring_timeout_s)),
                         action=action_url, method="POST", record="record-from-answer-dual",
                         recording_status_callback=recording_url, recording_status_callback_method="POST",
                         recording_status_callback_event="completed")
    dial.number(number)
    return response


def hangup(prompts: Iterable[Prompt] = ()) -> VoiceResponse:
    response = VoiceResponse()
    say(response, prompts)
    response.hangup()
    return response
