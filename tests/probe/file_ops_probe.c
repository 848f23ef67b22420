/* Real-kernel probe for linuxmm's file mappings beyond issue 14's scenarios 1-6: populate
 * (MAP_POPULATE, MAP_LOCKED, mlock), fork, truncation, hole punching and fallocate,
 * MADV_PAGEOUT and MADV_COLD, on a file of the directory given (ext4) or /dev/shm (tmpfs).
 *
 * The file is 16 MiB (4096 pages), written with write() calls of 4 KiB (order-0 folios) or in
 * one call (2 MiB folios on ext4), fsync'ed and read once (cached), or then evicted
 * (POSIX_FADV_DONTNEED). Each scenario prints one JSON object: getrusage minflt/majflt deltas
 * of its step, /proc/self/status RssFile/RssAnon/RssShmem deltas (kB), smaps fields of the
 * mapping (kB), the resident pages of the file (mincore over a separate PROT_READ mapping,
 * which takes no faults), and cachestat(2)'s cache and dirty pages. Errnos are printed by
 * name. Build and run: cc -O2 -o file_ops_probe file_ops_probe.c && ./file_ops_probe DIR
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "probe_file.h"

#define LEN (16 * MB)
#define NPAGES (LEN / PAGE)

static const char *dir = ".";
static char path[4096];

static long resident(int fd, size_t len) {
	unsigned char vec[NPAGES * 2];
	long n = 0;
	if (!len) return 0;
	void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) die("mmap for mincore");
	if (mincore(p, len, vec)) die("mincore");
	for (size_t i = 0; i < len / PAGE; i++) n += vec[i] & 1;
	munmap(p, len);
	return n;
}

static void cstat(int fd, long *cache, long *dirty) {
	struct cachestat cs;
	*cache = *dirty = -1;
	if (!file_cachestat(fd, &cs)) { *cache = cs.nr_cache; *dirty = cs.nr_dirty; }
}

static void report(const char *scenario, struct snap *s0, char *p, int fd, const char *extra) {
	struct snap s1;
	struct stat st;
	long cache, dirty;
	snap(&s1);
	if (fstat(fd, &st)) die("fstat");
	cstat(fd, &cache, &dirty);
	printf("{\"scenario\": \"%s\", \"minflt\": %ld, \"majflt\": %ld, \"rss_anon_kb\": %ld, \"rss_file_kb\": %ld, "
	       "\"rss_shmem_kb\": %ld, \"smaps_rss_kb\": %ld, \"locked_kb\": %ld, \"file_pmd_mapped_kb\": %ld, "
	       "\"private_dirty_kb\": %ld, \"resident\": %ld, \"cache\": %ld, \"dirty\": %ld, \"size\": %ld%s}\n",
	       scenario, s1.minflt - s0->minflt, s1.majflt - s0->majflt, s1.anon - s0->anon, s1.file - s0->file,
	       s1.shmem - s0->shmem, p ? smaps_kb(p, "Rss") : -1, p ? smaps_kb(p, "Locked") : -1,
	       p ? smaps_kb(p, "FilePmdMapped") : -1, p ? smaps_kb(p, "Private_Dirty") : -1,
	       resident(fd, (st.st_size + PAGE - 1) & ~(PAGE - 1)), cache, dirty, (long)st.st_size, extra ? extra : "");
	fflush(stdout);
}

/* A cached (or evicted) 16 MiB file written in `chunk`-byte write() calls; its fd, O_RDWR. */
static int create(const char *where, size_t chunk, int evict) {
	snprintf(path, sizeof path, "%s/linuxmm-file-ops-probe", where);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) die(path);
	char *buf = malloc(chunk);
	if (!buf) die("malloc");
	write_chunks(fd, LEN, chunk);
	if (pread(fd, buf, chunk < MB ? chunk : MB, 0) < 0) die("read");
	for (size_t off = 0; off < LEN; off += MB)
		if (pread(fd, buf, MB < chunk ? MB : chunk, off) < 0) die("read");
	free(buf);
	if (evict && posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)) die("fadvise");
	return fd;
}

