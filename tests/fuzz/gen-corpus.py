#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""Writes the seed corpus of vmmem-fuzz: tests/fuzz/gen-corpus.py [DIR].

Each seed is a short scenario in the harness's input encoding: a teardown
byte, a setup byte, then calls, each an op code (the position of its name in
`enum op` of vmmem-fuzz.c, read from the source so that the two cannot
drift) followed by the bytes its decoder reads.  The encoders below mirror
pick_gpa(), pick_len(), pick_rsize(), pick_place_gpa() and pick_iova().
Run once when the encoding changes; the seeds are checked in.  Inputs that
found a bug are kept beside them as regress-NAME, which this script leaves
alone.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = open(os.path.join(HERE, "vmmem-fuzz.c")).read()
ENUM = re.search(r"enum op \{(.*?)\};", SRC, re.S).group(1)
OPS = [n.strip() for n in ENUM.replace("\n", " ").split(",") if n.strip()]
OP = {name: i for i, name in enumerate(OPS)}
assert OPS[-1] == "NOPS"

ANCHORS = [0, 0x1000, 0x2000, 0x3000, 0x4000, 0x6000, 0x8000, 0x10000,
           0x7ffff000, 0xfffff000, 0x100000000, 1 << 63,
           2**64 - 0x10000, 2**64 - 0x8000, 2**64 - 0x4000, 2**64 - 0x3000,
           2**64 - 0x2000, 2**64 - 0x1000]
IOVA_ANCHORS = [0, 0x1000, 0x2000, 0x10000, 0xc0000000, 1 << 32, 1 << 63,
                2**64 - 0x4000, 2**64 - 0x2000, 2**64 - 0x1000]


def le(v, n):
    return [(v >> (8 * i)) & 0xff for i in range(n)]


# pick_gpa(): mode byte, placement index byte, then the mode's bytes.
def gpa_anchor(a, delta=0):
    if delta:
        return [1, 0, ANCHORS.index(a), delta & 0xff]
    return [0, 0, ANCHORS.index(a)]


def gpa_in(pl, off):             # placement pl, offset off (< size + 16)
    return [2, pl] + le(off, 2)


def gpa_end(pl, delta=0):        # end of placement pl, plus delta
    return [3, pl, delta & 0xff]


def gpa_top(minus):              # 2^64 - minus
    return [6, 0] + le(minus, 2)


def gpa_raw(v):
    return [5, 0] + le(v, 8)


# pick_len(): mode byte, placement index byte, then the mode's bytes.
def len_zero():
    return [0, 0]


def len_small(v):                # 1, 2, 4, 8, 16, 3, 7, 24
    return [1, 0, [1, 2, 4, 8, 16, 3, 7, 24].index(v)]


def len_u8(v):
    return [2, 0, v]


def len_u16(v):                  # < 20000
    return [3, 0] + le(v, 2)


def len_to_top():
    return [5, 0]


def len_wrap():
    return [6, 0]


def len_huge(k):                 # SSIZE_MAX, +1, 2^64-1, 2^63, 2^32, 2^40, ...
    return [7, 0, k]


def len_pages(k):                # k 4 KiB pages
    return [11, 0, k - 1]


def len_to_end(pl):              # from the GPA to the end of placement pl
    return [10, pl]


# pick_rsize()
def rsize_pages(k):              # 1 to 4 pages
    return [2, k - 1]


def rsize_odd(k, extra):         # k pages and 1 + extra bytes
    return [3, k - 1, extra]


RSIZE_PAGE = [0]
RSIZE_16PAGES = [6]


# pick_place_gpa(): mode byte, placement index byte, then the mode's bytes.
def place_anchor(a):
    return [0, 0, ANCHORS.index(a)]


def place_after(pl):
    return [1, pl]


def place_before(pl):
    return [2, pl]


def place_top(pages=0):          # ends at 2^64 - 1 - pages * 4 KiB
    return [3, 0, pages]


def place_wrap():                # wraps past 2^64: -EINVAL
    return [6, 0, 0]


# pick_iova()
def iova_anchor(a):
    return [0, 0, IOVA_ANCHORS.index(a)]


def iova_anchor_plus(a, off):
    return [5, 0, IOVA_ANCHORS.index(a)] + le(off, 2)


def iova_in(ent, off):
    return [1, ent] + le(off, 2)


def iova_entry(ent):
    return [6, ent]


def op(name, *args):
    out = [OP[name]]
    for a in args:
        out += a if isinstance(a, list) else [a]
    return out


# Calls.
def region_new(size, variant=1):
    return op("OP_REGION_NEW", size, variant)


def region_raw_own(size):
    return op("OP_REGION_RAW", 0, size)


def region_raw_arena(size, off, release=True):
    return op("OP_REGION_RAW", 2 if release else 3, size, le(off, 2))


def region_fd(size, page_off, variant=0):
    extra = {2: [0x10], 5: le(0x123456789000, 8)}.get(variant, [])
    return op("OP_REGION_FD", variant, size, page_off, extra)


