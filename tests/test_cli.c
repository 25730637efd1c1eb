/* The command-line program, run as a user would: bad command lines and bad files must end with
   a one-line message and a non-zero status (2: usage, 1: the work failed), never a signal; good
   ones must work; a save killed at any moment must leave the previous checkpoint loadable. */
#include "test.h"
#include <stdlib.h>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/wait.h>
#define CLI 1
#endif

#ifdef CLI
/* the program under test: CRT_CLI (make asan: its sanitized build), else ./build/contrarec */
static const char *bin(void) {
    const char *b = getenv("CRT_CLI");
    return b && *b ? b : "./build/contrarec";
}

/* Runs the program with args; returns its exit status (or 128 + signal); stderr goes to err. */
static int run(const char *args, char *err, size_t n) {
    char cmd[4096];
    FILE *f;
    int st;
    size_t got;
    snprintf(cmd, sizeof cmd, "%s %s > build/test-tmp/cli.out 2> build/test-tmp/cli.err", bin(), args);
    st = system(cmd);
    err[0] = 0;
    if ((f = fopen("build/test-tmp/cli.err", "rb"))) {
        got = fread(err, 1, n - 1, f);
        err[got] = 0;
        fclose(f);
    }
    if (st == -1) return -1;
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

static int have_bin(void) {
    if (crt_have_file(bin())) return 1;
    crt_skip("no ./build/contrarec (or $CRT_CLI); make test builds it");
    return 0;
}

/* the stdout of the last run */
static void read_out(char *out, size_t n) {
    FILE *f = fopen("build/test-tmp/cli.out", "rb");
    size_t got = f ? fread(out, 1, n - 1, f) : 0;
    out[got] = 0;
    if (f) fclose(f);
}

static char e_last[8192]; /* stderr of the last EXPECT */
#define EXPECT(args, status, frag)                                                                 \
    do {                                                                                           \
        char *e_ = e_last;                                                                         \
        int s_ = run(args, e_, sizeof e_last);                                                     \
        CHECKF(s_ == (status) && strstr(e_, frag) != NULL, "contrarec %s -> status %d, stderr: %s (wanted %d and '%s')", args, s_, e_, status, frag); \
    } while (0)

TEST(bad_command_lines) {
    if (!have_bin()) return;
    EXPECT("", 2, "");
    EXPECT("frobnicate", 2, "unknown command 'frobnicate'");
    EXPECT("train", 2, "train needs --model");
    EXPECT("train --model foo", 2, "option model: unknown model 'foo'");
    EXPECT("train --model mf --epochs abc", 2, "--epochs: 'abc' is not an integer");
    EXPECT("train --model mf --epochs 0", 2, "--epochs: 0 is outside 1..100000");
    EXPECT("train --model mf --epochs 99999999999999999999", 2, "is not an integer");
    EXPECT("train --model mf --epochs", 2, "option --epochs needs a value");
    EXPECT("train --model mf --lr nan", 2, "option lr: 'nan' is not a finite number");
    EXPECT("train --model mf --lr -0.1", 2, "option lr: '-0.1' is out of range (accepts (0, 10))");
    EXPECT("train --model mf --lr 1e999", 2, "not a finite number");
    EXPECT("train --model sgl --drop 1", 2, "option drop: '1' is out of range (accepts [0, 1))");
    EXPECT("train --model sgl --tau 0", 2, "option tau: '0' is out of range (accepts (0,");
    EXPECT("train --model mf --dim 0", 2, "option dim: '0' is out of range (accepts 1..4096)");
    EXPECT("train --model mf --dim 4097", 2, "option dim: '4097' is out of range");
    EXPECT("train --model mf --threads 0", 2, "--threads: 0 is outside");
    EXPECT("train --model lightgcn --layers 9", 2, "option layers: '9' is out of range (accepts 1..8)");
    EXPECT("train --model xsimgcl --lstar 3", 2, "lstar 3 is outside 1..layers (2)");
    EXPECT("train --model mf --bogus 3", 2, "unknown option '--bogus'");
    EXPECT("train --model mf --topk 20,10", 2, "cut-offs must ascend");
    EXPECT("train --model mf --topk 0", 2, "--topk: 0 is outside");
    EXPECT("train --model mf --tail-ratio 0", 2, "--tail-ratio: 0 is outside");
    EXPECT("plot", 2, "plot needs at least one run");
    EXPECT("plot build/test-tmp/a.json", 2, "plot needs -o FILE.svg");
    EXPECT("plot build/test-tmp/a.json -o x.svg --bogus", 2, "unknown option '--bogus'");
    EXPECT("train --model mf --format xml --train x", 2, "unknown format 'xml'");
    EXPECT("train --model sgl --aug zz", 2, "--aug: option aug: 'zz' is not a value (one of ed|nd|rw|mixed|subgraph)");
    EXPECT("train --model lightgcn --neg hard", 2, "option neg: 'hard' is not a value (one of uniform|dns|mixgcf)");
    EXPECT("train --model sgl --cl-negatives random:x", 2, "option cl_negatives: 'x' is not a finite number");
    EXPECT("train --model lightgcn --neg mixgcf --l2 selfrec", 2, "MixGCF takes the authors' L2");
    EXPECT("train --model lightgcn --l2 recbole", 2, "config lightgcn: l2_recbole is not an option of lightgcn");
    EXPECT("train --model ncl --l2 none", 2, "--l2: 'none' is not paper, selfrec or recbole");
    EXPECT("train --model recdcl --neg dns", 2, "config recdcl: neg is not an option of recdcl");
    EXPECT("train --model xsimgcl --adv prev", 2, "config xsimgcl: adv is not an option of xsimgcl");
    EXPECT("train --model rcl --nce zz", 2, "--nce: option nce_est: 'zz' is not a value (one of plain|dcl|adnce)");
    EXPECT("train --model rcl --adv fgsm", 2, "option adv: 'fgsm' is not a value (one of off|exact|prev)");
    EXPECT("train --model rcl --tau-plus 1", 2, "option tau_plus: '1' is out of range (accepts [0, 1))");
    EXPECT("train --model rcl --adv exact --proj-head", 2, "a projection head needs adv -1");
    EXPECT("train --model recdcl --momentum 1.5", 2, "option momentum: '1.5' is out of range (accepts [0, 1])");
    EXPECT("train --model recdcl --bt-off -1", 2, "option bt_off: '-1' is out of range");
    EXPECT("train --model cl4srec --aug mask,zz", 2, "--aug: option seq_aug: 'mask,zz' is not a value (one of mask,crop,reorder,insert,substitute)");
    EXPECT("train --model mf --test t.txt", 2, "--test needs --train");
    EXPECT("train --model mf --split ratio:0.8,0.1", 2, "--split: needs three shares in (0, 1)");
    EXPECT("train --model mf --split 80/10/10", 2, "--split: '80/10/10' is not ratio:TRAIN,VALID,TEST");
    EXPECT("train --model mf --split ratio:0.8,0.1,0.2", 2, "--split: the three shares must sum to 1");
    EXPECT("train --model mf --train a.txt --test b.txt --split ratio:0.8,0.1,0.1", 2, "--split takes one interaction file");
    EXPECT("train --model mf --seed -5", 2, "option seed: '-5' is not a seed");
    EXPECT("recommend --load x.crrc", 2, "exactly one of --user, --items, --history");
    EXPECT("recommend --user 1", 2, "recommend needs --load FILE");
    EXPECT("eval --load x.crrc", 2, "eval needs --test");
}

TEST(bad_files) {
    char args[1024];
    if (!have_bin()) return;
    EXPECT("train --model mf --train build/test-tmp/does-not-exist.txt", 1, "build/test-tmp/does-not-exist.txt: cannot open");
    EXPECT("train --model mf --train build/test-tmp", 1, "build/test-tmp: cannot read");
    crt_write("cli_bad.txt", "0 1 2\n1 2 3\n2 4 \xff\xfe\n", -1);
    EXPECT("train --model mf --train build/test-tmp/cli_bad.txt", 1, "cli_bad.txt:3: field 3 (item id): '\\xFF\\xFE' is not a non-negative integer id");
    EXPECT("train --model mf --train build/test-tmp/cli_bad.txt --skip-bad-lines --epochs 1 --dim 4 --select last", 0, "1 malformed lines skipped (first: line 3");
    crt_write("cli_empty.txt", "", 0);
    EXPECT("train --model mf --train build/test-tmp/cli_empty.txt", 1, "no interactions found");
    crt_write("cli_ok.txt", "0 11 12 13\n1 12 13 14\n2 10 14 15\n3 11 15 16\n4 12 16 17\n", -1);
    crt_write("cli_test_unknown.txt", "9 1\n8 2\n", -1);
    EXPECT("train --model mf --train build/test-tmp/cli_ok.txt --test build/test-tmp/cli_test_unknown.txt", 1, "no test interactions left (2 records with users unknown to training");
    crt_write("cli_garbage.crrc", "CRRC\1\0\0\0garbage", 16);
    EXPECT("eval --load build/test-tmp/cli_garbage.crrc --test build/test-tmp/cli_ok.txt", 1, "cli_garbage.crrc: truncated");
    EXPECT("eval --load build/test-tmp/cli_ok.txt --test build/test-tmp/cli_ok.txt", 1, "not a contrarec checkpoint (bad magic)");
    snprintf(args, sizeof args, "train --model mf --train build/test-tmp/cli_ok.txt --epochs 1 --dim 4 --save build/test-tmp/no-such-dir/m.crrc");
    EXPECT(args, 1, "--save: build/test-tmp/no-such-dir/m.crrc: the folder build/test-tmp/no-such-dir does not exist");
    EXPECT("train --model mf --train build/test-tmp/cli_ok.txt --epochs 1 --dim 4", 1, "no validation records");
    EXPECT("train --model mf --train build/test-tmp/cli_ok.txt --epochs 1 --dim 4", 1, "a larger --valid R");
    EXPECT("train --model mf -k 5", 2, "-k is the list length of recommend; train reads --topk");
    EXPECT("--version", 0, "");
}

TEST(train_eval_recommend_json) {
    char e[8192];
    FILE *f;
    char line[4096];
    int n = 0, best = 0;
    if (!have_bin()) return;
    crt_write("cli_tr.txt", "10 1 2 3 4\n11 2 3 4 5\n12 0 4 5 6\n13 1 5 6 7\n14 2 6 7 8\n15 0 1 8 9\n", -1);
    crt_write("cli_te.txt", "10 9\n11 8\n12 1\n13 0\n14 3\n15 4\n", -1);
    CHECKF(run("train --model lightgcn --train build/test-tmp/cli_tr.txt --test build/test-tmp/cli_te.txt --epochs 3 --valid 0.25 --dim 8 --json --cooccurrence --save build/test-tmp/cli.crrc --export-npy build/test-tmp", e, sizeof e) == 0, "%s", e);
    f = fopen("build/test-tmp/cli.out", "rb");
    CHECK(f != NULL);
    while (fgets(line, sizeof line, f)) {
        CHECKF(line[0] == '{' && strstr(line, "}\n"), "not a JSON line: %s", line);
        if (strstr(line, "\"best_epoch\"")) {
            best = 1; /* the final line carries the beyond-accuracy figures of the test set */
            CHECK(strstr(line, "\"test_item_coverage\":") && strstr(line, "\"test_tail_percentage\":") && strstr(line, "\"test_diversity\":") &&
                  strstr(line, "\"test_serendipity\":") && strstr(line, "\"test_ild_cosine\":"));
        } else CHECK(strstr(line, "\"valid_recall@20\":") && strstr(line, "\"valid_ndcg@20\":") && strstr(line, "\"train_s\":") && strstr(line, "\"valid_mrr@10\":"));
        n++;
    }
    fclose(f);
    CHECK(n == 4 && best);
    EXPECT("eval --load build/test-tmp/cli.crrc --test build/test-tmp/cli_te.txt --train build/test-tmp/cli_tr.txt", 0, "");
    EXPECT("recommend --load build/test-tmp/cli.crrc --user 12 -k 3", 0, "");
    f = fopen("build/test-tmp/cli.out", "rb");
    CHECK(f && fgets(line, sizeof line, f) && line[0] == '1' && line[1] == '\t'); /* rank, raw id, score */
    if (f) fclose(f);
    EXPECT("recommend --load build/test-tmp/cli.crrc --user 99 -k 3", 1, "user 99 is not known to the model");
    EXPECT("recommend --load build/test-tmp/cli.crrc --items \"1 2 77\" -k 3", 0, "1 of the 3 given items are unknown");
    EXPECT("recommend --load build/test-tmp/cli.crrc --items \"1 x\" -k 3", 2, "--items: 'x' is not a non-negative integer id");
    EXPECT("recommend --load build/test-tmp/cli.crrc --history \"1 2\" -k 3", 2, "--history is for sequence models");
    EXPECT("recommend --load build/test-tmp/cli.crrc --user 12 -k 50", 2, "-k 50 is more than the model's 10 items");
}

/* the whole file into buf (NUL-terminated); 0 if it cannot be read */
static int slurp(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "rb");
    size_t n;
    if (!f) return 0;
    n = fread(buf, 1, size - 1, f);
    buf[n] = 0;
    fclose(f);
    return 1;
}

