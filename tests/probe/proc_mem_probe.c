/* A FOLL_FORCE write through /proc/self/mem into a PROT_READ MAP_PRIVATE anonymous mapping
 * on this host (Linux 6.18, THP "madvise"), as mkdirty.c's ptrace cases do:
 * gcc -O0 -o proc_mem_probe proc_mem_probe.c && ./proc_mem_probe
 * > tests/data/host-linux-6.18/proc_mem_probe.txt
 * Per case: the write's return value, the byte read back, the pagemap bits of the page
 * (present 63, swap 62, file/shared 61, exclusive 56, soft-dirty 55; PFNs need root and are
 * not printed), whether a later store by the program raises SIGSEGV, and the smaps
 * AnonHugePages of the mapping for the THP case. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf env;
static void on_segv(int sig) { (void)sig; siglongjmp(env, 1); }

static uint64_t pagemap(int fd, void *addr) {
  uint64_t e = 0;
  pread(fd, &e, 8, ((uintptr_t)addr / 4096) * 8);
  return e;
}

static void bits(const char *what, uint64_t e) {
  printf("%s: present %d swap %d file %d exclusive %d soft_dirty %d\n", what, (int)(e >> 63 & 1),
         (int)(e >> 62 & 1), (int)(e >> 61 & 1), (int)(e >> 56 & 1), (int)(e >> 55 & 1));
}

static int store_segv(volatile char *p) {
  char orig = *p;
  signal(SIGSEGV, on_segv);
  int r = sigsetjmp(env, 1);
  if (!r) *p = orig + 1;
  signal(SIGSEGV, SIG_DFL);
  return r == 1 && *p == orig;
}

static long anon_huge_kb(void *addr) {
  char line[256];
  unsigned long start, end;
  long kb = -1, in = 0;
  FILE *f = fopen("/proc/self/smaps", "r");
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
      in = start == (unsigned long)addr;
    else if (in && !strncmp(line, "AnonHugePages:", 14))
      sscanf(line + 14, "%ld", &kb);
  }
  fclose(f);
  return kb;
}

int main(void) {
  int mem = open("/proc/self/mem", O_RDWR), pm = open("/proc/self/pagemap", O_RDONLY);
  char data = 1;
  /* a 4 KiB page: read first (the shared zero page), then written through /proc/self/mem */
  char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("page read: %d\n", *(volatile char *)p);
  bits("page after read", pagemap(pm, p));
  long r = pwrite(mem, &data, 1, (uintptr_t)p);
  printf("page write: %ld value %d\n", r, *(volatile char *)p);
  bits("page after write", pagemap(pm, p));
  printf("page store segv: %d\n", store_segv(p));
  /* never touched before: the forced write allocates the page (do_anonymous_page) */
  char *q = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  r = pwrite(mem, &data, 1, (uintptr_t)q);
  printf("untouched write: %ld value %d\n", r, *(volatile char *)q);
  bits("untouched after write", pagemap(pm, q));
  printf("untouched store segv: %d\n", store_segv(q));
  /* a PMD-aligned 2 MiB range with MADV_HUGEPAGE: the forced write places a THP */
  size_t thp = 2 << 20;
  char *m = mmap(NULL, 2 * thp, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *h = (char *)(((uintptr_t)m + thp) & ~(thp - 1));
  printf("madvise: %d\n", madvise(h, thp, MADV_HUGEPAGE));
  r = pwrite(mem, &data, 1, (uintptr_t)h);
  printf("thp write: %ld value %d\n", r, *(volatile char *)h);
  bits("thp last subpage", pagemap(pm, h + thp - 4096));
  printf("thp AnonHugePages kB: %ld\n", anon_huge_kb(h));
  printf("thp store segv: %d\n", store_segv(h));
  /* a shared read-only mapping: FOLL_FORCE does not write into it (not a COW mapping) */
  char *s = mmap(NULL, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  r = pwrite(mem, &data, 1, (uintptr_t)s);
  printf("shared write: %ld %s\n", r, r < 0 ? strerror(errno) : "");
  return 0;
}
