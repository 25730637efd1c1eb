/* loaders, splits, synthetic data */
#include "test.h"
#include <stdlib.h>

static cr_load_opts opts_fmt(cr_format f) {
    cr_load_opts o;
    memset(&o, 0, sizeof o);
    o.format = f;
    return o;
}

/* Loads path as a training file into fresh maps. */
static cr_status load(cr_interactions *x, cr_idmap *u, cr_idmap *i, const char *path, cr_load_opts o, cr_load_report *rep) {
    memset(u, 0, sizeof *u);
    memset(i, 0, sizeof *i);
    return cr_load_interactions(x, u, i, 1, path, &o, rep);
}

static void free3(cr_interactions *x, cr_idmap *u, cr_idmap *i) {
    cr_interactions_free(x);
    cr_idmap_free(u);
    cr_idmap_free(i);
}

TEST(lightgcn_format) {
    cr_interactions x;
    cr_idmap u, i;
    cr_load_report rep;
    const char *p = crt_write("lg.txt", "10 5 7 9\n20 7 3\n30\n", -1);
    CHECK_OK(load(&x, &u, &i, p, opts_fmt(CR_FORMAT_LIGHTGCN), &rep));
    CHECK(x.n == 5 && u.n == 3 && i.n == 4 && rep.records == 5 && rep.lines == 3);
    CHECK(u.raw[2] == 30 && cr_idmap_find(&u, 20) == 1 && cr_idmap_find(&i, 3) == 3);
    CHECK(x.user[3] == 1 && x.item[3] == 1); /* raw (20, 7) */
    CHECK(x.time[0] < x.time[1] && x.time[3] < x.time[4]); /* file order */
    free3(&x, &u, &i);
}

TEST(seq_format_colon_and_plain) {
    cr_interactions x;
    cr_idmap u, i;
    cr_csr S;
    const char *p = crt_write("seq.txt", "1:5 6 7\n2: 8 9 5\n3 4 5\n", -1);
    CHECK_OK(load(&x, &u, &i, p, opts_fmt(CR_FORMAT_SEQ), NULL));
    CHECK(x.n == 8 && u.n == 3 && i.n == 6);
    CHECK_OK(cr_interactions_to_csr(&S, &x, u.n, i.n, 1));
    CHECK(S.rowptr[2] - S.rowptr[1] == 3);
    CHECK(i.raw[S.col[S.rowptr[1]]] == 8 && i.raw[S.col[S.rowptr[1] + 2]] == 5); /* time order kept */
    cr_csr_free(&S);
    free3(&x, &u, &i);
}

TEST(triplets_separators_and_header) {
    cr_interactions x;
    cr_idmap u, i;
    cr_load_report rep;
    const char *p = crt_write("tri.csv", "user,item,rating,ts\n1,2,4.5,100\n1 , 3 ,2e0, 50\n2\t2\t1\t7\n3 4\n", -1);
    CHECK_OK(load(&x, &u, &i, p, opts_fmt(CR_FORMAT_TRIPLETS), &rep));
    CHECK(x.n == 4 && x.has_rating && x.has_time);
    CHECK(x.rating[0] == 4.5f && x.rating[1] == 2.0f && x.time[1] == 50.0 && x.time[0] == 100.0);
    CHECK(x.rating[3] == 1.0f);
    free3(&x, &u, &i);
}

TEST(movielens_variants) {
    cr_interactions x;
    cr_idmap u, i;
    cr_load_opts o = opts_fmt(CR_FORMAT_MOVIELENS);
    const char *p = crt_write("u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n", -1);
    CHECK_OK(load(&x, &u, &i, p, o, NULL));
    CHECK(x.n == 2 && x.time[1] == 891717742.0 && x.rating[0] == 3.0f);
    free3(&x, &u, &i);
    p = crt_write("ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n", -1);
    CHECK_OK(load(&x, &u, &i, p, o, NULL));
    CHECK(x.n == 2 && i.raw[1] == 661);
    free3(&x, &u, &i);
    p = crt_write("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.0,964981247\n", -1);
    CHECK_OK(load(&x, &u, &i, p, o, NULL));
    CHECK(x.n == 2);
    free3(&x, &u, &i);
    o.min_rating = 4.0f;
    p = crt_write("u2.data", "1\t1\t5\t1\n1\t2\t3\t2\n2\t1\t4\t3\n", -1);
    {
        cr_load_report rep;
        CHECK_OK(load(&x, &u, &i, p, o, &rep));
        CHECK(x.n == 2 && rep.below_rating == 1);
        free3(&x, &u, &i);
    }
    p = crt_write("u3.data", "1\t1\t5\n", -1);
    CHECK_FAILS(load(&x, &u, &i, p, opts_fmt(CR_FORMAT_MOVIELENS), NULL), CR_ERR_PARSE, "u3.data:1: expected 4 fields");
}

TEST(crlf_bom_blank_comments_trailing_duplicates) {
    cr_interactions x;
    cr_idmap u, i;
    cr_load_report rep;
    cr_load_opts o = opts_fmt(CR_FORMAT_LIGHTGCN);
    const char *p = crt_write("crlf.txt", "\xEF\xBB\xBF# a comment\r\n0 1 2 \r\n\r\n   \n1 2 2 3\t \r\n0 1\r\n", -1);
    CHECK_OK(load(&x, &u, &i, p, o, &rep));
    CHECK(x.n == 4 && rep.duplicates == 2 && rep.lines == 6);
    CHECK(u.raw[0] == 0 && i.raw[0] == 1);
    free3(&x, &u, &i);
    o.keep_duplicates = 1;
    CHECK_OK(load(&x, &u, &i, p, o, &rep));
    CHECK(x.n == 6 && rep.duplicates == 0);
    free3(&x, &u, &i);
}

