"""mm/mm_init + arch/x86 boot against this development machine's real 6.18 boot log."""

from conftest import DATA, make_sysfs_root

from linuxmm import Machine
from linuxmm.sources import dmesg

SNAP = DATA / "host-linux-6.18"


def real_host_lines() -> list[str]:
    lines = dmesg.boot_lines((SNAP / "dmesg.txt").read_text())
    # The first `last_pfn = 0xc0000` comes before kvm-clock: a quirk of this PVM guest
    # kernel, not produced by mainline's x86 boot path (kernel-reference.md, section 0).
    quirk = lines.index("last_pfn = 0xc0000 max_arch_pfn = 0x400000000")
    assert quirk < lines.index("e820: update [mem 0x00000000-0x00000fff] usable ==> reserved")
    del lines[quirk]
    return lines


def test_host_snapshot_boot_lines_match(tmp_path):
    m = Machine.from_host(make_sysfs_root(tmp_path, SNAP))
    assert dmesg.boot_lines(m.dmesg()) == real_host_lines()


def test_host_zone_geometry(tmp_path):
    m = Machine.from_host(make_sysfs_root(tmp_path, SNAP))
    zones = {z.name: z for z in m.NODE_DATA(0).node_zones}
    # spanned / present / start_pfn as in the real /proc/zoneinfo
    assert (zones["DMA"].spanned_pages, zones["DMA"].present_pages, zones["DMA"].zone_start_pfn) == (4095, 3998, 1)
    assert (zones["DMA32"].spanned_pages, zones["DMA32"].present_pages) == (1044480, 782336)
    assert (zones["Normal"].spanned_pages, zones["Normal"].present_pages) == (5505024, 5505024)
    assert zones["Normal"].zone_start_pfn == 0x100000
    assert zones["Movable"].present_pages == 0 and zones["Device"].spanned_pages == 0
    assert m.kernel.vm_total_pages == 6291358


def test_host_boot_reservations_and_hashes(tmp_path):
    """The early reservations model against the real `Memory:` line and zone reserved pages.

    The real kernel reserved DMA 158 / DMA32 13211 / Normal 110758 pages (kernel-reference
    §4.1); the model gets the first MiB, kernel image, initrd, NODE_DATA, vmemmap, percpu and
    the two boot hashes, and misses about 20 small allocations it does not know about.
    """
    from linuxmm.sources import host

    desc = host.load(make_sysfs_root(tmp_path, SNAP))
    desc.initrd = (0xBF8C0000, 0xC0000000 - 0xBF8C0000)  # RAMDISK: [mem 0xbf8c0000-0xbfffffff]
    m = Machine(desc)
    real = (SNAP / "dmesg.txt").read_text()
    for prefix in ("RAMDISK:", "NODE_DATA(0) allocated", "Dentry cache hash table", "Inode-cache hash table"):
        line = next(ln for ln in m.dmesg().splitlines() if ln.startswith(prefix))
        assert line in real, line
    reserved = {z.name: z.present_pages - z.managed_pages for z in m.zones() if z.present_pages}
    assert reserved["DMA"] == 158
    assert 13211 - 5 <= reserved["DMA32"] <= 13211
    assert 110758 - 40 <= reserved["Normal"] <= 110758
    mem = next(ln for ln in m.dmesg().splitlines() if ln.startswith("Memory:"))
    assert "/25165432K available" in mem and "18478K kernel code" in mem
