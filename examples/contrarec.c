/* contrarec - the command-line program: train, evaluate and serve recommenders.

     contrarec train --model xsimgcl                       (built-in synthetic data)
     contrarec train --model lightgcn --train train.txt --test test.txt --epochs 30
     contrarec eval --load model.crrc --test test.txt
     contrarec recommend --load model.crrc --user 42 -k 10
     contrarec recommend --load model.crrc --items "3 17 99"        (a new user, graph models)
     contrarec recommend --load model.crrc --history "3 17 99"      (a new history, sequence models)

   Exit status: 0 on success, 1 when the work failed (bad file, numerical fault, ...), 2 for a
   bad command line. Every failure prints one line naming what was wrong. */
#define _DEFAULT_SOURCE /* isatty */
#define CONTRAREC_IMPLEMENTATION
#include "../contrarec.h"

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/ioctl.h> /* the terminal's width (TIOCGWINSZ) */
#include <sys/stat.h>
#include <unistd.h>
#define HAVE_ISATTY 1
#endif

/* 1 once the program ends normally (main returned, a help page): an MPI build then finalises */
static int clean_exit = 0;

#define MAX_IDS 100000

/* ---- what the program holds, freed on every exit ----
   Errors end the program from deep inside (die, die_usage, a reader's message and exit): rather
   than thread a return code through every caller, each allocation and library object the
   program holds is registered here, and an atexit handler frees what is still held (newest
   first) and removes unfinished output files. Normal paths give things back with release(). */
typedef struct owned {
    void *p;
    void (*fn)(void *);
} owned;
static owned *owned_v;
static int owned_n, owned_cap;

static void release_all(void) {
    while (owned_n > 0) {
        owned_n--;
        owned_v[owned_n].fn(owned_v[owned_n].p);
    }
    free(owned_v);
    owned_v = NULL;
    owned_cap = 0;
}

static void oom(void) {
    fprintf(stderr, "contrarec: out of memory\n");
    exit(1);
}

/* p (not NULL) is the program's until release(p); fn frees it */
static void *own(void *p, void (*fn)(void *)) {
    if (owned_n == owned_cap) {
        owned *v = (owned *)realloc(owned_v, sizeof(owned) * (size_t)(owned_cap ? 2 * owned_cap : 32));
        if (!v) { fn(p); oom(); }
        if (!owned_v) atexit(release_all);
        owned_v = v;
        owned_cap = owned_cap ? 2 * owned_cap : 32;
    }
    owned_v[owned_n].p = p;
    owned_v[owned_n++].fn = fn;
    return p;
}

static int owned_at(const void *p) {
    int i;
    for (i = owned_n - 1; i >= 0 && owned_v[i].p != p; i--) {}
    return i;
}

/* frees p (NULL: nothing) with the function it was registered with */
static void release(void *p) {
    int i = p ? owned_at(p) : -1;
    void (*fn)(void *);
    if (i < 0) return;
    fn = owned_v[i].fn;
    memmove(owned_v + i, owned_v + i + 1, sizeof(owned) * (size_t)(owned_n - i - 1));
    owned_n--;
    fn(p);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom();
    return own(p, free);
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom();
    return own(p, free);
}

static void *xrealloc(void *p, size_t n) {
    int i = p ? owned_at(p) : -1;
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(); /* p is still registered: freed on exit */
    if (i >= 0) owned_v[i].p = q;
    else own(q, free);
    return q;
}

static void free_model(void *m) { cr_model_free((cr_model *)m); }
static void free_dataset(void *d) { cr_dataset_free((cr_dataset *)d); free(d); }
static void free_interactions(void *x) { cr_interactions_free((cr_interactions *)x); free(x); }
static void free_idmap(void *x) { cr_idmap_free((cr_idmap *)x); free(x); }
static void free_features(void *x) { cr_item_features_free((cr_item_features *)x); free(x); }
static void free_out(void *o) { cr_out_abort((cr_out *)o); free(o); } /* removes an unfinished path.tmp */

/* a zeroed library object of size bytes, owned, freed by fn */
static void *new_owned(size_t size, void (*fn)(void *)) {
    void *p = calloc(1, size);
    if (!p) oom();
    return own(p, fn);
}

/* The whole file, NUL-terminated and owned (its length in *len); NULL (errno set) if it cannot be read. */
static char *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    size_t n = 0, cap = 0, got;
    char *text = NULL;
    if (!f) return NULL;
    do {
        if (n + 65536 + 1 > cap) text = (char *)xrealloc(text, cap = 2 * cap + 65536 + 1);
        got = fread(text + n, 1, 65536, f);
        n += got;
    } while (got > 0);
    if (ferror(f)) {
        fclose(f);
        release(text);
        errno = EIO;
        return NULL;
    }
    fclose(f);
    text[n] = 0;
    *len = n;
    return text;
}

/* read_whole, or the program ends with a message naming the file */
static char *read_or_die(const char *what, const char *path, size_t *len) {
    char *t = read_whole(path, len);
    if (!t) {
        fprintf(stderr, "contrarec: %s%s%s: cannot open: %s\n", what, *what ? " " : "", path, strerror(errno));
        exit(1);
    }
    return t;
}

static cr_model *own_model(cr_model *m) { return (cr_model *)own(m, free_model); }

/* ---- output files: checked before any work, written through cr_out ---- */

/* An output file (or folder: is_dir) must be writable before any work starts. */
/* The files a command reads: an output that is one of them is refused before any work (a
   --save over the training file, a plot over its own run). */
static const char *inputs[CR_MAX_SERIES + 8];
static int n_inputs;

static const char *input(const char *path) {
    if (n_inputs < (int)(sizeof inputs / sizeof inputs[0])) inputs[n_inputs++] = path;
    return path;
}

static int same_file(const char *a, const char *b) {
#ifdef HAVE_ISATTY
    struct stat x, y;
    if (stat(a, &x) == 0 && stat(b, &y) == 0) return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
#endif
    return !strcmp(a, b);
}

static void check_out(const char *opt, const char *path, int is_dir) {
    int i;
    for (i = 0; i < n_inputs; i++)
        if (same_file(path, inputs[i])) {
            fprintf(stderr, "contrarec: %s %s: that is an input of this command (%s); write the output elsewhere\n",
                    opt, path, inputs[i]);
            exit(1);
        }
    if ((is_dir ? cr_out_check_dir(path) : cr_out_check(path)) != CR_OK) {
        fprintf(stderr, "contrarec: %s: %s\n", opt, cr_last_error());
        exit(1);
    }
}

/* DIR/name, owned */
static char *path_in(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = (char *)xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* The files an output folder will hold, each checked (one of them might be a folder). */
static void check_out_in(const char *opt, const char *dir, const char *const *names, int n) {
    int i;
    check_out(opt, dir, 1);
    for (i = 0; i < n; i++) {
        char *p = path_in(dir, names[i]);
        check_out(opt, p, 0);
        release(p);
    }
}

/* path.tmp opened for writing (owned: removed if the program ends before out_commit) */
static cr_out *out_open(const char *path) {
    cr_out *o = (cr_out *)new_owned(sizeof(cr_out), free_out);
    if (cr_out_open(o, path) != CR_OK) {
        fprintf(stderr, "contrarec: %s\n", cr_last_error());
        exit(1);
    }
    return o;
}

/* the file renamed into place; 0, or 1 with a message */
static int out_commit(cr_out *o) {
    int rc = cr_out_commit(o) != CR_OK;
    if (rc) fprintf(stderr, "contrarec: %s\n", cr_last_error());
    release(o);
    return rc;
}

static void die_usage(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "contrarec: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, " (see 'contrarec --help')\n");
    exit(2);
}

static void die(const char *what) {
    fprintf(stderr, "contrarec: %s: %s\n", what, cr_last_error());
    exit(1);
}

/* "contrarec: path:line: ..." (line 0: "path: ...") and exit status 1 */
static void die_at(const char *path, long long line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void die_at(const char *path, long long line, const char *fmt, ...) {
    va_list ap;
    if (line) fprintf(stderr, "contrarec: %s:%lld: ", path, line);
    else fprintf(stderr, "contrarec: %s: ", path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* ---- option values: parsed whole, range-checked, one-line errors ---- */

static long parse_int(const char *opt, const char *s, long lo, long hi) {
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (!*s || *end || errno) die_usage("%s: '%s' is not an integer", opt, s);
    if (v < lo || v > hi) {
        char msg[160];
        snprintf(msg, sizeof msg, "%%s: %%s is outside %ld..%ld", lo, hi);
        die_usage(msg, opt, s);
    }
    return v;
}

/* A finite number in [lo, hi] (lo_open: lo itself excluded). */
static double parse_num(const char *opt, const char *s, double lo, double hi, int lo_open) {
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (!*s || *end || errno || !(v == v) || v > 1e300 || v < -1e300)
        die_usage("%s: '%s' is not a finite number", opt, s);
    if (v < lo || v > hi || (lo_open && v == lo)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%%s: %%s is outside %s%g, %g]", lo_open ? "(" : "[", lo, hi);
        die_usage(msg, opt, s);
    }
    return v;
}

static int64_t parse_raw_id(const char *what, const char *s) {
    unsigned long long v = 0;
    const char *p;
    if (!*s) die_usage("%s: '%s' is not a non-negative integer id", what, s);
    for (p = s; *p; p++) {
        if (*p < '0' || *p > '9') die_usage("%s: '%s' is not a non-negative integer id", what, s);
        v = v * 10 + (unsigned)(*p - '0');
        if (v > 0xFFFFFFFFULL) die_usage("%s: '%s' is not an id in 0..4294967295", what, s);
    }
    return (int64_t)v;
}

/* "10,20" -> ascending cut-offs */
static int parse_topk(const char *s, int *ks) {
    char buf[256], *tok, *save = NULL;
    int n = 0;
    if (strlen(s) >= sizeof buf) die_usage("%s: '%s' is too long", "--topk", s);
    strcpy(buf, s);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == CR_MAX_K) die_usage("%s: at most 8 cut-offs (%s)", "--topk", s);
        ks[n] = (int)parse_int("--topk", tok, 1, 1024);
        if (n && ks[n] <= ks[n - 1]) die_usage("%s: cut-offs must ascend (%s)", "--topk", s);
        n++;
    }
    if (!n) die_usage("%s: no cut-off in '%s'", "--topk", s);
    return n;
}

/* "3 17 99" or "3,17,99" -> raw ids */
static int parse_id_list(const char *opt, const char *s, int64_t *out) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char tok[32];
        size_t k = 0;
        while (*p == ' ' || *p == ',' || *p == '\t') p++;
        if (!*p) break;
        while (*p && *p != ' ' && *p != ',' && *p != '\t') {
            if (k + 1 >= sizeof tok) die_usage("%s: id '%s...' is too long", opt, s);
            tok[k++] = *p++;
        }
        tok[k] = 0;
        if (n == MAX_IDS) die_usage("%s: more than %s ids", opt, "100000");
        out[n++] = parse_raw_id(opt, tok);
    }
    if (!n) die_usage("%s: no ids in '%s'", opt, s);
    return n;
}

static cr_format parse_format(const char *s) {
    if (!strcmp(s, "auto")) return CR_FORMAT_AUTO;
    if (!strcmp(s, "lightgcn")) return CR_FORMAT_LIGHTGCN;
    if (!strcmp(s, "triplets")) return CR_FORMAT_TRIPLETS;
    if (!strcmp(s, "movielens")) return CR_FORMAT_MOVIELENS;
    if (!strcmp(s, "seq")) return CR_FORMAT_SEQ;
    die_usage("--format: unknown format '%s' (auto, lightgcn, triplets, movielens, seq)%s", s, "");
    return CR_FORMAT_LIGHTGCN;
}

/* ---- the options of every command ---- */

typedef struct opts {
    const char *cmd, *train, *test, *load, *save, *npy, *items, *history, *aug, *report, *per_user, *per_user_cold,
        *item_features, *new_items, *resume;
    const char *metric; /* --metric as given */
    cr_config cfg;
    cr_load_opts lo;
    cr_fit_opts fit;
    int format_set, json, k, include_seen, no_auc, threads, profile, dry_run;
    int progress; /* --progress 1, --no-progress -1, else 0: the bar when stderr is a terminal */
    double split[3]; /* --split ratio:a,b,c (0: none) */
    uint64_t data_seed; /* --data-seed (0: the model's seed draws the split and the hold-outs) */
    int64_t user;
    int has_user, history_set;
    /* tune */
    const char *models, *space, *state;
    double budget;
    int trials, min_epochs, eta, brackets, argc;
    char **argv;
} opts;

/* One model's options, with its defaults, from the library's option table. */
static void model_options(cr_model_kind model) {
    char *buf;
    int n = cr_config_help(model, NULL, 0);
    printf("model options%s%s (--name VALUE, or name=value as the config line 'train' prints; 0 or omitted: the\n"
           "default%s; an option the model does not read is refused):\n",
           model ? " of " : "", model ? cr_model_name(model) : "",
           model ? "" : " of the chosen model, see --help --model M");
    if (!(buf = (char *)malloc((size_t)n + 1))) return;
    cr_config_help(model, buf, (size_t)n + 1);
    fputs(buf, stdout);
    free(buf);
    printf("  aliases: --aug (aug for graph models, seq_aug for sequence models), --l2 paper|selfrec|recbole\n"
           "           (l2_selfrec, l2_recbole), --maxlen (max_len), --nce (nce_est), --fm-mask (fm_corr),\n"
           "           --proj-head, --no-proj-head without a value (proj_head on, off), --cl-negatives random:N\n");
}

/* The commands, one entry each. */
static void usage_commands(void) {
    printf(
        "usage:\n"
        "  contrarec --version\n"
        "  contrarec train --model M [--train F [--test F] [--format FMT]] [options]\n"
        "  contrarec tune (--model M | --models M1,M2,...) [--train F [--test F]] [--budget 30m] [--trials 9]\n"
        "        [--space SPEC] [--state FILE] [--refit] [--save FILE] [train's options]   (see 'tune:' below)\n"
        "  contrarec eval --load FILE --test F [--train F] [--format FMT] [--topk 10,20] [--exclude-history] [--json]\n"
        "        (known history: the model's training records and the validation records train saved with\n"
        "        it, as train's test; --train F adds the file's other records)\n"
        "  contrarec recommend --load FILE (--user ID [--include-seen] | --items \"ID ...\" | --history \"ID ...\") "
        "[-k 10]\n"
        "        [--new-items F]   (items the model never saw, one line each in the --item-features format,\n"
        "        ranked for --user beside the trained items from their features; marked 'new')\n"
        "  contrarec synth -o DIR [--users 2000] [--items 3000] [--mean-len 30] [--clusters 20] [--zipf 0.8]\n"
        "        [--seed 1] [--test-ratio 0.2]   (the built-in generator's data as DIR/train.txt, DIR/test.txt;\n"
        "        --mean-len sets the density: 943 users, 1682 items, mean length 100 is MovieLens-100K-like;\n"
        "        --crd: one dataset file DIR/data.crd instead, train and test, for data too large for text;\n"
        "        item popularity is Zipf (--zipf), a user's length 5 + exponential of mean --mean-len - 5)\n"
        "  contrarec convert DATA OUT.crd [--test F] [--item-features F] [--format F] [--min-rating R]\n"
        "        (the data, read as train reads it for a graph model (--format seq for sequences), into one\n"
        "        binary file that --train OUT.crd loads without parsing: id maps, records, test records, item\n"
        "        features; checksummed)\n"
        "  contrarec plot RUN.json ... -o FILE.svg [--metric valid_ndcg@20] [--title T]\n"
        "        (an epoch field such as loss or valid_recall@20: curves over epochs; an array field\n"
        "        of the final line such as test_item_group_recall: grouped bars)\n"
        "  contrarec report RUN.json ... -o FILE.html [--title T]   (one self-contained page: the runs'\n"
        "        selection, accuracy and beyond-accuracy tables, their curves and group charts)\n"
        "  contrarec compare A.tsv B.tsv [--boot 1000] [--seed 1] [--sparse 0.2]   (B against A, paired\n"
        "        by user, from 'train --per-user': all users, the sparsest users, long-tail recall and\n"
        "        intra-list diversity, each with a 95%% bootstrap interval of the relative gain;\n"
        "        A1.tsv,A2.tsv,...: several seeds, averaged per user)\n");
}

/* tune's part of the usage, with every model's default search space. */
static void usage_tune(void) {
    int k;
    printf(
        "tune:      successive halving on validation (the test set is not read until the winner is trained):\n"
        "           --trials N configurations (9) train --min-epochs E (5) epochs; the best 1/--eta (3) go on for\n"
        "           eta times as many, until one is left; --brackets B (1) adds Hyperband's brackets (fewer\n"
        "           configurations, more epochs at first). Each trial trains from scratch and selects its epoch on\n"
        "           validation (--valid, --metric). Every model's first configuration is its defaults (with the\n"
        "           options given); the others are drawn from its search space (below). The configurations and the\n"
        "           schedule depend only on --seed and the options; --budget 90s|30m|2h only decides where the\n"
        "           search stops (a trial running then is dropped). --state FILE|DIR records each finished trial:\n"
        "           the same command again skips them (a state of other options is refused, naming what differs).\n"
        "           Then: the leaderboard, the winner trained as train would (--epochs of its rung; --refit:\n"
        "           retrained on train + valid; --save FILE), the test set read once, and the train command that\n"
        "           reproduces it.\n"
        "           --space \"lambda=0.01..1 log, tau=0.1,0.2,0.5\": a range (log: log-uniform; integer options draw\n"
        "           integers) or a list, for cr_config's options; with --models, each model takes the ones it can.\n"
        "           Default spaces:\n");
    for (k = 1; cr_model_name((cr_model_kind)k)[0] != '?'; k++)
        printf("             %-9s %s\n", cr_model_name((cr_model_kind)k), cr_tune_default_space((cr_model_kind)k));
    printf("\n");
}

static void usage(cr_model_kind model) {
    int k;
    if (model) {
        printf("contrarec train --model %s [options]: %s\n\n", cr_model_name(model), cr_model_about(model));
        model_options(model);
        return;
    }
    usage_commands();
    printf(
        "  contrarec map --load FILE -o FILE.svg [--users] [--sample 2000] [--seed 501] [--perplexity 30]\n"
        "        [--iterations 1000] [--title T]   (exact t-SNE of sampled item or user vectors,\n"
        "        coloured by popularity group, with the unit-circle view and its angle density)\n"
        "\n"
        "models: %s (below)\n"
        "formats: auto (the default: the layout is read from the file's first lines, and a file two\n"
        "         formats fit is refused naming them; item lists are seq for sequence models),\n"
        "         lightgcn (uid iid iid ...), triplets (user item [rating [time]]), movielens (u.data,\n"
        "         ratings.dat, ratings.csv), seq (user:item item ... in time order); RecBole's atomic\n"
        "         files (.inter, .item: a typed header such as user_id:token item_id:token) are\n"
        "         recognised by their header whatever the format\n"
        "\n"
        "data:      --train F --test F --format FMT --skip-bad-lines --min-rating R\n"
        "           without --train: the built-in synthetic dataset (graph models: batch 256 by default);\n"
        "           without --test: each user's last item (sequence models) or 20%% of each user's\n"
        "           interactions (graph models) is held out as the test set\n"
        "           --split ratio:0.8,0.1,0.1 (one file into train/valid/test per user, RecBole's rule;\n"
        "           the test set masks train and valid items)\n"
        "selection: the model is selected on a validation split carved from training: 10%% of each\n"
        "           user's interactions (graph models, --valid RATIO) or each user's last training item\n"
        "           (sequence models); the test set is read once, at the selected model.\n"
        "           --epochs N (default: until validation stops improving, at most --max-epochs 1000)\n"
        "           --patience P (10 without --epochs) --eval-every N (1) --metric ndcg|recall|hit|mrr[@K]\n"
        "           --stop dip (default: stop after P evaluations without a new best, but not before\n"
        "           evaluation 2P nor while the last two evaluations each rose, up to 5P: contrastive\n"
        "           models often dip after epoch 1 and climb past it) | plain (after P, as RecBole)\n"
        "           --backoff B|off (3: when validation stays 10%% below its best for B evaluations while\n"
        "           BPR is at chance, halve lambda and go on from the best epoch; SGL, SimGCL, XSimGCL,\n"
        "           NCL, RCL; off: the papers' fixed lambda)\n"
        "           --refit (retrain on train + valid for the selected epochs, then read test)\n"
        "           --select test (select on the test set, as SELFRec and LightGCN's code do: optimistic)\n"
        "           --select last (no selection: the model after --epochs)\n"
        "per user:  --per-user F.tsv (the test evaluation per user: history, recall, NDCG, tail recall,\n"
        "           intra-list diversity at the largest K; 'contrarec compare' pairs two such files)\n"
        "           --per-user-cold F.tsv (the same for the users --cold-users holds out)\n"
        "resume:    --resume F (the training state is written to F after every epoch; when F exists, training\n"
        "           continues after its epoch, with the same result as an uninterrupted run)\n"
        , cr_model_list());
    printf( /* in two parts: C99 compilers need only take string literals of 4095 bytes */
        "robustness: --train-noise P (add P x |train| random unobserved pairs to the training part only)\n"
        "cold start: --cold-users P (hold a seeded share P of the users out of training; fold them in from\n"
        "           their training items at test time) --cold-warm (train on them instead: their warm score)\n"
        "           --cold-items P (hold a seeded share P of the items out of training; half of them validate,\n"
        "           half are tested; test ranked over all, trained and held-out items; only models that\n"
        "           read item features can score the held-out ones)\n"
        "           --data-seed S (draw --split's parts and the held-out users or items from S, not --seed:\n"
        "           runs of every --seed then share them, and their per-user rows pair)\n"
        "features:  --item-features F (lines 'item feat feat ...' or 'item feat:weight ...', or a RecBole\n"
        "           .item file; the model options item_repr, attr_w and fm_w use them)\n"
        "run:       --threads T\n"
        "evaluation: --topk 10,20 --no-auc --exclude-history | --include-history (sequence models rank\n"
        "           with the user's history included by default; both protocols are reported)\n"
        "           --tail-ratio 0.1 (RecBole's tail: that share of items, or items with at most that\n"
        "           many interactions if > 1) --cooccurrence (also co-occurrence diversity, serendipity)\n"
        );
    printf(
        "output:    --save FILE --export-npy DIR --json\n"
        "           --profile (measure this machine's GEMM rate and bandwidth, then print each epoch's\n"
        "           phases: seconds, GFLOP, GB, and the floor they give; with --json, <phase>_s/_gflop/_gb)\n"
        "           --progress | --no-progress (the bar on stderr: epoch of the cap, batches, last evaluation\n"
        "           and best, patience left; on when stderr is a terminal; as wide as COLUMNS or the terminal)\n"
        "           --report DIR (DIR/run.json, the item map DIR/map.svg and DIR/report.html)\n"
        "memory:    --dry-run (print the run's memory plan, part by part, and stop before allocating it)\n"
        "           --mem-limit SIZE (e.g. 8G, 512M: refuse a run whose planned peak is above it, with the plan)\n"
        "\n");
    usage_tune();
    for (k = 1; cr_model_name((cr_model_kind)k)[0] != '?'; k++)
        printf("  %-9s %s\n", cr_model_name((cr_model_kind)k), cr_model_about((cr_model_kind)k));
    printf("\n");
    model_options((cr_model_kind)0);
}

static const char *need(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) die_usage("option %s needs a value%s", argv[*i], "");
    return argv[++*i];
}

