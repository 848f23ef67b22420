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
#include <setjmp.h>
#include <signal.h>

#include "probe_file.h"

#define LEN (64 * MB)
#define KPF_COMPOUND_TAIL 16

static const char *dir = ".";

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
	struct cachestat cs;
	return file_cachestat(fd, &cs) ? -1 : (long)cs.nr_dirty;
}

/* A file of LEN bytes written in `chunk`-byte write() calls, fsync'ed and read once. */
static void create(const char *path, size_t chunk) {
	char *buf = malloc(MB);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || !buf) die(path);
	write_chunks(fd, LEN, chunk);
	if (lseek(fd, 0, SEEK_SET)) die("lseek");
	while (read(fd, buf, MB) > 0)
		;
	close(fd);
	free(buf);
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
