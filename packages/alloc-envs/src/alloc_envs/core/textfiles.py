"""Reading users' data files (CSV, optionally gzip-compressed) with errors that name the file.

:func:`open_text` and :func:`read_bytes` turn what goes wrong while reading into a
``ValueError`` that names the file and says what is wrong: a cut-off or corrupt ``.gz``, bytes
that are not UTF-8 (with the 1-based line and byte column of the first one), a malformed CSV
(a NUL byte, an unterminated quote), a folder or an unreadable file. ``FileNotFoundError``
passes through unchanged. A path ending in ``.gz`` is decompressed.
"""

from __future__ import annotations

import csv
import gzip
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, TextIO

PathLike = str | os.PathLike[str]


def _is_gzip(path: PathLike) -> bool:
    return os.fspath(path).lower().endswith(".gz")


def _open_binary(path: PathLike) -> BinaryIO:
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")  # type: ignore[return-value]


def undecodable_position(path: PathLike) -> tuple[int, int] | None:
    """(line, byte column), both 1-based, of the first byte of ``path`` that is not UTF-8;
    ``None`` if every line decodes (or the file cannot be re-read)."""
    try:
        with _open_binary(path) as fh:
            for number, raw in enumerate(fh, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return number, exc.start + 1
    except (OSError, EOFError, zlib.error):
        return None
    return None


def _as_value_error(path: PathLike, exc: BaseException) -> ValueError:
    """The ``ValueError`` (naming ``path``) for an error raised while reading it."""
    if isinstance(exc, UnicodeDecodeError):
        where = undecodable_position(path)
        at = "" if where is None else f", line {where[0]}, byte column {where[1]}"
        return ValueError(f"{path}{at}: bytes that are not UTF-8 text; save the file as UTF-8")
    if isinstance(exc, (EOFError, gzip.BadGzipFile, zlib.error)):
        return ValueError(f"{path}: a cut-off or corrupt gzip file ({exc or 'ends early'})")
    if isinstance(exc, csv.Error):
        return ValueError(f"{path}: malformed CSV ({exc})")
    return ValueError(f"{path}: cannot be read ({type(exc).__name__}: {exc})")


_READ_ERRORS = (UnicodeDecodeError, EOFError, gzip.BadGzipFile, zlib.error, csv.Error, OSError)


@contextmanager
def open_text(path: PathLike) -> Iterator[TextIO]:
    """``path`` opened as UTF-8 text for the ``csv`` module (``newline=""``; a byte-order mark is
    skipped); errors while opening or reading it inside the block become the ``ValueError`` of
    the module doc."""
    try:
        if _is_gzip(path):
            fh: TextIO = gzip.open(path, "rt", newline="", encoding="utf-8-sig")
        else:
            fh = open(path, newline="", encoding="utf-8-sig")
        with fh:
            yield fh
    except FileNotFoundError:
        raise
    except _READ_ERRORS as exc:
        raise _as_value_error(path, exc) from None


def read_bytes(path: PathLike) -> bytes:
    """The content of ``path`` (decompressed for ``.gz``), or the ``ValueError`` of the module
    doc."""
    try:
        with _open_binary(path) as fh:
            return fh.read()
    except FileNotFoundError:
        raise
    except _READ_ERRORS as exc:
        raise _as_value_error(path, exc) from None
