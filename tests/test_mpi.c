/* Data-parallel training over MPI (make test-mpi: mpirun -np 2, and -np 4 --oversubscribe).
   Every process runs every test; a test fails if it fails on any process. The reference is the
   same training on one process (the communicator MPI_COMM_SELF) inside the same program, on the
   same data and seed; the run over MPI_COMM_WORLD must match it.

   The tolerance: the processes' shares of a batch are summed in another order than one process
   adds them (the all-reduce), so the gradients differ in their last bits (relative 1e-7 for a
   sum of a few terms). Adam turns a gradient into m / sqrt(v), which does not grow a relative
   error, and the forward pass over MPI is bit-identical to one process's (each SpMM row is
   summed in the same order); after S steps of learning rate lr a parameter can drift by about
   S * lr * 1e-6 where a gradient was near a cancellation. Seen (Zen 4, 2 and 4 processes, 2
   epochs of 11 batches): at most 1.6e-5 of the largest parameter (XSimGCL with DNS on 4). The
   check allows 1e-4 of it, and the two models' metrics within 0.01; one batch's gradients are
   held to 1e-5 of the largest (mpi/one_batch_gradients_match). Evaluation over MPI sums
   the same per-user results in the same order as one process, so it must match exactly. */
#define CONTRAREC_IMPLEMENTATION
#define CONTRAREC_MPI
#include "../contrarec.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static int rank, size, failed_now;

#define CHECKF(c, ...)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            printf("    [process %d] %s:%d: ", rank, __FILE__, __LINE__);                          \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            fflush(stdout);                                                                        \
            failed_now = 1;                                                                        \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static cr_dataset data(void) {
    cr_dataset ds;
    cr_synth_opts so;
    memset(&so, 0, sizeof so);
    so.n_users = 500;
    so.n_items = 700;
    so.mean_len = 14;
    so.seed = 11;
    if (cr_dataset_synthetic(&ds, &so, 0, 0.2) != CR_OK) memset(&ds, 0, sizeof ds);
    return ds;
}

/* A model of kind k (dim d, batch 512) over every process, trained `epochs` epochs (s: the last one's). */
static cr_status world_model(cr_model **m, const cr_dataset *ds, cr_model_kind k, int d, int epochs,
                             cr_epoch_stats *s) {
    cr_config c;
    cr_status st;
    int e;
    memset(&c, 0, sizeof c);
    c.model = k, c.dim = d, c.batch = 512;
    cr_mpi_set_comm(MPI_COMM_WORLD);
    *m = NULL;
    st = cr_model_create(m, &c, ds);
    for (e = 1; e <= epochs && st == CR_OK; e++) st = cr_train_epoch(*m, e, s, NULL, NULL);
    return st;
}

/* A model of kind k trained `epochs` epochs on comm, with the test's options. */
static cr_status train(cr_model **out, cr_model_kind k, const cr_dataset *ds, MPI_Comm comm, int variant, int epochs,
                       double *loss) {
    cr_config c;
    cr_epoch_stats s;
    cr_status st;
    int e;
    memset(&c, 0, sizeof c);
    c.model = k;
    c.dim = 16;
    c.batch = 512;
    c.seed = 3;
    if (variant == 1) { /* DNS negatives, SELFRec's L2 (a norm of the whole batch: process 0's) */
        c.neg = CR_NEG_DNS;
        c.l2_selfrec = 1;
    }
    if (variant == 2 && k != CR_MODEL_MF && k != CR_MODEL_LIGHTGCN) { /* a projection head, mixed negatives */
        c.proj_head = 1;
        c.cl_negatives = 64;
    }
    cr_mpi_set_comm(comm);
    *out = NULL;
    if ((st = cr_model_create(out, &c, ds)) != CR_OK) return st;
    for (e = 1; e <= epochs; e++)
        if ((st = cr_train_epoch(*out, e, &s, NULL, NULL)) != CR_OK) return st;
    *loss = s.loss;
    return CR_OK;
}

static int agree(int bad) { /* 1 if no process saw a failure */
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return !bad;
}