/* "ndcg", "recall@20", ... */
static void parse_metric(const char *s, cr_fit_opts *f) {
    char name[32];
    const char *at = strchr(s, '@');
    size_t n = at ? (size_t)(at - s) : strlen(s);
    int k;
    if (n >= sizeof name) die_usage("--metric: '%s' is not a metric%s", s, "");
    memcpy(name, s, n);
    name[n] = 0;
    for (k = 0; k <= (int)CR_METRIC_PRECISION && strcmp(name, cr_metric_name((cr_metric)k)); k++) {}
    if (k > (int)CR_METRIC_PRECISION)
        die_usage("--metric: unknown metric '%s' (ndcg, recall, hit, mrr, precision)%s", name, "");
    f->metric = (cr_metric)k;
    if (at) f->metric_k = (int)parse_int("--metric", at + 1, 1, 1024);
}

/* --metric's cut-off is one of the evaluation's (--topk, or the model's defaults): checked here,
   before any data is read, rather than by cr_fit after loading */
static void check_metric_k(const opts *o) {
    static const int graph[CR_MAX_K] = {10, 20}, seq[CR_MAX_K] = {5, 10, 20};
    const int *ks = o->fit.eval.ks[0] ? o->fit.eval.ks : cr_model_is_sequential(o->cfg.model) ? seq : graph;
    char list[128], msg[256];
    size_t n = 0;
    int i;
    if (!o->fit.metric_k || !o->cfg.model) return;
    for (i = 0; i < CR_MAX_K && ks[i]; i++) {
        if (ks[i] == o->fit.metric_k) return;
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%d", i ? "," : "", ks[i]);
    }
    snprintf(msg, sizeof msg, "--metric %s: %d is not one of the --topk cut-offs (%s%s)", o->metric, o->fit.metric_k,
             o->fit.eval.ks[0] ? "" : "the default ", list);
    die_usage("%s%s", msg, "");
}

/* the machine's processors, 0 if unknown */
static int num_cores(void) {
#ifdef _OPENMP
    return omp_get_num_procs();
#elif defined(HAVE_ISATTY) && defined(_SC_NPROCESSORS_ONLN)
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < INT_MAX ? (int)n : 0;
#else
    return 0;
#endif
}

/* --threads: more than the cores is allowed (they share them), with a note */
static void set_threads(int n) {
    int cores = num_cores();
    if (cores > 0 && n > cores)
        fprintf(stderr, "note: --threads %d is more than this machine's %d cores; the threads will share them\n", n,
                cores);
    cr_set_num_threads(n);
}

/* "90s", "30m", "2h", or seconds */
static double parse_budget(const char *s) {
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno || !(v > 0)) die_usage("--budget: '%s' is not a time such as 90s, 30m or 2h%s", s, "");
    if (*end == 'm')
        v *= 60, end++;
    else if (*end == 'h')
        v *= 3600, end++;
    else if (*end == 's')
        end++;
    if (*end || !(v <= 1e7)) die_usage("--budget: '%s' is not a time such as 90s, 30m or 2h (at most 1e7 s)%s", s, "");
    return v;
}

/* tune's own options; 0 if a is not one */
static int parse_tune_option(opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (!strcmp(a, "--models"))
        o->models = need(argc, argv, i);
    else if (!strcmp(a, "--space"))
        o->space = need(argc, argv, i);
    else if (!strcmp(a, "--state"))
        o->state = need(argc, argv, i);
    else if (!strcmp(a, "--budget"))
        o->budget = parse_budget(need(argc, argv, i));
    else if (!strcmp(a, "--trials"))
        o->trials = (int)parse_int(a, need(argc, argv, i), 1, 1000);
    else if (!strcmp(a, "--min-epochs"))
        o->min_epochs = (int)parse_int(a, need(argc, argv, i), 1, 100000);
    else if (!strcmp(a, "--eta"))
        o->eta = (int)parse_int(a, need(argc, argv, i), 2, 100);
    else if (!strcmp(a, "--brackets"))
        o->brackets = (int)parse_int(a, need(argc, argv, i), 1, 100);
    else
        return 0;
    return 1;
}

/* The model whose options --help shows: --model M anywhere on the line (0: every option). */
static cr_model_kind help_model(int argc, char **argv) {
    int i;
    for (i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--model")) return cr_model_parse(argv[i + 1]);
    return (cr_model_kind)0;
}

/* Spellings of model options other than --name-with-dashes (the library's option table), kept
   because scripts use them; value NULL: the next argument. */
static const struct {
    const char *flag, *option, *value;
} option_aliases[] = {
    {"--maxlen", "max_len", NULL},    {"--nce", "nce_est", NULL},           {"--fm-mask", "fm_corr", NULL},
    {"--proj-head", "proj_head", "on"}, {"--no-proj-head", "proj_head", "off"},
};

/* A model option: --model M, --name VALUE for a row of the option table (or an alias above),
   or name=value as the config line prints it. The library checks the value. 0 if a is none. */
static int model_option(opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i], *name = NULL, *value = NULL, *eq = strchr(a, '=');
    char key[64];
    size_t k;
    if (!strcmp(a, "--aug")) { /* seq_aug or aug, by the model (which may come later) */
        o->aug = need(argc, argv, i);
        return 1;
    }
    if (!strcmp(a, "--l2")) { /* one choice over two options */
        const char *v = need(argc, argv, i);
        o->cfg.l2_selfrec = !strcmp(v, "selfrec");
        o->cfg.l2_recbole = !strcmp(v, "recbole");
        if (!o->cfg.l2_selfrec && !o->cfg.l2_recbole && strcmp(v, "paper"))
            die_usage("--l2: '%s' is not paper, selfrec or recbole%s", v, "");
        return 1;
    }
    if (!strcmp(a, "--proj-head") && *i + 1 < argc && (!strcmp(argv[*i + 1], "on") || !strcmp(argv[*i + 1], "off")))
        name = "proj_head", value = argv[++*i]; /* the table's form; bare, the alias below */
    for (k = 0; !name && k < sizeof option_aliases / sizeof option_aliases[0]; k++)
        if (!strcmp(a, option_aliases[k].flag)) {
            name = option_aliases[k].option;
            value = option_aliases[k].value ? option_aliases[k].value : need(argc, argv, i);
        }
    if (!name && a[0] == '-' && a[1] == '-' && (!strcmp(a + 2, "model") || cr_option_find(a + 2))) {
        name = a + 2;
        value = need(argc, argv, i);
        if (!strcmp(name, "cl-negatives") && !strncmp(value, "random:", 7)) value += 7; /* the flag's old form */
    }
    if (!name && a[0] != '-' && eq && (size_t)(eq - a) < sizeof key) { /* name=value, as the config line */
        memcpy(key, a, (size_t)(eq - a));
        key[eq - a] = 0;
        if (strcmp(key, "model") && !cr_option_find(key)) die_usage("unknown option '%s'%s", key, "");
        name = key;
        value = eq + 1;
    }
    if (!name) return 0;
    if (cr_config_set(&o->cfg, name, value) != CR_OK) { /* the message names the option; an alias is named too */
        const cr_option *row = cr_option_find(a);
        if (a[0] == '-' && strcmp(name, "model") && row != cr_option_find(name))
            die_usage("%s: %s", a, cr_last_error());
        die_usage("%s%s", cr_last_error(), "");
    }
    return 1;
}

/* --split ratio:TRAIN,VALID,TEST */
static void parse_split(opts *o, const char *v) {
    char *end;
    int q;
    if (strncmp(v, "ratio:", 6)) die_usage("--split: '%s' is not ratio:TRAIN,VALID,TEST%s", v, "");
    v += 6;
    for (q = 0; q < 3; q++) {
        o->split[q] = strtod(v, &end);
        if (end == v || !(o->split[q] > 0 && o->split[q] < 1) || (q < 2 && *end != ',') || (q == 2 && *end))
            die_usage("--split: needs three shares in (0, 1), as ratio:0.8,0.1,0.1%s%s", "", "");
        v = end + 1;
    }
    if (fabs(o->split[0] + o->split[1] + o->split[2] - 1) > 1e-6)
        die_usage("--split: the three shares must sum to 1%s%s", "", "");
}

/* Selection, stopping and evaluation protocol options (cr_fit_opts); 0 if a is none. */
static int fit_option(opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    cr_fit_opts *f = &o->fit;
    if (!strcmp(a, "--epochs")) f->epochs = (int)parse_int(a, need(argc, argv, i), 1, 100000);
    else if (!strcmp(a, "--max-epochs")) f->max_epochs = (int)parse_int(a, need(argc, argv, i), 1, 100000);
    else if (!strcmp(a, "--topk")) parse_topk(need(argc, argv, i), f->eval.ks);
    else if (!strcmp(a, "--eval-every")) f->eval_every = (int)parse_int(a, need(argc, argv, i), 1, 100000);
    else if (!strcmp(a, "--valid")) f->valid_ratio = parse_num(a, need(argc, argv, i), 0, 0.9, 1);
    else if (!strcmp(a, "--split")) parse_split(o, need(argc, argv, i));
    else if (!strcmp(a, "--patience")) f->patience = (int)parse_int(a, need(argc, argv, i), 1, 100000);
    else if (!strcmp(a, "--stop")) {
        const char *v = need(argc, argv, i);
        if (!strcmp(v, "dip")) f->stop_rule = 0;
        else if (!strcmp(v, "plain")) f->stop_rule = 1;
        else die_usage("--stop: '%s' is not dip or plain%s", v, "");
    }
    else if (!strcmp(a, "--backoff")) {
        const char *v = need(argc, argv, i);
        f->backoff = !strcmp(v, "off") ? -1 : (int)parse_int(a, v, 1, 1000);
    }
    else if (!strcmp(a, "--metric")) parse_metric(o->metric = need(argc, argv, i), f);
    else if (!strcmp(a, "--refit")) f->refit = 1;
    else if (!strcmp(a, "--train-noise")) f->train_noise = parse_num(a, need(argc, argv, i), 0, 10, 0);
    else if (!strcmp(a, "--cold-users")) f->cold_users = parse_num(a, need(argc, argv, i), 0, 0.99, 0);
    else if (!strcmp(a, "--cold-warm")) f->cold_warm = 1;
    else if (!strcmp(a, "--data-seed")) o->data_seed = (uint64_t)parse_int(a, need(argc, argv, i), 1, 2147483647L);
    else if (!strcmp(a, "--cold-items")) f->cold_items = parse_num(a, need(argc, argv, i), 0, 0.99, 0);
    else if (!strcmp(a, "--select")) {
        const char *v = need(argc, argv, i);
        if (!strcmp(v, "valid")) f->select = CR_SELECT_VALID;
        else if (!strcmp(v, "test")) f->select = CR_SELECT_TEST;
        else if (!strcmp(v, "last")) f->select = CR_SELECT_LAST;
        else die_usage("--select: '%s' is not valid, test or last%s", v, "");
    } else if (!strcmp(a, "--exclude-history")) { f->eval.exclude_seen = 1; o->history_set = 1; }
    else if (!strcmp(a, "--include-history")) { f->eval.exclude_seen = -1; o->history_set = 1; }
    else if (!strcmp(a, "--no-auc")) o->no_auc = 1;
    else if (!strcmp(a, "--tail-ratio")) f->eval.tail_ratio = parse_num(a, need(argc, argv, i), 1e-9, 1e9, 0);
    else if (!strcmp(a, "--cooccurrence")) f->eval.cooccurrence = 1;
    else return 0;
    return 1;
}

/* Inputs and outputs of the commands, and recommend's options; 0 if a is none. */
static int io_option(opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    cr_fit_opts *f = &o->fit;
    if (!strcmp(a, "--save")) o->save = need(argc, argv, i);
    else if (!strcmp(a, "--export-npy")) o->npy = need(argc, argv, i);
    else if (!strcmp(a, "--report")) o->report = need(argc, argv, i);
    else if (!strcmp(a, "--per-user")) o->per_user = need(argc, argv, i);
    else if (!strcmp(a, "--per-user-cold")) o->per_user_cold = need(argc, argv, i);
    else if (!strcmp(a, "--resume")) o->resume = need(argc, argv, i);
    else if (!strcmp(a, "--json")) o->json = 1;
    else if (!strcmp(a, "--profile")) o->profile = 1;
    else if (!strcmp(a, "--dry-run") || !strcmp(a, "--mem-limit")) {
        /* a run's plan: tune's trials are many runs, eval and recommend train none */
        const char *v;
        if (strcmp(o->cmd, "train")) die_usage("%s is an option of train, not of %s", a, o->cmd);
        if (!strcmp(a, "--dry-run")) o->dry_run = 1;
        else if (!(f->mem_limit = cr_parse_bytes(v = need(argc, argv, i))))
            die_usage("--mem-limit: '%s' is not a size such as 8G, 512M or 1048576%s", v, "");
    }
    else if (!strcmp(a, "--progress")) o->progress = 1;
    else if (!strcmp(a, "--no-progress")) o->progress = -1;
    else if (!strcmp(a, "--load")) o->load = input(need(argc, argv, i));
    else if (!strcmp(a, "--user")) { o->user = parse_raw_id("--user", need(argc, argv, i)); o->has_user = 1; }
    else if (!strcmp(a, "--items")) o->items = need(argc, argv, i);
    else if (!strcmp(a, "--new-items")) o->new_items = input(need(argc, argv, i));
    else if (!strcmp(a, "--history")) o->history = need(argc, argv, i);
    else if (!strcmp(a, "-k") || !strcmp(a, "--k")) {
        o->k = (int)parse_int(a, need(argc, argv, i), 1, 100000);
        if (strcmp(o->cmd, "recommend"))
            die_usage("-k is the list length of recommend; %s reads --topk (the evaluation cut-offs)%s", o->cmd,
                      "");
    }
    else if (!strcmp(a, "--include-seen")) o->include_seen = 1;
    else return 0;
    return 1;
}

static void parse(opts *o, int argc, char **argv) {
    int i;
    memset(o, 0, sizeof *o);
    o->k = 10;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(help_model(argc, argv));
        clean_exit = argc >= 2;
        exit(argc < 2 ? 2 : 0);
    }
    if (!strcmp(argv[1], "--version")) {
        printf("contrarec %d.%d\n", CR_VERSION_MAJOR, CR_VERSION_MINOR);
        clean_exit = 1;
        exit(0);
    }
    o->cmd = argv[1];
    if (strcmp(o->cmd, "train") && strcmp(o->cmd, "eval") && strcmp(o->cmd, "recommend") && strcmp(o->cmd, "tune"))
        die_usage("unknown command '%s' (train, tune, eval, recommend, plot, map, report, compare, synth, convert)%s",
                  o->cmd, "");
    o->argc = argc;
    o->argv = argv;
    for (i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(help_model(argc, argv)); clean_exit = 1, exit(0); }
        else if (model_option(o, argc, argv, &i)) {}
        else if (!strcmp(a, "--train")) o->train = input(need(argc, argv, &i));
        else if (!strcmp(a, "--test")) o->test = input(need(argc, argv, &i));
        else if (!strcmp(a, "--format")) { o->lo.format = parse_format(need(argc, argv, &i)); o->format_set = 1; }
        else if (!strcmp(a, "--skip-bad-lines")) o->lo.skip_bad_lines = 1;
        else if (!strcmp(a, "--min-rating")) o->lo.min_rating = (float)parse_num(a, need(argc, argv, &i), 0, 1e9, 1);
        else if (!strcmp(a, "--threads")) o->threads = (int)parse_int(a, need(argc, argv, &i), 1, 1024);
        else if (fit_option(o, argc, argv, &i) || io_option(o, argc, argv, &i)) {}
        else if (!strcmp(a, "--item-features")) o->item_features = input(need(argc, argv, &i));
        else if (!strcmp(o->cmd, "tune") && parse_tune_option(o, argc, argv, &i)) {}
        else die_usage("unknown option '%s'%s", a, "");
    }
    o->fit.eval.no_auc = o->no_auc;
    check_metric_k(o);
    if (o->threads) set_threads(o->threads);
}

/* ---- training output: progress bar, table, JSON lines ---- */

typedef struct progress {
    int on;       /* drawn: stderr is a terminal, or --progress */
    int width;    /* the terminal's columns; a line never takes more than width - 1 */
    int cap;      /* the phase's epoch cap */
    int patience; /* evaluations without improvement that stop training (0: no early stopping) */
    int refit, epoch, since, evaluated, best_epoch;
    double value, best;
    char metric[32]; /* "valid ndcg@20" */
    int drawn;       /* columns of the line on screen */
    double t0, last;
} progress;

