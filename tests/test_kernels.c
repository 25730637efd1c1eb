/* GEMM, CSR and SpMM against naive references on odd shapes */
#include "test.h"
#include <stdlib.h>

static void fill_random(float *x, int64_t n, cr_rng *r) {
    int64_t i;
    for (i = 0; i < n; i++) x[i] = cr_rng_float(r) * 2.0f - 1.0f;
}

/* C = alpha op(A) op(B) + beta C in double, then compares; returns the max relative error
   (|diff| / (|ref| + sum |terms|)) so long dot products of mixed signs are judged fairly. */
static double gemm_check(int ta, int tb, int m, int n, int k, float alpha, float beta, int pad, cr_rng *r) {
    int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad, i, j, p;
    int arows = ta ? k : m, brows = tb ? n : k;
    float *A = (float *)malloc(sizeof(float) * (size_t)(arows * lda + 1));
    float *B = (float *)malloc(sizeof(float) * (size_t)(brows * ldb + 1));
    float *C = (float *)malloc(sizeof(float) * (size_t)(m * ldc + 1));
    float *C0 = (float *)malloc(sizeof(float) * (size_t)(m * ldc + 1));
    double worst = 0;
    fill_random(A, arows * lda, r);
    fill_random(B, brows * ldb, r);
    fill_random(C0, m * ldc, r);
    if (beta == 0)
        for (i = 0; i < m * ldc; i++) C0[i] = NAN; /* beta == 0 must not read C */
    memcpy(C, C0, sizeof(float) * (size_t)(m * ldc));
    cr_sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    for (i = 0; i < m; i++)
        for (j = 0; j < ldc; j++) {
            double ref = 0, mag = 0, got = C[i * ldc + j], e;
            if (j >= n) { /* padding columns must be untouched */
                if (!(memcmp(&C[i * ldc + j], &C0[i * ldc + j], sizeof(float)) == 0)) worst = 1e9;
                continue;
            }
            for (p = 0; p < k; p++) {
                double a = ta ? A[p * lda + i] : A[i * lda + p], b = tb ? B[j * ldb + p] : B[p * ldb + j];
                ref += a * b;
                mag += fabs(a * b);
            }
            ref *= alpha;
            mag *= fabs(alpha);
            if (beta != 0) { ref += beta * (double)C0[i * ldc + j]; mag += fabs(beta * (double)C0[i * ldc + j]); }
            e = fabs(got - ref) / (mag + 1e-20);
            if (!(e <= worst)) worst = e != e ? 1e9 : e;
        }
    free(A); free(B); free(C); free(C0);
    return worst;
}

TEST(gemm_matches_naive_odd_shapes) {
    static const int sizes[] = {1, 2, 3, 7, 16, 17, 31, 33, 64, 65, 100};
    static const float alphas[] = {1.0f, -0.5f, 0.0f}, betas[] = {0.0f, 1.0f, 0.3f};
    cr_rng r;
    int ta, tb, a, b, c, cases = 0;
    cr_rng_seed(&r, 3);
    for (ta = 0; ta < 2; ta++)
        for (tb = 0; tb < 2; tb++)
            for (a = 0; a < 11; a++)
                for (b = 0; b < 11; b += 2)
                    for (c = 0; c < 11; c += 3) {
                        int m = sizes[a], n = sizes[(b + a) % 11], k = sizes[c];
                        float al = alphas[(a + b + c) % 3], be = betas[(a + c) % 3];
                        double e = gemm_check(ta, tb, m, n, k, al, be, (a + b) % 3 * 5, &r);
                        CHECKF(e < 1e-5, "ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g: rel err %g", ta, tb, m, n, k, al, be, e);
                        cases++;
                    }
    (void)cases;
}

/* The macro-kernel sweeps rows along C when a packed B block fits in L2 (nc kc <= 2^18 floats)
   and columns of the A block otherwise: shapes on both sides of that line, ragged at every edge. */
TEST(gemm_matches_naive_both_loop_orders) {
    static const int shapes[][3] = {{37, 1700, 150}, {37, 2000, 300}, {29, 4100, 70}};
    cr_rng r;
    int s, ta, tb;
    cr_rng_seed(&r, 5);
    for (s = 0; s < 3; s++)
        for (ta = 0; ta < 2; ta++)
            for (tb = 0; tb < 2; tb++) {
                const int *x = shapes[s];
                double e = gemm_check(ta, tb, x[0], x[1], x[2], 0.7f, ta ? 0.0f : 0.5f, tb * 3, &r);
                CHECKF(e < 1e-5, "ta=%d tb=%d %dx%dx%d: rel err %g", ta, tb, x[0], x[1], x[2], e);
            }
}

