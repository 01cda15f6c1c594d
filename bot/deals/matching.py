"""Reading deal commands out of short messages: «Ромашку в кп», «romashka next», «Ромашка: ...».

Pure functions over the deals a person may change; nothing here touches the database. The
rule everywhere: a move happens only on one confident deal and one confident stage.

Commands pick among OPEN deals: a won or lost deal is never guessed at («ромашку дальше» with
«Ромашка ООО» won and «Ромашка Плюс» open is about the open one). A closed deal is reached
only by its exact name (`exact_key`): alone, it opens the card; in a command, the command is
answered with CLOSED (it is closed, reopen it from the card), never carried out.

«Deal: note» splits at the first colon that separates: not one inside «://» (a link) and not
one between digits (15:00); and the part before it must be a name (at most `NAME_WORDS`
words) that names the deal confidently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from rapidfuzz import fuzz, process

from bot.common.text import fold, stem, words
from bot.deals.funnel import Funnel, FunnelConfig

ARROW = re.compile(r"\s*(?:→|->|=>|⇒|➡️?|⟶|—>|-->|–>)\s*")
LEGAL_FORMS = {
    "ооо",
    "оао",
    "зао",
    "пао",
    "ао",
    "ип",
    "нко",
    "llc",
    "ltd",
    "inc",
    "gmbh",
    "corp",
    "co",
}
NEXT_WORDS = {stem(w) for w in ("дальше", "далее", "следующий", "следующая", "следующую",
              "вперед", "вперёд", "след", "next", "forward", "further")}  # fmt: skip
STAGE_FILLER = {stem(w) for w in ("этап", "стадия", "стадию", "в", "во", "на", "к", "to", "into",
                "the", "stage", "step", "move", "перевести", "переводим", "двигаем", "сделка",
                "сделку", "теперь", "уже", "now")}  # fmt: skip
# Winning and losing, in words any funnel understands, whatever its file names the stages.
WON_WORDS = {stem(w) for w in ("выиграна", "выиграли", "выиграл", "выиграла", "выигрыш",
             "закрыли", "оплатили", "оплачено", "оплачена", "won", "win")}  # fmt: skip
LOST_WORDS = {stem(w) for w in ("проиграна", "проиграли", "проиграл", "проиграла", "слили",
              "слилась", "слился", "отказались", "отказ", "lost", "lose")}  # fmt: skip
CLOSED = stem("closed")  # «closed won», «closed lost»
PREPOSITIONS = {"в", "во", "на", "к", "to", "into", "по", "у", "для", "про", "with", "for"}

CONFIDENT = 80.0  # a deal or stage scoring this much may be acted on...
MARGIN = 10.0  # ...when the runner-up is at least this far behind
PLAUSIBLE = 75.0  # candidates worth offering as buttons
STAGE_TYPO = 70.0
WORD_MATCH = 75.0  # each typed word of a name must be at least this like a word of it
NAME_WORDS = 6  # «Name: note»: a longer part before the colon is not a name


class IntentKind(StrEnum):
    MOVE = "move"  # one deal, one stage: act
    NOTE = "note"  # «Ромашка: text that is not a stage»
    ASK_DEAL = "ask_deal"  # several deals fit: offer buttons
    ASK_STAGE = "ask_stage"  # the deal is clear, the stage is not
    UNKNOWN_STAGE = "unknown_stage"  # a command shape with a stage nobody knows
    NOT_FOUND = "not_found"  # a command shape, but no deal of this person matches
    MAYBE = "maybe"  # starts with a deal name but has no command shape: deal or question?
    CLOSED = "closed"  # a command on a won or lost deal, named exactly: say so, change nothing
    NONE = "none"  # not a deal command at all


@dataclass(frozen=True, slots=True)
class DealRef:
    """What matching needs to know about a deal."""

    id: int
    title: str
    client: str | None
    funnel: str
    stage: str
    status: str
    version: int


@dataclass(frozen=True, slots=True)
class Intent:
    kind: IntentKind
    deals: tuple[DealRef, ...] = ()
    stage: str | None = None  # a stage key, when known
    stages: tuple[str, ...] = ()  # candidate stage keys for ASK_STAGE
    text: str = ""  # the note, or the unknown stage words
    explicit: bool = False  # typed as /move: never a question
    note: bool = False  # ASK_DEAL or CLOSED for «Name: text» where the text is a note
    exact: bool = False  # the deal was named exactly (its whole title or client)

    @property
    def deal(self) -> DealRef:
        return self.deals[0]


TRANSLIT = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s",
    "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch",
    "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
})  # fmt: skip


def _name_stems(text: str) -> list[str]:
    return [stem(word) for word in words(text) if word not in LEGAL_FORMS]


@lru_cache(maxsize=8192)
def _name_forms(title: str, client: str | None) -> tuple[tuple[str, frozenset[str]], ...]:
    """A deal's names as stems (title, client, and both in Latin letters); built once per name."""
    variants = {title, client or "", _latin(title), _latin(client or "")}
    forms = []
    for variant in sorted(variants):
        stems = _name_stems(variant)
        if stems:
            forms.append((" ".join(stems), frozenset(stems)))
    return tuple(forms)


