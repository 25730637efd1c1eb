/* Kernel benchmark: GEMM GFLOP/s at the library's working shapes (and OpenBLAS in the same run
   when built with -DHAVE_CBLAS), SpMM on the Gowalla normalised adjacency against a plain
   OpenMP CSR loop, the time to load Gowalla's train.txt, and the parsers on inputs built to be
   hard (one item line of 500,000 features, a RecBole .item file of 100,000 items).
   Run: make bench   (OMP_NUM_THREADS sets the threads; the reference machine has 2). */
#define _DEFAULT_SOURCE
#define CONTRAREC_IMPLEMENTATION
#include "../contrarec.h"
#include <stdlib.h>
#include "common.h"
#ifdef HAVE_CBLAS
#include <cblas.h>
#endif

static void fill(float *x, int64_t n, uint64_t seed) {
    cr_rng r;
    int64_t i;
    cr_rng_seed(&r, seed);
    for (i = 0; i < n; i++) x[i] = cr_rng_float(&r) - 0.5f;
}

typedef void (*gemm_fn)(int ta, int tb, int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C, int ldc);
static void run_cr(int ta, int tb, int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C, int ldc) {
    cr_sgemm(ta, tb, m, n, k, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
}
#ifdef HAVE_CBLAS
static void run_blas(int ta, int tb, int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
}
#endif

/* best time over reps calls, after one warm-up */
static double time_gemm(gemm_fn f, int ta, int tb, int m, int n, int k, const float *A, const float *B, float *C, int reps) {
    double best = 1e30;
    int r;
    int lda = ta ? m : k, ldb = tb ? k : n;
    f(ta, tb, m, n, k, A, lda, B, ldb, C, n);
    for (r = 0; r < reps; r++) {
        double t = now_s();
        f(ta, tb, m, n, k, A, lda, B, ldb, C, n);
        t = now_s() - t;
        if (t < best) best = t;
    }
    return best;
}

static void bench_gemm(void) {
    static const struct { int ta, tb, m, n, k, reps; const char *what; } shapes[] = {
        {0, 0, 1024, 1024, 1024, 10, "square"},
        {0, 1, 2048, 40981, 64, 5, "scores: users x items^T"},
        {0, 1, 2048, 2048, 64, 20, "InfoNCE similarities"},
        {1, 0, 64, 64, 70839, 20, "weight-gradient-like A^T B"},
        {0, 1, 256, 512, 512, 40, "RecDCL d=512: X W^T"},
        {1, 0, 512, 512, 256, 40, "RecDCL d=512: dY^T X"},
        {0, 0, 256, 512, 512, 40, "RecDCL d=512: dY W"},
        {0, 1, 256, 2048, 2048, 4, "RecDCL d=2048: X W^T"},
    };
    size_t s;
    printf("GEMM (%d threads)                         %10s", cr_get_num_threads(), "cr GFLOP/s");
#ifdef HAVE_CBLAS
    printf(" %12s %8s", "BLAS GFLOP/s", "cr/BLAS");
#endif
    printf("\n");
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s].m, n = shapes[s].n, k = shapes[s].k;
        float *A = cr_alloc_floats((int64_t)m * k), *B = cr_alloc_floats((int64_t)k * n), *C = cr_alloc_floats((int64_t)m * n);
        double fl = 2.0 * m * n * k, tc;
        fill(A, (int64_t)m * k, 1);
        fill(B, (int64_t)k * n, 2);
        tc = time_gemm(run_cr, shapes[s].ta, shapes[s].tb, m, n, k, A, B, C, shapes[s].reps);
        printf("  %5d x %5d x %5d %s%s  %-22s %10.1f", m, n, k, shapes[s].ta ? "T" : "N", shapes[s].tb ? "T" : "N", shapes[s].what, fl / tc * 1e-9);
#ifdef HAVE_CBLAS
        {
            double tb = time_gemm(run_blas, shapes[s].ta, shapes[s].tb, m, n, k, A, B, C, shapes[s].reps);
            printf(" %12.1f %8.2f", fl / tb * 1e-9, tb / tc);
        }
#endif
        printf("\n");
        cr_free_aligned(A);
        cr_free_aligned(B);
        cr_free_aligned(C);
    }
}

/* Two plain OpenMP CSR loops, compiled with the same flags: (a) accumulates straight into the
   output row; (b) into a local acc[] copied out element by element. They are the same source
   idea, but gcc 12 vectorises (a) over the columns and (b) over the entries, with gathers, and
   (b) is the one that matches the 24-28 ms calibration the reviewer gave. Both are printed. */
