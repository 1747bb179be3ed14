"""The prompt book: `config/ivr/prompts.yaml` loaded, checked, and rendered into `Prompt`s.

A prompt's text may hold `{param}` placeholders; each declared param has a kind that says how it is
spoken (see the header of prompts.yaml). A language's text may also be a choice of variants keyed by
a count ("one more try" / "two more tries"), and a prompt may derive counts from its params (the
customers ahead of a caller in the queue: position - 1). Rendering yields the TTS text and the
Asterisk sound files for the same words.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotline.settings import SettingsError, describe_validation_error, line_of, load_yaml
from ivr.actions import Prompt
from ivr.speech import LANGUAGES, Spoken, say_count, say_digits, say_money, say_number

ParamKind = Literal["digits", "number", "count", "money", "word", "text"]
COUNTED_KINDS = frozenset({"number", "count"})  # kinds a variant can be chosen by
CATEGORIES = ("zero", "one", "other")  # variant keys, the first that applies: 0, 1, anything else

_DERIVED = re.compile(r"^\s*([A-Za-z_]\w*)\s*([+-])\s*(\d+)\s*$")


class PromptError(Exception):
    """A prompt was rendered with an unknown id, language or a missing/bad parameter."""


class _LanguageText(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str = Field(min_length=1)
    audio: str | None = None


class _VariantsSpec(BaseModel):
    """`{by: <count>, zero: ..., one: ..., other: ...}`; each variant is again a text or a choice."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    by: str
    zero: str | dict[str, Any] | None = None
    one: str | dict[str, Any] | None = None
    other: str | dict[str, Any]


class _PromptSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    params: dict[str, ParamKind] = {}
    counts: dict[str, str] = {}  # derived count name -> "<param> - <n>" (or + n)
    zh_cn: str | dict[str, Any] = Field(alias="zh-CN")
    en_us: str | dict[str, Any] = Field(alias="en-US")

    def raw_text(self, language: str) -> str | dict[str, Any]:
        return self.zh_cn if language == "zh-CN" else self.en_us


@dataclass(frozen=True, slots=True)
class _Piece:
    literal: str  # spoken text before the param (may be "")
    audio: str | None  # sound file of the literal, None when the literal is empty
    param: str | None  # name of the param that follows, None at the end


@dataclass(frozen=True, slots=True)
class _Variants:
    by: str  # the param or derived count that chooses
    choices: Mapping[str, _Tree]  # category -> what is said


_Tree = tuple[_Piece, ...] | _Variants


@dataclass(frozen=True, slots=True)
class _Derived:
    source: str
    offset: int


@dataclass(frozen=True, slots=True)
class _Prompt:
    params: Mapping[str, str]  # name -> kind, as the caller of render passes them
    derived: Mapping[str, _Derived]
    texts: Mapping[str, _Tree]  # language -> text

    def kind(self, name: str) -> str:
        return self.params[self.derived[name].source] if name in self.derived else self.params[name]


def choose_category(n: int, categories: Mapping[str, Any] | frozenset[str]) -> str:
    """`zero` for 0 and `one` for 1 when the prompt has such a variant, else `other`."""
    if n == 0 and "zero" in categories:
        return "zero"
    if n == 1 and "one" in categories:
        return "one"
    return "other"