def _latin(text: str) -> str:
    """«Ромашка» as people type it on a Latin keyboard: romashka."""
    return fold(text).translate(TRANSLIT)


@dataclass(frozen=True, slots=True)
class _NameIndex:
    """Every way of naming every deal (title, client, both in Latin letters): its "forms"."""

    owner: tuple[int, ...]  # form -> position of its deal in the list
    joined: tuple[str, ...]  # form -> its stems joined by spaces
    squashed: tuple[str, ...]  # ...and without spaces, for «альфа тех» against «альфатех»
    tokens: tuple[frozenset[str], ...]  # form -> its stems
    forms_with: dict[str, tuple[int, ...]]  # stem -> the forms that have it
    vocabulary: tuple[str, ...]  # every stem of every form
    exactly: dict[str, tuple[int, ...]]  # a title or client as `exact_key` -> its deals


@lru_cache(maxsize=256)
def _name_index(names: tuple[tuple[str, str | None], ...]) -> _NameIndex:
    """Built once per list of names: a person's deals change stage far more often than name."""
    owner, joined, tokens = [], [], []
    for position, (title, client) in enumerate(names):
        for form, stems in _name_forms(title, client):
            owner.append(position)
            joined.append(form)
            tokens.append(stems)
    forms_with: dict[str, list[int]] = {}
    for index, stems in enumerate(tokens):
        for token in stems:
            forms_with.setdefault(token, []).append(index)
    exactly: dict[str, set[int]] = {}
    for position, (title, client) in enumerate(names):
        for name in (title, client):
            if name and (key := exact_key(name)):
                exactly.setdefault(key, set()).add(position)
    return _NameIndex(
        tuple(owner), tuple(joined), tuple(form.replace(" ", "") for form in joined),
        tuple(tokens), {word: tuple(found) for word, found in forms_with.items()},
        tuple(forms_with), {key: tuple(sorted(found)) for key, found in exactly.items()},
    )  # fmt: skip


