/* Allocation failure: this file compiles its own static copy of the library with a CR_MALLOC
   that fails after a given number of allocations, then runs a whole workflow (load, build,
   train, evaluate, save, load) with the failure placed at every allocation in turn. Each run
   must fail cleanly with CR_ERR_NOMEM, and free every block it took (counted here, and
   checked by AddressSanitizer's leak detector under make asan). */
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

/* The counters are shared by the threads of the library's parallel sections (SGL builds its
   augmented graphs in parallel), so they are updated in a critical section. Each block carries
   its size in a header, so the bytes held and their peak are known too (the memory plan's
   check). */
static long t_fail_at = -1, t_count = 0, t_live = 0;
static long long t_bytes = 0, t_peak = 0;
#define T_HDR 16 /* keeps malloc's 16-byte alignment */
static int t_take(size_t add) { /* 1 if this allocation may proceed (and is then counted as live) */
    int ok;
#ifdef _OPENMP
#pragma omp critical(crt_alloc)
#endif
    {
        ok = !(t_fail_at >= 0 && t_count++ >= t_fail_at);
        t_live += ok;
        if (ok && (t_bytes += (long long)add) > t_peak) t_peak = t_bytes;
    }
    return ok;
}
static void t_release(size_t sub) {
#ifdef _OPENMP
#pragma omp critical(crt_alloc)
#endif
    {
        t_live--;
        t_bytes -= (long long)sub;
    }
}
static void *t_malloc(size_t n) {
    unsigned char *p;
    if (!t_take(n)) return NULL;
    if (!(p = (unsigned char *)malloc(n + T_HDR))) { t_release(n); return NULL; }
    memcpy(p, &n, sizeof n);
    return p + T_HDR;
}
static void *t_realloc(void *q, size_t n) {
    unsigned char *p;
    size_t old;
    if (!q) return t_malloc(n);
    memcpy(&old, (unsigned char *)q - T_HDR, sizeof old);
    if (!t_take(n)) return NULL; /* the old and the new block, for a moment */
    if (!(p = (unsigned char *)realloc((unsigned char *)q - T_HDR, n + T_HDR))) { t_release(n); return NULL; }
    t_release(old); /* a reallocation keeps one live block */
    memcpy(p, &n, sizeof n);
    return p + T_HDR;
}
static void t_free(void *q) {
    size_t n;
    if (!q) return;
    memcpy(&n, (unsigned char *)q - T_HDR, sizeof n);
    t_release(n);
    free((unsigned char *)q - T_HDR);
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
    if (cr_model_is_sequential(kind)) c.max_len = 6;
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

/* The memory plan against what cr_fit takes: for every model and the options that change what
   it holds, the planned peak within 10% of the most bytes held at once (the dataset included)
   by a cr_fit of one epoch that selects on a carved validation split and reads the test set
   with every metric. Data of 1,500 users: big enough for the tables to outweigh fixed costs. */
static void plan_vs_fit(const char *what, const cr_config *c, const cr_dataset *ds, int protocol, double *worst) {
    cr_mem_plan p;
    cr_fit_opts fo;
    cr_fit_result r;
    cr_model *m = NULL;
    double ratio;
    memset(&fo, 0, sizeof fo);
    fo.epochs = 1;
    if (protocol == 1) fo.train_noise = 0.3;
    if (protocol == 2) fo.refit = 1;
    if (protocol == 3) fo.cold_users = 0.1, fo.cold_warm = 1;
    if (protocol == 4) fo.select = CR_SELECT_LAST;
    CHECK_OK(cr_memory_plan(&p, c, ds, &fo));
    t_peak = t_bytes;
    CHECK_OK(cr_fit(&m, c, ds, &fo, &r));
    cr_model_free(m);
    ratio = (double)p.peak / (double)t_peak;
    CHECKF(ratio >= 0.9 && ratio <= 1.1, "%s: planned peak %.2f MB, held at most %.2f MB (ratio %.3f)", what, p.peak / 1e6, t_peak / 1e6, ratio);
    CHECKF(p.held < p.peak && p.n >= 7, "%s: held %lld, peak %lld, %d lines", what, (long long)p.held, (long long)p.peak, p.n);
    if (fabs(ratio - 1) > fabs(*worst - 1)) *worst = ratio;
    if (getenv("CRT_PLAN")) printf("\n  %-18s plan %.2f MB held %.2f MB ratio %.3f", what, p.peak / 1e6, t_peak / 1e6, ratio);
}

static cr_dataset plan_data(int seq) {
    cr_dataset ds;
    cr_synth_opts so;
    memset(&so, 0, sizeof so);
    so.n_users = 1500;
    so.n_items = 1000;
    so.mean_len = 20;
    if (cr_dataset_synthetic(&ds, &so, seq, 0.2) != CR_OK) memset(&ds, 0, sizeof ds);
    return ds;
}

TEST(memory_plan_matches_what_fit_takes) {
    static const struct {
        const char *what;
        cr_model_kind kind;
        int neg, aug, precision, feats, protocol, fanout;
    } runs[] = {
        {"mf", CR_MODEL_MF, 0, 0, 0, 0, 0, 0},
        {"lightgcn noise 0.3", CR_MODEL_LIGHTGCN, 0, 0, 0, 0, 1, 0},
        {"sgl noise 0.3", CR_MODEL_SGL, 0, 0, 0, 0, 1, 0},
        {"lightgcn refit", CR_MODEL_LIGHTGCN, 0, 0, 0, 0, 2, 0},
        {"lightgcn cold warm", CR_MODEL_LIGHTGCN, 0, 0, 0, 0, 3, 0},
        {"xsimgcl select last", CR_MODEL_XSIMGCL, 0, 0, 0, 0, 4, 0},
        {"lightgcn", CR_MODEL_LIGHTGCN, 0, 0, 0, 0, 0, 0},
        {"lightgcn dns", CR_MODEL_LIGHTGCN, CR_NEG_DNS, 0, 0, 0, 0, 0},
        {"lightgcn mixgcf", CR_MODEL_LIGHTGCN, CR_NEG_MIXGCF, 0, 0, 0, 0, 0},
        {"lightgcn bf16", CR_MODEL_LIGHTGCN, 0, 0, CR_PRECISION_BF16, 0, 0, 0},
        {"lightgcn features", CR_MODEL_LIGHTGCN, 0, 0, 0, 1, 0, 0},
        {"sgl ed", CR_MODEL_SGL, 0, 0, 0, 0, 0, 0},
        {"sgl rw", CR_MODEL_SGL, 0, CR_AUG_RW, 0, 0, 0, 0},
        {"sgl subgraph", CR_MODEL_SGL, 0, CR_AUG_SUBGRAPH, 0, 0, 0, 0},
        {"simgcl", CR_MODEL_SIMGCL, 0, 0, 0, 0, 0, 0},
        {"xsimgcl", CR_MODEL_XSIMGCL, 0, 0, 0, 0, 0, 0},
        {"ncl", CR_MODEL_NCL, 0, 0, 0, 0, 0, 0},
        {"recdcl", CR_MODEL_RECDCL, 0, 0, 0, 0, 0, 0},
        {"rcl", CR_MODEL_RCL, 0, 0, 0, 0, 0, 0},
        {"gru4rec", CR_MODEL_GRU4REC, 0, 0, 0, 0, 0, 0},
        {"gru4rec sampled", CR_MODEL_GRU4REC, 1, 0, 0, 0, 0, 0},
        {"cl4srec", CR_MODEL_CL4SREC, 0, 0, 0, 0, 0, 0},
        {"cl4srec insert", CR_MODEL_CL4SREC, 0, 1, 0, 0, 0, 0},
        {"lightgcn fanout 3", CR_MODEL_LIGHTGCN, 0, 0, 0, 0, 0, 3},
        {"simgcl fanout 5", CR_MODEL_SIMGCL, 0, 0, 0, 0, 0, 5},
        {"xsimgcl fanout 2", CR_MODEL_XSIMGCL, 0, 0, 0, 0, 0, 2}};
    cr_dataset ds;
    double worst = 1;
    size_t k;
    static char feats[64 * 2000];
    char *w = feats;
    int32_t i;
    int seq = 0;
    ds = plan_data(0); /* one dataset at a time: the bytes held are the run's and its data's */
    CHECK(ds.n_users == 1500);
    for (i = 0; i < ds.n_items; i++) /* two features an item, one of them shared by 7 items */
        w += sprintf(w, "%lld %d %d\n", (long long)ds.items.raw[i], i % 7, 7 + i % 300);
    CHECK_OK(cr_load_item_features(&ds.features, &ds.items, crt_write("plan_feats.txt", feats, -1)));
    for (k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        cr_config c;
        if (cr_model_is_sequential(runs[k].kind) != seq) {
            cr_dataset_free(&ds);
            ds = plan_data(seq = 1);
            CHECK(ds.n_users == 1500);
        }
        memset(&c, 0, sizeof c);
        c.model = runs[k].kind;
        if (seq) {
            c.neg_samples = runs[k].neg ? 100 : 0;
            c.seq_aug = runs[k].aug ? CR_SEQAUG_CROP | CR_SEQAUG_INSERT | CR_SEQAUG_SUBSTITUTE : 0;
        } else {
            c.neg = runs[k].neg;
            c.aug = runs[k].aug;
            c.precision = runs[k].precision;
            c.fanout = runs[k].fanout;
        }
        if (runs[k].feats) {
            c.item_repr = CR_REPR_ID_FEATURES;
            c.attr_w = 0.1f;
            c.fm_w = 0.1f;
            c.fm_corr = 1;
        }
        plan_vs_fit(runs[k].what, &c, &ds, runs[k].protocol, &worst);
    }
    printf("(worst planned/held %.3f) ", worst);
    cr_dataset_free(&ds);
}

/* mem_limit refuses a run that does not fit before taking anything, with the plan in the message */
TEST(memory_limit_refuses_before_any_work) {
    cr_dataset ds = plan_data(0);
    cr_config c;
    cr_fit_opts fo;
    cr_fit_result r;
    cr_mem_plan p;
    cr_model *m = NULL;
    long long before;
    char text[2048];
    int n;
    memset(&c, 0, sizeof c);
    memset(&fo, 0, sizeof fo);
    c.model = CR_MODEL_XSIMGCL;
    fo.epochs = 1;
    CHECK(ds.n_users == 1500);
    CHECK_OK(cr_memory_plan(&p, &c, &ds, &fo));
    CHECK(cr_memory_plan_format(&p, text, sizeof text) < (int)sizeof text && strstr(text, "the training workspace") && strstr(text, "peak"));
    n = (int)strlen(text);
    CHECK(cr_memory_plan_format(&p, NULL, 0) == n && cr_memory_plan_format(&p, text, 10) == n && strlen(text) == 9);
    fo.mem_limit = p.peak / 2;
    before = t_bytes;
    t_peak = t_bytes;
    CHECK_FAILS(cr_fit(&m, &c, &ds, &fo, &r), CR_ERR_NOMEM, "memory plan peaks at");
    CHECK(strstr(cr_last_error(), "the training workspace") != NULL && m == NULL);
    CHECKF(t_bytes == before && t_peak - before < 1 << 20, "refused, it still took %lld bytes (%lld held after)", t_peak - before, t_bytes - before);
    fo.mem_limit = p.peak + p.peak / 10;
    CHECK_OK(cr_fit(&m, &c, &ds, &fo, &r));
    cr_model_free(m);
    fo.mem_limit = -1;
    CHECK_FAILS(cr_fit(&m, &c, &ds, &fo, &r), CR_ERR_INVALID, "mem_limit");
    CHECK(cr_parse_bytes("1.5G") == 1500000000LL && cr_parse_bytes("512M") == 512000000LL && cr_parse_bytes("64k") == 64000);
    CHECK(cr_parse_bytes("1000") == 1000 && cr_parse_bytes("10MB") == 10000000LL && cr_parse_bytes("2T") == 2000000000000LL);
    CHECK(!cr_parse_bytes("") && !cr_parse_bytes("x") && !cr_parse_bytes("-1") && !cr_parse_bytes("1Q") && !cr_parse_bytes("0") &&
          !cr_parse_bytes(NULL) && !cr_parse_bytes("1e30"));
    cr_dataset_free(&ds);
}

const crt_case crt_alloc[] = {
    {"alloc/memory_plan_matches_what_fit_takes", memory_plan_matches_what_fit_takes},
    {"alloc/memory_limit_refuses_before_any_work", memory_limit_refuses_before_any_work},
    {"alloc/failures_graph", alloc_failures_graph},
    {"alloc/failures_sequence", alloc_failures_sequence},
    {NULL, NULL}};
