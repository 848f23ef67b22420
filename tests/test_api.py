"""The Python API (machine.py, process.py, records.py): frozen records instead of live kernel
objects, the read/write contract, notebook views, and the generated API page."""

import dataclasses
import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

import linuxmm
from conftest import small_machine
from linuxmm import KernelError, Machine, presets
from linuxmm.records import Node, PageWalk, VmArea, Zone

ROOT = Path(__file__).resolve().parent.parent
MB = 1 << 20


@pytest.fixture(scope="module")
def m():
    return small_machine()


def test_maps_are_frozen_records_with_friendly_and_kernel_names(m):
    p = m.spawn()
    a = p.mmap(4 * MB)
    s = p.mmap(8192, flags="shared|anonymous")
    r = p.mmap(4096, prot="r")
    vmas = {v.start: v for v in p.maps()}
    assert all(isinstance(v, VmArea) for v in vmas.values())
    va, vs, vr = vmas[a], vmas[s], vmas[r]
    assert (va.start, va.end, va.prot, va.flags, va.offset, va.path) == (a, a + 4 * MB, "rw-", "private|anonymous", 0, None)
    assert (vs.prot, vs.flags, vs.path, vs.size) == ("rw-", "shared|anonymous", "/dev/zero (deleted)", 8192)
    assert (vr.prot, vr.flags) == ("r--", "private|anonymous")
    assert (va.vm_start, va.vm_end, va.vm_pgoff) == (a, a + 4 * MB, a >> 12) and va.vm_flags & 0x3 == 0x3
    maps = p.proc("maps")
    for v in vmas.values():  # every record is a line of /proc/PID/maps
        assert re.search(rf"^{v.start:08x}-{v.end:08x} {v.prot}{'s' if 'shared' in v.flags else 'p'} ", maps, re.M)
    with pytest.raises(dataclasses.FrozenInstanceError):
        va.vm_end = a + 8 * MB
    with pytest.raises(AttributeError):
        va.end = a + 8 * MB
    assert [(v.start, v.end) for v in p.maps()] == sorted((v.start, v.end) for v in vmas.values())
    q = m.spawn()  # the record's prot and flags map a similar area
    b = q.mmap(vs.size, vs.prot, vs.flags)
    assert (q.maps()[0].prot, q.maps()[0].flags) == (vs.prot, vs.flags) and b
    p.exit()
    q.exit()


def test_zones_and_nodes_are_snapshots(m):
    zones = m.zones()
    assert all(isinstance(z, Zone) for z in zones) and all(isinstance(n, Node) for n in m.nodes)
    normal = next(z for z in zones if z.name == "DMA32")
    with pytest.raises(dataclasses.FrozenInstanceError):
        normal.managed_pages = 0
    with pytest.raises(TypeError):
        normal.vm_stat["NR_FREE_PAGES"] = 0
    m.drain_pages()
    free = next(z for z in m.zones() if z.name == "DMA32").vm_stat["NR_FREE_PAGES"]
    pfn = m.alloc_pages("GFP_DMA32", 4)
    m.drain_pages()
    after = next(z for z in m.zones() if z.name == "DMA32")
    assert free > 0 and after.vm_stat["NR_FREE_PAGES"] == free - 16  # a new snapshot sees the change
    m.free_pages(pfn, 4)
    node = m.NODE_DATA(0)
    assert [z.name for z in node.node_zones] == ["DMA", "DMA32", "Normal", "Movable", "Device"]
    assert [z.name for z in node.populated_zones()] == ["DMA", "DMA32"]  # 384 MiB: no Normal
    assert node.zonelist == ((0, "DMA32"), (0, "DMA"))
    with pytest.raises(KernelError):
        m.NODE_DATA(7)
    assert list(m.for_each_online_node()) == [0]


def test_machine_description_is_not_shared():
    desc = presets.get("default")
    before = desc.cmdline
    mach = Machine(desc, cmdline="movablecore=10%")
    assert desc.cmdline == before and mach.desc.cmdline.endswith("movablecore=10%")
    mach.desc.cmdline = "edited"  # a copy: the machine is not changed
    assert mach.desc.cmdline.endswith("movablecore=10%")


def test_read_write_contract(m):
    p = m.spawn()
    a = p.mmap(2 * 4096)
    p.write(a, 8192, value=7)  # one store per page (default stride)
    assert p.read(a, 4096) == b"\x07"  # one byte per stride: ONE byte for the page
    page = p.read(a, 4096, stride=64)  # the whole page as modelled: one byte per 64-byte line
    assert page == b"\x07" + bytes(63)
    p.write(a + 64 * 5 + 13, 1, stride=1, value=255)  # a store anywhere in a line sets the line
    assert p.read(a + 64 * 5, 64, stride=1) == b"\xff" * 64
    assert len(p.read(a, 100, stride=64)) == 2 and len(p.read(a, 8192)) == 2
    for bad in (300, 256, -1):
        with pytest.raises(KernelError, match="0..255") as e:
            p.write(a, 4096, value=bad)
        assert e.value.errno == 22
    assert p.alive and p.read(a, 4096) == b"\x07"  # nothing stored by the rejected writes
    p.exit()


