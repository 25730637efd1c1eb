/* cr_tune: search spaces (good and bad, messages naming the option), the same leaderboard for
   the same seed, a resumed search ending where an uninterrupted one does, and a search that
   never reads the test set. Tiny synthetic data: the whole file runs in well under a second. */
#include "test.h"
#include <stdlib.h>

static cr_dataset tiny(void) {
    cr_dataset ds;
    cr_synth_opts so;
    memset(&so, 0, sizeof so);
    so.n_users = 80;
    so.n_items = 100;
    so.n_clusters = 5;
    so.mean_len = 10;
    so.seed = 3;
    if (cr_dataset_synthetic(&ds, &so, 0, 0.2) != CR_OK) memset(&ds, 0, sizeof ds);
    return ds;
}

static const cr_model_kind two[2] = {CR_MODEL_LIGHTGCN, CR_MODEL_XSIMGCL};

static void tiny_opts(cr_tune_opts *o) {
    memset(o, 0, sizeof *o);
    o->base.dim = 8;
    o->base.batch = 128;
    o->models = two;
    o->n_models = 2;
    o->trials = 4;
    o->min_epochs = 1;
    o->eta = 2;
    o->brackets = 2;
    o->seed = 11;
}

/* The leaderboards agree in every configuration, epoch count and validation figure. */
static int same_board(const cr_tune_result *a, const cr_tune_result *b) {
    int i;
    if (a->n_board != b->n_board) return 0;
    for (i = 0; i < a->n_board; i++) {
        const cr_tune_trial *x = &a->board[i], *y = &b->board[i];
        if (x->cfg.model != y->cfg.model || strcmp(x->options, y->options) || x->epochs != y->epochs ||
            x->valid != y->valid || x->best_epoch != y->best_epoch || memcmp(&x->cfg, &y->cfg, sizeof x->cfg))
            return 0;
    }
    return 1;
}

TEST(spaces_parse_and_bad_ones_name_the_option) {
    cr_config base;
    int k;
    memset(&base, 0, sizeof base);
    for (k = 1; cr_model_name((cr_model_kind)k)[0] != '?'; k++) { /* every default space is valid */
        CHECKF(cr_tune_default_space((cr_model_kind)k)[0], "%s has no default space", cr_model_name((cr_model_kind)k));
        CHECK_OK(cr_tune_check_space((cr_model_kind)k, &base, NULL));
    }
    CHECK_OK(cr_tune_check_space(CR_MODEL_XSIMGCL, &base, "lambda=0.01..1 log, tau=0.1,0.2,0.5, layers=1..3, eps=0.1"));
    CHECK_OK(cr_tune_check_space(CR_MODEL_SGL, &base, "drop=0,0.1, lambda = 0.1 , "));
    CHECK_OK(cr_tune_check_space(CR_MODEL_LIGHTGCN, &base, ""));
    CHECK_OK(cr_tune_check_space(CR_MODEL_XSIMGCL, &base, "tau=0.1,,0.2, lambda=0.1,"));
    CHECK_FAILS(cr_tune_check_space(CR_MODEL_XSIMGCL, &base, "lambda=1..0.1"), CR_ERR_INVALID,
                "lambda: range 1..0.1 has lo >= hi");
    CHECK_FAILS(cr_tune_check_space(CR_MODEL_XSIMGCL, &base, "eps=0..0.5 log"), CR_ERR_INVALID,
                "eps: a log scale needs lo > 0");
    CHECK_FAILS(cr_tune_check_space(CR_MODEL_XSIMGCL, &base, "tau=0.1,x"), CR_ERR_INVALID, "tau: 'x' is not a number");
    CHECK_FAILS(cr_tune_check_space(CR_MODEL_XSIMGCL, &base, "tau=0,0.2"), CR_ERR_INVALID,
                "tau: value 0 is out of range");
    CHECK_FAILS(cr_tune_check_space(CR_MODEL_SGL, &base, "drop=0.5..1"), CR_ERR_INVALID,
                "drop: value 1 is out of range");
    CHECK_FAILS(cr_tune_check_space(CR_MODEL_XSIMGCL, &base, "lstar=1..3"), CR_ERR_INVALID,
                "lstar: value 3 is out of range");
    CHECK_FAILS(cr_tune_check_space(CR_MODEL_XSIMGCL, &base, "layers=1.5,2"), CR_ERR_INVALID, "layers takes integers");
    CHECK_FAILS(cr_tune_check_space(CR_MODEL_LIGHTGCN, &base, "eps=0.1,0.2"), CR_ERR_INVALID,
                "'eps' is not searched for lightgcn");
    CHECK_FAILS(cr_tune_check_space(CR_MODEL_LIGHTGCN, &base, "frob=1..2"), CR_ERR_INVALID, "unknown option 'frob'");
    CHECK_FAILS(cr_tune_check_space(CR_MODEL_XSIMGCL, &base, "0.1,0.2"), CR_ERR_INVALID, "names no option");
    CHECK_FAILS(cr_tune_check_space(CR_MODEL_XSIMGCL, &base, "lambda=0.1..1, 0.5"), CR_ERR_INVALID, "follows a range");
    CHECK_FAILS(cr_tune_check_space(CR_MODEL_XSIMGCL, &base, "tau=0.1, tau=0.2"), CR_ERR_INVALID, "tau is given twice");
    CHECK_FAILS(cr_tune_check_space(CR_MODEL_XSIMGCL, &base, "seed=1,2"), CR_ERR_INVALID, "'seed' is not searched");
}

