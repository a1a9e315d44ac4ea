"""Reads an LMDB 0.9 `data.mdb` without LMDB: its meta pages, and a walk of every B-tree page by page,
so that a damaged file is refused with a `ValueError` naming the file, the page and the reason instead
of crashing (SIGBUS, SIGSEGV) or hanging the Python process that reads it through `lmdb`.

The same checks as Strata's Swift reader (Sources/StrataCache/LMDBDataFile.swift, LMDBPageWalk.swift):
page numbers inside the file and each used once (a branch pointing at itself or at an ancestor is a
page used twice), page types by depth, free-space bounds, node offsets and key and value sizes inside
their page, keys in strictly increasing order and inside the bounds their parents give, overflow runs,
each database's page and entry counts against its record, a depth of at most 32, and every page in a
tree, free, or a meta page. The main database's entries name the tables; each is walked too.

Layout (64-bit, little-endian): every page starts with a 16-byte header (page number u64, pad u16,
flags u16, lower and upper free-space bounds u16, or for an overflow page its page count u32 at byte
12). Pages 0 and 1 are meta pages: magic 0xBEEFC0DE at byte 16, version 1 at 20, the free-page and
main databases' 48-byte records at 40 and 88 (the free one's first field is the page size), the last
page in use at 136 and the transaction id at 144; LMDB uses the one with the larger transaction id.
Pages are read with `os.pread`, never through a memory map, so a short file cannot raise SIGBUS here.
The walk stops at the first problem, the one the Swift walk reports first. The leaf pages under one
branch page are checked together with numpy; a walk costs about half of reading every value once.
"""
import collections
import os
import stat
import struct

import numpy as np

PAGE_HEADER = 16
META_BYTES = PAGE_HEADER + 136
MAGIC = 0xBEEFC0DE
DATA_VERSION = 1
INVALID_PAGE = 0xFFFFFFFFFFFFFFFF
MAX_DEPTH = 32
MAIN_TABLE = "<lmdb main>"
FREE_TABLE = "<lmdb free pages>"

P_BRANCH, P_LEAF, P_OVERFLOW, P_META, P_LEAF2 = 0x01, 0x02, 0x04, 0x08, 0x20
PAGE_KINDS = P_BRANCH | P_LEAF | P_OVERFLOW | P_META | P_LEAF2
NODE_BIG_DATA, NODE_DUPLICATE_DATA = 0x01, 0x04
DB_DUPLICATE_SORT, DB_INTEGER_KEYS = 0x04, 0x08

_OVERFLOW = struct.Struct("<Q2xHI")     # number, flags, page count
_RECORD = struct.Struct("<IHHQQQQQ")    # pad (page size in the free record), flags, depth, counts, root
_U64 = struct.Struct("<Q")
# A node: its size (a branch node's child page number) as low and high 16-bit halves, its flags (the
# child's top 16 bits), its key's size, then the key and the value (or an overflow page number).
NODE_HEADER = 8
_SPAN = np.arange(8)

Record = collections.namedtuple("Record", "flags depth branch_pages leaf_pages overflow_pages entries root")
Meta = collections.namedtuple("Meta", "page page_size free main last_page transaction")


class Problem(collections.namedtuple("Problem", "table page message")):
    """One damage found by the walk: the table (or `<lmdb main>`, `<lmdb free pages>`, `data.mdb`),
    the page concerned (None when the problem is a whole table's), and what is wrong."""

    def __str__(self):
        return f"{self.table}: {self.message}"


def _record(raw, offset):
    _, flags, depth, branch, leaf, overflow, entries, root = _RECORD.unpack_from(raw, offset)
    return Record(flags, depth, branch, leaf, overflow, entries, root)