static void matches_one_process(cr_model_kind k, int variant) {
    cr_dataset ds = data();
    cr_model *a = NULL, *b = NULL;
    cr_metrics ma, mb;
    cr_eval_opts eo;
    double la = 0, lb = 0, big = 0, diff = 0, lo, hi;
    int64_t i, n;
    cr_status sa, sb;
    memset(&eo, 0, sizeof eo);
    eo.no_auc = 1;
    sa = train(&a, k, &ds, MPI_COMM_SELF, variant, 2, &la);
    sb = train(&b, k, &ds, MPI_COMM_WORLD, variant, 2, &lb);
    if (sa != CR_OK || sb != CR_OK) {
        printf("    [process %d] training failed: %s\n", rank, cr_last_error());
        failed_now = 1;
        goto done;
    }
    n = cr_model_num_params(a);
    for (i = 0; i < n; i++) {
        big = fmax(big, fabs(cr_model_params(a)[i]));
        diff = fmax(diff, fabs(cr_model_params(a)[i] - cr_model_params(b)[i]));
    }
    lo = hi = cr_model_params(b)[n / 2] + cr_model_params(b)[0]; /* the processes hold the same model */
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    cr_mpi_set_comm(MPI_COMM_SELF);
    sa = cr_evaluate(a, &ds.test, &eo, &ma);
    cr_mpi_set_comm(MPI_COMM_WORLD);
    sb = cr_evaluate(b, &ds.test, &eo, &mb);
    if (rank == 0)
        printf("(params %.2e of %.2e apart, loss %.6f / %.6f, recall@20 %.4f / %.4f) ", diff, big, la, lb,
               ma.recall[1], mb.recall[1]);
    if (sa != CR_OK || sb != CR_OK) {
        printf("    [process %d] evaluation failed: %s\n", rank, cr_last_error());
        failed_now = 1;
        goto done;
    }
    if (lo != hi || diff > 1e-4 * big || fabs(la - lb) > 1e-4 * fabs(la) ||
        fabs(ma.recall[1] - mb.recall[1]) > 0.01 || fabs(ma.ndcg[1] - mb.ndcg[1]) > 0.01) {
        printf("    [process %d] %s variant %d: processes apart %g, params %g (largest %g), loss %g vs %g, "
               "recall %g vs %g\n", rank, cr_model_name(k), variant, hi - lo, diff, big, la, lb, ma.recall[1],
               mb.recall[1]);
        failed_now = 1;
        goto done;
    }
    /* the evaluation itself, split over the processes: the same numbers as one process's */
    cr_mpi_set_comm(MPI_COMM_SELF);
    sa = cr_evaluate(b, &ds.test, &eo, &ma);
    cr_mpi_set_comm(MPI_COMM_WORLD);
    if (sa != CR_OK || memcmp(ma.recall, mb.recall, sizeof ma.recall) || memcmp(ma.ndcg, mb.ndcg, sizeof ma.ndcg) ||
        ma.beyond.item_coverage != mb.beyond.item_coverage) {
        printf("    [process %d] the split evaluation differs: recall %.17g vs %.17g\n", rank, ma.recall[1],
               mb.recall[1]);
        failed_now = 1;
    }
done:
    cr_mpi_set_comm(MPI_COMM_WORLD);
    cr_model_free(a);
    cr_model_free(b);
    cr_dataset_free(&ds);
}

/* One batch's gradient (cr_model_batch_loss) over MPI against one process's: the same up to the
   order of the sums (1e-5 of the largest), so that a share counted twice or missed shows. */