static void options_are_checked_before_any_training_body(void) {
    cr_dataset ds = tiny();
    cr_tune_opts o;
    cr_tune_result r;
    cr_model_kind mixed[2] = {CR_MODEL_LIGHTGCN, CR_MODEL_GRU4REC};
    CHECKF(ds.n_items > 4, "synthetic data: %s", cr_last_error());
    tiny_opts(&o);
    o.fit.refit = 1;
    CHECK_FAILS(cr_tune(&ds, &o, &r), CR_ERR_INVALID, "validation protocol only");
    tiny_opts(&o);
    o.eta = 1;
    CHECK_FAILS(cr_tune(&ds, &o, &r), CR_ERR_INVALID, "eta 1 is outside");
    tiny_opts(&o);
    o.brackets = 4;
    CHECK_FAILS(cr_tune(&ds, &o, &r), CR_ERR_INVALID, "brackets 4 is outside 1..3");
    tiny_opts(&o);
    o.models = mixed;
    CHECK_FAILS(cr_tune(&ds, &o, &r), CR_ERR_INVALID, "validate differently");
    tiny_opts(&o);
    o.space = "lambda=0.1,0.2, drop=0.1,0.2";
    CHECK_FAILS(cr_tune(&ds, &o, &r), CR_ERR_INVALID, "option 'drop' is searched by none of the models");
    cr_dataset_free(&ds);
}

static int searched; /* trials reported by the callback */
static int count_trials(void *user, const cr_tune_trial *t, int done, int planned) {
    (void)user;
    (void)t;
    (void)planned;
    searched = done;
    return 0;
}

/* The test set is poisoned with ids no model has: cr_fit would fail or read out of bounds if it
   evaluated it, so a search that finishes never read it. */
static void same_seed_same_leaderboard_and_the_test_set_is_never_read_body(void) {
    cr_dataset ds = tiny();
    cr_tune_opts o;
    cr_tune_result a, b, c;
    int64_t i;
    CHECKF(ds.n_items > 4 && ds.test.n > 0, "synthetic data: %s", cr_last_error());
    for (i = 0; i < ds.test.n; i++) {
        ds.test.user[i] = ds.n_users + 1000;
        ds.test.item[i] = -5;
    }
    tiny_opts(&o);
    o.on_trial = count_trials;
    searched = 0;
    CHECK_OK(cr_tune(&ds, &o, &a));
    /* bracket 0: 4 at 1 epoch, 2 at 2, 1 at 4; bracket 1: 2 at 2, 1 at 4 */
    CHECKF(a.planned == 10 && a.done == 10 && !a.stopped && searched == 10, "planned %d done %d stopped %d", a.planned,
           a.done, a.stopped);
    CHECK(a.n_board == 6 && a.board[0].epochs == 4 && a.board[1].epochs == 4 && a.board[0].valid >= a.board[1].valid);
    CHECK(a.board[0].valid > 0);
    for (i = 0; i < a.n_board; i++) CHECK(a.board[i].epochs <= 4 && a.board[i].best_epoch <= a.board[i].epochs);
    CHECK_OK(cr_tune(&ds, &o, &b));
    CHECK(same_board(&a, &b));
    o.seed = 12; /* another seed draws other configurations */
    CHECK_OK(cr_tune(&ds, &o, &c));
    CHECK(!same_board(&a, &c));
    cr_tune_result_free(&a);
    cr_tune_result_free(&b);
    cr_tune_result_free(&c);
    cr_dataset_free(&ds);
}