class DealMatcher:
    """Matches deal names and stages for one person's set of deals.

    Scoring a typed name against every form runs in rapidfuzz's C loops; only the forms
    that reach PLAUSIBLE are looked at in Python.
    """

    def __init__(self, deals: Sequence[DealRef], funnels: FunnelConfig) -> None:
        self._all = deals  # exact names reach every deal, closed ones too
        self._deals = [deal for deal in deals if deal.status == "open"]  # guesses: open only
        self._funnels = funnels
        self._exact = _name_index(tuple((deal.title, deal.client) for deal in deals)).exactly
        self._index = _name_index(tuple((deal.title, deal.client) for deal in self._deals))
        self._scored: dict[str, list[tuple[DealRef, float]]] = {}

    # --- deals --------------------------------------------------------------------------

    def score_deals(self, part: str) -> list[tuple[DealRef, float]]:
        """Deals scoring at least PLAUSIBLE against `part`, best first: the deal it names
        exactly (open or closed) at 100, then open deals by likeness."""
        scored = self._scored.get(part)
        if scored is None:
            scored = self._scored[part] = self._score_deals(part)
        return scored

    def _score_deals(self, part: str) -> list[tuple[DealRef, float]]:
        exact = self._exactly_named(part)
        scored = [(exact, 100.0)] if exact is not None else []
        return scored + [pair for pair in self._fuzzy_scores(part) if pair[0] != exact]

    def _fuzzy_scores(self, part: str) -> list[tuple[DealRef, float]]:
        stems = _name_stems(part)
        while stems and stems[0] in PREPOSITIONS:  # «по ромашке», «у Кузнецова»
            stems = stems[1:]
        if not stems:
            return []
        index, query = self._index, " ".join(stems)
        best: dict[int, float] = {}  # form -> its best score
        for choices, typed in ((index.joined, query), (index.squashed, query.replace(" ", ""))):
            for _, score, form in process.extract(
                typed, choices, scorer=fuzz.ratio, limit=None, score_cutoff=PLAUSIBLE
            ):
                best[form] = max(score, best.get(form, 0.0))
        for form, score in self._word_scores(stems).items():
            best[form] = max(score, best.get(form, 0.0))
        by_deal: dict[int, float] = {}  # position of the deal -> its best score
        for form, score in best.items():
            position = index.owner[form]
            by_deal[position] = max(score, by_deal.get(position, 0.0))
        deals = self._deals
        ranked = sorted(by_deal, key=lambda p: (-by_deal[p], p))
        return [(deals[position], by_deal[position]) for position in ranked]

    def _word_scores(self, query: list[str]) -> dict[int, float]:
        """Word by word: every typed word must match a word of the name (typos, prefixes allowed).

        Naming every word of the deal is as good as the words' similarity; naming only some of
        them («Северный» for «Северный Ветер») is plausible but never more than 88, so a second
        deal sharing that word makes it a question rather than a move.
        """
        index = self._index
        similar = [self._similar_words(word) for word in query]
        candidates = {form for word in similar[0] for form in index.forms_with[word]}
        scores: dict[int, float] = {}
        for form in candidates:
            tokens = index.tokens[form]
            if len(query) > len(tokens):
                continue
            per_word = [max(found.get(token, 0.0) for token in tokens) for found in similar]
            if min(per_word) < WORD_MATCH:
                continue
            average = sum(per_word) / len(per_word)
            scores[form] = average if len(query) == len(tokens) else min(average, 88.0)
        return scores

    def _similar_words(self, word: str) -> dict[str, float]:
        """Name words at least WORD_MATCH like `word`: equal 100, its prefix 92, else a ratio."""
        vocabulary = self._index.vocabulary
        found = {
            token: score
            for token, score, _ in process.extract(
                word, vocabulary, scorer=fuzz.ratio, limit=None, score_cutoff=WORD_MATCH
            )
        }
        if len(word) >= 4:
            for token in vocabulary:
                if token.startswith(word):
                    found[token] = max(92.0, found.get(token, 0.0))
        if word in self._index.forms_with:
            found[word] = 100.0
        return found

    def resolve_deal(self, part: str) -> tuple[tuple[DealRef, ...], bool]:
        """(candidates, confident). One confident deal, several plausible ones, or none.

        A part that names exactly one deal (ignoring case, ё/е, punctuation and spaces) is
        that deal, however alike the others: «Орион-М» is not a question between it and
        «Орион».
        """
        exact = self._exactly_named(part)
        if exact is not None:
            return (exact,), True
        scored = self.score_deals(part)
        if not scored or scored[0][1] < PLAUSIBLE:
            return (), False
        top = scored[0][1]
        close = [deal for deal, score in scored if score >= PLAUSIBLE and top - score < MARGIN]
        confident = top >= CONFIDENT and len(close) == 1
        return tuple(close[:6]), confident

    def _exactly_named(self, part: str) -> DealRef | None:
        named = self._exact.get(exact_key(part), ())
        return self._all[named[0]] if len(named) == 1 else None

    def _closed_named(self, text: str) -> DealRef | None:
        """A closed deal that the whole message names, legal form aside («ромашка» for «Ромашка
        ООО»), when no open deal has that name: its name alone opens its card."""
        exact = self._exactly_named(text)
        if exact is not None:
            return exact if exact.status != "open" else None
        bare = _bare_key(text)
        if not bare or any(_bare_key(d.title) == bare for d in self._deals):
            return None
        found = [d for d in self._all if d.status != "open" and bare in _bare_keys(d)]
        return found[0] if len(found) == 1 else None

    # --- stages -------------------------------------------------------------------------

    def resolve_stage(self, part: str, deal: DealRef) -> tuple[tuple[str, ...], bool]:
        """Stage keys for `part` in the deal's funnel: (candidates, confident); "next" included."""
        keys, confident, _ = self._stage_match(part, deal)
        return keys, confident

    def _stage_match(self, part: str, deal: DealRef) -> tuple[tuple[str, ...], bool, float]:
        funnel = self._funnels.funnel(deal.funnel)
        stems = [s for s in (stem(w) for w in words(part)) if s not in STAGE_FILLER]
        if not stems:
            return (), False, 0.0
        if set(stems) <= NEXT_WORDS:
            following = funnel.next_stage(deal.stage)
            return ((following.key,), True, 100.0) if following else ((), False, 0.0)
        outcome = _outcome_stage(set(stems) - {CLOSED}, funnel)
        if outcome is not None:
            return (outcome,), True, 100.0
        scored = _score_stages(" ".join(stems), funnel)
        if not scored or scored[0][1] < STAGE_TYPO:
            return (), False, 0.0
        top = scored[0][1]
        close = tuple(key for key, score in scored if score >= STAGE_TYPO and top - score < 5)
        return close, len(close) == 1, top

    # --- whole messages -----------------------------------------------------------------

    def parse(self, text: str, *, explicit: bool = False) -> Intent:
        """What a message means as a deal command (see IntentKind)."""
        text = " ".join(text.split())
        if not text:
            return Intent(IntentKind.NONE)
        if not explicit and (closed := self._closed_named(text)) is not None:
            return Intent(IntentKind.MAYBE, (closed,), exact=True)  # the name alone: its card
        intent = self._parse(text, explicit=explicit)
        if intent.deals and intent.deal.status != "open":  # only an exact name reaches it
            shaped = intent.explicit or intent.kind in (IntentKind.MOVE, IntentKind.NOTE)
            return Intent(IntentKind.CLOSED, intent.deals[:1], text=intent.text, explicit=shaped,
                          note=intent.kind is IntentKind.NOTE, exact=True)  # fmt: skip
        return intent

    def _parse(self, text: str, *, explicit: bool) -> Intent:
        if ARROW.search(text):
            left, right = ARROW.split(text, maxsplit=1)
            return self._move(left, right, explicit=True)
        colon = None if explicit else note_colon(text)
        if colon is not None:
            left, right = text[:colon], text[colon + 1 :]
            if len(left.split()) <= NAME_WORDS and self.resolve_deal(left)[0]:
                return self._colon(left, right.strip())
        return self._split_words(text, explicit=explicit)

    def _move(self, deal_part: str, stage_part: str, *, explicit: bool) -> Intent:
        deals, confident = self.resolve_deal(deal_part)
        if not deals:
            return Intent(IntentKind.NOT_FOUND, text=deal_part.strip(), explicit=explicit)
        if not confident:
            return Intent(IntentKind.ASK_DEAL, deals, text=stage_part.strip(), explicit=explicit)
        stages, stage_confident = self.resolve_stage(stage_part, deals[0])
        if stage_confident:
            return Intent(IntentKind.MOVE, deals, stages[0], explicit=explicit)
        if stages:
            return Intent(IntentKind.ASK_STAGE, deals, stages=stages, explicit=explicit)
        return Intent(IntentKind.UNKNOWN_STAGE, deals, text=stage_part.strip(), explicit=explicit)

    def _colon(self, deal_part: str, rest: str) -> Intent:
        deals, confident = self.resolve_deal(deal_part)
        stages, stage_confident = self.resolve_stage(rest, deals[0]) if rest else ((), False)
        if stage_confident and len(rest.split()) <= 4:
            if not confident:
                return Intent(IntentKind.ASK_DEAL, deals, text=rest, explicit=True)
            return Intent(IntentKind.MOVE, deals, stages[0], explicit=True)
        if not rest:
            return Intent(IntentKind.MAYBE, deals)
        if not confident:
            return Intent(IntentKind.ASK_DEAL, deals, text=rest, explicit=True, note=True)
        exact = self._exactly_named(deal_part) is not None
        return Intent(IntentKind.NOTE, deals, text=rest, explicit=True, exact=exact)

    def _split_words(self, text: str, *, explicit: bool) -> Intent:
        """No arrow or colon: find where the deal's name ends and a stage begins."""
        tokens = text.split()
        if explicit and len(tokens) == 1:
            deals, _ = self.resolve_deal(tokens[0])
            if deals:
                return Intent(IntentKind.UNKNOWN_STAGE, deals, text="", explicit=True)
            return Intent(IntentKind.NOT_FOUND, text=tokens[0], explicit=True)
        best: Intent | None = None
        best_score = -1.0
        for cut in range(1, min(len(tokens), 6)):
            deal_part, stage_part = " ".join(tokens[:cut]), " ".join(tokens[cut:])
            scored = self.score_deals(deal_part)
            if not scored or scored[0][1] < PLAUSIBLE:
                continue
            deals, confident = self.resolve_deal(deal_part)
            stages, stage_confident, stage_score = self._stage_match(stage_part, deals[0])
            if not stages:
                continue
            score = scored[0][1] + stage_score
            if score > best_score:
                best_score = score
                if not confident:
                    best = Intent(IntentKind.ASK_DEAL, deals, text=stage_part, explicit=explicit)
                elif stage_confident:
                    best = Intent(IntentKind.MOVE, deals, stages[0], explicit=explicit)
                else:
                    best = Intent(IntentKind.ASK_STAGE, deals, stages=stages, explicit=explicit)
        if best is not None:
            return best
        return self._no_stage(tokens, explicit=explicit)

    def _no_stage(self, tokens: list[str], *, explicit: bool) -> Intent:
        for cut in range(min(len(tokens), 5), 0, -1):
            deals, _ = self.resolve_deal(" ".join(tokens[:cut]))
            if deals:
                rest = " ".join(tokens[cut:])
                kind = IntentKind.UNKNOWN_STAGE if explicit else IntentKind.MAYBE
                named = None if rest else self._exactly_named(" ".join(tokens))
                exact = named is not None and named.id == deals[0].id  # the name alone, exactly
                return Intent(kind, deals, text=rest, explicit=explicit, exact=exact)
        if explicit:
            return Intent(IntentKind.NOT_FOUND, text=tokens[0] if tokens else "", explicit=True)
        return Intent(IntentKind.NONE)


