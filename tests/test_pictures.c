/* The SVG charts: well-formed files (rendered by rsvg-convert when it is installed), every
   series and bar drawn, user text escaped, gaps kept, and bad charts refused with a message
   that names the series and point, leaving an existing file untouched. */
#include "test.h"
#include <stdlib.h>

/* the file's text (static buffer) or "" */
static const char *slurp(const char *path) {
    static char buf[1 << 16];
    FILE *f = fopen(path, "rb");
    size_t n = 0;
    buf[0] = 0;
    if (f) {
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
    }
    buf[n] = 0;
    return buf;
}

static int count(const char *s, const char *what) {
    int n = 0;
    for (; (s = strstr(s, what)) != NULL; s++) n++;
    return n;
}

/* 1 if rsvg-convert renders the file (or is not installed: then the check is skipped) */
static int renders(const char *path) {
    char cmd[512];
    if (system("command -v rsvg-convert > /dev/null 2>&1") != 0) return 1;
    snprintf(cmd, sizeof cmd, "rsvg-convert %s -o %s.png 2> build/test-tmp/rsvg.err", path, path);
    return system(cmd) == 0;
}

TEST(line_chart) {
    static const double x[5] = {1, 2, 4, 8, 16}, y1[5] = {0.013, 0.05, 0.1, 0.15, 0.187};
    double y2[5] = {0.02, 0.03, 0, 0.06, 0.07};
    cr_series s[2] = {{"LightGCN <3 layers> & co", x, y1, 5}, {NULL, NULL, y2, 5}};
    cr_chart c;
    const char *t;
    y2[2] = NAN; /* a gap: the second series is drawn as two pieces */
    memset(&c, 0, sizeof c);
    c.title = "Recall \"@20\"";
    c.xlabel = "epoch";
    c.ylabel = "Recall@20";
    c.series = s;
    c.n_series = 2;
    c.ref_label = "popularity";
    c.ref_y = 0.035;
    CHECK_OK(cr_svg_lines(crt_tmp("lines.svg"), &c));
    t = slurp(crt_tmp("lines.svg"));
    CHECK(!strncmp(t, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) && strstr(t, "</svg>\n"));
    CHECK(strstr(t, "LightGCN &lt;3 layers&gt; &amp; co") && strstr(t, "Recall &quot;@20&quot;") && strstr(t, ">series 2<"));
    CHECK(count(t, "<path ") == 2 && count(t, "<circle ") == 9); /* 5 + 4 points, the NaN skipped */
    CHECK(count(strstr(t, "<path ") + 1, " M") + count(t, "d=\"M") == 3); /* two pieces for the gap */
    CHECK(count(t, "stroke-dasharray=\"6 4\"") == 2 && strstr(t, ">popularity<")); /* the line and its legend */
    CHECK(strstr(t, ">0.00<") && strstr(t, ">0.20<")); /* y ticks on whole steps around 0.013..0.187 */
    CHECKF(renders(crt_tmp("lines.svg")), "rsvg-convert: %s", slurp("build/test-tmp/rsvg.err"));
}

TEST(bar_chart) {
    static const double a[3] = {0.1, -0.05, 0.3}, b[3] = {0.2, 0.25, NAN};
    static const char *const gl[3] = {"tail", "middle", "head"};
    cr_series s[2] = {{"A", NULL, a, 3}, {"B", NULL, b, 3}};
    cr_chart c;
    const char *t;
    memset(&c, 0, sizeof c);
    c.series = s;
    c.n_series = 2;
    c.width = 400;
    c.height = 300;
    CHECK_OK(cr_svg_bars(crt_tmp("bars.svg"), &c, gl, 3));
    t = slurp(crt_tmp("bars.svg"));
    CHECK(strstr(t, "width=\"400\" height=\"300\"") && strstr(t, ">tail<") && strstr(t, ">head<"));
    /* background, frame, 5 bars (one NaN), 2 legend swatches */
    CHECK(count(t, "<rect ") == 9);
    CHECK(strstr(t, ">-0.05<") && strstr(t, ">0.30<")); /* the axis spans the negative bar and the highest */
    CHECK(renders(crt_tmp("bars.svg")));
}