def add(reg, place):
    return op("OP_ADD", reg, place)


def remove_exact(pl, want=1):
    return op("OP_REMOVE", 0, want, pl)


def write(g, n):
    return op("OP_WRITE", g, n, 1)


def read(g, n):
    return op("OP_READ", g, n, 1)


def write_exact(g, n):
    return op("OP_WRITE_EXACT", g, n, 1)


def read_exact(g, n):
    return op("OP_READ_EXACT", g, n, 1)


def load(size_idx, order, g):
    return op("OP_LOAD", size_idx, order + 1, g, [0] * 8, 1)


def store(size_idx, order, g, val):
    return op("OP_STORE", size_idx, order + 1, g, le(val, 8))


def fill(g, n, byte):
    return op("OP_FILL", g, n, le(byte + 0x100, 2))


def copy(dst, src, n):           # src given explicitly
    return op("OP_COPY", 1, dst, src, n)


def copy_near(dst, delta, n):    # src = dst + delta
    return op("OP_COPY", 0, dst, le(delta & 0xffff, 2), n)


def check_all():
    return [OP["OP_CHECK_ALL"]]


def space_query(g, n):
    return op("OP_SPACE_QUERY", g, n)


SEEDS = {}


def seed(name, how, setup, *calls):
    data = [how, setup]
    for c in calls:
        data += c if isinstance(c, list) else [c]
    SEEDS[name] = bytes(data)


P = 0x1000
seed("basic", 0, 0,
     region_new(RSIZE_PAGE), add(0, place_anchor(0)),
     write(gpa_anchor(0x1000, -8), len_u8(16)),
     write(gpa_in(0, 0x10), len_small(8)), read(gpa_in(0, 0x10), len_small(8)),
     read(gpa_in(0, 0xff8), len_small(16)), read_exact(gpa_in(0, 0xff8), len_small(16)),
     space_query(gpa_anchor(0), len_pages(1)), check_all())
seed("adjacent-regions", 1, 0,
     region_new(rsize_pages(2)), region_new(rsize_odd(1, 7), 2),
     add(0, place_anchor(0x1000)), add(1, place_after(0)),
     write_exact(gpa_end(0, -4), len_small(8)), read(gpa_end(0, -4), len_small(24)),
     read(gpa_end(1, -2), len_small(8)), fill(gpa_in(0, 0x100), len_to_end(1), 0x5a),
     read_exact(gpa_in(0, 0x100), len_to_end(1)), check_all())
seed("alias-twice", 2, 0,
     region_new(rsize_pages(1)), add(0, place_anchor(0)), add(0, place_after(0)),
     write(gpa_in(0, 0x20), len_u8(40)), read(gpa_in(1, 0x20), len_u8(40)),
     copy(gpa_in(1, 0x10), gpa_in(0, 0x0), len_u8(100)),
     copy(gpa_in(0, 0x800), gpa_in(0, 0x0), len_pages(1)), check_all())
seed("raw-arena-overlap", 3, 0,
     region_raw_arena(rsize_pages(2), 0x100), region_raw_arena(rsize_pages(1), 0x900, False),
     region_raw_own(rsize_odd(1, 3)),
     add(0, place_anchor(0)), add(1, place_anchor(0x10000)), add(2, place_top()),
     write(gpa_in(0, 0x800), len_u16(0x400)), read(gpa_anchor(0x10000), len_u16(0x200)),
     copy(gpa_anchor(0x10000), gpa_in(0, 0x700), len_u16(0x300)),
     op("OP_DISCARD", 0, 0, 0, 0), check_all())
seed("fd-regions-discard", 0, 0,
     region_fd(rsize_pages(2), 1), region_fd(rsize_pages(2), 2, 1), region_fd(RSIZE_16PAGES, 8),
     add(0, place_anchor(0)), add(1, place_anchor(0x8000)),
     write(gpa_in(0, 0x1800), len_u16(0x1000)), read(gpa_in(1, 0x0), len_u16(0x800)),
     op("OP_DISCARD", 0, 0, 1, 1), read(gpa_in(1, 0), len_pages(2)),
     op("OP_REGION_QUERY", 1), check_all())
seed("top-of-space", 1, 0,
     region_new(rsize_pages(2)), add(0, place_top()),
     write(gpa_top(0x100), len_to_top()), write(gpa_top(0x100), len_wrap()),
     read(gpa_top(8), len_huge(2)), read(gpa_top(8), len_huge(0)),
     read_exact(gpa_top(0x10), len_to_top()), fill(gpa_top(0x2000), len_to_top(), 1),
     op("OP_HOST_ADDRESS", gpa_top(0x10), len_to_top(), 1, 1, 8),
     op("OP_IOVEC", gpa_top(0x1800), len_to_top(), 3),
     space_query(gpa_top(0x1000), len_to_top()), check_all())
