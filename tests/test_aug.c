/* The contracts of the augmentations, graph and sequence, and of the early stop's rule. This file
   compiles its own static copy of the library to reach the sequence augmentation and the rule,
   which are internal. */
#define CONTRAREC_STATIC
#define CONTRAREC_IMPLEMENTATION
#include "test.h"
#include <stdlib.h>

TEST(edge_dropout_keeps_floor_of_the_rest) {
    uint8_t keep[1001];
    int64_t i, kept = 0;
    CHECK_OK(cr_aug_edge_dropout(keep, 1001, 0.25f, 7));
    for (i = 0; i < 1001; i++) kept += keep[i];
    CHECK(kept == 750); /* floor(0.75 * 1001) */
    CHECK_OK(cr_aug_edge_dropout(keep, 1001, 0.0f, 7));
    for (i = 0, kept = 0; i < 1001; i++) kept += keep[i];
    CHECK(kept == 1001);
    CHECK_FAILS(cr_aug_edge_dropout(keep, 1001, 1.0f, 7), CR_ERR_INVALID, "edge dropout ratio 1");
}

/* On a complete bipartite graph, dropping floor(rho U) users and floor(rho I) items keeps
   exactly (U - floor(rho U)) (I - floor(rho I)) edges. */
TEST(node_dropout_drops_floor_rho_nodes) {
    enum { U = 10, I = 20 };
    int32_t us[U * I], is[U * I];
    uint8_t keep[U * I];
    int e, kept = 0;
    for (e = 0; e < U * I; e++) { us[e] = e / I; is[e] = e % I; }
    CHECK_OK(cr_aug_node_dropout(keep, U * I, us, is, U, I, 0.3f, 9));
    for (e = 0; e < U * I; e++) kept += keep[e];
    CHECK(kept == (U - 3) * (I - 6));
}

/* Random walks with restart keep keep_ratio of the edges (a step adds at most one past it),
   and every kept edge is an edge of the graph. */
TEST(rw_subgraph_keeps_the_ratio) {
    cr_interactions x;
    cr_csr ui;
    int32_t nu, ni;
    cr_synth_opts so;
    uint8_t *keep;
    int64_t e, kept = 0, target;
    memset(&so, 0, sizeof so);
    so.n_users = 200;
    so.n_items = 300;
    CHECK_OK(cr_synthetic(&x, &nu, &ni, &so));
    CHECK_OK(cr_interactions_to_csr(&ui, &x, nu, ni, 0));
    keep = (uint8_t *)malloc((size_t)ui.nnz);
    CHECK_OK(cr_aug_rw_subgraph(keep, &ui, 0.4f, 0.2f, 16, 3));
    for (e = 0; e < ui.nnz; e++) kept += keep[e];
    target = (int64_t)(0.4 * (double)ui.nnz);
    CHECKF(kept >= target && kept <= target + 1, "kept %lld of %lld, target %lld", (long long)kept, (long long)ui.nnz, (long long)target);
    CHECK_FAILS(cr_aug_rw_subgraph(keep, &ui, 0.0f, 0.2f, 16, 3), CR_ERR_INVALID, "keep ratio 0");
    CHECK_FAILS(cr_aug_rw_subgraph(keep, &ui, 0.4f, 1.0f, 16, 3), CR_ERR_INVALID, "restart probability 1");
    CHECK_FAILS(cr_aug_rw_subgraph(keep, &ui, 0.4f, 0.2f, 0, 3), CR_ERR_INVALID, "length 0");
    free(keep);
    cr_csr_free(&ui);
    cr_interactions_free(&x);
}

TEST(feature_mask_zeroes_the_masked_columns) {
    float E[6 * 8];
    uint8_t mask[8];
    int i, j, masked = 0;
    for (i = 0; i < 48; i++) E[i] = (float)(i + 1);
    cr_aug_feature_mask(E, 6, 8, 0.5f, 11, mask);
    for (j = 0; j < 8; j++) masked += !mask[j];
    CHECK(masked > 0 && masked < 8);
    for (i = 0; i < 6; i++)
        for (j = 0; j < 8; j++) CHECK(E[i * 8 + j] == (mask[j] ? (float)(i * 8 + j + 1) : 0.0f));
}