/* alpha == 0 (or k == 0) is C = beta C: A and B are not read, even when they hold NaN. */
TEST(gemm_alpha_zero_reads_neither_operand) {
    float A[12], B[12], C[9];
    int i;
    for (i = 0; i < 12; i++) A[i] = B[i] = NAN;
    for (i = 0; i < 9; i++) C[i] = (float)i;
    cr_sgemm(0, 1, 3, 3, 4, 0.0f, A, 4, B, 4, 2.0f, C, 3);
    for (i = 0; i < 9; i++) CHECK(C[i] == 2.0f * (float)i);
    cr_sgemm(1, 0, 3, 3, 4, 0.0f, A, 3, B, 3, 0.0f, C, 3);
    for (i = 0; i < 9; i++) CHECK(C[i] == 0.0f);
}

TEST(gemm_large_and_skinny) {
    cr_rng r;
    double e;
    cr_rng_seed(&r, 4);
    e = gemm_check(0, 0, 300, 257, 301, 1.0f, 0.0f, 3, &r);
    CHECKF(e < 1e-5, "NN 300x257x301: %g", e);
    e = gemm_check(0, 1, 129, 1000, 64, 1.0f, 0.0f, 0, &r); /* scores: users x items^T */
    CHECKF(e < 1e-5, "NT 129x1000x64: %g", e);
    e = gemm_check(1, 0, 64, 64, 5000, 1.0f, 1.0f, 0, &r); /* weight-gradient-like */
    CHECKF(e < 1e-5, "TN 64x64x5000: %g", e);
    e = gemm_check(1, 1, 70, 90, 2000, -1.0f, 0.5f, 1, &r);
    CHECKF(e < 1e-5, "TT 70x90x2000: %g", e);
}

TEST(gemm_k0_and_empty) {
    float C[6] = {1, 2, 3, 4, 5, 6}, A[1] = {0}, B[1] = {0};
    cr_sgemm(0, 0, 2, 3, 0, 1.0f, A, 1, B, 3, 0.5f, C, 3); /* k = 0: C = beta C */
    CHECK(C[0] == 0.5f && C[5] == 3.0f);
    cr_sgemm(0, 0, 2, 3, 0, 1.0f, A, 1, B, 3, 0.0f, C, 3);
    CHECK(C[0] == 0.0f && C[5] == 0.0f);
    cr_sgemm(0, 0, 0, 3, 4, 1.0f, A, 4, B, 3, 0.0f, C, 3); /* m = 0: nothing */
    cr_sgemm(0, 0, 2, 0, 4, 1.0f, A, 4, B, 1, 0.0f, C, 1);
}

TEST(gemm_deterministic) {
    enum { M = 96, N = 80, K = 3000 };
    float *A = (float *)malloc(sizeof(float) * M * K), *B = (float *)malloc(sizeof(float) * K * N);
    float *C1 = (float *)malloc(sizeof(float) * M * N), *C2 = (float *)malloc(sizeof(float) * M * N);
    cr_rng r;
    int t0 = cr_get_num_threads();
    cr_rng_seed(&r, 8);
    fill_random(A, M * K, &r);
    fill_random(B, K * N, &r);
    cr_sgemm(1, 0, M, N, K, 1.0f, A, M, B, N, 0.0f, C1, N);
    cr_set_num_threads(1);
    cr_sgemm(1, 0, M, N, K, 1.0f, A, M, B, N, 0.0f, C2, N);
    cr_set_num_threads(t0);
    CHECK(memcmp(C1, C2, sizeof(float) * M * N) == 0);
    free(A); free(B); free(C1); free(C2);
}

/* A random CSR with empty rows and a few long rows. */
static void random_csr(cr_csr *A, int64_t nrows, int64_t ncols, int with_val, cr_rng *r) {
    int64_t nnz = 0, cap = nrows * 8 + 64, i;
    int32_t *ri = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap), *ci = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
    float *v = (float *)malloc(sizeof(float) * (size_t)cap);
    for (i = 0; i < nrows; i++) {
        int64_t deg = i % 5 == 0 ? 0 : (i % 17 == 0 ? 40 : (int64_t)cr_rng_below(r, 6)), k;
        for (k = 0; k < deg && nnz < cap; k++) {
            ri[nnz] = (int32_t)i;
            ci[nnz] = (int32_t)cr_rng_below(r, (uint32_t)ncols);
            v[nnz] = cr_rng_float(r) - 0.5f;
            nnz++;
        }
    }
    cr_csr_from_coo(A, nrows, ncols, nnz, ri, ci, v);
    if (!with_val) { free(A->val); A->val = NULL; }
    free(ri); free(ci); free(v);
}

