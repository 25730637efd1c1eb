/* evaluation metrics, top-k, checkpoints, export, determinism, numerical faults */
#include "test.h"
#include <stdlib.h>

/* A 3-user, 6-item dataset whose MF embeddings are set by hand (dim 2), so every score and
   metric can be computed on paper. */
static cr_dataset toy(void) {
    cr_dataset ds;
    int e;
    static const int tr[][2] = {{0, 0}, {0, 1}, {1, 2}, {2, 3}, {2, 4}};
    memset(&ds, 0, sizeof ds);
    ds.n_users = 3;
    ds.n_items = 6;
    for (e = 0; e < 5; e++) cr_interactions_push(&ds.train, tr[e][0], tr[e][1], 1, e);
    cr_idmap_identity(&ds.users, 3);
    cr_idmap_identity(&ds.items, 6);
    return ds;
}

TEST(metrics_on_a_hand_computed_ranking) {
    cr_dataset ds = toy();
    cr_model *m;
    cr_config c;
    cr_interactions te;
    cr_eval_opts eo;
    cr_metrics mt;
    float p[9 * 2];
    double idcg2 = 1.0 + 1.0 / log2(3.0);
    memset(&c, 0, sizeof c);
    memset(&te, 0, sizeof te);
    memset(&eo, 0, sizeof eo);
    c.model = CR_MODEL_MF;
    c.dim = 2;
    CHECK_OK(cr_model_create(&m, &c, &ds));
    CHECK(cr_model_num_params(m) == 18);
    /* users: u0 = (1, 0), u1 = (0, 1), u2 = (1, 1); items i0..i5 = (5,0) (4,0) (3,0) (0,3) (2,0) (1,0)
       u0 scores: 5 4 3 0 2 1, train {0,1} masked -> ranking: i2 (3), i4 (2), i5 (1), i3 (0)
       u1 scores: 0 0 0 3 0 0, train {2} masked -> ranking: i3, then ties i0 i1 i4 i5 by id
       u2 scores: 5 4 3 3 2 1, train {3,4} masked -> ranking: i0, i1, i2, i5 */
    {
        static const float v[18] = {1, 0, 0, 1, 1, 1, 5, 0, 4, 0, 3, 0, 0, 3, 2, 0, 1, 0};
        memcpy(p, v, sizeof v);
    }
    cr_model_set_params(m, p);
    cr_interactions_push(&te, 0, 5, 1, 0); /* u0: test {5, 3}: ranks 3 and 4 */
    cr_interactions_push(&te, 0, 3, 1, 0);
    cr_interactions_push(&te, 1, 1, 1, 0); /* u1: test {1}: rank 3 (i3, i0, i1) */
    cr_interactions_push(&te, 2, 0, 1, 0); /* u2: test {0}: rank 1 */
    eo.ks[0] = 1;
    eo.ks[1] = 3;
    CHECK_OK(cr_evaluate(m, &te, &eo, &mt));
    CHECK(mt.users == 3 && mt.test_interactions == 4 && mt.n_k == 2);
    /* @1: only u2 hits */
    CHECK_NEAR(mt.recall[0], (0 + 0 + 1) / 3.0, 1e-12);
    CHECK_NEAR(mt.precision[0], 1 / 3.0, 1e-12);
    CHECK_NEAR(mt.ndcg[0], 1 / 3.0, 1e-12);
    CHECK_NEAR(mt.hit[0], 1 / 3.0, 1e-12);
    CHECK_NEAR(mt.hit_inter[0], 1 / 4.0, 1e-12);
    CHECK_NEAR(mt.mrr[0], 1 / 3.0, 1e-12);
    /* @3: u0 hits i5 at rank 3 (1 of 2), u1 hits i1 at rank 3, u2 at rank 1 */
    CHECK_NEAR(mt.recall[1], (0.5 + 1 + 1) / 3.0, 1e-12);
    CHECK_NEAR(mt.precision[1], (1 + 1 + 1) / 9.0, 1e-12);
    CHECK_NEAR(mt.ndcg[1], ((1 / log2(4.0)) / idcg2 + (1 / log2(4.0)) / 1.0 + 1.0) / 3.0, 1e-12);
    CHECK_NEAR(mt.hit[1], 1.0, 1e-12);
    CHECK_NEAR(mt.mrr[1], (1 / 3.0 + 1 / 3.0 + 1) / 3.0, 1e-12);
    /* the popularity reference: every item has degree 1 but i5 (0), so the order is 0..5 by id.
       u0 (train {0,1} masked): 2, 3, 4 -> test 3 at rank 2 (1 of 2); u1 ({2} masked): 0, 1, 3 ->
       test 1 at rank 2; u2 ({3,4} masked): 0, 1, 2 -> test 0 at rank 1 */
    CHECK_NEAR(mt.pop_recall[0], 1 / 3.0, 1e-12);
    CHECK_NEAR(mt.pop_ndcg[0], 1 / 3.0, 1e-12);
    CHECK_NEAR(mt.pop_recall[1], (0.5 + 1 + 1) / 3.0, 1e-12);
    CHECK_NEAR(mt.pop_ndcg[1], ((1 / log2(3.0)) / idcg2 + 1 / log2(3.0) + 1.0) / 3.0, 1e-12);
    /* alignment over the 4 test pairs: (u0, i5) 0, (u0, i3) 2, (u1, i1) 2, (u2, i0) 2 - sqrt 2 */
    CHECK_NEAR(mt.alignment, (6.0 - sqrt(2.0)) / 4.0, 1e-6);
    {   /* uniformity of unit vectors at 0, 90 and 180 degrees: log((2 e^-4 + e^-8) / 3) */
        static const float v[6] = {1, 0, 0, 1, -1, 0};
        CHECK_NEAR(cr_uniformity(v, 3, 2), log((2 * exp(-4.0) + exp(-8.0)) / 3.0), 1e-6);
        CHECK_NEAR(cr_uniformity(v, 3, 2), -4.396349, 1e-6);
    }
    /* AUC. u0: candidates {2,3,4,5}, positives {5 (score 1), 3 (score 0)}, negatives {2 (3), 4 (2)}
       -> 0 of 4 pairs right. u1: candidates {0,1,3,4,5}, positive 1 (0), negatives 0 (0, tie),
       3 (3), 4 (0, tie), 5 (0, tie) -> 1.5 of 4. u2: candidates {0,1,2,5}, positive 0 (5) beats
       all 3 -> 1. */
    CHECK_NEAR(mt.auc, (0.0 + 1.5 / 4.0 + 1.0) / 3.0, 1e-12);
    /* top-k with raw ids; ties broken by the lower id */
    {
        int64_t it[4];
        float sc[4];
        int n;
        CHECK_OK(cr_recommend(m, 1, 4, 1, it, sc, &n));
        CHECK(n == 4 && it[0] == 3 && it[1] == 0 && it[2] == 1 && it[3] == 4);
        CHECK_OK(cr_recommend(m, 1, 2, 0, it, sc, &n)); /* seen item 2 allowed back */
        CHECK(n == 2 && it[0] == 3 && it[1] == 0);
        CHECK_FAILS(cr_recommend(m, 77, 2, 1, it, sc, &n), CR_ERR_INVALID, "user 77 is not known");
        CHECK_FAILS(cr_recommend(m, 1, 7, 1, it, sc, &n), CR_ERR_INVALID, "k = 7");
    }
    eo.ks[0] = 3;
    eo.ks[1] = 2;
    CHECK_FAILS(cr_evaluate(m, &te, &eo, &mt), CR_ERR_INVALID, "ascend");
    cr_interactions_free(&te);
    cr_model_free(m);
    cr_dataset_free(&ds);
}

