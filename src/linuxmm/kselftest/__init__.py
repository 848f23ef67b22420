"""The kernel's own mm selftests (``tools/testing/selftests/mm`` of Linux 6.18), run on the
simulator through the ``Process`` API: ``linuxmm selftest``.

Each ported program is a module here named after its C file (``map_fixed_noreplace.c`` ->
``map_fixed_noreplace``, ``transhuge-stress.c`` would be ``transhuge_stress``), holding one
``test_NAME`` function per test case of the C file; ``ksft`` is the framework they run on
(``kselftest.h`` and ``kselftest_harness.h`` reduced to what they need) and prints TAP as
the C programs do. ``PORTED`` lists them by program name; ``CATALOG`` lists every ``.c``
file of the 6.18 directory (and ``cgroup/test_memcontrol.c``) with its status: ported,
waiting for a feature the simulator lacks (which), out of scope (why), or a helper that
holds no test. ``docs/kselftests.md`` is generated from both by ``docs/make_kselftests.py``.
"""

from __future__ import annotations

from . import (cow, droppable, guard_regions, gup_longterm, gup_test, khugepaged, madv_populate, map_fixed_noreplace, map_populate, mdwe_test,
               merge, mkdirty, mlock2_tests, mlock_random_test, mrelease_test, mremap_dontunmap, mremap_test, mseal_test,
               on_fault_limit, prctl_thp_disable, process_madv, soft_dirty, split_huge_page_test, test_memcontrol,
               transhuge_stress, va_high_addr_switch, virtual_address_range)

PORTED = {"cow": cow, "droppable": droppable, "guard-regions": guard_regions, "gup_longterm": gup_longterm,
          "gup_test": gup_test, "khugepaged": khugepaged,
          "madv_populate": madv_populate, "map_fixed_noreplace": map_fixed_noreplace,
          "map_populate": map_populate, "mdwe_test": mdwe_test, "mrelease_test": mrelease_test, "merge": merge,
          "mkdirty": mkdirty,
          "mlock-random-test": mlock_random_test, "mlock2-tests": mlock2_tests,
          "mremap_dontunmap": mremap_dontunmap, "mremap_test": mremap_test, "mseal_test": mseal_test,
          "on-fault-limit": on_fault_limit, "prctl_thp_disable": prctl_thp_disable,
          "process_madv": process_madv, "soft-dirty": soft_dirty,
          "split_huge_page_test": split_huge_page_test,
          "test_memcontrol": test_memcontrol, "transhuge-stress": transhuge_stress,
          "va_high_addr_switch": va_high_addr_switch, "virtual_address_range": virtual_address_range}

PORTED_STATUS, WAITING, OUT_OF_SCOPE, HELPER = "ported", "waiting", "out of scope", "helper"

HUGETLB = "hugetlbfs and hugetlb pages (vm.nr_hugepages, MAP_HUGETLB)"
UFFD = "userfaultfd"