TEST(malformed_inputs_are_refused_with_location) {
    cr_interactions x;
    cr_idmap u, i;
    cr_load_opts lg = opts_fmt(CR_FORMAT_LIGHTGCN), tr = opts_fmt(CR_FORMAT_TRIPLETS);
    CHECK_FAILS(load(&x, &u, &i, crt_write("bad1.txt", "0 1 2\n1 2 x3\n", -1), lg, NULL), CR_ERR_PARSE, "bad1.txt:2: field 3 (item id): 'x3' is not a non-negative integer");
    CHECK(x.n == 0 && x.user == NULL && u.n == 0 && i.n == 0);
    CHECK_FAILS(load(&x, &u, &i, crt_write("bad2.txt", "0 1\n-4 2\n", -1), lg, NULL), CR_ERR_PARSE, "bad2.txt:2: field 1 (user id): negative id '-4'");
    CHECK_FAILS(load(&x, &u, &i, crt_write("bad3.txt", "0 4294967296\n", -1), lg, NULL), CR_ERR_PARSE, "does not fit in 32 bits");
    CHECK_OK(load(&x, &u, &i, crt_write("ok32.txt", "4294967295 4294967295\n", -1), lg, NULL));
    CHECK(u.raw[0] == 4294967295LL);
    free3(&x, &u, &i);
    CHECK_FAILS(load(&x, &u, &i, crt_write("bad4.txt", "1,,2\n", -1), tr, NULL), CR_ERR_PARSE, "bad4.txt:1: empty field 2");
    CHECK_FAILS(load(&x, &u, &i, crt_write("bad5.txt", "1 2 3 4 5\n", -1), tr, NULL), CR_ERR_PARSE, "found 5");
    CHECK_FAILS(load(&x, &u, &i, crt_write("bad6.txt", "1 2 abc\n", -1), tr, NULL), CR_ERR_PARSE, "field 3 (rating): 'abc' is not a number");
    CHECK_FAILS(load(&x, &u, &i, crt_write("bad7.txt", "1 2 1 1e999\n", -1), tr, NULL), CR_ERR_PARSE, "field 4 (timestamp)");
    CHECK_FAILS(load(&x, &u, &i, crt_write("bad8.txt", "1 2\n3 4\0 5\n", 11), lg, NULL), CR_ERR_PARSE, "bad8.txt:2: binary data");
    CHECK_FAILS(load(&x, &u, &i, crt_write("bad9.txt", "1:2\n", -1), tr, NULL), CR_ERR_PARSE, "unexpected ':'");
    CHECK_FAILS(load(&x, &u, &i, crt_write("bad10.txt", "\x89PNG\r\n\x1a\n\xff\xfe", 10), lg, NULL), CR_ERR_PARSE, "bad10.txt:1: field 1 (user id): '\\x89PNG'");
    CHECK_FAILS(load(&x, &u, &i, crt_write("empty.txt", "", 0), lg, NULL), CR_ERR_EMPTY, "empty.txt: no interactions");
    CHECK_FAILS(load(&x, &u, &i, crt_write("blank.txt", "\n\n  \n# only a comment\n", -1), lg, NULL), CR_ERR_EMPTY, "no interactions");
    CHECK_FAILS(load(&x, &u, &i, crt_tmp("does-not-exist.txt"), lg, NULL), CR_ERR_IO, "does-not-exist.txt: cannot open");
    CHECK_FAILS(load(&x, &u, &i, "build/test-tmp", lg, NULL), CR_ERR_IO, "build/test-tmp: cannot read");
    CHECK_FAILS(load(&x, &u, &i, NULL, lg, NULL), CR_ERR_INVALID, "no file name");
    lg.format = (cr_format)9;
    CHECK_FAILS(load(&x, &u, &i, crt_tmp("bad1.txt"), lg, NULL), CR_ERR_INVALID, "unknown file format");
}

TEST(skip_bad_lines_counts_them) {
    cr_interactions x;
    cr_idmap u, i;
    cr_load_report rep;
    cr_load_opts o = opts_fmt(CR_FORMAT_TRIPLETS);
    o.skip_bad_lines = 1;
    CHECK_OK(load(&x, &u, &i, crt_write("skip.txt", "1 2\nfoo bar\n3 4\n5\n6 7 8 9 10\n", -1), o, &rep));
    CHECK(x.n == 2 && rep.bad_lines == 3 && rep.first_bad_line == 2); /* only line 1 may be a header */
    CHECK(strstr(rep.first_bad, "'foo' is not a non-negative integer") != NULL);
    free3(&x, &u, &i);
}

TEST(very_long_line) {
    int n = 200000, k;
    char *buf = (char *)malloc((size_t)n * 8 + 16), *s = buf;
    cr_interactions x;
    cr_idmap u, i;
    s += sprintf(s, "7");
    for (k = 0; k < n; k++) s += sprintf(s, " %d", k);
    *s++ = '\n';
    CHECK_OK(load(&x, &u, &i, crt_write("long.txt", buf, s - buf), opts_fmt(CR_FORMAT_LIGHTGCN), NULL));
    CHECK(x.n == n && u.n == 1 && i.n == n);
    free3(&x, &u, &i);
    free(buf);
}

TEST(failed_load_rolls_back_id_maps) {
    cr_interactions x;
    cr_idmap u, i;
    cr_load_opts o = opts_fmt(CR_FORMAT_LIGHTGCN);
    memset(&u, 0, sizeof u);
    memset(&i, 0, sizeof i);
    CHECK_OK(cr_load_interactions(&x, &u, &i, 1, crt_write("a.txt", "1 2 3\n", -1), &o, NULL));
    cr_interactions_free(&x);
    CHECK(cr_load_interactions(&x, &u, &i, 1, crt_write("b.txt", "5 6 7\n8 x\n", -1), &o, NULL) == CR_ERR_PARSE);
    CHECK(u.n == 1 && i.n == 2 && cr_idmap_find(&u, 5) < 0 && cr_idmap_find(&i, 6) < 0 && cr_idmap_find(&i, 3) == 1);
    cr_idmap_free(&u);
    cr_idmap_free(&i);
}

TEST(dataset_test_unknowns_and_overlap) {
    cr_dataset ds;
    cr_load_opts o = opts_fmt(CR_FORMAT_LIGHTGCN);
    const char *tr = crt_write("ds_train.txt", "0 10 11\n1 11 12\n", -1);
    const char *te = crt_write("ds_test.txt", "0 12 11\n1 10 99\n2 10\n", -1);
    CHECK_OK(cr_dataset_load(&ds, tr, te, &o));
    CHECK(ds.n_users == 2 && ds.n_items == 3);
    CHECK(ds.test_report.unknown_user == 1 && ds.test_report.unknown_item == 1);
    CHECK(ds.test_overlap == 1); /* (0, 11) is in train */
    CHECK(ds.test.n == 2);
    cr_dataset_free(&ds);
    te = crt_write("ds_test2.txt", "5 10\n", -1);
    CHECK_FAILS(cr_dataset_load(&ds, tr, te, &o), CR_ERR_EMPTY, "no test interactions left (1 records with users unknown");
}

TEST(splits_ratio_and_leave_last) {
    cr_interactions all, a, b, a2, b2;
    int32_t nu, ni;
    int64_t e;
    cr_synth_opts so;
    memset(&so, 0, sizeof so);
    so.n_users = 300;
    so.n_items = 500;
    so.mean_len = 12;
    CHECK_OK(cr_synthetic(&all, &nu, &ni, &so));
    CHECK_OK(cr_split_ratio(&all, nu, 0.2, 5, &a, &b));
    CHECK(a.n + b.n == all.n);
    CHECK(b.n > all.n / 7 && b.n < all.n / 4);
    CHECK_OK(cr_split_ratio(&all, nu, 0.2, 5, &a2, &b2));
    CHECK(a2.n == a.n && memcmp(a.item, a2.item, sizeof(int32_t) * (size_t)a.n) == 0);
    cr_interactions_free(&a); cr_interactions_free(&b); cr_interactions_free(&a2); cr_interactions_free(&b2);
    CHECK_OK(cr_split_leave_last(&all, nu, 1, &a, &b));
    CHECK(b.n == nu); /* every synthetic user has >= 5 records */
    for (e = 0; e < b.n; e++) {
        int64_t f;
        for (f = 0; f < a.n; f++)
            if (a.user[f] == b.user[e]) CHECK(a.time[f] < b.time[e]);
    }
    cr_interactions_free(&a); cr_interactions_free(&b);
    CHECK_FAILS(cr_split_ratio(&all, nu, 1.5, 5, &a, &b), CR_ERR_INVALID, "split ratio");
    cr_interactions_free(&all);
}