/* The "  @K ..." lines of the first block after a line starting with head (NULL: anywhere). */
static void at_lines(const char *text, const char *head, char *out, size_t n) {
    const char *p = text, *e;
    size_t w = 0;
    out[0] = 0;
    if (head) {
        while (p && strncmp(p, head, strlen(head))) p = (p = strchr(p, '\n')) ? p + 1 : NULL;
        if (!p) return;
    }
    while (*p && strncmp(p, "  @", 3)) p = (e = strchr(p, '\n')) ? e + 1 : p + strlen(p);
    for (; !strncmp(p, "  @", 3) && (e = strchr(p, '\n')); p = e + 1) {
        if (w + (size_t)(e + 1 - p) >= n) break;
        memcpy(out + w, p, (size_t)(e + 1 - p));
        w += (size_t)(e + 1 - p);
        out[w] = 0;
    }
}

/* eval of a model saved by train prints train's test figures without --train: the records train
   held out for validation travel in the checkpoint (graph and sequence models); a checkpoint of
   format 3 is evaluated with a note naming what is known and the option that adds the rest. */
TEST(eval_reproduces_train_test_figures) {
    static const char *const models[] = {"lightgcn", "gru4rec"};
    static char out[1 << 16], a[4096], b[4096];
    char e[8192], args[1024];
    int k;
    if (!have_bin()) return;
    for (k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "train --model %s --train tests/data/small_train.txt "
                 "--test tests/data/small_test.txt --dim 8 --epochs 4 --threads 1 --save build/test-tmp/held.crrc",
                 models[k]);
        CHECKF(run(args, e, sizeof e) == 0, "%s", e);
        CHECK(slurp("build/test-tmp/cli.out", out, sizeof out));
        at_lines(out, "test (", a, sizeof a);
        EXPECT("eval --load build/test-tmp/held.crrc --test tests/data/small_test.txt", 0,
               " validation records saved with it, as train's test");
        CHECK(slurp("build/test-tmp/cli.out", out, sizeof out));
        at_lines(out, NULL, b, sizeof b);
        CHECKF(a[0] && !strcmp(a, b), "%s: train printed\n%s, eval\n%s", models[k], a, b);
    }
    crt_write("v3_test.txt", "0 5\n1 7\n2 1\n", -1);
    EXPECT("eval --load tests/data/ckpt-v3-lightgcn.crrc --test build/test-tmp/v3_test.txt", 0,
           "does not record the records held out for validation");
    CHECK(strstr(e_last, "--train FILE") != NULL);
    EXPECT("eval --load tests/data/ckpt-v3-lightgcn.crrc --test build/test-tmp/v3_test.txt --metric ndcg@30", 2,
           "eval prints every metric");
}

/* The progress bar (forced by --progress on a file) fits COLUMNS - 1 at every redraw, blanks no
   wider than that, says the epoch of its cap, the last evaluation and the patience left when
   there is room, and is cleared before any other line: no line ends on a bar. */
TEST(progress_bar_fits_the_terminal) {
    static char err[1 << 17];
    static const int cols[] = {80, 40, 12};
    char cmd[2048];
    int c;
    if (!have_bin()) return;
    for (c = 0; c < 3; c++) {
        const char *p, *q;
        int bars = 0, st;
        snprintf(cmd, sizeof cmd, "COLUMNS=%d %s train --model lightgcn --train tests/data/small_train.txt "
                 "--test tests/data/small_test.txt --dim 8 --batch 64 --max-epochs 4 --threads 1 --progress "
                 "> build/test-tmp/cli.out 2> build/test-tmp/cli.err", cols[c], bin());
        st = system(cmd);
        CHECKF(st == 0, "COLUMNS=%d: status %d", cols[c], st);
        CHECK(slurp("build/test-tmp/cli.err", err, sizeof err));
        for (p = err; *p; p = *q ? q + 1 : q) {
            int len, bar, blank = 1, k;
            q = p + strcspn(p, "\r\n");
            len = (int)(q - p);
            bar = !strncmp(p, "epoch ", 6) || !strncmp(p, "refit ", 6);
            for (k = 0; k < len; k++) blank &= p[k] == ' ';
            bars += bar;
            if (bar || (blank && len))
                CHECKF(len <= cols[c] - 1, "COLUMNS=%d: a line of %d columns: '%.*s'", cols[c], len, len, p);
            if (bar) CHECKF(*q == '\r', "COLUMNS=%d: a bar not ended by a carriage return: '%.*s'", cols[c], len, p);
        }
        CHECKF(bars > 0, "COLUMNS=%d: no bar drawn", cols[c]);
        CHECKF(strstr(err, "epoch 3/4") != NULL, "COLUMNS=%d: no 'epoch 3/4'", cols[c]);
        if (cols[c] == 80)
            CHECK(strstr(err, "valid ndcg@20 0.") && strstr(err, " best 0.") && strstr(err, "patience 10/10"));
    }
    CHECKF(run("train --model mf --train tests/data/small_train.txt --dim 8 --epochs 1 --select last --threads 1", err,
               sizeof err) == 0, "%s", err);
    CHECKF(!strchr(err, '\r'), "a bar on a file without --progress: %s", err);
}

/* plot: curves over epochs from the epoch lines (with the popularity line), grouped bars from
   an array of the final line; missing fields and files are one-line errors */
