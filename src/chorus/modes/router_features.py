"""What the router sees in a question: cheap lexical, syntactic, script and length features."""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Sequence
from itertools import compress, count, pairwise
from math import log1p
from operator import itemgetter

from chorus import tokens
from chorus.records import record

HEAD_CHARS = 1500
TAIL_CHARS = 500
"""Only the head and tail of a long paste are read: the ask is almost always at one end."""

EXACT_TOKEN_CHARS = 4000
"""Longer texts get a sampled token estimate; an exact count of 100k characters takes ~2 ms."""

LEXICONS: dict[str, str] = {
    # Single words are matched against word tokens, phrases ("a b" or non-Latin text) as
    # substrings. Several languages each: a French code question still smells of code.
    "kw_code": """
        code coding coder function functions method methods class classes bug bugs debug
        debugging compile compiler compiles error errors exception exceptions stacktrace
        traceback python javascript typescript java rust golang kotlin swift ruby php perl
        bash shell powershell sql postgres postgresql mysql sqlite mongodb redis query queries
        regex regexp api apis endpoint endpoints json yaml xml html css react vue angular svelte
        django flask fastapi rails spring node nodejs npm pip cargo docker dockerfile kubernetes
        k8s helm terraform git github gitlab commit rebase refactor refactoring unittest pytest
        jest variable variables loop loops array arrays hashmap pointer pointers struct enum
        interface async await thread threads mutex deadlock segfault null undefined nullptr
        library libraries package packages dependency dependencies framework script scripts
        program programs programming implement implementation runtime database schema
        migration linter lint webpack vite cli terminal syntax deploy deployment backend
        frontend microservice microservices lambda closure recursion recursive iterator
        generator decorator dataframe pandas numpy compile-time typescript's repo repository
        localhost http https nginx cors oauth jwt websocket grpc graphql orm sdk ide vscode
        vim emacs makefile cmake gcc clang llvm jvm wasm kotlin's dev devops ci pipeline
        virtualenv venv conda pyenv install installed uninstall module modules linux ubuntu
        debian macos homebrew apt chmod sudo ssh cron aws gcp azure s3 ec2 vpc subnet subnets
        iam serverless ansible jenkins kafka rabbitmq nosql csv excel vba spreadsheet app
        apps crash crashes crashing ios android browser chrome firefox safari onclick dom
        port localhost firewall dns ssl tls certificate login webhook cache caching latency
        crud widget plugin extension binary compile build builds stack heap
        fonction fonctions código codigo programa programación programacion funktion fehler
        programmieren klasse variable datenbank abfrage funzione codice errore
        | c++, c#, f#, .net, node.js, next.js, command line, pull request, merge conflict,
        unit test, visual studio, 代码, 函数, 程序, 编程, 报错, 数据库, コード, 関数, プログラム,
        エラー, データベース, код, функция, функцию, программа, ошибка, базы данных, كود, برمجة,
        دالة, برنامج, 코드, 함수
    """,
    "kw_math": """
        solve solving equation equations integral integrals integrate derivative derivatives
        differentiate calculus algebra algebraic geometry trigonometry probability
        probabilities statistics statistical variance deviation prove proof theorem lemma
        prime primes factor factorize factorial matrix matrices eigenvalue eigenvalues
        eigenvector vector vectors polynomial polynomials root roots logarithm logarithms log
        ln exponent exponential percent percentage ratio fraction fractions average mean
        median mode sum product remainder modulo divisible divisor gcd lcm triangle triangles
        circle radius diameter circumference area volume angle angles slope limit limits
        series converge converges convergence inequality inequalities combinatorics
        permutation permutations combination combinations dice die coin coins calculate
        compute arithmetic interest compound sqrt hypotenuse parabola quadratic linear
        integer integers rational irrational infinity asymptote tangent sine cosine
        expectation distribution binomial gaussian bayes plus minus divided multiply
        multiplied multiplication division subtract subtraction equals digit digits decimal
        decimals discount km mph kilometres kilometers litres liters metres meters celsius
        fahrenheit estimate odds
        | expected value, how much, how many, square root, résoudre, équation, intégrale, dérivée,
        probabilité, ecuación, ecuacion, resolver, derivada, probabilidad, gleichung, lösen,
        ableitung, wahrscheinlichkeit, integrale, 方程, 积分, 导数, 概率, 证明, 计算, 方程式,
        積分, 微分, 確率, 証明, 計算, уравнение, интеграл, производн, вероятност, доказать,
        вычисл, معادلة, تكامل, احتمال
    """,
    "kw_reason": """
        why compare comparison comparing versus vs tradeoff tradeoffs trade-off trade-offs
        pros cons better worse worth decide decision decisions choose choosing choice strategy
        strategic plan planning evaluate assess analyze analyse analysis argument arguments
        implications consequences cause causes reason reasons reasoning logic logical puzzle
        riddle paradox dilemma ethical ethics hypothetically hypothetical recommend
        recommendation advice advise approach risks risk weigh justify critique
        counterargument assumption assumptions infer deduce deduction explain alternatives
        prioritize prioritise debate opinion tactic tactics negotiate scenario scenarios
        downsides upsides benefits drawbacks advantages disadvantages idea predict propose
        proposal policy policies impact effects outcome outcomes incentive incentives
        fairness stakeholders uncertainty unstable stability feedback early late wise
        | good idea, bad idea, makes sense, would you, should i, should we, which is better,
        what would happen, would it make sense, is it worth, pourquoi, comparer, avantages,
        inconvénients, por qué, ventajas, desventajas, warum, vergleichen, vorteile, nachteile,
        perché, 为什么, 比较, 优缺点, 应该, なぜ, 比較, どちら, почему, сравни, плюсы, минусы,
        стоит ли, لماذا, مقارنة
    """,
    "kw_creative": """
        poem poems poetry poet haiku sonnet limerick verse verses rhyme rhyming lyrics song
        songs story stories tale tales fairytale fable novel plot character characters
        dialogue screenplay scene fiction fantasy sci-fi compose creative imagine pretend
        roleplay slogan slogans tagline taglines jingle toast eulogy vows joke jokes pun puns
        metaphor whimsical funny humorous witty bedtime caption captions blurb villain hero
        protagonist narrator monologue ballad ode rap chorus stanza prose worldbuilding
        rewrite reword rephrase catchy brainstorm tweet ideas names ghazal pantoum villanelle
        sestina elegy epigram couplet couplets quatrain fanfic copywriting headline headlines
        bio description quote motto
        | write me, make up, flash fiction, free verse, short story, fairy tale, in the style of,
        in the voice of, birthday message,
        greeting card, name ideas, poème, histoire, conte, chanson, poema, cuento, canción,
        gedicht, geschichte, märchen, lied, poesia, racconto, 诗, 故事, 歌词, 詩, 物語, 俳句,
        стихотворени, стих, рассказ, сказк, песн, قصيدة, قصة
    """,
    "kw_facts": """
        capital population founded invented inventor discovered born died year date located
        height tall tallest largest longest biggest smallest oldest first president minister
        king queen emperor author wrote director currency abbreviation acronym meaning define
        definition synonym antonym spell spelling distance boiling melting symbol element
        planet ocean continent country city river mountain winner won record fact facts
        quick briefly capital's nickname anthem flag language spoken official century war
        treaty empire dynasty revolution battle ancient medieval award prize nobel medal
        olympics champion album film movie actor singer band species animal mammal
        | name the, list the, list all, list every, which country, in which year, stand for,
        stands for, who is, who was, who wrote, when did, when was, where is, what year,
        what is the, how old, how far, how tall, how long ago, quelle est la capitale, cuál es,
        wer ist, 首都, 是谁, 哪一年, 誰, いつ, столица, кто такой, когда, ما هي, عاصمة
    """,
    "kw_long": """
        summarize summarise summary summarized tldr outline condense excerpt transcript
        minutes attached pasted report document article chapter extract recap digest skim
        highlights
        | tl;dr, key points, main points, action items, the following, below, above,
        this document, this article, this transcript, this report, this log, this file,
        this contract, this thread, the text, résumé, résumer, resumen, resumir, zusammenfassung,
        zusammenfassen, riassunto, 总结, 摘要, 概括, 要約, まとめ, кратко, резюме, перескажи,
        تلخيص, لخص
    """,
    "kw_translate": """
        translate translation translated translating translator localize localise
        french spanish german italian portuguese chinese mandarin cantonese japanese korean
        arabic russian hindi dutch polish turkish swedish greek hebrew vietnamese thai
        | how do you say, how to say, in english, traduire, traduction, traducir, traducción,
        übersetzen, übersetzung, tradurre, 翻译, 翻訳, перевести, перевод, ترجم, ترجمة
    """,
    "d_constraint": """
        must without exactly only ensure guarantee guaranteed constraint constraints
        requirement requirements handle handles edge corner unless within bounded
        complexity thread-safe idempotent invariant invariants strictly efficient efficiently
        robust correct correctness optimal minimal maximal precisely
        | at most, at least, no more than, no less than, edge case, corner case,
        backwards compatible, while keeping, but not, o(n, o(1), o(log, in place
    """,
    "d_depth": """
        prove proof derive derivation rigorous rigorously formally formal theorem lemma
        asymptotic optimize optimise optimization optimisation minimize maximize distributed
        consensus concurrency concurrent lock-free deadlock leak invalidation consistency
        transaction transactions isolation eigen manifold bayesian stochastic markov fourier
        laplace topology compiler kernel cryptography cryptographic quantum tensor gradient
        backpropagation convergence causal econometric jurisdiction liability regulation
        compliance architecture scalability scalable latency throughput sharding replication
        counterfactual equilibrium vulnerability exploit adversarial nonlinear heuristic
        benchmark profiling amortized invariant induction contradiction
        | show that, prove that, if and only if, general formula, closed form, race condition,
        memory leak, game theory, second-order, differential equation, zero-knowledge,
        time complexity
    """,
    "d_steps": """
        step steps then after first second third finally additionally also each every both
        design architect end-to-end complete comprehensive detailed thorough thoroughly
        multi-step plan migrate scale walk
        | and then, after that, step by step, in depth, as well as, on top of that
    """,
    "d_easy": """
        quick quickly simple simply short brief briefly basic beginner eli5 hi hello hey
        thanks thank casual fun easy tiny little one-liner
        | one word, one sentence, in a sentence, a few words, explain like, what's, what is,
        just tell me
    """,
}

