/* What the file probes (filemap_probe.c, file_ops_probe.c) share: the cachestat(2) ABI, the
 * /proc/self/status and smaps readers, fault and Rss snapshots, 2 MiB-aligned address space,
 * loads/stores of a byte per page and writing a file in chunks. Included by the probes, which
 * are built alone from this directory: cc -O2 -o PROBE PROBE.c.
 */
#ifndef LINUXMM_PROBE_FILE_H
#define LINUXMM_PROBE_FILE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096UL
#define MB (1UL << 20)
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

struct cachestat_range { uint64_t off, len; };
struct cachestat { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; };

static void die(const char *what) { perror(what); exit(1); }

/* cachestat(2) over the whole file: 0, or -1 with errno. */
static int file_cachestat(int fd, struct cachestat *cs) {
	struct cachestat_range r = { 0, 0 };
	return syscall(__NR_cachestat, fd, &r, cs, 0) ? -1 : 0;
}

/* The value of `key` (kB) in /proc/self/status, or -1. */
static long status_kb(const char *key) {
	FILE *f = fopen("/proc/self/status", "r");
	char line[256]; long v = -1; size_t n = strlen(key);
	if (!f) return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, n) && line[n] == ':') { v = atol(line + n + 1); break; }
	fclose(f);
	return v;
}

/* The smaps value of `key` in the block of the VMA starting at `start`, or -1. */
static long smaps_kb(char *start, const char *key) {
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512]; long v = -1; int in = 0; size_t n = strlen(key);
	if (!f) return -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long s, e;
		char perms[5];
		if (sscanf(line, "%lx-%lx %4s", &s, &e, perms) == 3)  /* a VMA's header line */
			in = (char *)s == start;
		else if (in && !strncmp(line, key, n) && line[n] == ':') { v = atol(line + n + 1); break; }
	}
	fclose(f);
	return v;
}

/* The counters a probe reports as deltas: getrusage faults and the status Rss (kB). */
struct snap { long minflt, majflt, anon, file, shmem; };

static void snap(struct snap *s) {
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	s->minflt = r.ru_minflt;
	s->majflt = r.ru_majflt;
	s->anon = status_kb("RssAnon");
	s->file = status_kb("RssFile");
	s->shmem = status_kb("RssShmem");
}

/* `len` bytes of address space starting at an `align`-aligned address, PROT_NONE (map over
 * it with MAP_FIXED). */
static char *reserve_aligned(size_t len, size_t align) {
	char *p = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) die("mmap reserve");
	return (char *)(((unsigned long)p + align - 1) & ~(align - 1));
}

/* Load (or store 9 into) one byte per page of [p, p+len). */
static void touch(volatile char *p, size_t len, int write) {
	for (size_t off = 0; off < len; off += PAGE) {
		if (write) p[off] = 9; else (void)p[off];
	}
}

/* Write `len` bytes of 7 to `fd` in `chunk`-byte write() calls, then fsync. */
static void write_chunks(int fd, size_t len, size_t chunk) {
	char *buf = malloc(chunk);
	if (!buf) die("malloc");
	memset(buf, 7, chunk);
	for (size_t off = 0; off < len; off += chunk)
		if (write(fd, buf, chunk) != (ssize_t)chunk) die("write");
	if (fsync(fd)) die("fsync");
	free(buf);
}

#endif
