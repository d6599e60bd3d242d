"""The evidence store keeps originals byte-for-byte, under their SHA-256, inside its root."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
from pathlib import Path

import pytest

from panel_tracker.evidence.storage import (
    CHUNK_SIZE,
    DERIVATIVE_SIZES,
    InvalidKey,
    PhotoStore,
    StoreCorrupted,
    TooLarge,
    UnsafePath,
)

PHOTO = b"\xff\xd8\xff\xe0 not really a JPEG, but evidence bytes all the same \xff\xd9"
PHOTO_SHA = hashlib.sha256(PHOTO).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> PhotoStore:
    return PhotoStore(tmp_path / "photos")


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


class TrickleStream:
    """A file object that hands back a few bytes per read, like a slow upload."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(self._step, size if size > 0 else self._step))


# -- receiving originals -----------------------------------------------------------------


def test_same_photo_received_twice_is_stored_once_under_its_sha256(store: PhotoStore) -> None:
    first = store.put_original("YEM", PHOTO)
    second = store.put_original("YEM", io.BytesIO(PHOTO))

    assert first.sha256 == second.sha256 == PHOTO_SHA
    assert (first.created, second.created) == (True, False)
    assert first.path == second.path
    assert first.size == second.size == len(PHOTO)
    assert files_under(store.originals_dir) == [first.path]


def test_original_is_kept_byte_for_byte_and_read_only(store: PhotoStore) -> None:
    upload = os.urandom(3 * CHUNK_SIZE + 12345)  # several chunks, odd length
    stored = store.put_original("LBY", TrickleStream(upload, 100_000))

    assert stored.path.read_bytes() == upload
    with store.open_original("LBY", stored.sha256) as f:
        assert f.read() == upload
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o444
    assert stored.sha256 == hashlib.sha256(upload).hexdigest()


def test_original_is_filed_by_panel_and_hash_never_by_the_senders_file_name(
    store: PhotoStore,
) -> None:
    stored = store.put_original("SDN", PHOTO)

    sha = PHOTO_SHA
    assert stored.path == store.root / "originals" / "SDN" / sha[:2] / sha[2:4] / sha
    assert store.original_path("SDN", sha) == stored.path
    assert store.exists("SDN", sha)


def test_same_bytes_sent_to_two_panels_are_kept_apart(store: PhotoStore) -> None:
    yemen = store.put_original("YEM", PHOTO)
    libya = store.put_original("LBY", PHOTO)

    assert yemen.created and libya.created
    assert yemen.path != libya.path
    assert not store.exists("SDN", PHOTO_SHA)


def test_two_people_uploading_the_same_photo_at_once_store_it_once(store: PhotoStore) -> None:
    upload = os.urandom(2 * CHUNK_SIZE)
    results = []
    barrier = threading.Barrier(4)

    def receive() -> None:
        barrier.wait()
        results.append(store.put_original("YEM", upload))

    threads = [threading.Thread(target=receive) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.created for r in results) == [False, False, False, True]
    assert files_under(store.originals_dir)[0].read_bytes() == upload
    assert files_under(store.tmp_dir) == []


def test_upload_over_the_size_limit_is_refused_and_leaves_nothing(store: PhotoStore) -> None:
    with pytest.raises(TooLarge, match="larger than the limit of 1,000 bytes"):
        store.put_original("YEM", os.urandom(1001), max_bytes=1000)

    assert files_under(store.root) == []
    assert store.put_original("YEM", os.urandom(1000), max_bytes=1000).created


def test_file_refused_by_the_check_never_enters_the_store(store: PhotoStore) -> None:
    seen = {}

    def refuse(tmp_path: Path, sha: str) -> None:
        seen["bytes"], seen["sha"] = tmp_path.read_bytes(), sha
        raise ValueError("not a photo")

    with pytest.raises(ValueError, match="not a photo"):
        store.put_original("YEM", PHOTO, check=refuse)

    assert seen == {"bytes": PHOTO, "sha": PHOTO_SHA}  # the check saw the whole file
    assert files_under(store.root) == []
    assert not store.exists("YEM", PHOTO_SHA)