FOREIGN_STOPWORDS_TEXT = """
    le la les des une est et je tu il elle nous vous que qui dans avec sur pas ce cette mon ma
    mes du au aux sont comment pourquoi quel quelle quels être avoir leur très où été peux
    faire fait mais el los las una unos es y por para cómo qué cuál cuáles mi su está están
    pero muy también puedo hay del al lo se sobre entre cuando dónde der das und ist ein eine
    nicht ich du wir sie mit für auf von zu dem den des wie warum wo kann können mein meine
    bitte oder aber auch noch sind wird werden über bei nach gli della di che è sono perché
    questo questa mio nel os um não você minha isso são em da dos das het een niet wat hoe
    waarom ik je voor zijn wat welke
"""

ENGLISH_STOPWORDS_TEXT = """
    the is are a an of to in and for on with what how why my i you it this that can do does be
    was were from by at as or if me we your which who should would could there their have has
    will not but about into than then they them so any all some when where just our
"""

_WORD = re.compile(r"\w+(?:['-]\w+)*")
_LATIN = re.compile(r"[\x00-\u024f\u1e00-\u1eff\u2000-\u206f]+")
_ACCENTED = re.compile(r"[\u00c0-\u024f]")
_FENCE = re.compile(r"```|`[^`\n]{1,80}`")
_IDENTIFIER = re.compile(r"[a-z](?:_|[A-Z])[a-z]")
_IDENTIFIER_START = re.compile(r"[_A-Z](?<=[a-z][_A-Z])")
"""Where an identifier could be, a-z then "_" or a capital: scanned for from that rarer second
character, so most texts are passed over in C. (_IDENTIFIER itself must start at the a-z: its
matches do not overlap.)"""
_TRACE = re.compile(r"Error|Exception|Traceback|line \d|exit code|segmentation")
_TRACE_WORDS = ("Error", "Exception", "Traceback", "line ", "exit code", "segmentation")
"""_TRACE is looked for only in a text that holds one of these (`in` is ~3x faster than its
scan, which stops at every "e", "l" and "s")."""
# Four alternatives, each starting with a digit, a sign or a currency: behind one leading class
# of all of them (each alternative then checks what it was), which re scans for in C instead of
# trying the alternatives at every position. The same matches, 2-3x faster on a long text.
_MATH = re.compile(r"[\d\^²³∫∑√≤≥≠∞±°$€£¥](?:(?<=\d)\s*[-+*/\u00d7\u00f7^]\s*\(?\d"
                   r"|(?<=[\^²³∫∑√≤≥≠∞±°])|(?<=\d)\s?%|(?<=[$€£¥])\s?\d)")
