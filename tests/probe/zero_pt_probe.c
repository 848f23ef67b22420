/* Real-kernel probe for linuxmm: the huge zero page's write fault and PT_RECLAIM (6.18).
 *
 * zero_*: a 2 MiB-aligned MADV_HUGEPAGE region is read (the huge zero page is PMD-mapped),
 * then one byte is written: the region's smaps AnonHugePages/Rss after each step and the
 * deltas of thp_fault_alloc, thp_fault_fallback, thp_fault_fallback_charge and thp_split_pmd
 * (vmstat is machine-wide: each delta is the least over REPEATS runs). "zero_charge_fails"
 * does it inside a cgroup-v1 memory cgroup limited to 1 MiB: the THP's charge fails.
 * pt_*: VmPTE (/proc/self/status, this mm's page-table bytes) around MADV_DONTNEED of
 * written 4 KiB-page (MADV_NOHUGEPAGE) memory: 1 GiB whole, one aligned 2 MiB span, an
 * unaligned 2 MiB range, and munmap of the rest.
 * pt_fresh: VmPTE of the process as it starts, and the PTE, PMD and PUD tables its present
 * pages need (/proc/self/pagemap over /proc/self/maps: one per 2 MiB, 1 GiB and 512 GiB span
 * holding a present page): mm_pgtables_bytes counts those tables and not the PGD.
 * Build and run (as root for the cgroup): cc -O1 -o zero_pt_probe zero_pt_probe.c && ./zero_pt_probe
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096UL
#define MB (1UL << 20)
#define REPEATS 10

static long field(const char *path, const char *key) {
	FILE *f = fopen(path, "r");
	char line[256]; long v = -1; size_t n = strlen(key);
	if (!f) return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, n) && (line[n] == ':' || line[n] == ' ')) { v = atol(line + n + 1); break; }
	fclose(f);
	return v;
}

/* smaps field of the VMA starting at p */
static long smaps(char *p, const char *key) {
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256]; long v = -1; int in = 0; size_t n = strlen(key);
	unsigned long start, end;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start == (unsigned long)p;
		else if (in && !strncmp(line, key, n) && line[n] == ':') { v = atol(line + n + 1); break; }
	}
	fclose(f);
	return v;
}

static const char *EVENTS[] = {"thp_fault_alloc", "thp_fault_fallback", "thp_fault_fallback_charge", "thp_split_pmd"};
#define NEV 4

static char *aligned_huge(void) {
	char *r = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p = (char *)(((unsigned long)r + 2 * MB - 1) & ~(2 * MB - 1));
	munmap(r, p - r);
	munmap(p + 2 * MB, r + 4 * MB - (p + 2 * MB));
	madvise(p, 2 * MB, MADV_HUGEPAGE);
	return p;
}

static void zero(const char *name) {
	long best[NEV], huge_read = 0, rss_read = 0, huge_write = 0, rss_write = 0, byte = 0;
	for (int i = 0; i < NEV; i++) best[i] = 1L << 60;
	for (int r = 0; r < REPEATS; r++) {
		char *p = aligned_huge();
		volatile char c = p[0];
		(void)c;
		huge_read = smaps(p, "AnonHugePages"); rss_read = smaps(p, "Rss");
		long before[NEV];
		for (int i = 0; i < NEV; i++) before[i] = field("/proc/vmstat", EVENTS[i]);
		p[7 * PAGE + 3] = 9;
		for (int i = 0; i < NEV; i++) {
			long d = field("/proc/vmstat", EVENTS[i]) - before[i];
			if (d < best[i]) best[i] = d;
		}
		huge_write = smaps(p, "AnonHugePages"); rss_write = smaps(p, "Rss");
		byte = p[7 * PAGE + 3] + p[PAGE];
		munmap(p, 2 * MB);
	}
	printf("{\"scenario\": \"%s\", \"read_anon_huge_kb\": %ld, \"read_rss_kb\": %ld, \"write_anon_huge_kb\": %ld, "
	       "\"write_rss_kb\": %ld, \"bytes\": %ld", name, huge_read, rss_read, huge_write, rss_write, byte);
	for (int i = 0; i < NEV; i++) printf(", \"%s\": %ld", EVENTS[i], best[i]);
	printf("}\n");
	fflush(stdout);
}

