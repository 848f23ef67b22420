/* The PAGEMAP_SCAN ioctl of /proc/self/pagemap on this host (Linux 6.18, no userfaultfd
 * registration, no CONFIG_MEM_SOFT_DIRTY): gcc -O0 -o pagemap_scan_probe pagemap_scan_probe.c
 * && ./pagemap_scan_probe > tests/data/host-linux-6.18/pagemap_scan_probe.txt
 * Each line: a case, the return value (or -errno name), walk_end - start in pages, and the
 * regions as first-end:categories in pages from base (2 MiB aligned). tests/test_pagemap.py replays the cases. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#ifndef PAGEMAP_SCAN /* include/uapi/linux/fs.h of 6.18, which this host's headers predate */
struct page_region { uint64_t start, end, categories; };
struct pm_scan_arg { uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages,
                     category_inverted, category_mask, category_anyof_mask, return_mask; };
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#define P 4096UL
#define ALL 0x1ffUL /* PAGE_IS_WPALLOWED ... PAGE_IS_GUARD */
static int pm;
static char *base;

static void scan(const char *name, char *start, char *end, uint64_t vec_len, uint64_t flags, uint64_t max_pages,
                 uint64_t inverted, uint64_t mask, uint64_t anyof, uint64_t ret_mask) {
  struct page_region vec[64];
  struct pm_scan_arg a = {.size = sizeof(a), .flags = flags, .start = (uintptr_t)start, .end = (uintptr_t)end,
                          .vec = vec_len ? (uintptr_t)vec : 0, .vec_len = vec_len, .max_pages = max_pages,
                          .category_inverted = inverted, .category_mask = mask,
                          .category_anyof_mask = anyof, .return_mask = ret_mask};
  long r = ioctl(pm, PAGEMAP_SCAN, &a);
  if (r < 0) { printf("%s: -%s\n", name, strerrorname_np(errno)); return; }
  printf("%s: %ld %ld", name, r, (long)(a.walk_end - (uintptr_t)start) / (long)P);
  for (long i = 0; i < r; i++)
    printf(" %ld-%ld:%#lx", (long)(vec[i].start - (uintptr_t)base) / (long)P,
           (long)(vec[i].end - (uintptr_t)base) / (long)P, (unsigned long)vec[i].categories);
  printf("\n");
}

