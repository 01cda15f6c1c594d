"""Fuzzy Russian search over the knowledge base: ask in your own words, get the entry.

Text becomes stemmed terms (Snowball via PyStemmer, "не"/"нет" glued to the word they
negate, question filler dropped). An inverted index built once scores entries with
BM25 over fields and with how well the query covers a title or an alias; scores are
normalised to [0, 1] so one threshold lets the engine say "not found" instead of
guessing. Unknown query words are mapped to close vocabulary terms (typos, word forms).
"""

from __future__ import annotations

import heapq
import logging
import math
import re
from array import array
from bisect import bisect_left
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.knowledge.content import Entry
from bot.knowledge.semantic import EmbeddingsUnavailable, Semantic, Vectors

log = logging.getLogger(__name__)

# --- tuning ------------------------------------------------------------------------------

THRESHOLD = 0.40
"""Scores below this are "not found" (tuned on tests/data/search_queries.yaml)."""
MAX_QUERY_TERMS = 64
"""Meaningful words of a query that are looked at; the rest of a long message is ignored."""
MAX_QUERY_CHARS = 8192

_FIELD_WEIGHT = {"title": 3.0, "aliases": 2.5, "tags": 1.5, "body": 1.0}
_FIELD_B = {"title": 0.3, "aliases": 0.3, "tags": 0.3, "body": 0.75}
_K1 = 1.2
_PRESENCE = 0.25  # candidate-stage credit for a match, on top of BM25 saturation
_W_PHRASE, _W_COVER, _W_BM25 = 0.60, 0.15, 0.25
_PHRASE_POWER = 1.5  # how much of a title/alias the query must cover
_QUERY_POWER = 0.3  # how much of the query a title/alias must cover
_COUNT_MIX = 0.9  # share of plain word count (vs rarity) in a title/alias's coverage
_FALLBACK = 0.6  # "не интересно" matched only by "интересно" (or back)
_FORM = 0.75  # another form of a known word ("звонок" for "звонить")
_SLANG = 1.0  # an expansion of sales slang ("кп")
_TYPO = {1: 0.85, 2: 0.7}
_SOUND = 0.8  # spelled by ear: "дарага" for "дорого"
_UNKNOWN_MASS = 1.1  # weight of a query word the base never uses, relative to the rarest
_CHAMPIONS = 1000  # postings per term read to find candidates (best first)
_CANDIDATES = 20  # candidates scored exactly
_RELATED = 50_000  # query words whose matching terms an index remembers

# Hybrid ranking (with a `Semantic`): a fused score of the lexical one above, the cosine
# of the query's embedding and its best title-and-aliases passage's, and its cosine to
# its best body document's. A cosine counts by how far it stands above the query's median
# cosine over the base (an English query's cosines to Russian entries all sit lower),
# stretched from _COS_LOW over _COS_SPAN to [0, 1]. The weights were picked on the two
# tuning bases (tests/data/search_queries*.yaml, tests/data/tuning_domain), not held out:
# the body added top-3 0.92 -> 0.95 and 0.84 -> 0.93 on their hard questions.
#
# The fused score ranks; it does not say whether the best entry answers at all. A near
# miss (a sales question the base lacks) gets as high a fused score as a paraphrase the
# base does answer. So a hybrid hit's score is a confidence: a logistic model over the
# best hit's fused score, its raw cosine (an answerable question sits closer to its entry
# in absolute terms, not only relative to the base), its lead over the runner-up, and
# whether the query is in Latin letters (an English query's cosines to Russian entries
# run lower). Fitted on the shipped base's tuning questions and on a second tuning base
# in another domain (tests/data/tuning_domain); checked fitted on either, tested on the
# other. The other hits get the best one's confidence scaled by their fused scores.
HYBRID_THRESHOLD = 0.75
"""Hybrid confidences below this are "not found"."""
MAYBE_THRESHOLD = 0.20
"""Hybrid confidences from here to `HYBRID_THRESHOLD` are weak candidates: "maybe one of these".
On the tuning sets, the right entry is then among the answers or candidates for 95% and 84%
of the hard questions, and 80% of questions about nothing sales-related show nothing."""
_LEXICAL_MAYBE = 0.36  # the same for a plain lexical index, on its score's scale
_CONFIDENCE_BIAS = -68.0
_CONFIDENCE_FUSED, _CONFIDENCE_COSINE = 2.61, 76.81
_CONFIDENCE_LATIN, _CONFIDENCE_MARGIN = 2.406, 4.21
_W_LEX, _W_HEAD, _W_BODY = 0.5, 0.3, 0.2
_COS_LOW, _COS_SPAN = 0.0, 0.06
_DENSE_CANDIDATES = 20
_FEW = 16  # fewer entries than this: a median says little, a typical one is used
_BASELINE = 0.80  # a typical median cosine of e5-small between a query and unrelated text
_SURE_LEX = 0.75
_LONGEST_WORD = 40  # letters; longer tokens are not read by the model
_HEAD_ALIASES = 6  # aliases embedded together with the title in one passage
# Documents embedded of a body: its start says what it answers. On the tuning bases one
# (~400 characters) ranked as well as three (hard top-3 0.95 and 0.93 against 0.95 and
# 0.91) and is a third fewer texts to embed at 10,000 entries.
_BODY_CHUNKS = 1
_CHUNK_CHARS = 400
_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCES = re.compile(r"(?<=[.!?…])\s+")