class PromptBook:
    """Every prompt in every language, ready to render. Built by `load_prompts`."""

    def __init__(self, prompts: Mapping[str, _Prompt], source: Path) -> None:
        self.source = source
        self._prompts = dict(prompts)

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self._prompts

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._prompts)

    def params(self, prompt_id: str) -> dict[str, str]:
        return dict(self._prompts[prompt_id].params)

    def sound_pieces(self) -> Iterator[tuple[str, str, str, str]]:
        """(prompt id, language, sound file, its words) for every literal piece of every variant:
        what `hotline prompts build` renders."""
        for prompt_id, prompt in sorted(self._prompts.items()):
            for language, tree in sorted(prompt.texts.items()):
                for pieces in _leaves(tree):
                    for piece in pieces:
                        if piece.audio and piece.literal.strip():
                            yield prompt_id, language, piece.audio, piece.literal.strip()

    def render(self, prompt_id: str, language: str, **params: Any) -> Prompt:
        spoken = self._spoken(prompt_id, language, params)
        return Prompt(id=prompt_id, language=language, text=spoken.text, audio=spoken.audio)

    def _spoken(self, prompt_id: str, language: str, params: Mapping[str, Any]) -> Spoken:
        prompt = self._prompts.get(prompt_id)
        if prompt is None or language not in prompt.texts:
            raise PromptError(f"no prompt {prompt_id!r} in language {language!r}")
        missing = set(prompt.params) - set(params)
        if missing:
            raise PromptError(f"prompt {prompt_id!r} needs {', '.join(sorted(missing))}")
        values = dict(params)
        for name, derived in prompt.derived.items():
            # a derived count never goes below zero: nobody is ahead of the first in line
            values[name] = max(0, self._integer(prompt_id, params[derived.source]) + derived.offset)
        tree = prompt.texts[language]
        while isinstance(tree, _Variants):
            tree = tree.choices[choose_category(self._integer(prompt_id, values[tree.by]), tree.choices)]
        text: list[str] = []
        audio: list[str] = []
        for piece in tree:
            text.append(piece.literal)
            if piece.audio:
                audio.append(piece.audio)
            if piece.param is not None:
                spoken = self._param(prompt.kind(piece.param), values[piece.param], language, prompt_id)
                text.append(spoken.text)
                audio.extend(spoken.audio)
        return Spoken("".join(text), tuple(audio))

    @staticmethod
    def _integer(prompt_id: str, value: Any) -> int:
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise PromptError(f"prompt {prompt_id!r}: a count must be a whole number: {exc}") from None

    def _param(self, kind: str, value: Any, language: str, prompt_id: str) -> Spoken:
        try:
            if kind == "digits":
                return say_digits(str(value), language)
            if kind == "number":
                return say_number(int(value), language)
            if kind == "count":
                return say_count(int(value), language)
            if kind == "money":
                return say_money(int(value), language)
            if kind == "word":
                if value not in self._prompts or self._prompts[value].params:
                    raise PromptError(f"prompt {prompt_id!r}: {value!r} is not a parameterless prompt id")
                return self._spoken(value, language, {})
        except (TypeError, ValueError) as exc:
            raise PromptError(f"prompt {prompt_id!r}: cannot speak {kind} value: {exc}") from None
        return Spoken(str(value), ())  # text: TTS only, no sound file can hold a name


def _leaves(tree: _Tree) -> Iterator[tuple[_Piece, ...]]:
    if isinstance(tree, _Variants):
        for choice in tree.choices.values():
            yield from _leaves(choice)
    else:
        yield tree


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
        fields = [field for _lit, field, _spec, _conv in string.Formatter().parse(template) if field is not None]
    except ValueError as exc:
        return f"malformed placeholder: {exc}"
    if any(not f.isidentifier() for f in fields):
        return "placeholders must be {name}"
    return set(fields)


# --- loading -----------------------------------------------------------------------------------------


def load_prompts(path: Path) -> PromptBook:
    """Load and check the prompt file; raise SettingsError with `file:line: key: message` lines."""
    data, lines = load_yaml(path)
    if not isinstance(data, dict) or not data:
        raise SettingsError(f"{path}:1: expected a mapping of prompt id to texts")
    problems: list[str] = []
    prompts: dict[str, _Prompt] = {}
    for pid, raw in data.items():
        try:
            spec = _PromptSpec.model_validate(raw)
        except ValidationError as exc:
            problems.append(_prefixed(path, exc, lines, (pid,)))
            continue
        checker = _PromptChecker(path, lines, str(pid), spec)
        prompt = checker.build()
        problems += checker.problems
        prompts[str(pid)] = prompt
    if problems:
        raise SettingsError("\n".join(problems))
    return PromptBook(prompts, path)


