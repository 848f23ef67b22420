/* Real-kernel probe for mlocked pages on the unevictable list (issue #15). Needs
 * CAP_IPC_LOCK or RLIMIT_MEMLOCK >= 16 MiB (root has the capability).
 *
 * Maps 16 MiB of private anonymous memory, touches it, then:
 *   mlock:    mlock() it (the mapped folios are mlocked: mlock_pte_range -> mlock_folio,
 *             culled to the unevictable list);
 *   munlock:  munlock() it (munlock_folio: back to the evictable lists, rescued);
 *   mlock_fresh: mlock() a fresh, untouched 16 MiB mapping (populate faults every page in
 *             as mlocked: mlock_new_folio);
 *   munmap:   munmap() that locked mapping (its folios are munlocked as their ptes go).
 * Around each step it reads Mlocked and Unevictable (kB, /proc/meminfo) and the
 * unevictable_pgs_* events (/proc/vmstat). Other processes move the counters too, so each
 * round is repeated and the median delta printed, one JSON object per step:
 *     cc -O1 -o mlock_probe mlock_probe.c && ./mlock_probe
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define LEN (16L << 20)
#define REPS 9
#define NSTEPS 4
#define NCOUNTERS 8

static const char *steps[NSTEPS] = {"mlock", "munlock", "mlock_fresh", "munmap"};
static const char *names[NCOUNTERS] = {"mlocked_kb", "unevictable_kb", "unevictable_pgs_culled",
                                       "unevictable_pgs_rescued", "unevictable_pgs_mlocked",
                                       "unevictable_pgs_munlocked", "unevictable_pgs_cleared",
                                       "unevictable_pgs_stranded"};

static long field(const char *path, const char *name, int colon) {
    char line[256], key[128];
    long v = -1, x;
    FILE *f = fopen(path, "r");
    while (fgets(line, sizeof line, f))
        if (sscanf(line, colon ? "%127[^:]: %ld" : "%127s %ld", key, &x) == 2 && !strcmp(key, name))
            v = x;
    fclose(f);
    return v;
}

static void counters(long *c) {
    c[0] = field("/proc/meminfo", "Mlocked", 1);
    c[1] = field("/proc/meminfo", "Unevictable", 1);
    for (int i = 2; i < NCOUNTERS; i++)
        c[i] = field("/proc/vmstat", names[i], 0);
}

static int cmp(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int main(void) {
    static long delta[NSTEPS][NCOUNTERS][REPS];
    for (int r = 0; r < REPS; r++) {
        char *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        char *q = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED || q == MAP_FAILED) { perror("mmap"); return 1; }
        memset(p, 1, LEN);
        for (int s = 0; s < NSTEPS; s++) {
            long before[NCOUNTERS], after[NCOUNTERS];
            counters(before);
            int err = s == 0 ? mlock(p, LEN) : s == 1 ? munlock(p, LEN) : s == 2 ? mlock(q, LEN) : munmap(q, LEN);
            if (err) { perror(steps[s]); return 1; }
            counters(after);
            for (int i = 0; i < NCOUNTERS; i++)
                delta[s][i][r] = after[i] - before[i];
        }
        munmap(p, LEN);
    }
    for (int s = 0; s < NSTEPS; s++) {
        printf("{\"step\": \"%s\"", steps[s]);
        for (int i = 0; i < NCOUNTERS; i++) {
            qsort(delta[s][i], REPS, sizeof(long), cmp);
            printf(", \"%s\": %ld", names[i], delta[s][i][REPS / 2]);
        }
        printf(", \"reps\": %d}\n", REPS);
    }
    return 0;
}