# Every .c file of tools/testing/selftests/mm in Linux 6.18 (the programs of its Makefile's
# TEST_GEN_FILES and the helpers they link), with cgroup/test_memcontrol.c. Ported programs
# carry what they leave out in their module's docstring.
CATALOG = [
    ("compaction_test.c", WAITING, "memory compaction (/proc/sys/vm/compact_memory) and " + HUGETLB),
    ("cow.c", PORTED_STATUS, "the anonymous fork/COW and R/O GUP pin cases on base pages and PMD THPs, the "
                             "non-anonymous Basic COW and R/O pin cases (shared zeropage, memfd, tmpfile, huge "
                             "zeropage), the vmsplice cases (FOLL_GET references through a pipe) and the io_uring "
                             "fixed-buffer cases (R/O-mapped, fork) on the same anonymous pages, and the anonymous "
                             "THP collapse cases; not the hugetlb cases"),
    ("droppable.c", PORTED_STATUS, "all (the child's allocations and the parent's scans take turns)"),
    ("guard-regions.c", PORTED_STATUS, "all, on the anon, shmem (memfd) and file variants (uffd skips: no "
                                       "userfaultfd; memfd_write_seal skips on shmem: no fcntl(F_ADD_SEALS))"),
    ("gup_longterm.c", PORTED_STATUS, "the gup_test pin and io_uring fixed-buffer cases on a memfd, a tmpfile "
                                      "and a local tmpfile (ext4); no hugetlb sizes: no memfd-hugetlb runs"),
    ("gup_test.c", PORTED_STATUS, "the runs run_vmtests.sh makes by default (-u and -a, 1 and all pages a "
                               "call; -ct -F 0x1 0 19 0x1000: dump_page of THP pages to the kernel log, without "
                               "the raw struct page hex lines); not the -a matrix"),
    ("hmm-tests.c", OUT_OF_SCOPE, "HMM test device (test_hmm module, device memory)"),
    ("hugepage-mmap.c", WAITING, HUGETLB),
    ("hugepage-mremap.c", WAITING, HUGETLB + " and userfaultfd"),
    ("hugepage-shm.c", WAITING, HUGETLB + " and SysV shared memory"),
    ("hugepage-vmemmap.c", WAITING, HUGETLB),
    ("hugetlb-madvise.c", WAITING, HUGETLB),
    ("hugetlb-read-hwpoison.c", OUT_OF_SCOPE, "hardware memory poisoning (hwpoison)"),
    ("hugetlb-soft-offline.c", OUT_OF_SCOPE, "memory failure handling (soft offline)"),
    ("hugetlb_dio.c", WAITING, HUGETLB + " and O_DIRECT file I/O"),
    ("hugetlb_fault_after_madv.c", WAITING, HUGETLB + " and threads"),
    ("hugetlb_madv_vs_map.c", WAITING, HUGETLB + " and threads"),
    ("khugepaged.c", PORTED_STATUS, "the anon and shmem cases of both contexts (khugepaged, MADV_COLLAPSE), "
                                    "as run_vmtests.sh runs `khugepaged` and `khugepaged all:shmem` (one run here, "
                                    "alloc_at_fault once); the khugepaged:shmem checks are XFAIL: the THP is in "
                                    "the page cache, but 6.18's do_set_pmd maps no PMD in the VM_NOHUGEPAGE range "
                                    "the test refaults (the C program prints Fail); the file "
                                    "cases skip (CONFIG_READ_ONLY_THP_FOR_FS is not set, as on the development "
                                    "host), collapse_compound_extreme skips (its 512 THP allocations need "
                                    "compaction); the `-s` runs are not ported"),
    ("ksm_functional_tests.c", WAITING, "KSM (kernel samepage merging)"),
    ("ksm_tests.c", WAITING, "KSM (kernel samepage merging)"),
    ("madv_populate.c", PORTED_STATUS, "all"),
    ("map_fixed_noreplace.c", PORTED_STATUS, "all"),
    ("map_hugetlb.c", WAITING, HUGETLB),
    ("map_populate.c", PORTED_STATUS, "all (the low byte of each stored value: memory keeps one byte per line)"),
    ("mdwe_test.c", PORTED_STATUS, "all (arm64_BTI skips off arm64, as in the C program)"),
    ("memfd_secret.c", OUT_OF_SCOPE, "memfd_secret (pages removed from the kernel's direct map)"),
    ("merge.c", PORTED_STATUS, "all; the uprobe and KSM cases skip where the C program skips"),
    ("migration.c", WAITING, "page migration (move_pages, NUMA policies) racing threads"),
    ("mkdirty.c", PORTED_STATUS, "the ptrace (/proc/self/mem FOLL_FORCE) writes, 4 KiB and THP, and the "
                                 "PTE-mapped THP; page migration (mbind) and UFFDIO_COPY skip: not simulated"),
    ("mlock-random-test.c", PORTED_STATUS, "all (a seeded generator instead of srand(time))"),
    ("mlock2-tests.c", PORTED_STATUS, "all"),
    ("mrelease_test.c", PORTED_STATUS, "all (the first reap succeeds: a simulated child cannot exit early)"),
    ("mremap_dontunmap.c", PORTED_STATUS, "all"),
    ("mremap_test.c", PORTED_STATUS, "all but the userfaultfd case (and the 1 GiB timing cases, which "
                                     "the C program runs only with -t 0)"),
    ("mseal_test.c", PORTED_STATUS, "all but the protection-key case (no PKU)"),
    ("on-fault-limit.c", PORTED_STATUS, "all"),
    ("page_frag/page_frag_test.c", OUT_OF_SCOPE, "a kernel module exercising the page_frag allocator"),
    ("pagemap_ioctl.c", OUT_OF_SCOPE, UFFD + ": without it the 6.18 program passes at once with no test "
                                      "(init_uffd fails: ksft_exit_pass), and every case runs on ranges it "
                                      "write-protects (UFFD_FEATURE_WP_ASYNC). The PAGEMAP_SCAN ioctl itself is "
                                      "simulated (p.pagemap_scan, compared with this host's 6.18 in "
                                      "tests/test_pagemap.py; guard-regions' pagemap_scan case uses it)"),
    ("pfnmap.c", OUT_OF_SCOPE, "PFN mappings of /dev/mem"),
    ("pkey_sighandler_tests.c", OUT_OF_SCOPE, "protection keys hardware (PKU)"),
    ("pkey_util.c", HELPER, "protection-key helpers"),
    ("prctl_thp_disable.c", PORTED_STATUS, "all"),
    ("process_madv.c", PORTED_STATUS, "all"),
    ("protection_keys.c", OUT_OF_SCOPE, "protection keys hardware (PKU)"),
    ("rmap.c", WAITING, "page migration (move_pages) and KSM checked through the rmap"),
    ("soft-dirty.c", PORTED_STATUS, "all; 100 iterations instead of 10000"),
    ("split_huge_page_test.c", PORTED_STATUS, "all: anonymous THPs (zero-filled, PMD-mapped to each order, "
                                              "PTE-mapped), a huge=always tmpfs file's THP (mounted at boot: no "
                                              "mount(2)) and PMD-mapped ext4 page-cache THPs split to each order, "
                                              "uniformly and around in-folio offsets"),
    ("thp_settings.c", HELPER, "reads and writes /sys/kernel/mm/transparent_hugepage"),
    ("thuge-gen.c", WAITING, HUGETLB + " of several sizes and SysV shared memory"),
    ("transhuge-stress.c", PORTED_STATUS, "bounded: 2 loops over 64 MiB instead of -d 20 seconds over RAM"),
    ("uffd-common.c", HELPER, "userfaultfd helpers"),
    ("uffd-stress.c", OUT_OF_SCOPE, UFFD + " (user-space fault handling)"),
    ("uffd-unit-tests.c", OUT_OF_SCOPE, UFFD + " (user-space fault handling)"),
    ("uffd-wp-mremap.c", OUT_OF_SCOPE, UFFD + " write-protect"),
    ("va_high_addr_switch.c", PORTED_STATUS, "the base-page table on an LA57 machine (as va_high_addr_switch.sh "
                                             "runs it); not the --run-hugetlb table (hugetlbfs)"),
    ("virtual_address_range.c", PORTED_STATUS, "all, on a 4-level machine (the high-address loop ends at "
                                               "its first mmap, as on a real one); its ~131000 mmaps, "
                                               "prctls, faults and munmaps take about 40 s"),
    ("vm_util.c", HELPER, "pagemap, /proc and sysfs helpers"),
    ("write_to_hugetlbfs.c", WAITING, HUGETLB),
    ("../cgroup/test_memcontrol.c", PORTED_STATUS, "subtree_control (memory enabled or not in a parent's "
                                                   "cgroup.subtree_control), current_peak (memory.peak reset per open "
                                                   "file), min, low, high, high_sync (waiting on memory.events), "
                                                   "reclaim and the OOM cases (oom_events, "
                                                   "oom_group_leaf/parent/score_events); swap_max_peak skips without "
                                                   "swap, as on the host; the rest wait for slab charges (max) and "
                                                   "sockets (sock)"),
]


def program_name(c_file: str) -> str:
    """The program a catalog entry names: its file name without ``.c`` and directories."""
    return c_file.rsplit("/", 1)[-1].removesuffix(".c")
