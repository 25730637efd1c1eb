/* libFuzzer target for checkpoint loading. Built with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
   so the checksum does not stop the fuzzer at the door. A file that loads must serve: its
   embeddings, a recommendation and an evaluation must run. */
#define CONTRAREC_IMPLEMENTATION
#include "../../contrarec.h"
#include <stdlib.h>

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cr_model *m = NULL;
    cr_status st = cr_model_load_mem(&m, data, size, "fuzz", NULL);
    if (st != CR_OK) {
        REQUIRE(m == NULL && cr_last_error()[0]);
        return 0;
    }
    {
        const float *U, *I;
        int64_t items[4];
        float sc[4];
        int n = 0, k = cr_model_num_items(m) < 4 ? cr_model_num_items(m) : 4;
        cr_interactions t;
        cr_metrics mt;
        cr_eval_opts eo;
        REQUIRE(cr_model_embeddings(m, &U, &I) == CR_OK && I != NULL);
        if (cr_recommend(m, cr_model_user_raw(m, 0), k, 1, items, sc, &n) == CR_OK) REQUIRE(n <= k);
        memset(&t, 0, sizeof t);
        memset(&eo, 0, sizeof eo);
        eo.ks[0] = 1;
        cr_interactions_push(&t, 0, 0, 1, 0);
        (void)cr_evaluate(m, &t, &eo, &mt);
        { /* the held-out records (format 4), masked as eval masks them */
            cr_interactions h;
            int rec = -1;
            REQUIRE(cr_model_held_out(m, &h, &rec) == CR_OK && (rec == 0 || rec == 1) && (rec || h.n == 0));
            eo.history_extra = &h;
            (void)cr_evaluate(m, &t, &eo, &mt);
            cr_interactions_free(&h);
        }
        cr_interactions_free(&t);
    }
    cr_model_free(m);
    return 0;
}
