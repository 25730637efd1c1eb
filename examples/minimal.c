/* The quick start of contrarec.h as a whole program: XSimGCL on train.txt / test.txt (LightGCN
   format, in the current directory), selected on a validation split, test read once, saved.
   make test builds it as C99 and as C++ and runs it on tests/data/small_*.txt. Copied beside
   contrarec.h it builds as it is: cc -O3 -march=native -fopenmp minimal.c -lm */
#define CONTRAREC_IMPLEMENTATION
#include "contrarec.h"
#include <stdio.h>
#include <string.h>

// Called after every epoch: where the run stands. Return non-zero to stop.
static int progress(void *user, cr_model *m, const cr_fit_info *e) {
    (void)user;
    (void)m;
    printf("epoch %d: loss %.4f", e->epoch, e->train.loss);
    if (e->evaluated)
        printf(", validation NDCG@20 %.4f (best %.4f, epoch %d)", e->sel.ndcg[1],
               e->best_value, e->best_epoch);
    printf("\n");
    fflush(stdout);
    return 0;
}

int main(void) {
    cr_dataset ds;
    cr_config cfg;
    cr_fit_opts fit;
    cr_fit_result res;
    cr_model *m;
    memset(&cfg, 0, sizeof cfg);  // every zero field means "the model's default"
    memset(&fit, 0, sizeof fit);  // select on validation, stop when it stops improving
    cfg.model = CR_MODEL_XSIMGCL;
    fit.on_epoch = progress;
    if (cr_dataset_load(&ds, "train.txt", "test.txt", NULL) != CR_OK ||  // format found
        cr_fit(&m, &cfg, &ds, &fit, &res) != CR_OK) {
        fprintf(stderr, "%s\n", cr_last_error());  // names file, line and field
        return 1;
    }
    printf("epoch %d, test Recall@20 %.4f NDCG@20 %.4f\n", res.best_epoch,
           res.test.recall[1], res.test.ndcg[1]);
    cr_model_save(m, "model.crrc");  // atomic; cr_model_load reads it back
    cr_model_free(m);
    cr_dataset_free(&ds);
    return 0;
}
