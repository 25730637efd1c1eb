/* libFuzzer target for the resumable-training state loader (cr__state_head, cr__state_load: the
   file of cr_fit_opts.state_path, the CLI's train --resume). The loader checks an FNV-1a checksum
   in the last 8 bytes; anyone who crafts a state file can recompute it, so this target writes the
   checksum of the mutated bytes into them before loading (the header needs no fuzzing mode).

   The phase, epoch budget and fingerprints a state must match are read from the input itself:
   they are hashes of public things (the configuration, options and data), which a crafted file
   can match as well. The model the state is loaded into is one of a few built on a tiny dataset
   (the data of tiny_graph.txt, embedded below) at dim 4: the one whose configuration fingerprint
   the input names, else the one whose parameter count and running-state count it names. The
   model is built afresh for every input (the loader overwrites its parameters).

   A state that loads must be one the writer could have produced as far as the fields that code
   after the loader relies on: the metrics' cut-off count within CR_MAX_K (the CLI indexes
   k[n_k - 1]), the best epoch within the epochs done (the refit trains that many epochs), the
   epochs run within the budget, the stop flag 0..2; and the model must then train an epoch
   (or refuse it with a status), evaluate and recommend without a crash. The numbers must also
   be sane (the loader checks them): a finite positive learning rate, a non-negative step, finite
   parameters and moments (second moments >= 0), finite times and best value, ascending positive
   cut-offs; CR_FUZZ_STRICT=0 leaves these out. CR_FUZZ_VERBOSE=1 prints each input's model and
   outcome. */
#define CONTRAREC_IMPLEMENTATION
#include "../../contrarec.h"
#include <stdlib.h>
#include <stdio.h>
#include <unistd.h>

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "fuzz_state: requirement failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

/* tests/fuzz/tiny_graph.txt (LightGCN format): 5 users, 8 items */
static const char tiny_graph[] = "0 1 2 3\n1 2 3 4\n2 0 4 5\n3 1 5 6\n4 2 6 7\n";

enum { N_CAND = 4 };
static cr_dataset ds;
static cr_config cand[N_CAND];
static int64_t cand_np[N_CAND];
static int cand_nr[N_CAND];
static uint64_t cand_fp0[N_CAND];
static char path[256];
static int strict, verbose;

/* cr__fit_fingerprint's fp[0]: the resolved configuration and the parameter count. */
static uint64_t config_fp(const cr_model *m) { return cr__cfg_fingerprint(m); }

static int running_count(cr_model *m) {
    cr__running run[CR__MAX_LAYERS + 1];
    if (cr__train_ws(m) != CR_OK) abort();
    return m->ops->running ? m->ops->running(m, run) : 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    static const cr_model_kind kinds[N_CAND] = {CR_MODEL_MF, CR_MODEL_LIGHTGCN, CR_MODEL_RECDCL, CR_MODEL_RCL};
    cr_load_report rep;
    cr_load_opts lo;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    int c;
    (void)argc;
    (void)argv;
    strict = !(getenv("CR_FUZZ_STRICT") && getenv("CR_FUZZ_STRICT")[0] == '0');
    verbose = getenv("CR_FUZZ_VERBOSE") && getenv("CR_FUZZ_VERBOSE")[0] == '1';
    snprintf(path, sizeof path, "%s/cr_fuzz_state.%ld", dir, (long)getpid());
    memset(&ds, 0, sizeof ds);
    memset(&lo, 0, sizeof lo);
    lo.format = CR_FORMAT_LIGHTGCN; /* 4 small numbers a line could be ratings and timestamps: say which */
    if (cr_parse_interactions(&ds.train, &ds.users, &ds.items, 1, tiny_graph, sizeof tiny_graph - 1, "tiny", &lo, &rep) != CR_OK) abort();
    ds.n_users = ds.users.n;
    ds.n_items = ds.items.n;
    if (cr_dataset_carve_test(&ds, 0.2, 0, 2024) != CR_OK) abort();
    for (c = 0; c < N_CAND; c++) {
        cr_model *m = NULL;
        memset(&cand[c], 0, sizeof cand[c]);
        cand[c].model = kinds[c];
        cand[c].dim = 4;
        if (kinds[c] == CR_MODEL_RCL) cand[c].adv = CR_ADV_PREV; /* a running state of layers + 1 blocks */
        if (cr_model_create(&m, &cand[c], &ds) != CR_OK) abort();
        cand_np[c] = m->n_param;
        cand_nr[c] = running_count(m);
        cand_fp0[c] = config_fp(m);
        cr_model_free(m);
    }
    return 0;
}

