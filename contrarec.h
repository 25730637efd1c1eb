/* contrarec.h - v0.1 - contrastive and self-supervised recommendation in one C header.

   No dependencies beyond libc and libm. Trains, evaluates, saves and serves graph and sequence
   recommenders (MF, LightGCN, SGL, SimGCL, XSimGCL, GRU4Rec, CL4SRec-style GRU) on a CPU.

   QUICK START
      Do this:
         #define CONTRAREC_IMPLEMENTATION
      before you include this file in *one* C or C++ file to create the implementation.
      Every other file just includes "contrarec.h".

         #define CONTRAREC_IMPLEMENTATION
         #include "contrarec.h"
         ...
         cr_dataset ds;
         if (cr_dataset_load(&ds, "train.txt", "test.txt", NULL) != CR_OK) {
             fprintf(stderr, "%s\n", cr_last_error());   // names file, line and field
             return 1;
         }

      Build with -O3 -march=native -fopenmp for speed; without -fopenmp everything runs on one
      thread and gives the same results as one OpenMP thread.

   ERRORS
      Every fallible call returns a cr_status (CR_OK == 0, failures are negative). The message of
      the last failure on the calling thread is cr_last_error(): for input errors it names the
      file, the line and the field. Nothing in the library prints, aborts or exits on bad input,
      and a failed call leaves its outputs empty (zeroed), never half-filled. Programmer errors
      (a NULL where the contract forbids it, a shape mismatch) go through CR_ASSERT.

   CONFIGURATION MACROS (define before including the implementation)
      CR_MALLOC(sz), CR_REALLOC(p,sz), CR_FREE(p)
                           allocator; define all three or none (default: libc).
      CR_ASSERT(x)         programmer-error check (default: assert).
      CONTRAREC_STATIC     make every function static (CR_API becomes static).
      CR_API               linkage decoration of every public function (default: extern).
      CR_NO_SIMD           use the portable scalar kernels only.
      CR_NO_HUGEPAGES      never madvise() large buffers into transparent huge pages (Linux).

   THREADS AND DETERMINISM
      Parallel loops use OpenMP with static schedules and fixed, size-derived work splits.
      Random streams are derived from (seed, purpose, epoch, chunk), never from the thread id, so
      the same seed and thread count give bit-identical results. cr_set_num_threads(n) sets the
      number of threads.

   SECTIONS (in data-flow order; search for "==== n." to jump)
      1. core          status and errors, memory, threads
      2. tensor        float32 tensors, integer arrays, vector helpers
      3. rng           xoshiro256** with independent streams
      4. kernels       cr_sgemm (blocked, SIMD), CSR sparse matrices and cr_spmm
      5. data          id maps, interactions, loaders, splits, synthetic data, graphs

   LICENSE: MIT or public domain (Unlicense), at your choice; see the end of the file.
*/

#ifndef CONTRAREC_H
#define CONTRAREC_H

#include <stddef.h>
#include <stdint.h>

#define CR_VERSION_MAJOR 0
#define CR_VERSION_MINOR 1

#ifndef CR_API
#ifdef CONTRAREC_STATIC
#define CR_API static
#else
#define CR_API extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ==== 1. core: status, errors, memory, threads ============================================== */

typedef enum cr_status {
    CR_OK = 0,
    CR_ERR_NOMEM = -1,    /* an allocation failed (everything allocated so far was freed) */
    CR_ERR_IO = -2,       /* a file could not be opened, read, written or renamed */
    CR_ERR_PARSE = -3,    /* malformed input text: the message names file, line and field */
    CR_ERR_INVALID = -4,  /* an argument or option is out of range */
    CR_ERR_FORMAT = -5,   /* a binary file is corrupt, truncated, or of another version/model */
    CR_ERR_NUMERIC = -6,  /* a NaN or Inf appeared in a loss or in the parameters */
    CR_ERR_OVERFLOW = -7, /* a size computation overflowed */
    CR_ERR_EMPTY = -8     /* the input holds no usable data */
} cr_status;

/* Short name of a status ("out of memory", ...). Never NULL. */
CR_API const char *cr_status_string(cr_status s);
/* Message of the last failure on this thread ("" if none). Valid until the next failing call on
   the same thread. */
CR_API const char *cr_last_error(void);
CR_API void cr_clear_error(void);

/* Number of threads the parallel kernels use (1 without OpenMP). n < 1 is ignored. */
CR_API void cr_set_num_threads(int n);
CR_API int cr_get_num_threads(void);

/* ==== 2. tensor: float32 tensors, integer arrays, vector helpers ============================ */

/* A row-major 2-D float32 tensor. Owning tensors are contiguous (stride == cols) and 64-byte
   aligned; views share another tensor's memory and have owner == 0. */
typedef struct cr_tensor {
    float *data;
    int64_t rows, cols;
    int64_t stride; /* elements between the starts of consecutive rows, >= cols */
    int owner;
} cr_tensor;

/* Allocates a zeroed rows x cols tensor. On failure t is zeroed. */
CR_API cr_status cr_tensor_alloc(cr_tensor *t, int64_t rows, int64_t cols);
CR_API void cr_tensor_free(cr_tensor *t); /* safe on zeroed tensors and views */
CR_API cr_tensor cr_tensor_view(float *data, int64_t rows, int64_t cols, int64_t stride);
CR_API cr_tensor cr_tensor_slice_rows(const cr_tensor *t, int64_t row0, int64_t nrows);

/* A growable array of int32 ids. Zero-initialise, then push. */
typedef struct cr_ivec {
    int32_t *data;
    int64_t n, cap;
} cr_ivec;
CR_API cr_status cr_ivec_push(cr_ivec *v, int32_t x);
CR_API cr_status cr_ivec_reserve(cr_ivec *v, int64_t cap);
CR_API void cr_ivec_free(cr_ivec *v);

/* 64-byte aligned float buffers (what tensors use). Free with cr_free_aligned. */
CR_API float *cr_alloc_floats(int64_t n); /* zeroed; NULL on failure (cr_last_error says why) */
CR_API void cr_free_aligned(void *p);

/* Vector helpers over n contiguous floats. Reductions accumulate in a fixed order, so they are
   deterministic. */
CR_API void cr_vfill(float *x, float v, int64_t n);
CR_API void cr_vcopy(float *dst, const float *src, int64_t n);
CR_API void cr_vaxpy(float *y, float a, const float *x, int64_t n); /* y += a*x */
CR_API void cr_vscale(float *x, float a, int64_t n);                /* x *= a */
CR_API float cr_vdot(const float *x, const float *y, int64_t n);
CR_API float cr_vsumsq(const float *x, int64_t n);

/* Row L2 normalisation: out[r] = in[r] / max(|in[r]|, 1e-12). norm[r] keeps |in[r]| for the
   backward pass. in and out may alias. x is (rows, d). */
CR_API void cr_l2norm_rows_forward(float *out, float *norm, const float *in, int64_t rows, int d);
/* din[r] += (dout[r] - out[r] * <out[r], dout[r]>) / max(norm[r], 1e-12)   (accumulates) */
CR_API void cr_l2norm_rows_backward(float *din, const float *dout, const float *out,
                                    const float *norm, int64_t rows, int d);
/* Row softmax (out may alias in) and row log-sum-exp, both max-shifted for stability. */
CR_API void cr_softmax_rows(float *out, const float *in, int64_t rows, int64_t cols);
CR_API void cr_logsumexp_rows(float *lse, const float *in, int64_t rows, int64_t cols);

/* ==== 3. rng: xoshiro256** with independent streams ========================================= */

typedef struct cr_rng {
    uint64_t s[4];
} cr_rng;

CR_API void cr_rng_seed(cr_rng *r, uint64_t seed);
/* An independent generator for (seed, stream): use one stream per chunk of parallel work so the
   numbers do not depend on which thread runs the chunk. */
CR_API cr_rng cr_rng_stream(uint64_t seed, uint64_t stream);
CR_API uint64_t cr_rng_next(cr_rng *r);
CR_API uint32_t cr_rng_below(cr_rng *r, uint32_t n); /* uniform in [0, n), unbiased; n > 0 */
CR_API float cr_rng_float(cr_rng *r);                /* uniform in [0, 1) */
CR_API float cr_rng_normal(cr_rng *r);               /* standard normal */
CR_API void cr_rng_jump(cr_rng *r);                  /* advance 2^128 steps */
/* Mixes several 64-bit words into one seed (for seed/purpose/epoch derivations). */
CR_API uint64_t cr_hash64(uint64_t a, uint64_t b);

/* ==== 4. kernels: GEMM, CSR, SpMM =========================================================== */

/* C = alpha * op(A) * op(B) + beta * C, row-major, with the semantics of
   cblas_sgemm(CblasRowMajor, ...): op(A) is m x k, op(B) is k x n, trans flags are 0/1.
   With beta == 0, C is not read. */
CR_API void cr_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* Compressed sparse rows: int64 row pointers, int32 column indices, float values. val may be
   NULL for a pattern-only matrix (every stored entry is 1). Columns are sorted within rows. */
typedef struct cr_csr {
    int64_t nrows, ncols, nnz;
    int64_t *rowptr; /* nrows + 1 */
    int32_t *col;    /* nnz */
    float *val;      /* nnz, or NULL */
} cr_csr;

/* Builds A from nnz (row, col, val) triplets (vals NULL means 1). Duplicates are merged by
   summing; out-of-range indices are refused with CR_ERR_INVALID naming the entry. */
CR_API cr_status cr_csr_from_coo(cr_csr *A, int64_t nrows, int64_t ncols, int64_t nnz,
                                 const int32_t *rows, const int32_t *cols, const float *vals);
CR_API void cr_csr_free(cr_csr *A);
CR_API cr_status cr_csr_copy(cr_csr *dst, const cr_csr *src);
/* Transpose (pattern and values). */
CR_API cr_status cr_csr_transpose(cr_csr *At, const cr_csr *A);

/* Y = A X with X (ncols x d) and Y (nrows x d) row-major, d >= 1. Y is overwritten. Threads get
   row ranges of equal nnz; SIMD runs over d. */
CR_API void cr_spmm(const cr_csr *A, const float *X, int d, float *Y);

/* The (U+I) x (U+I) bipartite graph of n (user, item) edges: users are nodes 0..U-1, items are
   nodes U..U+I-1, each edge stored in both directions with value 1. keep (NULL = all) selects
   edges (keep[e] != 0). Edges must be unique (cr_dataset does that). */
CR_API cr_status cr_graph_bipartite(cr_csr *A, int32_t n_users, int32_t n_items, int64_t n,
                                    const int32_t *users, const int32_t *items,
                                    const uint8_t *keep);
/* In place: A <- D^-1/2 A D^-1/2 with D the row sums of A (LightGCN's normalisation); rows with
   zero degree stay zero. A must be symmetric with non-negative values. */
CR_API cr_status cr_graph_normalize_sym(cr_csr *A);

/* ==== 5. data: id maps, interactions, loaders, splits, synthetic data ======================= */

/* Raw (file) ids are integers in [0, 2^32); dense ids are 0..n-1 in order of first appearance. */
typedef struct cr_idmap {
    int32_t n;        /* number of ids */
    int64_t *raw;     /* dense -> raw, n entries */
    int64_t raw_cap;
    uint64_t *keys;   /* hash table of raw+1 (0 = empty) */
    int32_t *vals;
    int64_t hcap;     /* power of two */
} cr_idmap;