static int stop_after_3(void *user, const cr_tune_trial *t, int done, int planned) {
    (void)user;
    (void)t;
    (void)planned;
    return done >= 3;
}

static void an_interrupted_search_resumes_to_the_same_leaderboard_body(void) {
    cr_dataset ds = tiny();
    cr_tune_opts o;
    cr_tune_result full, part, resumed;
    const char *state = crt_tmp("tune.state");
    CHECKF(ds.n_items > 4, "synthetic data: %s", cr_last_error());
    remove(state);
    tiny_opts(&o);
    CHECK_OK(cr_tune(&ds, &o, &full));
    o.state_path = state;
    o.budget_seconds = 1e-9; /* gone before the first trial: nothing done, nothing lost */
    CHECK_OK(cr_tune(&ds, &o, &part));
    CHECK(part.stopped == 1 && part.done == 0 && part.n_board == 0);
    cr_tune_result_free(&part);
    o.budget_seconds = 0;
    o.on_trial = stop_after_3; /* an interruption after three trials */
    CHECK_OK(cr_tune(&ds, &o, &part));
    CHECK(part.stopped == 2 && part.done == 3);
    o.on_trial = NULL;
    CHECK_OK(cr_tune(&ds, &o, &resumed));
    CHECK(resumed.stopped == 0 && resumed.done == 10);
    CHECK(resumed.board[resumed.n_board - 1].from_state || resumed.board[0].from_state || resumed.n_board == 6);
    CHECK(same_board(&full, &resumed));
    cr_tune_result_free(&resumed);
    CHECK_OK(cr_tune(&ds, &o, &resumed)); /* all from the state now */
    CHECK(same_board(&full, &resumed) && resumed.board[0].from_state);
    cr_tune_result_free(&resumed);
    o.trials = 5; /* other arguments: refused, naming what differs */
    CHECK_FAILS(cr_tune(&ds, &o, &resumed), CR_ERR_INVALID,
                "schedule differs (the state: 'trials=4'; now: 'trials=5')");
    o.trials = 4;
    o.base.dim = 12;
    CHECK_FAILS(cr_tune(&ds, &o, &resumed), CR_ERR_INVALID, "config differs (the state: 'dim=8'; now: 'dim=12')");
    cr_tune_result_free(&full);
    cr_tune_result_free(&part);
    cr_dataset_free(&ds);
    remove(state);
}

/* one thread: tiny trials are all barrier on a loaded machine, and one count keeps them comparable */
TEST(same_seed_same_leaderboard_and_the_test_set_is_never_read) {
    int t0 = cr_get_num_threads();
    cr_set_num_threads(1);
    same_seed_same_leaderboard_and_the_test_set_is_never_read_body();
    cr_set_num_threads(t0);
}

/* one thread: tiny trials are all barrier on a loaded machine, and one count keeps them comparable */
TEST(an_interrupted_search_resumes_to_the_same_leaderboard) {
    int t0 = cr_get_num_threads();
    cr_set_num_threads(1);
    an_interrupted_search_resumes_to_the_same_leaderboard_body();
    cr_set_num_threads(t0);
}

/* one thread: tiny trials are all barrier on a loaded machine, and one count keeps them comparable */
TEST(options_are_checked_before_any_training) {
    int t0 = cr_get_num_threads();
    cr_set_num_threads(1);
    options_are_checked_before_any_training_body();
    cr_set_num_threads(t0);
}

const crt_case crt_tune[] = {
    {"tune/spaces_parse_and_bad_ones_name_the_option", spaces_parse_and_bad_ones_name_the_option},
    {"tune/options_are_checked_before_any_training", options_are_checked_before_any_training},
    {"tune/same_seed_same_leaderboard_and_the_test_set_is_never_read",
     same_seed_same_leaderboard_and_the_test_set_is_never_read},
    {"tune/an_interrupted_search_resumes_to_the_same_leaderboard",
     an_interrupted_search_resumes_to_the_same_leaderboard},
    {NULL, NULL}};