seed("near-zero-wrap", 0, 0,
     region_new(RSIZE_PAGE), add(0, place_anchor(0)),
     add(0, place_wrap()), read(gpa_raw(2**64 - 4), len_small(8)),
     write(gpa_anchor(0), len_huge(3)), write_exact(gpa_anchor(0), len_huge(1)),
     fill(gpa_anchor(0), len_huge(2), 0), copy(gpa_anchor(0), gpa_top(0x10), len_small(16)),
     check_all())
seed("load-store", 2, 0,
     region_new(rsize_pages(1)), region_raw_arena(rsize_pages(1), 0x3),
     add(0, place_anchor(0x1000)), add(1, place_after(0)),
     store(3, 5, gpa_in(0, 0x8), 0x1122334455667788), load(3, 2, gpa_in(0, 0x8)),
     store(1, 3, gpa_end(0, -2), 0xbeef), load(2, 0, gpa_end(0, -2)),
     store(3, 0, gpa_in(1, 0x10), 7), load(2, 1, gpa_in(1, 0x11)),
     load(0, 4, gpa_in(0, 0)), store(9, 0, gpa_in(0, 0), 1), check_all())
seed("le-helpers", 0, 0,
     region_new(RSIZE_PAGE), add(0, place_anchor(0)),
     op("OP_LE", 5, gpa_in(0, 0x10), le(0x0102030405060708, 8)),
     op("OP_LE", 2, gpa_in(0, 0x10), [0] * 8),
     op("OP_LE", 3, gpa_end(0, -1), le(0xffff, 8)), check_all())
seed("copy-overlap", 1, 0,
     region_new(rsize_pages(3)), add(0, place_anchor(0)),
     write(gpa_in(0, 0), len_pages(2)),
     copy_near(gpa_in(0, 0x100), 0x80, len_u16(0x1000)),
     copy_near(gpa_in(0, 0x100), -0x80 & 0xffff, len_u16(0x1000)), check_all())
seed("map-unmap", 0, 0,
     region_new(rsize_pages(2)), region_new(RSIZE_PAGE), add(0, place_anchor(0)),
     add(1, place_after(0)),
     op("OP_MAP", gpa_in(0, 0x1f00), len_pages(2), 3, 32),
     op("OP_MAP", gpa_in(0, 0x1f00), len_u8(64), 1),
     op("OP_UNMAP", 0, 0), op("OP_UNMAP", 2, 0), op("OP_UNMAP", 3, 2),
     op("OP_MAP", gpa_in(1, 0), len_small(8), 2, 8), remove_exact(1),
     op("OP_UNMAP", 0, 0), check_all())
seed("map-left-open", 2, 0,
     region_new(rsize_pages(1)), add(0, place_anchor(0x2000)),
     op("OP_MAP", gpa_in(0, 0x10), len_u8(32), 3, 16), remove_exact(0, 0), check_all())
seed("iovec-host-address", 1, 0,
     region_new(RSIZE_PAGE), region_raw_own(rsize_pages(1)), region_new(rsize_odd(1, 0)),
     add(0, place_anchor(0)), add(1, place_after(0)), add(2, place_after(1)),
     op("OP_IOVEC", gpa_in(0, 0x800), len_u16(0x2000), 2),
     op("OP_IOVEC", gpa_in(0, 0x800), len_u16(0x2000), 0),
     op("OP_IOVEC", gpa_in(0, 0x800), len_u16(0x3000), 0x45, 8),
     op("OP_HOST_ADDRESS", gpa_in(1, 0x10), len_u8(16), 1, 1, 8),
     op("OP_HOST_ADDRESS", gpa_in(1, 0xff0), len_u8(32), 1),
     op("OP_HOST_ADDRESS", gpa_in(1, 0xff0), len_u8(32), 0),
     op("OP_DIRTY_START", 1), op("OP_DIRTY_MARK", gpa_in(1, 0x10), len_small(8)),
     op("OP_DIRTY_TEST", gpa_in(1, 0)), check_all())
seed("fdio", 0, 0,
     region_new(rsize_pages(2)), region_raw_own(rsize_pages(1)),
     add(0, place_anchor(0)), add(1, place_after(0)), op("OP_DIRTY_START", 0),
     op("OP_FDIO", 1, 0, gpa_in(0, 0x100), len_u16(0x2800), 2, le(0x10, 2)),
     op("OP_FDIO", 3, 0, gpa_in(0, 0x200), len_u16(0x2800), 2, le(0x3000, 2)),
     op("OP_FDIO", 0, 1, gpa_in(0, 0), len_u16(0x100), 2, 0, 0),
     op("OP_FDIO", 2, 2, gpa_in(1, 0), len_u16(0x100), 2, 0, 0),
     op("OP_FDIO", 2, 1, gpa_in(1, 0), len_u16(0x100), 2, 0, 0),
     op("OP_FDIO", 0, 3, gpa_in(1, 0), len_zero(), 2, 0, 0),
     op("OP_FDIO", 2, 1, gpa_in(1, 0), len_zero(), 2, 0, 0),
     op("OP_FDIO", 1, 0, gpa_in(1, 0), len_u16(0x10), 0, 0),
     op("OP_FDIO", 1, 4, gpa_in(1, 0), len_u16(0x10), 2, 0, 0),
     op("OP_DIRTY_HARVEST", 1, gpa_anchor(0), len_pages(4)), check_all())