static void grads_match(cr_model_kind k, int variant) {
    cr_dataset ds = data();
    cr_model *a = NULL, *b = NULL;
    cr_config c;
    int32_t users[512], pos[512], neg[512];
    double la = 0, lb = 0, big = 0, diff = 0;
    int64_t i, n;
    cr_status sa, sb;
    memset(&c, 0, sizeof c);
    c.model = k, c.dim = 16, c.batch = 512, c.seed = 3;
    c.reg = 0.5f; /* an L2 gradient as large as the losses': a share of it counted twice shows */
    if (variant == 1) c.l2_selfrec = 1;
    if (variant == 2) c.proj_head = 1, c.cl_negatives = 64;
    for (i = 0; i < 512; i++) {
        int64_t e = (i * 7919) % ds.train.n;
        users[i] = ds.train.user[e], pos[i] = ds.train.item[e], neg[i] = (int32_t)((i * 13) % ds.n_items);
    }
    cr_mpi_set_comm(MPI_COMM_SELF);
    sa = cr_model_create(&a, &c, &ds);
    if (sa == CR_OK) sa = cr_model_batch_loss(a, users, pos, neg, 512, 1, 0, 1, &la);
    cr_mpi_set_comm(MPI_COMM_WORLD);
    sb = cr_model_create(&b, &c, &ds);
    if (sb == CR_OK) sb = cr_model_batch_loss(b, users, pos, neg, 512, 1, 0, 1, &lb);
    if (sa != CR_OK || sb != CR_OK) {
        printf("    [process %d] %s\n", rank, cr_last_error());
        failed_now = 1;
    } else {
        n = cr_model_num_params(a);
        for (i = 0; i < n; i++) {
            big = fmax(big, fabs(cr_model_grads(a)[i]));
            diff = fmax(diff, fabs(cr_model_grads(a)[i] - cr_model_grads(b)[i]));
        }
        if (rank == 0) printf("(gradients %.1e of %.1e apart) ", diff, big);
        if (!(diff <= 1e-5 * big) || fabs(la - lb) > 1e-6 * fabs(la)) {
            printf("    [process %d] %s variant %d: gradients %g apart (largest %g), loss %.9g vs %.9g\n", rank,
                   cr_model_name(k), variant, diff, big, la, lb);
            failed_now = 1;
        }
    }
    cr_model_free(a);
    cr_model_free(b);
    cr_dataset_free(&ds);
}

static void t_grads(void) {
    static const cr_model_kind kinds[4] = {CR_MODEL_MF, CR_MODEL_LIGHTGCN, CR_MODEL_SIMGCL, CR_MODEL_XSIMGCL};
    int k, v;
    for (k = 0; k < 4 && !failed_now; k++)
        for (v = 0; v < 3 && !failed_now; v++) grads_match(kinds[k], v);
}

/* Processes on different thread counts (process r on 1 + r % 2): one layout of the tables on all. */
static void t_threads(void) {
    cr_set_num_threads(1 + rank % 2);
    matches_one_process(CR_MODEL_LIGHTGCN, 0);
    if (!failed_now) matches_one_process(CR_MODEL_XSIMGCL, 0);
    cr_set_num_threads(1);
}

/* After training, process 0 alone serves (the propagation of serving runs on each process by
   itself): no collective waits for the others. make test-mpi's timeout turns a hang into a failure. */
static void t_serve_alone(void) {
    cr_dataset ds = data();
    cr_model *m = NULL;
    cr_status st = world_model(&m, &ds, CR_MODEL_XSIMGCL, 16, 1, NULL);
    if (st == CR_OK && rank == 0) {
        int64_t items[10];
        float sc[10];
        int got = 0;
        st = cr_recommend(m, ds.users.raw[0], 10, 1, items, sc, &got);
        if (st == CR_OK && got != 10) st = CR_ERR_INVALID;
    }
    cr_model_free(m);
    cr_dataset_free(&ds);
    CHECKF(st == CR_OK, "%s", cr_last_error());
}

static void t_mf(void) { matches_one_process(CR_MODEL_MF, 0); }
static void t_lightgcn(void) { matches_one_process(CR_MODEL_LIGHTGCN, 0); }
static void t_lightgcn_dns(void) { matches_one_process(CR_MODEL_LIGHTGCN, 1); }
static void t_simgcl(void) { matches_one_process(CR_MODEL_SIMGCL, 0); }
static void t_xsimgcl(void) { matches_one_process(CR_MODEL_XSIMGCL, 0); }
static void t_xsimgcl_head(void) { matches_one_process(CR_MODEL_XSIMGCL, 2); }
static void t_xsimgcl_l2(void) { matches_one_process(CR_MODEL_XSIMGCL, 1); }

/* The bytes a LightGCN step sends (cr_mpi_bytes_sent) against the ring algorithm's count of its
   collectives: K layer all-gathers and the layer mean's forward, dOut's all-reduce and K - 1
   all-gathers backward, the loss parts (3 doubles) and the gradients (every parameter) all-reduced. */
