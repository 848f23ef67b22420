/* Real-kernel probe for page-cache folios on the LRU lists (issue #15), no root needed.
 *
 * Writes a new 64 MiB file in 4 KiB write() calls (order-0 folios), fsyncs it, then reads
 * it twice in 64 KiB read() calls, reading Active(file)/Inactive(file) (kB, /proc/meminfo)
 * and pgactivate (/proc/vmstat) around each step: new page-cache folios join the inactive
 * file list (filemap_add_folio -> folio_add_lru), the first read only sets PG_referenced,
 * the second activates every page (folio_mark_accessed -> folio_activate: pgactivate).
 * Other processes move the counters too, so each step is repeated on a fresh file and the
 * median delta printed, one JSON object per step. The file is unlinked after each round
 * (its cache goes with it). Build and run in a directory on ext4:
 *     cc -O1 -o file_lru_probe file_lru_probe.c && ./file_lru_probe
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEN (64L << 20)
#define WCHUNK 4096L
#define RCHUNK (64L << 10)
#define REPS 9
#define NSTEPS 3
#define NCOUNTERS 3

static const char *steps[NSTEPS] = {"write_fsync", "read_once", "read_twice"};
static const char *names[NCOUNTERS] = {"active_file_kb", "inactive_file_kb", "pgactivate"};

static void counters(long *c) {
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");
	while (fgets(line, sizeof line, f)) {
		if (!strncmp(line, "Active(file):", 13)) c[0] = atol(line + 13);
		if (!strncmp(line, "Inactive(file):", 15)) c[1] = atol(line + 15);
	}
	fclose(f);
	f = fopen("/proc/vmstat", "r");
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "pgactivate ", 11)) c[2] = atol(line + 11);
	fclose(f);
}

static void step(int fd, int s, char *buf) {
	if (s == 0) {
		for (long off = 0; off < LEN; off += WCHUNK)
			if (pwrite(fd, buf, WCHUNK, off) != WCHUNK) exit(1);
		fsync(fd);
		return;
	}
	for (long off = 0; off < LEN; off += RCHUNK)
		if (pread(fd, buf, RCHUNK, off) != RCHUNK) exit(1);
}

static int cmp(const void *a, const void *b) {
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

int main(void) {
	static long delta[NSTEPS][NCOUNTERS][REPS];
	char *buf = malloc(RCHUNK);
	memset(buf, 7, RCHUNK);
	for (int r = 0; r < REPS; r++) {
		int fd = open("file_lru_probe.data", O_RDWR | O_CREAT | O_TRUNC, 0600);
		for (int s = 0; s < NSTEPS; s++) {
			long before[NCOUNTERS], after[NCOUNTERS];
			counters(before);
			step(fd, s, buf);
			counters(after);
			for (int c = 0; c < NCOUNTERS; c++) delta[s][c][r] = after[c] - before[c];
		}
		close(fd);
		unlink("file_lru_probe.data");
	}
	for (int s = 0; s < NSTEPS; s++) {
		printf("{\"step\": \"%s\"", steps[s]);
		for (int c = 0; c < NCOUNTERS; c++) {
			qsort(delta[s][c], REPS, sizeof(long), cmp);
			printf(", \"%s\": %ld", names[c], delta[s][c][REPS / 2]);
		}
		printf(", \"reps\": %d}\n", REPS);
	}
	return 0;
}
