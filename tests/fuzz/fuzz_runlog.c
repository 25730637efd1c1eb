/* libFuzzer target for the run-log reader of plot and report: examples/contrarec.c, included
   whole with its main renamed. The reader must return (never exit) with a message naming the
   input, or accept the log; an accepted log's lines must serve every lookup the charts and
   tables make, with finite points only. Either way nothing may stay allocated. */
#define main contrarec_main
#include "../../examples/contrarec.c"
#undef main

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

/* a curve of metric: finite points, no more than the epoch lines */
static void check_curve(const run *r, const char *metric) {
    double *x, *y, ref = 0;
    int has_ref = 0, i, n = run_curve(r, metric, &x, &y, &ref, &has_ref);
    REQUIRE(n >= 0 && n <= r->n_lines);
    for (i = 0; i < n; i++) REQUIRE(isfinite(x[i]) && isfinite(y[i]));
    REQUIRE(!has_ref || isfinite(ref));
    release(x);
    release(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const keys[] = {"model", "best_epoch", "selected_on", "test_recall@20", "cold_users"};
    char *text = (char *)xmalloc(size + 1), err[1024], sv[64];
    double g[MAX_GROUPS], v;
    run r;
    int i;
    memcpy(text, data, size);
    text[size] = 0;
    if (run_parse(&r, "fuzz", text, size, err, sizeof err) == 0) {
        check_curve(&r, "loss");
        check_curve(&r, "valid_ndcg@20");
        for (i = 0; i < r.n_lines; i++) /* lines in file order, each with its number */
            REQUIRE(r.ln[i].s && r.ln[i].no >= 1 && (i == 0 || r.ln[i].no > r.ln[i - 1].no));
        REQUIRE(json_array_of(r.final, "test_item_group_recall", g, MAX_GROUPS) <= MAX_GROUPS + 1);
        for (i = 0; i < (int)(sizeof keys / sizeof *keys); i++)
            if (json_num(r.final, keys[i], &v)) REQUIRE(isfinite(v));
            else (void)json_str(r.final, keys[i], sv, sizeof sv);
    } else
        REQUIRE(!strncmp(err, "fuzz:", 5));
    run_free(&r);
    REQUIRE(owned_n == 0);
    return 0;
}