TEST(synthetic_is_deterministic) {
    cr_interactions x, y;
    int32_t nu, ni, nu2, ni2;
    cr_synth_opts so;
    memset(&so, 0, sizeof so);
    so.seed = 77;
    CHECK_OK(cr_synthetic(&x, &nu, &ni, &so));
    CHECK_OK(cr_synthetic(&y, &nu2, &ni2, &so));
    CHECK(nu == 2000 && ni == 3000 && x.n == y.n && x.n > 2000 * 20);
    CHECK(memcmp(x.item, y.item, sizeof(int32_t) * (size_t)x.n) == 0);
    cr_interactions_free(&y);
    { /* users are generated in blocks on all threads: the same records on 1 and 3 threads */
        cr_interactions z;
        int t0 = cr_get_num_threads();
        so.n_users = 9000; /* three blocks of users */
        cr_set_num_threads(1);
        CHECK_OK(cr_synthetic(&y, &nu2, &ni2, &so));
        cr_set_num_threads(3);
        CHECK_OK(cr_synthetic(&z, &nu2, &ni2, &so));
        cr_set_num_threads(t0);
        CHECK(y.n == z.n && y.n > 9000 * 20 && !memcmp(y.user, z.user, sizeof(int32_t) * (size_t)y.n) &&
              !memcmp(y.item, z.item, sizeof(int32_t) * (size_t)y.n) &&
              !memcmp(y.time, z.time, sizeof(double) * (size_t)y.n));
        CHECK(y.user[0] == 0 && y.user[y.n - 1] == 8999 && !memcmp(y.item, x.item, sizeof(int32_t) * 100));
        cr_interactions_free(&y);
        cr_interactions_free(&z);
        so.n_users = 0;
    }
    so.seed = 78;
    CHECK_OK(cr_synthetic(&y, &nu2, &ni2, &so));
    CHECK(x.n != y.n || memcmp(x.item, y.item, sizeof(int32_t) * (size_t)x.n) != 0);
    cr_interactions_free(&x);
    cr_interactions_free(&y);
    so.n_items = 3;
    CHECK_FAILS(cr_synthetic(&x, &nu, &ni, &so), CR_ERR_INVALID, "items 3 >= 10");
}

TEST(real_gowalla_when_present) {
    cr_dataset ds;
    cr_config c;
    cr_model *m = NULL;
    cr_metrics mt;
    cr_eval_opts eo;
    cr_interactions few;
    int64_t e;
    int g;
    /* SGL's 10 item groups on Gowalla (the notes' table, ties by id) */
    static const int32_t items[10] = {10456, 7915, 6428, 5125, 3930, 2886, 1998, 1274, 702, 267};
    const char *tr = "../shared/data/gowalla/train.txt", *te = "../shared/data/gowalla/test.txt";
    if (!crt_have_file(tr)) { crt_skip("no ../shared/data"); return; }
    CHECK_OK(cr_dataset_load(&ds, tr, te, NULL));
    CHECK(ds.n_users == 29858 && ds.n_items == 40981 && ds.train.n == 810128 && ds.test.n == 217242);
    CHECK(ds.test_report.unknown_user == 0 && ds.test_report.unknown_item == 0 && ds.test_overlap == 0);
    memset(&c, 0, sizeof c);
    memset(&eo, 0, sizeof eo);
    memset(&few, 0, sizeof few);
    c.model = CR_MODEL_MF;
    c.dim = 4;
    eo.no_auc = 1;
    for (e = 0; e < ds.test.n && ds.test.user[e] < 50; e++) CHECK_OK(cr_interactions_push(&few, ds.test.user[e], ds.test.item[e], 1, 0));
    CHECK_OK(cr_model_create(&m, &c, &ds));
    CHECK_OK(cr_evaluate(m, &few, &eo, &mt)); /* the item groups come from the training degrees alone */
    for (g = 0; g < 10; g++) CHECKF(mt.groups.item_count[g] == items[g], "item group %d: %d items, SGL's rule gives %d", g, mt.groups.item_count[g], items[g]);
    cr_interactions_free(&few);
    cr_model_free(m);
    cr_dataset_free(&ds);
}

TEST(real_lastfm_when_present) {
    cr_dataset ds;
    const char *tr = "../shared/data/lastfm/train.txt", *te = "../shared/data/lastfm/test.txt";
    if (!crt_have_file(tr)) { crt_skip("no ../shared/data"); return; }
    CHECK_OK(cr_dataset_load(&ds, tr, te, NULL));
    /* README: 2 users appear only in test (3 records), 13 items only in test */
    CHECK(ds.train.n == 42135 && ds.test_report.unknown_user == 3 && ds.test_report.unknown_item > 0);
    cr_dataset_free(&ds);
}

/* Item features: "item feat[:weight] ...", ids mapped through the data's item ids. */
TEST(item_features_format_and_errors) {
    cr_idmap items;
    cr_item_features f;
    int32_t d;
    int64_t i, p;
    static const char *const bad[][2] = {
        {"1 10\n2 11\n1 12\n", "f:3: item 1 already has its features on line 1"},
        {"1 10\n2\n", "f:2: item 2 has no features"},
        {"1 10:0\n", "f:1: field 2 (feature weight): 0 is not a positive finite number"},
        {"1 10:-2\n", "is not a positive finite number"},
        {"1 10:abc\n", "f:1: field 2 (feature weight)"},
        {"1 10:1e-50\n", "f:1: field 2 (feature weight): 1e-50 is not a positive finite number"},
        {"1 :5\n", "f:1: field 2 (feature id) is empty"},
        {"1 x7\n", "f:1: field 2 (feature id): 'x7' is not a non-negative integer id"},
        {"a 7\n", "f:1: field 1 (item id)"},
        {"99 7\n", "f: no features for any known item (1 lines, 1 for unknown items)"},
        {"1 10\n2 1\x00 3\n", "f:2: binary data"}};
    memset(&items, 0, sizeof items);
    for (i = 0; i < 3; i++) CHECK_OK(cr_idmap_add(&items, 1 + i, &d)); /* raw items 1, 2, 3 */
    {
        const char *txt = "\xEF\xBB\xBF# items and their attributes\n1 10 11 10:3\n\n2\t11:0.5  12 \r\n99 10\n";
        CHECK_OK(cr_parse_item_features(&f, &items, txt, strlen(txt), "f"));
    }
    CHECK(f.x.nrows == 3 && f.x.ncols == 3 && f.x.nnz == 4 && f.feats.n == 3 && f.items_with == 2);
    CHECK(f.unknown_items == 1 && f.first_unknown_line == 5 && f.lines == 5 && f.repeated == 1 && f.first_repeated_line == 2);
    CHECK(f.x.rowptr[3] - f.x.rowptr[2] == 0); /* item 3: no features */
    for (i = 0; i < 2; i++)
        for (p = f.x.rowptr[i]; p < f.x.rowptr[i + 1]; p++) {
            int64_t raw = f.feats.raw[f.x.col[p]];
            CHECKF(f.x.val[p] == (i == 1 && raw == 11 ? 0.5f : 1.0f) && (i == 0 ? raw == 10 || raw == 11 : raw == 11 || raw == 12),
                   "item %lld feature %lld weight %g", (long long)i, (long long)raw, (double)f.x.val[p]);
        }
    cr_item_features_free(&f);
    for (i = 0; i < (int64_t)(sizeof bad / sizeof *bad); i++) {
        size_t len = strlen(bad[i][0]);
        if (strstr(bad[i][1], "binary")) len = 12;
        CHECK_FAILS(cr_parse_item_features(&f, &items, bad[i][0], len, "f"), i == 9 ? CR_ERR_EMPTY : CR_ERR_PARSE, bad[i][1]);
        CHECK(f.x.nrows == 0 && f.feats.n == 0);
    }
    CHECK_FAILS(cr_load_item_features(&f, &items, "build/test-tmp/no-such-features.txt"), CR_ERR_IO, "no-such-features.txt: cannot open");
    cr_idmap_free(&items);
}