static void finish(int fd, char *p, size_t len) {
	if (p) munmap(p, len);
	close(fd);
	unlink(path);
}

static char *map_aligned(size_t len, int prot, int flags, int fd) {
	char *p = mmap(reserve_aligned(len, 2 * MB), len, prot, flags | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) die("mmap");
	return p;
}

/* mmap with `flags` (MAP_POPULATE, MAP_LOCKED) of a cached or evicted file: the mmap's faults. */
static void populate(const char *name, const char *where, size_t chunk, int evict, int prot, int flags) {
	int fd = create(where, chunk, evict);
	struct snap s0;
	snap(&s0);
	char *p = map_aligned(LEN, prot, flags, fd);
	report(name, &s0, p, fd, NULL);
	snap(&s0);
	touch(p, LEN, 0);
	char step[128];
	snprintf(step, sizeof step, "%s_then_load", name);
	report(step, &s0, p, fd, NULL);
	finish(fd, p, LEN);
}

/* mlock(2) of a mapping of a cached or evicted file. */
static void mlock_step(const char *name, const char *where, int evict) {
	int fd = create(where, PAGE, evict);
	char *p = map_aligned(LEN, PROT_READ, MAP_SHARED, fd);
	struct snap s0;
	snap(&s0);
	if (mlock(p, LEN)) die("mlock");
	report(name, &s0, p, fd, NULL);
	snap(&s0);
	if (munlock(p, LEN)) die("munlock");
	char step[128];
	snprintf(step, sizeof step, "%s_munlock", name);
	report(step, &s0, p, fd, NULL);
	finish(fd, p, LEN);
}

/* The parent loads (or stores to) its mapping, forks; the child loads every page: its faults. */
static void fork_step(const char *name, int flags, int prot, int store) {
	int fd = create(dir, PAGE, 0);
	char *p = map_aligned(LEN, prot, flags, fd);
	touch(p, LEN, store);
	int pfd[2];
	if (pipe(pfd)) die("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		struct snap s0, s1;
		snap(&s0);
		touch(p, LEN, 0);
		snap(&s1);
		long out[3] = { s1.minflt - s0.minflt, s1.majflt - s0.majflt, smaps_kb(p, "Rss") };
		if (write(pfd[1], out, sizeof out) != sizeof out) _exit(1);
		_exit(0);
	}
	long got[3];
	if (read(pfd[0], got, sizeof got) != sizeof got) die("pipe read");
	waitpid(pid, NULL, 0);
	printf("{\"scenario\": \"%s\", \"child_minflt\": %ld, \"child_majflt\": %ld, \"child_smaps_rss_kb\": %ld, "
	       "\"parent_smaps_rss_kb\": %ld}\n", name, got[0], got[1], got[2], smaps_kb(p, "Rss"));
	fflush(stdout);
	close(pfd[0]);
	close(pfd[1]);
	finish(fd, p, LEN);
}

static sigjmp_buf jb;
static void on_bus(int sig) { (void)sig; siglongjmp(jb, 1); }

static int bus(volatile char *p) {
	if (sigsetjmp(jb, 1)) return 1;
	(void)*p;
	return 0;
}

/* A mapped, loaded file truncated to `newsize`: what stays mapped and cached; SIGBUS past it. */
static void truncate_step(const char *name, const char *where, size_t chunk, off_t newsize) {
	int fd = create(where, chunk, 0);
	char *p = map_aligned(LEN, PROT_READ, MAP_SHARED, fd);
	touch(p, LEN, 0);
	struct snap s0;
	snap(&s0);
	if (ftruncate(fd, newsize)) die("ftruncate");
	char extra[256];
	int last = newsize ? bus(p + ((newsize - 1) & ~(PAGE - 1))) : -1;
	snprintf(extra, sizeof extra, ", \"sigbus_last_page\": %d, \"sigbus_next_page\": %d, \"byte_past_size\": %d",
		 last, bus(p + ((newsize + PAGE - 1) & ~(PAGE - 1))),
		 newsize & (PAGE - 1) ? p[newsize] : -1);
	report(name, &s0, p, fd, extra);
	finish(fd, p, LEN);
}