/* The streamed ranking against a naive one on shapes that end inside a tile, a block of users
   and a k-slice: small integer embeddings make every score exact in any summation order and
   give many ties, so the reference (plain loops, sorting by score then id) must agree exactly.
   Known items (training and an extra split, some of them test items) are left out, or only
   some items are ranked; the figures are the same on 1 and 2 threads, bit for bit. */
static uint32_t rk_next(uint32_t *s) { *s = *s * 1664525u + 1013904223u; return *s >> 8; }

typedef struct rk_case { int nu, ni, d, only; } rk_case;

/* ord[0..n) sorted by key descending, then by index (insertion sort: the reference is plain). */
static void rk_order(int *ord, int n, const double *key) {
    int a, b;
    for (a = 1; a < n; a++)
        for (b = a; b > 0 && (key[ord[b - 1]] < key[ord[b]] || (key[ord[b - 1]] == key[ord[b]] && ord[b - 1] > ord[b]));
             b--) {
            int t = ord[b];
            ord[b] = ord[b - 1];
            ord[b - 1] = t;
        }
}

/* The reference figures: recall, NDCG, MRR at each K, AUC, popularity recall and NDCG at each K,
   per-user recall and NDCG at the largest K (indexed by user). */
static void rk_reference(const rk_case *c, const float *P, const uint8_t *known, const uint8_t *test,
                         const uint8_t *only, const int *ks, int nk, double *fig, double *pu_rec, double *pu_ndcg) {
    const float *U = P, *V = P + (int64_t)c->nu * c->d;
    int *ord = (int *)malloc(sizeof(int) * c->ni), *pop = (int *)malloc(sizeof(int) * c->ni);
    double *s = (double *)malloc(sizeof(double) * c->ni), *deg = (double *)calloc(c->ni, sizeof(double)), n_auc = 0;
    int u, i, j, a, kk, users = 0;
    memset(fig, 0, sizeof(double) * (3 * nk + 1 + 2 * nk));
    for (u = 0; u < c->nu; u++)
        for (i = 0; i < c->ni; i++) deg[i] += known[(int64_t)u * c->ni + i] == 1; /* 1: training, 2: extra */
    for (i = 0; i < c->ni; i++) pop[i] = i;
    rk_order(pop, c->ni, deg);
    for (u = 0; u < c->nu; u++) {
        const uint8_t *kn = known + (int64_t)u * c->ni, *te = test + (int64_t)u * c->ni;
        int nt = 0, nc = 0, valid = 0;
        double bad = 0;
        for (i = 0; i < c->ni; i++) nt += te[i] && (!only || only[i]);
        if (!nt) continue;
        users++;
        for (i = 0; i < c->ni; i++) {
            double x = 0;
            int p;
            for (p = 0; p < c->d; p++) x += (double)U[(int64_t)u * c->d + p] * V[(int64_t)i * c->d + p];
            s[i] = x;
            if (!kn[i] && (!only || only[i])) ord[nc++] = i;
        }
        rk_order(ord, nc, s);
        for (kk = 0; kk < nk; kk++) {
            double dcg = 0, idcg = 0, mrr = 0, hits = 0, pdcg = 0, phits = 0;
            int q, np = 0;
            for (q = 0; q < ks[kk] && q < nc; q++)
                if (te[ord[q]]) {
                    hits++;
                    dcg += 1 / log2(q + 2.0);
                    if (mrr == 0) mrr = 1.0 / (q + 1);
                }
            for (q = 0; q < ks[kk] && q < nt; q++) idcg += 1 / log2(q + 2.0);
            for (a = 0; a < c->ni && np < ks[kk]; a++) {
                if (kn[pop[a]] || (only && !only[pop[a]])) continue;
                if (te[pop[a]]) {
                    phits++;
                    pdcg += 1 / log2(np + 2.0);
                }
                np++;
            }
            fig[3 * kk] += hits / nt, fig[3 * kk + 1] += dcg / idcg, fig[3 * kk + 2] += mrr;
            fig[3 * nk + 1 + 2 * kk] += phits / nt, fig[3 * nk + 2 + 2 * kk] += pdcg / idcg;
            if (kk == nk - 1) pu_rec[u] = hits / nt, pu_ndcg[u] = dcg / idcg;
        }
        for (i = 0; i < c->ni; i++) { /* AUC: test items ranked against the candidates that are not test items */
            double above = 0, eq = 0;
            if (!te[i] || kn[i] || (only && !only[i])) continue;
            valid++;
            for (j = 0; j < nc; j++)
                if (!te[ord[j]]) {
                    above += s[ord[j]] > s[i];
                    eq += s[ord[j]] == s[i];
                }
            bad += above + 0.5 * eq;
        }
        if (valid && nc - valid > 0) {
            fig[3 * nk] += 1 - bad / ((double)valid * (nc - valid));
            n_auc++;
        }
    }
    for (a = 0; a < 3 * nk; a++) fig[a] /= users;
    for (a = 0; a < 2 * nk; a++) fig[3 * nk + 1 + a] /= users;
    fig[3 * nk] /= n_auc;
    free(ord);
    free(pop);
    free(deg);
    free(s);
}

