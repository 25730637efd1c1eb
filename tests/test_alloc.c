/* Allocation failure: this file compiles its own static copy of the library with a CR_MALLOC
   that fails after a given number of allocations, then runs a whole workflow (load, build,
   train, evaluate, save, load) with the failure placed at every allocation in turn. Each run
   must fail cleanly with CR_ERR_NOMEM, and free every block it took (counted here, and
   checked by AddressSanitizer's leak detector under make asan). */
#include <stdlib.h>
#include <stddef.h>

/* The counters are shared by the threads of the library's parallel sections (SGL builds its
   augmented graphs in parallel), so they are updated in a critical section. */
static long t_fail_at = -1, t_count = 0, t_live = 0;
static int t_take(void) { /* 1 if this allocation may proceed (and is then counted as live) */
    int ok;
#ifdef _OPENMP
#pragma omp critical(crt_alloc)
#endif
    {
        ok = !(t_fail_at >= 0 && t_count++ >= t_fail_at);
        t_live += ok;
    }
    return ok;
}
static void t_release(void) {
#ifdef _OPENMP
#pragma omp critical(crt_alloc)
#endif
    t_live--;
}
static void *t_malloc(size_t n) {
    void *p;
    if (!t_take()) return NULL;
    if (!(p = malloc(n))) t_release();
    return p;
}
static void *t_realloc(void *p, size_t n) {
    void *q;
    if (!p) return t_malloc(n);
    if (!t_take()) return NULL;
    q = realloc(p, n);
    t_release(); /* a reallocation keeps one live block */
    return q;
}
static void t_free(void *p) {
    if (p) t_release();
    free(p);
}
#define CR_MALLOC(sz) t_malloc(sz)
#define CR_REALLOC(p, sz) t_realloc(p, sz)
#define CR_FREE(p) t_free(p)
#define CONTRAREC_STATIC
#define CONTRAREC_IMPLEMENTATION
#include "test.h"

/* The whole workflow; everything it allocates is freed before it returns. */
static cr_status workflow(cr_model_kind kind, const char *train, const char *test, const char *ckpt) {
    cr_dataset ds;
    cr_model *m = NULL, *m2 = NULL;
    cr_config c;
    cr_metrics mt;
    cr_load_opts lo;
    cr_status st;
    int64_t items[5];
    int n;
    memset(&c, 0, sizeof c);
    memset(&lo, 0, sizeof lo);
    lo.format = cr_model_is_sequential(kind) ? CR_FORMAT_SEQ : CR_FORMAT_LIGHTGCN;
    c.model = kind;
    c.dim = 8;
    c.batch = 16;
    c.max_len = 6;
    if ((st = cr_dataset_load(&ds, train, test, &lo)) != CR_OK) return st;
    if ((st = cr_dataset_carve_valid(&ds, 0.2, cr_model_is_sequential(kind), 3)) == CR_OK &&
        (st = cr_model_create(&m, &c, &ds)) == CR_OK && (st = cr_train_epoch(m, 1, NULL, NULL, NULL)) == CR_OK &&
        (st = cr_evaluate(m, &ds.test, NULL, &mt)) == CR_OK && (st = cr_model_save(m, ckpt)) == CR_OK &&
        (st = cr_model_load(&m2, ckpt, NULL)) == CR_OK && (st = cr_recommend(m2, 1, 5, 1, items, NULL, &n)) == CR_OK)
        st = cr_model_export_npy(m2, "build/test-tmp");
    cr_model_free(m);
    cr_model_free(m2);
    cr_dataset_free(&ds);
    return st;
}

static void sweep(cr_model_kind kind, const char *train_path, const char *test_path) {
    long k, total;
    cr_status st;
    char train[512], test[512];
    snprintf(train, sizeof train, "%s", train_path);
    snprintf(test, sizeof test, "%s", test_path);
    t_fail_at = -1;
    t_count = 0;
    CHECK_OK(workflow(kind, train, test, "build/test-tmp/alloc.crrc"));
    CHECK(t_live == 0);
    /* fail each allocation of the run in turn, until the run gets through */
    for (total = 0, k = 0;; k++) {
        t_fail_at = k;
        t_count = 0;
        t_live = 0;
        st = workflow(kind, train, test, "build/test-tmp/alloc.crrc");
        CHECKF(t_live == 0, "failing allocation %ld: %ld blocks still held (status %s: %s)", k, t_live, cr_status_string(st), cr_last_error());
        if (st == CR_OK) break;
        CHECKF(st == CR_ERR_NOMEM, "failing allocation %ld gave %s: %s", k, cr_status_string(st), cr_last_error());
        total++;
    }
    t_fail_at = -1;
    CHECKF(total > 50, "only %ld allocations", total);
    printf("(%ld failure points) ", total);
}

TEST(alloc_failures_graph) {
    const char *tr = crt_write("al_train.txt", "0 1 2 3\n1 2 3 4\n2 0 4 5 6\n3 1 6 7\n4 2 5 7 8\n5 0 8 9\n", -1);
    const char *te = crt_write("al_test.txt", "0 4\n1 5\n2 7\n3 8\n4 9\n5 1\n", -1);
    sweep(CR_MODEL_XSIMGCL, tr, te);
    sweep(CR_MODEL_SGL, tr, te);
}

TEST(alloc_failures_sequence) {
    const char *tr = crt_write("al_seq.txt", "0:1 2 3 4\n1:2 3 4 5\n2:0 4 5 6 7\n3:1 6 7 8\n4:2 5 7 8 9\n5:0 8 9 1\n", -1);
    const char *te = crt_write("al_seqt.txt", "0:5\n1:6\n2:8\n3:9\n4:1\n5:2\n", -1);
    sweep(CR_MODEL_CL4SREC, tr, te);
}

const crt_case crt_alloc[] = {
    {"alloc/failures_graph", alloc_failures_graph},
    {"alloc/failures_sequence", alloc_failures_sequence},
    {NULL, NULL}};