/* The terminal's width: COLUMNS, else the terminal's own (stderr), else 80. */
static int term_width(void) {
    const char *c = getenv("COLUMNS");
    char *end;
    long v = c ? strtol(c, &end, 10) : 0;
    if (c && *c && !*end && v > 0 && v < 10000) return (int)v;
#if defined(HAVE_ISATTY) && defined(TIOCGWINSZ)
    {
        struct winsize ws;
        if (isatty(2) && ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    }
#endif
    return 80;
}

/* the line on screen blanked, the cursor at its start */
static void progress_clear(progress *p) {
    if (p->on && p->drawn) fprintf(stderr, "\r%*s\r", p->drawn, "");
    p->drawn = 0;
}

/* The fields that fit width - 1 columns, most important first: the epoch, the batches, the last
   evaluation, the patience left, ETA, loss, speed; a bar fills what is left. */
enum { PG_EPOCH, PG_BATCH, PG_EVAL, PG_PATIENCE, PG_ETA, PG_LOSS, PG_RATE, PG_N };
static int progress_line(const progress *p, char *line, size_t n, int epoch, int64_t b, int64_t nb, double loss,
                         double rate) {
    static const int shown[PG_N] = {PG_EPOCH, PG_BATCH, PG_LOSS, PG_ETA, PG_RATE, PG_EVAL, PG_PATIENCE}; /* on screen */
    char f[PG_N][96], bar[64];
    int use[PG_N] = {0}, avail = p->width - 1, used = -1, k, w = 0, bw;
    snprintf(f[PG_EPOCH], 96, "%s %d/%d", p->refit ? "refit" : "epoch", epoch, p->cap);
    snprintf(f[PG_BATCH], 96, "batch %lld/%lld", (long long)b, (long long)nb);
    f[PG_EVAL][0] = f[PG_PATIENCE][0] = 0;
    if (p->evaluated && !p->refit)
        snprintf(f[PG_EVAL], 96, "%s %.4f best %.4f@%d", p->metric, p->value, p->best, p->best_epoch);
    if (p->patience > 0 && !p->refit) /* past P, the dip rule (--stop dip) is what keeps the run going */
        snprintf(f[PG_PATIENCE], 96, p->since < p->patience ? "patience %d/%d" : "patience %d/%d, dip rule",
                 p->since < p->patience ? p->patience - p->since : 0, p->patience);
    snprintf(f[PG_ETA], 96, "ETA %.0fs", (double)(nb - b) / (rate + 1e-9));
    snprintf(f[PG_LOSS], 96, "loss %.4f", loss);
    snprintf(f[PG_RATE], 96, "%.1f batch/s", rate);
    for (k = 0; k < PG_N; k++) { /* in order of importance; the epoch always */
        int len = (int)strlen(f[k]);
        if (k == PG_EVAL && len && used + 1 + len > avail) /* the short form: this evaluation alone */
            len = snprintf(f[k], 96, "%s %.4f", strchr(p->metric, ' ') + 1, p->value);
        if (len && (k == PG_EPOCH || used + 1 + len <= avail)) use[k] = 1, used += 1 + len;
    }
    /* a bar in place of the word "batch" (6 columns) when 8 cells or more are left for it */
    bw = avail - used + 6 - 3 < 30 ? avail - used + 6 - 3 : 30;
    if (use[PG_BATCH] && bw >= 8) {
        int fill = (int)(bw * b / (nb > 0 ? nb : 1));
        for (k = 0; k < bw; k++) bar[k] = k < fill ? '#' : '.';
        bar[bw] = 0;
        snprintf(f[PG_BATCH], 96, "[%s] %lld/%lld", bar, (long long)b, (long long)nb);
    }
    line[0] = 0;
    for (k = 0; k < PG_N; k++)
        if (use[shown[k]] && w < (int)n) w += snprintf(line + w, n - (size_t)w, "%s%s", w ? " " : "", f[shown[k]]);
    if (w > avail) w = avail > 0 ? avail : 0; /* a terminal too narrow for the epoch alone */
    line[w] = 0;
    return w;
}

static int on_batch(void *user, int epoch, int64_t b, int64_t nb, double loss) {
    progress *p = (progress *)user; /* the first member of train_ctx */
    double now = cr__now();
    char line[512];
    int w;
    if (b == 1) {
        p->t0 = p->last = now;
        if (epoch < p->epoch) { /* a refit starts over: as many epochs as the selection chose */
            p->refit = 1;
            p->cap = p->best_epoch;
        }
        p->epoch = epoch;
    }
    if (!p->on || (now - p->last < 0.2 && b < nb)) return 0;
    p->last = now;
    w = progress_line(p, line, sizeof line, epoch, b, nb, loss, (double)b / (now - p->t0 + 1e-9));
    fprintf(stderr, "\r%s%*s", line, p->drawn > w ? p->drawn - w : 0, ""); /* over the last line, whole */
    p->drawn = p->drawn > w ? p->drawn : w;
    if (b == nb) fputc('\r', stderr);
    fflush(stderr);
    return 0;
}

/* what the bar says of the evaluations: the last, the best, the patience left */
static void progress_epoch(progress *p, const opts *o, const char *set, const cr_fit_info *e) {
    int i = e->sel.n_k - 1, k = o->fit.metric_k;
    const cr_metrics *m = &e->sel;
    p->refit = e->phase == CR_FIT_REFIT;
    p->cap = e->max_epochs;
    p->best_epoch = e->best_epoch;
    if (!e->evaluated) return;
    while (k && i > 0 && m->k[i] != k) i--;
    p->evaluated = 1;
    switch (o->fit.metric) {
    case CR_METRIC_RECALL: p->value = m->recall[i]; break;
    case CR_METRIC_HIT: p->value = m->hit[i]; break;
    case CR_METRIC_MRR: p->value = m->mrr[i]; break;
    case CR_METRIC_PRECISION: p->value = m->precision[i]; break;
    default: p->value = m->ndcg[i];
    }
    p->best = e->best_value;
    p->since = e->since_best;
    snprintf(p->metric, sizeof p->metric, "%s %s@%d", set, cr_metric_name(o->fit.metric), m->k[i]);
}

/* JSON lines go to stdout (--json) and, with train --report, to the run's log as well */
static int json_stdout;
static cr_out *json_log;

static void jprintf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static void jprintf(const char *fmt, ...) {
    va_list ap;
    if (json_stdout) {
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
    }
    if (json_log) {
        va_start(ap, fmt);
        vfprintf(json_log->f, fmt, ap);
        va_end(ap);
    }
}

static void json_array(const char *name, const double *v, int n) {
    int i;
    jprintf(",\"%s\":[", name);
    for (i = 0; i < n; i++) jprintf("%s%.6f", i ? "," : "", v[i]);
    jprintf("]");
}

static void json_metrics(const char *prefix, const cr_metrics *m) {
    int i;
    for (i = 0; i < m->n_k; i++)
        jprintf(",\"%srecall@%d\":%.6f,\"%sndcg@%d\":%.6f,\"%sprecision@%d\":%.6f,\"%shit@%d\":%.6f,\"%smrr@%d\":%.6f",
               prefix, m->k[i], m->recall[i], prefix, m->k[i], m->ndcg[i], prefix, m->k[i], m->precision[i], prefix,
               m->k[i], m->hit[i], prefix, m->k[i], m->mrr[i]);
    if (m->auc >= 0) jprintf(",\"%sauc\":%.6f", prefix, m->auc);
    for (i = 0; i < m->n_k; i++)
        jprintf(",\"%spop_recall@%d\":%.6f,\"%spop_ndcg@%d\":%.6f", prefix, m->k[i], m->pop_recall[i], prefix, m->k[i],
                m->pop_ndcg[i]);
}

static void json_beyond(const char *prefix, const cr_metrics *m) {
    jprintf(",\"%scoverage\":%.6f,\"%sgini\":%.6f,\"%snovelty\":%.6f,\"%stail_recall\":%.6f", prefix, m->coverage,
            prefix, m->gini, prefix, m->novelty, prefix, m->tail_recall);
    jprintf(",\"%salignment\":%.6f,\"%suniformity_users\":%.6f,\"%suniformity_items\":%.6f", prefix, m->alignment,
            prefix, m->uniformity_users, prefix, m->uniformity_items);
    {
        char name[64];
        snprintf(name, sizeof name, "%sitem_group_recall_share", prefix);
        json_array(name, m->groups.item_contrib, CR_GROUPS);
        snprintf(name, sizeof name, "%sitem_group_recall", prefix);
        json_array(name, m->groups.item_recall, CR_GROUPS);
        snprintf(name, sizeof name, "%sitem_group_exposure", prefix);
        json_array(name, m->groups.item_exposure, CR_GROUPS);
        snprintf(name, sizeof name, "%suser_group_recall", prefix);
        json_array(name, m->groups.user_recall, CR_GROUPS);
        snprintf(name, sizeof name, "%suser_group_ndcg", prefix);
        json_array(name, m->groups.user_ndcg, CR_GROUPS);
        snprintf(name, sizeof name, "%sngcf_group_recall", prefix);
        json_array(name, m->groups.ngcf_recall, 4);
    }
    {
        const cr_beyond *b = &m->beyond;
        jprintf(
            ",\"%sitem_coverage\":%.6f,\"%saverage_popularity\":%.6f,\"%sgini_index\":%.6f,\"%sshannon_entropy\":%.6f"
            ",\"%stail_percentage\":%.6f",
            prefix, b->item_coverage, prefix, b->average_popularity, prefix, b->gini_index, prefix, b->shannon_entropy,
            prefix, b->tail_percentage);
        jprintf(",\"%scatalog_coverage\":%.6f,\"%sdistributional_coverage\":%.6f,\"%sms_novelty\":%.6f,\"%sild_"
                "cosine\":%.6f",
                prefix, b->catalog_coverage, prefix, b->distributional_coverage, prefix, b->novelty, prefix,
                b->ild_cosine);
        if (b->diversity >= 0) jprintf(",\"%sdiversity\":%.6f", prefix, b->diversity);
        if (b->serendipity >= 0) jprintf(",\"%sserendipity\":%.6f", prefix, b->serendipity);
    }
}

/* one row of numbers, %.4f each (or '-' for -1) */
static void print_row(const char *label, const double *v, int n) {
    int i;
    printf("  %-28s", label);
    for (i = 0; i < n; i++) {
        if (v[i] < 0) printf(" %7s", "-");
        else printf(" %7.4f", v[i]);
    }
    printf("\n");
}

static void print_groups(const cr_groups *G, int k) {
    char label[64];
    int g;
    printf("  groups at K = %d (group 0: the least popular items / the sparsest users):\n  %-28s", k,
           "items per item group");
    for (g = 0; g < CR_GROUPS; g++) printf(" %7d", G->item_count[g]);
    printf("\n");
    print_row("share of Recall", G->item_contrib, CR_GROUPS);
    print_row("Recall within the group", G->item_recall, CR_GROUPS);
    print_row("share of recommendations", G->item_exposure, CR_GROUPS);
    snprintf(label, sizeof label, "Recall of user groups");
    print_row(label, G->user_recall, CR_GROUPS);
    print_row("NDCG of user groups", G->user_ndcg, CR_GROUPS);
    printf("  NGCF sparsity groups (<= %d, %d, %d, %d interactions): recall %.4f %.4f %.4f %.4f\n",
           G->ngcf_max_degree[0], G->ngcf_max_degree[1], G->ngcf_max_degree[2], G->ngcf_max_degree[3],
           G->ngcf_recall[0], G->ngcf_recall[1], G->ngcf_recall[2], G->ngcf_recall[3]);
}

static void print_final(const cr_metrics *m) {
    int i;
    for (i = 0; i < m->n_k; i++)
        printf("  @%-3d recall %.4f  ndcg %.4f  precision %.4f  hit %.4f (of interactions %.4f)  mrr %.4f\n", m->k[i],
               m->recall[i], m->ndcg[i], m->precision[i], m->hit[i], m->hit_inter[i], m->mrr[i]);
    if (m->auc >= 0) printf("  auc %.4f\n", m->auc);
    for (i = 0; i < m->n_k; i++)
        printf("  popularity ranking @%-3d recall %.4f  ndcg %.4f%s\n", m->k[i], m->pop_recall[i], m->pop_ndcg[i],
               i == m->n_k - 1 && m->recall[i] < m->pop_recall[i] ? "  (the model is below it)" : "");
    printf("  coverage %.4f  gini %.4f  novelty %.2f  tail recall %.4f", m->coverage, m->gini, m->novelty,
           m->tail_recall);
    if (m->cold_recall >= 0) printf("  cold-user recall %.4f (%lld users)", m->cold_recall, (long long)m->cold_users);
    printf("\n  alignment %.4f  uniformity: users %.4f, items %.4f", m->alignment, m->uniformity_users,
           m->uniformity_items);
    printf("\n  RecBole: item coverage %.4f  average popularity %.2f  gini index %.4f  shannon entropy %.6f  tail %.4f",
           m->beyond.item_coverage, m->beyond.average_popularity, m->beyond.gini_index, m->beyond.shannon_entropy,
           m->beyond.tail_percentage);
    printf("\n  Microsoft Recommenders: catalog coverage %.4f  distributional coverage %.2f bits  novelty %.2f",
           m->beyond.catalog_coverage, m->beyond.distributional_coverage, m->beyond.novelty);
    if (m->beyond.diversity >= 0)
        printf("  diversity %.4f  serendipity %.4f", m->beyond.diversity, m->beyond.serendipity);
    printf("\n  intra-list diversity on the item vectors (1 - mean cosine) %.4f", m->beyond.ild_cosine);
    printf("\n  %lld users, %lld test interactions\n", (long long)m->users, (long long)m->test_interactions);
    print_groups(&m->groups, m->k[m->n_k - 1]);
}

/* --format auto for a sequence model: the file's layout decides, and item lists are sequences
   (read as seq), not LightGCN lists. A file that cannot be read here is left to the loader. */
/* 1 when path names a regular file (where stat is unknown: when it is not NULL) */
static int is_regular(const char *path) {
#ifdef HAVE_ISATTY
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
#else
    return path != NULL;
#endif
}

/* 1 when path is a regular file that begins as a dataset file (cr_dataset_save); a pipe is not
   read here (its bytes would be gone for the loader) */
static int is_dataset_file(const char *path) {
    char b[4];
    FILE *f;
    int yes;
    if (!is_regular(path) || !(f = fopen(path, "rb"))) return 0;
    yes = fread(b, 1, 4, f) == 4 && !memcmp(b, "CRDS", 4);
    fclose(f);
    return yes;
}

static void auto_seq_format(opts *o, const char *path) {
    static char head[1 << 20]; /* the detection reads the first 1,000 lines at most */
    size_t n;
    cr_format f;
    FILE *fp;
    /* a pipe is not peeked at: its bytes would be gone for the loader (--format seq then) */
    if (o->lo.format != CR_FORMAT_AUTO || !is_regular(path) || is_dataset_file(path) || !(fp = fopen(path, "rb")))
        return;
    n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    if (n == sizeof head)
        while (n > 0 && head[n - 1] != '\n') n--; /* whole lines only */
    if (cr_detect_format(head, n, path, &f) == CR_OK && f == CR_FORMAT_LIGHTGCN) o->lo.format = CR_FORMAT_SEQ;
}

static void report_load(const char *what, const cr_load_report *r) {
    fprintf(stderr, "%s: %lld records from %lld lines (%s%s)", what, (long long)r->records, (long long)r->lines,
            cr_format_name(r->format), r->detected ? ", found from the file" : "");
    if (r->duplicates) fprintf(stderr, ", %lld duplicates merged", (long long)r->duplicates);
    if (r->bad_lines)
        fprintf(stderr, ", %lld malformed lines skipped (first: line %lld: %s)", (long long)r->bad_lines,
                (long long)r->first_bad_line, r->first_bad);
    if (r->below_rating) fprintf(stderr, ", %lld below --min-rating", (long long)r->below_rating);
    if (r->unknown_user || r->unknown_item)
        fprintf(stderr, ", %lld with users and %lld with items unknown to training (not evaluated)",
                (long long)r->unknown_user, (long long)r->unknown_item);
    fprintf(stderr, "\n");
}

/* Every output of train is checked before any work (--resume: an existing F is kept). */
static void check_train_outputs(const opts *o) {
    static const char *const npy[] = {"user_emb.npy", "item_emb.npy", "user_ids.npy", "item_ids.npy"};
    static const char *const report[] = {"run.json", "map.svg", "report.html"};
    if (o->save) check_out("--save", o->save, 0);
    if (o->npy) check_out_in("--export-npy", o->npy, npy, 4);
    if (o->per_user) check_out("--per-user", o->per_user, 0);
    if (o->per_user_cold) check_out("--per-user-cold", o->per_user_cold, 0);
    if (o->resume) check_out("--resume", o->resume, 0);
    if (o->report) check_out_in("--report", o->report, report, 3);
}

/* What the epoch callback needs. */
typedef struct train_ctx {
    progress pg; /* first: on_batch sees the context as its progress */
    const opts *o;
    const char *set; /* "valid" or "test": the selection set's name in the output */
    int header_done, saved_epoch;
    char save_error[2048]; /* a failed save stops training (cr_fit then frees what it holds) */
    cr_machine mc;        /* --profile: this machine's rates, measured before training */
} train_ctx;

/* --profile: the epoch's phases and its evaluation's, as JSON fields (json) or a table */
static void print_profile(const train_ctx *t, const cr_fit_info *e, int json) {
    cr_phase_cost ph[CR_PHASE_COUNT];
    char tab[2048];
    int k;
    memcpy(ph, e->train.phase, sizeof ph);
    if (e->evaluated) ph[CR_PHASE_EVAL] = e->sel.cost;
    if (json)
        for (k = 0; k < CR_PHASE_COUNT; k++)
            jprintf(",\"%s_s\":%.4f,\"%s_gflop\":%.3f,\"%s_gb\":%.3f", cr_phase_name(k), ph[k].seconds,
                    cr_phase_name(k), ph[k].flops / 1e9, cr_phase_name(k), ph[k].bytes / 1e9);
    else {
        cr_phase_table(tab, sizeof tab, ph, CR_PHASE_COUNT, &t->mc);
        printf("%s", tab);
    }
}

static int on_epoch(void *user, cr_model *m, const cr_fit_info *e) {
    train_ctx *t = (train_ctx *)user;
    const opts *o = t->o;
    int i;
    progress_clear(&t->pg);
    progress_epoch(&t->pg, o, t->set, e);
    if (json_stdout || json_log) {
        jprintf("{\"epoch\":%d,\"phase\":\"%s\",\"loss\":%.6f,\"rec_loss\":%.6f,\"cl_loss\":%.6f,\"train_s\":%.3f,"
                "\"prep_s\":%.3f",
                e->epoch, e->phase == CR_FIT_REFIT ? "refit" : "select", e->train.loss, e->train.rec_loss,
                e->train.cl_loss, e->train.seconds, e->train.prep_seconds);
        if (e->evaluated) {
            char prefix[16];
            snprintf(prefix, sizeof prefix, "%s_", t->set);
            jprintf(",\"eval_s\":%.3f", e->sel.seconds);
            json_metrics(prefix, &e->sel);
        }
        if (e->backed_off)
            jprintf(",\"backoff_lambda\":%g,\"backoff_from_epoch\":%d", (double)e->lambda, e->best_epoch);
        if (cr_mpi_size() > 1 && e->train.batches)
            jprintf(",\"processes\":%d,\"sent_bytes_per_batch\":%.0f,\"comm_s\":%.3f", cr_mpi_size(),
                    e->train.comm_bytes / (double)e->train.batches, e->train.comm_seconds);
        if (o->profile) print_profile(t, e, 1);
        jprintf("}\n");
    }
    if (!o->json && e->evaluated) {
        if (!t->header_done) {
            printf("%5s %9s %8s %7s", "epoch", "loss", "train_s", "eval_s");
            for (i = 0; i < e->sel.n_k; i++) printf("  %s recall@%-3d ndcg@%-3d", t->set, e->sel.k[i], e->sel.k[i]);
            printf("\n");
            t->header_done = 1;
        }
        printf("%5d %9.4f %8.2f %7.2f", e->epoch, e->train.loss, e->train.seconds, e->sel.seconds);
        for (i = 0; i < e->sel.n_k; i++)
            printf("  %*s %9.4f %7.4f", (int)strlen(t->set), "", e->sel.recall[i], e->sel.ndcg[i]);
        printf("%s\n", e->improved ? "  *" : "");
    } else if (!o->json)
        printf("%5d %9.4f %8.2f%s\n", e->epoch, e->train.loss, e->train.seconds,
               e->phase == CR_FIT_REFIT ? "  (refit)" : "");
    if (cr_mpi_size() > 1 && e->train.batches && !o->json)
        printf("      %d processes: %.2f MB sent per batch by each, %.2f s of the epoch in collectives\n",
               cr_mpi_size(), e->train.comm_bytes / (double)e->train.batches / 1e6, e->train.comm_seconds);
    if (o->profile && !o->json) print_profile(t, e, 0);
    if (e->backed_off && !o->json)
        printf("validation fell or stalled while BPR was at chance: contrast weight halved to %g, training goes on"
               " from epoch %d (--backoff off: never)\n", (double)e->lambda, e->best_epoch);
    fflush(stdout);
    /* the best model so far on disk, so an interrupted run still leaves it */
    if (o->save && e->improved && e->phase == CR_FIT_SELECT) {
        if (cr_model_save(m, o->save) != CR_OK) {
            snprintf(t->save_error, sizeof t->save_error, "%s", cr_last_error());
            return 1;
        }
        t->saved_epoch = e->epoch;
    }
    return 0;
}

/* The dataset of the train command: files, or the built-in synthetic data; a test set held out
   when no --test file is given. */
static void train_data(opts *o, cr_dataset *ds, int seq) {
    cr_config *c = &o->cfg;
    if (!o->train) {
        if (cr_dataset_synthetic(ds, NULL, seq ? 1 : 0, 0.2) != CR_OK) die("building the synthetic dataset");
        fprintf(stderr, "synthetic dataset (%s split)\n", seq ? "leave-last-out" : "80/20 per user");
        /* 47k training pairs make only 24 batches of the papers' 2048 per epoch: too few steps
           to get past the popularity ranking the first epochs give */
        if (!seq && !c->batch) {
            c->batch = 256;
            fprintf(stderr, "batch 256 for the small built-in dataset (set --batch to change)\n");
        }
        return;
    }
    if (cr_dataset_load(ds, o->train, o->test, &o->lo) != CR_OK) die("loading data");
    if (ds->train_report.lines == 0) /* a dataset file */
        fprintf(stderr, "%s: a dataset file of %lld training, %lld validation and %lld test records%s\n", o->train,
                (long long)ds->train.n, (long long)ds->valid.n, (long long)ds->test.n,
                ds->features.x.nrows ? ", with item features" : "");
    else report_load(o->train, &ds->train_report);
    if (o->test) report_load(o->test, &ds->test_report);
    if (ds->test_overlap)
        fprintf(stderr, "%s: %lld test records are also training records (dropped: they can never be hit)\n", o->test,
                (long long)ds->test_overlap);
    if (o->item_features && ds->features.x.nrows)
        die_usage("%s holds its item features: --item-features does not go with it%s", o->train, "");
    if (o->item_features) {
        if (cr_load_item_features(&ds->features, &ds->items, o->item_features) != CR_OK) die("loading item features");
        fprintf(stderr, "%s: %lld of %d items have features (%d distinct)", o->item_features,
                (long long)ds->features.items_with, ds->n_items, ds->features.feats.n);
        if (ds->features.unknown_items)
            fprintf(stderr, "; %lld lines name items the data does not have (skipped; first: line %lld)",
                    (long long)ds->features.unknown_items, (long long)ds->features.first_unknown_line);
        fprintf(stderr, "\n");
    }
    if (o->split[0] > 0) { /* one file into train / valid / test */
        if (cr_dataset_split_ratio(ds, o->split[0], o->split[1], o->split[2],
                                   o->data_seed ? o->data_seed
                                   : c->seed    ? c->seed
                                                : 2024) != CR_OK)
            die("splitting the data");
        fprintf(stderr, "--split: %lld training, %lld validation, %lld test interactions (per user, RecBole's rule)\n",
                (long long)ds->train.n, (long long)ds->valid.n, (long long)ds->test.n);
    } else if (!o->test && !ds->test.n) { /* hold out a test set: the last item of each sequence, or 20% per user */
        if (cr_dataset_carve_test(ds, 0.2, seq, o->data_seed ? o->data_seed : c->seed ? c->seed : 2024) != CR_OK)
            die("splitting off a test set");
        fprintf(stderr, "no --test: held out %s as the test set\n",
                seq ? "each user's last item" : "20% of each user's interactions");
    }
}

static int write_report(const char *const *files, int nf, const char *out, const char *title, const char *extra_svg);
static int write_map(cr_model *m, int users, int sample, uint64_t seed, const cr_tsne_opts *to, const char *out,
                     const char *title);

/* --aug: sequence augmentations or SGL's view */
static void apply_aug(opts *o, int seq) {
    if (o->aug && cr_config_set(&o->cfg, seq ? "seq_aug" : "aug", o->aug) != CR_OK)
        die_usage("--aug: %s%s", cr_last_error(), "");
}

/* An evaluation's per-user rows (cr_eval_opts.per_user) as 'compare' reads them, raw user ids. */
static void write_per_user(const char *path, const double *pu, const cr_metrics *mt, const cr_dataset *ds) {
    cr_out *po = out_open(path);
    int64_t r;
    int k = mt->n_k ? mt->k[mt->n_k - 1] : 0;
    fprintf(po->f, "user\thistory\trecall@%d\tndcg@%d\ttail_recall@%d\tild@%d\n", k, k, k, k);
    for (r = 0; r < mt->users; r++) {
        const double *q = pu + r * CR_PER_USER;
        fprintf(po->f, "%lld\t%.0f\t%.6f\t%.6f\t%.6f\t%.6f\n", (long long)ds->users.raw[(int32_t)q[0]], q[1], q[2],
                q[3], q[4], q[5]);
    }
    if (out_commit(po) != 0) exit(1);
}

/* --dry-run: the memory plan on stdout (with --mem-limit, whether it fits), nothing trained */
static int dry_run(const cr_config *c, const cr_dataset *ds, const cr_fit_opts *f) {
    cr_mem_plan p;
    char text[2048];
    if (cr_memory_plan(&p, c, ds, f) != CR_OK) die("memory plan");
    cr_memory_plan_format(&p, text, sizeof text);
    printf("memory plan (%d thread%s):\n%s", cr_get_num_threads(), cr_get_num_threads() == 1 ? "" : "s", text);
    if (f->mem_limit <= 0) return 0;
    printf("  %-48s %7.1f MB: %s\n", "--mem-limit", (double)f->mem_limit / 1e6,
           p.peak <= f->mem_limit ? "fits" : "does not fit");
    if (p.peak <= f->mem_limit) return 0;
    fprintf(stderr, "contrarec: the planned peak, %.1f MB, is above --mem-limit (%.1f MB)\n", (double)p.peak / 1e6,
            (double)f->mem_limit / 1e6);
    return 1;
}

/* train's options that go together, or not: usage errors before any work. */
static void train_check_options(opts *o, int seq, int crd) {
    cr_config *c = &o->cfg;
    cr_fit_opts *f = &o->fit;
    if (o->load || o->has_user || o->items || o->history)
        die_usage("train does not take --load, --user, --items or --history%s%s", "", "");
    if (o->test && !o->train) die_usage("--test needs --train%s%s", "", "");
    if (o->split[0] > 0 && (o->test || !o->train))
        die_usage("--split takes one interaction file: --train, without --test%s%s", "", "");
    if (o->split[0] > 0 && seq)
        die_usage("--split shuffles each user's records: not for sequence models (%s)%s", cr_model_name(c->model), "");
    if (o->split[0] > 0 && f->select == CR_SELECT_VALID && f->valid_ratio)
        die_usage("--split gives the validation set; --valid does not go with it%s%s", "", "");
    if (o->format_set && !o->train) die_usage("--format needs --train%s%s", "", "");
    if (f->refit && f->select != CR_SELECT_VALID)
        die_usage("--refit follows a selection on validation; it does not go with --select %s%s",
                  cr_select_name(f->select), "");
    if (f->select == CR_SELECT_LAST && !f->epochs) die_usage("--select last needs --epochs%s%s", "", "");
    if (f->cold_warm && f->cold_users == 0) die_usage("--cold-warm needs --cold-users%s%s", "", "");
    if (o->data_seed && o->split[0] == 0 && f->cold_users == 0 && f->cold_items == 0 && (o->test || !o->train))
        die_usage("--data-seed draws --split's parts, the test set held out without --test, --cold-users' users or "
                  "--cold-items' items: it needs one%s%s",
                  "", "");
    if (f->cold_users > 0 || f->cold_items > 0) f->holdout_seed = o->data_seed;
    if (o->per_user_cold && f->cold_users == 0) die_usage("--per-user-cold needs --cold-users%s%s", "", "");
    if (f->cold_users > 0 && f->train_noise > 0) die_usage("--cold-users does not go with --train-noise%s%s", "", "");
    if (f->cold_items > 0 && (f->cold_users > 0 || f->train_noise > 0 || f->refit))
        die_usage("--cold-items goes with neither --cold-users, --train-noise nor --refit%s%s", "", "");
    if (crd && o->format_set) die_usage("--format: %s is a dataset file, its records already read%s", o->train, "");
    if ((c->item_repr > CR_REPR_ID || c->attr_w > 0 || c->fm_w > 0) && !o->item_features && !crd)
        die_usage("--item-repr, --attr-w and --fm-w need --item-features%s%s", "", "");
    if (o->item_features && !o->train) die_usage("--item-features needs --train%s%s", "", "");
    if (o->item_features && !c->item_repr && !(c->attr_w > 0) &&
        !(c->fm_w > 0)) { /* given features are used, not dropped */
        c->item_repr = CR_REPR_ID_FEATURES;
        fprintf(stderr, "note: --item-features without --item-repr: items read as id+features (--item-repr id leaves "
                        "the features out)\n");
    }
}

/* The progress bar and the callbacks of a training run. */
static void train_progress(opts *o, train_ctx *t) {
    cr_fit_opts *f = &o->fit;
    memset(t, 0, sizeof *t);
    t->o = o;
    t->set = f->select == CR_SELECT_TEST ? "test" : "valid";
#ifdef HAVE_ISATTY
    t->pg.on = isatty(2);
#endif
    if (o->progress) t->pg.on = o->progress > 0;
    t->pg.width = term_width();
    t->pg.cap = f->epochs ? f->epochs : f->max_epochs ? f->max_epochs : 1000; /* cr_fit's defaults */
    t->pg.patience = f->select == CR_SELECT_LAST || f->patience < 0 ? 0
                     : f->patience                                 ? f->patience
                     : f->epochs                                   ? 0
                                                                   : 10;
    f->on_epoch = on_epoch;
    f->on_batch = on_batch;
    f->user = t;
    if (o->profile && !o->dry_run) {
        if (cr_machine_measure(&t->mc) != CR_OK) die("measuring the machine for --profile");
        fprintf(
            stderr,
            "machine (%d threads): cr_sgemm %.1f GFLOP/s (1024^3), bandwidth %.1f GB/s in cache (2 x 16 MB), %.1f GB/s "
            "from memory (2 x 256 MB); a phase's floor: max(GFLOP / GEMM rate, GB / cache bandwidth)\n",
            t->mc.threads, t->mc.gemm_gflops, t->mc.cache_gbs, t->mc.dram_gbs);
    }
}

/* What is about to train: the data, the configuration line (which reads back as options), the
   selection protocol. */
static void train_announce(const opts *o, const cr_dataset *ds, int seq) {
    const cr_config *c = &o->cfg;
    const cr_fit_opts *f = &o->fit;
    cr_config rc;
    rc = *c;
    cr_config_resolve(&rc); /* checked above; again for the synthetic data's batch */
    {
        char cfgline[2048];
        cr_config_format(&rc, cfgline, sizeof cfgline);
        int nt = cr_get_num_threads();
        fprintf(stderr, "%d users, %d items, %lld training, %lld test interactions; %d thread%s\nconfig: %s\n",
                ds->n_users, ds->n_items, (long long)ds->train.n, (long long)ds->test.n, nt, nt == 1 ? "" : "s",
                cfgline);
        if (rc.lr_rule == CR_LR_SQRT)
            fprintf(stderr, "Adam's step: lr %g at batch %d (lr_rule sqrt: lr * sqrt(batch / %g))\n", cr_config_lr(&rc),
                    rc.batch, cr_option_default(cr_option_find("batch"), rc.model));
        if (rc.model == CR_MODEL_RECDCL && rc.dim < 2048)
            fprintf(stderr,
                    "note: RecDCL at d = %d; its authors use d = 2048 (--dim 2048), and their own figure puts it below "
                    "LightGCN at small d\n",
                    rc.dim);
    }
    if (f->select == CR_SELECT_VALID)
        fprintf(stderr, "selection: on a validation split (%s), %s; the test set is read once, at the selected model\n",
                o->split[0] > 0  ? "--split's validation part"
                : seq            ? "each user's last training item"
                : f->valid_ratio ? "the --valid share of each user's training interactions"
                                 : "10% of each user's training interactions",
                f->epochs ? "up to --epochs" : "until validation stops improving");
    else if (f->select == CR_SELECT_TEST)
        fprintf(stderr, "selection: ON THE TEST SET (--select test, as SELFRec and LightGCN's code do): the test "
                        "metrics are optimistic\n");
}

/* The selection metric's name, as cr_fit read it ("ndcg@20", "none"). */
static void selection_name(const opts *o, const cr_fit_result *r, char *sel_name, size_t n) {
    const cr_fit_opts *f = &o->fit;
    if (r->selected_on == CR_SELECT_LAST) snprintf(sel_name, n, "none");
    else if (r->selected_on == CR_SELECT_TEST) /* the metric at the largest cut-off, as cr_fit reads it */
        snprintf(sel_name, n, "%s@%d", cr_metric_name(f->metric),
                 f->metric_k ? f->metric_k : r->test.n_k ? r->test.k[r->test.n_k - 1] : 0);
    else
        snprintf(sel_name, n, "%s@%d", cr_metric_name(f->metric),
                 f->metric_k ? f->metric_k : r->valid.n_k ? r->valid.k[r->valid.n_k - 1] : 0);
}

/* The run's final JSON line (stdout with --json, and the report's log). */
static void train_json(const opts *o, const cr_fit_result *r, const char *sel_name, int masked) {
    const cr_metrics *other = r->test_other.users ? &r->test_other : NULL;
    const cr_config *c = &o->cfg;
    const cr_fit_opts *f = &o->fit;
    if (!json_stdout && !json_log) return;
    jprintf("{\"best_epoch\":%d,\"selected_on\":\"%s\",\"selection_metric\":\"%s\",\"refit\":%s,\"epochs_run\":"
            "%d,\"stopped_early\":%s,"
            "\"train_interactions\":%lld,\"noise_interactions\":%lld,\"valid_interactions\":%lld,\"train_s\":%."
            "3f,\"eval_s\":%.3f",
            r->best_epoch, cr_select_name(r->selected_on), sel_name, r->refit ? "true" : "false",
            r->epochs_run, r->stopped_early == 1 ? "true" : "false", (long long)r->n_train,
            (long long)r->n_noise, (long long)r->n_valid, r->train_seconds, r->eval_seconds);
    jprintf(",\"model\":\"%s\"", cr_model_name(c->model));
    if (r->backoffs) jprintf(",\"backoffs\":%d,\"lambda\":%g", r->backoffs, (double)r->lambda);
    if (r->resumed_epoch)
        jprintf(",\"resumed_after\":%d,\"resumed_phase\":\"%s\"", r->resumed_epoch,
                r->resumed_phase == CR_FIT_REFIT ? "refit" : "select");
    if (r->selected_on == CR_SELECT_TEST)
        jprintf(",\"note\":\"selected on the test set: test metrics are optimistic\"");
    if (r->selected_on == CR_SELECT_VALID) json_metrics("valid_", &r->valid);
    if (r->test.users) {
        jprintf(",\"history\":\"%s\"", masked ? "masked" : "kept");
        json_metrics("test_", &r->test);
        json_beyond("test_", &r->test);
        if (other) json_metrics(masked ? "test_kept_" : "test_masked_", other);
    }
    if (r->cold.users) {
        jprintf(",\"cold_users\":%lld,\"cold_mode\":\"%s\"", (long long)r->n_cold_users,
                f->cold_warm ? "warm" : "fold-in");
        json_metrics("cold_", &r->cold);
    }
    if (r->n_cold_items) {
        jprintf(",\"cold_items\":%lld", (long long)r->n_cold_items);
        if (r->test_warm.users) {
            json_metrics("test_warm_", &r->test_warm);
            json_beyond("test_warm_", &r->test_warm);
        }
        if (r->test_cold.users) json_metrics("test_cold_", &r->test_cold);
    }
    jprintf("}\n");
}

/* The run's summary on stdout (without --json): the selection, the protocols, the test. */
static void train_print(const opts *o, const cr_fit_result *r, const char *sel_name, int masked, int seq) {
    const cr_metrics *other = r->test_other.users ? &r->test_other : NULL;
    const cr_fit_opts *f = &o->fit;
if (o->json) return;
    if (r->selected_on == CR_SELECT_LAST) printf("model after %d epochs (no selection)\n", r->best_epoch);
    else
        printf("selected epoch %d on %s %s = %.4f%s%s\n", r->best_epoch,
               r->selected_on == CR_SELECT_TEST ? "TEST" : "validation", sel_name, r->best_value,
               r->stopped_early == 1 ? " (stopped: no improvement)" : "",
               r->selected_on == CR_SELECT_TEST
                   ? "  [selected on the test set: optimistic, for paper reproduction only]"
                   : "");
    if (r->resumed_epoch)
        printf("resumed from %s after epoch %d of the %s\n", o->resume, r->resumed_epoch,
               r->resumed_phase == CR_FIT_REFIT ? "refit" : "selection");
    if (r->backoffs)
        printf("contrast backed off %d time%s: the selected epoch trained with lambda %g\n",
               r->backoffs, r->backoffs > 1 ? "s" : "", (double)r->lambda);
    if (r->refit)
        printf("retrained on train + validation (%lld interactions) for %d epochs\n", (long long)r->n_train,
               r->best_epoch);
    if (r->n_noise) printf("trained with %lld random pairs added (--train-noise)\n", (long long)r->n_noise);
    if (r->test.users) {
        printf("test (read once, at the returned model; %s%s):\n",
               seq ? (masked ? "history items masked" : "history items not masked") : "known items masked",
               r->cold.users ? "; the users not held out" : "");
        print_final(&r->test);
        if (other) {
            int i;
            printf("test with history items %s:\n", masked ? "not masked" : "masked");
            for (i = 0; i < other->n_k; i++)
                printf("  @%-3d recall %.4f  ndcg %.4f  hit %.4f  mrr %.4f\n", other->k[i], other->recall[i],
                       other->ndcg[i], other->hit[i], other->mrr[i]);
        }
    }
    if (r->cold.users) {
        int i;
        printf("the %lld held-out users (--cold-users), %s, on their test items:\n",
               (long long)r->n_cold_users,
               f->cold_warm ? "trained on as usual (--cold-warm: their warm score)"
                            : "never trained on, folded in from their training items");
        for (i = 0; i < r->cold.n_k; i++)
            printf("  @%-3d recall %.4f  ndcg %.4f   (popularity: recall %.4f  ndcg %.4f)\n", r->cold.k[i],
                   r->cold.recall[i], r->cold.ndcg[i], r->cold.pop_recall[i], r->cold.pop_ndcg[i]);
    }
    if (r->n_cold_items) {
        const cr_metrics *part[2];
        const char *name[2] = {"among the trained items", "among the test's held-out items"};
        int i, q;
        part[0] = &r->test_warm;
        part[1] = &r->test_cold;
        printf("%lld items held out of training (--cold-items); the test set ranked\n",
               (long long)r->n_cold_items);
        for (q = 0; q < 2; q++) {
            printf("  %s (%lld users):\n", name[q], (long long)part[q]->users);
            for (i = 0; i < part[q]->n_k; i++)
                printf("    @%-3d recall %.4f  ndcg %.4f   (popularity: recall %.4f  ndcg %.4f)\n",
                       part[q]->k[i], part[q]->recall[i], part[q]->ndcg[i], part[q]->pop_recall[i],
                       part[q]->pop_ndcg[i]);
        }
    }
    printf("training %.1f s, evaluation %.1f s\n", r->train_seconds, r->eval_seconds);
    if (o->save) printf("saved %s\n", o->save);
    if (o->npy) printf("exported %s/{user,item}_emb.npy and {user,item}_ids.npy\n", o->npy);
}

/* --report DIR: the run's log, the map of its item vectors, the page. */
static int train_report(const opts *o, cr_model *m) {
    const cr_config *c = &o->cfg;
    char *runp, *mapp, *page, title[512];
    const char *files[1];
    cr_tsne_opts to;
    int mapped, rc = 0;
    cr_out *log = json_log;
    if (!log) return 0;
    runp = path_in(o->report, "run.json");
    mapp = path_in(o->report, "map.svg");
    page = path_in(o->report, "report.html");
    json_log = NULL;
    if (out_commit(log) != 0) exit(1);
    if (cr_mpi_rank() != 0) { /* process 0 writes the map and the page, reading run.json back */
        release(runp), release(mapp), release(page);
        return 0;
    }
    snprintf(title, sizeof title, "contrarec: %s on %s", cr_model_name(c->model),
             o->train ? o->train : "the built-in synthetic data");
    memset(&to, 0, sizeof to);
    mapped = cr_model_num_items(m) > 3 * 30;
    if (mapped && write_map(m, 0, 2000, 501, &to, mapp, NULL) != 0) rc = 1;
    files[0] = runp;
    if (rc == 0 && write_report(files, 1, page, title, mapped ? mapp : NULL) != 0) rc = 1;
    if (rc == 0 && !o->json) printf("report: %s%s\n", page, mapped ? "" : " (no map: fewer than 91 items)");
    release(runp);
    release(mapp);
    release(page);
    return rc;
}

static int cmd_train(opts *o) {
    cr_dataset *ds;
    cr_model *m;
    cr_status st;
    cr_fit_result res;
    train_ctx t;
    cr_config *c = &o->cfg, rc;
    cr_fit_opts *f = &o->fit;
    int seq, masked, crd, report_rc;
    char sel_name[64];
    double *pu = NULL, *puc = NULL;
    if (!c->model) die_usage("train needs --model%s%s", "", "");
    seq = cr_model_is_sequential(c->model);
    apply_aug(o, seq);
    crd = is_dataset_file(o->train);
    train_check_options(o, seq, crd);
    rc = *c; /* every option is checked before any work */
    if (cr_config_resolve(&rc) != CR_OK) { fprintf(stderr, "contrarec: %s\n", cr_last_error()); return 2; }
    check_train_outputs(o);
    if (o->report) { /* the run's log, renamed into place when training is done */
        char *runp = path_in(o->report, "run.json");
        json_log = out_open(runp);
        release(runp);
    }
    json_stdout = o->json;
    if (seq) auto_seq_format(o, o->train);
    ds = (cr_dataset *)new_owned(sizeof(cr_dataset), free_dataset);
    train_data(o, ds, seq);
    if (crd) { /* a dataset file's item features, read with it: checked and used as --item-features's */
        if ((c->item_repr > CR_REPR_ID || c->attr_w > 0 || c->fm_w > 0) && !ds->features.x.nrows)
            die_usage("--item-repr, --attr-w and --fm-w need item features: %s has none%s", o->train, "");
        if (ds->features.x.nrows && !c->item_repr && !(c->attr_w > 0) && !(c->fm_w > 0)) {
            c->item_repr = CR_REPR_ID_FEATURES;
            fprintf(stderr, "note: %s has item features: items read as id+features (--item-repr id leaves them out)\n",
                    o->train);
        }
        rc = *c;
        if (cr_config_resolve(&rc) != CR_OK) {
            fprintf(stderr, "contrarec: %s\n", cr_last_error());
            return 2;
        }
    }
    train_progress(o, &t);
    train_announce(o, ds, seq);
    if (o->dry_run) return dry_run(c, ds, f);
    if (o->per_user) pu = (double *)xmalloc(sizeof(double) * CR_PER_USER * (size_t)(ds->n_users > 0 ? ds->n_users : 1));
    if (o->per_user_cold)
        puc = (double *)xmalloc(sizeof(double) * CR_PER_USER * (size_t)(ds->n_users > 0 ? ds->n_users : 1));
    f->per_user_test = pu;
    f->per_user_cold = puc;
    f->state_path = o->resume;
    st = cr_fit(&m, c, ds, f, &res);
    if (st == CR_OK) own_model(m); /* a failed save stopped it: returned all the same */
    if (st != CR_OK || t.save_error[0]) {
        progress_clear(&t.pg);
        if (t.save_error[0]) fprintf(stderr, "contrarec: saving the model: %s\n", t.save_error);
        else fprintf(stderr, "contrarec: training stopped: %s\n", cr_last_error());
        if (!t.save_error[0] && strstr(cr_last_error(), "no validation records")) /* the options that answer it */
            fprintf(stderr, "contrarec: a larger --valid R (the share of each user's records held out), or --select "
                            "last --epochs N\n");
        if (o->save && t.saved_epoch)
            fprintf(stderr, "contrarec: %s holds the best model so far (epoch %d)\n", o->save, t.saved_epoch);
        exit(1);
    }
    masked = f->eval.exclude_seen == 1 || (f->eval.exclude_seen == 0 && !seq);
    selection_name(o, &res, sel_name, sizeof sel_name);
    if (o->save && (res.refit || !t.saved_epoch) && cr_model_save(m, o->save) != CR_OK) die("saving the model");
    if (o->npy && cr_model_export_npy(m, o->npy) != CR_OK) die("exporting embeddings");
    if (pu) write_per_user(o->per_user, pu, &res.test, ds);
    if (puc) write_per_user(o->per_user_cold, puc, &res.cold, ds);
    release(pu);
    release(puc);
    pu = puc = NULL;
    train_json(o, &res, sel_name, masked);
    train_print(o, &res, sel_name, masked, seq);
    report_rc = train_report(o, m);
    release(m);
    release(ds);
    return report_rc;
}

/* ---- tune: the search on validation, then the winner trained as train would ---- */

typedef struct tune_ctx {
    char metric[32];
} tune_ctx;

static int on_trial(void *user, const cr_tune_trial *t, int done, int planned) {
    const tune_ctx *tc = (const tune_ctx *)user;
    printf("trial %3d/%-3d bracket %d rung %d  %-8s %3d epochs  valid %s ", done, planned, t->bracket, t->rung,
           cr_model_name(t->cfg.model), t->epochs, tc->metric);
    if (t->valid < 0)
        printf("diverged");
    else
        printf("%.4f (epoch %d)", t->valid, t->best_epoch);
    printf("  %.1f s%s  %s\n", t->seconds, t->from_state ? " (from the state)" : "",
           t->options[0] ? t->options : "(defaults)");
    fflush(stdout);
    return 0;
}

/* a word of a shell command line, quoted when it needs to be */
static void put_word(char *buf, size_t n, const char *w) {
    size_t o = strlen(buf);
    const char *p;
    int plain = *w != 0;
    for (p = w; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@+", *p)) plain = 0;
    if (plain) {
        snprintf(buf + o, o < n ? n - o : 0, " %s", w);
        return;
    }
    snprintf(buf + o, o < n ? n - o : 0, " '");
    for (p = w; *p; p++) {
        o = strlen(buf);
        snprintf(buf + o, o < n ? n - o : 0, *p == '\'' ? "'\\''" : "%c", *p);
    }
    o = strlen(buf);
    snprintf(buf + o, o < n ? n - o : 0, "'");
}

/* The model option argv[i] sets, whatever its spelling (--name, an alias, name=value; --aug and
   --l2 by the model and the value), and whether it takes the next argument; NULL if none. */
static const cr_option *flag_option(const opts *o, int i, cr_model_kind model, int *takes) {
    const char *a = o->argv[i], *v = i + 1 < o->argc ? o->argv[i + 1] : "", *eq = strchr(a, '=');
    char key[64];
    size_t k;
    *takes = a[0] == '-';
    if (!strcmp(a, "--aug")) return cr_option_find(cr_model_is_sequential(model) ? "seq_aug" : "aug");
    if (!strcmp(a, "--l2")) return cr_option_find(!strcmp(v, "recbole") ? "l2_recbole" : "l2_selfrec");
    if (!strcmp(a, "--proj-head") && strcmp(v, "on") && strcmp(v, "off")) *takes = 0; /* bare: the alias */
    for (k = 0; k < sizeof option_aliases / sizeof option_aliases[0]; k++)
        if (!strcmp(a, option_aliases[k].flag) && (strcmp(a, "--proj-head") || !*takes)) {
            *takes = option_aliases[k].value == NULL;
            return cr_option_find(option_aliases[k].option);
        }
    if (a[0] == '-' && a[1] == '-') return cr_option_find(a + 2);
    *takes = 0;
    if (!eq || (size_t)(eq - a) >= sizeof key) return NULL;
    snprintf(key, sizeof key, "%.*s", (int)(eq - a), a);
    return cr_option_find(key);
}

/* The train command that reproduces the winner: this command's data and fixed options, the
   winner's model and options (later options win), and its epochs. */
static void winner_command(const opts *o, const cr_tune_trial *w, char *buf, size_t n) {
    static const char *const skip[] = {"--models", "--model",      "--space", "--state",    "--budget",
                                       "--trials", "--min-epochs", "--eta",   "--brackets", "--save"};
    char opt[256], *tok, *eq;
    int i, k;
    snprintf(buf, n, "contrarec train");
    put_word(buf, n, "--model");
    put_word(buf, n, cr_model_name(w->cfg.model));
    for (i = 2; i < o->argc; i++) {
        const char *a = o->argv[i];
        int takes = 0;
        const cr_option *row = flag_option(o, i, w->cfg.model, &takes);
        for (k = 0; k < (int)(sizeof skip / sizeof *skip) && strcmp(a, skip[k]); k++) {}
        if (k < (int)(sizeof skip / sizeof *skip) || (row && !cr_option_reads(row, w->cfg.model))) {
            i += k < (int)(sizeof skip / sizeof *skip) || takes; /* tune's own, or another model's option */
            continue;
        }
        put_word(buf, n, a);
        if (row && takes && i + 1 < o->argc) put_word(buf, n, o->argv[++i]);
    }
    snprintf(opt, sizeof opt, "%s", w->options);
    for (tok = strtok(opt, " "); tok; tok = strtok(NULL, " ")) { /* "name=value": --name value */
        char flag[64], *q;
        if (!(eq = strchr(tok, '='))) continue;
        *eq = 0;
        snprintf(flag, sizeof flag, "--%s", !strcmp(tok, "max_len") ? "maxlen" : tok);
        for (q = flag; *q; q++)
            if (*q == '_') *q = '-';
        put_word(buf, n, flag);
        put_word(buf, n, eq + 1);
    }
    snprintf(opt, sizeof opt, "%d", w->epochs);
    put_word(buf, n, "--epochs");
    put_word(buf, n, opt);
}

/* tune's models (--model or --models) and the options it refuses, checked before any work;
   returns how many models. */
static int tune_models(opts *o, cr_model_kind *kinds) {
    cr_fit_opts *f = &o->fit;
    int nk = 0, i;
    if (!!o->models == !!o->cfg.model) die_usage("tune needs --model M or --models M1,M2,...%s%s", "", "");
    if (o->models) {
        char list[512], *tok;
        if (strlen(o->models) >= sizeof list) die_usage("--models: '%s' is too long%s", o->models, "");
        strcpy(list, o->models);
        for (tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            if (nk == 16) die_usage("--models: at most 16 models (%s)%s", o->models, "");
            if (!(kinds[nk++] = cr_model_parse(tok)))
                die_usage("--models: unknown model '%s' (%s)", tok, cr_model_list());
        }
        if (!nk) die_usage("--models: no model in '%s'%s", o->models, "");
        o->cfg.model = kinds[0];
    } else
        kinds[nk++] = o->cfg.model;
    if (f->epochs)
        die_usage("tune sets each trial's epochs: --min-epochs E (5), --eta (3) and --trials (9) give the schedule%s%s",
                  "", "");
    if (f->select != CR_SELECT_VALID)
        die_usage("tune selects on validation only (--select %s)%s", cr_select_name(f->select), "");
    if (o->resume) die_usage("tune resumes with --state FILE (the finished trials)%s%s", "", "");
    if (f->cold_users > 0 || f->cold_items > 0 || f->train_noise > 0 || o->per_user || o->npy || o->report || o->json)
        die_usage("tune does not take --cold-users, --cold-items, --train-noise, --per-user, --export-npy, --report or "
                  "--json "
                  "(train the winner with the printed command)%s%s",
                  "", "");
    if (o->load || o->has_user || o->items || o->history)
        die_usage("tune does not take --load, --user, --items or --history%s%s", "", "");
    apply_aug(o, cr_model_is_sequential(kinds[0]));
    for (i = 0; i < nk; i++) { /* the options and a single model's space, before any work */
        cr_config c = o->cfg;
        int q;
        c.model = kinds[i];
        for (q = 0; nk > 1 && q < cr_option_count(); q++) /* with several models, each takes what it reads */
            if (!cr_option_reads(cr_option_at(q), c.model))
                memset((char *)&c + cr_option_at(q)->offset, 0, cr_option_at(q)->type == CR_OPT_SEED ? 8 : 4);
        if (cr_config_resolve(&c) != CR_OK || (nk == 1 && cr_tune_check_space(kinds[i], &o->cfg, o->space) != CR_OK)) {
            fprintf(stderr, "contrarec: %s\n", cr_last_error());
            exit(2);
        }
    }
    return nk;
}

/* The search's leaderboard and its extent. */
static void print_leaderboard(const cr_tune_result *r, const char *metric) {
    int i;
    printf("\nleaderboard (validation %s; each configuration at its furthest rung, more epochs first):\n", metric);
    printf("%4s  %-8s %6s %5s %9s  %s\n", "rank", "model", "epochs", "best", "valid",
           "options (differing from the defaults)");
    for (i = 0; i < r->n_board; i++) {
        const cr_tune_trial *t = &r->board[i];
        printf("%4d  %-8s %6d %5d %9.4f  %s\n", i + 1, cr_model_name(t->cfg.model), t->epochs, t->best_epoch, t->valid,
               t->options[0] ? t->options : "(defaults)");
    }
    printf("search: %d of %d trials, %.1f s%s\n", r->done, r->planned, r->seconds,
           r->stopped == 1   ? "; stopped by --budget"
           : r->stopped == 2 ? "; stopped"
                              : "");
}

static int cmd_tune(opts *o) {
    cr_model_kind kinds[16];
    int nk = 0, seq, i, rc;
    cr_tune_opts to;
    cr_tune_result res;
    tune_ctx tc;
    cr_dataset *ds;
    cr_fit_opts *f = &o->fit;
    char cmd[4096];
    nk = tune_models(o, kinds);
    seq = cr_model_is_sequential(kinds[0]);
    if (o->state) check_out("--state", o->state, 0);
    if (o->save) check_out("--save", o->save, 0);
    if (seq) auto_seq_format(o, o->train);
    ds = (cr_dataset *)new_owned(sizeof(cr_dataset), free_dataset);
    train_data(o, ds, seq);
    memset(&to, 0, sizeof to);
    to.base = o->cfg;
    to.models = kinds;
    to.n_models = nk;
    to.space = o->space;
    to.trials = o->trials;
    to.min_epochs = o->min_epochs;
    to.eta = o->eta;
    to.brackets = o->brackets;
    to.budget_seconds = o->budget;
    to.fit = *f;
    to.fit.refit = 0; /* for the winner */
    to.state_path = o->state;
    to.on_trial = on_trial;
    to.user = &tc;
    snprintf(tc.metric, sizeof tc.metric, "%s@%d", cr_metric_name(f->metric), f->metric_k ? f->metric_k : 20);
    if (!f->metric_k && f->eval.ks[0]) {
        for (i = 0; i + 1 < CR_MAX_K && f->eval.ks[i + 1]; i++) {}
        snprintf(tc.metric, sizeof tc.metric, "%s@%d", cr_metric_name(f->metric), f->eval.ks[i]);
    }
    fprintf(stderr, "tune: successive halving on validation (the test set is not read until the winner is trained)\n");
    if (cr_tune(ds, &to, &res) != CR_OK) die("tuning");
    release(ds);
    print_leaderboard(&res, tc.metric);
    if (!res.n_board || res.board[0].valid < 0) {
        cr_tune_result_free(&res);
        fprintf(stderr, "contrarec: %s\n",
                res.n_board ? "every trial diverged" : "the budget ran out before the first trial finished");
        return 1;
    }
    winner_command(o, &res.board[0], cmd, sizeof cmd);
    printf("winner: %s %s, %d epochs (validation %s %.4f)\nreproduce: %s\n\n", cr_model_name(res.board[0].cfg.model),
           res.board[0].options[0] ? res.board[0].options : "(defaults)", res.board[0].epochs, tc.metric,
           res.board[0].valid, cmd);
    fflush(stdout);
    o->cfg = res.board[0].cfg;
    f->epochs = res.board[0].epochs;
    cr_tune_result_free(&res);
    o->aug = NULL; /* applied to the base already: the winner's configuration has it if it reads it */
    rc = cmd_train(o); /* the winner, trained as train would: the test set read once, at the end */
    printf("reproduce: %s%s%s\n", cmd, o->save ? " --save " : "", o->save ? o->save : "");
    return rc;
}

static cr_model *load_model(const opts *o) {
    cr_model *m;
    if (!o->load) die_usage("%s needs --load FILE%s", o->cmd, "");
    if (cr_model_load(&m, o->load, NULL) != CR_OK) die("loading the model");
    return own_model(m);
}

/* eval without --train: the records train held out for validation, saved with the model, are
   masked as train's test did; a checkpoint from before they were saved says so. */
static void eval_held_out(const opts *o, const cr_model *m, cr_interactions *held, cr_eval_opts *eo) {
    int recorded = 0;
    if (cr_model_held_out(m, held, &recorded) != CR_OK) die("reading the model's held-out records");
    if (recorded) {
        fprintf(stderr, "known history: the model's training records and the %lld validation records saved with it, "
                "as train's test\n", (long long)held->n);
        eo->history_extra = held;
    } else
        fprintf(stderr, "note: %s does not record the records held out for validation (saved before checkpoint "
                "format 4): only the model's training records are known history, the held-out ones rank as unseen "
                "and the figures can differ from train's; --train FILE (the training file) makes them known\n",
                o->load);
}

static int cmd_eval(opts *o) {
    cr_model *m;
    cr_interactions *test = (cr_interactions *)new_owned(sizeof(cr_interactions), free_interactions);
    cr_interactions *extra = (cr_interactions *)new_owned(sizeof(cr_interactions), free_interactions);
    cr_interactions *tr = (cr_interactions *)new_owned(sizeof(cr_interactions), free_interactions);
    cr_load_report rep;
    cr_eval_opts eo;
    cr_metrics mt;
    int seq;
    if (!o->test) die_usage("eval needs --test F%s%s", "", "");
    if (o->metric) die_usage("--metric %s: eval prints every metric; --metric is train's selection metric%s", o->metric,
                             "");
    m = load_model(o);
    seq = cr_model_is_sequential(cr_model_config(m)->model);
    if (seq) auto_seq_format(o, o->train ? o->train : o->test);
    eo = o->fit.eval; /* --topk, --no-auc, --exclude-history / --include-history */
    if (o->train) { /* interactions the model did not train on are known all the same */
        if (cr_model_load_interactions(m, o->train, &o->lo, tr, &rep) != CR_OK) die("loading the training file");
        if (cr_model_unseen(m, tr, extra) != CR_OK) die("comparing the training file with the model");
        if (extra->n)
            fprintf(stderr, "%s: %lld records the model did not train on (excluded from the ranking%s)\n", o->train,
                    (long long)extra->n, seq ? " and appended to histories" : "");
        eo.history_extra = extra;
        release(tr);
        tr = NULL;
    } else
        eval_held_out(o, m, extra, &eo);
    if (cr_model_load_interactions(m, o->test, &o->lo, test, &rep) != CR_OK) die("loading the test file");
    report_load(o->test, &rep);
    if (cr_evaluate(m, test, &eo, &mt) != CR_OK) die("evaluating");
    if (o->json) {
        json_stdout = 1;
        jprintf("{\"model\":\"%s\",\"eval_s\":%.3f", cr_model_name(cr_model_config(m)->model), mt.seconds);
        json_metrics("", &mt);
        jprintf("}\n");
    } else {
        printf("%s model from %s (%.2fs):\n", cr_model_name(cr_model_config(m)->model), o->load, mt.seconds);
        print_final(&mt);
    }
    release(test);
    release(extra);
    release(tr); /* without --train */
    release(m);
    return 0;
}

/* Items the model never saw, from a file in the --item-features format (their ids are new),
   added to the model with the vectors their features give them. Returns how many. */
static int add_new_items(const char *path, cr_model *m) {
    size_t len;
    char *text = read_or_die("--new-items", path, &len), *p, *end;
    cr_idmap *ids = (cr_idmap *)new_owned(sizeof(cr_idmap), free_idmap);
    cr_item_features *feat = (cr_item_features *)new_owned(sizeof(cr_item_features), free_features);
    int n = 0, line = 0;
    int32_t r, dd;
    for (p = text; p < text + len; p = end + 1) { /* pass 1: each line's item id, so the parser can map them */
        long long v;
        char *q;
        line++;
        if (!(end = strchr(p, '\n'))) end = text + len;
        if (line == 1 && end - p >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
            p += 3; /* a UTF-8 byte-order mark, as the parser skips */
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
        if (p == end || *p == '#') continue;
        errno = 0;
        v = strtoll(p, &q, 10);
        if (q == p || errno || v < 0 || v > 0xFFFFFFFFLL) {
            fprintf(stderr, "contrarec: %s:%d: field 1: not an item id\n", path, line);
            exit(1);
        }
        if (cr_idmap_add(ids, v, &dd) != CR_OK) die("reading --new-items");
    }
    if (cr_parse_item_features(feat, ids, text, len, path) != CR_OK) die("reading --new-items");
    release(text);
    for (r = 0; r < ids->n; r++) {
        int64_t *raw, q, nf = feat->x.rowptr[r + 1] - feat->x.rowptr[r];
        float *w;
        int c = 0, unknown = 0;
        cr_status st;
        if (cr_model_item_id(m, ids->raw[r]) >= 0) {
            fprintf(stderr, "note: --new-items: item %lld is one the model has; ranked as such\n",
                    (long long)ids->raw[r]);
            continue;
        }
        raw = (int64_t *)xmalloc(sizeof(int64_t) * (size_t)(nf + 1));
        w = (float *)xmalloc(sizeof(float) * (size_t)(nf + 1));
        for (q = feat->x.rowptr[r]; q < feat->x.rowptr[r + 1]; q++, c++) {
            raw[c] = feat->feats.raw[feat->x.col[q]];
            w[c] = feat->x.val ? feat->x.val[q] : 1.0f;
        }
        st = cr_model_add_item(m, ids->raw[r], raw, w, c, &unknown);
        release(raw);
        release(w);
        if (st == CR_ERR_EMPTY) {
            fprintf(stderr, "note: --new-items: item %lld has no feature the model knows; left out\n",
                    (long long)ids->raw[r]);
            continue;
        }
        if (st != CR_OK) die("--new-items");
        if (unknown)
            fprintf(stderr, "note: --new-items: item %lld: %d of its %d features are unknown to the model\n",
                    (long long)ids->raw[r], unknown, c);
        n++;
    }
    release(ids);
    release(feat);
    return n;
}

static int cmd_recommend(opts *o) {
    cr_model *m;
    int64_t *items, *given = NULL;
    float *scores;
    int n = 0, i, unknown = 0, modes = o->has_user + (o->items != NULL) + (o->history != NULL), seq;
    char *is_new = NULL;
    cr_status st;
    if (modes != 1) die_usage("recommend needs exactly one of --user, --items, --history%s%s", "", "");
    m = load_model(o);
    items = (int64_t *)xmalloc(sizeof(int64_t) * (size_t)o->k);
    scores = (float *)xmalloc(sizeof(float) * (size_t)o->k);
    seq = cr_model_is_sequential(cr_model_config(m)->model);
    if (o->new_items && !o->has_user) die_usage("--new-items ranks them for a --user%s%s", "", "");
    if (o->new_items) { /* they join the ranking where their scores put them */
        const cr_config *mc = cr_model_config(m);
        if (mc->item_repr == CR_REPR_ID && mc->attr_w <= 0 && mc->fm_w <= 0) {
            fprintf(stderr,
                    "contrarec: --new-items %s: the %s model in %s was trained without item features, so it cannot "
                    "place new items (train with --item-features and --item-repr id+features)\n",
                    o->new_items, cr_model_name(mc->model), o->load);
            exit(1);
        }
        add_new_items(o->new_items, m);
    }
    if (o->k > cr_model_num_items(m) + cr_model_num_added_items(m)) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%d", o->k);
        snprintf(b, sizeof b, "%d", cr_model_num_items(m) + cr_model_num_added_items(m));
        die_usage("-k %s is more than the model's %s items", a, b);
    }
    if (o->has_user) st = cr_recommend(m, o->user, o->k, !o->include_seen, items, scores, &n);
    else {
        const char *list = o->items ? o->items : o->history;
        int ng;
        if (o->items && seq)
            die_usage("--items is for graph models; a %s model takes --history%s",
                      cr_model_name(cr_model_config(m)->model), "");
        if (o->history && !seq)
            die_usage("--history is for sequence models; a %s model takes --items%s",
                      cr_model_name(cr_model_config(m)->model), "");
        given = (int64_t *)xmalloc(sizeof(int64_t) * MAX_IDS);
        ng = parse_id_list(o->items ? "--items" : "--history", list, given);
        st = cr_recommend_items(m, given, ng, o->k, items, scores, &n, &unknown);
        if (unknown)
            fprintf(stderr, "note: %d of the %d given items are unknown to the model and were ignored\n", unknown, ng);
    }
    if (st != CR_OK) die("recommending");
    if (o->new_items) { /* mark the added ones */
        is_new = (char *)xcalloc((size_t)o->k, 1);
        for (i = 0; i < n; i++) is_new[i] = cr_model_item_id(m, items[i]) < 0;
    }
    if (o->json) {
        printf("{\"items\":[");
        for (i = 0; i < n; i++) printf("%s%lld", i ? "," : "", (long long)items[i]);
        printf("],\"scores\":[");
        for (i = 0; i < n; i++) printf("%s%.6f", i ? "," : "", scores[i]);
        if (is_new) {
            printf("],\"new\":[");
            for (i = 0; i < n; i++) printf("%s%s", i ? "," : "", is_new[i] ? "true" : "false");
        }
        printf("]}\n");
    } else
        for (i = 0; i < n; i++)
            printf("%d\t%lld\t%.6f%s\n", i + 1, (long long)items[i], scores[i], is_new && is_new[i] ? "\tnew" : "");
    release(is_new);
    release(items);
    release(scores);
    release(given);
    release(m);
    return 0;
}

/* ---- plot and report: curves, group bars and tables from the JSON lines of 'train --json' ---- */

#define MAX_GROUPS 64

/* A run log is JSON lines of fields ("key":value, values numbers, strings, true/false/null or
   flat arrays). The reader checks each line once, in one pass; the lookups after it walk a line's
   fields without checking them again. */

static const char *jws(const char *p) {
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

/* past the string at p (on its '"'); NULL if unterminated or holding a control character */
static const char *jstring(const char *p) {
    for (p++; *p != '"'; p++) {
        if (*p == '\\') p++;
        if ((unsigned char)*p < 0x20) return NULL;
    }
    return p + 1;
}

static int jdigit(char c) { return c >= '0' && c <= '9'; }

/* past the number at p; *bad = p if it is not one or is not finite (or beyond 1e300 in size).
   JSON's grammar is checked by hand: strtod only for exponents and long numbers. */
static const char *jnumber(const char *p, const char **bad) {
    const char *q = p + (*p == '-'), *d0 = q;
    int exp = 0;
    while (jdigit(*q)) q++;
    if (q == d0) { /* nan, inf, or no number at all */
        while (*q && *q != ',' && *q != ']' && *q != '}' && *q != ' ' && *q != '\t') q++;
        if (q == p) return NULL;
        if (!*bad) *bad = p;
        return q;
    }
    if (*q == '.') {
        const char *f = ++q;
        while (jdigit(*q)) q++;
        if (q == f) return NULL;
    }
    if (*q == 'e' || *q == 'E') {
        const char *e;
        q += 1 + (q[1] == '+' || q[1] == '-');
        e = q;
        while (jdigit(*q)) q++;
        if (q == e) return NULL;
        exp = 1;
    }
    if ((exp || q - p > 300) && !(fabs(strtod(p, NULL)) <= 1e300) && !*bad) *bad = p;
    return q;
}

/* past the value at p: a number, a string, true/false/null, or (not nested) an array of them */
static const char *jvalue(const char *p, const char **bad, int in_array) {
    if (*p == '"') return jstring(p);
    if (*p == '-' || jdigit(*p)) return jnumber(p, bad); /* most values: first */
    if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4)) return p + 4;
    if (!strncmp(p, "false", 5)) return p + 5;
    if (*p == '[' && !in_array) {
        p = jws(p + 1);
        if (*p == ']') return p + 1;
        for (;;) {
            if (!(p = jvalue(p, bad, 1))) return NULL;
            p = jws(p);
            if (*p == ']') return p + 1;
            if (*p != ',') return NULL;
            p = jws(p + 1);
        }
    }
    return jnumber(p, bad);
}

/* a walk over the fields of a line */
typedef struct jit {
    const char *p; /* after the '{' or the last field */
    int n;         /* fields read */
} jit;

/* The next field: 1 (key of klen bytes, its value at *val), 0 at the closing brace, -1 if malformed. */
static int jnext(jit *it, const char **key, size_t *klen, const char **val, const char **bad) {
    const char *q = jws(it->p), *k;
    if (*q == '}') { it->p = q + 1; return 0; }
    if (it->n && *q++ != ',') return -1;
    q = jws(q);
    if (*q != '"' || !(k = jstring(q))) return -1;
    *key = q + 1;
    *klen = (size_t)(k - q - 2);
    q = jws(k);
    if (*q != ':') return -1;
    *val = q = jws(q + 1);
    if (!(q = jvalue(q, bad, 0))) return -1;
    it->p = q;
    it->n++;
    return 1;
}

/* 0 if line is one JSON object of fields with finite numbers; else 1 with the reason in err */
static int json_line_check(const char *line, char *err, size_t n) {
    const char *s = jws(line), *key = NULL, *val, *bad = NULL;
    size_t kl = 0;
    jit it;
    int r = -1;
    if (*s == '{') {
        it.p = s + 1;
        it.n = 0;
        while ((r = jnext(&it, &key, &kl, &val, &bad)) == 1 && !bad) {}
    }
    if (bad) {
        int tl = 0;
        while (bad[tl] && bad[tl] != ',' && bad[tl] != ']' && bad[tl] != '}' && tl < 24) tl++;
        snprintf(err, n, "field \"%.*s\": '%.*s' is not a finite number", kl > 64 ? 64 : (int)kl, key, tl, bad);
        return 1;
    }
    if (r != 0 || *jws(it.p)) {
        int col = (int)((*s == '{' ? jws(it.p) : s) - line) + 1;
        snprintf(err, n, "not a JSON object of fields (near column %d)", col);
        return 1;
    }
    return 0;
}

/* the value of field key in a checked line (the first if repeated); NULL if absent */
static const char *json_get(const char *line, const char *key) {
    const char *k, *v, *bad = NULL;
    size_t kl, n = strlen(key);
    jit it;
    if (!line) return NULL;
    it.p = jws(line) + 1;
    it.n = 0;
    while (jnext(&it, &k, &kl, &v, &bad) == 1)
        if (kl == n && !memcmp(k, key, n)) return v;
    return NULL;
}

/* the number in field key; 1 if there is one */
static int json_num(const char *line, const char *key, double *v) {
    const char *p = json_get(line, key);
    char *end;
    if (!p || (*p != '-' && !jdigit(*p))) return 0;
    *v = strtod(p, &end);
    return end != p;
}

/* the string in field key (into buf, escapes as written); 1 if there is one that fits */
static int json_str(const char *line, const char *key, char *buf, size_t n) {
    const char *p = json_get(line, key), *q;
    if (!p || *p != '"' || !(q = jstring(p)) || (size_t)(q - p - 2) >= n) return 0;
    memcpy(buf, p + 1, (size_t)(q - p - 2));
    buf[q - p - 2] = 0;
    return 1;
}

/* the array of numbers in field key (up to max of them into v): its length (max + 1 if longer),
   or -1 if absent or not an array of numbers */
static int json_array_of(const char *line, const char *key, double *v, int max) {
    const char *p = json_get(line, key);
    int n = 0;
    if (!p || *p != '[') return -1;
    for (p = jws(p + 1); *p != ']'; n++) {
        char *end;
        double x = strtod(p, &end);
        if (end == p || (*p != '-' && !jdigit(*p))) return -1;
        if (n < max) v[n] = x;
        p = jws(end);
        if (*p == ',') p = jws(p + 1);
    }
    return n > max ? max + 1 : n;
}

/* One run: its file's text, the lines kept (see run_parse), its label (the file name without
   folder and extension) and its final line (the one with "best_epoch"), if any. */
typedef struct run_line {
    char *s;
    int no;       /* line number in the file */
    int refit;    /* "phase":"refit" */
    double epoch; /* NAN: no "epoch" field */
} run_line;

typedef struct run {
    const char *path;
    char *label, *text, *final;
    run_line *ln;
    int n_lines, final_no;
} run;

static void run_free(run *r) {
    release(r->label);
    release(r->text);
    release(r->ln);
    memset(r, 0, sizeof *r);
}

/* (phase, epoch, position) order: a repeated epoch's lines side by side, the last one last */
typedef struct run_key {
    const char *phase;
    size_t plen;
    double epoch;
    int i;
} run_key;

static int run_key_cmp(const void *a, const void *b) {
    const run_key *x = (const run_key *)a, *y = (const run_key *)b;
    int c = memcmp(x->phase, y->phase, x->plen < y->plen ? x->plen : y->plen);
    if (c) return c;
    if (x->plen != y->plen) return x->plen < y->plen ? -1 : 1;
    if (x->epoch != y->epoch) return x->epoch < y->epoch ? -1 : 1;
    return x->i - y->i;
}

/* A resumed run (train --resume) repeats the epoch it was killed in: of the lines with the same
   phase and epoch, only the last is kept. Sorting keeps this n log n. */
static void run_dedup(run *r) {
    run_key *k = (run_key *)xmalloc(sizeof(run_key) * (size_t)(r->n_lines + 1));
    int i, n = 0, kept = 0;
    for (i = 0; i < r->n_lines; i++) {
        const char *ph = json_get(r->ln[i].s, "phase"), *q;
        if (r->ln[i].epoch != r->ln[i].epoch || !ph || *ph != '"' || !(q = jstring(ph))) continue;
        k[n].phase = ph;
        k[n].plen = (size_t)(q - ph);
        k[n].epoch = r->ln[i].epoch;
        k[n++].i = i;
    }
    qsort(k, (size_t)n, sizeof *k, run_key_cmp);
    for (i = 0; i + 1 < n; i++) {
        const run_key *a = &k[i], *b = &k[i + 1];
        if (a->plen == b->plen && !memcmp(a->phase, b->phase, a->plen) && a->epoch == b->epoch)
            r->ln[a->i].s = NULL; /* a later line has its phase and epoch */
    }
    release(k);
    for (i = 0; i < r->n_lines; i++)
        if (r->ln[i].s) r->ln[kept++] = r->ln[i];
    r->n_lines = kept;
}

/* The run in text (len bytes, NUL-terminated, owned: the run takes it). Lines are checked as they
   are read: a complete line (ending in '}') must be a JSON object of fields with finite numbers;
   a line cut short (a killed run) is left out. 0, or 1 with "path:line: ..." in err. */
static int run_parse(run *r, const char *path, char *text, size_t len, char *err, size_t errn) {
    char *p = text, *end = text + len, why[256];
    int no = 0, cap = 1;
    memset(r, 0, sizeof *r);
    r->path = path;
    r->text = text;
    for (p = text; p < end; p++) cap += *p == '\n';
    r->ln = (run_line *)xmalloc(sizeof(run_line) * (size_t)cap);
    for (p = text; p < end;) {
        char *nl = (char *)memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
        size_t n = (size_t)(e - p);
        no++;
        *e = 0;
        if (n && e[-1] == '\r') e[-1] = 0, n--;
        if (strlen(p) != n) { snprintf(err, errn, "%s:%d: a NUL byte: not a text file", path, no); return 1; }
        if (n && p[n - 1] == '}') {
            run_line *l = &r->ln[r->n_lines];
            double v;
            if (json_line_check(p, why, sizeof why)) { snprintf(err, errn, "%s:%d: %s", path, no, why); return 1; }
            l->s = p;
            l->no = no;
            l->epoch = json_num(p, "epoch", &v) ? v : NAN;
            l->refit = json_str(p, "phase", why, sizeof why) && !strcmp(why, "refit");
            if (json_get(p, "best_epoch")) { r->final = p; r->final_no = no; }
            else r->n_lines++; /* the final line is not an epoch */
        }
        p = e + 1;
    }
    run_dedup(r);
    return 0;
}

/* run_parse of a file; the label from its name */
static int run_read(run *r, const char *path, char *err, size_t errn) {
    const char *b = strrchr(path, '/'), *dot;
    size_t len, n;
    char *text = read_whole(path, &len);
    if (!text) {
        snprintf(err, errn, "%s: cannot open: %s", path, strerror(errno));
        memset(r, 0, sizeof *r);
        return 1;
    }
    if (run_parse(r, path, text, len, err, errn)) return 1;
    b = b ? b + 1 : path;
    dot = strrchr(b, '.');
    n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
    r->label = (char *)xmalloc(n + 1);
    memcpy(r->label, b, n);
    r->label[n] = 0;
    return 0;
}

/* metric over the epoch lines of the selection (x: epoch), and the popularity ranking's value
   of it if a line has one ("pop_" after the last '_' of the name); the number of points (owned) */
static int run_curve(const run *r, const char *metric, double **x, double **y, double *ref, int *has_ref) {
    char popkey[160];
    const char *us = strrchr(metric, '_');
    int i, n = 0;
    snprintf(popkey, sizeof popkey, "%.*spop_%s", us ? (int)(us - metric + 1) : 0, metric, us ? us + 1 : metric);
    *x = (double *)xmalloc(sizeof(double) * (size_t)(r->n_lines + 1));
    *y = (double *)xmalloc(sizeof(double) * (size_t)(r->n_lines + 1));
    for (i = 0; i < r->n_lines; i++) {
        double v;
        if (r->ln[i].refit || r->ln[i].epoch != r->ln[i].epoch || !json_num(r->ln[i].s, metric, &v)) continue;
        (*x)[n] = r->ln[i].epoch;
        (*y)[n++] = v;
        if (!*has_ref && json_num(r->ln[i].s, popkey, ref)) *has_ref = 1;
    }
    return n;
}

/* the groups of metric in a run's final line into g: their number, or -1 with a message */
static int run_groups(const run *r, const char *metric, double *g, int want) {
    int k = json_array_of(r->final, metric, g, MAX_GROUPS);
    const char *p = r->path;
    if (k < 0) fprintf(stderr, "contrarec: %s: no final line has \"%s\" as an array of numbers\n", p, metric);
    else if (k == 0 || k > MAX_GROUPS)
        fprintf(stderr, "contrarec: %s:%d: field \"%s\": %s groups (1..%d)\n", p, r->final_no, metric,
                k ? "too many" : "no", MAX_GROUPS);
    else if (want >= 0 && k != want)
        fprintf(stderr, "contrarec: %s:%d: field \"%s\": %d groups (%d in the first run)\n", p, r->final_no, metric, k,
                want);
    else return k;
    return -1;
}

/* One chart of the runs into path: curves of an epoch field, or bars of a final-line array.
   Returns 0, or 1 with a message (a run lacks the field). */
static int chart_runs(const run *runs, int nr, const char *metric, const char *title, const char *path) {
    cr_series S[CR_MAX_SERIES];
    double *xs[CR_MAX_SERIES] = {0}, *ys[CR_MAX_SERIES] = {0}, ref = 0, g[MAX_GROUPS];
    char gl_buf[MAX_GROUPS][24];
    const char *gl[MAX_GROUPS];
    cr_chart c;
    int i, ng = -1, has_ref = 0, rc = 0;
    memset(S, 0, sizeof S);
    memset(&c, 0, sizeof c);
    for (i = 0; i < nr && json_array_of(runs[i].final, metric, g, MAX_GROUPS) < 0; i++) {}
    if (i < nr && (ng = run_groups(&runs[i], metric, g, -1)) < 0) return 1; /* an array in some final line: bars */
    for (i = 0; i < nr && rc == 0; i++) {
        S[i].label = runs[i].label;
        if (ng >= 0) {
            ys[i] = (double *)xmalloc(sizeof(double) * MAX_GROUPS);
            rc = run_groups(&runs[i], metric, ys[i], ng) < 0;
            S[i].n = ng;
        } else if ((S[i].n = run_curve(&runs[i], metric, &xs[i], &ys[i], &ref, &has_ref)) == 0) {
            fprintf(stderr, "contrarec: %s: no epoch line has \"%s\"\n", runs[i].path, metric);
            rc = 1;
        }
        S[i].x = xs[i];
        S[i].y = ys[i];
    }
    c.title = title ? title : metric;
    c.series = S;
    c.n_series = nr;
    c.ylabel = metric;
    if (rc == 0 && ng >= 0) {
        for (i = 0; i < ng; i++) {
            if (i == 0) snprintf(gl_buf[i], sizeof gl_buf[i], "0 (low)");
            else if (i == ng - 1) snprintf(gl_buf[i], sizeof gl_buf[i], "%d (high)", i);
            else snprintf(gl_buf[i], sizeof gl_buf[i], "%d", i);
            gl[i] = gl_buf[i];
        }
        c.xlabel = "group (by popularity of items or activity of users)";
        if (cr_svg_bars(path, &c, gl, ng) != CR_OK) { fprintf(stderr, "contrarec: %s\n", cr_last_error()); rc = 1; }
    } else if (rc == 0) {
        c.xlabel = "epoch";
        if (has_ref) { c.ref_label = "popularity ranking"; c.ref_y = ref; }
        if (cr_svg_lines(path, &c) != CR_OK) { fprintf(stderr, "contrarec: %s\n", cr_last_error()); rc = 1; }
    }
    for (i = 0; i < nr; i++) { release(xs[i]); release(ys[i]); }
    return rc;
}

/* the run files (each read and checked; the program ends at the first bad one) */
static void read_runs(run *runs, const char *const *files, int nf) {
    char err[1024];
    int i;
    for (i = 0; i < nf; i++)
        if (run_read(&runs[i], files[i], err, sizeof err)) {
            fprintf(stderr, "contrarec: %s\n", err);
            exit(1);
        }
}

/* ---- synth: the built-in generator's data as LightGCN files (dense or sparse as asked) ---- */

/* x as LightGCN lines "user item item ...", users in id order (ids are the generator's) */
static int write_lightgcn(const char *path, const cr_interactions *x, int32_t n_users) {
    int64_t *start = (int64_t *)xmalloc(sizeof(int64_t) * ((size_t)n_users + 2)), e;
    int32_t *items = (int32_t *)xmalloc(sizeof(int32_t) * ((size_t)x->n + 1)), u;
    cr_out *o = out_open(path);
    memset(start, 0, sizeof(int64_t) * ((size_t)n_users + 2));
    for (e = 0; e < x->n; e++) start[x->user[e] + 2]++;
    for (u = 0; u < n_users; u++) start[u + 2] += start[u + 1];
    for (e = 0; e < x->n; e++) items[start[x->user[e] + 1]++] = x->item[e];
    for (u = 0; u < n_users; u++) {
        if (start[u] == start[u + 1]) continue;
        fprintf(o->f, "%d", (int)u);
        for (e = start[u]; e < start[u + 1]; e++) fprintf(o->f, " %d", (int)items[e]);
        fputc('\n', o->f);
    }
    release(start);
    release(items);
    return out_commit(o);
}

static int cmd_synth(int argc, char **argv) {
    cr_synth_opts so;
    cr_dataset ds;
    const char *dir = NULL, *names[2] = {"train.txt", "test.txt"};
    char *tr, *te;
    double test_ratio = 0.2;
    int i, rc, crd = 0;
    memset(&so, 0, sizeof so);
    for (i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-o")) dir = need(argc, argv, &i);
        else if (!strcmp(a, "--users")) so.n_users = (int32_t)parse_int(a, need(argc, argv, &i), 2, 50000000);
        else if (!strcmp(a, "--items")) so.n_items = (int32_t)parse_int(a, need(argc, argv, &i), 2, 50000000);
        else if (!strcmp(a, "--mean-len")) so.mean_len = (int)parse_int(a, need(argc, argv, &i), 1, 100000);
        else if (!strcmp(a, "--clusters")) so.n_clusters = (int)parse_int(a, need(argc, argv, &i), 1, 100000);
        else if (!strcmp(a, "--zipf")) so.zipf = (float)parse_num(a, need(argc, argv, &i), 0, 10, 1);
        else if (!strcmp(a, "--seed")) so.seed = (uint64_t)parse_int(a, need(argc, argv, &i), 1, 2000000000);
        else if (!strcmp(a, "--test-ratio")) test_ratio = parse_num(a, need(argc, argv, &i), 0.01, 0.9, 1);
        else if (!strcmp(a, "--crd")) crd = 1;
        else die_usage("synth: unknown option '%s'%s", a, "");
    }
    if (!dir) die_usage("synth needs -o DIR (DIR/train.txt and DIR/test.txt are written)%s%s", "", "");
    if (crd) names[0] = "data.crd";
    check_out_in("-o", dir, names, crd ? 1 : 2);
    if (cr_dataset_synthetic(&ds, &so, 0, test_ratio) != CR_OK) die("synth");
    tr = path_in(dir, names[0]);
    te = path_in(dir, names[1]);
    if (crd)
        rc = cr_dataset_save(&ds, tr) != CR_OK ? (fprintf(stderr, "contrarec: synth: %s\n", cr_last_error()), 1) : 0;
    else rc = write_lightgcn(tr, &ds.train, ds.n_users) || write_lightgcn(te, &ds.test, ds.n_users);
    if (!rc)
        fprintf(stderr, "%s%s%s: %d users, %d items, %lld training and %lld test records (%.1f per user)\n", tr,
                crd ? "" : ", ", crd ? "" : te, (int)ds.n_users, (int)ds.n_items, (long long)ds.train.n,
                (long long)ds.test.n, (double)ds.train.n / (ds.n_users ? ds.n_users : 1));
    release(tr);
    release(te);
    cr_dataset_free(&ds);
    return rc;
}

static int cmd_plot(int argc, char **argv) {
    const char *out = NULL, *metric = "valid_ndcg@20", *title = NULL, *files[CR_MAX_SERIES];
    run runs[CR_MAX_SERIES];
    int nf = 0, i, rc;
    for (i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-o")) out = need(argc, argv, &i);
        else if (!strcmp(argv[i], "--metric")) metric = need(argc, argv, &i);
        else if (!strcmp(argv[i], "--title")) title = need(argc, argv, &i);
        else if (argv[i][0] == '-' && argv[i][1]) die_usage("unknown option '%s'%s", argv[i], "");
        else if (nf == CR_MAX_SERIES) die_usage("plot: more than %s runs%s", "16", "");
        else files[nf++] = input(argv[i]);
    }
    if (!nf) die_usage("plot needs at least one run (a file written by 'train --json')%s%s", "", "");
    if (!out) die_usage("plot needs -o FILE.svg%s%s", "", "");
    if (strlen(metric) > 64 || strchr(metric, '"')) die_usage("--metric: '%s' is not a field name%s", metric, "");
    check_out("-o", out, 0);
    read_runs(runs, files, nf);
    rc = chart_runs(runs, nf, metric, title, out);
    for (i = 0; i < nf; i++) run_free(&runs[i]);
    return rc;
}

/* text with the HTML specials escaped */
static void html_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '&') fputs("&amp;", f);
        else if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

