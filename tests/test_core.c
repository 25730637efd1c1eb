/* core, tensor and RNG tests */
#include "test.h"
#include <stdlib.h>

TEST(status_strings_and_errors) {
    cr_tensor t;
    CHECK(strcmp(cr_status_string(CR_OK), "ok") == 0);
    CHECK(strlen(cr_status_string(CR_ERR_PARSE)) > 0);
    CHECK(strcmp(cr_status_string((cr_status)-99), "unknown status") == 0);
    cr_clear_error();
    CHECK(cr_last_error()[0] == 0);
    CHECK_FAILS(cr_tensor_alloc(&t, -1, 3), CR_ERR_INVALID, "negative");
    CHECK(t.data == NULL && t.rows == 0);
    CHECK_FAILS(cr_tensor_alloc(&t, INT64_MAX / 2, INT64_MAX / 2), CR_ERR_OVERFLOW, "overflow");
}

TEST(tensor_alloc_view_slice) {
    cr_tensor t, v, s;
    int64_t i;
    CHECK_OK(cr_tensor_alloc(&t, 7, 13));
    CHECK(((uintptr_t)t.data % 64) == 0);
    CHECK(t.stride == 13 && t.owner);
    for (i = 0; i < 7 * 13; i++) CHECK(t.data[i] == 0.0f);
    for (i = 0; i < 7 * 13; i++) t.data[i] = (float)i;
    v = cr_tensor_view(t.data + 1, 7, 5, 13);
    CHECK(!v.owner && v.data[13] == 14.0f);
    s = cr_tensor_slice_rows(&t, 2, 3);
    CHECK(s.rows == 3 && s.data[0] == 26.0f && s.stride == 13);
    cr_tensor_free(&v); /* a view: frees nothing */
    CHECK(t.data[0] == 0.0f);
    cr_tensor_free(&t);
    CHECK(t.data == NULL);
    CHECK_OK(cr_tensor_alloc(&t, 0, 5)); /* empty is fine */
    cr_tensor_free(&t);
}

TEST(ivec_push_and_reserve) {
    cr_ivec v;
    int32_t i;
    memset(&v, 0, sizeof v);
    for (i = 0; i < 10000; i++) CHECK_OK(cr_ivec_push(&v, i * 3));
    CHECK(v.n == 10000 && v.data[9999] == 29997 && v.cap >= v.n);
    cr_ivec_free(&v);
    CHECK(v.data == NULL && v.n == 0);
}

TEST(vector_helpers) {
    float x[37], y[37], z[37];
    double ref = 0;
    int i;
    for (i = 0; i < 37; i++) { x[i] = (float)(i % 7) - 3.0f; y[i] = 0.5f * (float)i; }
    for (i = 0; i < 37; i++) ref += (double)x[i] * y[i];
    CHECK_NEAR(cr_vdot(x, y, 37), ref, 1e-3);
    CHECK_NEAR(cr_vsumsq(x, 37), cr_vdot(x, x, 37), 0);
    cr_vcopy(z, y, 37);
    cr_vaxpy(z, 2.0f, x, 37);
    for (i = 0; i < 37; i++) CHECK_NEAR(z[i], y[i] + 2.0f * x[i], 1e-6);
    cr_vscale(z, 0.5f, 37);
    CHECK_NEAR(z[5], 0.5 * (y[5] + 2.0f * x[5]), 1e-6);
    cr_vfill(z, 7.0f, 37);
    CHECK(z[0] == 7.0f && z[36] == 7.0f);
}

TEST(softmax_and_logsumexp) {
    float in[2 * 5] = {1, 2, 3, 4, 5, 1000, 1000, -1000, 0, 1000}, out[10], lse[2];
    double s = 0;
    int j;
    cr_softmax_rows(out, in, 2, 5);
    cr_logsumexp_rows(lse, in, 2, 5);
    for (j = 0; j < 5; j++) s += exp(in[j]);
    CHECK_NEAR(lse[0], log(s), 1e-5);
    CHECK_NEAR(out[4], exp(5.0) / s, 1e-6);
    CHECK_NEAR(lse[1], 1000.0 + log(3.0), 1e-3); /* no overflow thanks to the max shift */
    CHECK_NEAR(out[5], 1.0 / 3.0, 1e-6);
    CHECK(out[7] == 0.0f);
}