# -- paths stay inside the root ----------------------------------------------------------

EVIL_PANEL_CODES = [
    "../x", "YEM/../../etc", "..", "/etc", "yem", "Y", "TOOLONG", "YEM\n", "", "YE M",
    "YEM/", "ЕМУ", None,
]
EVIL_SHAS = [
    "../" + "a" * 61,
    "a" * 63,
    "a" * 65,
    "A" * 64,
    "a" * 64 + "\n",
    "g" * 64,
    "/" + "a" * 63,
    "a" * 32 + "/../" + "a" * 28,
    "",
    None,
]


@pytest.mark.parametrize("panel_code", EVIL_PANEL_CODES)
def test_panel_code_that_could_escape_the_store_is_refused(
    store: PhotoStore, panel_code: str
) -> None:
    with pytest.raises(InvalidKey):
        store.original_path(panel_code, PHOTO_SHA)
    with pytest.raises(InvalidKey):
        store.derivative_path(panel_code, PHOTO_SHA, "thumb")
    with pytest.raises(InvalidKey):
        store.put_original(panel_code, PHOTO)
    with pytest.raises(InvalidKey):
        store.purge_original(panel_code, PHOTO_SHA)
    assert files_under(store.root) == []


@pytest.mark.parametrize("sha", EVIL_SHAS)
def test_hash_that_could_escape_the_store_is_refused(store: PhotoStore, sha: str) -> None:
    for call in (
        lambda: store.original_path("YEM", sha),
        lambda: store.exists("YEM", sha),
        lambda: store.verify("YEM", sha),
        lambda: store.open_original("YEM", sha),
        lambda: store.purge_original("YEM", sha),
        lambda: store.derivative_path("YEM", sha, "large"),
        lambda: store.write_derivative("YEM", sha, "large", b"jpeg"),
    ):
        with pytest.raises(InvalidKey):
            call()


@pytest.mark.parametrize("size_name", ["../large", "original", "", "LARGE", "thumb/.."])
def test_unknown_derivative_size_is_refused(store: PhotoStore, size_name: str) -> None:
    with pytest.raises(InvalidKey):
        store.derivative_path("YEM", PHOTO_SHA, size_name)


def test_symlink_planted_in_the_store_cannot_lead_outside_it(
    store: PhotoStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.originals_dir / "YEM").symlink_to(outside, target_is_directory=True)

    with pytest.raises(UnsafePath):
        store.original_path("YEM", PHOTO_SHA)
    with pytest.raises(UnsafePath):
        store.put_original("YEM", PHOTO)
    assert list(outside.rglob("*")) == []
    assert files_under(store.tmp_dir) == []


# -- checking and destroying originals ---------------------------------------------------


def test_verify_finds_an_altered_original_and_a_missing_one(store: PhotoStore) -> None:
    intact = store.put_original("YEM", PHOTO)
    altered = store.put_original("YEM", PHOTO + b"second photo")

    os.chmod(altered.path, 0o644)
    with open(altered.path, "r+b") as f:
        f.seek(3)
        f.write(b"X")
    missing_sha = hashlib.sha256(b"never received").hexdigest()

    assert store.verify("YEM", intact.sha256) is True
    assert store.verify("YEM", altered.sha256) is False
    assert store.verify("YEM", missing_sha) is None


def test_altered_original_is_reported_not_overwritten_when_received_again(
    store: PhotoStore,
) -> None:
    stored = store.put_original("YEM", PHOTO)
    os.chmod(stored.path, 0o644)
    stored.path.write_bytes(b"tampered")

    with pytest.raises(StoreCorrupted, match="corrupted") as raised:
        store.put_original("YEM", PHOTO)

    assert raised.value.expected == PHOTO_SHA
    assert raised.value.actual == hashlib.sha256(b"tampered").hexdigest()
    assert stored.path.read_bytes() == b"tampered"  # the evidence of tampering is kept
    assert files_under(store.tmp_dir) == []