static void plain_spmm(const cr_csr *A, const float *X, int d, float *Y) {
    int64_t r;
#pragma omp parallel for schedule(static)
    for (r = 0; r < A->nrows; r++) {
        float *acc = Y + r * d;
        int64_t p;
        int j;
        for (j = 0; j < d; j++) acc[j] = 0;
        for (p = A->rowptr[r]; p < A->rowptr[r + 1]; p++) {
            const float *x = X + (int64_t)A->col[p] * d;
            float w = A->val[p];
            for (j = 0; j < d; j++) acc[j] += w * x[j];
        }
    }
}

static void plain_spmm_local(const cr_csr *A, const float *X, int d, float *Y) {
    int64_t r;
#pragma omp parallel for schedule(static)
    for (r = 0; r < A->nrows; r++) {
        float acc[1024];
        int64_t p;
        int j;
        for (j = 0; j < d; j++) acc[j] = 0;
        for (p = A->rowptr[r]; p < A->rowptr[r + 1]; p++) {
            const float *x = X + (int64_t)A->col[p] * d;
            float w = A->val[p];
            for (j = 0; j < d; j++) acc[j] += w * x[j];
        }
        for (j = 0; j < d; j++) Y[r * d + j] = acc[j];
    }
}

typedef void (*spmm_fn)(const cr_csr *A, const float *X, int d, float *Y);

static void time_spmm(spmm_fn f, const cr_csr *A, const float *X, int d, float *Y, int reps, double *best, double *median) {
    double t[64];
    int r, i, j;
    f(A, X, d, Y);
    f(A, X, d, Y);
    for (r = 0; r < reps; r++) {
        double a = now_s();
        f(A, X, d, Y);
        t[r] = now_s() - a;
    }
    for (i = 1; i < reps; i++)
        for (j = i; j > 0 && t[j - 1] > t[j]; j--) { double x = t[j]; t[j] = t[j - 1]; t[j - 1] = x; }
    *best = t[0];
    *median = t[reps / 2];
}

static uint16_t *bf16_x; /* X as bfloat16, for the cr_spmm_bf16 timing through time_spmm */
static void spmm_bf16_fn(const cr_csr *A, const float *X, int d, float *Y) {
    (void)X;
    cr_spmm_bf16(A, bf16_x, d, Y);
}