static void rk_run(const rk_case *c) {
    cr_dataset ds;
    cr_interactions te, extra;
    cr_config cf;
    cr_model *m;
    cr_eval_opts eo;
    cr_metrics mt[2];
    uint32_t seed = 7u + (uint32_t)c->ni;
    uint8_t *known = (uint8_t *)calloc((size_t)c->nu * c->ni, 1), *test = (uint8_t *)calloc((size_t)c->nu * c->ni, 1);
    uint8_t *only = NULL;
    float *P = (float *)malloc(sizeof(float) * (size_t)(c->nu + c->ni) * c->d);
    double fig[16], *pu = (double *)malloc(sizeof(double) * 2 * c->nu * CR_PER_USER), *rec, *ndcg;
    int ks[2] = {5, 40}, u, i, k, th;
    rec = (double *)calloc((size_t)c->nu, sizeof(double));
    ndcg = (double *)calloc((size_t)c->nu, sizeof(double));
    memset(&ds, 0, sizeof ds), memset(&te, 0, sizeof te), memset(&extra, 0, sizeof extra);
    for (u = 0; u < c->nu; u++) { /* up to 30 training, 6 test, 4 extra items; some test items are known too */
        int ntr = (int)(rk_next(&seed) % 31), nte = (int)(rk_next(&seed) % 7), nex = (int)(rk_next(&seed) % 5);
        for (k = 0; k < ntr || !k; k++) {
            i = (int)(rk_next(&seed) % c->ni);
            if (known[(int64_t)u * c->ni + i]) continue;
            known[(int64_t)u * c->ni + i] = 1;
            cr_interactions_push(&ds.train, u, i, 1, k);
        }
        for (k = 0; k < nex; k++) {
            i = (int)(rk_next(&seed) % c->ni);
            if (known[(int64_t)u * c->ni + i]) continue;
            known[(int64_t)u * c->ni + i] = 2;
            cr_interactions_push(&extra, u, i, 1, k);
        }
        for (k = 0; k < nte; k++) {
            i = (int)(rk_next(&seed) % c->ni);
            if (test[(int64_t)u * c->ni + i]) continue;
            test[(int64_t)u * c->ni + i] = 1;
            cr_interactions_push(&te, u, i, 1, k);
        }
    }
    ds.n_users = c->nu, ds.n_items = c->ni;
    cr_idmap_identity(&ds.users, c->nu);
    cr_idmap_identity(&ds.items, c->ni);
    for (i = 0; i < (c->nu + c->ni) * c->d; i++) P[i] = (float)((int)(rk_next(&seed) % 5) - 2);
    if (c->only) {
        only = (uint8_t *)malloc((size_t)c->ni);
        for (i = 0; i < c->ni; i++) only[i] = rk_next(&seed) % 3 != 0;
    }
    memset(&cf, 0, sizeof cf);
    cf.model = CR_MODEL_MF;
    cf.dim = c->d;
    CHECK_OK(cr_model_create(&m, &cf, &ds));
    cr_model_set_params(m, P);
    memset(&eo, 0, sizeof eo);
    eo.ks[0] = ks[0], eo.ks[1] = ks[1];
    eo.history_extra = &extra;
    eo.items_only = only;
    rk_reference(c, P, known, test, only, ks, 2, fig, rec, ndcg);
    th = cr_get_num_threads();
    for (k = 0; k < 2; k++) {
        cr_set_num_threads(k + 1);
        eo.per_user = pu + (size_t)k * c->nu * CR_PER_USER;
        CHECK_OK(cr_evaluate(m, &te, &eo, &mt[k]));
    }
    cr_set_num_threads(th);
    for (k = 0; k < 2; k++) {
        CHECK_NEAR(mt[0].recall[k], fig[3 * k], 1e-12);
        CHECK_NEAR(mt[0].ndcg[k], fig[3 * k + 1], 1e-12);
        CHECK_NEAR(mt[0].mrr[k], fig[3 * k + 2], 1e-12);
        CHECK_NEAR(mt[0].pop_recall[k], fig[7 + 2 * k], 1e-12);
        CHECK_NEAR(mt[0].pop_ndcg[k], fig[8 + 2 * k], 1e-12);
    }
    CHECK_NEAR(mt[0].auc, fig[6], 1e-12);
    for (u = 0; u < (int)mt[0].users; u++) {
        const double *o = pu + (size_t)u * CR_PER_USER;
        CHECK_NEAR(o[2], rec[(int)o[0]], 1e-12);
        CHECK_NEAR(o[3], ndcg[(int)o[0]], 1e-12);
    }
    CHECK(mt[0].recall[1] > 0 && mt[0].auc > 0.2 && mt[0].auc < 0.8); /* the reference ranked something */
    CHECK(mt[0].users == mt[1].users &&
          memcmp(pu, pu + (size_t)c->nu * CR_PER_USER, sizeof(double) * mt[0].users * CR_PER_USER) == 0);
    CHECK(mt[0].recall[1] == mt[1].recall[1] && mt[0].auc == mt[1].auc && mt[0].gini == mt[1].gini);
    cr_model_free(m);
    cr_dataset_free(&ds);
    cr_interactions_free(&te), cr_interactions_free(&extra);
    free(known), free(test), free(only), free(P), free(pu), free(rec), free(ndcg);
}

TEST(ranking_against_a_naive_reference) {
    static const rk_case cases[] = {{450, 700, 300, 0}, {37, 513, 7, 1}, {5, 45, 33, 0}};
    int c;
    for (c = 0; c < 3; c++) rk_run(&cases[c]);
}

/* Groups: SGL's equal-interaction user groups and NGCF's sparsity groups on a hand-made
   dataset, and the invariants of the item groups (contributions sum to Recall, exposure to 1). */
TEST(groups_by_hand) {
    /* users 0..7 with 1, 1, 2, 2, 3, 4, 5, 6 training items and one test item each */
    static const int ntr[8] = {1, 1, 2, 2, 3, 4, 5, 6};
    int64_t tu[24], ti[24], su[8], si[8];
    int u, k, n = 0, g;
    cr_dataset ds;
    cr_config c;
    cr_model *m = NULL;
    cr_metrics mt;
    cr_eval_opts eo;
    double sum = 0, exp_sum = 0;
    int64_t users = 0;
    for (u = 0; u < 8; u++) {
        for (k = 0; k < ntr[u]; k++) { tu[n] = u; ti[n] = (u + k) % 9; n++; }
        su[u] = u;
        si[u] = (u + 7) % 9; /* never one of its training items (u + k, k < 7) */
    }
    CHECK_OK(cr_dataset_from_arrays(&ds, tu, ti, n, su, si, 8, 0));
    CHECK(ds.test.n == 8);
    memset(&c, 0, sizeof c);
    memset(&eo, 0, sizeof eo);
    c.model = CR_MODEL_MF;
    c.dim = 4;
    eo.ks[0] = 3;
    CHECK_OK(cr_model_create(&m, &c, &ds));
    CHECK_OK(cr_evaluate(m, &ds.test, &eo, &mt));
    /* SGL: running sums 1 2 4 6 9 13 18 24 of 24 against k * 2.4 -> groups 0 0 1 2 3 5 7 9 */
    {
        static const int64_t want[10] = {2, 1, 1, 1, 0, 1, 0, 1, 0, 1};
        for (g = 0; g < 10; g++) CHECKF(mt.groups.user_count[g] == want[g], "user group %d has %lld users", g, (long long)mt.groups.user_count[g]);
    }
    /* NGCF: degrees 2 2 3 3 4 5 6 7 (sum 32): {2,2,3,3} = 10 >= 8, {4,5} = 9, {6,7} = 13, {} */
    CHECK(mt.groups.ngcf_count[0] == 4 && mt.groups.ngcf_count[1] == 2 && mt.groups.ngcf_count[2] == 2 && mt.groups.ngcf_count[3] == 0);
    CHECK(mt.groups.ngcf_max_degree[0] == 3 && mt.groups.ngcf_max_degree[1] == 5 && mt.groups.ngcf_max_degree[2] == 7);
    for (g = 0; g < 10; g++) {
        sum += mt.groups.item_contrib[g];
        exp_sum += mt.groups.item_exposure[g];
        users += mt.groups.user_count[g];
    }
    CHECK_NEAR(sum, mt.recall[0], 1e-12);
    CHECK_NEAR(exp_sum, 1.0, 1e-12);
    CHECK(users == mt.users);
    cr_model_free(m);
    cr_dataset_free(&ds);
}

/* The beyond-accuracy metrics on the toy input whose values were worked out from RecBole's and
   Microsoft Recommenders' formulas (items 1..8 here 0..7, K = 3). */