CR_API int32_t cr_idmap_find(const cr_idmap *m, int64_t raw); /* -1 if absent */
/* Finds or inserts raw; *dense receives its dense id. */
CR_API cr_status cr_idmap_add(cr_idmap *m, int64_t raw, int32_t *dense);
CR_API cr_status cr_idmap_identity(cr_idmap *m, int32_t n); /* raw id i <-> dense id i */
CR_API void cr_idmap_free(cr_idmap *m);

/* A list of (user, item, rating, time) records with dense ids. rating is 1 and time is the
   record's position in its file when the file has none. */
typedef struct cr_interactions {
    int64_t n, cap;
    int32_t *user, *item;
    float *rating;
    double *time;
    int has_rating, has_time;
} cr_interactions;

CR_API cr_status cr_interactions_push(cr_interactions *x, int32_t user, int32_t item,
                                      float rating, double time);
CR_API void cr_interactions_free(cr_interactions *x);

typedef enum cr_format {
    CR_FORMAT_LIGHTGCN = 0, /* "uid iid iid ...", one user per line (the default) */
    CR_FORMAT_TRIPLETS = 1, /* "user item [rating [timestamp]]", spaces, tabs or commas */
    CR_FORMAT_MOVIELENS = 2,/* "user item rating timestamp": u.data (tabs), ratings.dat (::),
                               ratings.csv (commas, header line) */
    CR_FORMAT_SEQ = 3       /* "user:item item ..." or "user item item ...", in time order */
} cr_format;

typedef struct cr_load_opts {
    cr_format format;
    int skip_bad_lines;  /* 1: skip malformed lines and count them, instead of failing */
    int keep_duplicates; /* 1: keep repeated (user, item) pairs (default: keep the first) */
    float min_rating;    /* > 0: drop records rated below it (explicit -> implicit feedback) */
} cr_load_opts;

typedef struct cr_load_report {
    int64_t lines;          /* lines read, blank ones included */
    int64_t records;        /* records kept */
    int64_t bad_lines;      /* malformed lines skipped (only with skip_bad_lines) */
    int64_t duplicates;     /* repeated (user, item) pairs dropped */
    int64_t below_rating;   /* records dropped by min_rating */
    int64_t unknown_user;   /* records dropped: user not in the id map (test files) */
    int64_t unknown_item;   /* records dropped: item not in the id map (test files) */
    int64_t first_bad_line; /* line number of the first skipped line, 0 if none */
    char first_bad[256];    /* its message */
} cr_load_report;

/* Loads path into x. Ids are mapped through users/items: with add_ids, unseen raw ids are added
   (training files); without, records with unseen ids are dropped and counted in the report
   (test files). On failure x is empty, the maps are unchanged... except for ids added by the
   lines before the error, and cr_last_error() names file, line and field. */
CR_API cr_status cr_load_interactions(cr_interactions *x, cr_idmap *users, cr_idmap *items,
                                      int add_ids, const char *path, const cr_load_opts *opts,
                                      cr_load_report *report);

/* Per-user random split: from each user's records, round(ratio * n_u) go to held (at least one
   stays in keep). */
CR_API cr_status cr_split_ratio(const cr_interactions *all, int32_t n_users, double ratio,
                                uint64_t seed, cr_interactions *keep, cr_interactions *held);
/* Per-user leave-last-out by time: the n_last latest records of each user with more than n_last
   records go to held (ties in time: later in the file is later). */
CR_API cr_status cr_split_leave_last(const cr_interactions *all, int32_t n_users, int n_last,
                                     cr_interactions *keep, cr_interactions *held);

/* Rows = users, columns = items of each user: sorted by item id, or in time order (ties: file
   order) with by_time. Pattern only (val == NULL). */
CR_API cr_status cr_interactions_to_csr(cr_csr *out, const cr_interactions *x, int32_t n_users,
                                        int32_t n_items, int by_time);

/* A deterministic synthetic dataset: users and items fall into latent clusters, item popularity
   follows a power law, and each user's history is a time-ordered walk in which the next item
   often follows from the previous one (so sequence models have something to learn). */
typedef struct cr_synth_opts {
    int32_t n_users;  /* default 2000 */
    int32_t n_items;  /* default 3000 */
    int n_clusters;   /* default 20 */
    int mean_len;     /* mean records per user, default 30 (lengths are 5..4*mean) */
    float zipf;       /* popularity exponent, default 0.8 */
    float in_cluster; /* share of records drawn from the user's cluster, default 0.8 */
    float follow;     /* chance that the next item is a successor of the previous, default 0.5 */
    uint64_t seed;    /* default 1 */
} cr_synth_opts;
CR_API cr_status cr_synthetic(cr_interactions *x, int32_t *n_users, int32_t *n_items,
                              const cr_synth_opts *opts);

/* A training set with optional validation and test sets sharing one id space (the training
   file's). Test records whose user or item is unknown to training are dropped and counted in
   test_report.unknown_user / unknown_item, never silently. */
typedef struct cr_dataset {
    cr_idmap users, items;
    int32_t n_users, n_items;
    cr_interactions train, valid, test;
    cr_load_report train_report, test_report;
    int64_t test_overlap; /* test records dropped because the pair is also in train */
} cr_dataset;

/* Loads train (adds ids) and, if test_path is not NULL, test (maps ids). */
CR_API cr_status cr_dataset_load(cr_dataset *ds, const char *train_path, const char *test_path,
                                 const cr_load_opts *opts);
/* Synthetic dataset; held-out test by leave_last (>0: that many latest records per user) or by a
   per-user random ratio (test_ratio, default 0.2). */
CR_API cr_status cr_dataset_synthetic(cr_dataset *ds, const cr_synth_opts *opts, int leave_last,
                                      double test_ratio);
/* Moves a validation set out of train: per-user random ratio, or the latest record per user
   (by_time). */
CR_API cr_status cr_dataset_carve_valid(cr_dataset *ds, double ratio, int by_time, uint64_t seed);
CR_API void cr_dataset_free(cr_dataset *ds);

#ifdef __cplusplus
}
#endif
#endif /* CONTRAREC_H */

/* ============================================================================================ */
/*                                      IMPLEMENTATION                                          */
/* ============================================================================================ */

#ifdef CONTRAREC_IMPLEMENTATION
#ifndef CONTRAREC_IMPLEMENTATION_DONE
#define CONTRAREC_IMPLEMENTATION_DONE

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(CR_MALLOC) && defined(CR_FREE) && defined(CR_REALLOC)
#elif !defined(CR_MALLOC) && !defined(CR_FREE) && !defined(CR_REALLOC)
#define CR_MALLOC(sz) malloc(sz)
#define CR_REALLOC(p, sz) realloc(p, sz)
#define CR_FREE(p) free(p)
#else
#error "contrarec.h: define all of CR_MALLOC, CR_REALLOC and CR_FREE, or none of them"
#endif

#ifndef CR_ASSERT
#include <assert.h>
#define CR_ASSERT(x) assert(x)
#endif

/* OpenMP is optional: without it the pragmas vanish (no unknown-pragma warnings) and every
   loop runs on the calling thread. */
#ifdef _OPENMP
#include <omp.h>
#define CR__PRAGMA(x) _Pragma(#x)
#define CR__OMP(x) CR__PRAGMA(omp x)
#else
#define CR__OMP(x)
#endif

/* SIMD level, chosen at compile time from the target. At most one of these is defined. */
#if !defined(CR_NO_SIMD)
#if defined(__AVX512F__)
#define CR__AVX512 1
#elif defined(__AVX2__) && defined(__FMA__)
#define CR__AVX2 1
#elif defined(__SSE2__) || defined(_M_X64)
#define CR__SSE2 1
#elif defined(__ARM_NEON) || defined(__ARM_NEON__)
#define CR__NEON 1
#endif
#endif
#if defined(CR__AVX512) || defined(CR__AVX2) || defined(CR__SSE2)
#include <immintrin.h>
#elif defined(CR__NEON)
#include <arm_neon.h>
#endif

#if defined(__linux__) && !defined(CR_NO_HUGEPAGES)
#include <sys/mman.h>
#endif

#if defined(__cplusplus) && __cplusplus >= 201103L
#define CR__TLS thread_local
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__STDC_NO_THREADS__)
#define CR__TLS _Thread_local
#elif defined(__GNUC__) || defined(__clang__)
#define CR__TLS __thread
#elif defined(_MSC_VER)
#define CR__TLS __declspec(thread)
#else
#define CR__TLS /* no thread-local storage: the error message is shared by all threads */
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CR__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CR__PRINTF(a, b)
#endif

#define CR__MIN(a, b) ((a) < (b) ? (a) : (b))
#define CR__MAX(a, b) ((a) > (b) ? (a) : (b))

/* ==== 1. core ================================================================================ */

static CR__TLS char cr__errmsg[512];

CR_API const char *cr_status_string(cr_status s) {
    switch (s) {
    case CR_OK: return "ok";
    case CR_ERR_NOMEM: return "out of memory";
    case CR_ERR_IO: return "input/output error";
    case CR_ERR_PARSE: return "parse error";
    case CR_ERR_INVALID: return "invalid argument";
    case CR_ERR_FORMAT: return "bad file format";
    case CR_ERR_NUMERIC: return "numerical fault (NaN or Inf)";
    case CR_ERR_OVERFLOW: return "size overflow";
    case CR_ERR_EMPTY: return "no usable data";
    }
    return "unknown status";
}

CR_API const char *cr_last_error(void) { return cr__errmsg; }
CR_API void cr_clear_error(void) { cr__errmsg[0] = 0; }

/* Records a failure message for this thread and returns s, so callers write
   `return cr__fail(CR_ERR_PARSE, "%s:%lld: ...", ...);` */
static cr_status cr__fail(cr_status s, const char *fmt, ...) CR__PRINTF(2, 3);
static cr_status cr__fail(cr_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cr__errmsg, sizeof cr__errmsg, fmt, ap);
    va_end(ap);
    return s;
}

static cr_status cr__nomem(const char *what, size_t bytes) {
    return cr__fail(CR_ERR_NOMEM, "out of memory allocating %s (%.1f MB)", what,
                    (double)bytes / 1048576.0);
}

/* Overflow-checked size arithmetic: returns 0 on overflow. */
static int cr__mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > (size_t)-1 / a) return 0;
    *out = a * b;
    return 1;
}

static void *cr__malloc(size_t bytes) { return CR_MALLOC(bytes ? bytes : 1); }

/* n elements of size sz, or NULL (with the error set) on overflow or failure. */
static void *cr__alloc_array(size_t n, size_t sz, const char *what) {
    size_t bytes;
    void *p;
    if (!cr__mul_size(n, sz, &bytes)) {
        cr__fail(CR_ERR_OVERFLOW, "size overflow allocating %s (%zu x %zu bytes)", what, n, sz);
        return NULL;
    }
    p = cr__malloc(bytes);
    if (!p) cr__nomem(what, bytes);
    return p;
}

static void *cr__calloc_array(size_t n, size_t sz, const char *what) {
    void *p = cr__alloc_array(n, sz, what);
    if (p) memset(p, 0, n * sz);
    return p;
}

/* Grows *p to hold at least need elements (doubling). Returns 0 on failure, *p unchanged. */
static int cr__grow(void **p, int64_t *cap, int64_t need, size_t sz, const char *what) {
    int64_t nc = *cap ? *cap : 16;
    size_t bytes;
    void *q;
    if (need <= *cap) return 1;
    while (nc < need) {
        if (nc > INT64_MAX / 2) { cr__fail(CR_ERR_OVERFLOW, "size overflow growing %s", what); return 0; }
        nc *= 2;
    }
    if (!cr__mul_size((size_t)nc, sz, &bytes)) {
        cr__fail(CR_ERR_OVERFLOW, "size overflow growing %s", what);
        return 0;
    }
    q = CR_REALLOC(*p, bytes);
    if (!q) { cr__nomem(what, bytes); return 0; }
    *p = q;
    *cap = nc;
    return 1;
}