static void bench_spmm_and_load(void) {
    char tp[512];
    const char *train = data_path(tp, sizeof tp, "gowalla/train.txt");
    cr_dataset ds;
    cr_csr A;
    int d = 64, reps = 30;
    float *X, *Y, *Y2;
    double b1, m1, b2, m2, maxdiff = 0, gathered;
    int64_t i;
    if (have_file(train)) {
        double best = 1e30;
        int rep;
        for (rep = 0; rep < 3; rep++) {
            double t = now_s();
            if (cr_dataset_load(&ds, train, NULL, NULL) != CR_OK) { printf("load failed: %s\n", cr_last_error()); exit(1); }
            t = now_s() - t;
            if (t < best) best = t;
            if (rep < 2) cr_dataset_free(&ds);
        }
        printf("\nload %s: %lld interactions, %d users, %d items in %.3f s (best of 3)\n", train, (long long)ds.train.n, ds.n_users, ds.n_items, best);
    } else {
        cr_synth_opts so;
        memset(&so, 0, sizeof so);
        so.n_users = 29858;
        so.n_items = 40981;
        so.mean_len = 27;
        so.n_clusters = 200;
        printf("\n(no %s: a synthetic graph of Gowalla's size)\n", train);
        if (cr_dataset_synthetic(&ds, &so, 0, 0.01) != CR_OK) { printf("%s\n", cr_last_error()); exit(1); }
    }
    if (cr_graph_bipartite(&A, ds.n_users, ds.n_items, ds.train.n, ds.train.user, ds.train.item, NULL) != CR_OK ||
        cr_graph_normalize_sym(&A) != CR_OK) { printf("%s\n", cr_last_error()); exit(1); }
    X = cr_alloc_floats(A.ncols * d);
    Y = cr_alloc_floats(A.nrows * d);
    Y2 = cr_alloc_floats(A.nrows * d);
    fill(X, A.ncols * d, 3);
    time_spmm(cr_spmm, &A, X, d, Y, reps, &b2, &m2);
    gathered = (double)A.nnz * d * 4;
    printf("SpMM normalised adjacency %lld x %lld, %lld nnz, d = %d, %d threads (X, Y from cr_alloc_floats):\n", (long long)A.nrows, (long long)A.ncols, (long long)A.nnz, d, cr_get_num_threads());
    printf("  cr_spmm                       best %7.2f ms  median %7.2f ms  %6.1f GB/s of gathered rows\n", b2 * 1e3, m2 * 1e3, gathered / b2 * 1e-9);
    {
        static const char *names[2] = {"plain loop (a), acc = y row ", "plain loop (b), local acc[] "};
        spmm_fn fns[2];
        int v;
        fns[0] = plain_spmm;
        fns[1] = plain_spmm_local;
        for (v = 0; v < 2; v++) {
            time_spmm(fns[v], &A, X, d, Y2, reps, &b1, &m1);
            maxdiff = 0;
            for (i = 0; i < A.nrows * d; i++) {
                double e = fabs((double)Y[i] - Y2[i]);
                if (e > maxdiff) maxdiff = e;
            }
            printf("  %s  best %7.2f ms  median %7.2f ms  %6.1f GB/s; cr_spmm is %.1fx faster (best), %.1fx (median); max |diff| %.1g\n",
                   names[v], b1 * 1e3, m1 * 1e3, gathered / b1 * 1e-9, b1 / b2, m1 / m2, maxdiff);
        }
    }
    { /* bfloat16 rows: half the gathered bytes; the same sums as cr_spmm of the widened X */
        float *Xw = cr_alloc_floats(A.ncols * d);
        bf16_x = (uint16_t *)malloc(sizeof(uint16_t) * (size_t)(A.ncols * d));
        cr_bf16_from_f32(bf16_x, X, A.ncols * d);
        cr_bf16_to_f32(Xw, bf16_x, A.ncols * d);
        time_spmm(cr_spmm, &A, Xw, d, Y, reps, &b2, &m2);
        time_spmm(spmm_bf16_fn, &A, NULL, d, Y2, reps, &b1, &m1);
        printf("  cr_spmm_bf16                  best %7.2f ms  median %7.2f ms  %6.1f GB/s of gathered rows; "
               "%.2fx cr_spmm's time (best, %.2f ms here), same bits as cr_spmm of the widened rows: %s\n",
               b1 * 1e3, m1 * 1e3, gathered / 2 / b1 * 1e-9, b1 / b2, b2 * 1e3,
               memcmp(Y, Y2, sizeof(float) * (size_t)(A.nrows * d)) ? "NO" : "yes");
        cr_free_aligned(Xw);
        free(bf16_x);
    }
    cr_free_aligned(X);
    cr_free_aligned(Y);
    cr_free_aligned(Y2);
    cr_csr_free(&A);
    cr_dataset_free(&ds);
}

/* exact t-SNE at the size the embedding map uses: 2,000 points of 64 dimensions, 1,000 its */
static void bench_tsne(void) {
    enum { N = 2000, D = 64 };
    float *X = cr_alloc_floats((int64_t)N * D), *Y = cr_alloc_floats((int64_t)N * 2);
    double t0, t;
    if (!X || !Y) { printf("t-SNE: %s\n", cr_last_error()); exit(1); }
    fill(X, (int64_t)N * D, 7);
    t0 = now_s();
    if (cr_tsne(X, N, D, NULL, Y, NULL) != CR_OK) { printf("t-SNE: %s\n", cr_last_error()); exit(1); }
    t = now_s() - t0;
    printf("\nexact t-SNE, %d points x %d dims, 1000 iterations, %d threads: %.2f s (%.1f M pairs/s)\n", N, D, cr_get_num_threads(), t,
           1000.0 * N * N / t * 1e-6);
    cr_free_aligned(X);
    cr_free_aligned(Y);
}