# --- words ------------------------------------------------------------------------------


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(value, 50.0), -50.0)))


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_HARD_STOP = _words(
    """
    а в во на но и или иль да же ли бы б что чтобы чтоб как так то это этот эта эти этого
    этой этому этим этих тот та те того той тому тем тех там тут здесь где куда откуда
    когда тогда кто кого кому кем чем чего чему о об обо от ото до по под подо над при про
    для из изо к ко с со у за через без между перед около вокруг вместо кроме среди
    я меня мне мной мы нас нам нами ты тебя тебе тобой вы вас вам вами он его ему им ним
    него нему нем она ее ей ней нее оно они их ними них мой моя мое мои моего моей моих
    наш наша наше наши нашего нашей наших нашим нашему ваш ваша ваше ваши вашего вашей
    ваших вашим вашему себя себе собой который которая которое которые которого
    которой которых которым какой какая какое какие каким каких какую какого какой-то
    сколько чей ну вот вон ведь уж даже лишь либо ни нибудь если ежели хотя хоть пусть
    потому поэтому почему также тоже есть был была было были будет будут быть будь
    является ничего никто нигде никак нечего ничем ничто чтото ктото всего всех всем
    всеми весь вся все каждый любой другой другие такой такая такое такие таким таких
    то-то ли-то
    the a an is are was were be been of to in on at for by with and or but if it its
    this that these those what how why when where who which do does did can could
    should would will i we you he she they me us them my our your there here not no
    """
)
_SOFT_STOP = _words(
    """
    очень сейчас щас теперь надо нужно можно нельзя просто вообще совсем именно прям прямо
    вроде типа всегда никогда иногда часто много мало снова опять сразу потом пока
    сегодня завтра вчера уже еще также ладно конечно наверное может могу можем
    можете могут хочу хочет хотят хотим хотите делать сделать быть ну-ка скорее давно
    реально вообще-то кстати короче блин слушай слушайте ребята коллеги привет
    здравствуйте добрый доброе доброго спасибо пожалуйста плиз помогите помоги
    дать дай дайте дадите дадим даете давайте давай значит означает свидания
    подскажите подскажи посоветуйте посоветуй вопрос вопросы вопросик ситуация случай
    говорит говорят сказал сказала сказали говорил говорила отвечает ответил ответила
    пишет написал написала заявляет заявил спрашивает спросил спросила утверждает
    твердит возражает ответить отвечать отработать отрабатывать отработка реагировать
    поступить действовать сказать говорить делаем делать делают
    please hi hello thanks
    """
)
_SPEECH_VERBS = _words(
    """
    говорит говорят сказал сказала сказали говорил говорила отвечает ответил ответила
    пишет написал написала заявляет заявил спрашивает спросил спросила утверждает твердит
    возражает
    """
)
_SPEAKERS = _words("клиент клиентка заказчик покупатель собеседник")
_GREETED = _words("день дня вечер утро")  # "добрый день" is a greeting, not a date
_GREETINGS = _words("добрый доброе доброго")
# "Подешевле" is "дешевле": a comparative with "по" means the same thing.
_COMPARATIVES = _words(
    "дешевле дороже больше меньше лучше хуже раньше выше ниже проще быстрее дольше легче"
)
_NEGATIONS = frozenset({"не", "нет", "нету"})

_SLANG_MAP: dict[str, str] = {
    "кп": "коммерческое предложение",
    "кпшка": "коммерческое предложение",
    "кпшку": "коммерческое предложение",
    "оффер": "коммерческое предложение",
    "офер": "коммерческое предложение",
    "лпр": "лицо принимающее решение",
    "лпра": "лицо принимающее решение",
    "лпру": "лицо принимающее решение",
    "дожать": "закрыть сделку",
    "дожимать": "закрыть сделку",
    "дожим": "закрыть сделку",
    "холодка": "холодный звонок",
    "холодку": "холодный звонок",
    "прозвон": "звонок",
    "созвон": "звонок",
    "допродажа": "дополнительная продажа",
    "допы": "дополнительная продажа",
    "апсейл": "дополнительная продажа",
    "отвал": "отказ",
    "слился": "пропал",
    "слилась": "пропал",
    "игнорит": "не отвечает",
    "игнорирует": "не отвечает",
    "морозится": "не отвечает",
    "динамит": "тянет время",
    "безнал": "безналичный расчет",
    "нал": "наличные",
    "налом": "наличные",
    "постоплата": "отсрочка платежа",
    "постоплату": "отсрочка платежа",
    "тз": "техническое задание",
    "ценник": "цена",
    "прайс": "цена",
    "скидос": "скидка",
    "скидон": "скидка",
    "дисконт": "скидка",
    "демка": "демонстрация",
    "демо": "демонстрация",
    "през": "презентация",
    "презу": "презентация",
    "презентуха": "презентация",
    "гендир": "генеральный директор",
    "гендиру": "генеральный директор",
    "секретутка": "секретарь",
    "конкуры": "конкуренты",
    "бабки": "деньги",
    "бабла": "деньги",
    "возражуха": "возражение",
    "фоллоуап": "повторный звонок",
    "ндс": "налог",
    "эдо": "электронный документооборот",
    "реквы": "реквизиты",
    "юрик": "юридическое лицо",
    "юр": "юридический",
    "вмс": "wms",
    "мыло": "почта",
    "мейл": "почта",
    "емейл": "почта",
}

