"""Writing a whole segment of a panel's index at once, for a rebuild.

Whoosh's ``SegmentWriter`` sends every posting through a sorting pool and then through a
generic writer, a dozen Python calls a posting (a million postings at 20,000 items), and
looks up a field length for each although ours have none. Every term field of our schema
holds bare terms (the ``Existence`` format: no weight, position or value), so a segment
can be written from each term's list of document numbers: :class:`SegmentBuilder` keeps
those lists in memory and writes the same files Whoosh's writer does (the same bytes:
tests/test_search_segments.py compares them), three to four times faster.
"""
from __future__ import annotations

from array import array
from hashlib import md5
from collections import defaultdict
from functools import partial
from pickle import dumps

from whoosh import formats
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.filedb.filetables import _lengths as _LENGTHS
from whoosh.filedb.filetables import _pointer as _POINTER
from whoosh.system import pack_ushort

from .schema import Terms

_WEIGHT = 1.0  # every posting of an Existence field


class SegmentBuilder:
    """A new segment of ``ix`` written from whole documents (dicts of field values, as
    ``documents.item_document`` makes them): :meth:`add` each, then :meth:`finish`,
    which returns the segment for the index's table of contents (the caller commits it,
    holding the writer lock). Only fields in the ``Existence`` format are indexed here;
    any other indexed field is refused when the builder is made."""

    def __init__(self, ix, codec):
        self.storage, self.schema, self.codec = ix.storage, ix.schema, codec
        self.segment = codec.new_segment(ix.storage, ix.indexname)
        self.perdoc = codec.per_document_writer(ix.storage, self.segment)
        self.docnum = 0
        # field -> term -> document numbers (bare fields' terms as text, others' as bytes:
        # one kind a field, and UTF-8 bytes sort as their text does)
        self.postings: dict[str, dict] = defaultdict(lambda: defaultdict(list))
        self._fields = _field_table(self.schema)

    def add(self, doc: dict) -> None:
        """Add one document (what ``IndexWriter.add_document`` would be given)."""
        self._write_values(_index_document(self._fields, self.postings, self.docnum, doc))

    def add_part(self, part: Part) -> None:
        """Add the documents of a :class:`Part` (made in another process) after those
        added so far, numbered on from them."""
        offset = self.docnum
        for values in part.values:
            self._write_values(values)
        postings = self.postings
        for name, term, ids in part.shifted_postings(offset):
            held = postings[name].get(term)
            if held is None:
                postings[name][term] = ids  # an array: finish takes it as it does a list
            else:
                held.extend(ids)

    def _write_values(self, values: list[tuple]) -> None:
        """A document's stored fields and column values (see :func:`_index_document`)."""
        perdoc = self.perdoc
        perdoc.start_doc(self.docnum)
        for name, value, column_value in values:
            field, _bare, _indexed, stored, column = self._fields[name]
            if stored:
                perdoc.add_field(name, field, value, 0)
            if column is not None:
                perdoc.add_column_value(name, column, column_value)
        perdoc.finish_doc()
        self.docnum += 1

    def finish(self):
        """Write the terms and postings, close the segment's files and return it."""
        self.perdoc.close()
        writer = self.codec.field_writer(self.storage, self.segment)
        inline = self.codec._inlinelimit
        blocklimit = self.codec._blocklimit
        pack = W3TermInfo._struct.pack
        for name in sorted(self.postings):
            terms = self.postings.pop(name)  # let go once written: the next field's entries take its place
            if not terms:  # a field given no term (an empty list): Whoosh's writer never starts it
                continue
            writer.start_field(name, self.schema[name])
            bare = self._fields[name][1]
            prefix = pack_ushort(writer._fieldid)
            postwriter = writer._postwriter
            fmt = writer._format
            entries = []
            add_term = entries.append
            for term in sorted(terms):
                ids = terms[term]
                btext = term.encode("utf-8") if bare else term
                count = len(ids)
                if count < inline:  # kept in the term's entry (W3TermInfo.to_bytes, inlined)
                    info = pack(1, float(count), count, 0, 0, _WEIGHT, ids[0], ids[-1]) \
                        + dumps((tuple(ids), (_WEIGHT,) * count, ()), 2)
                    add_term((prefix + btext, info))
                    continue
                terminfo = W3TermInfo()
                postwriter.start_postings(fmt, terminfo)
                for start in range(0, count, blocklimit):  # what add_posting buffers, block by block
                    block = array("I", ids[start:start + blocklimit])
                    postwriter._ids = block
                    postwriter._weights = array("f", (_WEIGHT,) * len(block))
                    postwriter._maxweight = _WEIGHT
                    if start + blocklimit < count:
                        postwriter._write_block()
                add_term((prefix + btext, postwriter.finish_postings().to_bytes()))
            _add_terms(writer._tindex, entries)
            writer.finish_field()
        writer._tindex._write_hashes = partial(_write_hashes, writer._tindex)
        writer.close()
        self.postings.clear()
        segment = self.segment
        segment.set_doc_count(self.docnum)
        if segment.should_assemble():
            segment.create_compound_file(self.storage)
            segment.compound = True
        return segment


