/* Real-kernel readahead probe for linuxmm (issue 14): page-cache residency of an evicted file
 * as read() and mmap loads walk it.
 *
 * A 64 MiB file (16384 pages) is written, fsync'ed and evicted (POSIX_FADV_DONTNEED; mincore
 * then reports 0 pages). Each scenario then reads it through a fresh descriptor and prints one
 * JSON object: the resident pages (mincore over a separate PROT_READ mapping, which takes no
 * faults and leaves the reader's readahead state alone) after each of the first `steps`
 * accesses, the resident pages and major faults at the end, and the file's size in pages.
 * `settle_us` is how long the probe sleeps before each mincore: mincore counts only uptodate
 * folios, so a sleep lets the asynchronous readahead submitted by an access complete.
 * `folios` scenarios print the page cache's folio sizes after a whole read, in file order, as
 * [pages per folio, how many in a row] runs (from /proc/self/pagemap and /proc/kpageflags of a
 * MAP_POPULATE mapping; needs root).
 * Build and run: cc -O2 -o readahead_probe readahead_probe.c && ./readahead_probe DIR
 * (DIR on the disk to measure; the file is removed at the end).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define PAGE 4096UL
#define FILE_SIZE (64UL << 20)
#define NPAGES (FILE_SIZE / PAGE)
#define STEPS 12

static char path[4096];
static unsigned char vec[NPAGES];

static long majflt(void) { struct rusage r; getrusage(RUSAGE_SELF, &r); return r.ru_majflt; }

static long resident(int settle_us) {
	int fd = open(path, O_RDONLY);
	void *p = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	long n = 0;
	if (settle_us)
		usleep(settle_us);
	if (p == MAP_FAILED || mincore(p, FILE_SIZE, vec)) { perror("mincore"); exit(1); }
	for (unsigned long i = 0; i < NPAGES; i++)
		n += vec[i] & 1;
	munmap(p, FILE_SIZE);
	close(fd);
	return n;
}

static void create_file(void) {
	static char buf[1 << 20];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	memset(buf, 7, sizeof buf);
	for (unsigned long off = 0; off < FILE_SIZE; off += sizeof buf)
		if (write(fd, buf, sizeof buf) != sizeof buf) { perror("write"); exit(1); }
	fsync(fd);
	close(fd);
}

static void evict(void) {
	int fd = open(path, O_RDONLY);
	fsync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	if (resident(0)) { fprintf(stderr, "file not evicted\n"); exit(1); }
}

static void print_steps(const char *name, long *steps, int n, int settle_us, long end, long majflts) {
	printf("{\"scenario\": \"%s\", \"settle_us\": %d, \"resident_after\": [", name, settle_us);
	for (int i = 0; i < n; i++)
		printf("%s%ld", i ? ", " : "", steps[i]);
	printf("], \"resident_end\": %ld, \"majflt\": %ld, \"file_pages\": %lu}\n", end, majflts, NPAGES);
	fflush(stdout);
}

/* read() of the whole file in `size`-byte calls, after `advice` through posix_fadvise. */
static void read_scenario(const char *name, size_t size, int advice, int settle_us) {
	static char buf[4 << 20];
	long steps[STEPS];
	int fd;
	evict();
	fd = open(path, O_RDONLY);
	if (advice >= 0)
		posix_fadvise(fd, 0, 0, advice);
	for (int i = 0; i < STEPS; i++) {
		if (read(fd, buf, size) != (ssize_t)size) { perror("read"); exit(1); }
		steps[i] = resident(settle_us);
	}
	while (read(fd, buf, size) > 0)
		;
	close(fd);
	print_steps(name, steps, STEPS, settle_us, resident(settle_us), 0);
}

/* One load per page of a PROT_READ MAP_SHARED mapping, in order or in a fixed random order,
 * after `advice` through madvise. */
static void mmap_scenario(const char *name, int advice, int random, int settle_us) {
	static unsigned long order[NPAGES];
	long steps[STEPS], before;
	int fd;
	volatile char *p;
	evict();
	fd = open(path, O_RDONLY);
	p = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) { perror("mmap"); exit(1); }
	if (advice >= 0)
		madvise((void *)p, FILE_SIZE, advice);
	for (unsigned long i = 0; i < NPAGES; i++)
		order[i] = i;
	if (random) {
		unsigned long x = 12345;
		for (unsigned long i = NPAGES - 1; i > 0; i--) {
			unsigned long j, t;
			x = x * 6364136223846793005UL + 1442695040888963407UL;
			j = (x >> 33) % (i + 1);
			t = order[i]; order[i] = order[j]; order[j] = t;
		}
	}
	before = majflt();
	for (unsigned long i = 0; i < NPAGES; i++) {
		(void)p[order[i] * PAGE];
		if (i < STEPS)
			steps[i] = resident(settle_us);
	}
	print_steps(name, steps, STEPS, settle_us, resident(settle_us), majflt() - before);
	munmap((void *)p, FILE_SIZE);
	close(fd);
}

