/* Hostile training-state files for fuzz_state (and for anyone testing train --resume): from one
   real state file (written by `contrarec train ... --resume FILE`), variants with one field made
   out of range, NaN, or the file cut at a field, each with its FNV-1a checksum recomputed so it
   passes the loader's first check, as a crafted file would.

     gen_state_seeds IN.state OUTDIR PREFIX

   writes OUTDIR/PREFIX-<what> for each variant, and PREFIX-valid-mid: the same state turned back
   to after epoch 1 and not done, a consistent file that must load.

     gen_state_seeds --checksum FILE

   rewrites the last 8 bytes of FILE (a state or a checkpoint) with the FNV-1a of the rest. The layout is cr__state_body's, with this build's
   cr_metrics, which is why the generator includes the header. */
#define CONTRAREC_IMPLEMENTATION
#include "../../contrarec.h"
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>

static unsigned char *in;
static size_t n_in;
static const char *outdir, *prefix;
static int written;

#define OFF_BEST_V 60u
#define OFF_LAST0 68u
#define OFF_LAST1 76u
#define OFF_NEVAL 84u
#define OFF_STEP 88u
#define OFF_LR 96u
#define OFF_LAMBDA 100u
#define OFF_BELOW 104u
#define OFF_BACKOFFS 108u
#define OFF_BEST_LAMBDA 112u
#define OFF_BEST_EPOCH 116u
#define OFF_EPOCHS_RUN 120u
#define OFF_STOP 124u
#define OFF_BEST_VALUE 128u
#define OFF_TRAIN_S 136u
#define OFF_EVAL_S 144u
#define OFF_MSIZE 152u
#define OFF_METRICS 156u
#define OFF_NPARAM (156u + (unsigned)sizeof(cr_metrics))