_MAKE_START = re.compile(
    r"^\s*(?:please |can you |could you )?(?:write|compose|draft|make up|invent|create|"
    r"come up with|generate|give me \d+|turn this into|rewrite|describe)\b", re.I)
_WH_START = re.compile(
    r"^\s*(?:who|what|when|where|which|whats|what's|how (?:many|much|old|far|tall|long)|"
    r"is|are|does|did|was|were)\b", re.I)
# Checked with str methods, which are ~10x faster than regular expressions here.
_OPERATORS = ("==", "!=", "&&", "||", "->", "=>", "::", "+=", "<=", ">=", "()", ").", "\\frac")
_CODE_STARTS = ("def ", "class ", "import ", "from ", "#include", "using ", "package ", "fn ",
                "func ", "let ", "const ", "var ", "public ", "private ", "return ", "if (",
                "for (", "while (", "select ", "insert ", "update ", "create ", "@", "$ ", ">>> ")
_CODE_ENDS = (";", "{", "}", "):", ")", "]", ",")
_LIST_STARTS = ("- ", "* ", "• ")
_ANY_OPERATOR = re.compile("|".join(map(re.escape, _OPERATORS)))
"""Whether to count the operators at all: one scan, where most texts hold none."""


def _lexicon_features() -> tuple[str, ...]:
    return tuple(LEXICONS)