/* Finite-difference check of the row L2 normalisation backward. */
TEST(l2norm_backward_gradcheck) {
    enum { R = 3, D = 7 };
    double x[R * D], maxrel = 0;
    float xf[R * D], y[R * D], nrm[R], g[R * D], dx[R * D];
    int i, j;
    cr_rng r;
    cr_rng_seed(&r, 5);
    for (i = 0; i < R * D; i++) { x[i] = cr_rng_normal(&r); g[i] = cr_rng_normal(&r); dx[i] = 0; xf[i] = (float)x[i]; }
    xf[D] = 0; x[D] = 0; /* a zero entry */
    cr_l2norm_rows_forward(y, nrm, xf, R, D);
    cr_l2norm_rows_backward(dx, g, y, nrm, R, D);
    for (i = 0; i < R * D; i++) {
        /* loss = <g, normalize(x)> in double, central differences */
        double h = 1e-5, lp = 0, lm = 0, num, den;
        for (j = 0; j < 2; j++) {
            double xs[R * D], l = 0;
            int a, b;
            memcpy(xs, x, sizeof xs);
            xs[i] += j ? -h : h;
            for (a = 0; a < R; a++) {
                double n2 = 0;
                for (b = 0; b < D; b++) n2 += xs[a * D + b] * xs[a * D + b];
                for (b = 0; b < D; b++) l += g[a * D + b] * xs[a * D + b] / sqrt(n2);
            }
            if (j) lm = l; else lp = l;
        }
        num = (lp - lm) / (2 * h);
        den = fabs(num) + fabs(dx[i]) + 1e-6;
        if (fabs(num - dx[i]) / den > maxrel) maxrel = fabs(num - dx[i]) / den;
    }
    CHECKF(maxrel < 1e-3, "max relative error %g", maxrel);
    /* a zero row must not produce NaN */
    memset(xf, 0, sizeof xf);
    cr_l2norm_rows_forward(y, nrm, xf, R, D);
    memset(dx, 0, sizeof dx);
    cr_l2norm_rows_backward(dx, g, y, nrm, R, D);
    for (i = 0; i < R * D; i++) CHECK(y[i] == 0 && dx[i] == dx[i]);
}

TEST(rng_deterministic_and_streams) {
    cr_rng a, b, c;
    int i, same = 0;
    cr_rng_seed(&a, 42);
    cr_rng_seed(&b, 42);
    for (i = 0; i < 1000; i++) CHECK(cr_rng_next(&a) == cr_rng_next(&b));
    a = cr_rng_stream(42, 0);
    c = cr_rng_stream(42, 1);
    for (i = 0; i < 1000; i++) same += cr_rng_next(&a) == cr_rng_next(&c);
    CHECK(same == 0);
    b = a;
    cr_rng_jump(&b);
    CHECK(cr_rng_next(&a) != cr_rng_next(&b));
    cr_rng_seed(&a, 0); /* seed 0 must not give the all-zero state */
    CHECK(cr_rng_next(&a) != 0 || cr_rng_next(&a) != 0);
}

TEST(rng_distributions) {
    cr_rng r;
    int counts[7] = {0}, i;
    double s = 0, s2 = 0, chi = 0;
    cr_rng_seed(&r, 9);
    for (i = 0; i < 70000; i++) {
        uint32_t k = cr_rng_below(&r, 7);
        CHECK(k < 7);
        counts[k]++;
    }
    for (i = 0; i < 7; i++) chi += (counts[i] - 10000.0) * (counts[i] - 10000.0) / 10000.0;
    CHECKF(chi < 30, "chi-square %g over 6 degrees of freedom", chi); /* p ~ 4e-5 */
    for (i = 0; i < 100000; i++) {
        float f = cr_rng_float(&r), g = cr_rng_normal(&r);
        CHECK(f >= 0.0f && f < 1.0f);
        s += g;
        s2 += (double)g * g;
    }
    CHECK_NEAR(s / 100000, 0.0, 0.02);
    CHECK_NEAR(s2 / 100000, 1.0, 0.02);
    CHECK(cr_rng_below(&r, 1) == 0);
}

const crt_case crt_core[] = {
    {"core/status_strings_and_errors", status_strings_and_errors},
    {"core/tensor_alloc_view_slice", tensor_alloc_view_slice},
    {"core/ivec_push_and_reserve", ivec_push_and_reserve},
    {"core/vector_helpers", vector_helpers},
    {"core/softmax_and_logsumexp", softmax_and_logsumexp},
    {"core/l2norm_backward_gradcheck", l2norm_backward_gradcheck},
    {"core/rng_deterministic_and_streams", rng_deterministic_and_streams},
    {"core/rng_distributions", rng_distributions},
    {NULL, NULL}};