TEST(plot_runs) {
    char e[4096];
    const char *t;
    static char buf[1 << 15];
    if (!have_bin()) return;
    crt_write("run_a.json", "{\"epoch\":1,\"loss\":0.9,\"valid_ndcg@20\":0.05,\"valid_pop_ndcg@20\":0.02}\n"
                            "{\"epoch\":2,\"loss\":0.7,\"valid_ndcg@20\":0.07,\"valid_pop_ndcg@20\":0.02}\n"
                            "{\"best_epoch\":2,\"test_item_group_recall\":[0.010000,0.020000,0.300000]}\n", -1);
    crt_write("run_b.json", "{\"epoch\":1,\"loss\":0.8,\"valid_ndcg@20\":0.06}\n"
                            "{\"best_epoch\":1,\"test_item_group_recall\":[0.030000,0.040000,0.200000]}\n", -1);
    CHECKF(run("plot build/test-tmp/run_a.json build/test-tmp/run_b.json -o build/test-tmp/curves.svg", e, sizeof e) == 0, "%s", e);
    CHECK(slurp("build/test-tmp/curves.svg", buf, sizeof buf));
    t = buf;
    CHECK(strstr(t, ">run_a<") && strstr(t, ">run_b<") && strstr(t, ">popularity ranking<") && strstr(t, ">valid_ndcg@20<"));
    CHECKF(run("plot build/test-tmp/run_a.json build/test-tmp/run_b.json -o build/test-tmp/groups.svg --metric test_item_group_recall --title T", e, sizeof e) == 0, "%s", e);
    CHECK(slurp("build/test-tmp/groups.svg", buf, sizeof buf));
    CHECK(strstr(buf, ">0 (low)<") && strstr(buf, ">2 (high)<") && strstr(buf, ">T<"));
    /* a resumed run's log: the epoch it was killed in twice (the later line counts), a cut last line */
    crt_write("run_r.json", "{\"epoch\":1,\"phase\":\"select\",\"loss\":0.9,\"valid_ndcg@20\":0.05}\n"
                            "{\"epoch\":2,\"phase\":\"select\",\"loss\":0.7,\"valid_ndcg@20\":0.5}\n"
                            "{\"epoch\":2,\"phase\":\"select\",\"loss\":0.7,\"valid_ndcg@20\":0.07}\n"
                            "{\"epoch\":3,\"phase\":\"select\",\"loss\":0.6,\"valid_ndcg@20\":0.9", -1);
    CHECKF(run("plot build/test-tmp/run_r.json -o build/test-tmp/resumed.svg", e, sizeof e) == 0, "%s", e);
    CHECK(slurp("build/test-tmp/resumed.svg", buf, sizeof buf));
    CHECK(strstr(buf, ">0.070<") && strstr(buf, ">2.0<") && !strstr(buf, ">3.0<") && !strstr(buf, ">0.5"));
    EXPECT("plot build/test-tmp/run_a.json -o build/test-tmp/x.svg --metric valid_recall@20", 1, "run_a.json: no epoch line has \"valid_recall@20\"");
    EXPECT("plot build/test-tmp/none.json -o build/test-tmp/x.svg", 1, "none.json: cannot open");
    EXPECT("plot build/test-tmp/run_a.json -o build/test-tmp/no-such-dir/x.svg", 1,
           "-o: build/test-tmp/no-such-dir/x.svg: the folder build/test-tmp/no-such-dir does not exist");
    /* report: one HTML page with the tables and the charts the runs have fields for */
    CHECKF(run("report build/test-tmp/run_a.json build/test-tmp/run_b.json -o build/test-tmp/report.html --title \"A & B\"", e, sizeof e) == 0, "%s", e);
    CHECK(slurp("build/test-tmp/report.html", buf, sizeof buf));
    CHECK(!strncmp(buf, "<!DOCTYPE html>", 15) && strstr(buf, "<h1>A &amp; B</h1>") && strstr(buf, "</html>\n"));
    CHECK(strstr(buf, "<caption>Selection and accuracy at K = 20</caption>") && strstr(buf, "<td>run_b</td><td>-</td><td>1</td>"));
    t = strstr(buf, "<figure>");
    CHECK(t && strstr(t, ">training loss<") && strstr(t, ">validation NDCG@20<") && strstr(t, "Recall@20 within each item-popularity group"));
    CHECK(!strstr(buf, ">validation Recall@20<")); /* no run has that field: no chart */
    if (system("command -v chromium > /dev/null 2>&1") == 0) { /* the page as a browser loads it */
        static char dom[1 << 16];
        int n_page = 0, n_dom = 0;
        for (t = buf; (t = strstr(t, "<svg ")) != NULL; t++) n_page++;
        if (system("timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir=build/test-tmp/chromium "
                   "--dump-dom \"file://$(pwd)/build/test-tmp/report.html\" > build/test-tmp/report.dom 2> build/test-tmp/chromium.err") != 0)
            printf("(chromium installed but could not run: see build/test-tmp/chromium.err) ");
        else {
            CHECK(slurp("build/test-tmp/report.dom", dom, sizeof dom));
            for (t = dom; (t = strstr(t, "<svg ")) != NULL; t++) n_dom++;
            CHECKF(n_page >= 2 && n_dom == n_page && strstr(dom, "</html>") && strstr(dom, "A &amp; B"), "chromium: %d of %d charts in the page",
                   n_dom, n_page);
        }
    }
    crt_write("run_c.json", "{\"epoch\":1,\"loss\":0.9}\n", -1);
    EXPECT("report build/test-tmp/run_a.json build/test-tmp/run_c.json -o build/test-tmp/report.html", 1, "run_c.json: no final line");
    EXPECT("report build/test-tmp/run_a.json -o build/test-tmp/no-such-dir/r.html", 1,
           "the folder build/test-tmp/no-such-dir does not exist");
    EXPECT("report -o build/test-tmp/r.html", 2, "report needs at least one run");
    /* map: the t-SNE picture of a saved model */
    crt_write("map_tr.txt", "10 1 2 3 4\n11 2 3 4 5\n12 0 4 5 6\n13 1 5 6 7\n14 2 6 7 8\n15 0 1 8 9\n", -1);
    CHECKF(run("train --model lightgcn --train build/test-tmp/map_tr.txt --epochs 1 --dim 4 --select last --save build/test-tmp/map.crrc", e, sizeof e) == 0, "%s", e);
    EXPECT("map --load build/test-tmp/map.crrc -o build/test-tmp/map.svg", 1, "t-SNE: 10 points; perplexity 30 needs at least 91");
    EXPECT("map --load build/test-tmp/map.crrc -o build/test-tmp/map.svg --perplexity 2 --iterations 50", 0, "t-SNE of 10 of 10 item vectors (dim 4)");
    EXPECT("map --load build/test-tmp/map.crrc -o build/test-tmp/umap.svg --users --perplexity 1.5 --iterations 50", 0, "t-SNE of 6 of 6 user vectors");
    CHECK(slurp("build/test-tmp/map.svg", buf, sizeof buf));
    CHECK(strstr(buf, "lightgcn: item vectors by popularity group") && strstr(buf, "9 (most popular)"));
    /* train --report DIR: the run's log and its page (no map under 91 items), the folder checked first */
    CHECKF(run("train --model lightgcn --train build/test-tmp/map_tr.txt --epochs 2 --dim 4 --select last --report build/test-tmp", e, sizeof e) == 0, "%s", e);
    CHECK(slurp("build/test-tmp/cli.out", buf, sizeof buf) && strstr(buf, "report: build/test-tmp/report.html (no map: fewer than 91 items)"));
    CHECK(slurp("build/test-tmp/run.json", buf, sizeof buf) && !strncmp(buf, "{\"epoch\":1,", 11) && strstr(buf, "\n{\"best_epoch\":2,"));
    CHECK(slurp("build/test-tmp/report.html", buf, sizeof buf) && strstr(buf, "<h1>contrarec: lightgcn on build/test-tmp/map_tr.txt</h1>") &&
          strstr(buf, "<td>run</td><td>lightgcn</td><td>2</td>"));
    EXPECT("train --model lightgcn --train build/test-tmp/map_tr.txt --epochs 2 --dim 4 --select last --report build/test-tmp/no-such-dir", 1,
           "--report: build/test-tmp/no-such-dir: the folder does not exist");
    EXPECT("map --load build/test-tmp/map.crrc", 2, "map needs -o FILE.svg");
    EXPECT("map -o x.svg", 2, "map needs --load FILE");
    EXPECT("map --load build/test-tmp/map.crrc -o x.svg --sample 0", 2, "--sample: 0 is outside 1..5000");
}

/* Validation metrics at every epoch are real (the validation items are never masked as
   history), the output says which set selected the model, and --select test says it is
   selecting on test. */
