/* Gradient checks. Losses: analytic float gradients against central differences of independent
   double-precision re-implementations. Propagation: the adjoint identity <dOut, J dE> =
   <J^T dOut, dE> in double. Models: the whole batch loss of every model against Richardson-
   extrapolated central differences of the library's own forward pass. This file holds the
   implementation (so it can reach the internal propagation kernels). */
#define CONTRAREC_IMPLEMENTATION
#include "test.h"
#include <stdlib.h>

/* ---- helpers ---- */

static void randn(float *x, int64_t n, cr_rng *r, float scale) {
    int64_t i;
    for (i = 0; i < n; i++) x[i] = cr_rng_normal(r) * scale;
}

/* max over i of |a - n| / max(|a| + |n|, floor) */
static double rel_err(const double *ana, const double *num, int n, double floor_) {
    double w = 0;
    int i;
    for (i = 0; i < n; i++) {
        double den = fabs(ana[i]) + fabs(num[i]);
        double e = fabs(ana[i] - num[i]) / (den > floor_ ? den : floor_);
        if (e > w) w = e;
    }
    return w;
}

/* ---- double references of the losses ---- */

static double ref_bpr(const double *u, const double *p, const double *n, int B, int d, double w) {
    double l = 0;
    int b, j;
    for (b = 0; b < B; b++) {
        double x = 0;
        for (j = 0; j < d; j++) x += u[b * d + j] * (p[b * d + j] - n[b * d + j]);
        l += log1p(exp(-x));
    }
    return w * l / B;
}

static double ref_infonce(const double *Q, const double *K, int n, int m, int d, const int32_t *pos,
                          const int32_t *self, double tau, double w) {
    double l = 0;
    int i, j, c;
    for (i = 0; i < n; i++) {
        double qn = 0, mx = -1e300, s = 0, sp = 0, *sc = (double *)malloc(sizeof(double) * (size_t)m);
        for (c = 0; c < d; c++) qn += Q[i * d + c] * Q[i * d + c];
        for (j = 0; j < m; j++) {
            double kn = 0, dot = 0;
            for (c = 0; c < d; c++) { kn += K[j * d + c] * K[j * d + c]; dot += Q[i * d + c] * K[j * d + c]; }
            sc[j] = dot / sqrt(qn * kn) / tau;
        }
        sp = sc[pos ? pos[i] : i];
        for (j = 0; j < m; j++)
            if (!self || j != self[i]) mx = sc[j] > mx ? sc[j] : mx;
        for (j = 0; j < m; j++)
            if (!self || j != self[i]) s += exp(sc[j] - mx);
        l += mx + log(s) - sp;
        free(sc);
    }
    return w * l / n;
}

static double ref_xent(const double *x, const int32_t *t, int B, int C, double w) {
    double l = 0;
    int b, j, cnt = 0;
    for (b = 0; b < B; b++) {
        double mx = -1e300, s = 0;
        if (t[b] < 0) continue;
        cnt++;
        for (j = 0; j < C; j++) mx = x[b * C + j] > mx ? x[b * C + j] : mx;
        for (j = 0; j < C; j++) s += exp(x[b * C + j] - mx);
        l += mx + log(s) - x[b * C + t[b]];
    }
    return cnt ? w * l / cnt : 0;
}

/* Central differences (in double) of f over the n entries of x. */
typedef double (*ref_fn)(double *x, void *ctx);
static void numgrad(double *g, double *x, int n, ref_fn f, void *ctx) {
    int i;
    for (i = 0; i < n; i++) {
        double h = 1e-6 * (fabs(x[i]) > 1 ? fabs(x[i]) : 1), keep = x[i], lp, lm;
        x[i] = keep + h; lp = f(x, ctx);
        x[i] = keep - h; lm = f(x, ctx);
        x[i] = keep;
        g[i] = (lp - lm) / (2 * h);
    }
}

typedef struct { int B, d; } bpr_ctx;
static double bpr_f(double *x, void *c) {
    bpr_ctx *k = (bpr_ctx *)c;
    int s = k->B * k->d;
    return ref_bpr(x, x + s, x + 2 * s, k->B, k->d, 0.7);
}

TEST(bpr_gradcheck) {
    enum { B = 6, D = 5, S = B * D };
    float u[3 * S], g[3 * S];
    double x[3 * S], ga[3 * S], gn[3 * S], l;
    bpr_ctx k = {B, D};
    cr_rng r;
    int i;
    cr_rng_seed(&r, 21);
    randn(u, 3 * S, &r, 0.8f);
    memset(g, 0, sizeof g);
    l = cr_bpr_loss(g, g + S, g + 2 * S, u, u + S, u + 2 * S, B, D, 0.7f);
    for (i = 0; i < 3 * S; i++) { x[i] = u[i]; ga[i] = g[i]; }
    CHECK_NEAR(l, bpr_f(x, &k), 1e-5);
    numgrad(gn, x, 3 * S, bpr_f, &k);
    CHECKF(rel_err(ga, gn, 3 * S, 1e-6) < 1e-3, "BPR rel err %g", rel_err(ga, gn, 3 * S, 1e-6));
}

/* RCL's confidence-weighted BPR: sum_b c_b l_b / sum_b c_b with c_b = sigmoid(x_b)^gamma, the
   weights constants of the backward pass, so the reference holds them (filled at the first call). */
typedef struct { int B, d, fill; double gamma, c[8]; } bpr_conf_ctx;
static double bpr_conf_f(double *x, void *ctx) {
    bpr_conf_ctx *k = (bpr_conf_ctx *)ctx;
    int S = k->B * k->d, b, j;
    double num = 0, den = 0;
    for (b = 0; b < k->B; b++) {
        double y = 0, l;
        for (j = 0; j < k->d; j++) y += x[b * k->d + j] * (x[S + b * k->d + j] - x[2 * S + b * k->d + j]);
        l = log1p(exp(-y));
        if (k->fill) k->c[b] = exp(-k->gamma * l);
        num += k->c[b] * l;
        den += k->c[b];
    }
    return num / den;
}

TEST(bpr_confidence_gradcheck) {
    enum { B = 6, D = 5, S = B * D };
    static const float gammas[3] = {0.2f, 1.0f, 3.0f};
    float u[3 * S], g[3 * S], h[3 * S];
    double x[3 * S], ga[3 * S], gn[3 * S], l;
    bpr_conf_ctx k;
    cr_rng r;
    int i, t;
    cr_rng_seed(&r, 22);
    for (t = 0; t < 3; t++) {
        randn(u, 3 * S, &r, 0.8f);
        memset(g, 0, sizeof g);
        memset(&k, 0, sizeof k);
        k.B = B; k.d = D; k.gamma = gammas[t]; k.fill = 1;
        l = cr__bpr_conf_loss(g, g + S, g + 2 * S, u, u + S, u + 2 * S, B, D, gammas[t]);
        for (i = 0; i < 3 * S; i++) { x[i] = u[i]; ga[i] = g[i]; }
        CHECK_NEAR(l, bpr_conf_f(x, &k), 1e-5);
        k.fill = 0;
        numgrad(gn, x, 3 * S, bpr_conf_f, &k);
        CHECKF(rel_err(ga, gn, 3 * S, 1e-6) < 1e-3, "gamma %g: rel err %g", gammas[t], rel_err(ga, gn, 3 * S, 1e-6));
    }
    /* gamma 0: cr_bpr_loss, bit for bit */
    memset(g, 0, sizeof g);
    memset(h, 0, sizeof h);
    l = cr__bpr_conf_loss(g, g + S, g + 2 * S, u, u + S, u + 2 * S, B, D, 0.0f);
    CHECK(l == cr_bpr_loss(h, h + S, h + 2 * S, u, u + S, u + 2 * S, B, D, 1.0f) && !memcmp(g, h, sizeof g));
}

typedef struct { int n, m, d; const int32_t *pos, *self; int tied; } nce_ctx;
static double nce_f(double *x, void *c) {
    nce_ctx *k = (nce_ctx *)c;
    return ref_infonce(x, k->tied ? x : x + k->n * k->d, k->n, k->m, k->d, k->pos, k->self, 0.3, 0.7);
}

TEST(infonce_gradcheck) {
    enum { N = 6, M = 9, D = 5 };
    float q[(N + M) * D], g[(N + M) * D], *ws = (float *)malloc(sizeof(float) * (size_t)cr_infonce_workspace(N, M, D));
    double x[(N + M) * D], ga[(N + M) * D], gn[(N + M) * D], l;
    int32_t pos[N] = {3, 0, 8, 1, 4, 4}, self[N] = {0, 2, 1, 5, 6, 7};
    nce_ctx k;
    cr_rng r;
    int i, variant;
    cr_rng_seed(&r, 22);
    for (variant = 0; variant < 2; variant++) { /* with and without left-out entries */
        randn(q, (N + M) * D, &r, 1.0f);
        memset(g, 0, sizeof g);
        k.n = N; k.m = M; k.d = D; k.pos = pos; k.self = variant ? self : NULL; k.tied = 0;
        l = cr_infonce_loss(g, g + N * D, q, q + N * D, N, M, D, pos, k.self, 0.3f, 0.7f, ws);
        for (i = 0; i < (N + M) * D; i++) { x[i] = q[i]; ga[i] = g[i]; }
        CHECK_NEAR(l, nce_f(x, &k), 1e-5);
        numgrad(gn, x, (N + M) * D, nce_f, &k);
        CHECKF(rel_err(ga, gn, (N + M) * D, 1e-6) < 1e-3, "InfoNCE variant %d rel err %g", variant, rel_err(ga, gn, (N + M) * D, 1e-6));
    }
    free(ws);
}

TEST(infonce_ntxent_tied_gradcheck) {
    /* SimCLR / CL4SRec: Q == K = [z1; z2], positives i <-> i + B, self left out */
    enum { B = 4, N = 2 * B, D = 6 };
    float z[N * D], g[N * D], *ws = (float *)malloc(sizeof(float) * (size_t)cr_infonce_workspace(N, N, D));
    double x[N * D], ga[N * D], gn[N * D], l;
    int32_t pos[N], self[N];
    nce_ctx k;
    cr_rng r;
    int i;
    cr_rng_seed(&r, 23);
    for (i = 0; i < N; i++) { pos[i] = (i + B) % N; self[i] = i; }
    randn(z, N * D, &r, 1.0f);
    memset(g, 0, sizeof g);
    l = cr_infonce_loss(g, g, z, z, N, N, D, pos, self, 0.3f, 0.7f, ws);
    k.n = N; k.m = N; k.d = D; k.pos = pos; k.self = self; k.tied = 1;
    for (i = 0; i < N * D; i++) { x[i] = z[i]; ga[i] = g[i]; }
    CHECK_NEAR(l, nce_f(x, &k), 1e-5);
    numgrad(gn, x, N * D, nce_f, &k);
    CHECKF(rel_err(ga, gn, N * D, 1e-6) < 1e-3, "NT-Xent rel err %g", rel_err(ga, gn, N * D, 1e-6));
    free(ws);
}

/* Beyond 2^24 logits cr_infonce_loss works through the queries in blocks; the result must be
   the sum of separate calls over those blocks (each small enough for one block). */
TEST(infonce_blocks_equal_separate_calls) {
    enum { N = 300, M = 60000, D = 4, R = 60 };
    float *q = (float *)malloc(sizeof(float) * N * D), *k = (float *)malloc(sizeof(float) * (size_t)M * D);
    float *gq = (float *)calloc(N * D, sizeof(float)), *gk = (float *)calloc((size_t)M * D, sizeof(float));
    float *hq = (float *)calloc(N * D, sizeof(float)), *hk = (float *)calloc((size_t)M * D, sizeof(float));
    float *ws = (float *)malloc(sizeof(float) * (size_t)cr_infonce_workspace(N, M, D));
    int32_t pos[N];
    double l1, l2 = 0, worst = 0, top = 0;
    cr_rng r;
    int i, r0;
    cr_rng_seed(&r, 28);
    randn(q, N * D, &r, 1.0f);
    randn(k, (int64_t)M * D, &r, 1.0f);
    for (i = 0; i < N; i++) pos[i] = (int32_t)cr_rng_below(&r, M);
    l1 = cr_infonce_loss(gq, gk, q, k, N, M, D, pos, NULL, 0.3f, 0.7f, ws);
    for (r0 = 0; r0 < N; r0 += R) /* weight scaled so each call's mean is part of the whole's */
        l2 += cr_infonce_loss(hq + r0 * D, hk, q + r0 * D, k, R, M, D, pos + r0, NULL, 0.3f, 0.7f * R / N, ws);
    CHECK_NEAR(l1, l2, 1e-5 * fabs(l2));
    for (i = 0; i < N * D; i++) { top = fmax(top, fabs(hq[i])); worst = fmax(worst, fabs(gq[i] - hq[i])); }
    for (i = 0; i < M * D; i++) { top = fmax(top, fabs(hk[i])); worst = fmax(worst, fabs(gk[i] - hk[i])); }
    CHECKF(worst <= 1e-4 * top, "gradients differ by %g (largest %g)", worst, top);
    free(q); free(k); free(gq); free(gk); free(hq); free(hk); free(ws);
}

/* The plain form streams its logits through tiles of 256 keys and blocks of 16 micro-kernel
   rows; the robust form with every option neutral (no mask, the plain estimator, gamma 0)
   still works through whole logit rows with cr_sgemm (so does DCL, which RCL's masked rows,
   streamed, are checked against). The two must agree on shapes that end inside a tile and a
   block, with and without left-out entries, to float rounding (the sums
   run in different orders: 1e-5 of the loss, 1e-4 of the largest gradient); and the streamed
   form must give the same bits on 1 and 2 threads. */
