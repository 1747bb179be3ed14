"""The menu tree: `config/ivr/menus.yaml` loaded and cross-checked against the prompt book."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotline.settings import SettingsError, line_of, load_model
from ivr.prompts import PromptBook

Category = Literal["balance", "card_loss", "pin", "transfer", "bill", "complaint", "other"]
QueueName = Literal["general", "cards", "complaints", "vip"]
Flow = Literal["balance", "card_loss", "pin_change", "transfer", "bill"]
Language = Literal["zh-CN", "en-US"]
OptionKey = Annotated[str, Field(pattern=r"^[1-9]$")]  # 0, * and # are reserved for every menu

CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LanguageNode(_Model):
    kind: Literal["language"]
    prompts: list[str] = Field(min_length=1)
    options: dict[OptionKey, Language] = Field(min_length=1)
    category: Category = "other"


class MenuNode(_Model):
    kind: Literal["menu"]
    prompt: str
    category: Category
    options: dict[OptionKey, str] = Field(min_length=1)


class ServiceNode(_Model):
    kind: Literal["service"]
    flow: Flow
    category: Category
    verify: bool = True


class AgentNode(_Model):
    kind: Literal["agent"]
    category: Category
    queue: QueueName | None = None


class GoodbyeNode(_Model):
    kind: Literal["goodbye"]
    category: Category = "other"


Node = Annotated[LanguageNode | MenuNode | ServiceNode | AgentNode | GoodbyeNode, Field(discriminator="kind")]


class AgentRouting(_Model):
    queues: dict[Category, QueueName]
    skills: dict[Category, list[str]] = {}
    vip_queue: QueueName = "vip"
    vip_priority: int = Field(10, ge=0)


class MenuTree(_Model):
    start: str
    language_menu: str
    after_service: str
    agent: AgentRouting
    nodes: dict[str, Node] = Field(min_length=1)

    def queue_for(self, category: str, vip: bool) -> str:
        if vip:
            return self.agent.vip_queue
        return self.agent.queues.get(category, self.agent.queues.get("other", "general"))  # type: ignore[call-overload]

    def skills_for(self, category: str) -> tuple[str, ...]:
        return tuple(self.agent.skills.get(category, ()))  # type: ignore[call-overload]


def load_menus(path: Path, prompts: PromptBook, required_prompts: frozenset[str] = frozenset()) -> MenuTree:
    """Load and cross-check the menu tree. Raise SettingsError with one `file:line: key: message`
    per problem: schema errors, unknown node references, unreachable nodes, missing prompts.
    `required_prompts`: prompt ids the engine itself plays, checked against the prompt book too."""
    tree, lines = load_model(path, MenuTree, "a mapping with start, nodes, ...", _describe)
    problems = _check_references(tree, path, lines, prompts)
    if not problems:
        problems = _check_reachable(tree, path, lines)
    missing = sorted(required_prompts - prompts.ids)
    problems += [f"{prompts.source}:1: {pid}: prompt used by the IVR engine is missing" for pid in missing]
    if problems:
        raise SettingsError("\n".join(problems))
    return tree


def _describe(path: Path, exc: ValidationError, lines: Mapping[tuple[Any, ...], int]) -> str:
    """Like describe_validation_error, with node locations as written in the file: pydantic puts
    the discriminator (`nodes.main.menu.options`) into them; a bad `kind` points at the kind line."""
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        if len(loc) > 2 and loc[0] == "nodes" and loc[2] in _KINDS:
            loc = loc[:2] + loc[3:]
        elif err["type"] == "union_tag_invalid":
            loc = (*loc, "kind")
        problems.append(f"{_where(path, lines, loc)}: {err['msg']}")
    return "\n".join(problems)


_KINDS = frozenset({"language", "menu", "service", "agent", "goodbye"})


def _where(path: Path, lines: Mapping[tuple[Any, ...], int], loc: tuple[Any, ...]) -> str:
    line = line_of(lines, loc)
    key = ".".join(str(p) for p in loc)
    return f"{path}:{line}: {key}" if line else f"{path}: {key}"


def _check_references(tree: MenuTree, path: Path, lines: Mapping[tuple[Any, ...], int],
                      prompts: PromptBook) -> list[str]:
    problems = []
    entry_kinds = {"start": ("menu",), "language_menu": ("language",), "after_service": ("menu",)}
    for key, kinds in entry_kinds.items():
        target = getattr(tree, key)
        if target not in tree.nodes:
            problems.append(f"{_where(path, lines, (key,))}: unknown node {target!r}")
        elif tree.nodes[target].kind not in kinds:
            problems.append(f"{_where(path, lines, (key,))}: node {target!r} must be a {' or '.join(kinds)}")
    for name, node in tree.nodes.items():
        used_prompts: list[tuple[tuple[Any, ...], str]] = []
        if isinstance(node, MenuNode):
            used_prompts.append((("nodes", name, "prompt"), node.prompt))
            for key, target in node.options.items():
                if target not in tree.nodes:
                    problems.append(f"{_where(path, lines, ('nodes', name, 'options', key))}: "
                                    f"unknown node {target!r}")
        elif isinstance(node, LanguageNode):
            used_prompts += [(("nodes", name, "prompts", i), pid) for i, pid in enumerate(node.prompts)]
        for loc, pid in used_prompts:
            if pid not in prompts:
                problems.append(f"{_where(path, lines, loc)}: prompt {pid!r} is not in {prompts.source}")
            elif prompts.params(pid):
                problems.append(f"{_where(path, lines, loc)}: prompt {pid!r} takes parameters; a menu "
                                "prompt cannot")
    return problems


def _check_reachable(tree: MenuTree, path: Path, lines: Mapping[tuple[Any, ...], int]) -> list[str]:
    seen = {tree.start, tree.language_menu, tree.after_service}
    todo = deque(seen)
    while todo:
        node = tree.nodes[todo.popleft()]
        if isinstance(node, MenuNode):
            for target in node.options.values():
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
    return [f"{_where(path, lines, ('nodes', name))}: node is unreachable from start, language_menu or "
            "after_service" for name in tree.nodes if name not in seen]