_FILLER = sorted(word for word in _SOFT_STOP | _SPEECH_VERBS | _SPEAKERS if len(word) >= 5)
_SPELLINGS = {"1c": "1с", "1ц": "1с"}  # the accounting system, typed in Latin or by ear
_HOMOGLYPHS = str.maketrans("aceopxykmthb", "асеорхукмтнв")
_LAYOUT = str.maketrans(
    "qwertyuiop[]asdfghjkl;'zxcvbnm,.`",
    "йцукенгшщзхъфывапролджэячсмитьбюё",
)
# Words, and the punctuation that ends a clause ("денег нет, ..." keeps "нет" with "денег").
_TOKEN = re.compile(r"[0-9a-zа-я]+|[.!?;:()\[\]\n\"«»]+|,\s|\s[-–—]\s")
_VOWELS = str.maketrans({"о": "а", "е": "и", "я": "и", "ь": None, "ъ": None})
_DOUBLES = re.compile(r"(.)\1+")
_CYRILLIC = re.compile(r"[а-я]")
_LATIN = re.compile(r"[a-z]")

# Word classes in the analyzer's cache; anything else there is the word's stem.
_BREAK, _HARD, _SOFT, _SPEECH, _NEG = "\0break", "\0hard", "\0soft", "\0speech", "\0neg"
_NOT = "не"


def _sound(term: str) -> str:
    """A key for words spelled by ear: unstressed о/а and е/и/я merged, doubles single."""
    return _DOUBLES.sub(r"\1", term.translate(_VOWELS))


def _max_edits(word: str) -> int:
    """Typos tolerated in a word: none in short ones, where a typo makes another word."""
    return 0 if len(word) < 5 else 1 if len(word) < 8 else 2


def _is_filler(word: str) -> bool:
    """True for a mistyped filler word ("гвоорит", "подскжите")."""
    limit = _max_edits(word)
    found = limit and process.extractOne(word, _FILLER, scorer=OSA.distance, score_cutoff=limit)
    return bool(found)


@dataclass(frozen=True, slots=True)
class Hit:
    """A found entry; `score` is in [0, 1], higher is better."""

    entry_id: str
    kind: str
    title: str
    score: float


# --- analysis ---------------------------------------------------------------------------


class Analyzer:
    """Turns text into terms: lowercase, ё→е, filler dropped, negation glued, stemmed.

    A negated word becomes one term, "не" + stem ("не интересно" and "неинтересно" are
    both "неинтересн"); a trailing "нет" negates the word before it ("бюджета нет").

    Every word's class and stem is cached, in two parts. What the base itself uses is kept
    while the index is built (it is the base's vocabulary, as big as the content, and
    `words` lists it for typo lookups). Once `seal`ed, words met only in queries go to a
    second part of at most `limit` words, emptied when full: people's typos cannot grow
    it without bound. Each index owns its analyzer, so a reload starts both afresh.
    """

    def __init__(self, limit: int = 50_000) -> None:
        self._russian = Stemmer.Stemmer("russian")
        self._english = Stemmer.Stemmer("english")
        self._limit = limit
        self._sealed = False
        self._classes: dict[str, str] = {}
        self._stems: dict[str, str] = {}
        self._seen_classes: dict[str, str] = {}
        self._seen_stems: dict[str, str] = {}

    def seal(self) -> None:
        """The base is read: from now on new words are the queries', kept within `limit`."""
        self._sealed = True

    def _keep(self, base: dict[str, str], seen: dict[str, str], word: str, value: str) -> None:
        if not self._sealed:
            base[word] = value
            return
        if len(seen) >= self._limit:
            seen.clear()
        seen[word] = value

    def stem(self, word: str) -> str:
        """Snowball stem (Russian or English by script), cached."""
        stem = self._stems.get(word) or self._seen_stems.get(word)
        if stem is None:
            stem = self._stem(word)
            self._keep(self._stems, self._seen_stems, word, stem)
        return stem

    def _stem(self, word: str) -> str:
        if word.isdigit():
            return word
        word = _SPELLINGS.get(word, word)
        has_cyrillic = _CYRILLIC.search(word) is not None
        if has_cyrillic and _LATIN.search(word):
            word = word.translate(_HOMOGLYPHS)  # a Latin "с" typed inside a Russian word
        if not word.isalpha():
            return word
        if not has_cyrillic:
            return str(self._english.stemWord(word))
        if word.startswith("по") and word[2:] in _COMPARATIVES:
            word = word[2:]
        stem = str(self._russian.stemWord(word))
        if len(stem) <= 3 < len(word) - 1 and not word.endswith(("ся", "сь")):
            # Snowball cuts "дорого" to "дор" but "дорогой" to "дорог": keep the longer one.
            stem = word.rstrip("аеиоуыэюяйь") or stem
        return stem

    def _class(self, token: str) -> str:
        found = self._classes.get(token) or self._seen_classes.get(token)
        if found is not None:
            return found
        if not token[0].isalnum():
            found = _BREAK
        elif token in _NEGATIONS:
            found = _NEG
        elif token in _SPEECH_VERBS:
            found = _SPEECH
        elif token in _HARD_STOP or (len(token) == 1 and not token.isdigit()):
            found = _HARD
        elif token in _SOFT_STOP:
            found = _SOFT
        else:
            found = self.stem(token)
        self._keep(self._classes, self._seen_classes, token, found)
        return found

    def words(self) -> dict[str, str]:
        """Every content word of the base (met before `seal`), mapped to its stem."""
        return {word: kind for word, kind in self._classes.items() if kind[0] != "\0"}

    def terms(self, text: str, limit: int = 0) -> list[str]:
        """The meaningful terms of `text` in order (at most `limit` if given)."""
        return self.scan(text, limit)[0]

    def scan(
        self,
        text: str,
        limit: int = 0,
        *,
        words: list[str] | None = None,
    ) -> tuple[list[str], dict[str, str]]:
        """Terms of `text` and its negated terms mapped to their plain ones.

        An index lists the plain term of a negated one too ("нет бюджета" is still about
        the budget). `words` receives the word each term came from, for typo handling.
        """
        tokens = _TOKEN.findall(text.lower().replace("ё", "е"))
        out: list[str] = []
        source = words if words is not None else []
        negated: dict[str, str] = {}
        plain = -1  # index in `out` of the last plain term of this clause, which "нет" negates
        pending = ""  # "не" / "нет" waiting for its word
        classes = self._classes
        count = len(tokens)
        for i, token in enumerate(tokens):
            kind = classes.get(token) or self._class(token)
            if kind[0] == "\0":
                if kind == _NEG:
                    if pending and pending != _NOT:
                        plain = self._negate_back(out, source, negated, plain)
                    pending = token
                    continue
                if kind in (_BREAK, _HARD):
                    if pending and pending != _NOT:
                        plain = self._negate_back(out, source, negated, plain)
                    pending = ""
                    if kind == _BREAK:
                        plain = -1
                    continue
                if pending != _NOT:
                    continue  # "денег нет совсем": "нет" still waits for its word
                kind = self.stem(token)  # "не сейчас", "не нужно": meaningful once negated
            elif not pending and (
                (token in _SPEAKERS and i + 1 < count and self._class(tokens[i + 1]) == _SPEECH)
                or (token in _GREETED and i > 0 and tokens[i - 1] in _GREETINGS)
            ):
                continue  # "клиент говорит ...", "добрый день" are filler
            if pending:
                term = _NOT + kind
                negated[term] = kind
                out.append(term)
                pending = ""
                plain = -1
            else:
                plain = len(out)
                out.append(kind)
            source.append(token)
            if limit and len(out) >= limit:
                return out[:limit], negated
        if pending and pending != _NOT:
            self._negate_back(out, source, negated, plain)
        return (out[:limit] if limit else out), negated

    @staticmethod
    def _negate_back(out: list[str], words: list[str], negated: dict[str, str], plain: int) -> int:
        """ "Бюджета нет" means "нет бюджета": negate the clause's last plain term."""
        if plain < 0:
            out.append("нет")
            words.append("нет")
            return -1
        term = _NOT + out[plain]
        negated[term] = out[plain]
        out[plain] = term
        return -1