static uint64_t rd64(const uint8_t *p) {
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* Offsets in a state file (see cr__state_body). */
#define OFF_METRICS_SIZE 116u
#define OFF_NPARAM (120u + (unsigned)sizeof(cr_metrics))

/* The candidate model for this file, and whether it holds best parameters. */
static int pick(const uint8_t *b, size_t n, int *has_best) {
    size_t body = n >= 8 ? n - 8 : 0, off;
    int64_t np = -1;
    int c, nr = -1;
    *has_best = 0;
    if (body >= OFF_NPARAM + 8) {
        np = (int64_t)rd64(b + OFF_NPARAM);
        if (np > 0 && np < (1 << 20)) {
            off = OFF_NPARAM + 8 + 12 * (size_t)np;
            if (body >= off + 4) {
                *has_best = rd32(b + off) == 1;
                off += 4 + (*has_best ? 4 * (size_t)np : 0);
                if (body >= off + 4) nr = (int)rd32(b + off);
            }
        }
    }
    if (body >= 60)
        for (c = 0; c < N_CAND; c++)
            if (rd64(b + 28) == cand_fp0[c]) return c;
    for (c = 0; c < N_CAND; c++)
        if (cand_np[c] == np && (nr < 0 || cand_nr[c] == nr)) return c;
    return (int)(n % N_CAND);
}

static int all_finite(const float *p, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++)
        if (!(p[i] == p[i]) || p[i] > 3.4e38f || p[i] < -3.4e38f) return 0;
    return 1;
}
static int finite_d(double v) { return v == v && v < 1e308 && v > -1e308; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *b;
    FILE *f;
    cr_model *m = NULL;
    cr__fit_state fs, head;
    cr_status st;
    int c, has_best, i;
    if (size > (1u << 20)) return 0;
    if (!(b = (uint8_t *)malloc(size ? size : 1))) return 0;
    memcpy(b, data, size);
    if (size >= 8) { /* the checksum of the mutated bytes, as an attacker would write it */
        uint64_t h = cr__fnv(CR__FNV0, b, size - 8);
        for (i = 0; i < 8; i++) b[size - 8 + i] = (uint8_t)(h >> (8 * i));
    }
    if (!(f = fopen(path, "wb"))) abort();
    if (size && fwrite(b, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();
    c = pick(b, size, &has_best);
    if (cr_model_create(&m, &cand[c], &ds) != CR_OK) abort();
    memset(&fs, 0, sizeof fs);
    fs.best_v = -1;
    /* what the caller expects: this file's own phase, budget and fingerprints */
    memset(&head, 0, sizeof head);
    if (cr__state_head(b, size, "fuzz", &head) == CR_OK) {
        fs.phase = head.phase;
        fs.max_e = head.max_e;
        memcpy(fs.fp, head.fp, sizeof fs.fp);
    } else {
        fs.phase = CR_FIT_SELECT;
        fs.max_e = 1;
    }
    if (has_best && !(fs.best = cr_alloc_floats(m->n_param))) abort();
    cr_clear_error();
    st = cr__state_load(path, m, &fs);
    if (verbose) fprintf(stderr, "fuzz_state: %zu bytes, model %s, best %d: %s\n", size, cr_model_name(cand[c].model), has_best, st == CR_OK ? "loaded" : cr_last_error());
    if (st != CR_OK) {
        REQUIRE(cr_last_error()[0]);
    } else {
        const cr_fit_result *r = &fs.res;
        int64_t items[4];
        float sc[4];
        int n = 0;
        cr_eval_opts eo;
        cr_metrics mt;
        cr_epoch_stats es;
        REQUIRE(fs.epoch >= 1 && fs.epoch <= fs.max_e && fs.since <= fs.max_e && fs.done <= 1);
        REQUIRE(r->valid.n_k >= 0 && r->valid.n_k <= CR_MAX_K);
        REQUIRE(r->best_epoch >= 0 && r->best_epoch <= (int)fs.epoch);
        REQUIRE(r->epochs_run >= 0 && r->epochs_run <= (int)fs.max_e);
        REQUIRE(r->stopped_early >= 0 && r->stopped_early <= 2);
        if (r->valid.n_k > 0) REQUIRE(r->valid.k[r->valid.n_k - 1] == r->valid.k[r->valid.n_k - 1]); /* what the CLI reads */
        if (strict) {
            REQUIRE(m->lr == m->lr && m->lr > 0 && m->lr < 3.4e38f);
            REQUIRE(m->step >= 0);
            REQUIRE(all_finite(m->param, m->n_param) && all_finite(m->adam_m, m->n_param) && all_finite(m->adam_v, m->n_param));
            for (i = 0; i < m->n_param; i++) REQUIRE(m->adam_v[i] >= 0);
            if (fs.best) REQUIRE(all_finite(fs.best, m->n_param));
            REQUIRE(finite_d(r->best_value) && finite_d(r->train_seconds) && r->train_seconds >= 0 && finite_d(r->eval_seconds) && r->eval_seconds >= 0);
            for (i = 0; i < r->valid.n_k; i++) REQUIRE(r->valid.k[i] > 0 && (i == 0 || r->valid.k[i] > r->valid.k[i - 1]));
        }
        /* as cr_fit goes on: the best parameters back (a finished selection), or another epoch */
        if (fs.best && r->best_epoch > 0 && fs.done) cr_model_set_params(m, fs.best);
        else if (!fs.done) (void)cr_train_epoch(m, (int)fs.epoch + 1, &es, NULL, NULL);
        if (cr_recommend(m, cr_model_user_raw(m, 0), 4, 1, items, sc, &n) == CR_OK) REQUIRE(n >= 0 && n <= 4);
        memset(&eo, 0, sizeof eo);
        eo.ks[0] = 2;
        if (cr_evaluate(m, &ds.test, &eo, &mt) == CR_OK) REQUIRE(mt.n_k == 1 && mt.k[0] == 2);
    }
    cr__free_aligned(fs.best);
    cr_model_free(m);
    free(b);
    remove(path);
    return 0;
}
