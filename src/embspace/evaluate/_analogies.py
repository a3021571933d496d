"""Analogies (a : b :: c : d) in the Google format, solved for all questions in one batch."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..errors import EmbspaceError
from ..search import ANALOGY_METHODS, analogy_topk
from ..space import Space
from ._files import malformed, read_lines, resolve
from ._result import Result, check_oov
from ._word_rows import WordRows, missing_words

_GENSIM_TOPN = 5  # candidates gensim looks through to skip case variants of the question words


def analogies(
    space: Space,
    path_or_name: str | os.PathLike,
    *,
    method: str = "3cosadd",
    restrict_vocab: int | None = 300_000,
    oov: str = "drop",
    case_insensitive: bool = True,
    name: str | None = None,
) -> Result:
    """Top-1 accuracy on analogy questions, overall and per section.

    Parameters
    ----------
    space : Space
    path_or_name : str or path
        ``google`` (the Google analogy set, 19,544 questions) or a file in its format:
        ``: section`` lines, then ``a b c d`` lines (a is to b as c is to d).
    method : {"3cosadd", "3cosmul"}
        How the answer is found (see :func:`embspace.search.analogy_topk`); the three question
        words are never an answer, as in gensim.
    restrict_vocab : int, optional
        Only the first `restrict_vocab` rows count: as question words and as answers.
    oov : {"drop", "wrong"}
        Questions with a word outside the vocabulary are left out, or counted as wrong (accuracy
        is then over all questions).
    case_insensitive : bool
        Match words to ids ignoring case; the first (most frequent) casing wins.

    Returns
    -------
    Result with metric ``accuracy``; ``details`` holds ``method``, ``restrict_vocab``,
    ``sections`` (per section: accuracy, correct, found, total), up to 10 ``missing`` words and,
    when section names start with ``gram`` as in the Google set, ``semantic`` and ``syntactic``.
    """
    return score_analogies(
        WordRows(space, restrict_vocab, case_insensitive), path_or_name, method=method, oov=oov, name=name
    )


def score_analogies(
    vocab: WordRows, path_or_name, *, method: str = "3cosadd", oov: str = "drop", name: str | None = None
) -> Result:
    """`analogies` over a vocabulary already built (the report card shares one)."""
    check_oov(oov)
    check_method(method)
    if vocab.n < 4:
        raise EmbspaceError(f"analogies need a vocabulary of at least 4 ids; this one has {vocab.n}")
    default_name, path = resolve(path_or_name)
    words, section_of, sections = read_analogies(path)
    rows = vocab.rows(words)
    found = (rows >= 0).all(axis=1)
    correct = np.zeros(len(rows), dtype=bool)
    if found.any():
        correct[found] = _solve(vocab, rows[found], method)
    stats = _section_stats(section_of, found, correct, len(sections), oov)
    details = {
        "method": method,
        "restrict_vocab": vocab.restrict,
        "case_insensitive": vocab.case_insensitive,
        "correct": int(correct.sum()),
        "sections": dict(zip(sections, stats)),
        "missing": missing_words(words, rows),
    }
    if any(s.startswith("gram") for s in sections):  # the Google set's naming of its syntactic part
        syntactic = np.array([s.startswith("gram") for s in sections])[section_of]
        details["semantic"] = _stats(found[~syntactic], correct[~syntactic], oov)
        details["syntactic"] = _stats(found[syntactic], correct[syntactic], oov)
    overall = _stats(found, correct, oov)
    return Result(
        name=name or default_name,
        task="analogies",
        metric="accuracy",
        score=overall["accuracy"],
        coverage=float(found.mean()),
        found=overall["found"],
        total=overall["total"],
        oov=oov,
        details=details,
    )


def check_method(method: str) -> str:
    if method not in ANALOGY_METHODS:
        raise EmbspaceError(f"unknown analogy method {method!r}; choose one of {', '.join(ANALOGY_METHODS)}")
    return method


def read_analogies(path: Path) -> tuple[list[list[str]], np.ndarray, list[str]]:
    """(questions as [a, b, c, d], section number of each, section names) of a Google-format file.

    Questions before the first ``: section`` line go to a section named after the file.
    """
    words: list[list[str]] = []
    section_of: list[int] = []
    sections: dict[str, int] = {}
    current = None
    for number, line in read_lines(path):
        if line.startswith(":"):
            title = line[1:].strip()
            if not title:
                raise malformed(path, number, line, "a section name after ':'")
            current = sections.setdefault(title, len(sections))
            continue
        fields = line.split()
        if len(fields) != 4:
            raise malformed(path, number, line, "': section' or four words 'a b c d'")
        if current is None:
            current = sections.setdefault(path.stem, len(sections))
        words.append(fields)
        section_of.append(current)
    if not words:
        raise EmbspaceError(f"{path}: no analogy questions found; expected ': section' lines and 'a b c d' lines")
    return words, np.asarray(section_of, dtype=np.int64), list(sections)


def _solve(vocab: WordRows, rows: np.ndarray, method: str) -> np.ndarray:
    """Whether each question (rows a, b, c, d; all in vocabulary) is answered right.

    A question whose words have other casings in the vocabulary ("first" and "ﬁrst") skips answers
    that are a case variant of a question word, as gensim does: it looks at the top 5 and takes the
    first that folds to none of its words (or the last if all do). The others need only the top 1.
    """
    correct = np.zeros(len(rows), dtype=bool)
    careful = np.isin(rows[:, :3], vocab.with_variants).any(axis=1)
    for subset, k in ((~careful, 1), (careful, _GENSIM_TOPN)):
        if subset.any():
            q = rows[subset]
            idx, _ = analogy_topk(
                vocab.vectors(),  # only the vocabulary's rows are read
                *(np.ascontiguousarray(q[:, i]) for i in range(3)),
                k=k,
                method=method,
                restrict=vocab.n,
                sq_norms=vocab.sq_norms(),
            )
            correct[subset] = _first_answer(vocab, idx, q) == q[:, 3]
    return correct


def _first_answer(vocab: WordRows, idx: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The canonical row of each question's answer among its candidates `idx` (q, k)."""
    canonical = vocab.rows([vocab.ids[i] for i in idx.ravel()]).reshape(idx.shape)
    variant = (canonical[:, :, None] == rows[:, None, :3]).any(axis=2)
    first_ok = np.where(variant.all(axis=1), idx.shape[1] - 1, np.argmax(~variant, axis=1))
    return canonical[np.arange(len(rows)), first_ok]


def _section_stats(
    section_of: np.ndarray, found: np.ndarray, correct: np.ndarray, n_sections: int, oov: str
) -> list[dict]:
    return [_stats(found[section_of == s], correct[section_of == s], oov) for s in range(n_sections)]


def _stats(found: np.ndarray, correct: np.ndarray, oov: str) -> dict:
    counted = int(found.sum()) if oov == "drop" else len(found)
    n_correct = int(correct.sum())
    return {
        "accuracy": n_correct / counted if counted else math.nan,
        "correct": n_correct,
        "found": int(found.sum()),
        "total": len(found),
    }
