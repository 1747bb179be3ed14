"""Prompts that carry a count agree with it: "one more try", "two more tries", "您前面还有两位客户";
variants by a count are checked at load with file and line, and every variant has its sound files."""

import itertools
import re
from pathlib import Path
from typing import Any

import pytest

from hotline.settings import Settings, SettingsError
from hotline.telephony.asterisk import prompts_build
from ivr.prompts import COUNTED_KINDS, PromptBook, load_prompts
from ivr.speech import LANGUAGES

COUNTS = (0, 1, 2, 5)
SAMPLE = {"digits": "0001", "money": 12345, "word": "account_savings", "text": "Li"}
# count nouns a prompt may use, singular -> plural
NOUNS = {"minute": "minutes", "try": "tries", "customer": "customers", "caller": "callers", "person": "people",
         "time": "times", "attempt": "attempts", "day": "days", "hour": "hours", "second": "seconds"}
EN_NUMBER = {0: "zero", 1: "one", 2: "two", 5: "five"}
ZH_COUNT = {1: "一", 2: "两", 4: "四"}  # how many are ahead, said before 位


@pytest.fixture(scope="module")
def book() -> PromptBook:
    return load_prompts(Path(__file__).resolve().parents[2] / "config" / "ivr" / "prompts.yaml")


def renders(book: PromptBook) -> list[tuple[str, dict[str, Any]]]:
    """Every prompt with a count, with every combination of 0, 1, 2 and 5 for its counts."""
    cases = []
    for pid in sorted(book.ids):
        kinds = book.params(pid)
        counted = sorted(name for name, kind in kinds.items() if kind in COUNTED_KINDS)
        if not counted:
            continue
        fixed = {name: SAMPLE[kind] for name, kind in kinds.items() if kind not in COUNTED_KINDS}
        for values in itertools.product(COUNTS, repeat=len(counted)):
            cases.append((pid, {**fixed, **dict(zip(counted, values, strict=True))}))
    return cases


def english_agreement_errors(text: str) -> list[str]:
    words = re.findall(r"[a-z]+", text.lower())
    errors = []
    for i, word in enumerate(words):
        if word not in EN_NUMBER.values():
            continue
        rest = words[i + 1:]
        noun = rest[1] if rest[:1] == ["more"] and len(rest) > 1 else (rest[0] if rest else "")
        if word == "one" and noun in NOUNS.values():
            errors.append(f"one {noun}")
        if word != "one" and noun in NOUNS:
            errors.append(f"{word} {noun}")
    return errors


def test_the_shipped_prompts_with_counts_are_the_ones_this_test_knows(book: PromptBook) -> None:
    assert {pid for pid, _ in renders(book)} == {"queue_position", "wrong_pin"}


def test_english_counts_agree_with_their_nouns(book: PromptBook) -> None:
    for pid, params in renders(book):
        text = book.render(pid, "en-US", **params).text
        assert english_agreement_errors(text) == [], (pid, params, text)
    for minutes, words in ((1, "about one minute to wait"), (2, "about two minutes to wait")):
        assert words in book.render("queue_position", "en-US", position=3, minutes=minutes).text
    assert book.render("wrong_pin", "en-US", attempts_left=1).text.endswith("You have one more try.")
    assert book.render("wrong_pin", "en-US", attempts_left=2).text.endswith("You have two more tries.")


def test_the_agreement_check_catches_the_old_wording() -> None:
    assert english_agreement_errors("You have one more tries.") == ["one tries"]
    assert english_agreement_errors("with about one minutes to wait") == ["one minutes"]
    assert english_agreement_errors("two minute, five more try") == ["two minute", "five try"]


@pytest.mark.parametrize("position", COUNTS)
def test_english_queue_position_says_next_in_line_for_the_first_caller(book: PromptBook, position: int) -> None:
    text = book.render("queue_position", "en-US", position=position, minutes=2).text
    if position <= 1:
        assert text == "You are next in line, with about two minutes to wait."
    else:
        assert text.startswith(f"You are number {EN_NUMBER[position]} in line")


@pytest.mark.parametrize("position", [0, 1, 2, 3, 5])
def test_chinese_queue_position_says_how_many_are_ahead(book: PromptBook, position: int) -> None:
    text = book.render("queue_position", "zh-CN", position=position, minutes=1).text
    if position <= 1:
        assert text == "您是下一位，预计等待一分钟。"
    else:
        assert text == f"您前面还有{ZH_COUNT[position - 1]}位客户，预计等待一分钟。"


def test_chinese_counts_say_two_as_liang(book: PromptBook) -> None:
    for pid, params in renders(book):
        text = book.render(pid, "zh-CN", **params).text
        assert not re.search(r"二(位|分钟|次)", text), (pid, params, text)
    assert book.render("wrong_pin", "zh-CN", attempts_left=2).text == "密码错误，您还可以尝试两次。"
    assert book.render("queue_position", "zh-CN", position=3, minutes=2).text == "您前面还有两位客户，预计等待两分钟。"