/* RecBole's atomic files: a typed header names the columns; .inter rows become interactions
   (columns found by name, others ignored), .item rows features (token, token_seq, float in
   decile bins; float_seq ignored), with the file's own line numbers in every message. */
TEST(recbole_atomic_files) {
    cr_interactions x;
    cr_idmap users, items;
    cr_item_features f;
    cr_load_report rep;
    int64_t e, p;
    int i;
    const char *inter = "item_id:token\tnote:token_seq\tuser_id:token\ttimestamp:float\trating:float\n"
                        "10\ta b\t1\t100\t4\n"
                        "\n"
                        "11\t\t1\t90\t2.5\n"
                        "10\tc\t2\t95\t5\n";
    static const char *const bad[][2] = {
        {"user_id:token\titem_id:token\n1\t2\n1\t2\t3\n", "f:3: 3 tab-separated fields, the header names 2"},
        {"user_id:token\titem_id:token\n1\tB00X\n", "f:2: column 2 (item_id): 'B00X' is not an integer id"},
        {"user_id:token\titem_id:token\n\t7\n", "f:2: column 1 (user_id): '' is not an integer id"},
        {"user_id:token\tthing:token\n1\t2\n", "needs the columns user_id and item_id"},
        {"user_id:token\titem_id:token\trating:float\n1\t2\tx\n", "f:2: column 3 (rating): 'x' is not a number"},
        {"user_id:token\titem_id:token\trating:float\n1\t2\t\n", "f:2: column 3 (rating) is empty"},
        {"user_id:token\titem_id:token\trating:float\n1\t2\t1e39\n", "(rating): '1e39' is out of range (beyond a float's"},
        {"user_id:token\titem_id:token\n#1\t2\n", "f:2: column 1 (user_id): '#1' is not an integer id"}};
    memset(&users, 0, sizeof users);
    memset(&items, 0, sizeof items);
    CHECK_OK(cr_parse_interactions(&x, &users, &items, 1, inter, strlen(inter), "f.inter", NULL, &rep));
    CHECK(x.n == 3 && rep.records == 3 && rep.lines == 5 && x.has_rating && x.has_time && users.n == 2 && items.n == 2);
    for (e = 0; e < x.n; e++) { /* (1, 10, 4, 100), (1, 11, 2.5, 90), (2, 10, 5, 95) in file order */
        static const double want[3][4] = {{1, 10, 4, 100}, {1, 11, 2.5, 90}, {2, 10, 5, 95}};
        CHECKF(users.raw[x.user[e]] == (int64_t)want[e][0] && items.raw[x.item[e]] == (int64_t)want[e][1] && x.rating[e] == (float)want[e][2] &&
                   x.time[e] == want[e][3],
               "record %lld", (long long)e);
    }
    cr_interactions_free(&x);
    { /* a timestamp without a rating: timed, not rated */
        const char *t = "user_id:token\titem_id:token\ttimestamp:float\n1\t10\t5\n2\t10\t3\n";
        CHECK_OK(cr_parse_interactions(&x, &users, &items, 1, t, strlen(t), "t.inter", NULL, NULL));
        CHECK(x.n == 2 && !x.has_rating && x.has_time && x.time[1] == 3 && x.rating[0] == 1);
        cr_interactions_free(&x);
    }
    for (i = 0; i < (int)(sizeof bad / sizeof *bad); i++) {
        cr_idmap_free(&users);
        cr_idmap_free(&items);
        CHECK_FAILS(cr_parse_interactions(&x, &users, &items, 1, bad[i][0], strlen(bad[i][0]), "f", NULL, NULL), CR_ERR_PARSE, bad[i][1]);
        CHECK(x.n == 0 && users.n == 0);
    }
    cr_idmap_free(&users);
    cr_idmap_free(&items);
    for (i = 0; i < 12; i++) { /* items 0..11 */
        int32_t d;
        CHECK_OK(cr_idmap_add(&items, i, &d));
    }
    {
        /* item i (0..9) priced i: deciles put each in its own bin; item 3 has no features; 99 is unknown */
        char txt[1024];
        size_t n = (size_t)snprintf(txt, sizeof txt, "item_id:token\tbrand:token\tcats:token_seq\tprice:float\temb:float_seq\n");
        for (i = 0; i < 10; i++)
            n += (size_t)snprintf(txt + n, sizeof txt - n, i == 3 ? "%d\t\t\t\t1 2\n" : "%d\t%s\t%s\t%d\t\n", i, i % 2 ? "Acme Co" : "Beta",
                                  i % 3 ? "Makeup Face Face" : "Skin", i);
        n += (size_t)snprintf(txt + n, sizeof txt - n, "99\tAcme Co\tSkin\t1\t\n");
        CHECK_OK(cr_parse_item_features(&f, &items, txt, n, "f.item"));
    }
    /* 9 items with features; distinct: 2 brands, 3 categories, 9 price bins (item 3's is missing) */
    CHECKF(f.items_with == 9 && f.unknown_items == 1 && f.first_unknown_line == 12 && f.feats.n == 14 && f.repeated == 6,
           "%lld items with features, %lld unknown (line %lld), %d features, %lld repeated", (long long)f.items_with, (long long)f.unknown_items,
           (long long)f.first_unknown_line, f.feats.n, (long long)f.repeated);
    CHECK(f.x.rowptr[4] - f.x.rowptr[3] == 0 && f.x.rowptr[2] - f.x.rowptr[1] == 4 && f.x.rowptr[1] - f.x.rowptr[0] == 3);
    for (i = 0; i < 10; i++) /* same brand, same feature; each price its own */
        for (p = f.x.rowptr[i]; p < f.x.rowptr[i + 1]; p++) CHECK(f.x.val[p] == 1.0f);
    CHECK(f.x.col[f.x.rowptr[2]] == f.x.col[f.x.rowptr[0]] && f.x.col[f.x.rowptr[1]] != f.x.col[f.x.rowptr[0]]);
    cr_item_features_free(&f);
    {
        const char *t = "item_id:token\tbrand:token\n1\tx\n2\n";
        CHECK_FAILS(cr_parse_item_features(&f, &items, t, strlen(t), "f.item"), CR_ERR_PARSE, "f.item:3: 1 tab-separated fields, the header names 2");
        t = "item_id:token\tprice:float\n1\t3,5\n";
        CHECK_FAILS(cr_parse_item_features(&f, &items, t, strlen(t), "f.item"), CR_ERR_PARSE, "f.item:2: column 2 (price): '3,5' is not a number");
        t = "iid:token\tprice:float\n1\t3\n";
        CHECK_FAILS(cr_parse_item_features(&f, &items, t, strlen(t), "f.item"), CR_ERR_PARSE, "needs the column item_id");
    }
    cr_idmap_free(&items);
}