TEST(beyond_accuracy_toy_vectors) {
    static const int32_t tr_u[11] = {0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3}, tr_i[11] = {0, 1, 2, 0, 1, 3, 0, 4, 1, 2, 5};
    static const int32_t te_u[5] = {0, 1, 1, 2, 3}, te_i[5] = {4, 2, 7, 3, 6};
    static const int32_t lists[12] = {3, 4, 6, 2, 4, 5, 1, 2, 3, 0, 3, 4}, users[4] = {0, 1, 2, 3};
    float v[16];
    int i;
    cr_csr tr, te;
    cr_beyond b;
    CHECK_OK(cr_csr_from_coo(&tr, 4, 8, 11, tr_u, tr_i, NULL));
    CHECK_OK(cr_csr_from_coo(&te, 4, 8, 5, te_u, te_i, NULL));
    /* item i at 30 i degrees, lengths 1 or 2 (the cosine ignores them) */
    for (i = 0; i < 8; i++) {
        v[2 * i] = (float)((1 + i % 2) * cos(i * 3.14159265358979 / 6));
        v[2 * i + 1] = (float)((1 + i % 2) * sin(i * 3.14159265358979 / 6));
    }
    CHECK_OK(cr_beyond_accuracy(lists, users, 4, 3, &tr, &te, v, 2, 0.5, 1, &b));
    CHECK_NEAR(b.item_coverage, 0.777778, 1e-6);
    CHECK_NEAR(b.average_popularity, 1.416667, 1e-6);
    CHECK_NEAR(b.shannon_entropy, 0.260011, 1e-6);
    CHECK_NEAR(b.gini_index, 0.425926, 1e-6);
    CHECK_NEAR(b.tail_percentage, 0.583333, 1e-6);
    CHECK_NEAR(b.catalog_coverage, 1.166667, 1e-6);
    CHECK_NEAR(b.distributional_coverage, 2.625815, 1e-6);
    CHECK_NEAR(b.novelty, 2.740319, 1e-6);
    CHECK_NEAR(b.diversity, 0.728695, 1e-6);
    CHECK_NEAR(b.serendipity, 0.175886, 1e-6); /* relevance = a test hit */
    /* pairs at 30 (j - i) degrees: u0 1 - (cos 30 + cos 90 + cos 60) / 3, ... */
    CHECK_NEAR(b.ild_cosine, 0.555823, 1e-6);
    CHECK_OK(cr_beyond_accuracy(lists, users, 4, 3, &tr, NULL, NULL, 0, 2, 1, &b));
    CHECK_NEAR(b.tail_percentage, 0.75, 1e-6); /* ratio 2: counts <= 2 */
    CHECK_NEAR(b.serendipity, 0.771051, 1e-6); /* relevance 1 everywhere */
    CHECK(b.ild_cosine == -1);
    { /* a fifth user with a list but no training items is left out of serendipity */
        static const int32_t lists5[15] = {3, 4, 6, 2, 4, 5, 1, 2, 3, 0, 3, 4, 0, 1, 2}, users5[5] = {0, 1, 2, 3, 4};
        cr_csr tr5;
        CHECK_OK(cr_csr_from_coo(&tr5, 5, 8, 11, tr_u, tr_i, NULL));
        CHECK_OK(cr_beyond_accuracy(lists5, users5, 5, 3, &tr5, NULL, NULL, 0, 2, 1, &b));
        CHECK_NEAR(b.serendipity, 0.771051, 1e-6);
        cr_csr_free(&tr5);
    }
    CHECK_OK(cr_beyond_accuracy(lists, users, 4, 3, &tr, NULL, NULL, 0, 0.1, 0, &b));
    CHECK(b.diversity == -1 && b.serendipity == -1);
    CHECK_NEAR(b.novelty, 2.740319, 1e-6);
    {
        int32_t bad[12];
        memcpy(bad, lists, sizeof bad);
        bad[7] = 8;
        CHECK_FAILS(cr_beyond_accuracy(bad, users, 4, 3, &tr, NULL, NULL, 0, 0.1, 0, &b), CR_ERR_INVALID, "list 2, position 2: item 8");
        CHECK_FAILS(cr_beyond_accuracy(lists, users, 4, 3, &tr, NULL, NULL, 0, -1, 0, &b), CR_ERR_INVALID, "tail_ratio");
    }
    cr_csr_free(&tr);
    cr_csr_free(&te);
}

/* A small trained model of each kind. */
static int trained_proj_head; /* cfg.proj_head of the next trained() model */
static cr_model *trained(cr_model_kind kind, cr_dataset *ds, int epochs) {
    cr_config c;
    cr_synth_opts so;
    cr_model *m = NULL;
    int e;
    memset(&c, 0, sizeof c);
    memset(&so, 0, sizeof so);
    so.n_users = 300;
    so.n_items = 400;
    so.mean_len = 12;
    so.seed = 5;
    c.model = kind;
    c.dim = 16;
    c.batch = cr_model_is_sequential(kind) ? 64 : 512;
    if (cr_model_is_sequential(kind)) c.max_len = 20;
    c.proj_head = trained_proj_head;
    if (cr_dataset_synthetic(ds, &so, cr_model_is_sequential(kind) ? 1 : 0, 0.2) != CR_OK) return NULL;
    if (cr_model_create(&m, &c, ds) != CR_OK) return NULL;
    for (e = 1; e <= epochs; e++)
        if (cr_train_epoch(m, e, NULL, NULL, NULL) != CR_OK) { cr_model_free(m); return NULL; }
    return m;
}

static void roundtrip(cr_model_kind kind) {
    cr_dataset ds;
    cr_model *m = trained(kind, &ds, 2), *m2;
    cr_metrics a, b;
    cr_config want;
    const char *path = crt_tmp("model.crrc");
    CHECKF(m != NULL, "training failed: %s", cr_last_error());
    CHECK_OK(cr_evaluate(m, &ds.test, NULL, &a));
    CHECK_OK(cr_model_save(m, path));
    memset(&want, 0, sizeof want);
    want.model = kind;
    CHECK_OK(cr_model_load(&m2, path, &want));
    CHECK_OK(cr_evaluate(m2, &ds.test, NULL, &b));
    a.seconds = b.seconds = 0;
    memset(&a.cost, 0, sizeof a.cost); /* a measurement: time, and work a cached model skips */
    memset(&b.cost, 0, sizeof b.cost);
    CHECKF(memcmp(&a, &b, sizeof a) == 0, "metrics differ after reload: recall %g vs %g", a.recall[0], b.recall[0]);
    CHECK(cr_model_num_params(m2) == cr_model_num_params(m));
    CHECK(memcmp(cr_model_params(m), cr_model_params(m2), sizeof(float) * (size_t)cr_model_num_params(m)) == 0);
    cr_model_free(m2);
    cr_model_free(m);
    cr_dataset_free(&ds);
}

TEST(checkpoint_roundtrip_graph) { roundtrip(CR_MODEL_XSIMGCL); }
TEST(checkpoint_roundtrip_sequence) { roundtrip(CR_MODEL_CL4SREC); }
TEST(checkpoint_roundtrip_recdcl) { roundtrip(CR_MODEL_RECDCL); } /* projector and predictor tensors */
/* Without its default projection head: "off" is stored as 0, which must not reload as "default". */
TEST(checkpoint_roundtrip_sequence_no_head) {
    trained_proj_head = -1;
    roundtrip(CR_MODEL_CL4SREC);
    trained_proj_head = 0;
}

/* Every configuration field survives a save and a load, "off" values included (a saved 0 must
   not come back as the default): each model below is given every option it reads, set away from
   its default through cr_config_set, and together they give every option of the table. */
