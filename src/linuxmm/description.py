"""What a machine is before it boots: firmware map, NUMA layout, CPUs, command line, kernel.

A ``MachineDescription`` is the input of ``Machine``. It comes from a TOML file
(``sources.toml``), a real boot log (``sources.dmesg``), this host (``sources.host``) or a
preset (``presets``). Everything the kernel *derives* is left out; only what the firmware,
the bootloader and the kernel's build configuration decide is here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .arch import Arch, make_arch
from .errors import ConfigError
from .include.linux.blkdev import DiskSpec, MountSpec
from .kernel.version import DEFAULT_VERSION, KernelVersion

DEFAULT_DISK = "vda"  # this host's disk (virtio-blk)


@dataclass
class NumaNode:
    """One SRAT node: its memory ranges ``[start, end)`` (bytes) and its CPUs."""

    nid: int
    ranges: list[tuple[int, int]] = field(default_factory=list)
    cpus: list[int] = field(default_factory=list)
    hotplug: list[bool] = field(default_factory=list)  # per range: SRAT hot-pluggable flag


@dataclass
class MtrrState:
    """x86 MTRRs as ``mtrr_bp_init`` read them: default type and (base, size, type) ranges."""

    def_type: str = "uncachable"
    var_ranges: list[tuple[int, int, str]] = field(default_factory=list)
    tom2: int = 0  # AMD: RAM in [4 GiB, TOM2) is write-back without a variable range


@dataclass
class KernelConfig:
    """The Kconfig facts mm depends on, defaulted per architecture and version."""

    numa: bool = True
    zone_dma: bool = True
    zone_dma32: bool = True
    zone_device: bool = True
    highmem: bool = False
    cma: bool = False
    memory_isolation: bool = True
    sizeof_struct_page: int = 64
    sparsemem: bool = True  # FLATMEM otherwise (Debian's i386 kernels)
    NR_CPUS: int = 8192  # sizes the i386 fixmap (kmap slots, cpu_entry_area)
    vmalloc_reserve: int = 128 << 20  # i386 __VMALLOC_RESERVE (some distributions patched it)
    km_type_nr: int = 20  # i386 kmap_atomic slots per CPU before 5.11 (41 with CONFIG_DEBUG_HIGHMEM)
    # the kernel image and early allocations (sizes of the development host's 6.18 kernel)
    kernel_sections_kb: tuple[int, int, int, int, int] = (18478, 2544, 10280, 3728, 1168)  # code, rwdata, rodata, init, bss
    kernel_image_kb: int = 45408  # _text.._end, including the gaps between sections
    sizeof_pglist_data: int = 0x2AB00
    realmode_size: int = 24 << 10  # the real-mode trampoline blob (≤5.12 x86; 28 KiB on 4.4)
    percpu_pages_per_cpu: int = 53
    transparent_hugepage: str = "madvise"  # CONFIG_TRANSPARENT_HUGEPAGE_{ALWAYS,MADVISE,NEVER}
    mem_soft_dirty: bool = False  # CONFIG_MEM_SOFT_DIRTY (off on the development host; distributions set it)
    anon_vma_name: bool = False  # CONFIG_ANON_VMA_NAME: prctl(PR_SET_VMA_ANON_NAME) (off on the development host)
    # MGLRU: CONFIG_LRU_GEN builds it in (/sys/kernel/mm/lru_gen/ exists and switches it);
    # CONFIG_LRU_GEN_ENABLED turns it on at boot. The development host has neither
    # (tests/data/host-linux-6.18/lru_gen.txt); Fedora, Arch and others enable both.
    lru_gen: bool = False
    lru_gen_enabled: bool = False

    @property
    def MIGRATE_TYPES(self) -> int:
        # UNMOVABLE, MOVABLE, RECLAIMABLE, HIGHATOMIC (RESERVE before 4.4), [CMA], [ISOLATE]
        return 4 + int(self.cma) + int(self.memory_isolation)


def default_config(arch: Arch, version: KernelVersion) -> KernelConfig:
    if arch.name == "x86_64":
        return KernelConfig(zone_device=version >= (4, 3))
    if arch.name == "i386":
        # struct page grew to 40 bytes with page->mem_cgroup (3.19, MEMCG=y in every distro)
        return KernelConfig(numa=False, zone_dma32=False, zone_device=False, highmem=True,
                            sizeof_struct_page=32 if version < (3, 19) else 40,
                            sparsemem=False, NR_CPUS=32)  # FLATMEM is the i386 default
    # arm64 had only ZONE_DMA32 until 5.5 brought ZONE_DMA back
    return KernelConfig(zone_dma=version >= (5, 5), zone_device=False)


@dataclass
class MachineDescription:
    name: str
    arch: Arch
    version: KernelVersion = DEFAULT_VERSION
    cmdline: str = ""
    nr_cpus: int = 1
    e820: list[tuple[int, int, int]] | None = None  # firmware map: (start, end_exclusive, type)
    memory: list[tuple[int, int]] | None = None  # memory ranges where there is no e820 (arm64)
    numa: list[NumaNode] | None = None  # SRAT / device-tree nodes; None: no NUMA description
    distance: list[list[int]] | None = None  # SLIT; None: 10 local, 20 remote
    config: KernelConfig | None = None
    # Firmware and bootloader facts the x86 boot reads (all optional):
    setup_data: list[tuple[int, int]] = field(default_factory=list)  # setup_data blobs (addr, size)
    mtrr: "MtrrState | None" = None  # MTRR registers (default type, variable ranges, AMD TOM2)
    efi: bool = False  # booted through EFI (BIOS data area left empty)
    efi_low_reserved_pages: int = 0  # EFI boot-services pages reserved in [1 MiB, 16 MiB)
    esrt: tuple[int, int] | None = None  # EFI System Resource Table (addr, size)
    initrd: tuple[int, int] | None = None  # where the bootloader put the initramfs (addr, size)
    efi_mmio: list[tuple[int, int, int]] = field(default_factory=list)  # EFI MMIO descriptors (index, addr, size)
    snb_gfx: bool = False  # Sandy Bridge graphics that cannot access some pages (trim_snb_memory)
    zone_dma_bits: int | None = None  # arm64: DMA reach from the device tree's dma-ranges / IORT
    assumptions: list[str] = field(default_factory=list)  # inputs the source did not show, as assumed
    efi_late_reserve: list[tuple[int, int]] = field(default_factory=list)  # e.g. the BGRT logo
    source: str = ""  # where the description came from, for messages
    # storage: disks and mounts besides (or replacing, by name and mount point) the default
    # machine's vda with ext4 at / and tmpfs at /dev/shm
    disks: list[DiskSpec] = field(default_factory=list)
    mounts: list[MountSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.config is None:
            self.config = default_config(self.arch, self.version)
        self.validate()

    def storage_disks(self) -> list[DiskSpec]:
        """The default disk unless one of that name is declared, then the declared ones."""
        return [d for d in [DiskSpec(DEFAULT_DISK)] if d.name not in {x.name for x in self.disks}] + self.disks

    def storage_mounts(self) -> list[MountSpec]:
        """ext4 at / on the first disk and tmpfs at /dev/shm unless declared, then the declared ones."""
        defaults = [MountSpec("/", "ext4", self.storage_disks()[0].name), MountSpec("/dev/shm", "tmpfs")]
        return [m for m in defaults if m.path not in {x.path for x in self.mounts}] + self.mounts

    def validate(self) -> None:
        if self.nr_cpus < 1:
            raise ConfigError(f"{self.name}: nr_cpus must be at least 1, not {self.nr_cpus}")
        ranges = self.e820 if self.e820 is not None else [(s, e, 1) for s, e in self.memory or []]
        if not ranges:
            raise ConfigError(f"{self.name}: no memory map (neither e820 entries nor memory ranges)")
        for start, end, _t in ranges:
            if start < 0 or end <= start:
                raise ConfigError(f"{self.name}: bad range [{start:#x}, {end:#x})")
        if self.numa:
            seen: dict[int, int] = {}
            spans = sorted((s, e, n.nid) for n in self.numa for s, e in n.ranges)
            for (s1, e1, n1), (s2, e2, n2) in zip(spans, spans[1:]):
                if s2 < e1 and n1 != n2:
                    raise ConfigError(f"{self.name}: node {n1} [mem {s1:#x}-{e1 - 1:#x}] overlaps "
                                      f"node {n2} [mem {s2:#x}-{e2 - 1:#x}]")
            for n in self.numa:
                if n.nid in seen:
                    raise ConfigError(f"{self.name}: node {n.nid} described twice")
                seen[n.nid] = 1
        if self.distance is not None:
            n = len(self.distance)
            if any(len(row) != n for row in self.distance):
                raise ConfigError(f"{self.name}: distance matrix is not square")


def x86_64(name: str, e820, **kw) -> MachineDescription:
    """Shorthand used by presets and tests."""
    la57 = kw.pop("la57", False)
    return MachineDescription(name, make_arch("x86_64", la57=la57), e820=e820, **kw)
