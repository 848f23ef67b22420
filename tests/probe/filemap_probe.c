/* Real-kernel conformance probe for linuxmm's file mappings (issue #14, scenarios 1-5 and more).
 *
 * Each scenario creates a 64 MiB file on ext4 (the directory given, default .) or tmpfs
 * (/dev/shm), written with write() calls of a given size, fsync'ed, read once with read(),
 * closed and reopened; maps it at a 2 MiB-aligned address and loads or stores one byte per
 * page. It prints one JSON object per step: minor and major faults (getrusage), the
 * /proc/self/status RssAnon/RssFile/RssShmem deltas (kB), the smaps fields of the mapping
 * (kB), the page-cache folios behind the mapping (from /proc/self/pagemap and
 * /proc/kpageflags: pages that are not compound tails, and the largest folio in pages) and
 * the file's dirty pages (cachestat(2)). Needs root for the pfns (pagemap) and kpageflags.
 * Build and run: cc -O1 -o filemap_probe filemap_probe.c && ./filemap_probe /path/on/ext4
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
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
#define LEN (64 * MB)
#define KPF_COMPOUND_TAIL 16
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

struct cachestat_range { uint64_t off, len; };
struct cachestat { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; };

static const char *dir = ".";

static void die(const char *what) { perror(what); exit(1); }

static void faults(long *minflt, long *majflt) {
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	*minflt = r.ru_minflt;
	*majflt = r.ru_majflt;
}

static long status_kb(const char *key) {
	FILE *f = fopen("/proc/self/status", "r");
	char line[256]; long v = -1; size_t n = strlen(key);
	if (!f) return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, n) && line[n] == ':') { v = atol(line + n + 1); break; }
	fclose(f);
	return v;
}

/* The smaps value of `key` in the block of the VMA starting at `start`. */
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

/* Page-cache folios behind [p, p+len): pages that are not compound tails, and the largest. */
static void folios(char *p, size_t len, long *nr, long *largest) {
	int pm = open("/proc/self/pagemap", O_RDONLY), kf = open("/proc/kpageflags", O_RDONLY);
	long run = 0;
	*nr = *largest = -1;
	if (pm < 0 || kf < 0) goto out;
	*nr = *largest = 0;
	for (size_t off = 0; off < len; off += PAGE) {
		uint64_t e, flags;
		if (pread(pm, &e, 8, ((unsigned long)p + off) / PAGE * 8) != 8 || !(e >> 63)) { *nr = -1; break; }
		if (pread(kf, &flags, 8, (e & ((1ULL << 55) - 1)) * 8) != 8) { *nr = -1; break; }
		if (flags >> KPF_COMPOUND_TAIL & 1) {
			run++;
		} else {
			(*nr)++;
			run = 1;
		}
		if (run > *largest) *largest = run;
	}
out:
	if (pm >= 0) close(pm);
	if (kf >= 0) close(kf);
}

static long dirty_pages(int fd) {
	struct cachestat_range r = { 0, 0 };
	struct cachestat cs;
	if (syscall(__NR_cachestat, fd, &r, &cs, 0)) return -1;
	return (long)cs.nr_dirty;
}

/* A file of LEN bytes written in `chunk`-byte write() calls, fsync'ed and read once. */
static void create(const char *path, size_t chunk) {
	char *buf = malloc(chunk > MB ? chunk : MB);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || !buf) die(path);
	memset(buf, 7, chunk > MB ? chunk : MB);
	for (size_t off = 0; off < LEN; off += chunk)
		if (write(fd, buf, chunk) != (ssize_t)chunk) die("write");
	if (fsync(fd)) die("fsync");
	if (lseek(fd, 0, SEEK_SET)) die("lseek");
	while (read(fd, buf, MB) > 0)
		;
	close(fd);
	free(buf);
}

static char *reserve_aligned(size_t len, size_t align) {
	char *p = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) die("mmap");
	return (char *)(((unsigned long)p + align - 1) & ~(align - 1));
}

struct snap { long minflt, majflt, anon, file, shmem; };

static void snap(struct snap *s) {
	faults(&s->minflt, &s->majflt);
	s->anon = status_kb("RssAnon");
	s->file = status_kb("RssFile");
	s->shmem = status_kb("RssShmem");
}

static void touch(volatile char *p, size_t len, int write) {
	for (size_t off = 0; off < len; off += PAGE) {
		if (write) p[off] = 9; else (void)p[off];
	}
}

