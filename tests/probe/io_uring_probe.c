/* io_uring fixed buffers on this host (Linux 6.18, ext4 /tmp), by raw syscalls (no liburing):
 * cow.c's do_test_iouring over one anonymous base page and one PMD THP. Per case: register
 * the range (IORING_REGISTER_BUFFERS: pin_user_pages_fast FOLL_WRITE|FOLL_LONGTERM), note the
 * /proc/vmstat nr_foll_pin_acquired/_released deltas (after stat_refresh: run as root) and
 * VmPin; then either fork (the child stays until the end) or mprotect R/O, clear soft-dirty,
 * mprotect R/W; memset 0xff; IORING_OP_WRITE_FIXED of the range to an unlinked ext4 file; the
 * completion's res and whether the file reads back what memory holds; unregister and its
 * released delta. gcc -O0 -o io_uring_probe io_uring_probe.c && ./io_uring_probe DIR;
 * its output is tests/data/host-linux-6.18/io_uring_probe.txt. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "probe_io_uring.h"

static long vmpin(void) {
  char line[256]; long v = -1;
  FILE *f = fopen("/proc/self/status", "r");
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmPin:", 6)) v = atol(line + 6);
  fclose(f);
  return v;
}

/* One IORING_OP_WRITE_FIXED, submitted and waited for: the completion's res. */
static int write_fixed(int ring, struct io_uring_params *p, int fd, void *buf, unsigned len) {
  unsigned *sq = mmap(NULL, p->sq_off.array + p->sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
  char *cq = mmap(NULL, p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe), PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
  struct io_uring_sqe *sqes = mmap(NULL, p->sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
  char *sqb = (char *)sq;
  unsigned tail = *(unsigned *)(sqb + p->sq_off.tail), mask = *(unsigned *)(sqb + p->sq_off.ring_mask);
  struct io_uring_sqe *sqe = &sqes[tail & mask];
  memset(sqe, 0, sizeof *sqe);
  sqe->opcode = IORING_OP_WRITE_FIXED; sqe->fd = fd; sqe->addr = (unsigned long)buf; sqe->len = len;
  sqe->off = 0; sqe->buf_index = 0;
  ((unsigned *)(sqb + p->sq_off.array))[tail & mask] = tail & mask;
  __atomic_store_n((unsigned *)(sqb + p->sq_off.tail), tail + 1, __ATOMIC_RELEASE);
  if (ring_enter(ring, 1) < 0) return -errno;
  unsigned head = *(unsigned *)(cq + p->cq_off.head), cmask = *(unsigned *)(cq + p->cq_off.ring_mask);
  int res = ((struct io_uring_cqe *)(cq + p->cq_off.cqes))[head & cmask].res;
  __atomic_store_n((unsigned *)(cq + p->cq_off.head), head + 1, __ATOMIC_RELEASE);
  return res;
}

static void do_test(const char *what, const char *dir, char *mem, size_t size, int use_fork) {
  char path[4096]; snprintf(path, sizeof path, "%s/io_uring_probe_XXXXXX", dir);
  int fd = mkstemp(path); unlink(path);
  struct io_uring_params p;
  int ring = ring_setup(&p);
  long acq = vmstat("nr_foll_pin_acquired"), rel = vmstat("nr_foll_pin_released");
  int r = ring_register_buffer(ring, mem, size);
  int err = r < 0 ? errno : 0;
  long acq1 = vmstat("nr_foll_pin_acquired"), rel1 = vmstat("nr_foll_pin_released"), pin = vmpin();
  pid_t child = -1;
  if (use_fork) {
    child = fork();
    if (!child) { pause(); _exit(0); }
  } else {
    mprotect(mem, size, PROT_READ);
    int c = open("/proc/self/clear_refs", O_WRONLY); write(c, "4", 1); close(c);
    mprotect(mem, size, PROT_READ | PROT_WRITE);
  }
  memset(mem, 0xff, size);
  int res = write_fixed(ring, &p, fd, mem, size);
  char *tmp = malloc(size);
  ssize_t got = pread(fd, tmp, size, 0);
  int same = got == (ssize_t)size && !memcmp(tmp, mem, size);
  if (child > 0) { kill(child, SIGKILL); waitpid(child, NULL, 0); }
  long rel2 = vmstat("nr_foll_pin_released");
  ring_unregister_buffers(ring);
  long rel3 = vmstat("nr_foll_pin_released");
  printf("%s: register %s acquired %+ld released %+ld VmPin %ld kB; write_fixed res %d, file %s; "
         "unregister released %+ld\n", what, err ? strerrorname_np(err) : "0", acq1 - acq, rel1 - rel, pin, res,
         same ? "matches" : "differs", rel3 - rel2);
  free(tmp); close(ring); close(fd);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  for (int use_fork = 0; use_fork <= 1; use_fork++) {
    const char *how = use_fork ? "fork" : "R/O-mapped";
    char name[128];
    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(page, 4096, MADV_NOHUGEPAGE);
    memset(page, 1, 4096);
    snprintf(name, sizeof name, "%s, base page", how);
    do_test(name, dir, page, 4096, use_fork);
    munmap(page, 4096);
    char *big = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *thp = (char *)(((unsigned long)big + (2 << 20)) & ~((2UL << 20) - 1));
    madvise(thp, 2 << 20, MADV_HUGEPAGE);
    memset(thp, 1, 2 << 20);
    snprintf(name, sizeof name, "%s, THP 2 MiB", how);
    do_test(name, dir, thp, 2 << 20, use_fork);
    munmap(big, 4 << 20);
  }
  return 0;
}
