"""Text folding and typo-tolerant word lookup for the local guard.

Users shout, skip accents and mistype ("HUMNA!!!", "represenative", "operador",
"ich möchte"); the rules in `local.py` must see one spelling of each word. Everything
here is stdlib and cheap: a translate table, three regexes and a dict lookup per word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable


def _fold_table() -> dict[int, str | None]:
    """One `str.translate` table for every per-character fold, built once at import."""
    table: dict[int, str | None] = {}
    # Latin letters: drop accents ("é" -> "e", "ñ" -> "n", "ç" -> "c"). Restricted to
    # the Latin blocks: stripping marks from Devanagari or kana would change the word.
    for code in range(0xC0, 0x250):
        char = chr(code)
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        if base and base != char:
            table[code] = base
    # Letters NFKD leaves alone but users type without the stroke or dot.
    table.update({ord("ł"): "l", ord("ı"): "i", ord("ø"): "o", ord("đ"): "d", ord("ß"): "ss",
                  ord("æ"): "ae", ord("œ"): "oe", ord("ё"): "е"})
    # Stray combining marks left by casefold ("İ" -> "i̇") or typed decomposed.
    for code in range(0x300, 0x370):
        table[code] = None
    # Arabic: short vowels, tatweel and the letter variants people use interchangeably.
    for code in (*range(0x064B, 0x0653), 0x0670, 0x0640):
        table[code] = None
    table.update({ord("أ"): "ا", ord("إ"): "ا", ord("آ"): "ا", ord("ٱ"): "ا", ord("ى"): "ي",
                  ord("ة"): "ه", ord("ؤ"): "و", ord("ئ"): "ي"})
    table[0x093C] = None  # Devanagari nukta: "ज़" and "ज" are typed for the same word
    # Punctuation of other scripts, mapped to the ASCII marks that end a clause.
    table.update({ord("،"): ",", ord("؛"): ";", ord("؟"): "?", ord("।"): ".", ord("॥"): ".",
                  ord("。"): ".", ord("、"): ",", ord("¿"): " ", ord("¡"): " "})
    # Apostrophes: one kind, so contractions and French elisions split the same way.
    table.update({ord("’"): "'", ord("‘"): "'", ord("`"): "'", ord("´"): "'", ord("ʼ"): "'"})
    return table


_FOLD = _fold_table()
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")  # templated slots such as {{Order Number}}
_REPEATS = re.compile(r"(.)\1{2,}")  # "AGEEENT", "pleaseeee", "!!!" -> one character
_SPACES = re.compile(r"[^\S\n]+")  # newlines are kept: a line starting "SYSTEM:" is an injection sign
_NEWLINES = re.compile(r" ?\n[\s]*")

# English contractions, expanded so "don't" and "do not" look the same to the rules.
_CONTRACTIONS = [
    (re.compile(r"\bcan'?t\b|\bcannot\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"(?<=[a-z])n't\b"), " not"),
    (re.compile(r"(?<=[a-z])'d\b"), " would"),
    (re.compile(r"(?<=[a-z])'m\b"), " am"),
    (re.compile(r"(?<=[a-z])'re\b"), " are"),
    (re.compile(r"(?<=[a-z])'ve\b"), " have"),
    (re.compile(r"(?<=[a-z])'ll\b"), " will"),
]

# A token: a run of word characters. Devanagari vowel signs and Arabic marks are not
# `isalnum`, so their blocks are listed, or "बात" would fall apart into pieces.
TOKEN = re.compile(r"[\w\u0900-\u0963\u0966-\u097F\u0600-\u06FF]+|[,.;:!?\n]")
CLAUSE_MARKS = frozenset(",.;:!?\n")


def fold(text: str) -> str:
    """Casefolded, accent-folded, de-shouted text with one space (or one newline) between words."""
    text = _PLACEHOLDER.sub(" ", text)
    text = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
    text = _REPEATS.sub(r"\1", text)
    if "'" in text:
        for pattern, replacement in _CONTRACTIONS:
            text = pattern.sub(replacement, text)
        text = text.replace("'", " ")  # French/Italian elision: "l'agent" -> "l agent"
    return _NEWLINES.sub("\n", _SPACES.sub(" ", text)).strip()


def tokens(folded: str) -> list[str]:
    """Words and clause marks of already folded text."""
    return TOKEN.findall(folded)


class FuzzyIndex:
    """Maps a mistyped word to the keyword it is one edit away from.

    Symmetric-delete lookup (as in SymSpell): a word and a keyword match when one
    equals the other with one letter removed, or both do after removing one letter.
    That covers one insertion, deletion, substitution or adjacent swap ("humna",
    "agnet", "persn", "represenative") with a few dict lookups and no edit-distance
    loop. Only keywords of five letters or more take part: shorter words have too many
    real neighbours ("talk"/"walk").
    """

    def __init__(self, keywords: Iterable[str], protected: Iterable[str], *, min_keyword: int = 5):
        self._exact: frozenset[str] = frozenset(protected)
        self._by_delete: dict[str, str] = {}
        self._keywords: dict[str, str] = {}
        for word in sorted(set(keywords), key=lambda w: (len(w), w)):
            if len(word) < min_keyword:
                continue
            self._keywords.setdefault(word, word)
            for variant in _deletes(word):
                # The first (shortest) keyword wins a shared variant; ties are rare and
                # both candidates are then synonyms in the lexicon anyway.
                self._by_delete.setdefault(variant, word)

    def correct(self, word: str) -> str | None:
        """The keyword `word` is a typo of, or None."""
        if len(word) < 4 or word in self._exact or not word.isalpha():
            return None
        keyword = self._keywords.get(word) or self._by_delete.get(word)  # word = keyword - 1 letter
        if keyword:
            return keyword
        for variant in _deletes(word):
            keyword = self._keywords.get(variant) or self._by_delete.get(variant)
            if keyword and abs(len(keyword) - len(word)) <= 1:
                return keyword
        return None


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def adjacent_swaps(word: str) -> list[str]:
    """Every spelling of `word` with two neighbouring letters swapped ("atlk" -> "talk")."""
    return [word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1)]


def splits(word: str) -> list[tuple[str, str]]:
    """Every way to cut `word` in two non-empty parts ("withsomeone" -> ("with", "someone"), ...)."""
    return [(word[:i], word[i:]) for i in range(1, len(word))]
