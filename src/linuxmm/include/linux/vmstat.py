"""Reading the VM counters (``include/linux/vmstat.h``), Linux 6.18.

``zone_page_state``, ``node_page_state`` and their global sums over online nodes and zones,
read from ``zone.vm_stat`` and ``pglist_data.vm_stat`` (keyed by the kernel's enum names; a
missing key reads 0). The counters' /proc files are ``mm/vmstat.py``.
"""

from collections.abc import MutableMapping

from .mmzone import for_each_zone, node_states


class StatRow(MutableMapping):
    """A node's counters, ``pgdat->vm_stat``: one row of an array indexed in the kernel's enum
    order (``enum node_stat_item``), read and written by the enum names (``NR_ANON_MAPPED``).
    The compiled fault path updates the same array, so /proc reads what it counts."""

    def __init__(self, row, index: dict[str, int]):
        self.row, self._index = row, index

    def __getitem__(self, item: str) -> int:
        return int(self.row[self._index[item]])

    def __setitem__(self, item: str, value: int) -> None:
        self.row[self._index[item]] = value

    def __delitem__(self, item: str) -> None:
        raise TypeError("vm_stat counters cannot be removed")

    def __iter__(self):
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


def zone_page_state(z, item: str) -> int:
    return z.vm_stat.get(item, 0)


def zone_numa_event_state(z, item: str, name: str) -> int:
    """NUMA events; the allocator core keeps them under their /proc names (``numa_hit``)."""
    return z.vm_stat.get(item, z.vm_stat.get(name, 0))


def node_page_state(pgdat, item: str) -> int:
    return pgdat.vm_stat.get(item, 0)


def global_zone_page_state(k, item: str) -> int:
    return sum(zone_page_state(z, item) for z in for_each_zone(k))


def global_node_page_state(k, item: str) -> int:
    return sum(node_page_state(k.NODE_DATA(n), item) for n in k.node_states.nodes(node_states.N_ONLINE))
