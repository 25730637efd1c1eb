/* A tiny test runner: each tests/test_*.c file exports a table of cases; main.c runs them all
   (or those whose name contains argv[1]) and ends with the line "N passed, N failed, N skipped". */
#ifndef CRT_TEST_H
#define CRT_TEST_H

#include "../contrarec.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct crt_case {
    const char *name;
    void (*fn)(void);
} crt_case;

void crt_fail(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Marks the running test as skipped (say why; then return): counted apart from passes. */
void crt_skip(const char *why);
/* Path of a scratch file under build/test-tmp/ (the Makefile creates the folder). */
const char *crt_tmp(const char *name);
/* Writes len bytes (len < 0: strlen) to a scratch file and returns its path. */
const char *crt_write(const char *name, const char *text, long len);
/* 1 if the file exists and can be read (used to run real-data tests only when present). */
int crt_have_file(const char *path);
/* Item features for a dataset, through the parser: item i (raw id r) has feature r % 7 and
   feature 7 + (3 r) % 11 with weight 2 (and feature 18 + r % 4 when r is a multiple of 3), except
   every fifth item, which has none. */
cr_status crt_synth_features(cr_dataset *ds);
/* The built-in generator's data (clusters, mean_len 0: its defaults), a test set of share test per
   user (leave-last for seq); all zero on failure, which the caller's checks then catch. */
cr_dataset crt_synth(int32_t users, int32_t items, int clusters, int mean_len, uint64_t seed, int seq, double test);

/* 1 if model k reads the option (the option table's models column): shared test settings are
   given only to the models that take them. */
int crt_reads(cr_model_kind k, const char *option);

#define TEST(name) static void name(void)
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) { crt_fail(__FILE__, __LINE__, "%s", #c); return; }                           \
    } while (0)
#define CHECKF(c, ...)                                                                             \
    do {                                                                                           \
        if (!(c)) { crt_fail(__FILE__, __LINE__, __VA_ARGS__); return; }                        \
    } while (0)
#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        cr_status s_ = (expr);                                                                     \
        if (s_ != CR_OK) {                                                                         \
            crt_fail(__FILE__, __LINE__, "%s -> %s: %s", #expr, cr_status_string(s_),            \
                     cr_last_error());                                                             \
            return;                                                                                \
        }                                                                                          \
    } while (0)
/* expr must fail with status st and a message containing each of the given fragments */
#define CHECK_FAILS(expr, st, frag)                                                                \
    do {                                                                                           \
        cr_status s_ = (expr);                                                                     \
        if (s_ != (st) || !strstr(cr_last_error(), frag)) {                                        \
            crt_fail(__FILE__, __LINE__, "%s -> %s (%s), wanted %s with '%s'", #expr,             \
                     cr_status_string(s_), cr_last_error(), cr_status_string(st), frag);           \
            return;                                                                                \
        }                                                                                          \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (!(fabs(a_ - b_) <= (tol))) {                                                           \
            crt_fail(__FILE__, __LINE__, "%s = %.9g, %s = %.9g, |diff| > %g", #a, a_, #b, b_,     \
                     (double)(tol));                                                               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#endif