/* Amazon-Beauty's brand and category attributes: every item, 637 attribute ids, 1-6 per item. */
TEST(real_beauty_item_features_when_present) {
    cr_dataset ds;
    cr_load_opts lo;
    int64_t i, lo_n = 99, hi_n = 0;
    const char *tr = "../shared/data/amazon-beauty/train.txt", *te = "../shared/data/amazon-beauty/test.txt",
               *fe = "../shared/data/amazon-beauty/item_attributes.txt";
    if (!crt_have_file(fe)) { crt_skip("no ../shared/data"); return; }
    memset(&lo, 0, sizeof lo);
    lo.format = CR_FORMAT_SEQ;
    CHECK_OK(cr_dataset_load(&ds, tr, te, &lo));
    CHECK_OK(cr_load_item_features(&ds.features, &ds.items, fe));
    for (i = 0; i < ds.n_items; i++) {
        int64_t n = ds.features.x.rowptr[i + 1] - ds.features.x.rowptr[i];
        if (n < lo_n) lo_n = n;
        if (n > hi_n) hi_n = n;
    }
    /* the 9 items seen only in test are not in the training id map: their lines are skipped */
    CHECKF(ds.features.feats.n <= 637 && ds.features.items_with == ds.n_items && ds.features.unknown_items == 12101 - ds.n_items &&
               lo_n >= 1 && hi_n <= 6 && ds.features.repeated == 5,
           "%d features, %lld items with features of %d, %lld unknown, %lld..%lld per item", ds.features.feats.n,
           (long long)ds.features.items_with, ds.n_items, (long long)ds.features.unknown_items, (long long)lo_n, (long long)hi_n);
    cr_dataset_free(&ds);
}

/* RecBole's per-user 80/10/10 rule (RecDCL's split): the counts of the notes, per user and on
   Amazon-Beauty (train and test joined). */
TEST(ratio_split_three_ways) {
    static const int ns[5] = {5, 9, 10, 19, 20}, want[5][3] = {{3, 1, 1}, {7, 1, 1}, {8, 1, 1}, {17, 1, 1}, {16, 2, 2}};
    cr_dataset ds;
    int64_t us[63], is[63], e, cnt[5][3];
    int u, k, n = 0;
    for (u = 0; u < 5; u++)
        for (k = 0; k < ns[u]; k++) { us[n] = 100 + u; is[n] = k; n++; }
    CHECK_OK(cr_dataset_from_arrays(&ds, us, is, n, NULL, NULL, 0, 0));
    CHECK_OK(cr_dataset_split_ratio(&ds, 0.8, 0.1, 0.1, 3));
    memset(cnt, 0, sizeof cnt);
    for (e = 0; e < ds.train.n; e++) cnt[ds.train.user[e]][0]++;
    for (e = 0; e < ds.valid.n; e++) cnt[ds.valid.user[e]][1]++;
    for (e = 0; e < ds.test.n; e++) cnt[ds.test.user[e]][2]++;
    for (u = 0; u < 5; u++)
        CHECKF(cnt[u][0] == want[u][0] && cnt[u][1] == want[u][1] && cnt[u][2] == want[u][2], "n = %d: %lld/%lld/%lld", ns[u],
               (long long)cnt[u][0], (long long)cnt[u][1], (long long)cnt[u][2]);
    CHECK(ds.train.n + ds.valid.n + ds.test.n == n);
    CHECK_FAILS(cr_dataset_split_ratio(&ds, 0.8, 0.1, 0.1, 3), CR_ERR_INVALID, "already has a test set");
    cr_dataset_free(&ds);
    CHECK_OK(cr_dataset_from_arrays(&ds, us, is, n, NULL, NULL, 0, 0));
    CHECK_FAILS(cr_dataset_split_ratio(&ds, 0.8, 0.1, 0.2, 3), CR_ERR_INVALID, "must be positive and sum to 1");
    CHECK_FAILS(cr_dataset_split_ratio(&ds, 1, 0, 0, 3), CR_ERR_INVALID, "must be positive");
    cr_dataset_free(&ds);
    { /* Beauty, train + test joined: 148,766 / 24,868 / 24,868 (the notes), whatever the seed */
        cr_load_opts lo;
        const char *tr = "../shared/data/amazon-beauty/train.txt", *te = "../shared/data/amazon-beauty/test.txt";
        cr_interactions all;
        if (!crt_have_file(te)) { printf("(Beauty skipped) "); return; }
        memset(&lo, 0, sizeof lo);
        lo.format = CR_FORMAT_SEQ;
        CHECK_OK(cr_dataset_load(&ds, tr, NULL, &lo));
        /* the test file's records, with its 9 new items, through the same id maps */
        CHECK_OK(cr_load_interactions(&all, &ds.users, &ds.items, 1, te, &lo, NULL));
        ds.n_users = ds.users.n;
        ds.n_items = ds.items.n;
        for (e = 0; e < all.n; e++) CHECK_OK(cr_interactions_push(&ds.train, all.user[e], all.item[e], 1, all.time[e]));
        cr_interactions_free(&all);
        CHECK_OK(cr_dataset_split_ratio(&ds, 0.8, 0.1, 0.1, 1));
        CHECKF(ds.n_items == 12101 && ds.train.n == 148766 && ds.valid.n == 24868 && ds.test.n == 24868, "%d items, %lld / %lld / %lld",
               ds.n_items, (long long)ds.train.n, (long long)ds.valid.n, (long long)ds.test.n);
        cr_dataset_free(&ds);
    }
}

/* RecBole files as they come: equal tokens in different columns (Amazon's float columns cut into
   bins "0".."9", one-letter codes) are different features; a header that is meant as one but
   cannot be read, a file of the other kind, and bad values are refused naming the file's own
   line, column number and column name. */
TEST(recbole_unusual_and_hostile) {
    cr_interactions x;
    cr_idmap users, items;
    cr_item_features f;
    char txt[4096];
    size_t n;
    int i;
    static const char *const bad_inter[][2] = {
        {"user_id:token\titem_id:token\trating:flaot\n1\t2\t3\n", "f:1: column 3 (rating) of the RecBole header: unknown type 'flaot'"},
        {"\nitem_id:token\tuser_id:token\ttimestamp:float\trating:float\n1\t2\t3\tx\n", "f:3: column 4 (rating): 'x' is not a number"},
        {"item_id:token\tuser_id:token\ttimestamp:float\n1\t2\t\n", "f:2: column 3 (timestamp) is empty"},
        {"user_id:token\titem_id:token\n99999999999\t2\n", "f:2: column 1 (user_id): id '99999999999' does not fit in 32 bits"},
        {"item_id:token\tprice:float\n1\t2\n", "f: a RecBole .item file (item_id without user_id), not an .inter file"}};
    memset(&users, 0, sizeof users);
    memset(&items, 0, sizeof items);
    for (i = 0; i < (int)(sizeof bad_inter / sizeof *bad_inter); i++)
        CHECK_FAILS(cr_parse_interactions(&x, &users, &items, 1, bad_inter[i][0], strlen(bad_inter[i][0]), "f", NULL, NULL), CR_ERR_PARSE, bad_inter[i][1]);
    n = (size_t)snprintf(txt, sizeof txt, "user_id:token");
    for (i = 0; i < 256; i++) n += (size_t)snprintf(txt + n, sizeof txt - n, "\tc%d:float", i);
    CHECK_FAILS(cr_parse_interactions(&x, &users, &items, 1, txt, n, "f", NULL, NULL), CR_ERR_PARSE, "f:1: a RecBole header of more than 256 columns");
    for (i = 0; i < 40; i++) {
        int32_t d;
        CHECK_OK(cr_idmap_add(&items, i, &d));
    }
    /* Amazon-style: two float columns (one bin each per item, "0".."9" in both) and one-letter tokens in three columns */
    n = (size_t)snprintf(txt, sizeof txt, "item_id:token\tsales_rank:float\tprice:float\tsize:token\tcolour:token\tgrade:token\n");
    for (i = 0; i < 40; i++)
        n += (size_t)snprintf(txt + n, sizeof txt - n, "%d\t%d\t%d.5\t%c\t%c\t%c\n", i, 1000 - i, i, 'a' + i % 3, 'b' + i % 2, 'c' + i % 4);
    CHECK_OK(cr_parse_item_features(&f, &items, txt, n, "amazon.item"));
    /* 10 + 10 bins, 3 + 2 + 4 letters: every (column, token) its own feature */
    CHECKF(f.items_with == 40 && f.feats.n == 29, "%lld items with features, %d features", (long long)f.items_with, f.feats.n);
    for (i = 0; i < 40; i++) CHECK(f.x.rowptr[i + 1] - f.x.rowptr[i] == 5);
    cr_item_features_free(&f);
    {
        const char *inter = "user_id:token\titem_id:token\trating:float\n1\t2\t5\n";
        const char *badf = "item_id:token\tprice:float\n1\tcheap\n";
        CHECK_FAILS(cr_parse_item_features(&f, &items, inter, strlen(inter), "x.inter"), CR_ERR_PARSE, "x.inter: a RecBole .inter file (its header has user_id)");
        CHECK_FAILS(cr_parse_item_features(&f, &items, badf, strlen(badf), "f.item"), CR_ERR_PARSE, "f.item:2: column 2 (price): 'cheap' is not a number");
    }
    cr_idmap_free(&users);
    cr_idmap_free(&items);
}