/* 64-byte aligned blocks on top of CR_MALLOC: the original pointer sits just before the block.
   Blocks of 16 MB and more are aligned to 2 MB and, on Linux, advised into transparent huge
   pages: the embedding tables that SpMM gathers from are read in random row order, and 4 KB
   pages would make each gather a TLB miss. */
#define CR__HUGE_BYTES ((size_t)16 << 20)
#define CR__HUGE_ALIGN ((size_t)2 << 20)
static void *cr__malloc_aligned(size_t bytes) {
    size_t align = bytes >= CR__HUGE_BYTES ? CR__HUGE_ALIGN : 64, total;
    unsigned char *raw, *p;
    if (bytes > (size_t)-1 - align - sizeof(void *)) return NULL;
    total = bytes + align + sizeof(void *);
    raw = (unsigned char *)CR_MALLOC(total);
    if (!raw) return NULL;
    p = raw + sizeof(void *);
    p += (align - (size_t)((uintptr_t)p % align)) % align;
    ((void **)p)[-1] = raw;
#if defined(__linux__) && !defined(CR_NO_HUGEPAGES) && defined(MADV_HUGEPAGE)
    if (align == CR__HUGE_ALIGN) madvise(p, bytes - bytes % CR__HUGE_ALIGN, MADV_HUGEPAGE);
#endif
    return p;
}

static void cr__free_aligned(void *p) {
    if (p) CR_FREE(((void **)p)[-1]);
}

CR_API void cr_free_aligned(void *p) { cr__free_aligned(p); }

CR_API float *cr_alloc_floats(int64_t n) {
    size_t bytes;
    float *p;
    if (n < 0 || !cr__mul_size((size_t)n, sizeof(float), &bytes)) {
        cr__fail(CR_ERR_OVERFLOW, "size overflow allocating %lld floats", (long long)n);
        return NULL;
    }
    p = (float *)cr__malloc_aligned(bytes);
    if (!p) { cr__nomem("float buffer", bytes); return NULL; }
    memset(p, 0, bytes);
    return p;
}

static int cr__num_threads = 0; /* 0: OpenMP's default */

CR_API void cr_set_num_threads(int n) {
    if (n < 1) return;
    cr__num_threads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

CR_API int cr_get_num_threads(void) {
#ifdef _OPENMP
    return cr__num_threads ? cr__num_threads : omp_get_max_threads();
#else
    return 1;
#endif
}

static int cr__nthreads(void) { return cr_get_num_threads(); }

/* ==== 2. tensor ============================================================================== */

CR_API cr_status cr_tensor_alloc(cr_tensor *t, int64_t rows, int64_t cols) {
    size_t n;
    memset(t, 0, sizeof *t);
    if (rows < 0 || cols < 0) return cr__fail(CR_ERR_INVALID, "tensor shape %lld x %lld is negative", (long long)rows, (long long)cols);
    if (!cr__mul_size((size_t)rows, (size_t)cols, &n)) return cr__fail(CR_ERR_OVERFLOW, "tensor %lld x %lld overflows", (long long)rows, (long long)cols);
    t->data = cr_alloc_floats((int64_t)n);
    if (!t->data) return CR_ERR_NOMEM;
    t->rows = rows;
    t->cols = cols;
    t->stride = cols;
    t->owner = 1;
    return CR_OK;
}

CR_API void cr_tensor_free(cr_tensor *t) {
    if (t->owner) cr__free_aligned(t->data);
    memset(t, 0, sizeof *t);
}

CR_API cr_tensor cr_tensor_view(float *data, int64_t rows, int64_t cols, int64_t stride) {
    cr_tensor t;
    CR_ASSERT(stride >= cols);
    t.data = data;
    t.rows = rows;
    t.cols = cols;
    t.stride = stride;
    t.owner = 0;
    return t;
}

CR_API cr_tensor cr_tensor_slice_rows(const cr_tensor *t, int64_t row0, int64_t nrows) {
    CR_ASSERT(row0 >= 0 && nrows >= 0 && row0 + nrows <= t->rows);
    return cr_tensor_view(t->data + row0 * t->stride, nrows, t->cols, t->stride);
}

CR_API cr_status cr_ivec_reserve(cr_ivec *v, int64_t cap) {
    return cr__grow((void **)&v->data, &v->cap, cap, sizeof(int32_t), "id array") ? CR_OK : CR_ERR_NOMEM;
}

CR_API cr_status cr_ivec_push(cr_ivec *v, int32_t x) {
    if (v->n == v->cap && cr_ivec_reserve(v, v->n + 1) != CR_OK) return CR_ERR_NOMEM;
    v->data[v->n++] = x;
    return CR_OK;
}

CR_API void cr_ivec_free(cr_ivec *v) {
    CR_FREE(v->data);
    memset(v, 0, sizeof *v);
}

CR_API void cr_vfill(float *x, float v, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) x[i] = v;
}

CR_API void cr_vcopy(float *dst, const float *src, int64_t n) {
    if (n > 0 && dst != src) memmove(dst, src, (size_t)n * sizeof(float));
}

CR_API void cr_vaxpy(float *y, float a, const float *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) y[i] += a * x[i];
}

CR_API void cr_vscale(float *x, float a, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) x[i] *= a;
}

/* Eight independent partial sums: vectorisable without -ffast-math and a fixed summation order,
   so the result does not depend on the compiler's SIMD width. */
