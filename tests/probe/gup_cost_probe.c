/* What a page costs GUP on this host (Linux 6.18, no gup_test debugfs driver): io_uring
 * IORING_REGISTER_BUFFERS of a prefaulted 64 MiB private anonymous buffer of base pages
 * (MADV_NOHUGEPAGE; one pin_user_pages_fast FOLL_WRITE|FOLL_LONGTERM call, all GUP-fast, plus
 * io_uring's per-page bookkeeping) and IORING_UNREGISTER_BUFFERS (unpin_user_pages), timed
 * with CLOCK_MONOTONIC; the fastest of 20 rounds, in ns per page. Run as root (no
 * RLIMIT_MEMLOCK accounting). gcc -O2 -o gup_cost_probe gup_cost_probe.c && ./gup_cost_probe;
 * its output is tests/data/host-linux-6.18/gup_cost_probe.txt. */
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void) {
  const size_t size = 64 << 20, pages = size / 4096;
  char *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  madvise(mem, size, MADV_NOHUGEPAGE);
  memset(mem, 1, size);
  struct io_uring_params p; memset(&p, 0, sizeof p);
  int ring = syscall(__NR_io_uring_setup, 1, &p);
  struct iovec iov = { mem, size };
  long long best_pin = -1, best_unpin = -1;
  for (int round = 0; round < 20; round++) {
    long long t0 = now_ns();
    if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1)) { perror("register"); return 1; }
    long long t1 = now_ns();
    syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS, NULL, 0);
    long long t2 = now_ns();
    if (best_pin < 0 || t1 - t0 < best_pin) best_pin = t1 - t0;
    if (best_unpin < 0 || t2 - t1 < best_unpin) best_unpin = t2 - t1;
  }
  printf("register %zu base pages: %.1f ns/page; unregister: %.1f ns/page\n", pages,
         (double)best_pin / pages, (double)best_unpin / pages);
  return 0;
}