def test_full_rehash_walks_every_original_of_every_panel(store: PhotoStore) -> None:
    expected = {
        ("YEM", store.put_original("YEM", PHOTO).sha256),
        ("YEM", store.put_original("YEM", b"second").sha256),
        ("LBY", store.put_original("LBY", PHOTO).sha256),
    }
    (store.originals_dir / "YEM" / "stray.txt").write_text("not evidence")
    (store.originals_dir / "lower").mkdir()

    found = list(store.iter_originals())

    assert {(code, sha) for code, sha, _ in found} == expected
    assert all(path == store.original_path(code, sha) for code, sha, path in found)
    assert all(store.verify(code, sha) for code, sha, _ in found)


def test_purge_overwrites_the_bytes_and_removes_original_and_derivatives(
    store: PhotoStore, tmp_path: Path
) -> None:
    stored = store.put_original("YEM", PHOTO)
    for size_name in DERIVATIVE_SIZES:
        store.write_derivative("YEM", stored.sha256, size_name, b"derived jpeg")
    # A second name for the same inode shows what became of the bytes on disk.
    witness = store.root / "witness"
    os.link(stored.path, witness)

    assert store.purge_original("YEM", stored.sha256) is True

    assert witness.read_bytes() == bytes(len(PHOTO))
    assert not store.exists("YEM", stored.sha256)
    assert store.verify("YEM", stored.sha256) is None
    for size_name in DERIVATIVE_SIZES:
        assert not store.derivative_path("YEM", stored.sha256, size_name).exists()
    assert store.purge_original("YEM", stored.sha256) is False


def test_purge_of_derivatives_alone_reports_removal(store: PhotoStore) -> None:
    store.write_derivative("YEM", PHOTO_SHA, "thumb", b"orphan thumbnail")

    assert store.purge_original("YEM", PHOTO_SHA) is True
    assert files_under(store.derivatives_dir) == []


# -- derivatives -------------------------------------------------------------------------


def test_derivatives_are_filed_by_panel_size_and_hash(store: PhotoStore) -> None:
    path = store.derivative_path("CAF", PHOTO_SHA, "thumb")

    assert path == store.root / "derivatives" / "CAF" / "thumb" / PHOTO_SHA[:2] / f"{PHOTO_SHA}.jpg"
    assert store.derivative_outputs("CAF", PHOTO_SHA) == {
        "large": (1600, store.derivative_path("CAF", PHOTO_SHA, "large")),
        "thumb": (400, path),
    }


def test_derivative_is_written_whole_or_not_at_all(store: PhotoStore) -> None:
    written = store.write_derivative("YEM", PHOTO_SHA, "large", b"first version")
    assert written.read_bytes() == b"first version"

    def fail_halfway(f) -> None:
        f.write(b"half a ")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.write_derivative("YEM", PHOTO_SHA, "large", fail_halfway)

    assert written.read_bytes() == b"first version"
    assert files_under(written.parent) == [written]  # no temporary file left behind
    store.write_derivative("YEM", PHOTO_SHA, "large", lambda f: f.write(b"rebuilt"))
    assert written.read_bytes() == b"rebuilt"


def test_verifying_a_large_original_reads_it_in_chunks_not_whole(store: PhotoStore) -> None:
    import tracemalloc

    size = 64 * 1024 * 1024  # a large file, sparse on disk: verify must not hold it in memory
    digest = hashlib.sha256()
    zeros = bytes(8 * 1024 * 1024)
    for _ in range(size // len(zeros)):
        digest.update(zeros)
    sha = digest.hexdigest()
    path = store.original_path("YEM", sha)
    path.parent.mkdir(parents=True)
    with open(path, "wb") as f:
        f.truncate(size)
    tracemalloc.start()
    try:
        assert store.verify("YEM", sha) is True
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024
