"""Stage one of the guard: an offline rule-based classifier, stdlib only.

Is the user's message a genuine request to be handed to a person? The message is
folded (case, accents, shouting, typos: `normalize.py`), rewritten word by word into
one-letter classes (`lexicon.py`: P = a person such as "agent", V = "talk", T = "to",
D = "a"...), and a small grammar runs over the class string: "V T D P" is "talk to a
human", "W D P" is "I want an agent", "E D P A" is "is there a person available".
Because the grammar works on classes, one rule covers every language of the lexicon.

Around the grammar sit the context checks: a negation governing the request
("no, I don't need a human", "pas besoin d'un humain") declines it; a compound about
people ("human resources", "travel agent") is no person at all; a question about the
bot ("is this a bot?"), plain frustration and asking for customer service in general
are left unsure for the model guard; text posing as a system instruction is never
trusted. Chinese, Japanese and Korean use direct patterns (no spaces between words).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache

from conversations.ai.guard import lexicon
from conversations.ai.guard.normalize import CLAUSE_MARKS, FuzzyIndex, adjacent_swaps, fold, splits, tokens
from conversations.ai.guard.phrases import PhraseMatcher, word_starts


@dataclass(frozen=True)
class GuardTuning:
    """Per-agent settings.

    sensitivity: 0..1, 0.5 is the default. Higher escalates more readily: it lowers the
        score a message needs (0.8 at 0, 0.2 at 1), so at high sensitivity even unsure
        signals (frustration, asking for customer service) count as a request.
    always_phrases / never_phrases: matched on the folded message as substrings.
        Precedence: an always phrase wins over a never phrase (the owner listed it as a
        request; a never phrase only says "this alone is not one"), and both win over
        the rules, including the injection check.
    """

    sensitivity: float = 0.5
    always_phrases: tuple[str, ...] = ()
    never_phrases: tuple[str, ...] = ()


@dataclass(frozen=True)
class LocalVerdict:
    score: float  # 0..1
    is_request: bool
    confident: bool  # False = unsure: the cascade asks the model guard when a key is set
    reason: str  # short machine-readable reason, e.g. "en:ask_for_human", "declined", "none"


# --- scores -----------------------------------------------------------------------------
# A verdict is confident when its score is at least MARGIN away from the threshold and its
# reason is not one of the SOFT ones, which are unsure whatever the score.
STRONG, GOOD, FAIR, WEAK = 0.95, 0.9, 0.8, 0.6
PERSON_QUESTION, AMBIGUOUS, FRUSTRATION, BOT_QUESTION, INJECTION = 0.45, 0.4, 0.35, 0.3, 0.3
ABOUT_PEOPLE, DECLINED, NOTHING = 0.06, 0.03, 0.02
MARGIN = 0.15
SOFT = frozenset({"frustration", "question:bot", "customer_service", "injection", "question:person",
                  "weak:someone"})


def _threshold(sensitivity: float) -> float:
    return 0.5 + (0.5 - min(1.0, max(0.0, sensitivity))) * 0.6


# --- lexicon, compiled once at import ---------------------------------------------------
# When a word has several classes across languages, the earlier class here wins.
_PRIORITY = "BPQqVSWwHAENnMOTYDZ"


def _folded_words(text: str) -> list[str]:
    return [word for word in (fold(w) for w in text.split()) if word]


def _build_vocabulary() -> tuple[dict[str, str], dict[str, str]]:
    classes: dict[str, str] = {}
    languages: dict[str, str] = {}
    for letter in _PRIORITY:
        for language in lexicon.LANGUAGES:
            for word in _folded_words(language.words.get(letter, "")):
                if word not in classes:
                    classes[word] = letter
                    languages[word] = language.code
    return classes, languages


_CLASS, _LANG = _build_vocabulary()
_STEMS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(pattern), letter, language.code)
    for language in lexicon.LANGUAGES for letter, pattern in language.stems.items()
]
_CLAUSE_WORDS = frozenset(w for language in lexicon.LANGUAGES for w in _folded_words(language.clause_words))
# Short words that may be glued to a keyword ("issomeone", "italk", "toocontact").
_GLUE_WORDS = frozenset("i is it too in on at or and how can do so am are be if you to a an me the with my".split())


def _build_merges() -> dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]]:
    """First word -> [(phrase words, replacement words)], longest phrase first."""
    merges: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}

    def add(phrase: str, replacement: list[str]) -> None:
        words = tuple(tokens(fold(phrase)))
        if words:
            merges.setdefault(words[0], []).append((words, tuple(replacement)))

    for language in lexicon.LANGUAGES:
        for phrase, replacement in language.merges.items():
            add(phrase, fold(replacement).split())
        for phrase in language.about:
            token = "b:" + "_".join(tokens(fold(phrase)))
            add(phrase, [token])
    for candidates in merges.values():
        candidates.sort(key=lambda item: -len(item[0]))
    return merges


_MERGES = _build_merges()
# One-word rewrites ("dont" -> "do not", "wanna" -> "want to") apply before typo correction.
_SINGLE_MERGES = {phrase[0]: replacement for candidates in _MERGES.values()
                  for phrase, replacement in candidates if len(phrase) == 1}
_FUZZY = FuzzyIndex(
    keywords=_folded_words(lexicon.FUZZY_KEYWORDS),
    # Words of the lexicon and of its phrases are real words: never "corrected" into another.
    protected=set(_CLASS) | set(_folded_words(lexicon.PROTECTED)) | _CLAUSE_WORDS
    | {word for candidates in _MERGES.values() for phrase, _ in candidates for word in phrase},
)


def _compile_union(fragments: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fragment})" for fragment in fragments))


_BOT_QUESTION = PhraseMatcher(f for lang in lexicon.LANGUAGES for f in lang.bot_question)
_FRUSTRATION = PhraseMatcher(rf"(?<!\S){f}" for lang in lexicon.LANGUAGES for f in lang.frustration)
_INJECTION = PhraseMatcher([*lexicon.ROLE_INJECTION, *(f for lang in lexicon.LANGUAGES for f in lang.injection)],
                           anywhere=lexicon.CJK_INJECTION)
_AFFIRM = frozenset(w for lang in lexicon.LANGUAGES for w in _folded_words(lang.affirm))
_AFFIRM_TAIL = frozenset(_folded_words(lexicon.AFFIRM_TAIL)) | _AFFIRM
_REFUSE = frozenset(w for lang in lexicon.LANGUAGES for w in _folded_words(lang.refuse))
_REFUSE_TAIL = frozenset(_folded_words(lexicon.REFUSE_TAIL)) | _REFUSE
_AFFIRM_LANG = {w: lang.code for lang in reversed(lexicon.LANGUAGES) for w in _folded_words(lang.affirm)}
_CAREER = frozenset(_folded_words("become becoming hire hiring hired job jobs career apply applying work working "
                                  "recruit recruiting convertirme trabajar devenir werden diventare virar worden"))

_RELAY = frozenset(_folded_words("ask asking tell let pregunta pregunte pregúntale demande demandez frag fragen "
                                  "chiedi chieda pergunte pergunta vraag zapytaj спросите спроси"))

_CJK_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_CJK_REQUEST = [(re.compile(pattern), code, kind) for code, pattern, kind in lexicon.CJK_REQUEST]
_CJK_DECLINE = _compile_union(list(lexicon.CJK_DECLINE))
_CJK_ABOUT = _compile_union(list(lexicon.CJK_ABOUT))
_CJK_BOT_QUESTION = _compile_union(list(lexicon.CJK_BOT_QUESTION))
_CJK_FRUSTRATION = _compile_union(list(lexicon.CJK_FRUSTRATION))
_CJK_SENTENCE = re.compile(r"[^.!?,;\n]+")
_CJK_OFFER = re.compile(r"人工|真人|客服人员|工作人员|担当者|オペレーター|スタッフ|상담원|상담사|직원")

# --- the grammar over class strings -----------------------------------------------------
# One character per token: "can i talk to a real human" -> "xxVODDP". Slots between a verb
# and the person take linking words, determiners, fillers, customer-service nouns and other
# person nouns ("talk to a customer service rep", "speak with a human agent"); one unknown
# word may follow a determiner ("a competent human").
_SLOT = "[OTDZSPY]"
_UNKNOWN = "(?:(?<=D)x)?"
_RULES: list[tuple[re.Pattern[str], str, dict[str, float]]] = [
    # talk/contact/connect + person: "talk to a human", "pásame con un agente",
    # "verbinden Sie mich bitte mit einem Mitarbeiter"
    (re.compile(rf"V{_SLOT}{{0,5}}{_UNKNOWN}(?P<p>[PQq])"), "ask_for_human", {"P": STRONG, "Q": STRONG, "q": FAIR}),
    # person + verb, for verb-final word order: "mit einem Menschen sprechen", "insaan se baat",
    # "temsilciyle görüşmek", "someone contact me". English "to" is not allowed in between:
    # "ask an agent to speak with..." relays a question, it does not ask for the agent.
    # The verb must end the phrase ("someone call me", "Menschen sprechen"): "does your agent
    # speak Spanish" describes the agent. "someone from your team call me" skips "from your team".
    (re.compile(r"(?P<p>[PQ])(?:[OT]D?x)?[TZ]{0,3}V(?=[OTZwVM|]|$)"), "ask_for_human", {"P": GOOD, "Q": GOOD}),
    # want/need/get + person: "I want a human", "necesito un asesor", "j'ai besoin d'un humain"
    (re.compile(rf"W{_SLOT}{{0,3}}{_UNKNOWN}(?P<p>[PQ])"), "want_human", {"P": GOOD, "Q": WEAK}),
    (re.compile(r"(?P<p>[PQ])[TDZ]{0,2}w"), "want_human", {"P": GOOD, "Q": WEAK}),
    # help from a person: "I need assistance from a human"
    (re.compile(rf"H[OT]{{1,2}}[DZS]{{0,3}}{_UNKNOWN}(?P<p>[PQ])"), "want_human", {"P": GOOD, "Q": WEAK}),
    (re.compile(r"(?P<p>[PQ])Z{0,2}H"), "want_human", {"P": FAIR, "Q": WEAK}),
    # availability: "is there a human available", "hay alguien disponible", "human available?"
    (re.compile(rf"E[OTDZ]{{0,3}}{_UNKNOWN}(?P<p>[PQq])"), "human_available", {"P": GOOD, "Q": FAIR, "q": WEAK}),
    (re.compile(r"(?P<p>[PQ])Z?A"), "human_available", {"P": FAIR, "Q": WEAK}),
]
# The whole message is a person noun with trimmings: "AGENT!!!", "human please", "real person".
_SHORT = re.compile(r"[DZTOWS]*(?P<p>P)[DZTOPS]*|[DZTOW]*(?P<q>Q)[DZ]*")
_CUSTOMER_SERVICE = re.compile(r"[VWEH][OTDZ]{0,3}S(?![SP])|S[TZ]{0,3}V")
_CUSTOMER_SERVICE_SHORT = re.compile(r"[DZWOT]*S[DZ]*")  # the whole message: "customer service please"
_NEGATION_BRIDGE = frozenset("OTDZWVY")
_PAST_FORMS = frozenset("sent sold made took gave came brought did was were had told said spoke wrote left "
                        "called delivered helped".split())
# "do I have to talk to an agent to cancel?" asks about the process, not for the agent.
# A yes/no question at the start of the clause; "what do I have to do to talk to someone?" asks
# how to reach a person, which is a request.
_PROCESS_QUESTION = re.compile(r"^(?:(?:do|does|will|would) (?:i|we) (?:have|need|got) to|must i|"
                               r"is it necessary to|am i required to|is it required to)\b")
_INABILITY = frozenset(("can", "could", "why", "puedo", "kann", "posso", "peux"))

# Short English words mistyped where the grammar expects them: the link word between a verb
# and a person ("chat wit a person", "talk tl a human", "speak tto an agent") and the verb
# before a link word and a person ("can u galk to a person"). Edit distance cannot correct
# such short words out of context (too many real neighbours), so the repair needs the
# context and a word the lexicon does not know; real words one edit away stay as they are.
_LINK_REPAIRS = (("to", "O"), ("with", "T"))
_VERB_REPAIRS = (("talk", "V"), ("chat", "V"))
_NOT_REPAIRED = frozenset(
    "go so do no two top toe ton tow toy tot wish witch width wits kith pith walk tall tale tail talc task tack "
    "balk stalk chap chit char cheat cat hat what that than".split())

_PERSON_AHEAD = re.compile(r"[DT]{0,3}[PQq]")


def _one_edit(word: str, target: str) -> bool:
    """One insertion, deletion, substitution or swap of neighbouring letters apart."""
    if word == target or abs(len(word) - len(target)) > 1:
        return False
    if len(word) == len(target):
        diff = [i for i, (a, b) in enumerate(zip(word, target)) if a != b]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                   and word[diff[0]] == target[diff[1]] and word[diff[1]] == target[diff[0]])
    short, long_ = (word, target) if len(word) < len(target) else (target, word)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _repair(words: list[str], classes: list[str]) -> None:
    """Reclass mistyped short words from their neighbours (see _LINK_REPAIRS), in place."""
    for i in range(len(classes) - 1):
        word = words[i]
        if classes[i] != "x" or len(word) > 5 or not word.isalpha() or word in _NOT_REPAIRED:
            continue
        before, after = classes[i - 1] if i else "|", classes[i + 1]
        # The person follows, after determiners at most ("a real person"; "a"/"an" may be classed T).
        if before == "V" and _PERSON_AHEAD.match("".join(classes[i + 1:i + 5])):
            repairs = _LINK_REPAIRS
        elif after in "OT" and _PERSON_AHEAD.match("".join(classes[i + 2:i + 6])):
            repairs = _VERB_REPAIRS
        else:
            continue
        for target, letter in repairs:
            if _one_edit(word, target):
                classes[i] = letter
                break


@dataclass
class _Match:
    start: int
    end: int  # exclusive, token indexes
    kind: str
    score: float
    language: str
    declined: bool = False


class _Message:
    """A folded message as tokens, their classes and the class string."""

    def __init__(self, folded: str):
        self.folded = folded
        words: list[str] = []
        for token in tokens(folded):
            if token in CLAUSE_MARKS:
                words.append("|")
                continue
            words.extend(_expand(token))
        words = _merge(words)
        self.words = ["|" if w in _CLAUSE_WORDS else w for w in words]
        self.languages: list[str] = []
        classes = []
        for word in self.words:
            letter, language = _classify(word)
            classes.append(letter)
            self.languages.append(language)
        _repair(self.words, classes)
        # "no" negates only what directly follows it: "no quiero", "no human", not "no, I want".
        for i, letter in enumerate(classes):
            if letter == "n":
                following = classes[i + 1] if i + 1 < len(classes) else "|"
                classes[i] = "N" if following in "VWPQTDw" else "x"
        self.classes = "".join(classes)
        self.joined = " ".join(self.words)
        self.offsets = []
        position = 0
        for word in self.words:
            self.offsets.append(position)
            position += len(word) + 1

    def token_span(self, start_char: int, end_char: int) -> tuple[int, int]:
        """Token indexes covered by a character span of `joined`."""
        return bisect_right(self.offsets, start_char) - 1, bisect_left(self.offsets, end_char)

    def clause_bounds(self, index: int) -> tuple[int, int]:
        start = self.classes.rfind("|", 0, index) + 1
        end = self.classes.find("|", index)
        return start, (len(self.classes) if end < 0 else end)


@lru_cache(maxsize=4096)
def _expand(token: str) -> tuple[str, ...]:
    """One raw token -> its dictionary spelling(s): contractions, chat words, typos."""
    single = _SINGLE_MERGES.get(token)
    if single:
        return single
    if token in _CLASS or token in _MERGES:
        return (token,)
    corrected = _FUZZY.correct(token)
    if corrected:
        return (corrected,)
    if not token.isalpha() or _classify(token)[0] != "x":  # inflected forms matched by stem
        return (token,)
    if len(token) <= 4:
        # Short words are too close to each other for edit distance; a swapped pair of
        # letters is still safe ("ot" -> "to", "atlk" -> "talk"). Never into a negation.
        for swapped in adjacent_swaps(token):
            if _LANG.get(swapped) == "en" and _CLASS[swapped] in "VOTDW":
                return (swapped,)
    if len(token) >= 4:
        # Words typed without the space: "withsomeone", "issomeone", "humanagent", "toan".
        # One part must be a keyword, the other a keyword or a small English function word;
        # "mail" must not become Italian "mai" + French "l".
        for left, right in splits(token):
            if (_keyword(left) and (_keyword(right) or right in _GLUE_WORDS)) or (
                    _keyword(right) and left in _GLUE_WORDS) or (left in _GLUE_WORDS and right in _GLUE_WORDS):
                return (*_expand(left), *_expand(right))
    return (token,)


def _keyword(word: str) -> bool:
    return len(word) >= 4 and _CLASS.get(word, "x") in "PQqVWwSHEAY"


def _merge(words: list[str]) -> list[str]:
    """Rewrite multi-word expressions, longest first, left to right (single pass)."""
    out: list[str] = []
    i = 0
    while i < len(words):
        for phrase, replacement in _MERGES.get(words[i], ()):
            if tuple(words[i:i + len(phrase)]) == phrase:
                out.extend(replacement)
                i += len(phrase)
                break
        else:
            out.append(words[i])
            i += 1
    return out


@lru_cache(maxsize=8192)
def _classify(word: str) -> tuple[str, str]:
    if word == "|":
        return "|", ""
    if word.startswith("b:"):
        return "B", ""
    letter = _CLASS.get(word)
    if letter:
        return letter, _LANG[word]
    for pattern, letter, code in _STEMS:
        if pattern.fullmatch(word):
            return letter, code
    if "\u0600" <= word[0] <= "\u06ff":  # Arabic glues articles and prepositions to the word
        for prefix in lexicon.ARABIC_PREFIXES:
            if word.startswith(prefix) and word[len(prefix):] in _CLASS:
                stem = word[len(prefix):]
                return _CLASS[stem], _LANG[stem]
    return "x", ""


def _requests(message: _Message) -> list[_Match]:
    found: list[_Match] = []
    classes = message.classes
    for pattern, kind, scores in _RULES:
        for hit in pattern.finditer(classes):
            person = hit.group("p")
            language = next((message.languages[i] for i in range(hit.start(), hit.end())
                             if classes[i] in "VWwHE" and message.languages[i]), "") \
                or message.languages[hit.start("p")] or "en"
            found.append(_Match(hit.start(), hit.end(), kind, scores[person], language))
    # A clause that is only a person noun with trimmings: "AGENT!!!", "not a bot, a human".
    if len(classes) <= 12:
        start = 0
        for clause in classes.split("|"):
            short = _SHORT.fullmatch(clause) if 0 < len(clause) <= 6 else None
            if short and short.group("p"):
                # The language of the verb if any ("necesito un humano"), else of the noun.
                span = range(start, start + len(clause))
                index = next((i for i in span if classes[i] in "VWw" and message.languages[i]),
                             start + clause.index("P"))
                found.append(_Match(start, start + len(clause), "short_request", STRONG,
                                    message.languages[index] or "en"))
            start += len(clause) + 1
    kept = []
    for match in found:
        if _describes_someone(message, match):
            continue
        match.declined = _is_declined(message, match)
        # "is anyone available at customer service?" asks whether support is open, like
        # "is customer service available?": an unspecified person placed in the service.
        if match.kind == "human_available" and "P" not in classes[match.start:match.end] \
                and "S" in classes[match.end:message.clause_bounds(match.start)[1]]:
            match.kind, match.score = "customer_service", min(match.score, AMBIGUOUS)
        if _PROCESS_QUESTION.search(" ".join(message.words[message.clause_bounds(match.start)[0]:match.start])):
            match.kind, match.score = "question:person", min(match.score, PERSON_QUESTION)
        kept.append(match)
    return kept


def _describes_someone(message: _Message, match: _Match) -> bool:
    """ "contact the person who sent it": a relative clause in the past names a third party."""
    words = message.words
    end = match.end
    if end + 1 < len(words) and words[end] in ("who", "that", "which", "whom"):
        following = words[end + 1]
        return following.endswith("ed") or following in _PAST_FORMS
    return False


def _is_declined(message: _Message, match: _Match) -> bool:
    """A negation that governs the request: "I don't want to talk to a human"."""
    classes, words = message.classes, message.words
    clause_start, clause_end = message.clause_bounds(match.start)
    i, skipped = match.start - 1, 0
    while i >= clause_start and skipped <= 4:
        letter = classes[i]
        if letter == "N":
            # "I can't reach anyone", "why can't I talk to a human": a complaint, not a refusal.
            return not (i > 0 and words[i - 1] in _INABILITY)
        if letter not in _NEGATION_BRIDGE:
            break
        i, skipped = i - 1, skipped + 1
    i, skipped = match.end, 0
    while i < clause_end and skipped <= 2:
        if classes[i] == "M":
            return True
        if classes[i] not in "OTDZ":
            break
        i, skipped = i + 1, skipped + 1
    return False


def _overlaps(match: _Match, spans: list[tuple[int, int]]) -> bool:
    return any(match.start < end and start < match.end for start, end in spans)


def _verdict(score: float, reason: str, threshold: float, *, force_no: bool = False) -> LocalVerdict:
    is_request = score >= threshold and not force_no
    confident = reason not in SOFT and abs(score - threshold) >= MARGIN - 1e-9  # float-safe comparison
    return LocalVerdict(round(score, 3), is_request, confident, reason)


@lru_cache(maxsize=256)
def _folded_phrases(phrases: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(p for p in (fold(phrase) for phrase in phrases) if p)


def _is_offer(previous_ai_text: str) -> bool:
    """Did the assistant just offer a person ("Would you like me to connect you with a teammate?")."""
    folded = fold(previous_ai_text)
    if "?" not in folded:
        return False
    if _CJK_SCRIPT.search(folded) and _CJK_OFFER.search(folded):
        return True
    # A verb of talking, transferring or getting, and a person or the support team:
    # "Did the agent solve your issue?" names a person but offers nothing.
    classes = _Message(folded).classes
    return any(letter in classes for letter in "VWwHE") and any(letter in classes for letter in "PQS")


def _answer_to_offer(message: _Message) -> str | None:
    """'yes' / 'no' when the message is a short answer, else None."""
    words = [w for w in message.words if w != "|"]
    if not words or len(words) > 6:
        return None
    stripped = message.folded.strip(" .!?")
    if stripped in lexicon.CJK_AFFIRM:
        return "yes"
    if stripped in lexicon.CJK_REFUSE:
        return "no"
    if words[0] in _REFUSE and all(w in _REFUSE_TAIL for w in words[1:]):
        return "no"
    if words[0] in _AFFIRM and all(w in _AFFIRM_TAIL or _classify(w)[0] in "VOTDZPQ" for w in words):
        return "yes"
    return None


def _cjk_language(text: str) -> str:
    if re.search(r"[\uac00-\ud7af]", text):
        return "ko"
    if re.search(r"[\u3040-\u30ff]", text):
        return "ja"
    return "zh" if _CJK_SCRIPT.search(text) else "en"


def _cjk(folded: str) -> tuple[list[tuple[float, str]], bool, bool, bool, bool]:
    """Requests, decline, bot question, frustration and about-people in CJK text."""
    text = _CJK_ABOUT.sub(" ", folded)
    about = text != folded
    requests: list[tuple[float, str]] = []
    declined = False
    for sentence in _CJK_SENTENCE.findall(text):
        sentence = sentence.strip()
        hits = [(code, kind) for pattern, code, kind in _CJK_REQUEST if pattern.search(sentence)]
        if _CJK_DECLINE.search(sentence):
            declined = True
        elif hits:
            code, kind = hits[0]
            requests.append((STRONG if kind != "want_human" else GOOD, f"{code}:{kind}"))
    return requests, declined, bool(_CJK_BOT_QUESTION.search(text)), bool(_CJK_FRUSTRATION.search(text)), about


def classify_local(text: str, *, previous_ai_text: str | None = None,
                   tuning: GuardTuning = GuardTuning()) -> LocalVerdict:
    """Is `text` a genuine request for a person? Pure function of its arguments."""
    threshold = _threshold(tuning.sensitivity)
    folded = fold(text or "")
    if tuning.always_phrases and any(p in folded for p in _folded_phrases(tuning.always_phrases)):
        return LocalVerdict(1.0, True, True, "always_phrase")
    if tuning.never_phrases and any(p in folded for p in _folded_phrases(tuning.never_phrases)):
        return LocalVerdict(0.0, False, True, "never_phrase")
    if not folded:
        return _verdict(NOTHING, "none", threshold)
    if _INJECTION.search(folded, word_starts(folded)):
        return _verdict(INJECTION, "injection", threshold, force_no=True)

    message = _Message(folded)
    if previous_ai_text and _is_offer(previous_ai_text):
        answer = _answer_to_offer(message)
        if answer == "yes":
            first = next((w for w in message.words if w in _AFFIRM_LANG), "")
            language = _AFFIRM_LANG.get(first) or _cjk_language(folded)
            return _verdict(STRONG, f"{language}:yes_to_offer", threshold)
        if answer == "no":
            return _verdict(DECLINED, "declined", threshold)

    matches = _requests(message)
    bot_spans = [message.token_span(*span) for span in _BOT_QUESTION.spans(message.joined, message.offsets)]
    candidates = [m for m in matches if not m.declined and not _overlaps(m, bot_spans)]
    declined = any(m.declined for m in matches)
    bot_question, frustration, about = bool(bot_spans), False, False
    if _CJK_SCRIPT.search(folded):
        cjk_requests, cjk_declined, cjk_bot, cjk_frustration, about = _cjk(folded)
        if cjk_requests:
            score, reason = max(cjk_requests)
            candidates.append(_Match(0, 0, reason.split(":", 1)[1], score, reason.split(":", 1)[0]))
        declined, bot_question, frustration = declined or cjk_declined, bot_question or cjk_bot, cjk_frustration

    if candidates:
        best = max(candidates, key=lambda m: m.score)
        kind = best.kind if best.kind in SOFT or best.score > WEAK else "weak:someone"
        reason = kind if kind in SOFT else f"{best.language}:{kind}"
        return _verdict(best.score, reason, threshold)

    classes = message.classes
    if declined or _negated_person(message):
        return _verdict(DECLINED, "declined", threshold)
    if bot_question:
        return _verdict(BOT_QUESTION, "question:bot", threshold)
    content = classes.replace("|", "")
    if _CUSTOMER_SERVICE.search(classes) or _CUSTOMER_SERVICE_SHORT.fullmatch(content):
        return _verdict(AMBIGUOUS, "customer_service", threshold)
    if frustration or _FRUSTRATION.search(message.joined, message.offsets):
        return _verdict(FRUSTRATION, "frustration", threshold)
    if content and _SHORT.fullmatch(content):  # "someone?", "anyone please"
        return _verdict(PERSON_QUESTION, "weak:someone", threshold)
    if "B" in classes:
        word = message.words[classes.index("B")][2:]
        return _verdict(ABOUT_PEOPLE, f"about_people:{word}", threshold)
    if about:
        return _verdict(ABOUT_PEOPLE, "about_people", threshold)
    if any(letter in classes for letter in "PQ"):
        index = next(i for i, letter in enumerate(classes) if letter in "PQ")
        if index > 0 and message.words[index - 1] in _CAREER or (
                index > 1 and classes[index - 1] in "DT" and message.words[index - 2] in _CAREER):
            return _verdict(ABOUT_PEOPLE, "about_people:career", threshold)
        # A question about a person, or a message for one ("please ask an agent to check my
        # refund"): maybe a request in other words; the model guard may decide.
        if "?" in folded or (index > 0 and message.words[index - 1] in _RELAY) or (
                index > 1 and classes[index - 1] in "DT" and message.words[index - 2] in _RELAY):
            return _verdict(PERSON_QUESTION, "question:person", threshold)
        return _verdict(ABOUT_PEOPLE, "about_people", threshold)
    return _verdict(NOTHING, "none", threshold)


def _negated_person(message: _Message) -> bool:
    """A person and a negation in one clause, with no request: "no need for an agent"."""
    for clause_classes in message.classes.split("|"):
        if ("P" in clause_classes or "Q" in clause_classes) and ("N" in clause_classes or "M" in clause_classes):
            return True
    return False