TEST(train_selects_on_validation) {
    char e[8192], line[8192];
    FILE *f;
    int epochs = 0, zero = 0, final = 0;
    if (!have_bin()) return;
    CHECKF(run("train --model lightgcn --epochs 4 --dim 16 --json --no-auc", e, sizeof e) == 0, "%s", e);
    CHECK(strstr(e, "selection: on a validation split") != NULL);
    f = fopen("build/test-tmp/cli.out", "rb");
    CHECK(f != NULL);
    while (fgets(line, sizeof line, f)) {
        const char *v = strstr(line, "\"valid_ndcg@20\":");
        if (strstr(line, "\"best_epoch\"")) {
            final = 1;
            CHECK(strstr(line, "\"selected_on\":\"valid\"") && strstr(line, "\"test_ndcg@20\":") && strstr(line, "\"valid_ndcg@20\":"));
            continue;
        }
        CHECK(v != NULL);
        if (v) zero += atof(v + 16) == 0.0;
        epochs++;
    }
    fclose(f);
    CHECK(epochs == 4 && final && zero == 0);
    EXPECT("train --model mf --epochs 2 --dim 8 --select test --no-auc", 0, "ON THE TEST SET");
    f = fopen("build/test-tmp/cli.out", "rb");
    CHECK(f && fread(line, 1, sizeof line - 1, f) > 0);
    if (f) fclose(f);
    CHECK(strstr(line, "selected epoch") && strstr(line, "on TEST ndcg@20") && strstr(line, "optimistic"));
    EXPECT("train --model mf --select last", 2, "--select last needs --epochs");
    EXPECT("train --model mf --select test --refit --epochs 2", 2, "--refit follows a selection on validation");
    EXPECT("train --model mf --select sometimes", 2, "--select: 'sometimes' is not valid, test or last");
    EXPECT("train --model mf --metric auc", 2, "--metric: unknown metric 'auc'");
    /* per-user rows of two runs, compared with bootstrap intervals */
    EXPECT("train --model mf --epochs 1 --dim 8 --no-auc --per-user build/test-tmp/pu_a.tsv", 0, "");
    EXPECT("train --model lightgcn --epochs 1 --dim 8 --no-auc --per-user build/test-tmp/pu_b.tsv", 0, "");
    {
        static const char head[] = "user\thistory\trecall@20\tndcg@20\ttail_recall@20\tild@20\n";
        CHECK(slurp("build/test-tmp/pu_a.tsv", line, sizeof line) && !strncmp(line, head, sizeof head - 1));
    }
    EXPECT("compare build/test-tmp/pu_a.tsv build/test-tmp/pu_a.tsv --boot 100", 0, ""); /* a run against itself: no gain */
    CHECK(slurp("build/test-tmp/cli.out", line, sizeof line) && strstr(line, "gain   +0.0%  [  +0.0%,   +0.0%]"));
    EXPECT("compare build/test-tmp/pu_a.tsv build/test-tmp/pu_b.tsv --boot 200", 0, "");
    CHECK(slurp("build/test-tmp/cli.out", line, sizeof line) && strstr(line, "Recall, all users") && strstr(line, "users with history <=") &&
          strstr(line, "intra-list diversity (cosine)") && strstr(line, "200 resamples"));
    EXPECT("compare build/test-tmp/pu_a.tsv,build/test-tmp/pu_a.tsv build/test-tmp/pu_b.tsv --boot 100", 0, ""); /* seeds averaged */
    CHECK(slurp("build/test-tmp/cli.out", line, sizeof line) && strstr(line, "Recall, all users"));
    EXPECT("compare build/test-tmp/pu_a.tsv", 2, "compare needs two files");
    EXPECT("compare build/test-tmp/pu_a.tsv,,x build/test-tmp/pu_b.tsv", 2, "is not a file or a comma-separated list");
    EXPECT("compare build/test-tmp/pu_a.tsv, build/test-tmp/pu_b.tsv", 2, "ends with a comma");
    EXPECT("train --model gru4rec --train build/test-tmp/cli_ok.txt --split ratio:0.8,0.1,0.1", 2, "not for sequence models");
    EXPECT("compare build/test-tmp/pu_a.tsv build/test-tmp/cli_ok.txt", 1, "cli_ok.txt:1: not a 'train --per-user' file");
    EXPECT("train --model mf --per-user build/test-tmp/no-such-dir/p.tsv", 1,
           "the folder build/test-tmp/no-such-dir does not exist");
    EXPECT("train --model mf --cold-users 1", 2, "--cold-users: 1 is outside");
    EXPECT("train --model mf --cold-warm", 2, "--cold-warm needs --cold-users");
    /* cold users: held out, folded in, reported in the text and the JSON */
    EXPECT("train --model lightgcn --epochs 1 --dim 8 --no-auc --cold-users 0.1", 0, "");
    f = fopen("build/test-tmp/cli.out", "rb");
    memset(line, 0, sizeof line);
    CHECK(f && fread(line, 1, sizeof line - 1, f) > 0);
    if (f) fclose(f);
    CHECK(strstr(line, "held-out users (--cold-users), never trained on, folded in") && strstr(line, "the users not held out"));
    EXPECT("train --model lightgcn --epochs 1 --dim 8 --no-auc --cold-users 0.1 --cold-warm --json", 0, "");
    f = fopen("build/test-tmp/cli.out", "rb");
    memset(line, 0, sizeof line);
    CHECK(f && fread(line, 1, sizeof line - 1, f) > 0);
    if (f) fclose(f);
    CHECK(strstr(line, "\"cold_mode\":\"warm\"") && strstr(line, "\"cold_recall@20\":") && strstr(line, "\"cold_users\":"));
    /* the held-out users' own per-user rows: other users than the test's, in the same format */
    EXPECT("train --model lightgcn --epochs 1 --dim 8 --no-auc --cold-users 0.2 --per-user build/test-tmp/pu_w.tsv "
           "--per-user-cold build/test-tmp/pu_c.tsv", 0, "");
    {
        static const char head[] = "user\thistory\trecall@20\tndcg@20\ttail_recall@20\tild@20\n";
        CHECK(slurp("build/test-tmp/pu_c.tsv", line, sizeof line) && !strncmp(line, head, sizeof head - 1) &&
              strchr(line + sizeof head - 1, '\t'));
    }
    EXPECT("compare build/test-tmp/pu_w.tsv build/test-tmp/pu_c.tsv", 1, "no user in common");
    EXPECT("compare build/test-tmp/pu_c.tsv build/test-tmp/pu_c.tsv --boot 100", 0, "");
    EXPECT("train --model mf --per-user-cold build/test-tmp/pu_c.tsv", 2, "--per-user-cold needs --cold-users");
    { /* --data-seed: two model seeds hold out the same users, so all of them pair */
        long long both = -1, na = -2, nb = -3;
        const char *p;
        EXPECT("train --model mf --epochs 1 --dim 8 --no-auc --cold-users 0.2 --seed 3 --data-seed 9 "
               "--per-user-cold build/test-tmp/pu_c3.tsv", 0, "");
        EXPECT("train --model mf --epochs 1 --dim 8 --no-auc --cold-users 0.2 --seed 4 --data-seed 9 "
               "--per-user-cold build/test-tmp/pu_c4.tsv", 0, "");
        EXPECT("compare build/test-tmp/pu_c3.tsv build/test-tmp/pu_c4.tsv --boot 100", 0, "");
        CHECK(slurp("build/test-tmp/cli.out", line, sizeof line) && (p = strstr(line, ": ")) &&
              sscanf(p, ": %lld users in both (%lld and %lld", &both, &na, &nb) == 3 && both == na && na == nb &&
              both > 0);
        EXPECT("train --model mf --epochs 1 --dim 8 --no-auc --cold-users 0.2 --seed 4 "
               "--per-user-cold build/test-tmp/pu_c4.tsv", 0, "");
        EXPECT("compare build/test-tmp/pu_c3.tsv build/test-tmp/pu_c4.tsv --boot 100", 0, "");
        CHECK(slurp("build/test-tmp/cli.out", line, sizeof line) && (p = strstr(line, ": ")) &&
              sscanf(p, ": %lld users in both (%lld and %lld", &both, &na, &nb) == 3 && both < na);
    }
    EXPECT("train --model mf --data-seed 2", 2, "--data-seed draws --split's parts");
    /* a dataset file: converted once, trained on as the text files give the same run */
    EXPECT("convert build/test-tmp/cli_ok.txt build/test-tmp/cli_ok.crd --format lightgcn", 0, "");
    EXPECT("train --model lightgcn --train build/test-tmp/cli_ok.crd --epochs 1 --dim 4 --select last --json", 0, "");
    {
        char a[512] = "", *p;
        CHECK(slurp("build/test-tmp/cli.out", line, sizeof line) && (p = strstr(line, "\"test_recall@10\"")));
        if (p) snprintf(a, sizeof a, "%.40s", p);
        EXPECT("train --model lightgcn --train build/test-tmp/cli_ok.txt --format lightgcn --epochs 1 --dim 4 --select "
               "last --json",
               0, "");
        CHECK(slurp("build/test-tmp/cli.out", line, sizeof line) && a[0] && strstr(line, a));
    }
    EXPECT("convert build/test-tmp/cli_ok.txt", 2, "convert needs a data file and the dataset file to write");
    EXPECT("convert build/test-tmp/cli_ok.txt a.crd b.crd", 2, "convert takes one data file and one output file");
    EXPECT("convert build/test-tmp/cli_ok.txt build/test-tmp/no-such-dir/x.crd", 1,
           "the folder build/test-tmp/no-such-dir does not exist");
    EXPECT("train --model mf --train build/test-tmp/cli_ok.crd --test build/test-tmp/cli_ok.txt", 1,
           "a dataset file holds its own test records");
    EXPECT("train --model mf --train build/test-tmp/cli_ok.crd --format lightgcn", 2,
           "is a dataset file, its records already read");
    EXPECT("train --model mf --train build/test-tmp/cli_ok.crd --min-rating 3", 1,
           "a dataset file is read as it was written");
    /* sequences and item features in a dataset file */
    crt_write("cli_seq.txt", "1:10 11 12 13 14\n2:11 12 13 15\n3:12 13 14 15 16\n4:10 12 14 16\n", -1);
    crt_write("cli_feat.txt", "10 1 2\n11 2\n12 3:2.5\n", -1);
    EXPECT("convert build/test-tmp/cli_seq.txt build/test-tmp/cli_seq.crd --format seq --item-features "
           "build/test-tmp/cli_feat.txt",
           0, "");
    EXPECT("train --model gru4rec --train build/test-tmp/cli_seq.crd --epochs 1 --dim 4 --maxlen 4 --select last", 0,
           "has item features: items read as id+features");
    EXPECT("train --model lightgcn --train build/test-tmp/cli_seq.crd --epochs 1 --dim 4 --attr-w 0.2 --select last", 0,
           "");
    EXPECT("train --model lightgcn --train build/test-tmp/cli_ok.crd --epochs 1 --attr-w 0.2", 2, "has none");
    EXPECT("train --model lightgcn --train build/test-tmp/cli_seq.crd --item-features build/test-tmp/cli_feat.txt", 2,
           "holds its item features");
    /* item features and item cold start */
    {
        char txt[16384], ft[4096];
        size_t n = 0, nf = 0;
        int u, k, it;
        for (u = 0; u < 80; u++) { /* users of 4 tastes, each over 10 of 40 items */
            n += (size_t)snprintf(txt + n, sizeof txt - n, "%d", u);
            for (k = 0; k < 8; k++) n += (size_t)snprintf(txt + n, sizeof txt - n, " %d", (u % 4) * 10 + (u * 7 + k * 3) % 10);
            n += (size_t)snprintf(txt + n, sizeof txt - n, "\n");
        }
        for (it = 0; it < 40; it++) nf += (size_t)snprintf(ft + nf, sizeof ft - nf, "%d %d %d:0.5\n", it, it / 10, 100 + it % 3);
        crt_write("cli_feat_train.txt", txt, (long)n);
        crt_write("cli_feat.txt", ft, (long)nf);
    }
    EXPECT("train --model lightgcn --train build/test-tmp/cli_feat_train.txt --item-repr features", 2, "--item-repr, --attr-w and --fm-w need --item-features");
    EXPECT("train --model lightgcn --train build/test-tmp/cli_feat_train.txt --item-features build/test-tmp/cli_feat.txt --fm-w 0.1 --fm-mask some", 2,
           "--fm-mask: option fm_corr: 'some' is not a value (one of random|correlated)");
    EXPECT("train --model lightgcn --item-features build/test-tmp/cli_feat.txt --item-repr id", 2, "--item-features needs --train");
    EXPECT("train --model lightgcn --train build/test-tmp/cli_feat_train.txt --item-features build/test-tmp/cli_feat.txt --item-repr some", 2,
           "option item_repr: 'some' is not a value (one of id|id+features|features)");
    EXPECT("train --model gru4rec --train build/test-tmp/cli_feat_train.txt --item-features build/test-tmp/cli_feat.txt --attr-w 0.2", 2,
           "config gru4rec: attr_w is not an option of gru4rec");
    EXPECT("train --model lightgcn --train build/test-tmp/cli_feat_train.txt --item-features build/test-tmp/no-such.txt --item-repr features", 1,
           "no-such.txt: cannot open");
    EXPECT("train --model lightgcn --train build/test-tmp/cli_feat_train.txt --item-features build/test-tmp/cli_feat.txt --item-repr id+features "
           "--attr-w 0.2 --fm-w 0.1 --fm-mask correlated --cold-items 0.2 --epochs 2 --dim 8 --batch 64 --no-auc --json --save build/test-tmp/cli_feat.crrc", 0, "40 of 40 items have features");
    CHECK(slurp("build/test-tmp/cli.out", line, sizeof line) && strstr(line, "\"cold_items\":8") && strstr(line, "\"test_cold_recall@20\":") &&
          strstr(line, "\"test_warm_ndcg@20\":"));
    EXPECT("recommend --load build/test-tmp/cli_feat.crrc --user 3 -k 5", 0, "");
    crt_write("cli_new_items.txt", "1000 0 101:0.5\n1001 3\n1002 999\n5 1\n", -1);
    EXPECT("recommend --load build/test-tmp/cli_feat.crrc --user 3 -k 40 --new-items build/test-tmp/cli_new_items.txt", 0,
           "item 1002 has no feature the model knows");
    CHECK(strstr(e_last, "item 5 is one the model has"));
    CHECK(slurp("build/test-tmp/cli.out", line, sizeof line) && strstr(line, "\t1000\t") && strstr(line, "\t1001\t") && strstr(line, "\tnew\n") &&
          !strstr(line, "\t1002\t"));
    EXPECT("recommend --load build/test-tmp/cli_feat.crrc --items 1 --new-items build/test-tmp/cli_new_items.txt", 2, "--new-items ranks them for a --user");
    EXPECT("train --model lightgcn --train build/test-tmp/cli_feat_train.txt --item-features build/test-tmp/cli_feat.txt --epochs 1 --dim 4 --select last",
           0, "note: --item-features without --item-repr: items read as id+features");
}