class DataFile:
    """A `data.mdb` opened for `pread`, with both meta pages read and checked (`ValueError` when the
    file is too short for them or they are not LMDB 0.9 meta pages). Use as a context manager."""

    def __init__(self, name):
        self.name = name
        self.fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            info = os.fstat(self.fd)
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"{name}: not a regular file")
            self.size = info.st_size
            first = os.pread(self.fd, META_BYTES, 0)
            if len(first) < META_BYTES:
                raise ValueError(f"{name}: {len(first)} bytes, too few for LMDB's meta pages: damaged cache")
            self.page_size = struct.unpack_from("<I", first, 40)[0]
            if self.page_size < 512 or self.page_size > 65536 or self.page_size & (self.page_size - 1):
                raise ValueError(f"{name}: meta page 0 records a page size of {self.page_size}: damaged cache")
            second = os.pread(self.fd, META_BYTES, self.page_size)
            self.metas = [self._meta(first, 0), self._meta(second, 1)]
        except BaseException:
            os.close(self.fd)
            raise

    def _meta(self, raw, number):
        if len(raw) < META_BYTES or struct.unpack_from("<I", raw, 16)[0] != MAGIC \
                or struct.unpack_from("<I", raw, 20)[0] != DATA_VERSION:
            raise ValueError(f"{self.name}: page {number} is not an LMDB meta page: damaged cache")
        page, flags = struct.unpack_from("<Q2xH", raw, 0)
        if page != number or not flags & P_META:
            raise ValueError(f"{self.name}: meta page {number} carries page number {page} and flags "
                             f"0x{flags:04x}: damaged cache")
        last_page, transaction = struct.unpack_from("<QQ", raw, 136)
        return Meta(number, self.page_size, _record(raw, 40), _record(raw, 88), last_page, transaction)

    def close(self):
        os.close(self.fd)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    @property
    def current(self):
        """The meta page LMDB reads: the one with the larger transaction id."""
        return self.metas[1] if self.metas[1].transaction > self.metas[0].transaction else self.metas[0]

    def meta(self, transaction):
        """The meta page of `transaction`, or the current one when neither holds it (or it is None)."""
        for meta in self.metas:
            if transaction is not None and meta.transaction == transaction:
                return meta
        return self.current

    def check_bounds(self, meta):
        """`ValueError` unless the pages `meta` uses, and its databases' roots, lie inside the file."""
        needed = (meta.last_page + 1) * self.page_size
        if needed > self.size:
            raise ValueError(f"{self.name}: {self.size} bytes, but its meta page (transaction {meta.transaction}) "
                             f"uses pages up to {meta.last_page}, which need {needed} bytes: the file is truncated by "
                             f"{needed - self.size} bytes; restore the cache from a good copy or build it again")
        for name, record in (("free-page", meta.free), ("main", meta.main)):
            if record.root != INVALID_PAGE and not 2 <= record.root <= meta.last_page:
                raise ValueError(f"{self.name}: meta page {meta.page} puts the {name} database's root at page "
                                 f"{record.root}, outside pages 2...{meta.last_page}: damaged cache")

    def read(self, count, offset):
        """Up to `count` bytes at `offset` (fewer when the file ends first)."""
        return os.pread(self.fd, count, offset)


class _Tally:
    __slots__ = ("branch", "leaf", "overflow", "entries", "previous")

    def __init__(self):
        self.branch = self.leaf = self.overflow = self.entries = 0
        self.previous = None


class _Found(Exception):
    """The walk stops at the first problem it finds."""

    def __init__(self, problem):
        super().__init__(str(problem))
        self.problem = problem


class _Nodes:
    """The nodes of a run of pages read together, checked to lie inside their pages: per node its page
    (an index into the run), its index in that page, its key's start and end (bytes into the run), its
    flags and its size (a branch node's child page number's low 32 bits), and the keys as integers in
    LMDB's order when all of them are 8 bytes long (else None)."""

    __slots__ = ("page", "index", "starts", "ends", "flags", "sizes", "keys")