/* One item line of 300,000 features (every one named twice) parses in linear time: a repeat is
   found by a mark per feature, not by scanning the line's features so far. */
TEST(item_features_long_line_is_linear) {
    cr_idmap items;
    cr_item_features f;
    int32_t d;
    int i, nf = 300000;
    size_t n = 0, cap = (size_t)nf * 16 + 64;
    char *t = (char *)malloc(cap);
    CHECK(t != NULL);
    memset(&items, 0, sizeof items);
    for (i = 0; i < 3; i++) CHECK_OK(cr_idmap_add(&items, i, &d));
    n += (size_t)snprintf(t + n, cap - n, "1");
    for (i = 0; i < 2 * nf; i++) n += (size_t)snprintf(t + n, cap - n, " %d", i % nf);
    n += (size_t)snprintf(t + n, cap - n, "\n2 5 5:2\n");
    CHECK_OK(cr_parse_item_features(&f, &items, t, n, "long"));
    free(t);
    CHECKF(f.feats.n == nf && f.repeated == nf + 1 && f.x.rowptr[2] - f.x.rowptr[1] == nf && f.x.rowptr[3] - f.x.rowptr[2] == 1,
           "%d features, %lld repeated", f.feats.n, (long long)f.repeated);
    cr_item_features_free(&f);
    cr_idmap_free(&items);
}

/* With no format given, the layout is read from the file: each common layout loads as what it
   is, a file of ratings and timestamps is never read as item lists, and a file two readings
   fit is refused naming both and the option that chooses. */
TEST(format_detected_from_the_first_lines) {
    static const struct { const char *text; cr_format want; int64_t records; int rated, timed; } files[] = {
        {"196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n", CR_FORMAT_MOVIELENS, 3, 1, 1}, /* u.data */
        {"1::1193::5::978300760\n1::661::3::978302109\n", CR_FORMAT_MOVIELENS, 2, 1, 1},                             /* ratings.dat */
        {"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.0,964981247\n", CR_FORMAT_MOVIELENS, 2, 1, 1},  /* ratings.csv */
        {"user,item,score\n1,20,0.5\n2,20,1.5\n", CR_FORMAT_TRIPLETS, 2, 1, 0},                                      /* CSV with a header */
        {"1 20 4\n2 30 5\n3 20 1\n", CR_FORMAT_TRIPLETS, 3, 1, 0},
        {"0 11 12 13 14\n1 12\n2 40 41\n", CR_FORMAT_LIGHTGCN, 7, 0, 0},                                             /* LightGCN */
        {"0 11 12 13\n1 12 13 14\n2 10 14 15\n", CR_FORMAT_LIGHTGCN, 9, 0, 0},                                      /* equal widths, item ids */
        {"1: 5 6 7\n2: 6 5\n", CR_FORMAT_SEQ, 5, 0, 0},
        {"5 7\n5 8\n6 7\n", CR_FORMAT_TRIPLETS, 3, 0, 0},
        {"user_id:token\titem_id:token\trating:float\n1\t2\t5\n", CR_FORMAT_TRIPLETS, 1, 1, 0}};                   /* RecBole .inter */
    static const char *const ambiguous[] = {"0 1 2 3\n1 2 3 4\n2 0 4 5\n", "0 1 2\n1 2 3\n3 4 5\n", "1 20 4 17\n2 30 5 18\n"};
    cr_interactions x;
    cr_idmap users, items;
    cr_load_report rep;
    cr_format f;
    size_t i;
    memset(&users, 0, sizeof users);
    memset(&items, 0, sizeof items);
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        CHECK_OK(cr_parse_interactions(&x, &users, &items, 1, files[i].text, strlen(files[i].text), "f", NULL, &rep));
        CHECKF(rep.format == files[i].want && rep.detected == (i < 9) && x.n == files[i].records && x.has_rating == files[i].rated &&
                   x.has_time == files[i].timed,
               "file %d: read as %s (detected %d), %lld records, rated %d, timed %d", (int)i, cr_format_name(rep.format), rep.detected,
               (long long)x.n, x.has_rating, x.has_time);
        cr_interactions_free(&x);
        cr_idmap_free(&users);
        cr_idmap_free(&items);
    }
    for (i = 0; i < sizeof ambiguous / sizeof ambiguous[0]; i++) {
        CHECK_FAILS(cr_parse_interactions(&x, &users, &items, 1, ambiguous[i], strlen(ambiguous[i]), "amb.txt", NULL, NULL), CR_ERR_PARSE,
                    "amb.txt: the format is ambiguous");
        CHECK(strstr(cr_last_error(), "--format") && strstr(cr_last_error(), "\"user item rating"));
        CHECK(users.n == 0 && items.n == 0);
    }
    CHECK_OK(cr_detect_format(ambiguous[0], strlen(ambiguous[0]), "a", &f) == CR_ERR_PARSE ? CR_OK : CR_ERR_INVALID);
    CHECK(f == CR_FORMAT_AUTO);
    CHECK_OK(cr_detect_format(files[0].text, strlen(files[0].text), "a", &f));
    CHECK(f == CR_FORMAT_MOVIELENS && !strcmp(cr_format_name(f), "movielens"));
    {   /* the real MovieLens-style shape: 4 columns, ratings 1-5, timestamps; never item lists */
        char *t = (char *)malloc(200000);
        size_t n = 0;
        int k;
        CHECK(t != NULL);
        for (k = 0; k < 5000; k++) n += (size_t)snprintf(t + n, 200000 - n, "%d\t%d\t%d\t%d\n", k % 943 + 1, (k * 7) % 1682 + 1, k % 5 + 1, 874724710 + k);
        CHECK_OK(cr_detect_format(t, n, "u.data", &f));
        free(t);
        CHECK(f == CR_FORMAT_MOVIELENS);
    }
}