class _PromptChecker:
    """Turns one validated prompt entry into a `_Prompt`, collecting `file:line` problems."""

    def __init__(self, path: Path, lines: Mapping[tuple[Any, ...], int], pid: str, spec: _PromptSpec) -> None:
        self.path, self.lines, self.pid, self.spec = path, lines, pid, spec
        self.problems: list[str] = []
        self.derived = self._derived_counts()
        self.names = set(spec.params) | set(self.derived)

    def build(self) -> _Prompt:
        texts: dict[str, _Tree] = {}
        for language in LANGUAGES:
            tree = self._tree(self.spec.raw_text(language), (language,), f"hotline/{language}/{self.pid}", ())
            if tree is not None:
                texts[language] = tree
                self._check_every_param_used(language, tree)
        return _Prompt(dict(self.spec.params), self.derived, texts)

    def _where(self, loc: tuple[Any, ...]) -> str:
        line = line_of(self.lines, (self.pid, *loc))
        return f"{self.path}:{line}: {'.'.join(str(p) for p in (self.pid, *loc))}"

    def _derived_counts(self) -> dict[str, _Derived]:
        derived: dict[str, _Derived] = {}
        for name, formula in self.spec.counts.items():
            where = self._where(("counts", name))
            match = _DERIVED.match(formula)
            if not name.isidentifier() or name in self.spec.params:
                self.problems.append(f"{where}: a derived count needs a name of its own")
            elif match is None:
                self.problems.append(f"{where}: expected '<param> - <n>' or '<param> + <n>', got {formula!r}")
            elif self.spec.params.get(match[1]) not in COUNTED_KINDS:
                self.problems.append(f"{where}: {match[1]!r} is not a number or count param of this prompt")
            else:
                sign = -1 if match[2] == "-" else 1
                derived[name] = _Derived(match[1], sign * int(match[3]))
        return derived

    def _tree(self, raw: Any, loc: tuple[Any, ...], audio_base: str, choosers: tuple[str, ...]) -> _Tree | None:
        if isinstance(raw, dict) and "by" in raw:
            return self._variants(raw, loc, audio_base, choosers)
        try:
            text = _LanguageText.model_validate({"text": raw} if isinstance(raw, str) else raw)
        except ValidationError as exc:
            self.problems.append(_prefixed(self.path, exc, self.lines, (self.pid, *loc)))
            return None
        found = _placeholders(text.text)
        if isinstance(found, str):
            self.problems.append(f"{self._where(loc)}: {found}")
            return None
        if not found <= self.names:
            self.problems.append(f"{self._where(loc)}: placeholders {sorted(found)} do not match params "
                                 f"{sorted(self.names)}")
            return None
        return _split(text.text, text.audio or audio_base)

    def _variants(self, raw: dict[str, Any], loc: tuple[Any, ...], audio_base: str,
                  choosers: tuple[str, ...]) -> _Tree | None:
        try:
            spec = _VariantsSpec.model_validate(raw)
        except ValidationError as exc:
            self.problems.append(_prefixed(self.path, exc, self.lines, (self.pid, *loc)))
            return None
        kind = self.spec.params.get(spec.by) if spec.by not in self.derived else "count"
        if kind not in COUNTED_KINDS:
            self.problems.append(f"{self._where((*loc, 'by'))}: {spec.by!r} is not a number or count of this "
                                 "prompt")
            return None
        if spec.by in choosers:
            self.problems.append(f"{self._where((*loc, 'by'))}: variants by {spec.by!r} are already chosen above")
            return None
        choices: dict[str, _Tree] = {}
        for category in CATEGORIES:
            value = getattr(spec, category)
            if value is None:
                continue
            # the `other` variant keeps the plain file names: it is what an unvaried prompt says
            base = audio_base if category == "other" else f"{audio_base}.{spec.by}_{category}"
            tree = self._tree(value, (*loc, category), base, (*choosers, spec.by))
            if tree is None:
                return None
            choices[category] = tree
        return _Variants(spec.by, choices)

    def _check_every_param_used(self, language: str, tree: _Tree) -> None:
        """A declared param must be spoken, or choose a variant, somewhere in each language."""
        used = _used_names(tree)
        used |= {self.derived[name].source for name in used if name in self.derived}
        unused = sorted(set(self.spec.params) - used)
        if unused:
            self.problems.append(f"{self._where((language,))}: params {unused} are never spoken nor choose a "
                                 "variant")


def _used_names(tree: _Tree) -> set[str]:
    if isinstance(tree, _Variants):
        return {tree.by}.union(*(_used_names(choice) for choice in tree.choices.values()))
    return {piece.param for piece in tree if piece.param is not None}


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