static const char *const every_option[][2] = {
    {"ncl", "dim=12 layers=4 lstar=4 batch=64 lr=0.004 reg=0 tau=0.3 lambda=0.01 clip=5 seed=99 proj_head=on "
            "neg=dns neg_candidates=7 cl_negatives=3 proto_reg=0 ssl_alpha=2 clusters=5 warmup=0 attr_w=0.5 "
            "attr_tau=0.3 fm_w=0.1 fm_rate=0.25 fm_corr=correlated init=xavier l2_recbole=1 precision=bf16 "
            "item_repr=id+features"},
    {"sgl", "aug=rw drop=0 view_every=4 rw_len=5 rw_restart=0 neg=mixgcf tau=0.5 lambda=0"},
    {"recdcl", "bt_off=0.02 poly_w=0 bcl_w=3 momentum=0 reg=0 lambda=2 init=fixed"},
    {"rcl", "tau_plus=0 nce_mu=0.2 nce_sigma=0.5 nce_est=dcl nce_mask=off gamma=0 adv=prev eps=0 l2_selfrec=1"},
    {"cl4srec", "max_len=7 hidden=10 gru_layers=2 proj_head=off seq_aug=insert,substitute neg_samples=20 dropout=0 "
                "aug_rate=0.3 crop_keep=0.5"},
};

static cr_status set_line(cr_config *c, const char *model, const char *line) {
    cr_status st;
    memset(c, 0, sizeof *c);
    if ((st = cr_config_set(c, "model", model)) != CR_OK) return st;
    while (*line) { /* "name=value name=value ..." */
        char name[64], value[128];
        size_t n = strcspn(line, "="), v;
        if (!line[n] || n >= sizeof name) return CR_ERR_INVALID;
        memcpy(name, line, n);
        name[n] = 0;
        line += n + 1;
        v = strcspn(line, " ");
        if (v >= sizeof value) return CR_ERR_INVALID;
        memcpy(value, line, v);
        value[v] = 0;
        line += v;
        while (*line == ' ') line++;
        if ((st = cr_config_set(c, name, value)) != CR_OK) return st;
    }
    return CR_OK;
}

/* "name=value" with a value of the option other than the model's default: its explicit zero
   when it has one, else another name or a number inside its range. */
static void away_from_default(const cr_option *o, cr_model_kind k, char *line, size_t n) {
    double d = cr_option_default(o, k), v;
    if (o->off != 0) { snprintf(line, n, "%s=0", o->name); return; }
    if (o->names) { /* the first name whose value is not the default */
        const char *p = o->names;
        while (*p && strtod(strchr(p, '=') + 1, NULL) == d) p = strchr(p, ' ') ? strchr(p, ' ') + 1 : p + strlen(p);
        snprintf(line, n, "%s=%.*s", o->name, (int)(strchr(*p ? p : o->names, '=') - (*p ? p : o->names)),
                 *p ? p : o->names);
        return;
    }
    if (o->type == CR_OPT_FLOAT) v = d > o->lo ? (o->lo + d) / 2 : d + 0.5;
    else v = d + 1 <= o->hi ? d + 1 : o->lo;
    snprintf(line, n, "%s=%.9g", o->name, v);
}

TEST(checkpoint_keeps_every_configuration_field) {
    cr_dataset ds, dsq;
    cr_synth_opts so;
    const char *path = crt_tmp("fields.crrc");
    size_t k;
    int i;
    memset(&so, 0, sizeof so);
    so.n_users = 60;
    so.n_items = 100;
    so.mean_len = 8;
    CHECK_OK(cr_dataset_synthetic(&ds, &so, 0, 0.2));
    CHECK_OK(cr_dataset_synthetic(&dsq, &so, 1, 0.2));
    CHECK_OK(crt_synth_features(&ds));
    for (i = 0; i < cr_option_count(); i++) { /* an option none of the lines above sets: a value of its own */
        const cr_option *o = cr_option_at(i);
        char key[64], line[128];
        int seen = 0;
        cr_model_kind who = (cr_model_kind)0;
        cr_config c;
        cr_model *m = NULL, *m2 = NULL;
        snprintf(key, sizeof key, "%s=", o->name);
        for (k = 0; k < sizeof every_option / sizeof every_option[0]; k++) {
            const char *p = strstr(every_option[k][1], key);
            seen |= p && (p == every_option[k][1] || p[-1] == ' ');
        }
        for (k = 1; !seen && !who && cr_model_name((cr_model_kind)k)[0] != '?'; k++)
            if (cr_option_reads(o, (cr_model_kind)k)) who = (cr_model_kind)k;
        if (seen || !who) continue;
        away_from_default(o, who, line, sizeof line);
        CHECKF(set_line(&c, cr_model_name(who), line) == CR_OK, "%s: %s", line, cr_last_error());
        CHECKF(cr_model_create(&m, &c, cr_model_is_sequential(who) ? &dsq : &ds) == CR_OK, "%s: %s", line,
               cr_last_error());
        CHECK_OK(cr_model_save(m, path));
        CHECK_OK(cr_model_load(&m2, path, NULL));
        CHECKF(memcmp(cr_model_config(m), cr_model_config(m2), sizeof c) == 0, "%s: the loaded configuration differs",
               line);
        cr_model_free(m);
        cr_model_free(m2);
    }
    for (k = 0; k < sizeof every_option / sizeof every_option[0]; k++) {
        cr_config c, r1;
        cr_model *m = NULL, *m2 = NULL;
        int seq;
        CHECKF(set_line(&c, every_option[k][0], every_option[k][1]) == CR_OK, "%s: %s", every_option[k][0], cr_last_error());
        seq = cr_model_is_sequential(c.model);
        CHECKF(cr_model_create(&m, &c, seq ? &dsq : &ds) == CR_OK, "%s: %s", every_option[k][0], cr_last_error());
        r1 = *cr_model_config(m);
        if (c.model == CR_MODEL_NCL) CHECK(r1.reg == 0 && r1.proto_reg == 0 && r1.warmup == 0 && r1.proj_head == 1);
        if (c.model == CR_MODEL_RECDCL) CHECK(r1.poly_w == 0 && r1.momentum == 0 && r1.reg == 0);
        if (c.model == CR_MODEL_RCL) CHECK(r1.nce_mask == 0 && r1.adv == CR_ADV_PREV && r1.eps == 0 && r1.tau_plus == 0);
        if (c.model == CR_MODEL_CL4SREC) CHECK(r1.proj_head == 0 && r1.dropout == 0);
        CHECK_OK(cr_model_save(m, path));
        CHECK_OK(cr_model_load(&m2, path, NULL));
        CHECKF(memcmp(&r1, cr_model_config(m2), sizeof r1) == 0, "%s: the loaded configuration differs", every_option[k][0]);
        cr_model_free(m);
        cr_model_free(m2);
    }
    cr_dataset_free(&ds);
    cr_dataset_free(&dsq);
}

/* The line cr_config_format prints, read back option by option, is the same configuration, bit
   for bit: every model with its defaults and with every option it reads set (the lines above);
   it names only the options the model reads, enums by name. */
/* cr_config_set's text: an explicit zero by "0" or "off", numbers out of an enum's reach and
   floats that would round to 0 (the default's mark) refused; a refusal names the readers. */
