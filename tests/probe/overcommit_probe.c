/* Overcommit on the real kernel, as an unprivileged observer would see it (no sysctl is
 * changed): in the heuristic mode 0, a private writable mapping of totalram + swap pages is
 * admitted and one page more is refused (ENOMEM), whatever is free; an admitted mapping of N
 * pages adds N pages to Committed_AS (/proc/meminfo sums the per-cpu counter).
 * Prints one JSON object. Build: cc -O2 -o overcommit_probe overcommit_probe.c */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static long meminfo_kb(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			sscanf(line + strlen(key) + 1, "%ld", &v);
	if (f)
		fclose(f);
	return v;
}

static int try_map(long pages)
{
	void *p = mmap(NULL, pages * 4096L, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return errno;
	munmap(p, pages * 4096L);
	return 0;
}

int main(void)
{
	FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
	int mode = -1;
	if (f) {
		if (fscanf(f, "%d", &mode) != 1)
			mode = -1;
		fclose(f);
	}
	long total = meminfo_kb("MemTotal") / 4 + meminfo_kb("SwapTotal") / 4;
	int at_limit = try_map(total), above = try_map(total + 1);
	long n = 262144; /* 1 GiB */
	long before = meminfo_kb("Committed_AS");
	void *p = mmap(NULL, n * 4096L, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long after = meminfo_kb("Committed_AS");
	munmap(p, n * 4096L);
	long back = meminfo_kb("Committed_AS");
	printf("{\"overcommit_memory\": %d, \"totalram_plus_swap_pages\": %ld, \"errno_at_limit\": %d, "
	       "\"errno_above_limit\": %d, \"committed_kb_before\": %ld, \"committed_kb_after_1GiB\": %ld, "
	       "\"committed_kb_after_munmap\": %ld, \"CommitLimit_kb\": %ld, \"MemTotal_kb\": %ld}\n",
	       mode, total, at_limit, above, before, after, back, meminfo_kb("CommitLimit"), meminfo_kb("MemTotal"));
	return 0;
}
