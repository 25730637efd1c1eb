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
    CHECK_FAILS(cr_svg_lines(crt_tmp("keep.svg"), &c), CR_ERR_INVALID, "outside 200..8000");
    c.width = 0;
    c.ref_label = "ref";
    c.ref_y = NAN;
    CHECK_FAILS(cr_svg_lines(crt_tmp("keep.svg"), &c), CR_ERR_INVALID, "reference line");
    c.ref_label = NULL;
    CHECK(!strcmp(slurp(crt_tmp("keep.svg")), "old"));
    CHECK_FAILS(cr_svg_lines("build/test-tmp/no-such-dir/x.svg", &c), CR_ERR_IO, "cannot create");
    CHECK_FAILS(cr_svg_lines(crt_tmp("x.svg"), NULL), CR_ERR_INVALID, "no series");
}

const crt_case crt_pictures[] = {
    {"svg/line_chart", line_chart},
    {"svg/bar_chart", bar_chart},
    {"svg/bad_charts_refused", bad_charts_refused},
    {NULL, NULL},
};