/* A CL4SRec model whose only augmentation is the given one, to call the augmentation on. */
static cr_model *seq_model(unsigned aug, float rate, float keep, cr_dataset *ds) {
    cr_config c;
    cr_synth_opts so;
    cr_model *m = NULL;
    memset(&c, 0, sizeof c);
    memset(&so, 0, sizeof so);
    so.n_users = 50;
    so.n_items = 100;
    so.mean_len = 10;
    c.model = CR_MODEL_CL4SREC;
    c.dim = 8;
    c.seq_aug = aug;
    c.aug_rate = rate;
    c.crop_keep = keep;
    if (cr_dataset_synthetic(ds, &so, 1, 0) != CR_OK || cr_model_create(&m, &c, ds) != CR_OK) return NULL;
    return m;
}

/* Crop keeps floor(eta n) items as one window (CL4SRec's eta, the share kept); mask replaces
   exactly floor(gamma n) distinct positions; reorder permutes one window. */
TEST(sequence_augmentations_keep_their_contracts) {
    int32_t s[40], out[81];
    int n = 40, i, len, trial;
    cr_dataset ds;
    cr_model *m;
    cr_rng r;
    for (i = 0; i < n; i++) s[i] = i + 3;
    cr_rng_seed(&r, 5);
    m = seq_model(CR_SEQAUG_CROP, 0.2f, 0.6f, &ds);
    CHECK(m != NULL);
    for (trial = 0; trial < 20; trial++) {
        len = cr__seq_augment(m, s, n, out, &r);
        CHECK(len == 24);
        for (i = 1; i < len; i++) CHECK(out[i] == out[i - 1] + 1); /* one contiguous window */
    }
    cr_model_free(m);
    cr_dataset_free(&ds);
    m = seq_model(CR_SEQAUG_MASK, 0.3f, 0, &ds);
    CHECK(m != NULL);
    for (trial = 0; trial < 20; trial++) {
        int masked = 0;
        len = cr__seq_augment(m, s, n, out, &r);
        CHECK(len == n);
        for (i = 0; i < n; i++) {
            if (out[i] == cr_model_num_items(m)) masked++;
            else CHECK(out[i] == s[i]);
        }
        CHECKF(masked == 12, "masked %d positions, wanted floor(0.3 * 40) = 12 distinct ones", masked);
    }
    cr_model_free(m);
    cr_dataset_free(&ds);
    m = seq_model(CR_SEQAUG_REORDER, 0.25f, 0, &ds);
    CHECK(m != NULL);
    for (trial = 0; trial < 20; trial++) {
        int first = -1, last = -1, sum = 0;
        len = cr__seq_augment(m, s, n, out, &r);
        CHECK(len == n);
        for (i = 0; i < n; i++) {
            sum += out[i] - s[i];
            if (out[i] != s[i]) { if (first < 0) first = i; last = i; }
        }
        CHECK(sum == 0 && (first < 0 || last - first < 10)); /* a window of floor(0.25 * 40) */
    }
    cr_model_free(m);
    cr_dataset_free(&ds);
}

/* The stop epoch cr__stop_now gives a run of validation values (0 if it never stops). */
static int stop_epoch(const double *v, int n, int patience, int rule) {
    cr_fit_opts o;
    cr__fit_state fs;
    int t;
    memset(&o, 0, sizeof o);
    memset(&fs, 0, sizeof fs);
    o.patience = patience;
    o.stop_rule = rule;
    fs.best_v = fs.last[0] = fs.last[1] = -1;
    for (t = 0; t < n; t++) {
        int stop = 0;
        if (v[t] > fs.best_v) { fs.best_v = v[t]; fs.since = 0; }
        else { fs.since++; stop = cr__stop_now(&o, &fs, v[t]); }
        fs.last[1] = fs.last[0];
        fs.last[0] = v[t];
        fs.n_eval++;
        if (stop) return t + 1;
    }
    return 0;
}

/* The dip: a peak at evaluation 1, a fall, a climb past the peak (LightGCN on dense data from
   Xavier's scale, validation NDCG@20 by epoch); plain patience stops inside the dip, the rule
   does not. A run that falls after its best stops P evaluations after it once past 2P; a climb
   that never passes the best ends 5P after it; a wobble on a plateau does not hold a run. */