def exact_key(name: str) -> str:
    """A name as compared for an exact match: case, ё/е, punctuation and spaces aside."""
    return _NOT_A_LETTER.sub("", fold(name))


_NOT_A_LETTER = re.compile(r"[\W_]+")


def _bare_key(name: str) -> str:
    """`exact_key` without legal forms: «Ромашка» for «ООО «Ромашка»»."""
    return "".join(word for word in words(name) if word not in LEGAL_FORMS)


def _bare_keys(deal: DealRef) -> set[str]:
    return {key for key in (_bare_key(deal.title), _bare_key(deal.client or "")) if key}


_SCHEME = re.compile(r"(?:^|[^\w])(?:mailto|tel|sms|skype|tg|whatsapp|urn|data)$", re.IGNORECASE)


def note_colon(text: str) -> int | None:
    """Where «Deal: note» splits: the first colon that is not part of a link («http://»,
    «mailto:x», «tel:+7…») or of a time or ratio between digits (15:00).

    Only a colon written as a separator counts, so «=HYPERLINK("http://x","y")» is no note.
    """
    for match in re.finditer(":", text):
        at = match.start()
        before, after = text[:at], text[at + 1 :]
        if after.startswith("//") or (before[-1:].isdigit() and after[:1].isdigit()):
            continue
        if _SCHEME.search(before) and after[:1].isalnum():
            continue  # a scheme glued to what follows: mailto:x, tel:+7…, urn:isbn
        return at
    return None