/* one table: a row per run, a column per field of the final line ("-" where a run lacks it) */
static void html_table(FILE *f, const run *runs, int nr, const char *caption, const char *const *keys,
                       const char *const *heads, int nk) {
    int i, k;
    fprintf(f, "<table>\n<caption>");
    html_text(f, caption);
    fprintf(f, "</caption>\n<tr><th>run</th>");
    for (k = 0; k < nk; k++) { fputs("<th>", f); html_text(f, heads[k]); fputs("</th>", f); }
    fputs("</tr>\n", f);
    for (i = 0; i < nr; i++) {
        fputs("<tr><td>", f);
        html_text(f, runs[i].label);
        fputs("</td>", f);
        for (k = 0; k < nk; k++) {
            double v;
            char sv[64];
            if (json_num(runs[i].final, keys[k], &v))
                fprintf(f, v == floor(v) && fabs(v) < 1e15 ? "<td>%.0f</td>" : "<td>%.4g</td>", v);
            else if (json_str(runs[i].final, keys[k], sv, sizeof sv)) {
                fputs("<td>", f);
                html_text(f, sv);
                fputs("</td>", f);
            } else fputs("<td>-</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* an SVG made by chart_runs, inlined (through a scratch file next to the report) */
static int html_chart(FILE *f, const run *runs, int nr, const char *metric, const char *title, const char *out) {
    char *tmp = (char *)xmalloc(strlen(out) + 10), *svg;
    size_t len;
    int rc = 1;
    sprintf(tmp, "%s.part.svg", out);
    if (chart_runs(runs, nr, metric, title, tmp) == 0 && (svg = read_whole(tmp, &len)) != NULL) {
        fprintf(f, "<figure>\n%s</figure>\n", svg);
        release(svg);
        rc = 0;
    }
    remove(tmp);
    release(tmp);
    return rc;
}

/* One HTML page of the runs in files (each a finished 'train --json' log), written whole and
   renamed into place; extra_svg (may be NULL) is inlined at the end. 0, or 1 with a message. */
/* The report's tables: selection and accuracy, beyond-accuracy by two definitions, user cold start. */
static void report_tables(FILE *f, const run *runs, int nf) {
    static const char *const sel_keys[] = {
        "model",          "best_epoch",   "epochs_run",  "selected_on",        "selection_metric", "history",
        "test_recall@20", "test_ndcg@20", "test_hit@20", "test_pop_recall@20", "test_pop_ndcg@20", "train_s"};
    static const char *const sel_heads[] = {"model",  "selected epoch",       "epochs run",         "selected on",
                                            "by",     "history items",        "Recall@20",          "NDCG@20",
                                            "Hit@20", "popularity Recall@20", "popularity NDCG@20", "training s"};
    static const char *const rb_keys[] = {"test_item_coverage", "test_average_popularity", "test_gini_index",
                                          "test_shannon_entropy", "test_tail_percentage"};
    static const char *const rb_heads[] = {"ItemCoverage", "AveragePopularity", "GiniIndex", "ShannonEntropy",
                                           "TailPercentage"};
    static const char *const ms_keys[] = {"test_catalog_coverage", "test_distributional_coverage",
                                          "test_ms_novelty",       "test_diversity",
                                          "test_serendipity",      "test_ild_cosine",
                                          "test_alignment",        "test_uniformity_users",
                                          "test_uniformity_items"};
    static const char *const ms_heads[] = {
        "catalog coverage",  "distributional coverage",       "novelty",   "diversity (co-occurrence)",
        "serendipity",       "intra-list diversity (cosine)", "alignment", "uniformity (users)",
        "uniformity (items)"};
    static const char *const cold_keys[] = {"model",        "cold_mode",          "cold_users",      "cold_recall@20",
                                            "cold_ndcg@20", "cold_pop_recall@20", "cold_pop_ndcg@20"};
    static const char *const cold_heads[] = {"model",     "held-out users scored", "users", "Recall@20",
                                             "NDCG@20",   "popularity Recall@20",  "popularity NDCG@20"};
    int i;
    html_table(f, runs, nf, "Selection and accuracy at K = 20", sel_keys, sel_heads,
               (int)(sizeof sel_keys / sizeof *sel_keys));
    html_table(f, runs, nf, "Beyond accuracy at K = 20: RecBole's definitions", rb_keys, rb_heads,
               (int)(sizeof rb_keys / sizeof *rb_keys));
    html_table(f, runs, nf, "Beyond accuracy at K = 20: Microsoft Recommenders' definitions, and the vectors", ms_keys,
               ms_heads, (int)(sizeof ms_keys / sizeof *ms_keys));
    for (i = 0; i < nf; i++) { /* user cold start, when some run held users out (--cold-users) */
        double v;
        if (json_num(runs[i].final, "cold_users", &v)) break;
    }
    if (i < nf)
        html_table(f, runs, nf,
                   "User cold start at K = 20: the held-out users, folded in (never trained on) or warm (trained on)",
                   cold_keys, cold_heads, (int)(sizeof cold_keys / sizeof *cold_keys));
}

/* The report's charts: one for each field every run has. */
static void report_charts(FILE *f, const run *runs, int nf, const char *out) {
    static const char *const charts[][2] = {
        {"loss", "training loss"},
        {"valid_ndcg@20", "validation NDCG@20"},
        {"valid_recall@20", "validation Recall@20"},
        {"test_item_group_recall", "Recall@20 within each item-popularity group (test)"},
        {"test_item_group_recall_share", "each item group's share of Recall@20 (test)"},
        {"test_user_group_recall", "Recall@20 of each user-activity group (test)"}};
    int i, k;
    for (k = 0; k < (int)(sizeof charts / sizeof *charts); k++) {
        for (i = 0; i < nf; i++) { /* a chart only when every run has its field */
            double v[MAX_GROUPS];
            int j, found = json_array_of(runs[i].final, charts[k][0], v, MAX_GROUPS) >= 0;
            for (j = 0; j < runs[i].n_lines && !found; j++) found = json_num(runs[i].ln[j].s, charts[k][0], v);
            if (!found) break;
        }
        if (i == nf && html_chart(f, runs, nf, charts[k][0], charts[k][1], out) != 0) /* said why; the page goes on */
            fprintf(stderr, "contrarec: the chart of %s is left out of the report\n", charts[k][0]);
    }
}

static int write_report(const char *const *files, int nf, const char *out, const char *title, const char *extra_svg) {
    run runs[CR_MAX_SERIES];
    cr_out *o;
    FILE *f;
    int i, rc = 0;
    memset(runs, 0, sizeof runs);
    read_runs(runs, files, nf);
    for (i = 0; i < nf; i++)
        if (!runs[i].final) {
            fprintf(stderr, "contrarec: %s: no final line (\"best_epoch\"): not a finished 'train --json' run\n",
                    files[i]);
            exit(1);
        }
    o = out_open(out); /* written whole, then renamed into place */
    f = o->f;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    html_text(f, title);
    fputs("</title>\n<style>body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222}"
          "table{border-collapse:collapse;margin:12px 0 24px}caption{text-align:left;font-weight:bold;padding:4px 0}"
          "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
          "figure{display:inline-block;margin:8px}p.note{color:#555;max-width:60em}</style>\n</head>\n<body>\n<h1>", f);
    html_text(f, title);
    fprintf(f,
            "</h1>\n<p class=\"note\">%d run%s. Test metrics are read once, at the epoch each run selected (column "
            "\"selected on\"); "
            "\"history items\" says whether the users' known items were masked when ranking.</p>\n",
            nf, nf > 1 ? "s" : "");
    report_tables(f, runs, nf);
    report_charts(f, runs, nf, out);
    if (extra_svg) {
        FILE *x = fopen(extra_svg, "rb");
        int ch;
        if (!x) rc = 1;
        else {
            fputs("<figure>\n", f);
            while ((ch = fgetc(x)) != EOF) fputc(ch, f);
            fputs("</figure>\n", f);
            fclose(x);
        }
    }
    fputs("</body>\n</html>\n", f);
    if (rc) {
        fprintf(stderr, "contrarec: %s: cannot read %s to inline it\n", out, extra_svg);
        release(o);
    } else rc = out_commit(o);
    for (i = 0; i < nf; i++) run_free(&runs[i]);
    return rc;
}

static int cmd_report(int argc, char **argv) {
    const char *out = NULL, *title = "contrarec report", *files[CR_MAX_SERIES];
    int nf = 0, i;
    for (i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-o")) out = need(argc, argv, &i);
        else if (!strcmp(argv[i], "--title")) title = need(argc, argv, &i);
        else if (argv[i][0] == '-' && argv[i][1]) die_usage("unknown option '%s'%s", argv[i], "");
        else if (nf == CR_MAX_SERIES) die_usage("report: more than %s runs%s", "16", "");
        else files[nf++] = input(argv[i]);
    }
    if (!nf) die_usage("report needs at least one run (a file written by 'train --json')%s%s", "", "");
    if (!out) die_usage("report needs -o FILE.html%s%s", "", "");
    check_out("-o", out, 0);
    return write_report(files, nf, out, title, NULL);
}

/* ---- map: the t-SNE picture of a saved model's item (or user) vectors ---- */

/* The map of a model's item (or user) vectors into out: a seeded sample of at most sample
   vectors without replacement, exact t-SNE, coloured by popularity group. Returns 0, or 1 with
   a message (2 for a usage error). */
static int write_map(cr_model *m, int users, int sample, uint64_t seed, const cr_tsne_opts *to, const char *out,
                     const char *title) {
    int i, n, N, d, rc = 0;
    const float *U, *I, *V;
    float *X, *Y;
    int32_t *all, *idx, *grp;
    char gl_buf[CR_GROUPS][24], tbuf[256];
    const char *gl[CR_GROUPS];
    double kl;
    cr_rng r;
    clock_t t0;
    if (cr_model_embeddings(m, &U, &I) != CR_OK) {
        fprintf(stderr, "contrarec: embeddings: %s\n", cr_last_error());
        return 1;
    }
    if (users && !U) {
        fprintf(stderr,
                "contrarec: --users: a sequence model has no user vectors (a user is the encoding of a history)\n");
        return 2;
    }
    V = users ? U : I;
    N = users ? cr_model_num_users(m) : cr_model_num_items(m);
    d = cr_model_config(m)->dim;
    n = sample < N ? sample : N;
    all = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)N);
    grp = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)N);
    idx = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)n);
    X = (float *)xmalloc(sizeof(float) * (size_t)n * (size_t)d);
    Y = (float *)xmalloc(sizeof(float) * (size_t)n * 2);
    if (cr_model_popularity_groups(m, !users, all) != CR_OK) {
        fprintf(stderr, "contrarec: popularity groups: %s\n", cr_last_error());
        exit(1);
    }
    /* a seeded sample without replacement (partial Fisher-Yates) */
    cr_rng_seed(&r, seed);
    for (i = 0; i < N; i++) grp[i] = i;
    for (i = 0; i < n; i++) {
        int j = i + (int)cr_rng_below(&r, (uint32_t)(N - i)), t = grp[i];
        grp[i] = grp[j];
        grp[j] = t;
    }
    for (i = 0; i < n; i++) {
        idx[i] = grp[i];
        memcpy(X + (size_t)i * d, V + (size_t)idx[i] * d, sizeof(float) * (size_t)d);
    }
    for (i = 0; i < n; i++) grp[i] = all[idx[i]];
    for (i = 0; i < CR_GROUPS; i++) {
        const char *what = users ? "active" : "popular";
        if (i == 0) snprintf(gl_buf[i], sizeof gl_buf[i], "0 (least %s)", what);
        else if (i == CR_GROUPS - 1) snprintf(gl_buf[i], sizeof gl_buf[i], "%d (most %s)", i, what);
        else snprintf(gl_buf[i], sizeof gl_buf[i], "%d", i);
        gl[i] = gl_buf[i];
    }
    if (!title) {
        snprintf(tbuf, sizeof tbuf, "%s: %s vectors by %s group", cr_model_name(cr_model_config(m)->model),
                 users ? "user" : "item", users ? "activity" : "popularity");
        title = tbuf;
    }
    t0 = clock();
    if (cr_tsne(X, n, d, to, Y, &kl) != CR_OK || cr_svg_map(out, title, Y, n, grp, CR_GROUPS, gl) != CR_OK) {
        fprintf(stderr, "contrarec: map: %s\n", cr_last_error());
        rc = 1;
    } else
        fprintf(stderr, "t-SNE of %d of %d %s vectors (dim %d): KL %.4f, %.1f s of CPU time\n", n, N,
                users ? "user" : "item", d, kl, (double)(clock() - t0) / CLOCKS_PER_SEC);
    release(all); release(grp); release(idx); release(X); release(Y);
    return rc;
}

