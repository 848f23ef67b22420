/* Real-kernel probe for linuxmm: /proc/kpageflags of new anonymous folios (Linux 6.18, as root): a page written
 * (do_anonymous_page), its copy-on-write copy in a forked child (wp_page_copy), a private file
 * page written (do_cow_fault), a PMD THP's head and a tail (vma_alloc_anon_folio_pmd); per
 * case the KPF_* bits set, by name (include/uapi/linux/kernel-page-flags.h).
 * cc -O1 -o kpageflags_anon_probe kpageflags_anon_probe.c && ./kpageflags_anon_probe DIR */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *NAMES[] = {"locked", "error", "referenced", "uptodate", "dirty", "lru", "active", "slab",
	"writeback", "reclaim", "buddy", "mmap", "anon", "swapcache", "swapbacked", "compound_head",
	"compound_tail", "huge", "unevictable", "hwpoison", "nopage", "ksm", "thp", "offline", "zero_page",
	"idle", "pgtable"};

static void report(const char *what, char *addr) {
	uint64_t e = 0, f = 0;
	int pm = open("/proc/self/pagemap", O_RDONLY), kpf = open("/proc/kpageflags", O_RDONLY);
	pread(pm, &e, 8, (unsigned long)addr / 4096 * 8);
	pread(kpf, &f, 8, (e & ((1ULL << 55) - 1)) * 8);
	close(pm); close(kpf);
	printf("%s:", what);
	for (int b = 0; b < 27; b++) if (f >> b & 1) printf(" %s", NAMES[b]);
	printf("\n");
	fflush(stdout);
}

int main(int argc, char **argv) {
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(p, 4096, MADV_NOHUGEPAGE);
	p[0] = 1;
	report("anon page written", p);
	pid_t c = fork();
	if (!c) { p[0] = 2; report("its copy in a child (COW)", p); _exit(0); }
	waitpid(c, NULL, 0);
	char path[4096]; snprintf(path, sizeof path, "%s/kpf_probe_XXXXXX", dir);
	int fd = mkstemp(path); unlink(path);
	ftruncate(fd, 4096);
	char *f = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	f[0] = 1;
	report("private file page written", f);
	char *big = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *thp = (char *)(((unsigned long)big + (2 << 20) - 1) & ~((2UL << 20) - 1));
	madvise(thp, 2 << 20, MADV_HUGEPAGE);
	thp[0] = 1;
	report("THP head", thp);
	report("THP tail", thp + 5 * 4096);
	return 0;
}
