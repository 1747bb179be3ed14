"""Numbers, amounts and reference numbers as words, for text-to-speech and for Asterisk sound files.

Each function returns `Spoken(text, audio)`: `text` for Twilio `<Say>`, `audio` the sound files
Asterisk plays in order. Sound file convention (documented in config/ivr/prompts.yaml too):

    hotline/<lang>/num/<token>

zh-CN tokens: 0..9 (零..九), shi 十, bai 百, qian 千, wan 万, yi 亿, yuan 元, jiao 角, fen 分, fu 负,
liang 两 (two of something: 两位, 两分钟).
en-US tokens: the English words themselves: zero..nineteen, twenty..ninety, hundred, thousand,
million, billion, trillion, yuan, minus ("thirty-four" is the two files thirty, four).
Letters in references: hotline/<lang>/letters/<a-z>.
"""

from __future__ import annotations

from dataclasses import dataclass

ZH = "zh-CN"
EN = "en-US"
LANGUAGES = (ZH, EN)

_ZH_DIGITS = "零一二三四五六七八九"
_ZH_TOKEN = {"零": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8",
             "九": "9", "十": "shi", "百": "bai", "千": "qian", "万": "wan", "亿": "yi", "元": "yuan", "角": "jiao",
             "分": "fen", "负": "fu", "两": "liang"}
_EN_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
            "fifteen sixteen seventeen eighteen nineteen").split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_EN_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand"))


@dataclass(frozen=True, slots=True)
class Spoken:
    text: str
    audio: tuple[str, ...]

    def __add__(self, other: Spoken) -> Spoken:
        sep = " " if self.text and other.text and not _is_cjk(self.text[-1]) else ""
        return Spoken(self.text + sep + other.text, self.audio + other.audio)


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


# --- Chinese ---------------------------------------------------------------------------------


def _zh_section(n: int, leading: bool) -> str:
    """0 < n < 10000 in Chinese. Inner zeros collapse to one 零; a leading 一十 becomes 十."""
    out: list[str] = []
    zero_pending = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit == 0:
            zero_pending = bool(out)
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        if not (unit == "十" and digit == 1 and leading and not out):
            out.append(_ZH_DIGITS[digit])
        out.append(unit)
    return "".join(out)


def zh_number(n: int) -> str:
    """Integer in Chinese words: 12 → 十二, 1005 → 一千零五, 100010000 → 一亿零一万."""
    if n < 0:
        return "负" + zh_number(-n)
    if n == 0:
        return "零"
    sections = []
    while n:
        sections.append(n % 10000)
        n //= 10000
    units = ["", "万", "亿", "万亿"]
    if len(sections) > len(units):
        raise ValueError("number too large to speak")
    out: list[str] = []
    zero_pending = False
    for index in range(len(sections) - 1, -1, -1):
        section = sections[index]
        if section == 0:
            zero_pending = bool(out)
            continue
        if out and (zero_pending or section < 1000):
            out.append("零")
        zero_pending = False
        out.append(_zh_section(section, leading=not out) + units[index])
    return "".join(out)


def _zh_spoken(text: str) -> Spoken:
    audio = []
    for char in text:
        # 万亿 is two files; every other character is one token
        audio.append(f"hotline/{ZH}/num/{_ZH_TOKEN[char]}")
    return Spoken(text, tuple(audio))


# --- English ---------------------------------------------------------------------------------


def _en_words_below_1000(n: int) -> list[str]:
    words: list[str] = []
    if n >= 100:
        words += [_EN_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        tens, ones = divmod(n, 10)
        words.append(_EN_TENS[tens] + (f"-{_EN_ONES[ones]}" if ones else ""))
    elif n:
        words.append(_EN_ONES[n])
    return words


def _en_words(n: int) -> list[str]:
    if n < 0:
        return ["minus", *_en_words(-n)]
    if n == 0:
        return ["zero"]
    if n >= 10**15:
        raise ValueError("number too large to speak")
    words: list[str] = []
    for value, name in _EN_SCALES:
        if n >= value:
            words += [*_en_words_below_1000(n // value), name]
            n %= value
    return words + _en_words_below_1000(n)


def en_number(n: int) -> str:
    """Integer in English words: 1234 → one thousand two hundred thirty-four."""
    return " ".join(_en_words(n))


def _en_spoken(words: list[str]) -> Spoken:
    audio = tuple(f"hotline/{EN}/num/{part}" for word in words for part in word.split("-"))
    return Spoken(" ".join(words), audio)


# --- public ------------------------------------------------------------------------------------


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")


def say_number(n: int, language: str) -> Spoken:
    _check_language(language)
    return _zh_spoken(zh_number(n)) if language == ZH else _en_spoken(_en_words(n))


def say_count(n: int, language: str) -> Spoken:
    """How many of something, said before its measure word: two is 两 in Chinese (两位客户,
    两分钟, 两次), never 二; otherwise as say_number."""
    _check_language(language)
    if language == ZH and n == 2:
        return _zh_spoken("两")
    return say_number(n, language)


def say_money(fen: int, language: str) -> Spoken:
    """An amount in fen as spoken by a bank: 123450 → 一千二百三十四元五角 / one thousand two hundred
    thirty-four yuan fifty. Fen are read after the yuan (0.05 → 五分, zero yuan five)."""
    _check_language(language)
    sign, fen = ("-", -fen) if fen < 0 else ("", fen)
    yuan, cents = divmod(fen, 100)
    if language == EN:
        words = ["minus"] if sign else []
        words += [*_en_words(yuan), "yuan"]
        if cents:
            words += _en_words(cents)
        return _en_spoken(words)
    jiao, fen_digit = divmod(cents, 10)
    text = "负" if sign else ""
    if yuan or not cents:
        text += zh_number(yuan) + "元"
    if jiao:
        text += _ZH_DIGITS[jiao] + "角"
    if fen_digit:
        if yuan and not jiao:
            text += "零"
        text += _ZH_DIGITS[fen_digit] + "分"
    return _zh_spoken(text)


def say_digits(value: str, language: str) -> Spoken:
    """Read a reference or account suffix one character at a time: "GS2026" → G S 二零二六."""
    _check_language(language)
    text_parts: list[str] = []
    audio: list[str] = []
    for char in value:
        if char.isdigit():
            digit = int(char)
            text_parts.append(_ZH_DIGITS[digit] if language == ZH else _EN_ONES[digit])
            audio.append(f"hotline/{language}/num/{digit if language == ZH else _EN_ONES[digit]}")
        elif char.isascii() and char.isalpha():
            text_parts.append(char.upper())
            audio.append(f"hotline/{language}/letters/{char.lower()}")
        else:
            raise ValueError(f"cannot read {char!r} aloud")
    if language == ZH:
        # Chinese TTS reads a run of digit characters one by one; letters stay apart
        text = "".join(p if not p.isascii() else f" {p} " for p in text_parts).strip().replace("  ", " ")
    else:
        text = " ".join(text_parts)
    return Spoken(text, tuple(audio))
