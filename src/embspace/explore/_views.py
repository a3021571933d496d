"""What each JSON view of the explorer answers: neighbours, search, analogies, comparisons.

Plain functions over `ServedSpace` returning JSON-ready dicts, so they are tested without a server.
Every search is exact (`embspace.search`) and runs on the memory-mapped vectors.
"""

from __future__ import annotations

import re
import threading
import time

import numpy as np

from ..errors import EmbspaceError, UnknownIdError
from ._served import ServedSpace

MAX_K = 200
MAX_RESULTS = 500
MAX_PATTERN = 200
REGEX_BUDGET_S = 2.0  # one regex search may take this long over all ids; then "pattern too expensive"
REGEX_CHILDREN = threading.BoundedSemaphore(2)  # regex searches running at once (each a process)
# a regex search runs `re` in this child process, killed when the budget is spent: the first line of its
# input is the pattern (JSON), the rest the ids (a JSON list); it prints the rows that match
REGEX_CHILD = (
    "import json, re, sys\n"
    "q = json.loads(sys.stdin.readline())\n"
    "p = re.compile(q)\n"
    "print(json.dumps([i for i, x in enumerate(json.loads(sys.stdin.read())) if p.search(x)]))\n"
)
SEARCH_MODES = ("exact", "prefix", "regex")


def parse_int(value, name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter between `lo` and `hi` (an EmbspaceError that says so otherwise)."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e999 in a JSON body is infinity
        raise EmbspaceError(f"{name} must be an integer; got {str(value)[:40]!r}") from None
    if not lo <= number <= hi:
        raise EmbspaceError(f"{name} must be between {lo} and {hi}; got {number}")
    return number


def _item(s: ServedSpace, row: int, key: str | None) -> dict:
    """An id, its row and map position, and its title where the space has a title column."""
    out = {"id": s.space.ids[row], "row": int(row), "map_index": s.map_position(key, row)}
    if s.has_titles:
        out["title"] = s.title(row)
    return out


def neighbors(s: ServedSpace, row: int, k: int = 10, key: str | None = None) -> dict:
    """The exact top-k neighbours of `row` in the space, and where they lie on map `key`.

    Each neighbour says its `map_rank` (1 = the nearest map point to the query, None if the
    neighbour or the query is not on the map) and `near_on_map` (map_rank <= k): a neighbour
    that is not near on the map is one the picture hides.
    """
    space = s.space
    k = min(k, space.n - 1)
    if k < 1:
        raise EmbspaceError("the space has a single item; it has no neighbours")
    found = space.neighbors(space.ids[row], k=k)
    rows = space.indices(n.id for n in found)
    out = {"query": _item(s, row, key), "k": k, "metric": space.metric, "map": key, "neighbors": []}
    ranks = [None] * len(rows)
    if key:
        view = s.map_view(key)
        at = int(view.position[row])
        positions = view.position[rows]
        on = np.flatnonzero(positions >= 0)
        if at >= 0 and on.size:
            for i, r in zip(on, view.near_ranks(at, positions[on])):
                ranks[i] = int(r)
    for n, r, rank in zip(found, rows, ranks):
        entry = _item(s, int(r), key)
        entry.update(score=n.score, map_rank=rank, near_on_map=None if rank is None else rank <= k)
        out["neighbors"].append(entry)
    measured = [e["near_on_map"] for e in out["neighbors"] if e["near_on_map"] is not None]
    out["kept_on_map"] = (sum(measured) / len(measured)) if measured else None
    return out


def search(s: ServedSpace, query: str, mode: str = "exact", limit: int = 50, key: str | None = None) -> dict:
    """Ids that equal `query` (exact), start with it (prefix) or match it (regex, `re.search`),
    in row order; `total` counts every match, `results` holds the first `limit`.

    In a space with a title column (movies...) titles count too: exact finds the titles equal to
    `query` (ignoring case) when no id is, prefix the titles that start with it (ignoring case),
    regex the titles it matches."""
    if mode not in SEARCH_MODES:
        raise EmbspaceError(f"unknown search mode {mode!r}; choose one of {', '.join(SEARCH_MODES)}")
    if not query:
        raise EmbspaceError("empty search; give q=...")
    ids = s.space.ids
    suggestions: list[str] = []
    if mode == "exact":
        try:
            rows = [s.space.index(query)]
        except UnknownIdError as exc:
            rows, suggestions = [], exc.suggestions
            if s.has_titles:
                folded = query.casefold()
                rows = [i for i, x in enumerate(s.titles()) if x.casefold() == folded]
                suggestions = [] if rows else suggestions
    elif mode == "prefix":
        rows = [i for i, x in enumerate(ids) if x.startswith(query)]
        if s.has_titles:
            folded = query.casefold()
            rows = sorted(set(rows) | {i for i, x in enumerate(s.titles()) if x.casefold().startswith(folded)})
    else:
        if len(query) > MAX_PATTERN:
            raise EmbspaceError(f"the pattern is {len(query)} characters long; at most {MAX_PATTERN} are allowed")
        rows = _regex_rows(s, query, REGEX_BUDGET_S)
        if s.has_titles:
            rows = sorted(set(rows) | set(_regex_rows(s, query, REGEX_BUDGET_S, s.titles_json())))
    return {
        "q": query,
        "mode": mode,
        "total": len(rows),
        "results": [_item(s, r, key) for r in rows[:limit]],
        "suggestions": suggestions,
    }


def _too_expensive(query: str, why: str) -> EmbspaceError:
    return EmbspaceError(f"pattern too expensive: {query!r} {why}; simplify it (no nested repeats such as (a+)+)")


def _regex_rows(s: ServedSpace, query: str, budget: float, texts: bytes | None = None) -> list[int]:
    """Rows whose id (or text of `texts`, a JSON list aligned with the ids) matches `query` (`re.search`),
    or "pattern too expensive" past `budget` seconds.

    `re` cannot be interrupted and holds the interpreter lock for a whole match, which a pattern
    such as (a+)+$ makes endless: the search runs in a child process (REGEX_CHILD), killed when
    the budget is spent, while this thread waits without the lock and other requests are served.
    (The `regex` package's `timeout=` would bound it in-process, but costs 3 us per id.)
    """
    import json
    import subprocess
    import sys

    try:
        re.compile(query)
    except re.error as exc:
        raise EmbspaceError(f"invalid regular expression {query!r}: {exc}") from None
    payload = json.dumps(query).encode() + b"\n" + (s.ids_json(False) if texts is None else texts)
    deadline = time.monotonic() + budget
    if not REGEX_CHILDREN.acquire(timeout=budget):
        raise EmbspaceError("the explorer is busy with other regex searches; try again in a few seconds")
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", REGEX_CHILD],
            input=payload,
            capture_output=True,
            timeout=max(deadline - time.monotonic(), 0.1),
        )
    except subprocess.TimeoutExpired:  # run() has killed the child
        raise EmbspaceError(
            f"pattern too expensive: {query!r} took more than {budget:g} s over {s.space.n:,} ids; "
            f"simplify it (no nested repeats such as (a+)+)"
        ) from None
    finally:
        REGEX_CHILDREN.release()
    if done.returncode != 0:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        raise EmbspaceError(f"regex search failed: {last}")
    return json.loads(done.stdout)