/* fallocate(PUNCH_HOLE|KEEP_SIZE) of [off, off+len) of a mapped, loaded file. */
static void punch_step(const char *name, const char *where, size_t chunk, off_t off, off_t len) {
	int fd = create(where, chunk, 0);
	char *p = map_aligned(LEN, PROT_READ, MAP_SHARED, fd);
	touch(p, LEN, 0);
	struct snap s0;
	snap(&s0);
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len)) die("fallocate");
	char extra[256];
	snprintf(extra, sizeof extra, ", \"byte_before\": %d, \"byte_first\": %d, \"byte_last\": %d, \"byte_after\": %d",
		 off ? p[off - 1] : -1, p[off], p[off + len - 1], p[off + len]);
	report(name, &s0, p, fd, extra);
	finish(fd, p, LEN);
}

/* MADV_PAGEOUT or MADV_COLD of a mapping loaded (or stored to, MAP_SHARED). */
static void madvise_step(const char *name, const char *where, size_t chunk, int advice, int flags, int store) {
	int fd = create(where, chunk, 0);
	char *p = map_aligned(LEN, PROT_READ | PROT_WRITE, flags, fd);
	touch(p, LEN, store);
	struct snap s0;
	snap(&s0);
	if (madvise(p, LEN, advice)) die("madvise");
	report(name, &s0, p, fd, NULL);
	snap(&s0);
	touch(p, LEN, 0);
	char step[128];
	snprintf(step, sizeof step, "%s_then_load", name);
	report(step, &s0, p, fd, NULL);
	finish(fd, p, LEN);
}

static const char *errname(int e) {
	switch (e) {
	case 0: return "0";
	case EBADF: return "EBADF";
	case EINVAL: return "EINVAL";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENODEV: return "ENODEV";
	case ESPIPE: return "ESPIPE";
	case EISDIR: return "EISDIR";
	case EFBIG: return "EFBIG";
	case EPERM: return "EPERM";
	default: return strerror(e);
	}
}

static void fallocate_case(const char *name, int fd, int mode, off_t off, off_t len) {
	struct stat st;
	int r = fallocate(fd, mode, off, len), e = r ? errno : 0;
	long cache, dirty;
	fstat(fd, &st);
	cstat(fd, &cache, &dirty);
	printf("{\"scenario\": \"%s\", \"errno\": \"%s\", \"size\": %ld, \"cache\": %ld}\n", name, errname(e),
	       (long)st.st_size, cache);
	fflush(stdout);
}

/* fallocate's modes and errors on an empty file of `where`. */
static void fallocate_cases(const char *fs, const char *where) {
	char n[128];
	snprintf(path, sizeof path, "%s/linuxmm-file-ops-probe", where);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) die(path);
	int ro = open(path, O_RDONLY);
#define CASE(label, f, mode, off, len) do { snprintf(n, sizeof n, "fallocate_%s_%s", fs, label); \
	fallocate_case(n, f, mode, off, len); } while (0)
	CASE("mode0_1m", fd, 0, 0, MB);
	CASE("keep_size_4m", fd, FALLOC_FL_KEEP_SIZE, 0, 4 * MB);
	CASE("mode0_unaligned", fd, 0, 100, 2 * MB + 1);
	CASE("punch_keep", fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192);
	CASE("punch_no_keep", fd, FALLOC_FL_PUNCH_HOLE, 0, 4096);
	CASE("len0", fd, 0, 0, 0);
	CASE("neg_off", fd, 0, -4096, 4096);
	CASE("huge", fd, 0, 0x7fffffffffff0000L, 0x100000);
	CASE("rdonly_fd", ro, 0, 0, 4096);
	CASE("bad_fd", 1000, 0, 0, 4096);
	CASE("collapse", fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096);
	CASE("zero_range", fd, FALLOC_FL_ZERO_RANGE, 0, 4096);
	CASE("bad_mode", fd, 0x1000, 0, 4096);
	close(ro);
	close(fd);
	unlink(path);
	int pfd[2];
	if (pipe(pfd)) die("pipe");
	CASE("pipe", pfd[1], 0, 0, 4096);
	close(pfd[0]);
	close(pfd[1]);
	int d = open(where, O_RDONLY | O_DIRECTORY);
	CASE("dir", d, 0, 0, 4096);
	close(d);