TEST(config_set_reads_text) {
    cr_config c;
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_SGL;
    CHECK_OK(cr_config_set(&c, "lambda", "off"));
    CHECK(c.lambda == CR_OFF);
    CHECK_OK(cr_config_set(&c, "--view-every", "3"));
    CHECK_OK(cr_config_set(&c, "aug", "3"));
    CHECK(c.view_every == 3 && c.aug == CR_AUG_RW);
    CHECK_FAILS(cr_config_set(&c, "aug", "1e30"), CR_ERR_INVALID, "option aug: '1e30' is out of range");
    CHECK_FAILS(cr_config_set(&c, "lambda", "1e-50"), CR_ERR_INVALID, "is below float precision");
    CHECK_FAILS(cr_config_set(&c, "dim", "12.5"), CR_ERR_INVALID, "is not an integer");
    CHECK_FAILS(cr_config_set(&c, "bogus", "1"), CR_ERR_INVALID, "unknown option 'bogus'");
    CHECK_OK(cr_config_resolve(&c));
    CHECK(c.lambda == 0 && c.view_every == 3);
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_LIGHTGCN;
    CHECK_OK(cr_config_set(&c, "lambda", "0.5"));
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "read by sgl simgcl xsimgcl cl4srec ncl recdcl rcl)");
}

TEST(config_line_round_trips) {
    int k, j;
    for (k = 1; cr_model_name((cr_model_kind)k)[0] != '?'; k++)
        for (j = -1; j < (int)(sizeof every_option / sizeof every_option[0]); j++) {
            cr_config a, b;
            char line[4096];
            int n;
            if (j >= 0 && cr_model_parse(every_option[j][0]) != (cr_model_kind)k) continue;
            CHECK_OK(set_line(&a, cr_model_name((cr_model_kind)k), j >= 0 ? every_option[j][1] : ""));
            CHECK_OK(cr_config_resolve(&a));
            n = cr_config_format(&a, line, sizeof line);
            CHECK(n > 0 && n < (int)sizeof line && !strncmp(line, "model=", 6));
            CHECKF(set_line(&b, "mf", line) == CR_OK, "%s: %s", line, cr_last_error());
            CHECK_OK(cr_config_resolve(&b));
            CHECKF(memcmp(&a, &b, sizeof a) == 0, "%s does not read back to the same configuration", line);
            if (k == CR_MODEL_MF) CHECK(!strstr(line, " layers=") && !strstr(line, "max_len") && !strstr(line, " lambda="));
            if (k == CR_MODEL_SGL && j < 0) CHECK(strstr(line, " aug=ed") != NULL && strstr(line, " neg=uniform") != NULL);
        }
}

static long file_size(const char *p) {
    FILE *f = fopen(p, "rb");
    long n;
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fclose(f);
    return n;
}

static char *slurp(const char *p, long *n) {
    FILE *f = fopen(p, "rb");
    char *b;
    *n = file_size(p);
    b = (char *)malloc((size_t)*n + 1);
    if (fread(b, 1, (size_t)*n, f) != (size_t)*n) *n = -1;
    fclose(f);
    return b;
}

TEST(checkpoint_refuses_bad_files) {
    cr_dataset ds;
    cr_model *m = trained(CR_MODEL_LIGHTGCN, &ds, 1), *m2 = NULL;
    const char *good = "build/test-tmp/good.crrc", *bad = "build/test-tmp/bad.crrc";
    cr_config want;
    char *img;
    long n;
    CHECK(m != NULL);
    CHECK_OK(cr_model_save(m, good));
    img = slurp(good, &n);
    CHECK(n > 1000);
    crt_write("bad.crrc", img, n / 2); /* truncated */
    CHECK_FAILS(cr_model_load(&m2, bad, NULL), CR_ERR_FORMAT, "corrupted or truncated");
    CHECK(m2 == NULL);
    img[n / 3] ^= 0x10; /* one flipped bit */
    crt_write("bad.crrc", img, n);
    CHECK_FAILS(cr_model_load(&m2, bad, NULL), CR_ERR_FORMAT, "checksum mismatch");
    img[n / 3] ^= 0x10;
    img[4] = 9; /* another format version */
    crt_write("bad.crrc", img, n);
    CHECK_FAILS(cr_model_load(&m2, bad, NULL), CR_ERR_FORMAT, "version 9");
    img[4] = 1;
    crt_write("bad.crrc", "PK\3\4 not a checkpoint", 22);
    CHECK_FAILS(cr_model_load(&m2, bad, NULL), CR_ERR_FORMAT, "bad magic");
    crt_write("bad.crrc", "", 0);
    CHECK_FAILS(cr_model_load(&m2, bad, NULL), CR_ERR_FORMAT, "bad magic");
    memset(&want, 0, sizeof want);
    want.model = CR_MODEL_SGL;
    CHECK_FAILS(cr_model_load(&m2, good, &want), CR_ERR_FORMAT, "holds a lightgcn model, not the sgl model");
    want.model = CR_MODEL_LIGHTGCN;
    want.dim = 32;
    CHECK_FAILS(cr_model_load(&m2, good, &want), CR_ERR_FORMAT, "has dim 16, not the 32");
    CHECK_FAILS(cr_model_load(&m2, crt_tmp("missing.crrc"), NULL), CR_ERR_IO, "cannot open");
    /* a failed save leaves the previous file untouched */
    CHECK_FAILS(cr_model_save(m, "build/test-tmp/no-such-dir/x.crrc"), CR_ERR_IO, "cannot create");
    crt_write("good.crrc.tmp", "half-written junk", 17); /* a save killed midway */
    want.dim = 0;
    CHECK_OK(cr_model_load(&m2, good, &want));
    cr_model_free(m2);
    free(img);
    cr_model_free(m);
    cr_dataset_free(&ds);
}

TEST(npy_export) {
    cr_dataset ds;
    cr_model *m = trained(CR_MODEL_MF, &ds, 1);
    long n;
    char *img;
    CHECK(m != NULL);
    CHECK_OK(cr_model_export_npy(m, "build/test-tmp"));
    img = slurp(crt_tmp("item_emb.npy"), &n);
    CHECK(n == 128 + 400 * 16 * 4); /* header padded to 64 bytes: 128 here */
    CHECK(memcmp(img, "\x93NUMPY\x01\x00", 8) == 0);
    CHECK(strstr(img + 10, "'descr': '<f4', 'fortran_order': False, 'shape': (400, 16), }") != NULL);
    CHECK(img[127] == '\n');
    free(img);
    img = slurp(crt_tmp("user_ids.npy"), &n);
    CHECK(n == 128 + 300 * 8 && strstr(img + 10, "'<i8'") != NULL);
    free(img);
    CHECK_FAILS(cr_model_export_npy(m, "build/test-tmp/no-such-dir"), CR_ERR_IO, "cannot create");
    cr_model_free(m);
    cr_dataset_free(&ds);
}

TEST(fold_in_and_history_recommendations) {
    cr_dataset ds;
    cr_model *m = trained(CR_MODEL_LIGHTGCN, &ds, 2);
    int64_t given[3] = {3, 17, 99999}, out[10];
    float sc[10];
    int n, unk, i;
    CHECK(m != NULL);
    CHECK_OK(cr_recommend_items(m, given, 3, 10, out, sc, &n, &unk));
    CHECK(n == 10 && unk == 1);
    for (i = 0; i < n; i++) CHECK(out[i] != 3 && out[i] != 17 && (i == 0 || sc[i] <= sc[i - 1]));
    CHECK_FAILS(cr_recommend_items(m, given + 2, 1, 10, out, sc, &n, &unk), CR_ERR_INVALID, "none of the 1 given items");
    cr_model_free(m);
    cr_dataset_free(&ds);
    m = trained(CR_MODEL_GRU4REC, &ds, 1);
    CHECK(m != NULL);
    CHECK_OK(cr_recommend_items(m, given, 2, 10, out, sc, &n, &unk));
    CHECK(n == 10 && unk == 0);
    CHECK_OK(cr_recommend(m, 5, 10, 0, out, sc, &n));
    CHECK(n == 10);
    cr_model_free(m);
    cr_dataset_free(&ds);
}