FEATURES: tuple[str, ...] = (
    "bias", *_lexicon_features(), "fence", "code_lines", "identifiers", "operators", "trace",
    "math_syntax", "numbers", "sc_han", "sc_kana", "sc_hangul", "sc_cyrillic", "sc_arabic",
    "sc_other", "sc_any", "foreign_sw", "english_sw", "accents", "log_tokens", "tok_1k", "tok_3k",
    "tok_10k", "lines", "list_lines", "questions", "wh_start", "make_start", "short", "words",
)
"""The order of the vectors the weights in router_weights.toml are fitted to."""


_Keyed = tuple[tuple[str, tuple[tuple[str, int], ...]], ...]
"""(key, (substring, group) pairs): each substring holds its key, so a text without the key is
not searched for them."""
_PUNCTUATION = re.compile(r"[^\w\s]")


def _keyed(substrings: Iterable[tuple[str, int]]) -> _Keyed:
    """Keyed by the first punctuation mark, rare in text ("c++", "o(n", ".net"); a substring
    without one is its own key."""
    keyed: dict[str, list[tuple[str, int]]] = {}
    for substring, group in substrings:
        key = _PUNCTUATION.search(substring)
        keyed.setdefault(key[0] if key else substring, []).append((substring, group))
    return tuple((key, tuple(found)) for key, found in keyed.items())


@record
class Lexicons:
    """All groups compiled for one pass: word -> groups, phrase starts, and raw substrings."""

    words: dict[str, tuple[int, ...]]
    starts: dict[tuple[str, str], tuple[tuple[list[str], tuple[int, ...]], ...]]
    """First two words -> the phrases (as words) that start with them, and their groups."""
    longest: int
    substrings: _Keyed
    """Non-Latin words and phrases with punctuation, found with `in` (no word breaks)."""
    ascii_substrings: _Keyed
    """Those of them in ASCII, the only ones a text in Latin script can hold."""
    foreign: frozenset[str]
    english: frozenset[str]
    """Stopwords; none starts with a digit, so they are counted among all the words."""


