"""The menu tree: `config/ivr/menus.yaml` loaded and cross-checked against the prompt book and the
ACD's routing (`config/acd/queues.yaml` owns the business categories, the queues and which category
goes to which queue; the menus only name them)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotline.settings import SettingsError, line_of, load_model
from ivr.prompts import PromptBook

Flow = Literal["balance", "card_loss", "pin_change", "transfer", "bill"]
Language = Literal["zh-CN", "en-US"]
OptionKey = Annotated[str, Field(pattern=r"^[1-9]$")]  # 0, * and # are reserved for every menu


@dataclass(frozen=True)
class Routing:
    """What the ACD's queue file says about categories and queues."""

    categories: Mapping[str, str]  # business category -> queue
    queues: frozenset[str]
    fallback: str = "other"  # the category of a request that names none

    def queue_for(self, category: str) -> str:
        return self.categories.get(category) or self.categories[self.fallback]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LanguageNode(_Model):
    kind: Literal["language"]
    prompts: list[str] = Field(min_length=1)
    options: dict[OptionKey, Language] = Field(min_length=1)
    category: str = "other"


class MenuNode(_Model):
    kind: Literal["menu"]
    prompt: str
    category: str
    options: dict[OptionKey, str] = Field(min_length=1)


class ServiceNode(_Model):
    kind: Literal["service"]
    flow: Flow
    category: str
    verify: bool = True


class AgentNode(_Model):
    kind: Literal["agent"]
    category: str
    queue: str | None = None


class GoodbyeNode(_Model):
    kind: Literal["goodbye"]
    category: str = "other"


Node = Annotated[LanguageNode | MenuNode | ServiceNode | AgentNode | GoodbyeNode, Field(discriminator="kind")]


class AgentRouting(_Model):
    skills: dict[str, list[str]] = {}  # business category -> skills asked of the agent
    vip_queue: str = "vip"
    vip_priority: int = Field(10, ge=0)


class MenuTree(_Model):
    start: str
    language_menu: str
    after_service: str
    agent: AgentRouting
    nodes: dict[str, Node] = Field(min_length=1)

    def skills_for(self, category: str) -> tuple[str, ...]:
        return tuple(self.agent.skills.get(category, ()))


def load_menus(path: Path, prompts: PromptBook, routing: Routing,
               required_prompts: frozenset[str] = frozenset()) -> MenuTree:
    """Load and cross-check the menu tree. Raise SettingsError with one `file:line: key: message`
    per problem: schema errors, unknown node references, unreachable nodes, missing prompts,
    categories and queues the ACD's queue file does not have.
    `required_prompts`: prompt ids the engine itself plays, checked against the prompt book too."""
    tree, lines = load_model(path, MenuTree, "a mapping with start, nodes, ...", _describe)
    problems = _check_references(tree, path, lines, prompts) + _check_routing(tree, path, lines, routing)
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


def _check_routing(tree: MenuTree, path: Path, lines: Mapping[tuple[Any, ...], int],
                   routing: Routing) -> list[str]:
    known = ", ".join(routing.categories)
    named: list[tuple[tuple[Any, ...], str, str]] = [  # (where, what, name)
        (("agent", "vip_queue"), "queue", tree.agent.vip_queue),
        *((("agent", "skills", c), "category", c) for c in tree.agent.skills)]
    for name, node in tree.nodes.items():
        if not isinstance(node, LanguageNode):
            named.append((("nodes", name, "category"), "category", node.category))
        if isinstance(node, AgentNode) and node.queue is not None:
            named.append((("nodes", name, "queue"), "queue", node.queue))
    problems = []
    for loc, what, value in named:
        if what == "queue" and value not in routing.queues:
            problems.append(f"{_where(path, lines, loc)}: unknown queue {value!r} (the queues are "
                            f"{', '.join(sorted(routing.queues))})")
        elif what == "category" and value not in routing.categories:
            problems.append(f"{_where(path, lines, loc)}: unknown business category {value!r} (the categories "
                            f"of the queue file are {known})")
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
