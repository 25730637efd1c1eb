/* libFuzzer target for dataset files (cr_dataset_save's format). Built with
   FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION so the checksum does not stop the fuzzer at the door.
   A file that loads must hold a dataset the rest of the library accepts: ids in range, the
   interaction tables built, a test split carved; a failure must leave nothing behind. */
#define CONTRAREC_IMPLEMENTATION
#include "../../contrarec.h"
#include <stdlib.h>

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cr_dataset ds;
    cr_csr R;
    int64_t e;
    int seq;
    cr_status st = cr__dataset_load_mem(&ds, data, size, "fuzz");
    if (st != CR_OK) {
        REQUIRE(ds.train.n == 0 && ds.users.n == 0 && ds.train.user == NULL && cr_last_error()[0]);
        return 0;
    }
    REQUIRE(ds.n_users == ds.users.n && ds.n_items == ds.items.n && ds.train.n > 0);
    for (e = 0; e < ds.test.n; e++)
        REQUIRE(ds.test.user[e] >= 0 && ds.test.user[e] < ds.n_users && ds.test.item[e] < ds.n_items);
    for (seq = 0; seq < 2; seq++)
        if (cr_interactions_to_csr(&R, &ds.train, ds.n_users, ds.n_items, seq) == CR_OK) {
            REQUIRE(R.nnz <= ds.train.n && (seq ? R.nnz == ds.train.n : 1)); /* a graph merges repeated pairs */
            cr_csr_free(&R);
        }
    if (!ds.test.n) (void)cr_dataset_carve_test(&ds, 0.2, 0, 1);
    cr_dataset_free(&ds);
    return 0;
}
