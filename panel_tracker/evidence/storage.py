"""Content-addressed store for original evidence files and their derivatives.

An original is evidence: it is kept byte-for-byte, named by its SHA-256 and never
overwritten. Layout under ``root``::

    originals/<panel_code>/<sha[:2]>/<sha[2:4]>/<sha>         read-only (0o444)
    derivatives/<panel_code>/<size_name>/<sha[:2]>/<sha>.jpg  rebuildable from originals
    tmp/                                                      uploads being written

Paths are built only from a validated panel code, a validated SHA-256 and a known size
name -- never from a name a user gave a file -- and every path is resolved and checked
to stay inside ``root`` (a symlink planted under ``root`` cannot lead outside it).

Pure Python: no Flask, no database. The service that records a photo calls
:meth:`PhotoStore.put_original` and writes the audit record; deleting evidence is a
recorded event, and :meth:`PhotoStore.purge_original` is only its last step.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = [
    "DERIVATIVE_SIZES",
    "InvalidKey",
    "PhotoStore",
    "StoreCorrupted",
    "StoreError",
    "StoredFile",
    "TooLarge",
    "UnsafePath",
    "atomic_write",
]

#: Long edge in pixels of each derivative. Derivatives are what pages and annexes show.
DERIVATIVE_SIZES: dict[str, int] = {"large": 1600, "thumb": 400}

CHUNK_SIZE = 1024 * 1024
ORIGINAL_MODE = 0o444
DIRECTORY_MODE = 0o750

_PANEL_CODE = re.compile(r"[A-Z]{2,6}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class StoreError(Exception):
    """Base class of the errors raised by :class:`PhotoStore`."""


class InvalidKey(StoreError, ValueError):
    """A panel code, SHA-256 or size name that is not well formed."""


class UnsafePath(StoreError):
    """A computed path resolved to somewhere outside the store's root."""


class TooLarge(StoreError):
    """An upload is larger than the limit the caller set."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        super().__init__(f"The file is larger than the limit of {max_bytes:,} bytes.")


class StoreCorrupted(StoreError):
    """A stored original no longer has the SHA-256 it is filed under."""

    def __init__(self, path: Path, expected: str, actual: str) -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"Stored original {path} is corrupted: it is filed under SHA-256 {expected} "
            f"but its bytes hash to {actual}. Restore it from backup; nothing was overwritten."
        )


@dataclass(frozen=True, slots=True)
class StoredFile:
    sha256: str
    size: int
    path: Path
    #: False when the same bytes were already stored (a second receipt of the same file).
    created: bool


def validate_panel_code(panel_code: str) -> str:
    if not isinstance(panel_code, str) or not _PANEL_CODE.fullmatch(panel_code):
        raise InvalidKey(f"Panel code must be 2 to 6 capital letters, not {panel_code!r}.")
    return panel_code


def validate_sha256(sha: str) -> str:
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise InvalidKey(f"SHA-256 must be 64 lowercase hexadecimal digits, not {sha!r}.")
    return sha


def validate_size_name(size_name: str) -> str:
    if size_name not in DERIVATIVE_SIZES:
        known = ", ".join(DERIVATIVE_SIZES)
        raise InvalidKey(f"Unknown derivative size {size_name!r}; known sizes: {known}.")
    return size_name


@contextlib.contextmanager
def atomic_write(path: Path, *, fsync: bool = False, mode: int = 0o640) -> Iterator[IO[bytes]]:
    """Write ``path`` all at once or not at all.

    Yields a binary file in the same directory; on success it is renamed over ``path``
    (readers see the old file or the new one, never half of one); on error it is removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as tmp:
            yield tmp
            tmp.flush()
            os.fchmod(tmp.fileno(), mode)
            if fsync:
                os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def destroy_file(path: Path) -> bool:
    """Overwrite ``path`` with zeros, fsync, then unlink it (and fsync its folder), so its
    bytes do not linger in the file's blocks; False if there was no such file. (On SSDs and
    copy-on-write or snapshotting filesystems the old blocks may survive elsewhere:
    encrypted volumes and backup retention are what really end a deletion.)"""
    if not path.is_file() or path.is_symlink():
        return False
    os.chmod(path, 0o600)
    size = path.stat().st_size
    zeros = bytes(CHUNK_SIZE)
    with open(path, "r+b") as f:
        remaining = size
        while remaining > 0:
            remaining -= f.write(zeros[: min(CHUNK_SIZE, remaining)])
        f.flush()
        os.fsync(f.fileno())
    path.unlink()
    _fsync_directory(path.parent)
    return True


