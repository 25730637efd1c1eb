/* Diagnostic of the contrastive graph models' stall on dense data (bench/notes/stall.md).

     diag_stall DATA MODEL [key=value ...]

   DATA:  dense   synthetic, 943 users, 1682 items, mean_len 100 (a MovieLens-100K stand-in)
          sparse  synthetic with the generator's defaults (2000 users, 3000 items, mean_len 30)
          lastfm  $CR_DATA/lastfm (../shared/data/lastfm): train.txt / test.txt, LightGCN format
          gowalla $CR_DATA/gowalla, the same way
   MODEL: sgl, simgcl, xsimgcl, lightgcn, mf, ...
   keys:  crfit=1      run the library's cr_fit itself (with an epoch callback that logs);
                       otherwise a copy of its loop (same carve, same selection, same test
                       protocol) with the hooks below
          epochs=N     cap on the epochs (30); patience=P (10, as cr_fit)
          lambda=L     contrastive weight (model default)
          seed=S       config seed (2024); dseed=S synthetic data seed (1)
          init=xavier|normal:STD|uniform:S|scale:F|final:T   ego-table initialisation: the
                       library's Xavier, N(0, STD), U(-S, S), Xavier times F, or Xavier scaled so
                       that the served (propagated) table's mean row norm is T
          warm=E       lambda warm-up: lambda * min(1, t / (E epochs)), t counted in batches
          cap=K        gradient balance: every `every` batches lambda_eff = min(lambda,
                       K * |g_bpr| / |g_cl(lambda=1)|) measured on the probe batch
          every=N      batches between the balance's measurements (5)
          probe=N      log the probe (loss parts, gradient norms, cosines, Adam's step) every N
                       batches (0: once per epoch only)
   Per-epoch lines start with "E", probe lines with "P", the result with "RESULT". */
#define _DEFAULT_SOURCE
#define CONTRAREC_IMPLEMENTATION
#include "../contrarec.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "common.h"

#define PB 2048 /* probe batch size */

typedef struct diag {
    cr_model *m;
    cr_config cfg;      /* resolved */
    float lambda0;      /* the target lambda */
    int warm, every, probe, init_kind;
    float init_arg, cap;
    int backoff, halve, below; /* contrast backoff: evaluations below (1 - drop) x best, halvings left */
    float drop, stall; /* backoff only while the BPR part is above stall x ln 2 */
    int64_t nb, gstep;  /* batches per epoch, batches done */
    int32_t pu[PB], pp[PB], pn[PB]; /* the probe batch: fixed pairs and negatives */
    float *gb, *gc, *gr, *tmp;      /* gradients: BPR, contrast, L2 */
    double t0;
} diag;

