"""Menus and prompts are checked at start-up; every problem names the file, the line and the key."""

from pathlib import Path

import pytest

from acd.config import load_acd_config
from hotline.settings import Settings, SettingsError
from ivr.engine import BRIDGE_PROMPTS, ENGINE_PROMPTS
from ivr.menus import load_menus
from ivr.prompts import PromptBook, PromptError, load_prompts
from ivr.service import routing_of

CONFIG = Path(__file__).resolve().parents[2] / "config" / "ivr"
MENUS = (CONFIG / "menus.yaml").read_text(encoding="utf-8")
PROMPTS = (CONFIG / "prompts.yaml").read_text(encoding="utf-8")
ROUTING = routing_of(load_acd_config(CONFIG.parent / "acd" / "queues.yaml"))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_number(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture
def book() -> PromptBook:
    return load_prompts(CONFIG / "prompts.yaml")


def test_shipped_files_load_with_every_prompt_the_engine_and_bridges_play(settings: Settings,
                                                                          book: PromptBook) -> None:
    tree = load_menus(settings.config_path(settings.ivr.menus), book, ROUTING, ENGINE_PROMPTS | BRIDGE_PROMPTS)
    assert tree.nodes[tree.start].kind == "menu"
    assert ENGINE_PROMPTS | BRIDGE_PROMPTS <= book.ids


def test_render_fills_params_in_both_languages(book: PromptBook) -> None:
    zh = book.render("queue_position", "zh-CN", position=3, minutes=12)
    en = book.render("queue_position", "en-US", position=3, minutes=12)
    assert zh.text == "您前面还有两位客户，预计等待十二分钟。"  # position 3: two callers ahead
    assert en.text == "You are number three in line, with about twelve minutes to wait."
    assert zh.audio == ("hotline/zh-CN/queue_position", "hotline/zh-CN/num/liang", "hotline/zh-CN/queue_position.2",
                        "hotline/zh-CN/num/shi", "hotline/zh-CN/num/2", "hotline/zh-CN/queue_position.3")
    assert book.render("goodbye", "en-US").audio == ("hotline/en-US/goodbye",)


def test_render_refuses_unknown_ids_languages_and_missing_params(book: PromptBook) -> None:
    with pytest.raises(PromptError, match="no prompt 'nope'"):
        book.render("nope", "zh-CN")
    with pytest.raises(PromptError, match="fr-FR"):
        book.render("goodbye", "fr-FR")
    with pytest.raises(PromptError, match="needs minutes"):
        book.render("queue_position", "zh-CN", position=1)
    with pytest.raises(PromptError, match="not a parameterless prompt"):
        book.render("balance_account", "zh-CN", kind="queue_position", last4="0001", amount=1)


def test_audio_override(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", 'hi:\n  zh-CN: {text: "你好", audio: "custom/ni_hao"}\n  en-US: "Hello"\n')
    book = load_prompts(path)
    assert book.render("hi", "zh-CN").audio == ("custom/ni_hao",)
    assert book.render("hi", "en-US").audio == ("hotline/en-US/hi",)


def test_missing_language_text_is_reported_with_line(tmp_path: Path) -> None:
    text = PROMPTS.replace('  en-US: "Thank you for calling. Goodbye."\n', "")
    path = write(tmp_path, "prompts.yaml", text)
    with pytest.raises(SettingsError) as err:
        load_prompts(path)
    assert f"{path}:{line_number(text, 'goodbye:')}: goodbye.en-US: Field required" in str(err.value)


def test_placeholder_not_declared_is_reported(tmp_path: Path) -> None:
    text = PROMPTS.replace("You have {attempts_left} more tries.", "You have {tries} more tries.")
    path = write(tmp_path, "prompts.yaml", text)
    with pytest.raises(SettingsError) as err:
        load_prompts(path)
    line = line_number(text, "{tries}")
    assert f"{path}:{line}: wrong_pin.en-US.other: placeholders ['tries'] do not match params ['attempts_left']" \
        in str(err.value)


def test_unknown_param_kind_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", 'x:\n  params: {n: colour}\n  zh-CN: "{n}"\n  en-US: "{n}"\n')
    with pytest.raises(SettingsError, match=rf"{path}:2: x\.params\.n: Input should be 'digits'"):
        load_prompts(path)


def test_duplicate_prompt_id_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "prompts.yaml", PROMPTS + 'goodbye:\n  zh-CN: "再见"\n  en-US: "Bye"\n')
    with pytest.raises(SettingsError, match=rf"{path}:\d+: duplicate key 'goodbye' \(first at line "
                                            rf"{line_number(PROMPTS, 'goodbye:')}\)"):
        load_prompts(path)


def test_unknown_node_reference(tmp_path: Path, book: PromptBook) -> None:
    text = MENUS.replace('"4": bill,', '"4": bills,')
    path = write(tmp_path, "menus.yaml", text)
    with pytest.raises(SettingsError) as err:
        load_menus(path, book, ROUTING)
    assert f"{path}:{line_number(text, 'bills')}: nodes.main.options.4: unknown node 'bills'" in str(err.value)


def test_unreachable_node(tmp_path: Path, book: PromptBook) -> None:
    text = MENUS.replace(', "2": pin_change}', "}")
    path = write(tmp_path, "menus.yaml", text)
    with pytest.raises(SettingsError) as err:
        load_menus(path, book, ROUTING)
    assert str(err.value) == (f"{path}:{line_number(text, '  pin_change:')}: nodes.pin_change: node is unreachable "
                              "from start, language_menu or after_service")


def test_missing_prompt(tmp_path: Path, book: PromptBook) -> None:
    text = MENUS.replace("prompt: cards_menu", "prompt: card_menu")
    path = write(tmp_path, "menus.yaml", text)
    with pytest.raises(SettingsError) as err:
        load_menus(path, book, ROUTING)
    assert f"{path}:{line_number(text, 'card_menu')}: nodes.cards.prompt: prompt 'card_menu' is not in" \
        in str(err.value)


def test_prompt_the_engine_needs_is_missing(tmp_path: Path) -> None:
    prompts = write(tmp_path, "prompts.yaml", PROMPTS.replace("loss_already:", "loss_already_x:"))
    with pytest.raises(SettingsError, match=rf"{prompts}:1: loss_already: prompt used by the IVR engine is missing"):
        load_menus(CONFIG / "menus.yaml", load_prompts(prompts), ROUTING, ENGINE_PROMPTS)


@pytest.mark.parametrize(("old", "new", "key", "message"), [
    ('"5": complaint}', '"0": complaint}', "nodes.main.options.0.[key]", "String should match pattern"),
    ("flow: balance", "flow: lottery", "nodes.balance.flow", "Input should be 'balance'"),
    ("kind: goodbye", "kind: farewell", "nodes.goodbye.kind", "Input tag 'farewell' found"),
])
def test_schema_errors(tmp_path: Path, book: PromptBook, old: str, new: str, key: str, message: str) -> None:
    text = MENUS.replace(old, new)
    assert text != MENUS
    path = write(tmp_path, "menus.yaml", text)
    with pytest.raises(SettingsError) as err:
        load_menus(path, book, ROUTING)
    assert f"{path}:{line_number(text, new)}: {key}: {message}" in str(err.value)


def test_entry_points_must_name_the_right_kind_of_node(tmp_path: Path, book: PromptBook) -> None:
    text = MENUS.replace("after_service: done", "after_service: goodbye")
    path = write(tmp_path, "menus.yaml", text)
    with pytest.raises(SettingsError, match=rf"{path}:{line_number(text, 'after_service: goodbye')}: "
                                            r"after_service: node 'goodbye' must be a menu"):
        load_menus(path, book, ROUTING)


@pytest.mark.parametrize(("old", "new", "key", "message"), [
    ("    category: complaint\n", "    category: complaints_desk\n", "nodes.complaint.category",
     "unknown business category 'complaints_desk' (the categories of the queue file are balance,"),
    ("  vip_queue: vip", "  vip_queue: platinum", "agent.vip_queue", "unknown queue 'platinum'"),
])
def test_menus_name_only_the_categories_and_queues_of_the_queue_file(tmp_path: Path, book: PromptBook, old: str,
                                                                     new: str, key: str, message: str) -> None:
    text = MENUS.replace(old, new, 1)
    assert text != MENUS
    path = write(tmp_path, "menus.yaml", text)
    with pytest.raises(SettingsError) as err:
        load_menus(path, book, ROUTING)
    assert f"{path}:{line_number(text, new.strip())}: {key}: {message}" in str(err.value)


def test_a_category_added_to_the_queue_file_routes_from_the_menus(book: PromptBook, settings: Settings) -> None:
    routing = routing_of(load_acd_config(CONFIG.parent / "acd" / "queues.yaml"))
    loans = type(routing)({**routing.categories, "loans": "cards"}, routing.queues)
    tree = load_menus(settings.config_path(settings.ivr.menus), book, loans)
    assert loans.queue_for("loans") == "cards" and tree.start == "main"