seed("dirty-log", 1, 0,
     region_new(rsize_odd(1, 0x80)), region_new(RSIZE_PAGE), add(0, place_anchor(0)),
     add(1, place_after(0)), op("OP_DIRTY_START", 1),
     write(gpa_end(0, -2), len_small(4)), store(0, 0, gpa_in(1, 0x800), 1),
     op("OP_DIRTY_TEST", gpa_in(0, 0x1040)), op("OP_DIRTY_TEST", gpa_in(1, 0xf00)),
     op("OP_DIRTY_HARVEST", 1, gpa_anchor(0), len_pages(3)),
     op("OP_DIRTY_HARVEST", 1, gpa_anchor(0), len_pages(3)),
     fill(gpa_in(0, 0), len_to_end(1), 3), op("OP_DIRTY_CLEAR", 0, gpa_in(0, 0x1000), len_small(1)),
     op("OP_DIRTY_HARVEST", 1, gpa_anchor(0x1000), len_small(1)),
     op("OP_DIRTY_HARVEST", 0, gpa_in(0, 3), len_small(1)),
     op("OP_DIRTY_START", 0), remove_exact(1), op("OP_DIRTY_STOP"),
     op("OP_DIRTY_STOP"), op("OP_DIRTY_MARK", gpa_in(0, 0), len_small(1)), check_all())
seed("dirty-huge-pages", 0, 0,
     region_new(rsize_pages(4)), add(0, place_top(1)), op("OP_DIRTY_START", 6),
     write(gpa_top(0x3000), len_small(16)),
     op("OP_DIRTY_HARVEST", 1, gpa_raw(2**64 - 2**31), len_u16(0)),
     op("OP_DIRTY_HARVEST", 1, gpa_raw(2**64 - 2**30), len_to_top()),
     op("OP_DIRTY_START", 12), check_all())
seed("hotplug", 0, 0,
     region_new(RSIZE_PAGE), region_new(rsize_pages(2)), region_raw_own(RSIZE_PAGE),
     add(0, place_anchor(0x4000)), add(1, place_before(0)), add(2, place_after(0)),
     add(0, place_anchor(0x4000)), op("OP_FIND", gpa_in(1, 0x10), 0),
     op("OP_FIND", gpa_end(2), 0), op("OP_FOREACH", 1, 1, 5, 0),
     op("OP_FOREACH", 2, 0, 0, 1), remove_exact(0), op("OP_REMOVE", 3, 0, 0),
     op("OP_REMOVE", 4, 1, 0, 1), op("OP_REMOVE", 5, 0, 0),
     op("OP_REGION_REF", 0, 1), op("OP_REGION_REF", 0, 0),
     space_query(gpa_anchor(0x2000), len_pages(2)), check_all())
seed("region-options", 0, 0,
     *[region_new(RSIZE_PAGE, v) for v in range(15)],
     op("OP_REGION_RAW", 4, RSIZE_PAGE), op("OP_REGION_RAW", 5, RSIZE_PAGE),
     op("OP_REGION_RAW", 6, RSIZE_PAGE), op("OP_REGION_RAW", 7, RSIZE_PAGE))
seed("fd-region-errors", 0, 0,
     *[region_fd(RSIZE_PAGE, 3, v) for v in range(2, 6)],
     region_fd(RSIZE_16PAGES, 1), region_fd(RSIZE_PAGE, 16), check_all())
seed("null-args", 0, 0, *[op("OP_NULL_ARGS", k) for k in range(48)])
# Setup byte 3 + 4 * v: vmmem_new_from_ranges() with opts NULL (v 0),
# VMMEM_REGION_SHAREABLE (1), no flag (2) or VMMEM_REGION_FD (3, refused);
# then the count - 1, and for each range its size, its GPA and its kind (0
# anonymous, 2 over the shared file at a page offset, 3 an invalid offset,
# 7 a closed fd).
seed("from-ranges", 0, 3 | 4, 2, RSIZE_PAGE, place_anchor(0), 0, rsize_pages(2),
     place_anchor(0x10000), 0, RSIZE_PAGE, place_top(), 0,
     write(gpa_in(0, 0), len_u8(8)), op("OP_REGION_QUERY", 0), check_all())
seed("from-ranges-overlap", 0, 3, 1, rsize_pages(2), place_anchor(0x1000), 0, RSIZE_PAGE,
     place_anchor(0x2000), 0, check_all())
seed("from-ranges-wrap", 0, 3, 0, rsize_pages(2), place_wrap(), 0, check_all())
seed("from-ranges-fd", 1, 3 | 8, 1, rsize_pages(2), place_anchor(0), 2, 1, RSIZE_PAGE,
     place_anchor(0x2000), 2, 2, write(gpa_in(0, 0x1ff0), len_u8(32)),
     read(gpa_in(1, 0), len_u8(32)), op("OP_DISCARD", 0, 0, 1, 1), check_all())