@functools.cache
def lexicons() -> Lexicons:
    """Built once, on first use; a phrase of Latin words is matched as a run of word tokens."""
    words: dict[str, list[int]] = {}
    phrases: dict[str, list[int]] = {}
    substrings: list[tuple[str, int]] = []
    for group, text in enumerate(LEXICONS.values()):
        words_part, _, phrases_part = text.partition("|")
        for word in set(words_part.split()):
            words.setdefault(word, []).append(group)
        for phrase in {p.strip() for p in phrases_part.split(",") if p.strip()}:
            parts = _WORD.findall(phrase)
            if _LATIN.fullmatch(phrase) and " ".join(parts) == phrase:
                target = words if len(parts) == 1 else phrases
                target.setdefault(phrase, []).append(group)
            else:
                substrings.append((phrase, group))
    starts: dict[tuple[str, str], list[tuple[list[str], tuple[int, ...]]]] = {}
    for phrase, groups in phrases.items():
        parts = phrase.split()
        starts.setdefault((parts[0], parts[1]), []).append((parts, tuple(groups)))
    return Lexicons(
        {w: tuple(g) for w, g in words.items()}, {s: tuple(p) for s, p in starts.items()},
        max(len(p.split()) for p in phrases), _keyed(substrings),
        _keyed((s, g) for s, g in substrings if s.isascii()),
        frozenset(FOREIGN_STOPWORDS_TEXT.split()), frozenset(ENGLISH_STOPWORDS_TEXT.split()))


def _lexical(lower: str, words: list[str], non_latin: bool) -> list[int]:
    """Hits of each lexicon group."""
    lex = lexicons()
    hits = [0] * len(LEXICONS)
    # The words of the lexicons picked out in C, only they are looked at in Python (faster than
    # counting all the words first, for a short text and a long one alike).
    for word in filter(lex.words.__contains__, words):
        for group in lex.words[word]:
            hits[group] += 1
    # Where two words start a phrase (picked out in C, as above).
    for index in compress(count(), map(lex.starts.__contains__, pairwise(words))):
        for phrase, groups in lex.starts[words[index], words[index + 1]]:
            size = len(phrase)
            if words[index:index + size] == phrase:
                # A phrase that ends the text counts once for each size from its own to the
                # longest: phrases used to be looked up by the next 2, 3, ... words, and at the
                # end those are the same few words. The weights are fitted to that.
                times = 1 if index + size < len(words) else lex.longest - size + 1
                for group in groups:
                    hits[group] += times
    for key, keyed in lex.substrings if non_latin else lex.ascii_substrings:
        if key in lower:
            for substring, group in keyed:
                if substring in lower:
                    hits[group] += lower.count(substring)
    return hits


def estimate_tokens(text: str) -> int:
    """Exact below a few thousand characters, else counted on a sample and scaled."""
    if len(text) <= EXACT_TOKEN_CHARS:
        return tokens.count(text)
    middle = len(text) // 2
    sample = text[:1000] + text[middle:middle + 500] + text[-500:]
    return int(tokens.count(sample) * len(text) / len(sample))


def _scripts(view: str) -> tuple[int, int, int, int, int, int]:
    """Letters of Han, kana, Hangul, Cyrillic, Arabic and other non-Latin scripts."""
    han = kana = hangul = cyrillic = arabic = other = 0
    for char in _LATIN.sub("", view):
        code = ord(char)
        if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
            han += 1
        elif 0x3040 <= code <= 0x30FF:
            kana += 1
        elif 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF:
            hangul += 1
        elif 0x0400 <= code <= 0x04FF:
            cyrillic += 1
        elif 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F:
            arabic += 1
        elif char.isalpha():
            other += 1
    return han, kana, hangul, cyrillic, arabic, other


