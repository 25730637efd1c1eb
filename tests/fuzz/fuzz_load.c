/* libFuzzer target for the text loaders. The first byte picks the format and the options; the
   rest is the file. A successful load must satisfy the loader's invariants, and the splits and
   grouping that follow must accept what it produced; a failure must leave nothing behind. The
   same text is also read as an item-feature file against the item ids it produced. */
#define CONTRAREC_IMPLEMENTATION
#include "../../contrarec.h"
#include <stdlib.h>

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cr_load_opts o;
    cr_idmap u, i;
    cr_interactions x, y, a, b;
    cr_load_report rep;
    cr_status st;
    int64_t e;
    if (size < 1) return 0;
    memset(&o, 0, sizeof o);
    memset(&u, 0, sizeof u);
    memset(&i, 0, sizeof i);
    o.format = (cr_format)(data[0] % CR_FORMAT_COUNT);
    o.skip_bad_lines = (data[0] >> 2) & 1;
    o.keep_duplicates = (data[0] >> 3) & 1;
    o.min_rating = (data[0] >> 4) & 1 ? 3.0f : 0.0f;
    st = cr_parse_interactions(&x, &u, &i, 1, (const char *)data + 1, size - 1, "fuzz", &o, &rep);
    if (st != CR_OK) {
        REQUIRE(x.n == 0 && x.user == NULL && u.n == 0 && i.n == 0 && cr_last_error()[0]);
        cr_idmap_free(&u);
        cr_idmap_free(&i);
        return 0;
    }
    REQUIRE(x.n == rep.records && x.n > 0);
    for (e = 0; e < x.n; e++) REQUIRE(x.user[e] >= 0 && x.user[e] < u.n && x.item[e] >= 0 && x.item[e] < i.n);
    /* the same text as a test file against these ids: everything is known */
    if (cr_parse_interactions(&y, &u, &i, 0, (const char *)data + 1, size - 1, "fuzz", &o, &rep) == CR_OK) {
        REQUIRE(rep.unknown_user == 0 && rep.unknown_item == 0);
        cr_interactions_free(&y);
    }
    if (cr_split_ratio(&x, u.n, 0.3, 1, &a, &b) == CR_OK) {
        REQUIRE(a.n + b.n == x.n);
        cr_interactions_free(&a);
        cr_interactions_free(&b);
    }
    if (cr_split_leave_last(&x, u.n, 1, &a, &b) == CR_OK) {
        REQUIRE(a.n + b.n == x.n);
        cr_interactions_free(&a);
        cr_interactions_free(&b);
    }
    {
        cr_csr c;
        if (cr_interactions_to_csr(&c, &x, u.n, i.n, data[0] & 1) == CR_OK) {
            REQUIRE(c.rowptr[c.nrows] == c.nnz);
            cr_csr_free(&c);
        }
    }
    { /* the same text as item features, against the items it named */
        cr_item_features f;
        if (cr_parse_item_features(&f, &i, (const char *)data + 1, size - 1, "fuzz") == CR_OK) {
            REQUIRE(f.x.nrows == i.n && f.x.rowptr[f.x.nrows] == f.x.nnz && f.items_with > 0 && f.x.nnz > 0);
            for (e = 0; e < f.x.nnz; e++) REQUIRE(f.x.col[e] >= 0 && f.x.col[e] < f.feats.n && f.x.val[e] > 0);
            cr_item_features_free(&f);
        } else
            REQUIRE(f.x.nrows == 0 && f.feats.n == 0 && cr_last_error()[0]);
    }
    cr_interactions_free(&x);
    cr_idmap_free(&u);
    cr_idmap_free(&i);
    return 0;
}