def _outcome_stage(stems: set[str], funnel: Funnel) -> str | None:
    """The funnel's lost stage for words of losing, its (first) won stage for winning."""
    if not stems:
        return None
    if stems <= LOST_WORDS and any(stage.lost for stage in funnel.stages):
        return funnel.lost_stage.key
    if stems <= WON_WORDS and any(stage.won for stage in funnel.stages):
        return funnel.won_stage.key
    return None


_StageForms = tuple[tuple[str, ...], tuple[str, ...]]
_STAGE_FORMS: dict[int, tuple[Funnel, _StageForms]] = {}  # by id(), checked by identity


def _stage_forms(funnel: Funnel) -> _StageForms:
    """(stage keys, stemmed names) for every way a stage may be named; once per funnel."""
    cached = _STAGE_FORMS.get(id(funnel))
    if cached is not None and cached[0] is funnel:
        return cached[1]
    keys, forms = [], []
    for stage in funnel.stages:
        for variant in (*stage.names.values(), *stage.aliases, stage.key):
            joined = " ".join(stem(w) for w in words(variant))
            if joined:
                keys.append(stage.key)
                forms.append(joined)
    result = (tuple(keys), tuple(forms))
    _STAGE_FORMS[id(funnel)] = (funnel, result)
    return result


def _score_stages(query: str, funnel: Funnel) -> list[tuple[str, float]]:
    """Stages scoring at least STAGE_TYPO, best first (funnel order among equals)."""
    keys, forms = _stage_forms(funnel)
    if len(query) <= 3:  # «кп», «лид»: too short to guess typos in
        found = [(keys[form], 100.0) for form, text in enumerate(forms) if text == query]
    else:
        found = [
            (keys[form], score)
            for _, score, form in process.extract(
                query, forms, scorer=fuzz.ratio, limit=None, score_cutoff=STAGE_TYPO
            )
        ]
    scores: dict[str, float] = {}
    for key, score in found:
        scores[key] = max(score, scores.get(key, 0.0))
    return sorted(scores.items(), key=lambda pair: (-pair[1], funnel.stage(pair[0]).order))