TEST(infonce_streamed_equals_whole_rows) {
    static const int shapes[][3] = {{1, 1, 1}, {13, 7, 3}, {200, 517, 5}, {389, 300, 64}, {40, 2000, 33}};
    cr_infonce_opts o;
    size_t sh;
    memset(&o, 0, sizeof o);
    for (sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        int n = shapes[sh][0], m = shapes[sh][1], d = shapes[sh][2], i, variant, t0 = cr_get_num_threads();
        float *q = (float *)malloc(sizeof(float) * (size_t)n * d), *k = (float *)malloc(sizeof(float) * (size_t)m * d);
        float *g[3], *h[3];
        float *ws = (float *)malloc(sizeof(float) * (size_t)cr_infonce_workspace(n, m, d));
        int32_t *pos = (int32_t *)malloc(sizeof(int32_t) * (size_t)n),
                *self = (int32_t *)malloc(sizeof(int32_t) * (size_t)n),
                *mc = (int32_t *)malloc(sizeof(int32_t) * 4 * n);
        int64_t *mp = (int64_t *)malloc(sizeof(int64_t) * (size_t)(n + 1));
        cr_rng r;
        cr_rng_seed(&r, 40 + (uint64_t)sh);
        randn(q, (int64_t)n * d, &r, 1.0f);
        randn(k, (int64_t)m * d, &r, 1.0f);
        for (i = 0; i < n; i++) {
            pos[i] = (int32_t)cr_rng_below(&r, (uint32_t)m);
            self[i] = m > 1 ? (pos[i] + 1 + (int32_t)cr_rng_below(&r, (uint32_t)m - 1)) % m : -1;
        }
        for (i = 0; i < 3; i++) {
            g[i] = (float *)calloc((size_t)n * d, sizeof(float));
            h[i] = (float *)calloc((size_t)m * d, sizeof(float));
        }
        mp[0] = 0; /* RCL's false negatives: up to 4 per row, duplicates and the positive among them */
        for (i = 0; i < n; i++) {
            int64_t c = mp[i], e, ne = (int64_t)cr_rng_below(&r, 5);
            for (e = 0; e < ne; e++, c++)
                mc[c] = e == 3 ? pos[i] : e == 2 ? mc[c - 1] : (int32_t)cr_rng_below(&r, (uint32_t)m);
            mp[i + 1] = c;
        }
        for (variant = 0; variant < 6; variant++) {
            /* variant 2: masked rows streamed against the whole-row DCL at tau_plus 0 (the same loss:
               its floor N exp(-1/tau) never exceeds the sum of N negatives whose cosines are >= -1);
               3-5 the same at tau 0.01, where the tiles exponentiate against their own maxima */
            const int32_t *sf = variant % 3 ? self : NULL;
            float tau = variant < 3 ? 0.2f : 0.01f;
            if (variant >= 3 && getenv("CRT_VALGRIND") && (int64_t)n * m * d > 1000000) continue; /* CI's time */
            cr_infonce_opts om = o, od = o;
            double ls, lw, lw2, worst = 0, top = 0;
            om.mask_ptr = od.mask_ptr = mp, om.mask_col = od.mask_col = mc, od.estimator = CR_NCE_DCL;
            for (i = 0; i < 3; i++) {
                memset(g[i], 0, sizeof(float) * (size_t)n * d);
                memset(h[i], 0, sizeof(float) * (size_t)m * d);
            }
            cr_set_num_threads(1);
            ls = variant % 3 < 2 ? cr_infonce_loss(g[0], h[0], q, k, n, m, d, pos, sf, tau, 0.9f, ws)
                             : cr_infonce_loss_ex(g[0], h[0], q, k, n, m, d, pos, sf, tau, 0.9f, &om, ws);
            lw = cr_infonce_loss_ex(g[1], h[1], q, k, n, m, d, pos, sf, tau, 0.9f, variant % 3 < 2 ? &o : &od, ws);
            cr_set_num_threads(2);
            lw2 = variant % 3 < 2 ? cr_infonce_loss(g[2], h[2], q, k, n, m, d, pos, sf, tau, 0.9f, ws)
                              : cr_infonce_loss_ex(g[2], h[2], q, k, n, m, d, pos, sf, tau, 0.9f, &om, ws);
            CHECKF(lw2 == ls, "%dx%dx%d: loss %a on 2 threads, %a on 1", n, m, d, lw2, ls);
            cr_set_num_threads(t0);
            CHECK(!memcmp(g[0], g[2], sizeof(float) * (size_t)n * d) &&
                  !memcmp(h[0], h[2], sizeof(float) * (size_t)m * d));
            CHECKF(fabs(ls - lw) <= 1e-5 * fabs(lw) + 1e-7, "%dx%dx%d: loss %.9g streamed, %.9g whole rows", n, m, d,
                   ls, lw);
            for (i = 0; i < n * d; i++) {
                top = fmax(top, fabs(g[1][i]));
                worst = fmax(worst, fabs(g[0][i] - g[1][i]));
            }
            for (i = 0; i < m * d; i++) {
                top = fmax(top, fabs(h[1][i]));
                worst = fmax(worst, fabs(h[0][i] - h[1][i]));
            }
            CHECKF(worst <= 1e-4 * top, "%dx%dx%d%s, tau %g: gradients differ by %g (largest %g)", n, m, d,
                   variant % 3 == 2 ? " with self and masks" : variant % 3 ? " with self" : "", tau, worst, top);
        }
        for (i = 0; i < 3; i++) { free(g[i]); free(h[i]); }
        free(q); free(k); free(ws); free(pos); free(self); free(mc); free(mp);
    }
}

/* Listed entries outside the keys (any int32, far below and above) are ignored without an
   overflow in the tile's bounds (UBSan under make asan); a self entry that is the positive is
   not left out, as in the whole-row robust form. */
TEST(infonce_mask_bounds_and_self_at_the_positive) {
    enum { n = 3, m = 300, d = 4 };
    float q[n * d], k[m * d], *ws = (float *)malloc(sizeof(float) * (size_t)cr_infonce_workspace(n, m, d));
    int32_t pos[n] = {1, 280, 3}, self[n] = {1, 0, 299}, mc[5] = {-2147483647, 300, 2147483647, -1, 2147483647};
    int64_t mp[n + 1] = {0, 3, 5, 5};
    cr_infonce_opts o, od;
    double plain, masked, l_self, l_dcl;
    cr_rng r;
    cr_rng_seed(&r, 77);
    randn(q, n * d, &r, 1.0f);
    randn(k, m * d, &r, 1.0f);
    memset(&o, 0, sizeof o);
    o.mask_ptr = mp, o.mask_col = mc;
    plain = cr_infonce_loss(NULL, NULL, q, k, n, m, d, pos, NULL, 0.2f, 1.0f, ws);
    masked = cr_infonce_loss_ex(NULL, NULL, q, k, n, m, d, pos, NULL, 0.2f, 1.0f, &o, ws);
    CHECKF(plain == masked, "out-of-range entries changed the loss: %.9g against %.9g", masked, plain);
    od = o, od.estimator = CR_NCE_DCL; /* tau_plus 0: the same loss through whole rows */
    self[0] = pos[0];
    l_self = cr_infonce_loss_ex(NULL, NULL, q, k, n, m, d, pos, self, 0.2f, 1.0f, &o, ws);
    l_dcl = cr_infonce_loss_ex(NULL, NULL, q, k, n, m, d, pos, self, 0.2f, 1.0f, &od, ws);
    CHECKF(isfinite(l_self) && fabs(l_self - l_dcl) <= 1e-5 * fabs(l_dcl),
           "self at the positive: %.9g streamed, %.9g rows", l_self, l_dcl);
    free(ws);
}

/* A NaN key alone in the last tile (m = 257: tiles of 256 and 1) must reach the loss, as in
   the whole-row form, so that training stops on it instead of training on without it. */
TEST(infonce_nan_key_reaches_the_loss) {
    enum { N = 5, M = 257, D = 3 };
    float q[N * D], *k = (float *)malloc(sizeof(float) * M * D);
    float *ws = (float *)malloc(sizeof(float) * (size_t)cr_infonce_workspace(N, M, D));
    cr_rng r;
    cr_rng_seed(&r, 47);
    randn(q, N * D, &r, 1.0f);
    randn(k, M * D, &r, 1.0f);
    CHECK(isfinite(cr_infonce_loss(NULL, NULL, q, k, N, M, D, NULL, NULL, 0.5f, 1.0f, ws)));
    k[(M - 1) * D] = NAN;
    CHECK(isnan(cr_infonce_loss(NULL, NULL, q, k, N, M, D, NULL, NULL, 0.5f, 1.0f, ws)));
    free(k);
    free(ws);
}

/* The sequence models' streamed softmax against a double reference, on 3 tiles (the last
   partial) and 1 and 2 threads (the same bits): with small rows every logit is below the
   Cauchy-Schwarz bound of the largest norms, and the tiles exponentiate against it; with large
   ones (a bound above 43) against their own maxima. dC is added to, dX overwritten. */
TEST(softmax_streamed_against_double) {
    enum { N = 37, M = 600, D = 20 };
    float *x = (float *)malloc(sizeof(float) * N * D), *c = (float *)malloc(sizeof(float) * M * D);
    float *dx[2], *dc[2], *ws = (float *)malloc(sizeof(float) * (size_t)(cr__nce_floats(N, M, D) + 16));
    double *s = (double *)malloc(sizeof(double) * M), *gx = (double *)malloc(sizeof(double) * N * D),
           *gc = (double *)malloc(sizeof(double) * M * D);
    int32_t t[N];
    int sc, i, j, e, t0 = cr_get_num_threads();
    cr_rng r;
    cr_rng_seed(&r, 48);
    for (i = 0; i < 2; i++) {
        dx[i] = (float *)malloc(sizeof(float) * N * D);
        dc[i] = (float *)malloc(sizeof(float) * M * D);
    }
    for (i = 0; i < N; i++) t[i] = (int32_t)cr_rng_below(&r, M);
    for (sc = 0; sc < 2; sc++) {
        double ref = 0, l[2], worst = 0, top = 0;
        randn(x, N * D, &r, sc ? 3.0f : 0.3f);
        randn(c, M * D, &r, sc ? 3.0f : 0.3f);
        memset(gx, 0, sizeof(double) * N * D);
        memset(gc, 0, sizeof(double) * M * D);
        for (i = 0; i < N; i++) { /* loss 0.7 mean_i (lse_j s_ij - s_it); its gradient */
            double mx = -1e300, z = 0;
            for (j = 0; j < M; j++) {
                s[j] = 0;
                for (e = 0; e < D; e++) s[j] += (double)x[i * D + e] * c[j * D + e];
                mx = fmax(mx, s[j]);
            }
            for (j = 0; j < M; j++) z += exp(s[j] - mx);
            ref += 0.7 / N * (mx + log(z) - s[t[i]]);
            for (j = 0; j < M; j++) {
                double g = 0.7 / N * (exp(s[j] - mx) / z - (j == t[i]));
                for (e = 0; e < D; e++) gx[i * D + e] += g * c[j * D + e], gc[j * D + e] += g * x[i * D + e];
            }
        }
        for (i = 0; i < 2; i++) {
            int k;
            cr_set_num_threads(i + 1);
            for (k = 0; k < M * D; k++) dc[i][k] = 1.0f;
            l[i] = cr__softmax_streamed(dx[i], dc[i], x, c, N, M, D, t, 0.7f, ws);
        }
        cr_set_num_threads(t0);
        CHECKF(l[1] == l[0] && !memcmp(dx[0], dx[1], sizeof(float) * N * D) &&
                   !memcmp(dc[0], dc[1], sizeof(float) * M * D), "scale %d: 2 threads differ from 1", sc);
        CHECKF(fabs(l[0] - ref) <= 1e-5 * fabs(ref), "scale %d: loss %.9g, double %.9g", sc, l[0], ref);
        for (i = 0; i < N * D; i++) top = fmax(top, fabs(gx[i])), worst = fmax(worst, fabs(dx[0][i] - gx[i]));
        for (i = 0; i < M * D; i++) top = fmax(top, fabs(gc[i])), worst = fmax(worst, fabs(dc[0][i] - 1.0 - gc[i]));
        CHECKF(worst <= 1e-4 * top, "scale %d: gradients differ by %g (largest %g)", sc, worst, top);
    }
    for (i = 0; i < 2; i++) { free(dx[i]); free(dc[i]); }
    free(x); free(c); free(ws); free(s); free(gx); free(gc);
}

/* cr_infonce_workspace(n, m, d) serves any call with fewer queries: 2,048 queries against
   8,192 keys make exactly 2^24 logits, one block, while the 2,049 the workspace was sized for
   would be split into smaller blocks (NCL met this: a batch of 4,096 pairs has fewer distinct
   users than 4,096). Canaries after the workspace must survive. */
TEST(infonce_workspace_serves_fewer_queries) {
    enum { N = 2049, M = 8192, D = 2, CANARY = 64 };
    int64_t w = cr_infonce_workspace(N, M, D), i;
    float *q = (float *)malloc(sizeof(float) * N * D), *k = (float *)malloc(sizeof(float) * M * D);
    float *ws = (float *)malloc(sizeof(float) * (size_t)(w + CANARY));
    double l;
    int bad = 0;
    cr_rng r;
    cr_rng_seed(&r, 29);
    randn(q, N * D, &r, 1.0f);
    randn(k, M * D, &r, 1.0f);
    for (i = 0; i < CANARY; i++) ws[w + i] = 12345.0f;
    l = cr_infonce_loss(NULL, NULL, q, k, N - 1, M, D, NULL, NULL, 0.5f, 1.0f, ws);
    for (i = 0; i < CANARY; i++) bad += ws[w + i] != 12345.0f;
    CHECKF(!bad && l > 0 && l < 100, "workspace of %lld floats overrun (%d canaries changed), loss %g", (long long)w, bad, l);
    free(ws);
    /* and fewer keys too (in-batch contrast over a batch's distinct items): sized for 5,000 x
       5,000, called with 4,096 x 4,096 = 2^24 logits in one block */
    w = cr_infonce_workspace(5000, 5000, D);
    ws = (float *)malloc(sizeof(float) * (size_t)(w + CANARY));
    for (i = 0; i < CANARY; i++) ws[w + i] = 12345.0f;
    l = cr_infonce_loss(NULL, NULL, k, k, 4096, 4096, D, NULL, NULL, 0.5f, 1.0f, ws);
    for (i = 0; i < CANARY; i++) bad += ws[w + i] != 12345.0f;
    CHECKF(!bad && l > 0 && l < 100, "workspace of %lld floats overrun by an in-batch call (%d canaries changed), loss %g", (long long)w, bad, l);
    free(q); free(k); free(ws);
}

/* The robust form in double: mask, estimator, confidence. Its backward holds the ADNCE
   weights and the confidences constant, so the reference does too: fill = 1 computes them at
   the current point into wfix (n * m) and cfix (n), fill = 0 reuses them. */
typedef struct {
    int n, m, d, fill;
    const int32_t *pos, *self, *mc;
    const int64_t *mp;
    cr_infonce_opts o;
    double *wfix, *cfix;
} nce_ex_ctx;
static double nce_ex_f(double *x, void *c) {
    nce_ex_ctx *k = (nce_ex_ctx *)c;
    const double *Q = x, *K = x + k->n * k->d, tau = 0.3;
    double num = 0, den = 0;
    int i, j, q, n = k->n, m = k->m, d = k->d;
    for (i = 0; i < n; i++) {
        double qn = 0, cs[64] = {0}, P, G = 0, Graw = 0, wsum = 0, D, ci;
        int pi = k->pos[i], N = 0, neg[64];
        int64_t e;
        for (q = 0; q < d; q++) qn += Q[i * d + q] * Q[i * d + q];
        for (j = 0; j < m; j++) {
            double kn = 0, dot = 0;
            for (q = 0; q < d; q++) { kn += K[j * d + q] * K[j * d + q]; dot += Q[i * d + q] * K[j * d + q]; }
            cs[j] = dot / sqrt(qn * kn);
            neg[j] = j != pi && (!k->self || j != k->self[i]);
        }
        if (k->mp)
            for (e = k->mp[i]; e < k->mp[i + 1]; e++)
                if (k->mc[e] != pi) neg[k->mc[e]] = 0;
        for (j = 0; j < m; j++) N += neg[j];
        P = exp(cs[pi] / tau);
        if (k->fill)
            for (j = 0; j < m; j++) {
                double z = cs[j] - k->o.mu;
                k->wfix[i * m + j] = neg[j] && k->o.estimator == CR_NCE_ADNCE ? exp(-z * z / (2 * k->o.sigma * k->o.sigma)) : 1;
                if (neg[j]) wsum += k->wfix[i * m + j];
            }
        else
            for (j = 0; j < m; j++)
                if (neg[j]) wsum += k->wfix[i * m + j];
        for (j = 0; j < m; j++)
            if (neg[j]) Graw += exp(cs[j] / tau) * (k->o.estimator == CR_NCE_ADNCE ? k->wfix[i * m + j] * N / wsum : 1);
        G = Graw;
        if (k->o.estimator == CR_NCE_DCL && N > 0) {
            G = (Graw - k->o.tau_plus * N * P) / (1 - k->o.tau_plus);
            if (G < N * exp(-1 / tau)) G = N * exp(-1 / tau);
        }
        D = P + G;
        if (k->fill) k->cfix[i] = k->o.gamma > 0 ? pow(P / D, k->o.gamma) : 1;
        ci = k->cfix[i];
        num += ci * -log(P / D);
        den += ci;
    }
    return 0.7 * num / den;
}

/* Every robust variant against central differences of the double reference: a masked
   candidate, DCL (unclamped and clamped), ADNCE, confidence weights, with left-out entries. */
