# PLACEHOLDER written by the lead engineer so the project imports while helper-1 writes the real guard.
# helper-1: overwrite this whole file.
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class GuardTuning:
    sensitivity: float = 0.5
    always_phrases: tuple[str, ...] = ()
    never_phrases: tuple[str, ...] = ()


@dataclass(frozen=True)
class LocalVerdict:
    score: float
    is_request: bool
    confident: bool
    reason: str


_ASK = re.compile(r"\b(talk|speak|chat)\b.*\b(human|person|agent|someone)\b|\bhuman please\b", re.I)
_NOT = re.compile(r"human resources|travel agent|\bno\b|don't", re.I)


def classify_local(text, *, previous_ai_text=None, tuning=GuardTuning()):
    if _NOT.search(text):
        return LocalVerdict(0.05, False, True, "about_people")
    if _ASK.search(text):
        return LocalVerdict(0.95, True, True, "en:ask_for_human")
    return LocalVerdict(0.0, False, True, "none")