def normalize(text: str) -> list[str]:
    """The terms a text is searched by; handy to see why something matched.

    A fresh analyzer each time: no cache outlives the call.
    """
    return Analyzer().terms(text)


# --- index --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Slot:
    """One query word: the terms that can match it, with weights, and its share of the query."""

    alts: tuple[tuple[int, float], ...]
    mass: float


class _Postings(NamedTuple):
    """Docs of one term sorted by id (for lookups) and its best docs first (for candidates)."""

    ids: array[int]
    values: array[float]
    best_ids: array[int]
    best_values: array[float]


class SearchIndex:
    """Inverted index over entries; build once per content load, then search many times."""

    def __init__(
        self,
        analyzer: Analyzer,
        docs: list[tuple[str, str, str]],
        vocab: dict[str, int],
        postings: list[_Postings],
        heads: list[tuple[tuple[int, ...], ...]],
        negated: dict[str, str],
        words: dict[str, str],
        dense: _Dense | None = None,
    ) -> None:
        self._analyzer = analyzer
        self._dense = dense
        self._docs = docs
        self._vocab = vocab
        self._terms = list(vocab)
        self._postings = postings
        self._heads = heads
        count = len(docs)
        self._idf = [
            math.log(1.0 + (count - len(p.ids) + 0.5) / (len(p.ids) + 0.5)) for p in postings
        ]
        self._max_idf = math.log(1.0 + (count - 0.5) / 1.5) if count else 1.0
        self._negations: dict[int, list[int]] = {}
        for term, plain in negated.items():
            if term in vocab and plain in vocab:
                self._negations.setdefault(vocab[plain], []).append(vocab[term])
        self._sorted_terms = sorted(vocab)
        sounds: dict[str, list[int]] = {}
        for term in self._sorted_terms:
            sounds.setdefault(_sound(term), []).append(vocab[term])
        self._sounds = sounds
        self._words = {word: vocab[stem] for word, stem in words.items() if stem in vocab}
        by_length: dict[int, list[str]] = {}
        for word in sorted(self._words):
            by_length.setdefault(len(word), []).append(word)
        self._by_length = by_length
        # A query word's matching terms (forms, sounds, typos), worked out once per word:
        # at most _RELATED words, emptied when full; the index and its vocabulary go together.
        self._related: dict[tuple[str, str], tuple[tuple[int, float], ...]] = {}
        self._slang: dict[str, list[str]] = {}
        for word, phrase in _SLANG_MAP.items():
            key = analyzer.terms(word)
            if len(key) == 1:
                self._slang[key[0]] = analyzer.terms(phrase)
        analyzer.seal()

    @classmethod
    def build(cls, entries: Iterable[Entry], *, semantic: Semantic | None = None) -> SearchIndex:
        """Index entries: title, aliases, tags and body as BM25 fields; titles and aliases
        also as phrases that a query can cover. With `semantic`, titles and aliases are
        embedded too (vectors come from its cache when the texts are unchanged) and the
        ranking is hybrid.

        What the build keeps until the end is held in tuples of strings, which the cyclic
        garbage collector stops tracking at its first look: a build of millions of terms
        would otherwise be traversed by every collection it triggers.
        """
        entries = list(entries)
        analyzer = Analyzer()
        docs: list[tuple[str, str, str]] = []
        fields: list[tuple[tuple[str, ...], ...]] = []
        phrases: list[tuple[tuple[str, ...], ...]] = []
        negated: dict[str, str] = {}

        def index_terms(
            texts: Iterable[str], heads: list[tuple[str, ...]] | None = None
        ) -> tuple[str, ...]:
            """Terms of texts plus the plain terms of negated ones; `heads` gets each text's."""
            out: list[str] = []
            for text in texts:
                terms, found = analyzer.scan(text)
                out.extend(terms)
                if found:
                    negated.update(found)
                    out.extend(found[term] for term in terms if term in found)
                if heads is not None and terms:
                    heads.append(tuple(terms))
            return tuple(out)

        for entry in entries:
            docs.append((entry.id, entry.kind, entry.title))
            heads: list[tuple[str, ...]] = []
            fields.append(
                (
                    index_terms((entry.title,), heads),
                    index_terms(entry.aliases, heads),
                    index_terms(entry.tags),
                    index_terms((entry.body,)),
                )
            )
            phrases.append(tuple(heads))
        shares = [
            (_FIELD_WEIGHT[name], _FIELD_B[name], _average(len(f[n]) for f in fields))
            for n, name in enumerate(_FIELD_NAMES)
        ]
        vocab: dict[str, int] = {}
        ids: list[array[int]] = []
        values: list[array[float]] = []
        heads_ids: list[tuple[tuple[int, ...], ...]] = []
        for number, doc_fields in enumerate(fields):
            weighted: dict[str, float] = {}
            for field_terms, (weight, b, average) in zip(doc_fields, shares, strict=True):
                if field_terms:
                    share = weight / (1.0 - b + b * len(field_terms) / average)
                    for term in field_terms:
                        weighted[term] = weighted.get(term, 0.0) + share
            for term, tf in weighted.items():
                tid = vocab.get(term)
                if tid is None:
                    tid = vocab[term] = len(ids)
                    ids.append(array("i"))
                    values.append(array("f"))
                ids[tid].append(number)
                values[tid].append(_PRESENCE + tf / (_K1 + tf))
            heads_ids.append(tuple(tuple(vocab[t] for t in terms) for terms in phrases[number]))
        postings = [_postings(i, v) for i, v in zip(ids, values, strict=True)]
        dense = _Dense.build(entries, semantic) if semantic is not None else None
        return cls(analyzer, docs, vocab, postings, heads_ids, negated, analyzer.words(), dense)

    @property
    def hybrid(self) -> bool:
        """True when meaning enters the ranking (the index was built with a `Semantic`)."""
        return self._dense is not None

    @property
    def threshold(self) -> float:
        """The score from which a hit is an answer rather than "not found"."""
        return HYBRID_THRESHOLD if self._dense is not None else THRESHOLD

    @property
    def maybe_threshold(self) -> float:
        """The score from which a hit below `threshold` is still worth offering as "maybe"."""
        return MAYBE_THRESHOLD if self._dense is not None else _LEXICAL_MAYBE

    def __len__(self) -> int:
        return len(self._docs)

    def search(
        self,
        query: str,
        *,
        kinds: Collection[str] | None = None,
        limit: int = 3,
        min_score: float | None = None,
    ) -> list[Hit]:
        """Best entries for `query`, best first; [] when nothing is relevant enough."""
        if limit <= 0 or not self._docs:
            return []
        if self._dense is not None:
            return self._hybrid(query[:MAX_QUERY_CHARS], kinds, limit, min_score)
        slots = self._slots(query[:MAX_QUERY_CHARS])
        total = sum(slot.mass for slot in slots)
        if not any(slot.alts for slot in slots) or total <= 0.0:
            return []
        allowed = frozenset(kinds) if kinds is not None else None
        candidates = self._candidates(slots, allowed, max(_CANDIDATES, limit * 4))
        matches = self._matches(slots)
        threshold = THRESHOLD if min_score is None else min_score
        hits: list[Hit] = []
        for doc in candidates:
            score = self._score(doc, slots, total, matches)
            if score >= threshold:
                entry_id, kind, title = self._docs[doc]
                hits.append(Hit(entry_id, kind, title, round(score, 4)))
        hits.sort(key=lambda hit: (-hit.score, hit.title))
        return hits[:limit]

    def _hybrid(
        self, query: str, kinds: Collection[str] | None, limit: int, min_score: float | None
    ) -> list[Hit]:
        """Lexical and dense candidates together, ranked by the fused score."""
        assert self._dense is not None
        allowed = frozenset(kinds) if kinds is not None else None
        count = max(_CANDIDATES, limit * 4)
        slots = self._slots(query)
        total = sum(slot.mass for slot in slots)
        lexical = any(slot.alts for slot in slots) and total > 0.0
        candidates = set(self._candidates(slots, allowed, count)) if lexical else set()
        # Typed in caps lock, a question means the same; the model reads it as another text.
        # A "word" longer than any real one (a held key, pasted junk) is noise to the model,
        # which would still place it near some entry.
        readable = " ".join(word for word in query.split() if len(word) <= _LONGEST_WORD)
        if readable.isupper():
            readable = readable.lower()
        if any(char.isalnum() for char in readable):
            model, cosines, bodies = self._dense.cosines(readable)
        else:
            model = self._dense.model
            cosines = bodies = np.full(len(self._docs), -1.0, np.float32)
        if allowed is not None:
            kinds_of = np.array([kind in allowed for _, kind, _ in self._docs])
            cosines = np.where(kinds_of, cosines, -1.0)
            bodies = np.where(kinds_of, bodies, -1.0)
        dense_count = min(len(cosines), max(_DENSE_CANDIDATES, limit * 4))
        for dense in (cosines, bodies):
            best = np.argpartition(-dense, dense_count - 1)[:dense_count]
            candidates.update(int(doc) for doc in best if dense[doc] > -1.0)
        matches = self._matches(slots) if lexical else {}
        threshold = HYBRID_THRESHOLD if min_score is None else min_score
        baseline, stretch = _stretch(cosines)
        stretch = _W_HEAD * stretch + _W_BODY * _stretch(bodies)[1]
        fused: list[tuple[float, float, int]] = []
        for doc in candidates:
            lex = self._score(doc, slots, total, matches) if lexical else 0.0
            fused.append((_W_LEX * lex + float(stretch[doc]), lex, doc))
        if not fused:
            return []
        fused.sort(key=lambda item: (-item[0], self._docs[item[2]][2]))
        first, _, top = fused[0]
        runner_up = fused[1][0] if len(fused) > 1 else 0.0
        cosine = float(cosines[top])
        if not self._dense.bundled(model):  # calibrated on the bundled model's cosines
            cosine += _BASELINE - baseline
        latin = _LATIN.search(query.lower()) is not None and not _CYRILLIC.search(query.lower())
        confidence = _sigmoid(
            _CONFIDENCE_BIAS
            + _CONFIDENCE_FUSED * first
            + _CONFIDENCE_COSINE * cosine
            + _CONFIDENCE_LATIN * latin
            + _CONFIDENCE_MARGIN * (first - runner_up)
        )
        hits: list[Hit] = []
        for score, lex, doc in fused:
            sure = confidence * score / first if first > 0.0 else 0.0
            if lex >= _SURE_LEX:  # the query is a title or alias in other words: no doubt
                sure = max(sure, lex)
            if sure >= threshold:
                entry_id, kind, title = self._docs[doc]
                hits.append(Hit(entry_id, kind, title, round(sure, 4)))
        hits.sort(key=lambda hit: -hit.score)  # stable: equal scores keep the fused order
        return hits[:limit]

    # --- query side -------------------------------------------------------------------

    def _slots(self, query: str) -> list[_Slot]:
        words: list[str] = []
        terms, negated = self._analyzer.scan(query, MAX_QUERY_TERMS, words=words)
        lowered = query.lower()
        if _LATIN.search(lowered) and not _CYRILLIC.search(lowered):
            # "ljhjuj" is "дорого" typed with the keyboard left in the English layout.
            swapped_words: list[str] = []
            swapped = self._analyzer.scan(
                lowered.translate(_LAYOUT), MAX_QUERY_TERMS, words=swapped_words
            )
            if self._known(swapped[0]) > self._known(terms):
                (terms, negated), words = swapped, swapped_words
        slots: list[_Slot] = []
        seen: set[str] = set()
        for term, word in zip(terms, words, strict=True):
            if term in seen:
                continue
            seen.add(term)
            slang = self._slang.get(term)
            if slang:
                slots.extend(self._slang_slots(term, slang))
                continue
            if term not in self._vocab and _is_filler(word):
                continue  # "гвоорит" is "говорит" mistyped: filler all the same
            plain = negated.get(term)
            if plain is None:
                alts = list(self._alternatives(term, word))
            else:
                alts = self._negated_alternatives(term, plain, word)
            slots.append(self._slot(alts, term))
        return slots

    def _negated_alternatives(self, term: str, plain: str, word: str) -> list[tuple[int, float]]:
        """A negated word matches its negated forms, and its plain forms a little."""
        alts: list[tuple[int, float]] = []
        for tid, weight in self._alternatives(plain, word):
            negated = self._vocab.get(_NOT + self._terms[tid])
            if negated is not None:
                alts.append((negated, weight))
            alts.append((tid, weight * _FALLBACK))
        if term in self._vocab:
            alts.append((self._vocab[term], 1.0))
        return alts

    def _slang_slots(self, term: str, expansion: list[str]) -> list[_Slot]:
        """Slang becomes the words it stands for, sharing the weight of the one word."""
        own = self._vocab.get(term)
        parts = []
        for part in expansion:
            alts = [(tid, w) for tid, w in self._alternatives(part, part) if w >= _FORM]
            if own is not None:
                alts.append((own, _SLANG))
            parts.append(self._slot(alts, part))
        mass = self._idf[own] if own is not None else sum(p.mass for p in parts) / len(parts)
        return [_Slot(part.alts, mass / len(parts)) for part in parts]

    def _known(self, terms: Sequence[str]) -> int:
        return sum(1 for term in terms if term in self._vocab)

    def _slot(self, alts: list[tuple[int, float]], term: str) -> _Slot:
        best: dict[int, float] = {}
        for tid, weight in alts:
            if weight > best.get(tid, 0.0):
                best[tid] = weight
        if not best:
            return _Slot((), self._max_idf * _UNKNOWN_MASS)
        own = self._vocab.get(term)
        if own is None:
            own = max(best.items(), key=itemgetter(1))[0]
        return _Slot(tuple(best.items()), self._idf[own])

    def _alternatives(self, term: str, word: str) -> tuple[tuple[int, float], ...]:
        """The term itself and its other forms; for an unknown one, typo corrections."""
        key = (term, word)
        cached = self._related.get(key)
        if cached is not None:
            return cached
        own = self._vocab.get(term)
        found: dict[int, float] = {} if own is None else {own: 1.0}
        if len(term) >= 4:
            for other in self._forms(term):
                found.setdefault(self._vocab[other], _FORM)
        if own is None and len(term) >= 4:
            for tid in self._sounds.get(_sound(term), ()):
                found[tid] = max(found.get(tid, 0.0), _SOUND)
            self._typos(word, found)
        result = tuple(sorted(found.items(), key=itemgetter(1), reverse=True)[:4])
        if len(self._related) >= _RELATED:
            self._related.clear()
        self._related[key] = result
        return result

    def _typos(self, word: str, found: dict[int, float]) -> None:
        """Words of the base within 1 edit (2 for longer words, same first letter)."""
        limit = _max_edits(word)
        if limit == 0:
            return
        for length in range(len(word) - limit, len(word) + limit + 1):
            bucket = self._by_length.get(length)
            if not bucket:
                continue
            for other, distance, _ in process.extract(
                word, bucket, scorer=OSA.distance, score_cutoff=limit, limit=8
            ):
                if distance == 2 and other[0] != word[0]:
                    continue
                tid = self._words[other]
                weight = _TYPO.get(int(distance), 0.0)
                if weight > found.get(tid, 0.0):
                    found[tid] = weight

    def _forms(self, term: str) -> list[str]:
        """Vocabulary terms where one stem is a short prefix of the other: "звон", "звонк"."""
        cuts = [term[:cut] for cut in range(max(4, len(term) - 3), len(term))]
        found = [cut for cut in cuts if cut in self._vocab]
        position = bisect_left(self._sorted_terms, term)
        while position < len(self._sorted_terms):
            other = self._sorted_terms[position]
            if not other.startswith(term):
                break
            if len(other) - len(term) <= 3 and other != term:
                found.append(other)
            position += 1
        return found

    # --- scoring --------------------------------------------------------------------------

    def _candidates(
        self, slots: list[_Slot], allowed: frozenset[str] | None, count: int
    ) -> list[int]:
        """Docs worth exact scoring, from each term's best postings only (bounded work)."""
        scores: dict[int, float] = {}
        get = scores.get
        for slot in slots:
            # Summing a slot's alternatives (not taking the best) is fine for picking
            # candidates; exact scoring takes the best. Other forms read fewer postings.
            for tid, weight in slot.alts:
                postings = self._postings[tid]
                ids, values = postings.best_ids, postings.best_values
                cap = _CHAMPIONS if weight >= 1.0 else _CHAMPIONS // 4
                if len(ids) > cap:
                    ids, values = ids[:cap], values[:cap]
                factor = slot.mass * weight
                for doc, value in zip(ids, values, strict=True):
                    scores[doc] = get(doc, 0.0) + factor * value
        items: Iterable[tuple[int, float]] = scores.items()
        if allowed is not None:
            docs = self._docs
            items = [(doc, score) for doc, score in items if docs[doc][1] in allowed]
        return [doc for doc, _ in heapq.nlargest(count, items, key=itemgetter(1))]

    def _value(self, tid: int, doc: int) -> float:
        ids = self._postings[tid].ids
        position = bisect_left(ids, doc)
        if position < len(ids) and ids[position] == doc:
            return self._postings[tid].values[position]
        return 0.0

    def _matches(self, slots: list[_Slot]) -> dict[int, list[tuple[int, float]]]:
        """Which slots a phrase term matches and how well, negated forms included."""
        matches: dict[int, list[tuple[int, float]]] = {}
        for index, slot in enumerate(slots):
            for tid, weight in slot.alts:
                matches.setdefault(tid, []).append((index, weight))
                for negated in self._negations.get(tid, ()):
                    matches.setdefault(negated, []).append((index, weight * _FALLBACK))
        return matches

    def _score(
        self,
        doc: int,
        slots: list[_Slot],
        total: float,
        matches: dict[int, list[tuple[int, float]]],
    ) -> float:
        """Normalised relevance: phrase (title/alias) cover, query cover, BM25."""
        covered = 0.0
        bm25 = 0.0
        for slot in slots:
            present = 0.0
            saturation = 0.0
            for tid, weight in slot.alts:
                value = self._value(tid, doc)
                if value:
                    present = max(present, weight)
                    saturation = max(saturation, weight * (value - _PRESENCE))
            covered += slot.mass * present
            bm25 += slot.mass * saturation
        phrase = 0.0
        for units in self._heads[doc]:
            if any(tid in matches for tid in units):
                phrase = max(phrase, self._phrase(units, slots, matches, total))
        return _W_PHRASE * phrase + _W_COVER * covered / total + _W_BM25 * bm25 / total

    def _phrase(
        self,
        units: tuple[int, ...],
        slots: list[_Slot],
        matches: dict[int, list[tuple[int, float]]],
        total: float,
    ) -> float:
        """How well the query and one title or alias cover each other, in [0, 1]."""
        slot_best: dict[int, float] = {}
        phrase_mass = 0.0
        phrase_hit = 0.0
        words_hit = 0.0
        for tid in units:
            mass = self._idf[tid]
            phrase_mass += mass
            best = 0.0
            for index, weight in matches.get(tid, ()):
                best = max(best, weight)
                if weight > slot_best.get(index, 0.0):
                    slot_best[index] = weight
            phrase_hit += mass * best
            words_hit += best
        if phrase_mass <= 0.0 or not slot_best:
            return 0.0
        query_hit = sum(slots[i].mass * v for i, v in slot_best.items()) / total
        # Rare words count more, but half of the words matched is not the whole phrase.
        phrase_cover = (1.0 - _COUNT_MIX) * phrase_hit / phrase_mass
        phrase_cover += _COUNT_MIX * words_hit / len(units)
        return float(phrase_cover**_PHRASE_POWER * query_hit**_QUERY_POWER)


