"""Batches of folios (``include/linux/pagevec.h``) and the per-CPU batches of ``mm/swap.c``,
Linux 6.18.

A ``struct folio_batch`` holds up to ``PAGEVEC_SIZE`` (31) folios, each with a reference
taken when it was added. ``mm/swap.c`` keeps one batch per CPU for each deferred LRU
operation (``struct cpu_fbatches``); here they are rows of ``MemMap.fbatch`` (CPU, kind,
slot: the folio's head pfn) with their counts in ``MemMap.fbatch_nr``. The kinds modelled so
far: ``lru_add`` (new folios waiting to join an LRU list) and ``lru_activate`` (folios to
move to an active list); reclaim's ``lru_deactivate``, ``lru_deactivate_file``,
``lru_lazyfree`` and ``lru_move_tail`` come with it.
"""

PAGEVEC_SIZE = 31
FOLIO_BATCH_SIZE = PAGEVEC_SIZE

# struct cpu_fbatches: which batch of a CPU
FBATCH_LRU_ADD, FBATCH_LRU_ACTIVATE, FBATCH_LRU_LAZYFREE = 0, 1, 2
NR_CPU_FBATCHES = 3