seed("from-ranges-errors", 0, 3 | 12, 2, RSIZE_PAGE, place_anchor(0), 3, RSIZE_PAGE,
     place_anchor(0x8000), 7, RSIZE_16PAGES, place_anchor(0x10000), 2, 8, check_all())
seed("from-ranges-shareable-fd", 0, 3 | 4, 0, RSIZE_PAGE, place_anchor(0), 2, 0, check_all())


def iommu_new(max_idx, handler=True, variant=0):
    return op("OP_IOMMU_NEW", (8 if handler else 0) | 1 | (variant << 4), max_idx)


def iommu_update(iova, size_mode, size_bytes, gpa_pl=0, gpa_page=0, perm=3):
    return op("OP_IOMMU_UPDATE", iova, size_mode, perm, size_bytes, gpa_pl, gpa_page)


IOMMU_BASE = [region_new(rsize_pages(4)), region_raw_arena(rsize_pages(2), 0x1000),
              add(0, place_anchor(0)), add(1, place_after(0))]
seed("iommu-basic", 0, 0, *IOMMU_BASE, iommu_new(0),
     iommu_update(iova_anchor(0xc0000000), 1, [1], 0, 1, 3),
     iommu_update(iova_anchor_plus(0xc0000000, 0x2000), 0, [], 1, 0, 1),
     op("OP_IOMMU_WRITE", iova_in(0, 0x1ff0), len_u8(32), 1),
     op("OP_IOMMU_READ", iova_in(0, 0x1ff0), len_u16(0x2000), 1),
     op("OP_IOMMU_READ_EXACT", iova_in(0, 0x100), len_small(8), 1, 0, 0),
     op("OP_IOMMU_WRITE_EXACT", iova_in(0, 0x100), len_small(8), 1, 0, 0),
     op("OP_IOMMU_WRITE_EXACT", iova_in(0, 0x1ff8), len_small(16), 1, 0, 0),
     op("OP_IOMMU_FILL", iova_entry(0), len_pages(2), le(0x142, 2)),
     op("OP_IOMMU_LOAD", 3, 3, iova_in(0, 8), [0] * 8, 1),
     op("OP_IOMMU_STORE", 2, 4, iova_in(0, 12), le(0xdeadbeef, 8)),
     op("OP_IOMMU_IOVEC", iova_in(0, 0x800), len_u16(0x2000), 4, 1),
     op("OP_IOMMU_MAP", iova_in(0, 0x1800), len_u16(0x2000), 3, 16),
     op("OP_IOMMU_UNMAP", 0, 0),
     op("OP_IOMMU_FDIO", 1, 0, iova_in(0, 0x10), len_u16(0x100), 2, 0, 0),
     op("OP_IOMMU_FDIO", 3, 0, iova_in(0, 0x10), len_u16(0x100), 2, 0, 0),
     op("OP_IOMMU_READ", iova_anchor(0x1000), len_small(8), 1), check_all())
seed("iommu-invalidate-evict", 1, 0, *IOMMU_BASE, iommu_new(2),
     iommu_update(iova_anchor(0x10000), 1, [3], 0, 0, 3),
     op("OP_IOMMU_INVALIDATE", iova_in(0, 0x1000), 0),
     iommu_update(iova_anchor(0x1000), 0, [], 0, 2, 1),
     op("OP_IOMMU_READ", iova_anchor(0x10000), len_pages(4), 1),
     op("OP_IOMMU_INVALIDATE", iova_anchor(0), 3),
     op("OP_IOMMU_INVALIDATE", iova_anchor(0), 2),
     op("OP_IOMMU_INVALIDATE_ALL"), check_all())
seed("iommu-handler", 0, 0, *IOMMU_BASE, iommu_new(0),
     op("OP_IOMMU_HANDLER", 1 | (2 << 1), gpa_anchor(0x1000)),
     op("OP_IOMMU_READ_EXACT", iova_anchor(0xc0000000), len_small(16), 1, 0, 0),
     op("OP_IOMMU_READ_EXACT", iova_anchor(0xc0000000), len_small(16), 1, 0, 0),
     op("OP_IOMMU_WRITE", iova_anchor(0xc0000000), len_small(16), 1),
     op("OP_IOMMU_LOAD", 1, 3, iova_anchor(0xc0000000), [0] * 8, 1),
     op("OP_IOMMU_MAP", iova_anchor(0xc0000000), len_small(16), 2, 0),
     op("OP_IOMMU_FREE"), check_all())
seed("iommu-options", 0, 0, *IOMMU_BASE, *[iommu_new(9, True, v) for v in range(1, 6)],
     iommu_new(8, False), op("OP_IOMMU_FREE"), iommu_new(1, True, 4), check_all())