_FIELD_NAMES = ("title", "aliases", "tags", "body")


def _stretch(cosines: Vectors) -> tuple[float, Vectors]:
    """The query's median cosine over the base (a typical one for a small base), and each
    cosine's stand above it on [0, 1]."""
    known = cosines[cosines > -1.0]
    baseline = float(np.median(known)) if len(known) >= _FEW else _BASELINE
    return baseline, np.clip((cosines - baseline - _COS_LOW) / _COS_SPAN, 0.0, 1.0)


def _average(lengths: Iterable[int]) -> float:
    values = list(lengths)
    return max(sum(values) / len(values), 1.0) if values else 1.0


def _postings(ids: array[int], values: array[float]) -> _Postings:
    """Keep the `_CHAMPIONS` best docs of a common term apart, so candidates cost O(1)."""
    if len(ids) <= _CHAMPIONS:
        return _Postings(ids, values, ids, values)
    order = sorted(range(len(ids)), key=values.__getitem__, reverse=True)[:_CHAMPIONS]
    return _Postings(
        ids, values, array("i", (ids[i] for i in order)), array("f", (values[i] for i in order))
    )


class _Dense:
    """Embeddings of every entry's title with its aliases (a few passages for many aliases)
    and of the start of its body (up to `_BODY_CHUNKS` documents); an entry's cosine to a
    query is its best passage's, and apart from it its best document's."""

    def __init__(
        self,
        semantic: Semantic,
        heads: _Texts,
        bodies: _Texts,
        model: str,
        vectors: tuple[Vectors, Vectors],
    ) -> None:
        self._semantic = semantic
        self._heads = heads
        self._bodies = bodies
        self._docs = max(heads.owners, default=-1) + 1
        self._by_model = {model: vectors}
        self._model = model

    @classmethod
    def build(cls, entries: Sequence[Entry], semantic: Semantic) -> _Dense:
        heads, bodies = embedded_texts(entries)
        if not heads.texts:
            empty = np.zeros((0, 1), np.float32)
            return cls(semantic, heads, bodies, "", (empty, empty))
        model, head_vectors = semantic.passages(heads.texts)
        try:
            body_vectors = semantic.documents(model, bodies.texts)
        except EmbeddingsUnavailable as error:  # the server failed between the two calls
            log.warning("embeddings server failed, using the bundled model: %s", error)
            model = semantic.bundled.name
            head_vectors = semantic.bundled_passages(heads.texts)
            body_vectors = semantic.documents(model, bodies.texts)
        return cls(semantic, heads, bodies, model, (head_vectors, body_vectors))

    @property
    def model(self) -> str:
        """The model the entries were embedded with."""
        return self._model

    def bundled(self, model: str) -> bool:
        """True when `model` is the bundled one (the confidence is calibrated on it)."""
        return model == self._semantic.bundled.name

    def cosines(self, query: str) -> tuple[str, Vectors, Vectors]:
        """The model that embedded the query, and each entry's best cosine to it among its
        passages and among its documents (-1 for an entry with nothing embedded)."""
        heads = np.full(self._docs, -1.0, np.float32)
        bodies = np.full(self._docs, -1.0, np.float32)
        if not self._heads.texts:
            return self._model, heads, bodies
        model, vector = self._semantic.query(self._model, query)
        vectors = self._by_model.get(model)
        if vectors is None:  # the server failed now: the bundled model's vectors instead
            vectors = self._by_model[model] = (
                self._semantic.bundled_passages(self._heads.texts),
                self._semantic.documents(model, self._bodies.texts),
            )
        np.maximum.at(heads, self._heads.owner_array(), vectors[0] @ vector)
        if self._bodies.texts:
            np.maximum.at(bodies, self._bodies.owner_array(), vectors[1] @ vector)
        return model, heads, bodies