def analogy(
    s: ServedSpace, a: str, b: str, c: str, k: int = 10, method: str = "3cosadd", key: str | None = None
) -> dict:
    """a is to b as c is to ?: the ranked answers (exact search), with their map positions."""
    if s.space.n < 4:
        raise EmbspaceError("an analogy needs a space of at least 4 items")
    k = min(k, s.space.n - 3)
    answers = s.space.analogy(a, b, c, k=k, method=method)
    words = {name: _item(s, s.space.index(w), key) for name, w in (("a", a), ("b", b), ("c", c))}
    return {
        **words,
        "method": method,
        "k": k,
        "map": key,
        "answers": [dict(_item(s, s.space.index(n.id), key), score=n.score) for n in answers],
    }


class Comparisons:
    """Neighbour overlap between two served spaces (see `embspace.evaluate._compare.neighbour_overlap`),
    computed once per request shape; the heavy part runs outside the lock."""

    def __init__(self):
        self._lock = threading.Lock()
        self._done: dict[tuple, dict] = {}
        self._shared: dict[tuple[int, int], int] = {}

    def shared(self, a: ServedSpace, b: ServedSpace) -> int:
        """How many ids spaces `a` and `b` have in common (counted once per pair)."""
        key = (min(a.index, b.index), max(a.index, b.index))
        with self._lock:
            if key in self._shared:
                return self._shared[key]
        small, big = sorted((a.space, b.space), key=lambda space: space.n)
        count = sum(1 for item in small.ids if item in big)
        with self._lock:
            self._shared[key] = count
        return count

    def partners(self, a: ServedSpace, spaces: list[ServedSpace], k: int = 10) -> dict:
        """The other served spaces and how many ids each shares with `a`, most first; a space can
        be compared with `a` (``comparable``) when they share more than `k` ids."""
        others = [
            {"index": b.index, "name": b.name, "n": b.space.n, "shared": self.shared(a, b)}
            for b in spaces
            if b.index != a.index
        ]
        for entry in others:
            entry["comparable"] = entry["shared"] > k
        others.sort(key=lambda entry: (-entry["shared"], entry["index"]))
        return {"space": a.index, "k": k, "spaces": others}

    def compare(self, a: ServedSpace, b: ServedSpace, k: int = 10, sample: int = 2000, worst: int = 50) -> dict:
        from ..evaluate import neighbour_overlap

        key = (a.index, b.index, k, sample, worst)
        with self._lock:
            if key in self._done:
                return self._done[key]
        result = neighbour_overlap(a.space, b.space, k=k, sample=sample, worst=worst)
        result = dict(result, a=a.index, b=b.index, a_name=a.name, b_name=b.name)
        for entry in result["most_different"]:
            entry["row_a"] = a.space.index(entry["id"])
            entry["row_b"] = b.space.index(entry["id"])
        with self._lock:
            self._done[key] = result
        return result