seed("iommu-top", 0, 0, region_new(rsize_pages(2)), add(0, place_top()), iommu_new(0),
     iommu_update(iova_anchor(2**64 - 0x2000), 3, [], 0, 0, 3),
     op("OP_IOMMU_READ", iova_anchor(2**64 - 0x1000), len_to_top(), 1),
     op("OP_IOMMU_FILL", iova_anchor(2**64 - 0x2000), len_wrap(), le(0x100, 2)),
     op("OP_IOMMU_FILL", iova_anchor(2**64 - 0x2000), len_to_top(), le(0x1ff, 2)),
     op("OP_IOMMU_STORE", 3, 0, iova_anchor(2**64 - 0x1000), le(1, 8)),
     check_all())
seed("dirty-iommu-map", 2, 0, *IOMMU_BASE, op("OP_DIRTY_START", 1), iommu_new(0),
     iommu_update(iova_anchor(0x2000), 1, [2], 1, 0, 3),
     op("OP_IOMMU_MAP", iova_in(0, 0x10), len_u8(64), 2, 20),
     op("OP_IOMMU_UNMAP", 0, 0), op("OP_IOMMU_WRITE", iova_in(0, 0xff0), len_u8(40), 1),
     op("OP_DIRTY_HARVEST", 1, gpa_anchor(0), len_pages(8)), check_all())
seed("empty", 0, 0)
seed("empty-ranges", 3, 2)


# Regions mapped on demand (op_region_lazy()): a flags byte (read-only,
# how a refused page fails, the map cache or per access, whether grants
# follow), the pages - 1, the index
# of the cache bound, then for the grants the pages not granted and those
# granted read-only, each as pick_pages() reads them.
LZ_BOUNDS = [16, 17, 24, 32, 48, 1, 4, 0]
LZ_EINVAL, LZ_ENOMEM, LZ_UNTOUCHED, LZ_ZERO = range(4)


def lz_pages(*pages):            # pick_pages(): none, one or two pages
    return [len(pages)] + list(pages)


def lz_bits(bits):               # pick_pages(): any pages (a & b)
    return [3] + le(bits, 8) + le(bits, 8)


def region_lazy(pages, bound=16, readonly=False, nerr=LZ_EINVAL,
                not_granted=None, ro_granted=None, cache=False):
    grants = not_granted is not None or ro_granted is not None
    v = (1 if readonly else 0) | (nerr << 2) | (0x20 if cache else 0) | \
        (0x40 if grants else 0)
    out = [v, pages - 1, LZ_BOUNDS.index(bound)]
    if grants:
        out += (not_granted or lz_pages()) + (ro_granted or lz_pages())
    return op("OP_REGION_LAZY", out)


def region_lazy_bad(pages, minus=None):   # size 0, or pages * 4 KiB - 1 - minus
    if minus is None:
        return op("OP_REGION_LAZY", 0x87, pages - 1, 0)
    return op("OP_REGION_LAZY", 7, pages - 1, 0, minus)


def lazy_invalidate(lazy_idx, not_granted=None, ro_granted=None):
    if not_granted is None and ro_granted is None:
        return op("OP_LAZY_INVALIDATE", lazy_idx, 0)
    return op("OP_LAZY_INVALIDATE", lazy_idx, 1, not_granted or lz_pages(),
              ro_granted or lz_pages())


def map_(g, n, flags, written=None):  # OP_MAP: flags 1 read, 2 write, 3 both
    # the bytes written through a writable mapping, if the map succeeds
    return op("OP_MAP", g, n, flags, [] if written is None else [written])


B16 = 16 * P                      # a bucket of the map cache
seed("lazy-basic", 0, 0,
     region_lazy(20), add(0, place_anchor(0x10000)),
     write(gpa_in(0, B16 - 0x10), len_u8(64)), read(gpa_in(0, B16 - 0x100), len_u16(0x2000)),
     read_exact(gpa_in(0, 0), len_to_end(0)), write_exact(gpa_in(0, 0x3ffc), len_small(8)),
     map_(gpa_in(0, 0xf000), len_pages(4), 3, 24), map_(gpa_in(0, 0xf000), len_pages(4), 1),
     op("OP_UNMAP", 0, 0), op("OP_UNMAP", 0, 0),
     op("OP_HOST_ADDRESS", gpa_in(0, 0x10), len_u8(16), 1),
     op("OP_IOVEC", gpa_in(0, 0), len_u8(16), 2), op("OP_REGION_QUERY", 0),
     store(3, 0, gpa_in(0, 0x2008), 0x1122334455667788), load(3, 2, gpa_in(0, 0x2008)),
     op("OP_LE", 5, gpa_in(0, B16 - 4), le(0x0102030405060708, 8)),
     fill(gpa_in(0, 0x3000), len_pages(2), 0x11),
     copy_near(gpa_in(0, 0x100), 0x80, len_u16(0x3000)),
     copy_near(gpa_in(0, 0x100), -0x80 & 0xffff, len_u16(0x3000)),
     op("OP_DISCARD", 0, 0, 0, 1), check_all())
