/* Long-term pins on this host (Linux 6.18, ext4 /tmp, no gup_test debugfs driver): io_uring
 * fixed-buffer registration (IORING_REGISTER_BUFFERS pins FOLL_WRITE|FOLL_LONGTERM) over
 * anonymous memory, a memfd and an ext4 file mapped shared or private, by raw syscalls (no
 * liburing); per case the errno and the /proc/vmstat nr_foll_pin_acquired/_released deltas
 * of registering and unregistering (after a write to
 * /proc/sys/vm/stat_refresh, which folds the per-cpu diffs: run as root). gcc -O0 -o gup_probe gup_probe.c && ./gup_probe DIR
 * (DIR on ext4); its output is tests/data/host-linux-6.18/gup_probe.txt. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "probe_io_uring.h"

static void report(const char *what, char *mem, size_t size) {
  struct io_uring_params p;
  int ring = ring_setup(&p);
  if (ring < 0) { printf("%s: io_uring_setup %s\n", what, strerrorname_np(errno)); return; }
  long acq = vmstat("nr_foll_pin_acquired"), rel = vmstat("nr_foll_pin_released");
  int r = ring_register_buffer(ring, mem, size);
  int err = r < 0 ? errno : 0;
  long acq1 = vmstat("nr_foll_pin_acquired"), rel1 = vmstat("nr_foll_pin_released");
  if (r == 0) ring_unregister_buffers(ring);
  long rel2 = vmstat("nr_foll_pin_released");
  printf("%s: register %s acquired %+ld released %+ld; unregister released %+ld\n", what,
         err ? strerrorname_np(err) : "0", acq1 - acq, rel1 - rel, rel2 - rel1);
  close(ring);
}

static void file_case(const char *what, int fd, int shared) {
  if (ftruncate(fd, 4096) || fallocate(fd, 0, 0, 4096)) { perror(what); return; }
  char *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, shared ? MAP_SHARED : MAP_PRIVATE, fd, 0);
  memset(mem, 0, 4096);
  report(what, mem, 4096);
  munmap(mem, 4096);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  char path[4096];
  char *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(anon, 1, 4096);
  report("anon private, written", anon, 4096);
  char *zero = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  report("anon private, untouched", zero, 4096);
  char *big = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *thp = (char *)(((unsigned long)big + (2 << 20) - 1) & ~((2UL << 20) - 1));
  madvise(thp, 2 << 20, MADV_HUGEPAGE);
  memset(thp, 1, 2 << 20);
  report("anon THP 2 MiB, written", thp, 2 << 20);
  char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  report("anon PROT_READ", ro, 4096);
  for (int shared = 1; shared >= 0; shared--) {
    char name[64];
    snprintf(name, sizeof name, "memfd %s", shared ? "MAP_SHARED" : "MAP_PRIVATE");
    file_case(name, memfd_create("test", 0), shared);
    snprintf(path, sizeof path, "%s/gup_probe_XXXXXX", dir);
    int fd = mkstemp(path); unlink(path);
    snprintf(name, sizeof name, "ext4 file %s", shared ? "MAP_SHARED" : "MAP_PRIVATE");
    file_case(name, fd, shared);
  }
  return 0;
}