TEST(training_is_deterministic) {
    static const cr_model_kind kinds[4] = {CR_MODEL_SGL, CR_MODEL_CL4SREC, CR_MODEL_RECDCL, CR_MODEL_RCL};
    int k;
    for (k = 0; k < 4; k++) { /* two runs from the same seed: the same bits */
        cr_dataset ds1, ds2;
        cr_model *a = trained(kinds[k], &ds1, 2), *b = trained(kinds[k], &ds2, 2);
        CHECK(a && b);
        CHECKF(memcmp(cr_model_params(a), cr_model_params(b), sizeof(float) * (size_t)cr_model_num_params(a)) == 0, "%s differs", cr_model_name(kinds[k]));
        cr_model_free(a);
        cr_model_free(b);
        cr_dataset_free(&ds1);
        cr_dataset_free(&ds2);
    }
}

/* RCL with its three parts off is XSimGCL: the same bits after two epochs. */
TEST(rcl_with_parts_off_is_xsimgcl) {
    cr_dataset ds;
    cr_synth_opts so;
    cr_config c;
    cr_model *a = NULL, *b = NULL;
    int e;
    memset(&so, 0, sizeof so);
    so.n_users = 300; so.n_items = 400; so.mean_len = 12; so.seed = 5;
    CHECK_OK(cr_dataset_synthetic(&ds, &so, 0, 0.2));
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_XSIMGCL; c.dim = 16; c.batch = 512;
    CHECK_OK(cr_model_create(&a, &c, &ds));
    c.model = CR_MODEL_RCL; c.nce_mask = -1; c.adv = -1;
    CHECK_OK(cr_model_create(&b, &c, &ds));
    for (e = 1; e <= 2; e++) {
        CHECK_OK(cr_train_epoch(a, e, NULL, NULL, NULL));
        CHECK_OK(cr_train_epoch(b, e, NULL, NULL, NULL));
    }
    CHECK(memcmp(cr_model_params(a), cr_model_params(b), sizeof(float) * (size_t)cr_model_num_params(a)) == 0);
    cr_model_free(a);
    cr_model_free(b);
    cr_dataset_free(&ds);
}

TEST(thread_counts_agree) {
    cr_dataset ds1, ds2;
    cr_model *a, *b;
    cr_metrics ma, mb;
    int t0 = cr_get_num_threads();
#ifndef _OPENMP
    /* without OpenMP everything runs on the calling thread, whatever is asked */
    cr_set_num_threads(4);
    CHECK(cr_get_num_threads() == 1);
    printf("(no OpenMP: one thread) ");
    return;
#endif
    cr_set_num_threads(1);
    a = trained(CR_MODEL_XSIMGCL, &ds1, 2);
    cr_set_num_threads(t0 > 1 ? t0 : 2);
    b = trained(CR_MODEL_XSIMGCL, &ds2, 2);
    cr_set_num_threads(t0);
    CHECK(a && b);
    CHECK_OK(cr_evaluate(a, &ds1.test, NULL, &ma));
    CHECK_OK(cr_evaluate(b, &ds2.test, NULL, &mb));
    /* only the order of float sums inside parallel kernels may differ */
    CHECK_NEAR(ma.recall[1], mb.recall[1], 2e-3);
    CHECK_NEAR(ma.ndcg[1], mb.ndcg[1], 2e-3);
    cr_model_free(a);
    cr_model_free(b);
    cr_dataset_free(&ds1);
    cr_dataset_free(&ds2);
}

TEST(nan_is_caught_with_epoch_and_batch) {
    cr_dataset ds;
    cr_model *m = trained(CR_MODEL_LIGHTGCN, &ds, 1);
    float *p;
    CHECK(m != NULL);
    p = cr_model_params(m);
    p[5] = NAN;
    cr_model_set_params(m, p);
    CHECK_FAILS(cr_train_epoch(m, 2, NULL, NULL, NULL), CR_ERR_NUMERIC, "epoch 2, batch 1: the loss is NaN");
    cr_model_free(m);
    cr_dataset_free(&ds);
}

TEST(config_is_range_checked) {
    cr_config c;
    memset(&c, 0, sizeof c);
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "unknown model 0");
    c.model = CR_MODEL_SGL;
    c.drop = 1.5f;
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "drop 1.5");
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_XSIMGCL;
    c.lstar = 3;
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "lstar 3 is outside 1..layers (2)");
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_NCL;
    c.layers = 3;
    c.lstar = 1; /* a user against its items' mean: not NCL's same-kind contrast */
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "config ncl: lstar 1 is odd");
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_LIGHTGCN;
    c.lr = NAN;
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "lr nan");
    c.lr = 0;
    c.tau = -2;
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "tau -2");
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_SIMGCL;
    CHECK_OK(cr_config_resolve(&c));
    CHECK(c.dim == 64 && c.layers == 3 && c.batch == 2048 && fabsf(c.lambda - 0.5f) < 1e-7f && fabsf(c.eps - 0.1f) < 1e-7f);
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_XSIMGCL;
    c.reg = CR_OFF;
    CHECK_OK(cr_config_resolve(&c));
    CHECK(c.layers == 2 && c.reg == 0 && fabsf(c.tau - 0.15f) < 1e-7f && fabsf(c.eps - 0.2f) < 1e-7f);
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_CL4SREC;
    CHECK_OK(cr_config_resolve(&c));
    CHECK(c.proj_head == 1 && fabsf(c.tau - 0.2f) < 1e-7f && fabsf(c.lr - 3e-3f) < 1e-9f);
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_CL4SREC;
    c.proj_head = -1;
    CHECK_OK(cr_config_resolve(&c));
    CHECK(c.proj_head == 0);
    c.proj_head = 2;
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "proj_head 2 is not one of off|on");
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_GRU4REC;
    CHECK_OK(cr_config_resolve(&c));
    CHECK(c.proj_head == 0 && c.item_repr == CR_REPR_ID && c.attr_w == 0 && c.fm_w == 0);
    c.attr_w = 0.1f;
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "attr_w is not an option of gru4rec");
    c.attr_w = 0;
    c.fm_w = 0.1f;
    c.item_repr = CR_REPR_ID_FEATURES;
    CHECK_OK(cr_config_resolve(&c));
    memset(&c, 0, sizeof c); /* item features: defaults, then each range */
    c.model = CR_MODEL_LIGHTGCN;
    CHECK_OK(cr_config_resolve(&c));
    CHECK(c.item_repr == CR_REPR_ID && fabsf(c.attr_tau - 0.2f) < 1e-7f && fabsf(c.fm_rate - 0.5f) < 1e-7f && c.fm_corr == 0);
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_LIGHTGCN;
    c.item_repr = 4;
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "item_repr 4 is not one of id|id+features|features");
    c.item_repr = 0;
    c.attr_w = -2;
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "attr_w -2 is outside [0, 1e+06)");
    c.attr_w = 0;
    c.fm_rate = 1;
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "fm_rate 1 is outside (0, 1)");
    c.fm_rate = 0;
    c.fm_corr = 2;
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "fm_corr 2 is not one of random|correlated");
    c.fm_corr = 0;
    c.fm_w = 0.1f; /* masking trains feature embeddings that ID-only items never read */
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "feature masking (fm_w) trains the feature embeddings");
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_RECDCL;
    c.attr_w = 0.5f;
    CHECK_FAILS(cr_config_resolve(&c), CR_ERR_INVALID, "attr_w is not an option of recdcl");
}