static int write_file(const char *path, const char *s) {
	FILE *f = fopen(path, "w");
	if (!f) return -1;
	int ok = fputs(s, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static long vmpte(void) { return field("/proc/self/status", "VmPTE"); }

static void pt_report(const char *name, long before, long after) {
	printf("{\"scenario\": \"%s\", \"vmpte_before_kb\": %ld, \"vmpte_after_kb\": %ld}\n", name, before, after);
	fflush(stdout);
}

/* the distinct spans of 2 MiB, 1 GiB and 512 GiB (a PTE, PMD and PUD table each) with a
 * present page, from pagemap, and VmPTE; read before anything else runs (fresh: no table
 * emptied yet, no heap) */
static long fresh_vmpte, fresh_tables[3];

static void pt_fresh(void) {
	static char maps[1 << 16];
	static unsigned long seen[3][1024];
	int fd = open("/proc/self/maps", O_RDONLY), pm = open("/proc/self/pagemap", O_RDONLY);
	ssize_t len = 0, r;
	while ((r = read(fd, maps + len, sizeof maps - 1 - len)) > 0) len += r;
	close(fd);
	maps[len] = 0;
	for (char *l = maps; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l) {
		unsigned long start, end;
		if (sscanf(l, "%lx-%lx", &start, &end) != 2 || start >= 1UL << 47) continue;  /* [vsyscall]: no user table */
		for (unsigned long a = start; a < end; a += PAGE) {
			uint64_t e = 0;
			if (pread(pm, &e, sizeof e, a / PAGE * sizeof e) != sizeof e || !(e >> 62)) continue;  /* present or swapped */
			for (int lv = 0; lv < 3; lv++) {
				unsigned long span = a >> (21 + 9 * lv);
				long i = 0;
				while (i < fresh_tables[lv] && seen[lv][i] != span) i++;
				if (i == fresh_tables[lv] && i < 1024) seen[lv][fresh_tables[lv]++] = span;
			}
		}
	}
	close(pm);
	fd = open("/proc/self/status", O_RDONLY);  /* no stdio: its buffers would map a heap first */
	len = read(fd, maps, sizeof maps - 1);
	close(fd);
	maps[len > 0 ? len : 0] = 0;
	char *v = strstr(maps, "VmPTE:");
	fresh_vmpte = v ? atol(v + 6) : -1;
}

static void pt(void) {
	size_t len = 1024 * MB;
	char *r = mmap(NULL, len + 2 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *p = (char *)(((unsigned long)r + 2 * MB - 1) & ~(2 * MB - 1));
	madvise(r, len + 2 * MB, MADV_NOHUGEPAGE);
	for (size_t off = 0; off < len; off += PAGE) p[off] = 1;
	long b = vmpte();
	madvise(p, len, MADV_DONTNEED);
	pt_report("pt_dontneed_1g", b, vmpte());
	for (size_t off = 0; off < 8 * MB; off += PAGE) p[off] = 1;
	b = vmpte();
	madvise(p + 2 * MB, 2 * MB, MADV_DONTNEED);
	pt_report("pt_dontneed_aligned_2m", b, vmpte());
	b = vmpte();
	madvise(p + 4 * MB + PAGE, 2 * MB, MADV_DONTNEED);
	pt_report("pt_dontneed_unaligned_2m", b, vmpte());
	b = vmpte();
	madvise(p + 6 * MB, MB, MADV_DONTNEED);
	pt_report("pt_dontneed_half_table", b, vmpte());
	p[2 * MB + 5 * PAGE] = 1;  /* one page in the table freed before, then that span again */
	b = vmpte();
	madvise(p + 2 * MB, 2 * MB, MADV_DONTNEED);
	pt_report("pt_dontneed_sparse_2m", b, vmpte());
	b = vmpte();
	munmap(r, len + 2 * MB);
	pt_report("pt_munmap", b, vmpte());
}

int main(void) {
	pt_fresh();
	printf("{\"probe\": \"zero_pt_probe\", \"thp_enabled\": \"");
	fflush(stdout);
	system("tr -d '\\n' < /sys/kernel/mm/transparent_hugepage/enabled");
	printf("\", \"defrag\": \"");
	fflush(stdout);
	system("tr -d '\\n' < /sys/kernel/mm/transparent_hugepage/defrag");
	printf("\", \"use_zero_page\": ");
	fflush(stdout);
	system("tr -d '\\n' < /sys/kernel/mm/transparent_hugepage/use_zero_page");
	printf(", \"kernel\": \"");
	fflush(stdout);
	system("uname -r | tr -d '\\n'");
	printf("\"}\n");
	zero("zero_write");
	const char *cg = "/sys/fs/cgroup/memory/zero_pt_probe";
	char pid[32];
	snprintf(pid, sizeof pid, "%d", getpid());
	mkdir(cg, 0755);
	if (write_file("/sys/fs/cgroup/memory/zero_pt_probe/memory.limit_in_bytes", "1M") == 0 &&
	    write_file("/sys/fs/cgroup/memory/zero_pt_probe/cgroup.procs", pid) == 0) {
		zero("zero_charge_fails");
		write_file("/sys/fs/cgroup/memory/cgroup.procs", pid);
	}
	rmdir(cg);
	printf("{\"scenario\": \"pt_fresh\", \"vmpte_kb\": %ld, \"pte_tables\": %ld, \"pmd_tables\": %ld, "
	       "\"pud_tables\": %ld}\n", fresh_vmpte, fresh_tables[0], fresh_tables[1], fresh_tables[2]);
	pt();
	return 0;
}