def _lines(view: str) -> tuple[int, int]:
    """Lines that look like code, and lines that are list items."""
    code = items = 0
    for line in view.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        lowered = stripped[:9].lower()
        if (lowered.startswith(_CODE_STARTS) or stripped.endswith(_CODE_ENDS)
                or "</" in stripped or "/>" in stripped):
            code += 1
        if stripped.startswith(_LIST_STARTS) or (
                stripped[:1].isdigit() and stripped[1:3] in (". ", ") ")):
            items += 1
    return code, items


@record
class Reading:
    """One pass over a question: what it is about, how hard it looks, and its tokens."""

    features: list[float]
    """In FEATURES order (the category)."""
    difficulty: list[float]
    """In DIFFICULTY_FEATURES order."""
    tokens: int


def read(text: str) -> Reading:
    """Both feature vectors and the estimated tokens of `text`. A text short enough to be read
    whole is encoded once, by the difficulty features, which count its tokens on the way; its
    words are found once, for both."""
    view = _view(text)
    lower = view.lower()
    words = _WORD.findall(lower)
    joined = "".join(words)
    # Words all of letters: no digit anywhere (a digit is a word character); and in ASCII they
    # are exactly the runs of a-z the difficulty features count.
    letters_only = joined.isalpha()
    numbers = [] if letters_only else _DIGITS.findall(view)
    difficulty, view_tokens = difficulty_reading(
        view, words if letters_only and joined.isascii() else None, numbers)
    n_tokens = view_tokens if len(view) == len(text) else estimate_tokens(text)
    return Reading(_features(text, view, lower, words, len(joined), bool(numbers), n_tokens),
                   difficulty, n_tokens)


_NO_SCRIPT = (0, 0, 0, 0, 0, 0)
_NO_SCRIPT_FEATURES: tuple[float, ...] = (0.0,) * 7
"""An ASCII text: no letters of other scripts, and the seven script features are 0.0."""


def _features(text: str, view: str, lower: str, words: list[str], word_chars: int,
              digits: bool, n_tokens: int) -> list[float]:
    """In FEATURES order; `digits`: whether `view` holds one. A feature whose regular expression
    cannot match (a cheap check says so) is 0.0 without it: log1p(0) is 0.0. (`n or 1`: at
    least 1, as a divisor.)"""
    in_ascii = view.isascii()
    if in_ascii and not digits:  # then no word starts with a digit
        alpha, letters = words, word_chars or 1
    else:
        alpha = [w for w in words if not w[0].isdigit()]
        letters = sum(map(len, alpha)) or 1
    n_alpha = len(alpha) or 1
    if in_ascii:
        script_letters, scripts, accents = _NO_SCRIPT, _NO_SCRIPT_FEATURES, 0
    else:
        script_letters = _scripts(view)
        scripts = (*(min(1.0, n / letters) for n in script_letters),
                   min(1.0, sum(script_letters) / letters))
        accents = len(_ACCENTED.findall(view))
    lex = lexicons()
    code_lines, list_lines = _lines(view)
    questions = view.count("?") + view.count("\uff1f") + view.count("؟")
    return [
        1.0, *map(log1p, _lexical(lower, words, any(script_letters))),
        log1p(len(_FENCE.findall(view))) if "`" in view else 0.0, log1p(code_lines),
        log1p(len(_IDENTIFIER.findall(view))) if _IDENTIFIER_START.search(view) else 0.0,
        log1p(sum(map(view.count, _OPERATORS))) if _ANY_OPERATOR.search(view) else 0.0,
        log1p(len(_TRACE.findall(view))) if any(map(view.__contains__, _TRACE_WORDS)) else 0.0,
        # maths needs a digit or a sign, and in ASCII the only sign is "^"
        log1p(len(_MATH.findall(lower))) if digits or not in_ascii or "^" in view else 0.0,
        log1p(len(words) - len(alpha)), *scripts,
        sum(map(lex.foreign.__contains__, words)) / n_alpha,
        sum(map(lex.english.__contains__, words)) / n_alpha,
        min(1.0, 10 * accents / letters),
        log1p(n_tokens) / 10, float(n_tokens >= 1000), float(n_tokens >= 3000),
        float(n_tokens >= 10_000), log1p(text.count("\n")) / 5, log1p(list_lines),
        log1p(questions), float(_WH_START.match(view) is not None),
        float(_MAKE_START.match(view) is not None), float(len(words) <= 12),
        log1p(len(words)) / 8,
    ]