static int cmd_map(int argc, char **argv) {
    const char *load = NULL, *out = NULL, *title = NULL;
    int users = 0, sample = 2000, i, rc;
    uint64_t seed = 501;
    cr_tsne_opts to;
    cr_model *m = NULL;
    memset(&to, 0, sizeof to);
    for (i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--load")) load = input(need(argc, argv, &i));
        else if (!strcmp(a, "-o")) out = need(argc, argv, &i);
        else if (!strcmp(a, "--title")) title = need(argc, argv, &i);
        else if (!strcmp(a, "--users")) users = 1;
        else if (!strcmp(a, "--sample")) sample = (int)parse_int(a, need(argc, argv, &i), 1, 5000);
        else if (!strcmp(a, "--seed")) seed = (uint64_t)parse_int(a, need(argc, argv, &i), 0, 2147483647L);
        else if (!strcmp(a, "--perplexity")) to.perplexity = parse_num(a, need(argc, argv, &i), 1, 1000, 0);
        else if (!strcmp(a, "--iterations")) to.iterations = (int)parse_int(a, need(argc, argv, &i), 1, 100000);
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage((cr_model_kind)0); clean_exit = 1, exit(0); }
        else die_usage("unknown option '%s'%s", a, "");
    }
    if (!load) die_usage("map needs --load FILE%s%s", "", "");
    if (!out) die_usage("map needs -o FILE.svg%s%s", "", "");
    if (to.iterations && to.iterations < 250) to.exaggeration_iters = to.iterations; /* all exaggerated */
    check_out("-o", out, 0);
    if (cr_model_load(&m, load, NULL) != CR_OK) die("loading the model");
    own_model(m);
    rc = write_map(m, users, sample, seed, &to, out, title);
    release(m);
    return rc;
}