seed("lazy-not-granted", 1, 0,
     region_lazy(24, 17, nerr=LZ_EINVAL, not_granted=lz_pages(5), ro_granted=lz_pages(9)),
     region_new(rsize_pages(2)), add(0, place_anchor(0x10000)), add(1, place_after(0)),
     read(gpa_in(0, 0x3800), len_u16(0x3000)), read(gpa_in(0, 0x5000), len_small(8)),
     write(gpa_in(0, 0x8000), len_u16(0x2000)), write(gpa_in(0, 0x9000), len_small(8)),
     read(gpa_in(0, 0x9000), len_small(8)),
     write_exact(gpa_in(0, 0x4ff0), len_small(24)), read_exact(gpa_in(0, 0x4ff0), len_small(24)),
     fill(gpa_in(0, 0x4000), len_pages(2), 0x22),
     map_(gpa_in(0, 0x3000), len_pages(4), 1), map_(gpa_in(0, 0x5000), len_pages(1), 1),
     map_(gpa_in(0, 0x8800), len_pages(2), 2, 8),
     load(2, 0, gpa_in(0, 0x5004)), store(2, 0, gpa_in(0, 0x9004), 7),
     op("OP_FDIO", 1, 0, gpa_in(0, 0x3000), len_u16(0x3000), 2, le(0x10, 2)),
     op("OP_FDIO", 3, 0, gpa_in(0, 0x3000), len_u16(0x3000), 2, le(0x10, 2)),
     copy(gpa_in(0, 0x4800), gpa_in(1, 0), len_u16(0x1000)),
     copy(gpa_in(1, 0), gpa_in(0, 0x4800), len_u16(0x1000)),
     lazy_invalidate(0, lz_pages(), lz_pages(20)),
     read(gpa_in(0, 0x3800), len_u16(0x3000)), write(gpa_raw(0x10000 + B16 - 0x10), len_u16(0x2000)),
     lazy_invalidate(0), check_all())
seed("lazy-errors", 0, 0,
     region_lazy_bad(2), region_lazy_bad(3, 0), region_lazy_bad(1, 254),
     region_lazy(4, 4, nerr=LZ_ENOMEM, not_granted=lz_pages(0), cache=True),
     region_lazy(4, 0, nerr=LZ_UNTOUCHED, not_granted=lz_pages(1, 3)),
     region_lazy(4, 1, nerr=LZ_ZERO, not_granted=lz_bits(0xa)),
     add(0, place_anchor(0)), add(1, place_after(0)), add(2, place_after(1)),
     read(gpa_in(0, 0), len_small(8)), read(gpa_in(1, 0x1000), len_small(8)),
     read(gpa_in(2, 0x1000), len_small(8)), read(gpa_in(0, 0x3000), len_pages(5)),
     write_exact(gpa_in(1, 0), len_pages(3)), fill(gpa_in(2, 0), len_pages(2), 3),
     op("OP_REGION_QUERY", 1), check_all())
seed("lazy-readonly", 2, 0,
     region_lazy(8, 4, readonly=True), region_new(rsize_pages(2)),
     add(0, place_anchor(0x10000)), add(1, place_before(0)),
     write(gpa_in(0, 0x1ff0), len_u8(64)), write(gpa_in(1, 0), len_u8(16)),
     write_exact(gpa_in(0, 0x1ff0), len_u8(64)), fill(gpa_in(1, 0), len_small(8), 1),
     copy(gpa_in(1, 0), gpa_in(0, 0), len_u8(100)),
     copy(gpa_in(0, 0x100), gpa_in(1, 0x10), len_u16(0x1200)),
     map_(gpa_in(1, 0x10), len_pages(9), 1), map_(gpa_in(1, 0x10), len_pages(1), 2),
     store(2, 0, gpa_in(1, 0x8), 1), load(2, 0, gpa_in(1, 0x8)),
     op("OP_LE", 4, gpa_in(1, 0x10), le(0xffff, 8)), op("OP_LE", 1, gpa_in(1, 0x10), [0] * 8),
     op("OP_FDIO", 1, 0, gpa_in(1, 0), len_u16(0x100), 2, le(0x10, 2)),
     op("OP_FDIO", 3, 0, gpa_in(0, 0x1f00), len_u16(0x2000), 2, le(0x3000, 2)),
     op("OP_DISCARD", 0, 0, 0, 1), op("OP_REGION_QUERY", 0), check_all())
seed("lazy-evict-pinned", 0, 0,
     region_lazy(48, 1, cache=True), region_lazy(33, 0, cache=True),
     add(0, place_anchor(0x10000)),
     add(1, place_after(0)),
     map_(gpa_in(0, 0x100), len_pages(20), 3, 8), map_(gpa_raw(0x10000 + B16), len_pages(20), 1),
     map_(gpa_raw(0x40000 + 2 * B16 - 0x10), len_pages(3), 2, 16),
     read(gpa_in(0, 0), len_to_end(1)), lazy_invalidate(0), lazy_invalidate(1),
     write(gpa_in(0, 0x8000), len_pages(16)), map_(gpa_in(0, 0x100), len_pages(1), 1),
     op("OP_UNMAP", 0, 0), op("OP_REGION_QUERY", 0), remove_exact(0, 0),
     read(gpa_in(0, 0), len_pages(3)), check_all())