TEST(infonce_robust_gradcheck) {
    enum { N = 6, MX = 37, D = 5 }; /* m = 9, and 37: two 16-lane passes and a tail */
    float q[(N + MX) * D], g[(N + MX) * D],
        *ws = (float *)malloc(sizeof(float) * (size_t)cr_infonce_workspace(N, MX, D));
    double x[(N + MX) * D], ga[(N + MX) * D], gn[(N + MX) * D], wfix[N * MX], cfix[N], l;
    int32_t pos[N] = {3, 0, 8, 1, 4, 4}, self[N] = {0, 2, 1, 5, 6, 7}, mc[7] = {1, 2, 8, 0, 5, 7, 3};
    int64_t mp[N + 1] = {0, 2, 2, 4, 5, 5, 7}; /* row 2 lists its own positive: kept */
    static const struct robust_variant { int est; float tp, mu, sigma, gamma; int self, mask; } v[] = {
        {CR_NCE_PLAIN, 0, 0, 1, 0, 0, 1},      {CR_NCE_DCL, 0.1f, 0, 1, 0, 1, 1}, {CR_NCE_DCL, 0.95f, 0, 1, 0, 0, 0},
        {CR_NCE_ADNCE, 0, 0.4f, 0.6f, 0, 1, 1}, {CR_NCE_PLAIN, 0, 0, 1, 0.5f, 0, 1}, {CR_NCE_DCL, 0.05f, 0, 1, 0.3f, 1, 1},
        {CR_NCE_ADNCE, 0, 0.7f, 1.0f, 0.2f, 0, 0},
    };
    nce_ex_ctx k;
    cr_rng r;
    size_t t, nv = sizeof v / sizeof v[0];
    int i, M;
    cr_rng_seed(&r, 24);
    for (t = 0; t < 2 * nv; t++) {
        const struct robust_variant *w = &v[t % nv];
        M = t < nv ? 9 : MX;
        randn(q, (N + M) * D, &r, 1.0f);
        memset(g, 0, sizeof g);
        memset(&k, 0, sizeof k);
        k.n = N; k.m = M; k.d = D; k.pos = pos; k.self = w->self ? self : NULL;
        k.mp = w->mask ? mp : NULL; k.mc = mc; k.wfix = wfix; k.cfix = cfix;
        k.o.mask_ptr = k.mp; k.o.mask_col = mc; k.o.estimator = w->est; k.o.tau_plus = w->tp;
        k.o.mu = w->mu; k.o.sigma = w->sigma; k.o.gamma = w->gamma;
        l = cr_infonce_loss_ex(g, g + N * D, q, q + N * D, N, M, D, pos, k.self, 0.3f, 0.7f, &k.o, ws);
        for (i = 0; i < (N + M) * D; i++) { x[i] = q[i]; ga[i] = g[i]; }
        k.fill = 1;
        CHECKF(fabs(l - nce_ex_f(x, &k)) < 1e-5 * (1 + fabs(l)), "variant %d: loss %g, reference %g", (int)t, l, nce_ex_f(x, &k));
        k.fill = 0;
        numgrad(gn, x, (N + M) * D, nce_ex_f, &k);
        CHECKF(rel_err(ga, gn, (N + M) * D, 1e-6) < 1e-3, "variant %d rel err %g", (int)t, rel_err(ga, gn, (N + M) * D, 1e-6));
    }
    /* options at their neutral values: the plain kernel's numbers */
    {
        float h[(N + MX) * D];
        double l0;
        memset(&k.o, 0, sizeof k.o);
        k.o.sigma = 1;
        memset(g, 0, sizeof g);
        memset(h, 0, sizeof h);
        l = cr_infonce_loss_ex(g, g + N * D, q, q + N * D, N, M, D, pos, self, 0.3f, 0.7f, &k.o, ws);
        l0 = cr_infonce_loss(h, h + N * D, q, q + N * D, N, M, D, pos, self, 0.3f, 0.7f, ws);
        CHECK_NEAR(l, l0, 1e-6);
        for (i = 0; i < (N + M) * D; i++) CHECK_NEAR(g[i], h[i], 1e-6);
    }
    free(ws);
}

/* In blocks (beyond 2^24 logits) the confidences are summed over every row before any row's
   gradient is scaled: the blocked loss equals the one-block loss of the same rows computed by
   parts with their weights. */
TEST(infonce_robust_blocks) {
    enum { N = 300, M = 60000, D = 4 };
    float *q = (float *)malloc(sizeof(float) * N * D), *k = (float *)malloc(sizeof(float) * (size_t)M * D);
    float *gq = (float *)calloc(N * D, sizeof(float)), *gk = (float *)calloc((size_t)M * D, sizeof(float));
    float *hq = (float *)calloc(N * D, sizeof(float)), *hk = (float *)calloc((size_t)M * D, sizeof(float));
    float *ws = (float *)malloc(sizeof(float) * (size_t)cr_infonce_workspace(N, M, D));
    int32_t pos[N];
    cr_infonce_opts o;
    double l1, l2, worst = 0, top = 0;
    cr_rng r;
    int i;
    cr_rng_seed(&r, 29);
    randn(q, N * D, &r, 1.0f);
    randn(k, (int64_t)M * D, &r, 1.0f);
    for (i = 0; i < N; i++) pos[i] = (int32_t)cr_rng_below(&r, M);
    memset(&o, 0, sizeof o);
    o.sigma = 1;
    /* gamma 0: the plain kernel, blocked the same way */
    l1 = cr_infonce_loss_ex(gq, gk, q, k, N, M, D, pos, NULL, 0.3f, 0.7f, &o, ws);
    l2 = cr_infonce_loss(hq, hk, q, k, N, M, D, pos, NULL, 0.3f, 0.7f, ws);
    CHECK_NEAR(l1, l2, 1e-5 * fabs(l2));
    for (i = 0; i < N * D; i++) { top = fmax(top, fabs(hq[i])); worst = fmax(worst, fabs(gq[i] - hq[i])); }
    CHECKF(worst <= 1e-4 * top, "gradients differ by %g (largest %g)", worst, top);
    /* gamma > 0: sum c_i l_i / sum c_i with each row's c_i from a one-row call (one block each) */
    o.gamma = 0.5f;
    l1 = cr_infonce_loss_ex(NULL, NULL, q, k, N, M, D, pos, NULL, 0.3f, 1.0f, &o, ws);
    {
        double num = 0, den = 0;
        cr_infonce_opts p = o;
        for (i = 0; i < N; i++) {
            double li;
            p.gamma = 0;
            li = cr_infonce_loss_ex(NULL, NULL, q + i * D, k, 1, M, D, pos + i, NULL, 0.3f, 1.0f, &p, ws);
            num += exp(-0.5 * li) * li; /* c_i = p_i^gamma = exp(-gamma l_i) */
            den += exp(-0.5 * li);
        }
        l2 = num / den;
    }
    CHECK_NEAR(l1, l2, 1e-5 * fabs(l2));
    free(q); free(k); free(gq); free(gk); free(hq); free(hk); free(ws);
}

typedef struct { int B, C; const int32_t *t; } xent_ctx;
static double xent_f(double *x, void *c) {
    xent_ctx *k = (xent_ctx *)c;
    return ref_xent(x, k->t, k->B, k->C, 0.9);
}

TEST(softmax_xent_gradcheck) {
    enum { B = 5, C = 11 };
    float x[B * C], g[B * C];
    double xd[B * C], ga[B * C], gn[B * C], l;
    int32_t t[B] = {3, -1, 10, 0, 7};
    xent_ctx k = {B, C, t};
    cr_rng r;
    int i;
    cr_rng_seed(&r, 24);
    randn(x, B * C, &r, 2.0f);
    l = cr_softmax_xent_loss(g, x, t, B, C, 0.9f);
    for (i = 0; i < B * C; i++) { xd[i] = x[i]; ga[i] = g[i]; }
    CHECK_NEAR(l, xent_f(xd, &k), 1e-5);
    numgrad(gn, xd, B * C, xent_f, &k);
    CHECKF(rel_err(ga, gn, B * C, 1e-6) < 1e-3, "softmax CE rel err %g", rel_err(ga, gn, B * C, 1e-6));
    for (i = C; i < 2 * C; i++) CHECK(g[i] == 0.0f); /* the row without target */
    l = cr_softmax_xent_loss(x, x, t, B, C, 0.9f); /* in place */
    for (i = 0; i < B * C; i++) CHECK_NEAR(x[i], g[i], 1e-7);
}

TEST(l2_losses_gradcheck) {
    float x[12], g[12];
    double s = 0;
    int i;
    cr_rng r;
    cr_rng_seed(&r, 25);
    randn(x, 12, &r, 1.0f);
    for (i = 0; i < 12; i++) s += (double)x[i] * x[i];
    memset(g, 0, sizeof g);
    CHECK_NEAR(cr_l2_loss(g, x, 12, 0.3f, 4.0f), 0.5 * 0.3 * s / 4.0, 1e-6);
    for (i = 0; i < 12; i++) CHECK_NEAR(g[i], 0.3 * x[i] / 4.0, 1e-7);
    memset(g, 0, sizeof g);
    CHECK_NEAR(cr_l2_frobenius_loss(g, x, 3, 4, 0.3f), 0.3 * sqrt(s) / 3.0, 1e-6);
    for (i = 0; i < 12; i++) CHECK_NEAR(g[i], 0.3 * x[i] / sqrt(s) / 3.0, 1e-6);
}

/* A long span (a whole parameter table) sums in fixed parts: the plain sum within rounding,
   the gradient exact, and the same bits on 1 and 2 threads. */
TEST(l2_loss_long_span) {
    const int64_t n = ((int64_t)1 << 17) + 13;
    float *x = (float *)malloc(sizeof(float) * (size_t)n), *g1 = (float *)calloc((size_t)n, sizeof(float)),
          *g2 = (float *)calloc((size_t)n, sizeof(float));
    double ref = 0, l1, l2;
    int64_t i, bad = 0;
    int t0 = cr_get_num_threads();
    cr_rng r;
    cr_rng_seed(&r, 5);
    randn(x, n, &r, 1.0f);
    for (i = 0; i < n; i++) ref += (double)x[i] * x[i];
    ref *= 0.5 * (double)0.3f / 2.0;
    cr_set_num_threads(1);
    l1 = cr_l2_loss(g1, x, n, 0.3f, 2.0f);
    cr_set_num_threads(2);
    l2 = cr_l2_loss(g2, x, n, 0.3f, 2.0f);
    cr_set_num_threads(t0);
    CHECK_NEAR(l1, ref, 1e-12 * ref);
    CHECKF(l1 == l2, "1 thread %.17g, 2 threads %.17g", l1, l2);
    for (i = 0; i < n; i++) bad += g1[i] != 0.15f * x[i] || g2[i] != g1[i];
    CHECKF(bad == 0, "%lld gradient entries differ", (long long)bad);
    CHECK_NEAR(cr_l2_loss(NULL, x, n, 0.3f, 2.0f), l1, 0.0);
    free(x);
    free(g1);
    free(g2);
}

/* ---- propagation: the adjoint identity on a small graph ---- */

TEST(propagation_backward_is_the_adjoint) {
    enum { U = 7, I = 9, D = 4, K = 3 };
    int32_t us[20], it[20];
    cr_csr A, A2;
    const cr_csr *G[K];
    float E[(U + I) * D], dE[(U + I) * D], out[(U + I) * D], lay[(U + I) * D], dO[(U + I) * D], dL[(U + I) * D];
    float t0[(U + I) * D], t1[(U + I) * D];
    double lhs, rhs;
    int e, i, first, lk, trial;
    uint8_t keep[20];
    cr_rng r;
    cr_rng_seed(&r, 26);
    for (e = 0; e < 20; e++) { us[e] = e % U; it[e] = (e * 5 + e / U) % I; keep[e] = (uint8_t)(e % 3 != 0); }
    CHECK_OK(cr_graph_bipartite(&A, U, I, 20, us, it, NULL));
    CHECK_OK(cr_graph_normalize_sym(&A));
    CHECK_OK(cr_graph_bipartite(&A2, U, I, 20, us, it, keep));
    CHECK_OK(cr_graph_normalize_sym(&A2));
    for (trial = 0; trial < 4; trial++) {
        first = trial & 1;
        lk = trial >= 2 ? 2 : -1;
        G[0] = &A; G[1] = trial >= 2 ? &A2 : &A; G[2] = &A; /* per-layer graphs, as in SGL-RW */
        randn(E, (U + I) * D, &r, 1.0f);
        randn(dO, (U + I) * D, &r, 1.0f);
        randn(dL, (U + I) * D, &r, 1.0f);
        /* forward is linear in E (no noise here): J E = out (+ <dL, layer lk>) */
        {
            float *keep[K + 1] = {NULL, NULL, NULL, NULL};
            const float *dls[K + 1] = {NULL, NULL, NULL, NULL};
            if (lk >= 0) { keep[lk] = lay; dls[lk] = dL; }
            cr__prop_ws w;
            memset(&w, 0, sizeof w);
            w.t0 = t0;
            w.t1 = t1;
            cr__prop_forward(out, keep, G, K, E, U + I, D, first, 0.0f, 0, NULL, &w);
            memset(dE, 0, sizeof dE);
            cr__prop_backward(dE, G, K, dO, U + I, D, first, lk >= 0 ? dls : NULL, NULL, &w);
        }
        lhs = 0;
        rhs = 0;
        for (i = 0; i < (U + I) * D; i++) {
            lhs += (double)dO[i] * out[i] + (lk >= 0 ? (double)dL[i] * lay[i] : 0);
            rhs += (double)dE[i] * E[i];
        }
        CHECKF(fabs(lhs - rhs) <= 1e-5 * (fabs(lhs) + 1), "trial %d: <dOut, J E> = %.9g but <J^T dOut, E> = %.9g", trial, lhs, rhs);
    }
    cr_csr_free(&A);
    cr_csr_free(&A2);
}

/* The normalised graph of ds's training pairs (keep NULL: all; else the pairs keep marks). */
static cr_status norm_graph(cr_csr *A, const cr_dataset *ds, const uint8_t *keep) {
    cr_status st = cr_graph_bipartite(A, ds->n_users, ds->n_items, ds->train.n, ds->train.user, ds->train.item, keep);
    return st != CR_OK ? st : cr_graph_normalize_sym(A);
}

/* The encoder in the graph's locality order (P A P^T, rows through ord) gives the bits of the
   encoder in the loaded order: forward with noise, a perturbation and kept layers, backward with
   layer gradients and their copies, float32 and bfloat16 tables, the mean from layer 0 or 1, one
   layer or three, with and without the ego gradient, 1 and 2 threads. */
