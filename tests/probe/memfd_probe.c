/* memfd_create, F_GET_SEALS and fallocate errnos on this host (Linux 6.18, ext4 /tmp):
 * gcc -O0 -o memfd_probe memfd_probe.c && ./memfd_probe; its output is quoted in
 * tests/test_memfd.py. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <fcntl.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#ifndef MFD_EXEC
#define MFD_EXEC 0x10
#define MFD_NOEXEC_SEAL 0x8
#endif
static void t(const char *n, const char *name, unsigned f) {
  int fd = memfd_create(name, f);
  if (fd < 0) { printf("%s: -1 %s\n", n, strerrorname_np(errno)); return; }
  printf("%s: seals %#x\n", n, fcntl(fd, F_GET_SEALS));
}
int main() {
  char big[300]; memset(big, 'a', 299); big[299]=0; big[250]=0;
  t("0", "x", 0); t("cloexec", "x", MFD_CLOEXEC); t("allow", "x", MFD_ALLOW_SEALING);
  t("noexec", "x", MFD_NOEXEC_SEAL); t("exec|noexec", "x", MFD_EXEC|MFD_NOEXEC_SEAL);
  t("0x100", "x", 0x100); t("name250", big, 0); big[249]=0; t("name249", big, 0);
  int fd = open("/tmp/probe/f", O_RDWR|O_CREAT, 0600);
  printf("ext4 get_seals: %d %s\n", fcntl(fd, F_GET_SEALS), strerrorname_np(errno));
  int r = fallocate(fd, 2, 0, 4096); printf("falloc mode 2: %d %s\n", r, strerrorname_np(errno));
  r = fallocate(fd, 0, 0, 0); printf("falloc len 0: %d %s\n", r, strerrorname_np(errno));
  r = fallocate(fd, 0x10, 0, 4096); printf("falloc zero_range: %d\n", r);
  int ro = open("/tmp/probe/f", O_RDONLY);
  r = fallocate(ro, 0, 0, 4096); printf("falloc ro: %d %s\n", r, strerrorname_np(errno));
  r = fcntl(fd, F_GET_SEALS); printf("ext4 get_seals: %d %s\n", r, strerrorname_np(errno));
  return 0;
}