# ---- difficulty: features meant to carry over to unseen subjects and kinds of question ------

_OPTION = re.compile(r"^[ \t]*(?:\(?[A-Ha-h][.)]|[-*\u2022])[ \t]+(.+)$", re.M)
_LETTERS = re.compile(r"[a-z]+")
_DIGITS = re.compile(r"\d\d*")
"""Not \\d+: re scans in C for a pattern that starts with a character class (~1.5x faster)."""
_NEGATION_WORDS = ("NOT", "EXCEPT", "LEAST", "FALSE", "NEVER")
_NEGATION_UPPER = re.compile(rf"\b(?:{'|'.join(_NEGATION_WORDS)})\b")
_ANY_NEGATION = re.compile("|".join(_NEGATION_WORDS))
"""Whether to look for them as words: a scan in C, where \\b first tries every position."""
_CUES: dict[str, tuple[int, ...]] = {}
for _cue, _words in enumerate((
        # people in a scenario
        "he she his her him they their man woman patient person child company defendant "
        "plaintiff student someone",
        # negation, in any case ("NOT" and "EXCEPT" are also counted in capitals)
        "not except never least false incorrect cannot unlikely no",
        # superlatives: the best of several plausible answers
        "most best least primarily likely strongest main greatest",
        # choosing among statements
        "which true false correct statement statements",
        # several steps: conditions, order, quantities to carry
        "then after if suppose assume assuming given total each remaining first second third "
        "twice half per respectively before when while until would could following")):
    for _word in _words.split():
        _CUES[_word] = (*_CUES.get(_word, ()), _cue)
"""Word cues, counted in the stem: a word may count for several (\"least\", \"false\")."""
_SYMBOL = re.compile("[" + re.escape("=+*/^<>%$()[]{}|\\_#&@~") + "]")
_FIRST = itemgetter(0)
RARE_TOKEN = 30_000
"""Byte-pair ids are merge ranks: a token past this rank is a rare piece of text (o200k)."""

DIFFICULTY_FEATURES: tuple[str, ...] = (
    "bias", "log_chars", "log_stem_words", "sentences", "options", "option_chars",
    "option_share", "option_overlap", "option_numbers", "numbers", "digits", "symbols",
    "people", "negation", "negation_upper", "superlative", "choose", "steps", "ends_question",
    "word_length", "long_words", "capitals", "type_token", "quotes", "rank", "rare_tokens",
    "tokens_per_word", "option_rank", "option_rare_tokens", "option_tokens_per_word",
)
"""The order of the difficulty weights in router_weights.toml."""


def _overlap(options: list[str]) -> float:
    """Mean word overlap (Jaccard) between pairs of answer options: near-identical options
    ask for a fine distinction."""
    sets = [set(o.lower().split()) for o in options]
    shares = [len(a & b) / max(1, len(a | b)) for i, a in enumerate(sets) for b in sets[i + 1:]]
    return sum(shares) / max(1, len(shares))


def _rarity(ids: list[int], words: int) -> tuple[float, float, float]:
    """Mean log merge rank of the tokens, the share of rare ones, and tokens per word: rare,
    technical or foreign words are long ranks or split into many pieces."""
    n = len(ids) or 1
    return (sum(map(log1p, ids)) / n / 12, sum(map(RARE_TOKEN.__le__, ids)) / n,
            len(ids) / (words or 1))


def _ids(text: str) -> list[int]:
    """Token ids; without tiktoken, one mid-rank id per four characters (the same estimate
    chorus.tokens falls back to)."""
    found = tokens.ids(text)
    return found if found is not None else [RARE_TOKEN] * (len(text) // 4)


def _view(text: str) -> str:
    return text if len(text) <= HEAD_CHARS + TAIL_CHARS else (
        text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:])


