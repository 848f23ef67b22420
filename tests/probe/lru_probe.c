/* Real-kernel probe for the LRU lists' counters in /proc/meminfo (issue #15).
 *
 * Maps 64 MiB of private anonymous memory, writes every page, then unmaps it, reading
 * Active(anon) and Inactive(anon) (kB) around each step: which list a new anonymous folio
 * joins (folio_add_lru_vma -> lru_add), and that unmapping takes it off again. Other
 * processes move both counters too, so each step is repeated and the median delta printed,
 * one JSON object per step. THP stays out of it (the host's THP is "madvise"; MADV_NOHUGEPAGE
 * makes sure). Build and run:
 *     cc -O1 -o lru_probe lru_probe.c && ./lru_probe
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096UL
#define LEN (64UL << 20)
#define REPS 31
#define NSTEPS 3

static const char *steps[NSTEPS] = {"mmap_private_anon", "touch_private_anon", "munmap_private_anon"};

static void meminfo(long *active, long *inactive) {
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	while (fgets(line, sizeof line, f)) {
		if (!strncmp(line, "Active(anon):", 13)) *active = atol(line + 13);
		if (!strncmp(line, "Inactive(anon):", 15)) *inactive = atol(line + 15);
	}
	fclose(f);
}

static int cmp(const void *a, const void *b) {
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

int main(void) {
	static long da[NSTEPS][REPS], di[NSTEPS][REPS];
	for (int r = 0; r < REPS; r++) {
		char *p = 0;
		for (int s = 0; s < NSTEPS; s++) {
			long a0, i0, a1, i1;
			meminfo(&a0, &i0);
			switch (s) {
			case 0:
				p = mmap(0, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				madvise(p, LEN, MADV_NOHUGEPAGE);
				break;
			case 1: for (size_t o = 0; o < LEN; o += PAGE) p[o] = 1; break;
			case 2: munmap(p, LEN); break;
			}
			meminfo(&a1, &i1);
			da[s][r] = a1 - a0;
			di[s][r] = i1 - i0;
		}
	}
	for (int s = 0; s < NSTEPS; s++) {
		qsort(da[s], REPS, sizeof(long), cmp);
		qsort(di[s], REPS, sizeof(long), cmp);
		printf("{\"step\": \"%s\", \"size_kb\": %lu, \"active_anon_kb\": %ld, \"inactive_anon_kb\": %ld}\n",
		       steps[s], LEN >> 10, da[s][REPS / 2], di[s][REPS / 2]);
	}
	return 0;
}