class _Walk:
    """One walk of the trees of a snapshot. Leaf pages, most of a tree, are checked together in runs
    (the children of one branch page) with numpy; branch pages one by one."""

    def __init__(self, data, meta):
        self.data = data
        self.meta = meta
        self.page_size = data.page_size
        self.visited = bytearray(meta.last_page + 1)
        self.visited[0] = self.visited[1] = 1
        self.journal = None  # the pages claimed since a run of leaf pages began, while one is checked

    def report(self, table, page, message):
        raise _Found(Problem(table, page, message))

    def claim(self, number, table, role):
        """Marks page `number` as used by `table`; a problem when it is out of range or taken."""
        if not 2 <= number <= self.meta.last_page:
            self.report(table, number, f"{role} at page {number}, outside pages 2...{self.meta.last_page}")
        if self.visited[number]:
            self.report(table, number, f"{role} at page {number}, a page already used elsewhere")
        self.visited[number] = 1
        if self.journal is not None:
            self.journal.append(number)

    def run(self):
        free_pages = 0

        def free_entry(key, value):
            nonlocal free_pages
            if value is None or len(value) < 8:
                self.report(FREE_TABLE, None, f"entry of {0 if value is None else len(value)} bytes, too short for a page list")
            count = _U64.unpack_from(value, 0)[0]
            if count > (len(value) - 8) // 8:
                self.report(FREE_TABLE, None, f"page list of {len(value)} bytes claims {count} pages")
            for number in struct.unpack_from(f"<{count}Q", value, 8):
                self.claim(number, FREE_TABLE, "a free page")
                free_pages += 1

        named = []

        def main_entry(key, value):
            name = key.decode("utf-8", "replace")
            if value is None or len(value) != _RECORD.size:
                self.report(MAIN_TABLE, None, f"table '{name}' has a record of {0 if value is None else len(value)} bytes, "
                                              f"expected {_RECORD.size}")
            named.append((name, _record(value, 0)))

        self.tree(FREE_TABLE, self.meta.free, free_entry)
        self.tree(MAIN_TABLE, self.meta.main, main_entry)
        for name, record in named:
            if record.flags & DB_DUPLICATE_SORT:
                self.report(name, None, f"flags 0x{record.flags:04x} ask for duplicate keys, which Strata caches never use")
            self.tree(name, record, None)
        used = sum(self.visited)
        total = self.meta.last_page + 1
        if used != total:
            self.report("data.mdb", None, f"{total - used} of {total} pages are in no table and not free ({free_pages} free)")

    def tree(self, table, record, entry):
        """Walks one database in key order, calling `entry(key, value)` for each entry when given."""
        if record.root == INVALID_PAGE:
            if record.entries != 0 or record.depth != 0:
                self.report(table, None, f"no root page but {record.entries} entries, depth {record.depth}")
            return
        if not 1 <= record.depth <= MAX_DEPTH:
            self.report(table, record.root, f"depth {record.depth} recorded for a tree with root page {record.root}")
        self.integer_keys = bool(record.flags & DB_INTEGER_KEYS)
        self.less = _integer_less if self.integer_keys else _bytes_less
        tally = _Tally()
        if record.depth == 1:
            self.leaves(table, [record.root], [None], [None], 1, tally, entry)
        else:
            self.branch(table, record.root, 1, record.depth, None, None, tally, entry)
        recorded = (record.branch_pages, record.leaf_pages, record.overflow_pages, record.entries)
        found = (tally.branch, tally.leaf, tally.overflow, tally.entries)
        if recorded != found:
            self.report(table, None, "the record counts {} branch, {} leaf, {} overflow pages and {} entries; "
                                     "the tree has {}, {}, {} and {}".format(*recorded, *found))

    def branch(self, table, number, level, depth, low, high, tally, entry):
        """Checks branch page `number` at `level` (1 is the root) and walks its children."""
        data, lower, upper = self.pages(table, [number], P_BRANCH, "branch", level, depth)
        tally.branch += 1
        nodes = self.nodes(table, [number], data, lower, upper, P_BRANCH)
        keys = [data[s:e] for s, e in zip(nodes.starts.tolist(), nodes.ends.tolist())]
        children = (nodes.sizes | nodes.flags << 32).tolist()
        lows, highs = [low] + keys[1:], keys[1:] + [high]
        if level + 1 == depth:
            # The children are leaves, checked together; after a problem, again one by one in the
            # order of the Swift walk, so that the problem reported is the first in key order.
            saved, self.journal = (tally.leaf, tally.overflow, tally.entries, tally.previous), []
            try:
                for index in range(1, len(keys)):
                    self.separator(table, number, keys, index, low, high)
                self.leaves(table, children, lows, highs, depth, tally, entry)
                return
            except _Found:
                for page in self.journal:
                    self.visited[page] = 0
                tally.leaf, tally.overflow, tally.entries, tally.previous = saved
            finally:
                self.journal = None
        for index, child in enumerate(children):
            if index > 0:
                self.separator(table, number, keys, index, low, high)
            if level + 1 == depth:
                self.leaves(table, [child], [lows[index]], [highs[index]], depth, tally, entry)
            else:
                self.branch(table, child, level + 1, depth, lows[index], highs[index], tally, entry)

    def separator(self, table, number, keys, index, low, high):
        """Checks separator `index` (from 1; the first node's key is empty) of branch page `number`."""
        where = _outside(keys[index], low, high, self.less)
        if where:
            self.report(table, number, f"branch page {number}: separator {index} sorts {where} of the parent's range")
        if index > 1 and not self.less(keys[index - 1], keys[index]):
            self.report(table, number, f"branch page {number}: separators {index - 1} and {index} are out of order")

    def pages(self, table, numbers, kind, role, level, depth):
        """Claims and reads pages `numbers` and checks their headers: (the pages joined, their lower
        bounds, their upper bounds)."""
        page_size = self.page_size
        chunks = []
        for number in numbers:
            self.claim(number, table, f"{role} page")
            page = self.data.read(page_size, number * page_size)
            if len(page) < page_size:
                self.report(table, number, f"page {number} lies past the end of the file")
            chunks.append(page)
        data = b"".join(chunks)
        head = np.frombuffer(data, np.uint8).reshape(len(numbers), page_size)[:, :PAGE_HEADER].copy()
        carried = head.view("<u8")[:, 0]
        flags, lower, upper = (head.view("<u2")[:, column].astype(np.int64) for column in (5, 6, 7))
        count = (lower - PAGE_HEADER) // 2
        bad = (carried != np.array(numbers, dtype=np.uint64)) | ((flags & PAGE_KINDS) != kind) \
            | (lower < PAGE_HEADER) | (lower > upper) | (upper > page_size) | ((lower - PAGE_HEADER) % 2 != 0) \
            | (count == 0) | ((count < 2) & (kind == P_BRANCH) & (level > 1))
        if bad.any():
            i = int(bad.argmax())
            number = numbers[i]
            if carried[i] != number:
                message = f"page {number} carries page number {carried[i]}"
            elif flags[i] & PAGE_KINDS != kind:
                message = f"page {number} at level {level} of {depth} has flags 0x{flags[i]:04x}, expected a {role} page"
            elif count[i] > 0 and lower[i] <= upper[i] <= page_size and lower[i] % 2 == 0:
                message = f"{role} page {number} holds {count[i]} nodes"
            else:
                message = f"page {number} has free-space bounds {lower[i]}...{upper[i]} outside a {page_size}-byte page"
            self.report(table, number, message)
        return data, lower, upper

    def nodes(self, table, numbers, data, lower, upper, kind):
        """The nodes of the pages `numbers` (read into `data`), checked to lie inside their page; a
        problem names the first node that does not."""
        page_size = self.page_size
        counts = (lower - PAGE_HEADER) // 2
        nodes = _Nodes()
        nodes.page = np.repeat(np.arange(len(numbers)), counts)
        nodes.index = np.arange(len(nodes.page)) - np.repeat(np.cumsum(counts) - counts, counts)
        raw, words = np.frombuffer(data, np.uint8), np.frombuffer(data, "<u2")
        base = nodes.page * page_size
        offsets = words[(base + PAGE_HEADER) // 2 + nodes.index].astype(np.int64)
        page_upper = upper[nodes.page]
        bad_offset = (offsets < page_upper) | (offsets > page_size - NODE_HEADER)
        safe = np.where(bad_offset, PAGE_HEADER, offsets)
        if (safe & 1).any():
            # LMDB keeps nodes on even offsets, so that their fields can be read as 16-bit words.
            fields = raw[(base + safe)[:, None] + _SPAN].view("<u2").astype(np.int64)
        else:
            first = (base + safe) // 2
            fields = np.stack([words[first + k] for k in range(4)], axis=1).astype(np.int64)
        nodes.sizes = fields[:, 0] | fields[:, 1] << 16
        nodes.flags, key_sizes = fields[:, 2], fields[:, 3]
        ends = safe + NODE_HEADER + key_sizes
        bad_key = ends > page_size
        big = (nodes.flags & NODE_BIG_DATA) != 0
        bad_value = (ends + np.where(big, 8, nodes.sizes) > page_size) if kind == P_LEAF else bad_key
        bad = bad_offset | bad_key | bad_value
        if bad.any():
            i = int(bad.argmax())
            number, index = numbers[nodes.page[i]], nodes.index[i]
            if bad_offset[i]:
                message = f"node {index} of page {number} at byte {offsets[i]}, outside {page_upper[i]}...{page_size - NODE_HEADER}"
            elif bad_key[i]:
                message = f"node {index} of page {number} has a {key_sizes[i]}-byte key past the page's end"
            elif big[i]:
                message = f"node {index} of page {number} has its overflow page number past the page's end"
            else:
                message = f"node {index} of page {number} has a {nodes.sizes[i]}-byte value past the page's end"
            self.report(table, number, message)
        nodes.starts = base + safe + NODE_HEADER
        nodes.ends = base + ends
        nodes.keys = None
        if kind == P_LEAF and (key_sizes == 8).all():
            if nodes.starts[0] & 1 or (safe & 1).any():
                nodes.keys = raw[nodes.starts[:, None] + _SPAN].view("<u8" if self.integer_keys else ">u8").ravel()
            else:
                # Four 16-bit words each, most significant first for LMDB's byte order.
                parts = [words[nodes.starts // 2 + k].astype(np.uint64) for k in range(4)]
                if not self.integer_keys:
                    parts = [(part >> np.uint64(8)) | ((part & np.uint64(0xFF)) << np.uint64(8)) for part in reversed(parts)]
                nodes.keys = parts[0] | parts[1] << np.uint64(16) | parts[2] << np.uint64(32) | parts[3] << np.uint64(48)
        return nodes

    def leaves(self, table, numbers, lows, highs, depth, tally, entry):
        """Checks the leaf pages `numbers` (siblings in key order, each with the key range its parent
        gives, at level `depth`) and their entries, calling `entry(key, value)` for each when given."""
        data, lower, upper = self.pages(table, numbers, P_LEAF, "leaf", depth, depth)
        tally.leaf += len(numbers)
        nodes = self.nodes(table, numbers, data, lower, upper, P_LEAF)
        good, problem = self.ordered(data, nodes, lows, highs, tally.previous)
        # Nodes that need more than the checks above: duplicates, overflow runs, and every entry of a
        # table whose values are read.
        if entry:
            special = range(good)
        else:
            special = np.flatnonzero(nodes.flags[:good] & (NODE_BIG_DATA | NODE_DUPLICATE_DATA))
            big = special[(nodes.flags[special] & NODE_DUPLICATE_DATA) == 0]
            runs = self.overflow_runs(data, nodes.ends[big], nodes.sizes[big]) if len(big) else 0
            if runs is not None:
                tally.overflow += runs
                special = special[(nodes.flags[special] & NODE_DUPLICATE_DATA) != 0]
            special = special.tolist()
        for i in special:
            flags, size, start, end = (int(array[i]) for array in (nodes.flags, nodes.sizes, nodes.starts, nodes.ends))
            number, index = numbers[nodes.page[i]], nodes.index[i]
            if flags & NODE_DUPLICATE_DATA:
                self.report(table, number, f"leaf page {number}: key {index} has duplicate values, which Strata caches never use")
            value = data[end:end + size]
            if flags & NODE_BIG_DATA:
                first = _U64.unpack_from(data, end)[0]
                tally.overflow += self.overflow(table, first, size)
                value = self.data.read(size, first * self.page_size + PAGE_HEADER) if entry else None
            if entry:
                entry(data[start:end], value)
        if problem:
            number = numbers[nodes.page[good]]
            self.report(table, number, f"leaf page {number}: key {nodes.index[good]} {problem}")
        tally.entries += good
        tally.previous = data[nodes.starts[-1]:nodes.ends[-1]]

    def ordered(self, data, nodes, lows, highs, previous):
        """(n, problem): the first n keys sort after `previous` and each other and lie in the range
        of their page; key n does not, for the reason `problem` (None when all do)."""
        keys = nodes.keys
        bounds = lows + highs + [previous]
        if keys is not None and all(bound is None or len(bound) == 8 for bound in bounds):
            # Eight-byte keys: their order is that of their values as big-endian (or, for integer
            # keys, little-endian) integers.
            order = "<Q" if self.integer_keys else ">Q"
            numbers = lambda values: np.array([0 if v is None else struct.unpack(order, v)[0] for v in values], dtype=np.uint64)  # noqa: E731
            present = lambda values: np.array([v is not None for v in values])  # noqa: E731
            before = np.empty(len(keys), dtype=bool)
            before[0] = previous is not None and struct.unpack(order, previous)[0] >= keys[0]
            np.greater_equal(keys[:-1], keys[1:], out=before[1:])
            below = present(lows)[nodes.page] & (keys < numbers(lows)[nodes.page])
            past = present(highs)[nodes.page] & (keys >= numbers(highs)[nodes.page])
            bad = before | below | past
            if not bad.any():
                return len(keys), None
            i = int(bad.argmax())
            if before[i]:
                return i, "does not sort after the key before it"
            return i, "sorts {} of the range its branch gives".format("below the start" if below[i] else "at or past the end")
        less = self.less
        for i, (start, end, page) in enumerate(zip(nodes.starts.tolist(), nodes.ends.tolist(), nodes.page.tolist())):
            key = data[start:end]
            if previous is not None and not less(previous, key):
                return i, "does not sort after the key before it"
            where = _outside(key, lows[page], highs[page], less)
            if where:
                return i, f"sorts {where} of the range its branch gives"
            previous = key
        return len(nodes.starts), None

    def overflow_runs(self, data, ends, sizes):
        """Checks and claims together the overflow runs of the values whose page numbers are at `ends`
        in `data`; their page count, or None (nothing claimed) when one is wrong, to be found again
        value by value by `overflow`."""
        page_size, last = self.page_size, self.meta.last_page
        raw = np.frombuffer(data, np.uint8)
        firsts = raw[ends[:, None] + _SPAN].view("<u8").ravel()
        pages = (PAGE_HEADER - 1 + sizes) // page_size + 1
        if not ((firsts >= 2) & (firsts <= last)).all():
            return None
        firsts = firsts.astype(np.int64)
        if not (pages - 1 <= last - firsts).all():
            return None
        read = self.data.read
        heads = np.frombuffer(b"".join([read(_OVERFLOW.size, first * page_size) for first in firsts.tolist()]), np.uint8)
        if len(heads) != _OVERFLOW.size * len(firsts):
            return None
        heads = heads.reshape(len(firsts), _OVERFLOW.size)
        numbers, flags = heads[:, :8].copy().view("<u8").ravel(), heads[:, 10:12].copy().view("<u2").ravel()
        counts = heads[:, 12:16].copy().view("<u4").ravel()
        if not ((numbers == firsts.astype(np.uint64)) & ((flags & P_OVERFLOW) != 0) & (counts == pages)).all():
            return None
        claimed = np.repeat(firsts, pages) + np.arange(int(pages.sum())) - np.repeat(np.cumsum(pages) - pages, pages)
        visited = np.frombuffer(self.visited, np.uint8)
        if visited[claimed].any() or len(np.unique(claimed)) != len(claimed):
            return None
        visited[claimed] = 1
        if self.journal is not None:
            self.journal.extend(claimed.tolist())
        return int(pages.sum())

    def overflow(self, table, first, size):
        """Checks and claims the overflow run of a `size`-byte value starting at `first`; its page count."""
        last = self.meta.last_page
        pages = (PAGE_HEADER - 1 + size) // self.page_size + 1
        if not (2 <= first <= last and pages - 1 <= last - first):
            self.report(table, first, f"a {size}-byte value on overflow pages {first}..+{pages}, outside pages 2...{last}")
        header = self.data.read(_OVERFLOW.size, first * self.page_size)
        if len(header) < _OVERFLOW.size:
            self.report(table, first, f"overflow page {first} lies past the end of the file")
        number, flags, count = _OVERFLOW.unpack_from(header, 0)
        if number != first or not flags & P_OVERFLOW or count != pages:
            self.report(table, first, f"overflow page {first} has page number {number}, flags 0x{flags:04x} and a run of "
                                      f"{count} pages; the {size}-byte value needs {pages}")
        for page in range(first, first + pages):
            self.claim(page, table, "overflow page")
        return pages


def _outside(key, low, high, less):
    """Where `key` falls outside `low..<high` ("below the start", "at or past the end"), or None."""
    if low is not None and less(key, low):
        return "below the start"
    if high is not None and not less(key, high):
        return "at or past the end"
    return None


def _bytes_less(a, b):
    return a < b


def _integer_less(a, b):
    if len(a) == 8 and len(b) == 8:
        return _U64.unpack(a)[0] < _U64.unpack(b)[0]
    return a < b


def data_file_name(directory):
    """The `data.mdb` of an LMDB environment directory."""
    return directory.rstrip("/") + "/data.mdb"


def first_problem(directory, transaction=None):
    """The first damage the walk finds in the B-trees of `directory`'s `data.mdb` in the snapshot of
    `transaction` (the newest meta page when None or not found), as a `Problem`; None for a sound
    file. Raises `ValueError` when the meta pages are damaged or the file is shorter than they say."""
    with DataFile(data_file_name(directory)) as data:
        meta = data.meta(transaction)
        data.check_bounds(meta)
        try:
            _Walk(data, meta).run()
        except _Found as found:
            return found.problem
        return None


def check_structure(directory, transaction=None):
    """Raises `ValueError` naming the file, the table, the page and the reason at the first damage the
    walk finds in `directory`'s `data.mdb` (see `first_problem`)."""
    problem = first_problem(directory, transaction)
    if problem is not None:
        where = "" if problem.page is None else f" (page {problem.page})"
        raise ValueError(f"{data_file_name(directory)}: {problem}{where}: damaged cache; restore it from a good copy "
                         "or build it again")
