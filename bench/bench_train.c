/* Training benchmark on the real datasets: seconds per epoch, full-ranking evaluation time and
   peak RSS, for any model.
     bench_train [model [epochs [option=value ...]]]
                                       default: xsimgcl 2 (graph models: Gowalla; gru4rec and
                                       cl4srec: Amazon-Beauty); OMP_NUM_THREADS sets threads.
                                       Options: any model option as name=value (the config line's
                                       form: neg=dns, aug=rw, proj_head=on, batch=B, dim=D, ...),
                                       data=FOLDER (under
                                       CR_DATA: gowalla, lastfm, amazon-beauty), batches=N (stop each
                                       epoch after N batches: a slice of a long epoch, timed the same),
                                       train=PATH (a dataset file, .crd or text, instead of data=),
                                       eval=0 (no evaluation: the memory plan's training part and
                                       the peak RSS, for data too large to rank);
                                       --profile (anywhere): measure this machine's GEMM rate and
                                       bandwidth first, then print each epoch's phases against them */
#define _DEFAULT_SOURCE
#define CONTRAREC_IMPLEMENTATION
#include "../contrarec.h"
#include <stdlib.h>
#include "common.h"

static int stop_after(void *user, int epoch, int64_t batch, int64_t n_batches, double loss) {
    (void)epoch, (void)n_batches, (void)loss;
    return batch >= *(int64_t *)user;
}

