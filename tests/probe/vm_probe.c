/* Real-kernel conformance probe for linuxmm's virtual-memory model (issue #4).
 *
 * Runs the scenarios of tests/test_memory.py on the running kernel and prints one JSON object
 * per scenario: minor faults (getrusage) and Rss / AnonHugePages (smaps_rollup) deltas; the
 * shared-memory scenario reports the byte the parent reads ("value"), the SIGSEGV ones whether
 * the access raised SIGSEGV ("segv": 0 or 1).
 * Build and run: cc -O1 -o vm_probe vm_probe.c && ./vm_probe
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL
#define MB (1UL << 20)

static long minflt(void) { struct rusage r; getrusage(RUSAGE_SELF, &r); return r.ru_minflt; }

static long rollup(const char *key) {
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256]; long v = -1; size_t n = strlen(key);
	if (!f) return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, n) && line[n] == ':') { v = atol(line + n + 1); break; }
	fclose(f);
	return v;
}

static void touch(volatile char *p, size_t len, int write) {
	for (size_t off = 0; off < len; off += PAGE) {
		if (write) p[off] = 7; else (void)p[off];
	}
}

static char *map(size_t len, int prot, int flags) {
	char *p = mmap(NULL, len, prot, flags, -1, 0);
	if (p == MAP_FAILED) { perror("mmap"); exit(1); }
	return p;
}

static void report(const char *name, long faults, long rss_kb, long thp_kb) {
	printf("{\"scenario\": \"%s\", \"faults\": %ld, \"rss_kb\": %ld, \"anon_huge_kb\": %ld}\n",
	       name, faults, rss_kb, thp_kb);
	fflush(stdout);
}

static void report_one(const char *name, const char *key, long value) {
	printf("{\"scenario\": \"%s\", \"%s\": %ld}\n", name, key, value);
	fflush(stdout);
}

static void scenario(const char *name, int advice, int steps) {
	size_t len = 64 * MB;
	char *p = map(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	if (advice >= 0) madvise(p, len, advice);
	long f0 = minflt(), r0 = rollup("Rss"), h0 = rollup("AnonHugePages");
	if (steps & 1) touch(p, len, 0);
	if (steps & 2) touch(p, len, 1);
	report(name, minflt() - f0, rollup("Rss") - r0, rollup("AnonHugePages") - h0);
	munmap(p, len);
}

/* An address aligned to `align` with `len` bytes reserved (PROT_NONE) there. */
static char *reserve_aligned(size_t len, size_t align) {
	char *p = map(len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
	return (char *)(((unsigned long)p + align - 1) & ~(align - 1));
}

/* mremap of a written 4 MiB region at a 2 MiB-aligned address to `offset` bytes past another
 * 2 MiB-aligned address: the faults of the move and of writing every page again afterwards,
 * and the Rss and AnonHugePages deltas of the move (move_page_tables keeps a THP mapped by its
 * PMD when both ends are aligned, and splits it otherwise). */
static void mremap_scenario(const char *name, int advice, size_t offset) {
	size_t len = 4 * MB;
	char *src = reserve_aligned(len, 2 * MB), *dst = reserve_aligned(len + offset, 2 * MB) + offset;
	src = mmap(src, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	madvise(src, len, advice);
	touch(src, len, 1);
	long f0 = minflt(), r0 = rollup("Rss"), h0 = rollup("AnonHugePages");
	char *p = mremap(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (p == MAP_FAILED) { perror("mremap"); exit(1); }
	long r1 = rollup("Rss"), h1 = rollup("AnonHugePages");
	touch(p, len, 1);
	report(name, minflt() - f0, r1 - r0, h1 - h0);
	munmap(p, len);
}

static sigjmp_buf jb;
static void on_segv(int sig) { (void)sig; siglongjmp(jb, 1); }

static int segfaults(volatile char *p, int write) {
	struct sigaction sa = { .sa_handler = on_segv };
	sigaction(SIGSEGV, &sa, NULL);
	if (sigsetjmp(jb, 1)) return 1;
	if (write) p[0] = 1; else (void)p[0];
	return 0;
}

int main(void) {
	report("warmup", minflt(), rollup("Rss"), rollup("AnonHugePages"));  /* stdio and /proc buffers */
	scenario("warmup", -1, 0);
	scenario("write", -1, 2);
	scenario("read", -1, 1);
	scenario("read_then_write", -1, 3);
	scenario("madv_hugepage_write", MADV_HUGEPAGE, 2);
	scenario("madv_hugepage_read", MADV_HUGEPAGE, 1);
	{
		long f0 = minflt();
		char *p = map(64 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE);
		long f1 = minflt();
		touch(p, 64 * MB, 1);
		report("populate_at_mmap", f1 - f0, 0, 0);
		report("populate_writes", minflt() - f1, 0, 0);
		munmap(p, 64 * MB);
	}
	{
		size_t len = 16 * MB;
		char *p = map(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
		touch(p, len, 1);
		for (int half = 0; half < 2; half++) {
			int fd[2]; long child_faults;
			if (pipe(fd)) return 1;
			pid_t pid = fork();
			if (pid == 0) {
				long f0 = minflt();
				touch(p, half ? len / 2 : len, 1);
				long n = minflt() - f0;
				if (write(fd[1], &n, sizeof n) != sizeof n) _exit(1);
				_exit(0);
			}
			if (read(fd[0], &child_faults, sizeof child_faults) != sizeof child_faults) return 1;
			waitpid(pid, NULL, 0);
			report(half ? "fork_child_writes_half" : "fork_child_writes_all", child_faults, 0, 0);
			close(fd[0]); close(fd[1]);
		}
		long f0 = minflt();
		touch(p, len, 1);
		report("fork_parent_rewrites_after_exit", minflt() - f0, 0, 0);
		munmap(p, len);
	}
	{
		char *p = map(PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
		p[0] = 1;
		pid_t pid = fork();
		if (pid == 0) { p[0] = 42; _exit(0); }
		waitpid(pid, NULL, 0);
		report_one("shared_anon_parent_sees_child_write", "value", p[0]);
	}
	{
		char *ro = map(PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
		report_one("read_readonly_segv", "segv", segfaults(ro, 0));
		report_one("write_readonly_segv", "segv", segfaults(ro, 1));
		munmap(ro, PAGE);
		report_one("read_unmapped_segv", "segv", segfaults(ro, 0));
	}
	mremap_scenario("mremap_thp_aligned", MADV_HUGEPAGE, 0);
	mremap_scenario("mremap_thp_unaligned", MADV_HUGEPAGE, PAGE);
	mremap_scenario("mremap_ptes_aligned", MADV_NOHUGEPAGE, 0);
	return 0;
}