def test_walk_record_prints_as_the_cli_table(m):
    from rich.console import Console

    from linuxmm.mm.pagewalk import render_walk

    p = m.spawn()
    a = p.mmap(MB)
    p.write(a, MB, value=1)
    w = p.walk(a + 0x1234)
    assert isinstance(w, PageWalk) and w.addr == a + 0x1234
    leaf = [r for r in w if not r["folded"]][-1]
    assert leaf.level == "pte" and w.phys == leaf["phys"] and w.phys & 0xFFF == 0x234 and w.page_size == 4096
    con = Console(width=160, file=__import__("io").StringIO(), color_system=None)
    con.print(render_walk([dict(r) for r in w], w.addr))
    table = [line.rstrip() for line in con.file.getvalue().rstrip("\n").splitlines()]
    assert str(w).splitlines() == table and f"page walk of {w.addr:#x}" in str(w)
    assert json.loads(json.dumps(w))[-1]["phys"] == w.phys
    assert pickle.loads(pickle.dumps(w)) == w and pickle.loads(pickle.dumps(w)).addr == w.addr
    with pytest.raises(TypeError):
        w[-1]["phys"] = 0
    with pytest.raises(TypeError):
        w.addr = 0
    assert p.walk(a - 64 * MB).phys is None and "not mapped" in repr(p.walk(a - 64 * MB))
    assert "<table>" in w._repr_html_() and "PTE" in w._repr_html_()
    p.exit()


def test_notebook_views(m):
    p = m.spawn()
    a = p.mmap(MB)
    p.write(a, MB)
    html = m._repr_html_()
    assert "<table>" in html and "DMA32" in html and "&lt;Machine" in html and f"<td>{p.pid}</td>" in html
    html = p._repr_html_()
    assert f"{a:#x}" in html and "private|anonymous" in html and "Rss 1024 kB" in html
    p.exit()
    assert "dead" in p._repr_html_()


def test_every_public_method_is_documented():
    gen = _gen_api()
    missing = [f"{cls.__name__}.{name}" for cls in (Machine, linuxmm.Process)
               for name, value in gen.public_members(cls)
               if len((value.__doc__ or "").strip()) < 20]
    assert missing == []


def _gen_api():
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import gen_api
    finally:
        sys.path.pop(0)
    return gen_api


def test_api_page_is_up_to_date():
    res = subprocess.run([sys.executable, str(ROOT / "docs" / "gen_api.py"), "--check"], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr


def test_example_notebook_runs():
    """examples/tour.ipynb end to end in a fresh kernel: no cell fails, the figures are drawn."""
    import nbformat
    from nbclient import NotebookClient

    path = ROOT / "examples" / "tour.ipynb"
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    text = "".join(o.get("text", "") for o in outputs)
    assert "minor faults: 4096  Rss: 16384 kB" in text
    assert "page walk of" in text and "4 KiB page @" in text  # print(p.walk(a)) in a notebook
    assert "child faults: 1024" in text and "parent reads b'\\x07'  child reads b'\\t'" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 4  # layout, buddyinfo, walk, COW
    assert any("text/html" in o.get("data", {}) and "<table>" in o["data"]["text/html"] for o in outputs)


def test_readme_python_examples_run(capsys):
    """The README's Python blocks, in order, as one script (they build on each other)."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert len(blocks) >= 2
    exec(compile("\n".join(blocks), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "private|anonymous None" in out and "page walk of" in out and "Node 1, zone   Normal" in out


def test_zone_record_has_the_zones_helpers():
    """records.Zone and the live zone share mmzone's helpers (zone_helpers): the same answers,
    the watermark boost included."""
    m = Machine()
    live = {(z.node, z.name): z for nid in m.kernel.node_ids for z in m.kernel.NODE_DATA(nid).node_zones}
    normal = live[(0, "Normal")]
    normal.watermark_boost = 100
    for rec in m.zones():
        z = live[(rec.node, rec.name)]
        assert (rec.zone_end_pfn, rec.populated_zone(), rec.min_wmark_pages(), rec.low_wmark_pages(),
                rec.high_wmark_pages(), rec.promo_wmark_pages()) == \
            (z.zone_end_pfn, z.populated_zone(), z.min_wmark_pages(), z.low_wmark_pages(),
             z.high_wmark_pages(), z.promo_wmark_pages())
    assert next(r for r in m.zones() if (r.node, r.name) == (0, "Normal")).min_wmark_pages() == \
        normal._watermark[0] + 100