def embedded_texts(entries: Sequence[Entry]) -> tuple[_Texts, _Texts]:
    """What a hybrid index embeds: passages (a title with up to `_HEAD_ALIASES` aliases,
    as many as the aliases need) and documents (the title with a piece of the body)."""
    heads = _Texts([], [])
    bodies = _Texts([], [])
    for number, entry in enumerate(entries):
        aliases = list(dict.fromkeys(a for a in entry.aliases if a.strip()))
        for start in range(0, max(len(aliases), 1), _HEAD_ALIASES):
            heads.add(". ".join([entry.title, *aliases[start : start + _HEAD_ALIASES]]), number)
        for chunk in _body_chunks(entry.body):
            bodies.add(f"{entry.title}. {chunk}", number)
    return heads, bodies


@dataclass(slots=True)
class _Texts:
    """Texts embedded for the dense index, each with the number of the entry it belongs to."""

    texts: list[str]
    owners: list[int]
    _array: npt.NDArray[np.int64] | None = None

    def add(self, text: str, owner: int) -> None:
        self.texts.append(text)
        self.owners.append(owner)
        self._array = None

    def owner_array(self) -> npt.NDArray[np.int64]:
        if self._array is None:
            self._array = np.array(self.owners, np.int64)
        return self._array


def _body_chunks(body: str) -> list[str]:
    """The start of a body in up to `_BODY_CHUNKS` pieces of whole paragraphs (of whole
    sentences where a paragraph is long), each up to about `_CHUNK_CHARS`: what an entry
    answers is said first, and each piece is one embedding to compute at build time."""
    chunks: list[str] = []
    current = ""
    for paragraph in (p.strip() for p in _PARAGRAPHS.split(body)):
        pieces = _SENTENCES.split(paragraph) if len(paragraph) > _CHUNK_CHARS else [paragraph]
        for piece in (p[: _CHUNK_CHARS * 2] for p in pieces if p):
            if current and len(current) + len(piece) > _CHUNK_CHARS:
                chunks.append(current)
                if len(chunks) == _BODY_CHUNKS:
                    return chunks
                current = ""
            current = f"{current}\n{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks
