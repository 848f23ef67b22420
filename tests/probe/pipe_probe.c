/* Pipes and vmsplice on this host (Linux 6.18): pipe(2) capacity and F_SETPIPE_SZ, what
 * non-blocking writes and reads return (merging into the last buffer, a full pipe, an empty
 * one, no reader, pread on a pipe), vmsplice's errnos and how much it splices, and the four
 * vmsplice cases of tools/testing/selftests/mm/cow.c (6.18) taken step by step as that
 * program takes them, on a base page and on the THP kinds it prepares (PMD-mapped,
 * PTE-mapped, a single PTE, half mremap()ed away, partially shared): "pass" when the
 * pipe still read the old contents ("No leak"), "leak" otherwise.
 * gcc -O0 -o pipe_probe pipe_probe.c && ./pipe_probe; its output is
 * tests/data/host-linux-6.18/pipe_probe.txt. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL
#define PMD (2UL << 20)

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "0"; }

static void nb(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void pipe_semantics(void) {
  static char buf[1 << 20];
  int p[2], f;
  long r;
  pipe(p);
  printf("pipe fds %d %d\n", p[0], p[1]);
  printf("F_GETPIPE_SZ %d\n", fcntl(p[1], F_GETPIPE_SZ));
  nb(p[0]); nb(p[1]);
  r = read(p[0], buf, 10); printf("read empty with writer %ld %s\n", r, err(r));
  for (int i = 0; i < 16; i++) write(p[1], buf, 100);  /* merged into one page */
  r = write(p[1], buf, 65536); printf("write 65536 after 16x100 %ld\n", r);
  r = write(p[1], buf, 1); printf("write 1 to full %ld %s\n", r, err(r));
  r = read(p[0], buf, sizeof buf); printf("read all %ld\n", r);
  r = write(p[1], buf, 100000); printf("write 100000 to empty %ld\n", r);
  r = fcntl(p[1], F_SETPIPE_SZ, 4096); printf("F_SETPIPE_SZ 4096 when full %ld %s\n", r, err(r));
  r = read(p[0], buf, sizeof buf); printf("read all %ld\n", r);
  r = fcntl(p[1], F_SETPIPE_SZ, 5000); printf("F_SETPIPE_SZ 5000 %ld\n", r);
  r = fcntl(p[1], F_SETPIPE_SZ, 0); printf("F_SETPIPE_SZ 0 %ld\n", r);
  r = fcntl(p[1], F_SETPIPE_SZ, (1UL << 31) + 1); printf("F_SETPIPE_SZ 2^31+1 %ld %s\n", r, err(r));
  r = fcntl(p[1], F_SETPIPE_SZ, 65536);
  r = write(p[1], buf, 100); printf("write 100 %ld\n", r);
  r = pread(p[0], buf, 10, 0); printf("pread pipe %ld %s\n", r, err(r));
  r = pwrite(p[1], buf, 10, 0); printf("pwrite pipe %ld %s\n", r, err(r));
  close(p[1]);
  r = read(p[0], buf, 1000); printf("read after writer closed %ld\n", r);
  r = read(p[0], buf, 1000); printf("read empty without writer %ld\n", r);
  pipe(p);
  close(p[0]);
  signal(SIGPIPE, SIG_IGN);
  r = write(p[1], buf, 10); printf("write without reader %ld %s\n", r, err(r));
  struct iovec iov = { buf, 10 };
  r = vmsplice(p[1], &iov, 1, 0); printf("vmsplice without reader %ld %s\n", r, err(r));
  close(p[1]);
  f = open("/proc/self/status", O_RDONLY);
  r = fcntl(f, F_GETPIPE_SZ); printf("F_GETPIPE_SZ regular file %ld %s\n", r, err(r));
  r = vmsplice(f, &iov, 1, 0); printf("vmsplice regular file %ld %s\n", r, err(r));
  close(f);
}

static void vmsplice_semantics(void) {
  int p[2];
  long r;
  char *mem = mmap(NULL, 4 * PMD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *thp = (char *)(((uintptr_t)mem + PMD) & ~(PMD - 1));
  madvise(thp, PMD, MADV_HUGEPAGE);
  memset(thp, 1, PMD);
  pipe(p);
  struct iovec iov = { thp, PMD };
  r = vmsplice(p[1], &iov, 1, 0x10); printf("vmsplice flags 0x10 %ld %s\n", r, err(r));
  r = vmsplice(p[1], &iov, 1, 0); printf("vmsplice 2M THP %ld\n", r);
  r = vmsplice(p[1], &iov, 1, SPLICE_F_NONBLOCK); printf("vmsplice to full nonblock %ld %s\n", r, err(r));
  static char buf[1 << 17];
  r = read(p[0], buf, sizeof buf); printf("read spliced %ld\n", r);
  struct iovec off = { thp + 100, 5000 };
  r = vmsplice(p[1], &off, 1, 0); printf("vmsplice 5000 at offset 100 %ld\n", r);
  r = read(p[0], buf, sizeof buf); printf("read spliced %ld\n", r);
  struct iovec none = { (char *)PAGE, PAGE };
  r = vmsplice(p[1], &none, 1, 0); printf("vmsplice unmapped %ld %s\n", r, err(r));
  struct iovec neg = { thp, (size_t)-1 };
  r = vmsplice(p[1], &neg, 1, 0); printf("vmsplice negative length %ld %s\n", r, err(r));
  struct iovec kern = { (char *)(1UL << 47), PAGE };
  r = vmsplice(p[1], &kern, 1, 0); printf("vmsplice above user space %ld %s\n", r, err(r));
  struct iovec zero = { thp, 0 };
  r = vmsplice(p[1], &zero, 1, 0); printf("vmsplice 0 bytes %ld\n", r);
  memset(buf, 9, 300);
  write(p[1], buf, 300);
  struct iovec to = { thp, 200 };
  nb(p[0]);
  r = vmsplice(p[0], &to, 1, 0); printf("vmsplice read end %ld byte %d\n", r, thp[199]);
  r = vmsplice(p[0], &to, 1, 0); printf("vmsplice read end again %ld\n", r);
  r = vmsplice(p[0], &to, 1, SPLICE_F_NONBLOCK); printf("vmsplice read end empty nonblock %ld %s\n", r, err(r));
  close(p[0]); close(p[1]);
  munmap(mem, 4 * PMD);
}

/* ---- cow.c's vmsplice cases ---------------------------------------------------------------- */
struct comm { int child_ready[2], parent_ready[2]; };

static void wait_byte(int fd) { char c; while (read(fd, &c, 1) != 1) ; }

static int child_vmsplice_memcmp_fn(char *mem, size_t size, struct comm *c) {
  struct iovec iov = { mem, size };
  char *old = malloc(size), *new = malloc(size);
  int fds[2];
  ssize_t cur, total, transferred;
  memcpy(old, mem, size);
  if (pipe(fds) < 0) return 1;
  transferred = vmsplice(fds[1], &iov, 1, 0);
  if (transferred <= 0) return 2;
  if (munmap(mem, size) < 0) return 3;
  write(c->child_ready[1], "0", 1);
  wait_byte(c->parent_ready[0]);
  for (total = 0; total < transferred; total += cur)
    if ((cur = read(fds[0], new + total, transferred - total)) < 0) return 4;
  return memcmp(old, new, transferred) ? 5 : 0;
}

static const char *vmsplice_in_child(char *mem, size_t size, int do_mprotect) {
  struct comm c;
  int ret;
  pipe(c.child_ready); pipe(c.parent_ready);
  if (!fork()) exit(child_vmsplice_memcmp_fn(mem, size, &c));
  wait_byte(c.child_ready[0]);
  if (do_mprotect) { mprotect(mem, size, PROT_READ); mprotect(mem, size, PROT_READ | PROT_WRITE); }
  memset(mem, 0xff, size);
  write(c.parent_ready[1], "0", 1);
  wait(&ret);
  return WIFEXITED(ret) && !WEXITSTATUS(ret) ? "pass" : "leak";
}

static const char *vmsplice_in_parent(char *mem, size_t size, int before_fork) {
  struct iovec iov = { mem, size };
  struct comm c;
  char *old = malloc(size), *new = malloc(size);
  ssize_t cur, total, transferred = 0;
  int fds[2], ret;
  memcpy(old, mem, size);
  pipe(c.child_ready); pipe(c.parent_ready); pipe(fds);
  if (before_fork) transferred = vmsplice(fds[1], &iov, 1, 0);
  if (!fork()) {
    write(c.child_ready[1], "0", 1);
    wait_byte(c.parent_ready[0]);
    memset(mem, 0xff, size);
    exit(0);
  }
  if (!before_fork) transferred = vmsplice(fds[1], &iov, 1, 0);
  wait_byte(c.child_ready[0]);
  munmap(mem, size);
  write(c.parent_ready[1], "0", 1);
  wait(&ret);
  for (total = 0; total < transferred; total += cur)
    if ((cur = read(fds[0], new + total, transferred - total)) < 0) return "read failed";
  close(fds[0]); close(fds[1]);
  return memcmp(old, new, transferred) ? "leak" : "pass";
}

static const char *run(int test, char *mem, size_t size) {
  switch (test) {
  case 0: return vmsplice_in_child(mem, size, 0);
  case 1: return vmsplice_in_child(mem, size, 1);
  case 2: return vmsplice_in_parent(mem, size, 1);
  default: return vmsplice_in_parent(mem, size, 0);
  }
}

static const char *const TESTS[] = {
  "vmsplice() + unmap in child",
  "vmsplice() + unmap in child with mprotect() optimization",
  "vmsplice() before fork(), unmap in parent after fork()",
  "vmsplice() + unmap in parent after fork()",
};
static const char *const KINDS[] = { "base page", "THP", "PTE-mapped THP", "single PTE of THP",
                                     "partially mremap()'ed THP", "partially shared THP" };

static void cow_case(int test, int kind) {
  char *mmap_mem = mmap(NULL, 2 * PMD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *mem = (char *)(((uintptr_t)mmap_mem + PMD) & ~(PMD - 1)), *target = NULL;
  size_t size = PMD;
  const char *result;
  int ret;
  if (kind == 0) {
    mem = mmap_mem;
    size = PAGE;
    madvise(mem, PAGE, MADV_NOHUGEPAGE);
    memset(mem, 1, PAGE);
  } else {
    madvise(mem, PMD, MADV_HUGEPAGE);
    mem[0] = 1;
    memset(mem, 1, PMD);
  }
  if (kind == 2) {
    mprotect(mem + PAGE, PAGE, PROT_READ);
    mprotect(mem + PAGE, PAGE, PROT_READ | PROT_WRITE);
  } else if (kind == 3) {
    madvise(mem + PAGE, PMD - PAGE, MADV_DONTNEED);
    size = PAGE;
  } else if (kind == 4) {
    target = mmap(NULL, PMD / 2, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mremap(mem + PMD / 2, PMD / 2, PMD / 2, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    size = PMD / 2;
  } else if (kind == 5) {
    madvise(mem + PAGE, PMD - PAGE, MADV_DONTFORK);
    if (!fork()) exit(0);
    wait(&ret);
    madvise(mem + PAGE, PMD - PAGE, MADV_DOFORK);
  }
  result = run(test, mem, size);
  printf("%s ... with %s: %s\n", TESTS[test], KINDS[kind], result);
  munmap(mmap_mem, 2 * PMD);
  if (target) munmap(target, PMD / 2);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pipe_semantics();
  vmsplice_semantics();
  for (int test = 0; test < 4; test++)
    for (int kind = 0; kind < 6; kind++)
      cow_case(test, kind);
  return 0;
}