TEST(spmm_matches_naive) {
    static const int ds[] = {1, 3, 5, 16, 17, 31, 32, 33, 64, 67, 128};
    cr_rng r;
    int a, wv;
    cr_rng_seed(&r, 11);
    for (wv = 0; wv < 2; wv++)
        for (a = 0; a < 11; a++) {
            cr_csr A;
            int d = ds[a];
            int64_t i, p, j;
            float *X, *Y;
            random_csr(&A, 203, 150, wv, &r);
            X = (float *)malloc(sizeof(float) * 150 * (size_t)d);
            Y = (float *)malloc(sizeof(float) * 203 * (size_t)d + 4);
            fill_random(X, 150 * d, &r);
            cr_spmm(&A, X, d, Y);
            for (i = 0; i < A.nrows; i++)
                for (j = 0; j < d; j++) {
                    double ref = 0;
                    for (p = A.rowptr[i]; p < A.rowptr[i + 1]; p++) ref += (A.val ? A.val[p] : 1.0) * X[A.col[p] * d + j];
                    CHECKF(fabs(Y[i * d + j] - ref) < 1e-5, "d=%d val=%d row %lld col %lld: %g vs %g", d, wv, (long long)i, (long long)j, Y[i * d + j], ref);
                }
            cr_csr_free(&A);
            free(X); free(Y);
        }
}

/* bfloat16 rows: cr_spmm_bf16 must give cr_spmm's bits on the widened rows (the same sums of the
   same values), on every width (tails, several column panels), with and without values, rows
   starting anywhere (an odd offset of the table), on 1 and 2 threads (a graph big enough to split). */
TEST(spmm_bf16_is_spmm_of_the_widened_rows) {
    static const int ds[] = {1, 3, 15, 16, 17, 33, 64, 100, 130, 257};
    cr_rng r;
    int a, wv, th, t0 = cr_get_num_threads();
    cr_rng_seed(&r, 13);
    for (wv = 0; wv < 2; wv++)
        for (a = 0; a < 10; a++)
            for (th = 1; th <= 2; th++) {
                cr_csr A;
                int d = ds[a], rows = 2003, cols = 1500;
                float *X = (float *)malloc(sizeof(float) * (size_t)cols * d), *Y1, *Y2;
                uint16_t *buf = (uint16_t *)malloc(sizeof(uint16_t) * ((size_t)cols * d + 1)), *H = buf + (a & 1);
                random_csr(&A, rows, cols, wv, &r);
                Y1 = (float *)malloc(sizeof(float) * (size_t)rows * d);
                Y2 = (float *)malloc(sizeof(float) * (size_t)rows * d);
                fill_random(X, (int64_t)cols * d, &r);
                cr_bf16_from_f32(H, X, (int64_t)cols * d);
                cr_bf16_to_f32(X, H, (int64_t)cols * d);
                cr_set_num_threads(th);
                cr_spmm(&A, X, d, Y1);
                cr_spmm_bf16(&A, H, d, Y2);
                cr_set_num_threads(t0);
                CHECKF(!memcmp(Y1, Y2, sizeof(float) * (size_t)rows * d), "d=%d val=%d threads=%d: bf16 rows differ", d,
                       wv, th);
                cr_csr_free(&A);
                free(X); free(buf); free(Y1); free(Y2);
            }
}

/* Round to nearest with ties to even, on the bits; NaN stays NaN; past the largest bf16 is
   infinity; widening is exact. */
TEST(bf16_rounding) {
    static const uint32_t in[] = {0x3F800000u, 0x3F808000u, 0x3F818000u, 0x3F808001u, 0x3F80FFFFu, 0x7F7FFFFFu,
                                  0xFF800000u, 0x80000000u, 0x00000001u, 0x7FC00001u, 0xFF800001u, 0xC0490FDBu};
    static const uint16_t want[] = {0x3F80, 0x3F80, 0x3F82, 0x3F81, 0x3F81, 0x7F80,
                                    0xFF80, 0x8000, 0x0000, 0x7FC0, 0xFFC0, 0xC049};
    float f[12], back[12];
    uint16_t h[12];
    int i;
    memcpy(f, in, sizeof f);
    cr_bf16_from_f32(h, f, 12);
    cr_bf16_to_f32(back, h, 12);
    for (i = 0; i < 12; i++) {
        uint32_t b;
        memcpy(&b, &back[i], 4);
        CHECKF(h[i] == want[i], "0x%08x -> 0x%04x, wanted 0x%04x", in[i], h[i], want[i]);
        CHECKF(b == (uint32_t)want[i] << 16, "0x%04x widened to 0x%08x", h[i], b);
    }
}