class Part:
    """A run of documents made into postings and per-document values in a worker process
    (the costly part of a rebuild: analysis, terms), for :meth:`SegmentBuilder.add_part`
    to write into the one segment after the documents before them. Pickled back whole:
    each term's document numbers counted from 0, and each document's stored fields and
    column values in the order the segment takes them."""

    def __init__(self, schema):
        self._fields = _field_table(schema)
        self.postings: dict[str, dict] = defaultdict(lambda: defaultdict(list))
        self.values: list[list[tuple]] = []

    def add(self, doc: dict) -> None:
        self.values.append(_index_document(self._fields, self.postings, len(self.values), doc))

    def __len__(self) -> int:
        return len(self.values)

    def __getstate__(self) -> dict:
        return {"packed": self.packed(), "values": self.values}

    def __setstate__(self, state: dict) -> None:  # in the process that writes the segment
        self._fields, self.postings, self.values = None, None, state["values"]
        self._packed = state["packed"]

    def packed(self) -> dict[str, tuple[list, array, array]]:
        """Per field: its terms, and their document numbers one after the other in an
        array with the count of each (a list of numbers a term is a Python object to
        pickle and unpickle: four times the cost)."""
        if self.postings is None:  # unpickled
            return self._packed
        packed = {}
        for name, terms in self.postings.items():
            counts, ids = array("I"), array("I")
            for found in terms.values():
                counts.append(len(found))
                ids.extend(found)
            packed[name] = (list(terms), counts, ids)
        return packed

    def shifted_postings(self, offset: int):
        """``(field, term, document numbers + offset)`` for each term."""
        for name, (terms, counts, ids) in self.packed().items():
            if offset:
                ids = array("I", map(offset.__add__, ids))
            start = 0
            for term, count in zip(terms, counts):
                yield name, term, ids[start:start + count]
                start += count


def _field_table(schema) -> dict[str, tuple]:
    """Each field of the schema as ``(field, bare, indexed, stored, column type)``;
    a field indexed in another format than ``Existence`` is refused."""
    fields = {}
    for name, field in schema.items():
        if field.indexed and (type(field.format) is not formats.Existence or field.vector
                              or field.separate_spelling()):
            raise ValueError(f"field {name!r} is not a bare term field: write it with Whoosh's writer")
        fields[name] = (field, isinstance(field, Terms), field.indexed, field.stored, field.column_type)
    return fields


def _index_document(fields: dict, postings: dict, docnum: int, doc: dict) -> list[tuple]:
    """Add a document's terms to ``postings`` (field -> term -> document numbers) as
    ``docnum``; returns its stored and column values, ``(name, value, column value)``
    in the order ``add_document`` takes them (stored fields' order)."""
    values = []
    for name in sorted(doc):
        value = doc[name]
        if value is None:
            continue
        field, bare, indexed, stored, column = fields[name]
        if indexed:
            terms = postings[name]
            if bare:
                for term in ({value} if isinstance(value, str) else set(value)):
                    terms[term].append(docnum)
            else:
                for tbytes, _freq, weight, vbytes in field.index(value):
                    if weight != _WEIGHT or vbytes:
                        raise ValueError(f"field {name!r} gave a weighted posting")
                    found = terms.setdefault(tbytes, [])
                    if not found or found[-1] != docnum:
                        found.append(docnum)
        if stored or column is not None:
            values.append((name, value if stored else None,
                           field.to_column_value(value) if column is not None else None))
    return values


def _add_terms(table, entries: list[tuple[bytes, bytes]]) -> None:
    """``OrderedHashWriter.add(key, value)`` for each of ``entries`` (keys in increasing
    order, after any added before), their records written at once: the same file."""
    if not entries:
        return
    if entries[0][0] <= table.lastkey or table.hashtype != 0:
        raise ValueError("terms out of order, or a hash other than Whoosh's md5_hash")
    dbfile = table.dbfile
    position = dbfile.tell()
    positions, buckets, pack = table.index, table.buckets, _LENGTHS.pack
    records = []
    for key, value in entries:
        positions.append(position)
        digest = int.from_bytes(md5(key, usedforsecurity=False).digest()[12:], "big")  # filetables.md5_hash
        buckets[digest & 255].append((digest, position))
        record = pack(len(key), len(value)) + key + value
        records.append(record)
        position += len(record)
    dbfile.write(b"".join(records))
    table.lastkey = entries[-1][0]


_EMPTY_SLOT = _POINTER.pack(0, 0)


def _write_hashes(table) -> None:
    """``HashWriter._write_hashes`` (the 256 hash tables of a term file, written when it
    is closed), each table packed and written in one piece rather than a slot at a time
    (a million calls at 100,000 items): the same file."""
    dbfile, pack = table.dbfile, _POINTER.pack
    for entries in table.buckets:
        position = dbfile.tell()
        count = 2 * len(entries)
        table.directory.append((position, count))
        slots: list = [None] * count
        for digest, at in entries:
            slot = (digest >> 8) % count
            while slots[slot] is not None:  # taken: the next free one
                slot = (slot + 1) % count
            slots[slot] = (digest, at)
        dbfile.write(b"".join([_EMPTY_SLOT if entry is None else pack(*entry) for entry in slots]))