TEST(bad_charts_refused) {
    static const double y[3] = {1, 2, 3}, xbad[3] = {1, NAN, 3}, ynan[2] = {NAN, NAN}, yinf[2] = {1, INFINITY};
    cr_series s[1] = {{"a", NULL, y, 3}};
    cr_chart c;
    memset(&c, 0, sizeof c);
    c.series = s;
    crt_write("keep.svg", "old", -1);
    CHECK_FAILS(cr_svg_lines(crt_tmp("keep.svg"), &c), CR_ERR_INVALID, "0 series (1..16)");
    c.n_series = 1;
    s[0].x = xbad;
    CHECK_FAILS(cr_svg_lines(crt_tmp("keep.svg"), &c), CR_ERR_INVALID, "series 1, point 2: x is not finite");
    s[0].x = NULL;
    s[0].y = ynan;
    s[0].n = 2;
    CHECK_FAILS(cr_svg_lines(crt_tmp("keep.svg"), &c), CR_ERR_INVALID, "no finite y value");
    s[0].y = yinf;
    CHECK_FAILS(cr_svg_lines(crt_tmp("keep.svg"), &c), CR_ERR_INVALID, "series 1, point 2: y is infinite");
    s[0].y = y;
    s[0].n = 3;
    CHECK_FAILS(cr_svg_bars(crt_tmp("keep.svg"), &c, NULL, 4), CR_ERR_INVALID, "series 1 has 3 values, not one per group");
    CHECK_FAILS(cr_svg_bars(crt_tmp("keep.svg"), &c, NULL, 0), CR_ERR_INVALID, "0 groups");
    c.width = 100;
    CHECK_FAILS(cr_svg_lines(crt_tmp("keep.svg"), &c), CR_ERR_INVALID, "outside 320..8000 x 200..8000");
    c.width = 0;
    c.ref_label = "ref";
    c.ref_y = NAN;
    CHECK_FAILS(cr_svg_lines(crt_tmp("keep.svg"), &c), CR_ERR_INVALID, "reference line");
    c.ref_label = NULL;
    {
        static const double huge[2] = {-1.7e308, 1.7e308};
        s[0].y = huge;
        s[0].n = 2;
        CHECK_FAILS(cr_svg_lines(crt_tmp("keep.svg"), &c), CR_ERR_INVALID, "values beyond 1e300");
        s[0].y = y;
        s[0].n = 3;
    }
    CHECK(!strcmp(slurp(crt_tmp("keep.svg")), "old"));
    CHECK_FAILS(cr_svg_lines("build/test-tmp/no-such-dir/x.svg", &c), CR_ERR_IO, "cannot create");
    CHECK_FAILS(cr_svg_lines(crt_tmp("x.svg"), NULL), CR_ERR_INVALID, "no series");
}

/* three clusters in 8 dimensions: t-SNE keeps each point's nearest neighbour in its cluster,
   gives the same map on 1 and 2 threads, and refuses what it cannot do */
TEST(tsne_clusters) {
    enum { N = 150, D = 8 };
    static float X[N * D], Y1[N * 2], Y2[N * 2];
    int32_t lab[N];
    cr_tsne_opts o;
    cr_rng r;
    double kl1, kl2;
    int i, j, a, good = 0, nt = cr_get_num_threads();
    cr_rng_seed(&r, 11);
    for (i = 0; i < N; i++) {
        lab[i] = i % 3;
        for (a = 0; a < D; a++) X[i * D + a] = cr_rng_normal(&r) + (a == lab[i] ? 6.0f : 0.0f);
    }
    memset(&o, 0, sizeof o);
    o.iterations = 300; /* shorter than the default 1000: the clusters separate well before */
    o.exaggeration_iters = 100;
    cr_set_num_threads(1);
    CHECK_OK(cr_tsne(X, N, D, &o, Y1, &kl1));
    cr_set_num_threads(2);
    CHECK_OK(cr_tsne(X, N, D, &o, Y2, &kl2));
    cr_set_num_threads(nt);
    CHECK(!memcmp(Y1, Y2, sizeof Y1) && kl1 == kl2);
    CHECKF(kl1 > 0 && kl1 < 2, "KL %g", kl1);
    for (i = 0; i < N; i++) {
        int best = -1;
        double bd = HUGE_VAL;
        for (j = 0; j < N; j++) {
            double dx = Y1[2 * i] - Y1[2 * j], dy = Y1[2 * i + 1] - Y1[2 * j + 1];
            if (j != i && dx * dx + dy * dy < bd) { bd = dx * dx + dy * dy; best = j; }
        }
        good += lab[best] == lab[i];
    }
    CHECKF(good >= N * 95 / 100, "%d of %d nearest neighbours in the same cluster", good, N);
    CHECK_FAILS(cr_tsne(X, 50, D, NULL, Y1, NULL), CR_ERR_INVALID, "perplexity 30 needs at least 91");
    CHECK_FAILS(cr_tsne(X, 6000, D, NULL, Y1, NULL), CR_ERR_INVALID, "at most 5000");
    o.exaggeration_iters = 400;
    CHECK_FAILS(cr_tsne(X, N, D, &o, Y1, NULL), CR_ERR_INVALID, "exaggeration_iters 400");
    memset(&o, 0, sizeof o);
    o.iterations = 20; /* exaggerated throughout: the default is min(250, iterations) */
    CHECK_OK(cr_tsne(X, N, D, &o, Y1, NULL));
    X[3 * D + 2] = NAN;
    CHECK_FAILS(cr_tsne(X, N, D, NULL, Y1, NULL), CR_ERR_INVALID, "row 3, column 2 is not finite");
    X[3 * D + 2] = 0;
    {
        static const char *const gl[3] = {"first", "second", "third"};
        const char *t;
        CHECK_OK(cr_svg_map(crt_tmp("map.svg"), "three <clusters>", Y2, N, lab, 3, gl));
        t = slurp(crt_tmp("map.svg"));
        CHECK(strstr(t, ">three &lt;clusters&gt;<") && strstr(t, ">second<") && strstr(t, "t-SNE map (150 points)"));
        CHECK(count(t, "<circle ") == 2 * N + 2); /* the map, the unit circle, its two guide circles */
        CHECK(renders(crt_tmp("map.svg")));
        lab[7] = 3;
        CHECK_FAILS(cr_svg_map(crt_tmp("map.svg"), NULL, Y2, N, lab, 3, NULL), CR_ERR_INVALID, "point 7: group 3 is outside 0..2");
    }
}

