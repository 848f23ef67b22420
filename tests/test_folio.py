"""Folio fields with one meaning each (mm/buddy.py MemMap, include/linux/page_flags.py) and
the rules debug.check states for them: compound heads, per-cpu list links, the per-node
LRU lists (``struct lruvec``) and the refcount rule. Each rule is broken on purpose once."""

import numpy as np
import pytest

from conftest import small_machine
from linuxmm import Machine, debug
from linuxmm.include.linux.mm_types import GUP_PIN_COUNTING_BIAS
from linuxmm.include.linux.memcontrol import MEMCG_NR_IDS, ROOT_MEM_CGROUP_ID
from linuxmm.include.linux.mmzone import LRU_ACTIVE_ANON, LRU_INACTIVE_ANON, NR_LRU_LISTS
from linuxmm.include.linux.page_flags import PG_active_mask, PG_lru_mask, PG_swapcache_mask
from linuxmm.include.linux.vmstat import NR_ISOLATED_ANON, NR_LRU_BASE
from linuxmm.mm import buddy as B
from linuxmm.mm.swap import lru_add_drain_all

MiB = 1 << 20


@pytest.fixture(scope="module")
def thp():
    """A process with one PMD-mapped THP and 4 KiB pages around it."""
    m = Machine(cmdline="transparent_hugepage=always")
    p = m.spawn()
    addr = p.mmap(4 * MiB)
    p.write(addr, 4 * MiB)
    return m, p, addr


def folio_heads(a):
    return np.nonzero((a.refcount > 0) & (a.order > 0) & (a.mapping & 1 == 1))[0]


def test_compound_pages_name_their_head(thp):
    m, p, addr = thp
    a = m.kernel.mem_map
    head = int(folio_heads(a)[0])
    assert a.order[head] == 9 and a.entire_mapcount[head] == 1 and debug.check(m) == []
    assert all(B.compound_head(a, head + i) == head for i in range(512))
    assert a.compound_head[head] == 0 and a.compound_head[head + 511] == head + 1
    a.compound_head[head + 7] = 0  # a tail that forgot its head
    assert any(f"pfn {head + 7:#x}: compound_head says head -0x1, but the folio at {head:#x}" in v
               for v in debug.check(m))
    a.compound_head[head + 7] = head + 1
    a.entire_mapcount[head] += 1
    assert any(f"folio {head:#x}: entire mapcount 2 but 1 PMDs map it" in v for v in debug.check(m))
    a.entire_mapcount[head] -= 1
    assert debug.check(m) == []


def test_freed_compound_page_forgets_its_tails(thp):
    m, _, _ = thp
    a = m.kernel.mem_map
    pfn = m.alloc_pages("GFP_KERNEL|__GFP_COMP", order=3)
    assert list(a.compound_head[pfn:pfn + 8]) == [0] + [pfn + 1] * 7
    m.free_pages(pfn, order=3)
    assert not a.compound_head[pfn:pfn + 8].any() and debug.check(m) == []


def test_pcp_links_belong_to_pages_on_pcp_lists():
    m = small_machine()
    p = m.spawn()
    addr = p.mmap(64 << 12)
    p.write(addr, 64 << 12)
    p.munmap(addr, 64 << 12)  # freed pages go to the per-cpu lists
    a = m.kernel.mem_map
    assert a.pcp_count.sum() > 0 and debug.check(m) == []
    assert not a.lru_next.any() and not a.lru_prev.any()  # pcp lists do not use the LRU links
    mapped = int(np.nonzero(a.refcount > 0)[0][-1])
    a.pcp_next[mapped] = 1
    assert any(f"pfn {mapped:#x}: pcp links 1/0 but on no per-cpu list" in v for v in debug.check(m))


def test_lru_lists_exist_per_node():
    """A folio's place is told three ways (PG_lru, a list's links, the NR_* counters), and
    debug.check compares them (tests/test_swap.py fills the lists)."""
    m = small_machine()
    a = m.kernel.mem_map
    nodes = len(m.nodes)
    assert a.lruvec_head.shape == a.lruvec_tail.shape == (MEMCG_NR_IDS, nodes, NR_LRU_LISTS)
    p = m.spawn()
    addr = p.mmap(4 << 12)
    p.write(addr, 4 << 12)
    lru_add_drain_all(m.kernel)
    assert debug.check(m) == []
    pfn = int(a.lruvec_head[ROOT_MEM_CGROUP_ID, 0, LRU_INACTIVE_ANON]) - 1
    a.flags[pfn] &= ~PG_lru_mask  # listed, but says it is not on a list
    assert any(f"pfn {pfn:#x}: PG_lru 0 but on LRU list" in v for v in debug.check(m))
    a.flags[pfn] |= PG_lru_mask | PG_active_mask  # an active folio on the inactive list
    assert any(f"memcg 1 node 0 LRU list {LRU_INACTIVE_ANON}: pfn {pfn:#x}" in v and "does not belong on it" in v
               for v in debug.check(m))
    a.flags[pfn] &= ~PG_active_mask
    a.node_stat[0, NR_LRU_BASE + LRU_ACTIVE_ANON] += 1
    assert any("NR_ACTIVE_ANON is 1 but its lists hold 0 pages" in v for v in debug.check(m))
    a.node_stat[0, NR_LRU_BASE + LRU_ACTIVE_ANON] -= 1
    a.node_stat[0, NR_ISOLATED_ANON] = 1
    assert any("1 anon pages left isolated from the LRU" in v for v in debug.check(m))


def test_refcount_rule_admits_swap_cache_and_pins():
    m = small_machine()
    p = m.spawn()
    addr = p.mmap(4 << 12)
    p.write(addr, 4 << 12)
    lru_add_drain_all(m.kernel)  # the lru_add batch's references go
    c = p.fork()  # each page mapped twice: two references
    a = m.kernel.mem_map
    pfn = int(np.nonzero((a.refcount > 0) & (a.mapping & 1 == 1))[0][0])
    assert a.refcount[pfn] == 2 and debug.check(m) == []
    a.pincount[pfn] = 1  # a FOLL_PIN pin without its references
    assert any(f"anon folio {pfn:#x}: refcount 2 but 2 page-table entries map it (and 1024" in v
               for v in debug.check(m))
    a.refcount[pfn] += GUP_PIN_COUNTING_BIAS  # try_grab_folio's bias on a small folio
    assert debug.check(m) == []
    a.flags[pfn] |= PG_swapcache_mask  # in the swap cache: one more reference
    assert any("PG_swapcache 1, pincount 1" in v for v in debug.check(m))
    a.refcount[pfn] += 1
    assert debug.check(m) == []
    c.exit()
