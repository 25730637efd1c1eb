/* libFuzzer target for RecBole's atomic files (section 5d': a typed header on the first line
   makes cr_parse_interactions read the text as a .inter file and cr_parse_item_features as a
   .item file). The input is the whole file. It is read as interactions; then as item features,
   through the item ids it produced when it loaded as interactions, otherwise through a fixed map
   of raw item ids 0..63 and a few large ones (so .item files, which have no user column, are
   read too). A refusal is a status and a message, never a crash (refusals are not judged here:
   a valid file refused shows up in the seed corpus's tests, not as a crash). An accepted file
   must produce ids within the maps, finite ratings and times, and positive finite feature
   weights in a well-formed matrix. */
#define CONTRAREC_IMPLEMENTATION
#include "../../contrarec.h"
#include <stdio.h>
#include <stdlib.h>

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "fuzz_recbole: requirement failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static cr_idmap fixed_items;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    static const int64_t big[] = {100, 1000, 65535, 4294967295LL, 9223372036854775807LL};
    int64_t r;
    int32_t id;
    size_t k;
    (void)argc;
    (void)argv;
    memset(&fixed_items, 0, sizeof fixed_items);
    for (r = 0; r < 64; r++)
        if (cr_idmap_add(&fixed_items, r, &id) != CR_OK) abort();
    for (k = 0; k < sizeof big / sizeof big[0]; k++)
        if (cr_idmap_add(&fixed_items, big[k], &id) != CR_OK) abort();
    return 0;
}

static void check_features(const cr_idmap *items, const char *text, size_t len) {
    cr_item_features f;
    int64_t e, r;
    if (cr_parse_item_features(&f, items, text, len, "fuzz.item") != CR_OK) {
        REQUIRE(f.x.nrows == 0 && f.x.rowptr == NULL && f.feats.n == 0 && cr_last_error()[0]);
        return;
    }
    REQUIRE(f.x.nrows == items->n && f.x.rowptr && f.x.rowptr[0] == 0 && f.x.rowptr[f.x.nrows] == f.x.nnz);
    REQUIRE(f.items_with > 0 && f.items_with <= items->n && f.x.nnz > 0 && f.feats.n > 0);
    for (r = 0; r < f.x.nrows; r++) REQUIRE(f.x.rowptr[r] <= f.x.rowptr[r + 1]);
    for (e = 0; e < f.x.nnz; e++) {
        REQUIRE(f.x.col[e] >= 0 && f.x.col[e] < f.feats.n);
        REQUIRE(f.x.val == NULL || (f.x.val[e] > 0 && f.x.val[e] < 3.4e38f));
    }
    cr_item_features_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    cr_interactions x;
    cr_idmap u, i;
    cr_load_report rep;
    int64_t e;
    memset(&u, 0, sizeof u);
    memset(&i, 0, sizeof i);
    cr_clear_error();
    if (cr_parse_interactions(&x, &u, &i, 1, text, size, "fuzz.inter", NULL, &rep) == CR_OK) {
        REQUIRE(x.n > 0 && x.n == rep.records && u.n > 0 && i.n > 0);
        for (e = 0; e < x.n; e++) {
            REQUIRE(x.user[e] >= 0 && x.user[e] < u.n && x.item[e] >= 0 && x.item[e] < i.n);
            if (x.has_rating) REQUIRE(x.rating[e] == x.rating[e] && x.rating[e] < 3.4e38f && x.rating[e] > -3.4e38f);
            if (x.has_time) REQUIRE(x.time[e] == x.time[e]);
        }
        check_features(&i, text, size);
        cr_interactions_free(&x);
    } else {
        REQUIRE(x.n == 0 && u.n == 0 && i.n == 0 && cr_last_error()[0]);
        check_features(&fixed_items, text, size);
    }
    cr_idmap_free(&u);
    cr_idmap_free(&i);
    return 0;
}
