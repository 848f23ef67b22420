"""The helpers of ``vm_util.c`` (and ``mlock2.h``) of ``tools/testing/selftests/mm``, Linux
6.18, that the ported programs share: they read ``/proc/PID/smaps`` and ``/proc/PID/maps``
as text, as the C helpers do, so the ported checks see what a C program would see."""

from __future__ import annotations

PAGE_SIZE = 4096


def seek_to_smaps_entry(p, addr: int) -> list[str]:
    """The lines of the ``/proc/PID/smaps`` entry of the VMA holding ``addr`` ([] if none)."""
    entry, found = [], False
    for line in p.proc("smaps").splitlines():
        head = line.split(" ", 1)[0]
        if "-" in head and ":" not in head:  # a VMA's header line: start-end perms ...
            start, end = (int(x, 16) for x in head.split("-"))
            if found:
                break
            found = start <= addr < end
        if found:
            entry.append(line)
    return entry


def check_vmflag(p, addr: int, flag: str) -> bool:
    """The VMA holding ``addr`` shows ``flag`` (``lo``, ``sl``, ...) in its VmFlags."""
    for line in seek_to_smaps_entry(p, addr):
        if line.startswith("VmFlags:"):
            return flag in line.split()[1:]
    return False


def get_value_for_name(p, addr: int, name: str) -> int:
    """An smaps value in kB (``Size:``, ``Rss:``, ``Locked:``) of the VMA holding ``addr``,
    or -1 when it is missing (``get_value_for_name`` returns -1UL)."""
    for line in seek_to_smaps_entry(p, addr):
        if line.startswith(name):
            return int(line[len(name):].split()[0])
    return -1


def get_vm_area(p, addr: int) -> tuple[int, int] | None:
    """The start and end of the ``/proc/PID/maps`` line holding ``addr``."""
    for line in p.proc("maps").splitlines():
        start, end = (int(x, 16) for x in line.split(" ", 1)[0].split("-"))
        if start <= addr < end:
            return start, end
    return None


def get_vma_size(p, addr: int) -> tuple[int, str]:
    """The size and permissions of the maps line starting at ``addr`` (0, "" if none)."""
    for line in p.proc("maps").splitlines():
        fields = line.split()
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if start == addr:
            return end - start, fields[1]
    return 0, ""


def proc_status_value(p, name: str) -> int:
    """A ``/proc/PID/status`` value in kB (``VmLck``)."""
    for line in p.proc("status").splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {name} in /proc/PID/status")


def softdirty_supported(p) -> bool:
    """New mappings are marked VM_SOFTDIRTY (``sd``) when the kernel tracks soft-dirty."""
    addr = p.mmap(PAGE_SIZE)
    supported = check_vmflag(p, addr, "sd")
    p.munmap(addr, PAGE_SIZE)
    return supported


PM_SOFT_DIRTY, PM_MMAP_EXCLUSIVE, PM_FILE, PM_SWAP, PM_PRESENT = 1 << 55, 1 << 56, 1 << 61, 1 << 62, 1 << 63
PFN_MASK = (1 << 55) - 1


def pagemap_is_softdirty(p, addr: int) -> bool:
    return bool(p.pagemap(addr, 1)[0] & PM_SOFT_DIRTY)


def pagemap_is_populated(p, addr: int) -> bool:
    return bool(p.pagemap(addr, 1)[0] & (PM_PRESENT | PM_SWAP))


def pagemap_get_pfn(p, addr: int) -> int:
    """The PFN of a present page, -1 otherwise."""
    entry = p.pagemap(addr, 1)[0]
    return entry & PFN_MASK if entry & PM_PRESENT else -1


def clear_softdirty(p) -> None:
    """Write ``4`` to /proc/self/clear_refs."""
    p.proc("clear_refs", "4")


def check_huge_anon(p, addr: int, nr_hpages: int, hpage_size: int) -> bool:
    """The VMA holding ``addr`` has ``nr_hpages`` THPs (smaps AnonHugePages)."""
    return get_value_for_name(p, addr, "AnonHugePages:") == nr_hpages * (hpage_size >> 10)


def check_huge_shmem(p, addr: int, nr_hpages: int, hpage_size: int) -> bool:
    """The VMA holding ``addr`` maps ``nr_hpages`` shmem THPs by PMD (smaps ShmemPmdMapped)."""
    return get_value_for_name(p, addr, "ShmemPmdMapped:") == nr_hpages * (hpage_size >> 10)


def check_huge_file(p, addr: int, nr_hpages: int, hpage_size: int) -> bool:
    """The VMA holding ``addr`` maps ``nr_hpages`` page-cache THPs by PMD (smaps FilePmdMapped)."""
    return get_value_for_name(p, addr, "FilePmdMapped:") == nr_hpages * (hpage_size >> 10)
