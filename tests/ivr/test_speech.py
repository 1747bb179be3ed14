"""Amounts, numbers and references as a bank reads them, in both languages, with their sound files."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.speech import en_number, say_count, say_digits, say_money, say_number, zh_number

NUMBERS = [
    (0, "零", "zero"),
    (2, "二", "two"),
    (10, "十", "ten"),
    (12, "十二", "twelve"),
    (19, "十九", "nineteen"),
    (20, "二十", "twenty"),
    (101, "一百零一", "one hundred one"),
    (110, "一百一十", "one hundred ten"),
    (1005, "一千零五", "one thousand five"),
    (1010, "一千零一十", "one thousand ten"),
    (10005, "一万零五", "ten thousand five"),
    (100000, "十万", "one hundred thousand"),
    (150000, "十五万", "one hundred fifty thousand"),
    (10000001, "一千万零一", "ten million one"),
    (100010000, "一亿零一万", "one hundred million ten thousand"),
    (100100000, "一亿零一十万", "one hundred million one hundred thousand"),
    (1000000000, "十亿", "one billion"),
    (123456789, "一亿二千三百四十五万六千七百八十九",
     "one hundred twenty-three million four hundred fifty-six thousand seven hundred eighty-nine"),
    (-45, "负四十五", "minus forty-five"),
]


@pytest.mark.parametrize(("n", "zh", "en"), NUMBERS)
def test_numbers_in_words(n: int, zh: str, en: str) -> None:
    assert zh_number(n) == zh
    assert en_number(n) == en


AMOUNTS = [  # fen, zh-CN, en-US
    (123450, "一千二百三十四元五角", "one thousand two hundred thirty-four yuan fifty"),
    (123456, "一千二百三十四元五角六分", "one thousand two hundred thirty-four yuan fifty-six"),
    (123405, "一千二百三十四元零五分", "one thousand two hundred thirty-four yuan five"),
    (100500, "一千零五元", "one thousand five yuan"),
    (1200, "十二元", "twelve yuan"),
    (1234567, "一万二千三百四十五元六角七分", "twelve thousand three hundred forty-five yuan sixty-seven"),
    (1000500, "一万零五元", "ten thousand five yuan"),
    (10000005, "十万元零五分", "one hundred thousand yuan five"),
    (88888800, "八十八万八千八百八十八元", "eight hundred eighty-eight thousand eight hundred eighty-eight yuan"),
    (1234567890000, "一百二十三亿四千五百六十七万八千九百元",
     "twelve billion three hundred forty-five million six hundred seventy-eight thousand nine hundred yuan"),
    (50, "五角", "zero yuan fifty"),
    (5, "五分", "zero yuan five"),
    (0, "零元", "zero yuan"),
    (-123450, "负一千二百三十四元五角", "minus one thousand two hundred thirty-four yuan fifty"),
]


@pytest.mark.parametrize(("fen", "zh", "en"), AMOUNTS)
def test_amounts_in_words(fen: int, zh: str, en: str) -> None:
    assert say_money(fen, "zh-CN").text == zh
    assert say_money(fen, "en-US").text == en


def test_amount_sound_files_follow_the_words() -> None:
    assert say_money(100550, "zh-CN").audio == tuple(
        f"hotline/zh-CN/num/{t}" for t in ("1", "qian", "0", "5", "yuan", "5", "jiao"))
    assert say_money(123450, "en-US").audio == tuple(
        f"hotline/en-US/num/{t}" for t in
        ("one", "thousand", "two", "hundred", "thirty", "four", "yuan", "fifty"))


def test_every_chinese_character_has_one_sound_file() -> None:
    spoken = say_money(-1000000000001, "zh-CN")
    assert len(spoken.audio) == len(spoken.text)


def test_references_are_read_one_character_at_a_time() -> None:
    zh = say_digits("GS2026", "zh-CN")
    assert zh.text == "G S 二零二六"
    assert zh.audio == ("hotline/zh-CN/letters/g", "hotline/zh-CN/letters/s", "hotline/zh-CN/num/2",
                        "hotline/zh-CN/num/0", "hotline/zh-CN/num/2", "hotline/zh-CN/num/6")
    assert say_digits("0010", "en-US").text == "zero zero one zero"


def test_numbers_speak_in_the_callers_language() -> None:
    assert say_number(7, "en-US").audio == ("hotline/en-US/num/seven",)
    with pytest.raises(ValueError, match="language"):
        say_number(7, "fr-FR")
    with pytest.raises(ValueError, match="too large"):
        say_number(10**17, "zh-CN")
    with pytest.raises(ValueError, match="cannot read"):
        say_digits("12-3", "zh-CN")


def test_two_of_something_is_liang_in_chinese() -> None:
    two = say_count(2, "zh-CN")
    assert (two.text, two.audio) == ("两", ("hotline/zh-CN/num/liang",))  # 两位客户, 两分钟, 两次
    assert say_count(12, "zh-CN").text == "十二" and say_count(20, "zh-CN").text == "二十"
    assert say_count(2, "en-US") == say_number(2, "en-US")
    assert say_count(5, "zh-CN") == say_number(5, "zh-CN")


# --- round trips: whatever the number, the words mean that number -----------------------------

_ZH_VALUE = {c: i for i, c in enumerate("零一二三四五六七八九")}
_ZH_UNIT = {"十": 10, "百": 100, "千": 1000}
_ZH_SECTION = {"万": 10**4, "亿": 10**8}
_EN_VALUE = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())} | {w: 10 * i for i, w in enumerate(
        "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if w != "_"}
_EN_SCALE = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}


def parse_zh(text: str) -> int:
    """A plain reader of Chinese numerals below 一万亿 (independent of the code under test)."""
    sign = -1 if text.startswith("负") else 1
    done, wan, section, digit = 0, 0, 0, 0
    for char in text.removeprefix("负"):
        if char in _ZH_VALUE:
            digit = _ZH_VALUE[char]
        elif char in _ZH_UNIT:
            section += (digit or 1) * _ZH_UNIT[char]
            digit = 0
        elif char == "万":
            wan, section, digit = (section + digit) * 10**4, 0, 0
        else:  # 亿
            done, wan, section, digit = (wan + section + digit) * 10**8, 0, 0, 0
    return sign * (done + wan + section + digit)


def parse_en(text: str) -> int:
    words = text.replace("-", " ").split()
    sign = -1 if words[0] == "minus" else 1
    total, group = 0, 0
    for word in words[1:] if sign < 0 else words:
        if word == "hundred":
            group *= 100
        elif word in _EN_SCALE:
            total += group * _EN_SCALE[word]
            group = 0
        else:
            group += _EN_VALUE[word]
    return sign * (total + group)


@given(st.integers(min_value=-(10**12) + 1, max_value=10**12 - 1))
def test_words_read_back_to_the_same_number(n: int) -> None:
    assert parse_zh(zh_number(n)) == n
    assert parse_en(en_number(n)) == n


@given(st.integers(min_value=0, max_value=10**11))
def test_amount_words_hold_the_yuan_and_the_fen(fen: int) -> None:
    zh = say_money(fen, "zh-CN").text
    yuan_text, has_yuan, cents_text = zh.partition("元")
    assert parse_zh(yuan_text) == fen // 100 if has_yuan else fen < 100
    cents_text = cents_text if has_yuan else zh
    jiao = _ZH_VALUE[cents_text[cents_text.index("角") - 1]] if "角" in cents_text else 0
    fen_digit = _ZH_VALUE[cents_text[cents_text.index("分") - 1]] if "分" in cents_text else 0
    assert jiao * 10 + fen_digit == fen % 100
    en = say_money(fen, "en-US").text
    yuan_words, _, cents_words = en.partition(" yuan")
    assert parse_en(yuan_words) == fen // 100
    assert (parse_en(cents_words) if cents_words.strip() else 0) == fen % 100