#undef CASE
}

int main(int argc, char **argv) {
	if (argc > 1) dir = argv[1];
	struct sigaction sa = { .sa_handler = on_bus };
	sigaction(SIGBUS, &sa, NULL);
	populate("warmup", dir, PAGE, 0, PROT_READ, MAP_SHARED);
	populate("populate_cached_4k", dir, PAGE, 0, PROT_READ, MAP_SHARED | MAP_POPULATE);
	populate("populate_cached_one_write", dir, LEN, 0, PROT_READ, MAP_SHARED | MAP_POPULATE);
	populate("populate_evicted_4k", dir, PAGE, 1, PROT_READ, MAP_SHARED | MAP_POPULATE);
	populate("populate_private_rw", dir, PAGE, 0, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_POPULATE);
	populate("populate_shared_rw", dir, PAGE, 0, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE);
	populate("map_locked_cached_4k", dir, PAGE, 0, PROT_READ, MAP_SHARED | MAP_LOCKED);
	populate("map_locked_evicted_4k", dir, PAGE, 1, PROT_READ, MAP_SHARED | MAP_LOCKED);
	populate("populate_tmpfs", "/dev/shm", PAGE, 0, PROT_READ, MAP_SHARED | MAP_POPULATE);
	mlock_step("mlock_cached_4k", dir, 0);
	mlock_step("mlock_evicted_4k", dir, 1);
	fork_step("fork_shared_loaded", MAP_SHARED, PROT_READ, 0);
	fork_step("fork_private_loaded", MAP_PRIVATE, PROT_READ, 0);
	fork_step("fork_private_written", MAP_PRIVATE, PROT_READ | PROT_WRITE, 1);
	truncate_step("truncate_half_4k", dir, PAGE, LEN / 2);
	truncate_step("truncate_unaligned_4k", dir, PAGE, LEN / 2 + 100);
	truncate_step("truncate_unaligned_one_write", dir, LEN, 3 * MB + 100);
	truncate_step("truncate_tmpfs", "/dev/shm", PAGE, LEN / 2 + 100);
	punch_step("punch_4k_aligned", dir, PAGE, 4 * MB, 4 * MB);
	punch_step("punch_4k_unaligned", dir, PAGE, 4 * MB + 100, 4 * MB);
	punch_step("punch_one_write_unaligned", dir, LEN, 3 * MB + 100, 4 * MB);
	punch_step("punch_tmpfs_unaligned", "/dev/shm", PAGE, 4 * MB + 100, 4 * MB);
	madvise_step("pageout_clean_shared", dir, PAGE, MADV_PAGEOUT, MAP_SHARED, 0);
	madvise_step("pageout_clean_private", dir, PAGE, MADV_PAGEOUT, MAP_PRIVATE, 0);
	madvise_step("pageout_dirty_shared", dir, PAGE, MADV_PAGEOUT, MAP_SHARED, 1);
	madvise_step("pageout_one_write", dir, LEN, MADV_PAGEOUT, MAP_SHARED, 0);
	madvise_step("cold_clean_shared", dir, PAGE, MADV_COLD, MAP_SHARED, 0);
	fallocate_cases("ext4", dir);
	fallocate_cases("tmpfs", "/dev/shm");
	return 0;
}