/* Rewrites the checksum of a dataset file image, so that a crafted field reaches the checks. */
static void crd_reseal(unsigned char *b, size_t len) {
    uint64_t h = 14695981039346656037ULL;
    size_t i;
    for (i = 0; i < len - 8; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    for (i = 0; i < 8; i++) b[len - 8 + i] = (unsigned char)(h >> (8 * i));
}

static size_t crd_slurp(const char *path, unsigned char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap, f) : 0;
    if (f) fclose(f);
    return n;
}

static const char *crd_put(const char *name, const unsigned char *b, size_t n) {
    return crt_write(name, (const char *)b, (long)n);
}

TEST(dataset_file_round_trip_and_hostile_bytes) {
    cr_dataset a, b;
    cr_load_opts o = opts_fmt(CR_FORMAT_TRIPLETS);
    const char *tr =
        crt_write("crd_train.txt", "7 100 4.5 1000\n7 101 3 1001\n9 100 5 1002\n9 102 2 1003\n4 101 1 1004\n", -1);
    const char *te = crt_write("crd_test.txt", "7 102 4 2000\n9 101 3 2001\n4 100 2 2002\n", -1);
    const char *fe = crt_write("crd_feat.txt", "100 1 2:3\n102 2\n", -1);
    static unsigned char img[8192], bad[8192];
    size_t n, k;
    int64_t e;
    CHECK_OK(cr_dataset_load(&a, tr, te, &o));
    CHECK_OK(cr_load_item_features(&a.features, &a.items, fe));
    CHECK_OK(cr_dataset_carve_valid(&a, 0.5, 0, 3)); /* a validation set too */
    CHECK_OK(cr_dataset_save(&a, "build/test-tmp/crd_a.crd"));
    CHECK_OK(cr_dataset_load(&b, "build/test-tmp/crd_a.crd", NULL, NULL));
    CHECK(b.n_users == a.n_users && b.n_items == a.n_items && b.test_overlap == a.test_overlap);
    CHECK(b.train.n == a.train.n && b.valid.n == a.valid.n && b.test.n == a.test.n && b.valid.n > 0);
    CHECK(b.train.has_rating && b.train.has_time && b.train_report.format == CR_FORMAT_TRIPLETS);
    for (e = 0; e < a.n_users; e++) CHECK(b.users.raw[e] == a.users.raw[e]);
    for (e = 0; e < a.train.n; e++)
        CHECK(b.train.user[e] == a.train.user[e] && b.train.item[e] == a.train.item[e] &&
              b.train.rating[e] == a.train.rating[e] && b.train.time[e] == a.train.time[e]);
    for (e = 0; e < a.test.n; e++) CHECK(b.test.user[e] == a.test.user[e] && b.test.item[e] == a.test.item[e]);
    CHECK(b.features.x.nnz == a.features.x.nnz && b.features.feats.n == a.features.feats.n &&
          b.features.items_with == 2);
    for (e = 0; e < a.features.x.nnz; e++)
        CHECK(b.features.x.col[e] == a.features.x.col[e] && b.features.x.val[e] == a.features.x.val[e]);
    cr_dataset_free(&b);
    CHECK_FAILS(cr_dataset_load(&b, "build/test-tmp/crd_a.crd", te, NULL), CR_ERR_INVALID,
                "a dataset file holds its own test records");
    n = crd_slurp("build/test-tmp/crd_a.crd", img, sizeof img);
    CHECK(n > 100 && n < sizeof img);
    /* every truncation and every flipped byte: refused (the checksum), never a crash */
    for (k = 0; k < n; k += 7) {
        crd_put("crd_cut.crd", img, k);
        CHECK(cr_dataset_load(&b, "build/test-tmp/crd_cut.crd", NULL, NULL) != CR_OK && b.train.n == 0);
        memcpy(bad, img, n);
        bad[k] ^= 0x40;
        crd_put("crd_flip.crd", bad, n);
        CHECK(cr_dataset_load(&b, "build/test-tmp/crd_flip.crd", NULL, NULL) != CR_OK);
    }
    /* crafted fields with a valid checksum: each refused with its reason */
    {
        static const struct {
            size_t at;
            unsigned char v;
            const char *msg;
        } craft[] = {
            {4, 9, "dataset file version 9"}, /* version */
            {8, 9, "bad format field"}, /* format: none of them */
            {12, 0, "bad sizes (0 users"}, /* users */
            {16, 1, "bad sizes (3 users, 1 items"}, /* items */
            {20, 7, "bad or repeated user id 7"}, /* user 0's raw id: 7 again (it is 7, 9, 4) */
        };
        size_t c;
        for (c = 0; c < sizeof craft / sizeof craft[0]; c++) {
            memcpy(bad, img, n);
            if (c == 4) {
                memcpy(bad + 28, bad + 20, 8);
            } /* user 1's raw id := user 0's */
            else
                bad[craft[c].at] = craft[c].v;
            crd_reseal(bad, n);
            crd_put("crd_craft.crd", bad, n);
            CHECK_FAILS(cr_dataset_load(&b, "build/test-tmp/crd_craft.crd", NULL, NULL), CR_ERR_FORMAT, craft[c].msg);
        }
        /* a training record's item out of range: after the header (20), 3 user and 4 item ids,
           the training count and flags (16), the users (4 each), then the first item */
        memcpy(bad, img, n);
        k = 20 + 8 * (size_t)(a.n_users + a.n_items) + 16 + 4 * (size_t)a.train.n;
        bad[k] = 0x7f;
        crd_reseal(bad, n);
        crd_put("crd_craft.crd", bad, n);
        CHECK_FAILS(cr_dataset_load(&b, "build/test-tmp/crd_craft.crd", NULL, NULL), CR_ERR_FORMAT,
                    "training record 0: user");
        /* a repeated training pair: record 1 := record 0 */
        memcpy(bad, img, n);
        k = 20 + 8 * (size_t)(a.n_users + a.n_items) + 16;
        memcpy(bad + k + 4, bad + k, 4);
        memcpy(bad + k + 4 * (size_t)a.train.n + 4, bad + k + 4 * (size_t)a.train.n, 4);
        crd_reseal(bad, n);
        crd_put("crd_craft.crd", bad, n);
        CHECK_OK(cr_dataset_load(&b, "build/test-tmp/crd_craft.crd", NULL, NULL)); /* kept: as keep_duplicates */
        CHECK(b.train.n == a.train.n && b.train.user[1] == b.train.user[0] && b.train.item[1] == b.train.item[0]);
        cr_dataset_free(&b);
        {
            cr_load_opts kd = opts_fmt(CR_FORMAT_AUTO);
            kd.min_rating = 3;
            CHECK_FAILS(cr_dataset_load(&b, "build/test-tmp/crd_a.crd", NULL, &kd), CR_ERR_INVALID,
                        "a dataset file is read as it was written");
        }
        /* bytes after the end */
        memcpy(bad, img, n - 8);
        memset(bad + n - 8, 0, 8);
        crd_reseal(bad, n + 8);
        crd_put("crd_craft.crd", bad, n + 8);
        CHECK_FAILS(cr_dataset_load(&b, "build/test-tmp/crd_craft.crd", NULL, NULL), CR_ERR_FORMAT,
                    "bytes after the dataset");
    }
    a.n_items = 1; /* not a dataset: refused before anything is written */
    CHECK_FAILS(cr_dataset_save(&a, "build/test-tmp/crd_no.crd"), CR_ERR_INVALID, "not a dataset to save");
    CHECK(fopen("build/test-tmp/crd_no.crd", "rb") == NULL);
    a.n_items = a.items.n;
    cr_dataset_free(&a);
}