def _chunks(stream: IO[bytes]) -> Iterator[bytes | memoryview]:
    """The stream's bytes in chunks, into one reused buffer when it supports readinto."""
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        while chunk := stream.read(CHUNK_SIZE):
            yield chunk
        return
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    while count := readinto(buffer):
        yield view[:count]


class _BackgroundFsync:
    """``os.fsync(fd)`` on another thread for the duration of a ``with`` block; leaving
    the block waits for it and re-raises its error (after any error of the block)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="fsync", daemon=True)

    def _run(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self._error = exc

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(self, *exc_info: object) -> None:
        self._thread.join()
        if self._error is not None and exc_info[0] is None:
            raise self._error


def _sha256_of_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class PhotoStore:
    """Originals and derivatives of evidence photos under one root directory."""

    def __init__(self, root: Path | str) -> None:
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
        self.root = root.resolve()
        self.originals_dir = self.root / "originals"
        self.derivatives_dir = self.root / "derivatives"
        self.tmp_dir = self.root / "tmp"
        for directory in (self.originals_dir, self.derivatives_dir, self.tmp_dir):
            directory.mkdir(exist_ok=True, mode=DIRECTORY_MODE)

    def __repr__(self) -> str:
        return f"PhotoStore({str(self.root)!r})"

    # -- paths ------------------------------------------------------------------------

    def _inside_root(self, path: Path) -> Path:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise UnsafePath(f"Refusing a path outside the photo store: {path}")
        return path

    def original_path(self, panel_code: str, sha: str) -> Path:
        validate_panel_code(panel_code)
        validate_sha256(sha)
        return self._inside_root(self.originals_dir / panel_code / sha[:2] / sha[2:4] / sha)

    def derivative_path(self, panel_code: str, sha: str, size_name: str) -> Path:
        validate_panel_code(panel_code)
        validate_sha256(sha)
        validate_size_name(size_name)
        return self._inside_root(
            self.derivatives_dir / panel_code / size_name / sha[:2] / f"{sha}.jpg"
        )

    def derivative_outputs(self, panel_code: str, sha: str) -> dict[str, tuple[int, Path]]:
        """``{size_name: (long_edge, path)}`` for every derivative, the shape that
        :func:`panel_tracker.evidence.images.make_derivatives` takes."""
        return {
            size_name: (long_edge, self.derivative_path(panel_code, sha, size_name))
            for size_name, long_edge in DERIVATIVE_SIZES.items()
        }

    # -- originals --------------------------------------------------------------------

    def put_original(
        self,
        panel_code: str,
        data: bytes | bytearray | memoryview | IO[bytes],
        *,
        max_bytes: int | None = None,
        check: Callable[[Path, str], Any] | None = None,
    ) -> StoredFile:
        """Store an upload under its SHA-256; never overwrite an original.

        ``data`` is bytes or a binary stream, read in chunks into a temporary file in
        ``root/tmp`` (same filesystem) while it is hashed, then fsynced and linked into
        place only if no file has that name yet -- ``os.link`` fails rather than replace,
        so two uploads of the same bytes at once cannot clobber each other. If the
        original already exists its bytes are re-hashed: a mismatch raises
        :class:`StoreCorrupted`.

        ``check(tmp_path, sha256)``, if given, runs on the complete temporary file before
        it is moved into place; if it raises, nothing is stored and the error propagates.
        Use it to refuse files that are not acceptable images, so they never enter the
        evidence store.

        Raises :class:`TooLarge` as soon as more than ``max_bytes`` have been read.
        """
        validate_panel_code(panel_code)
        stream: IO[bytes] = (
            io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
        )
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp_dir, prefix="upload-")
        tmp_path = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as tmp:
                for chunk in _chunks(stream):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise TooLarge(max_bytes)
                    digest.update(chunk)
                    tmp.write(chunk)
                tmp.flush()
                os.fchmod(tmp.fileno(), ORIGINAL_MODE)
                sha = digest.hexdigest()
                final = self.original_path(panel_code, sha)
                # The bytes reach the disk while the check decodes them; both must be
                # done before the original is linked into place.
                with _BackgroundFsync(tmp.fileno()):
                    if check is not None:
                        check(tmp_path, sha)
            final.parent.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
            self._inside_root(final.parent)
            try:
                os.link(tmp_path, final)
            except FileExistsError:
                actual = _sha256_of_file(final)
                if actual != sha:
                    raise StoreCorrupted(final, sha, actual) from None
                return StoredFile(sha256=sha, size=size, path=final, created=False)
            _fsync_directory(final.parent)
            return StoredFile(sha256=sha, size=size, path=final, created=True)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()

    def open_original(self, panel_code: str, sha: str) -> IO[bytes]:
        """The original's bytes, opened for reading. Raises FileNotFoundError if absent."""
        return open(self.original_path(panel_code, sha), "rb")

    def exists(self, panel_code: str, sha: str) -> bool:
        return self.original_path(panel_code, sha).is_file()

    def verify(self, panel_code: str, sha: str) -> bool | None:
        """True if the original still hashes to ``sha``, False if altered, None if missing."""
        path = self.original_path(panel_code, sha)
        try:
            return _sha256_of_file(path) == sha
        except FileNotFoundError:
            return None

    def iter_originals(self) -> Iterator[tuple[str, str, Path]]:
        """Every stored original as ``(panel_code, sha, path)``, for a full re-hash.

        Files that do not fit the layout (stray names, temporary files) are skipped.
        """
        for panel_dir in sorted(self.originals_dir.iterdir()):
            if not (panel_dir.is_dir() and _PANEL_CODE.fullmatch(panel_dir.name)):
                continue
            for path in sorted(panel_dir.glob("??/??/*")):
                sha = path.name
                if (
                    _SHA256.fullmatch(sha)
                    and path.parent.parent.name == sha[:2]
                    and path.parent.name == sha[2:4]
                    and path.is_file()
                    and not path.is_symlink()
                ):
                    yield panel_dir.name, sha, self._inside_root(path)

    def iter_tmp(self) -> Iterator[Path]:
        """Files in ``tmp/``: uploads being written, or left by a process that was killed."""
        for path in sorted(self.tmp_dir.iterdir()):
            if path.is_file() and not path.is_symlink():
                yield path

    def iter_derivatives(self) -> Iterator[tuple[str, str | None, Path]]:
        """Every file under ``derivatives/`` as ``(panel_code, sha or None, path)``; sha is
        None for a file that is not a finished derivative (e.g. an interrupted write)."""
        for panel_dir in sorted(self.derivatives_dir.iterdir()):
            if not (panel_dir.is_dir() and _PANEL_CODE.fullmatch(panel_dir.name)):
                continue
            for path in sorted(panel_dir.glob("*/??/*")):
                if not path.is_file() or path.is_symlink():
                    continue
                sha = path.name.removesuffix(".jpg")
                well_formed = (path.parent.parent.name in DERIVATIVE_SIZES and _SHA256.fullmatch(sha)
                               and path.parent.name == sha[:2] and path.suffix == ".jpg")
                yield panel_dir.name, sha if well_formed else None, self._inside_root(path)

    def purge_original(self, panel_code: str, sha: str) -> bool:
        """Destroy an original and its derivatives; True if anything was removed.

        The original is overwritten with zeros and fsynced before it is unlinked
        (:func:`destroy_file`). The caller records the deletion as an event first.
        """
        removed = destroy_file(self.original_path(panel_code, sha))
        for size_name in DERIVATIVE_SIZES:
            derivative = self.derivative_path(panel_code, sha, size_name)
            with contextlib.suppress(FileNotFoundError):
                derivative.unlink()
                removed = True
        # Print derivatives of report annexes (panel_tracker.annexes.images): print/<panel>/<sha[:2]>/<sha>-*.jpg
        for printed in self._inside_root(self.root / "print" / panel_code / sha[:2]).glob(f"{sha}-*.jpg"):
            with contextlib.suppress(FileNotFoundError):
                printed.unlink()
                removed = True
        return removed

    # -- derivatives ------------------------------------------------------------------

    def write_derivative(
        self,
        panel_code: str,
        sha: str,
        size_name: str,
        data: bytes | Callable[[IO[bytes]], None],
    ) -> Path:
        """Atomically write a derivative: ``data`` is the JPEG's bytes or a function
        that writes them to the file it is given."""
        path = self.derivative_path(panel_code, sha, size_name)
        with atomic_write(path) as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
        return path