def difficulty_reading(view: str, letter_words: list[str] | None = None,
                       numbers: list[str] | None = None) -> tuple[list[float], int]:
    """Shape of the question (in DIFFICULTY_FEATURES order), no subject vocabulary: lengths,
    answer options, numbers and symbols, cue words (people, negation, superlatives, choosing,
    several steps), and how rare its words are by their byte-pair ranks; and the tokens of
    `view`, counted on the way (the stem and the options are encoded apart, split at a line
    start, where the encoder never joins across).

    `letter_words` and `numbers`: the runs of a-z in `view.lower()` and of digits in `view`,
    when the caller has them."""
    # Options are at line starts, and two are needed: a single line has none.
    found = list(_OPTION.finditer(view)) if "\n" in view else []
    first = found[0] if len(found) >= 2 else None
    options = [m[1] for m in found] if first is not None else []
    stem, rest = (view[:first.start()], view[first.start():]) if first is not None else (
        view, "")
    stem_words = stem.split()
    n_words = len(stem_words) or 1
    lengths = list(map(len, stem_words))
    if letter_words is None or first is not None:
        letter_words = _LETTERS.findall(stem.lower())
    cues = [0, 0, 0, 0, 0]
    for word in filter(_CUES.__contains__, letter_words):
        for cue in _CUES[word]:
            cues[cue] += 1
    if numbers is None:
        numbers = _DIGITS.findall(view)
    chars = len(view) or 1
    stem_ids = _ids(stem)
    rest_ids = _ids(rest) if rest else []
    option_chars = sum(map(len, options))
    kept = len(view) - len(_SYMBOL.findall(view))  # what is left without the symbols
    return [
        1.0, log1p(len(view)) / 8, log1p(len(stem_words)) / 6,
        log1p(stem.count(". ") + stem.count("? ") + stem.count("\n")),
        float(first is not None),
        log1p(option_chars / len(options)) / 5 if options else 0.0,
        option_chars / chars, _overlap(options) if options else 0.0,
        sum(map(str.isdigit, map(_FIRST, options))) / len(options) if options else 0.0,
        log1p(len(numbers)), sum(map(len, numbers)) / chars,
        (chars - kept) / chars * 10, log1p(cues[0]), log1p(cues[1]),
        log1p(len(_NEGATION_UPPER.findall(stem))) if _ANY_NEGATION.search(stem) else 0.0,
        log1p(cues[2]), log1p(cues[3]), log1p(cues[4]),
        float(stem.rstrip().endswith("?")),
        sum(lengths) / n_words / 8, sum(map((9).__le__, lengths)) / n_words,
        sum(map(str.isupper, map(_FIRST, stem_words))) / n_words,
        len(set(letter_words)) / (len(letter_words) or 1),
        log1p(stem.count('"') + stem.count("\u201c")),
        *_rarity(stem_ids, len(stem_words)),
        *(_rarity(rest_ids, len(rest.split())) if options else (0.0, 0.0, 0.0)),
    ], len(stem_ids) + len(rest_ids)


def difficulty_features(text: str) -> list[float]:
    """The difficulty features of `text` (its head and tail when long)."""
    return difficulty_reading(_view(text))[0]


def percentile(edges: Sequence[float], value: float) -> float:
    """Where `value` falls among `edges` (ascending quantiles of the training questions), in
    0..1, linear between two edges."""
    i = bisect.bisect_right(edges, value)
    if i == 0:
        return 0.0
    if i == len(edges):
        return 1.0
    low, high = edges[i - 1], edges[i]
    return (i - 1 + (value - low) / (high - low)) / (len(edges) - 1)


def quantile(edges: Sequence[float], rank: float) -> float:
    """The inverse of `percentile`: the value at `rank` (0..1), linear between two edges."""
    position = min(max(rank, 0.0), 1.0) * (len(edges) - 1)
    i = min(int(position), len(edges) - 2)
    return edges[i] + (position - i) * (edges[i + 1] - edges[i])
