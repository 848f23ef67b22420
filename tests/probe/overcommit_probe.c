/* Overcommit on the real kernel, as an unprivileged observer would see it (no sysctl is
 * changed): in the heuristic mode 0, a private writable mapping of totalram + swap pages is
 * admitted and one page more is refused (ENOMEM), whatever is free; an admitted mapping of N
 * pages adds N pages to Committed_AS (/proc/meminfo sums the per-cpu counter); 256 MiB written
 * to a tmpfs file (/dev/shm) or a memfd add 256 MiB to it as the pages are allocated (both are
 * VM_NORESERVE: charged page by page) and give it back when the file goes (medians of 5 runs:
 * other processes move Committed_AS meanwhile).
 * Prints one JSON object. Build: cc -O2 -o overcommit_probe overcommit_probe.c */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
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

#define RUNS 5

static int cmp_long(const void *a, const void *b)
{
	return (*(const long *)a > *(const long *)b) - (*(const long *)a < *(const long *)b);
}

static long median(long *v)
{
	qsort(v, RUNS, sizeof *v, cmp_long);
	return v[RUNS / 2];
}

/* Committed_AS growth (kB) while 256 MiB are written to fd, and its change once fd is gone */
static void shmem_delta(int fd, const char *unlink_path, long *grown, long *back)
{
	static char buf[1 << 20];
	long before = meminfo_kb("Committed_AS");
	memset(buf, 1, sizeof buf);
	for (int i = 0; i < 256; i++)
		if (write(fd, buf, sizeof buf) != sizeof buf)
			exit(1);
	long after = meminfo_kb("Committed_AS");
	close(fd);
	if (unlink_path)
		unlink(unlink_path);
	*grown = after - before;
	*back = meminfo_kb("Committed_AS") - after;
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
	long tg[RUNS], tb[RUNS], mg[RUNS], mb[RUNS];
	const char *path = "/dev/shm/overcommit_probe";
	for (int i = 0; i < RUNS; i++) {
		shmem_delta(open(path, O_CREAT | O_TRUNC | O_RDWR, 0600), path, &tg[i], &tb[i]);
		shmem_delta(memfd_create("overcommit_probe", 0), NULL, &mg[i], &mb[i]);
	}
	long tmpfs_grown = median(tg), tmpfs_back = median(tb), memfd_grown = median(mg), memfd_back = median(mb);
	printf("{\"overcommit_memory\": %d, \"totalram_plus_swap_pages\": %ld, \"errno_at_limit\": %d, "
	       "\"errno_above_limit\": %d, \"committed_kb_before\": %ld, \"committed_kb_after_1GiB\": %ld, "
	       "\"committed_kb_after_munmap\": %ld, \"CommitLimit_kb\": %ld, \"MemTotal_kb\": %ld, "
	       "\"tmpfs_256MiB_committed_kb_delta\": %ld, \"tmpfs_unlink_committed_kb_delta\": %ld, "
	       "\"memfd_256MiB_committed_kb_delta\": %ld, \"memfd_close_committed_kb_delta\": %ld}\n",
	       mode, total, at_limit, above, before, after, back, meminfo_kb("CommitLimit"), meminfo_kb("MemTotal"),
	       tmpfs_grown, tmpfs_back, memfd_grown, memfd_back);
	return 0;
}
