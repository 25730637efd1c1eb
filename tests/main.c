/* The test runner. Usage: tests [name-substring] */
#include <time.h>
#include "test.h"
#include <stdarg.h>
#include <stdlib.h>

extern const crt_case crt_core[], crt_kernels[], crt_data[], crt_aug[], crt_grad[], crt_model[], crt_fit[], crt_alloc[], crt_cli[], crt_pictures[],
    crt_tune[];
static const crt_case *const groups[] = {crt_core, crt_kernels, crt_data, crt_aug, crt_grad, crt_model, crt_fit, crt_tune, crt_alloc, crt_pictures,
                                          crt_cli};

static int failed_now;
static const char *skipped_now;

void crt_skip(const char *why) { skipped_now = why; }

int crt_reads(cr_model_kind k, const char *option) {
    return cr_option_reads(cr_option_find(option), k);
}

void crt_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    printf("    %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    failed_now = 1;
}

const char *crt_tmp(const char *name) {
    static char buf[64][512]; /* a ring: a returned path stays valid for 63 more calls */
    static int k;
    k = (k + 1) % 64;
    snprintf(buf[k], sizeof buf[k], "build/test-tmp/%s", name);
    return buf[k];
}

const char *crt_write(const char *name, const char *text, long len) {
    const char *path = crt_tmp(name);
    FILE *f = fopen(path, "wb");
    if (!f) { printf("cannot write %s (run from the repo root via make test)\n", path); exit(2); }
    fwrite(text, 1, len < 0 ? strlen(text) : (size_t)len, f);
    fclose(f);
    return path;
}

int crt_have_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

cr_dataset crt_synth(int32_t users, int32_t items, int clusters, int mean_len, uint64_t seed, int seq, double test) {
    cr_dataset ds;
    cr_synth_opts so;
    memset(&so, 0, sizeof so);
    so.n_users = users;
    so.n_items = items;
    so.n_clusters = clusters;
    so.mean_len = mean_len;
    so.seed = seed;
    if (cr_dataset_synthetic(&ds, &so, seq ? 1 : 0, test) != CR_OK) memset(&ds, 0, sizeof ds);
    return ds;
}

cr_status crt_synth_features(cr_dataset *ds) {
    size_t cap = (size_t)ds->n_items * 32 + 1, len = 0;
    char *txt = (char *)malloc(cap);
    int32_t i;
    cr_status st;
    if (!txt) return CR_ERR_NOMEM;
    for (i = 0; i < ds->n_items; i++) {
        long long r = (long long)ds->items.raw[i];
        if (r % 5 == 0) continue;
        len += (size_t)snprintf(txt + len, cap - len, r % 3 ? "%lld %lld %lld:2\n" : "%lld %lld %lld:2 %lld\n", r, r % 7, 7 + (3 * r) % 11, 18 + r % 4);
    }
    st = cr_parse_item_features(&ds->features, &ds->items, txt, len, "synthetic features");
    free(txt);
    return st;
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0, skipped = 0, times = getenv("CRT_TIMES") != NULL; /* CRT_TIMES=1: each test's CPU seconds */
    const char *skip = getenv("CRT_SKIP"); /* comma-separated test names not to run (make valgrind) */
    size_t g;
    const crt_case *c;
    for (g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (c = groups[g]; c->name; c++) {
            if (argc > 1 && !strstr(c->name, argv[1])) continue;
            if (skip) {
                const char *p = strstr(skip, c->name);
                size_t n = strlen(c->name);
                if (p && (p == skip || p[-1] == ',') && (p[n] == ',' || !p[n])) {
                    printf("%-44s skipped: CRT_SKIP\n", c->name);
                    skipped++;
                    continue;
                }
            }
            clock_t t0 = clock();
            failed_now = 0;
            skipped_now = NULL;
            printf("%-44s ", c->name);
            fflush(stdout);
            c->fn();
            if (times) printf("(%.2f s cpu) ", (double)(clock() - t0) / CLOCKS_PER_SEC);
            if (failed_now) { printf("  ^ FAILED %s\n", c->name); failed++; }
            else if (skipped_now) { printf("skipped: %s\n", skipped_now); skipped++; }
            else { printf("ok\n"); passed++; }
            fflush(stdout);
        }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