static void report(const char *scenario, const char *step, struct snap *s0, char *p, int fd) {
	struct snap s1;
	long nr, largest;
	snap(&s1);
	folios(p, LEN, &nr, &largest);
	printf("{\"scenario\": \"%s\", \"step\": \"%s\", \"minflt\": %ld, \"majflt\": %ld, \"rss_anon_kb\": %ld, "
	       "\"rss_file_kb\": %ld, \"rss_shmem_kb\": %ld, \"smaps_rss_kb\": %ld, \"referenced_kb\": %ld, "
	       "\"shared_clean_kb\": %ld, \"shared_dirty_kb\": %ld, \"private_clean_kb\": %ld, "
	       "\"private_dirty_kb\": %ld, \"anonymous_kb\": %ld, \"file_pmd_mapped_kb\": %ld, "
	       "\"folios\": %ld, \"largest_folio_pages\": %ld, \"dirty_pages\": %ld}\n",
	       scenario, step, s1.minflt - s0->minflt, s1.majflt - s0->majflt, s1.anon - s0->anon,
	       s1.file - s0->file, s1.shmem - s0->shmem, smaps_kb(p, "Rss"), smaps_kb(p, "Referenced"),
	       smaps_kb(p, "Shared_Clean"), smaps_kb(p, "Shared_Dirty"), smaps_kb(p, "Private_Clean"),
	       smaps_kb(p, "Private_Dirty"), smaps_kb(p, "Anonymous"), smaps_kb(p, "FilePmdMapped"),
	       nr, largest, dirty_pages(fd));
	fflush(stdout);
}

/* Steps: a string of l (load each page), s (store each page), m (msync MS_SYNC). */
static void scenario(const char *name, const char *where, size_t chunk, int prot, int flags, const char *steps) {
	char path[4096];
	snprintf(path, sizeof path, "%s/linuxmm-file-probe", where);
	create(path, chunk);
	int fd = open(path, prot & PROT_WRITE && flags & MAP_SHARED ? O_RDWR : O_RDONLY);
	if (fd < 0) die(path);
	char *p = mmap(reserve_aligned(LEN, 2 * MB), LEN, prot, flags | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) die("mmap");
	for (const char *s = steps; *s; s++) {
		struct snap s0;
		char step[2] = { *s, 0 };
		snap(&s0);
		if (*s == 'l' || *s == 's')
			touch(p, LEN, *s == 's');
		else if (msync(p, LEN, MS_SYNC))
			die("msync");
		report(name, step, &s0, p, fd);
	}
	munmap(p, LEN);
	close(fd);
	unlink(path);
}

static sigjmp_buf jb;
static void on_bus(int sig) { (void)sig; siglongjmp(jb, 1); }

/* A one-page file mapped over two pages: is the second page SIGBUS? */
static void sigbus_past_eof(void) {
	char path[4096];
	snprintf(path, sizeof path, "%s/linuxmm-file-probe", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "x", 1) != 1) die(path);
	volatile char *p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) die("mmap");
	struct sigaction sa = { .sa_handler = on_bus };
	sigaction(SIGBUS, &sa, NULL);
	int bus0 = 0, bus1 = 0;
	if (sigsetjmp(jb, 1)) bus0 = 1; else (void)p[100];
	if (sigsetjmp(jb, 1)) bus1 = 1; else (void)p[PAGE];
	printf("{\"scenario\": \"sigbus_past_eof\", \"sigbus_page0\": %d, \"sigbus_page1\": %d}\n", bus0, bus1);
	munmap((char *)p, 2 * PAGE);
	close(fd);
	unlink(path);
}

int main(int argc, char **argv) {
	if (argc > 1) dir = argv[1];
	scenario("warmup", dir, MB, PROT_READ, MAP_SHARED, "l");  /* stdio, /proc and heap buffers */
	/* the scenarios 1-5 */
	scenario("1_4k_shared_load", dir, 4096, PROT_READ, MAP_SHARED, "l");
	scenario("1_4k_private_load", dir, 4096, PROT_READ, MAP_PRIVATE, "l");
	scenario("2_64m_shared_load", dir, LEN, PROT_READ, MAP_SHARED, "l");
	scenario("3_private_rw_store", dir, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, "sl");
	scenario("4_shared_rw_store", dir, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, "slmsm");
	scenario("5_tmpfs_shared_load", "/dev/shm", LEN, PROT_READ, MAP_SHARED, "l");
	/* more: folio sizes between, writenotify, COW of mapped file pages, PMD splits */
	scenario("256k_shared_load", dir, 256 * 1024, PROT_READ, MAP_SHARED, "l");
	scenario("4k_shared_rw_load_store", dir, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, "ls");
	scenario("4k_private_rw_load_store", dir, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, "ls");
	scenario("64m_private_rw_load_store", dir, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, "ls");
	scenario("64m_shared_rw_load_store_msync", dir, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, "lsms");
	scenario("tmpfs_shared_rw_load_store", "/dev/shm", 4096, PROT_READ | PROT_WRITE, MAP_SHARED, "ls");
	sigbus_past_eof();
	return 0;
}