/* Folio sizes of the cached file in index order, as runs of equal sizes. */
static void print_folios(const char *name) {
	int fd = open(path, O_RDONLY), pm = open("/proc/self/pagemap", O_RDONLY);
	int kpf = open("/proc/kpageflags", O_RDONLY);
	char *p = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	long run_size = 0, run_count = 0, first = 1;
	unsigned long i = 0;
	if (p == MAP_FAILED || pm < 0 || kpf < 0) { perror("folios"); exit(1); }
	printf("{\"scenario\": \"%s\", \"folio_runs\": [", name);
	while (i < NPAGES) {
		uint64_t ent, flags, pfn;
		long nr = 1;
		pread(pm, &ent, 8, ((unsigned long)p / PAGE + i) * 8);
		pfn = ent & ((1ULL << 55) - 1);
		pread(kpf, &flags, 8, pfn * 8);
		if (flags & (1ULL << 15)) /* KPF_COMPOUND_HEAD: count its tails */
			for (uint64_t t; i + nr < NPAGES; nr++) {
				pread(kpf, &t, 8, (pfn + nr) * 8);
				if (!(t & (1ULL << 16)))
					break;
			}
		if (nr == run_size) {
			run_count++;
		} else {
			if (run_count)
				printf("%s[%ld, %ld]", first ? "" : ", ", run_size, run_count), first = 0;
			run_size = nr, run_count = 1;
		}
		i += nr;
	}
	printf("%s[%ld, %ld]]}\n", first ? "" : ", ", run_size, run_count);
	fflush(stdout);
	munmap(p, FILE_SIZE);
	close(fd), close(pm), close(kpf);
}

/* The folios a whole read() in `size`-byte calls leaves, on an evicted file. */
static void folio_scenario(const char *name, size_t size) {
	static char buf[4 << 20];
	int fd;
	evict();
	fd = open(path, O_RDONLY);
	while (read(fd, buf, size) > 0)
		;
	close(fd);
	print_folios(name);
}

/* posix_fadvise(WILLNEED) or readahead(2) of the whole file on an evicted file. */
static void willneed_scenario(const char *name, int use_syscall, int settle_us) {
	long steps[1];
	int fd;
	evict();
	fd = open(path, O_RDONLY);
	if (use_syscall)
		readahead(fd, 0, FILE_SIZE);
	else
		posix_fadvise(fd, 0, FILE_SIZE, POSIX_FADV_WILLNEED);
	steps[0] = resident(settle_us);
	close(fd);
	print_steps(name, steps, 1, settle_us, steps[0], 0);
}

int main(int argc, char **argv) {
	const int settle = 20000;
	snprintf(path, sizeof path, "%s/readahead_probe.dat", argc > 1 ? argv[1] : ".");
	create_file();
	read_scenario("read_4k", 4096, -1, 0);
	read_scenario("read_4k", 4096, -1, settle);
	read_scenario("read_64k", 65536, -1, settle);
	read_scenario("read_1m", 1 << 20, -1, settle);
	read_scenario("read_4k_fadv_sequential", 4096, POSIX_FADV_SEQUENTIAL, settle);
	read_scenario("read_4k_fadv_random", 4096, POSIX_FADV_RANDOM, settle);
	mmap_scenario("mmap_seq", -1, 0, settle);
	mmap_scenario("mmap_seq_madv_sequential", MADV_SEQUENTIAL, 0, settle);
	mmap_scenario("mmap_seq_madv_random", MADV_RANDOM, 0, settle);
	mmap_scenario("mmap_random", -1, 1, settle);
	mmap_scenario("mmap_random_madv_random", MADV_RANDOM, 1, settle);
	willneed_scenario("fadvise_willneed", 0, settle);
	willneed_scenario("readahead_syscall", 1, settle);
	folio_scenario("folios_read_4k", 4096);
	folio_scenario("folios_read_1m", 1 << 20);
	unlink(path);
	return 0;
}