/* ---- compare: two runs' per-user files, paired by user, with bootstrap intervals ---- */

typedef struct pu_row { long long user; double v[5]; } pu_row; /* history, recall, ndcg, tail, ild */

static int pu_cmp(const void *a, const void *b) {
    long long x = ((const pu_row *)a)->user, y = ((const pu_row *)b)->user;
    return x < y ? -1 : x > y;
}

/* The columns after the user, as 'train --per-user' writes them: history (a count), recall and
   NDCG in [0, 1], long-tail recall in [0, 1] or -1 (no long-tail test item), intra-list
   diversity 1 - mean cosine in [0, 2] or -1 (a list of fewer than 2). */
static const struct {
    double hi;
    int integer, none;
} pu_cols[5] = {{1e15, 1, 0}, {1, 0, 0}, {1, 0, 0}, {1, 0, 1}, {2, 0, 1}};

/* tok (field col of a row, NAME from the header) as a value in its range; the program ends with
   "path:line: field NAME: ..." otherwise */
static double pu_value(const char *path, long long ln, const char *name, const char *tok, int col) {
    char *end;
    double v;
    errno = 0;
    v = strtod(tok, &end);
    if (!*tok || *end || errno || !isfinite(v)) die_at(path, ln, "field %s: '%.40s' is not a finite number", name, tok);
    if (pu_cols[col].none && v == -1) return v;
    if (v < 0 || v > pu_cols[col].hi || (pu_cols[col].integer && v != floor(v)))
        die_at(path, ln, "field %s: %.40s is not %s%s", name, tok,
               pu_cols[col].integer ? "a non-negative integer" : pu_cols[col].hi == 1 ? "in [0, 1]" : "in [0, 2]",
               pu_cols[col].none ? " (or -1: none)" : "");
    return v;
}

