/* The quick start of contrarec.h as a whole program: XSimGCL on train.txt / test.txt (LightGCN
   format, in the current directory), selected on a validation split, test read once, saved.
   make test builds it as C99 and as C++ and runs it on tests/data/small_*.txt. */
#define CONTRAREC_IMPLEMENTATION
#include "../contrarec.h"
#include <stdio.h>
#include <string.h>

int main(void) {
    cr_dataset ds;
    cr_config cfg;
    cr_fit_opts fit;
    cr_fit_result res;
    cr_model *m;
    memset(&cfg, 0, sizeof cfg);  // every zero field means "the model's default"
    memset(&fit, 0, sizeof fit);  // select on validation, stop when it stops improving
    cfg.model = CR_MODEL_XSIMGCL;
    if (cr_dataset_load(&ds, "train.txt", "test.txt", NULL) != CR_OK ||
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