TEST(early_stop_survives_the_dip) {
    static const double dip[] = {0.0830, 0.0826, 0.0787, 0.0781, 0.0777, 0.0780, 0.0784, 0.0781, 0.0784, 0.0790,
                                 0.0793, 0.0807, 0.0823, 0.0829, 0.0858, 0.0896, 0.0932, 0.0967, 0.1005, 0.1046};
    double v[200];
    int t;
    CHECK(stop_epoch(dip, 20, 10, 1) == 11);
    CHECK(stop_epoch(dip, 20, 10, 0) == 0);
    for (t = 0; t < 200; t++) v[t] = t < 30 ? 0.01 * t : 0.29 - 0.001 * (t - 29); /* best at 30, then falls */
    CHECK(stop_epoch(v, 200, 10, 0) == 40 && stop_epoch(v, 200, 10, 1) == 40);
    for (t = 0; t < 200; t++) v[t] = t < 3 ? 0.2 - 0.01 * t : 0.05 + 0.0001 * t; /* best at 1, climbs slowly */
    CHECK(stop_epoch(v, 200, 10, 0) == 51 && stop_epoch(v, 200, 10, 1) == 11);
    for (t = 0; t < 200; t++) v[t] = t == 0 ? 0.2 : 0.1 + 0.001 * (t % 3); /* a wobble: up, up, down */
    CHECKF(stop_epoch(v, 200, 10, 0) == 20, "stopped at %d", stop_epoch(v, 200, 10, 0));
    for (t = 0; t < 200; t++) v[t] = t < 5 ? 0.1 * t : 0.4 - 0.01 * (t % 2); /* best at 5, then down, up, ... */
    CHECK(stop_epoch(v, 200, 3, 0) == 8 && stop_epoch(v, 200, 3, 1) == 8);
}

/* When the contrast backs off: B evaluations in a row 10% under the best (or the early stop
   about to end the run), BPR still above
   0.95 ln 2, a graph model with BPR and a contrast weight, selection on validation, fewer
   than 8 backoffs so far; and what a backoff does: half the weight, the best parameters back,
   Adam's state cleared, the counts restarted. */
TEST(contrast_backoff_rule) {
    cr_model fake;
    cr_fit_opts o;
    cr__fit_state fs;
    memset(&fake, 0, sizeof fake);
    memset(&o, 0, sizeof o);
    memset(&fs, 0, sizeof fs);
    fake.ops = cr__ops_of(CR_MODEL_XSIMGCL);
    fake.cfg.lambda = 0.2f;
    o.backoff = 3;
    o.select = CR_SELECT_VALID;
    fs.below = 3;
    CHECK(cr__backoff_now(&fake, &o, &fs, 0.69, CR_FIT_SELECT, 0));
    CHECK(!cr__backoff_now(&fake, &o, &fs, 0.60, CR_FIT_SELECT, 0));  /* BPR has left chance: a dip of its own */
    CHECK(!cr__backoff_now(&fake, &o, &fs, 0.69, CR_FIT_REFIT, 0));
    fs.below = 2;
    CHECK(!cr__backoff_now(&fake, &o, &fs, 0.69, CR_FIT_SELECT, 0));
    CHECK(cr__backoff_now(&fake, &o, &fs, 0.69, CR_FIT_SELECT, 1));  /* the stop would end it at chance */
    CHECK(!cr__backoff_now(&fake, &o, &fs, 0.60, CR_FIT_SELECT, 1));
    fs.best_v = -1; /* no evaluation gave a value (NaN): no best parameters to go back to */
    CHECK(!cr__backoff_now(&fake, &o, &fs, 0.69, CR_FIT_SELECT, 1));
    fs.best_v = 0;
    fs.below = 3;
    fs.backoffs = 8;
    CHECK(!cr__backoff_now(&fake, &o, &fs, 0.69, CR_FIT_SELECT, 0));
    fs.backoffs = 0;
    o.backoff = -1;
    CHECK(!cr__backoff_now(&fake, &o, &fs, 0.69, CR_FIT_SELECT, 0));
    o.backoff = 3;
    o.select = CR_SELECT_TEST;
    CHECK(!cr__backoff_now(&fake, &o, &fs, 0.69, CR_FIT_SELECT, 0));
    o.select = CR_SELECT_VALID;
    fake.ops = cr__ops_of(CR_MODEL_LIGHTGCN);
    CHECK(!cr__backoff_now(&fake, &o, &fs, 0.69, CR_FIT_SELECT, 0));
    fake.ops = cr__ops_of(CR_MODEL_CL4SREC);
    CHECK(!cr__backoff_now(&fake, &o, &fs, 6.9, CR_FIT_SELECT, 0));
    fake.ops = cr__ops_of(CR_MODEL_RECDCL);
    CHECK(!cr__backoff_now(&fake, &o, &fs, 0.69, CR_FIT_SELECT, 0));
    fake.ops = cr__ops_of(CR_MODEL_SGL);
    fake.cfg.lambda = 0;
    CHECK(!cr__backoff_now(&fake, &o, &fs, 0.69, CR_FIT_SELECT, 0));
    {
        cr_dataset ds;
        cr_synth_opts so;
        cr_config c;
        cr_model *m = NULL;
        int64_t i, n;
        memset(&so, 0, sizeof so);
        memset(&c, 0, sizeof c);
        so.n_users = 40;
        so.n_items = 80;
        so.mean_len = 6;
        so.n_clusters = 4;
        so.seed = 3;
        CHECK_OK(cr_dataset_synthetic(&ds, &so, 0, 0.2));
        c.model = CR_MODEL_SGL;
        c.dim = 4;
        CHECK_OK(cr_model_create(&m, &c, &ds));
        n = cr_model_num_params(m);
        fs.best = cr_alloc_floats(n);
        for (i = 0; i < n; i++) { fs.best[i] = (float)i; m->adam_m[i] = m->adam_v[i] = 1; }
        m->step = 7;
        fs.below = fs.since = 3;
        fs.last[0] = fs.last[1] = 0.5;
        cr__backoff(m, &fs);
        CHECK(m->cfg.lambda == 0.05f && fs.lambda == 0.05f && fs.backoffs == 1 && fs.below == 0 && fs.since == 0);
        CHECK(fs.last[0] == -1 && fs.last[1] == -1 && m->step == 0);
        for (i = 0; i < n; i++)
            if (cr_model_params(m)[i] != (float)i || m->adam_m[i] != 0 || m->adam_v[i] != 0) break;
        CHECKF(i == n, "parameter %lld not restored or Adam not cleared", (long long)i);
        cr__free_aligned(fs.best);
        cr_model_free(m);
        cr_dataset_free(&ds);
    }
}

