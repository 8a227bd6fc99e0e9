"""Counted nouns and articles for messages: "1 panel", "3 panels", "an 8-frame motion".

Messages are read by people, so "panel(s)" and "a 8-frame" are bugs; every
command-line and engine message that counts something or puts an article in
front of a value goes through these two helpers.
"""

from __future__ import annotations

# Letters whose spoken name starts with a vowel sound ("an SDXL", "an MP4").
VOWEL_SOUND_LETTERS = frozenset("AEFHILMNORSX")
# Words that start with a vowel letter but a consonant sound ("a unified", "a one-off").
CONSONANT_SOUND_STARTS = ("uni", "use", "usu", "uti", "eu", "one", "once")


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``count`` followed by ``noun`` in the number that agrees with it."""
    return f"{count} {noun if count == 1 else plural_form or noun + 's'}"


def article(phrase: str) -> str:
    """``"a"`` or ``"an"`` for ``phrase``, by the sound it starts with when read aloud."""
    text = phrase.strip()
    if not text:
        return "a"
    if text[0].isdigit():
        return "an" if _number_starts_with_vowel(text) else "a"
    word = text.split()[0].split("-")[0]
    if len(word) > 1 and word[:2].isupper():
        return "an" if word[0] in VOWEL_SOUND_LETTERS else "a"
    lower = word.lower()
    if lower.startswith(CONSONANT_SOUND_STARTS):
        return "a"
    return "an" if lower[0] in "aeiou" else "a"


def with_article(phrase: str) -> str:
    """``phrase`` after its article: ``with_article("8-frame motion") == "an 8-frame motion"``."""
    return f"{article(phrase)} {phrase}"


def _number_starts_with_vowel(text: str) -> bool:
    """Whether the number at the start of ``text`` is read with a vowel sound first.

    8, 80-89, 800-899, 8000... ("eight..."), and 11 and 18 when they lead a group
    of three digits: 11, 18, 11 000, 18 000 000 ("eleven...", "eighteen...").
    """
    digits = ""
    for char in text:
        if char.isdigit():
            digits += char
        elif char not in ",_" or not digits:
            break
    if digits.startswith("8"):
        return True
    return len(digits) % 3 == 2 and digits[:2] in ("11", "18")