CR_API float cr_vdot(const float *x, const float *y, int64_t n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    int j;
    for (; i + 8 <= n; i += 8)
        for (j = 0; j < 8; j++) acc[j] += x[i + j] * y[i + j];
    for (; i < n; i++) acc[0] += x[i] * y[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

CR_API float cr_vsumsq(const float *x, int64_t n) { return cr_vdot(x, x, n); }

#define CR__NORM_EPS 1e-12f

CR_API void cr_l2norm_rows_forward(float *out, float *norm, const float *in, int64_t rows, int d) {
    int64_t r;
CR__OMP(parallel for schedule(static) if (rows * d > 65536))
    for (r = 0; r < rows; r++) {
        const float *x = in + r * d;
        float *y = out + r * d;
        float nr = sqrtf(cr_vdot(x, x, d)), inv = 1.0f / (nr > CR__NORM_EPS ? nr : CR__NORM_EPS);
        int j;
        for (j = 0; j < d; j++) y[j] = x[j] * inv;
        if (norm) norm[r] = nr;
    }
}

CR_API void cr_l2norm_rows_backward(float *din, const float *dout, const float *out,
                                    const float *norm, int64_t rows, int d) {
    int64_t r;
    /* forward: y = x / |x|, so dx = (dy - y <y, dy>) / |x| */
CR__OMP(parallel for schedule(static) if (rows * d > 65536))
    for (r = 0; r < rows; r++) {
        const float *y = out + r * d, *dy = dout + r * d;
        float *dx = din + r * d;
        float nr = norm[r] > CR__NORM_EPS ? norm[r] : CR__NORM_EPS;
        float p = cr_vdot(y, dy, d), inv = 1.0f / nr;
        int j;
        for (j = 0; j < d; j++) dx[j] += (dy[j] - y[j] * p) * inv;
    }
}

static float cr__row_max(const float *x, int64_t n) {
    float m = -INFINITY;
    int64_t i;
    for (i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

CR_API void cr_logsumexp_rows(float *lse, const float *in, int64_t rows, int64_t cols) {
    int64_t r;
CR__OMP(parallel for schedule(static) if (rows * cols > 65536))
    for (r = 0; r < rows; r++) {
        const float *x = in + r * cols;
        float m = cr__row_max(x, cols);
        double s = 0;
        int64_t j;
        if (m == -INFINITY) { lse[r] = -INFINITY; continue; }
        for (j = 0; j < cols; j++) s += expf(x[j] - m);
        lse[r] = m + (float)log(s);
    }
}

CR_API void cr_softmax_rows(float *out, const float *in, int64_t rows, int64_t cols) {
    int64_t r;
CR__OMP(parallel for schedule(static) if (rows * cols > 65536))
    for (r = 0; r < rows; r++) {
        const float *x = in + r * cols;
        float *y = out + r * cols;
        float m = cr__row_max(x, cols), inv;
        double s = 0;
        int64_t j;
        for (j = 0; j < cols; j++) {
            y[j] = expf(x[j] - m);
            s += y[j];
        }
        inv = (float)(1.0 / s);
        for (j = 0; j < cols; j++) y[j] *= inv;
    }
}

/* ==== 3. rng ================================================================================= */

static uint64_t cr__splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

CR_API uint64_t cr_hash64(uint64_t a, uint64_t b) {
    uint64_t x = a ^ (b * 0xd6e8feb86659fd93ULL + 0x632be59bd9b4e019ULL);
    return cr__splitmix64(&x);
}

CR_API void cr_rng_seed(cr_rng *r, uint64_t seed) {
    uint64_t x = seed;
    int i;
    for (i = 0; i < 4; i++) r->s[i] = cr__splitmix64(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1; /* the all-zero state is fixed */
}

CR_API cr_rng cr_rng_stream(uint64_t seed, uint64_t stream) {
    cr_rng r;
    cr_rng_seed(&r, cr_hash64(seed, stream));
    return r;
}

static uint64_t cr__rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

CR_API uint64_t cr_rng_next(cr_rng *r) {
    uint64_t *s = r->s, result = cr__rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = cr__rotl(s[3], 45);
    return result;
}

CR_API uint32_t cr_rng_below(cr_rng *r, uint32_t n) {
    /* Lemire's multiply-shift with rejection: unbiased, one multiply in the common case. */
    uint64_t m = (uint64_t)(uint32_t)(cr_rng_next(r) >> 32) * n;
    uint32_t lo = (uint32_t)m;
    if (lo < n) {
        uint32_t t = (uint32_t)(0u - n) % n;
        while (lo < t) {
            m = (uint64_t)(uint32_t)(cr_rng_next(r) >> 32) * n;
            lo = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

CR_API float cr_rng_float(cr_rng *r) { return (float)(cr_rng_next(r) >> 40) * (1.0f / 16777216.0f); }

CR_API float cr_rng_normal(cr_rng *r) {
    /* Box-Muller; u1 in (0, 1] so log never sees 0. */
    double u1 = ((double)(cr_rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(cr_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

CR_API void cr_rng_jump(cr_rng *r) {
    static const uint64_t J[4] = {0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL,
                                  0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL};
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i, b;
    for (i = 0; i < 4; i++)
        for (b = 0; b < 64; b++) {
            if (J[i] & ((uint64_t)1 << b)) {
                s0 ^= r->s[0];
                s1 ^= r->s[1];
                s2 ^= r->s[2];
                s3 ^= r->s[3];
            }
            cr_rng_next(r);
        }
    r->s[0] = s0;
    r->s[1] = s1;
    r->s[2] = s2;
    r->s[3] = s3;
}

/* ==== 4. kernels ============================================================================= */

/* ---- 4a. GEMM ---- */
/*@@GEMM@@*/
/* TEMPORARY reference GEMM until the blocked kernel lands */
CR_API void cr_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    int i;
    CR__OMP(parallel for schedule(static))
    for (i = 0; i < m; i++) {
        int j, p;
        for (j = 0; j < n; j++) {
            float acc = 0;
            for (p = 0; p < k; p++)
                acc += (trans_a ? A[(int64_t)p * lda + i] : A[(int64_t)i * lda + p]) *
                       (trans_b ? B[(int64_t)j * ldb + p] : B[(int64_t)p * ldb + j]);
            C[(int64_t)i * ldc + j] = alpha * acc + (beta == 0 ? 0 : beta * C[(int64_t)i * ldc + j]);
        }
    }
}

/* ---- 4b. CSR ---- */

CR_API void cr_csr_free(cr_csr *A) {
    CR_FREE(A->rowptr);
    CR_FREE(A->col);
    CR_FREE(A->val);
    memset(A, 0, sizeof *A);
}

/* Allocates the arrays of an nrows x ncols matrix with room for nnz entries (values optional). */
static cr_status cr__csr_alloc(cr_csr *A, int64_t nrows, int64_t ncols, int64_t nnz, int with_val) {
    memset(A, 0, sizeof *A);
    A->nrows = nrows;
    A->ncols = ncols;
    A->nnz = nnz;
    A->rowptr = (int64_t *)cr__calloc_array((size_t)nrows + 1, sizeof(int64_t), "CSR row pointers");
    A->col = (int32_t *)cr__alloc_array((size_t)nnz, sizeof(int32_t), "CSR column indices");
    A->val = with_val ? (float *)cr__alloc_array((size_t)nnz, sizeof(float), "CSR values") : NULL;
    if (!A->rowptr || !A->col || (with_val && !A->val)) {
        cr_csr_free(A);
        return CR_ERR_NOMEM;
    }
    return CR_OK;
}

/* Sorts each row's (col, val) pairs by column: insertion sort for short rows (the common case
   in recommendation graphs), heap sort otherwise so a hub row never goes quadratic. */
static void cr__sift(int32_t *c, float *v, int64_t root, int64_t n) {
    for (;;) {
        int64_t child = 2 * root + 1;
        int32_t tc;
        float tv;
        if (child >= n) return;
        if (child + 1 < n && c[child + 1] > c[child]) child++;
        if (c[root] >= c[child]) return;
        tc = c[root]; c[root] = c[child]; c[child] = tc;
        if (v) { tv = v[root]; v[root] = v[child]; v[child] = tv; }
        root = child;
    }
}

static void cr__sort_row(int32_t *c, float *v, int64_t n) {
    int64_t i, j;
    if (n <= 32) {
        for (i = 1; i < n; i++) {
            int32_t kc = c[i];
            float kv = v ? v[i] : 0;
            for (j = i; j > 0 && c[j - 1] > kc; j--) {
                c[j] = c[j - 1];
                if (v) v[j] = v[j - 1];
            }
            c[j] = kc;
            if (v) v[j] = kv;
        }
        return;
    }
    for (i = n / 2 - 1; i >= 0; i--) cr__sift(c, v, i, n);
    for (i = n - 1; i > 0; i--) {
        int32_t tc = c[0];
        c[0] = c[i]; c[i] = tc;
        if (v) { float tv = v[0]; v[0] = v[i]; v[i] = tv; }
        cr__sift(c, v, 0, i);
    }
}

CR_API cr_status cr_csr_from_coo(cr_csr *A, int64_t nrows, int64_t ncols, int64_t nnz,
                                 const int32_t *rows, const int32_t *cols, const float *vals) {
    int64_t e, r, *fill = NULL, w;
    cr_status st;
    memset(A, 0, sizeof *A);
    if (nrows < 0 || ncols < 0 || nnz < 0 || ncols > INT32_MAX)
        return cr__fail(CR_ERR_INVALID, "cr_csr_from_coo: bad shape %lld x %lld with %lld entries", (long long)nrows, (long long)ncols, (long long)nnz);
    for (e = 0; e < nnz; e++)
        if (rows[e] < 0 || rows[e] >= nrows || cols[e] < 0 || cols[e] >= ncols)
            return cr__fail(CR_ERR_INVALID, "cr_csr_from_coo: entry %lld at (%d, %d) is outside the %lld x %lld matrix", (long long)e, rows[e], cols[e], (long long)nrows, (long long)ncols);
    if ((st = cr__csr_alloc(A, nrows, ncols, nnz, 1)) != CR_OK) return st;
    fill = (int64_t *)cr__alloc_array((size_t)nrows + 1, sizeof(int64_t), "CSR build buffer");
    if (!fill) { cr_csr_free(A); return CR_ERR_NOMEM; }
    for (e = 0; e < nnz; e++) A->rowptr[rows[e] + 1]++;
    for (r = 0; r < nrows; r++) A->rowptr[r + 1] += A->rowptr[r];
    memcpy(fill, A->rowptr, (size_t)(nrows + 1) * sizeof(int64_t));
    for (e = 0; e < nnz; e++) {
        int64_t p = fill[rows[e]]++;
        A->col[p] = cols[e];
        A->val[p] = vals ? vals[e] : 1.0f;
    }
    /* sort each row, then merge duplicates in place */
    w = 0;
    for (r = 0; r < nrows; r++) {
        int64_t b = A->rowptr[r], end = A->rowptr[r + 1], p;
        cr__sort_row(A->col + b, A->val + b, end - b);
        A->rowptr[r] = w;
        for (p = b; p < end; p++) {
            if (w > A->rowptr[r] && A->col[w - 1] == A->col[p]) A->val[w - 1] += A->val[p];
            else { A->col[w] = A->col[p]; A->val[w] = A->val[p]; w++; }
        }
    }
    A->rowptr[nrows] = w;
    A->nnz = w;
    CR_FREE(fill);
    return CR_OK;
}

CR_API cr_status cr_csr_copy(cr_csr *dst, const cr_csr *src) {
    cr_status st = cr__csr_alloc(dst, src->nrows, src->ncols, src->nnz, src->val != NULL);
    if (st != CR_OK) return st;
    memcpy(dst->rowptr, src->rowptr, (size_t)(src->nrows + 1) * sizeof(int64_t));
    memcpy(dst->col, src->col, (size_t)src->nnz * sizeof(int32_t));
    if (src->val) memcpy(dst->val, src->val, (size_t)src->nnz * sizeof(float));
    return CR_OK;
}

CR_API cr_status cr_csr_transpose(cr_csr *At, const cr_csr *A) {
    int64_t r, p, c;
    int64_t *fill;
    cr_status st = cr__csr_alloc(At, A->ncols, A->nrows, A->nnz, A->val != NULL);
    if (st != CR_OK) return st;
    fill = (int64_t *)cr__alloc_array((size_t)A->ncols + 1, sizeof(int64_t), "CSR transpose buffer");
    if (!fill) { cr_csr_free(At); return CR_ERR_NOMEM; }
    for (p = 0; p < A->nnz; p++) At->rowptr[A->col[p] + 1]++;
    for (c = 0; c < A->ncols; c++) At->rowptr[c + 1] += At->rowptr[c];
    memcpy(fill, At->rowptr, (size_t)(A->ncols + 1) * sizeof(int64_t));
    /* rows are visited in order, so each transposed row comes out sorted */
    for (r = 0; r < A->nrows; r++)
        for (p = A->rowptr[r]; p < A->rowptr[r + 1]; p++) {
            int64_t q = fill[A->col[p]]++;
            At->col[q] = (int32_t)r;
            if (A->val) At->val[q] = A->val[p];
        }
    CR_FREE(fill);
    return CR_OK;
}

/* ---- 4c. SpMM ---- */

/* First row of part t of nparts, splitting rows so every part holds about the same number of
   nonzeros plus rows (a row costs a write of d floats even when it is empty). */
static int64_t cr__csr_part_start(const cr_csr *A, int t, int nparts) {
    int64_t lo = 0, hi = A->nrows, target;
    double total = (double)A->nnz + (double)A->nrows;
    if (t <= 0) return 0;
    if (t >= nparts) return A->nrows;
    target = (int64_t)(total * t / nparts);
    while (lo < hi) { /* first row r with rowptr[r] + r >= target */
        int64_t mid = lo + (hi - lo) / 2;
        if (A->rowptr[mid] + mid < target) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* y = sum_p val[p] * X[col[p]] for one row: the inner kernel of cr_spmm. */
static void cr__spmm_row(const cr_csr *A, int64_t r, const float *X, int d, float *y) {
    int64_t p, b = A->rowptr[r], e = A->rowptr[r + 1];
    int j;
#if defined(CR__AVX512)
    if (d == 64) { /* the common embedding width: four registers hold the whole row */
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (p = b; p < e; p++) {
            const float *x = X + (int64_t)A->col[p] * 64;
            __m512 w = _mm512_set1_ps(A->val ? A->val[p] : 1.0f);
            if (p + 8 < e) { /* the gathered rows are random: fetch a few entries ahead */
                const char *nx = (const char *)(X + (int64_t)A->col[p + 8] * 64);
                _mm_prefetch(nx, _MM_HINT_T0);
                _mm_prefetch(nx + 64, _MM_HINT_T0);
                _mm_prefetch(nx + 128, _MM_HINT_T0);
                _mm_prefetch(nx + 192, _MM_HINT_T0);
            }
            a0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x), a0);
            a1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 16), a1);
            a2 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 32), a2);
            a3 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 48), a3);
        }
        _mm512_storeu_ps(y, a0);
        _mm512_storeu_ps(y + 16, a1);
        _mm512_storeu_ps(y + 32, a2);
        _mm512_storeu_ps(y + 48, a3);
        return;
    }
#endif
    for (j = 0; j < d; j++) y[j] = 0;
    for (p = b; p < e; p++) {
        const float *x = X + (int64_t)A->col[p] * d;
        float w = A->val ? A->val[p] : 1.0f;
        for (j = 0; j < d; j++) y[j] += w * x[j];
    }
}

CR_API void cr_spmm(const cr_csr *A, const float *X, int d, float *Y) {
    int nparts = cr__nthreads(), t;
    CR_ASSERT(d >= 1);
    if (A->nrows == 0) return;
CR__OMP(parallel for schedule(static, 1) num_threads(nparts))
    for (t = 0; t < nparts; t++) {
        int64_t r, r0 = cr__csr_part_start(A, t, nparts), r1 = cr__csr_part_start(A, t + 1, nparts);
        for (r = r0; r < r1; r++) cr__spmm_row(A, r, X, d, Y + r * d);
    }
}

/* ---- 4d. bipartite graphs ---- */

CR_API cr_status cr_graph_bipartite(cr_csr *A, int32_t n_users, int32_t n_items, int64_t n,
                                    const int32_t *users, const int32_t *items,
                                    const uint8_t *keep) {
    int64_t e, r, nn = (int64_t)n_users + n_items, kept = 0, *fill;
    cr_status st;
    memset(A, 0, sizeof *A);
    if (n_users < 0 || n_items < 0 || nn > INT32_MAX || n < 0)
        return cr__fail(CR_ERR_INVALID, "cr_graph_bipartite: bad sizes (%d users, %d items, %lld edges)", n_users, n_items, (long long)n);
    for (e = 0; e < n; e++) {
        if (users[e] < 0 || users[e] >= n_users || items[e] < 0 || items[e] >= n_items)
            return cr__fail(CR_ERR_INVALID, "cr_graph_bipartite: edge %lld (%d, %d) is out of range", (long long)e, users[e], items[e]);
        kept += !keep || keep[e];
    }
    if (kept > INT64_MAX / 2) return cr__fail(CR_ERR_OVERFLOW, "cr_graph_bipartite: too many edges");
    if ((st = cr__csr_alloc(A, nn, nn, 2 * kept, 1)) != CR_OK) return st;
    fill = (int64_t *)cr__alloc_array((size_t)nn + 1, sizeof(int64_t), "graph build buffer");
    if (!fill) { cr_csr_free(A); return CR_ERR_NOMEM; }
    for (e = 0; e < n; e++)
        if (!keep || keep[e]) {
            A->rowptr[users[e] + 1]++;
            A->rowptr[n_users + items[e] + 1]++;
        }
    for (r = 0; r < nn; r++) A->rowptr[r + 1] += A->rowptr[r];
    memcpy(fill, A->rowptr, (size_t)(nn + 1) * sizeof(int64_t));
    for (e = 0; e < n; e++)
        if (!keep || keep[e]) {
            A->col[fill[users[e]]++] = n_users + items[e];
            A->col[fill[n_users + items[e]]++] = users[e];
        }
    CR_FREE(fill);
CR__OMP(parallel for schedule(dynamic, 256))
    for (r = 0; r < nn; r++) {
        int64_t p;
        cr__sort_row(A->col + A->rowptr[r], NULL, A->rowptr[r + 1] - A->rowptr[r]);
        for (p = A->rowptr[r]; p < A->rowptr[r + 1]; p++) A->val[p] = 1.0f;
    }
    return CR_OK;
}

CR_API cr_status cr_graph_normalize_sym(cr_csr *A) {
    float *dinv;
    int64_t r;
    if (!A->val || A->nrows != A->ncols)
        return cr__fail(CR_ERR_INVALID, "cr_graph_normalize_sym: needs a square matrix with values");
    dinv = (float *)cr__alloc_array((size_t)A->nrows + 1, sizeof(float), "degree buffer");
    if (!dinv) return CR_ERR_NOMEM;
CR__OMP(parallel for schedule(static))
    for (r = 0; r < A->nrows; r++) {
        double s = 0;
        int64_t p;
        for (p = A->rowptr[r]; p < A->rowptr[r + 1]; p++) s += A->val[p];
        dinv[r] = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    }
CR__OMP(parallel for schedule(static))
    for (r = 0; r < A->nrows; r++) {
        int64_t p;
        for (p = A->rowptr[r]; p < A->rowptr[r + 1]; p++) A->val[p] *= dinv[r] * dinv[A->col[p]];
    }
    CR_FREE(dinv);
    return CR_OK;
}

/* ==== 5. data ================================================================================ */

/* ---- 5a. id maps ---- */

static uint64_t cr__hash_key(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

static int cr__idmap_rehash(cr_idmap *m, int64_t hcap) {
    uint64_t *keys = (uint64_t *)cr__calloc_array((size_t)hcap, sizeof(uint64_t), "id map");
    int32_t *vals = (int32_t *)cr__alloc_array((size_t)hcap, sizeof(int32_t), "id map");
    int32_t i;
    if (!keys || !vals) { CR_FREE(keys); CR_FREE(vals); return 0; }
    for (i = 0; i < m->n; i++) {
        uint64_t key = (uint64_t)m->raw[i] + 1, h = cr__hash_key(key) & (uint64_t)(hcap - 1);
        while (keys[h]) h = (h + 1) & (uint64_t)(hcap - 1);
        keys[h] = key;
        vals[h] = i;
    }
    CR_FREE(m->keys);
    CR_FREE(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->hcap = hcap;
    return 1;
}

CR_API int32_t cr_idmap_find(const cr_idmap *m, int64_t raw) {
    uint64_t key = (uint64_t)raw + 1, h;
    if (!m->hcap || raw < 0) return -1;
    h = cr__hash_key(key) & (uint64_t)(m->hcap - 1);
    while (m->keys[h]) {
        if (m->keys[h] == key) return m->vals[h];
        h = (h + 1) & (uint64_t)(m->hcap - 1);
    }
    return -1;
}

CR_API cr_status cr_idmap_add(cr_idmap *m, int64_t raw, int32_t *dense) {
    uint64_t key = (uint64_t)raw + 1, h;
    if (raw < 0) return cr__fail(CR_ERR_INVALID, "cr_idmap_add: negative id %lld", (long long)raw);
    if ((int64_t)m->n * 2 + 2 > m->hcap && !cr__idmap_rehash(m, m->hcap ? m->hcap * 2 : 1024))
        return CR_ERR_NOMEM;
    h = cr__hash_key(key) & (uint64_t)(m->hcap - 1);
    while (m->keys[h]) {
        if (m->keys[h] == key) { *dense = m->vals[h]; return CR_OK; }
        h = (h + 1) & (uint64_t)(m->hcap - 1);
    }
    if (m->n == INT32_MAX) return cr__fail(CR_ERR_OVERFLOW, "more than 2^31-1 distinct ids");
    if (!cr__grow((void **)&m->raw, &m->raw_cap, (int64_t)m->n + 1, sizeof(int64_t), "id map")) return CR_ERR_NOMEM;
    m->raw[m->n] = raw;
    m->keys[h] = key;
    m->vals[h] = m->n;
    *dense = m->n++;
    return CR_OK;
}

/* Forgets the ids added after the first n (undoes a failed load). */
static void cr__idmap_truncate(cr_idmap *m, int32_t n) {
    if (n >= m->n) return;
    m->n = n;
    if (!cr__idmap_rehash(m, m->hcap)) { /* no memory to rebuild: clear in place and re-insert */
        int32_t i;
        memset(m->keys, 0, (size_t)m->hcap * sizeof(uint64_t));
        for (i = 0; i < n; i++) {
            uint64_t key = (uint64_t)m->raw[i] + 1, h = cr__hash_key(key) & (uint64_t)(m->hcap - 1);
            while (m->keys[h]) h = (h + 1) & (uint64_t)(m->hcap - 1);
            m->keys[h] = key;
            m->vals[h] = i;
        }
    }
}

CR_API cr_status cr_idmap_identity(cr_idmap *m, int32_t n) {
    int32_t i, d;
    memset(m, 0, sizeof *m);
    for (i = 0; i < n; i++)
        if (cr_idmap_add(m, i, &d) != CR_OK) { cr_idmap_free(m); return CR_ERR_NOMEM; }
    return CR_OK;
}

CR_API void cr_idmap_free(cr_idmap *m) {
    CR_FREE(m->raw);
    CR_FREE(m->keys);
    CR_FREE(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- 5b. interactions ---- */

CR_API cr_status cr_interactions_push(cr_interactions *x, int32_t user, int32_t item,
                                      float rating, double time) {
    if (x->n == x->cap) {
        int64_t cap = x->cap;
        /* grow the four arrays together; cr__grow updates cap, so restore it between calls */
        if (!cr__grow((void **)&x->user, &cap, x->n + 1, sizeof(int32_t), "interactions")) return CR_ERR_NOMEM;
        cap = x->cap;
        if (!cr__grow((void **)&x->item, &cap, x->n + 1, sizeof(int32_t), "interactions")) return CR_ERR_NOMEM;
        cap = x->cap;
        if (!cr__grow((void **)&x->rating, &cap, x->n + 1, sizeof(float), "interactions")) return CR_ERR_NOMEM;
        cap = x->cap;
        if (!cr__grow((void **)&x->time, &cap, x->n + 1, sizeof(double), "interactions")) return CR_ERR_NOMEM;
        x->cap = cap;
    }
    x->user[x->n] = user;
    x->item[x->n] = item;
    x->rating[x->n] = rating;
    x->time[x->n] = time;
    x->n++;
    return CR_OK;
}

CR_API void cr_interactions_free(cr_interactions *x) {
    CR_FREE(x->user);
    CR_FREE(x->item);
    CR_FREE(x->rating);
    CR_FREE(x->time);
    memset(x, 0, sizeof *x);
}

/* ---- 5c. grouping and duplicates ---- */

/* Record indices grouped by user, in file order: idx[off[u] .. off[u+1]). */
static cr_status cr__group_by_user(const cr_interactions *x, int32_t n_users, int64_t **off_out, int64_t **idx_out) {
    int64_t *off = (int64_t *)cr__calloc_array((size_t)n_users + 2, sizeof(int64_t), "user groups");
    int64_t *idx = (int64_t *)cr__alloc_array((size_t)x->n + 1, sizeof(int64_t), "user groups");
    int64_t e;
    int32_t u;
    *off_out = NULL;
    *idx_out = NULL;
    if (!off || !idx) { CR_FREE(off); CR_FREE(idx); return CR_ERR_NOMEM; }
    for (e = 0; e < x->n; e++) {
        if (x->user[e] < 0 || x->user[e] >= n_users) {
            CR_FREE(off); CR_FREE(idx);
            return cr__fail(CR_ERR_INVALID, "record %lld has user %d outside 0..%d", (long long)e, x->user[e], n_users - 1);
        }
        off[x->user[e] + 2]++;
    }
    for (u = 0; u < n_users; u++) off[u + 2] += off[u + 1];
    for (e = 0; e < x->n; e++) idx[off[x->user[e] + 1]++] = e;
    *off_out = off;
    *idx_out = idx;
    return CR_OK;
}

/* Sorts n 64-bit keys: insertion sort for short runs, heap sort for long ones (no recursion,
   no quadratic case). */
static void cr__sort_u64(uint64_t *a, int64_t n) {
    int64_t i, j;
    if (n <= 32) {
        for (i = 1; i < n; i++) {
            uint64_t k = a[i];
            for (j = i; j > 0 && a[j - 1] > k; j--) a[j] = a[j - 1];
            a[j] = k;
        }
        return;
    }
    for (i = n - 1; i >= 0; i--) { /* heapify, then pop */
        int64_t r = i;
        for (;;) {
            int64_t c = 2 * r + 1;
            uint64_t t;
            if (c >= n) break;
            if (c + 1 < n && a[c + 1] > a[c]) c++;
            if (a[r] >= a[c]) break;
            t = a[r]; a[r] = a[c]; a[c] = t;
            r = c;
        }
    }
    for (i = n - 1; i > 0; i--) {
        int64_t r = 0;
        uint64_t t = a[0];
        a[0] = a[i]; a[i] = t;
        for (;;) {
            int64_t c = 2 * r + 1;
            if (c >= i) break;
            if (c + 1 < i && a[c + 1] > a[c]) c++;
            if (a[r] >= a[c]) break;
            t = a[r]; a[r] = a[c]; a[c] = t;
            r = c;
        }
    }
}

/* Removes repeated (user, item) records, keeping each pair's first record and the file order.
   Per user the (item, position) keys are sorted, so a repeat sits right after its first. */
static cr_status cr__dedup(cr_interactions *x, int32_t n_users, int64_t *removed) {
    int64_t *off, *idx, e, w = 0;
    uint64_t *keys;
    uint8_t *drop;
    int32_t u;
    cr_status st;
    *removed = 0;
    if ((st = cr__group_by_user(x, n_users, &off, &idx)) != CR_OK) return st;
    keys = (uint64_t *)cr__alloc_array((size_t)x->n + 1, sizeof(uint64_t), "duplicate check");
    drop = (uint8_t *)cr__calloc_array((size_t)x->n + 1, 1, "duplicate check");
    if (!keys || !drop) { CR_FREE(off); CR_FREE(idx); CR_FREE(keys); CR_FREE(drop); return CR_ERR_NOMEM; }
    for (u = 0; u < n_users; u++) {
        int64_t b = off[u], n = off[u + 1] - b, k;
        for (k = 0; k < n; k++) keys[b + k] = ((uint64_t)(uint32_t)x->item[idx[b + k]] << 32) | (uint64_t)k;
        cr__sort_u64(keys + b, n);
        for (k = 1; k < n; k++)
            if ((keys[b + k] >> 32) == (keys[b + k - 1] >> 32)) drop[idx[b + (int64_t)(uint32_t)keys[b + k]]] = 1;
    }
    for (e = 0; e < x->n; e++) {
        if (drop[e]) continue;
        x->user[w] = x->user[e];
        x->item[w] = x->item[e];
        x->rating[w] = x->rating[e];
        x->time[w] = x->time[e];
        w++;
    }
    *removed = x->n - w;
    x->n = w;
    CR_FREE(off); CR_FREE(idx); CR_FREE(keys); CR_FREE(drop);
    return CR_OK;
}

/* ---- 5d. text loaders ---- */

/* Reads a whole file into a NUL-terminated buffer. Works on pipes; refuses directories. */
static cr_status cr__read_file(const char *path, char **out, size_t *len) {
    FILE *f;
    char *buf = NULL;
    int64_t cap = 0;
    size_t n = 0, got, want;
    *out = NULL;
    *len = 0;
    if (!path || !*path) return cr__fail(CR_ERR_INVALID, "no file name given");
    f = fopen(path, "rb");
    if (!f) return cr__fail(CR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) == 0) { /* a regular file: allocate once (pipes grow below) */
        long sz = ftell(f);
        if (sz > 0 && (unsigned long)sz < (unsigned long)((size_t)-1 >> 1)) cap = (int64_t)sz + 1;
        if (fseek(f, 0, SEEK_SET) != 0) cap = 0;
        if (cap && !(buf = (char *)CR_MALLOC((size_t)cap))) cap = 0;
    }
    clearerr(f);
    for (;;) {
        if ((int64_t)n + 1 >= cap && !cr__grow((void **)&buf, &cap, (int64_t)n + (1 << 20) + 1, 1, "file buffer")) {
            CR_FREE(buf);
            fclose(f);
            return cr__fail(CR_ERR_NOMEM, "%s: out of memory reading the file (%zu bytes so far)", path, n);
        }
        want = (size_t)cap - n - 1;
        got = fread(buf + n, 1, want, f);
        n += got;
        if (got < want) break; /* end of file or an error (checked below) */
    }
    if (ferror(f)) {
        int e = errno;
        CR_FREE(buf);
        fclose(f);
        return cr__fail(CR_ERR_IO, "%s: cannot read: %s", path, e ? strerror(e) : "read error");
    }
    fclose(f);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return CR_OK;
}

/* One field of a line: [b, e). sep is the separator that came before it. */
typedef struct cr__field {
    const char *b, *e;
} cr__field;

/* Writes a field for a message: at most 40 bytes, unprintable bytes as \xHH. */
static const char *cr__show(char *dst, size_t cap, const char *b, const char *e) {
    size_t o = 0;
    const char *p;
    for (p = b; p < e && o + 8 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (p - b >= 40) { memcpy(dst + o, "...", 3); o += 3; break; }
        if (c >= 32 && c < 127 && c != '\'') dst[o++] = (char)c;
        else o += (size_t)snprintf(dst + o, cap - o, "\\x%02X", c);
    }
    dst[o] = 0;
    return dst;
}

typedef struct cr__parser {
    const char *path;
    int64_t line;
    cr_format format;
    cr__field *f;
    int64_t nf, fcap;
    int colon_after_first; /* a single ':' followed the first field */
    char msg[256];
} cr__parser;

#define CR__ISBLANK(c) ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\v' || (c) == '\f')

/* Splits [b, e) into fields. Separators: runs of blanks; one ',' (blanks around it allowed);
   "::" (MovieLens 1M); a single ':' right after the first field (sequence files). Returns 0
   with p->msg set when the line cannot be split (an empty field, a NUL byte, a stray ':'). */
static int cr__split_line(cr__parser *p, const char *b, const char *e) {
    const char *s = b;
    char show[64];
    p->nf = 0;
    p->colon_after_first = 0;
    if (memchr(b, 0, (size_t)(e - b))) {
        snprintf(p->msg, sizeof p->msg, "binary data (a NUL byte) at column %d", (int)((const char *)memchr(b, 0, (size_t)(e - b)) - b) + 1);
        return 0;
    }
    while (s < e && CR__ISBLANK(*s)) s++;
    while (s < e) {
        const char *t = s;
        while (t < e && !CR__ISBLANK(*t) && *t != ',' && *t != ':') t++;
        if (t == s) {
            snprintf(p->msg, sizeof p->msg, "empty field %d (before '%s')", (int)p->nf + 1, cr__show(show, sizeof show, s, e));
            return 0;
        }
        if (p->nf == p->fcap && !cr__grow((void **)&p->f, &p->fcap, p->nf + 1, sizeof(cr__field), "line fields")) {
            snprintf(p->msg, sizeof p->msg, "out of memory splitting the line");
            return 0;
        }
        p->f[p->nf].b = s;
        p->f[p->nf].e = t;
        p->nf++;
        s = t;
        while (s < e && CR__ISBLANK(*s)) s++;
        if (s < e && (*s == ',' || *s == ':')) {
            if (*s == ':' && s + 1 < e && s[1] == ':') s += 2;
            else if (*s == ':') {
                if (p->nf != 1 || (p->format != CR_FORMAT_SEQ && p->format != CR_FORMAT_LIGHTGCN)) {
                    snprintf(p->msg, sizeof p->msg, "unexpected ':' after field %d", (int)p->nf);
                    return 0;
                }
                p->colon_after_first = 1;
                s++;
            } else s++;
            while (s < e && CR__ISBLANK(*s)) s++;
            if (s == e && !(p->colon_after_first && p->nf == 1)) {
                snprintf(p->msg, sizeof p->msg, "empty field %d at the end of the line", (int)p->nf + 1);
                return 0;
            }
        }
    }
    return 1;
}

/* Parses a raw id: decimal digits only, value < 2^32. */
static int cr__parse_id(cr__parser *p, const cr__field *f, const char *what, int idx, int64_t *out) {
    const char *s = f->b;
    uint64_t v = 0;
    char show[64];
    if (*s == '-' && f->e - s > 1 && s[1] >= '0' && s[1] <= '9') {
        snprintf(p->msg, sizeof p->msg, "field %d (%s): negative id '%s'", idx, what, cr__show(show, sizeof show, f->b, f->e));
        return 0;
    }
    for (; s < f->e; s++) {
        if (*s < '0' || *s > '9') {
            snprintf(p->msg, sizeof p->msg, "field %d (%s): '%s' is not a non-negative integer id", idx, what, cr__show(show, sizeof show, f->b, f->e));
            return 0;
        }
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > 0xFFFFFFFFULL) {
            snprintf(p->msg, sizeof p->msg, "field %d (%s): id '%s' does not fit in 32 bits (max 4294967295)", idx, what, cr__show(show, sizeof show, f->b, f->e));
            return 0;
        }
    }
    *out = (int64_t)v;
    return 1;
}

/* Parses a finite decimal number ([+-]digits[.digits][e[+-]digits]) without the C locale's
   help: strtod would read "1,5" differently under a German locale. */
static int cr__parse_num(cr__parser *p, const cr__field *f, const char *what, int idx, double *out) {
    const char *s = f->b;
    double v = 0, scale = 1;
    int neg = 0, digits = 0, ex = 0, exneg = 0, exdig = 0;
    char show[64];
    if (s < f->e && (*s == '+' || *s == '-')) neg = *s++ == '-';
    for (; s < f->e && *s >= '0' && *s <= '9'; s++, digits++) v = v * 10 + (*s - '0');
    if (s < f->e && *s == '.')
        for (s++; s < f->e && *s >= '0' && *s <= '9'; s++, digits++) v += (*s - '0') * (scale *= 0.1);
    if (digits && s < f->e && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < f->e && (*s == '+' || *s == '-')) exneg = *s++ == '-';
        for (; s < f->e && *s >= '0' && *s <= '9'; s++, exdig++)
            if (ex < 10000) ex = ex * 10 + (*s - '0');
        if (!exdig) digits = 0;
    }
    if (!digits || s != f->e) {
        snprintf(p->msg, sizeof p->msg, "field %d (%s): '%s' is not a number", idx, what, cr__show(show, sizeof show, f->b, f->e));
        return 0;
    }
    if (ex) v *= pow(10.0, exneg ? -ex : ex);
    if (!(v == v) || v > DBL_MAX) {
        snprintf(p->msg, sizeof p->msg, "field %d (%s): '%s' is out of range", idx, what, cr__show(show, sizeof show, f->b, f->e));
        return 0;
    }
    *out = neg ? -v : v;
    return 1;
}

static int cr__is_numeric_start(const cr__field *f) {
    char c = *f->b;
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.';
}

/* State shared by the per-line record handler. */
typedef struct cr__load {
    cr_interactions *x;
    cr_idmap *users, *items;
    int add_ids;
    const cr_load_opts *o;
    cr_load_report *rep;
    double position; /* default time: the record's position in the file */
    int64_t last_raw_user; /* cache of the last user id lookup */
    int32_t last_user;
} cr__load;

/* Adds one record; returns CR_OK, or a failure (out of memory) that stops the load. */
static cr_status cr__load_record(cr__load *L, int64_t ru, int64_t ri, double rating, double time) {
    int32_t u, i;
    cr_status st;
    double t = time == time ? time : L->position;
    L->position += 1;
    if (L->o->min_rating > 0 && rating < L->o->min_rating) { L->rep->below_rating++; return CR_OK; }
    if (L->add_ids) {
        if (ru == L->last_raw_user) u = L->last_user; /* one user per line in most formats */
        else if ((st = cr_idmap_add(L->users, ru, &u)) != CR_OK) return st;
        if ((st = cr_idmap_add(L->items, ri, &i)) != CR_OK) return st;
    } else {
        u = ru == L->last_raw_user ? L->last_user : cr_idmap_find(L->users, ru);
        i = cr_idmap_find(L->items, ri);
        if (u < 0) { L->rep->unknown_user++; return CR_OK; }
        if (i < 0) { L->rep->unknown_item++; return CR_OK; }
    }
    L->last_raw_user = ru;
    L->last_user = u;
    if ((st = cr_interactions_push(L->x, u, i, (float)rating, t)) != CR_OK) return st;
    L->rep->records++;
    return CR_OK;
}

/* Interprets one split line. Returns CR_OK, CR_ERR_PARSE (p->msg says why; the line added
   nothing) or another failure. */
static cr_status cr__load_line(cr__load *L, cr__parser *p) {
    int64_t ru, ri;
    double rating = 1, time = NAN;
    cr_status st;
    int64_t k;
    if (p->format == CR_FORMAT_LIGHTGCN || p->format == CR_FORMAT_SEQ) {
        if (!cr__parse_id(p, &p->f[0], "user id", 1, &ru)) return CR_ERR_PARSE;
        for (k = 1; k < p->nf; k++) /* validate the whole line before adding any of it */
            if (!cr__parse_id(p, &p->f[k], "item id", (int)k + 1, &ri)) return CR_ERR_PARSE;
        if (L->add_ids && p->nf == 1) { /* a user with no items still gets an id */
            int32_t u;
            if ((st = cr_idmap_add(L->users, ru, &u)) != CR_OK) return st;
        }
        for (k = 1; k < p->nf; k++) {
            cr__parse_id(p, &p->f[k], "item id", (int)k + 1, &ri);
            if ((st = cr__load_record(L, ru, ri, 1.0, NAN)) != CR_OK) return st;
        }
        return CR_OK;
    }
    if (p->format == CR_FORMAT_MOVIELENS && p->nf != 4) {
        snprintf(p->msg, sizeof p->msg, "expected 4 fields (user item rating timestamp), found %d", (int)p->nf);
        return CR_ERR_PARSE;
    }
    if (p->nf < 2 || p->nf > 4) {
        snprintf(p->msg, sizeof p->msg, "expected 2 to 4 fields (user item [rating [timestamp]]), found %d", (int)p->nf);
        return CR_ERR_PARSE;
    }
    if (!cr__parse_id(p, &p->f[0], "user id", 1, &ru) || !cr__parse_id(p, &p->f[1], "item id", 2, &ri))
        return CR_ERR_PARSE;
    if (p->nf >= 3 && !cr__parse_num(p, &p->f[2], "rating", 3, &rating)) return CR_ERR_PARSE;
    if (p->nf >= 4 && !cr__parse_num(p, &p->f[3], "timestamp", 4, &time)) return CR_ERR_PARSE;
    if (p->nf >= 3) L->x->has_rating = 1;
    if (p->nf >= 4) L->x->has_time = 1;
    return cr__load_record(L, ru, ri, rating, time);
}

CR_API cr_status cr_load_interactions(cr_interactions *x, cr_idmap *users, cr_idmap *items,
                                      int add_ids, const char *path, const cr_load_opts *opts,
                                      cr_load_report *report) {
    static const cr_load_opts defaults = {CR_FORMAT_LIGHTGCN, 0, 0, 0.0f};
    cr_load_report rep_local;
    cr__load L;
    cr__parser P;
    char *buf = NULL;
    size_t len = 0;
    const char *s, *end;
    int32_t nu0 = users->n, ni0 = items->n;
    int header_checked = 0;
    cr_status st;
    memset(x, 0, sizeof *x);
    memset(&L, 0, sizeof L);
    memset(&P, 0, sizeof P);
    if (!report) report = &rep_local;
    memset(report, 0, sizeof *report);
    if (!opts) opts = &defaults;
    if ((unsigned)opts->format > (unsigned)CR_FORMAT_SEQ)
        return cr__fail(CR_ERR_INVALID, "%s: unknown file format %d", path ? path : "(null)", (int)opts->format);
    if (!(opts->min_rating == opts->min_rating))
        return cr__fail(CR_ERR_INVALID, "%s: min_rating is NaN", path ? path : "(null)");
    if ((st = cr__read_file(path, &buf, &len)) != CR_OK) return st;
    L.x = x;
    L.users = users;
    L.items = items;
    L.add_ids = add_ids;
    L.o = opts;
    L.rep = report;
    L.last_raw_user = -1;
    P.path = path;
    P.format = opts->format;
    s = buf;
    end = buf + len;
    if (len >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF) s += 3;
    st = CR_OK;
    while (s < end) {
        const char *nl = (const char *)memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end, *q;
        P.line++;
        report->lines++;
        for (q = s; q < le && CR__ISBLANK(*q); q++) {}
        if (q < le && *q != '#') { /* blank lines and '#' comments are skipped */
            cr_status lst;
            if (!cr__split_line(&P, s, le)) lst = CR_ERR_PARSE;
            else if (!header_checked && P.format != CR_FORMAT_LIGHTGCN && P.format != CR_FORMAT_SEQ &&
                     !cr__is_numeric_start(&P.f[0]) && !cr__is_numeric_start(&P.f[1 < P.nf ? 1 : 0]))
                lst = CR_OK; /* a CSV header such as "userId,movieId,rating,timestamp" */
            else lst = cr__load_line(&L, &P);
            header_checked = 1;
            if (lst == CR_ERR_PARSE) {
                if (!opts->skip_bad_lines) {
                    st = cr__fail(CR_ERR_PARSE, "%s:%lld: %s", path, (long long)P.line, P.msg);
                    break;
                }
                if (!report->bad_lines) {
                    report->first_bad_line = P.line;
                    snprintf(report->first_bad, sizeof report->first_bad, "%s", P.msg);
                }
                report->bad_lines++;
            } else if (lst != CR_OK) {
                st = lst;
                if (st == CR_ERR_NOMEM) cr__fail(st, "%s:%lld: out of memory while loading", path, (long long)P.line);
                break;
            }
        }
        s = nl ? nl + 1 : end;
    }
    CR_FREE(buf);
    CR_FREE(P.f);
    if (st == CR_OK && !opts->keep_duplicates) {
        int64_t removed = 0;
        st = cr__dedup(x, users->n, &removed);
        report->duplicates = removed;
        report->records -= removed;
    }
    if (st == CR_OK && x->n == 0 && add_ids)
        st = cr__fail(CR_ERR_EMPTY, "%s: no interactions found (%lld lines, %lld malformed lines skipped)", path, (long long)report->lines, (long long)report->bad_lines);
    if (st != CR_OK) {
        cr_interactions_free(x);
        cr__idmap_truncate(users, nu0);
        cr__idmap_truncate(items, ni0);
    }
    return st;
}

/* ---- 5e. splits ---- */

/* Copies the records with flag[e] == which into out, in file order. */
static cr_status cr__select(cr_interactions *out, const cr_interactions *x, const uint8_t *flag, int which) {
    int64_t e;
    memset(out, 0, sizeof *out);
    for (e = 0; e < x->n; e++)
        if (flag[e] == which && cr_interactions_push(out, x->user[e], x->item[e], x->rating[e], x->time[e]) != CR_OK) {
            cr_interactions_free(out);
            return CR_ERR_NOMEM;
        }
    out->has_rating = x->has_rating;
    out->has_time = x->has_time;
    return CR_OK;
}

static cr_status cr__split_by_flags(const cr_interactions *all, const uint8_t *flag,
                                    cr_interactions *keep, cr_interactions *held) {
    cr_status st = cr__select(keep, all, flag, 0);
    if (st != CR_OK) return st;
    if ((st = cr__select(held, all, flag, 1)) != CR_OK) cr_interactions_free(keep);
    return st;
}

CR_API cr_status cr_split_ratio(const cr_interactions *all, int32_t n_users, double ratio,
                                uint64_t seed, cr_interactions *keep, cr_interactions *held) {
    int64_t *off, *idx;
    uint8_t *flag;
    int32_t u;
    cr_status st;
    memset(keep, 0, sizeof *keep);
    memset(held, 0, sizeof *held);
    if (!(ratio >= 0 && ratio < 1)) return cr__fail(CR_ERR_INVALID, "split ratio %g is outside [0, 1)", ratio);
    if ((st = cr__group_by_user(all, n_users, &off, &idx)) != CR_OK) return st;
    flag = (uint8_t *)cr__calloc_array((size_t)all->n + 1, 1, "split flags");
    if (!flag) { CR_FREE(off); CR_FREE(idx); return CR_ERR_NOMEM; }
    for (u = 0; u < n_users; u++) {
        int64_t b = off[u], n = off[u + 1] - b, h = (int64_t)floor(ratio * (double)n + 0.5), k;
        cr_rng r = cr_rng_stream(seed, (uint64_t)u);
        if (h > n - 1) h = n - 1;
        for (k = 0; k < h; k++) { /* partial Fisher-Yates: the first h of a shuffle */
            int64_t j = k + (int64_t)cr_rng_below(&r, (uint32_t)(n - k)), t = idx[b + k];
            idx[b + k] = idx[b + j];
            idx[b + j] = t;
            flag[idx[b + k]] = 1;
        }
    }
    st = cr__split_by_flags(all, flag, keep, held);
    CR_FREE(off);
    CR_FREE(idx);
    CR_FREE(flag);
    return st;
}

CR_API cr_status cr_split_leave_last(const cr_interactions *all, int32_t n_users, int n_last,
                                     cr_interactions *keep, cr_interactions *held) {
    int64_t *off, *idx;
    uint8_t *flag;
    int32_t u;
    cr_status st;
    memset(keep, 0, sizeof *keep);
    memset(held, 0, sizeof *held);
    if (n_last < 1) return cr__fail(CR_ERR_INVALID, "leave-last-out needs n_last >= 1, got %d", n_last);
    if ((st = cr__group_by_user(all, n_users, &off, &idx)) != CR_OK) return st;
    flag = (uint8_t *)cr__calloc_array((size_t)all->n + 1, 1, "split flags");
    if (!flag) { CR_FREE(off); CR_FREE(idx); return CR_ERR_NOMEM; }
    for (u = 0; u < n_users; u++) {
        int64_t b = off[u], n = off[u + 1] - b, k, j;
        if (n <= n_last) continue;
        /* insertion sort by (time, file position): histories are short and nearly sorted */
        for (k = 1; k < n; k++) {
            int64_t key = idx[b + k];
            for (j = k; j > 0 && all->time[idx[b + j - 1]] > all->time[key]; j--) idx[b + j] = idx[b + j - 1];
            idx[b + j] = key;
        }
        for (k = n - n_last; k < n; k++) flag[idx[b + k]] = 1;
    }
    st = cr__split_by_flags(all, flag, keep, held);
    CR_FREE(off);
    CR_FREE(idx);
    CR_FREE(flag);
    return st;
}

CR_API cr_status cr_interactions_to_csr(cr_csr *out, const cr_interactions *x, int32_t n_users,
                                        int32_t n_items, int by_time) {
    int64_t *off, *idx, e, w = 0;
    int32_t u;
    cr_status st;
    memset(out, 0, sizeof *out);
    for (e = 0; e < x->n; e++)
        if (x->item[e] < 0 || x->item[e] >= n_items)
            return cr__fail(CR_ERR_INVALID, "record %lld has item %d outside 0..%d", (long long)e, x->item[e], n_items - 1);
    if ((st = cr__group_by_user(x, n_users, &off, &idx)) != CR_OK) return st;
    if ((st = cr__csr_alloc(out, n_users, n_items, x->n, 0)) != CR_OK) { CR_FREE(off); CR_FREE(idx); return st; }
    for (u = 0; u < n_users; u++) {
        int64_t b = off[u], n = off[u + 1] - b, k, j, r0 = w;
        if (by_time)
            for (k = 1; k < n; k++) {
                int64_t key = idx[b + k];
                for (j = k; j > 0 && x->time[idx[b + j - 1]] > x->time[key]; j--) idx[b + j] = idx[b + j - 1];
                idx[b + j] = key;
            }
        for (k = 0; k < n; k++) out->col[w++] = x->item[idx[b + k]];
        if (!by_time) { /* sorted and unique */
            int64_t q, m = r0;
            cr__sort_row(out->col + r0, NULL, w - r0);
            for (q = r0; q < w; q++)
                if (q == r0 || out->col[q] != out->col[m - 1]) out->col[m++] = out->col[q];
            w = m;
        }
        out->rowptr[u + 1] = w;
    }
    out->nnz = w;
    CR_FREE(off);
    CR_FREE(idx);
    return CR_OK;
}

/* ---- 5f. synthetic data ---- */

/* Draws an index from a cumulative weight table cdf[0..n) by binary search. */
static int32_t cr__draw_cdf(cr_rng *r, const double *cdf, int32_t n) {
    double x = (double)cr_rng_float(r) * cdf[n - 1];
    int32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] <= x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

CR_API cr_status cr_synthetic(cr_interactions *x, int32_t *n_users_out, int32_t *n_items_out,
                              const cr_synth_opts *opts) {
    cr_synth_opts o;
    int32_t U, I, C, i, u, c, *members = NULL, *succ = NULL, *hist = NULL;
    int64_t *coff = NULL;
    double *cdf = NULL, *gcdf = NULL, *w = NULL;
    cr_rng r;
    cr_status st = CR_OK;
    enum { NSUCC = 4 };
    memset(x, 0, sizeof *x);
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    if (!o.n_users) o.n_users = 2000;
    if (!o.n_items) o.n_items = 3000;
    if (!o.n_clusters) o.n_clusters = 20;
    if (!o.mean_len) o.mean_len = 30;
    if (o.zipf == 0) o.zipf = 0.8f;
    if (o.in_cluster == 0) o.in_cluster = 0.8f;
    if (o.follow == 0) o.follow = 0.5f;
    if (!o.seed) o.seed = 1;
    if (o.n_users < 1 || o.n_items < 10 || o.n_clusters < 1 || o.n_clusters > o.n_items / 5 ||
        o.mean_len < 5 || o.mean_len * 4 > o.n_items / 2 || !(o.zipf >= 0 && o.zipf <= 4) ||
        !(o.in_cluster >= 0 && o.in_cluster <= 1) || !(o.follow >= 0 && o.follow <= 1))
        return cr__fail(CR_ERR_INVALID, "cr_synthetic: options out of range (users %d >= 1, items %d >= 10, "
                        "clusters %d in 1..items/5, mean_len %d in 5..items/8, zipf %g in [0,4], in_cluster %g and follow %g in [0,1])",
                        o.n_users, o.n_items, o.n_clusters, o.mean_len, (double)o.zipf, (double)o.in_cluster, (double)o.follow);
    U = o.n_users;
    I = o.n_items;
    C = o.n_clusters;
    members = (int32_t *)cr__alloc_array((size_t)I, sizeof(int32_t), "synthetic data");
    succ = (int32_t *)cr__alloc_array((size_t)I * NSUCC, sizeof(int32_t), "synthetic data");
    hist = (int32_t *)cr__alloc_array((size_t)o.mean_len * 4 + 1, sizeof(int32_t), "synthetic data");
    coff = (int64_t *)cr__calloc_array((size_t)C + 1, sizeof(int64_t), "synthetic data");
    cdf = (double *)cr__alloc_array((size_t)I, sizeof(double), "synthetic data");
    gcdf = (double *)cr__alloc_array((size_t)I, sizeof(double), "synthetic data");
    w = (double *)cr__alloc_array((size_t)I, sizeof(double), "synthetic data");
    if (!members || !succ || !hist || !coff || !cdf || !gcdf || !w) { st = CR_ERR_NOMEM; goto done; }
    cr_rng_seed(&r, o.seed);
    /* item i belongs to cluster i % C; popularity ranks are a random permutation */
    for (i = 0; i < I; i++) members[i] = i;
    for (i = I - 1; i > 0; i--) {
        int32_t j = (int32_t)cr_rng_below(&r, (uint32_t)i + 1), t = members[i];
        members[i] = members[j];
        members[j] = t;
    }
    for (i = 0; i < I; i++) w[members[i]] = pow((double)i + 1.0, -(double)o.zipf);
    for (i = 0; i < I; i++) gcdf[i] = (i ? gcdf[i - 1] : 0) + w[i];
    /* members grouped by cluster, with per-cluster cumulative weights */
    for (i = 0; i < I; i++) coff[i % C + 1]++;
    for (c = 0; c < C; c++) coff[c + 1] += coff[c];
    for (c = 0; c < C; c++) {
        int64_t k = coff[c];
        for (i = c; i < I; i += C, k++) {
            members[k] = i;
            cdf[k] = (k > coff[c] ? cdf[k - 1] : 0) + w[i];
        }
    }
    /* each item has NSUCC likely successors in its own cluster */
    for (i = 0; i < I; i++) {
        int k;
        c = i % C;
        for (k = 0; k < NSUCC; k++)
            succ[(int64_t)i * NSUCC + k] = members[coff[c] + cr__draw_cdf(&r, cdf + coff[c], (int32_t)(coff[c + 1] - coff[c]))];
    }
    for (u = 0; u < U; u++) {
        cr_rng ru = cr_rng_stream(o.seed, (uint64_t)u + 1);
        int32_t len = 5 + (int32_t)(-log(1.0 - (double)cr_rng_float(&ru)) * (o.mean_len - 5)), t;
        int32_t uc = (int32_t)cr_rng_below(&ru, (uint32_t)C);
        if (len > o.mean_len * 4) len = o.mean_len * 4;
        for (t = 0; t < len; t++) {
            int32_t item = 0, tries, k;
            for (tries = 0; tries < 20; tries++) { /* no repeats within a history */
                float a = cr_rng_float(&ru);
                if (t > 0 && a < o.follow) item = succ[(int64_t)hist[t - 1] * NSUCC + cr_rng_below(&ru, NSUCC)];
                else if (cr_rng_float(&ru) < o.in_cluster)
                    item = members[coff[uc] + cr__draw_cdf(&ru, cdf + coff[uc], (int32_t)(coff[uc + 1] - coff[uc]))];
                else item = cr__draw_cdf(&ru, gcdf, I);
                for (k = 0; k < t && hist[k] != item; k++) {}
                if (k == t) break;
            }
            if (tries == 20) break; /* history saturated: end it here */
            hist[t] = item;
            if ((st = cr_interactions_push(x, u, item, 1.0f, (double)t)) != CR_OK) goto done;
        }
    }
    x->has_time = 1;
    *n_users_out = U;
    *n_items_out = I;
done:
    CR_FREE(members); CR_FREE(succ); CR_FREE(hist); CR_FREE(coff);
    CR_FREE(cdf); CR_FREE(gcdf); CR_FREE(w);
    if (st != CR_OK) cr_interactions_free(x);
    return st;
}

/* ---- 5g. datasets ---- */

CR_API void cr_dataset_free(cr_dataset *ds) {
    cr_idmap_free(&ds->users);
    cr_idmap_free(&ds->items);
    cr_interactions_free(&ds->train);
    cr_interactions_free(&ds->valid);
    cr_interactions_free(&ds->test);
    memset(ds, 0, sizeof *ds);
}

/* Drops held-out records whose (user, item) pair is also in train: masked at evaluation, they
   could never be hit. Returns how many went. */
static cr_status cr__drop_train_overlap(cr_interactions *held, const cr_interactions *train,
                                        int32_t n_users, int32_t n_items, int64_t *dropped) {
    cr_csr R;
    int64_t e, w = 0;
    cr_status st;
    *dropped = 0;
    if ((st = cr_interactions_to_csr(&R, train, n_users, n_items, 0)) != CR_OK) return st;
    for (e = 0; e < held->n; e++) {
        int64_t lo = R.rowptr[held->user[e]], hi = R.rowptr[held->user[e] + 1];
        while (lo < hi) { /* binary search in the user's sorted training items */
            int64_t mid = lo + (hi - lo) / 2;
            if (R.col[mid] < held->item[e]) lo = mid + 1;
            else hi = mid;
        }
        if (lo < R.rowptr[held->user[e] + 1] && R.col[lo] == held->item[e]) continue;
        held->user[w] = held->user[e];
        held->item[w] = held->item[e];
        held->rating[w] = held->rating[e];
        held->time[w] = held->time[e];
        w++;
    }
    *dropped = held->n - w;
    held->n = w;
    cr_csr_free(&R);
    return CR_OK;
}

CR_API cr_status cr_dataset_load(cr_dataset *ds, const char *train_path, const char *test_path,
                                 const cr_load_opts *opts) {
    cr_status st;
    int64_t overlap = 0;
    memset(ds, 0, sizeof *ds);
    st = cr_load_interactions(&ds->train, &ds->users, &ds->items, 1, train_path, opts, &ds->train_report);
    if (st == CR_OK && test_path) {
        st = cr_load_interactions(&ds->test, &ds->users, &ds->items, 0, test_path, opts, &ds->test_report);
        if (st == CR_OK && opts && opts->format != CR_FORMAT_SEQ)
            st = cr__drop_train_overlap(&ds->test, &ds->train, ds->users.n, ds->items.n, &overlap);
        ds->test_report.records -= overlap;
        ds->test_overlap = overlap;
        if (st == CR_OK && ds->test.n == 0)
            st = cr__fail(CR_ERR_EMPTY, "%s: no test interactions left (%lld records with users unknown to training, %lld with unknown items, %lld also in training)",
                          test_path, (long long)ds->test_report.unknown_user, (long long)ds->test_report.unknown_item, (long long)overlap);
    }
    if (st != CR_OK) { cr_dataset_free(ds); return st; }
    ds->n_users = ds->users.n;
    ds->n_items = ds->items.n;
    return CR_OK;
}

CR_API cr_status cr_dataset_synthetic(cr_dataset *ds, const cr_synth_opts *opts, int leave_last,
                                      double test_ratio) {
    cr_interactions all;
    cr_status st;
    uint64_t seed = opts && opts->seed ? opts->seed : 1;
    memset(ds, 0, sizeof *ds);
    if (leave_last < 0 || !(test_ratio >= 0 && test_ratio < 1))
        return cr__fail(CR_ERR_INVALID, "cr_dataset_synthetic: leave_last %d must be >= 0 and test_ratio %g in [0, 1)", leave_last, test_ratio);
    if ((st = cr_synthetic(&all, &ds->n_users, &ds->n_items, opts)) != CR_OK) return st;
    if (leave_last > 0) st = cr_split_leave_last(&all, ds->n_users, leave_last, &ds->train, &ds->test);
    else st = cr_split_ratio(&all, ds->n_users, test_ratio > 0 ? test_ratio : 0.2, cr_hash64(seed, 7), &ds->train, &ds->test);
    cr_interactions_free(&all);
    if (st == CR_OK) st = cr_idmap_identity(&ds->users, ds->n_users);
    if (st == CR_OK) st = cr_idmap_identity(&ds->items, ds->n_items);
    if (st != CR_OK) { cr_dataset_free(ds); return st; }
    ds->train_report.records = ds->train.n;
    ds->test_report.records = ds->test.n;
    return CR_OK;
}

CR_API cr_status cr_dataset_carve_valid(cr_dataset *ds, double ratio, int by_time, uint64_t seed) {
    cr_interactions keep, held;
    cr_status st;
    if (ds->valid.n) return cr__fail(CR_ERR_INVALID, "the dataset already has a validation set");
    if (by_time) st = cr_split_leave_last(&ds->train, ds->n_users, 1, &keep, &held);
    else {
        if (!(ratio > 0 && ratio < 1)) return cr__fail(CR_ERR_INVALID, "validation ratio %g is outside (0, 1)", ratio);
        st = cr_split_ratio(&ds->train, ds->n_users, ratio, seed, &keep, &held);
    }
    if (st != CR_OK) return st;
    cr_interactions_free(&ds->train);
    ds->train = keep;
    ds->valid = held;
    return CR_OK;
}

#endif /* CONTRAREC_IMPLEMENTATION_DONE */
#endif /* CONTRAREC_IMPLEMENTATION */

/*
------------------------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
ALTERNATIVE A - MIT License
Copyright (c) 2026 the contrarec authors
Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions: The above copyright notice and this
permission notice shall be included in all copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain. Anyone is free to copy,
modify, publish, use, compile, sell, or distribute this software, either in source code form or as
a compiled binary, for any purpose, commercial or non-commercial, and by any means.
------------------------------------------------------------------------------------------------
*/