TEST(propagation_in_locality_order_is_bit_identical) {
    enum { K = 3, D = 37 };
    cr_dataset ds;
    cr_csr A, Ao;
    const cr_csr *Gn[K], *Go[K];
    int32_t *ord;
    uint8_t *seen;
    uint16_t *th;
    float *buf[2][4 + 3 * K], *src[2 + 2 * K];
    int64_t N, n, i;
    int v, k, t, half, bad = 0, t_was = cr_get_num_threads();
    cr_rng r;
    ds = crt_synth(300, 420, 6, 9, 8, 0, 0.1);
    CHECK(ds.n_users == 300);
    CHECK_OK(norm_graph(&A, &ds, NULL));
    N = A.nrows;
    n = N * D;
    ord = (int32_t *)malloc(sizeof(int32_t) * (size_t)N);
    seen = (uint8_t *)calloc((size_t)N, 1);
    th = (uint16_t *)malloc(sizeof(uint16_t) * (size_t)n);
    CHECK_OK(cr__graph_order(&A, ord));
    for (i = 0; i < N; i++) bad += ord[i] < 0 || ord[i] >= N || seen[ord[i]]++;
    CHECKF(bad == 0, "the order is not a permutation (%d faults)", bad);
    for (i = 0; i < N && ord[i] == i; i++) {}
    CHECKF(i < N, "the order is the loaded one (nothing to test)");
    CHECK_OK(cr__csr_permute(&Ao, &A, ord));
    for (k = 0; k < K; k++) { Gn[k] = &A; Go[k] = &Ao; }
    cr_rng_seed(&r, 77);
    for (k = 0; k < 2 + 2 * K; k++) { /* E0, dOut, delta[1..K], dL[1..K] */
        src[k] = (float *)malloc(sizeof(float) * (size_t)n);
        randn(src[k], n, &r, 1.0f);
    }
    for (v = 0; v < 2; v++) /* out, t0, t1, dE0, keep[1..K], gk[1..K], spare */
        for (k = 0; k < 4 + 3 * K; k++) buf[v][k] = (float *)calloc((size_t)n, sizeof(float));
    for (t = 1; t <= 2; t++)
        for (half = 0; half < 4; half++) { /* f32, bf16; then first = 0 with one layer, and no dE0 (RCL's pass) */
            const int first = half == 2 ? 0 : 1, Kc = half == 2 ? 1 : K;
            cr_set_num_threads(t);
            for (v = 0; v < 2; v++) {
                float **b = buf[v], *keep[K + 1], *gk[K + 1];
                const float *delta[K + 1], *dL[K + 1];
                keep[0] = gk[0] = NULL;
                delta[0] = dL[0] = NULL;
                for (k = 1; k <= K; k++) {
                    keep[k] = b[3 + k];
                    gk[k] = b[3 + K + k];
                    delta[k] = src[1 + k];
                    dL[k] = src[1 + K + k];
                }
                cr__prop_ws w;
                memset(&w, 0, sizeof w);
                w.t0 = b[1];
                w.t1 = b[2];
                w.th = half == 1 ? th : NULL;
                w.ord = v ? ord : NULL;
                memcpy(b[3], src[1], sizeof(float) * (size_t)n); /* dE0 accumulates */
                cr__prop_forward(b[0], keep, v ? Go : Gn, Kc, src[0], N, D, first, 0.1f, 99, delta, &w);
                cr__prop_backward(half == 3 ? NULL : b[3], v ? Go : Gn, Kc, src[1], N, D, first, dL, gk, &w);
            }
            for (k = 0; k < 4 + 2 * K; k++)
                if (k != 1 && k != 2)
                    CHECKF(memcmp(buf[0][k], buf[1][k], sizeof(float) * (size_t)n) == 0,
                           "%d threads, variant %d: output %d differs in the locality order", t, half, k);
        }
    cr_set_num_threads(t_was);
    for (v = 0; v < 2; v++)
        for (k = 0; k < 4 + 3 * K; k++) free(buf[v][k]);
    for (k = 0; k < 2 + 2 * K; k++) free(src[k]);
    free(ord);
    free(seen);
    free(th);
    cr_csr_free(&A);
    cr_csr_free(&Ao);
    cr_dataset_free(&ds);
}

/* The backward pass's first product over the live entries alone (those whose column's row of
   g_K is not zero), and its passes skipping dOut's zero rows, give the bits of the whole pass:
   a batch's gradient at a few rows, with and without a layer gradient at layer K, per-layer
   graphs (SGL-RW's), kept g_k copies, float32 and bfloat16, 1 and 2 threads (the locality
   order); at every row (above the capacity) the whole matrix serves. The forward at the
   marked nodes alone gives their rows of the mean and of a kept layer, with noise. */
TEST(propagation_backward_over_live_entries_is_bit_identical) {
    enum { K = 3, D = 19 };
    cr_dataset ds = crt_synth(300, 420, 6, 9, 8, 0, 0.1);
    cr_csr A, A2, T, Ao, A2o;
    const cr_csr *G[K];
    int32_t *ord;
    uint8_t *live, *keep, *dnz, *top;
    uint16_t *th;
    float *dOut, *dLK, *out[2][2 + K], *t0, *t1;
    int64_t N, n, i, e;
    int v, k, t, var, bad = 0, t_was = cr_get_num_threads();
    cr_rng r;
    keep = (uint8_t *)malloc((size_t)ds.train.n);
    for (e = 0; e < ds.train.n; e++) keep[e] = (uint8_t)(e % 5 != 0);
    CHECK_OK(norm_graph(&A, &ds, NULL));
    CHECK_OK(norm_graph(&A2, &ds, keep));
    N = A.nrows;
    n = N * D;
    ord = (int32_t *)malloc(sizeof(int32_t) * (size_t)N);
    top = (uint8_t *)calloc((size_t)N, 1);
    CHECK_OK(cr__graph_order(&A, ord));
    CHECK_OK(cr__csr_permute(&Ao, &A, ord));
    CHECK_OK(cr__csr_permute(&A2o, &A2, ord));
    live = (uint8_t *)malloc((size_t)N);
    dnz = (uint8_t *)malloc((size_t)N);
    th = (uint16_t *)malloc(sizeof(uint16_t) * (size_t)n);
    T.rowptr = (int64_t *)malloc(sizeof(int64_t) * (size_t)(N + 1));
    T.col = (int32_t *)malloc(sizeof(int32_t) * (size_t)(A.nnz + CR__LIVE_SPARE));
    T.val = (float *)malloc(sizeof(float) * (size_t)(A.nnz + CR__LIVE_SPARE));
    dOut = (float *)calloc((size_t)n, sizeof(float));
    dLK = (float *)calloc((size_t)n, sizeof(float));
    t0 = (float *)malloc(sizeof(float) * (size_t)n);
    t1 = (float *)malloc(sizeof(float) * (size_t)n);
    for (v = 0; v < 2; v++)
        for (k = 0; k < 2 + K; k++) out[v][k] = (float *)calloc((size_t)n, sizeof(float));
    cr_rng_seed(&r, 41);
    for (t = 1; t <= 2; t++)
        for (var = 0; var < 4; var++) { /* sparse dOut; + dL[K]; bf16 with SGL-RW's graphs; every row */
            const float *dL[K + 1] = {NULL, NULL, NULL, NULL};
            int64_t used = 0;
            cr_set_num_threads(t);
            memset(dOut, 0, sizeof(float) * (size_t)n);
            memset(dLK, 0, sizeof(float) * (size_t)n);
            for (i = 0; i < N; i++) {
                top[i] = (uint8_t)(var == 3 || cr_rng_below(&r, 20) == 0);
                if (top[i]) { randn(dOut + i * D, D, &r, 1.0f); used++; }
            }
            for (i = 0; var == 1 && i < 9; i++) randn(dLK + (int64_t)cr_rng_below(&r, (uint32_t)N) * D, D, &r, 1.0f);
            dL[K] = dLK;
            for (k = 0; k < K; k++) G[k] = var == 2 && k == K - 1 ? (t == 2 ? &A2o : &A2) : t == 2 ? &Ao : &A;
            for (v = 0; v < 2; v++) {
                float *gk[K + 1];
                cr__prop_ws w;
                memset(&w, 0, sizeof w);
                w.t0 = t0;
                w.t1 = t1;
                w.th = var == 2 ? th : NULL;
                w.ord = t == 2 ? ord : NULL; /* the locality order on two threads, as the models run */
                if (v) { w.live = live; w.live_g = &T; w.live_cap = A.nnz / 2; w.dnz = dnz; }
                gk[0] = NULL;
                for (k = 1; k <= K; k++) gk[k] = out[v][1 + k];
                memset(out[v][0], 0, sizeof(float) * (size_t)n);
                cr__prop_backward(out[v][0], G, K, dOut, N, D, 1, var == 1 ? dL : NULL, gk, &w);
            }
            for (k = 0; k < 2 + K; k++)
                if (k != 1)
                    CHECKF(memcmp(out[0][k], out[1][k], sizeof(float) * (size_t)n) == 0,
                           "%d threads, variant %d: output %d differs over the live entries", t, var, k);
            if (var < 3) { /* the live path ran: its matrix holds the live columns' entries, in order */
                int64_t want = 0;
                for (i = 0; i < N; i++) want += live[i] ? G[K - 1]->rowptr[i + 1] - G[K - 1]->rowptr[i] : 0;
                bad += T.nnz != want || want >= G[K - 1]->nnz / 2 || used == 0;
            }
            for (v = 0; v < 2; v++) { /* forward: the mean and a kept layer at the marked nodes, with noise */
                float *keepf[K + 1] = {NULL, NULL, NULL, NULL};
                cr__prop_ws w;
                memset(&w, 0, sizeof w);
                w.t0 = t0;
                w.t1 = t1;
                w.th = var == 2 ? th : NULL;
                w.ord = t == 2 ? ord : NULL;
                if (v) { w.live = live; w.live_g = &T; w.live_cap = A.nnz / 2; w.top = top; }
                keepf[1] = out[v][1];
                cr__prop_forward(out[v][0], keepf, G, K, dLK, N, D, var & 1, 0.1f, 7, NULL, &w);
            }
            for (i = 0; i < N; i++)
                if (top[i])
                    for (k = 0; k < 2; k++)
                        bad += memcmp(out[0][k] + i * D, out[1][k] + i * D, sizeof(float) * D) != 0;
        }
    CHECKF(bad == 0, "the live matrix was not the one built, or a read row differs (%d cases)", bad);
    cr_set_num_threads(t_was);
    for (v = 0; v < 2; v++)
        for (k = 0; k < 2 + K; k++) free(out[v][k]);
    free(keep); free(live); free(dnz); free(top); free(ord); free(th); free(dOut); free(dLK); free(t0); free(t1);
    free(T.rowptr); free(T.col); free(T.val);
    cr_csr_free(&A);
    cr_csr_free(&A2);
    cr_csr_free(&Ao);
    cr_csr_free(&A2o);
    cr_dataset_free(&ds);
}

/* The last layers over live entries alone (the forward's at the rows a batch reads, the
   backward's first product skipping the zero rows of its gradient) train the bits of the whole
   products: every graph model that takes them (and DNS, which reads other rows, unchanged;
   MixGCF, whose backward takes the rows its gradients reach), an
   epoch of batches small against the graph, 1 and 2 threads (the locality order), and the
   live products did run; and batches that read most of the graph (more live entries than the
   spare matrix holds: the whole products run, on a gradient formed at the batch's rows). */
TEST(last_layers_over_live_entries_train_the_same_bits) {
    static const struct { cr_model_kind kind; int aug, neg, layers, lstar, batch; } cases[] = {
        {CR_MODEL_LIGHTGCN, 0, 0, 3, 0, 64}, {CR_MODEL_SGL, 0, 0, 2, 0, 64},
        {CR_MODEL_SGL, CR_AUG_ND, 0, 2, 0, 64}, {CR_MODEL_SGL, CR_AUG_RW, 0, 3, 0, 64},
        {CR_MODEL_SIMGCL, 0, 0, 2, 0, 64}, {CR_MODEL_XSIMGCL, 0, 0, 3, 1, 64},
        {CR_MODEL_XSIMGCL, 0, 0, 2, 2, 64}, {CR_MODEL_LIGHTGCN, 0, CR_NEG_DNS, 2, 0, 64},
        {CR_MODEL_RCL, 0, 0, 2, 0, 64}, {CR_MODEL_NCL, 0, 0, 3, 0, 64},
        {CR_MODEL_LIGHTGCN, 0, 0, 3, 0, 1024}, {CR_MODEL_XSIMGCL, 0, 0, 2, 1, 1024},
        {CR_MODEL_LIGHTGCN, 0, CR_NEG_MIXGCF, 3, 0, 64}};
    int t0 = cr_get_num_threads(), t, off, e;
    size_t k;
    cr_synth_opts so;
    cr_dataset ds;
    memset(&so, 0, sizeof so);
    so.n_users = 600, so.n_items = 900, so.mean_len = 6, so.seed = 17;
    CHECK_OK(cr_dataset_synthetic(&ds, &so, 0, 0.1));
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (t = 1; t <= 2; t++) {
            double loss[2];
            uint64_t h[2];
            int64_t runs = cr__live_runs;
            for (off = 0; off < 2; off++) {
                cr_config c;
                cr_model *m = NULL;
                cr_epoch_stats st;
                const unsigned char *b;
                int64_t i, np;
                memset(&c, 0, sizeof c);
                c.model = cases[k].kind;
                c.dim = 16;
                c.aug = cases[k].aug;
                c.neg = cases[k].neg;
                c.layers = cases[k].layers;
                c.lstar = cases[k].lstar;
                c.batch = cases[k].batch;
                cr_set_num_threads(t);
                cr__live_off = off;
                CHECK_OK(cr_model_create(&m, &c, &ds));
                for (e = 1; e <= 1; e++) CHECK_OK(cr_train_epoch(m, e, &st, NULL, NULL));
                np = cr_model_num_params(m);
                b = (const unsigned char *)cr_model_params(m);
                for (h[off] = 0xcbf29ce484222325ULL, i = 0; i < np * 4; i++)
                    h[off] = (h[off] ^ b[i]) * 0x100000001b3ULL;
                loss[off] = st.loss;
                cr_model_free(m);
            }
            cr__live_off = 0;
            CHECKF(loss[0] == loss[1] && h[0] == h[1], "%s (case %d), %d threads: loss %a params %016llx over live "
                   "entries, %a %016llx over the whole products", cr_model_name(cases[k].kind), (int)k, t, loss[0],
                   (unsigned long long)h[0], loss[1], (unsigned long long)h[1]);
            CHECKF(cases[k].batch > 64 || cr__live_runs > runs,
                   "%s (case %d), %d threads: no product ran over live entries", cr_model_name(cases[k].kind), (int)k, t);
        }
    cr_set_num_threads(t0);
    cr_dataset_free(&ds);
}

/* ---- whole models: finite differences of the batch loss ---- */

static cr_dataset small_data(int seq) { return crt_synth(40, 60, 4, 7, 3, seq, 0.2); }

/* Checks d(loss)/d(param) for the 12 largest-gradient coordinates and 12 random ones among
   those whose gradient is at least `share` of the largest (smaller ones sit at the float32
   noise floor of the forward pass, ~1e-7 of the loss). h: the finite-difference step. */