int main(int argc, char **argv) {
    const char *name, *pos[2] = {"xsimgcl", "2"}, *data = NULL;
    char rel[256];
    int epochs, e, i, seq, np = 0, profile = 0, do_eval = 1;
    const char *train_path = NULL;
    int64_t max_batches = 0;
    cr_machine mc;
    cr_config c;
    cr_dataset ds;
    cr_model *m;
    cr_load_opts lo;
    cr_metrics mt;
    cr_eval_opts eo;
    char tr[512], te[512];
    double t, ep_sum = 0;
    memset(&c, 0, sizeof c);
    memset(&lo, 0, sizeof lo);
    memset(&eo, 0, sizeof eo);
    for (i = 1; i < argc; i++) /* --profile anywhere; the first two bare words: model, epochs */
        if (!strcmp(argv[i], "--profile")) profile = 1;
        else if (!strchr(argv[i], '=') && np < 2) pos[np++] = argv[i];
    name = pos[0];
    epochs = atoi(pos[1]);
    if (!(c.model = cr_model_parse(name)) || epochs < 1) {
        fprintf(stderr, "usage: bench_train [model [epochs [option=value ...]]] [--profile]\n");
        return 2;
    }
    for (i = 1; i < argc; i++) { /* a few options, enough to time the variants of a model */
        const char *a = argv[i], *v = strchr(a, '=');
        if (!strcmp(a, "--profile") || (!v && (a == pos[0] || a == pos[1]))) continue;
        if (!v) { fprintf(stderr, "bench_train: '%s' is not option=value\n", a); return 2; }
        v++;
        if (!strncmp(a, "batches=", 8)) max_batches = atoi(v);
        else if (!strncmp(a, "data=", 5)) data = v;
        else if (!strncmp(a, "train=", 6)) train_path = v;
        else if (!strncmp(a, "eval=", 5)) do_eval = atoi(v);
        else { /* a model option, as the config line writes it */
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)(v - 1 - a), a);
            if (cr_config_set(&c, key, v) != CR_OK) { fprintf(stderr, "bench_train: %s\n", cr_last_error()); return 2; }
        }
    }
    if (profile) { /* in the same run as the epochs it is compared with */
        if (cr_machine_measure(&mc) != CR_OK) {
            printf("%s\n", cr_last_error());
            return 1;
        }
        printf("machine (%d threads): cr_sgemm %.1f GFLOP/s (1024^3), bandwidth %.1f GB/s in cache (2 x 16 MB), %.1f "
               "GB/s from memory "
               "(2 x 256 MB)\n",
               mc.threads, mc.gemm_gflops, mc.cache_gbs, mc.dram_gbs);
    }
    seq = cr_model_is_sequential(c.model);
    if (!data) data = seq ? "amazon-beauty" : "gowalla";
    snprintf(rel, sizeof rel, "%s/train.txt", data);
    data_path(tr, sizeof tr, rel);
    snprintf(rel, sizeof rel, "%s/test.txt", data);
    data_path(te, sizeof te, rel);
    if (train_path) snprintf(tr, sizeof tr, "%s", train_path);
    if (!have_file(tr)) { printf("bench_train: %s not found (set CR_DATA to the data folder); skipped\n", tr); return 0; }
    /* Amazon-Beauty's files are sequences ("user:item item ..."), whatever the model reads */
    lo.format = seq || strstr(data, "beauty") ? CR_FORMAT_SEQ : train_path ? CR_FORMAT_AUTO : CR_FORMAT_LIGHTGCN;
    t = now_s();
    if (cr_dataset_load(&ds, tr, train_path ? NULL : te, &lo) != CR_OK) { printf("%s\n", cr_last_error()); return 1; }
    if (!do_eval) { /* what cr_fit would hold while training (no selection), for the RSS below */
        cr_mem_plan plan;
        cr_fit_opts fo;
        char txt[4096];
        memset(&fo, 0, sizeof fo);
        fo.select = CR_SELECT_LAST;
        fo.epochs = epochs;
        if (cr_memory_plan(&plan, &c, &ds, &fo) != CR_OK) { /* it resolves its own copy of c */
            printf("%s\n", cr_last_error());
            return 1;
        }
        cr_memory_plan_format(&plan, txt, sizeof txt);
        printf("%s", txt);
    }
    printf("%s on %s: %d users, %d items, %lld train, %lld test (loaded in %.2f s), %d threads\n", name, tr, ds.n_users, ds.n_items,
           (long long)ds.train.n, (long long)ds.test.n, now_s() - t, cr_get_num_threads());
    if (cr_model_create(&m, &c, &ds) != CR_OK) { printf("%s\n", cr_last_error()); return 1; }
    {
        char line[2048];
        cr_config_format(cr_model_config(m), line, sizeof line);
        printf("config: %s\n", line);
    }
    for (e = 1; e <= epochs; e++) {
        cr_epoch_stats s;
        if (cr_train_epoch(m, e, &s, max_batches ? stop_after : NULL, &max_batches) != CR_OK) {
            printf("%s\n", cr_last_error());
            return 1;
        }
        ep_sum += s.seconds;
        printf("epoch %d: %.2f s (%lld batches, %.1f ms/batch; %.2f s before the first batch), loss %.4f (rec %.4f, cl %.4f)\n", e, s.seconds,
               (long long)s.batches, 1e3 * s.seconds / (double)s.batches, s.prep_seconds, s.loss, s.rec_loss, s.cl_loss);
        if (profile) {
            char tab[2048];
            cr_phase_table(tab, sizeof tab, s.phase, CR_PHASE_COUNT, &mc);
            printf("%s", tab);
        }
    }
    if (do_eval) { /* accuracy only; with every beyond-accuracy metric and the groups; and with the AUC pass:
         three rounds, interleaved, the best of each (the machine is shared) */
        static const char *what[3] = {"accuracy only", "all metrics and groups", "all metrics, groups and AUC"};
        double best[3] = {1e30, 1e30, 1e30};
        int r;
        for (r = 0; r < 3; r++)
            for (i = 0; i < 3; i++) {
                eo.basic = i == 0;
                eo.no_auc = i < 2;
                eo.ks[0] = seq ? 10 : 20;
                if (cr_evaluate(m, &ds.test, &eo, &mt) != CR_OK) { printf("%s\n", cr_last_error()); return 1; }
                if (mt.seconds < best[i]) best[i] = mt.seconds;
                if (profile && r == 2 && i == 0) {
                    char tab[1024];
                    cr_phase_cost ph[CR_PHASE_COUNT];
                    memset(ph, 0, sizeof ph);
                    ph[CR_PHASE_EVAL] = mt.cost;
                    ph[CR_PHASE_EVAL].seconds = best[0];
                    cr_phase_table(tab, sizeof tab, ph, CR_PHASE_COUNT, &mc);
                    printf("evaluation, accuracy only (best of 3; the phase is the whole evaluation):\n%s", tab);
                }
                if (r < 2) continue;
                printf("full-ranking evaluation of %lld users at K = %d, %s: best of 3 %.2f s (recall %.4f, ndcg %.4f", (long long)mt.users,
                       mt.k[0], what[i], best[i], mt.recall[0], mt.ndcg[0]);
                if (i) printf(", %+.0f%% against accuracy only", 100.0 * (best[i] / best[0] - 1.0));
                printf(")\n");
            }
    }
    printf("mean epoch %.2f s; model memory %.0f MiB; peak RSS %.0f MiB\n", ep_sum / epochs,
           (double)cr_model_memory_bytes(m) / 1048576.0, peak_rss_mib());
    cr_model_free(m);
    cr_dataset_free(&ds);
    return 0;
}