/* Reads a fuzzer input and gives it a valid checksum, so the production loader (which checks the
   checksum first) reaches the same code as the fuzzer did. */
static char *fuzz_input(const char *path, long *n) {
    char *img;
    uint64_t h = 0xcbf29ce484222325ULL;
    long i;
    if (file_size(path) < 0) return NULL;
    img = slurp(path, n);
    if (*n < 0) { free(img); return NULL; }
    if (*n >= 16) {
        for (i = 0; i < *n - 8; i++) h = (h ^ (unsigned char)img[i]) * 0x100000001b3ULL;
        for (i = 0; i < 8; i++) img[*n - 8 + i] = (char)(h >> (8 * i));
    }
    return img;
}

/* A CL4SRec checkpoint with huge but finite weights: it loads, and serving it must not reach
   undefined behaviour (the gate sigmoid once converted a NaN to int). clang's UBSan reports
   that conversion, gcc's did not: `make fuzz` replays this file under clang. */
TEST(fuzz_regression_extreme_weights_serve) {
    const char *path = "tests/fuzz/regressions/ckpt-nan-in-gru-gates";
    long n;
    char *img = fuzz_input(path, &n);
    cr_model *m = NULL;
    int64_t items[4];
    float sc[4];
    int got = 0;
    CHECKF(img != NULL, "cannot read %s", path);
    if (!img) return;
    CHECK_OK(cr_model_load_mem(&m, img, (size_t)n, path, NULL));
    if (m) { /* what the fuzz target does with a model that loads */
        const float *U, *I;
        cr_interactions t;
        cr_metrics mt;
        cr_eval_opts eo;
        CHECK_OK(cr_model_embeddings(m, &U, &I));
        /* the weights saturate every gate: scores are finite, and the serving calls work */
        CHECK_OK(cr_recommend(m, cr_model_user_raw(m, 0), 1, 1, items, sc, &got));
        CHECKF(got == 1 && sc[0] == sc[0], "got %d items, score %g", got, got ? (double)sc[0] : 0.0);
        memset(&t, 0, sizeof t);
        memset(&eo, 0, sizeof eo);
        eo.ks[0] = 1;
        CHECK_OK(cr_interactions_push(&t, 0, 0, 1, 0));
        CHECK_OK(cr_evaluate(m, &t, &eo, &mt));
        CHECK(mt.users == 1);
        cr_interactions_free(&t);
        cr_model_free(m);
    }
    free(img);
}

/* Inputs the checkpoint fuzzer once crashed on, with their checksums made valid so the
   production loader (which checks the checksum first) reaches the same code. */
TEST(fuzz_regressions_are_refused) {
    static const char *files[] = {"tests/fuzz/regressions/ckpt-repeated-id-use-after-free",
                                  "tests/fuzz/regressions/ckpt-row-pointer-beyond-nnz",
                                  "tests/fuzz/regressions/ckpt-header-overlaps-checksum"};
    size_t f;
    for (f = 0; f < sizeof files / sizeof files[0]; f++) {
        long n;
        char *img = fuzz_input(files[f], &n);
        cr_model *m = NULL;
        cr_status st;
        CHECKF(img != NULL, "cannot read %s", files[f]);
        if (!img) continue;
        st = cr_model_load_mem(&m, img, (size_t)n, files[f], NULL);
        CHECKF(st == CR_ERR_FORMAT && m == NULL, "%s: %s (%s)", files[f], cr_status_string(st), cr_last_error());
        free(img);
    }
}

/* lr_rule sqrt: Adam's step is lr * sqrt(batch / the model's default batch); fixed: lr. */
TEST(lr_rule_scales_the_step_with_the_batch) {
    cr_dataset ds = crt_synth(60, 80, 4, 8, 1, 0, 0.2);
    cr_config c;
    cr_model *m = NULL;
    int k;
    for (k = 0; k < 2; k++) {
        float want;
        memset(&c, 0, sizeof c);
        c.model = k ? CR_MODEL_NCL : CR_MODEL_LIGHTGCN; /* default batches 2048 and 4096 */
        c.dim = 8;
        c.batch = 16384;
        c.lr = 2e-3f;
        c.lr_rule = CR_LR_SQRT;
        want = k ? 2e-3f * sqrtf(4.0f) : 2e-3f * sqrtf(8.0f);
        CHECK_OK(cr_model_create(&m, &c, &ds));
        CHECKF(fabsf(cr_model_get_lr(m) - want) < 1e-9f, "%s: lr %g, want %g", cr_model_name(c.model),
               (double)cr_model_get_lr(m), (double)want);
        cr_model_free(m);
        c.lr_rule = CR_LR_FIXED;
        CHECK_OK(cr_model_create(&m, &c, &ds));
        CHECKF(cr_model_get_lr(m) == 2e-3f, "fixed: lr %g", (double)cr_model_get_lr(m));
        cr_model_free(m);
        m = NULL;
    }
    cr_dataset_free(&ds);
}

const crt_case crt_model[] = {
    {"model/lr_rule_scales_the_step_with_the_batch", lr_rule_scales_the_step_with_the_batch},
    {"model/fuzz_regressions_are_refused", fuzz_regressions_are_refused},
    {"model/fuzz_regression_extreme_weights_serve", fuzz_regression_extreme_weights_serve},
    {"model/metrics_on_a_hand_computed_ranking", metrics_on_a_hand_computed_ranking},
    {"model/ranking_against_a_naive_reference", ranking_against_a_naive_reference},
    {"model/groups_by_hand", groups_by_hand},
    {"model/beyond_accuracy_toy_vectors", beyond_accuracy_toy_vectors},
    {"model/checkpoint_roundtrip_graph", checkpoint_roundtrip_graph},
    {"model/checkpoint_roundtrip_sequence", checkpoint_roundtrip_sequence},
    {"model/checkpoint_roundtrip_recdcl", checkpoint_roundtrip_recdcl},
    {"model/rcl_with_parts_off_is_xsimgcl", rcl_with_parts_off_is_xsimgcl},
    {"model/checkpoint_roundtrip_sequence_no_head", checkpoint_roundtrip_sequence_no_head},
    {"model/checkpoint_keeps_every_configuration_field", checkpoint_keeps_every_configuration_field},
    {"model/config_line_round_trips", config_line_round_trips},
    {"model/config_set_reads_text", config_set_reads_text},
    {"model/checkpoint_refuses_bad_files", checkpoint_refuses_bad_files},
    {"model/npy_export", npy_export},
    {"model/fold_in_and_history_recommendations", fold_in_and_history_recommendations},
    {"model/training_is_deterministic", training_is_deterministic},
    {"model/thread_counts_agree", thread_counts_agree},
    {"model/nan_is_caught_with_epoch_and_batch", nan_is_caught_with_epoch_and_batch},
    {"model/config_is_range_checked", config_is_range_checked},
    {NULL, NULL}};