/* Parsers on large, unusual inputs: each must stay linear in its input. */
static void bench_parse(void) {
    size_t cap = 8u << 20, n = 0;
    char *t = (char *)malloc(cap);
    cr_idmap items;
    cr_item_features f;
    int32_t d;
    int i;
    double s;
    if (!t) exit(1);
    memset(&items, 0, sizeof items);
    for (i = 0; i < 100000; i++) cr_idmap_add(&items, i, &d);
    n += (size_t)snprintf(t + n, cap - n, "1");
    for (i = 0; i < 500000; i++) n += (size_t)snprintf(t + n, cap - n, " %d", i);
    t[n++] = '\n';
    s = now_s();
    if (cr_parse_item_features(&f, &items, t, n, "one line") != CR_OK) { printf("parse failed: %s\n", cr_last_error()); exit(1); }
    s = now_s() - s;
    printf("\nitem features, one line of 500,000 features (%.1f MB): %.3f s, %.0f MB/s\n", n / 1e6, s, n / 1e6 / s);
    cr_item_features_free(&f);
    n = (size_t)snprintf(t, cap, "item_id:token\tsales_rank:float\tprice:float\tbrand:token\tsize:token\tcats:token_seq\n");
    for (i = 0; i < 100000; i++)
        n += (size_t)snprintf(t + n, cap - n, "%d\t%d\t%d.%02d\tb%d\t%c\tc%d c%d c%d\n", i, (i * 7919) % 100003, i % 300, i % 100, i % 977,
                              'a' + i % 5, i % 31, i % 57, i % 89);
    s = now_s();
    if (cr_parse_item_features(&f, &items, t, n, "amazon.item") != CR_OK) { printf("parse failed: %s\n", cr_last_error()); exit(1); }
    s = now_s() - s;
    printf("RecBole .item, 100,000 items, 2 float and 3 token columns (%.1f MB): %.3f s, %.0f MB/s, %d features\n", n / 1e6, s,
           n / 1e6 / s, f.feats.n);
    cr_item_features_free(&f);
    cr_idmap_free(&items);
    free(t);
}

/* Adam's step over 20.5 M parameters (MF, d = 512, 40,000 rows: RecDCL's size at d = 512),
   against the floor it cannot beat: reading and writing its four arrays (parameters, gradient,
   two moments: 16 B read, 16 B written per parameter) in one streaming pass. */
static void scale4(float *a, float *b, float *c, float *d, int64_t n, float s) {
    int64_t i;
    CR__OMP(parallel for schedule(static))
    for (i = 0; i < n; i++) { a[i] *= s; b[i] *= s; c[i] *= s; d[i] *= s; }
}

static void bench_adam(void) {
    cr_dataset ds;
    cr_synth_opts so;
    cr_config c;
    cr_model *m = NULL;
    double t, best = 1e30, floor_t = 1e30;
    int64_t n;
    int k;
    memset(&so, 0, sizeof so);
    memset(&c, 0, sizeof c);
    so.n_users = 20000;
    so.n_items = 20000;
    so.mean_len = 10;
    so.seed = 5;
    c.model = CR_MODEL_MF;
    c.dim = 512;
    if (cr_dataset_synthetic(&ds, &so, 0, 0.2) != CR_OK || cr_model_create(&m, &c, &ds) != CR_OK) {
        printf("adam: %s\n", cr_last_error());
        exit(1);
    }
    n = cr_model_num_params(m);
    for (k = 0; k < 15; k++) {
        t = now_s();
        if (cr_model_adam_step(m) != CR_OK) { printf("adam: %s\n", cr_last_error()); exit(1); }
        t = now_s() - t;
        best = t < best ? t : best;
        t = now_s();
        scale4(m->param, m->grad, m->adam_m, m->adam_v, n, 1.0f);
        t = now_s() - t;
        floor_t = t < floor_t ? t : floor_t;
    }
    printf("\nAdam step, %lld parameters, %d threads: best of 15 %.2f ms (%.1f GB/s); four arrays read and written"
           " in one pass: %.2f ms (%.1f GB/s); step / floor %.2f\n", (long long)n, cr_get_num_threads(), best * 1e3,
           32.0 * (double)n / best * 1e-9, floor_t * 1e3, 32.0 * (double)n / floor_t * 1e-9, best / floor_t);
    cr_model_free(m);
    cr_dataset_free(&ds);
}

/* bench_kernels [gemm] [spmm] [tsne] [parse] [adam]: the named parts (default: all) */
int main(int argc, char **argv) {
    int i, all = argc < 2, want[5] = {0, 0, 0, 0, 0};
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "gemm")) want[0] = 1;
        else if (!strcmp(argv[i], "spmm")) want[1] = 1;
        else if (!strcmp(argv[i], "tsne")) want[2] = 1;
        else if (!strcmp(argv[i], "parse")) want[3] = 1;
        else if (!strcmp(argv[i], "adam")) want[4] = 1;
        else { fprintf(stderr, "usage: bench_kernels [gemm] [spmm] [tsne] [parse] [adam]\n"); return 2; }
    }
    if (all || want[0]) bench_gemm();
    if (all || want[1]) bench_spmm_and_load();
    if (all || want[2]) bench_tsne();
    if (all || want[3]) bench_parse();
    if (all || want[4]) bench_adam();
    printf("peak RSS %.0f MiB\n", peak_rss_mib());
    return 0;
}