int main(void) {
  pm = open("/proc/self/pagemap", O_RDONLY);
  /* 2 MiB-aligned: [0, 16) anon pages, [16, 512) free, [512, 1024) a THP, [1024, 1536) the huge zero page */
  char *raw = mmap(0, 8 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  base = (char *)(((uintptr_t)raw + (2 << 20) - 1) & ~((2UL << 20) - 1));
  munmap(raw, 8 << 20);
  mmap(base, 16 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  base[0] = base[P] = 1;                       /* pages 0, 1 written */
  (void)*(volatile char *)(base + 3 * P);      /* page 3: the zero page */
  madvise(base + 5 * P, P, MADV_GUARD_INSTALL); /* page 5: a guard marker */
  base[7 * P] = 1; base[8 * P] = 1;
  scan("all", base, base + 16 * P, 64, 0, 0, 0, 0, 0, ALL);
  scan("present", base, base + 16 * P, 64, 0, 0, 0, 0x8, 0, ALL);
  scan("not_present", base, base + 16 * P, 64, 0, 0, 0x8, 0x8, 0, ALL);
  scan("anyof_swapped_pfnzero", base, base + 16 * P, 64, 0, 0, 0, 0, 0x30, 0x30);
  scan("guard", base, base + 16 * P, 64, 0, 0, 0, 0x100, 0, 0x100);
  scan("written", base, base + 16 * P, 64, 0, 0, 0, 0x2, 0, 0x2);
  scan("return_none", base, base + 16 * P, 64, 0, 0, 0, 0x8, 0, 0);
  scan("max_pages_3", base, base + 16 * P, 64, 0, 3, 0, 0x8, 0, 0x8);
  scan("vec_len_1", base, base + 16 * P, 1, 0, 0, 0, 0x8, 0, 0x8);
  scan("vec_len_0", base, base + 16 * P, 0, 0, 0, 0, 0x8, 0, 0x8);
  scan("max_pages_1_all", base, base + 16 * P, 64, 0, 1, 0, 0, 0, 0);
  scan("empty_range", base + P, base + P, 64, 0, 0, 0, 0, 0, ALL);
  scan("unaligned_end", base, base + 16 * P - 1, 64, 0, 0, 0, 0x8, 0, 0x8);
  scan("with_hole", base, base + 500 * P, 64, 0, 0, 0, 0, 0, ALL);
  mmap(base + 512 * P, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  madvise(base + 512 * P, 2 << 20, MADV_HUGEPAGE);
  base[512 * P] = 1;
  mmap(base + 1024 * P, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  madvise(base + 1024 * P, 2 << 20, MADV_HUGEPAGE);
  (void)*(volatile char *)(base + 1024 * P);
  char *fresh = mmap(base + 4096 * P, 1024 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  scan("untouched", fresh, fresh + 1024 * P, 64, 0, 0, 0, 0, 0, ALL);
  scan("untouched_written", fresh, fresh + 1024 * P, 64, 0, 0, 0, 0x2, 0, 0x2);
  scan("thp", base + 512 * P, base + 1536 * P, 64, 0, 0, 0, 0, 0, ALL);
  scan("thp_max_pages", base + 512 * P, base + 1536 * P, 64, 0, 100, 0, 0x40, 0, 0x40);
  int fd = open("/proc/self/exe", O_RDONLY);
  char *f = mmap(base + 2048 * P, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
  (void)*(volatile char *)f;
  scan("file", base + 2048 * P, base + 2049 * P, 64, 0, 0, 0, 0, 0, ALL);
  /* errors */
  struct pm_scan_arg bad = {.size = 8, .start = (uintptr_t)base, .end = (uintptr_t)base + P};
  int r = ioctl(pm, PAGEMAP_SCAN, &bad);
  printf("bad_size: %d %s\n", r, strerrorname_np(errno));
  scan("bad_flags", base, base + P, 64, 4, 0, 0, 0, 0, 0);
  scan("bad_category", base, base + P, 64, 0, 0, 0, 0x200, 0, 0);
  scan("bad_return_mask", base, base + P, 64, 0, 0, 0, 0, 0, 0x1000);
  scan("unaligned_start", base + 1, base + P, 64, 0, 0, 0, 0, 0, 0);
  scan("end_below_start", base + P, base, 64, 0, 0, 0, 0, 0, 0);
  scan("beyond_task_size", (char *)(1UL << 47), (char *)(1UL << 47) + P, 64, 0, 0, 0, 0, 0, 0);
  scan("to_task_size", (char *)(1UL << 47) - P, (char *)(1UL << 47), 64, 0, 0, 0, 0, 0, 0);
  scan("below_task_size", (char *)(1UL << 47) - 2 * P, (char *)(1UL << 47) - P, 64, 0, 0, 0, 0, 0, 0);
  scan("wp_matching", base, base + 16 * P, 64, 1, 0, 0, 0, 0, ALL);
  scan("wp_matching_check", base, base + 16 * P, 64, 3, 0, 0, 0, 0, ALL);
  scan("check_wpasync", base, base + 16 * P, 64, 2, 0, 0, 0, 0, ALL);
  scan("wp_matching_written", base, base + 16 * P, 64, 1, 0, 0, 0x2, 0, 0x2);
  struct pm_scan_arg nv = {.size = sizeof(nv), .start = (uintptr_t)base, .end = (uintptr_t)base + P, .vec_len = 4};
  r = ioctl(pm, PAGEMAP_SCAN, &nv);
  printf("null_vec: %d %s\n", r, strerrorname_np(errno));
  return 0;
}
