"""``include/linux/mm_types_task.h``: the per-mm counters (``mm->rss_stat``) and the rest of the
compiled mm context, the columns of ``task.mmc`` (a row of ``RmapRegistry.mmcs``; mm/memory.py
reads them). ``mm_types`` re-exports them; ``rmap`` sizes its counter array from here."""

MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES = 0, 1, 2, 3  # mm->rss_stat (mm_types_task.h)
MMC_MINFLT, MMC_MAJFLT = 4, 5  # the task's min_flt, maj_flt
MMC_PGTABLES_BYTES, MMC_PGD, MMC_ANON_THP = 6, 7, 8  # mm->pgtables_bytes, the PGD's table row, anon THPs mapped
MMC_MEMCG = 9  # the id of the memcg charged for the mm's pages (mm->owner's, get_mem_cgroup_from_mm)
MMC_HAS_PINNED = 10  # MMF_HAS_PINNED: a FOLL_PIN was taken in this mm once (mm_set_has_pinned_flag)
NR_MMC = 12