static const char *gc_only; /* checks only this tensor's coordinates (a loss with stop-gradient targets) */
static double model_gradcheck(cr_config *c, int *checked, double h0, double share) {
    cr_dataset ds = small_data(cr_model_is_sequential(c->model));
    cr_model *m;
    int32_t us[12], ps[12], ns[12];
    int B = 12, i, j, nidx = 0;
    int64_t idx[30], np;
    double l0, ga[30] = {0}, gn[30] = {0}, worst; /* zeroed: gcc -O1 cannot see that nidx bounds their use */
    float *p, *g;
    if ((c->item_repr > CR_REPR_ID || c->attr_w > 0 || c->fm_w > 0) && crt_synth_features(&ds) != CR_OK) { printf("features: %s\n", cr_last_error()); return 1e9; }
    c->dim = 8;
    c->batch = 12;
    if (!c->layers && crt_reads(c->model, "layers")) c->layers = 2;
    if (cr_model_create(&m, c, &ds) != CR_OK) { printf("create: %s\n", cr_last_error()); return 1e9; }
    np = cr_model_num_params(m);
    p = cr_model_params(m);
    g = cr_model_grads(m);
    /* move off the initialisation so gradients are not tiny */
    {
        cr_rng r;
        cr_rng_seed(&r, 31);
        for (i = 0; i < np; i++) p[i] += 0.3f * cr_rng_normal(&r);
        if (!cr_model_is_sequential(c->model)) {
            /* graph models use the embedding table only; the padding row of sequence models stays 0 */
        } else
            for (j = 0; j < c->dim; j++) p[j] = 0;
        if (cr_model_config(m)->proj_head) { /* keep every ReLU of the head away from its kink: half of the units
                               always on, half always off, so the differences stay smooth */
            float *b1 = cr__tensor(m, "proj_b1");
            for (j = 0; j < c->dim; j++) b1[j] = j % 2 ? 8.0f : -8.0f;
        }
        if (cr__tensor(m, "fm_b1")) { /* feature masking's head, likewise */
            float *b1 = cr__tensor(m, "fm_b1");
            for (j = 0; j < c->dim; j++) b1[j] = j % 2 ? 8.0f : -8.0f;
        }
        if (c->model == CR_MODEL_RECDCL) { /* the projector's ReLUs after its batch norms, likewise */
            float *b1 = cr__tensor(m, "dcl_b1"), *b2 = cr__tensor(m, "dcl_b2");
            for (j = 0; j < c->dim; j++) { b1[j] = j % 2 ? 8.0f : -8.0f; b2[j] = j % 3 ? 8.0f : -8.0f; }
        }
        for (i = 0; i < B; i++) {
            us[i] = (int32_t)cr_rng_below(&r, (uint32_t)ds.n_users);
            ps[i] = ds.train.item[cr_rng_below(&r, (uint32_t)ds.train.n)];
            ns[i] = (int32_t)cr_rng_below(&r, (uint32_t)ds.n_items);
            if (!cr_model_is_sequential(c->model)) us[i] = ds.train.user[(int64_t)i * 7 % ds.train.n], ps[i] = ds.train.item[(int64_t)i * 7 % ds.train.n];
        }
        if (c->model == CR_MODEL_RCL && cr_model_config(m)->adv == CR_ADV_PREV) {
            /* a stored perturbation, as a previous batch leaves (after a first call has made
               the workspace that holds it) */
            int k;
            cr_model_batch_loss(m, us, ps, ns, B, 1, 0, 0, &l0);
            for (k = 1; k <= cr_model_config(m)->layers; k++)
                for (i = 0; i < m->n_nodes * c->dim; i++) cr__rcl_of(m)->adv_d[k][i] = 0.05f * cr_rng_normal(&r);
            cr__rcl_of(m)->adv_ready = 1;
        }
    }
    memset(g, 0, sizeof(float) * (size_t)np);
    if (cr_model_batch_loss(m, us, ps, ns, B, 1, 0, 1, &l0) != CR_OK) { printf("batch: %s\n", cr_last_error()); return 1e9; }
    /* coordinates: largest |g| and random non-zero ones */
    {
        float *a = (float *)malloc(sizeof(float) * (size_t)np);
        cr_rng r;
        int64_t lo = 0, hi = np;
        if (gc_only) { /* the other tensors' coordinates drop out of both draws */
            lo = cr__tensor(m, gc_only) - p;
            hi = lo + m->ifeat.ncols * c->dim;
        }
        for (i = 0; i < np; i++) a[i] = i >= lo && i < hi ? fabsf(g[i]) : -1.0f;
        for (j = 0; j < 12; j++) {
            int64_t best = 0;
            for (i = 1; i < np; i++)
                if (a[i] > a[best]) best = i;
            idx[nidx++] = best;
            a[best] = -1;
        }
        if (cr__tensor(m, "feat_emb")) { /* the feature table's 6 largest too: the bag's backward */
            int64_t off = cr__tensor(m, "feat_emb") - p, n = m->ifeat.ncols * c->dim;
            for (j = 0; j < 6; j++) {
                int64_t best = off;
                for (i = off; i < off + n; i++)
                    if (a[i] > a[best]) best = i;
                if (a[best] > 0) idx[nidx++] = best;
                a[best] = -1;
            }
        }
        cr_rng_seed(&r, 32);
        for (j = 0; j < 5000 && nidx < 30; j++) {
            int64_t k = lo + (int64_t)(cr_rng_next(&r) % (uint64_t)(hi - lo));
            if (fabsf(g[k]) >= share * fabsf(g[idx[0]])) idx[nidx++] = k;
        }
        free(a);
    }
    for (j = 0; j < nidx; j++) ga[j] = g[idx[j]];
    for (j = 0; j < nidx; j++) {
        /* Richardson: (4 D(h/2) - D(h)) / 3 cancels the h^2 term of the central difference */
        float keep = p[idx[j]];
        double h = h0, d1, d2, lp = 0, lm = 0;
        p[idx[j]] = (float)(keep + h); cr_model_batch_loss(m, us, ps, ns, B, 1, 0, 0, &lp);
        p[idx[j]] = (float)(keep - h); cr_model_batch_loss(m, us, ps, ns, B, 1, 0, 0, &lm);
        d1 = (lp - lm) / ((double)(float)(keep + h) - (double)(float)(keep - h));
        p[idx[j]] = (float)(keep + h / 2); cr_model_batch_loss(m, us, ps, ns, B, 1, 0, 0, &lp);
        p[idx[j]] = (float)(keep - h / 2); cr_model_batch_loss(m, us, ps, ns, B, 1, 0, 0, &lm);
        d2 = (lp - lm) / ((double)(float)(keep + h / 2) - (double)(float)(keep - h / 2));
        p[idx[j]] = keep;
        gn[j] = (4 * d2 - d1) / 3;
    }
    worst = rel_err(ga, gn, nidx, 1e-30);
    if (worst >= 1e-3)
        for (j = 0; j < nidx; j++) printf("\n      coord %lld: analytic %.7g numeric %.7g", (long long)idx[j], ga[j], gn[j]);
    *checked = nidx;
    printf("(max rel err %.1e) ", worst);
    cr_model_free(m);
    cr_dataset_free(&ds);
    return worst;
}

#define MODEL_CHECK(fn, kind, extra) MODEL_CHECK_H(fn, kind, 5e-2, extra)
#define MODEL_CHECK_H(fn, kind, h, extra) MODEL_CHECK_HS(fn, kind, h, 1e-2, extra)
#define MODEL_CHECK_HS(fn, kind, h, share, extra)                                                  \
    TEST(fn) {                                                                                     \
        cr_config c;                                                                               \
        double w;                                                                                  \
        int n = 0;                                                                                 \
        memset(&c, 0, sizeof c);                                                                   \
        c.model = kind;                                                                            \
        extra;                                                                                     \
        w = model_gradcheck(&c, &n, h, share);                                                     \
        gc_only = NULL;                                                                            \
        CHECKF(n >= 12 && w < 1e-3, "%d coordinates, max relative error %g", n, w);             \
    }

MODEL_CHECK(grad_mf, CR_MODEL_MF, (void)0)
MODEL_CHECK(grad_mf_selfrec_l2, CR_MODEL_MF, c.l2_selfrec = 1; c.reg = 0.05f)
MODEL_CHECK(grad_lightgcn, CR_MODEL_LIGHTGCN, c.reg = 0.05f)
MODEL_CHECK(grad_lightgcn_selfrec_l2, CR_MODEL_LIGHTGCN, c.l2_selfrec = 1; c.reg = 0.05f)
MODEL_CHECK(grad_sgl_ed, CR_MODEL_SGL, c.aug = CR_AUG_ED; c.drop = 0.3f; c.lambda = 0.5f)
MODEL_CHECK(grad_sgl_nd, CR_MODEL_SGL, c.aug = CR_AUG_ND; c.drop = 0.3f; c.lambda = 0.5f)
MODEL_CHECK(grad_sgl_rw_selfrec_l2, CR_MODEL_SGL, c.aug = CR_AUG_RW; c.drop = 0.3f; c.lambda = 0.5f; c.l2_selfrec = 1; c.reg = 0.05f)
/* SimGCL's noise is eps * sign(E) (.) u: piecewise constant in E, so a finite difference that
   makes an entry of E change sign jumps by ~eps. The backward treats the noise as the constant
   it is; these checks use a tiny eps so jumps stay below the tolerance while the noisy forward
   path still runs. */
MODEL_CHECK(grad_simgcl, CR_MODEL_SIMGCL, c.lambda = 0.5f; c.layers = 3; c.eps = 1e-5f)
MODEL_CHECK(grad_simgcl_selfrec_l2, CR_MODEL_SIMGCL, c.l2_selfrec = 1; c.reg = 0.05f; c.eps = 1e-5f)
MODEL_CHECK(grad_xsimgcl, CR_MODEL_XSIMGCL, c.lambda = 0.5f; c.layers = 3; c.lstar = 2; c.eps = 1e-5f)
MODEL_CHECK(grad_xsimgcl_lstar_top, CR_MODEL_XSIMGCL, c.lambda = 0.5f; c.lstar = 2; c.eps = 1e-5f)
/* sampled neighbourhoods: for a fixed batch the draw is fixed, and the loss linear in it */
MODEL_CHECK(grad_lightgcn_fanout, CR_MODEL_LIGHTGCN, c.reg = 0.05f; c.layers = 3; c.fanout = 2)
MODEL_CHECK(grad_simgcl_fanout, CR_MODEL_SIMGCL, c.lambda = 0.5f; c.eps = 1e-5f; c.fanout = 3)
MODEL_CHECK(grad_xsimgcl_fanout, CR_MODEL_XSIMGCL,
            c.lambda = 0.5f; c.layers = 3; c.lstar = 2; c.eps = 1e-5f; c.fanout = 2)
MODEL_CHECK(grad_xsimgcl_fanout_lstar_top, CR_MODEL_XSIMGCL, c.lambda = 0.5f; c.lstar = 2; c.eps = 1e-5f; c.fanout = 3)
MODEL_CHECK(grad_gru4rec, CR_MODEL_GRU4REC, c.max_len = 6; c.dropout = CR_OFF)
MODEL_CHECK(grad_gru4rec_dropout_2layers, CR_MODEL_GRU4REC, c.max_len = 6; c.gru_layers = 2; c.dropout = 0.3f)
MODEL_CHECK(grad_gru4rec_hidden_proj_sampled, CR_MODEL_GRU4REC, c.max_len = 5; c.hidden = 5; c.neg_samples = 10; c.dropout = CR_OFF)
MODEL_CHECK(grad_cl4srec, CR_MODEL_CL4SREC, c.max_len = 6; c.lambda = 0.5f; c.dropout = CR_OFF; c.proj_head = -1)
MODEL_CHECK(grad_cl4srec_proj_head_all_augs, CR_MODEL_CL4SREC, c.max_len = 6; c.lambda = 0.5f; c.proj_head = 1; c.seq_aug = 31; c.aug_rate = 0.4f)

/* Graph models with the options of the second half: projection heads, mixed negatives,
   hard negatives (DNS, MixGCF: the argmax picks are constants of the derivative; the step is
   small so no pick changes), NCL's two terms. The head checks run at tau 1: at the models'
   tau 0.15-0.2 the float32 forward pass of a head + InfoNCE is noisy at ~3e-7 of the loss,
   which central differences turn into ~1e-3 relative errors on the small coordinates (the
   same head passes its own double-precision check below). */
/* RecDCL: every term at once (UIBT, UUII, BCL, weight decay). BCL's target mixes in the
   current embedding under a stop-gradient, which a finite difference of the same loss would
   differentiate: the check takes momentum 1 (the target is the stored embedding alone).
   Three batch norms over 12 rows make the float32 loss noisy at ~2e-5 of the gradient scale
   after differencing, so the random coordinates are drawn among those at least 5% of the
   largest (at 1% the smallest sit at that floor, ~1e-3 relative). */
MODEL_CHECK_HS(grad_recdcl, CR_MODEL_RECDCL, 5e-2, 5e-2, c.reg = 0.05f; c.momentum = 1.0f)
/* RCL: each part. ADNCE's weights and the confidence weights are constants of the backward
   pass but not of the loss, so a finite difference of the model's loss cannot check them:
   grad/infonce_robust and grad/bpr_confidence check them with the constants held. Here: the false-negative mask with
   DCL's estimator, and the perturbations, which are constants of the backward pass: XSimGCL's
   random noise and a stored previous-batch perturbation are constants of the loss too; the
   exact adversarial one depends on the parameters through a gradient's direction, so its
   check takes a tiny eps (the direction itself: rcl_adversarial_direction). DCL runs at tau 1,
   where no row's estimate sits near its clamp (a kink the differences would straddle; the
   clamped form is checked in grad/infonce_robust). */
MODEL_CHECK(grad_rcl_mask_dcl, CR_MODEL_RCL, c.lambda = 0.5f; c.eps = 1e-5f; c.adv = -1; c.nce_est = CR_NCE_DCL; c.tau = 1.0f)
MODEL_CHECK(grad_rcl_mask_plain, CR_MODEL_RCL, c.lambda = 0.5f; c.eps = 1e-5f; c.adv = -1)
MODEL_CHECK(grad_rcl_adv_prev, CR_MODEL_RCL, c.lambda = 0.5f; c.adv = CR_ADV_PREV; c.layers = 3; c.lstar = 2)
MODEL_CHECK(grad_rcl_adv_exact, CR_MODEL_RCL, c.lambda = 0.5f; c.eps = 1e-6f; c.adv = CR_ADV_EXACT)
/* and each term alone: UIBT through the projector, UUII, BCL through the predictor */
MODEL_CHECK_HS(grad_recdcl_uibt, CR_MODEL_RECDCL, 5e-2, 5e-2, c.poly_w = CR_OFF; c.bcl_w = CR_OFF; c.reg = CR_OFF)
MODEL_CHECK_HS(grad_recdcl_uuii, CR_MODEL_RECDCL, 5e-2, 5e-2, c.lambda = CR_OFF; c.bcl_w = CR_OFF; c.reg = CR_OFF)
MODEL_CHECK_HS(grad_recdcl_bcl, CR_MODEL_RECDCL, 5e-2, 5e-2, c.lambda = CR_OFF; c.poly_w = CR_OFF; c.reg = CR_OFF; c.momentum = 1.0f)
MODEL_CHECK(grad_sgl_proj_head, CR_MODEL_SGL, c.drop = 0.3f; c.lambda = 0.5f; c.proj_head = 1; c.tau = 1.0f)
/* Central differences of a float loss jitter by its rounding over the step (a change of the
   softmax's stabiliser moved the numeric side by up to 1e-3 of a coordinate while the analytic
   side kept 7 digits), so these two step wider, tolerance and coordinates unchanged: the first
   1.5e-1, not 5e-2 (9.9e-4 before the change and 1.2e-3 after at 5e-2; 6.7e-4 and 3.9e-4 at
   1.5e-1; its head's units sit 8 from their kinks); MixGCF's 2e-2, not 1e-2 (8e-4 and 1.2e-3 at
   1e-2; below 4e-4 both at 2e-2). */
MODEL_CHECK_HS(grad_xsimgcl_proj_head_cl_negatives, CR_MODEL_XSIMGCL, 1.5e-1, 1e-2,
               c.lambda = 0.5f; c.lstar = 2; c.eps = 1e-5f; c.proj_head = 1; c.cl_negatives = 7; c.tau = 1.0f)
MODEL_CHECK(grad_simgcl_cl_negatives, CR_MODEL_SIMGCL, c.lambda = 0.5f; c.eps = 1e-5f; c.cl_negatives = 9)
MODEL_CHECK(grad_sgl_mixed_views, CR_MODEL_SGL, c.drop = 0.3f; c.lambda = 0.5f; c.aug = CR_AUG_MIXED)
MODEL_CHECK(grad_sgl_subgraph_views, CR_MODEL_SGL, c.drop = 0.3f; c.lambda = 0.5f; c.aug = CR_AUG_SUBGRAPH; c.rw_len = 4)
MODEL_CHECK_H(grad_lightgcn_dns, CR_MODEL_LIGHTGCN, 1e-2, c.reg = 0.05f; c.neg = CR_NEG_DNS; c.neg_candidates = 6)
MODEL_CHECK_H(grad_lightgcn_mixgcf, CR_MODEL_LIGHTGCN, 1e-2, c.reg = 0.05f; c.layers = 3; c.neg = CR_NEG_MIXGCF; c.neg_candidates = 6)
MODEL_CHECK_H(grad_mf_mixgcf, CR_MODEL_MF, 1e-2, c.reg = 0.05f; c.neg = CR_NEG_MIXGCF; c.neg_candidates = 6)
MODEL_CHECK_HS(grad_xsimgcl_mixgcf, CR_MODEL_XSIMGCL, 2e-2, 1e-2,
               c.lambda = 0.5f; c.lstar = 1; c.eps = 1e-5f; c.neg = CR_NEG_MIXGCF; c.neg_candidates = 5)
