/* The smaps lines of a written 16 MiB private anonymous region (no THP) in the child right
 * after fork, then in the parent once the child exited: fork gives the child old ptes
 * (copy_present_ptes' pte_mkold), so its Referenced is 0 until it touches the pages.
 * Build and run: cc -O1 -o fork_smaps fork_smaps.c && ./fork_smaps
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
static void show(const char *who, char *p) {
	char path[64], line[256]; int in = 0; unsigned long lo, hi;
	FILE *f = fopen("/proc/self/smaps", "r");
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) in = lo == (unsigned long)p;
		else if (in && (!strncmp(line, "Rss:", 4) || !strncmp(line, "Referenced:", 11) || !strncmp(line, "Private_Dirty:", 14) || !strncmp(line, "Shared_Dirty:", 13)))
			printf("%s %s", who, line);
	}
	fclose(f);
}
int main(void) {
	size_t len = 16 << 20;
	char *p = mmap(0, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
	madvise(p, len, MADV_NOHUGEPAGE);
	for (size_t o = 0; o < len; o += 4096) p[o] = 1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) { show("child", p); fflush(stdout); _exit(0); }
	waitpid(pid, 0, 0);
	show("parent", p);
	return 0;
}