/* the line's tab-separated fields into f (at most max; their number, max + 1 if more) */
static int pu_split(char *line, char **f, int max) {
    int n = 0;
    for (;;) {
        char *t = strchr(line, '\t');
        if (n < max) f[n] = line;
        n++;
        if (!t) break;
        *t = 0;
        line = t + 1;
    }
    return n > max ? max + 1 : n;
}

/* One per-user file: rows sorted by user; its header line (owned) in *head. */
static pu_row *read_per_user(const char *path, int64_t *n, char **head) {
    size_t len;
    char *text = read_or_die("", path, &len), *p = text, *names[7], *f[7];
    pu_row *rows = NULL;
    long long ln = 0, cap = 0;
    *n = 0;
    while (p < text + len) {
        char *e = strchr(p, '\n'), *next;
        int k, c;
        if (!e) e = p + strlen(p);
        next = e + (*e == '\n');
        *e = 0;
        if (e > p && e[-1] == '\r') e[-1] = 0;
        if ((size_t)(e - p) != strlen(p)) die_at(path, ln + 1, "a NUL byte: not a text file");
        if (++ln == 1) {
            if (strncmp(p, "user\thistory\t", 13)) die_at(path, 1, "not a 'train --per-user' file");
            *head = (char *)xmalloc(strlen(p) + 2);
            sprintf(*head, "%s\n", p);
            if ((k = pu_split(p, names, 6)) != 6)
                die_at(path, 1, "%d columns; 'train --per-user' writes 6 (user history recall ndcg tail_recall ild)",
                       k);
        } else {
            pu_row *r;
            if (*n == cap) rows = (pu_row *)xrealloc(rows, sizeof(pu_row) * (size_t)(cap = 2 * cap + 1024));
            r = &rows[*n];
            if ((k = pu_split(p, f, 6)) != 6)
                die_at(path, ln, "%s%d fields, the header has 6", k > 6 ? "more than " : "", k > 6 ? 6 : k);
            r->user = (long long)pu_value(path, ln, "user", f[0], 0);
            for (c = 0; c < 5; c++) r->v[c] = pu_value(path, ln, names[c + 1], f[c + 1], c);
            (*n)++;
        }
        p = next;
    }
    if (ln == 0) die_at(path, 0, "empty: not a 'train --per-user' file");
    if (!*n) die_at(path, 0, "no users");
    qsort(rows, (size_t)*n, sizeof(pu_row), pu_cmp);
    for (ln = 1; ln < *n; ln++)
        if (rows[ln].user == rows[ln - 1].user) die_at(path, 0, "user %lld has two rows", rows[ln].user);
    release(text);
    return rows;
}