/* Output paths are checked before any work: a run that could not save stops at once. */
TEST(output_paths_checked_before_training) {
    char e[8192];
    if (!have_bin()) return;
    EXPECT("train --model xsimgcl --export-npy build/test-tmp/no-such-dir", 1,
           "--export-npy: build/test-tmp/no-such-dir: the folder does not exist");
    CHECKF(!strstr(e_last, "synthetic dataset"), "data was built before the check: %s", e_last);
    EXPECT("train --model xsimgcl --save build/test-tmp/no-such-dir/m.crrc", 1,
           "--save: build/test-tmp/no-such-dir/m.crrc: the folder build/test-tmp/no-such-dir does not exist");
    CHECKF(!strstr(e_last, "synthetic dataset"), "data was built before the check: %s", e_last);
    (void)e;
}

/* --dry-run prints the memory plan and trains nothing (no model saved); --mem-limit refuses a
   run whose plan does not fit, with the plan, before training; a malformed size is a usage
   error. */
TEST(dry_run_prints_the_memory_plan) {
    char out[4096];
    if (!have_bin()) return;
    remove("build/test-tmp/dry.crrc");
    EXPECT("train --model sgl --epochs 1 --dry-run --save build/test-tmp/dry.crrc", 0, "config: model=sgl");
    read_out(out, sizeof out);
    CHECKF(strstr(out, "memory plan (") && strstr(out, "the training workspace") && strstr(out, "(passing)") &&
               strstr(out, "peak (held + the largest passing need)") && !strstr(out, "selected epoch"),
           "stdout: %s", out);
    CHECK(!crt_have_file("build/test-tmp/dry.crrc"));
    EXPECT("train --model sgl --epochs 1 --dry-run --mem-limit 1k", 1, "is above --mem-limit");
    read_out(out, sizeof out);
    CHECKF(strstr(out, "does not fit"), "stdout: %s", out);
    EXPECT("train --model sgl --epochs 1 --mem-limit 1k", 1, "memory plan peaks at");
    read_out(out, sizeof out);
    CHECKF(strstr(e_last, "the training workspace") && !strstr(out, "selected epoch"), "stderr: %s\nstdout: %s", e_last, out);
    EXPECT("train --model sgl --epochs 1 --mem-limit 1G", 0, "");
    read_out(out, sizeof out);
    CHECKF(strstr(out, "selected epoch 1"), "stdout: %s", out);
    EXPECT("train --model sgl --mem-limit 12X", 2, "--mem-limit: '12X' is not a size");
    EXPECT("tune --model sgl --dry-run", 2, "--dry-run is an option of train, not of tune");
}

/* 1 if path is a folder */
static int is_folder(const char *path) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test -d %s", path);
    return system(cmd) == 0;
}

/* An output path that is an existing folder is refused before any work, and the folder stays;
   every output option is checked before data is read. */
TEST(output_folder_refused_and_kept) {
    if (!have_bin()) return;
    CHECK(system("rm -rf build/test-tmp/outdir build/test-tmp/repdir && "
                 "mkdir -p build/test-tmp/outdir build/test-tmp/repdir/report.html") == 0);
    crt_write("od_run.json", "{\"epoch\":1,\"loss\":0.9}\n{\"best_epoch\":1}\n", -1);
    if (crt_have_file("/proc/self/status")) { /* a folder no file can be made in (even as root): refused before loading */
        EXPECT("train --model mf --epochs 1 --per-user /proc/pu.tsv", 1, "--per-user: /proc/pu.tsv: the folder /proc cannot be written to");
        CHECKF(!strstr(e_last, "users,"), "the data was built first: %s", e_last);
    }
    EXPECT("report build/test-tmp/od_run.json -o build/test-tmp/outdir", 1,
           "-o: build/test-tmp/outdir: is a folder, not a file");
    CHECK(is_folder("build/test-tmp/outdir"));
    EXPECT("plot build/test-tmp/od_run.json --metric loss -o build/test-tmp/outdir", 1,
           "build/test-tmp/outdir: is a folder");
    CHECK(is_folder("build/test-tmp/outdir"));
    EXPECT("train --model mf --epochs 1 --dim 4 --per-user build/test-tmp/outdir", 1,
           "--per-user: build/test-tmp/outdir: is a folder");
    CHECKF(!strstr(e_last, "synthetic dataset"), "data was built before the check: %s", e_last);
    CHECK(is_folder("build/test-tmp/outdir"));
    EXPECT("train --model mf --epochs 1 --dim 4 --save build/test-tmp/outdir", 1,
           "--save: build/test-tmp/outdir: is a folder");
    CHECKF(!strstr(e_last, "synthetic dataset"), "data was built before the check: %s", e_last);
    EXPECT("train --model mf --epochs 1 --dim 4 --resume build/test-tmp/outdir", 1,
           "--resume: build/test-tmp/outdir: is a folder");
    EXPECT("train --model mf --epochs 1 --dim 4 --report build/test-tmp/repdir", 1,
           "--report: build/test-tmp/repdir/report.html: is a folder");
    CHECKF(!strstr(e_last, "synthetic dataset"), "data was built before the check: %s", e_last);
    EXPECT("train --model mf --epochs 1 --dim 4 --export-npy build/test-tmp/od_run.json", 1,
           "--export-npy: build/test-tmp/od_run.json: is not a folder");
    EXPECT("map --load build/test-tmp/does-not-exist.crrc -o build/test-tmp/outdir", 1,
           "-o: build/test-tmp/outdir: is a folder");
    CHECK(is_folder("build/test-tmp/outdir") && is_folder("build/test-tmp/repdir/report.html"));
}

/* cr_out: a folder made at the path while the file was written is not replaced, and the
   temporary file goes; a finished file replaces the old one. */
TEST(out_commit_never_replaces_a_folder) {
    cr_out o;
    const char *path = crt_tmp("out_race");
    char buf[64];
    CHECK(system("rm -rf build/test-tmp/out_race build/test-tmp/out_race.tmp") == 0);
    CHECK_OK(cr_out_check(path));
    CHECK_OK(cr_out_open(&o, path));
    fputs("new\n", o.f);
    CHECK(system("mkdir build/test-tmp/out_race") == 0);
    CHECK_FAILS(cr_out_commit(&o), CR_ERR_IO, "out_race: is a folder, not a file");
    CHECK(is_folder(path) && !crt_have_file("build/test-tmp/out_race.tmp") && o.f == NULL && o.tmp == NULL);
    CHECK_FAILS(cr_out_check(path), CR_ERR_IO, "out_race: is a folder, not a file");
    CHECK_FAILS(cr_out_check("build/test-tmp/no-such-dir/x"), CR_ERR_IO, "the folder build/test-tmp/no-such-dir does");
    CHECK_FAILS(cr_out_check_dir("build/test-tmp/no-such-dir"), CR_ERR_IO, "no-such-dir: the folder does not exist");
    CHECK(system("rmdir build/test-tmp/out_race") == 0);
    crt_write("out_race", "old\n", -1);
    CHECK_OK(cr_out_open(&o, path));
    fputs("new\n", o.f);
    cr_out_abort(&o); /* the old file stays */
    CHECK(slurp(path, buf, sizeof buf) && !strcmp(buf, "old\n") && !crt_have_file("build/test-tmp/out_race.tmp"));
    CHECK_OK(cr_out_open(&o, path));
    fputs("new\n", o.f);
    CHECK_OK(cr_out_commit(&o));
    CHECK(slurp(path, buf, sizeof buf) && !strcmp(buf, "new\n"));
}

