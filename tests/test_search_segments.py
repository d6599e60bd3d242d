"""The rebuild's segment writer writes the files Whoosh's own writer would, byte for byte."""
from __future__ import annotations

import random

import pytest
from whoosh import index as whoosh_index
from whoosh.filedb.compound import CompoundStorage
from whoosh.writing import SegmentWriter

from panel_tracker.search.index import _codec
from panel_tracker.search.schema import LEVELS, get_schema
from panel_tracker.search.segments import Part, SegmentBuilder


def _documents(count: int) -> list[dict]:
    """Documents shaped like ours: common terms (posting lists of several blocks, of one
    block, kept in the term's entry), rare ones, a numeric field, columns, stored data."""
    rng = random.Random(3)
    docs = []
    for n in range(count):
        doc = {"id": f"item:{n + 1}", "doctype": "item", "item_ref": f"YEM-{n:05d}".encode(),
               "item_no": n + 1, "case_no": n // 7, "code_text": f"serial\tAK{n}\tАК {n}".encode(),
               "vis": rng.choice(LEVELS), "deleted": "1" if n % 97 == 0 else "0",
               "category": rng.choice(["small_arm", "ammunition"]),
               "country": sorted({rng.choice(["IRN", "RUS", "CHN"]) for _ in range(2)}),
               "legibility": "intact", "case": f"YEM2024{n // 7:03d}",
               "codes": [f"f:AK{n}", f"k:AK{n}".replace("1", "7")],
               "frag": sorted({f"f:{n:06d}"[i:i + 4] for i in range(2, 5)}),
               "words": ["AK", f"W{rng.randrange(40)}", f"R{n}"] + (["7.62"] if n % 3 else []),
               f"words_{LEVELS[-1]}": [f"N{rng.randrange(200)}"],
               "data": {"item_id": n + 1, "values": [["serial", f"АК {n}", None, True]], "sig": "x" * 40}}
        if n % 5:
            doc["recovered"] = 20240101 + n % 28
        if n % 11 == 0:
            doc["dels"] = []
        docs.append(doc)
    return docs


def _segment_files(ix, segment) -> dict[str, bytes]:
    """The files inside a segment's compound file (its order of them follows the
    directory's listing, which differs from folder to folder)."""
    handle = ix.storage.open_file(segment.make_filename(".seg"))
    compound = CompoundStorage(handle)
    try:
        return {name: compound.open_file(name).read() for name in compound.list()}
    finally:
        compound.close()


@pytest.mark.parametrize("count", [1, 63, 64, 129, 700])
def test_segment_builder_writes_what_whoosh_writes(tmp_path, count):
    docs = _documents(count)
    ours_dir, whoosh_dir = tmp_path / "ours", tmp_path / "whoosh"
    ours_dir.mkdir()
    whoosh_dir.mkdir()
    ours_ix = whoosh_index.create_in(str(ours_dir), get_schema())
    whoosh_ix = whoosh_index.create_in(str(whoosh_dir), get_schema())

    writer = SegmentWriter(whoosh_ix, codec=_codec())
    for doc in docs:
        writer.add_document(**doc)
    expected = writer._finalize_segment()
    writer.cancel()

    builder = SegmentBuilder(ours_ix, _codec())
    builder.segment.segid = expected.segid  # the files name their segment inside the compound file
    for doc in docs:
        builder.add(doc)
    segment = builder.finish()

    assert segment.doc_count_all() == expected.doc_count_all() == count
    ours, whoosh = _segment_files(ours_ix, segment), _segment_files(whoosh_ix, expected)
    assert sorted(ours) == sorted(whoosh)
    assert any(name.endswith(".trm") for name in ours)
    for name, data in whoosh.items():
        assert ours[name] == data, name


@pytest.mark.parametrize("cuts", [(1,), (64, 65), (200, 450), (0, 300, 301)])
def test_parts_made_elsewhere_are_written_as_if_added_one_by_one(tmp_path, cuts):
    """A rebuild's worker processes make their documents into a :class:`Part`, pickled
    back and added after the documents before it (:meth:`SegmentBuilder.add_part`): the
    segment's files are the same, byte for byte, as when every document is added here,
    whatever the cuts (terms in one part or several, lists kept in the term's entry or
    in blocks across the cut)."""
    import pickle

    docs = _documents(700)
    segments = []
    for directory, parts in (("whole", False), ("parts", True)):
        (tmp_path / directory).mkdir()
        ix = whoosh_index.create_in(str(tmp_path / directory), get_schema())
        builder = SegmentBuilder(ix, _codec())
        if segments:
            builder.segment.segid = segments[0][1].segid
        if not parts:
            for doc in docs:
                builder.add(doc)
        else:
            bounds = [0, *cuts, len(docs)]
            for doc in docs[:cuts[0]]:
                builder.add(doc)
            for start, end in zip(bounds[1:], bounds[2:]):
                part = Part(get_schema())
                for doc in docs[start:end]:
                    part.add(doc)
                assert len(part) == end - start
                # from a worker process (pickled), or made here
                builder.add_part(pickle.loads(pickle.dumps(part)) if start % 2 else part)
        segments.append((ix, builder.finish()))
    (whole_ix, whole), (parts_ix, in_parts) = segments
    assert in_parts.doc_count_all() == whole.doc_count_all() == len(docs)
    expected, found = _segment_files(whole_ix, whole), _segment_files(parts_ix, in_parts)
    assert sorted(found) == sorted(expected)
    for name, data in expected.items():
        assert found[name] == data, name


@pytest.mark.parametrize("mmap", [True, False])
def test_a_term_is_found_in_a_segment_as_whooshs_table_holds_it(tmp_path, mmap):
    """The query side's own probe of a segment's term table (``_term_finder``) gives each
    term's entry as Whoosh's hash table does, from the memory map or, without one, from
    the file read by slices; an absent term gives None."""
    import struct

    from whoosh.filedb.filestore import FileStorage

    from panel_tracker.search.index import _term_finder

    whoosh_index.create_in(str(tmp_path), get_schema())
    ix = FileStorage(str(tmp_path), supports_mmap=mmap).open_index()
    writer = ix.writer()
    for doc in _documents(300):
        writer.add_document(**doc)
    writer.commit()
    with ix.reader() as reader:
        terms = reader._terms
        assert (getattr(terms._tindex.dbfile, "_buf", None) is not None) is mmap
        find = _term_finder(terms)
        checked = 0
        for fieldname in ("codes", "frag", "words", "case", "category"):
            number = struct.pack("!H", terms._fieldmap[fieldname])
            for term in reader.lexicon(fieldname):
                assert find(fieldname, term) == terms._tindex[number + term]
                checked += 1
            assert find(fieldname, b"absent-term") is None
        assert checked > 300
        assert find("no-such-field", b"AK1") is None