TEST(spmm_unaligned_and_empty) {
    cr_csr A;
    cr_rng r;
    float *buf = (float *)malloc(sizeof(float) * (50 * 64 + 1) * 2), *X = buf + 1, *Y = buf + 50 * 64 + 2;
    int64_t i;
    cr_rng_seed(&r, 12);
    random_csr(&A, 50, 50, 1, &r);
    fill_random(X, 50 * 64, &r);
    cr_spmm(&A, X, 64, Y);
    for (i = 0; i < 64; i++) { /* row 0 is empty: must be zeroed */
        CHECK(Y[i] == 0.0f);
    }
    cr_csr_free(&A);
    memset(&A, 0, sizeof A);
    CHECK_OK(cr_csr_from_coo(&A, 0, 0, 0, NULL, NULL, NULL));
    cr_spmm(&A, X, 64, Y); /* nothing to do, must not crash */
    cr_csr_free(&A);
    free(buf);
}

TEST(csr_from_coo_merges_and_validates) {
    int32_t r[] = {2, 0, 2, 0, 2}, c[] = {1, 3, 1, 0, 0};
    float v[] = {1, 2, 3, 4, 5};
    cr_csr A, T;
    CHECK_OK(cr_csr_from_coo(&A, 3, 4, 5, r, c, v));
    CHECK(A.nnz == 4 && A.rowptr[1] == 2 && A.rowptr[2] == 2 && A.rowptr[3] == 4);
    CHECK(A.col[0] == 0 && A.val[0] == 4 && A.col[1] == 3 && A.val[1] == 2);
    CHECK(A.col[2] == 0 && A.val[2] == 5 && A.col[3] == 1 && A.val[3] == 4); /* 1 + 3 merged */
    CHECK_OK(cr_csr_transpose(&T, &A));
    CHECK(T.nrows == 4 && T.nnz == 4 && T.rowptr[1] == 2 && T.col[0] == 0 && T.col[1] == 2 && T.val[1] == 5);
    cr_csr_free(&T);
    cr_csr_free(&A);
    c[4] = 4;
    CHECK_FAILS(cr_csr_from_coo(&A, 3, 4, 5, r, c, v), CR_ERR_INVALID, "entry 4");
    CHECK(A.rowptr == NULL);
}

TEST(bipartite_graph_and_normalisation) {
    int32_t u[] = {0, 0, 1, 2}, it[] = {0, 1, 1, 2};
    uint8_t keep[] = {1, 0, 1, 1};
    cr_csr A;
    int64_t p;
    CHECK_OK(cr_graph_bipartite(&A, 4, 3, 4, u, it, NULL)); /* user 3 has no edge */
    CHECK(A.nrows == 7 && A.nnz == 8);
    CHECK(A.rowptr[4] - A.rowptr[3] == 0);
    CHECK(A.col[A.rowptr[4 + 1]] == 0 && A.col[A.rowptr[4 + 1] + 1] == 1); /* item 1 <- users 0, 1 */
    CHECK_OK(cr_graph_normalize_sym(&A));
    /* edge (user 0, item 1): deg(user 0) = 2, deg(item 1) = 2 -> 1/2 */
    for (p = A.rowptr[0]; p < A.rowptr[1]; p++)
        if (A.col[p] == 5) CHECK_NEAR(A.val[p], 0.5, 1e-7);
    for (p = A.rowptr[2]; p < A.rowptr[3]; p++) CHECK_NEAR(A.val[p], 1.0, 1e-7); /* user 2 - item 2 */
    cr_csr_free(&A);
    CHECK_OK(cr_graph_bipartite(&A, 4, 3, 4, u, it, keep));
    CHECK(A.nnz == 6);
    cr_csr_free(&A);
    it[3] = 3;
    CHECK_FAILS(cr_graph_bipartite(&A, 4, 3, 4, u, it, NULL), CR_ERR_INVALID, "edge 3");
}

const crt_case crt_kernels[] = {
    {"kernels/gemm_matches_naive_odd_shapes", gemm_matches_naive_odd_shapes},
    {"kernels/gemm_matches_naive_both_loop_orders", gemm_matches_naive_both_loop_orders},
    {"kernels/gemm_alpha_zero_reads_neither_operand", gemm_alpha_zero_reads_neither_operand},
    {"kernels/gemm_large_and_skinny", gemm_large_and_skinny},
    {"kernels/gemm_k0_and_empty", gemm_k0_and_empty},
    {"kernels/gemm_deterministic", gemm_deterministic},
    {"kernels/spmm_matches_naive", spmm_matches_naive},
    {"kernels/spmm_bf16_is_spmm_of_the_widened_rows", spmm_bf16_is_spmm_of_the_widened_rows},
    {"kernels/bf16_rounding", bf16_rounding},
    {"kernels/spmm_unaligned_and_empty", spmm_unaligned_and_empty},
    {"kernels/csr_from_coo_merges_and_validates", csr_from_coo_merges_and_validates},
    {"kernels/bipartite_graph_and_normalisation", bipartite_graph_and_normalisation},
    {NULL, NULL}};