seed("lazy-alias-copy", 1, 0,
     region_lazy(17, 24), region_lazy(6, 16, not_granted=lz_pages(4)), region_new(rsize_pages(3)),
     add(0, place_anchor(0)), add(0, place_after(0)), add(1, place_after(1)),
     add(2, place_after(2)),
     write(gpa_in(0, 0), len_u16(0x3000)),
     copy(gpa_in(1, 0x10), gpa_in(0, 0), len_u16(0x2100)),
     copy_near(gpa_in(0, 0xf000), 0x1800, len_u16(0x2000)),
     copy_near(gpa_in(0, 0xf800), -0x1800 & 0xffff, len_u16(0x2000)),
     copy(gpa_in(2, 0x3000), gpa_in(3, 0), len_u16(0x2000)),
     copy(gpa_in(3, 0), gpa_in(2, 0x2800), len_u16(0x3000)),
     copy(gpa_in(2, 0), gpa_in(1, 0), len_u16(0x6000)), check_all())
seed("lazy-dirty-fdio", 0, 0,
     region_lazy(40, 16), region_new(rsize_pages(1)), add(0, place_anchor(0x10000)),
     add(1, place_after(0)), op("OP_DIRTY_START", 1),
     op("OP_FDIO", 1, 0, gpa_in(0, 0x100), len_pages(9), 2, le(0x10, 2)),
     op("OP_FDIO", 3, 0, gpa_in(0, 0x200), len_pages(30), 2, le(0x8000, 2)),
     op("OP_FDIO", 0, 0, gpa_raw(0x10000 + 0x27000), len_u16(0x3000), 2, 0, 0),
     map_(gpa_raw(0x10000 + 0x1f000), len_pages(2), 2, 40), op("OP_UNMAP", 0, 0),
     store(0, 0, gpa_raw(0x10000 + 0x24000), 1), fill(gpa_in(0, 0xfff0), len_small(24), 9),
     op("OP_DIRTY_HARVEST", 1, gpa_anchor(0x10000), len_pages(44)),
     op("OP_DIRTY_MARK", gpa_in(0, 0x10), len_small(8)),
     op("OP_DIRTY_TEST", gpa_in(0, 0)), check_all())
seed("lazy-iommu", 0, 0,
     region_lazy(20, 16, not_granted=lz_pages(18)), region_new(rsize_pages(2)),
     add(0, place_anchor(0)), add(1, place_after(0)), iommu_new(0),
     iommu_update(iova_anchor(0xc0000000), 1, [7], 0, 1, 3),
     iommu_update(iova_anchor_plus(0xc0000000, 0x8000), 0, [], 1, 0, 3),
     op("OP_IOMMU_UPDATE", iova_anchor(1 << 32), 1 | 0x80, 3, 3, gpa_raw(0xf000)),
     op("OP_IOMMU_READ", iova_in(0, 0x100), len_pages(9), 1),
     op("OP_IOMMU_WRITE", iova_in(0, 0x7f00), len_u16(0x200), 1),
     op("OP_IOMMU_WRITE", iova_entry(2), len_pages(4), 1),
     op("OP_IOMMU_WRITE_EXACT", iova_in(0, 0x7ff8), len_small(16), 1, 0, 0),
     op("OP_IOMMU_READ_EXACT", iova_entry(2), len_pages(4), 1, 0, 0),
     op("OP_IOMMU_FILL", iova_entry(0), len_pages(9), le(0x142, 2)),
     op("OP_IOMMU_FILL", iova_entry(2), len_pages(4), le(0x143, 2)),
     op("OP_IOMMU_LOAD", 3, 3, iova_in(0, 8), [0] * 8, 1),
     op("OP_IOMMU_STORE", 2, 4, iova_in(2, 0x2004), le(0xdeadbeef, 8)),
     op("OP_IOMMU_IOVEC", iova_in(0, 0x800), len_u16(0x2000), 4, 1),
     op("OP_IOMMU_MAP", iova_in(2, 0x800), len_u16(0x2000), 3, 16),
     op("OP_IOMMU_MAP", iova_in(2, 0x2800), len_u16(0x100), 1),
     op("OP_IOMMU_UNMAP", 0, 0),
     op("OP_IOMMU_FDIO", 1, 0, iova_in(0, 0x10), len_u16(0x8000), 2, 0, 0),
     op("OP_IOMMU_FDIO", 3, 0, iova_in(2, 0x10), len_u16(0x3000), 2, 0, 0),
     check_all())


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    os.makedirs(out, exist_ok=True)
    # Inputs kept from findings (regress-*) stay; the generated ones are
    # written afresh.
    for f in os.listdir(out):
        if not f.startswith("regress-"):
            os.unlink(os.path.join(out, f))
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds written to {out}")


if __name__ == "__main__":
    main()
