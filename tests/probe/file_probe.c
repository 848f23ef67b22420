/* Page-cache folio shapes of buffered writes on this host's kernel (Linux 6.18).
 *
 * file_probe PATH MODE: creates PATH, writes it as MODE says, then maps it, populates the
 * page tables (MADV_POPULATE_READ) and reads each page's pfn (/proc/self/pagemap) and flags
 * (/proc/kpageflags, root only): a folio is a KPF_COMPOUND_HEAD page and the KPF_COMPOUND_TAIL
 * pages after it, or a page with neither. Prints one JSON object: the folios as
 * [index, nr_pages] pairs and the FileHugePages/ShmemHugePages change of /proc/meminfo.
 *   4k         64 MiB in 16384 write() calls of 4 KiB
 *   one        64 MiB in one write()
 *   unaligned  64 KiB at offset 4 KiB, then 12 KiB at offset 1 MiB (size 1 MiB + 12 KiB)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16

static long meminfo_kb(const char *field)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = atol(line + strlen(field) + 1);
	if (f)
		fclose(f);
	return v;
}

static void pwrite_all(int fd, const char *buf, size_t len, off_t off)
{
	if (pwrite(fd, buf, len, off) != (ssize_t)len) {
		perror("pwrite");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return fprintf(stderr, "usage: %s PATH 4k|one|unaligned\n", argv[0]), 2;
	const char *mode = argv[2];
	size_t size = 64 << 20;
	char *buf = malloc(size);
	memset(buf, 7, size);
	long huge0 = meminfo_kb("FileHugePages:"), shm0 = meminfo_kb("ShmemHugePages:");
	unlink(argv[1]);
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return perror("open"), 1;
	if (!strcmp(mode, "4k")) {
		for (size_t off = 0; off < size; off += 4096)
			pwrite_all(fd, buf, 4096, off);
	} else if (!strcmp(mode, "one")) {
		pwrite_all(fd, buf, size, 0);
	} else {
		pwrite_all(fd, buf, 64 << 10, 4096);
		pwrite_all(fd, buf, 12 << 10, 1 << 20);
		size = (1 << 20) + (12 << 10);
	}
	long huge1 = meminfo_kb("FileHugePages:"), shm1 = meminfo_kb("ShmemHugePages:");
	size_t pages = (size + 4095) / 4096;
	char *map = mmap(NULL, pages * 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || madvise(map, pages * 4096, MADV_POPULATE_READ))
		return perror("mmap/madvise"), 1;
	int pm = open("/proc/self/pagemap", O_RDONLY), kf = open("/proc/kpageflags", O_RDONLY);
	if (pm < 0 || kf < 0)
		return perror("pagemap/kpageflags"), 1;
	printf("{\"mode\": \"%s\", \"file_huge_kb\": %ld, \"shmem_huge_kb\": %ld, \"folios\": [", mode,
	       huge1 - huge0, shm1 - shm0);
	long start = -1, nr = 0, first = 1;
	for (size_t i = 0; i < pages; i++) {
		uint64_t ent, flags;
		pread(pm, &ent, 8, ((uintptr_t)map / 4096 + i) * 8);
		if (!(ent >> 63)) { /* a hole: no page cached there */
			if (start >= 0)
				printf("%s[%ld, %ld]", first ? "" : ", ", start, nr), first = 0;
			start = -1;
			continue;
		}
		pread(kf, &flags, 8, (ent & ((1ULL << 55) - 1)) * 8);
		if (flags >> KPF_COMPOUND_TAIL & 1 && start >= 0) {
			nr++;
			continue;
		}
		if (start >= 0)
			printf("%s[%ld, %ld]", first ? "" : ", ", start, nr), first = 0;
		start = i, nr = 1;
	}
	if (start >= 0)
		printf("%s[%ld, %ld]", first ? "" : ", ", start, nr);
	printf("]}\n");
	unlink(argv[1]);
	return 0;
}
