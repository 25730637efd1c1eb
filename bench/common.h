/* Shared helpers of the benchmarks: wall time, peak RSS, the Gowalla files. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* peak resident set size in MiB (Linux reports ru_maxrss in KiB) */
static double peak_rss_mib(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0;
}

static int have_file(const char *p) {
    FILE *f = fopen(p, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* The shared data folder next to the repo (override with CR_DATA). */
static const char *data_path(char *buf, size_t n, const char *rel) {
    const char *root = getenv("CR_DATA") ? getenv("CR_DATA") : "../shared/data";
    snprintf(buf, n, "%s/%s", root, rel);
    return buf;
}
#endif
