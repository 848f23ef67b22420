/* MADV_COLLAPSE of shmem and regular-file ranges on this host (Linux 6.18, shmem_enabled
 * never, /dev/shm without huge=, ext4 /tmp, no CONFIG_READ_ONLY_THP_FOR_FS):
 * gcc -O0 -o collapse_file_probe collapse_file_probe.c && ./collapse_file_probe DIR
 * (DIR on ext4). Per case: madvise's result and errno, then the range's smaps
 * ShmemPmdMapped/FilePmdMapped/Rss (kB) and the changes of thp_collapse_alloc and
 * nr_shmem_hugepages/nr_file_hugepages (pages). Its output is tests/data/host-linux-6.18/
 * collapse_file_probe.txt, which tests/test_khugepaged.py quotes. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#define HP (2UL << 20)
#define BASE ((char *)(1UL << 30))

static long vmstat(const char *name) {
  char line[256]; long v = -1; size_t n = strlen(name);
  FILE *f = fopen("/proc/vmstat", "r");
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, name, n) && line[n] == ' ') v = atol(line + n + 1);
  fclose(f); return v;
}

static long smaps(char *addr, const char *field) {
  char line[256], pat[64]; long v = -1; int in = 0;
  snprintf(pat, sizeof pat, "%lx-", (unsigned long)addr);
  FILE *f = fopen("/proc/self/smaps", "r");
  while (fgets(line, sizeof line, f)) {
    if (strchr(line, '-') && strchr(line, ' ') && line[0] != ' ' && strncmp(line, field, strlen(field)))
      if (strstr(line, "-") < strstr(line, " ")) in = !strncmp(line, pat, strlen(pat));
    if (in && !strncmp(line, field, strlen(field))) { v = atol(line + strlen(field)); break; }
  }
  fclose(f); return v;
}

static void collapse(const char *name, char *p, size_t len) {
  long a0 = vmstat("thp_collapse_alloc"), s0 = vmstat("nr_shmem_hugepages"), f0 = vmstat("nr_file_hugepages");
  int r = madvise(p, len, MADV_COLLAPSE);
  int e = errno;
  printf("%s: %d %s ShmemPmdMapped %ld FilePmdMapped %ld Rss %ld thp_collapse_alloc +%ld "
         "nr_shmem_hugepages +%ld nr_file_hugepages +%ld\n", name, r, r ? strerrorname_np(e) : "-",
         smaps(p, "ShmemPmdMapped:"), smaps(p, "FilePmdMapped:"), smaps(p, "Rss:"),
         vmstat("thp_collapse_alloc") - a0, vmstat("nr_shmem_hugepages") - s0, vmstat("nr_file_hugepages") - f0);
}

static char *memfd_area(size_t size, size_t map, int prot, int flags) {
  int fd = memfd_create("collapse", 0);
  ftruncate(fd, size);
  char *p = mmap(BASE, map, prot, flags | MAP_FIXED, fd, 0);
  close(fd);
  return p;
}

static void fill(char *p, size_t start, size_t end) {
  for (size_t i = start; i < end; i += 4096) p[i] = (char)(i / 4096 % 255 + 1);
}

static int check(char *p, size_t end) {
  for (size_t i = 0; i < end; i += 4096) if (p[i] != (char)(i / 4096 % 255 + 1)) return 0;
  return 1;
}

int main(int argc, char **argv) {
  char path[4096];
  char *p = memfd_area(2 * HP, 2 * HP, PROT_READ | PROT_WRITE, MAP_SHARED);
  fill(p, 0, 2 * HP);
  collapse("memfd full 4M", p, 2 * HP);
  printf("memfd full data intact: %d\n", check(p, 2 * HP));
  collapse("memfd again", p, 2 * HP);
  munmap(p, 2 * HP);

  p = memfd_area(HP, HP, PROT_READ | PROT_WRITE, MAP_SHARED);
  fill(p, 0, 4096);
  collapse("memfd one page", p, HP);
  printf("memfd one page: page 0 %d page 1 %d\n", p[0], p[4096]);
  munmap(p, HP);

  p = memfd_area(HP, HP, PROT_READ | PROT_WRITE, MAP_SHARED);
  collapse("memfd empty", p, HP);
  munmap(p, HP);

  p = memfd_area(HP / 2, HP, PROT_READ | PROT_WRITE, MAP_SHARED);
  fill(p, 0, HP / 2);
  collapse("memfd past i_size", p, HP);
  munmap(p, HP);

  p = memfd_area(HP, HP, PROT_READ | PROT_WRITE, MAP_SHARED);
  fill(p, 0, HP);
  madvise(p, HP, MADV_NOHUGEPAGE);
  collapse("memfd nohugepage", p, HP);
  madvise(p, HP, MADV_HUGEPAGE);
  collapse("memfd hugepage", p, HP);
  madvise(p, HP, MADV_NOHUGEPAGE);
  madvise(p, HP, MADV_DONTNEED);
  fill(p, 0, HP);
  printf("refault after nohugepage: ShmemPmdMapped %ld\n", smaps(p, "ShmemPmdMapped:"));
  madvise(p, HP, MADV_HUGEPAGE);
  madvise(p, HP, MADV_DONTNEED);
  fill(p, 0, HP);
  printf("refault after hugepage: ShmemPmdMapped %ld\n", smaps(p, "ShmemPmdMapped:"));
  munmap(p, HP);

  p = memfd_area(HP, HP, PROT_READ, MAP_PRIVATE);
  madvise(p, HP, MADV_POPULATE_READ);
  collapse("memfd private read-only, populated", p, HP);
  munmap(p, HP);

  p = memfd_area(HP, HP, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  fill(p, 0, HP);
  collapse("memfd private written (anon COW pages)", p, HP);
  munmap(p, HP);

  /* two VMAs of one memfd: the second one pte-mapped, then collapsed through the first */
  int fd = memfd_create("two", 0);
  ftruncate(fd, HP);
  p = mmap(BASE, HP, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
  char *q = mmap(BASE + 2 * HP, HP, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
  fill(p, 0, HP);
  madvise(q, HP, MADV_POPULATE_READ);
  printf("second vma before: Rss %ld\n", smaps(q, "Rss:"));
  collapse("memfd first of two vmas", p, HP);
  printf("second vma after: Rss %ld ShmemPmdMapped %ld\n", smaps(q, "Rss:"), smaps(q, "ShmemPmdMapped:"));
  q[0] = q[0];
  printf("second vma refaulted: Rss %ld ShmemPmdMapped %ld\n", smaps(q, "Rss:"), smaps(q, "ShmemPmdMapped:"));
  munmap(p, HP); munmap(q, HP); close(fd);

  fd = open("/dev/shm/collapse_probe", O_RDWR | O_CREAT | O_TRUNC, 0600);
  ftruncate(fd, HP);
  p = mmap(BASE, HP, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
  fill(p, 0, HP);
  collapse("/dev/shm file (huge=never)", p, HP);
  munmap(p, HP); close(fd); unlink("/dev/shm/collapse_probe");

  if (argc > 1) {
    snprintf(path, sizeof path, "%s/collapse_probe", argv[1]);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    p = mmap(BASE, HP, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE | MAP_FIXED, -1, 0);
    fill(p, 0, HP);
    write(fd, p, HP);
    munmap(p, HP);
    close(fd);
    fd = open(path, O_RDONLY);
    p = mmap(BASE, HP, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, fd, 0);
    madvise(p, HP, MADV_POPULATE_READ);
    collapse("ext4 file read-only exec", p, HP);
    munmap(p, HP); close(fd);
    fd = open(path, O_RDWR);
    p = mmap(BASE, HP, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    madvise(p, HP, MADV_POPULATE_READ);
    collapse("ext4 file shared read-write", p, HP);
    munmap(p, HP); close(fd); unlink(path);
  }
  return 0;
}
