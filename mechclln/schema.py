"""Schema-checked reading of user files: one typed checker per kind of field.

Every loader (network, task, part, tracks CSV, stage reports) reads its fields through :class:`Fields`, so
a wrong type, shape, range, id, a NaN, a duplicate or a too-new version fails the same way, before use,
with the one-line message ``<file>: field '<field>': <problem>; <fix>`` (:func:`mechclln.errors.fail`).
``null`` is an error unless a checker is told ``nullable=True`` (then it reads as "unset"). Sizes are
bounded (:data:`MAX_ITEMS` per list) so a huge file is refused with a message instead of a hang.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import MechcllnError, fail

REQUIRED = object()          # default of a field that must be present
MAX_ITEMS = 10_000_000       # longest list any file may hold (nodes, edges, examples, rows)

_NUMBER = (int, float)


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, _NUMBER):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_number(v) -> bool:
    return isinstance(v, _NUMBER) and not isinstance(v, bool)


def _shape_of(value, ndim: int, name: str, source, max_len: int) -> tuple:
    """Shape of a rectangular nested list of numbers of ``ndim`` levels (checked level by level)."""
    if not isinstance(value, list):
        raise fail(source, name, f"must be a list, got {_kind(value)}", "write it as [...]")
    if len(value) > max_len:
        raise fail(source, name, f"{len(value)} entries exceed the limit of {max_len}", "give a smaller input")
    if ndim == 1:
        for i, v in enumerate(value):
            if not _is_number(v):
                raise fail(source, f"{name}[{i}]", f"must be a number, got {_kind(v)}", "give a number")
        return (len(value),)
    width = None
    for i, row in enumerate(value):
        if not isinstance(row, list):
            raise fail(source, f"{name}[{i}]", f"must be a list, got {_kind(row)}", "write each entry as [...]")
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise fail(source, f"{name}[{i}]", f"has {len(row)} values, the first entry {width}",
                       "give every entry the same number of values")
        for j, v in enumerate(row):
            if not _is_number(v):
                raise fail(source, f"{name}[{i}][{j}]", f"must be a number, got {_kind(v)}", "give a number")
    return (len(value), width or 0)


def _first_bad(mask: np.ndarray) -> str:
    idx = np.argwhere(mask)[0]
    return "".join(f"[{int(i)}]" for i in idx)


class Fields:
    """The fields of one object read from ``source`` (a file name); ``prefix`` names nested objects."""

    def __init__(self, data, source: str | None, prefix: str = ""):
        if not isinstance(data, dict):
            raise fail(source, prefix or "(top level)", f"must be an object, got {_kind(data)}",
                       "write it as {\"name\": value, ...}")
        self.data, self.source, self.prefix = data, source, prefix

    def name(self, key) -> str:
        return f"{self.prefix}.{key}" if self.prefix else str(key)

    def fail(self, key, problem: str, fix: str) -> MechcllnError:
        return fail(self.source, self.name(key), problem, fix)

    def known(self, keys) -> "Fields":
        """Reject fields not in ``keys`` (a misspelt optional field must not be silently ignored)."""
        unknown = sorted(set(self.data) - set(keys), key=str)
        if unknown:
            raise self.fail(unknown[0], "is not a known field", f"remove it or fix its spelling (known: "
                            f"{', '.join(keys)})")
        return self

    def _get(self, key, default, nullable):
        """(present, value): the raw value; the default for an absent field; None for a nullable null."""
        if key not in self.data:
            if default is REQUIRED:
                raise self.fail(key, "missing", f"add the '{key}' field")
            return False, default
        value = self.data[key]
        if value is None:
            if nullable:
                return False, None
            raise self.fail(key, "is null", "give a value" + ("" if default is REQUIRED else " or remove the field"))
        return True, value

    # -------------------------------------------------------------------------------------- scalars
    def number(self, key, default=REQUIRED, *, gt=None, ge=None, lt=None, le=None, nullable=False,
               unit: str = "") -> float | None:
        """A finite number within the given bounds."""
        present, v = self._get(key, default, nullable)
        if not present:
            return v
        if not _is_number(v):
            raise self.fail(key, f"must be a number, got {_kind(v)}", "give a number")
        try:
            v = float(v)
        except OverflowError:
            v = math.inf
        if not math.isfinite(v):
            raise self.fail(key, f"must be finite, got {v}", "give a finite number")
        self._bounds(key, np.array(v), gt, ge, lt, le, unit)
        return v

    def integer(self, key, default=REQUIRED, *, ge=None, le=None, choices=None, nullable=False) -> int | None:
        """An integer (an integral number) within the bounds or among ``choices``."""
        present, v = self._get(key, default, nullable)
        if not present:
            return v
        if not _is_number(v) or (isinstance(v, float) and not (math.isfinite(v) and v == int(v))):
            raise self.fail(key, f"must be an integer, got {v!r}", "give a whole number")
        v = int(v)
        if choices is not None and v not in choices:
            raise self.fail(key, f"must be one of {list(choices)}, got {v}", f"use one of {list(choices)}")
        self._bounds(key, np.array(float(v)), None, ge, None, le, "")
        return v

    def string(self, key, default=REQUIRED, *, choices=None, nullable=False) -> str | None:
        present, v = self._get(key, default, nullable)
        if not present:
            return v
        if not isinstance(v, str):
            raise self.fail(key, f"must be a string, got {_kind(v)}", "give a quoted string")
        if choices is not None and v not in choices:
            raise self.fail(key, f"is {v!r}, not one of {list(choices)}", f"use one of {list(choices)}")
        return v

    def boolean(self, key, default=REQUIRED) -> bool:
        present, v = self._get(key, default, False)
        if present and not isinstance(v, bool):
            raise self.fail(key, f"must be true or false, got {_kind(v)}", "give true or false")
        return v

    def obj(self, key, default=REQUIRED) -> "Fields":
        """A nested object (``default``: a dict used when the field is absent)."""
        present, v = self._get(key, default, False)
        if present and not isinstance(v, dict):
            raise self.fail(key, f"must be an object, got {_kind(v)}", "write it as {...}")
        return Fields(v, self.source, self.name(key))

    def objects(self, key, default=REQUIRED, *, min_len: int = 0) -> list["Fields"]:
        """A list of objects, each as :class:`Fields` named ``key[i]``."""
        present, v = self._get(key, default, False)
        if not isinstance(v, list):
            raise self.fail(key, f"must be a list, got {_kind(v)}", "write it as [{...}, ...]")
        if len(v) < min_len:
            raise self.fail(key, f"needs at least {min_len} entries, got {len(v)}", f"add entries to '{key}'")
        if len(v) > MAX_ITEMS:
            raise self.fail(key, f"{len(v)} entries exceed the limit of {MAX_ITEMS}", "split the input")
        return [Fields(item, self.source, f"{self.name(key)}[{i}]") for i, item in enumerate(v)]

    # -------------------------------------------------------------------------------------- arrays
    def array(self, key, default=REQUIRED, *, shape=(None,), gt=None, ge=None, lt=None, le=None,
              nullable=False, unit: str = "", max_len: int = MAX_ITEMS) -> np.ndarray | None:
        """A finite float array of ``shape`` (``None``: any length; a tuple: one of those lengths), at most
        ``max_len`` entries (checked before the entries are read)."""
        present, v = self._get(key, default, nullable)
        if not present:
            return v
        got = _shape_of(v, len(shape), self.name(key), self.source, max_len)
        for axis, (want, n) in enumerate(zip(shape, got)):
            ok = want is None or (n in want if isinstance(want, tuple) else n == want)
            if not ok and not (axis == 1 and got[0] == 0):
                want = " or ".join(map(str, want)) if isinstance(want, tuple) else want
                raise self.fail(key, f"expected {want} {'entries' if axis == 0 else 'values per entry'}, got {n}",
                                f"give {want} {'entries' if axis == 0 else 'values per entry'}")
        try:
            a = np.array(v, dtype=float).reshape(got)
        except OverflowError:
            raise self.fail(key, "holds an integer too large for a number", "give finite numbers") from None
        if not np.all(np.isfinite(a)):
            raise self.fail(f"{key}{_first_bad(~np.isfinite(a))}", "is NaN or infinite", "give finite numbers")
        self._bounds(key, a, gt, ge, lt, le, unit)
        return a

    def ids(self, key, n: int | None, default=REQUIRED, *, unique: bool = True, shape=(None,),
            what: str = "node", nullable=False, max_len: int = MAX_ITEMS) -> np.ndarray | None:
        """Integer ids in ``0..n-1`` (``n`` None: any non-negative id), distinct if ``unique`` (rows of a
        2-column shape count as unordered pairs)."""
        a = self.array(key, default, shape=shape, nullable=nullable, max_len=max_len)
        if a is None:
            return None
        if a.size and not np.array_equal(a, np.round(a)):
            raise self.fail(f"{key}{_first_bad(a != np.round(a))}", "must be an integer id", f"give {what} ids")
        hi = 2 ** 62 if n is None else n - 1          # (ids beyond int64, or inf, are out of range)
        bad = (a < 0) | (a > hi)
        if bad.any():
            where = _first_bad(bad)
            rng = f"0..{n - 1}" if n is not None else ">= 0"
            raise self.fail(f"{key}{where}", f"{what} id {a[tuple(np.argwhere(bad)[0])]:.0f} is out of range "
                            f"{rng}", f"use ids of existing {what}s")
        ids = a.astype(np.int64)
        if unique and ids.size:
            key_rows = np.sort(ids, axis=1) if ids.ndim == 2 else ids[:, None]
            _, first, counts = np.unique(key_rows, axis=0, return_index=True, return_counts=True)
            if (counts > 1).any():
                dup = key_rows[first[np.argmax(counts > 1)]].tolist()
                raise self.fail(key, f"{what} {dup if ids.ndim == 2 else dup[0]} is listed twice",
                                "list each once")
        return ids

    def _bounds(self, key, a: np.ndarray, gt, ge, lt, le, unit):
        unit = f" {unit}" if unit else ""
        for bound, bad, text in ((gt, lambda b: a <= b, "> {}"), (ge, lambda b: a < b, ">= {}"),
                                 (lt, lambda b: a >= b, "< {}"), (le, lambda b: a > b, "<= {}")):
            if bound is None:
                continue
            mask = bad(bound)
            if np.any(mask):
                where = _first_bad(mask) if a.ndim else ""
                val = a[tuple(np.argwhere(mask)[0])] if a.ndim else a
                raise self.fail(f"{key}{where}", f"must be {text.format(bound)}{unit}, got {float(val):g}",
                                f"give a value {text.format(bound)}{unit}")


def header(f: Fields, fmt: str, version: int, *, required: bool = False) -> int:
    """Check the ``format`` and ``version`` fields (absent: allowed for hand-written files unless
    ``required``); returns the version."""
    got = f.string("format", REQUIRED if required else fmt)
    if got != fmt:
        raise f.fail("format", f"is {got!r}, not a '{fmt}' file", f"give a file whose format is '{fmt}'")
    v = f.integer("version", REQUIRED if required else version, ge=1)
    if v > version:
        raise f.fail("version", f"{v} is newer than this mechclln reads ({version})", "upgrade mechclln")
    return v