/* 100,000 epoch lines (a long run's log) are read in one pass: plot and report finish in
   seconds (the time limit is generous: the sanitized build is slower). */
TEST(long_run_log_reads_in_linear_time) {
    const char *path = crt_tmp("long_run.json");
    char cmd[1024];
    FILE *f;
    int e, st;
    if (!have_bin()) return;
    if (system("command -v timeout > /dev/null 2>&1") != 0) { crt_skip("no timeout(1)"); return; }
    f = fopen(path, "wb");
    CHECK(f != NULL);
    for (e = 1; e <= 100000; e++)
        fprintf(f, "{\"epoch\":%d,\"phase\":\"select\",\"loss\":%.6f,\"valid_recall@20\":%.6f,\"valid_ndcg@20\":%.6f,"
                   "\"valid_pop_ndcg@20\":0.02}\n", e, 1.0 / e, 0.1 + 1e-7 * e, 0.05 + 1e-7 * e);
    fprintf(f, "{\"best_epoch\":100000,\"model\":\"mf\",\"test_recall@20\":0.1,"
               "\"test_item_group_recall\":[0.1,0.2,0.3]}\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, "timeout 10 %s plot %s -o build/test-tmp/long.svg > /dev/null 2>&1", bin(), path);
    st = system(cmd);
    CHECKF(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "plot of 100,000 lines: status %d (124: over 10 s)",
           WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    snprintf(cmd, sizeof cmd, "timeout 10 %s report %s -o build/test-tmp/long.html > /dev/null 2>&1", bin(), path);
    st = system(cmd);
    CHECKF(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "report of 100,000 lines: status %d (124: over 10 s)",
           WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    remove(path);
}

/* A bad value in a run log is reported with its file, line and field, not as a chart's point;
   --metric's cut-off must be one of --topk's, checked before any data is read. */
TEST(run_log_errors_name_file_and_line) {
    if (!have_bin()) return;
    crt_write("rl_inf.json", "{\"epoch\":1,\"loss\":0.9,\"valid_ndcg@20\":0.05}\n"
                             "{\"epoch\":2,\"loss\":0.8,\"valid_ndcg@20\":1e999}\n{\"best_epoch\":1}\n", -1);
    EXPECT("plot build/test-tmp/rl_inf.json -o build/test-tmp/rl.svg", 1,
           "rl_inf.json:2: field \"valid_ndcg@20\": '1e999' is not a finite number");
    EXPECT("report build/test-tmp/rl_inf.json -o build/test-tmp/rl.html", 1,
           "rl_inf.json:2: field \"valid_ndcg@20\": '1e999' is not a finite number");
    crt_write("rl_nan.json", "{\"epoch\":1,\"loss\":0.9}\n{\"epoch\":2,\"loss\":nan}\n{\"best_epoch\":1}\n", -1);
    EXPECT("plot build/test-tmp/rl_nan.json --metric loss -o build/test-tmp/rl.svg", 1,
           "rl_nan.json:2: field \"loss\": 'nan' is not a finite number");
    crt_write("rl_syntax.json", "{\"epoch\":1,\"loss\":0.9}\n\n{\"epoch\":2,\"loss\":}\n", -1);
    EXPECT("plot build/test-tmp/rl_syntax.json --metric loss -o build/test-tmp/rl.svg", 1,
           "rl_syntax.json:3: not a JSON object of fields");
    crt_write("rl_groups.json", "{\"epoch\":1,\"loss\":0.9}\n{\"best_epoch\":1,\"test_item_group_recall\":[]}\n", -1);
    EXPECT("plot build/test-tmp/rl_groups.json --metric test_item_group_recall -o build/test-tmp/rl.svg", 1,
           "rl_groups.json:2: field \"test_item_group_recall\": no groups");
    EXPECT("train --model mf --metric ndcg@30 --train build/test-tmp/does-not-exist.txt", 2,
           "--metric ndcg@30: 30 is not one of the --topk cut-offs (the default 10,20)");
    EXPECT("train --model mf --metric recall@7 --topk 5,10", 2,
           "--metric recall@7: 7 is not one of the --topk cut-offs (5,10)");
    CHECKF(!strstr(e_last, "synthetic dataset"), "data was built before the check: %s", e_last);
    EXPECT("train --model gru4rec --metric ndcg@5 --train build/test-tmp/does-not-exist.txt", 1,
           "does-not-exist.txt: cannot open");
}

/* compare checks every value of a per-user file: ranges, field counts, lines of any length */
TEST(compare_checks_every_value) {
    static const char head[] = "user\thistory\trecall@20\tndcg@20\ttail_recall@20\tild@20\n";
    static const char *const bad[][3] = { /* name, rows, what the refusal says */
        {"recall", "1\t3\t7.5\t0.4\t-1\t0.8\n", "cmp_recall.tsv:2: field recall@20: 7.5 is not in [0, 1]"},
        {"huge", "1\t3\t0.5\t1e308\t-1\t0.8\n", "cmp_huge.tsv:2: field ndcg@20: 1e308 is not in [0, 1]"},
        {"hist", "1\t3\t0.5\t0.4\t-1\t0.8\n2\t-4\t0.5\t0.4\t-1\t0.8\n", "cmp_hist.tsv:3: field history: -4 is not a non-negative integer"},
        {"extra", "1\t3\t0.5\t0.4\t-1\t0.8\t9\n", "cmp_extra.tsv:2: more than 6 fields, the header has 6"},
        {"tail", "1\t3\t0.5\t0.4\t-0.5\t0.8\n", "cmp_tail.tsv:2: field tail_recall@20: -0.5 is not in [0, 1] (or -1: none)"},
        {"other", "7\t3\t0.5\t0.4\t-1\t0.8\n8\t3\t0.5\t0.4\t-1\t0.8\n", "cmp_ok.tsv: no user in common with"}};
    static char longline[4096];
    char txt[8192];
    int k, i;
    if (!have_bin()) return;
    snprintf(txt, sizeof txt, "%s1\t3\t0.5\t0.4\t-1\t0.8\n2\t5\t0.2\t0.1\t0.3\t-1\n3\t2\t0\t0\t0\t1.2\n", head);
    crt_write("cmp_ok.tsv", txt, -1);
    for (i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        char file[64], args[256];
        snprintf(txt, sizeof txt, "%s%s", head, bad[i][1]);
        snprintf(file, sizeof file, "cmp_%s.tsv", bad[i][0]);
        crt_write(file, txt, -1);
        snprintf(args, sizeof args, "compare build/test-tmp/cmp_ok.tsv build/test-tmp/%s", file);
        EXPECT(args, 1, bad[i][2]);
    }
    /* a line of over 1,023 bytes (a zero-padded user id) is one line */
    k = snprintf(longline, sizeof longline, "%s", head);
    memset(longline + k, '0', 1500);
    snprintf(longline + k + 1500, sizeof longline - (size_t)k - 1500,
             "2\t5\t0.2\t0.1\t0.3\t-1\n3\t2\t0.1\t0\t0\t1.2\n1\t3\t0.5\t0.4\t-1\t0.8\n");
    crt_write("cmp_long.tsv", longline, -1);
    EXPECT("compare build/test-tmp/cmp_ok.tsv build/test-tmp/cmp_long.tsv --boot 100", 0, "");
    CHECK(slurp("build/test-tmp/cli.out", txt, sizeof txt) && strstr(txt, "3 users in both (3 and 3 in each)"));
}

/* --threads above the machine's cores is allowed, with a note */
TEST(threads_above_cores_noted) {
    if (!have_bin()) return;
    EXPECT("train --model mf --threads 1024 --train build/test-tmp/does-not-exist.txt", 1,
           "note: --threads 1024 is more than this machine's");
    EXPECT("train --model mf --threads 1 --train build/test-tmp/does-not-exist.txt", 1, "cannot open");
    CHECKF(!strstr(e_last, "note:"), "a note for one thread: %s", e_last);
}

/* The error exits free what the program holds: with the sanitized build (make asan), LeakSanitizer
   finds nothing on exits from deep inside each command. */
TEST(error_exits_leak_nothing) {
    char args[1024];
    if (!have_bin()) return;
    if (!getenv("CRT_CLI")) { printf("(leak checks: make asan runs this with the sanitized CLI) "); }
    crt_write("lk_tr.txt", "10 1 2 3 4\n11 2 3 4 5\n12 0 4 5 6\n13 1 5 6 7\n14 2 6 7 8\n15 0 1 8 9\n", -1);
    crt_write("lk_bad.txt", "10 1\n11 x\n", -1);
    CHECKF(run("train --model lightgcn --train build/test-tmp/lk_tr.txt --epochs 1 --dim 4 --select last "
               "--save build/test-tmp/lk.crrc", args, sizeof args) == 0, "%s", args);
    EXPECT("eval --load build/test-tmp/lk.crrc --test build/test-tmp/lk_bad.txt --train build/test-tmp/lk_tr.txt", 1,
           "lk_bad.txt:2");
    CHECK(!strstr(e_last, "LeakSanitizer"));
    EXPECT("recommend --load build/test-tmp/lk.crrc --user 12 --new-items build/test-tmp/lk_bad.txt", 1, "lk_bad.txt: the lightgcn model in build/test-tmp/lk.crrc was trained without item features");
    CHECK(!strstr(e_last, "LeakSanitizer"));
    EXPECT("recommend --load build/test-tmp/lk.crrc --user 12 -k 500", 2, "-k 500 is more than");
    CHECK(!strstr(e_last, "LeakSanitizer"));
    crt_write("lk_few.txt", "0 11 12 13\n1 12 13 14\n2 10 14 15\n3 11 15 16\n4 12 16 17\n", -1); /* too few for validation */
    EXPECT("train --model mf --train build/test-tmp/lk_few.txt --epochs 1 --dim 4 --per-user build/test-tmp/lk.tsv", 1,
           "no validation records");
    CHECK(!strstr(e_last, "LeakSanitizer"));
    EXPECT("train --model lightgcn --train build/test-tmp/lk_tr.txt --item-features build/test-tmp/lk_bad.txt "
           "--item-repr features", 1,
           "lk_bad.txt");
    CHECK(!strstr(e_last, "LeakSanitizer"));
    snprintf(args, sizeof args, "train --model lightgcn --train build/test-tmp/lk_tr.txt --epochs 2 --dim 4 "
                                "--select last --report build/test-tmp/lk_rep --per-user build/test-tmp/lk.tsv "
                                "--metric ndcg@10");
    CHECK(system("rm -rf build/test-tmp/lk_rep && mkdir build/test-tmp/lk_rep") == 0);
    EXPECT(args, 0, "");
    CHECK(!strstr(e_last, "LeakSanitizer") && crt_have_file("build/test-tmp/lk_rep/report.html") &&
          !crt_have_file("build/test-tmp/lk_rep/run.json.tmp"));
    EXPECT("compare build/test-tmp/lk.tsv build/test-tmp/lk_tr.txt", 1, "not a 'train --per-user' file");
    CHECK(!strstr(e_last, "LeakSanitizer"));
    EXPECT("compare build/test-tmp/lk.tsv,build/test-tmp/lk.tsv build/test-tmp/cmp_recall.tsv", 1, "field recall@20");
    CHECK(!strstr(e_last, "LeakSanitizer"));
    crt_write("lk_run.json", "{\"epoch\":1,\"loss\":0.9}\n{\"epoch\":2,\"loss\":0.8}\n", -1);
    EXPECT("report build/test-tmp/lk_rep/run.json build/test-tmp/lk_run.json -o build/test-tmp/lk.html", 1,
           "lk_run.json: no final line");
    CHECK(!strstr(e_last, "LeakSanitizer"));
    EXPECT("plot build/test-tmp/lk_rep/run.json build/test-tmp/rl_inf.json -o build/test-tmp/lk.svg", 1,
           "rl_inf.json:2");
    CHECK(!strstr(e_last, "LeakSanitizer"));
    EXPECT("map --load build/test-tmp/lk.crrc -o build/test-tmp/lk_map.svg --users --perplexity 30", 1,
           "perplexity 30 needs");
    CHECK(!strstr(e_last, "LeakSanitizer"));
}

/* The header's quick start is examples/minimal.c (which make test builds as C and C++ and runs),
   line for line: the manual cannot drift from a program that compiles. */
static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    char *b;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = (char *)malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
    b[n] = 0;
    fclose(f);
    return b;
}

TEST(quick_start_is_examples_minimal) {
    char *h = read_all("contrarec.h"), *x = read_all("examples/minimal.c"), *p, *q;
    int lines = 0;
    CHECK(h && x);
    p = strstr(h, "         #define CONTRAREC_IMPLEMENTATION\n         #include \"contrarec.h\"");
    q = strstr(x, "#define CONTRAREC_IMPLEMENTATION\n#include \"contrarec.h\"");
    CHECK(p && q);
    while (p && q && *q) { /* each manual line is 9 spaces + the program's line */
        char *pe = strchr(p, '\n'), *qe = strchr(q, '\n'), want[512];
        if (!pe || !qe || qe - q >= (long)sizeof want) break;
        snprintf(want, sizeof want, "%.*s", (int)(qe - q), q);
        if (!want[0]) CHECKF(pe == p, "manual line %d is not empty", lines + 1);
        else CHECKF(pe - p == 9 + (long)strlen(want) && !strncmp(p + 9, want, strlen(want)), "quick start line %d differs: %s", lines + 1, want);
        lines++;
        if (!strcmp(want, "}") && !strchr(qe + 1, '}')) break; /* main's closing brace: the program's last */
        p = pe + 1;
        q = qe + 1;
    }
    CHECK(lines > 20);
    free(h);
    free(x);
}

/* 1 if the file is whole: its last 8 bytes are the FNV-1a of the rest, as the writer leaves it */
static int file_whole(const char *path) {
    FILE *f = fopen(path, "rb");
    long n = 0;
    unsigned char *b = NULL;
    uint64_t stored = 0;
    int i, ok = 0;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 8 && fseek(f, 0, SEEK_SET) == 0 &&
        (b = (unsigned char *)malloc((size_t)n)) && fread(b, 1, (size_t)n, f) == (size_t)n) {
        uint64_t h = 0xcbf29ce484222325ULL;
        long j;
        for (j = 0; j < n - 8; j++) h = (h ^ b[j]) * 0x100000001b3ULL;
        for (i = 0; i < 8; i++) stored |= (uint64_t)b[n - 8 + i] << (8 * i);
        ok = stored == h;
    }
    if (f) fclose(f);
    free(b);
    return ok;
}

TEST(killed_save_keeps_previous_checkpoint) {
    /* A run whose time is mostly writing (MF at d = 512 on 3,000 users with 3 items each: a 40 MB
       training state written after every epoch of a few milliseconds), killed at growing moments
       until a kill has landed inside a write, which the writer's PATH.tmp left behind proves (it
       goes only by renaming). After every kill the state file, if there is one, is whole (the old
       version or the new one, never a torn one). Checkpoints (--save) go through the same writer. */
    char args[1024], *t = (char *)malloc(1 << 17);
    const char *st = "build/test-tmp/kill.state", *tmp = "build/test-tmp/kill.state.tmp";
    size_t len = 0;
    int k, u, hits = 0;
    if (!have_bin() || !t) { free(t); return; }
    if (system("command -v timeout > /dev/null 2>&1") != 0) { crt_skip("no timeout(1)"); free(t); return; }
    for (u = 0; u < 3000; u++)
        len += (size_t)snprintf(t + len, 64, "%d %d %d %d\n", u, (7 * u) % 4000, (7 * u + 13) % 4000, (11 * u + 5) % 4000);
    crt_write("kill.txt", t, (long)len);
    free(t);
    for (k = 0; k < 16 && !(hits && k >= 4); k++) {
        double at = 0.2 + 0.15 * k;
        int whole;
        remove(st);
        remove(tmp);
        snprintf(args, sizeof args, "timeout -s KILL %.2f %s train --model mf --train build/test-tmp/kill.txt --dim 512 "
                 "--epochs 1000 --select last --no-auc --threads 1 --no-progress --resume %s > /dev/null 2>&1", at, bin(), st);
        CHECK(system(args) != -1);
        hits += crt_have_file(tmp);
        whole = !crt_have_file(st) || file_whole(st);
        CHECKF(whole, "after a kill at %.2f s the training state is torn", at);
    }
    CHECKF(hits > 0, "no kill landed inside a write in %d tries (no %s left behind)", k, tmp);
    remove(st);
    remove(tmp);
}
#endif

/* No --format: a MovieLens u.data file is read as ratings and timestamps (said on stderr), and
   a file two formats fit is refused naming them and the option. */
TEST(format_found_from_the_file) {
    char *t = (char *)malloc(1 << 16);
    size_t n = 0;
    int k;
    if (!have_bin()) { free(t); return; }
    CHECK(t != NULL);
    for (k = 0; k < 1500; k++)
        n += (size_t)snprintf(t + n, (1 << 16) - n, "%d\t%d\t%d\t%d\n", k % 60 + 1, (k * 7 + k / 60) % 1000 + 1, k % 5 + 1, 874724710 + k);
    crt_write("u.data", t, (long)n);
    free(t);
    EXPECT("train --model mf --train build/test-tmp/u.data --epochs 1 --dim 4 --select last", 0,
           "build/test-tmp/u.data: 1500 records from 1500 lines (movielens, found from the file)\n");
    crt_write("amb.txt", "0 1 2 3\n1 2 3 4\n2 0 4 5\n", -1);
    EXPECT("train --model mf --train build/test-tmp/amb.txt --epochs 1", 1, "amb.txt: the format is ambiguous");
    EXPECT("train --model mf --train build/test-tmp/amb.txt --epochs 1", 1, "choose one with --format");
    EXPECT("train --model mf --train build/test-tmp/amb.txt --format bogus", 2, "(auto, lightgcn, triplets, movielens, seq)");
    /* an output that is one of the command's inputs is refused, and the input kept */
    EXPECT("train --model mf --train build/test-tmp/u.data --epochs 1 --save build/test-tmp/./u.data", 1, "that is an input of this command");
    EXPECT("train --model mf --train build/test-tmp/u.data --epochs 1 --dim 4 --select last", 0, "1500 records from 1500 lines");
    crt_write("run-in.json", "{\"epoch\":1,\"loss\":0.5}\n", -1);
    EXPECT("plot build/test-tmp/run-in.json --metric loss -o build/test-tmp/run-in.json", 1, "-o build/test-tmp/run-in.json: that is an input");
    EXPECT("report build/test-tmp/run-in.json -o build/test-tmp/run-in.json", 1, "that is an input");
}

#ifdef CLI
/* tune: bad command lines; a search on validation whose printed train command reproduces the
   winner's validation figure; a rerun with --state takes every trial from the state. */
/* The contrast backoff as a user sees it: a line per backoff and the lambda it ended with, the
   same in the JSON run log (which plot and report still read), and its option checked. */
TEST(train_backs_off_the_contrast) {
    static char out[65536];
    const char *data = "--train build/test-tmp/bo/train.txt --test build/test-tmp/bo/test.txt";
    char args[1024];
    if (!have_bin()) return;
    CHECK(system("mkdir -p build/test-tmp/bo") == 0);
    EXPECT("synth -o build/test-tmp/bo --users 500 --items 800 --mean-len 100 --seed 41", 0, "");
    snprintf(args, sizeof args, "train --model xsimgcl %s --dim 16 --batch 1024 --epochs 8 --backoff 1 --no-auc "
             "--threads 1", data);
    EXPECT(args, 0, "");
    CHECK(slurp("build/test-tmp/cli.out", out, sizeof out));
    /* the best epoch (4) precedes the backoff (after epoch 7): the selected model's lambda is 0.2 */
    CHECKF(strstr(out, "contrast weight halved to 0.1, training goes on from epoch 4") &&
           strstr(out, "contrast backed off 1 time: the selected epoch trained with lambda 0.2"), "%s", out);
    snprintf(args, sizeof args, "train --model xsimgcl %s --dim 16 --batch 1024 --epochs 8 --backoff 1 --no-auc "
             "--threads 1 --json", data);
    EXPECT(args, 0, "");
    CHECK(system("cp build/test-tmp/cli.out build/test-tmp/bo/run.json") == 0);
    CHECK(slurp("build/test-tmp/bo/run.json", out, sizeof out));
    CHECK(strstr(out, "\"backoff_lambda\":0.1,\"backoff_from_epoch\":4") &&
          strstr(out, "\"backoffs\":1,\"lambda\":0.2"));
    EXPECT("report build/test-tmp/bo/run.json -o build/test-tmp/bo/r.html", 0, "");
    EXPECT("train --model xsimgcl --backoff 0", 2, "--backoff");
    EXPECT("train --model xsimgcl --backoff sometimes", 2, "--backoff");
}

/* The final JSON line without its timings (keys ending in _s). */
static void untimed(const char *line, char *out, size_t n) {
    size_t o = 0;
    while (*line && o + 1 < n) {
        const char *q = line[0] == '"' ? strchr(line + 1, '"') : NULL;
        if (q && q - line > 3 && q[-2] == '_' && q[-1] == 's' && q[1] == ':') { /* skip "x_s":value, */
            line = q + 2 + strcspn(q + 2, ",}");
            if (*line == ',') line++;
            continue;
        }
        out[o++] = *line++;
    }
    out[o] = 0;
}

/* The config line train prints, pasted back after 'train' as name=value words, is the same
   configuration and trains the same model: for every model (options away from its defaults),
   the same config line and the same final JSON line, timings aside. */
TEST(config_line_reproduces_the_run) {
    static const char *const runs[][2] = {
        {"mf", "--reg 0 --neg dns --neg-candidates 4"}, {"lightgcn", "--layers 2 --init xavier"},
        {"sgl", "--aug rw --drop 0.2 --l2 selfrec"}, {"simgcl", "--eps 0.05 --lambda 0"},
        {"xsimgcl", "--lstar 2 --layers 3 --proj-head on"}, {"gru4rec", "--maxlen 8 --dropout 0 --hidden 12"},
        {"cl4srec", "--aug crop,insert --no-proj-head --aug-rate 0.3"}, {"ncl", "--warmup 0 --clusters 3 --l2 recbole"},
        {"recdcl", "--momentum 0 --bt-off 0.02"}, {"rcl", "--nce dcl --adv prev --nce-mask off"},
    };
    static char seq[8192], a1[8192], a2[8192];
    char args[4096], e[8192], cfg[2048];
    size_t k, n = 0;
    int u, j;
    if (!have_bin()) return;
    for (u = 0; u < 60; u++) { /* sequences over 30 items */
        n += (size_t)snprintf(seq + n, sizeof seq - n, "%d:", u);
        for (j = 0; j < 6 + u % 5; j++) n += (size_t)snprintf(seq + n, sizeof seq - n, " %d", (u * 7 + j * (1 + u % 3)) % 30);
        n += (size_t)snprintf(seq + n, sizeof seq - n, "\n");
    }
    crt_write("cli_seq.txt", seq, (long)n);
    for (k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        int sq = cr_model_is_sequential(cr_model_parse(runs[k][0]));
        const char *data = sq ? "--train build/test-tmp/cli_seq.txt --format seq"
                              : "--train tests/data/small_train.txt --test tests/data/small_test.txt";
        const char *c, *end;
        snprintf(args, sizeof args, "train --model %s %s %s --epochs 2 --dim 8 --batch 64 --threads 1 --select last --json",
                 runs[k][0], runs[k][1], data);
        CHECKF(run(args, e, sizeof e) == 0, "%s: %s", args, e);
        CHECKF((c = strstr(e, "\nconfig: ")) != NULL, "%s printed no config line", args);
        c += strlen("\nconfig: ");
        end = c + strcspn(c, "\n");
        snprintf(cfg, sizeof cfg, "%.*s", (int)(end - c), c);
        read_out(a2, sizeof a2);
        untimed(strrchr(a2, '{') ? strrchr(a2, '{') : a2, a1, sizeof a1);
        snprintf(args, sizeof args, "train %s --epochs 2 --threads 1 --select last --json %s", data, cfg);
        CHECKF(run(args, e, sizeof e) == 0, "%s: %s", args, e);
        CHECKF(strstr(e, cfg) != NULL, "%s: the config line read back prints differently:\n%s", runs[k][0], e);
        read_out(seq, sizeof seq);
        untimed(strrchr(seq, '{') ? strrchr(seq, '{') : seq, a2, sizeof a2);
        CHECKF(strstr(a1, "\"test_") && !strcmp(a1, a2), "%s: the run differs:\n%s\n%s", runs[k][0], a1, a2);
    }
}

TEST(tune_searches_and_prints_a_command_that_reproduces_the_winner) {
    static char out[1 << 16];
    char want[128], args[4096];
    const char *w, *r,
        *a = "tune --models mf,lightgcn --train tests/data/small_train.txt --test tests/data/small_test.txt --trials 3 "
             "--min-epochs 1 --dim 8 --threads 1 --state build/test-tmp/tune-state --save build/test-tmp/tune.crrc";
    size_t n;
    if (!have_bin()) return;
    EXPECT("tune", 2, "tune needs --model M or --models M1,M2");
    EXPECT("tune --model xsimgcl --space 'lambda=1..0.1'", 2,
           "search space of xsimgcl: option lambda: range 1..0.1 has lo >= hi");
    EXPECT("tune --model lightgcn --space 'eps=0.1,0.2'", 2, "option 'eps' is not searched for lightgcn");
    EXPECT("tune --model mf --budget 3x", 2, "--budget: '3x' is not a time such as 90s, 30m or 2h");
    EXPECT("tune --model mf --epochs 3", 2, "tune sets each trial's epochs");
    EXPECT("tune --models mf,bogus", 2, "--models: unknown model 'bogus'");
    EXPECT("train --model mf --trials 3", 2, "unknown option '--trials'");
    remove("build/test-tmp/tune-state");
    EXPECT(a, 0, "successive halving on validation");
    CHECK(slurp("build/test-tmp/cli.out", out, sizeof out) && strstr(out, "leaderboard (validation ndcg@20"));
    CHECK(crt_have_file("build/test-tmp/tune.crrc") && crt_have_file("build/test-tmp/tune-state"));
    w = strstr(out, "(validation ndcg@20 ");
    r = strstr(out, "reproduce: contrarec train ");
    CHECK(w && r);
    snprintf(want, sizeof want, "on validation ndcg@20 = %.6s", w + strlen("(validation ndcg@20 "));
    r += strlen("reproduce: contrarec ");
    n = strcspn(r, "\n");
    CHECK(n < sizeof args);
    snprintf(args, sizeof args, "%.*s", (int)n, r);
    EXPECT(args, 0, "selection: on a validation split");
    CHECKF(slurp("build/test-tmp/cli.out", out, sizeof out) && strstr(out, want), "'%s' gave no '%s'", args, want);
    EXPECT(a, 0, "successive halving on validation");
    CHECK(slurp("build/test-tmp/cli.out", out, sizeof out) && strstr(out, "trial   4/4 ") &&
          strstr(out, "(from the state)"));
    remove("build/test-tmp/tune-state");
}
#endif

const crt_case crt_cli[] = {
    {"cli/format_found_from_the_file", format_found_from_the_file},
#ifdef CLI
    {"cli/bad_command_lines", bad_command_lines},
    {"cli/bad_files", bad_files},
    {"cli/train_eval_recommend_json", train_eval_recommend_json},
    {"cli/progress_bar_fits_the_terminal", progress_bar_fits_the_terminal},
    {"cli/eval_reproduces_train_test_figures", eval_reproduces_train_test_figures},
    {"cli/plot_runs", plot_runs},
    {"cli/train_selects_on_validation", train_selects_on_validation},
    {"cli/output_paths_checked_before_training", output_paths_checked_before_training},
    {"cli/output_folder_refused_and_kept", output_folder_refused_and_kept},
    {"cli/dry_run_prints_the_memory_plan", dry_run_prints_the_memory_plan},
    {"cli/out_commit_never_replaces_a_folder", out_commit_never_replaces_a_folder},
    {"cli/long_run_log_reads_in_linear_time", long_run_log_reads_in_linear_time},
    {"cli/run_log_errors_name_file_and_line", run_log_errors_name_file_and_line},
    {"cli/compare_checks_every_value", compare_checks_every_value},
    {"cli/threads_above_cores_noted", threads_above_cores_noted},
    {"cli/error_exits_leak_nothing", error_exits_leak_nothing},
    {"cli/quick_start_is_examples_minimal", quick_start_is_examples_minimal},
    {"cli/killed_save_keeps_previous_checkpoint", killed_save_keeps_previous_checkpoint},
    {"cli/tune_searches_and_prints_a_command_that_reproduces_the_winner", tune_searches_and_prints_a_command_that_reproduces_the_winner},
    {"cli/train_backs_off_the_contrast", train_backs_off_the_contrast},
    {"cli/config_line_reproduces_the_run", config_line_reproduces_the_run},
#endif
    {NULL, NULL}};