static void put32(unsigned char *p, uint32_t v) { int i; for (i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put64(unsigned char *p, uint64_t v) { int i; for (i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint64_t get64(const unsigned char *p) { uint64_t v = 0; int i; for (i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i); return v; }
static uint32_t get32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* Writes b[0..n) (n counts the checksum's 8 bytes, which are recomputed). */
static void emit(const char *what, unsigned char *b, size_t n) {
    char path[1024];
    FILE *f;
    if (n >= 8) put64(b + n - 8, cr__fnv(CR__FNV0, b, n - 8));
    snprintf(path, sizeof path, "%s/%s-%s", outdir, prefix, what);
    if (!(f = fopen(path, "wb")) || (n && fwrite(b, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "gen_state_seeds: cannot write %s\n", path);
        exit(1);
    }
    written++;
}

/* A copy of the input with 4 or 8 bytes at off replaced. */
static void set32(const char *what, size_t off, uint32_t v) {
    unsigned char *b = (unsigned char *)malloc(n_in);
    memcpy(b, in, n_in);
    if (off + 4 <= n_in - 8) { put32(b + off, v); emit(what, b, n_in); }
    free(b);
}
static void set64(const char *what, size_t off, uint64_t v) {
    unsigned char *b = (unsigned char *)malloc(n_in);
    memcpy(b, in, n_in);
    if (off + 8 <= n_in - 8) { put64(b + off, v); emit(what, b, n_in); }
    free(b);
}
static uint32_t fbits(float v) { uint32_t u; memcpy(&u, &v, 4); return u; }
static uint64_t dbits(double v) { uint64_t u; memcpy(&u, &v, 8); return u; }

/* The file cut after `keep` bytes of its body (then a checksum). */
static void cut(const char *what, size_t keep) {
    unsigned char *b;
    if (keep > n_in - 8) return;
    b = (unsigned char *)malloc(keep + 8);
    memcpy(b, in, keep);
    emit(what, b, keep + 8);
    free(b);
}

/* n floats from off set to v. */
static void fill(const char *what, size_t off, int64_t n, float v) {
    unsigned char *b = (unsigned char *)malloc(n_in);
    int64_t i;
    memcpy(b, in, n_in);
    if (off + 4 * (size_t)n <= n_in - 8) {
        for (i = 0; i < n; i++) put32(b + off + 4 * i, fbits(v));
        emit(what, b, n_in);
    }
    free(b);
}

int main(int argc, char **argv) {
    FILE *f;
    long sz;
    int64_t np;
    size_t off_params, off_flag, off_run, bnd[64];
    int nb = 0, i, has_best;
    char name[64];
    if (argc == 3 && !strcmp(argv[1], "--checksum")) {
        if (!(f = fopen(argv[2], "r+b")) || fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 8 || fseek(f, 0, SEEK_SET) != 0) {
            fprintf(stderr, "gen_state_seeds: cannot read %s\n", argv[2]);
            return 1;
        }
        in = (unsigned char *)malloc((size_t)sz);
        if (fread(in, 1, (size_t)sz, f) != (size_t)sz) return 1;
        put64(in + sz - 8, cr__fnv(CR__FNV0, in, (size_t)sz - 8));
        if (fseek(f, sz - 8, SEEK_SET) != 0 || fwrite(in + sz - 8, 1, 8, f) != 8 || fclose(f) != 0) return 1;
        return 0;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: gen_state_seeds IN.state OUTDIR PREFIX | gen_state_seeds --checksum FILE\n");
        return 2;
    }
    outdir = argv[2];
    prefix = argv[3];
    if (!(f = fopen(argv[1], "rb")) || fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "gen_state_seeds: cannot read %s\n", argv[1]);
        return 1;
    }
    n_in = (size_t)sz;
    in = (unsigned char *)malloc(n_in + 1);
    if (fread(in, 1, n_in, f) != n_in) return 1;
    fclose(f);
    if (n_in < OFF_NPARAM + 16 || memcmp(in, "CRTS", 4) != 0 || get32(in + OFF_MSIZE) != sizeof(cr_metrics)) {
        fprintf(stderr, "gen_state_seeds: %s is not a training state of this build\n", argv[1]);
        return 1;
    }
    np = (int64_t)get64(in + OFF_NPARAM);
    off_params = OFF_NPARAM + 8;
    off_flag = off_params + 12 * (size_t)np;
    has_best = get32(in + off_flag) == 1;
    off_run = off_flag + 4 + (has_best ? 4 * (size_t)np : 0);

    { /* a consistent state after epoch 1, not done */
        unsigned char *b = (unsigned char *)malloc(n_in);
        memcpy(b, in, n_in);
        put32(b + 16, 1);
        put32(b + 20, 0);
        put32(b + 24, 0);
        if (get32(b + OFF_BEST_EPOCH) > 1) put32(b + OFF_BEST_EPOCH, 1);
        put32(b + OFF_EPOCHS_RUN, 1);
        put32(b + OFF_STOP, 0);
        if (get32(b + OFF_NEVAL) > 1) put32(b + OFF_NEVAL, 1);
        put32(b + OFF_BELOW, 0);
        emit("valid-mid", b, n_in);
        free(b);
    }
    /* the head */
    set32("version-4", 4, 4);
    set32("phase-7", 8, 7);
    set32("max-epochs-0", 12, 0);
    set32("max-epochs-4000000000", 12, 4000000000u);
    set32("epoch-beyond-max", 16, get32(in + 12) + 1);
    set32("epoch-0", 16, 0);
    set32("patience-count-huge", 20, 0xFFFFFFFFu);
    set32("done-2", 24, 2);
    /* the bookkeeping */
    set64("best-value-nan", OFF_BEST_V, dbits(NAN));
    set64("last-evaluation-nan", OFF_LAST0, dbits(NAN));
    set64("last-evaluation-2", OFF_LAST1, dbits(2.0));
    set32("evaluation-count-huge", OFF_NEVAL, 0xFFFFFFF0u);
    set64("step-negative", OFF_STEP, (uint64_t)(int64_t)-5);
    set64("step-huge", OFF_STEP, (uint64_t)1 << 62);
    set64("step-0", OFF_STEP, 0);
    set32("lr-nan", OFF_LR, fbits(NAN));
    set32("lr-negative", OFF_LR, fbits(-1.0f));
    set32("lr-inf", OFF_LR, fbits(INFINITY));
    set32("lambda-nan", OFF_LAMBDA, fbits(NAN));
    set32("lambda-negative", OFF_LAMBDA, fbits(-0.5f));
    set32("lambda-above-config", OFF_LAMBDA, fbits(1e9f));
    set32("backoff-count-huge", OFF_BELOW, 0xFFFFFFF0u);
    set32("backoffs-9", OFF_BACKOFFS, 9);
    set32("best-lambda-nan", OFF_BEST_LAMBDA, fbits(NAN));
    set32("best-lambda-above-config", OFF_BEST_LAMBDA, fbits(1e9f));
    set32("best-epoch-999999", OFF_BEST_EPOCH, 999999);
    set32("best-epoch-negative", OFF_BEST_EPOCH, (uint32_t)-3);
    set32("epochs-run-999999", OFF_EPOCHS_RUN, 999999);
    set32("stopped-early-7", OFF_STOP, 7);
    set64("result-best-value-inf", OFF_BEST_VALUE, dbits(INFINITY));
    set64("train-seconds-nan", OFF_TRAIN_S, dbits(NAN));
    set64("eval-seconds-negative", OFF_EVAL_S, dbits(-1e300));
    set32("metrics-size-8", OFF_MSIZE, 8);
    set32("metrics-size-huge", OFF_MSIZE, 0x7FFFFFFFu);
    /* the metrics block, as this build lays it out */
    set32("metrics-nk-1000000", OFF_METRICS + offsetof(cr_metrics, n_k), 1000000);
    set32("metrics-nk-minus7", OFF_METRICS + offsetof(cr_metrics, n_k), (uint32_t)-7);
    set32("metrics-nk-9", OFF_METRICS + offsetof(cr_metrics, n_k), CR_MAX_K + 1);
    set32("metrics-k0-negative", OFF_METRICS + offsetof(cr_metrics, k), (uint32_t)-20);
    set64("metrics-users-negative", OFF_METRICS + offsetof(cr_metrics, users), (uint64_t)(int64_t)-1);
    set64("metrics-recall-nan", OFF_METRICS + offsetof(cr_metrics, recall), dbits(NAN));
    set64("metrics-cost-flops-nan", OFF_METRICS + offsetof(cr_metrics, cost) + offsetof(cr_phase_cost, flops),
          dbits(NAN));
    /* the parameters and moments */
    set64("param-count-huge", OFF_NPARAM, (uint64_t)1 << 40);
    set64("param-count-plus-1", OFF_NPARAM, (uint64_t)np + 1);
    fill("params-nan", off_params, np, NAN);
    fill("params-inf", off_params, np, INFINITY);
    fill("adam-m-nan", off_params + 4 * (size_t)np, np, NAN);
    fill("adam-v-negative", off_params + 8 * (size_t)np, np, -1.0f);
    set32("best-flag-2", off_flag, 2);
    set32("best-flag-flipped", off_flag, has_best ? 0u : 1u);
    if (has_best) fill("best-params-nan", off_flag + 4, np, NAN);
    set32("running-count-1000", off_run, 1000);
    if (get32(in + off_run) > 0) {
        set64("running-size-huge", off_run + 4, (uint64_t)1 << 40);
        fill("running-nan", off_run + 12, 1, NAN);
    }
    { /* a trailing byte block after the body */
        unsigned char *b = (unsigned char *)malloc(n_in + 16);
        memcpy(b, in, n_in - 8);
        memset(b + n_in - 8, 0x41, 16);
        emit("trailing-16", b, n_in + 16);
        free(b);
    }
    /* cut at every field (and in the middle of some) */
    for (i = 4; i <= 60; i += 4) bnd[nb++] = (size_t)i;
    bnd[nb++] = OFF_STEP; bnd[nb++] = OFF_LR; bnd[nb++] = OFF_BEST_EPOCH; bnd[nb++] = OFF_EPOCHS_RUN; bnd[nb++] = OFF_STOP;
    bnd[nb++] = OFF_BEST_VALUE; bnd[nb++] = OFF_TRAIN_S; bnd[nb++] = OFF_EVAL_S; bnd[nb++] = OFF_MSIZE; bnd[nb++] = OFF_METRICS;
    bnd[nb++] = OFF_METRICS + 2; bnd[nb++] = OFF_METRICS + sizeof(cr_metrics) / 2; bnd[nb++] = OFF_NPARAM; bnd[nb++] = OFF_NPARAM + 3;
    bnd[nb++] = off_params; bnd[nb++] = off_params + 4 * (size_t)np; bnd[nb++] = off_params + 8 * (size_t)np; bnd[nb++] = off_flag;
    bnd[nb++] = off_flag + 4; bnd[nb++] = off_run; bnd[nb++] = off_run + 4; bnd[nb++] = n_in - 9;
    for (i = 0; i < nb; i++) {
        snprintf(name, sizeof name, "cut-at-%zu", bnd[i]);
        cut(name, bnd[i]);
    }
    printf("gen_state_seeds: %d files from %s\n", written, argv[1]);
    return 0;
}