/* SGL's popularity groups of a trained model: more training interactions, never a lower group */
TEST(popularity_groups) {
    cr_dataset ds;
    cr_synth_opts so;
    cr_config c;
    cr_model *m = NULL;
    int32_t g[400], deg[400], lo, hi;
    int64_t a, b;
    memset(&so, 0, sizeof so);
    so.n_users = 300;
    so.n_items = 400;
    so.mean_len = 12;
    so.seed = 5;
    CHECK_OK(cr_dataset_synthetic(&ds, &so, 0, 0.2));
    memset(&c, 0, sizeof c);
    c.model = CR_MODEL_MF;
    c.dim = 4;
    CHECK_OK(cr_model_create(&m, &c, &ds));
    CHECK(cr_model_num_items(m) == ds.n_items && ds.n_items <= 400);
    memset(deg, 0, sizeof deg);
    for (a = 0; a < ds.train.n; a++) deg[ds.train.item[a]]++;
    CHECK_OK(cr_model_popularity_groups(m, 1, g));
    for (a = 0; a < ds.n_items; a++) {
        CHECK(g[a] >= 0 && g[a] < CR_GROUPS);
        for (b = 0; b < ds.n_items; b++)
            CHECKF(!(deg[a] > deg[b] && g[a] < g[b]), "item %lld (degree %d) in group %d, item %lld (degree %d) in %d", (long long)a, deg[a],
                   g[a], (long long)b, deg[b], g[b]);
    }
    for (lo = hi = g[0], a = 1; a < ds.n_items; a++) { lo = g[a] < lo ? g[a] : lo; hi = g[a] > hi ? g[a] : hi; }
    CHECK(lo == 0 && hi == CR_GROUPS - 1);
    CHECK_OK(cr_model_popularity_groups(m, 0, g));
    CHECK_FAILS(cr_model_popularity_groups(m, 0, NULL), CR_ERR_INVALID, "no model or output");
    cr_model_free(m);
    cr_dataset_free(&ds);
}

/* values equal up to rounding, values near the smallest double, control characters in text:
   a finite, well-formed chart every time (the ticks are counted, not accumulated) */
TEST(degenerate_charts) {
    static const double near1[2] = {1.0, 1.0000000000000002}, tiny[2] = {0, 5e-324}, same[3] = {0.3, 0.3, 0.3};
    cr_series s[1] = {{"a\001b\tc", NULL, near1, 2}};
    cr_chart c;
    const char *t;
    float pts[8] = {0}; /* four points at the origin: the map still draws */
    memset(&c, 0, sizeof c);
    c.series = s;
    c.n_series = 1;
    c.title = "ctl\002";
    CHECK_OK(cr_svg_lines(crt_tmp("near.svg"), &c));
    t = slurp(crt_tmp("near.svg"));
    CHECK(strstr(t, ">ab\tc<") && strstr(t, ">ctl<") && !strstr(t, "nan") && !strstr(t, "inf") && count(t, "<text ") < 40);
    CHECK(renders(crt_tmp("near.svg")));
    s[0].y = tiny;
    CHECK_OK(cr_svg_bars(crt_tmp("tiny.svg"), &c, NULL, 2));
    t = slurp(crt_tmp("tiny.svg"));
    CHECK(!strstr(t, "nan") && !strstr(t, "inf") && renders(crt_tmp("tiny.svg")));
    s[0].y = same;
    s[0].n = 3;
    CHECK_OK(cr_svg_lines(crt_tmp("same.svg"), &c));
    CHECK(renders(crt_tmp("same.svg")));
    CHECK_OK(cr_svg_map(crt_tmp("origin.svg"), NULL, pts, 4, NULL, 0, NULL));
    t = slurp(crt_tmp("origin.svg"));
    CHECK(!strstr(t, "nan") && !strstr(t, "inf") && renders(crt_tmp("origin.svg")));
}

const crt_case crt_pictures[] = {
    {"svg/line_chart", line_chart},
    {"svg/bar_chart", bar_chart},
    {"svg/bad_charts_refused", bad_charts_refused},
    {"svg/degenerate_charts", degenerate_charts},
    {"svg/tsne_clusters_and_map", tsne_clusters},
    {"svg/popularity_groups", popularity_groups},
    {NULL, NULL},
};