/* A side of a comparison: one per-user file, or several (comma-separated: seeds) averaged per
   user over the users present in all of them (a -1, "none", in any stays -1). */
static pu_row *read_side(const char *spec, int64_t *n, char **head) {
    char path[4096], *h2;
    const char *p = spec;
    pu_row *acc = NULL;
    int files = 0;
    *n = 0;
    while (*p) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        int64_t m, i = 0, j = 0, w = 0;
        pu_row *r;
        if (!len || len >= sizeof path)
            die_usage("compare: '%s' is not a file or a comma-separated list of files%s", spec, "");
        memcpy(path, p, len);
        path[len] = 0;
        r = read_per_user(path, &m, files ? &h2 : head);
        if (files && strcmp(h2, *head)) die_at(path, 0, "other columns (cut-offs) than the first file");
        if (files) release(h2);
        if (!files) { acc = r; *n = m; }
        else { /* keep the users in both, summing */
            while (i < *n && j < m) {
                if (acc[i].user < r[j].user) i++;
                else if (acc[i].user > r[j].user) j++;
                else {
                    int q;
                    pu_row x = acc[i];
                    for (q = 0; q < 5; q++) x.v[q] = x.v[q] < 0 || r[j].v[q] < 0 ? -1e300 : x.v[q] + r[j].v[q];
                    acc[w++] = x;
                    i++;
                    j++;
                }
            }
            *n = w;
            release(r);
        }
        files++;
        p += len;
        if (*p == ',' && !*++p) die_usage("compare: '%s' ends with a comma%s", spec, "");
    }
    if (files > 1) {
        int64_t i;
        int q;
        for (i = 0; i < *n; i++)
            for (q = 0; q < 5; q++) acc[i].v[q] = acc[i].v[q] < 0 ? -1 : acc[i].v[q] / files;
    }
    if (!*n) { fprintf(stderr, "contrarec: %s: no user is in every file\n", spec); exit(1); }
    return acc;
}

static int dbl_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One line: the means of field j over the paired users with ok[i], B's relative gain and its
   95% percentile interval over `boot` resamples of those users (seeded). */
static void compare_line(const char *what, const pu_row *A, const pu_row *B, const int64_t *idx, int64_t n, int j,
                         int boot, uint64_t seed) {
    double sa = 0, sb = 0, *g;
    int64_t i;
    int b, ng;
    cr_rng r;
    if (n < 2) { printf("%-34s %6lld users: too few to compare\n", what, (long long)n); return; }
    for (i = 0; i < n; i++) { sa += A[idx[i]].v[j]; sb += B[idx[i]].v[j]; }
    g = (double *)xmalloc(sizeof(double) * (size_t)boot);
    cr_rng_seed(&r, seed);
    for (b = 0, ng = 0; b < boot; b++) {
        double xa = 0, xb = 0;
        for (i = 0; i < n; i++) {
            int64_t q = idx[(int64_t)cr_rng_below(&r, (uint32_t)n)];
            xa += A[q].v[j];
            xb += B[q].v[j];
        }
        if (xa > 0) g[ng++] = xb / xa - 1; /* a resample where A scores 0 has no ratio */
    }
    printf("%-34s %6lld users  A %.4f  B %.4f  ", what, (long long)n, sa / n, sb / n);
    if (sa <= 0 || ng < 2) printf("gain n/a (A's mean is 0)\n");
    else { /* the 2.5th and 97.5th percentiles, symmetric: floor and ceil of p (ng - 1) */
        qsort(g, (size_t)ng, sizeof(double), dbl_cmp);
        printf("gain %+6.1f%%  [%+6.1f%%, %+6.1f%%]", 100 * (sb / sa - 1), 100 * g[(int)floor(0.025 * (ng - 1))],
               100 * g[(int)ceil(0.975 * (ng - 1))]);
        if (ng < boot) printf("  (%d of %d resamples had A = 0: left out)", boot - ng, boot);
        printf("\n");
    }
    release(g);
}

static int cmd_compare(int argc, char **argv) {
    const char *fa = NULL, *fb = NULL;
    int boot = 1000, i;
    uint64_t seed = 1;
    double sparse = 0.2, cut;
    pu_row *A, *B, *Ap, *Bp;
    int64_t na, nb, n = 0, ia = 0, ib = 0, m, *idx, *hist_order;
    char *ha, *hb;
    for (i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--boot")) boot = (int)parse_int(a, need(argc, argv, &i), 100, 100000);
        else if (!strcmp(a, "--seed")) seed = (uint64_t)parse_int(a, need(argc, argv, &i), 0, 2147483647L);
        else if (!strcmp(a, "--sparse")) sparse = parse_num(a, need(argc, argv, &i), 0, 1, 1);
        else if (a[0] == '-' && a[1]) die_usage("unknown option '%s'%s", a, "");
        else if (!fa) fa = a;
        else if (!fb) fb = a;
        else die_usage("compare takes two files%s%s", "", "");
    }
    if (!fb) die_usage("compare needs two files written by 'train --per-user'%s%s", "", "");
    A = read_side(fa, &na, &ha);
    B = read_side(fb, &nb, &hb);
    if (strcmp(ha, hb)) die_at(fa, 0, "%s has different columns (cut-offs)", fb);
    Ap = (pu_row *)xcalloc((size_t)(na < nb ? na : nb), sizeof(pu_row));
    Bp = (pu_row *)xcalloc((size_t)(na < nb ? na : nb), sizeof(pu_row));
    idx = (int64_t *)xcalloc((size_t)(na < nb ? na : nb), sizeof(int64_t));
    hist_order = (int64_t *)xcalloc((size_t)(na < nb ? na : nb), sizeof(int64_t));
    while (ia < na && ib < nb) { /* pair by user */
        if (A[ia].user < B[ib].user) ia++;
        else if (A[ia].user > B[ib].user) ib++;
        else { Ap[n] = A[ia++]; Bp[n] = B[ib++]; n++; }
    }
    if (!n) { /* nothing to pair: not the same users, or not the same data */
        die_at(fa, 0, "no user in common with %s (%lld and %lld users): not runs on the same data", fb, (long long)na,
               (long long)nb);
    }
    printf("B = %s against A = %s: %lld users in both (%lld and %lld in each); K from the header: %s", fb, fa,
           (long long)n, (long long)na, (long long)nb, ha + 13);
    for (m = 0; m < n; m++) idx[m] = m;
    compare_line("Recall, all users", Ap, Bp, idx, n, 1, boot, seed);
    compare_line("NDCG, all users", Ap, Bp, idx, n, 2, boot, seed);
    { /* the sparsest share of the paired users by known history (ties: all users at the cut) */
        double *h = (double *)xmalloc(sizeof(double) * (size_t)n);
        char what[64];
        for (m = 0; m < n; m++) h[m] = Ap[m].v[0];
        qsort(h, (size_t)n, sizeof(double), dbl_cmp);
        cut = h[(int64_t)(sparse * (double)(n - 1))];
        release(h);
        for (m = 0, i = 0; m < n; m++)
            if (Ap[m].v[0] <= cut) hist_order[i++] = m;
        snprintf(what, sizeof what, "Recall, users with history <= %.0f", cut);
        compare_line(what, Ap, Bp, hist_order, i, 1, boot, seed);
    }
    for (m = 0, i = 0; m < n; m++)
        if (Ap[m].v[3] >= 0 && Bp[m].v[3] >= 0) idx[i++] = m;
    compare_line("long-tail recall (users with one)", Ap, Bp, idx, i, 3, boot, seed);
    for (m = 0, i = 0; m < n; m++)
        if (Ap[m].v[4] >= 0 && Bp[m].v[4] >= 0) idx[i++] = m;
    compare_line("intra-list diversity (cosine)", Ap, Bp, idx, i, 4, boot, seed);
    printf("(gain: B's mean / A's mean - 1; interval: 2.5th and 97.5th percentiles of %d resamples of the users, seed "
           "%llu)\n",
           boot, (unsigned long long)seed);
    release(A); release(B); release(Ap); release(Bp); release(idx); release(hist_order); release(ha); release(hb);
    return 0;
}

/* ---- convert: interaction files (and item features) into one binary dataset file ---- */

static int cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *test = NULL, *feats = NULL;
    cr_load_opts lo;
    cr_dataset ds;
    int i;
    memset(&lo, 0, sizeof lo);
    for (i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--test")) test = need(argc, argv, &i);
        else if (!strcmp(a, "--item-features")) feats = need(argc, argv, &i);
        else if (!strcmp(a, "--format")) lo.format = parse_format(need(argc, argv, &i));
        else if (!strcmp(a, "--min-rating")) lo.min_rating = (float)parse_num(a, need(argc, argv, &i), 0, 1e9, 1);
        else if (!strcmp(a, "--skip-bad-lines")) lo.skip_bad_lines = 1;
        else if (a[0] == '-' && a[1]) die_usage("convert: unknown option '%s'%s", a, "");
        else if (!in) in = a;
        else if (!out) out = a;
        else die_usage("convert takes one data file and one output file ('%s' is a third)%s", a, "");
    }
    if (!out)
        die_usage("convert needs a data file and the dataset file to write: contrarec convert data.txt data.crd%s%s",
                  "", "");
    check_out("the output", out, 0);
    if (cr_dataset_load(&ds, in, test, &lo) != CR_OK) die("loading data");
    report_load(in, &ds.train_report);
    if (test) report_load(test, &ds.test_report);
    if (feats && cr_load_item_features(&ds.features, &ds.items, feats) != CR_OK) die("loading item features");
    if (cr_dataset_save(&ds, out) != CR_OK) die("writing the dataset file");
    fprintf(stderr, "%s: %d users, %d items, %lld training, %lld validation and %lld test records%s\n", out, ds.n_users,
            ds.n_items, (long long)ds.train.n, (long long)ds.valid.n, (long long)ds.test.n,
            ds.features.x.nrows ? ", item features" : "");
    cr_dataset_free(&ds);
    return 0;
}

#ifdef CONTRAREC_MPI
/* At exit: MPI_Finalize after main returned or a help page, else (an error's exit(1) on this
   process, which the others may be waiting for in a collective) MPI_Abort, which ends them all. */
static void mpi_end(void) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (fin) return;
    if (clean_exit) MPI_Finalize();
    else MPI_Abort(MPI_COMM_WORLD, 1);
}

/* Every process runs the same command on the same data; process 0 prints and writes files. */
static void mpi_start(int *argc, char ***argv) {
    MPI_Init(argc, argv);
    atexit(mpi_end);
    if (cr_mpi_rank() != 0 && (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))) exit(1);
}
#endif

static int run_command(int argc, char **argv) {
    opts o;
    if (argc >= 2 && !strcmp(argv[1], "compare")) return cmd_compare(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "map")) return cmd_map(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "plot")) return cmd_plot(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "synth")) return cmd_synth(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "convert")) return cmd_convert(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "report")) return cmd_report(argc, argv);
    parse(&o, argc, argv);
    if (!strcmp(o.cmd, "train")) return cmd_train(&o);
    if (!strcmp(o.cmd, "tune")) return cmd_tune(&o);
    if (!strcmp(o.cmd, "eval")) return cmd_eval(&o);
    return cmd_recommend(&o);
}

int main(int argc, char **argv) {
    int rc;
#ifdef CONTRAREC_MPI
    mpi_start(&argc, &argv);
#endif
    rc = run_command(argc, argv);
    clean_exit = 1;
    return rc;
}