static double dot(const float *a, const float *b, int64_t n) {
    double s = 0;
    int64_t i;
    for (i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* One batch's loss parts and gradient (left in m->grad) with the given lambda and reg. */
static void probe_pass(diag *D, int epoch, int64_t idx, float lambda, float reg, double part[3]) {
    cr_model *m = D->m;
    cr__batch b;
    float l0 = m->cfg.lambda, r0 = m->cfg.reg;
    if (cr__train_ws(m) != CR_OK) { fprintf(stderr, "probe: %s\n", cr_last_error()); exit(1); }
    memset(m->grad, 0, (size_t)m->n_param * sizeof(float));
    m->cfg.lambda = lambda;
    m->cfg.reg = reg;
    b.users = D->pu;
    b.pos = D->pp;
    b.cand = D->pn;
    b.n_cand = 1;
    b.n = PB;
    b.epoch = epoch;
    b.index = idx;
    b.seed = cr__batch_seed(m, epoch, idx);
    if (cr__run_batch(m, &b, 1, part) != CR_OK) { fprintf(stderr, "probe: %s\n", cr_last_error()); exit(1); }
    m->cfg.lambda = l0;
    m->cfg.reg = r0;
}

typedef struct probe_out {
    double bpr, cl, reg, nb, nc, nr, cos_bc, cos_ub, cos_uc, dec_b, dec_c, nu;
} probe_out;

/* Gradients of each part separately at the current parameters (lambda as now), and the last
   Adam update read back from the moments. idx: a batch number no epoch uses (seeds noise). */
static probe_out probe(diag *D, int epoch, int64_t idx) {
    cr_model *m = D->m;
    int64_t n = m->n_param, i;
    double p0[3], p1[3], p2[3], t = (double)m->step;
    float lam = m->cfg.lambda, step_size, rbc2;
    probe_out o;
    memset(&o, 0, sizeof o);
    probe_pass(D, epoch, idx, 0.0f, 0.0f, p0); /* BPR alone */
    cr_vcopy(D->gb, m->grad, n);
    probe_pass(D, epoch, idx, 0.0f, m->cfg.reg, p1); /* BPR + L2 */
    for (i = 0; i < n; i++) D->gr[i] = m->grad[i] - D->gb[i];
    if (lam > 0) {
        probe_pass(D, epoch, idx, lam, 0.0f, p2); /* BPR + contrast */
        for (i = 0; i < n; i++) D->gc[i] = m->grad[i] - D->gb[i];
    } else {
        memset(D->gc, 0, (size_t)n * sizeof(float));
        p2[1] = 0;
    }
    memset(m->grad, 0, (size_t)n * sizeof(float));
    m->ready = 0;
    o.bpr = p0[0];
    o.cl = p2[1];
    o.reg = p1[2];
    o.nb = sqrt(dot(D->gb, D->gb, n));
    o.nc = sqrt(dot(D->gc, D->gc, n));
    o.nr = sqrt(dot(D->gr, D->gr, n));
    o.cos_bc = o.nb > 0 && o.nc > 0 ? dot(D->gb, D->gc, n) / (o.nb * o.nc) : 0;
    if (m->step > 0) { /* the last update: p -= step_size * m1 / (sqrt(m2) * rbc2 + eps) */
        step_size = (float)(m->lr / (1.0 - pow(0.9, t)));
        rbc2 = (float)(1.0 / sqrt(1.0 - pow(0.999, t)));
        for (i = 0; i < n; i++) D->tmp[i] = step_size * m->adam_m[i] / (sqrtf(m->adam_v[i]) * rbc2 + 1e-8f);
        o.nu = sqrt(dot(D->tmp, D->tmp, n));
        /* the update is -tmp: its cosine with the descent directions -g, and the first-order
           change of each part per step (negative: that part decreases) */
        o.cos_ub = o.nb > 0 ? dot(D->tmp, D->gb, n) / (o.nu * o.nb) : 0;
        o.cos_uc = o.nc > 0 ? dot(D->tmp, D->gc, n) / (o.nu * o.nc) : 0;
        o.dec_b = -dot(D->tmp, D->gb, n);
        o.dec_c = -dot(D->tmp, D->gc, n);
    }
    return o;
}

static void print_probe(const char *tag, int epoch, int64_t b, const probe_out *o, float lam) {
    printf("%s ep %d b %lld lam %.4g | bpr %.4f cl %.4f reg %.4g | |g_bpr| %.3e |g_cl| %.3e |g_reg| %.3e cl/bpr %.1f cos(bpr,cl) %+.3f |"
           " |upd| %.3e cos(-upd,-g_bpr) %+.3f cos(-upd,-g_cl) %+.3f dL_bpr/step %+.2e dL_cl/step %+.2e\n",
           tag, epoch, (long long)b, (double)lam, o->bpr, o->cl, o->reg, o->nb, o->nc, o->nr, o->nb > 0 ? o->nc / o->nb : 0, o->cos_bc, o->nu,
           o->cos_ub, o->cos_uc, o->dec_b, o->dec_c);
}

/* Mean row norms of a (rows, d) block. */
static double mean_norm(const float *X, int64_t rows, int d) {
    double s = 0;
    int64_t r;
    for (r = 0; r < rows; r++) s += sqrt(dot(X + r * d, X + r * d, d));
    return rows ? s / (double)rows : 0;
}

/* Norms of the ego table and the served (propagated) table, the probe batch's mean BPR score
   gap on the served table, and the uniformity of the served items. */
static void print_norms(diag *D, int epoch) {
    cr_model *m = D->m;
    int d = m->cfg.dim, i;
    const float *F;
    double gap = 0, sp = 0;
    int64_t U = m->n_users;
    cr_model_prepare(m);
    F = cr__graph_table(m);
    for (i = 0; i < PB; i++) {
        double s1 = dot(F + (int64_t)D->pu[i] * d, F + (U + D->pp[i]) * d, d), s2 = dot(F + (int64_t)D->pu[i] * d, F + (U + D->pn[i]) * d, d);
        gap += s1 - s2;
        sp += s1;
    }
    printf("N ep %d | ego |u| %.4f |i| %.4f | final |u| %.4f |i| %.4f | probe score(u,p) %.4g gap(p-n) %.4g | unif items %.3f users %.3f\n", epoch,
           mean_norm(m->E0, U, d), mean_norm(m->E0 + U * d, m->n_items, d), mean_norm(F, U, d), mean_norm(F + U * d, m->n_items, d), sp / PB,
           gap / PB, cr_uniformity(F + U * d, m->n_items, d), cr_uniformity(F, U, d));
    if (m->cfg.eps > 0 && cr__train_ws(m) == CR_OK) { /* SimGCL / XSimGCL: a perturbed pass against the clean one */
        float *P = m->g.F;
        double np = 0, cs = 0;
        int64_t r, N = m->n_nodes;
        cr__graph_encode(m, P, NULL, m->cfg.eps, cr_hash64(99, (uint64_t)epoch), NULL);
        for (r = 0; r < N; r++) {
            double a = sqrt(dot(P + r * d, P + r * d, d)), b = sqrt(dot(F + r * d, F + r * d, d));
            np += a;
            cs += a > 0 && b > 0 ? dot(P + r * d, F + r * d, d) / (a * b) : 0;
        }
        printf("V ep %d | eps %g | perturbed pass: mean row norm %.4f (clean %.4f), mean cosine to the clean row %.3f\n", epoch, (double)m->cfg.eps,
               np / (double)N, mean_norm(F, N, d), cs / (double)N);
        m->ready = 0;
    }
}

static int batch_cb(void *user, int epoch, int64_t batch, int64_t n_batches, double loss) {
    diag *D = (diag *)user;
    cr_model *m = D->m;
    (void)loss;
    D->nb = n_batches;
    D->gstep++;
    if (!m) return 0;
    if (D->probe > 0 && batch % D->probe == 0 && epoch <= 3) {
        probe_out o = probe(D, epoch, 1000000 + batch);
        print_probe("P", epoch, batch, &o, m->cfg.lambda);
    }
    if (D->warm > 0) { /* linear in batches over `warm` epochs */
        double f = (double)D->gstep / (double)(D->warm * n_batches);
        m->cfg.lambda = D->lambda0 * (float)(f < 1 ? f : 1);
        if (m->cfg.lambda < 1e-6f * D->lambda0) m->cfg.lambda = 1e-6f * D->lambda0;
    }
    if (D->cap > 0 && (D->gstep % D->every == 0)) {
        float l = m->cfg.lambda;
        double r;
        probe_out o;
        m->cfg.lambda = 1.0f;
        o = probe(D, epoch, 2000000 + batch);
        r = o.nc > 0 ? D->cap * o.nb / o.nc : D->lambda0;
        m->cfg.lambda = (float)(r < D->lambda0 ? r : D->lambda0);
        if (D->warm > 0 && l < m->cfg.lambda) m->cfg.lambda = l;
    }
    return 0;
}

static void reinit(diag *D) {
    cr_model *m = D->m;
    int64_t n = (int64_t)(m->n_users + m->n_items) * m->cfg.dim, i;
    cr_rng r = cr_rng_stream(m->cfg.seed, 0x696e6974ULL);
    if (D->init_kind == 1)
        for (i = 0; i < n; i++) m->param[i] = D->init_arg * cr_rng_normal(&r);
    else if (D->init_kind == 4) /* U(-s, s), what cr__init_params's CR__INIT_UNIFORM draws */
        for (i = 0; i < n; i++) m->param[i] = (2.0f * cr_rng_float(&r) - 1.0f) * D->init_arg;
    else if (D->init_kind == 2)
        for (i = 0; i < n; i++) m->param[i] *= D->init_arg;
    else if (D->init_kind == 3) { /* the library's Xavier, scaled so that the served (propagated)
                                     table's mean row norm is init_arg (the encoder is linear) */
        double f;
        m->ready = 0;
        cr_model_prepare(m);
        f = D->init_arg / mean_norm(cr__graph_table(m), m->n_nodes, m->cfg.dim);
        printf("init final:%g: the ego table scaled by %.3f\n", (double)D->init_arg, f);
        for (i = 0; i < n; i++) m->param[i] *= (float)f;
    }
    m->ready = 0;
}

static void print_epoch(const diag *D, int epoch, const cr_epoch_stats *s, const cr_metrics *v, int improved) {
    printf("E ep %d | lam %.4g | loss %.4f rec %.4f cl %.4f reg %.4g | valid R@20 %.4f N@20 %.4f%s | %.1f s\n", epoch, (double)D->m->cfg.lambda,
           s->loss, s->rec_loss, s->cl_loss, s->reg_loss, v->recall[1], v->ndcg[1], improved ? " *" : "", now_s() - D->t0);
}

static int fit_cb(void *user, cr_model *m, const cr_fit_info *info) {
    diag *D = (diag *)user;
    probe_out o;
    D->m = m;
    print_epoch(D, info->epoch, &info->train, &info->sel, info->improved);
    if (m->cfg.model != CR_MODEL_MF) print_norms(D, info->epoch);
    o = probe(D, info->epoch, 1000000);
    print_probe("PE", info->epoch, 0, &o, m->cfg.lambda);
    fflush(stdout);
    return 0;
}

static void draw_probe(diag *D, const cr_interactions *train, int32_t n_items, const cr_csr *hist) {
    cr_rng r = cr_rng_stream(777, 1);
    int i;
    for (i = 0; i < PB; i++) {
        int64_t e = (int64_t)cr_rng_below(&r, (uint32_t)train->n), a, z;
        int32_t j;
        int seen;
        D->pu[i] = train->user[e];
        D->pp[i] = train->item[e];
        do { /* a uniform negative the user has not trained on */
            j = (int32_t)cr_rng_below(&r, (uint32_t)n_items);
            seen = 0;
            for (a = hist->rowptr[D->pu[i]], z = hist->rowptr[D->pu[i] + 1]; a < z; a++) seen |= hist->col[a] == j;
        } while (seen);
        D->pn[i] = j;
    }
}

static const char *arg(int argc, char **argv, const char *key, const char *def) {
    int i;
    size_t k = strlen(key);
    for (i = 3; i < argc; i++)
        if (!strncmp(argv[i], key, k) && argv[i][k] == '=') return argv[i] + k + 1;
    return def;
}

int main(int argc, char **argv) {
    cr_dataset ds;
    cr_config c;
    cr_fit_opts fo;
    cr_fit_result res;
    cr_model *m = NULL;
    diag D;
    const char *data, *init;
    char tr[512], te[512];
    int epochs, patience, crfit, i;
    if (argc < 3) {
        fprintf(stderr, "usage: diag_stall dense|sparse|lastfm|gowalla MODEL [crfit=1 epochs=N patience=P lambda=L seed=S dseed=S init=... warm=E cap=K every=N probe=N]\n");
        return 2;
    }
    for (i = 3; i < argc; i++) { /* refuse unknown keys: a typo must not pass as a default run */
        static const char *keys[] = {"crfit", "epochs", "patience", "lambda", "seed", "dseed", "init", "warm", "cap", "every", "probe", "mlen", "backoff", "drop", "halve", "stall", NULL};
        int k, ok = 0;
        for (k = 0; keys[k]; k++) ok |= !strncmp(argv[i], keys[k], strlen(keys[k])) && argv[i][strlen(keys[k])] == '=';
        if (!ok) { fprintf(stderr, "diag_stall: unknown option '%s'\n", argv[i]); return 2; }
    }
    data = argv[1];
    memset(&D, 0, sizeof D);
    memset(&c, 0, sizeof c);
    memset(&fo, 0, sizeof fo);
    D.t0 = now_s();
    if (!strcmp(data, "dense") || !strcmp(data, "sparse")) {
        cr_synth_opts so;
        memset(&so, 0, sizeof so);
        so.seed = (uint64_t)atoll(arg(argc, argv, "dseed", "1"));
        if (!strcmp(data, "dense")) { so.n_users = 943; so.n_items = 1682; so.mean_len = atoi(arg(argc, argv, "mlen", "100")); }
        if (cr_dataset_synthetic(&ds, &so, 0, 0.2) != CR_OK) { fprintf(stderr, "%s\n", cr_last_error()); return 1; }
    } else if (!strcmp(data, "lastfm") || !strcmp(data, "gowalla")) {
        cr_load_opts lo;
        memset(&lo, 0, sizeof lo);
        lo.format = CR_FORMAT_LIGHTGCN;
        char rel[64];
        snprintf(rel, sizeof rel, "%s/train.txt", data);
        data_path(tr, sizeof tr, rel);
        snprintf(rel, sizeof rel, "%s/test.txt", data);
        data_path(te, sizeof te, rel);
        if (cr_dataset_load(&ds, tr, te, &lo) != CR_OK) { fprintf(stderr, "%s\n", cr_last_error()); return 1; }
    } else { fprintf(stderr, "diag_stall: unknown data '%s'\n", data); return 2; }
    if (!(c.model = cr_model_parse(argv[2]))) { fprintf(stderr, "diag_stall: unknown model '%s'\n", argv[2]); return 2; }
    c.seed = (uint64_t)atoll(arg(argc, argv, "seed", "2024"));
    if (arg(argc, argv, "lambda", NULL)) {
        c.lambda = (float)atof(arg(argc, argv, "lambda", NULL));
        if (c.lambda == 0) c.lambda = CR_OFF;
    }
    epochs = atoi(arg(argc, argv, "epochs", "30"));
    patience = atoi(arg(argc, argv, "patience", "10"));
    crfit = atoi(arg(argc, argv, "crfit", "0"));
    D.warm = atoi(arg(argc, argv, "warm", "0"));
    D.cap = (float)atof(arg(argc, argv, "cap", "0"));
    D.every = atoi(arg(argc, argv, "every", "5"));
    D.probe = atoi(arg(argc, argv, "probe", "0"));
    D.backoff = atoi(arg(argc, argv, "backoff", "0"));
    D.drop = (float)atof(arg(argc, argv, "drop", "0.1"));
    D.halve = atoi(arg(argc, argv, "halve", "8"));
    D.stall = (float)atof(arg(argc, argv, "stall", "0"));
    init = arg(argc, argv, "init", "xavier");
    if (!strncmp(init, "normal:", 7)) { D.init_kind = 1; D.init_arg = (float)atof(init + 7); }
    else if (!strncmp(init, "scale:", 6)) { D.init_kind = 2; D.init_arg = (float)atof(init + 6); }
    else if (!strncmp(init, "uniform:", 8)) { D.init_kind = 4; D.init_arg = (float)atof(init + 8); }
    else if (!strncmp(init, "final:", 6)) { D.init_kind = 3; D.init_arg = (float)atof(init + 6); }
    else if (strcmp(init, "xavier")) { fprintf(stderr, "diag_stall: init '%s'\n", init); return 2; }
    D.cfg = c;
    if (cr_config_resolve(&D.cfg) != CR_OK) { fprintf(stderr, "%s\n", cr_last_error()); return 1; }
    D.lambda0 = D.cfg.lambda;
    {
        int64_t per = ds.n_users ? ds.train.n / ds.n_users : 0;
        printf("data %s: %d users, %d items, %lld train (%lld per user), %lld test; model %s lambda %g tau %g eps %g layers %d lr %g reg %g batch %d;"
               " init %s warm %d cap %g every %d crfit %d epochs %d patience %d seed %llu; %d threads\n",
               data, ds.n_users, ds.n_items, (long long)ds.train.n, (long long)per, (long long)ds.test.n, argv[2], (double)D.cfg.lambda,
               (double)D.cfg.tau, (double)D.cfg.eps, D.cfg.layers, (double)D.cfg.lr, (double)D.cfg.reg, D.cfg.batch, init, D.warm, (double)D.cap,
               D.every, crfit, epochs, patience, (unsigned long long)c.seed, cr_get_num_threads());
    }
    fo.max_epochs = epochs;
    fo.patience = patience;
    fo.eval.no_auc = 1;
    if (crfit) {
        /* the library's own loop; probes at each epoch's end through the callback */
        cr_interactions keep, held;
        cr_csr h;
        memset(&keep, 0, sizeof keep);
        memset(&held, 0, sizeof held);
        cr__carve(&ds.train, ds.n_users, 0, 0.1, D.cfg.seed, CR__VALID_STREAM, &keep, &held);
        cr_interactions_to_csr(&h, &keep, ds.n_users, ds.n_items, 0);
        draw_probe(&D, &keep, ds.n_items, &h);
        cr_csr_free(&h);
        cr_interactions_free(&keep);
        cr_interactions_free(&held);
        if (D.warm || D.cap || D.init_kind || D.probe) { fprintf(stderr, "diag_stall: crfit=1 takes no hooks\n"); return 2; }
        fo.on_epoch = fit_cb;
        fo.user = &D;
        {
            int64_t n = (int64_t)(ds.n_users + ds.n_items) * D.cfg.dim + 4 * D.cfg.dim * D.cfg.dim + 4 * D.cfg.dim; /* >= n_param */
            D.gb = cr_alloc_floats(n); D.gc = cr_alloc_floats(n); D.gr = cr_alloc_floats(n); D.tmp = cr_alloc_floats(n);
        }
        if (cr_fit(&m, &c, &ds, &fo, &res) != CR_OK) { fprintf(stderr, "%s\n", cr_last_error()); return 1; }
    } else {
        /* a copy of cr_fit's loop for graph data without hold-outs, with the hooks */
        cr_interactions keep, held;
        cr_dataset view;
        cr_eval_opts so, to;
        float *best;
        double best_v = -1;
        int since = 0, epoch;
        memset(&keep, 0, sizeof keep);
        memset(&held, 0, sizeof held);
        memset(&res, 0, sizeof res);
        if (cr__carve(&ds.train, ds.n_users, 0, 0.1, D.cfg.seed, CR__VALID_STREAM, &keep, &held) != CR_OK) { fprintf(stderr, "%s\n", cr_last_error()); return 1; }
        view = ds;
        view.train = keep;
        if (cr_model_create(&m, &c, &view) != CR_OK) { fprintf(stderr, "%s\n", cr_last_error()); return 1; }
        D.m = m;
        D.gb = cr_alloc_floats(m->n_param); D.gc = cr_alloc_floats(m->n_param); D.gr = cr_alloc_floats(m->n_param); D.tmp = cr_alloc_floats(m->n_param);
        best = cr_alloc_floats(m->n_param);
        draw_probe(&D, &keep, ds.n_items, &m->hist);
        if (D.init_kind) reinit(&D);
        if (D.warm > 0) m->cfg.lambda = D.lambda0 * 1e-6f;
        memset(&so, 0, sizeof so);
        so.no_auc = 1;
        so.basic = 1;
        {
            cr_metrics v0;
            if (cr_evaluate(m, &held, &so, &v0) != CR_OK) { fprintf(stderr, "%s\n", cr_last_error()); return 1; }
            printf("E ep 0 | lam %.4g | untrained | valid R@20 %.4f N@20 %.4f\n", (double)m->cfg.lambda, v0.recall[1], v0.ndcg[1]);
        }
        print_norms(&D, 0);
        {
            probe_out o = probe(&D, 1, 1000000);
            print_probe("PE", 0, 0, &o, m->cfg.lambda);
        }
        for (epoch = 1; epoch <= epochs; epoch++) {
            cr_epoch_stats s;
            cr_metrics v;
            int imp = 0;
            if (D.cap > 0 && epoch == 1) { /* the balance from the first batch on */
                float l = m->cfg.lambda;
                probe_out o;
                double r;
                m->cfg.lambda = 1.0f;
                o = probe(&D, 1, 2000000);
                r = o.nc > 0 ? D.cap * o.nb / o.nc : D.lambda0;
                m->cfg.lambda = (float)(r < D.lambda0 ? r : D.lambda0);
                if (D.warm > 0 && l < m->cfg.lambda) m->cfg.lambda = l;
            }
            if (cr_train_epoch(m, epoch, &s, batch_cb, &D) != CR_OK) { fprintf(stderr, "%s\n", cr_last_error()); return 1; }
            if (cr_evaluate(m, &held, &so, &v) != CR_OK) { fprintf(stderr, "%s\n", cr_last_error()); return 1; }
            if (v.ndcg[1] > best_v) {
                best_v = v.ndcg[1];
                res.best_epoch = epoch;
                cr_model_get_params(m, best);
                imp = 1;
                since = 0;
            } else
                since++;
            print_epoch(&D, epoch, &s, &v, imp);
            D.below = v.ndcg[1] < (1 - D.drop) * best_v ? D.below + 1 : 0;
            if (D.backoff > 0 && D.below >= D.backoff && D.halve > 0 && m->cfg.lambda > 0 &&
                s.rec_loss > D.stall * 0.693147) {
                /* validation fell well below its best: halve the contrast, restart from the best */
                m->cfg.lambda *= 0.5f;
                D.lambda0 = m->cfg.lambda;
                D.halve--;
                D.below = 0;
                since = 0;
                cr_model_set_params(m, best);
                memset(m->adam_m, 0, (size_t)m->n_param * sizeof(float));
                memset(m->adam_v, 0, (size_t)m->n_param * sizeof(float));
                m->step = 0;
                printf("B ep %d | backoff: lambda -> %.4g, parameters of epoch %d restored\n", epoch, (double)m->cfg.lambda, res.best_epoch);
            }
            if (m->cfg.model != CR_MODEL_MF) print_norms(&D, epoch);
            {
                probe_out o = probe(&D, epoch, 1000000);
                print_probe("PE", epoch, 0, &o, m->cfg.lambda);
            }
            fflush(stdout);
            if (patience > 0 && since >= patience) break;
        }
        cr_model_set_params(m, best);
        memset(&to, 0, sizeof to);
        to.no_auc = 1;
        to.history_extra = &held;
        if (cr_evaluate(m, &ds.test, &to, &res.test) != CR_OK) { fprintf(stderr, "%s\n", cr_last_error()); return 1; }
        res.epochs_run = epoch > epochs ? epochs : epoch;
    }
    printf("RESULT data %s model %s lambda %g init %s warm %d cap %g seed %llu: best epoch %d | test R@20 %.4f N@20 %.4f | pop R@20 %.4f N@20 %.4f | %.0f s\n",
           data, argv[2], (double)D.lambda0, init, D.warm, (double)D.cap, (unsigned long long)c.seed, res.best_epoch, res.test.recall[1],
           res.test.ndcg[1], res.test.pop_recall[1], res.test.pop_ndcg[1], now_s() - D.t0);
    cr_model_free(m);
    cr_dataset_free(&ds);
    return 0;
}