/* item features: the embedding bag into the ego table, alone or beside the ID rows; the
   attribute-ID contrast with and without the bag */
MODEL_CHECK(grad_lightgcn_id_features, CR_MODEL_LIGHTGCN, c.reg = 0.05f; c.item_repr = CR_REPR_ID_FEATURES)
MODEL_CHECK(grad_mf_features_only, CR_MODEL_MF, c.reg = 0.05f; c.item_repr = CR_REPR_FEATURES)
/* the attribute-ID contrast's target (the items' encoder rows) is a stop-gradient: with ID-only
   items the feature table is what it trains, checked alone (the other tensors' differences
   would include the target's own change) */
MODEL_CHECK(grad_lightgcn_attr_contrast, CR_MODEL_LIGHTGCN, c.attr_w = 0.5f; c.attr_tau = 0.5f; gc_only = "feat_emb")
MODEL_CHECK(grad_xsimgcl_attr_contrast, CR_MODEL_XSIMGCL, c.lambda = 0.5f; c.eps = 1e-5f; c.attr_w = 0.5f; c.attr_tau = 0.5f; gc_only = "feat_emb")
MODEL_CHECK(grad_lightgcn_fmask_random, CR_MODEL_LIGHTGCN, c.item_repr = CR_REPR_ID_FEATURES; c.fm_w = 0.5f; c.tau = 0.5f)
MODEL_CHECK(grad_xsimgcl_fmask_correlated, CR_MODEL_XSIMGCL, c.lambda = 0.5f; c.eps = 1e-5f; c.item_repr = CR_REPR_FEATURES; c.fm_w = 0.5f; c.fm_corr = 1; c.tau = 0.5f)
/* the sequence models' item table through the same bag (input and tied output rows), and
   feature masking over a batch's last targets */
MODEL_CHECK(grad_gru4rec_id_features, CR_MODEL_GRU4REC, c.max_len = 6; c.dropout = CR_OFF; c.reg = 0.05f; c.item_repr = CR_REPR_ID_FEATURES)
MODEL_CHECK(grad_gru4rec_features_fmask, CR_MODEL_GRU4REC, c.max_len = 6; c.dropout = CR_OFF; c.item_repr = CR_REPR_FEATURES; c.fm_w = 0.5f; c.tau = 0.5f)
MODEL_CHECK(grad_cl4srec_fmask_correlated, CR_MODEL_CL4SREC, c.max_len = 6; c.lambda = 0.5f; c.dropout = CR_OFF; c.proj_head = -1; c.item_repr = CR_REPR_ID_FEATURES;
            c.fm_w = 0.5f; c.fm_corr = 1; c.tau = 0.5f)
MODEL_CHECK_HS(grad_recdcl_features, CR_MODEL_RECDCL, 5e-2, 5e-2, c.reg = 0.05f; c.momentum = 1.0f; c.item_repr = CR_REPR_FEATURES)
MODEL_CHECK(grad_ncl_structure, CR_MODEL_NCL, c.lambda = 0.05f; c.proto_reg = CR_OFF; c.batch = 12)
/* NCL with RecBole's L2 (the norms of the ego rows, not squared) */
MODEL_CHECK(grad_ncl_recbole_l2, CR_MODEL_NCL, c.lambda = 0.05f; c.proto_reg = CR_OFF; c.batch = 12; c.l2_recbole = 1; c.reg = 0.05f)
MODEL_CHECK(grad_ncl_structure_and_prototypes, CR_MODEL_NCL, c.lambda = 0.05f; c.proto_reg = 0.05f; c.clusters = 3; c.warmup = -1; c.ssl_alpha = 2.0f)

/* RCL's exact adversarial perturbation is eps g/|g| per row and layer, g the contrastive loss's
   gradient at that layer's output, so to first order it raises the contrastive loss by eps
   times the sum of the rows' |g|. g is read from the previous-batch variant's buffer after its
   first (clean) pass on the same batch and parameters; the slope is Richardson-extrapolated
   from eps and eps/2. */
static double rcl_part(cr_model *m, const int32_t *us, const int32_t *ps, const int32_t *ns, int B, int want_grad) {
    cr__batch b;
    double part[3] = {0, 0, 0};
    memset(&b, 0, sizeof b);
    b.users = us; b.pos = ps; b.cand = ns; b.n_cand = 1; b.n = B; b.epoch = 1; b.seed = 7;
    if (cr__train_ws(m) != CR_OK || m->ops->loss(m, &b, want_grad, part) != CR_OK) return 1e9;
    return part[1];
}

TEST(rcl_adversarial_direction) {
    cr_dataset ds = small_data(0);
    cr_config c;
    cr_model *p = NULL, *x = NULL;
    int32_t us[12], ps[12], ns[12];
    int B = 12, i, k, j;
    double l0, s = 0, d1, d2, slope;
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_RCL;
    c.dim = 8; c.batch = 12; c.lambda = 1.0f; c.eps = 1e-3f; c.adv = CR_ADV_PREV;
    CHECK_OK(cr_model_create(&p, &c, &ds));
    c.adv = CR_ADV_EXACT;
    CHECK_OK(cr_model_create(&x, &c, &ds));
    cr_model_set_params(x, cr_model_params(p));
    for (i = 0; i < B; i++) {
        us[i] = ds.train.user[(int64_t)i * 7 % ds.train.n];
        ps[i] = ds.train.item[(int64_t)i * 7 % ds.train.n];
        ns[i] = (i * 5 + 1) % ds.n_items;
    }
    l0 = rcl_part(p, us, ps, ns, B, 1); /* clean: no previous gradient yet */
    for (k = 1; k <= cr_model_config(p)->layers; k++)
        for (i = 0; i < p->n_nodes; i++) {
            double r = 0;
            for (j = 0; j < c.dim; j++) r += (double)cr__rcl_of(p)->adv_g[k][i * c.dim + j] * cr__rcl_of(p)->adv_g[k][i * c.dim + j];
            s += sqrt(r);
        }
    d1 = (rcl_part(x, us, ps, ns, B, 0) - l0) / 1e-3;
    x->cfg.eps = 5e-4f;
    d2 = (rcl_part(x, us, ps, ns, B, 0) - l0) / 5e-4;
    slope = 2 * d2 - d1;
    CHECKF(s > 0 && fabs(slope - s) < 2e-2 * s, "loss slope along the perturbation %g, sum of gradient norms %g", slope, s);
    printf("(slope %.4g, |g| sum %.4g) ", slope, s);
    cr_model_free(p);
    cr_model_free(x);
    cr_dataset_free(&ds);
}

/* RCL's adversarial views perturb the contrast only: with either variant, BPR and L2 are those
   of a clean pass (RCL without noise), while the contrast moves. */
static void rcl_parts(cr_model *m, const int32_t *us, const int32_t *ps, const int32_t *ns, int B, double part[3]) {
    cr__batch b;
    memset(&b, 0, sizeof b);
    part[0] = part[1] = part[2] = 0;
    b.users = us; b.pos = ps; b.cand = ns; b.n_cand = 1; b.n = B; b.epoch = 1; b.seed = 7;
    if (cr__train_ws(m) != CR_OK || m->ops->loss(m, &b, 1, part) != CR_OK) part[0] = 1e9;
}

TEST(rcl_adversarial_views_leave_bpr_clean) {
    cr_dataset ds = small_data(0);
    cr_config c;
    cr_model *m[3];
    int32_t us[12], ps[12], ns[12];
    double part[3][3];
    int B = 12, i, k, v;
    cr_rng r;
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_RCL;
    c.dim = 8; c.batch = 12; c.lambda = 0.5f; c.reg = 0.05f; c.adv = -1; c.eps = CR_OFF; /* m[0]: no noise at all */
    CHECK_OK(cr_model_create(&m[0], &c, &ds));
    c.eps = 0.2f;
    c.adv = CR_ADV_EXACT;
    CHECK_OK(cr_model_create(&m[1], &c, &ds));
    c.adv = CR_ADV_PREV;
    CHECK_OK(cr_model_create(&m[2], &c, &ds));
    for (v = 1; v < 3; v++) cr_model_set_params(m[v], cr_model_params(m[0]));
    for (i = 0; i < B; i++) {
        us[i] = ds.train.user[(int64_t)i * 7 % ds.train.n];
        ps[i] = ds.train.item[(int64_t)i * 7 % ds.train.n];
        ns[i] = (i * 5 + 1) % ds.n_items;
    }
    CHECK_OK(cr__train_ws(m[2]));
    cr_rng_seed(&r, 5);
    for (k = 1; k <= cr_model_config(m[2])->layers; k++) /* a stored previous-batch perturbation */
        for (i = 0; i < m[2]->n_nodes * c.dim; i++) cr__rcl_of(m[2])->adv_d[k][i] = 0.2f * cr_rng_normal(&r);
    cr__rcl_of(m[2])->adv_ready = 1;
    for (v = 0; v < 3; v++) rcl_parts(m[v], us, ps, ns, B, part[v]);
    for (v = 1; v < 3; v++) {
        CHECKF(part[v][0] == part[0][0] && part[v][2] == part[0][2], "adv %d: BPR %.9g L2 %.9g, clean %.9g %.9g", v,
               part[v][0], part[v][2], part[0][0], part[0][2]);
        CHECKF(fabs(part[v][1] - part[0][1]) > 1e-4, "adv %d: contrast %.9g, clean %.9g", v, part[v][1], part[0][1]);
    }
    for (v = 0; v < 3; v++) cr_model_free(m[v]);
    cr_dataset_free(&ds);
}

/* The encoder on a batch's subgraph (RecDCL's) gives the rows of S and the ego gradient bit for
   bit as the whole-graph propagation does, at 1 and 3 layers. */
TEST(subgraph_propagation_equals_the_whole_graph) {
    int layers;
    for (layers = 1; layers <= 3; layers += 2) {
        cr_dataset ds = small_data(0);
        cr_config c;
        cr_model *m = NULL;
        cr_rng r;
        int32_t S[7] = {3, 0, 11, 40, 41, 77, 5};
        int d = 8, i, j, nS = 7;
        int64_t N, n;
        float *out, *dout, *ga, *t0, *t1;
        const cr_csr *G[CR__MAX_LAYERS];
        cr__prop_ws w;
        memset(&c, 0, sizeof c);
        c.model = CR_MODEL_RECDCL;
        c.dim = d;
        c.batch = 12;
        c.layers = layers;
        CHECK_OK(cr_model_create(&m, &c, &ds));
        CHECK_OK(cr__train_ws(m));
        N = m->n_nodes;
        n = N * d;
        S[3] = (int32_t)(m->n_users + 2); /* items too */
        S[4] = (int32_t)(N - 1);
        out = (float *)malloc(sizeof(float) * (size_t)n);
        dout = (float *)calloc((size_t)n, sizeof(float));
        ga = (float *)calloc((size_t)n, sizeof(float));
        t0 = (float *)malloc(sizeof(float) * (size_t)n);
        t1 = (float *)malloc(sizeof(float) * (size_t)n);
        for (i = 0; i < CR__MAX_LAYERS; i++) G[i] = &m->g.adj;
        cr_rng_seed(&r, 41);
        for (i = 0; i < n; i++) m->param[i] += 0.3f * cr_rng_normal(&r);
        memset(&w, 0, sizeof w);
        w.t0 = t0;
        w.t1 = t1;
        cr__prop_forward(out, NULL, G, layers, m->param, N, d, 0, 0.0f, 0, NULL, &w);
        for (i = 0; i < nS; i++) m->g.sub_nodes[i] = S[i];
        cr__sub_build(m, m->g.sub_nodes, nS);
        cr__sub_forward(m, 0.0f, 0, 0, NULL);
        for (i = 0; i < nS; i++)
            CHECKF(memcmp(m->g.sub_out + i * d, out + (int64_t)S[i] * d, sizeof(float) * (size_t)d) == 0, "%d layers: row %d differs", layers, S[i]);
        for (i = 0; i < nS; i++)
            for (j = 0; j < d; j++) dout[(int64_t)S[i] * d + j] = m->g.sub_dout[i * d + j] = cr_rng_normal(&r);
        cr__prop_backward(ga, G, layers, dout, N, d, 0, NULL, NULL, &w);
        memset(m->grad, 0, sizeof(float) * (size_t)n);
        cr__sub_backward(m, 0, NULL);
        for (i = 0; i < n; i++)
            if (m->grad[i] != ga[i]) break;
        CHECKF(i == n, "%d layers: ego gradient %lld differs (%g, whole graph %g)", layers, (long long)i, i < n ? m->grad[i] : 0, i < n ? ga[i] : 0);
        CHECK(m->g.sub_n[0] < N); /* the check covers a real subgraph */
        free(out); free(dout); free(ga); free(t0); free(t1);
        cr_model_free(m);
        cr_dataset_free(&ds);
    }
}

/* Sampled neighbourhoods (fanout): a fan-out at least the largest degree keeps every entry, so
   the batch's loss is the whole graph's bit for bit (the forward pass sums each row in the same
   order) and the gradient within float rounding of it (the backward pass sums the transposed
   entries in another order). */
TEST(sampled_batches_with_every_neighbour_are_the_whole_graph) {
    static const cr_model_kind kinds[3] = {CR_MODEL_LIGHTGCN, CR_MODEL_SIMGCL, CR_MODEL_XSIMGCL};
    int k;
    for (k = 0; k < 3; k++) {
        cr_dataset ds = small_data(0);
        cr_config c;
        cr_model *m[2];
        int32_t us[12], ps[12], ns[12];
        double l[2], big = 0, diff = 0;
        int v, i;
        int64_t np;
        for (i = 0; i < 12; i++) {
            us[i] = ds.train.user[(int64_t)i * 7 % ds.train.n];
            ps[i] = ds.train.item[(int64_t)i * 7 % ds.train.n];
            ns[i] = (int32_t)((i * 13) % ds.n_items);
        }
        for (v = 0; v < 2; v++) {
            memset(&c, 0, sizeof c);
            c.model = kinds[k];
            c.dim = 8;
            c.batch = 12;
            c.layers = 3;
            c.fanout = v ? 1 << 20 : 0;
            if (kinds[k] != CR_MODEL_LIGHTGCN) c.lambda = 0.5f;
            if (kinds[k] == CR_MODEL_XSIMGCL) c.lstar = 2;
            CHECK_OK(cr_model_create(&m[v], &c, &ds));
            memset(cr_model_grads(m[v]), 0, sizeof(float) * (size_t)cr_model_num_params(m[v]));
            CHECK_OK(cr_model_batch_loss(m[v], us, ps, ns, 12, 1, 0, 1, &l[v]));
        }
        np = cr_model_num_params(m[0]);
        for (i = 0; i < np; i++) {
            double a = cr_model_grads(m[0])[i], b = cr_model_grads(m[1])[i];
            big = fabs(a) > big ? fabs(a) : big;
            diff = fabs(a - b) > diff ? fabs(a - b) : diff;
        }
        CHECKF(l[0] == l[1], "%s: loss %.17g, whole graph %.17g", cr_model_name(kinds[k]), l[1], l[0]);
        CHECKF(big > 0 && diff <= 1e-5 * big, "%s: gradients differ by %g of %g", cr_model_name(kinds[k]), diff, big);
        cr_model_free(m[0]);
        cr_model_free(m[1]);
        cr_dataset_free(&ds);
    }
}

/* A sampled row is an unbiased estimate of the whole row: at one layer, the mean over 4,000
   batch seeds of the rows of S comes within 3% of the whole graph's rows (the standard error
   of the mean is about 1%), while a single draw does not. */
