"""Atomic writes and safe reads of user data files (JSON/TOML/NPZ only, never pickle)."""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import MechcllnError


def _tmp_beside(path: Path, suffix: str = "") -> Path:
    """An empty temporary file next to ``path``, readable by others like an ordinary file (0644)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    os.fchmod(fd, 0o644)
    os.close(fd)
    return Path(name)


def write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_beside(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path, text: str) -> Path:
    """Text counterpart of :func:`write_bytes` (UTF-8)."""
    return write_bytes(path, text.encode())


def jsonable(obj):
    """``obj`` with numpy arrays and scalars as Python lists and numbers, dict keys as strings and
    non-finite floats as None (JSON's null)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def write_json(path, data) -> Path:
    """Atomic JSON write; numpy arrays become lists, non-finite floats become null."""
    return write_text(path, json.dumps(jsonable(data), indent=1) + "\n")


def write_npz(path, **arrays) -> Path:
    """Atomic ``np.savez`` (plain arrays only, loadable with ``allow_pickle=False``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_beside(path, ".npz")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_npz(path) -> dict:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise MechcllnError(f"{path}: file not found; check the path") from None
    except (ValueError, OSError) as exc:
        raise MechcllnError(f"{path}: not a readable NPZ file ({exc}); regenerate it") from None


MAX_FILE_BYTES = 1 << 30     # 1 GiB: larger than any network this package can train in memory


def read_text(path, what: str = "a JSON or TOML file") -> str:
    """The UTF-8 text of a user file, with one-line errors for a missing file, a folder, a file over
    :data:`MAX_FILE_BYTES` or bytes that are not UTF-8."""
    path = Path(path)
    if not path.exists():
        raise MechcllnError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise MechcllnError(f"{path}: is a folder, expected {what}; give the file's path")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise MechcllnError(f"{path}: {size / 2**20:.0f} MiB is over the {MAX_FILE_BYTES >> 20} MiB limit for "
                            "input files; give a smaller file")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MechcllnError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8") from None
    except OSError as exc:
        raise MechcllnError(f"{path}: cannot be read ({exc.strerror}); check the file") from None


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs):
    data = dict(pairs)
    if len(data) != len(pairs):
        seen = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return data


def read_data(path) -> dict:
    """Read a JSON (or, by extension, TOML) file into a dict, with one-line errors (duplicate keys,
    nesting too deep for the parser and numbers too long to parse included)."""
    path = Path(path)
    text = read_text(path)
    if path.suffix.lower() == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise MechcllnError(f"{path}: malformed TOML ({exc}); fix the syntax") from None
        except RecursionError:
            raise MechcllnError(f"{path}: nested too deeply to parse; fix the content") from None
    else:
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            raise MechcllnError(
                f"{path}: malformed JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); fix the syntax"
            ) from None
        except _DuplicateKey as exc:
            raise MechcllnError(f"{path}: field '{exc.args[0]}': appears twice in one object; keep one") from None
        except RecursionError:
            raise MechcllnError(f"{path}: nested too deeply to parse; fix the content") from None
        except ValueError as exc:      # e.g. an integer literal over Python's digit limit
            raise MechcllnError(f"{path}: unreadable JSON ({exc}); fix the content") from None
    if not isinstance(data, dict):
        raise MechcllnError(f"{path}: top level must be an object with named fields; wrap the content in {{...}}")
    return data


def refuse_existing(path, force: bool) -> None:
    """Before any work: refuse to replace an existing file or non-empty folder ``path`` unless ``force``."""
    path = Path(path)
    if not force and (path.is_file() or path.is_dir() and any(path.iterdir())):
        raise MechcllnError(f"{path}: exists; pass --force to replace it or choose another output")