static void t_bytes(void) {
    cr_dataset ds = data();
    cr_model *m = NULL;
    cr_epoch_stats s;
    double N, d = 16, K = 3, P = size, want, got; /* K: LightGCN's default layers */
    cr_status st = world_model(&m, &ds, CR_MODEL_LIGHTGCN, 16, 1, &s);
    CHECKF(st == CR_OK && cr_model_config(m)->layers == 3, "%s", cr_last_error());
    N = (double)ds.n_users + ds.n_items;
    want = (P - 1) / P * (2 * K * N * d * 4 + 2 * N * d * 4 + 2 * 3 * 8 + 2 * (double)cr_model_num_params(m) * 4);
    got = s.comm_bytes / (double)s.batches;
    cr_model_free(m);
    cr_dataset_free(&ds);
    if (rank == 0) printf("(%.0f bytes per batch) ", got);
    CHECKF(fabs(got - want) < 1e-6 * want, "bytes per batch %.0f, the collectives' count %.0f", got, want);
}

/* A model that does not split its batch is refused, not trained wrong. */
static void t_refuses(void) {
    cr_dataset ds = data();
    cr_model *m = NULL;
    cr_status st = world_model(&m, &ds, CR_MODEL_SGL, 16, 1, NULL);
    cr_model_free(m);
    cr_dataset_free(&ds);
    CHECKF(st == CR_ERR_INVALID && strstr(cr_last_error(), "mpi: sgl"), "got %s: %s", cr_status_string(st),
           cr_last_error());
}

/* Process 0 writes files; the others write nothing (each asks for a file of its own name). */
static void t_rank0_writes(void) {
    cr_dataset ds = data();
    cr_model *m = NULL;
    char path[64];
    FILE *f;
    cr_status st;
    snprintf(path, sizeof path, "build/test-tmp/mpi-save-%d.bin", rank);
    remove(path);
    st = world_model(&m, &ds, CR_MODEL_MF, 8, 0, NULL);
    if (st == CR_OK) st = cr_model_save(m, path);
    cr_model_free(m);
    cr_dataset_free(&ds);
    CHECKF(st == CR_OK, "%s", cr_last_error());
    f = fopen(path, "rb");
    if (f) fclose(f);
    remove(path);
    CHECKF((f != NULL) == (rank == 0), "process %d %s %s", rank, f ? "wrote" : "did not write", path);
}

int main(int argc, char **argv) {
    static const struct {
        const char *name;
        void (*fn)(void);
    } cases[] = {{"mpi/mf_matches_one_process", t_mf},
                 {"mpi/lightgcn_matches_one_process", t_lightgcn},
                 {"mpi/lightgcn_dns_selfrec_l2_matches", t_lightgcn_dns},
                 {"mpi/simgcl_matches_one_process", t_simgcl},
                 {"mpi/xsimgcl_matches_one_process", t_xsimgcl},
                 {"mpi/xsimgcl_head_mixed_negatives_match", t_xsimgcl_head},
                 {"mpi/xsimgcl_dns_selfrec_l2_matches", t_xsimgcl_l2},
                 {"mpi/one_batch_gradients_match", t_grads},
                 {"mpi/processes_on_different_thread_counts", t_threads},
                 {"mpi/process_0_serves_alone_after_training", t_serve_alone},
                 {"mpi/bytes_sent_match_the_collectives", t_bytes},
                 {"mpi/unsplit_models_are_refused", t_refuses},
                 {"mpi/only_process_0_writes_files", t_rank0_writes}};
    int passed = 0, failed = 0, ok, i;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    cr_set_num_threads(1);
    if (rank == 0) printf("%d processes\n", size);
    for (i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        if (argc > 1 && !strstr(cases[i].name, argv[1])) continue;
        if (rank == 0) printf("%-44s ", cases[i].name);
        fflush(stdout);
        failed_now = 0;
        cases[i].fn();
        ok = agree(failed_now);
        passed += ok, failed += !ok;
        if (rank == 0) printf(ok ? "ok\n" : "  ^ FAILED %s\n", cases[i].name);
        fflush(stdout);
    }
    if (rank == 0) printf("%d passed, %d failed, 0 skipped\n", passed, failed);
    MPI_Finalize();
    return failed ? 1 : 0;
}