/* One parse of text with chunk size csz on nth threads: the records, maps and report, as a string. */
static cr_status parse_to(char *out, size_t cap, const char *text, cr_format fmt, int add_ids, int skip, float minr,
                          int64_t csz, int nth) {
    cr_interactions x;
    cr_idmap users, items;
    cr_load_opts o;
    cr_load_report rep;
    cr_status st;
    size_t len = 0;
    int64_t e;
    int32_t i;
    memset(&users, 0, sizeof users);
    memset(&items, 0, sizeof items);
    memset(&o, 0, sizeof o);
    o.format = fmt, o.skip_bad_lines = skip, o.min_rating = minr, o.chunk_bytes = csz;
    if (!add_ids) /* a test file: the maps of the first 40 users and items */
        for (i = 0; i < 40; i++) cr_idmap_add(&users, 100 + i, &i), cr_idmap_add(&items, 500 + i, &i);
    cr_set_num_threads(nth);
    st = cr_parse_interactions(&x, &users, &items, add_ids, text, strlen(text), "t.txt", &o, &rep);
    cr_set_num_threads(2);
    len += (size_t)snprintf(out + len, cap - len, "%d %s|%lld %lld %lld %lld %lld %lld %lld|%s|%d%d|", (int)st,
                            st ? cr_last_error() : "", (long long)rep.lines, (long long)rep.records,
                            (long long)rep.bad_lines, (long long)rep.duplicates, (long long)rep.below_rating,
                            (long long)rep.unknown_user, (long long)rep.first_bad_line, rep.first_bad, x.has_rating,
                            x.has_time);
    for (e = 0; e < x.n && len < cap - 64; e++)
        len += (size_t)snprintf(out + len, cap - len, "%d,%d,%g,%.17g;", x.user[e], x.item[e], x.rating[e], x.time[e]);
    for (i = 0; i < users.n && len < cap - 32; i++)
        len += (size_t)snprintf(out + len, cap - len, "u%lld", (long long)users.raw[i]);
    for (i = 0; i < items.n && len < cap - 32; i++)
        len += (size_t)snprintf(out + len, cap - len, "i%lld", (long long)items.raw[i]);
    cr_interactions_free(&x);
    cr_idmap_free(&users);
    cr_idmap_free(&items);
    return st;
}

/* Parsing in chunks on two threads gives one thread's records, ids, report and first error,
   whatever the chunk size (down to a line per chunk). */
TEST(parsing_in_chunks_matches_one_thread) {
    static char text[4][40000], a[200000], b[200000];
    size_t n[4] = {0, 0, 0, 0};
    int l, c, k;
    cr_set_num_threads(2);
    if (cr_get_num_threads() < 2) { crt_skip("one thread (no OpenMP): nothing runs in chunks"); return; }
    for (l = 0; l < 600; l++) { /* LightGCN lines, a user without items, comments, blanks, one bad line */
        int u = 100 + (l * 7) % 53, it;
        if (l % 97 == 5) n[0] += (size_t)sprintf(text[0] + n[0], "# a comment\n\n");
        n[0] += (size_t)sprintf(text[0] + n[0], "%d", u);
        for (it = 0; it < l % 6; it++) n[0] += (size_t)sprintf(text[0] + n[0], " %d", 500 + (l * 13 + it * 31) % 61);
        n[0] += (size_t)sprintf(text[0] + n[0], l == 411 ? " x%d\n" : "\n", l);
        n[1] += (size_t)sprintf(text[1] + n[1], l == 0 ? "user,item,rating,time\n" : "%d,%d,%d,%d\n", u,
                                500 + (l * 11) % 47, 1 + l % 5, 1000 - l); /* triplets with a header */
        n[2] += (size_t)sprintf(text[2] + n[2], "%d %d %s\n", u, 500 + (l * 3) % 45, l == 300 ? "1e999" : "2");
        if (l == 0) /* a header after comments and blank lines, beyond the first chunks */
            n[3] += (size_t)sprintf(text[3] + n[3], "# exported by a tool\n\n  \n# user, item\nuser,item\n");
        n[3] += (size_t)sprintf(text[3] + n[3], "%d,%d\n", u, 500 + (l * 5) % 43);
    }
    for (k = 0; k < 4; k++)
        for (c = 0; c < 7; c++) {
            static const int64_t sizes[] = {16, 40, 100, 333, 1000, 4096, 20000};
            const cr_format f = k == 0 ? CR_FORMAT_LIGHTGCN : CR_FORMAT_TRIPLETS;
            int add, skip;
            for (add = 0; add < 2; add++)
                for (skip = 0; skip < 2; skip++) {
                    cr_status s1 = parse_to(a, sizeof a, text[k], f, add, skip, k == 1 ? 2.0f : 0, sizes[c], 1);
                    cr_status s2 = parse_to(b, sizeof b, text[k], f, add, skip, k == 1 ? 2.0f : 0, sizes[c], 2);
                    CHECKF(s1 == s2 && !strcmp(a, b), "text %d, chunks of %lld, add_ids %d, skip %d: one thread "
                           "%.300s\ntwo %.300s", k, (long long)sizes[c], add, skip, a, b);
                    CHECK(s1 != CR_OK || strlen(a) > 1000); /* something was read */
                }
        }
}

const crt_case crt_data[] = {
    {"data/parsing_in_chunks_matches_one_thread", parsing_in_chunks_matches_one_thread},
    {"data/lightgcn_format", lightgcn_format},
    {"data/seq_format_colon_and_plain", seq_format_colon_and_plain},
    {"data/triplets_separators_and_header", triplets_separators_and_header},
    {"data/movielens_variants", movielens_variants},
    {"data/crlf_bom_blank_comments_trailing_duplicates", crlf_bom_blank_comments_trailing_duplicates},
    {"data/malformed_inputs_are_refused_with_location", malformed_inputs_are_refused_with_location},
    {"data/skip_bad_lines_counts_them", skip_bad_lines_counts_them},
    {"data/very_long_line", very_long_line},
    {"data/failed_load_rolls_back_id_maps", failed_load_rolls_back_id_maps},
    {"data/dataset_test_unknowns_and_overlap", dataset_test_unknowns_and_overlap},
    {"data/splits_ratio_and_leave_last", splits_ratio_and_leave_last},
    {"data/synthetic_is_deterministic", synthetic_is_deterministic},
    {"data/real_gowalla_when_present", real_gowalla_when_present},
    {"data/real_lastfm_when_present", real_lastfm_when_present},
    {"data/item_features_format_and_errors", item_features_format_and_errors},
    {"data/recbole_atomic_files", recbole_atomic_files},
    {"data/recbole_unusual_and_hostile", recbole_unusual_and_hostile},
    {"data/format_detected_from_the_first_lines", format_detected_from_the_first_lines},
    {"data/item_features_long_line_is_linear", item_features_long_line_is_linear},
    {"data/ratio_split_three_ways", ratio_split_three_ways},
    {"data/real_beauty_item_features_when_present", real_beauty_item_features_when_present},
    {"data/dataset_file_round_trip_and_hostile_bytes", dataset_file_round_trip_and_hostile_bytes},
    {NULL, NULL}};
