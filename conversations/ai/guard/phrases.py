"""Many regex fragments, matched only where a word starts.

One big alternation of ~100 fragments costs tens of microseconds per message: the
engine tries every branch at every character. The fragments of the guard (frustration,
bot questions, injections) all begin at a word, and most begin with a known letter, so
`PhraseMatcher` indexes them by that first letter and tries, at each word start, only
the few fragments that can begin there. Fragments whose first character cannot be
determined (they start with a class, an escape or an optional group) are searched the
ordinary way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_LEADING_BOUNDARY = re.compile(r"^(?:\(\?<!\\S\)|\\b)")
_META = set("\\[](){}.*+?^$|")


class PhraseMatcher:
    def __init__(self, fragments: Iterable[str], *, anywhere: Iterable[str] = ()):
        """`anywhere`: fragments that may begin inside a word (Chinese and Japanese have no spaces)."""
        by_char: dict[str, list[str]] = {}
        anywhere = list(anywhere)
        for fragment in fragments:
            body = _LEADING_BOUNDARY.sub("", fragment)
            chars = first_chars(body)
            if chars is None:
                anywhere.append(fragment)
            else:
                for char in chars:
                    by_char.setdefault(char, []).append(body)
        self._by_char = {char: _union(bodies) for char, bodies in by_char.items()}
        self._anywhere = _union(anywhere) if anywhere else None

    def spans(self, text: str, starts: Iterable[int]) -> list[tuple[int, int]]:
        """Character spans of the matches beginning at the given word starts (plus unindexed ones)."""
        found = []
        for start in starts:
            pattern = self._by_char.get(text[start:start + 1])
            if pattern:
                hit = pattern.match(text, start)
                if hit:
                    found.append(hit.span())
        if self._anywhere:
            found.extend(hit.span() for hit in self._anywhere.finditer(text))
        return found

    def search(self, text: str, starts: Iterable[int]) -> bool:
        for start in starts:
            pattern = self._by_char.get(text[start:start + 1])
            if pattern and pattern.match(text, start):
                return True
        return bool(self._anywhere and self._anywhere.search(text))


def word_starts(text: str) -> list[int]:
    """Offsets where a word starts in folded text (single spaces or newlines between words)."""
    return [0] + [i + 1 for i, char in enumerate(text) if char in " \n"]


def first_chars(fragment: str) -> set[str] | None:
    """The characters a match of `fragment` can begin with, or None when unknown."""
    if not fragment:
        return None
    head = fragment[0]
    if fragment.startswith("(?:"):
        end = _closing_paren(fragment, 0)
        if end is None or fragment[end + 1:end + 2] in ("?", "*", "{"):
            return None
        chars: set[str] = set()
        for alternative in _top_level_split(fragment[3:end]):
            alternative_chars = first_chars(alternative or fragment[end + 1:])
            if alternative_chars is None:
                return None
            chars |= alternative_chars
        return chars
    if head in _META or fragment[1:2] in ("?", "*", "{"):
        return None
    return {head}


def _union(fragments: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fragment})" for fragment in fragments))


def _outside_escapes_and_classes(text: str, start: int = 0):
    """(index, char, depth) for each regex character that is neither escaped nor inside a
    [...] class; depth is how many groups are open before it."""
    depth, i, in_class = 0, start, False
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        else:
            yield i, char, depth
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
        i += 1


def _closing_paren(text: str, start: int) -> int | None:
    return next((i for i, char, depth in _outside_escapes_and_classes(text, start) if char == ")" and depth == 1),
                None)


def _top_level_split(text: str) -> list[str]:
    """The alternatives of `text` split at its top-level `|`."""
    cuts = [i for i, char, depth in _outside_escapes_and_classes(text) if char == "|" and depth == 0]
    bounds = [-1, *cuts, len(text)]
    return [text[left + 1:right] for left, right in zip(bounds, bounds[1:])]