TEST(sampled_rows_average_to_the_whole_graph) {
    cr_dataset ds = small_data(0);
    cr_config c;
    cr_model *m = NULL;
    int32_t S[6] = {3, 0, 11, 0, 0, 5};
    int d = 8, i, j, nS = 6, t, T = 4000;
    int64_t N;
    double *mean, err = 0, err1 = 0, scale = 0;
    float *out, *t0, *t1;
    const cr_csr *G[CR__MAX_LAYERS];
    cr__prop_ws w;
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_LIGHTGCN;
    c.dim = d;
    c.batch = 12;
    c.layers = 1;
    c.fanout = 2;
    CHECK_OK(cr_model_create(&m, &c, &ds));
    CHECK_OK(cr__train_ws(m));
    N = m->n_nodes;
    S[3] = (int32_t)(m->n_users + 2);
    S[4] = (int32_t)(m->n_users + 9);
    out = (float *)malloc(sizeof(float) * (size_t)(N * d));
    t0 = (float *)malloc(sizeof(float) * (size_t)(N * d));
    t1 = (float *)malloc(sizeof(float) * (size_t)(N * d));
    mean = (double *)calloc((size_t)(nS * d), sizeof(double));
    for (i = 0; i < CR__MAX_LAYERS; i++) G[i] = &m->g.adj;
    memset(&w, 0, sizeof w);
    w.t0 = t0;
    w.t1 = t1;
    cr__prop_forward(out, NULL, G, 1, m->param, N, d, 0, 0.0f, 0, NULL, &w);
    for (t = 0; t < T; t++) {
        cr__sub_begin(m);
        for (i = 0; i < nS; i++) cr__sub_add(m, S[i]);
        cr__sub_build_sampled(m, (uint64_t)t * 7919u + 1u);
        cr__sub_forward(m, 0.0f, 0, 0, NULL);
        for (i = 0; i < nS * d; i++) mean[i] += m->g.sub_out[i] / T;
        if (t == 0)
            for (i = 0; i < nS; i++)
                for (j = 0; j < d; j++) err1 = fmax(err1, fabs(m->g.sub_out[i * d + j] - out[(int64_t)S[i] * d + j]));
    }
    for (i = 0; i < nS; i++)
        for (j = 0; j < d; j++) {
            scale = fmax(scale, fabs(out[(int64_t)S[i] * d + j]));
            err = fmax(err, fabs(mean[i * d + j] - out[(int64_t)S[i] * d + j]));
        }
    CHECKF(err < 0.03 * scale, "the mean of %d draws is %g from the whole rows (largest entry %g)", T, err, scale);
    CHECKF(err1 > 0.1 * scale, "one draw is %g from the whole rows: nothing was sampled", err1);
    free(out); free(t0); free(t1); free(mean);
    cr_model_free(m);
    cr_dataset_free(&ds);
}

/* Two epochs of model (with fanout f) on 1 and on 2 threads from the same seed: *same, whether
   the parameters are the same bits; the levels of a whole batch of the first into lvl[0]
   (targets) and lvl[1] (level 0). */
static void same_bits_on_1_and_2_threads(cr_model_kind model, int f, int *same, int64_t *lvl) {
    cr_dataset ds = crt_synth(6000, 5000, 8, 7, 3, 0, 0.2);
    cr_config c;
    cr_model *m[2];
    int v, t0 = cr_get_num_threads();
    memset(&c, 0, sizeof c);
    c.model = model;
    c.dim = 16;
    c.batch = 1024;
    c.fanout = f;
    for (v = 0; v < 2; v++) {
        cr_set_num_threads(v + 1);
        CHECK_OK(cr_model_create(&m[v], &c, &ds));
        CHECK_OK(cr_train_epoch(m[v], 1, NULL, NULL, NULL));
        CHECK_OK(cr_train_epoch(m[v], 2, NULL, NULL, NULL));
    }
    cr_set_num_threads(t0);
    { /* a whole batch's levels: large enough for the parallel loops (the epochs' batches were) */
        static int32_t us[1024], ps[1024];
        double l;
        for (v = 0; v < 1024; v++) {
            us[v] = ds.train.user[(int64_t)v * 31 % ds.train.n];
            ps[v] = ds.train.item[(int64_t)v * 31 % ds.train.n];
        }
        CHECK_OK(cr_model_batch_loss(m[0], us, ps, NULL, 1024, 1, 0, 0, &l));
        lvl[0] = m[0]->g.sub_n[m[0]->cfg.layers];
        lvl[1] = m[0]->g.sub_n[0];
    }
    *same = !memcmp(cr_model_params(m[0]), cr_model_params(m[1]),
                    sizeof(float) * (size_t)cr_model_num_params(m[0]));
    cr_model_free(m[0]);
    cr_model_free(m[1]);
    cr_dataset_free(&ds);
}

/* The same seed gives the same bits on 1 and 2 threads with sampled batches, on data large
   enough for the draws and the ego gradient's fold to run on several threads (a batch's 3,072
   targets and their level below). */
TEST(sampled_training_is_the_same_on_any_thread_count) {
    int64_t lvl[2];
    int same = 0;
    same_bits_on_1_and_2_threads(CR_MODEL_XSIMGCL, 3, &same, lvl);
    CHECK(same);
    CHECKF(lvl[0] > 2048 && lvl[1] * 16 > 65536, "levels %lld, %lld", (long long)lvl[0], (long long)lvl[1]);
}

/* The same for RecDCL's exact subgraph, on data large enough for its ego gradient's fold to run
   on several threads. */
TEST(subgraph_training_is_the_same_on_any_thread_count) {
    int64_t lvl[2];
    int same = 0;
    same_bits_on_1_and_2_threads(CR_MODEL_RECDCL, 0, &same, lvl);
    CHECK(same);
    CHECKF(lvl[1] * 16 > 65536, "level 0 has %lld nodes", (long long)lvl[1]);
}

/* The projection head's backward against central differences of a double reference. */
typedef struct { int n, d; const double *w; } mlp_ctx;
static double mlp_f(double *x, void *ctx) { /* sum of out * fixed weights, out = relu(x W1^T + b1) W2^T + b2 */
    mlp_ctx *k = (mlp_ctx *)ctx;
    int n = k->n, d = k->d, i, j, q;
    const double *W1 = x + n * d, *b1 = W1 + d * d, *W2 = b1 + d, *b2 = W2 + d * d;
    double l = 0, h[8];
    for (i = 0; i < n; i++) {
        for (j = 0; j < d; j++) {
            double a = b1[j];
            for (q = 0; q < d; q++) a += x[i * d + q] * W1[j * d + q];
            h[j] = a > 0 ? a : 0;
        }
        for (j = 0; j < d; j++) {
            double o = b2[j];
            for (q = 0; q < d; q++) o += h[q] * W2[j * d + q];
            l += o * k->w[i * d + j];
        }
    }
    return l;
}

TEST(projection_head_gradcheck) {
    enum { N = 5, D = 6, P = N * D + 2 * D * D + 2 * D };
    float x[P], out[N * D], a1[N * D], h[N * D], dout[N * D], g[P];
    double xd[P], w[N * D], ga[P], gn[P];
    mlp_ctx k = {N, D, w};
    cr_rng r;
    int i;
    cr_rng_seed(&r, 27);
    randn(x, P, &r, 0.7f);
    for (i = N * D + D * D; i < N * D + D * D + D; i++) x[i] = (i % 2 ? 3.0f : -3.0f); /* b1: ReLUs away from the kink */
    for (i = 0; i < N * D; i++) dout[i] = (float)(w[i] = cr_rng_normal(&r));
    memset(g, 0, sizeof g);
    cr__mlp2_forward(out, a1, h, x, x + N * D, x + N * D + D * D, x + N * D + D * D + D, x + N * D + 2 * D * D + D, N, D);
    cr__mlp2_backward(g, g + N * D, g + N * D + D * D, g + N * D + D * D + D, g + N * D + 2 * D * D + D, dout, a1, h, x,
                      x + N * D, x + N * D + D * D + D, N, D);
    for (i = 0; i < P; i++) { xd[i] = x[i]; ga[i] = g[i]; }
    numgrad(gn, xd, P, mlp_f, &k);
    CHECKF(rel_err(ga, gn, P, 1e-6) < 1e-3, "projection head rel err %g", rel_err(ga, gn, P, 1e-6));
}

/* Batch normalisation (training mode, batch statistics differentiated): affine and not, on an
   odd shape, against a double reference; loss = sum(Y * W) for fixed random W. */
typedef struct { int n, d, affine; const double *w; } bn_ctx;
static double bn_f(double *x, void *c) {
    bn_ctx *k = (bn_ctx *)c;
    const double *X = x, *gamma = x + k->n * k->d, *beta = gamma + k->d;
    double l = 0;
    int i, j;
    for (j = 0; j < k->d; j++) {
        double m = 0, v = 0;
        for (i = 0; i < k->n; i++) m += X[i * k->d + j];
        m /= k->n;
        for (i = 0; i < k->n; i++) v += (X[i * k->d + j] - m) * (X[i * k->d + j] - m);
        v /= k->n;
        for (i = 0; i < k->n; i++) {
            double h = (X[i * k->d + j] - m) / sqrt(v + 1e-5);
            l += k->w[i * k->d + j] * (k->affine ? gamma[j] * h + beta[j] : h);
        }
    }
    return l;
}

TEST(batchnorm_gradcheck) {
    enum { N = 7, D = 5, P = N * D + 2 * D };
    float x[P], y[N * D], xh[N * D], mean[D], istd[D], dy[N * D], g[P], ws[2 * D];
    double xd[P], w[N * D], ga[P], gn[P];
    cr_rng r;
    int i, affine;
    cr_rng_seed(&r, 31);
    for (affine = 0; affine < 2; affine++) {
        bn_ctx k;
        int np = affine ? P : N * D;
        k.n = N;
        k.d = D;
        k.affine = affine;
        k.w = w;
        randn(x, P, &r, 1.3f);
        for (i = 0; i < N * D; i++) x[i] += (float)(i % D); /* columns with different means */
        for (i = 0; i < N * D; i++) dy[i] = (float)(w[i] = cr_rng_normal(&r));
        memset(g, 0, sizeof g);
        cr_batchnorm_forward(y, xh, mean, istd, x, N, D, affine ? x + N * D : NULL, affine ? x + N * D + D : NULL, 1e-5f);
        cr_batchnorm_backward(g, affine ? g + N * D : NULL, affine ? g + N * D + D : NULL, dy, xh, istd, affine ? x + N * D : NULL, N, D, ws);
        for (i = 0; i < P; i++) { xd[i] = x[i]; ga[i] = g[i]; }
        {
            double l = 0;
            for (i = 0; i < N * D; i++) l += w[i] * y[i];
            CHECK_NEAR(l, bn_f(xd, &k), 1e-4 * (fabs(l) + 1));
        }
        numgrad(gn, xd, np, bn_f, &k);
        CHECKF(rel_err(ga, gn, np, 1e-5) < 2e-3, "batch norm (affine %d) rel err %g", affine, rel_err(ga, gn, np, 1e-5));
    }
}

/* RecDCL's feature-wise losses against double references: Barlow Twins (UIBT) and the
   polynomial-kernel uniformity (UUII), on an odd shape. */
typedef struct { int B, d; } fcl_ctx;
static double bt_f(double *x, void *c) {
    fcl_ctx *k = (fcl_ctx *)c;
    const double *Za = x, *Zb = x + k->B * k->d;
    double l = 0;
    int m, q, b;
    for (m = 0; m < k->d; m++)
        for (q = 0; q < k->d; q++) {
            double v = 0;
            for (b = 0; b < k->B; b++) v += Za[b * k->d + m] * Zb[b * k->d + q];
            v /= k->B;
            l += m == q ? (1 - v) * (1 - v) : 0.01 * v * v;
        }
    return 0.8 * l / k->d;
}
static double poly_f(double *x, void *c) {
    fcl_ctx *k = (fcl_ctx *)c;
    double S = 0;
    int m, q, b;
    for (m = 0; m < k->d; m++)
        for (q = 0; q < k->d; q++) {
            double g = 0;
            for (b = 0; b < k->B; b++) g += x[b * k->d + m] * x[b * k->d + q];
            S += pow(g + 1e-7, 4);
        }
    return 0.6 * log(S / ((double)k->d * k->d));
}

static double cos_f(double *x, void *c) {
    fcl_ctx *k = (fcl_ctx *)c;
    const double *T = x + k->B * k->d; /* the targets: held fixed by numgrad over the first half */
    double l = 0;
    int b, j;
    for (b = 0; b < k->B; b++) {
        double pp = 0, tt = 0, pt = 0;
        for (j = 0; j < k->d; j++) {
            pp += x[b * k->d + j] * x[b * k->d + j];
            tt += T[b * k->d + j] * T[b * k->d + j];
            pt += x[b * k->d + j] * T[b * k->d + j];
        }
        l += pt / sqrt(pp * tt);
    }
    return -0.5 * l / k->B;
}

TEST(feature_contrast_losses_gradcheck) {
    enum { B = 6, D = 5, S2 = 2 * B * D };
    float z[S2], g[S2], ws[D * D];
    double x[S2], ga[S2], gn[S2], l;
    fcl_ctx k = {B, D};
    cr_rng r;
    int i;
    cr_rng_seed(&r, 33);
    randn(z, S2, &r, 0.9f);
    memset(g, 0, sizeof g);
    l = cr_barlow_twins_loss(g, g + B * D, z, z + B * D, B, D, 0.01f, 0.8f, ws);
    for (i = 0; i < S2; i++) { x[i] = z[i]; ga[i] = g[i]; }
    CHECK_NEAR(l, bt_f(x, &k), 1e-5 * (fabs(l) + 1));
    numgrad(gn, x, S2, bt_f, &k);
    CHECKF(rel_err(ga, gn, S2, 1e-6) < 1e-3, "Barlow Twins rel err %g", rel_err(ga, gn, S2, 1e-6));
    memset(g, 0, sizeof g);
    l = cr_poly_uniformity_loss(g, z, B, D, 1.0f, 1e-7f, 4, 0.6f, ws);
    for (i = 0; i < B * D; i++) { x[i] = z[i]; ga[i] = g[i]; }
    CHECK_NEAR(l, poly_f(x, &k), 1e-4 * (fabs(l) + 1));
    numgrad(gn, x, B * D, poly_f, &k);
    CHECKF(rel_err(ga, gn, B * D, 1e-6) < 1e-3, "polynomial uniformity rel err %g", rel_err(ga, gn, B * D, 1e-6));
    memset(g, 0, sizeof g); /* the cosine to stop-gradient targets: only P (the first half) moves */
    l = cr_cosine_target_loss(g, z, z + B * D, B, D, 0.5f);
    for (i = 0; i < S2; i++) { x[i] = z[i]; ga[i] = g[i]; }
    CHECK_NEAR(l, cos_f(x, &k), 1e-5);
    numgrad(gn, x, B * D, cos_f, &k);
    CHECKF(rel_err(ga, gn, B * D, 1e-6) < 1e-3, "cosine to targets rel err %g", rel_err(ga, gn, B * D, 1e-6));
}

/* Feature masking's masks: PMI by hand; correlated masking takes the seed's highest-PMI partner,
   not its most frequent one; both modes mask round(rate n) features (at least one, at most
   n - 1). */