/* Adam's vectorised update against the scalar loop it replaces, on a span whose start and length
   are not multiples of any vector width: the same bits (the test is ISO C, compiled without
   contraction, as the library's scalar loop), a NaN reported whatever lane it falls in, the
   gradient cleared, nothing outside the span touched. */
TEST(adam_span_matches_the_scalar_loop) {
    enum { N = 1003, A = 5 };
    static float p[N], g[N], m1[N], m2[N], rp[N], rg[N], rm1[N], rm2[N];
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, scale = 0.75f, step = 1.3e-3f, rbc2 = 1.7f;
    cr_rng st = cr_rng_stream(99, 0);
    int i, lane;
    for (i = 0; i < N; i++) {
        p[i] = rp[i] = cr_rng_float(&st) - 0.5f;
        g[i] = rg[i] = (cr_rng_float(&st) - 0.5f) * 1e-2f;
        m1[i] = rm1[i] = (cr_rng_float(&st) - 0.5f) * 1e-3f;
        m2[i] = rm2[i] = cr_rng_float(&st) * 1e-5f;
    }
    CHECK(cr__adam_span(p, g, m1, m2, A, N, scale, step, rbc2) == 0);
    for (i = A; i < N; i++) {
        float gi = rg[i] * scale;
        rm1[i] = b1 * rm1[i] + (1.0f - b1) * gi;
        rm2[i] = b2 * rm2[i] + (1.0f - b2) * gi * gi;
        rp[i] -= step * rm1[i] / (sqrtf(rm2[i]) * rbc2 + eps);
        rg[i] = 0;
    }
    CHECK(!memcmp(p, rp, sizeof p) && !memcmp(g, rg, sizeof g));
    CHECK(!memcmp(m1, rm1, sizeof m1) && !memcmp(m2, rm2, sizeof m2));
    for (lane = 0; lane < 20; lane++) {
        g[A + 100 + lane] = NAN;
        CHECKF(!(cr__adam_span(p, g, m1, m2, A, N, scale, step, rbc2) == 0), "NaN at %d not reported", A + 100 + lane);
        p[A + 100 + lane] = m1[A + 100 + lane] = m2[A + 100 + lane] = 0;
    }
}

const crt_case crt_aug[] = {
    {"aug/edge_dropout_keeps_floor_of_the_rest", edge_dropout_keeps_floor_of_the_rest},
    {"aug/node_dropout_drops_floor_rho_nodes", node_dropout_drops_floor_rho_nodes},
    {"aug/rw_subgraph_keeps_the_ratio", rw_subgraph_keeps_the_ratio},
    {"aug/feature_mask_zeroes_the_masked_columns", feature_mask_zeroes_the_masked_columns},
    {"aug/sequence_augmentations_keep_their_contracts", sequence_augmentations_keep_their_contracts},
    {"fit/early_stop_survives_the_dip", early_stop_survives_the_dip},
    {"fit/contrast_backoff_rule", contrast_backoff_rule},
    {"fit/adam_span_matches_the_scalar_loop", adam_span_matches_the_scalar_loop},
    {NULL, NULL}};
