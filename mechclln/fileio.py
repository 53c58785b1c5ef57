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


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
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
    return write_text(path, json.dumps(_jsonable(data), indent=1) + "\n")


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


def read_data(path) -> dict:
    """Read a JSON (or, by extension, TOML) file into a dict, with one-line errors."""
    path = Path(path)
    if not path.exists():
        raise MechcllnError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise MechcllnError(f"{path}: is a folder, expected a JSON or TOML file; give the file's path")
    text = path.read_text(errors="replace")
    if path.suffix.lower() == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise MechcllnError(f"{path}: malformed TOML ({exc}); fix the syntax") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MechcllnError(
                f"{path}: malformed JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); fix the syntax"
            ) from None
    if not isinstance(data, dict):
        raise MechcllnError(f"{path}: top level must be an object with named fields; wrap the content in {{...}}")
    return data
