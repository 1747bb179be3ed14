"""The prompt book: `config/ivr/prompts.yaml` loaded, checked, and rendered into `Prompt`s.

A prompt's text may hold `{param}` placeholders; each declared param has a kind that says how it is
spoken (see the header of prompts.yaml). Rendering yields the TTS text and the Asterisk sound files
for the same words.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotline.settings import SettingsError, describe_validation_error, line_of, load_yaml
from ivr.actions import Prompt
from ivr.speech import LANGUAGES, Spoken, say_digits, say_money, say_number

ParamKind = Literal["digits", "number", "money", "word", "text"]


class PromptError(Exception):
    """A prompt was rendered with an unknown id, language or a missing/bad parameter."""


class _LanguageText(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str = Field(min_length=1)
    audio: str | None = None


class _PromptSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    params: dict[str, ParamKind] = {}
    zh_cn: str | _LanguageText = Field(alias="zh-CN")
    en_us: str | _LanguageText = Field(alias="en-US")

    def text_for(self, language: str) -> _LanguageText:
        value = self.zh_cn if language == "zh-CN" else self.en_us
        return value if isinstance(value, _LanguageText) else _LanguageText(text=value)


@dataclass(frozen=True, slots=True)
class _Piece:
    literal: str  # spoken text before the param (may be "")
    audio: str | None  # sound file of the literal, None when the literal is empty
    param: str | None  # name of the param that follows, None at the end


class PromptBook:
    """Every prompt in every language, ready to render. Built by `load_prompts`."""

    def __init__(self, specs: Mapping[str, _PromptSpec], source: Path) -> None:
        self.source = source
        self._kinds = {pid: dict(spec.params) for pid, spec in specs.items()}
        self._pieces: dict[tuple[str, str], tuple[_Piece, ...]] = {}
        for pid, spec in specs.items():
            for language in LANGUAGES:
                entry = spec.text_for(language)
                base = entry.audio or f"hotline/{language}/{pid}"
                self._pieces[pid, language] = _split(entry.text, base)

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self._kinds

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._kinds)

    def params(self, prompt_id: str) -> dict[str, str]:
        return dict(self._kinds[prompt_id])

    def render(self, prompt_id: str, language: str, **params: Any) -> Prompt:
        spoken = self._spoken(prompt_id, language, params)
        return Prompt(id=prompt_id, language=language, text=spoken.text, audio=spoken.audio)

    def _spoken(self, prompt_id: str, language: str, params: Mapping[str, Any]) -> Spoken:
        try:
            pieces = self._pieces[prompt_id, language]
        except KeyError:
            raise PromptError(f"no prompt {prompt_id!r} in language {language!r}") from None
        kinds = self._kinds[prompt_id]
        missing = set(kinds) - set(params)
        if missing:
            raise PromptError(f"prompt {prompt_id!r} needs {', '.join(sorted(missing))}")
        text: list[str] = []
        audio: list[str] = []
        for piece in pieces:
            text.append(piece.literal)
            if piece.audio:
                audio.append(piece.audio)
            if piece.param is not None:
                spoken = self._param(kinds[piece.param], params[piece.param], language, prompt_id)
                text.append(spoken.text)
                audio.extend(spoken.audio)
        return Spoken("".join(text), tuple(audio))

    def _param(self, kind: str, value: Any, language: str, prompt_id: str) -> Spoken:
        try:
            if kind == "digits":
                return say_digits(str(value), language)
            if kind == "number":
                return say_number(int(value), language)
            if kind == "money":
                return say_money(int(value), language)
            if kind == "word":
                if value not in self._kinds or self._kinds[value]:
                    raise PromptError(f"prompt {prompt_id!r}: {value!r} is not a parameterless prompt id")
                return self._spoken(value, language, {})
        except (TypeError, ValueError) as exc:
            raise PromptError(f"prompt {prompt_id!r}: cannot speak {kind} value: {exc}") from None
        return Spoken(str(value), ())  # text: TTS only, no sound file can hold a name


def _split(template: str, audio_base: str) -> tuple[_Piece, ...]:
    pieces = []
    numbered = 0
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        audio = None
        if literal.strip():
            numbered += 1
            audio = audio_base if numbered == 1 else f"{audio_base}.{numbered}"
        pieces.append(_Piece(literal, audio, field))
    return tuple(pieces)


def _placeholders(template: str) -> set[str] | str:
    """Field names in a template, or an error message for a malformed one."""
    try:
        fields = [field for _lit, field, spec, conv in string.Formatter().parse(template) if field is not None]
    except ValueError as exc:
        return f"malformed placeholder: {exc}"
    if any(not f.isidentifier() for f in fields):
        return "placeholders must be {name}"
    return set(fields)


def load_prompts(path: Path) -> PromptBook:
    """Load and check the prompt file; raise SettingsError with `file:line: key: message` lines."""
    data, lines = load_yaml(path)
    if not isinstance(data, dict) or not data:
        raise SettingsError(f"{path}:1: expected a mapping of prompt id to texts")
    problems: list[str] = []
    specs: dict[str, _PromptSpec] = {}
    for pid, raw in data.items():
        try:
            spec = _PromptSpec.model_validate(raw)
        except ValidationError as exc:
            problems.append(_prefixed(path, exc, lines, (pid,)))
            continue
        for language in LANGUAGES:
            found = _placeholders(spec.text_for(language).text)
            line = line_of(lines, (pid, language))
            where = f"{path}:{line}: {pid}.{language}"
            if isinstance(found, str):
                problems.append(f"{where}: {found}")
            elif found != set(spec.params):
                problems.append(f"{where}: placeholders {sorted(found)} do not match params {sorted(spec.params)}")
        specs[str(pid)] = spec
    if problems:
        raise SettingsError("\n".join(problems))
    return PromptBook(specs, path)


def _prefixed(path: Path, exc: ValidationError, lines: Mapping[tuple[Any, ...], int], prefix: tuple[Any, ...]) -> str:
    """describe_validation_error for a model validated below the top of the file."""
    shifted = {key[len(prefix):]: line for key, line in lines.items() if key[: len(prefix)] == prefix}
    text = describe_validation_error(path, exc, shifted)
    head = ".".join(str(p) for p in prefix)
    return "\n".join(_with_key_prefix(problem, head) for problem in text.splitlines())


def _with_key_prefix(problem: str, head: str) -> str:
    # "file:line: key: msg" -> "file:line: head.key: msg"
    location, _, rest = problem.partition(": ")
    key, _, message = rest.partition(": ")
    key = head if key == "(top level)" else f"{head}.{key}"
    return f"{location}: {key}: {message}"