TEST(feature_masks) {
    static const int64_t us[8] = {0, 0, 1, 1, 2, 2, 3, 3}, is[8] = {0, 1, 2, 3, 0, 2, 1, 3};
    /* features 10 (the seed's), 11 (rare: only beside 10), 12 (common: in every item), 13 */
    const char *feats = "0 10 11 12 13\n1 10 11 12\n2 10 12 13\n3 12 13\n";
    cr_dataset ds;
    cr_config c;
    cr_model *m = NULL;
    uint8_t keep[4];
    int t, j, seen10 = 0;
    CHECK_OK(cr_dataset_from_arrays(&ds, us, is, 8, NULL, NULL, 0, 0));
    CHECK_OK(cr_parse_item_features(&ds.features, &ds.items, feats, strlen(feats), "feats"));
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_LIGHTGCN;
    c.dim = 4;
    c.item_repr = CR_REPR_ID_FEATURES;
    c.fm_w = 1.0f;
    c.fm_corr = 1;
    CHECK_OK(cr_model_create(&m, &c, &ds));
    CHECK(m->fco == NULL && m->fm_pool == NULL); /* training state: made when training starts, never for serving */
    CHECK_OK(cr__train_ws(m));
    CHECK(m->fm_npool == 4);
    /* item 0's features 10, 11, 12, 13 (dense 0..3), 4 items: n10 = 3, n11 = 2, n12 = 4, n13 = 3;
       10 meets 11 twice, 12 three times (the most), 13 twice */
    CHECK_NEAR(m->fco[m->fco_off[0] + 0 * 4 + 1], log(4.0 * 2 / (3 * 2)), 1e-6);
    CHECK_NEAR(m->fco[m->fco_off[0] + 0 * 4 + 2], 0.0, 1e-6);
    CHECK_NEAR(m->fco[m->fco_off[0] + 0 * 4 + 3], log(4.0 * 2 / (3 * 3)), 1e-6);
    CHECK_NEAR(m->fco[m->fco_off[0] + 1 * 4 + 1], log(4.0 / 2), 1e-6);
    for (t = 0; t < 200; t++) { /* rate 0.5 of 4: the seed and its highest-PMI partner */
        int a = -1, b2 = -1;
        cr__fm_mask(m, 0, (uint64_t)t, keep);
        for (j = 0; j < 4; j++)
            if (!keep[j]) { if (a < 0) a = j; else b2 = j; }
        CHECKF(a >= 0 && b2 >= 0 && keep[0] + keep[1] + keep[2] + keep[3] == 2, "draw %d", t);
        { /* one of the two is the seed: the other is its partner of the highest PMI */
            const float *ca = m->fco + m->fco_off[0] + a * 4, *cb = m->fco + m->fco_off[0] + b2 * 4;
            int oka = 1, okb = 1;
            for (j = 0; j < 4; j++)
                if (j != a && j != b2) { oka &= ca[b2] >= ca[j]; okb &= cb[a] >= cb[j]; }
            CHECKF(oka || okb, "draw %d: masked %d and %d", t, a, b2);
        }
        seen10 += !keep[0] && !keep[1];
    }
    /* seeds 10 and 11 mask {10, 11}, 12 (all its PMIs 0: the first) {12, 10}, 13 {13, 12}: about
       half the draws take {10, 11}; raw counts would send seed 10 to the common 12 (a quarter) */
    CHECKF(seen10 > 70 && seen10 < 130, "{10, 11} masked in %d of 200 draws", seen10);
    cr_model_free(m);
    c.fm_corr = -1;
    c.fm_rate = 0.9f;
    CHECK_OK(cr_model_create(&m, &c, &ds));
    for (t = 0; t < 200; t++) { /* 0.9 of 4 rounds to 4: three masked, one kept */
        cr__fm_mask(m, 0, (uint64_t)t, keep);
        CHECKF(keep[0] + keep[1] + keep[2] + keep[3] == 1, "draw %d", t);
    }
    cr_model_free(m);
    cr_dataset_free(&ds);
}

/* Feature masking's views are complementary: over 200 items with 1-6 features and many
   batches, random and correlated masking, no item the contrast draws has two equal views, and
   the views split its features. The items are drawn uniformly from those with two or more
   features, without repeats, the same for the same batch, and not from the batch: every item
   of the pool turns up, the batch's positives no more often than the others. */
TEST(feature_masks_complementary_uniform) {
    enum { NI = 200, NB = 300, B = 32 };
    int64_t us[NI * 2], is[NI * 2];
    char *feats = (char *)malloc(NI * 64);
    size_t len = 0;
    int mode, i;
    for (i = 0; i < NI * 2; i++) { us[i] = i % 50; is[i] = i % 2 ? i / 2 : i % 7; } /* items 0-6 popular */
    for (i = 0; i < NI; i++) { /* item i: 1 + i % 6 features from 40, i % 6 == 0 the one-feature items */
        int j, nf = 1 + i % 6;
        len += (size_t)sprintf(feats + len, "%d", i);
        for (j = 0; j < nf; j++) len += (size_t)sprintf(feats + len, " %d", (i * 7 + j * 13) % 40 + 100 * j);
        feats[len++] = '\n';
    }
    for (mode = 0; mode < 2; mode++) {
        cr_dataset ds;
        cr_config c;
        cr_model *m = NULL;
        int32_t u[B], p[B], count[NI], first[B];
        int bt, r, n0 = 0, pool = 0;
        double l;
        CHECK_OK(cr_dataset_from_arrays(&ds, us, is, NI * 2, NULL, NULL, 0, 0));
        CHECK_OK(cr_parse_item_features(&ds.features, &ds.items, feats, len, "feats"));
        memset(&c, 0, sizeof c);
        c.model = CR_MODEL_LIGHTGCN;
        c.dim = 4;
        c.batch = B;
        c.item_repr = CR_REPR_ID_FEATURES;
        c.fm_w = 1.0f;
        c.fm_corr = mode ? 1 : -1;
        CHECK_OK(cr_model_create(&m, &c, &ds));
        memset(count, 0, sizeof count);
        for (i = 0; i < B; i++) { u[i] = i % ds.n_users; p[i] = (int32_t)(i % 7); } /* popular positives */
        for (bt = 0; bt < NB; bt++) {
            CHECK_OK(cr_model_batch_loss(m, u, p, NULL, B, 1, bt, 0, &l));
            for (r = 0; r < B; r++) {
                int32_t it = m->g.fitems[r];
                const uint8_t *k0 = m->g.fkeep[0] + (int64_t)r * m->fmax, *k1 = m->g.fkeep[1] + (int64_t)r * m->fmax;
                int64_t nf = m->ifeat.rowptr[it + 1] - m->ifeat.rowptr[it], j, in0 = 0, in1 = 0, same = 1;
                CHECKF(nf >= 2, "mode %d batch %d: item %d has %lld features", mode, bt, it, (long long)nf);
                CHECKF(m->g.istamp[it] == m->g.istamp_cur, "mode %d batch %d: item %d drawn twice", mode, bt, it);
                m->g.istamp[it] = 0; /* drawn twice would fail the line above */
                for (j = 0; j < nf; j++) {
                    in0 += k0[j];
                    in1 += k1[j];
                    same &= k0[j] == k1[j];
                    CHECKF(k0[j] != k1[j], "mode %d batch %d: item %d feature %lld in both views or neither",
                           mode, bt, it, (long long)j);
                }
                CHECKF(!same && in0 >= 1 && in1 >= 1, "mode %d batch %d: item %d views equal or empty", mode, bt, it);
                count[m->items.raw[it]]++;
                if (bt == 0) first[r] = it;
            }
        }
        CHECK_OK(cr_model_batch_loss(m, u, p, NULL, B, 1, 0, 0, &l)); /* the same batch draws the same items */
        for (r = 0; r < B; r++) CHECK(m->g.fitems[r] == first[r]);
        for (i = 0; i < NI; i++)
            if (i % 6) {
                pool++;
                /* about NB B / pool = 57 draws each: none missed, none near the 300 a batch's positive would get */
                CHECKF(count[i] >= 20 && count[i] <= 110, "mode %d: item %d drawn %d times", mode, i, count[i]);
            } else
                n0 += count[i];
        CHECK(n0 == 0 && m->fm_npool == pool);
        cr_model_free(m);
        cr_dataset_free(&ds);
    }
    free(feats);
}

/* The attribute-ID contrast moves the feature table alone: every other gradient is the one
   the model has without it, bit for bit. */
TEST(attr_contrast_target_is_stop_gradient) {
    cr_dataset ds = small_data(0);
    cr_config c;
    cr_model *a = NULL, *b = NULL;
    int32_t us[12], ps[12], ns[12];
    int i;
    double la, lb;
    CHECK_OK(crt_synth_features(&ds));
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_LIGHTGCN;
    c.dim = 8;
    c.batch = 12;
    CHECK_OK(cr_model_create(&a, &c, &ds));
    c.attr_w = 0.5f;
    CHECK_OK(cr_model_create(&b, &c, &ds));
    for (i = 0; i < 12; i++) {
        us[i] = ds.train.user[i * 5];
        ps[i] = ds.train.item[i * 5];
        ns[i] = (i * 7) % ds.n_items;
    }
    CHECK_OK(cr_model_batch_loss(a, us, ps, ns, 12, 1, 0, 1, &la));
    CHECK_OK(cr_model_batch_loss(b, us, ps, ns, 12, 1, 0, 1, &lb));
    CHECK(lb > la); /* the contrast's part */
    CHECK(memcmp(cr_model_grads(a), cr_model_grads(b), sizeof(float) * (size_t)cr_model_num_params(a)) == 0);
    CHECK(cr_vsumsq(cr__tensor_grad(b, "feat_emb"), b->ifeat.ncols * 8) > 0);
    cr_model_free(a);
    cr_model_free(b);
    cr_dataset_free(&ds);
}

const crt_case crt_grad[] = {
    {"grad/projection_head", projection_head_gradcheck},
    {"grad/batchnorm", batchnorm_gradcheck},
    {"grad/feature_contrast_losses", feature_contrast_losses_gradcheck},
    {"grad/model_sgl_proj_head", grad_sgl_proj_head},
    {"grad/model_xsimgcl_proj_head_cl_negatives", grad_xsimgcl_proj_head_cl_negatives},
    {"grad/model_simgcl_cl_negatives", grad_simgcl_cl_negatives},
    {"grad/model_sgl_mixed_views", grad_sgl_mixed_views},
    {"grad/model_sgl_subgraph_views", grad_sgl_subgraph_views},
    {"grad/model_lightgcn_dns", grad_lightgcn_dns},
    {"grad/model_lightgcn_mixgcf", grad_lightgcn_mixgcf},
    {"grad/model_mf_mixgcf", grad_mf_mixgcf},
    {"grad/model_xsimgcl_mixgcf", grad_xsimgcl_mixgcf},
    {"grad/model_ncl_structure", grad_ncl_structure},
    {"grad/model_ncl_recbole_l2", grad_ncl_recbole_l2},
    {"grad/model_recdcl", grad_recdcl},
    {"grad/model_rcl_mask_dcl", grad_rcl_mask_dcl},
    {"grad/model_rcl_mask_plain", grad_rcl_mask_plain},
    {"grad/model_rcl_adv_prev", grad_rcl_adv_prev},
    {"grad/model_rcl_adv_exact", grad_rcl_adv_exact},
    {"grad/rcl_adversarial_direction", rcl_adversarial_direction},
    {"grad/rcl_adversarial_views_leave_bpr_clean", rcl_adversarial_views_leave_bpr_clean},
    {"grad/subgraph_propagation_equals_the_whole_graph", subgraph_propagation_equals_the_whole_graph},
    {"grad/sampled_batches_with_every_neighbour_are_the_whole_graph",
     sampled_batches_with_every_neighbour_are_the_whole_graph},
    {"grad/sampled_rows_average_to_the_whole_graph", sampled_rows_average_to_the_whole_graph},
    {"grad/sampled_training_is_the_same_on_any_thread_count", sampled_training_is_the_same_on_any_thread_count},
    {"grad/subgraph_training_is_the_same_on_any_thread_count", subgraph_training_is_the_same_on_any_thread_count},
    {"grad/model_recdcl_uibt", grad_recdcl_uibt},
    {"grad/model_recdcl_uuii", grad_recdcl_uuii},
    {"grad/model_recdcl_bcl", grad_recdcl_bcl},
    {"grad/model_ncl_structure_and_prototypes", grad_ncl_structure_and_prototypes},
    {"grad/model_lightgcn_id_features", grad_lightgcn_id_features},
    {"grad/model_mf_features_only", grad_mf_features_only},
    {"grad/model_lightgcn_attr_contrast", grad_lightgcn_attr_contrast},
    {"grad/model_xsimgcl_attr_contrast", grad_xsimgcl_attr_contrast},
    {"grad/model_recdcl_features", grad_recdcl_features},
    {"grad/model_lightgcn_fmask_random", grad_lightgcn_fmask_random},
    {"grad/model_gru4rec_id_features", grad_gru4rec_id_features},
    {"grad/model_gru4rec_features_fmask", grad_gru4rec_features_fmask},
    {"grad/model_cl4srec_fmask_correlated", grad_cl4srec_fmask_correlated},
    {"grad/feature_masks", feature_masks},
    {"grad/feature_masks_complementary_uniform", feature_masks_complementary_uniform},
    {"grad/attr_contrast_target_is_stop_gradient", attr_contrast_target_is_stop_gradient},
    {"grad/model_xsimgcl_fmask_correlated", grad_xsimgcl_fmask_correlated},
    {"grad/bpr", bpr_gradcheck},
    {"grad/bpr_confidence", bpr_confidence_gradcheck},
    {"grad/infonce", infonce_gradcheck},
    {"grad/infonce_ntxent_tied", infonce_ntxent_tied_gradcheck},
    {"grad/infonce_blocks_equal_separate_calls", infonce_blocks_equal_separate_calls},
    {"grad/infonce_streamed_equals_whole_rows", infonce_streamed_equals_whole_rows},
    {"grad/infonce_nan_key_reaches_the_loss", infonce_nan_key_reaches_the_loss},
    {"grad/softmax_streamed_against_double", softmax_streamed_against_double},
    {"grad/infonce_mask_bounds_and_self_at_the_positive", infonce_mask_bounds_and_self_at_the_positive},
    {"grad/infonce_workspace_serves_fewer_queries", infonce_workspace_serves_fewer_queries},
    {"grad/infonce_robust", infonce_robust_gradcheck},
    {"grad/infonce_robust_blocks", infonce_robust_blocks},
    {"grad/softmax_xent", softmax_xent_gradcheck},
    {"grad/l2_losses", l2_losses_gradcheck},
    {"grad/l2_loss_long_span", l2_loss_long_span},
    {"grad/propagation_backward_is_the_adjoint", propagation_backward_is_the_adjoint},
    {"grad/propagation_in_locality_order_is_bit_identical", propagation_in_locality_order_is_bit_identical},
    {"grad/propagation_backward_over_live_entries_is_bit_identical", propagation_backward_over_live_entries_is_bit_identical},
    {"grad/last_layers_over_live_entries_train_the_same_bits", last_layers_over_live_entries_train_the_same_bits},
    {"grad/model_mf", grad_mf},
    {"grad/model_mf_selfrec_l2", grad_mf_selfrec_l2},
    {"grad/model_lightgcn", grad_lightgcn},
    {"grad/model_lightgcn_selfrec_l2", grad_lightgcn_selfrec_l2},
    {"grad/model_sgl_ed", grad_sgl_ed},
    {"grad/model_sgl_nd", grad_sgl_nd},
    {"grad/model_sgl_rw_selfrec_l2", grad_sgl_rw_selfrec_l2},
    {"grad/model_simgcl", grad_simgcl},
    {"grad/model_simgcl_selfrec_l2", grad_simgcl_selfrec_l2},
    {"grad/model_xsimgcl", grad_xsimgcl},
    {"grad/model_xsimgcl_lstar_top", grad_xsimgcl_lstar_top},
    {"grad/model_lightgcn_fanout", grad_lightgcn_fanout},
    {"grad/model_simgcl_fanout", grad_simgcl_fanout},
    {"grad/model_xsimgcl_fanout", grad_xsimgcl_fanout},
    {"grad/model_xsimgcl_fanout_lstar_top", grad_xsimgcl_fanout_lstar_top},
    {"grad/model_gru4rec", grad_gru4rec},
    {"grad/model_gru4rec_dropout_2layers", grad_gru4rec_dropout_2layers},
    {"grad/model_gru4rec_hidden_proj_sampled", grad_gru4rec_hidden_proj_sampled},
    {"grad/model_cl4srec", grad_cl4srec},
    {"grad/model_cl4srec_proj_head_all_augs", grad_cl4srec_proj_head_all_augs},
    {NULL, NULL}};
