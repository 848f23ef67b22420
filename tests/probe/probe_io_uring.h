/* What the io_uring probes (gup_probe.c, io_uring_probe.c) share: io_uring's raw syscalls (no
 * liburing) for a ring and its fixed buffer, and /proc/vmstat counters read after a write to
 * /proc/sys/vm/stat_refresh, which folds the per-cpu diffs (run as root). Included by the
 * probes, which are built alone from this directory: gcc -O0 -o PROBE PROBE.c.
 */
#ifndef LINUXMM_PROBE_IO_URING_H
#define LINUXMM_PROBE_IO_URING_H

#include <linux/io_uring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static inline long vmstat(const char *name) {
  char line[256]; long v = -1; size_t n = strlen(name);
  FILE *f = fopen("/proc/sys/vm/stat_refresh", "w");
  if (f) { fputs("1", f); fclose(f); }
  f = fopen("/proc/vmstat", "r");
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, name, n) && line[n] == ' ') v = atol(line + n + 1);
  fclose(f);
  return v;
}

/* A ring of one entry: its fd, or -1 with errno. */
static inline int ring_setup(struct io_uring_params *p) {
  memset(p, 0, sizeof *p);
  return syscall(__NR_io_uring_setup, 1, p);
}

/* IORING_REGISTER_BUFFERS of [mem, mem + size) as fixed buffer 0 (pin_user_pages_fast,
 * FOLL_WRITE|FOLL_LONGTERM): 0, or -1 with errno. */
static inline int ring_register_buffer(int ring, void *mem, size_t size) {
  struct iovec iov = { mem, size };
  return syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1);
}

static inline int ring_unregister_buffers(int ring) {
  return syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS, NULL, 0);
}

/* Submit what the SQ ring holds and wait for one completion: 0, or -1 with errno. */
static inline int ring_enter(int ring, unsigned to_submit) {
  return syscall(__NR_io_uring_enter, ring, to_submit, 1, IORING_ENTER_GETEVENTS, NULL, 0);
}

#endif