def test_every_variant_plays_sound_files_that_prompts_build_makes(book: PromptBook, settings: Settings) -> None:
    built = {f.name for f in prompts_build.sound_files(settings, LANGUAGES, None, vocabulary=True)}
    heard: set[str] = set()
    for pid, params in renders(book):
        for language in LANGUAGES:
            audio = book.render(pid, language, **params).audio
            assert audio and set(audio) <= built, (pid, language, params, set(audio) - built)
            heard.update(audio)
    assert {"hotline/en-US/wrong_pin.attempts_left_one", "hotline/zh-CN/queue_position.ahead_zero",
            "hotline/en-US/queue_position.ahead_zero.minutes_one", "hotline/zh-CN/num/liang"} <= heard


def test_audio_of_a_variant_follows_the_words(book: PromptBook) -> None:
    next_in_line = book.render("queue_position", "en-US", position=1, minutes=1)
    assert next_in_line.audio == ("hotline/en-US/queue_position.ahead_zero.minutes_one",)
    one_more = book.render("wrong_pin", "en-US", attempts_left=1)
    assert one_more.audio == ("hotline/en-US/wrong_pin.attempts_left_one",)
    two_more = book.render("wrong_pin", "en-US", attempts_left=2)
    assert two_more.audio == ("hotline/en-US/wrong_pin", "hotline/en-US/num/two", "hotline/en-US/wrong_pin.2")


# --- checked at load -------------------------------------------------------------------------------


def load_text(tmp_path: Path, text: str) -> PromptBook:
    path = tmp_path / "prompts.yaml"
    path.write_text(text, encoding="utf-8")
    return load_prompts(path)


def problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(SettingsError) as err:
        load_text(tmp_path, text)
    return str(err.value)


GOOD = """\
tries:
  params: {n: count}
  zh-CN: "还可以尝试{n}次。"
  en-US:
    by: n
    one: "One more try."
    other: "{n} more tries."
"""


def test_a_variant_is_chosen_by_its_count(tmp_path: Path) -> None:
    book = load_text(tmp_path, GOOD)
    assert [book.render("tries", "en-US", n=n).text for n in (0, 1, 2)] == [
        "zero more tries.", "One more try.", "two more tries."]


@pytest.mark.parametrize(("old", "new", "line", "message"), [
    ('    other: "{n} more tries."\n', "", 4, "tries.en-US.other: Field required"),
    ("    by: n\n", "    by: m\n", 5, "tries.en-US.by: 'm' is not a number or count of this prompt"),
    ('    one: "One more try."\n', '    two: "Two more tries."\n', 6, "tries.en-US.two: Extra inputs are not permitted"),
    ('    one: "One more try."\n', '    one: "One more {tries}."\n', 6,
     "tries.en-US.one: placeholders ['tries'] do not match params ['n']"),
    ('    one: "One more try."\n', '    one: {by: n, other: "x {n}"}\n', 6,
     "tries.en-US.one.by: variants by 'n' are already chosen above"),
    ('  en-US:\n    by: n\n    one: "One more try."\n    other: "{n} more tries."\n', '  en-US: "More tries."\n', 4,
     "tries.en-US: params ['n'] are never spoken nor choose a variant"),
    ("  params: {n: count}\n", "  params: {n: text}\n", 5, "tries.en-US.by: 'n' is not a number or count"),
])
def test_bad_variants_are_reported_with_file_and_line(tmp_path: Path, old: str, new: str, line: int,
                                                      message: str) -> None:
    text = GOOD.replace(old, new)
    assert text != GOOD
    assert f"{tmp_path / 'prompts.yaml'}:{line}: {message}" in problems(tmp_path, text)


@pytest.mark.parametrize(("counts", "message"), [
    ("{ahead: n - 1}", None),
    ("{ahead: n minus 1}", "tries.counts.ahead: expected '<param> - <n>' or '<param> + <n>', got 'n minus 1'"),
    ("{ahead: m - 1}", "tries.counts.ahead: 'm' is not a number or count param of this prompt"),
    ("{n: n - 1}", "tries.counts.n: a derived count needs a name of its own"),
])
def test_derived_counts_are_checked(tmp_path: Path, counts: str, message: str | None) -> None:
    text = GOOD.replace("  params: {n: count}\n", f"  params: {{n: count}}\n  counts: {counts}\n")
    if message is None:
        book = load_text(tmp_path, text.replace('"还可以尝试{n}次。"', '"前面{ahead}位。"'))
        assert [book.render("tries", "zh-CN", n=n).text for n in (0, 1, 3)] == ["前面零位。", "前面零位。", "前面两位。"]
    else:
        assert f"{tmp_path / 'prompts.yaml'}:3: {message}" in problems(tmp_path, text)
