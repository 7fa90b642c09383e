"""Pairs of submissions whose own code matches beyond chance, for the instructor to review.

The method is MOSS's (Schleimer, Wilkerson and Aiken, "Winnowing: local algorithms for
document fingerprinting", SIGMOD 2003), over Python's tokens:

- each graded function a student wrote (as grading kept it: ``Result.code``, from
  ``course.grade.functions``) is tokenised with names, numbers and strings
  normalised (``V``, ``N``, ``S``; keywords, operators and attribute names such as
  ``torch.linalg.solve`` kept), so renaming variables or retuning a constant changes nothing;
- every run of ``K`` tokens is hashed, and in every window of ``WINDOW`` consecutive hashes
  the smallest is kept (winnowing): any shared run of ``K + WINDOW - 1`` tokens is certain to
  share a fingerprint, and the fingerprints do not depend on where the function sits, so
  reordered cells change nothing either;
- *boilerplate* is removed before comparing: the stubs' own code (signature, docstring) and
  any fingerprint that more than ``COMMON_SHARE`` of the class share (the idioms that every
  correct answer uses);
- two submissions match on a function when the smaller one's remaining fingerprints are at
  least ``THRESHOLD`` in the other and it has at least ``MIN_PRINTS`` of them (a one-line
  ``relu_grad`` is too short to tell anything);
- a pair is listed only when it matches on ``MIN_QUESTIONS`` questions or more.

A listed pair is a lead for the instructor, never a penalty: the report shows both sides with
the matching lines marked.  Standard library only; deterministic (blake2b, not ``hash``).
"""

from __future__ import annotations

import hashlib
import io
import keyword
import tokenize
from dataclasses import dataclass, field
from itertools import combinations

K = 10
WINDOW = 5
MIN_PRINTS = 6
THRESHOLD = 0.7
MIN_QUESTIONS = 2
COMMON_SHARE = 0.25  # of the class, and at least 3 submissions: what many share is an idiom


@dataclass(frozen=True)
class Print:
    hash: int
    lines: range  # the k-gram's lines, 1-based, in the function's source


def _tokens(source: str) -> list[tuple[str, int]]:
    """Normalised tokens with their lines; an unreadable tail is cut, not fatal."""
    out: list[tuple[str, int]] = []
    previous = ""
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, text, line = token.type, token.string, token.start[0]
            if kind in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER):
                continue
            if kind == tokenize.NAME:
                text = text if keyword.iskeyword(text) or previous == "." else "V"
            elif kind == tokenize.NUMBER:
                text = "N"
            elif kind == tokenize.STRING or kind in _FSTRING:
                text = "S"
            elif kind == tokenize.NEWLINE:
                text = ";"
            elif kind == tokenize.INDENT:
                text = "{"
            elif kind == tokenize.DEDENT:
                text = "}"
            previous = token.string
            out.append((text, line))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


_FSTRING = {getattr(tokenize, name) for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
            if hasattr(tokenize, name)}


def fingerprints(source: str) -> list[Print]:
    """Winnowed fingerprints of ``source`` (robust winnowing: the rightmost minimum of a window)."""
    tokens = _tokens(source)
    grams = []
    for i in range(len(tokens) - K + 1):
        text = " ".join(t for t, _ in tokens[i:i + K]).encode()
        digest = hashlib.blake2b(text, digest_size=8).digest()
        grams.append(Print(int.from_bytes(digest, "big"), range(tokens[i][1], tokens[i + K - 1][1] + 1)))
    if len(grams) < WINDOW:
        return grams[:1] if grams else []
    chosen: dict[int, Print] = {}
    for start in range(len(grams) - WINDOW + 1):
        window = grams[start:start + WINDOW]
        smallest = min(range(WINDOW), key=lambda j: (window[j].hash, -j))
        chosen[start + smallest] = window[smallest]
    return [chosen[i] for i in sorted(chosen)]


def side_by_side(pair: Pair, code: dict[str, dict[str, str]]) -> list[dict]:
    """For the report: each matching function's lines on both sides, the matching ones marked."""
    shown = []
    for match in pair.matches:
        sides = []
        for key, marked in ((pair.first, match.lines[0]), (pair.second, match.lines[1])):
            lines = code[key].get(match.function, "").splitlines()
            sides.append([{"text": text, "match": number in marked} for number, text in enumerate(lines, 1)])
        shown.append({"question": match.question, "function": match.function, "share": match.share,
                      "first": sides[0], "second": sides[1]})
    return shown


def _lines(prints: list[Print], shared: set[int]) -> list[int]:
    return sorted({line for p in prints if p.hash in shared for line in p.lines})


@dataclass
class QuestionMatch:
    question: str
    function: str
    share: float  # of the smaller side's own fingerprints found in the other
    lines: tuple[list[int], list[int]]  # matching lines on each side, 1-based in the function


@dataclass
class Pair:
    first: str  # result keys, first < second
    second: str
    matches: list[QuestionMatch] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(m.share for m in self.matches) / len(self.matches) if self.matches else 0.0


def similar_pairs(code: dict[str, dict[str, str]], questions: dict[str, str],
                  stubs: dict[str, str] | None = None) -> list[Pair]:
    """Pairs of submissions that match on ``MIN_QUESTIONS`` questions or more, strongest first.

    ``code`` maps a submission's key to its graded functions' sources, ``questions`` a function
    to its question, ``stubs`` a function to the stub the course gave (its code is boilerplate)."""
    stubs = stubs or {}
    prints = {key: {fn: fingerprints(src) for fn, src in functions.items()} for key, functions in code.items()}
    boilerplate = {fn: {p.hash for p in fingerprints(src)} for fn, src in stubs.items()}
    common_at = max(3, int(COMMON_SHARE * len(code)) + 1)
    for fn in {fn for functions in prints.values() for fn in functions}:
        counts: dict[int, int] = {}
        for functions in prints.values():
            for h in {p.hash for p in functions.get(fn, [])}:
                counts[h] = counts.get(h, 0) + 1
        boilerplate.setdefault(fn, set()).update(h for h, n in counts.items() if n >= common_at)
    own = {key: {fn: {p.hash for p in ps} - boilerplate.get(fn, set()) for fn, ps in functions.items()}
           for key, functions in prints.items()}
    pairs = []
    for first, second in combinations(sorted(code), 2):
        pair = Pair(first, second)
        for fn in sorted(set(own[first]) & set(own[second])):
            a, b = own[first][fn], own[second][fn]
            if min(len(a), len(b)) < MIN_PRINTS:
                continue
            shared = a & b
            share = len(shared) / min(len(a), len(b))
            if share >= THRESHOLD:
                lines = (_lines(prints[first][fn], shared), _lines(prints[second][fn], shared))
                pair.matches.append(QuestionMatch(questions.get(fn, fn), fn, share, lines))
        if len({m.question for m in pair.matches}) >= MIN_QUESTIONS:
            pairs.append(pair)
    return sorted(pairs, key=lambda p: (-len(p.matches), -p.score, p.first, p.second))
