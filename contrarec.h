/* contrarec.h - v0.1 - contrastive and self-supervised recommendation in one C header.

   No dependencies beyond libc and libm (OpenMP optional). Trains, evaluates, saves and serves
   graph and sequence recommenders on a CPU: MF-BPR, LightGCN, SGL (node dropout, edge dropout,
   random walk, mixed and random-walk-subgraph views), SimGCL, XSimGCL, NCL, RecDCL, RCL
   (XSimGCL with false-negative-aware, confidence-weighted InfoNCE and adversarial views), with
   uniform, DNS or MixGCF negatives, projection heads and mixed InfoNCE negatives; and a GRU
   encoder trained with a next-item loss alone (GRU4Rec) or with CL4SRec-style contrast. Graph
   models can read item side information: an item's vector from its ID, its features or both,
   the attribute-ID contrast that lets items without interactions be served from their
   features, and feature masking as a contrastive view. Models are selected on a validation
   split (cr_fit) and the test set is read once, at the selected model.

   QUICK START
      Do this:
         #define CONTRAREC_IMPLEMENTATION
      before you include this file in *one* C or C++ file to create the implementation.
      Every other file just includes "contrarec.h". A whole program (examples/minimal.c):

         #define CONTRAREC_IMPLEMENTATION
         #include "contrarec.h"
         #include <stdio.h>
         #include <string.h>

         // Called after every epoch: where the run stands. Return non-zero to stop.
         static int progress(void *user, cr_model *m, const cr_fit_info *e) {
             (void)user;
             (void)m;
             printf("epoch %d: loss %.4f", e->epoch, e->train.loss);
             if (e->evaluated)
                 printf(", validation NDCG@20 %.4f (best %.4f, epoch %d)", e->sel.ndcg[1],
                        e->best_value, e->best_epoch);
             printf("\n");
             fflush(stdout);
             return 0;
         }

         int main(void) {
             cr_dataset ds;
             cr_config cfg;
             cr_fit_opts fit;
             cr_fit_result res;
             cr_model *m;
             memset(&cfg, 0, sizeof cfg);  // every zero field means "the model's default"
             memset(&fit, 0, sizeof fit);  // select on validation, stop when it stops improving
             cfg.model = CR_MODEL_XSIMGCL;
             fit.on_epoch = progress;
             if (cr_dataset_load(&ds, "train.txt", "test.txt", NULL) != CR_OK ||  // format found
                 cr_fit(&m, &cfg, &ds, &fit, &res) != CR_OK) {
                 fprintf(stderr, "%s\n", cr_last_error());  // names file, line and field
                 return 1;
             }
             printf("epoch %d, test Recall@20 %.4f NDCG@20 %.4f\n", res.best_epoch,
                    res.test.recall[1], res.test.ndcg[1]);
             cr_model_save(m, "model.crrc");  // atomic; cr_model_load reads it back
             cr_model_free(m);
             cr_dataset_free(&ds);
             return 0;
         }

      cr_fit carves a validation split out of the training data (10% of each user's
      interactions for graph data; each user's last training item for sequences), trains until
      the validation NDCG stops improving, keeps the best epoch's parameters, and reads the test
      set once, at that model. "Stops improving" survives the early dip of contrastive models:
      P (patience, 10) evaluations without a new best, but not before evaluation 2P and not
      while the last two evaluations each rose, up to 5P (cr_fit_opts.stop_rule 1: plain P).
      Graph models that add a weighted contrast to BPR (SGL, SimGCL, XSimGCL, NCL, RCL) back it
      off: when validation stays 10% below its best for 3 evaluations while BPR is still at
      chance, lambda is halved and training goes on from the best epoch (cr_fit_opts.backoff;
      -1 keeps the papers' fixed lambda). On dense data the papers' weights let the contrast
      alone steer Adam and undo the ranking; on Last.fm and Gowalla it never fires for XSimGCL.
      A long run can be made resumable: with cr_fit_opts.state_path the training state is
      written after every epoch, and a call that finds the file goes on after its epoch with the
      result an uninterrupted run on as many threads gives, bit for bit. For a loop of your own:
      cr_model_create, cr_train_epoch, cr_evaluate.

   TUNING
      Whether a contrastive model beats LightGCN depends on lambda, tau, eps, the learning rate
      and the L2 weight. cr_tune searches them on validation alone, within a time budget:

         cr_tune_opts t;                     // memset to 0: 9 trials, 5 epochs, eta 3
         cr_tune_result r;
         cr_model_kind kinds[2] = {CR_MODEL_LIGHTGCN, CR_MODEL_XSIMGCL};
         memset(&t, 0, sizeof t);
         t.models = kinds;                   // one leaderboard, each model with its own space
         t.n_models = 2;
         t.budget_seconds = 600;             // where the search stops, never what it draws
         if (cr_tune(&ds, &t, &r) == CR_OK) {
             fit.epochs = r.board[0].epochs; // the winner, trained as cr_fit does: the test set
             cr_fit(&m, &r.board[0].cfg, &ds, &fit, &res);  // is read here, once
             cr_tune_result_free(&r);
         }

      It is successive halving (Hyperband with t.brackets > 1): configurations drawn from each
      model's default space (the papers' ranges; cr_tune_default_space) or t.space, each trial
      a cr_fit from scratch for its rung's epochs with the test set hidden from it, the best
      1/eta going on for eta times the epochs. Trials retrain rather than continue: simpler, and
      a rung's figure is exactly what `train --epochs N` gives. Same seed, options, data and
      thread count: the same leaderboard; t.state_path makes a long search resumable.

      Build with -O3 -march=native -fopenmp for speed; without -fopenmp everything runs on one
      thread. Data formats: see cr_format. Raw ids in files are kept: results and
      recommendations come back in the user's own ids (cr_recommend, cr_model_export_npy).

   ERRORS
      Every fallible call returns a cr_status (CR_OK == 0, failures are negative). The message of
      the last failure on the calling thread is cr_last_error(): for input errors it names the
      file, the line and the field. Nothing in the library prints, aborts or exits on bad input;
      a failed call frees what it allocated and leaves its outputs empty; files are written to a
      temporary name and renamed, so a failed or interrupted save never damages the old file
      (cr_out: the same for a program's own files, with cr_out_check to refuse an unwritable
      output path, such as a folder or a missing folder, before any work).
      Programmer errors (a NULL where the contract forbids it, GEMM shapes that do not fit)
      go through CR_ASSERT.

   CONFIGURATION MACROS (define before including the implementation)
      CR_MALLOC(sz), CR_REALLOC(p,sz), CR_FREE(p)
                           allocator; define all three or none (default: libc). Allocation
                           failure is reported as CR_ERR_NOMEM, never a crash.
      CR_ASSERT(x)         programmer-error check (default: assert).
      CONTRAREC_STATIC     make every function static (CR_API becomes static).
      CR_API               linkage decoration of every public function (default: extern).
      CR_NO_SIMD           use the portable scalar kernels only (the SIMD level is otherwise
                           chosen at compile time: AVX-512, AVX2+FMA, SSE2, NEON or scalar).
      CR_NO_HUGEPAGES      never madvise() large buffers into transparent huge pages (Linux).
      CR_NO_FSYNC          skip fsync() before renaming a finished file into place.
      CONTRAREC_MPI        data-parallel training over MPI (includes <mpi.h>; build with mpicc):
                           see DATA-PARALLEL TRAINING. Without it the header has no MPI code.

   ITEM FEATURES
      Load them into the dataset (cr_load_item_features(&ds.features, &ds.items, "attrs.txt"),
      or a RecBole .item file) and set cfg.item_repr = CR_REPR_ID_FEATURES (or CR_REPR_FEATURES),
      cfg.fm_w (feature masking) and, for graph models, cfg.attr_w (the attribute-ID contrast).
      Feature masking (Yao et al. 2021) contrasts two complementary views of an item, view 1
      the mean of a share 1 - fm_rate of its features and view 2 that of the others (chosen at
      random, or with fm_corr = 1 a random feature and those of the highest PMI to it), over
      batch-size many items drawn uniformly from the items with two or more features, not from
      the batch; the item ID is not one of the masked features (cr__fm_mask says why).
      Graph and sequence models read one ego table (cr_model.E0: the parameters themselves for
      ID-only items, else rebuilt before each batch), so a new model gets features for free by
      reading E0 and accumulating into dE0. cr_fit_opts.cold_items holds a
      share of the items out of training and reports warm and cold rankings; a saved model
      carries the feature map, cr_model_feature_vector gives an item it never saw a vector
      from its features, and cr_model_add_item adds such an item to what cr_recommend ranks.

   THREADS AND DETERMINISM
      Parallel loops use OpenMP with static schedules and work splits derived from the sizes,
      never from the thread count; random numbers come from streams keyed by (seed, purpose,
      epoch, batch, row), never by thread. The same seed and thread count give bit-identical
      results; different thread counts differ only where a float reduction is split across
      threads. cr_set_num_threads(n) sets the number of threads.
      Serving from several threads: call cr_model_prepare(m) once; from then on cr_recommend,
      cr_recommend_items, cr_score_items, cr_model_feature_vector, cr_model_score_vectors,
      cr_evaluate and cr_model_embeddings only read the model (each call allocates its own
      scratch), so any number of threads may use one model
      at once, until it is trained again or its parameters are set.

   PROFILE
      cr_train_epoch times every epoch's phases (cr_phase: encoder, contrast, recommendation
      loss, Adam, sampling, the rest) into cr_epoch_stats.phase, cr_evaluate its own into
      cr_metrics.cost, each with the FLOPs and bytes its kernels must move. cr_machine_measure
      gives this machine's GEMM rate and bandwidth in about a second; cr_phase_floor turns a
      phase into the least time those rates allow, cr_phase_table prints the lot.

   MEMORY
      A model's parameters, gradients and Adam moments are one contiguous block each, in the same
      layout (cr_model_params / cr_model_grads), so a data-parallel trainer can all-reduce the
      gradients in one call. The training workspace is one more block, taken on the first
      training call and sized by what the model uses (LightGCN holds no InfoNCE buffers), so a
      model loaded only to serve never holds it. cr_model_memory_bytes counts all of them.
      Before any of it exists, cr_memory_plan(&plan, &cfg, &ds, &fit) gives a run's plan from
      the data's sizes and the options: each part in bytes (the dataset, the fit's split copies,
      parameters with gradients and Adam's moments, the best epoch's copy, the model's graph,
      tables and views, the training workspace from the same sizing pass that carves it, and the
      passing needs: building the graph, SGL's views, an evaluation), what training holds and the
      peak; cr_memory_plan_format prints it (`contrarec train --dry-run`), and
      cr_fit_opts.mem_limit (`--mem-limit 8G`) refuses a run whose peak is above a limit before
      any work, with the plan in the message. The tests hold every model's plan to within 10% of
      the bytes cr_fit really takes at its peak (an allocator that counts them).

   LARGE GRAPHS
      A whole-graph model (LightGCN, SGL, SimGCL, XSimGCL, NCL, RCL) propagates the whole graph
      once a batch, so an epoch costs about (interactions / batch) x layers x nnz x d: it grows
      as the square of the data. Two options cut it. cfg.batch up to 65,536 with cfg.lr_rule =
      CR_LR_SQRT (Adam's step lr x sqrt(batch / the model's default batch)) cuts the propagations
      an epoch in proportion; it suits the BPR-only models, as the in-batch contrast grows with
      the batch. cfg.fanout = f (LightGCN, SimGCL, XSimGCL) propagates only each batch's sampled
      neighbourhood: its users, positives and negatives, and at most f drawn neighbours of each
      node per layer, weighted so that each row's sum is an unbiased estimate of the whole row's
      (GraphSAGE's fixed fan-out), so a batch's encoder reaches at most 3 batch x (1 + f)^layers
      rows whatever the graph (Adam still steps every parameter); evaluation and serving still
      propagate the whole graph once.
      With f at least the largest degree a batch is the whole graph's (the tests check it).
      bench/RESULTS.md ("Sampled neighbourhoods") measures both against full propagation.

   DATA-PARALLEL TRAINING (MPI)
      Build with -DCONTRAREC_MPI and mpicc, call MPI_Init, and run the same program on every
      process (mpirun -np P): each loads the same data and options and builds the same model from
      the same seed. cr_train_epoch (and cr_fit, cr_evaluate) then split the work over the
      processes of MPI_COMM_WORLD (cr_mpi_set_comm for another communicator): every process draws
      the same shuffled batch and negatives and takes its block of the batch's rows for BPR and
      of the InfoNCE queries (against every key), each weighted as in the whole batch; the
      propagation's SpMMs compute a block of rows each and all-gather the layer; the backward
      pass sums the output gradients once (an all-reduce) and folds each process's rows into the
      ego gradient; the parameter gradients are all-reduced from their one block, and every
      process takes the same Adam step. The model is then the one process's up to the order of
      float sums (tests/test_mpi.c: within 2e-5 of the largest parameter on 2 and 4 processes).
      Evaluation ranks a block of users on each process and gathers the per-user results, so
      its numbers are one process's exactly. Process 0 alone writes files (cr_out, so
      checkpoints and training states); every process reads them, from a shared file system on
      a cluster. Training and evaluation are collective: every process makes the same calls; a
      callback's stop, a failed state save and tune's deadline are agreed among the processes
      (any one stops them all). Serving (cr_model_prepare and what calls it: cr_recommend,
      cr_model_embeddings, ...) propagates on each process alone, so one process may serve.
      cr_epoch_stats.comm_bytes counts what a process sent (cr_mpi_bytes_sent).
      MF, LightGCN, SimGCL and XSimGCL train this way (uniform or DNS negatives, projection head,
      mixed negatives, every L2 form); the others, MixGCF and item features are refused with a
      message rather than trained on a wrong gradient.

   SECTIONS (in data-flow order; search for "==== n." to jump)
      1. core          status and errors, memory, threads
      2. tensor        float32 tensors, integer arrays, vector helpers
      3. rng           xoshiro256** with independent streams
      4. kernels       cr_sgemm (packed, register-tiled SIMD), CSR matrices and cr_spmm (float32 or
                       bfloat16 rows)
      5. data          id maps, interactions, loaders, splits, synthetic data, item features,
                       datasets
      6. augmentation  edge/node dropout, random-walk subgraphs, SimGCL noise, feature masking
      7. losses        BPR, InfoNCE (in-batch, NT-Xent, RCL's robust forms; streamed through
                       tiles of keys, as the next-item softmax), L2, softmax CE; the projection head;
                       batch normalisation; Barlow Twins, polynomial uniformity, cosine
                       to stop-gradient targets (RecDCL)
      8. models        the model interface (8a), the option table and configuration (8b), the
                       model object (8c), the graph encoder with its forward and backward side by side (in a
                       Cuthill-McKee node order on two threads or more, its last layer at the rows a
                       batch reads; the same bits either way), the item
                       embedding bag, BPR with uniform, DNS or MixGCF negatives, the
                       attribute-ID and feature-masking contrasts, InfoNCE with a projection
                       head and mixed negatives (8d), one block per model: MF, LightGCN, SGL, SimGCL,
                       XSimGCL, NCL, RecDCL, RCL (8e-8l), the GRU sequence encoder with
                       backprop through time (8m), GRU4Rec, CL4SRec (8n, 8o), and the model
                       table (8p)
      9. training      Adam, the epoch loop shared by every model, cr_fit (model selection), the
                       memory plan, cr_tune
     10. evaluation    full-ranking metrics (the item table scored, masked and ranked a tile at
                       a time), top-k recommendation, fold-in, candidate scores
     11. I/O           checkpoints, dataset files (.crd) and .npy export
     12. pictures      SVG line and grouped bar charts, exact t-SNE, embedding maps

   ADDING A MODEL
      1. Give it a kind at the end of cr_model_kind (values are stored in checkpoints).
      2. Write its block in section 8, after the models it builds on: a `loss` function that
         computes the batch's loss parts and, with want_grad, accumulates the manual backward
         pass into m->grad (the forward and backward side by side), a `workspace` function
         that takes its training buffers from the arena by name (cr__takef), and whatever it
         does not share: `plan` (its parameter tensors), `setup`, `epoch_begin`, `check`, and
         `memory` (what setup and training allocate outside the workspace, in bytes, from its
         sizes and options alone: the memory plan calls it on a model that has nothing, and the
         test alloc/memory_plan_matches_what_fit_takes holds it to what the model takes).
         Graph models reuse cr__graph_plan/setup/prepare/..., the encoder cr__graph_encode and
         its backward, cr__graph_bpr and cr__graph_infonce; sequence models the GRU encoder.
         A model whose losses read the encoder's output at its batch's users, positives and
         negatives alone passes cr__graph_top(m, b) to cr__graph_encode and the same marks to
         cr__graph_encode_backward (the last layer is then computed there alone, and the
         gradient formed there alone; grad/last_layers_over_live_entries_train_the_same_bits
         checks the bits); one that reads other rows passes NULL to both.
         Read item embeddings from the ego table m->E0 and add their gradient into m->dE0
         (never the item_emb tensor itself): item features then work without further code.
         Its own buffers and running state go in a struct declared in its block, whose size its
         row gives (the last field): m->own then points to it, zeroed, from `plan` on, and it is
         freed with the model (SGL, NCL, RecDCL and RCL do this); the shared cr__graph holds
         only what several graph models use.
      3. Add one entry to cr__models (8p): its name, what kind of model it is (sequential,
         BPR negatives, propagates: the shared options of those kinds are then its options),
         its functions; and its defaults, one row each in cr__model_defaults (8b), for the
         shared options it sets apart (lr, batch, ...) and for lambda, eps, tau or lstar if it
         reads them (a default row is how a model says it reads an option no kind shares).
      4. Its own options: see ADDING AN OPTION, with the model's bit in the row's models column.
      5. Add a finite-difference check of its loss (tests/test_grad.c, MODEL_CHECK).
      Everything else (the epoch loop, Adam and clipping, numerical-fault checks, cr_fit,
      evaluation, serving, checkpoints, the CLI's --model, --help --model and its options, the
      config line) picks it up from the tables.

   ADDING AN OPTION (2 edits)
      1. A field at the end of cr_config, with a comment.
      2. A row at the end of cr__options (8b): name (the field's; the config line's and the
         checkpoint's key; the CLI's --flag with dashes), type, range, generic default, how an
         explicit 0 is held (CR_OFF or -1 when 0 means "off" and must not read as "the
         default"), enum names, the kinds of model (CR_READ_*) or the models that read it, and
         one line of help. cr_config_resolve fills the default and checks the range, refuses it
         for a model that does not read it, checkpoints keep it, cr_config_format prints it,
         cr_config_set, the CLI, bench_train and --help take it. A check across options goes
         in the model's `check`; a model's own default for it is a row of cr__model_defaults.

   REFERENCES (what "faithful" means here; see each model's comments for the details)
      LightGCN (He et al., SIGIR 2020), SGL (Wu et al., SIGIR 2021), SimGCL (Yu et al., SIGIR
      2022), XSimGCL (Yu et al., TKDE 2023), NCL (Lin et al., WWW 2022; RUCAIBox/NCL), DNS
      (Zhang et al., SIGIR 2013), MixGCF (Huang et al., KDD 2021; huangtinglin/MixGCF), RecDCL
      (Zhang et al., WWW 2024; THUDM/RecDCL, its run_beauty.sh settings); for RCL's parts DCL
      (Chuang et al., NeurIPS 2020), ADNCE (Wu et al., NeurIPS 2023) and APR's FGSM
      perturbation (He et al., SIGIR 2018); GRU4Rec
      (Hidasi et al., ICLR 2016), CL4SRec (Xie et al., ICDE 2022), CoSeRec (Liu et al., 2021)
      for insert/substitute; the loss forms follow the SELFRec and LightGCN-PyTorch code unless a
      comment says otherwise.

   LICENSE: MIT or public domain (Unlicense), at your choice; see the end of the file.
*/

#ifndef CONTRAREC_H
#define CONTRAREC_H

#include <stddef.h>
#include <stdint.h>
#ifdef CONTRAREC_MPI
#if defined(__cplusplus) && !defined(OMPI_SKIP_MPICXX)
#define OMPI_SKIP_MPICXX 1 /* the library uses MPI's C API; OpenMPI's deprecated C++ bindings warn */
#endif
#if defined(__cplusplus) && !defined(MPICH_SKIP_MPICXX)
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>
#endif

#define CR_VERSION_MAJOR 0
#define CR_VERSION_MINOR 1

#ifndef CR_API
#ifdef CONTRAREC_STATIC
#if defined(__GNUC__) || defined(__clang__)
#define CR_API static __attribute__((unused)) /* no warning for the functions a program skips */
#else
#define CR_API static
#endif
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

/* Data-parallel training over MPI (compile with -DCONTRAREC_MPI and mpicc; the program calls
   MPI_Init). Every process loads the same data and options; training then splits each batch's
   rows, the propagation's SpMM rows and the evaluation's users across the processes of the
   communicator (MPI_COMM_WORLD unless set), and all-reduces the gradients from their one block.
   Only process 0 writes files (checkpoints, training states). Without the macro: one process. */
#ifdef CONTRAREC_MPI
CR_API void cr_mpi_set_comm(MPI_Comm comm);
#endif
CR_API int cr_mpi_rank(void); /* 0 without MPI or before MPI_Init */
CR_API int cr_mpi_size(void); /* 1 without MPI or before MPI_Init */
/* Bytes this process has sent in collectives since the program started (a ring algorithm's
   count: an all-reduce of n bytes sends 2 (P-1)/P n, an all-gather of n (P-1)/P n), and the
   seconds it spent in them (waiting for the slowest process included). */
CR_API double cr_mpi_bytes_sent(void);
CR_API double cr_mpi_seconds(void);

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

/* Where an epoch's time goes: cr_train_epoch times each phase (wall seconds on the calling
   thread, whatever the threads under it do) and counts what its kernels must do: the FLOPs of
   the GEMMs and SpMMs and the bytes they and Adam must move (operands read once, outputs
   written once: the traffic a perfect kernel would still have, not what the current one has).
   max(flops / GEMM rate, bytes / bandwidth) is then the phase's floor on a given machine. */
typedef enum cr_phase {
    CR_PHASE_ENCODE,   /* graph propagation or the GRU, forward and backward */
    CR_PHASE_CONTRAST, /* contrastive losses: InfoNCE, prototypes, Barlow Twins, uniformity */
    CR_PHASE_REC,      /* the recommendation loss: BPR (with DNS or MixGCF) or next-item softmax */
    CR_PHASE_ADAM,     /* the optimiser step */
    CR_PHASE_SAMPLE,   /* shuffling, negatives, augmented views, k-means */
    CR_PHASE_OTHER,    /* the rest of a batch: gathers, L2, feature tables, checks */
    CR_PHASE_EVAL,     /* full-ranking evaluation (cr_metrics.cost) */
    CR_PHASE_COUNT
} cr_phase;

typedef struct cr_phase_cost {
    double seconds;
    double flops; /* GEMM and SpMM multiply-adds x 2 */
    double bytes; /* operands and results of those kernels and of Adam, each once */
} cr_phase_cost;

CR_API const char *cr_phase_name(int phase); /* "encode", "contrast", ...; "?" out of range */


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
/* bfloat16 (a float32's high 16 bits): cr_bf16_from_f32 rounds to nearest, ties to even (NaN
   stays NaN, beyond the largest bf16 becomes infinity); cr_bf16_to_f32 is exact. */
CR_API void cr_bf16_from_f32(uint16_t *dst, const float *src, int64_t n);
CR_API void cr_bf16_to_f32(float *dst, const uint16_t *src, int64_t n);
/* cr_spmm with X's rows stored as bfloat16 and float32 sums: Y is cr_spmm of the widened X, bit
   for bit, from half the bytes gathered (cr_config.precision). */
CR_API void cr_spmm_bf16(const cr_csr *A, const uint16_t *X, int d, float *Y);

/* What this machine's cores reach, measured in about a second on the current thread count,
   for the cost model of cr_phase_cost: cr_sgemm's rate on a 1024^3 product, and the bandwidth
   of y = a x (bytes read plus bytes written, as STREAM counts them) over two arrays of 16 MB
   (in the last-level cache of most servers, where the graph tables of Gowalla-sized data
   live) and of 256 MB (memory). Each figure is the best of several repetitions. */
typedef struct cr_machine {
    int threads;
    double gemm_gflops;
    double cache_gbs;
    double dram_gbs;
} cr_machine;
CR_API cr_status cr_machine_measure(cr_machine *out);
/* The least time a phase's counted work takes at the machine's rates:
   max(flops / gemm rate, bytes / cache bandwidth), in seconds. */
CR_API double cr_phase_floor(const cr_phase_cost *c, const cr_machine *mc);
/* The profile as a table into buf (n bytes, always terminated): per phase with any time,
   seconds, GFLOP, GB, GFLOP/s, GB/s, the floor and floor / seconds, then the total.
   Returns the length it needed, as snprintf. */
CR_API int cr_phase_table(char *buf, size_t n, const cr_phase_cost *ph, int count, const cr_machine *mc);

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
    CR_FORMAT_AUTO = 0,     /* found from the file's first lines (the default): see cr_detect_format */
    CR_FORMAT_LIGHTGCN = 1, /* "uid iid iid ...", one user per line */
    CR_FORMAT_TRIPLETS = 2, /* "user item [rating [timestamp]]", spaces, tabs or commas */
    CR_FORMAT_MOVIELENS = 3,/* "user item rating timestamp": u.data (tabs), ratings.dat (::),
                               ratings.csv (commas, header line) */
    CR_FORMAT_SEQ = 4       /* "user:item item ..." or "user item item ...", in time order */
} cr_format;
#define CR_FORMAT_COUNT 5
CR_API const char *cr_format_name(cr_format f); /* "auto", "lightgcn", "triplets", "movielens", "seq" */

/* The layout of a text of interactions, from its first 1,000 data lines: "user::item::..."
   is MovieLens 1M; "user: item item" (a colon after the first field) sequences; a header line
   of names with 2 to 4 fields triplets (4: MovieLens's CSV); lines of varying width, or wider
   than 4 fields, item lists (LightGCN's); 2 fields a pair per line (triplets). Lines of 3 or 4
   fields are where a reading can go wrong: the third field reads as a rating when it has a
   decimal point or stays within 0..10 while item ids go past 10, the fourth as a timestamp when
   it has a decimal point or is at least 10^6; both (3 fields: the rating) make triplets or
   MovieLens, and a line whose later fields look like ratings and timestamps is never read as
   an item list. Third and fourth fields that look like item ids make item lists. Anything else
   could be read two ways: CR_ERR_PARSE names the readings and how to choose one. Item lists
   are CR_FORMAT_LIGHTGCN: a caller that means sequences passes CR_FORMAT_SEQ (the CLI does so
   for sequence models). A RecBole header is recognised by the loaders before this runs. */
CR_API cr_status cr_detect_format(const char *text, size_t len, const char *name, cr_format *out);
/* Whatever the format, a file whose first line is a RecBole header ("user_id:token
   item_id:token rating:float timestamp:float", tab-separated) loads as RecBole's .inter: user
   and item ids from the columns of those names (integer tokens), rating and timestamp when
   present, other columns ignored; messages keep the file's line numbers. */

typedef struct cr_load_opts {
    cr_format format;
    int skip_bad_lines;  /* 1: skip malformed lines and count them, instead of failing */
    int keep_duplicates; /* 1: keep repeated (user, item) pairs (default: keep the first) */
    float min_rating;    /* > 0: drop records rated below it (explicit -> implicit feedback) */
    int64_t chunk_bytes; /* text parsed per thread at a time (0: 4 MiB); a text of two chunks or more is
                            parsed on every thread, with the same result and messages as on one */
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
    cr_format format;       /* the format read (CR_FORMAT_AUTO resolved; triplets for RecBole) */
    int detected;           /* 1: found by cr_detect_format, 0: given */
} cr_load_report;

/* Loads path into x. Ids are mapped through users/items: with add_ids, unseen raw ids are added
   (training files); without, records with unseen ids are dropped and counted in the report
   (test files). On failure x is empty, the maps are unchanged... except for ids added by the
   lines before the error, and cr_last_error() names file, line and field. */
CR_API cr_status cr_load_interactions(cr_interactions *x, cr_idmap *users, cr_idmap *items,
                                      int add_ids, const char *path, const cr_load_opts *opts,
                                      cr_load_report *report);
/* The same, from len bytes of text already in memory; name is used in messages. */
CR_API cr_status cr_parse_interactions(cr_interactions *x, cr_idmap *users, cr_idmap *items,
                                       int add_ids, const char *text, size_t len, const char *name,
                                       const cr_load_opts *opts, cr_load_report *report);

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

/* Item side information: which features (attributes: brand, categories, tags) each item has,
   with weights. RecBole's .item files load as they are (section 5d'); the library's own format
   has one line per item, "item feat feat ..." or "item feat:weight ...":
   raw integer ids, blanks between fields, '#' comments and blank lines skipped. Items are mapped
   through the dataset's item ids: a line for an item the data does not know is skipped and
   counted (unknown_items, first_unknown_line); items without a line have no features; a feature
   repeated on a line is kept once, with its first weight, and counted (repeated: S3-Rec's
   Beauty attributes have 5 such lines). A second line for the same item, a line with an item
   but no features, or a weight that is not a positive finite number fail, naming file, line
   and field. */
typedef struct cr_item_features {
    cr_csr x;                   /* items x features: row i holds item i's features (dense ids)
                                   and weights (1 where none is given); empty rows: none */
    cr_idmap feats;             /* dense feature id <-> raw feature id */
    int64_t lines;              /* lines read */
    int64_t items_with;         /* items that have features */
    int64_t unknown_items;      /* lines skipped: the item is not in the data */
    int64_t first_unknown_line; /* the first of them (0 if none) */
    int64_t repeated;           /* features repeated on their line (kept once) */
    int64_t first_repeated_line;
} cr_item_features;

CR_API cr_status cr_parse_item_features(cr_item_features *f, const cr_idmap *items, const char *text, size_t len,
                                        const char *name);
CR_API cr_status cr_load_item_features(cr_item_features *f, const cr_idmap *items, const char *path);
CR_API void cr_item_features_free(cr_item_features *f);

/* A training set with optional validation and test sets sharing one id space (the training
   file's). Test records whose user or item is unknown to training are dropped and counted in
   test_report.unknown_user / unknown_item, never silently. */
typedef struct cr_dataset {
    cr_idmap users, items;
    int32_t n_users, n_items;
    cr_interactions train, valid, test;
    cr_load_report train_report, test_report;
    int64_t test_overlap; /* test records dropped because the pair is also in train */
    cr_item_features features; /* item side information (x.nrows == 0: none); load it with
                                  cr_load_item_features(&ds->features, &ds->items, path) */
} cr_dataset;

/* Loads train (adds ids) and, if test_path is not NULL, test (maps ids). Test records whose
   (user, item) pair is also in train are dropped and counted in test_overlap (they could never
   be hit), except for sequence files (CR_FORMAT_SEQ), where a repeat is a legitimate next item.
   opts NULL means CR_FORMAT_AUTO with the defaults; with CR_FORMAT_AUTO the test file is read
   in the format found for the training file. With CR_FORMAT_AUTO a file cr_dataset_save wrote
   (it begins "CRDS") is read whole as the dataset it holds (test_path must then be NULL). */
CR_API cr_status cr_dataset_load(cr_dataset *ds, const char *train_path, const char *test_path,
                                 const cr_load_opts *opts);
/* Writes the dataset to a binary file (the id maps, the train, validation and test records with
   their ratings and times, the item features; little-endian, checksummed, written atomically)
   that cr_dataset_load reads back without parsing text: `contrarec convert`. */
CR_API cr_status cr_dataset_save(const cr_dataset *ds, const char *path);
/* The same from arrays of raw ids (each in [0, 2^32)): n_train training and n_test test pairs
   (test arrays may be NULL with n_test 0), in time order for sequences (sequential = 1).
   Repeated pairs keep their first record; test pairs also in training are dropped unless
   sequential. */
CR_API cr_status cr_dataset_from_arrays(cr_dataset *ds, const int64_t *train_users, const int64_t *train_items,
                                        int64_t n_train, const int64_t *test_users, const int64_t *test_items,
                                        int64_t n_test, int sequential);
/* Synthetic dataset; held-out test by leave_last (>0: that many latest records per user) or by a
   per-user random ratio (test_ratio, default 0.2). */
CR_API cr_status cr_dataset_synthetic(cr_dataset *ds, const cr_synth_opts *opts, int leave_last,
                                      double test_ratio);
/* Moves a validation (or test) set out of train: a per-user random ratio, or each user's latest
   record (by_time). The random draws of the two come from different streams of seed, so a test
   split and a validation split made with the same seed are independent. */
CR_API cr_status cr_dataset_carve_valid(cr_dataset *ds, double ratio, int by_time, uint64_t seed);
CR_API cr_status cr_dataset_carve_test(cr_dataset *ds, double ratio, int by_time, uint64_t seed);
/* Splits a dataset that has only training records into train / valid / test per user, as
   RecBole's RO_RS with group_by_user (the RecDCL protocol): each user's records are shuffled
   (a stream of seed per user), valid and test get floor(ratio x n) each, then, test first,
   a part whose ratio x n lies in (0, 1) gets one record taken from train while train keeps
   more than one; train keeps the rest (n = 5: 3/1/1, 10: 8/1/1, 20: 16/2/2). The ratios are
   positive and sum to 1; records keep their file order within each part. */
CR_API cr_status cr_dataset_split_ratio(cr_dataset *ds, double r_train, double r_valid, double r_test, uint64_t seed);
/* Noisy training data, to measure robustness (SGL's add_noise.py): adds floor(ratio * |train|)
   uniformly random pairs to x (user and item uniform; a pair is accepted if it is not in x, nor
   in any of the `avoid` sets (n_avoid of them: validation, test), nor already added). A noisy
   record takes a time drawn uniformly within its user's span, so in a sequence it lands at a
   random place. *added receives the count. */
CR_API cr_status cr_interactions_add_noise(cr_interactions *x, int32_t n_users, int32_t n_items, double ratio,
                                           uint64_t seed, const cr_interactions *const *avoid, int n_avoid,
                                           int64_t *added);
CR_API void cr_dataset_free(cr_dataset *ds);

/* ==== 6. augmentation ======================================================================= */

/* Graph augmentations work on the list of n training edges and produce keep flags that
   cr_graph_bipartite turns into an augmented graph (then re-normalised). */

/* Edge dropout: keeps exactly floor((1 - drop) n) edges (SELFRec's count), chosen uniformly
   without replacement. */
CR_API cr_status cr_aug_edge_dropout(uint8_t *keep, int64_t n, float drop, uint64_t seed);
/* Node dropout: drops floor(drop * U) users and floor(drop * I) items with all their edges. */
CR_API cr_status cr_aug_node_dropout(uint8_t *keep, int64_t n, const int32_t *users,
                                     const int32_t *items, int32_t n_users, int32_t n_items,
                                     float drop, uint64_t seed);
/* Random-walk subgraph: ui is the user -> item pattern (rows users, nnz edges; edge e is its
   e-th stored entry, the order of cr_interactions_to_csr and of a model's edge list). From
   uniformly drawn start users, walks with restart take walk_len steps user -> item -> user
   each, jumping back to their start user with probability restart after a step, and keep[e] =
   1 for every edge they cross, until floor(keep_ratio * nnz) distinct edges are kept (at most
   one more: a step crosses two) or 20 * nnz steps have been taken. */
CR_API cr_status cr_aug_rw_subgraph(uint8_t *keep, const cr_csr *ui, float keep_ratio, float restart,
                                    int walk_len, uint64_t seed);
/* SimGCL noise, in place: E[r] += eps * sign(E[r]) (.) normalize(u), u ~ U(0,1)^d per row. */
CR_API void cr_aug_noise(float *E, int64_t rows, int d, float eps, uint64_t seed);
/* Node-feature masking: zeroes each of the d feature columns with probability rate (the same
   columns for every row); mask[j] receives 0 or 1 so a backward pass can apply it too. */
CR_API void cr_aug_feature_mask(float *E, int64_t rows, int d, float rate, uint64_t seed,
                                uint8_t *mask);

/* ==== 7. losses ============================================================================= */

/* All losses return their value and ACCUMULATE gradients (+=), like llm.c's backward kernels. */

/* BPR over B triples of gathered rows (B, d): mean of -log sigmoid(<u,p> - <u,n>) * weight. */
CR_API double cr_bpr_loss(float *du, float *dp, float *dn, const float *u, const float *p,
                          const float *n, int B, int d, float weight);

/* InfoNCE with cosine similarity. Q (n, d) are anchors, K (m, d) candidates; the positive of
   row i is K[pos[i]] (pos NULL: i), and K[self[i]] is left out of row i's softmax (self NULL:
   nothing left out; SimCLR's NT-Xent uses Q == K = [z1; z2], self[i] = i).
   loss = weight * mean_i( logsumexp_{j != self_i} S_ij - S_i,pos_i ),  S = Qn Kn^T / tau.
   dQ and dK may alias (Q == K). ws must hold cr_infonce_workspace(n, m, d) floats, which
   also serves any smaller n (a batch's distinct users or items are fewer than its size). */
CR_API double cr_infonce_loss(float *dQ, float *dK, const float *Q, const float *K, int n, int m,
                              int d, const int32_t *pos, const int32_t *self, float tau,
                              float weight, float *ws);
CR_API int64_t cr_infonce_workspace(int n, int m, int d);

/* Robust InfoNCE: cr_infonce_loss with known false negatives left out, a debiased or
   re-weighted negative term and confidence-weighted rows (any combination). With o NULL it
   is cr_infonce_loss, bit for bit. Per row i, P = exp(S_ip) and the negatives j (not the
   positive, not self, not masked) give
     CR_NCE_PLAIN  G = sum_j exp(S_ij)
     CR_NCE_DCL    G = max((sum_j exp(S_ij) - tau_plus N P) / (1 - tau_plus), N exp(-1/tau))
                   (Chuang et al., NeurIPS 2020; N the row's negatives)
     CR_NCE_ADNCE  G = sum_j w_j exp(S_ij), w_j = exp(-(cos_ij - mu)^2 / (2 sigma^2)) over its
                   mean on the row, a constant of the backward pass (Wu et al., NeurIPS 2023)
   l_i = -log(P / (P + G)); loss = weight * sum_i c_i l_i / sum_i c_i with c_i = (P/(P+G))^gamma
   held constant (gamma 0: c_i = 1, the mean). */
typedef enum cr_nce_estimator { CR_NCE_PLAIN = 0, CR_NCE_DCL = 1, CR_NCE_ADNCE = 2 } cr_nce_estimator;
typedef struct cr_infonce_opts {
    const int64_t *mask_ptr; /* (n + 1) or NULL: row i leaves out the candidates           */
    const int32_t *mask_col; /*   mask_col[mask_ptr[i] .. mask_ptr[i + 1] - 1] (never its positive) */
    int estimator;           /* cr_nce_estimator */
    float tau_plus;          /* DCL: the share of false negatives assumed, in [0, 1) */
    float mu, sigma;         /* ADNCE: centre and width (> 0) of the weights on the cosine */
    float gamma;             /* confidence exponent, >= 0 */
} cr_infonce_opts;
CR_API double cr_infonce_loss_ex(float *dQ, float *dK, const float *Q, const float *K, int n, int m,
                                 int d, const int32_t *pos, const int32_t *self, float tau,
                                 float weight, const cr_infonce_opts *o, float *ws);

/* Squared L2: weight * 0.5 * sum x^2 / denom over n floats (dx += weight * x / denom). */
CR_API double cr_l2_loss(float *dx, const float *x, int64_t n, float weight, float denom);
/* SELFRec's form: weight * ||X||_F / rows (not squared). */
CR_API double cr_l2_frobenius_loss(float *dx, const float *x, int64_t rows, int d, float weight);

/* Softmax cross-entropy of logits (B, C) against targets (B,), mean over rows whose target is
   >= 0, times weight. dlogits (may alias logits) receives weight * (softmax - onehot) / count;
   rows with a negative target get zero gradient. */
CR_API double cr_softmax_xent_loss(float *dlogits, const float *logits, const int32_t *target,
                                   int B, int C, float weight);

/* Batch normalisation in training mode, as PyTorch's BatchNorm1d: per column of X (n rows, d
   columns) the batch mean and biased variance, xhat = (x - mean) / sqrt(var + eps), Y = gamma
   xhat + beta (gamma and beta NULL: Y = xhat, the non-affine form). xhat (n, d; may be Y when
   non-affine), mean (d) and inv_std (d) are outputs the backward pass reads. */
CR_API void cr_batchnorm_forward(float *Y, float *xhat, float *mean, float *inv_std, const float *X, int n, int d,
                                 const float *gamma, const float *beta, float eps);
/* Its backward, the batch statistics differentiated too: dX, dgamma, dbeta accumulated (+=;
   dgamma and dbeta NULL when non-affine); ws holds 2 d floats. */
CR_API void cr_batchnorm_backward(float *dX, float *dgamma, float *dbeta, const float *dY, const float *xhat,
                                  const float *inv_std, const float *gamma, int n, int d, float *ws);

/* Barlow Twins between paired rows of Za and Zb (B, d; RecDCL's UIBT): C = Za^T Zb / B (d x d),
   loss = weight * ((1/d) sum_m (1 - C_mm)^2 + off (1/d) sum_{m != n} C_mn^2). dZa and dZb are
   accumulated (+=); ws holds d * d floats. */
CR_API double cr_barlow_twins_loss(float *dZa, float *dZb, const float *Za, const float *Zb, int B, int d, float off,
                                   float weight, float *ws);
/* Feature uniformity with a polynomial kernel (RecDCL's UUII, per side): G = Z^T Z (d x d, not
   divided by B), loss = weight * log((1/d^2) sum_mn (a G_mn + c)^e), e a positive even integer.
   dZ accumulated (+=); ws holds d * d floats. */
CR_API double cr_poly_uniformity_loss(float *dZ, const float *Z, int B, int d, float a, float c, int e, float weight,
                                      float *ws);
/* Negative cosine to fixed targets (BYOL's and RecDCL's BCL): loss = -weight * mean_b
   cos(P_b, T_b); T is not differentiated (a stop-gradient target). dP accumulated (+=); a zero
   row of P or T contributes 0. */
CR_API double cr_cosine_target_loss(float *dP, const float *P, const float *T, int B, int d, float weight);

/* ==== 8. models ============================================================================= */

/* Model kinds. The values are stable (checkpoints store them); new models take new values. */
typedef enum cr_model_kind {
    CR_MODEL_MF = 1,       /* matrix factorisation, BPR */
    CR_MODEL_LIGHTGCN = 2, /* LightGCN, BPR */
    CR_MODEL_SGL = 3,      /* SGL: augmented-graph views + InfoNCE */
    CR_MODEL_SIMGCL = 4,   /* SimGCL: noise-perturbed views + InfoNCE */
    CR_MODEL_XSIMGCL = 5,  /* XSimGCL: one noisy pass, cross-layer InfoNCE */
    CR_MODEL_GRU4REC = 6,  /* GRU encoder, next-item loss */
    CR_MODEL_CL4SREC = 7,  /* GRU encoder, next-item loss + CL4SRec-style contrast */
    CR_MODEL_NCL = 8,      /* NCL: structure and prototype contrast on LightGCN */
    CR_MODEL_RECDCL = 9,   /* RecDCL: feature-wise and batch-wise contrast on LightGCN */
    CR_MODEL_RCL = 10      /* RCL: robust contrast (false negatives, adversarial views, confidence) on XSimGCL */
} cr_model_kind;

CR_API const char *cr_model_name(cr_model_kind k); /* "mf", "lightgcn", ...; "?" if unknown */
CR_API cr_model_kind cr_model_parse(const char *name); /* 0 if unknown */
CR_API int cr_model_is_sequential(cr_model_kind k);
CR_API const char *cr_model_list(void); /* every model's name, space-separated */
CR_API const char *cr_model_about(cr_model_kind k); /* one line on what the model is; "" if unknown */

/* SGL's augmented views: edge dropout, node dropout, a different ED graph per layer (SGL-RW),
   ND or ED drawn per view and epoch (mixed), the subgraph covered by random walks with
   restart from random users (subgraph). */
typedef enum cr_graph_aug {
    CR_AUG_ED = 1,
    CR_AUG_ND = 2,
    CR_AUG_RW = 3,
    CR_AUG_MIXED = 4,
    CR_AUG_SUBGRAPH = 5
} cr_graph_aug;

/* Negatives of BPR: uniform (rejecting the user's items), DNS (the best-scored of M uniform
   candidates), MixGCF (a synthetic negative mixed from the positive and M candidates). */
typedef enum cr_neg_sampler { CR_NEG_UNIFORM = 1, CR_NEG_DNS = 2, CR_NEG_MIXGCF = 3 } cr_neg_sampler;

/* Sequence augmentations (bit flags, composable). */
#define CR_SEQAUG_MASK 1u
#define CR_SEQAUG_CROP 2u
#define CR_SEQAUG_REORDER 4u
#define CR_SEQAUG_INSERT 8u
#define CR_SEQAUG_SUBSTITUTE 16u

/* A float option set to CR_OFF is zero; 0 means "the paper default". */
#define CR_OFF (-1.0f)

/* Model and training configuration. Zero-initialise it and
   set what you need: every 0 means the default for the chosen model (cr_config_resolve).
   memset(&c, 0, sizeof c) does it in C and C++ alike; `= {0}` works too, but g++ and clang++
   warn about it under -Wextra. */
typedef struct cr_config {
    int dim;        /* embedding size: 64 */
    cr_model_kind model;
    int layers;     /* graph propagation layers: 3 (LightGCN, SGL, SimGCL), 2 (XSimGCL) */
    float lr;       /* Adam learning rate: 1e-3 (graph models, as the papers), 3e-3 (sequence models) */
    int batch;      /* 2048 (graph), 256 (sequence) */
    float reg;      /* L2 weight: 1e-4 (graph models), 0 (sequence models) */
    int l2_selfrec; /* 0: squared L2 of the batch's ego embeddings / batch (papers);
                       1: SELFRec's per-model form, to match published SELFRec figures */
    float tau;      /* InfoNCE temperature: SGL 0.2, SimGCL 0.2, XSimGCL 0.15, CL4SRec 0.2 */
    float lambda;   /* contrastive weight: SGL 0.1, SimGCL 0.5, XSimGCL 0.2, CL4SRec 0.1 */
    float eps;      /* noise magnitude: SimGCL 0.1, XSimGCL 0.2 */
    float drop;     /* SGL dropout ratio rho: 0.1 */
    int aug;        /* SGL augmentation: CR_AUG_ED (default), CR_AUG_ND, CR_AUG_RW */
    int lstar;      /* XSimGCL contrasted layer l*: 1 */
    float clip;     /* clip the global gradient norm to this (0: no clipping) */
    uint64_t seed;  /* 2024 */
    /* sequence models */
    int max_len;      /* last max_len items of each sequence: 50 */
    int hidden;       /* GRU hidden size: dim */
    int gru_layers;   /* 1 */
    float dropout;    /* dropout on embeddings and GRU outputs: 0.2 */
    int proj_head;    /* 2-layer MLP projection head before the contrastive loss: 1 on, -1 off;
                         default on for CL4SREC (see tau) */
    unsigned seq_aug; /* CR_SEQAUG_* flags: default crop | mask | reorder */
    float aug_rate;   /* share of a sequence that mask, reorder, insert and substitute change
                         (CL4SRec's gamma and beta): 0.2 */
    float crop_keep;  /* share of a sequence that crop keeps (CL4SRec's eta): 0.8 */
    int neg_samples;  /* 0: full softmax over all items; > 0: sampled softmax with that many
                         shared negatives per batch */
    /* graph models */
    int neg;            /* BPR negatives: CR_NEG_UNIFORM (default), CR_NEG_DNS, CR_NEG_MIXGCF */
    int neg_candidates; /* DNS and MixGCF: M candidates per training pair: 64 */
    int cl_negatives;   /* uniformly drawn items added to the item-side InfoNCE negatives: 0 */
    int view_every;     /* SGL: rebuild the augmented graphs every N epochs: 1 */
    int rw_len;         /* subgraph views: steps of each random walk from a start user: 16 */
    float rw_restart;   /* subgraph views: chance of jumping back to the start user: 0.2 */
    /* NCL (lambda is the structure-contrast weight, lstar the layer contrasted with layer 0) */
    float proto_reg;    /* prototype-contrast weight: 5e-8 */
    float ssl_alpha;    /* weight of the item side of the structure contrast: 0.5 */
    int clusters;       /* k-means prototypes per side: 10 */
    int warmup;         /* epochs before the prototype term starts: 20 (-1: none) */
    /* RecDCL (lambda is the UIBT weight: 1; reg its weight decay on every parameter: 1e-7) */
    float bt_off;       /* UIBT: weight of the off-diagonal cross-correlations: 0.01 */
    float poly_w;       /* UUII (polynomial feature uniformity) weight: 0.2 */
    float bcl_w;        /* BCL weight: 5 */
    float momentum;     /* BCL: share of the stored embedding in the target: 0.1 */
    /* RCL (on the XSimGCL encoder and options) */
    int nce_mask;       /* leave known false negatives out of InfoNCE: 1 on (default), -1 off */
    int nce_est;        /* negative term: CR_NCE_PLAIN (default), CR_NCE_DCL, CR_NCE_ADNCE */
    float tau_plus;     /* DCL: assumed share of false negatives: 0.1 */
    float nce_mu, nce_sigma; /* ADNCE: the weights' centre (0.5) and width (1) on the cosine */
    float gamma;        /* confidence weights on BPR's pairs, sigmoid(x_uij)^gamma: 0 (off) */
    int adv;            /* perturbation: 0 or -1 XSimGCL's random noise (default), CR_ADV_EXACT, CR_ADV_PREV */
    /* item side information (the dataset's cr_item_features; sequence models: item_repr, fm_w) */
    int item_repr;      /* an item's input vector: CR_REPR_ID (default), CR_REPR_ID_FEATURES (its ID
                           embedding plus the weighted mean of its features' embeddings) or
                           CR_REPR_FEATURES (the mean alone: items without interactions get a
                           vector from what they are) */
    float attr_w;       /* attribute-ID contrast weight: 0 (off) */
    float attr_tau;     /* its temperature: 0.2 */
    float fm_w;         /* feature-masking contrast weight: 0 (off); temperature tau */
    float fm_rate;      /* share of an item's features view 1 masks (view 2 masks the rest): 0.5 */
    int fm_corr;        /* 1: correlated masking (a random feature with those of the highest PMI
                           to it), -1 random masking (a uniform subset; default) */
    int init;           /* graph models' ego tables (user_emb, item_emb): CR_INIT_FIXED (MF, LightGCN,
                           SGL, NCL) or CR_INIT_XAVIER (SimGCL, XSimGCL, RCL, RecDCL); see
                           cr__graph_plan */
    int l2_recbole;     /* NCL: 1 takes RecBole's EmbLoss (the NCL authors' L2), reg * (|U|_F + |P|_F +
                           |N|_F) / batch on the batch's ego rows, norms not squared; 0 the squared
                           form of l2_selfrec 0 (default) */
    int precision;      /* the graph encoder's propagated tables (LightGCN, SGL, SimGCL, XSimGCL, NCL, RCL):
                           CR_PRECISION_F32 (default) or CR_PRECISION_BF16, bfloat16 rows summed in float32
                           (half the bytes each propagation gathers; parameters, gradients and Adam stay
                           float32) */
    int lr_rule;        /* CR_LR_FIXED (default): Adam's step is lr at any batch size; CR_LR_SQRT: lr
                           times sqrt(batch / the model's default batch), the square-root rule for
                           Adam (Malladi et al., NeurIPS 2022), for large batches */
    int fanout;         /* LightGCN, SimGCL, XSimGCL: 0 (default) propagates the whole graph every
                           batch; f > 0 propagates only the batch's sampled neighbourhood, at most f
                           neighbours per node (GraphSAGE's fixed fan-out), so that a batch's
                           propagation costs the same whatever the graph's size (serving still
                           propagates it whole) */
} cr_config;

/* The propagated tables' number format (cr_config.precision). */
enum { CR_PRECISION_F32 = 1, CR_PRECISION_BF16 = 2 };
enum { CR_LR_FIXED = 1, CR_LR_SQRT = 2 }; /* cr_config.lr_rule */

/* How a graph model draws its ego tables (cr_config.init). FIXED: U(-0.1 sqrt 3, 0.1 sqrt 3),
   standard deviation 0.1 whatever the table's size (LightGCN's official code draws N(0, 0.1)).
   XAVIER: Xavier-uniform over the whole (rows, dim) table, as SELFRec and the SGL, SimGCL and
   XSimGCL authors' code: its rows shrink as the table grows. */
enum { CR_INIT_FIXED = 1, CR_INIT_XAVIER = 2 };

/* How a model builds an item's input vector (cr_config.item_repr). */
enum { CR_REPR_ID = 1, CR_REPR_ID_FEATURES = 2, CR_REPR_FEATURES = 3 };

/* RCL's perturbations: eps g/|g| per row and layer, g the contrastive loss's gradient at that
   layer's output, from an extra clean pass (exact) or from the previous batch (prev). */
enum { CR_ADV_EXACT = 1, CR_ADV_PREV = 2 };

/* Fills the defaults into c and range-checks every option the model reads; an option the
   model does not read must be 0 (CR_ERR_INVALID names it). Driven by the option table. */
CR_API cr_status cr_config_resolve(cr_config *c);
/* Writes "model=xsimgcl dim=64 lr=0.001 ..." into buf: the options c's model reads (every one
   when c->model is 0), enums by name. Each value is one cr_config_set reads back to the same
   bits, so pasting the line back as options reproduces the configuration. Returns the length
   it needed (as snprintf). */
CR_API int cr_config_format(const cr_config *c, char *buf, size_t n);

/* The option table: one row per field of cr_config (besides model). The name is the field's,
   the checkpoint's and the config line's key; with dashes for underscores it is the CLI's
   --flag. 0 in a field means the default; an explicit zero (or "off") is stored as `off`
   (CR_OFF, -1) until cr_config_resolve turns it into 0. */
typedef enum cr_opt_type {
    CR_OPT_INT = 1,   /* int32 */
    CR_OPT_FLOAT = 2, /* float */
    CR_OPT_SEED = 3,  /* uint64 */
    CR_OPT_ENUM = 4,  /* int32, one of names */
    CR_OPT_FLAGS = 5  /* uint32, names joined by ',' */
} cr_opt_type;
typedef struct cr_option {
    const char *name;
    int type;          /* cr_opt_type */
    size_t offset;     /* offsetof(cr_config, field) */
    double lo, hi;     /* the resolved value's range (INT, FLOAT) */
    int open;          /* 1: lo excluded, 2: hi excluded, 3: both */
    double dflt;       /* the generic default; a model's own: cr_option_default */
    double off;        /* how an explicit 0 is held before resolving (CR_OFF, -1); 0: 0 is the default */
    const char *names; /* ENUM and FLAGS: "name=value ..." over resolved values; else NULL */
    unsigned groups;   /* CR_READ_*: the kinds of model that read it */
    unsigned models;   /* bit (1u << kind) of further models that read it (a model with a default
                          of its own for an option reads it too) */
    const char *help;  /* one line */
} cr_option;
/* Kinds of model (cr_option.groups): every one, sequence models, graph models, graph models that
   propagate (LightGCN's encoder), graph models trained on BPR pairs, and those that do both. */
enum { CR_READ_ALL = 1, CR_READ_SEQ = 2, CR_READ_GRAPH = 4, CR_READ_PROP = 8, CR_READ_BPR = 16, CR_READ_PROP_BPR = 32 };
CR_API int cr_option_reads(const cr_option *o, cr_model_kind model);
CR_API int cr_option_count(void);
CR_API const cr_option *cr_option_at(int i);
/* The row of a name ("neg_candidates" or "neg-candidates", with or without leading dashes); NULL if none. */
CR_API const cr_option *cr_option_find(const char *name);
/* The default of an option for a model (its own row, else the generic one). */
CR_API double cr_option_default(const cr_option *o, cr_model_kind model);
/* Adam's step size for a resolved configuration: lr, or with lr_rule sqrt lr * sqrt(batch / the
   model's default batch). */
CR_API double cr_config_lr(const cr_config *c);
/* Sets one option from text as the config line and the CLI write it: numbers, enum names,
   flags joined by ',' (or '|'); "0" or "off" stores the explicit zero. "model" takes a model's
   name. CR_ERR_INVALID with a message naming the option and the accepted values. */
CR_API cr_status cr_config_set(cr_config *c, const char *name, const char *value);
/* The options a model reads, two lines each ("--flag VALUES (default ...)", then its help), with
   the model's defaults (model 0: every option, generic defaults). Returns the length it needed. */
CR_API int cr_config_help(cr_model_kind model, char *buf, size_t n);

typedef struct cr_model cr_model; /* opaque */

/* Creates a model for the training interactions of ds (its id maps are copied in, so the model
   can serve raw ids on its own). */
CR_API cr_status cr_model_create(cr_model **out, const cr_config *cfg, const cr_dataset *ds);
CR_API void cr_model_free(cr_model *m);
CR_API const cr_config *cr_model_config(const cr_model *m);
CR_API int32_t cr_model_num_users(const cr_model *m);
CR_API int32_t cr_model_num_items(const cr_model *m);
CR_API int64_t cr_model_num_params(const cr_model *m);
/* Bytes held by the model: parameters, optimiser state, graphs and training workspaces. */
CR_API int64_t cr_model_memory_bytes(const cr_model *m);

/* Loads a file of interactions through the model's id maps (nothing is added to them): records
   with ids the model does not know are dropped and counted in the report. */
CR_API cr_status cr_model_load_interactions(cr_model *m, const char *path, const cr_load_opts *opts,
                                            cr_interactions *out, cr_load_report *report);
/* The records of x that are not among the model's training interactions. */
CR_API cr_status cr_model_unseen(const cr_model *m, const cr_interactions *x, cr_interactions *out);
/* The records known beyond the model's training interactions: those cr_fit held out of training
   for validation, which its test evaluation masks (history_extra). cr_fit records them on the
   model it trains (none after a refit, which trains on them), and the checkpoint keeps them
   (format version 4), so an evaluation of the loaded model can mask what cr_fit's did.
   cr_model_held_out fills out (emptied first; dense ids, sequence records in time order) and
   sets *recorded: 1 if the model records them (out may then be empty), 0 if it does not say
   (a model from cr_model_create, or a checkpoint written before version 4).
   cr_model_set_held_out records x (NULL: none); ids must be the model's. */
CR_API cr_status cr_model_held_out(const cr_model *m, cr_interactions *out, int *recorded);
CR_API cr_status cr_model_set_held_out(cr_model *m, const cr_interactions *x);
/* The raw id of a dense user / item id (-1 if out of range). */
CR_API int64_t cr_model_user_raw(const cr_model *m, int32_t user);
CR_API int64_t cr_model_item_raw(const cr_model *m, int32_t item);
/* The dense id of a raw item id (-1 if the model does not have it). */
CR_API int32_t cr_model_item_id(const cr_model *m, int64_t raw_item);

/* Brings the inference state up to date (graph models: one clean propagation). Every serving
   call does this when needed; call it once yourself before serving one model from several
   threads: after it, cr_recommend, cr_recommend_items, cr_score_items, cr_model_feature_vector,
   cr_model_score_vectors, cr_evaluate and cr_model_embeddings only read the model, so any
   number of threads may call them at once
   until the model is trained or its parameters are set again. */
CR_API cr_status cr_model_prepare(cr_model *m);
/* Final (inference) embeddings. Rows are users (n_users x dim) and items (n_items x dim); the
   pointers stay valid until the next training step or cr_model_free. For sequence models
   *users is NULL (a user is the encoding of a history). */
CR_API cr_status cr_model_embeddings(cr_model *m, const float **users, const float **items);

/* ==== 9. training =========================================================================== */

typedef struct cr_epoch_stats {
    int epoch;       /* 1-based */
    double loss;     /* mean total loss per batch */
    double rec_loss; /* mean recommendation (BPR / next-item) loss */
    double cl_loss;  /* mean contrastive loss (weighted) */
    double reg_loss; /* mean L2 loss */
    int64_t batches;
    double seconds;
    double prep_seconds; /* of seconds: before the first batch (shuffle, augmented graphs,
                            k-means) */
    cr_phase_cost phase[CR_PHASE_COUNT]; /* the profile; phase[CR_PHASE_EVAL]: what the batch
                                            callback evaluated, if it did */
    double comm_bytes;   /* over MPI: what this process sent in collectives (cr_mpi_bytes_sent) */
    double comm_seconds; /* and the time it spent in them (cr_mpi_seconds) */
} cr_epoch_stats;

/* Called after each batch (for progress bars); return non-zero to stop the epoch. */
typedef int (*cr_batch_fn)(void *user, int epoch, int64_t batch, int64_t n_batches, double loss);

/* One epoch over the training data: every example once, shuffled, in batches; the loss and its
   backward pass, clipping and Adam after each. On a NaN/Inf loss or parameter it stops with
   CR_ERR_NUMERIC naming the epoch and batch. */
CR_API cr_status cr_train_epoch(cr_model *m, int epoch, cr_epoch_stats *stats, cr_batch_fn cb,
                                void *cb_user);

/* The loss of one given batch with the randomness of (epoch, batch); with want_grad the
   gradient is left in the model's gradient buffer (for gradient checks and custom loops).
   Graph models read users/pos (B entries) and draw negatives from the seed when neg is NULL;
   sequence models read users (their histories). */
CR_API cr_status cr_model_batch_loss(cr_model *m, const int32_t *users, const int32_t *pos,
                                     const int32_t *neg, int B, int epoch, int64_t batch,
                                     int want_grad, double *loss);
/* Raw access to the parameter and gradient blocks (n = cr_model_num_params). After writing to
   the parameters, call cr_model_set_params (or pass them through it) so cached inference
   embeddings are recomputed. */
CR_API float *cr_model_params(cr_model *m);
CR_API float *cr_model_grads(cr_model *m);
/* A named tensor inside the parameter block ("user_emb", "item_emb", "feat_emb", "proj_w1",
   "gru0_wih", ...: cr_model_tensor_name lists them by index, NULL past the last), its shape
   into *rows and *cols (either may be NULL); NULL if the model has no such tensor. A sequence
   model's item_emb has n_items + 2 rows: padding (row 0), the items, the mask token. The
   pointer is writable: the model's inference state is recomputed on its next use. */
CR_API float *cr_model_tensor(cr_model *m, const char *name, int64_t *rows, int64_t *cols);
CR_API const char *cr_model_tensor_name(const cr_model *m, int i);
CR_API void cr_model_get_params(const cr_model *m, float *dst);
CR_API void cr_model_set_params(cr_model *m, const float *src);
/* Applies one Adam step with the current gradients (and clears them). */
CR_API cr_status cr_model_adam_step(cr_model *m);
/* The learning rate of the next steps (starts at cfg.lr): a schedule sets it between epochs. */
CR_API cr_status cr_model_set_lr(cr_model *m, float lr);
CR_API float cr_model_get_lr(const cr_model *m);

/* ==== 10. evaluation ======================================================================== */

#define CR_MAX_K 8

typedef struct cr_eval_opts {
    int ks[CR_MAX_K]; /* cut-offs, ascending; all zero: {10, 20} (graph) or {5, 10, 20} (sequence) */
    int exclude_seen; /* 0: model default (graph: exclude the user's known items; sequence: not);
                         1: exclude (the S3-Rec/ICLRec sequence protocol); -1: do not exclude */
    int no_auc;       /* 1: skip the AUC (saves a count per test item over every score) */
    int cold_max;     /* users with at most this many training items are "cold": 5 */
    float tail_share; /* share of items that are the long tail: 0.8 (the 20% most popular
                         items by training degree are the head) */
    const cr_interactions *history_extra; /* known interactions beyond the model's training
                         data (e.g. a validation split): excluded from the ranking like training
                         items, and appended to sequence histories */
    double tail_ratio; /* RecBole's TailPercentage tail: 0.1 */
    int cooccurrence;  /* 1: also Microsoft Recommenders' co-occurrence diversity and
                          serendipity (an intersection of user lists per item pair: the costly
                          ones, so off by default) */
    int basic;         /* 1: accuracy only (Recall, NDCG, precision, hit, MRR, AUC, coverage,
                          Gini, novelty): no popularity reference, groups, beyond-accuracy
                          metrics, alignment or uniformity (for timing their cost) */
    double *per_user; /* if not NULL: CR_PER_USER values for each evaluated user, ascending dense
                         id (n_users rows suffice): the id, its known history length (its
                         fold-in items if folded in, else its training items), Recall and NDCG at
                         the largest K, long-tail recall (-1: no long-tail test item) and
                         intra-list cosine diversity (-1: a list of fewer than 2): paired
                         comparisons between runs (bootstrap) */
    const uint8_t *items_only; /* if not NULL (n_items bytes): only the items with a non-zero byte
                          are ranked (the others score -inf) and only the test records on them
                          count: the warm and cold rankings of item cold start */
    const cr_interactions *fold_in; /* users with records here are scored as new users: their
                          vector is folded in from these items (graph models: one propagation
                          step, as cr_recommend_items; sequence models: the items, in order,
                          as the history) and the items are their known history (excluded
                          like training items). Strong generalisation: cr_fit_opts.cold_users */
} cr_eval_opts;

enum { CR_PER_USER = 6 }; /* values per user in cr_eval_opts.per_user */

/* Groups of items and users, at the largest K (the long-tail and cold-user views). */
#define CR_GROUPS 10
typedef struct cr_groups {
    /* items in 10 groups holding equal numbers of training interactions (SGL's rule: items by
       training degree, ties by id, cut where the running sum passes k/10 of the total);
       group 0 is the least popular */
    int32_t item_count[CR_GROUPS];   /* items in the group */
    double item_contrib[CR_GROUPS];  /* the group's share of Recall@K (mean over users of the
                                        group's hits / |test items|): the ten sum to Recall@K */
    double item_recall[CR_GROUPS];   /* Recall@K within the group, over the users with a test
                                        item in it (-1 if none) */
    double item_exposure[CR_GROUPS]; /* the group's share of all recommended slots */
    /* users in 10 groups of equal training interactions by the same rule (SGL-Torch); group 0
       the sparsest (for sequences: the shortest histories) */
    int64_t user_count[CR_GROUPS];   /* evaluated users in the group */
    double user_recall[CR_GROUPS], user_ndcg[CR_GROUPS]; /* -1 if the group is empty */
    int32_t user_max_degree[CR_GROUPS];
    /* NGCF's 4 sparsity groups: users by training + test interactions, ascending, a group
       closed once it holds 25% of all training + test interactions (whole degree values at a
       time; the last group takes the rest) */
    int64_t ngcf_count[4];
    double ngcf_recall[4], ngcf_ndcg[4];
    int32_t ngcf_max_degree[4];
} cr_groups;

/* Beyond-accuracy metrics of the top-K lists, under the definitions of two named libraries so
   that numbers can be compared with theirs. */
typedef struct cr_beyond {
    /* RecBole (RUCAIBox/RecBole, recbole/evaluator/metrics.py), to the letter: n = items + 1
       (its padding item counts), K the list length (the real entries of a list cut short by
       -1: RecBole's lists are always full, where both agree), cnt the training interactions */
    double item_coverage;      /* distinct recommended items / n */
    double average_popularity; /* mean over users of sum(cnt) / K */
    double gini_index;         /* Gini of the recommendation counts over n items */
    double shannon_entropy;    /* -sum p ln p / distinct recommended items, p = count / (users K) */
    double tail_percentage;    /* mean over users of the share of their K items in the tail: the
                                  tail_ratio share of trained items with the fewest interactions
                                  (or, tail_ratio > 1, those with at most that many) */
    /* Microsoft Recommenders (recommenders/evaluation/python_evaluation.py) */
    double catalog_coverage;   /* distinct recommended items / distinct trained items */
    double distributional_coverage; /* -sum p log2 p, p = count / recommendations (bits) */
    double novelty;            /* mean over recommendations of -log2(cnt / training records) */
    double diversity;          /* intra-list diversity: 1 - mean co-occurrence similarity of a
                                  list's pairs, |users(i) & users(j)| / sqrt(cnt_i cnt_j) (-1 if
                                  not computed: cr_eval_opts.cooccurrence) */
    double serendipity;        /* mean over users with training items of the mean over their
                                  recommendations of (1 - mean similarity to the user's training
                                  items) x [the item is a test item] (-1: not computed) */
    double ild_cosine;         /* intra-list diversity on the item vectors: 1 - mean cosine */
} cr_beyond;

typedef struct cr_metrics {
    int n_k;
    int k[CR_MAX_K];
    double recall[CR_MAX_K];    /* hits / |test items of u|, mean over users */
    double precision[CR_MAX_K]; /* hits / K, mean over users */
    double ndcg[CR_MAX_K];      /* binary relevance, IDCG over min(|test|, K) hits */
    double hit[CR_MAX_K];       /* share of users with at least one hit */
    double hit_inter[CR_MAX_K]; /* total hits / total test interactions (SELFRec's "Hit Ratio") */
    double mrr[CR_MAX_K];       /* 1 / rank of the first hit within K, 0 if none */
    double pop_recall[CR_MAX_K]; /* Recall and NDCG of the popularity ranking (items by */
    double pop_ndcg[CR_MAX_K];   /* training degree, same exclusions): the reference to beat */
    double auc;                 /* mean per-user AUC over all non-excluded items (-1 if skipped) */
    /* at the largest K: */
    double coverage;            /* distinct recommended items / items */
    double gini;                /* Gini index of how often each item is recommended */
    double novelty;             /* mean -log2((training degree + 1) / (users + 1)) of the
                                   recommended items */
    double tail_recall;         /* recall restricted to long-tail test items, mean over the
                                   users that have one */
    double cold_recall;         /* recall over cold users only (-1 if none) */
    double alignment;           /* mean |f(u) - f(i)|^2 over the test pairs, f = x / |x| */
    double uniformity_users;    /* cr_uniformity of the evaluated users' vectors */
    double uniformity_items;    /* cr_uniformity of the item vectors */
    cr_groups groups;
    cr_beyond beyond;           /* at the largest K */
    int64_t users;              /* users evaluated */
    int64_t cold_users;
    int64_t test_interactions;
    double seconds;
    cr_phase_cost cost;         /* seconds, FLOPs and bytes of the evaluation (cr_phase_cost) */
} cr_metrics;

/* Uniformity (Wang & Isola, ICML 2020, t = 2) of the rows of X (n, d): log mean over pairs of
   exp(-2 |f_i - f_j|^2), f = x / |x|, on up to 1,000 rows taken evenly from X. 0 means every
   row points the same way; uniform on the sphere in 64 dimensions gives about -3.88. */
CR_API double cr_uniformity(const float *X, int64_t n, int d);

/* The beyond-accuracy metrics of n top-k lists (lists: (n, k) dense item ids, -1 past a shorter
   list; list r belongs to user users[r]), given the training interactions train (users x
   items, rows sorted), the test interactions test (same shape; NULL: relevance 1 everywhere),
   the item vectors for the cosine ILD (NULL: skipped), RecBole's tail_ratio, and whether to
   compute the co-occurrence diversity and serendipity. */
CR_API cr_status cr_beyond_accuracy(const int32_t *lists, const int32_t *users, int64_t n, int k, const cr_csr *train,
                                    const cr_csr *test, const float *item_vecs, int d, double tail_ratio,
                                    int cooccurrence, cr_beyond *out);

/* Full-ranking evaluation of the model on held-out interactions (dense ids of the model). */
CR_API cr_status cr_evaluate(cr_model *m, const cr_interactions *test, const cr_eval_opts *opts,
                             cr_metrics *out);

/* Top-k items for one user given by raw id; raw item ids and scores are written to items and
   scores (k entries each, scores may be NULL); *n_out receives how many were written. With
   exclude_seen the user's training items are skipped. Sequence models take the user's training
   history as input. */
CR_API cr_status cr_recommend(cr_model *m, int64_t raw_user, int k, int exclude_seen,
                              int64_t *items, float *scores, int *n_out);
/* Top-k for a new user described by raw item ids (graph models: one propagation step from the
   item embeddings; sequence models: the history in time order). The given items are excluded
   from the result for graph models. Unknown item ids are ignored and counted in *n_unknown. */
CR_API cr_status cr_recommend_items(cr_model *m, const int64_t *raw_items, int n_items, int k,
                                    int64_t *items, float *scores, int *n_out, int *n_unknown);
/* Scores of the given candidate items (raw ids) for one user (raw id): scores[i] for
   raw_items[i]; an item unknown to the model scores -INFINITY and is counted in *n_unknown. */
CR_API cr_status cr_score_items(cr_model *m, int64_t raw_user, const int64_t *raw_items, int n_items,
                                float *scores, int *n_unknown);
/* New items, no retraining (graph models that read item features): the vector an item the model
   never saw gets from its features (n raw feature ids, weights w, NULL: 1; features the model
   does not know are skipped and counted in *n_unknown): the weighted mean of their embeddings;
   with the attribute-ID contrast its direction at the trained items' mean length, as untrained
   items are served; otherwise what the encoder gives a node without edges (the mean over
   LightGCN's layers keeps 1/(K+1) of it; SimGCL's and XSimGCL's layer mean keeps nothing).
   CR_ERR_EMPTY if none of the features is known. */
CR_API cr_status cr_model_feature_vector(cr_model *m, const int64_t *raw_feats, const float *w, int n, float *out,
                                         int *n_unknown);
/* scores[j] = <user's vector, V[j]> for n vectors V (n, dim), such as cr_model_feature_vector's. */
CR_API cr_status cr_model_score_vectors(cr_model *m, int64_t raw_user, const float *V, int n, float *scores);
/* Adds an item the model never saw (raw id raw_item) with the vector its features give it
   (cr_model_feature_vector): from then on cr_recommend, cr_recommend_items and cr_score_items
   rank and score it beside the trained items, no retraining. Not while other threads serve
   from the model. The added items live in memory only (a checkpoint holds the trained model:
   add them again after loading); their vectors are taken when added, so add them after the
   last training step. Fails for an id the model already has, trained or added, and for a
   model whose vector for such an item is zero (SimGCL and XSimGCL without attr_w). */
CR_API cr_status cr_model_add_item(cr_model *m, int64_t raw_item, const int64_t *raw_feats, const float *w, int n,
                                   int *n_unknown);
CR_API int32_t cr_model_num_added_items(const cr_model *m);

/* ---- training with model selection ---- */

typedef enum cr_select {
    CR_SELECT_VALID = 0, /* select on a validation split (the default) */
    CR_SELECT_TEST = 1,  /* select on the test set: only to reproduce papers that do (SELFRec,
                            LightGCN's code); the test metrics are then optimistic */
    CR_SELECT_LAST = 2   /* no selection: the model after the given number of epochs */
} cr_select;

typedef enum cr_metric {
    CR_METRIC_NDCG = 0,
    CR_METRIC_RECALL,
    CR_METRIC_HIT,
    CR_METRIC_MRR,
    CR_METRIC_PRECISION
} cr_metric;
CR_API const char *cr_select_name(cr_select s); /* "valid", "test", "last" */
CR_API const char *cr_metric_name(cr_metric k); /* "ndcg", "recall", ... */

enum { CR_FIT_SELECT = 0, CR_FIT_REFIT = 1 };

/* What the epoch callback of cr_fit sees. */
typedef struct cr_fit_info {
    int phase;          /* CR_FIT_SELECT, or CR_FIT_REFIT (retraining on train + valid) */
    int epoch, max_epochs;
    cr_epoch_stats train;
    int evaluated;      /* sel holds this epoch's metrics on the selection set */
    cr_metrics sel;
    int improved;       /* this epoch is the best so far */
    int best_epoch;
    double best_value;
    int since_best;     /* evaluations since the best one */
    int patience;       /* the resolved patience (-1: no early stop) */
    int backed_off;     /* after this epoch's evaluation the contrast was backed off
                           (cr_fit_opts.backoff): lambda halved, the best epoch's parameters restored */
    float lambda;       /* the contrastive weight the next epoch trains with */
} cr_fit_info;

/* Called after every epoch; return non-zero to stop. The model may be saved or its learning
   rate changed here. */
typedef int (*cr_fit_fn)(void *user, cr_model *m, const cr_fit_info *info);

typedef struct cr_fit_opts {
    int epochs;        /* epochs to train; 0: until the selection metric stops improving
                          (patience), at most max_epochs */
    int max_epochs;    /* the cap when epochs is 0: 1000 */
    int eval_every;    /* evaluate every N epochs (and after the last): 1 */
    int patience;      /* P: the early stop's patience in evaluations; 0: 10 when epochs is 0,
                          never otherwise; -1: never. The rule (stop_rule 0) survives the dip
                          that contrastive models often show early on: it stops after P
                          evaluations without improvement, but not before the 2P-th evaluation,
                          and not while the last two evaluations each rose over the one before
                          (the run is climbing out of a dip), up to 5P without improvement */
    cr_select select;  /* CR_SELECT_VALID (default), CR_SELECT_TEST, CR_SELECT_LAST */
    cr_metric metric;  /* selection metric: NDCG */
    int metric_k;      /* at this cut-off (one of eval.ks): 0 = the largest */
    double valid_ratio;/* graph data without ds->valid: the share of each user's training
                          interactions held out for validation: 0.1. Sequences hold out each
                          user's last training item. */
    int refit;         /* after selecting the epoch count on validation, retrain on train +
                          valid for that many epochs; the test set is read on that model */
    double train_noise;/* add floor(train_noise * |train|) random unobserved pairs to the
                          training part only, after the validation carve (robustness runs;
                          cr_interactions_add_noise) */
    double cold_users; /* user cold-start (strong generalisation): this share of the users
                          with training and test records, drawn from the seed, is held out of
                          training entirely; at test time each is folded in from its training
                          records (cr_eval_opts.fold_in) and scored on its test records
                          (result: cold). The main test figures then cover the other users;
                          the held-out users never validate (see cr_cold_users). */
    int cold_warm;     /* with cold_users: train on the same users' records too (all of them:
                          what fold-in reads; validation stays the other users'), so `cold`
                          holds their warm score, to set beside a hold-out run with the same
                          seed. Not with train_noise. */
    uint64_t holdout_seed; /* the draw of cold_users' and cold_items' held-out users or items (0:
                          the model's seed): runs of several seeds then hold out the same ones,
                          so their per-user rows pair (contrarec compare) */
    double cold_items; /* item cold start (CLCRec's protocol): this share of the items with any
                          record, drawn from the seed, is held out of training entirely; half of
                          them (every other one in draw order) take all their records to
                          validation, the other half to test (all to test without validation
                          selection). Graph models; only those that read item features
                          (item_repr, attr_w) can score the held-out items (an ID-only model
                          scores them from untrained rows: its warm figures are the reference).
                          The test set is then ranked three ways: over all items
                          (result: test), the items not held out (test_warm) and the test's held-out
                          items only (test_cold). Without attr_w, SimGCL's, XSimGCL's and RCL's
                          layer mean (from layer 1) gives an item without edges a zero vector.
                          Not with cold_users, train_noise or refit. */
    cr_eval_opts eval; /* cut-offs and history protocol, for validation and test alike
                          (history_extra, fold_in, per_user and items_only are set by cr_fit) */
    double *per_user_test; /* if not NULL (n_users x CR_PER_USER doubles): the per-user rows of
                          the test evaluation (cr_eval_opts.per_user); res.test.users of them */
    double *per_user_cold; /* with cold_users, if not NULL (n_users x CR_PER_USER doubles): the
                          per-user rows of the held-out users' evaluation; res.cold.users of them */
    const char *state_path; /* if not NULL: resumable training. After every epoch the training
                          state (parameters, Adam's moments and step, the best parameters so far,
                          the selection's bookkeeping, a model's running state such as RecDCL's
                          stored embeddings) is written to this file, atomically; if the file
                          exists when cr_fit starts, training continues after the epoch it holds,
                          and the result is the one an uninterrupted run with the same number of
                          threads gives, bit for bit (train_seconds counts the saved epochs). The
                          file must come from the same configuration, options and data (checked:
                          a mismatch is an error that names which). A stop by on_epoch is an
                          interruption: cr_fit returns the model as it stands (no refit) and the
                          next call goes on. A finished run's file makes cr_fit go straight to
                          the test set. */
    cr_fit_fn on_epoch;
    cr_batch_fn on_batch;
    void *user;
    int stop_rule;     /* 0: the dip-surviving rule above; 1: plain patience (RecBole's, the
                          papers'): stop after P evaluations without improvement */
    int backoff;       /* contrast backoff, for the graph models that add a weighted contrast
                          to BPR (SGL, SimGCL, XSimGCL, NCL, RCL) when selecting on validation:
                          when validation has stayed 10% below its best for B evaluations while
                          the BPR part is still at chance (above 0.95 ln 2), lambda is halved and
                          training restarts from the best epoch's parameters, at most 8 times.
                          0: on, B = 3; B > 0; -1: off (the papers' fixed lambda). A refit trains
                          with the selected epoch's lambda. */
    int64_t mem_limit; /* bytes; > 0: refuse (CR_ERR_NOMEM, before any work) a run whose memory
                          plan (cr_memory_plan) peaks above it, the plan in the message */
} cr_fit_opts;

typedef struct cr_fit_result {
    cr_select selected_on;
    int best_epoch;     /* the selected epoch (the epoch count trained with refit) */
    int epochs_run;     /* epochs trained in the last phase */
    int stopped_early;  /* 1: patience ran out; 2: the callback stopped it */
    int refit;
    double best_value;  /* the selection metric at the best epoch */
    cr_metrics valid;   /* the selection set's metrics at the best epoch */
    cr_metrics test;    /* the test set's, read once at the returned model (users == 0 when
                           the dataset has no test set) */
    cr_metrics test_other; /* sequence models: the test set under the other history protocol
                           (history masked if test has it kept, and the reverse), same model */
    cr_metrics cold;    /* with cold_users: the held-out users on their test records (folded
                           in, or warm with cold_warm); users == 0 otherwise */
    int64_t n_cold_users;
    cr_metrics test_warm, test_cold; /* with cold_items: the test set ranked among the items not
                           held out (the held-out ones left out) and among the test's held-out items */
    int64_t n_cold_items;
    int64_t n_train, n_valid; /* interactions trained on and validated on */
    int64_t n_noise;          /* of n_train: random pairs added by train_noise */
    double train_seconds, eval_seconds; /* over every run of a resumed training */
    int resumed_epoch;  /* with state_path: the epoch this call continued after (0: from the start), */
    int resumed_phase;  /* in this phase (CR_FIT_SELECT or CR_FIT_REFIT) */
    int backoffs;       /* contrast backoffs during the selection (cr_fit_opts.backoff) */
    float lambda;       /* the contrastive weight in force when the returned parameters were trained
                           (the selected epoch's; a refit's) */
} cr_fit_result;

/* The items cr_fit's cold_items holds out: round(share x n) (at least 1, at most n - 1) of the
   n items with any record in train, valid or test, those with the smallest hash of (seed,
   item); pick (n_items bytes) receives 1 for those whose records go to validation (every other
   one in hash order, when with_valid) and 2 for those whose records go to test. Returns how
   many, or a negative status. */
CR_API int64_t cr_cold_items(const cr_dataset *ds, double share, uint64_t seed, int with_valid, uint8_t *pick);

/* The users cr_fit's cold_users holds out: round(share x n) (at least 1, at most n - 1) of the
   n users with both training and test records, those with the smallest hash of (seed, user);
   pick (n_users bytes) receives 1 for them. Returns how many, or a negative status. */
CR_API int64_t cr_cold_users(const cr_dataset *ds, double share, uint64_t seed, uint8_t *pick);

/* Trains a model on ds with model selection and returns it in *out with the selected
   parameters. With CR_SELECT_VALID and no ds->valid, a validation split is carved from
   ds->train (graph data: valid_ratio of each user's interactions, from a random stream of its
   own, so it never coincides with a test split drawn from the same seed; users with too few
   interactions keep all of them; sequences: each user's last training item, so validation
   targets are [-2] and test targets [-1]). The model trains on the rest, is evaluated on
   validation every eval_every epochs, keeps the best parameters, stops on patience, and the
   test set is read once at the end, with the validation records known history (masked for
   graph models, appended to sequences). Options are checked before any work. */
CR_API cr_status cr_fit(cr_model **out, const cr_config *cfg, const cr_dataset *ds, const cr_fit_opts *opts,
                        cr_fit_result *res);

/* The memory plan of cr_fit(cfg, ds, opts), computed from the data's sizes and the options
   before anything is allocated: one line per part (the dataset as loaded, the fit's copies of
   the splits, the model's ids and history, parameters with gradients and Adam's moments, the
   best epoch's copy, the model's own state such as the normalised graph and propagated tables,
   the training workspace) and the passing needs that come and go (building the graph, SGL's
   views, an evaluation), the largest of which adds to the peak. held: what training holds
   from its first batch on; peak: held + the largest passing need. Where the data decide, the
   part is an upper bound (SGL's views keep every edge, a block of ranked users has the most
   known items, noise adds to the largest degrees); small scratch such as GEMM packing is left
   out. The tests hold the peak within 10% of the bytes cr_fit takes at its peak, for every
   model; the plan is for the calling thread count (cr_set_num_threads). A trained model's
   cr_model_memory_bytes is what its plan's model lines counted, with SGL's views as built. */
#define CR_MEM_LINES 16
typedef struct cr_mem_line {
    const char *what;
    int64_t bytes;
    int passing; /* 1: comes and goes */
} cr_mem_line;
typedef struct cr_mem_plan {
    cr_mem_line line[CR_MEM_LINES];
    int n;
    int64_t held, peak;
} cr_mem_plan;
CR_API cr_status cr_memory_plan(cr_mem_plan *plan, const cr_config *cfg, const cr_dataset *ds, const cr_fit_opts *opts);
/* The plan as text: a line per part with its bytes, then held and peak; returns the length it
   needed (snprintf's convention). */
CR_API int cr_memory_plan_format(const cr_mem_plan *plan, char *buf, size_t n);
/* "1.5G", "512M", "64k", "1000" to bytes (k, M, G, T: powers of 1000, as the plan prints them;
   a trailing B is allowed); 0 on a malformed or non-positive size. */
CR_API int64_t cr_parse_bytes(const char *s);

/* Budgeted hyperparameter search on validation (successive halving; Hyperband with brackets >
   1). Bracket b starts ceil(trials / eta^b) configurations at min_epochs x eta^b epochs; each
   rung keeps the best 1/eta of its configurations by the validation figure and trains them eta
   times longer, until the rung of min_epochs x eta^(K-1) epochs (K = 1 + floor(log_eta trials)),
   which every bracket reaches. Every trial is a cr_fit from scratch (fit.epochs = the rung's
   epochs, selection on validation with fit's valid_ratio, metric and cut-offs; the test set is
   hidden from cr_fit: cr_tune never reads it). The first configuration of each model in
   bracket 0 is its default (base) one; the others are drawn from the model's search space with
   a stream of (seed, bracket, slot): the configurations and the schedule depend only on the
   seed and the options, the budget only decides where the search stops (a trial running at
   the deadline is abandoned). Same seed, options, data and thread count: the same leaderboard.

   A search space is "name=lo..hi [log], name=v1,v2,v3, ...": a cr_config field (lambda, tau,
   eps, drop, lr, reg, layers, lstar, ...), a range drawn uniformly (log: log-uniformly; an
   integer field draws integers; floats are rounded to 3 significant digits) or a list of values.
   Each model has its default space (cr_tune_default_space) with the papers' ranges; what a
   model may search is its default space's options and lr, reg, batch, dim, clip (and layers
   for graph models). */
typedef struct cr_tune_trial {
    cr_config cfg;     /* the trial's configuration, as cr_fit takes it (0: the default) */
    int bracket, rung, slot;
    int epochs;        /* the epochs it trained (its rung's) */
    int best_epoch;    /* the validation-selected epoch among them */
    double valid;      /* the selection metric on validation at best_epoch (-1: diverged) */
    double seconds;    /* training and validation time (as recorded, for a trial from the state) */
    int from_state;    /* 1: read from state_path, not trained by this call */
    char options[256]; /* its searched options that differ from the defaults, "lambda=0.1 eps=0.05" */
} cr_tune_trial;

/* Called after each finished trial (done of planned); return non-zero to stop the search. */
typedef int (*cr_tune_fn)(void *user, const cr_tune_trial *t, int done, int planned);

typedef struct cr_tune_opts {
    cr_config base;    /* every trial's fixed options; base.model is the model when n_models is 0 */
    const cr_model_kind *models; /* several models: each with its own space, one leaderboard */
    int n_models;      /* (graph models, or sequence models, not both: their validations differ) */
    const char *space; /* NULL: each model's default space; else the options a model can search
                          are taken from it (a model none of whose options it names: its defaults
                          only) and one no model can search is an error */
    int trials;        /* configurations of bracket 0's first rung: 9 */
    int min_epochs;    /* epochs of bracket 0's first rung: 5 */
    int eta;           /* halving rate: 3 */
    int brackets;      /* Hyperband brackets, 1..K: 1 (successive halving) */
    double budget_seconds; /* stop when this much time has passed: 0, none */
    uint64_t seed;     /* sampling: 0, base.seed (resolved) */
    cr_fit_opts fit;   /* the validation protocol: valid_ratio, metric, metric_k, eval, eval_every;
                          the rest must stay 0 (train the winner with cr_fit) */
    const char *state_path; /* if not NULL: a file, or a folder to hold tune.state, with every
                          finished trial, written after each; a call with the same arguments
                          and data skips the trials it holds (a state of other arguments is an
                          error that names what differs) */
    cr_tune_fn on_trial;
    void *user;
} cr_tune_opts;

typedef struct cr_tune_result {
    cr_tune_trial *board; /* each configuration at its furthest rung, best first (more epochs,
                             then the higher validation figure): board[0] is the winner */
    int n_board;
    int done, planned; /* trials finished (from the state too) and in the whole schedule */
    int stopped;       /* 0: complete; 1: the budget ran out; 2: on_trial stopped it */
    double seconds;    /* this call's */
} cr_tune_result;

/* Searches configurations of ds's training data on validation; the winner is res->board[0]:
   train it with cr_fit (fit.epochs = its epochs) to read the test set once. Everything is
   checked before any training; free res with cr_tune_result_free. */
CR_API cr_status cr_tune(const cr_dataset *ds, const cr_tune_opts *o, cr_tune_result *res);
CR_API void cr_tune_result_free(cr_tune_result *res);
/* A model's default search space ("" for an unknown model). */
CR_API const char *cr_tune_default_space(cr_model_kind k);
/* Parses a search space for model k over base (base.model is ignored): CR_ERR_INVALID names
   the option and the problem (not searchable for k, lo >= hi, log with lo <= 0, a value the
   configuration refuses). */
CR_API cr_status cr_tune_check_space(cr_model_kind k, const cr_config *base, const char *space);

/* ==== 11. I/O: checkpoints and embedding export ============================================= */

/* Saves the model (config, id maps, training and held-out interactions, parameters, checksum) to path as a
   versioned little-endian binary; the file is written to path.tmp, flushed, synced and renamed,
   so an interrupted save leaves any previous file intact. */
CR_API cr_status cr_model_save(const cr_model *m, const char *path);
/* Loads a model saved by cr_model_save. A truncated, corrupted (checksum), wrong-version file is
   refused with CR_ERR_FORMAT. If expect is not NULL, its non-zero model and dim must match. */
CR_API cr_status cr_model_load(cr_model **out, const char *path, const cr_config *expect);
/* The same, from a checkpoint image in memory; name is used in messages. */
CR_API cr_status cr_model_load_mem(cr_model **out, const void *data, size_t len, const char *name,
                                   const cr_config *expect);
/* Writes the final user and item embeddings as dir/user_emb.npy and dir/item_emb.npy (float32)
   and the raw ids of their rows as dir/user_ids.npy and dir/item_ids.npy (int64). */
CR_API cr_status cr_model_export_npy(cr_model *m, const char *dir);
/* Writes one row-major float32 matrix as a .npy file (atomically). */
CR_API cr_status cr_write_npy_f32(const char *path, const float *x, int64_t rows, int64_t cols);

/* Output files, the one way the library writes them (checkpoints, states, .npy, SVG), public so
   that a program writes its own outputs the same way. cr_out_check, before any work, refuses a
   path that could not be written: an existing folder, a folder that does not exist, is not a
   folder or is not writable; the message names the path and the reason. cr_out_open opens
   path.tmp as out->f; cr_out_commit flushes it, syncs it (fsync, unless CR_NO_FSYNC), closes it
   and renames it over path, never over (or removing) a folder; on any failure it removes
   path.tmp and reports, leaving path as it was. cr_out_abort closes and removes path.tmp (a
   zeroed or committed cr_out: nothing to do). Both leave out zeroed. */
#ifdef __cplusplus
}
#endif
#include <stdio.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef struct cr_out {
    FILE *f;         /* write here: path.tmp */
    char *path, *tmp; /* owned copies */
} cr_out;
CR_API cr_status cr_out_check(const char *path);
/* The same for an output folder, which files are written into: it must exist and be writable. */
CR_API cr_status cr_out_check_dir(const char *dir);
CR_API cr_status cr_out_open(cr_out *out, const char *path);
CR_API cr_status cr_out_commit(cr_out *out);
CR_API void cr_out_abort(cr_out *out);

/* ==== 12. pictures: SVG charts ============================================================== */

/* Charts written as standalone SVG by the library itself (no plotting dependency): axes with
   ticks, labels, a title, a legend, and an optional dashed reference line (for instance the
   popularity ranking's value of the plotted metric). */
typedef struct cr_series {
    const char *label; /* legend text (NULL: "series n") */
    const double *x;   /* n x values, finite (NULL: 1, 2, ..., n) */
    const double *y;   /* n y values; NaN leaves a gap */
    int n;
} cr_series;

typedef struct cr_chart {
    const char *title, *xlabel, *ylabel;
    const cr_series *series; /* 1..CR_MAX_SERIES series */
    int n_series;
    const char *ref_label;   /* non-NULL: a dashed horizontal line at ref_y with this label */
    double ref_y;
    int width, height;       /* pixels, 0: 720 x 440 (width 320..8000, height 200..8000) */
} cr_chart;

#define CR_MAX_SERIES 16

/* A line chart: one polyline with point markers per series. */
CR_API cr_status cr_svg_lines(const char *path, const cr_chart *c);
/* A grouped bar chart: group g has one bar per series at series[s].y[g] (x is not used; every
   series has n_groups values), labelled group_labels[g] (NULL: 0, 1, ...). Bars start at 0. */
CR_API cr_status cr_svg_bars(const char *path, const cr_chart *c, const char *const *group_labels, int n_groups);

/* Embedding maps. Exact t-SNE (van der Maaten & Hinton; the exact path of lvdmaaten/bhtsne
   with sklearn's constants): columns centred and scaled by max |x|, affinities by a binary
   search on each row's precision to the perplexity, a PCA start at standard deviation 1e-4,
   early exaggeration, momentum, gains, recentring. Each row's sums run in a fixed order, so
   the map depends on the input only (not on the thread count). */
typedef struct cr_tsne_opts {
    double perplexity;      /* 30; needs n - 1 >= 3 perplexity */
    int iterations;         /* 1000 */
    int exaggeration_iters; /* min(250, iterations): exaggeration and momentum 0.5 until then,
                               0.8 after */
    double exaggeration;    /* 12 */
    double learning_rate;   /* 0: max(n / 48, 50) (the gradient keeps its factor 4) */
} cr_tsne_opts;

/* Y (n x 2) from the rows of X (n x d), n <= 5000; kl (may be NULL) gets the final KL(P||Q). */
CR_API cr_status cr_tsne(const float *X, int n, int d, const cr_tsne_opts *opts, float *Y, double *kl);

/* The popularity group (0..CR_GROUPS-1, SGL's rule: groups of equal training interactions,
   0 the least popular) of every item (items = 1, n_items entries) or user (items = 0). */
CR_API cr_status cr_model_popularity_groups(const cr_model *m, int items, int32_t *group);

/* The embedding map as one SVG: the 2-D points coloured by group (group[i] in 0..n_groups-1,
   NULL: one colour), the same points scaled onto the unit circle with their angle density
   drawn as a ring (SimGCL's picture of uniformity), and that density over the angle (a von
   Mises kernel, bandwidth 0.15 rad). */
CR_API cr_status cr_svg_map(const char *path, const char *title, const float *xy, int n, const int32_t *group,
                            int n_groups, const char *const *group_labels);

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
#include <time.h>

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
#include <sys/mman.h> /* and the loader's read-only file maps */
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#if defined(MADV_HUGEPAGE)
#define CR__MADV_HUGEPAGE MADV_HUGEPAGE
#elif !defined(__cplusplus)
/* glibc hides madvise and MADV_HUGEPAGE in strict ISO C modes (-std=c99/c11); the call and
   Linux's value (14) are stable, so strict builds keep huge pages too */
extern int madvise(void *addr, size_t len, int advice);
#define CR__MADV_HUGEPAGE 14
#endif
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

#if defined(__cplusplus) || (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L)
#define CR__INLINE inline
#else
#define CR__INLINE
#endif

#define CR__MIN(a, b) ((a) < (b) ? (a) : (b))
#define CR__MAX(a, b) ((a) > (b) ? (a) : (b))

/* ==== 1. core ================================================================================ */

static CR__TLS char cr__errmsg[2048]; /* room for a memory plan (cr_fit_opts.mem_limit) */

static double cr__now(void) {
#if defined(_OPENMP)
    return omp_get_wtime();
#elif defined(TIME_UTC) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#else
    return (double)clock() / CLOCKS_PER_SEC; /* one thread: CPU time is wall time */
#endif
}

/* The profile of the running epoch (cr_phase): the table being filled (NULL: none, the
   counters cost a test), its current phase and when that phase last started. Thread-local, so
   models trained on different threads keep their own; kernels run by OpenMP's worker threads
   count nothing, their caller counts the whole call. */
static CR__TLS cr_phase_cost *cr__prof_tab;
static CR__TLS int cr__prof_ph;
static CR__TLS double cr__prof_t;

/* Switches the profile to phase ph; returns the phase it left, for cr__prof_to to go back. */
static int cr__prof_to(int ph) {
    int old = cr__prof_ph;
    double t;
    if (!cr__prof_tab) return old;
    t = cr__now();
    cr__prof_tab[old].seconds += t - cr__prof_t;
    cr__prof_t = t;
    cr__prof_ph = ph;
    return old;
}

/* A profile started inside another (an epoch trained from a batch callback) keeps the outer
   one's state and gives it back: the inner time is then charged to the outer's current phase. */
typedef struct cr__prof_state {
    cr_phase_cost *tab;
    int ph;
    double t;
} cr__prof_state;

static cr__prof_state cr__prof_begin(cr_phase_cost *tab, int ph) {
    cr__prof_state outer;
    outer.tab = cr__prof_tab, outer.ph = cr__prof_ph, outer.t = cr__prof_t;
    cr__prof_tab = tab;
    cr__prof_ph = ph;
    cr__prof_t = cr__now();
    return outer;
}

static void cr__prof_end(cr__prof_state outer) {
    cr__prof_to(cr__prof_ph);
    cr__prof_tab = outer.tab, cr__prof_ph = outer.ph, cr__prof_t = outer.t;
}

static void cr__prof_count(double flops, double bytes) {
    if (!cr__prof_tab) return;
    cr__prof_tab[cr__prof_ph].flops += flops;
    cr__prof_tab[cr__prof_ph].bytes += bytes;
}

CR_API const char *cr_phase_name(int phase) {
    static const char *names[CR_PHASE_COUNT] = {"encode", "contrast", "rec", "adam", "sample", "other", "eval"};
    return phase >= 0 && phase < CR_PHASE_COUNT ? names[phase] : "?";
}

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
#if defined(CR__MADV_HUGEPAGE)
    if (align == CR__HUGE_ALIGN) madvise(p, bytes - bytes % CR__HUGE_ALIGN, CR__MADV_HUGEPAGE);
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

/* FNV-1a over n bytes, continuing from h (start from CR__FNV0): the hash of the RecBole token
   dictionary, the checkpoint checksum and the training-state fingerprints */
#define CR__FNV0 0xcbf29ce484222325ULL
static uint64_t cr__fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
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

/* ---- MPI: the few collectives data-parallel training needs ---- */

static double cr__mpi_sent = 0, cr__mpi_secs = 0;
static int cr__mpi_solo = 0; /* > 0: this process works alone (serving's propagation), no collectives */

/* Rows [*a, *b) of n that process r of P owns: equal blocks, the first n % P one row longer. */
static void cr__span(int64_t n, int r, int P, int64_t *a, int64_t *b) {
    int64_t q = n / P, x = n % P;
    *a = r * q + CR__MIN((int64_t)r, x);
    *b = *a + q + (r < x);
}

#ifdef CONTRAREC_MPI
static MPI_Comm cr__comm = MPI_COMM_NULL; /* MPI_COMM_NULL: MPI_COMM_WORLD */

CR_API void cr_mpi_set_comm(MPI_Comm comm) { cr__comm = comm; }

static MPI_Comm cr__mpi_comm(void) { return cr__comm == MPI_COMM_NULL ? MPI_COMM_WORLD : cr__comm; }

/* The communicator's size (or this process's rank): 1 (0) outside MPI_Init .. MPI_Finalize. */
static int cr__mpi_query(int size) {
    int on = 0, fin = 0, v = size ? 1 : 0;
    MPI_Initialized(&on);
    MPI_Finalized(&fin);
    if (on && !fin) (size ? MPI_Comm_size : MPI_Comm_rank)(cr__mpi_comm(), &v);
    return v;
}

CR_API int cr_mpi_size(void) { return cr__mpi_query(1); }
CR_API int cr_mpi_rank(void) { return cr__mpi_query(0); }

/* Sum over the processes, in place, in pieces an int count can hold. */
static void cr__mpi_sum(void *x, int64_t n, int dbl) {
    int P = cr_mpi_size();
    int64_t i, step = (int64_t)1 << 28;
    size_t es = dbl ? sizeof(double) : sizeof(float);
    double t = cr__now();
    if (P < 2 || cr__mpi_solo) return;
    for (i = 0; i < n; i += step)
        MPI_Allreduce(MPI_IN_PLACE, (char *)x + (size_t)i * es, (int)CR__MIN(step, n - i), dbl ? MPI_DOUBLE : MPI_FLOAT,
                      MPI_SUM, cr__mpi_comm());
    cr__mpi_sent += 2.0 * (P - 1) / P * (double)n * (double)es;
    cr__mpi_secs += cr__now() - t;
}

/* Every process's block of rows (cr__span of n) to every process, in place; a row is w bytes. */
static void cr__mpi_gather_rows(void *x, int64_t n, size_t w) {
    int P = cr_mpi_size(), r, *cnt, *dsp;
    MPI_Datatype row;
    double t = cr__now();
    if (P < 2 || n <= 0 || cr__mpi_solo) return;
    cnt = (int *)CR_MALLOC(2 * (size_t)P * sizeof(int));
    CR_ASSERT(cnt != NULL);
    dsp = cnt + P;
    for (r = 0; r < P; r++) {
        int64_t a, b;
        cr__span(n, r, P, &a, &b);
        cnt[r] = (int)(b - a), dsp[r] = (int)a;
    }
    MPI_Type_contiguous((int)w, MPI_BYTE, &row);
    MPI_Type_commit(&row);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, cnt, dsp, row, cr__mpi_comm());
    MPI_Type_free(&row);
    cr__mpi_sent += (double)(P - 1) / P * (double)n * (double)w;
    cr__mpi_secs += cr__now() - t;
    CR_FREE(cnt);
}
#else
CR_API int cr_mpi_size(void) { return 1; }
CR_API int cr_mpi_rank(void) { return 0; }
static void cr__mpi_sum(void *x, int64_t n, int dbl) { (void)x, (void)n, (void)dbl; }
static void cr__mpi_gather_rows(void *x, int64_t n, size_t w) { (void)x, (void)n, (void)w; }
#endif

CR_API double cr_mpi_bytes_sent(void) { return cr__mpi_sent; }
CR_API double cr_mpi_seconds(void) { return cr__mpi_secs; }

/* This process's share [*a, *b) of n rows of a batch (all of them on one process). */
static void cr__my_rows(int64_t n, int64_t *a, int64_t *b) {
    if (cr__mpi_solo) *a = 0, *b = n;
    else cr__span(n, cr_mpi_rank(), cr_mpi_size(), a, b);
}

/* 1 if flag is non-zero on any process: a decision every process must take alike (a stop, a
   failed save), so that none waits in a collective the others left. */
static int cr__mpi_any(int flag) {
#ifdef CONTRAREC_MPI
    if (cr_mpi_size() > 1 && !cr__mpi_solo)
        MPI_Allreduce(MPI_IN_PLACE, &flag, 1, MPI_INT, MPI_MAX, cr__mpi_comm());
#endif
    return flag != 0;
}

/* ==== 2. tensor ============================================================================== */

CR_API cr_status cr_tensor_alloc(cr_tensor *t, int64_t rows, int64_t cols) {
    size_t n;
    memset(t, 0, sizeof *t);
    if (rows < 0 || cols < 0)
        return cr__fail(CR_ERR_INVALID, "tensor shape %lld x %lld is negative", (long long)rows, (long long)cols);
    if (!cr__mul_size((size_t)rows, (size_t)cols, &n))
        return cr__fail(CR_ERR_OVERFLOW, "tensor %lld x %lld overflows", (long long)rows, (long long)cols);
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
/* ---------------------------------------------------------------------------
   cr_sgemm: C = alpha * op(A) * op(B) + beta * C, row-major, cblas_sgemm semantics.

   GotoBLAS/BLIS structure, one team of threads for the whole call:
     for each KC-slice of k                          (pc)
       each thread packs the MR-row panels of op(A) it will compute on
       for each NC-block of columns                  (jc)
         threads jointly pack op(B)[pc, jc] into NR-column panels, barrier
         each thread: its rows, MC at a time (A block in L2), one KC x NR
           B panel (L1) against each MR x KC A panel: the micro-kernel
   All four transpose cases differ only in the packing. Edge tiles run the same
   kernel into a small buffer (packing zero-pads) and are then copied out.
   For k <= KC (the skinny k = 64 shapes) A is packed once and B once.
   Every C element is produced by the same kernel with the same KC split, which
   depends only on the shape, so results are bit-identical for any thread count.
   Small m*n with long k (64x64x70839) splits k into a shape-determined number
   of chunks with private partial C's, summed in chunk order.
   --------------------------------------------------------------------------- */
#include <string.h> /* memcpy */

#if defined(CR__AVX512)
/* 12x32 tile: 24 zmm accumulators + 2 B vectors + 1 broadcast. */
#define CR__SGEMM_MR 12
#define CR__SGEMM_VW 16
#define CR__SGEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define CR__V __m512
#define CR__VZERO() _mm512_setzero_ps()
#define CR__VSET1(x) _mm512_set1_ps(x)
#define CR__VLOAD(p) _mm512_load_ps(p)
#define CR__VLOADU(p) _mm512_loadu_ps(p)
#define CR__VSTOREU(p, v) _mm512_storeu_ps(p, v)
#define CR__VMUL(a, b) _mm512_mul_ps(a, b)
#define CR__VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#elif defined(CR__AVX2)
/* 6x16 tile: 12 ymm accumulators of 16 registers. */
#define CR__SGEMM_MR 6
#define CR__SGEMM_VW 8
#define CR__SGEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define CR__V __m256
#define CR__VZERO() _mm256_setzero_ps()
#define CR__VSET1(x) _mm256_set1_ps(x)
#define CR__VLOAD(p) _mm256_load_ps(p)
#define CR__VLOADU(p) _mm256_loadu_ps(p)
#define CR__VSTOREU(p, v) _mm256_storeu_ps(p, v)
#define CR__VMUL(a, b) _mm256_mul_ps(a, b)
#define CR__VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#elif defined(CR__SSE2)
/* 6x8 tile; no FMA, so multiply-add (12 accumulators + temporaries = 16 xmm). */
#define CR__SGEMM_MR 6
#define CR__SGEMM_VW 4
#define CR__SGEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define CR__V __m128
#define CR__VZERO() _mm_setzero_ps()
#define CR__VSET1(x) _mm_set1_ps(x)
#define CR__VLOAD(p) _mm_load_ps(p)
#define CR__VLOADU(p) _mm_loadu_ps(p)
#define CR__VSTOREU(p, v) _mm_storeu_ps(p, v)
#define CR__VMUL(a, b) _mm_mul_ps(a, b)
#define CR__VFMA(a, b, c) _mm_add_ps(_mm_mul_ps(a, b), c)
#elif defined(CR__NEON)
/* 8x8 tile: 16 q-register accumulators of 32. */
#define CR__SGEMM_MR 8
#define CR__SGEMM_VW 4
#define CR__SGEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define CR__V float32x4_t
#define CR__VZERO() vdupq_n_f32(0.0f)
#define CR__VSET1(x) vdupq_n_f32(x)
#define CR__VLOAD(p) vld1q_f32(p)
#define CR__VLOADU(p) vld1q_f32(p)
#define CR__VSTOREU(p, v) vst1q_f32(p, v)
#define CR__VMUL(a, b) vmulq_f32(a, b)
#if defined(__aarch64__)
#define CR__VFMA(a, b, c) vfmaq_f32(c, a, b)
#else
#define CR__VFMA(a, b, c) vmlaq_f32(c, a, b)
#endif
#else
/* Portable scalar kernel: 4x4 tile of plain floats. */
#define CR__SGEMM_MR 4
#define CR__SGEMM_NR 4
#endif

#ifdef CR__V
#define CR__SGEMM_NR (2 * CR__SGEMM_VW) /* two vectors per tile row */
#endif

#define CR__SGEMM_KC 256  /* k-slice: a KC x NR B panel (32 KB for AVX-512) stays in L1 */
#define CR__SGEMM_L2A (1 << 17)          /* floats of packed A to keep in L2 (512 KB, half of it) */
#define CR__SGEMM_L2B (1 << 18)          /* packed B this small (1 MB) stays in L2 while rows sweep it */
#define CR__SGEMM_NC 4096              /* KC x NC B block lives in L3; a multiple of every NR */
#define CR__SGEMM_ABLOCK (1 << 22)        /* max floats of packed A kept at once (16 MB) */
#define CR__SGEMM_KSPLIT 1024             /* split-k chunk length */
#define CR__SGEMM_MAXCHUNKS 128

#ifdef CR__V
/* C[MR x NR] = alpha * (A . b-panel) + beta * C, with element (i, p) of A at a[i * rs + p * cs]:
   the packed panel (rs = 1, cs = MR) or an A read where it lies (the streamed InfoNCE's
   probabilities). b: kc x NR (64-byte aligned). beta == 0: C is only written. One body for every
   SIMD ISA; CR__V* map to its intrinsics. Inlined into cr__sgemm_kernel with constant strides. */
static CR__INLINE void cr__sgemm_kernel_s(int kc, const float *a, size_t rs, size_t cs, const float *b, float *c,
                                          size_t ldc, float alpha, float beta) {
#define CR__DECL(i) CR__V c##i##_0 = CR__VZERO(), c##i##_1 = CR__VZERO();
#define CR__STEP(i)                                                          \
    { CR__V ai = CR__VSET1(a[(i) * rs]);                                   \
      c##i##_0 = CR__VFMA(ai, b0, c##i##_0); c##i##_1 = CR__VFMA(ai, b1, c##i##_1); }
#define CR__STORE0(i)                                                        \
    CR__VSTOREU(c + (i) * ldc, CR__VMUL(va, c##i##_0));                      \
    CR__VSTOREU(c + (i) * ldc + CR__SGEMM_VW, CR__VMUL(va, c##i##_1));
#define CR__STOREB(i)                                                        \
    CR__VSTOREU(c + (i) * ldc, CR__VFMA(vb, CR__VLOADU(c + (i) * ldc), CR__VMUL(va, c##i##_0))); \
    CR__VSTOREU(c + (i) * ldc + CR__SGEMM_VW,                                \
                CR__VFMA(vb, CR__VLOADU(c + (i) * ldc + CR__SGEMM_VW), CR__VMUL(va, c##i##_1)));
    CR__SGEMM_ROWS(CR__DECL)
    CR__V va, vb;
    int p;
    for (p = 0; p < kc; p++) {
        CR__V b0 = CR__VLOAD(b), b1 = CR__VLOAD(b + CR__SGEMM_VW);
        CR__SGEMM_ROWS(CR__STEP)
        a += cs;
        b += CR__SGEMM_NR;
    }
    va = CR__VSET1(alpha);
    vb = CR__VSET1(beta);
    if (beta == 0.0f) {
        CR__SGEMM_ROWS(CR__STORE0)
    } else {
        CR__SGEMM_ROWS(CR__STOREB)
    }
#undef CR__DECL
#undef CR__STEP
#undef CR__STORE0
#undef CR__STOREB
}
#else
static void cr__sgemm_kernel_s(int kc, const float *a, size_t rs, size_t cs, const float *b, float *c, size_t ldc,
                               float alpha, float beta)
{
    float acc[CR__SGEMM_MR][CR__SGEMM_NR];
    int i, j, p;
    for (i = 0; i < CR__SGEMM_MR; i++)
        for (j = 0; j < CR__SGEMM_NR; j++) acc[i][j] = 0.0f;
    for (p = 0; p < kc; p++, a += cs, b += CR__SGEMM_NR)
        for (i = 0; i < CR__SGEMM_MR; i++)
            for (j = 0; j < CR__SGEMM_NR; j++) acc[i][j] += a[i * rs] * b[j];
    for (i = 0; i < CR__SGEMM_MR; i++)
        for (j = 0; j < CR__SGEMM_NR; j++)
            c[i * ldc + j] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c[i * ldc + j];
}
#endif

static void cr__sgemm_kernel(int kc, const float *a, const float *b, float *c, size_t ldc, float alpha, float beta)
{
    cr__sgemm_kernel_s(kc, a, 1, CR__SGEMM_MR, b, c, ldc, alpha, beta);
}

/* One MR x NR tile of C; mr/nr < MR/NR at the edges go through a local buffer. */
static void cr__sgemm_tile(int kc, const float *a, const float *b, float *c, size_t ldc,
                           int mr, int nr, float alpha, float beta)
{
    float t[CR__SGEMM_MR * CR__SGEMM_NR];
    int i, j;
    if (mr == CR__SGEMM_MR && nr == CR__SGEMM_NR) {
        cr__sgemm_kernel(kc, a, b, c, ldc, alpha, beta);
        return;
    }
    cr__sgemm_kernel(kc, a, b, t, CR__SGEMM_NR, 1.0f, 0.0f);
    for (i = 0; i < mr; i++)
        for (j = 0; j < nr; j++) {
            float v = alpha * t[i * CR__SGEMM_NR + j];
            c[i * ldc + j] = beta == 0.0f ? v : v + beta * c[i * ldc + j];
        }
}

/* Pack panels q0..q1 of the block op(A)[i0 : i0+mb, p0 : p0+kc] into MR-row panels: panel q at
   dst + q*ps holds element (i0 + q*MR + r, p0 + p) at [p*MR + r]; rows past mb are zero.
   The source is always read along its contiguous rows (a strided walk misses the prefetcher). */
static void cr__sgemm_pack_a(int trans, const float *A, size_t lda, int i0, int mb, int p0, int kc,
                             int q0, int q1, size_t ps, float *dst)
{
    int q, p, r;
    for (q = q0; q < q1; q++) {
        float *d = dst + q * ps;
        int mr = mb - q * CR__SGEMM_MR < CR__SGEMM_MR ? mb - q * CR__SGEMM_MR : CR__SGEMM_MR;
        for (r = mr; r < CR__SGEMM_MR; r++)
            for (p = 0; p < kc; p++) d[p * CR__SGEMM_MR + r] = 0.0f;
        if (!trans) { /* op(A)(i,p) = A[i*lda + p]: MR row streams, sequential writes */
            const float *s = A + (size_t)(i0 + q * CR__SGEMM_MR) * lda + p0;
            if (mr == CR__SGEMM_MR)
                for (p = 0; p < kc; p++)
                    for (r = 0; r < CR__SGEMM_MR; r++) d[p * CR__SGEMM_MR + r] = s[r * lda + p];
            else
                for (p = 0; p < kc; p++)
                    for (r = 0; r < mr; r++) d[p * CR__SGEMM_MR + r] = s[r * lda + p];
        }
    }
    if (trans) /* op(A)(i,p) = A[p*lda + i]: each row of A scatters MR-runs to the panels */
        for (p = 0; p < kc; p++) {
            const float *s = A + (size_t)(p0 + p) * lda + i0;
            for (q = q0; q < q1; q++) {
                float *d = dst + q * ps + (size_t)p * CR__SGEMM_MR;
                int mr = mb - q * CR__SGEMM_MR < CR__SGEMM_MR ? mb - q * CR__SGEMM_MR : CR__SGEMM_MR;
                if (mr == CR__SGEMM_MR) memcpy(d, s + q * CR__SGEMM_MR, sizeof(float) * CR__SGEMM_MR);
                else for (r = 0; r < mr; r++) d[r] = s[q * CR__SGEMM_MR + r];
            }
        }
}

/* Same for op(B)[p0 : p0+kc, j0 : j0+nb] into NR-column panels: element (p, c) of panel q at [p*NR + c]. */
static void cr__sgemm_pack_b(int trans, const float *B, size_t ldb, int p0, int kc, int j0, int nb,
                             int q0, int q1, float *dst)
{
    int q, p, c;
    for (q = q0; q < q1; q++) {
        float *d = dst + (size_t)q * CR__SGEMM_NR * kc;
        int nr = nb - q * CR__SGEMM_NR < CR__SGEMM_NR ? nb - q * CR__SGEMM_NR : CR__SGEMM_NR;
        for (c = nr; c < CR__SGEMM_NR; c++)
            for (p = 0; p < kc; p++) d[p * CR__SGEMM_NR + c] = 0.0f;
        if (trans) /* op(B)(p,j) = B[j*ldb + p] */
            for (c = 0; c < nr; c++) {
                const float *s = B + (size_t)(j0 + q * CR__SGEMM_NR + c) * ldb + p0;
                for (p = 0; p < kc; p++) d[p * CR__SGEMM_NR + c] = s[p];
            }
    }
    if (!trans) /* op(B)(p,j) = B[p*ldb + j] */
        for (p = 0; p < kc; p++) {
            const float *s = B + (size_t)(p0 + p) * ldb + j0;
            for (q = q0; q < q1; q++) {
                float *d = dst + (size_t)q * CR__SGEMM_NR * kc + (size_t)p * CR__SGEMM_NR;
                int nr = nb - q * CR__SGEMM_NR < CR__SGEMM_NR ? nb - q * CR__SGEMM_NR : CR__SGEMM_NR;
                if (nr == CR__SGEMM_NR) memcpy(d, s + q * CR__SGEMM_NR, sizeof(float) * CR__SGEMM_NR);
                else for (c = 0; c < nr; c++) d[c] = s[q * CR__SGEMM_NR + c];
            }
        }
}

/* Rows [r0,r1) x columns [c0,c1) of a packed mb x nc block (r0, c0 multiples of MR, NR). */
static void cr__sgemm_macro(int mb, int nc, int kc, int mc, float alpha, const float *Ap, size_t ps, const float *Bp,
                            float beta, float *C, size_t ldc, int r0, int r1, int c0, int c1)
{
    int ic, jr, ir;
    if ((size_t)nc * kc <= CR__SGEMM_L2B) { /* B fits in L2: sweep each row panel along C's rows */
        for (ir = r0; ir < r1; ir += CR__SGEMM_MR)
            for (jr = c0; jr < c1; jr += CR__SGEMM_NR)
                cr__sgemm_tile(kc, Ap + (size_t)(ir / CR__SGEMM_MR) * ps, Bp + (size_t)jr * kc,
                               C + (size_t)ir * ldc + jr, ldc, mb - ir < CR__SGEMM_MR ? mb - ir : CR__SGEMM_MR,
                               nc - jr < CR__SGEMM_NR ? nc - jr : CR__SGEMM_NR, alpha, beta);
        return;
    }
    for (ic = r0; ic < r1; ic += mc) {
        int ie = ic + mc < r1 ? ic + mc : r1;
        for (jr = c0; jr < c1; jr += CR__SGEMM_NR) {
            int nr = nc - jr < CR__SGEMM_NR ? nc - jr : CR__SGEMM_NR;
            for (ir = ic; ir < ie; ir += CR__SGEMM_MR) {
                int mr = mb - ir < CR__SGEMM_MR ? mb - ir : CR__SGEMM_MR;
                cr__sgemm_tile(kc, Ap + (size_t)(ir / CR__SGEMM_MR) * ps, Bp + (size_t)jr * kc,
                               C + (size_t)ir * ldc + jr, ldc, mr, nr, alpha, beta);
            }
        }
    }
}

static size_t cr__sgemm_round16(size_t x) { return (x + 15) & ~(size_t)15; } /* keep sub-buffers 64B-aligned */

/* Shape-only blocking decisions (so results never depend on the thread count). */
static int cr__sgemm_kc(int k)
{
    int npc = (k + CR__SGEMM_KC - 1) / CR__SGEMM_KC; /* even slices: k = 300 -> 150 + 150, not 256 + 44 */
    return npc ? (k + npc - 1) / npc : 0;
}
static int cr__sgemm_mb(int m, int kc)
{
    int mb = CR__SGEMM_ABLOCK / (kc ? kc : 1) / CR__SGEMM_MR * CR__SGEMM_MR;
    if (mb < CR__SGEMM_MR) mb = CR__SGEMM_MR;
    return m < mb ? m : mb;
}
static size_t cr__sgemm_ws_floats(int m, int n, int k)
{
    int kc = cr__sgemm_kc(k), mb = cr__sgemm_mb(m, kc), nc = n < CR__SGEMM_NC ? n : CR__SGEMM_NC;
    size_t ma = (size_t)(mb + CR__SGEMM_MR - 1) / CR__SGEMM_MR * CR__SGEMM_MR;
    size_t na = (size_t)(nc + CR__SGEMM_NR - 1) / CR__SGEMM_NR * CR__SGEMM_NR;
    return cr__sgemm_round16(ma * kc) + 2 * cr__sgemm_round16(na * kc); /* A block + two B blocks */
}

/* Barrier for the nth threads running one cr__sgemm_blocked_thread (none when nth == 1,
   which is also how a thread of the split-k loop runs it on its own). */
static void cr__sgemm_sync(int nth)
{
#ifdef _OPENMP
    if (nth > 1) {
CR__OMP(barrier)
    }
#else
    (void)nth;
#endif
}

/* Packed, blocked GEMM (k > 0): thread tid of the nth that run it together.
   Threads split C by MR-row panels (by NR-column panels when there are too few rows); each
   packs the A panels it computes on, and a share of the B block, which all of them use.
   B is double-buffered so one barrier per block suffices: a thread packs block t+1 only
   after the barrier of block t, which everybody passes after finishing block t-1.
   ws holds cr__sgemm_ws_floats(m, n, k) floats. */
static void cr__sgemm_blocked_thread(int ta, int tb, int m, int n, int k, float alpha, const float *A, size_t lda,
                                     const float *B, size_t ldb, float beta, float *C, size_t ldc, float *ws,
                                     int tid, int nth)
{
    int kcmax = cr__sgemm_kc(k), mbmax = cr__sgemm_mb(m, kcmax), ncmax = n < CR__SGEMM_NC ? n : CR__SGEMM_NC;
    size_t asz = cr__sgemm_round16((size_t)(mbmax + CR__SGEMM_MR - 1) / CR__SGEMM_MR * CR__SGEMM_MR * kcmax);
    size_t bsz = cr__sgemm_round16((size_t)(ncmax + CR__SGEMM_NR - 1) / CR__SGEMM_NR * CR__SGEMM_NR * kcmax);
    size_t aps = (size_t)CR__SGEMM_MR * kcmax; /* A panel stride: fixed, so a thread never moves its */
    int pc, ic0, jc, t = 0, shared_a = 0;     /* panels onto ones another thread is still reading */
    for (pc = 0; pc < k; pc += kcmax) {
        int kc = k - pc < kcmax ? k - pc : kcmax;
        float bt = pc == 0 ? beta : 1.0f; /* later k-slices accumulate */
        int mc = CR__SGEMM_L2A / kc / CR__SGEMM_MR * CR__SGEMM_MR; /* rows of A per L2-resident block */
        for (ic0 = 0; ic0 < m; ic0 += mbmax) {
            int mb = m - ic0 < mbmax ? m - ic0 : mbmax;
            int nap = (mb + CR__SGEMM_MR - 1) / CR__SGEMM_MR, nbpmax = (ncmax + CR__SGEMM_NR - 1) / CR__SGEMM_NR;
            int byrows = nap >= 2 * nth || nap >= nbpmax;
            int q0 = (int)((long long)nap * tid / nth), q1 = (int)((long long)nap * (tid + 1) / nth);
            if (!byrows || shared_a) cr__sgemm_sync(nth); /* others may still read the previous A panels */
            cr__sgemm_pack_a(ta, A, lda, ic0, mb, pc, kc, q0, q1, aps, ws);
            if (!byrows) cr__sgemm_sync(nth);
            shared_a = !byrows;
            for (jc = 0; jc < n; jc += CR__SGEMM_NC, t++) {
                int nc = n - jc < CR__SGEMM_NC ? n - jc : CR__SGEMM_NC;
                int nbp = (nc + CR__SGEMM_NR - 1) / CR__SGEMM_NR;
                int r0 = q0 * CR__SGEMM_MR, r1 = q1 * CR__SGEMM_MR < mb ? q1 * CR__SGEMM_MR : mb, c0 = 0, c1 = nc;
                float *Bp = ws + asz + (t & 1) * bsz;
                cr__sgemm_pack_b(tb, B, ldb, pc, kc, jc, nc, (int)((long long)nbp * tid / nth),
                                 (int)((long long)nbp * (tid + 1) / nth), Bp);
                cr__sgemm_sync(nth);
                if (!byrows) {
                    r0 = 0;
                    r1 = mb;
                    c0 = (int)((long long)nbp * tid / nth) * CR__SGEMM_NR;
                    c1 = (int)((long long)nbp * (tid + 1) / nth) * CR__SGEMM_NR;
                    if (c1 > nc) c1 = nc;
                }
                cr__sgemm_macro(mb, nc, kc, mc, alpha, ws, aps, Bp, bt, C + (size_t)ic0 * ldc + jc, ldc, r0, r1, c0,
                                c1);
            }
        }
    }
}

static void cr__sgemm_blocked(int ta, int tb, int m, int n, int k, float alpha, const float *A, size_t lda,
                              const float *B, size_t ldb, float beta, float *C, size_t ldc, float *ws, int nt)
{
#ifdef _OPENMP
    if (nt > 1) {
CR__OMP(parallel num_threads(nt))
        cr__sgemm_blocked_thread(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, ws,
                                 omp_get_thread_num(), omp_get_num_threads());
        return;
    }
#else
    (void)nt;
#endif
    cr__sgemm_blocked_thread(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, ws, 0, 1);
}

/* Unpacked fallback for when workspace allocation fails: slow but needs no memory. */
static void cr__sgemm_naive(int ta, int tb, int m, int n, int k, float alpha, const float *A, size_t lda,
                            const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    int i, j, p;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            float s = 0.0f, *c = C + (size_t)i * ldc + j;
            for (p = 0; p < k; p++)
                s += (ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p]) *
                     (tb ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j]);
            *c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
        }
}

/* Small m*n, long k: chunks of k (count fixed by the shape) into private partial C's,
   reduced in chunk order. Returns 0 if the buffers cannot be allocated. */
static int cr__sgemm_splitk(int ta, int tb, int m, int n, int k, float alpha, const float *A, size_t lda,
                            const float *B, size_t ldb, float beta, float *C, size_t ldc, int nt)
{
    int nch = (k + CR__SGEMM_KSPLIT - 1) / CR__SGEMM_KSPLIT, ch, i;
    size_t mn = cr__sgemm_round16((size_t)m * n), wsf;
    float *buf, *part;
    if (nch > CR__SGEMM_MAXCHUNKS) nch = CR__SGEMM_MAXCHUNKS;
    if (nt > nch) nt = nch;
    /* chunks are k/nch or k/nch + 1 long; their KC split (hence workspace) can differ */
    wsf = cr__sgemm_ws_floats(m, n, k / nch);
    if (cr__sgemm_ws_floats(m, n, k / nch + 1) > wsf) wsf = cr__sgemm_ws_floats(m, n, k / nch + 1);
    buf = (float *)cr__malloc_aligned((mn * nch + wsf * nt) * sizeof(float));
    if (!buf) return 0;
    part = buf + wsf * nt;
    (void)nt;
#ifdef _OPENMP
CR__OMP(parallel for schedule(static) num_threads(nt) if (nt > 1))
#endif
    for (ch = 0; ch < nch; ch++) {
        int tid = 0;
        int k0 = (int)((long long)k * ch / nch), k1 = (int)((long long)k * (ch + 1) / nch);
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        cr__sgemm_blocked_thread(ta, tb, m, n, k1 - k0, 1.0f, ta ? A + (size_t)k0 * lda : A + k0, lda,
                                 tb ? B + k0 : B + (size_t)k0 * ldb, ldb, 0.0f, part + mn * ch, (size_t)n,
                                 buf + wsf * tid, 0, 1);
    }
#ifdef _OPENMP
CR__OMP(parallel for schedule(static) num_threads(nt) if (nt > 1))
#endif
    for (i = 0; i < m; i++) { /* sum the chunks into chunk 0's row, always in chunk order */
        float *s = part + (size_t)i * n, *c = C + (size_t)i * ldc;
        int j, q;
        for (q = 1; q < nch; q++) {
            const float *t = s + mn * q;
            for (j = 0; j < n; j++) s[j] += t[j];
        }
        for (j = 0; j < n; j++) c[j] = beta == 0.0f ? alpha * s[j] : alpha * s[j] + beta * c[j];
    }
    cr__free_aligned(buf);
    return 1;
}

CR_API void cr_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc)
{
    int nt;
    size_t wsf;
    float *ws;
    CR_ASSERT(m >= 0 && n >= 0 && k >= 0);
    CR_ASSERT(lda >= 1 && lda >= (trans_a ? m : k));
    CR_ASSERT(ldb >= 1 && ldb >= (trans_b ? k : n));
    CR_ASSERT(ldc >= 1 && ldc >= n);
    if (m <= 0 || n <= 0 || k < 0 || lda < (trans_a ? m : k) || ldb < (trans_b ? k : n) || ldc < n) return;
    CR_ASSERT(C != NULL);
    if (k == 0 || alpha == 0.0f) { /* C = beta * C; A and B are not touched */
        int i, j;
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++) {
                float *c = C + (size_t)i * ldc + j;
                *c = beta == 0.0f ? 0.0f : beta * *c;
            }
        return;
    }
    CR_ASSERT(A != NULL && B != NULL);
    cr__prof_count(2.0 * m * n * k, 4.0 * ((double)m * k + (double)k * n + (beta != 0.0f ? 2.0 : 1.0) * m * n));
    nt = cr__nthreads();
    if ((double)m * n * k < 256.0 * 256.0 * 64.0) nt = 1; /* not worth waking threads */
    if (nt < 1) nt = 1;
    if ((long long)m * n <= 128 * 128 && k >= 2 * CR__SGEMM_KSPLIT &&
        cr__sgemm_splitk(trans_a, trans_b, m, n, k, alpha, A, (size_t)lda, B, (size_t)ldb, beta, C, (size_t)ldc, nt))
        return;
    wsf = cr__sgemm_ws_floats(m, n, k);
    ws = (float *)cr__malloc_aligned(wsf * sizeof(float));
    if (!ws) {
        cr__sgemm_naive(trans_a, trans_b, m, n, k, alpha, A, (size_t)lda, B, (size_t)ldb, beta, C, (size_t)ldc);
        return;
    }
    cr__sgemm_blocked(trans_a, trans_b, m, n, k, alpha, A, (size_t)lda, B, (size_t)ldb, beta, C, (size_t)ldc, ws, nt);
    cr__free_aligned(ws);
}

/* CR__SGEMM_MR, _NR and _VW stay defined: the streamed InfoNCE (section 7) drives the
   micro-kernel */
#undef CR__SGEMM_ROWS
#undef CR__SGEMM_KC
#undef CR__SGEMM_L2A
#undef CR__SGEMM_NC
#undef CR__SGEMM_ABLOCK
#undef CR__SGEMM_KSPLIT
#undef CR__SGEMM_MAXCHUNKS
#undef CR__V
#undef CR__VZERO
#undef CR__VSET1
#undef CR__VLOAD
#undef CR__VLOADU
#undef CR__VSTOREU
#undef CR__VMUL
#undef CR__VFMA

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
        return cr__fail(CR_ERR_INVALID, "cr_csr_from_coo: bad shape %lld x %lld with %lld entries", (long long)nrows,
                        (long long)ncols, (long long)nnz);
    for (e = 0; e < nnz; e++)
        if (rows[e] < 0 || rows[e] >= nrows || cols[e] < 0 || cols[e] >= ncols)
            return cr__fail(CR_ERR_INVALID, "cr_csr_from_coo: entry %lld at (%d, %d) is outside the %lld x %lld matrix",
                            (long long)e, rows[e], cols[e], (long long)nrows, (long long)ncols);
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

/* 1 if row r of A (columns sorted) holds column c: a binary search. */
static int cr__csr_has(const cr_csr *A, int64_t r, int32_t c) {
    int64_t lo = A->rowptr[r], hi = A->rowptr[r + 1];
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (A->col[mid] < c) lo = mid + 1;
        else hi = mid;
    }
    return lo < A->rowptr[r + 1] && A->col[lo] == c;
}

/* ---- 4c. SpMM ---- */

/* Y = A X is a gather: entry (r, c) reads row c of X, d floats from anywhere in the table, and
   one thread sums the rows of each output row in CSR order (one accumulator chain per column,
   entry after entry), so Y is bit-identical for every run and every thread count. Nearly all the
   time goes into bringing those rows in (Gowalla at d = 64: 415 MB per call, from L2/L3), so:
   - rows are prefetched a fixed number of cache lines ahead, counted over the thread's whole
     entry range rather than the current row, so the rows of the next CSR rows are already in
     flight when a row ends (short rows are the common case in power-law graphs);
   - a column panel's accumulators stay in registers: one load + FMA per vector per entry;
   - the loop is instantiated per panel width, with no test left inside it.
   Measured on Zen 5 and left out (bench/notes/spmm.md has the numbers): streaming stores for Y
   (5-8% slower here, also when Y was the next call's X), two accumulator sets per row (no gain:
   the loop is bound by the gathers, not FMA latency, and it would break the CSR order), narrower
   column panels to keep X in L3 (slower), prefetching only every other line (no faster when the
   machine is idle, far slower when its L3 is contended). */

/* First row of part t of nparts, splitting rows so every part holds about the same number of
   nonzeros plus rows (a row costs a write of d floats even when it is empty). */
static int64_t cr__csr_part_in(const cr_csr *A, int64_t a, int64_t b, int t, int nparts) {
    int64_t lo = a, hi = b, target, base = A->rowptr[a] + a;
    double total = (double)(A->rowptr[b] + b - base);
    if (t <= 0) return a;
    if (t >= nparts) return b;
    target = base + (int64_t)(total * t / nparts);
    while (lo < hi) { /* first row r with rowptr[r] + r >= target */
        int64_t mid = lo + (hi - lo) / 2;
        if (A->rowptr[mid] + mid < target) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Tunables, measured on Zen 5 with Gowalla (bench/notes/spmm.md). 160 lines = 40 rows of 64 floats:
   from 96 to 224 lines is flat within noise, 48 or 320 lose 5-15%. */
#ifndef CR__SPMM_PF_LINES
#define CR__SPMM_PF_LINES 160 /* cache lines requested ahead of the one being summed */
#endif
#ifndef CR__SPMM_SERIAL_WORK /* (nnz + rows) * d below this: one thread (2-thread break-even ~2e5) */
#define CR__SPMM_SERIAL_WORK ((int64_t)3 << 16)
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CR__SPMM_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define CR__SPMM_INLINE static __forceinline
#else
#define CR__SPMM_INLINE static
#endif

#if defined(CR__AVX512) || defined(CR__AVX2) || defined(CR__SSE2)
#define CR__SPMM_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#elif defined(__GNUC__) || defined(__clang__)
#define CR__SPMM_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)
#else
#define CR__SPMM_PREFETCH(p) ((void)(p))
#endif

/* Asks for the bytes [p, p + n) ahead of their use. */
static inline void cr__prefetch_span(const void *p, int64_t n) {
    int64_t b;
    for (b = 0; b < n; b += 64) CR__SPMM_PREFETCH((const char *)p + b);
}

/* Asks for row map[r + 8] of x, d floats, ahead of its use: rows reached through the node order
   are scattered, and the hardware prefetcher only follows streams. */
static inline void cr__prefetch_row(const float *x, const int32_t *map, int64_t r, int64_t N, int d) {
    if (map && r + 8 < N) cr__prefetch_span(x + (int64_t)map[r + 8] * d, (int64_t)d * 4);
}

/* A bfloat16 widened to float32: exact. */
static CR__INLINE float cr__bf16_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The vector vocabulary the one kernel is written in, per ISA: W lanes, full loads/stores
   (unaligned: rows of a view start anywhere), a partial load/store of the first n lanes that
   never touches memory past lane n-1 (zero-filled), and multiply-add. CR__SPV_NACC vectors of
   accumulators (plus one partial) must fit the register file with room for w and a load. */
#if defined(CR__AVX512)
typedef __m512 cr__spv;
typedef __mmask16 cr__spv_tail;
#define CR__SPV_W 16
#define CR__SPV_NACC 8
#define CR__SPV_ZERO() _mm512_setzero_ps()
#define CR__SPV_SET1(a) _mm512_set1_ps(a)
#define CR__SPV_LOAD(p) _mm512_loadu_ps(p)
#define CR__SPV_ADD(a, b) _mm512_add_ps(a, b)
#define CR__SPV_MADD(w, x, acc) _mm512_fmadd_ps(w, x, acc)
#define CR__SPV_STORE(p, v) _mm512_storeu_ps(p, v)
#define CR__SPV_TAIL(n) ((__mmask16)((1u << (n)) - 1u))
#define CR__SPV_LOADN(p, m) _mm512_maskz_loadu_ps(m, p)
#define CR__SPV_STOREN(p, v, m) _mm512_mask_storeu_ps(p, m, v)
/* 16 bfloat16 widened to 32 bits and moved to the high half (masked: g++ -O2 warns of the plain
   forms' undefined source) */
#define CR__SPV_LOADH(p)                                                                                  \
    _mm512_castsi512_ps(_mm512_maskz_slli_epi32(                                                          \
        (__mmask16)0xFFFF,                                                                                \
        _mm512_maskz_cvtepu16_epi32((__mmask16)0xFFFF, _mm256_loadu_si256((const __m256i *)(const void *)(p))), 16))
/* Adam's (cr__adam_span): the masked sqrt, as g++ -O2 warns of the plain one's undefined source */
#define CR__SPV_MUL(a, b) _mm512_mul_ps(a, b)
#define CR__SPV_SUB(a, b) _mm512_sub_ps(a, b)
#define CR__SPV_DIV(a, b) _mm512_div_ps(a, b)
#define CR__SPV_SQRT(a) _mm512_maskz_sqrt_ps((__mmask16)0xFFFF, a)
#elif defined(CR__AVX2)
typedef __m256 cr__spv;
typedef __m256i cr__spv_tail;
static const int32_t cr__spv_lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
#define CR__SPV_W 8
#define CR__SPV_NACC 8
#define CR__SPV_ZERO() _mm256_setzero_ps()
#define CR__SPV_SET1(a) _mm256_set1_ps(a)
#define CR__SPV_LOAD(p) _mm256_loadu_ps(p)
#define CR__SPV_ADD(a, b) _mm256_add_ps(a, b)
#define CR__SPV_MADD(w, x, acc) _mm256_fmadd_ps(w, x, acc)
#define CR__SPV_STORE(p, v) _mm256_storeu_ps(p, v)
#define CR__SPV_TAIL(n) _mm256_loadu_si256((const __m256i *)(const void *)(cr__spv_lanes + 8 - (n)))
#define CR__SPV_LOADN(p, m) _mm256_maskload_ps(p, m)
#define CR__SPV_STOREN(p, v, m) _mm256_maskstore_ps(p, m, v)
#define CR__SPV_LOADH(p)                                                                                  \
    _mm256_castsi256_ps(                                                                                  \
        _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))), 16))
#define CR__SPV_MUL(a, b) _mm256_mul_ps(a, b)
#define CR__SPV_SUB(a, b) _mm256_sub_ps(a, b)
#define CR__SPV_DIV(a, b) _mm256_div_ps(a, b)
#define CR__SPV_SQRT(a) _mm256_sqrt_ps(a)
#elif defined(CR__SSE2) || defined(CR__NEON)
#if defined(CR__SSE2)
typedef __m128 cr__spv;
#define CR__SPV_ZERO() _mm_setzero_ps()
#define CR__SPV_SET1(a) _mm_set1_ps(a)
#define CR__SPV_LOAD(p) _mm_loadu_ps(p)
#define CR__SPV_ADD(a, b) _mm_add_ps(a, b)
#define CR__SPV_MADD(w, x, acc) _mm_add_ps(_mm_mul_ps(w, x), acc)
#define CR__SPV_STORE(p, v) _mm_storeu_ps(p, v)
#define CR__SPV_LOADH(p)                                                                                  \
    _mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), _mm_loadl_epi64((const __m128i *)(const void *)(p))))
#else
typedef float32x4_t cr__spv;
#define CR__SPV_ZERO() vdupq_n_f32(0.0f)
#define CR__SPV_SET1(a) vdupq_n_f32(a)
#define CR__SPV_LOAD(p) vld1q_f32(p)
#define CR__SPV_ADD(a, b) vaddq_f32(a, b)
#if defined(__aarch64__) || defined(_M_ARM64)
#define CR__SPV_MADD(w, x, acc) vfmaq_f32(acc, w, x)
#else
#define CR__SPV_MADD(w, x, acc) vmlaq_f32(acc, w, x)
#endif
#define CR__SPV_STORE(p, v) vst1q_f32(p, v)
#define CR__SPV_LOADH(p) vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16))
#endif
/* No masked moves here: a partial vector of n = 1..3 lanes goes through a 4-float buffer. */
typedef int cr__spv_tail;
#define CR__SPV_W 4
#define CR__SPV_NACC 8
#define CR__SPV_TAIL(n) (n)
CR__SPMM_INLINE cr__spv cr__spv_loadn(const float *p, int n) {
    float b[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    b[0] = p[0];
    if (n > 1) b[1] = p[1];
    if (n > 2) b[2] = p[2];
    return CR__SPV_LOAD(b);
}
CR__SPMM_INLINE void cr__spv_storen(float *p, cr__spv v, int n) {
    float b[4];
    CR__SPV_STORE(b, v);
    p[0] = b[0];
    if (n > 1) p[1] = b[1];
    if (n > 2) p[2] = b[2];
}
#define CR__SPV_LOADN(p, m) cr__spv_loadn(p, m)
#define CR__SPV_STOREN(p, v, m) cr__spv_storen(p, v, m)
#else /* scalar: one lane, so there is never a partial vector */
typedef float cr__spv;
typedef int cr__spv_tail;
#define CR__SPV_W 1
#define CR__SPV_NACC 8
#define CR__SPV_ZERO() 0.0f
#define CR__SPV_SET1(a) (a)
#define CR__SPV_LOAD(p) (*(p))
#define CR__SPV_ADD(a, b) ((a) + (b))
#define CR__SPV_MADD(w, x, acc) ((w) * (x) + (acc))
#define CR__SPV_STORE(p, v) (*(p) = (v))
#define CR__SPV_TAIL(n) (n)
#define CR__SPV_LOADN(p, m) ((void)(m), *(p))
#define CR__SPV_STOREN(p, v, m) ((void)(m), *(p) = (v))
#define CR__SPV_LOADH(p) cr__bf16_f32(*(p))
#endif

/* The first n (< W) bfloat16 lanes of a row, the rest zero, never reading past lane n-1 (tails
   only: d not a multiple of the vector width). */
CR__SPMM_INLINE cr__spv cr__spv_loadhn(const uint16_t *p, int n) {
    uint16_t b[CR__SPV_W > 1 ? CR__SPV_W : 2] = {0};
    memcpy(b, p, (size_t)n * sizeof(uint16_t));
    return CR__SPV_LOADH(b);
}

/* Rows r0..r1-1 of one column panel: nv full vectors plus, if has_tail, a partial one of `tail`
   lanes. X and Y point at the panel's first column; rows are d elements apart, floats or (half)
   bfloat16 widened as they load. nv, has_tail, `exact` and `half` are compile-time constants at
   every call, so acc[] lives in registers and no test is left in the loop; `exact` (rows start
   on a cache line, no tail) prefetches a fixed number of lines. Entries are prefetched `dist`
   ahead over the thread's whole range [.., pend), so the rows of the next CSR rows are in flight
   before this one ends. val == NULL reads a single 1.0f (vmask = 0) instead of branching:
   fma(1, x, a) == x + a, so it is the all-ones matrix, bit for bit, and costs no second copy of
   the loop. */
CR__SPMM_INLINE void cr__spmm_panel(const int64_t *rowptr, const int32_t *col, const float *val,
                                    int64_t vmask, int64_t r0, int64_t r1, int64_t pend,
                                    const void *X, int64_t d, float *Y, const int nv,
                                    const int has_tail, int tail, const int exact, int64_t dist, const int half) {
    cr__spv acc[CR__SPV_NACC + 1];
    const cr__spv_tail m = CR__SPV_TAIL(has_tail ? tail : 0);
    const int64_t esz = half ? 2 : 4, bytes = (int64_t)(nv * CR__SPV_W + (has_tail ? tail : 0)) * esz;
    int64_t r, p, off;
    int k;
    for (r = r0; r < r1; r++) {
        const int64_t e = rowptr[r + 1];
        float *y = Y + r * d;
        for (k = 0; k < nv + has_tail; k++) acc[k] = CR__SPV_ZERO();
        for (p = rowptr[r]; p < e; p++) {
            const char *x = (const char *)X + (int64_t)col[p] * d * esz;
            const char *nx = (const char *)X + (int64_t)col[p + dist < pend ? p + dist : pend - 1] * d * esz;
            const cr__spv w = CR__SPV_SET1(val[p & vmask]);
            if (exact) {
                for (k = 0; k < (nv * CR__SPV_W * (int)esz + 63) / 64; k++) CR__SPMM_PREFETCH(nx + 64 * k);
            } else { /* the row may straddle one more line than its size needs */
                for (off = 0; off < bytes; off += 64) CR__SPMM_PREFETCH(nx + off);
                CR__SPMM_PREFETCH(nx + bytes - 1);
            }
            for (k = 0; k < nv; k++)
                acc[k] = CR__SPV_MADD(w, half ? CR__SPV_LOADH((const uint16_t *)(const void *)x + k * CR__SPV_W)
                                              : CR__SPV_LOAD((const float *)(const void *)x + k * CR__SPV_W), acc[k]);
            if (has_tail) {
                const char *xt = x + nv * CR__SPV_W * esz;
                acc[nv] = CR__SPV_MADD(w, half ? cr__spv_loadhn((const uint16_t *)(const void *)xt, tail)
                                               : CR__SPV_LOADN((const float *)(const void *)xt, m), acc[nv]);
            }
        }
        for (k = 0; k < nv; k++) CR__SPV_STORE(y + k * CR__SPV_W, acc[k]);
        if (has_tail) CR__SPV_STOREN(y + nv * CR__SPV_W, acc[nv], m);
    }
}

/* Instantiates the panel kernel for every register count (the switch makes nv a constant). */
static void cr__spmm_panel_any(const cr_csr *A, int64_t r0, int64_t r1, const void *X, int64_t d,
                               float *Y, int nv, int tail, int64_t dist, int half) {
    static const float one = 1.0f;
    const int64_t *rp = A->rowptr, pend = A->rowptr[r1], vm = A->val ? -1 : 0;
    const int32_t *c = A->col;
    const float *v = A->val ? A->val : &one;
    const int exact = tail == 0 && (((uintptr_t)X | (uintptr_t)(d * (half ? 2 : 4))) & 63) == 0;
#define CR__SPMM_CALL(n, h)                                                                                    \
    if (exact) cr__spmm_panel(rp, c, v, vm, r0, r1, pend, X, d, Y, n, 0, 0, 1, dist, h);                      \
    else if (tail) cr__spmm_panel(rp, c, v, vm, r0, r1, pend, X, d, Y, n, 1, tail, 0, dist, h);               \
    else cr__spmm_panel(rp, c, v, vm, r0, r1, pend, X, d, Y, n, 0, 0, 0, dist, h);
#define CR__SPMM_NV(n)                                                                                         \
    case n:                                                                                                   \
        if (half) { CR__SPMM_CALL(n, 1) } else { CR__SPMM_CALL(n, 0) }                                        \
        break;
    switch (nv) {
        CR__SPMM_NV(0)
        CR__SPMM_NV(1)
        CR__SPMM_NV(2)
        CR__SPMM_NV(3)
        CR__SPMM_NV(4)
        CR__SPMM_NV(5)
        CR__SPMM_NV(6)
        CR__SPMM_NV(7)
        default:
        CR__SPMM_NV(8)
    }
#undef CR__SPMM_NV
#undef CR__SPMM_CALL
}

/* Rows r0..r1-1 of Y, one sweep over the rows per column panel of at most CR__SPV_NACC vectors
   (the accumulators must stay in registers), panels as equal as whole cache lines allow; the last
   one takes the partial vector. Each X line still comes in once per entry, whatever the split;
   splitting more finely than the registers force (to keep the gathered columns of X in L3) was
   measured and only costs: every sweep pays the per-entry overhead again. The prefetch distance is
   a fixed number of lines in flight, so narrow panels look further ahead in entries. */
static void cr__spmm_rows(const cr_csr *A, int64_t r0, int64_t r1, const void *X, int d, float *Y, int half) {
    const int fullv = d / CR__SPV_W, tail = d % CR__SPV_W, esz = half ? 2 : 4;
    int line = 64 / (CR__SPV_W * 4), vper = CR__SPV_NACC, c0;
    if (r0 >= r1) return;
    if (line > vper) line = vper;
    if (fullv > vper) { /* equal panels, rounded up to whole lines */
        int np = (fullv + vper - 1) / vper;
        vper = ((fullv + np - 1) / np + line - 1) / line * line;
        if (vper > CR__SPV_NACC) vper = CR__SPV_NACC;
    }
    for (c0 = 0; c0 < d;) {
        const int left = fullv - c0 / CR__SPV_W, nv = left <= vper ? left : vper, t = left <= vper ? tail : 0;
        const int64_t lines = ((int64_t)(nv * CR__SPV_W + t) * esz + 63) / 64;
        cr__spmm_panel_any(A, r0, r1, (const char *)X + (int64_t)c0 * esz, d, Y + c0, nv, t,
                           CR__SPMM_PF_LINES / lines > 4 ? CR__SPMM_PF_LINES / lines : 4, half);
        c0 += nv * CR__SPV_W + t;
    }
}

/* Y = A X over row ranges of equal work per thread; X float32 or (half) bfloat16. */
/* Rows [a, b) of Y = A X (the other rows of Y untouched). */
static void cr__spmm_range(const cr_csr *A, int64_t a, int64_t b, const void *X, int half, int d, float *Y) {
    int nparts = cr__nthreads(), t;
    double esz = half ? 2.0 : 4.0, nnz = (double)(A->rowptr[b] - A->rowptr[a]), rows = (double)(b - a);
    CR_ASSERT(d >= 1);
    if (b <= a) return;
    /* the matrix, one gathered row of X per entry (from cache at best), Y written once */
    cr__prof_count(2.0 * nnz * d, 8.0 * (rows + 1) + nnz * (8.0 + esz * d) + 4.0 * rows * d);
    if ((nnz + rows) * d < (double)CR__SPMM_SERIAL_WORK) nparts = 1; /* not worth a fork */
    if (nparts > b - a) nparts = (int)(b - a);
    if (nparts <= 1) {
        cr__spmm_rows(A, a, b, X, d, Y, half);
        return;
    }
CR__OMP(parallel for schedule(static, 1) num_threads(nparts))
    for (t = 0; t < nparts; t++)
        cr__spmm_rows(A, cr__csr_part_in(A, a, b, t, nparts), cr__csr_part_in(A, a, b, t + 1, nparts), X, d, Y, half);
}

static void cr__spmm(const cr_csr *A, const void *X, int half, int d, float *Y) {
    if (A->nrows > 0) cr__spmm_range(A, 0, A->nrows, X, half, d, Y);
}

CR_API void cr_spmm(const cr_csr *A, const float *X, int d, float *Y) { cr__spmm(A, X, 0, d, Y); }

CR_API void cr_spmm_bf16(const cr_csr *A, const uint16_t *X, int d, float *Y) { cr__spmm(A, X, 1, d, Y); }

/* Round to nearest, ties to even, on the bits: a NaN keeps its sign and becomes quiet. */
static uint16_t cr__f32_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

CR_API void cr_bf16_from_f32(uint16_t *dst, const float *src, int64_t n) {
    int64_t i;
    cr__prof_count(0.0, 6.0 * (double)n); /* read 4 bytes, write 2 */
    CR__OMP(parallel for schedule(static) if (n > 65536))
    for (i = 0; i < n; i++) dst[i] = cr__f32_bf16(src[i]);
}

CR_API void cr_bf16_to_f32(float *dst, const uint16_t *src, int64_t n) {
    int64_t i;
    CR__OMP(parallel for schedule(static) if (n > 65536))
    for (i = 0; i < n; i++) dst[i] = cr__bf16_f32(src[i]);
}

static double cr__bw_pass(float *y, const float *x, int64_t n, int reps) {
    double best = 1e30;
    int r;
    for (r = 0; r < reps; r++) {
        double t = cr__now();
        int64_t i;
        CR__OMP(parallel for schedule(static))
        for (i = 0; i < n; i++) y[i] = 1.0001f * x[i];
        t = cr__now() - t;
        if (t < best) best = t;
    }
    return 8.0 * (double)n / best / 1e9;
}

CR_API cr_status cr_machine_measure(cr_machine *out) {
    int64_t big = (int64_t)64 << 20, small = (int64_t)4 << 20, nn = 1024 * 1024; /* floats */
    float *x = cr_alloc_floats(big), *y = cr_alloc_floats(big), *c = cr_alloc_floats(nn);
    int r;
    memset(out, 0, sizeof *out);
    if (!x || !y || !c) {
        cr__free_aligned(x), cr__free_aligned(y), cr__free_aligned(c);
        return cr__fail(CR_ERR_NOMEM, "cr_machine_measure: out of memory (520 MB of buffers)");
    }
    out->threads = cr__nthreads();
    for (r = 0; r < nn; r++) x[r] = (float)(r % 97) * 0.01f, y[r] = (float)(r % 89) * 0.01f;
    out->gemm_gflops = 0;
    for (r = 0; r < 4; r++) { /* the first warms the caches and the threads */
        double t = cr__now();
        cr_sgemm(0, 0, 1024, 1024, 1024, 1.0f, x, 1024, y, 1024, 0.0f, c, 1024);
        t = cr__now() - t;
        if (r && 2.0 * 1024 * 1024 * 1024 / t / 1e9 > out->gemm_gflops)
            out->gemm_gflops = 2.0 * 1024 * 1024 * 1024 / t / 1e9;
    }
    cr__bw_pass(y, x, small, 2);
    out->cache_gbs = cr__bw_pass(y, x, small, 20);
    out->dram_gbs = cr__bw_pass(y, x, big, 4);
    cr__free_aligned(x), cr__free_aligned(y), cr__free_aligned(c);
    return CR_OK;
}

CR_API double cr_phase_floor(const cr_phase_cost *c, const cr_machine *mc) {
    double f = mc->gemm_gflops > 0 ? c->flops / (mc->gemm_gflops * 1e9) : 0;
    double b = mc->cache_gbs > 0 ? c->bytes / (mc->cache_gbs * 1e9) : 0;
    return f > b ? f : b;
}

CR_API int cr_phase_table(char *buf, size_t n, const cr_phase_cost *ph, int count, const cr_machine *mc) {
    cr_phase_cost tot;
    size_t len = 0;
    double tfl = 0; /* phases run one after another: the total floor is the sum of theirs */
    int k, w;
    memset(&tot, 0, sizeof tot);
    w = snprintf(buf, n, "  %-9s %9s %9s %8s %8s %7s %9s %7s\n", "phase", "seconds", "GFLOP", "GB", "GFLOP/s", "GB/s",
                 "floor s", "floor/s");
    len += (size_t)(w > 0 ? w : 0);
    for (k = 0; k <= count; k++) {
        const cr_phase_cost *c = k < count ? &ph[k] : &tot;
        double fl = k < count ? cr_phase_floor(c, mc) : tfl;
        double sec = c->seconds > 0 ? c->seconds : 1e300; /* no time measured: rates of 0 */
        if (k < count && c->seconds <= 0 && c->flops <= 0) continue;
        if (k < count) tot.seconds += c->seconds, tot.flops += c->flops, tot.bytes += c->bytes, tfl += fl;
        w = snprintf(len < n ? buf + len : NULL, len < n ? n - len : 0,
                     "  %-9s %9.3f %9.2f %8.2f %8.1f %7.1f %9.3f %7.2f\n", k < count ? cr_phase_name(k) : "total",
                     c->seconds, c->flops / 1e9, c->bytes / 1e9, c->flops / 1e9 / sec, c->bytes / 1e9 / sec, fl,
                     fl / sec);
        len += (size_t)(w > 0 ? w : 0);
    }
    return (int)len;
}

/* ---- 4d. bipartite graphs ---- */

CR_API cr_status cr_graph_bipartite(cr_csr *A, int32_t n_users, int32_t n_items, int64_t n,
                                    const int32_t *users, const int32_t *items,
                                    const uint8_t *keep) {
    int64_t e, r, nn = (int64_t)n_users + n_items, kept = 0, *fill;
    cr_status st;
    memset(A, 0, sizeof *A);
    if (n_users < 0 || n_items < 0 || nn > INT32_MAX || n < 0)
        return cr__fail(CR_ERR_INVALID, "cr_graph_bipartite: bad sizes (%d users, %d items, %lld edges)", n_users,
                        n_items, (long long)n);
    for (e = 0; e < n; e++) {
        if (users[e] < 0 || users[e] >= n_users || items[e] < 0 || items[e] >= n_items)
            return cr__fail(CR_ERR_INVALID, "cr_graph_bipartite: edge %lld (%d, %d) is out of range", (long long)e,
                            users[e], items[e]);
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
    if (n == 0) { cr_idmap_free(m); return; } /* back to the zeroed state it started from */
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

/* Room for at least want records in all four arrays: exactly want when they are empty, else
   the capacity doubled until it fits. */
static cr_status cr__interactions_reserve(cr_interactions *x, int64_t want) {
    void **arr[4];
    size_t sz[4], bytes;
    int64_t nc = x->cap;
    int k;
    if (want <= x->cap) return CR_OK;
    if (!nc) nc = want;
    while (nc < want) {
        if (nc > INT64_MAX / 2) return cr__fail(CR_ERR_OVERFLOW, "size overflow growing interactions");
        nc *= 2;
    }
    arr[0] = (void **)&x->user;
    arr[1] = (void **)&x->item;
    arr[2] = (void **)&x->rating;
    arr[3] = (void **)&x->time;
    sz[0] = sz[1] = sizeof(int32_t);
    sz[2] = sizeof(float);
    sz[3] = sizeof(double);
    for (k = 0; k < 4; k++) { /* each array grown in turn; the capacity moves when all four have */
        void *q;
        if (!cr__mul_size((size_t)nc, sz[k], &bytes))
            return cr__fail(CR_ERR_OVERFLOW, "size overflow growing interactions");
        if (!(q = CR_REALLOC(*arr[k], bytes))) return cr__nomem("interactions", bytes);
        *arr[k] = q;
    }
    x->cap = nc;
    return CR_OK;
}

CR_API cr_status cr_interactions_push(cr_interactions *x, int32_t user, int32_t item,
                                      float rating, double time) {
    if (x->n == x->cap && cr__interactions_reserve(x, x->n + 1) != CR_OK) return CR_ERR_NOMEM;
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
            return cr__fail(CR_ERR_INVALID, "record %lld has user %d outside 0..%d", (long long)e, x->user[e],
                            n_users - 1);
        }
        off[x->user[e] + 2]++;
    }
    for (u = 0; u < n_users; u++) off[u + 2] += off[u + 1];
    for (e = 0; e < x->n; e++) idx[off[x->user[e] + 1]++] = e;
    *off_out = off;
    *idx_out = idx;
    return CR_OK;
}

/* Removes the records with drop[e] != 0, keeping the order; returns how many went. */
static int64_t cr__interactions_drop(cr_interactions *x, const uint8_t *drop) {
    int64_t e, w = 0, n = x->n;
    for (e = 0; e < n; e++) {
        if (drop[e]) continue;
        x->user[w] = x->user[e];
        x->item[w] = x->item[e];
        x->rating[w] = x->rating[e];
        x->time[w] = x->time[e];
        w++;
    }
    x->n = w;
    return n - w;
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
    int64_t *off, *idx;
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
    *removed = cr__interactions_drop(x, drop);
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

#define CR__ISDIGIT(c) ((c) >= '0' && (c) <= '9')
#define CR__ISWORD(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || CR__ISDIGIT(c) || (c) == '_')
#define CR__ISBLANK(c) ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\v' || (c) == '\f')

/* Splits [b, e) into fields. Separators: runs of blanks; one ',' (blanks around it allowed);
   "::" (MovieLens 1M); a single ':' right after the first field (sequence files). Returns 1,
   0 with p->msg set when the line cannot be split (an empty field, a NUL byte, a stray ':'),
   or -1 when out of memory. */
static int cr__split_line(cr__parser *p, const char *b, const char *e) {
    const char *s = b;
    char show[64];
    p->nf = 0;
    p->colon_after_first = 0;
    if (memchr(b, 0, (size_t)(e - b))) {
        snprintf(p->msg, sizeof p->msg, "binary data (a NUL byte) at column %d",
                 (int)((const char *)memchr(b, 0, (size_t)(e - b)) - b) + 1);
        return 0;
    }
    while (s < e && CR__ISBLANK(*s)) s++;
    while (s < e) {
        const char *t = s;
        while (t < e && !CR__ISBLANK(*t) && *t != ',' && *t != ':') t++;
        if (t == s) {
            snprintf(p->msg, sizeof p->msg, "empty field %d (before '%s')", (int)p->nf + 1,
                     cr__show(show, sizeof show, s, e));
            return 0;
        }
        if (p->nf == p->fcap && !cr__grow((void **)&p->f, &p->fcap, p->nf + 1, sizeof(cr__field), "line fields"))
            return -1;
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
        snprintf(p->msg, sizeof p->msg, "field %d (%s): negative id '%s'", idx, what,
                 cr__show(show, sizeof show, f->b, f->e));
        return 0;
    }
    for (; s < f->e; s++) {
        if (*s < '0' || *s > '9') {
            snprintf(p->msg, sizeof p->msg, "field %d (%s): '%s' is not a non-negative integer id", idx, what,
                     cr__show(show, sizeof show, f->b, f->e));
            return 0;
        }
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > 0xFFFFFFFFULL) {
            snprintf(p->msg, sizeof p->msg, "field %d (%s): id '%s' does not fit in 32 bits (max 4294967295)", idx,
                     what, cr__show(show, sizeof show, f->b, f->e));
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
        snprintf(p->msg, sizeof p->msg, "field %d (%s): '%s' is not a number", idx, what,
                 cr__show(show, sizeof show, f->b, f->e));
        return 0;
    }
    if (ex) v *= pow(10.0, exneg ? -ex : ex);
    if (!(v == v) || v > DBL_MAX) {
        snprintf(p->msg, sizeof p->msg, "field %d (%s): '%s' is out of range", idx, what,
                 cr__show(show, sizeof show, f->b, f->e));
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
    int defer_on;          /* a chunk parsed on a thread: its records kept for the ordered merge */
    struct cr__rec *defer;
    int64_t n_defer, cap_defer;
} cr__load;

/* A record as a chunk's thread read it (kind 1: a user line without items), with the dense ids
   its raw ids had when the wave began (-1: not yet known, left to the merge). */
typedef struct cr__rec {
    int64_t ru, ri;
    double rating, time;
    int32_t u, i, kind;
} cr__rec;

static cr_status cr__defer(cr__load *L, int64_t ru, int64_t ri, double rating, double time, int kind) {
    cr__rec *r;
    if (L->n_defer == L->cap_defer &&
        !cr__grow((void **)&L->defer, &L->cap_defer, L->n_defer + 1, sizeof(cr__rec), "loading"))
        return CR_ERR_NOMEM;
    r = &L->defer[L->n_defer++];
    r->ru = ru, r->ri = ri, r->rating = rating, r->time = time, r->kind = kind;
    /* the maps only change between waves: reading them here is safe, and saves the merge's lookups */
    r->u = ru == L->last_raw_user ? L->last_user : cr_idmap_find(L->users, ru);
    r->i = kind ? -1 : cr_idmap_find(L->items, ri);
    L->last_raw_user = ru, L->last_user = r->u;
    return CR_OK;
}

/* Adds one record; returns CR_OK, or a failure (out of memory) that stops the load. */
/* The record with its ids where already known (u, i >= 0; -1: look them up). */
static cr_status cr__load_ids(cr__load *L, int64_t ru, int64_t ri, int32_t u, int32_t i, double rating, double time) {
    cr_status st;
    double t = time == time ? time : L->position;
    L->position += 1;
    if (L->o->min_rating > 0 && rating < L->o->min_rating) { L->rep->below_rating++; return CR_OK; }
    if (L->add_ids) {
        if (u < 0 && ru == L->last_raw_user) u = L->last_user; /* one user per line in most formats */
        if (u < 0 && (st = cr_idmap_add(L->users, ru, &u)) != CR_OK) return st;
        if (i < 0 && (st = cr_idmap_add(L->items, ri, &i)) != CR_OK) return st;
    } else {
        if (u < 0) u = ru == L->last_raw_user ? L->last_user : cr_idmap_find(L->users, ru);
        if (i < 0) i = cr_idmap_find(L->items, ri);
        if (u < 0) { L->rep->unknown_user++; return CR_OK; }
        if (i < 0) { L->rep->unknown_item++; return CR_OK; }
    }
    L->last_raw_user = ru;
    L->last_user = u;
    if ((st = cr_interactions_push(L->x, u, i, (float)rating, t)) != CR_OK) return st;
    L->rep->records++;
    return CR_OK;
}

static cr_status cr__load_record(cr__load *L, int64_t ru, int64_t ri, double rating, double time) {
    if (L->defer_on) return cr__defer(L, ru, ri, rating, time, 0);
    return cr__load_ids(L, ru, ri, -1, -1, rating, time);
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
            if (L->defer_on) return cr__defer(L, ru, 0, 0, 0, 1);
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
        snprintf(p->msg, sizeof p->msg, "expected 2 to 4 fields (user item [rating [timestamp]]), found %d",
                 (int)p->nf);
        return CR_ERR_PARSE;
    }
    if (!cr__parse_id(p, &p->f[0], "user id", 1, &ru) || !cr__parse_id(p, &p->f[1], "item id", 2, &ri))
        return CR_ERR_PARSE;
    if (p->nf >= 3 && !cr__parse_num(p, &p->f[2], "rating", 3, &rating)) return CR_ERR_PARSE;
    if (p->nf >= 3 && !(fabs(rating) <= FLT_MAX)) { /* ratings are stored as floats */
        char show[64];
        snprintf(p->msg, sizeof p->msg, "field 3 (rating): '%s' is out of range (beyond a float's %g)",
                 cr__show(show, sizeof show, p->f[2].b, p->f[2].e), (double)FLT_MAX);
        return CR_ERR_PARSE;
    }
    if (p->nf >= 4 && !cr__parse_num(p, &p->f[3], "timestamp", 4, &time)) return CR_ERR_PARSE;
    if (p->nf >= 3) L->x->has_rating = 1;
    if (p->nf >= 4) L->x->has_time = 1;
    return cr__load_record(L, ru, ri, rating, time);
}

/* The line loop of the loaders: blank lines and '#' comments skipped, a CSV header allowed on
   the first line of the triplet formats, malformed lines refused or (skip_bad_lines) counted. */
static cr_status cr__parse_lines(cr__load *L, cr__parser *P, const char *s, const char *end, int header_checked) {
    while (s < end) {
        const char *nl = (const char *)memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end, *q;
        P->line++;
        L->rep->lines++;
        for (q = s; q < le && CR__ISBLANK(*q); q++) {}
        if (q < le && *q != '#') {
            cr_status lst;
            int sp = cr__split_line(P, s, le);
            if (sp < 0) lst = CR_ERR_NOMEM;
            else if (sp == 0) lst = CR_ERR_PARSE;
            else if (!header_checked && P->format != CR_FORMAT_LIGHTGCN && P->format != CR_FORMAT_SEQ &&
                     !cr__is_numeric_start(&P->f[0]) && !cr__is_numeric_start(&P->f[1 < P->nf ? 1 : 0]))
                lst = CR_OK; /* a CSV header such as "userId,movieId,rating,timestamp" */
            else lst = cr__load_line(L, P);
            header_checked = 1;
            if (lst == CR_ERR_PARSE) {
                if (!L->o->skip_bad_lines)
                    return cr__fail(CR_ERR_PARSE, "%s:%lld: %s", P->path, (long long)P->line, P->msg);
                if (!L->rep->bad_lines) {
                    L->rep->first_bad_line = P->line;
                    snprintf(L->rep->first_bad, sizeof L->rep->first_bad, "%s", P->msg);
                }
                L->rep->bad_lines++;
            } else if (lst != CR_OK) {
                if (lst == CR_ERR_NOMEM)
                    cr__fail(lst, "%s:%lld: out of memory while loading", P->path, (long long)P->line);
                return lst;
            }
        }
        s = nl ? nl + 1 : end;
    }
    return CR_OK;
}

/* ---- 5d'. RecBole's atomic files (.inter, .item) ----
   Tab-separated text whose first line names and types every column: "user_id:token
   item_id:token rating:float timestamp:float" (types token, token_seq, float, float_seq). The
   loaders recognise that header (no file of the library's own formats starts with one) and
   rewrite the text line for line into their own format, so every message keeps the file's line
   numbers. Columns are found by RecBole's default names: user_id, item_id, rating and
   timestamp in .inter (others ignored); item_id in .item, whose other columns become features:
   each (column, token) of token and token_seq columns, and each float column cut into 10 bins
   of equal item counts (float_seq columns are ignored). A header has at most CR__RB_MAXCOL
   (256) columns of these four types; a first line meant as a header (every field name:word)
   that breaks either rule is refused, not read as data. User and item tokens must be integer
   ids (the id maps hold integers); feature tokens may be any text and are numbered 0, 1, ... in
   order of first appearance, so these feature ids (and the bins) belong to the file they came
   from: describe new items (cr_model_add_item) with the ids the model holds (cr_model's feats,
   saved in its checkpoint), not with another file's. skip_bad_lines does not apply to a RecBole
   file's rows: a row with the wrong number of fields or a non-integer id fails the load. */
#define CR__RB_MAXCOL 256
enum { CR__RB_TOKEN, CR__RB_TOKEN_SEQ, CR__RB_FLOAT, CR__RB_FLOAT_SEQ };

typedef struct cr__rb_header {
    int n;
    cr__field name[CR__RB_MAXCOL];
    int type[CR__RB_MAXCOL];
} cr__rb_header;

typedef struct cr__rb_buf { char *p; int64_t n, cap; } cr__rb_buf;

static int cr__rb_put(cr__rb_buf *o, const char *s, int64_t n) {
    if (!cr__grow((void **)&o->p, &o->cap, o->n + n + 1, 1, "RecBole file")) return 0;
    memcpy(o->p + o->n, s, (size_t)n);
    o->n += n;
    return 1;
}

/* The fields of [b, e) split at every tab (empty ones kept); their count, or -1 if more than max. */
static int cr__rb_split(const char *b, const char *e, cr__field *f, int max) {
    int n = 0;
    for (;;) {
        const char *t = b;
        while (t < e && *t != '\t') t++;
        if (n == max) return -1;
        f[n].b = b;
        f[n].e = t;
        while (f[n].e > f[n].b && (f[n].e[-1] == '\r' || f[n].e[-1] == ' ')) f[n].e--;
        while (f[n].b < f[n].e && *f[n].b == ' ') f[n].b++;
        n++;
        if (t == e) return n;
        b = t + 1;
    }
}

static int cr__rb_is(const cr__field *f, const char *s) {
    return (size_t)(f->e - f->b) == strlen(s) && !memcmp(f->b, s, strlen(s));
}

/* 1 if the first line of text that is not blank is a RecBole header (its columns into h and
   where the next line starts into *body); 0 if not; CR_ERR_PARSE (< 0) for a line that is meant
   as one (tab-separated name:type fields, the name a word, the type a lowercase word) but cannot be read: a type
   this reader does not know, or more than CR__RB_MAXCOL columns. */
static int cr__rb_header_of(const char *text, size_t len, const char *name, cr__rb_header *h, const char **body) {
    const char *s = text, *end = text + len;
    cr__field f[CR__RB_MAXCOL + 1];
    char show[64], show2[64];
    int k, n;
    long line = 1;
    if (len >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF) s += 3;
    for (; s < end; line++) {
        const char *nl = (const char *)memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end, *q = s;
        while (q < le && CR__ISBLANK(*q)) q++;
        if (q == le) { s = nl ? nl + 1 : end; continue; }
        n = cr__rb_split(s, le, f, CR__RB_MAXCOL + 1);
        for (k = 0; k < (n < 0 ? CR__RB_MAXCOL + 1 : n); k++) { /* every field "name:word", else not a header */
            const char *c = (const char *)memchr(f[k].b, ':', (size_t)(f[k].e - f[k].b)), *t;
            if (!c || c == f[k].b || c + 1 == f[k].e || CR__ISDIGIT(*f[k].b) || !CR__ISWORD(*f[k].b)) return 0;
            for (t = f[k].b; t < c; t++) /* a name: letters, digits, '_' */
                if (!CR__ISWORD(*t)) return 0;
            for (t = c + 1; t < f[k].e; t++)
                if (!((*t >= 'a' && *t <= 'z') || *t == '_')) return 0;
        }
        if (n < 0 || n > CR__RB_MAXCOL)
            return cr__fail(CR_ERR_PARSE,
                            "%s:%ld: a RecBole header of more than %d columns (the most this reader takes)", name, line,
                            CR__RB_MAXCOL);
        for (h->n = n, k = 0; k < n; k++) {
            const char *c = (const char *)memchr(f[k].b, ':', (size_t)(f[k].e - f[k].b));
            cr__field ty;
            h->name[k].b = f[k].b;
            h->name[k].e = c;
            ty.b = c + 1;
            ty.e = f[k].e;
            if (cr__rb_is(&ty, "token")) h->type[k] = CR__RB_TOKEN;
            else if (cr__rb_is(&ty, "token_seq")) h->type[k] = CR__RB_TOKEN_SEQ;
            else if (cr__rb_is(&ty, "float")) h->type[k] = CR__RB_FLOAT;
            else if (cr__rb_is(&ty, "float_seq")) h->type[k] = CR__RB_FLOAT_SEQ;
            else
                return cr__fail(CR_ERR_PARSE,
                                "%s:%ld: column %d (%s) of the RecBole header: unknown type '%s' (token, token_seq, "
                                "float or float_seq)",
                                name, line, k + 1, cr__show(show, sizeof show, f[k].b, c),
                                cr__show(show2, sizeof show2, ty.b, ty.e));
        }
        *body = nl ? nl + 1 : end;
        return 1;
    }
    return 0;
}

/* The column named name (-1 if none). */
static int cr__rb_col(const cr__rb_header *h, const char *name) {
    int k;
    for (k = 0; k < h->n; k++)
        if (cr__rb_is(&h->name[k], name)) return k;
    return -1;
}

/* Splits a data line into exactly h->n fields, and checks that id columns hold integer ids. */
static cr_status cr__rb_row(const cr__rb_header *h, const char *b, const char *e, cr__field *f, const char *name,
                            int64_t line, const int *id_cols, int n_id) {
    char show[64], show2[64];
    int n = cr__rb_split(b, e, f, CR__RB_MAXCOL), k;
    if (n != h->n)
        return n < 0 ? cr__fail(CR_ERR_PARSE, "%s:%lld: more than %d tab-separated fields, the header names %d", name,
                                (long long)line, CR__RB_MAXCOL, h->n)
                     : cr__fail(CR_ERR_PARSE, "%s:%lld: %d tab-separated fields, the header names %d", name,
                                (long long)line, n, h->n);
    for (k = 0; k < n_id; k++) {
        const cr__field *g = &f[id_cols[k]];
        const char *c = g->b;
        uint64_t v = 0;
        while (c < g->e && *c >= '0' && *c <= '9' && v <= 0xFFFFFFFFu) v = v * 10 + (uint64_t)(*c++ - '0');
        if (v > 0xFFFFFFFFu)
            return cr__fail(CR_ERR_PARSE, "%s:%lld: column %d (%s): id '%s' does not fit in 32 bits (max 4294967295)",
                            name, (long long)line, id_cols[k] + 1,
                            cr__show(show, sizeof show, h->name[id_cols[k]].b, h->name[id_cols[k]].e),
                            cr__show(show2, sizeof show2, g->b, g->e));
        if (c == g->b || c != g->e)
            return cr__fail(CR_ERR_PARSE,
                            "%s:%lld: column %d (%s): '%s' is not an integer id (map text tokens to integers first)",
                            name, (long long)line, id_cols[k] + 1,
                            cr__show(show, sizeof show, h->name[id_cols[k]].b, h->name[id_cols[k]].e),
                            cr__show(show2, sizeof show2, g->b, g->e));
    }
    return CR_OK;
}

/* Checks a used field of a row: not empty and, for a number, a number. Messages name the file's
   own column (number and name), not the rewritten line's field. */
static cr_status cr__rb_value(const cr__rb_header *h, const cr__field *f, int col, int number, const char *name,
                              int64_t line, double *out) {
    cr__parser P;
    char nm[64];
    double v = 0;
    cr__show(nm, sizeof nm, h->name[col].b, h->name[col].e);
    if (f->b == f->e)
        return cr__fail(CR_ERR_PARSE, "%s:%lld: column %d (%s) is empty", name, (long long)line, col + 1, nm);
    memset(&P, 0, sizeof P);
    if (number && !cr__parse_num(&P, f, nm, col + 1, &v)) {
        return cr__fail(CR_ERR_PARSE, "%s:%lld: column %s", name, (long long)line, P.msg + 6); /* past "field " */
    }
    if (out) *out = v;
    return CR_OK;
}

/* .inter -> "user item [rating [timestamp]]" (rating 1 when only a timestamp is given). */
static cr_status cr__rb_inter(const char *text, size_t len, const char *name, const cr__rb_header *h, const char *body,
                              cr__rb_buf *o) {
    const char *s = text, *end = text + len;
    cr__field f[CR__RB_MAXCOL];
    int ids[2], rc = cr__rb_col(h, "rating"), tc = cr__rb_col(h, "timestamp"), k;
    int64_t line = 0;
    ids[0] = cr__rb_col(h, "user_id");
    ids[1] = cr__rb_col(h, "item_id");
    if (ids[0] < 0 && ids[1] >= 0) /* item_id without user_id: the .item kind */
        return cr__fail(CR_ERR_PARSE,
                        "%s: a RecBole .item file (item_id without user_id), not an .inter file: give it as item "
                        "features, and the interactions as the .inter file",
                        name);
    if (ids[0] < 0 || ids[1] < 0)
        return cr__fail(CR_ERR_PARSE,
                        "%s: a RecBole .inter file needs the columns user_id and item_id (RecBole's default names); "
                        "the header has %d columns without %s",
                        name, h->n, ids[0] < 0 ? "user_id" : "item_id");
    while (s < end) {
        const char *nl = (const char *)memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end, *q = s;
        line++;
        while (q < le && CR__ISBLANK(*q)) q++;
        /* the header and blank lines: an empty line keeps the numbering (no comments: a token may start with '#') */
        if (s < body || q == le) {
            if (!cr__rb_put(o, "\n", 1)) return CR_ERR_NOMEM;
        } else {
            cr_status st = cr__rb_row(h, s, le, f, name, line, ids, 2);
            int cols[4];
            if (st != CR_OK) return st;
            cols[0] = ids[0]; cols[1] = ids[1]; cols[2] = rc; cols[3] = tc;
            for (k = 0; k < 4; k++) {
                if (k == 2 && rc < 0) {
                    if (tc >= 0 && !cr__rb_put(o, " 1", 2)) return CR_ERR_NOMEM;
                    continue;
                }
                if (cols[k] < 0) continue;
                if ((st = cr__rb_value(h, &f[cols[k]], cols[k], k >= 2, name, line, NULL)) != CR_OK) return st;
                if ((k && !cr__rb_put(o, " ", 1)) || !cr__rb_put(o, f[cols[k]].b, f[cols[k]].e - f[cols[k]].b))
                    return CR_ERR_NOMEM;
            }
            if (!cr__rb_put(o, "\n", 1)) return CR_ERR_NOMEM;
        }
        s = nl ? nl + 1 : end;
    }
    return CR_OK;
}

/* Feature tokens -> numbers, in order of first appearance: the id map keyed by cr__token_key,
   with each number's first key kept (pointing into the file) so that two keys with one hash
   are caught, not merged. */
typedef struct cr__rb_key { const char *text; int32_t col, len; } cr__rb_key;
typedef struct cr__rb_dict { cr_idmap map; cr__rb_key *keys; int64_t cap; const char *name; } cr__rb_dict;

/* The one rule for keying a text token of a column: a 62-bit id-map key from FNV-1a over the
   column number's 4 bytes, then the token's. The column goes through the hash's mixing before
   the text, so equal tokens in different columns (a price bin "3" and a size "3", two one-letter
   codes) get unrelated keys: folding the column into the seed instead made (col, byte) pairs
   with equal col ^ byte collide by construction. */
static int64_t cr__token_key(int32_t col, const char *b, const char *e) {
    unsigned char c[4];
    int i;
    for (i = 0; i < 4; i++) c[i] = (unsigned char)((uint32_t)col >> (8 * i));
    return (int64_t)(cr__fnv(cr__fnv(CR__FNV0, c, 4), b, (size_t)(e - b)) >> 2);
}

/* The number of (col, [b, e)) into *id; fails when out of memory or on a hash collision. */
static cr_status cr__rb_id(cr__rb_dict *D, int col, const char *b, const char *e, int32_t *id) {
    int32_t L = (int32_t)(e - b), n = D->map.n;
    cr_status st;
    if ((st = cr_idmap_add(&D->map, cr__token_key(col, b, e), id)) != CR_OK) return st;
    if (*id < n) { /* seen: the same key, or a collision (about 2^-62 per pair) */
        const cr__rb_key *k = &D->keys[*id];
        char s1[64], s2[64];
        if (k->col != col || k->len != L || memcmp(k->text, b, (size_t)L))
            return cr__fail(
                CR_ERR_INVALID,
                "%s: the tokens '%s' (column %d) and '%s' (column %d) share a 62-bit hash; rename one of them", D->name,
                cr__show(s1, sizeof s1, k->text, k->text + k->len), (int)k->col + 1, cr__show(s2, sizeof s2, b, e),
                col + 1);
        return CR_OK;
    }
    if (!cr__grow((void **)&D->keys, &D->cap, (int64_t)*id + 1, sizeof(cr__rb_key), "RecBole features"))
        return CR_ERR_NOMEM;
    D->keys[*id].text = b;
    D->keys[*id].col = col;
    D->keys[*id].len = L;
    return CR_OK;
}

static int cr__cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Writes " id" for the feature (col, [b, e)). */
static cr_status cr__rb_feature(cr__rb_dict *D, cr__rb_buf *o, int col, const char *b, const char *e) {
    char num[24];
    int32_t j;
    cr_status st = cr__rb_id(D, col, b, e, &j);
    if (st != CR_OK) return st;
    return cr__rb_put(o, num, snprintf(num, sizeof num, " %d", (int)j)) ? CR_OK : CR_ERR_NOMEM;
}

/* .item -> "item feat feat ..." (an item without features: an empty line). Two passes: the
   float columns' cut points (the deciles of their values), then the lines. */
static cr_status cr__rb_item(const char *text, size_t len, const char *name, const cr__rb_header *h, const char *body,
                             cr__rb_buf *o) {
    static const char digits[] = "0123456789";
    const char *s, *end = text + len;
    cr__field f[CR__RB_MAXCOL];
    cr__rb_dict D;
    double *vals = NULL, thr[CR__RB_MAXCOL][9];
    int64_t line, nv = 0, vcap = 0, start, head;
    int ic = cr__rb_col(h, "item_id"), k, pass;
    cr_status st = CR_OK;
    memset(&D, 0, sizeof D);
    D.name = name;
    if (cr__rb_col(h, "user_id") >= 0) /* features come from a .item file, which has no users */
        return cr__fail(CR_ERR_PARSE,
                        "%s: a RecBole .inter file (its header has user_id), not an .item file: give it as "
                        "interactions, and the item features as the .item file",
                        name);
    if (ic < 0)
        return cr__fail(CR_ERR_PARSE, "%s: a RecBole .item file needs the column item_id (RecBole's default name)",
                        name);
    for (pass = 0; pass < 2 && st == CR_OK; pass++) {
        for (s = text, line = 1; s < end && st == CR_OK; line++) {
            const char *nl = (const char *)memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end, *ls = s, *q = s;
            while (q < le && CR__ISBLANK(*q)) q++;
            s = nl ? nl + 1 : end;
            if (ls < body || q == le) {
                if (pass && !cr__rb_put(o, "\n", 1)) st = CR_ERR_NOMEM;
                continue;
            }
            if ((st = cr__rb_row(h, ls, le, f, name, line, &ic, 1)) != CR_OK) break;
            start = o->n;
            if (pass && !cr__rb_put(o, f[ic].b, f[ic].e - f[ic].b)) { st = CR_ERR_NOMEM; break; }
            head = o->n;
            for (k = 0; k < h->n && st == CR_OK; k++) {
                const char *b = f[k].b, *t;
                double v = 0;
                int bin = 0;
                if (k == ic || b == f[k].e || h->type[k] == CR__RB_FLOAT_SEQ) continue;
                if (h->type[k] != CR__RB_FLOAT) { /* a token, or each space-separated token of a token_seq */
                    while (pass && b < f[k].e && st == CR_OK) {
                        t = h->type[k] == CR__RB_TOKEN ? f[k].e : b;
                        while (t < f[k].e && *t != ' ') t++;
                        st = cr__rb_feature(&D, o, k, b, t);
                        for (b = t; b < f[k].e && *b == ' '; b++) {}
                    }
                    continue;
                }
                if ((st = cr__rb_value(h, &f[k], k, 1, name, line, &v)) != CR_OK) break;
                if (!pass) { /* (column, value) pairs */
                    if (!cr__grow((void **)&vals, &vcap, 2 * nv + 2, sizeof(double), "RecBole features")) {
                        st = CR_ERR_NOMEM;
                        break;
                    }
                    vals[2 * nv] = k;
                    vals[2 * nv++ + 1] = v;
                    continue;
                }
                while (bin < 9 && v >= thr[k][bin]) bin++;
                st = cr__rb_feature(&D, o, k, digits + bin, digits + bin + 1);
            }
            if (pass && o->n == head) o->n = start; /* no features: an empty line */
            if (pass && st == CR_OK && !cr__rb_put(o, "\n", 1)) st = CR_ERR_NOMEM;
        }
        if (!pass && st == CR_OK && nv) { /* each float column's 9 cut points at its deciles */
            int64_t i, c;
            double *col = (double *)cr__alloc_array((size_t)nv, sizeof(double), "RecBole features");
            if (!col) { st = CR_ERR_NOMEM; break; }
            for (k = 0; k < h->n; k++) {
                if (h->type[k] != CR__RB_FLOAT) continue;
                for (i = c = 0; i < nv; i++)
                    if ((int)vals[2 * i] == k) col[c++] = vals[2 * i + 1];
                qsort(col, (size_t)c, sizeof(double), cr__cmp_double);
                for (i = 0; i < 9; i++) thr[k][i] = c ? col[(c * (i + 1)) / 10] : 0;
            }
            CR_FREE(col);
        }
    }
    CR_FREE(vals);
    cr_idmap_free(&D.map);
    CR_FREE(D.keys);
    return st;
}

/* If text is a RecBole atomic file (item: the .item kind, else .inter), its rewrite into *out
   (the caller frees it) and its length into *out_len, and CR_OK; *out NULL (and *out_len
   untouched) if it is not one. */
static cr_status cr__rb_convert(const char *text, size_t len, const char *name, int item, char **out, size_t *out_len,
                                int *rated) {
    cr__rb_header h;
    const char *body = NULL;
    cr__rb_buf o;
    cr_status st;
    int is;
    *out = NULL; /* *out_len is left as it is (callers pass the text's own length) */
    if (!text || (is = cr__rb_header_of(text, len, name, &h, &body)) == 0) return CR_OK;
    if (is < 0) return CR_ERR_PARSE;
    if (rated) *rated = cr__rb_col(&h, "rating") >= 0; /* without one the rewrite says 1 */
    memset(&o, 0, sizeof o);
    st = item ? cr__rb_item(text, len, name, &h, body, &o) : cr__rb_inter(text, len, name, &h, body, &o);
    if (st == CR_OK && !o.p && !cr__rb_put(&o, "", 0)) st = CR_ERR_NOMEM;
    if (st != CR_OK) {
        if (st == CR_ERR_NOMEM && !cr_last_error()[0]) cr__fail(st, "%s: out of memory while loading", name);
        CR_FREE(o.p);
        return st;
    }
    *out = o.p;
    *out_len = (size_t)o.n;
    return CR_OK;
}

/* ---- 5d''. format detection (cr_detect_format) ---- */

CR_API const char *cr_format_name(cr_format f) {
    static const char *const names[CR_FORMAT_COUNT] = {"auto", "lightgcn", "triplets", "movielens", "seq"};
    return (unsigned)f < CR_FORMAT_COUNT ? names[f] : "unknown";
}

/* What the first data lines look like: counts of the telling separators, the range of field
   counts, and per column (1-4) the range of numeric values and whether one had a decimal part. */
typedef struct cr__shape {
    int64_t lines, dcolon, colon, nf_min, nf_max;
    int header, text;
    double lo[4], hi[4];
    int dec[4];
} cr__shape;

static void cr__shape_line(cr__shape *sh, cr__parser *P, const char *b, const char *e) {
    int64_t k;
    const char *c;
    for (c = b; c + 1 < e; c++)
        if (c[0] == ':' && c[1] == ':') { sh->dcolon++; break; }
    if (cr__split_line(P, b, e) != 1) { sh->text = 1; return; }
    if (!sh->lines && !sh->header && P->nf >= 2 && !cr__is_numeric_start(&P->f[0]) && !cr__is_numeric_start(&P->f[1])) {
        sh->header = 1; /* "userId,movieId,rating,timestamp" */
        return;
    }
    sh->colon += P->colon_after_first;
    sh->nf_min = sh->lines ? CR__MIN(sh->nf_min, P->nf) : P->nf;
    sh->nf_max = sh->lines ? CR__MAX(sh->nf_max, P->nf) : P->nf;
    for (k = 0; k < P->nf && k < 4; k++) {
        cr__parser Q;
        double v;
        memset(&Q, 0, sizeof Q);
        if (!cr__parse_num(&Q, &P->f[k], "", 1, &v)) { sh->text = 1; continue; }
        if (memchr(P->f[k].b, '.', (size_t)(P->f[k].e - P->f[k].b)) ||
            memchr(P->f[k].b, 'e', (size_t)(P->f[k].e - P->f[k].b)))
            sh->dec[k] = 1;
        if (!sh->lines || v < sh->lo[k]) sh->lo[k] = v;
        if (!sh->lines || v > sh->hi[k]) sh->hi[k] = v;
    }
    sh->lines++;
}

/* The format of sh, or CR_FORMAT_AUTO when two readings fit (*why says which). */
static cr_format cr__shape_format(const cr__shape *sh, const char **why) {
    int rating = sh->dec[2] || (sh->lo[2] >= 0 && sh->hi[2] <= 10 && sh->hi[1] > 10);
    int ids3 = !sh->dec[2] && sh->lo[2] >= 0 && sh->hi[2] > 10, ids4 = !sh->dec[3] && sh->lo[3] >= 0;
    int time = sh->dec[3] || sh->lo[3] >= 1e6;
    if (sh->dcolon * 2 > sh->lines) return CR_FORMAT_MOVIELENS;
    if (sh->colon * 2 > sh->lines) return CR_FORMAT_SEQ;
    if (sh->header) return sh->nf_min == 4 && sh->nf_max == 4 ? CR_FORMAT_MOVIELENS : CR_FORMAT_TRIPLETS;
    if (sh->nf_max > 4 || sh->nf_min != sh->nf_max || sh->nf_max == 1) return CR_FORMAT_LIGHTGCN;
    if (sh->nf_max == 2) return CR_FORMAT_TRIPLETS; /* a pair per line: both readings agree */
    if (sh->nf_max == 3) {
        if (rating) return CR_FORMAT_TRIPLETS;
        if (ids3) return CR_FORMAT_LIGHTGCN;
        *why = "every line has 3 fields and the third looks neither like a rating nor like an item id: \"user item "
               "rating\" or \"user item item\"";
        return CR_FORMAT_AUTO;
    }
    if (rating && time) return CR_FORMAT_MOVIELENS;
    if (ids3 && ids4 && !time) return CR_FORMAT_LIGHTGCN;
    *why = rating ? "every line has 4 fields, the third looks like a rating but the fourth not like a timestamp: "
                    "\"user item rating timestamp\" or \"user item item item\""
                  : "every line has 4 fields and the last two look like neither ratings and timestamps nor item ids: "
                    "\"user item rating timestamp\" or \"user item item item\"";
    return CR_FORMAT_AUTO;
}

CR_API cr_status cr_detect_format(const char *text, size_t len, const char *name, cr_format *out) {
    const char *s = text, *end = text + len, *why = "";
    cr__shape sh;
    cr__parser P;
    *out = CR_FORMAT_AUTO;
    if (!name) name = "(memory)";
    if (!text && len) return cr__fail(CR_ERR_INVALID, "%s: no text given", name);
    memset(&sh, 0, sizeof sh);
    memset(&P, 0, sizeof P);
    P.format = CR_FORMAT_SEQ; /* the splitter's most permissive rule: a ':' after the first field */
    if (len >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF) s += 3;
    while (s < end && sh.lines < 1000) {
        const char *nl = (const char *)memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end, *q = s;
        while (q < le && CR__ISBLANK(*q)) q++;
        if (q < le && *q != '#') cr__shape_line(&sh, &P, s, le);
        s = nl ? nl + 1 : end;
    }
    CR_FREE(P.f);
    if (!sh.lines) { *out = CR_FORMAT_LIGHTGCN; return CR_OK; } /* nothing to read: the loader says so */
    if ((*out = cr__shape_format(&sh, &why)) == CR_FORMAT_AUTO && sh.text)
        *out = CR_FORMAT_LIGHTGCN; /* the loader names the bad field */
    if (*out == CR_FORMAT_AUTO)
        return cr__fail(CR_ERR_PARSE,
                        "%s: the format is ambiguous: %s; choose one with --format lightgcn|triplets|movielens|seq "
                        "(cr_load_opts.format)",
                        name, why);
    return CR_OK;
}

/* ---- parsing on every thread: chunks read in parallel, merged in file order ---- */

typedef struct cr__chunk {
    const char *b, *e;
    int64_t line0; /* lines before the chunk */
    cr__load L;
    cr__parser P;
    cr_interactions flags; /* has_rating, has_time */
    cr_load_report rep;
    cr_status st;
    char err[2048]; /* the thread's message (cr__errmsg), for the caller's thread */
} cr__chunk;

/* Parses chunk c (on any thread) into its deferred records. */
static void cr__chunk_parse(cr__chunk *c, int first) {
    c->P.line = c->line0;
    c->st = cr__parse_lines(&c->L, &c->P, c->b, c->e, !first);
    if (c->st != CR_OK) snprintf(c->err, sizeof c->err, "%s", cr_last_error());
    CR_FREE(c->P.f);
    c->P.f = NULL, c->P.fcap = 0;
}

/* Chunk c's records through the loader in file order, as one thread would have read them. */
static cr_status cr__chunk_merge(cr__load *L, cr__chunk *c) {
    cr_load_report *r = L->rep, *q = &c->rep;
    int64_t k;
    cr_status st = CR_OK;
    L->x->has_rating |= c->flags.has_rating;
    L->x->has_time |= c->flags.has_time;
    if (q->bad_lines && !r->bad_lines) {
        r->first_bad_line = q->first_bad_line;
        memcpy(r->first_bad, q->first_bad, sizeof r->first_bad);
    }
    r->lines += q->lines, r->bad_lines += q->bad_lines;
    for (k = 0; k < c->L.n_defer && st == CR_OK; k++) {
        const cr__rec *d = &c->L.defer[k];
        int32_t u;
        st = d->kind ? cr_idmap_add(L->users, d->ru, &u)
                     : cr__load_ids(L, d->ru, d->ri, d->u, d->i, d->rating, d->time);
    }
    if (st == CR_ERR_NOMEM) cr__fail(st, "%s: out of memory while loading", c->P.path);
    if (st == CR_OK && c->st != CR_OK) return cr__fail(c->st, "%s", c->err); /* after the lines before it, as read */
    return st;
}

/* The lines of [s, end): on one thread below two chunks (or with one thread), else in waves of
   two chunks per thread, each chunk cut at a line end, counted (so that messages name the
   file's lines), parsed on a thread into its records and merged in order: the ids, records,
   report and first error are those of one thread's reading. */
static cr_status cr__parse_chunked(cr__load *L, cr__parser *P, const char *s, const char *end) {
    int64_t csz = L->o->chunk_bytes > 0 ? CR__MIN(L->o->chunk_bytes, (int64_t)1 << 40) : (int64_t)4 << 20, line = 0;
    int nth = cr__nthreads(), nw = 2 * nth, k, nc, first = 1;
    const char *head = s; /* the end of the first data line: the first chunk holds it (a CSV header) */
    cr__chunk *C;
    cr_status st = CR_OK;
    if (nth < 2 || end - s < 2 * csz) return cr__parse_lines(L, P, s, end, 0);
    for (;;) {
        const char *nl = (const char *)memchr(head, '\n', (size_t)(end - head)), *q = head;
        while (q < (nl ? nl : end) && CR__ISBLANK(*q)) q++;
        head = nl ? nl + 1 : end;
        if (!nl || (q < nl && *q != '#')) break;
    }
    if (!(C = (cr__chunk *)cr__calloc_array((size_t)nw, sizeof(cr__chunk), "loading"))) return CR_ERR_NOMEM;
    while (s < end && st == CR_OK) {
        for (nc = 0; nc < nw && s < end; nc++) { /* the wave's chunks, each ending after a '\n' */
            const char *e = end - s > csz ? s + csz : end, *nl = NULL;
            cr__chunk *c = &C[nc];
            if (first && nc == 0 && e < head) e = head;
            if (e < end) nl = (const char *)memchr(e, '\n', (size_t)(end - e));
            e = nl ? nl + 1 : end;
            memset(&c->L, 0, sizeof c->L);
            memset(&c->rep, 0, sizeof c->rep);
            memset(&c->flags, 0, sizeof c->flags);
            c->b = s, c->e = e, c->st = CR_OK;
            c->L = *L, c->L.x = &c->flags, c->L.rep = &c->rep, c->L.defer_on = 1;
            c->L.defer = NULL, c->L.n_defer = c->L.cap_defer = 0;
            c->P = *P, c->P.f = NULL, c->P.fcap = 0;
            s = e;
        }
        CR__OMP(parallel for schedule(static, 1))
        for (k = 0; k < nc; k++) { /* line counts: where each chunk's lines start */
            const char *q = C[k].b;
            int64_t n = 0;
            while (q < C[k].e && (q = (const char *)memchr(q, '\n', (size_t)(C[k].e - q))) != NULL) n++, q++;
            C[k].line0 = n;
        }
        for (k = 0; k < nc; k++) {
            int64_t n = C[k].line0;
            C[k].line0 = line;
            line += n;
        }
        CR__OMP(parallel for schedule(dynamic, 1))
        for (k = 0; k < nc; k++) cr__chunk_parse(&C[k], first && k == 0);
        for (k = 0; k < nc; k++) {
            if (st == CR_OK) st = cr__chunk_merge(L, &C[k]);
            CR_FREE(C[k].L.defer);
        }
        first = 0;
    }
    P->line = line;
    CR_FREE(C);
    return st;
}

CR_API cr_status cr_parse_interactions(cr_interactions *x, cr_idmap *users, cr_idmap *items,
                                       int add_ids, const char *text, size_t len, const char *path,
                                       const cr_load_opts *opts, cr_load_report *report) {
    static const cr_load_opts defaults = {CR_FORMAT_AUTO, 0, 0, 0.0f, 0};
    cr_load_opts rb_opts;
    char *conv = NULL;
    int rb_rated = 1;
    cr_load_report rep_local;
    cr__load L;
    cr__parser P;
    int32_t nu0 = users->n, ni0 = items->n;
    cr_status st;
    memset(x, 0, sizeof *x);
    memset(&L, 0, sizeof L);
    memset(&P, 0, sizeof P);
    if (!report) report = &rep_local;
    memset(report, 0, sizeof *report);
    if (!opts) opts = &defaults;
    if ((unsigned)opts->format >= (unsigned)CR_FORMAT_COUNT)
        return cr__fail(CR_ERR_INVALID, "%s: unknown file format %d", path ? path : "(null)", (int)opts->format);
    if (!(opts->min_rating == opts->min_rating))
        return cr__fail(CR_ERR_INVALID, "%s: min_rating is NaN", path ? path : "(null)");
    if (!path) path = "(memory)";
    if (!text && len) return cr__fail(CR_ERR_INVALID, "%s: no text given", path);
    if ((st = cr__rb_convert(text, len, path, 0, &conv, &len, &rb_rated)) != CR_OK) return st;
    rb_opts = *opts;
    if (conv) { /* a RecBole .inter file, now "user item [rating [timestamp]]" lines */
        rb_opts.format = CR_FORMAT_TRIPLETS;
        text = conv;
    } else if (opts->format == CR_FORMAT_AUTO) {
        if ((st = cr_detect_format(text, len, path, &rb_opts.format)) != CR_OK) return st;
        report->detected = 1;
    }
    opts = &rb_opts;
    report->format = opts->format;
    L.x = x;
    L.users = users;
    L.items = items;
    L.add_ids = add_ids;
    L.o = opts;
    L.rep = report;
    L.last_raw_user = -1;
    P.path = path;
    P.format = opts->format;
    if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB && (unsigned char)text[2] == 0xBF)
        st = cr__parse_chunked(&L, &P, text + 3, text + len); /* a UTF-8 byte-order mark */
    else st = cr__parse_chunked(&L, &P, text, text + len);
    CR_FREE(P.f);
    CR_FREE(conv);
    if (!rb_rated) x->has_rating = 0; /* a RecBole file with a timestamp and no rating */
    if (st == CR_OK && !opts->keep_duplicates) {
        int64_t removed = 0;
        st = cr__dedup(x, users->n, &removed);
        report->duplicates = removed;
        report->records -= removed;
    }
    if (st == CR_OK && x->n == 0 && add_ids)
        st = cr__fail(CR_ERR_EMPTY, "%s: no interactions found (%lld lines, %lld malformed lines skipped)", path,
                      (long long)report->lines, (long long)report->bad_lines);
    if (st != CR_OK) {
        cr_interactions_free(x);
        cr__idmap_truncate(users, nu0);
        cr__idmap_truncate(items, ni0);
    }
    return st;
}

/* A regular file's bytes mapped read-only (Linux; the parsers never read past len), so a large
   text is not copied into memory first: *map = 1. Else, or if mapping fails, read: *map = 0. */
static cr_status cr__map_file(const char *path, char **out, size_t *len, int *map) {
    *map = 0;
#if defined(__linux__) && !defined(CR_NO_HUGEPAGES)
    if (path && *path) {
        int fd = open(path, O_RDONLY);
        struct stat sb;
        if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
            (uint64_t)sb.st_size < ((uint64_t)(size_t)-1 >> 1)) {
            void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p != MAP_FAILED) {
#ifdef MADV_SEQUENTIAL
                madvise(p, (size_t)sb.st_size, MADV_SEQUENTIAL);
#endif
                close(fd);
                *out = (char *)p, *len = (size_t)sb.st_size, *map = 1;
                return CR_OK;
            }
        }
        if (fd >= 0) close(fd);
    }
#endif
    return cr__read_file(path, out, len);
}

static void cr__unmap_file(char *p, size_t len, int map) {
#if defined(__linux__) && !defined(CR_NO_HUGEPAGES)
    if (map) {
        munmap(p, len);
        return;
    }
#endif
    (void)len, (void)map;
    CR_FREE(p);
}

CR_API cr_status cr_load_interactions(cr_interactions *x, cr_idmap *users, cr_idmap *items,
                                      int add_ids, const char *path, const cr_load_opts *opts,
                                      cr_load_report *report) {
    char *buf = NULL;
    size_t len = 0;
    int map;
    cr_status st;
    memset(x, 0, sizeof *x);
    if (report) memset(report, 0, sizeof *report);
    if ((st = cr__map_file(path, &buf, &len, &map)) != CR_OK) return st;
    st = cr_parse_interactions(x, users, items, add_ids, buf, len, path, opts, report);
    cr__unmap_file(buf, len, map);
    return st;
}

/* The (item, feature, weight) entries of a feature file as they are read. */
typedef struct cr__feat_coo {
    int64_t *mark, mcap; /* mark[feature]: the line that last named it */
    int32_t *rows, *cols;
    float *vals;
    int64_t n, cap;
} cr__feat_coo;

/* Feature raw of item it, weight w, on a line: a feature named twice on a line is kept once. */
static cr_status cr__feat_add(cr__feat_coo *B, cr_item_features *f, int32_t it, int64_t raw, double w, int64_t line) {
    int64_t m0 = B->mcap, c;
    int32_t fd;
    cr_status st;
    if ((st = cr_idmap_add(&f->feats, raw, &fd)) != CR_OK) return st;
    if (fd >= B->mcap) {
        if (!cr__grow((void **)&B->mark, &B->mcap, (int64_t)fd + 1, sizeof(int64_t), "item features"))
            return CR_ERR_NOMEM;
        memset(B->mark + m0, 0, (size_t)(B->mcap - m0) * sizeof *B->mark);
    }
    if (B->mark[fd] == line) { /* this line named it already: a mark, not a scan, so long lines stay linear */
        if (!f->repeated++) f->first_repeated_line = line;
        return CR_OK;
    }
    B->mark[fd] = line;
    if (B->n == B->cap) {
        c = B->cap;
        if (!cr__grow((void **)&B->rows, &c, B->n + 1, sizeof(int32_t), "item features")) return CR_ERR_NOMEM;
        c = B->cap;
        if (!cr__grow((void **)&B->cols, &c, B->n + 1, sizeof(int32_t), "item features")) return CR_ERR_NOMEM;
        c = B->cap;
        if (!cr__grow((void **)&B->vals, &c, B->n + 1, sizeof(float), "item features")) return CR_ERR_NOMEM;
        B->cap = c;
    }
    B->rows[B->n] = it;
    B->cols[B->n] = fd;
    B->vals[B->n] = (float)w;
    B->n++;
    return CR_OK;
}

/* Item features: "item feat[:weight] ...", one line per item (see cr_item_features). */
CR_API cr_status cr_parse_item_features(cr_item_features *f, const cr_idmap *items, const char *text, size_t len,
                                        const char *name) {
    cr__parser P;
    cr__field fld;
    const char *s = text, *end = text + len;
    int64_t *line_of = NULL;
    cr__feat_coo B;
    char *conv = NULL;
    cr_status st = CR_OK;
    char show[64];
    memset(f, 0, sizeof *f);
    memset(&P, 0, sizeof P);
    memset(&B, 0, sizeof B);
    if (!name) name = "(memory)";
    if (!text && len) return cr__fail(CR_ERR_INVALID, "%s: no text given", name);
    if (!items || items->n < 1) return cr__fail(CR_ERR_INVALID, "%s: no item ids to map the features through", name);
    if (!text) return cr__fail(CR_ERR_EMPTY, "%s: no features for any known item (0 lines)", name);
    if ((st = cr__rb_convert(text, len, name, 1, &conv, &len, NULL)) != CR_OK) return st;
    if (conv) { /* a RecBole .item file, now "item feat feat ..." lines */
        s = text = conv;
        end = text + len;
    }
    P.path = name;
    if (!(line_of = (int64_t *)cr__calloc_array((size_t)items->n, sizeof(int64_t), "item features"))) {
        CR_FREE(conv);
        return CR_ERR_NOMEM;
    }
    if (len >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF) s += 3;
    while (s < end && st == CR_OK) {
        const char *nl = (const char *)memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end, *q = s;
        int64_t raw = 0;
        int32_t it = -1;
        int k;
        P.line++;
        f->lines++;
        s = nl ? nl + 1 : end;
        while (q < le && CR__ISBLANK(*q)) q++;
        if (q == le || *q == '#') continue;
        if (memchr(q, 0, (size_t)(le - q))) {
            st = cr__fail(CR_ERR_PARSE, "%s:%lld: binary data (a NUL byte)", name, (long long)P.line);
            break;
        }
        for (k = 0; q < le && st == CR_OK; k++) { /* fields separated by blanks */
            const char *t = q, *colon;
            double w = 1;
            while (t < le && !CR__ISBLANK(*t)) t++;
            fld.b = q;
            fld.e = t;
            colon = k ? (const char *)memchr(q, ':', (size_t)(t - q)) : NULL;
            if (colon) fld.e = colon;
            if (fld.e == fld.b) {
                st = cr__fail(CR_ERR_PARSE, "%s:%lld: field %d (feature id) is empty", name, (long long)P.line, k + 1);
                break;
            }
            if (!cr__parse_id(&P, &fld, k ? "feature id" : "item id", k + 1, &raw)) {
                st = cr__fail(CR_ERR_PARSE, "%s:%lld: %s", name, (long long)P.line, P.msg);
                break;
            }
            if (colon) {
                cr__field wf;
                wf.b = colon + 1;
                wf.e = t;
                if (!cr__parse_num(&P, &wf, "feature weight", k + 1, &w)) {
                    st = cr__fail(CR_ERR_PARSE, "%s:%lld: %s", name, (long long)P.line, P.msg);
                    break;
                }
                if (!((float)w > 0) || !(w < 1e30)) { /* positive as a float too */
                    st =
                        cr__fail(CR_ERR_PARSE, "%s:%lld: field %d (feature weight): %s is not a positive finite number",
                                 name, (long long)P.line, k + 1, cr__show(show, sizeof show, wf.b, wf.e));
                    break;
                }
            }
            if (k == 0) {
                if ((it = cr_idmap_find(items, raw)) < 0) { /* an item the data does not have */
                    if (!f->unknown_items++) f->first_unknown_line = P.line;
                    break;
                }
                if (line_of[it]) {
                    st = cr__fail(CR_ERR_PARSE, "%s:%lld: item %lld already has its features on line %lld", name,
                                  (long long)P.line, (long long)raw, (long long)line_of[it]);
                    break;
                }
                line_of[it] = P.line;
            } else if ((st = cr__feat_add(&B, f, it, raw, w, P.line)) != CR_OK)
                break;
            q = t;
            while (q < le && CR__ISBLANK(*q)) q++;
        }
        if (st == CR_OK && k == 1 && line_of[it] == P.line)
            st = cr__fail(CR_ERR_PARSE,
                          "%s:%lld: item %lld has no features (leave an item without features out of the file)", name,
                          (long long)P.line, (long long)raw);
        if (st == CR_OK && k >= 1 && line_of[it] == P.line) f->items_with++;
    }
    if (st == CR_OK && !f->items_with)
        st = cr__fail(CR_ERR_EMPTY, "%s: no features for any known item (%lld lines, %lld for unknown items)", name,
                      (long long)f->lines, (long long)f->unknown_items);
    if (st == CR_OK) st = cr_csr_from_coo(&f->x, items->n, f->feats.n, B.n, B.rows, B.cols, B.vals);
    if (st == CR_ERR_NOMEM) cr__fail(st, "%s: out of memory while loading", name);
    CR_FREE(line_of);
    CR_FREE(B.mark);
    CR_FREE(B.rows);
    CR_FREE(B.cols);
    CR_FREE(B.vals);
    CR_FREE(conv);
    if (st != CR_OK) {
        int64_t keep_lines = f->lines;
        cr_item_features_free(f);
        f->lines = keep_lines;
    }
    return st;
}

CR_API cr_status cr_load_item_features(cr_item_features *f, const cr_idmap *items, const char *path) {
    char *buf = NULL;
    size_t len = 0;
    cr_status st;
    memset(f, 0, sizeof *f); /* f is an output: a table already in it is the caller's to free */
    if (!items || items->n < 1)
        return cr__fail(CR_ERR_INVALID, "%s: no item ids to map the features through", path ? path : "(null)");
    if ((st = cr__read_file(path, &buf, &len)) != CR_OK) return st;
    st = cr_parse_item_features(f, items, buf, len, path);
    CR_FREE(buf);
    return st;
}

CR_API void cr_item_features_free(cr_item_features *f) {
    cr_csr_free(&f->x);
    cr_idmap_free(&f->feats);
    memset(f, 0, sizeof *f);
}

/* ---- 5e. splits ---- */

/* Copies the records with flag[e] == which into out, in file order. */
static cr_status cr__select(cr_interactions *out, const cr_interactions *x, const uint8_t *flag, int which) {
    int64_t e, n = 0;
    memset(out, 0, sizeof *out);
    for (e = 0; e < x->n; e++) n += flag[e] == which;
    if (cr__interactions_reserve(out, n) != CR_OK) { /* exactly: the memory plan counts n records */
        cr_interactions_free(out);
        return CR_ERR_NOMEM;
    }
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

/* Sorts one user's record indices by (time, file position): histories are short and nearly
   sorted, so insertion sort. */
static void cr__sort_by_time(const cr_interactions *x, int64_t *idx, int64_t n) {
    int64_t k, j;
    for (k = 1; k < n; k++) {
        int64_t key = idx[k];
        for (j = k; j > 0 && x->time[idx[j - 1]] > x->time[key]; j--) idx[j] = idx[j - 1];
        idx[j] = key;
    }
}

/* Both per-user splits: flag the held-out records of each user, then split by the flags.
   n_last > 0: the user's n_last latest; otherwise a random round(ratio * n) (one always stays). */
static cr_status cr__split_users(const cr_interactions *all, int32_t n_users, double ratio, int n_last,
                                 uint64_t seed, cr_interactions *keep, cr_interactions *held) {
    int64_t *off, *idx;
    uint8_t *flag;
    int32_t u;
    cr_status st;
    if ((st = cr__group_by_user(all, n_users, &off, &idx)) != CR_OK) return st;
    flag = (uint8_t *)cr__calloc_array((size_t)all->n + 1, 1, "split flags");
    if (!flag) { CR_FREE(off); CR_FREE(idx); return CR_ERR_NOMEM; }
    for (u = 0; u < n_users; u++) {
        int64_t b = off[u], n = off[u + 1] - b, k, h;
        if (n_last > 0) {
            if (n <= n_last) continue;
            cr__sort_by_time(all, idx + b, n);
            for (k = n - n_last; k < n; k++) flag[idx[b + k]] = 1;
            continue;
        }
        h = (int64_t)floor(ratio * (double)n + 0.5);
        if (h > n - 1) h = n - 1;
        {
            cr_rng r = cr_rng_stream(seed, (uint64_t)u);
            for (k = 0; k < h; k++) { /* partial Fisher-Yates: the first h of a shuffle */
                int64_t j = k + (int64_t)cr_rng_below(&r, (uint32_t)(n - k)), t = idx[b + k];
                idx[b + k] = idx[b + j];
                idx[b + j] = t;
                flag[idx[b + k]] = 1;
            }
        }
    }
    st = cr__split_by_flags(all, flag, keep, held);
    CR_FREE(off);
    CR_FREE(idx);
    CR_FREE(flag);
    return st;
}

CR_API cr_status cr_split_ratio(const cr_interactions *all, int32_t n_users, double ratio,
                                uint64_t seed, cr_interactions *keep, cr_interactions *held) {
    memset(keep, 0, sizeof *keep);
    memset(held, 0, sizeof *held);
    if (!(ratio >= 0 && ratio < 1)) return cr__fail(CR_ERR_INVALID, "split ratio %g is outside [0, 1)", ratio);
    return cr__split_users(all, n_users, ratio, 0, seed, keep, held);
}

CR_API cr_status cr_split_leave_last(const cr_interactions *all, int32_t n_users, int n_last,
                                     cr_interactions *keep, cr_interactions *held) {
    memset(keep, 0, sizeof *keep);
    memset(held, 0, sizeof *held);
    if (n_last < 1) return cr__fail(CR_ERR_INVALID, "leave-last-out needs n_last >= 1, got %d", n_last);
    return cr__split_users(all, n_users, 0, n_last, 0, keep, held);
}

CR_API cr_status cr_interactions_to_csr(cr_csr *out, const cr_interactions *x, int32_t n_users,
                                        int32_t n_items, int by_time) {
    int64_t *off, *idx, e, w = 0;
    int32_t u;
    cr_status st;
    memset(out, 0, sizeof *out);
    for (e = 0; e < x->n; e++)
        if (x->item[e] < 0 || x->item[e] >= n_items)
            return cr__fail(CR_ERR_INVALID, "record %lld has item %d outside 0..%d", (long long)e, x->item[e],
                            n_items - 1);
    if ((st = cr__group_by_user(x, n_users, &off, &idx)) != CR_OK) return st;
    if ((st = cr__csr_alloc(out, n_users, n_items, x->n, 0)) != CR_OK) { CR_FREE(off); CR_FREE(idx); return st; }
    for (u = 0; u < n_users; u++) {
        int64_t b = off[u], n = off[u + 1] - b, k, r0 = w;
        if (by_time) cr__sort_by_time(x, idx + b, n);
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

/* Options with their defaults filled in and range-checked. */
static cr_status cr__synth_resolve(cr_synth_opts *o, const cr_synth_opts *opts) {
    memset(o, 0, sizeof *o);
    if (opts) *o = *opts;
    if (!o->n_users) o->n_users = 2000;
    if (!o->n_items) o->n_items = 3000;
    if (!o->n_clusters) o->n_clusters = 20;
    if (!o->mean_len) o->mean_len = 30;
    if (o->zipf == 0) o->zipf = 0.8f;
    if (o->in_cluster == 0) o->in_cluster = 0.8f;
    if (o->follow == 0) o->follow = 0.5f;
    if (!o->seed) o->seed = 1;
    if (o->n_users < 1 || o->n_items < 10 || o->n_clusters < 1 || o->n_clusters > o->n_items / 5 ||
        o->mean_len < 5 || o->mean_len * 4 > o->n_items / 2 || !(o->zipf >= 0 && o->zipf <= 4) ||
        !(o->in_cluster >= 0 && o->in_cluster <= 1) || !(o->follow >= 0 && o->follow <= 1))
        return cr__fail(CR_ERR_INVALID,
                        "cr_synthetic: options out of range (users %d >= 1, items %d >= 10, "
                        "clusters %d in 1..items/5, mean_len %d in 5..items/8, zipf %g in [0,4], in_cluster %g and "
                        "follow %g in [0,1])",
                        o->n_users, o->n_items, o->n_clusters, o->mean_len, (double)o->zipf, (double)o->in_cluster,
                        (double)o->follow);
    return CR_OK;
}

/* The item side of the synthetic world: clusters (item i is in cluster i % C), power-law
   popularity, and each item's likely successors. */
#define CR__SYNTH_NSUCC 4
typedef struct cr__synth {
    int32_t *members; /* items grouped by cluster: members[coff[c] .. coff[c+1]) */
    int64_t *coff;
    double *cdf;      /* per-cluster cumulative popularity, aligned with members */
    double *gcdf;     /* cumulative popularity over all items */
    int32_t *succ;    /* (I, NSUCC) likely next items, in the item's cluster */
} cr__synth;

static cr_status cr__synth_items(cr__synth *S, const cr_synth_opts *o, cr_rng *r) {
    int32_t I = o->n_items, C = o->n_clusters, i, c;
    double *w = (double *)cr__alloc_array((size_t)I, sizeof(double), "synthetic data");
    S->members = (int32_t *)cr__alloc_array((size_t)I, sizeof(int32_t), "synthetic data");
    S->succ = (int32_t *)cr__alloc_array((size_t)I * CR__SYNTH_NSUCC, sizeof(int32_t), "synthetic data");
    S->coff = (int64_t *)cr__calloc_array((size_t)C + 1, sizeof(int64_t), "synthetic data");
    S->cdf = (double *)cr__alloc_array((size_t)I, sizeof(double), "synthetic data");
    S->gcdf = (double *)cr__alloc_array((size_t)I, sizeof(double), "synthetic data");
    if (!w || !S->members || !S->succ || !S->coff || !S->cdf || !S->gcdf) { CR_FREE(w); return CR_ERR_NOMEM; }
    /* popularity ranks are a random permutation */
    for (i = 0; i < I; i++) S->members[i] = i;
    for (i = I - 1; i > 0; i--) {
        int32_t j = (int32_t)cr_rng_below(r, (uint32_t)i + 1), t = S->members[i];
        S->members[i] = S->members[j];
        S->members[j] = t;
    }
    for (i = 0; i < I; i++) w[S->members[i]] = pow((double)i + 1.0, -(double)o->zipf);
    for (i = 0; i < I; i++) S->gcdf[i] = (i ? S->gcdf[i - 1] : 0) + w[i];
    /* members grouped by cluster, with per-cluster cumulative weights */
    for (i = 0; i < I; i++) S->coff[i % C + 1]++;
    for (c = 0; c < C; c++) S->coff[c + 1] += S->coff[c];
    for (c = 0; c < C; c++) {
        int64_t k = S->coff[c];
        for (i = c; i < I; i += C, k++) {
            S->members[k] = i;
            S->cdf[k] = (k > S->coff[c] ? S->cdf[k - 1] : 0) + w[i];
        }
    }
    for (i = 0; i < I; i++) { /* each item has NSUCC likely successors in its own cluster */
        int k;
        c = i % C;
        for (k = 0; k < CR__SYNTH_NSUCC; k++)
            S->succ[(int64_t)i * CR__SYNTH_NSUCC + k] =
                S->members[S->coff[c] + cr__draw_cdf(r, S->cdf + S->coff[c], (int32_t)(S->coff[c + 1] - S->coff[c]))];
    }
    CR_FREE(w);
    return CR_OK;
}

/* User u's history: a time-ordered walk, each next item a successor of the previous (follow),
   else from the user's cluster (in_cluster), else from anywhere, by popularity; no repeats. */
static cr_status cr__synth_user(cr_interactions *x, const cr__synth *S, const cr_synth_opts *o, int32_t u,
                                int32_t *hist) {
    cr_rng ru = cr_rng_stream(o->seed, (uint64_t)u + 1);
    int32_t len = 5 + (int32_t)(-log(1.0 - (double)cr_rng_float(&ru)) * (o->mean_len - 5)), t;
    int32_t uc = (int32_t)cr_rng_below(&ru, (uint32_t)o->n_clusters);
    cr_status st;
    if (len > o->mean_len * 4) len = o->mean_len * 4;
    for (t = 0; t < len; t++) {
        int32_t item = 0, tries, k;
        for (tries = 0; tries < 20; tries++) {
            float a = cr_rng_float(&ru);
            if (t > 0 && a < o->follow)
                item = S->succ[(int64_t)hist[t - 1] * CR__SYNTH_NSUCC + cr_rng_below(&ru, CR__SYNTH_NSUCC)];
            else if (cr_rng_float(&ru) < o->in_cluster)
                item = S->members[S->coff[uc] +
                                  cr__draw_cdf(&ru, S->cdf + S->coff[uc], (int32_t)(S->coff[uc + 1] - S->coff[uc]))];
            else item = cr__draw_cdf(&ru, S->gcdf, o->n_items);
            for (k = 0; k < t && hist[k] != item; k++) {}
            if (k == t) break;
        }
        if (tries == 20) break; /* history saturated: end it here */
        hist[t] = item;
        if ((st = cr_interactions_push(x, u, item, 1.0f, (double)t)) != CR_OK) return st;
    }
    return CR_OK;
}

/* Every user's history, on all threads: users in blocks, each block's records generated into
   a buffer of its own, then the blocks copied in user order. Every user draws from its own
   stream, so the records are the same on any thread count. */
#define CR__SYNTH_BLOCK 4096
static cr_status cr__synth_users(cr_interactions *x, const cr__synth *S, const cr_synth_opts *o) {
    int64_t nb = ((int64_t)o->n_users + CR__SYNTH_BLOCK - 1) / CR__SYNTH_BLOCK, b, n = 0, at = 0;
    cr_interactions *blk = (cr_interactions *)cr__calloc_array((size_t)nb, sizeof(cr_interactions), "synthetic data");
    int failed = 0;
    cr_status st = CR_OK;
    if (!blk) return CR_ERR_NOMEM;
    CR__OMP(parallel for schedule(dynamic, 1) reduction(| : failed))
    for (b = 0; b < nb; b++) {
        int32_t u = (int32_t)(b * CR__SYNTH_BLOCK),
                end = (int32_t)CR__MIN((int64_t)o->n_users, (b + 1) * CR__SYNTH_BLOCK);
        int32_t *hist = (int32_t *)CR_MALLOC(((size_t)o->mean_len * 4 + 1) * sizeof(int32_t));
        if (!hist) failed = 1;
        for (; u < end && !failed; u++)
            if (cr__synth_user(&blk[b], S, o, u, hist) != CR_OK) failed = 1;
        CR_FREE(hist);
    }
    for (b = 0; b < nb; b++) n += blk[b].n;
    if (failed) st = cr__fail(CR_ERR_NOMEM, "cr_synthetic: out of memory generating %d users' records", o->n_users);
    else if ((st = cr__interactions_reserve(x, n)) == CR_OK) {
        for (b = 0; b < nb; b++) { /* block by block, each freed once copied */
            const cr_interactions *y = &blk[b];
            memcpy(x->user + at, y->user, (size_t)y->n * sizeof(int32_t));
            memcpy(x->item + at, y->item, (size_t)y->n * sizeof(int32_t));
            memcpy(x->rating + at, y->rating, (size_t)y->n * sizeof(float));
            memcpy(x->time + at, y->time, (size_t)y->n * sizeof(double));
            at += y->n;
            cr_interactions_free(&blk[b]);
        }
        x->n = n;
    }
    for (b = 0; b < nb; b++) cr_interactions_free(&blk[b]);
    CR_FREE(blk);
    return st;
}

CR_API cr_status cr_synthetic(cr_interactions *x, int32_t *n_users_out, int32_t *n_items_out,
                              const cr_synth_opts *opts) {
    cr_synth_opts o;
    cr__synth S;
    cr_rng r;
    cr_status st;
    memset(x, 0, sizeof *x);
    memset(&S, 0, sizeof S);
    if ((st = cr__synth_resolve(&o, opts)) != CR_OK) return st;
    cr_rng_seed(&r, o.seed);
    if ((st = cr__synth_items(&S, &o, &r)) == CR_OK) st = cr__synth_users(x, &S, &o);
    CR_FREE(S.members);
    CR_FREE(S.succ);
    CR_FREE(S.coff);
    CR_FREE(S.cdf);
    CR_FREE(S.gcdf);
    if (st != CR_OK) { cr_interactions_free(x); return st; }
    x->has_time = 1;
    *n_users_out = o.n_users;
    *n_items_out = o.n_items;
    return CR_OK;
}

/* ---- 5g. datasets ---- */

CR_API void cr_dataset_free(cr_dataset *ds) {
    cr_idmap_free(&ds->users);
    cr_idmap_free(&ds->items);
    cr_interactions_free(&ds->train);
    cr_interactions_free(&ds->valid);
    cr_interactions_free(&ds->test);
    cr_item_features_free(&ds->features);
    memset(ds, 0, sizeof *ds);
}

/* Drops held-out records whose (user, item) pair is also in train: masked at evaluation, they
   could never be hit. Returns how many went. */
static cr_status cr__drop_train_overlap(cr_interactions *held, const cr_interactions *train,
                                        int32_t n_users, int32_t n_items, int64_t *dropped) {
    cr_csr R;
    int64_t e;
    uint8_t *drop;
    cr_status st;
    *dropped = 0;
    if ((st = cr_interactions_to_csr(&R, train, n_users, n_items, 0)) != CR_OK) return st;
    drop = (uint8_t *)cr__alloc_array((size_t)held->n + 1, 1, "overlap flags");
    if (!drop) { cr_csr_free(&R); return CR_ERR_NOMEM; }
    for (e = 0; e < held->n; e++) drop[e] = (uint8_t)cr__csr_has(&R, held->user[e], held->item[e]);
    *dropped = cr__interactions_drop(held, drop);
    CR_FREE(drop);
    cr_csr_free(&R);
    return CR_OK;
}

/* The test half of a dataset: unknown ids counted, pairs also in train dropped (graph data),
   an empty result refused. */
static cr_status cr__dataset_test_done(cr_dataset *ds, const char *name, int sequential) {
    cr_status st = CR_OK;
    int64_t overlap = 0;
    if (!sequential) st = cr__drop_train_overlap(&ds->test, &ds->train, ds->users.n, ds->items.n, &overlap);
    ds->test_report.records -= overlap;
    ds->test_overlap = overlap;
    if (st == CR_OK && ds->test.n == 0)
        st = cr__fail(CR_ERR_EMPTY,
                      "%s: no test interactions left (%lld records with users unknown to training, %lld with unknown "
                      "items, %lld also in training)",
                      name, (long long)ds->test_report.unknown_user, (long long)ds->test_report.unknown_item,
                      (long long)overlap);
    return st;
}

static cr_status cr__dataset_load_mem(cr_dataset *ds, const unsigned char *buf, size_t len, const char *name);

/* A dataset file (cr_dataset_save) read whole: its records were filtered when it was written. */
static cr_status cr__dataset_file(cr_dataset *ds, const char *buf, size_t len, const char *path, const char *test_path,
                                  const cr_load_opts *opts) {
    if (test_path)
        return cr__fail(CR_ERR_INVALID, "%s: a dataset file holds its own test records: no test file goes with it",
                        path);
    if (opts && (opts->skip_bad_lines || opts->keep_duplicates || opts->min_rating > 0))
        return cr__fail(CR_ERR_INVALID,
                        "%s: a dataset file is read as it was written: give skip_bad_lines, "
                        "keep_duplicates or min_rating when converting it",
                        path);
    return cr__dataset_load_mem(ds, (const unsigned char *)buf, len, path);
}

CR_API cr_status cr_dataset_load(cr_dataset *ds, const char *train_path, const char *test_path,
                                 const cr_load_opts *opts) {
    cr_status st;
    char *buf = NULL;
    size_t len = 0;
    memset(ds, 0, sizeof *ds);
    /* read once (a pipe gives its bytes once), then a dataset file or text */
    if ((st = cr__read_file(train_path, &buf, &len)) != CR_OK) return st;
    if (len >= 4 && !memcmp(buf, "CRDS", 4)) {
        st = cr__dataset_file(ds, buf, len, train_path, test_path, opts);
        CR_FREE(buf);
        return st;
    }
    st = cr_parse_interactions(&ds->train, &ds->users, &ds->items, 1, buf, len, train_path, opts, &ds->train_report);
    CR_FREE(buf);
    if (st == CR_OK && test_path) {
        cr_load_opts to;
        memset(&to, 0, sizeof to);
        if (opts) to = *opts;
        if (to.format == CR_FORMAT_AUTO && ds->train_report.format != CR_FORMAT_TRIPLETS)
            to.format = ds->train_report.format; /* as train */
        st = cr_load_interactions(&ds->test, &ds->users, &ds->items, 0, test_path, &to, &ds->test_report);
        if (st == CR_OK) st = cr__dataset_test_done(ds, test_path, ds->train_report.format == CR_FORMAT_SEQ);
    }
    if (st != CR_OK) { cr_dataset_free(ds); return st; }
    ds->n_users = ds->users.n;
    ds->n_items = ds->items.n;
    return CR_OK;
}

/* Records from raw id arrays, through the loaders' record path (ids, duplicates, report). */
static cr_status cr__from_arrays(cr_interactions *x, cr_dataset *ds, int add_ids, const int64_t *us, const int64_t *is,
                                 int64_t n, const char *what, cr_load_report *rep) {
    static const cr_load_opts dflt = {CR_FORMAT_TRIPLETS, 0, 0, 0.0f, 0};
    cr__load L;
    int64_t e, removed = 0;
    cr_status st = CR_OK;
    memset(x, 0, sizeof *x);
    memset(&L, 0, sizeof L);
    L.x = x;
    L.users = &ds->users;
    L.items = &ds->items;
    L.add_ids = add_ids;
    L.o = &dflt;
    L.rep = rep;
    L.last_raw_user = -1;
    if (n < 0 || (n > 0 && (!us || !is)))
        return cr__fail(CR_ERR_INVALID, "%s: %lld pairs without arrays", what, (long long)n);
    for (e = 0; e < n && st == CR_OK; e++) {
        rep->lines++;
        if (us[e] < 0 || us[e] > 0xFFFFFFFFLL || is[e] < 0 || is[e] > 0xFFFFFFFFLL)
            st = cr__fail(CR_ERR_INVALID, "%s: pair %lld (%lld, %lld) has an id outside 0..4294967295", what,
                          (long long)e, (long long)us[e], (long long)is[e]);
        else st = cr__load_record(&L, us[e], is[e], 1.0, NAN);
    }
    if (st == CR_OK) st = cr__dedup(x, ds->users.n, &removed);
    rep->duplicates = removed;
    rep->records -= removed;
    return st;
}

CR_API cr_status cr_dataset_from_arrays(cr_dataset *ds, const int64_t *train_users, const int64_t *train_items,
                                        int64_t n_train, const int64_t *test_users, const int64_t *test_items,
                                        int64_t n_test, int sequential) {
    cr_status st;
    memset(ds, 0, sizeof *ds);
    st = cr__from_arrays(&ds->train, ds, 1, train_users, train_items, n_train, "training arrays", &ds->train_report);
    if (st == CR_OK && !ds->train.n) st = cr__fail(CR_ERR_EMPTY, "training arrays: no interactions given");
    if (st == CR_OK && n_test) {
        st = cr__from_arrays(&ds->test, ds, 0, test_users, test_items, n_test, "test arrays", &ds->test_report);
        if (st == CR_OK) st = cr__dataset_test_done(ds, "test arrays", sequential);
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
        return cr__fail(CR_ERR_INVALID, "cr_dataset_synthetic: leave_last %d must be >= 0 and test_ratio %g in [0, 1)",
                        leave_last, test_ratio);
    if ((st = cr_synthetic(&all, &ds->n_users, &ds->n_items, opts)) != CR_OK) return st;
    if (leave_last > 0) st = cr_split_leave_last(&all, ds->n_users, leave_last, &ds->train, &ds->test);
    else
        st = cr_split_ratio(&all, ds->n_users, test_ratio > 0 ? test_ratio : 0.2, cr_hash64(seed, 7), &ds->train,
                            &ds->test);
    cr_interactions_free(&all);
    if (st == CR_OK) st = cr_idmap_identity(&ds->users, ds->n_users);
    if (st == CR_OK) st = cr_idmap_identity(&ds->items, ds->n_items);
    if (st != CR_OK) { cr_dataset_free(ds); return st; }
    ds->train_report.records = ds->train.n;
    ds->test_report.records = ds->test.n;
    return CR_OK;
}

#define CR__VALID_STREAM 0x76616c6964ULL /* "valid": per-user streams of a validation carve */
#define CR__TEST_STREAM 0x74657374ULL    /* "test": those of a held-out test split */

/* Moves round(ratio * n_u) random records of each user (or each user's latest) out of train
   into *held, drawing from the purpose's own stream of seed. */
static cr_status cr__dataset_carve(cr_dataset *ds, cr_interactions *held, const char *what, double ratio, int by_time,
                                   uint64_t seed, uint64_t purpose) {
    cr_interactions keep, out;
    cr_status st;
    if (held->n) return cr__fail(CR_ERR_INVALID, "the dataset already has a %s set", what);
    if (by_time) st = cr_split_leave_last(&ds->train, ds->n_users, 1, &keep, &out);
    else {
        if (!(ratio > 0 && ratio < 1)) return cr__fail(CR_ERR_INVALID, "%s ratio %g is outside (0, 1)", what, ratio);
        st = cr_split_ratio(&ds->train, ds->n_users, ratio, cr_hash64(seed, purpose), &keep, &out);
    }
    if (st != CR_OK) return st;
    cr_interactions_free(&ds->train);
    cr_interactions_free(held);
    ds->train = keep;
    *held = out;
    return CR_OK;
}

CR_API cr_status cr_dataset_carve_valid(cr_dataset *ds, double ratio, int by_time, uint64_t seed) {
    return cr__dataset_carve(ds, &ds->valid, "validation", ratio, by_time, seed, CR__VALID_STREAM);
}

CR_API cr_status cr_dataset_carve_test(cr_dataset *ds, double ratio, int by_time, uint64_t seed) {
    return cr__dataset_carve(ds, &ds->test, "test", ratio, by_time, seed, CR__TEST_STREAM);
}

#define CR__SPLIT3_STREAM 0x73706c6974ULL /* "split": per-user shuffles of cr_dataset_split_ratio */

CR_API cr_status cr_dataset_split_ratio(cr_dataset *ds, double r_train, double r_valid, double r_test, uint64_t seed) {
    int64_t *off, *idx;
    uint8_t *flag;
    int32_t u;
    cr_interactions parts[3];
    cr_status st;
    int p;
    if (!(r_train > 0 && r_valid > 0 && r_test > 0) || fabs(r_train + r_valid + r_test - 1.0) > 1e-6)
        return cr__fail(CR_ERR_INVALID, "split ratios %g, %g, %g must be positive and sum to 1", r_train, r_valid,
                        r_test);
    if (ds->valid.n || ds->test.n)
        return cr__fail(CR_ERR_INVALID,
                        "the dataset already has a %s set: a ratio split takes a single interaction file",
                        ds->test.n ? "test" : "validation");
    if ((st = cr__group_by_user(&ds->train, ds->n_users, &off, &idx)) != CR_OK) return st;
    if (!(flag = (uint8_t *)cr__calloc_array((size_t)ds->train.n + 1, 1, "split flags"))) {
        CR_FREE(off);
        CR_FREE(idx);
        return CR_ERR_NOMEM;
    }
    for (u = 0; u < ds->n_users; u++) {
        int64_t b = off[u], n = off[u + 1] - b, k, cnt[3], j;
        double r[3];
        cr_rng g = cr_rng_stream(cr_hash64(seed, CR__SPLIT3_STREAM), (uint64_t)u);
        r[0] = r_train;
        r[1] = r_valid;
        r[2] = r_test;
        for (k = 0; k + 1 < n; k++) { /* Fisher-Yates */
            int64_t t;
            j = k + (int64_t)cr_rng_below(&g, (uint32_t)(n - k));
            t = idx[b + k];
            idx[b + k] = idx[b + j];
            idx[b + j] = t;
        }
        cnt[1] = (int64_t)(r[1] * (double)n); /* RecBole's _calcu_split_ids: int(ratio * n) */
        cnt[2] = (int64_t)(r[2] * (double)n);
        cnt[0] = n - cnt[1] - cnt[2];
        for (p = 2; p >= 1; p--) {
            if (cnt[0] <= 1) break;
            if (r[p] * (double)n > 0 && r[p] * (double)n < 1) { cnt[p]++; cnt[0]--; }
        }
        for (k = cnt[0]; k < n; k++) flag[idx[b + k]] = (uint8_t)(k < cnt[0] + cnt[1] ? 1 : 2);
    }
    memset(parts, 0, sizeof parts);
    for (p = 0, st = CR_OK; p < 3 && st == CR_OK; p++) st = cr__select(&parts[p], &ds->train, flag, p);
    CR_FREE(off);
    CR_FREE(idx);
    CR_FREE(flag);
    if (st != CR_OK) {
        for (p = 0; p < 3; p++) cr_interactions_free(&parts[p]);
        return st;
    }
    cr_interactions_free(&ds->train);
    ds->train = parts[0];
    ds->valid = parts[1];
    ds->test = parts[2];
    ds->test_report.records = ds->test.n;
    return CR_OK;
}

/* Open-addressing set of (user, item) pairs, keys (u << 32 | i) + 1. */
typedef struct cr__pairset {
    uint64_t *keys;
    int64_t cap;
} cr__pairset;

static int cr__pairset_add(cr__pairset *s, int32_t u, int32_t i) { /* 1 if new */
    uint64_t key = (((uint64_t)(uint32_t)u << 32) | (uint32_t)i) + 1, h = cr__hash_key(key) & (uint64_t)(s->cap - 1);
    while (s->keys[h]) {
        if (s->keys[h] == key) return 0;
        h = (h + 1) & (uint64_t)(s->cap - 1);
    }
    s->keys[h] = key;
    return 1;
}

CR_API cr_status cr_interactions_add_noise(cr_interactions *x, int32_t n_users, int32_t n_items, double ratio,
                                           uint64_t seed, const cr_interactions *const *avoid, int n_avoid,
                                           int64_t *added) {
    cr__pairset set;
    int64_t want, total = x->n, e, tries = 0, n0 = x->n;
    double *tmin = NULL, *tmax = NULL;
    cr_rng r;
    int a;
    cr_status st = CR_OK;
    if (added) *added = 0;
    if (!(ratio >= 0 && ratio <= 10)) return cr__fail(CR_ERR_INVALID, "noise ratio %g is outside [0, 10]", ratio);
    if (n_users < 1 || n_items < 1) return cr__fail(CR_ERR_INVALID, "noise: %d users and %d items", n_users, n_items);
    want = (int64_t)(ratio * (double)x->n);
    if (!want) return CR_OK;
    if (want > (int64_t)n_users * n_items / 2)
        return cr__fail(CR_ERR_INVALID, "noise ratio %g asks for %lld pairs, more than half of the %d x %d matrix",
                        ratio, (long long)want, n_users, n_items);
    for (a = 0; a < n_avoid; a++) total += avoid[a] ? avoid[a]->n : 0;
    for (set.cap = 64; set.cap < 2 * (total + want); set.cap *= 2) {}
    set.keys = (uint64_t *)cr__calloc_array((size_t)set.cap, sizeof(uint64_t), "noise pairs");
    tmin = (double *)cr__alloc_array((size_t)n_users, sizeof(double), "noise pairs");
    tmax = (double *)cr__alloc_array((size_t)n_users, sizeof(double), "noise pairs");
    if (!set.keys || !tmin || !tmax) { st = CR_ERR_NOMEM; goto done; }
    for (e = 0; e < n_users; e++) { tmin[e] = INFINITY; tmax[e] = -INFINITY; }
    for (e = 0; e < x->n; e++) {
        cr__pairset_add(&set, x->user[e], x->item[e]);
        tmin[x->user[e]] = CR__MIN(tmin[x->user[e]], x->time[e]);
        tmax[x->user[e]] = CR__MAX(tmax[x->user[e]], x->time[e]);
    }
    for (a = 0; a < n_avoid; a++)
        for (e = 0; avoid[a] && e < avoid[a]->n; e++) cr__pairset_add(&set, avoid[a]->user[e], avoid[a]->item[e]);
    cr_rng_seed(&r, cr_hash64(seed, 0x6e6f697365ULL)); /* "noise" */
    while (x->n - n0 < want && st == CR_OK) {
        int32_t u = (int32_t)cr_rng_below(&r, (uint32_t)n_users), i = (int32_t)cr_rng_below(&r, (uint32_t)n_items);
        double t = tmin[u] <= tmax[u] ? tmin[u] + (tmax[u] - tmin[u]) * (double)cr_rng_float(&r) : 0;
        if (++tries > 100 * want + 1000000) {
            st = cr__fail(CR_ERR_INVALID, "noise: no more unobserved pairs found after %lld draws", (long long)tries);
            break;
        }
        if (cr__pairset_add(&set, u, i)) st = cr_interactions_push(x, u, i, 1.0f, t);
    }
    if (st == CR_OK && added) *added = x->n - n0;
done:
    if (st != CR_OK) x->n = n0; /* the records as they were */
    CR_FREE(set.keys);
    CR_FREE(tmin);
    CR_FREE(tmax);
    return st;
}

/* ==== 6. augmentation ======================================================================== */

#define CR__MAX_DIM 4096 /* largest embedding / hidden size (cr_config_resolve checks it; RecDCL uses 2048) */

CR_API cr_status cr_aug_edge_dropout(uint8_t *keep, int64_t n, float drop, uint64_t seed) {
    int64_t *idx, i, n_drop;
    cr_rng r;
    if (!(drop >= 0 && drop < 1))
        return cr__fail(CR_ERR_INVALID, "edge dropout ratio %g is outside [0, 1)", (double)drop);
    n_drop = n - (int64_t)((double)n * (1.0 - (double)drop));
    memset(keep, 1, (size_t)n);
    if (n_drop <= 0) return CR_OK;
    idx = (int64_t *)cr__alloc_array((size_t)n, sizeof(int64_t), "edge dropout");
    if (!idx) return CR_ERR_NOMEM;
    for (i = 0; i < n; i++) idx[i] = i;
    cr_rng_seed(&r, seed);
    for (i = 0; i < n_drop; i++) { /* partial Fisher-Yates: the first n_drop of a shuffle */
        int64_t j = i + (int64_t)(cr_rng_next(&r) % (uint64_t)(n - i)), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        keep[idx[i]] = 0;
    }
    CR_FREE(idx);
    return CR_OK;
}

/* Marks floor(ratio * n) of n nodes as dropped (drop[i] = 1), uniformly without replacement. */
static cr_status cr__drop_nodes(uint8_t *drop, int32_t n, float ratio, cr_rng *r) {
    int32_t *idx, i, k = (int32_t)((double)ratio * n);
    memset(drop, 0, (size_t)n);
    if (k <= 0) return CR_OK;
    idx = (int32_t *)cr__alloc_array((size_t)n, sizeof(int32_t), "node dropout");
    if (!idx) return CR_ERR_NOMEM;
    for (i = 0; i < n; i++) idx[i] = i;
    for (i = 0; i < k; i++) {
        int32_t j = i + (int32_t)cr_rng_below(r, (uint32_t)(n - i)), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        drop[idx[i]] = 1;
    }
    CR_FREE(idx);
    return CR_OK;
}

CR_API cr_status cr_aug_node_dropout(uint8_t *keep, int64_t n, const int32_t *users,
                                     const int32_t *items, int32_t n_users, int32_t n_items,
                                     float drop, uint64_t seed) {
    uint8_t *du, *di;
    int64_t e;
    cr_rng r;
    cr_status st;
    if (!(drop >= 0 && drop < 1))
        return cr__fail(CR_ERR_INVALID, "node dropout ratio %g is outside [0, 1)", (double)drop);
    du = (uint8_t *)cr__alloc_array((size_t)n_users + 1, 1, "node dropout");
    di = (uint8_t *)cr__alloc_array((size_t)n_items + 1, 1, "node dropout");
    if (!du || !di) { CR_FREE(du); CR_FREE(di); return CR_ERR_NOMEM; }
    cr_rng_seed(&r, seed);
    st = cr__drop_nodes(du, n_users, drop, &r);
    if (st == CR_OK) st = cr__drop_nodes(di, n_items, drop, &r);
    if (st == CR_OK)
        for (e = 0; e < n; e++) keep[e] = (uint8_t)!(du[users[e]] | di[items[e]]);
    CR_FREE(du);
    CR_FREE(di);
    return st;
}

CR_API cr_status cr_aug_rw_subgraph(uint8_t *keep, const cr_csr *ui, float keep_ratio, float restart,
                                    int walk_len, uint64_t seed) {
    /* walks alternate user -> item -> user, the second step through the item -> user
       transpose; epos maps each transposed entry back to its edge */
    cr_csr iu;
    int64_t *epos, target, kept = 0, steps = 0, p;
    cr_rng r;
    cr_status st;
    if (!(keep_ratio > 0 && keep_ratio <= 1))
        return cr__fail(CR_ERR_INVALID, "random-walk keep ratio %g is outside (0, 1]", (double)keep_ratio);
    if (!(restart >= 0 && restart < 1))
        return cr__fail(CR_ERR_INVALID, "random-walk restart probability %g is outside [0, 1)", (double)restart);
    if (walk_len < 1) return cr__fail(CR_ERR_INVALID, "random-walk length %d must be >= 1", walk_len);
    memset(keep, 0, (size_t)ui->nnz);
    if (ui->nnz == 0 || ui->nrows == 0) return CR_OK;
    if ((st = cr_csr_transpose(&iu, ui)) != CR_OK) return st;
    epos = (int64_t *)cr__alloc_array((size_t)ui->nnz, sizeof(int64_t), "random walk");
    if (!epos) { cr_csr_free(&iu); return CR_ERR_NOMEM; }
    {
        int64_t *fill = (int64_t *)cr__alloc_array((size_t)iu.nrows + 1, sizeof(int64_t), "random walk"), u;
        if (!fill) { CR_FREE(epos); cr_csr_free(&iu); return CR_ERR_NOMEM; }
        memcpy(fill, iu.rowptr, (size_t)(iu.nrows + 1) * sizeof(int64_t));
        for (u = 0; u < ui->nrows; u++)
            for (p = ui->rowptr[u]; p < ui->rowptr[u + 1]; p++) epos[fill[ui->col[p]]++] = p;
        CR_FREE(fill);
    }
    target = (int64_t)((double)keep_ratio * (double)ui->nnz);
    cr_rng_seed(&r, seed);
    while (kept < target && steps < 20 * ui->nnz) {
        int64_t start = (int64_t)cr_rng_below(&r, (uint32_t)ui->nrows), u = start;
        int t;
        for (t = 0; t < walk_len && kept < target; t++) {
            int64_t deg = ui->rowptr[u + 1] - ui->rowptr[u], e, it, q;
            steps++;
            if (deg == 0) break;
            e = ui->rowptr[u] + (int64_t)cr_rng_below(&r, (uint32_t)deg);
            if (!keep[e]) { keep[e] = 1; kept++; }
            it = ui->col[e];
            deg = iu.rowptr[it + 1] - iu.rowptr[it];
            q = iu.rowptr[it] + (int64_t)cr_rng_below(&r, (uint32_t)deg);
            if (!keep[epos[q]]) { keep[epos[q]] = 1; kept++; }
            u = cr_rng_float(&r) < restart ? start : iu.col[q];
        }
    }
    CR_FREE(epos);
    cr_csr_free(&iu);
    return CR_OK;
}

/* A 32-bit integer hash (Wellons' "lowbias32"). Hashing (row key, column) gives a counter-
   based generator: every element's number is independent of the others and of the thread
   schedule, and the loop that draws them vectorises (xoshiro's serial state would not). */
static CR__INLINE uint32_t cr__hash32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* Post-processes one propagated layer X (rows x d) in a single pass: optional SimGCL noise
   X += eps * sign(X) (.) normalize(u), u ~ U(0,1)^d per row, then acc += c * X. With ord, rows of
   X and acc are in the graph's locality order (row r is node ord[r]): the noise and delta follow
   the node. only (marks by node, or NULL): acc at the marked nodes alone, and with last, X too
   (the last layer of a forward whose output is read there alone). */
static void cr__layer_post(float *X, float *acc, float c, int64_t r0, int64_t rows, int d, float eps, uint64_t seed,
                           const float *delta, const int32_t *ord, const uint8_t *only, int last) {
    int64_t r;
    CR__OMP(parallel for schedule(static))
    for (r = r0; r < rows; r++) {
        const int64_t o = ord ? ord[r] : r;
        const int read = !only || only[o];
        float *x = X + r * d, u[CR__MAX_DIM];
        int j;
        if (!read && last) continue;
        if (delta) { /* a given perturbation (RCL's adversarial one) */
            cr__prefetch_row(delta, ord, r, rows, d);
            cr_vaxpy(x, 1.0f, delta + o * d, d);
        }
        if (eps > 0) {
            uint32_t key = (uint32_t)cr_hash64(seed, (uint64_t)o);
            float inv;
            for (j = 0; j < d; j++)
                u[j] = (float)(cr__hash32(key + 0x9e3779b9U * (uint32_t)j) >> 8) * (1.0f / 16777216.0f);
            inv = sqrtf(cr_vdot(u, u, d));
            inv = eps / (inv > CR__NORM_EPS ? inv : CR__NORM_EPS);
            for (j = 0; j < d; j++) {
                float sg = (float)(x[j] > 0) - (float)(x[j] < 0); /* torch.sign: sign(0) = 0 */
                x[j] += sg * u[j] * inv;
            }
        }
        if (acc && read)
            for (j = 0; j < d; j++) acc[r * d + j] += c * x[j];
    }
}

CR_API void cr_aug_noise(float *E, int64_t rows, int d, float eps, uint64_t seed) {
    cr__layer_post(E, NULL, 0, 0, rows, d, eps, seed, NULL, NULL, NULL, 0);
}

CR_API void cr_aug_feature_mask(float *E, int64_t rows, int d, float rate, uint64_t seed, uint8_t *mask) {
    cr_rng r;
    int64_t i;
    int j;
    cr_rng_seed(&r, seed);
    for (j = 0; j < d; j++) mask[j] = (uint8_t)(cr_rng_float(&r) >= rate);
    CR__OMP(parallel for schedule(static) if (rows * d > 65536))
    for (i = 0; i < rows; i++) {
        int c;
        for (c = 0; c < d; c++)
            if (!mask[c]) E[i * d + c] = 0;
    }
}

/* ==== 7. losses ============================================================================== */

/* exp for the softmax loops: range reduction to 2^n * 2^f with |f| <= 0.5 and a degree-7
   polynomial (relative error < 2e-7). Written without calls or branches so the compiler can
   vectorise the loops it sits in; libm's expf would stay scalar. */
static CR__INLINE float cr__expf(float x) {
    float t, n, f, p, xc;
    int32_t bits;
    float scale;
    /* clamped so that a NaN never reaches the float-to-int conversion (undefined behaviour);
       a NaN in gives a NaN out, as expf does */
    xc = x > -87.0f ? x : -87.0f;
    xc = xc < 88.0f ? xc : 88.0f;
    t = xc * 1.4426950408889634f;
    n = (t + 12582912.0f) - 12582912.0f; /* round to nearest without floorf */
    f = t - n;
    p = 1.5252734e-5f;
    p = p * f + 1.5403530e-4f;
    p = p * f + 1.3333558e-3f;
    p = p * f + 9.6181291e-3f;
    p = p * f + 5.5504109e-2f;
    p = p * f + 2.4022651e-1f;
    p = p * f + 6.9314718e-1f;
    p = p * f + 1.0f;
    bits = ((int32_t)n + 127) << 23;
    memcpy(&scale, &bits, sizeof scale);
    return x == x ? p * scale : x;
}

/* cr__expf on 16 lanes at once, its operations in its order (no fused multiply-add), so the
   bits are the scalar function's where the compiler does not contract a * b + c itself (gcc in
   ISO C modes, as the Makefile builds); with contraction (clang's default, gcc's GNU modes) the
   scalar function's last bit can differ, the same on any thread count. gcc leaves the scalar
   loop unvectorised (0.7 ns an element, one thread, AVX-512): the streamed InfoNCE spent a
   third of its forward pass there. */
#if defined(CR__AVX512)
#define CR__EXPV 16
typedef __m512 cr__expv;
#define CR__EV_SET1(a) _mm512_set1_ps(a)
#define CR__EV_LOAD(p) _mm512_loadu_ps(p)
#define CR__EV_STORE(p, v) _mm512_storeu_ps(p, v)
#define CR__EV_ADD(a, b) _mm512_add_ps(a, b)
#define CR__EV_SUB(a, b) _mm512_sub_ps(a, b)
#define CR__EV_MUL(a, b) _mm512_mul_ps(a, b)
#define CR__EV_MAX(a, b) _mm512_maskz_max_ps((__mmask16)0xFFFF, a, b) /* a > b ? a : b, as the scalar test */
#define CR__EV_MIN(a, b) _mm512_maskz_min_ps((__mmask16)0xFFFF, a, b) /* masked: g++ -O2 warns of the plain ones */
#define CR__EV_POW2(n)                                                                                   \
    _mm512_castsi512_ps(_mm512_maskz_slli_epi32((__mmask16)0xFFFF,                                          \
                                                _mm512_add_epi32(_mm512_maskz_cvttps_epi32((__mmask16)0xFFFF, n), \
                                                                 _mm512_set1_epi32(127)), 23))
#define CR__EV_KEEPNAN(x, r) _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(x, x, _CMP_ORD_Q), r)
#define CR__EV_GTMASK(a, b) ((uint64_t)_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ)) /* bit j: lane j of a > b */
#elif defined(CR__AVX2)
#define CR__EXPV 8
typedef __m256 cr__expv;
#define CR__EV_SET1(a) _mm256_set1_ps(a)
#define CR__EV_LOAD(p) _mm256_loadu_ps(p)
#define CR__EV_STORE(p, v) _mm256_storeu_ps(p, v)
#define CR__EV_ADD(a, b) _mm256_add_ps(a, b)
#define CR__EV_SUB(a, b) _mm256_sub_ps(a, b)
#define CR__EV_MUL(a, b) _mm256_mul_ps(a, b)
#define CR__EV_MAX(a, b) _mm256_max_ps(a, b)
#define CR__EV_MIN(a, b) _mm256_min_ps(a, b)
#define CR__EV_POW2(n)                                                                                   \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23))
#define CR__EV_KEEPNAN(x, r) _mm256_blendv_ps(x, r, _mm256_cmp_ps(x, x, _CMP_ORD_Q))
#define CR__EV_GTMASK(a, b) ((uint64_t)(unsigned)_mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_GT_OQ)))
#endif

#ifdef CR__EXPV
static CR__INLINE cr__expv cr__expf_v(cr__expv x) {
    cr__expv xc = CR__EV_MIN(CR__EV_MAX(x, CR__EV_SET1(-87.0f)), CR__EV_SET1(88.0f));
    cr__expv t = CR__EV_MUL(xc, CR__EV_SET1(1.4426950408889634f)), n, f, p;
    n = CR__EV_SUB(CR__EV_ADD(t, CR__EV_SET1(12582912.0f)), CR__EV_SET1(12582912.0f));
    f = CR__EV_SUB(t, n);
    p = CR__EV_SET1(1.5252734e-5f);
    p = CR__EV_ADD(CR__EV_MUL(p, f), CR__EV_SET1(1.5403530e-4f));
    p = CR__EV_ADD(CR__EV_MUL(p, f), CR__EV_SET1(1.3333558e-3f));
    p = CR__EV_ADD(CR__EV_MUL(p, f), CR__EV_SET1(9.6181291e-3f));
    p = CR__EV_ADD(CR__EV_MUL(p, f), CR__EV_SET1(5.5504109e-2f));
    p = CR__EV_ADD(CR__EV_MUL(p, f), CR__EV_SET1(2.4022651e-1f));
    p = CR__EV_ADD(CR__EV_MUL(p, f), CR__EV_SET1(6.9314718e-1f));
    p = CR__EV_ADD(CR__EV_MUL(p, f), CR__EV_SET1(1.0f));
    return CR__EV_KEEPNAN(x, CR__EV_MUL(p, CR__EV_POW2(n)));
}
#endif

/* Row reductions for the softmax loops, written with 16 independent lanes so they vectorise
   without -ffast-math and sum in an order that does not depend on the SIMD width. */
static float cr__vmax(const float *x, int64_t n) {
    float m[16], r;
    int64_t j = 0;
    int k;
    for (k = 0; k < 16; k++) m[k] = -INFINITY;
#ifdef CR__EXPV
    { /* max(a, b) is a > b ? a : b, the scalar test; lanes as in cr__vexp_sum */
        cr__expv m0 = CR__EV_SET1(-INFINITY), m1 = m0;
        for (; j + 16 <= n; j += 16) {
            m0 = CR__EV_MAX(CR__EV_LOAD(x + j), m0);
            if (CR__EXPV == 8) m1 = CR__EV_MAX(CR__EV_LOAD(x + j + 8), m1);
        }
        CR__EV_STORE(m, m0);
        if (CR__EXPV == 8) CR__EV_STORE(m + 8, m1);
    }
#endif
    for (; j + 16 <= n; j += 16)
        for (k = 0; k < 16; k++) m[k] = x[j + k] > m[k] ? x[j + k] : m[k];
    for (; j < n; j++) m[0] = x[j] > m[0] ? x[j] : m[0];
    r = m[0];
    for (k = 1; k < 16; k++) r = m[k] > r ? m[k] : r;
    return r;
}

/* y[j] = exp(x[j] - mx) (y may be x); returns the sum of the y[j] */
static float cr__vexp_sum(float *y, const float *x, int64_t n, float mx) {
    float acc[16], s = 0;
    int64_t j = 0;
    int k;
    for (k = 0; k < 16; k++) acc[k] = 0;
#ifdef CR__EXPV
    { /* lanes k and k + 8 of the AVX2 pair are the scalar loop's acc[k] and acc[k + 8] */
        cr__expv a0 = CR__EV_SET1(0.0f), a1 = a0, vm = CR__EV_SET1(mx);
        for (; j + 16 <= n; j += 16) {
            cr__expv e0 = cr__expf_v(CR__EV_SUB(CR__EV_LOAD(x + j), vm));
            CR__EV_STORE(y + j, e0);
            a0 = CR__EV_ADD(a0, e0);
            if (CR__EXPV == 8) {
                cr__expv e1 = cr__expf_v(CR__EV_SUB(CR__EV_LOAD(x + j + 8), vm));
                CR__EV_STORE(y + j + 8, e1);
                a1 = CR__EV_ADD(a1, e1);
            }
        }
        CR__EV_STORE(acc, a0);
        if (CR__EXPV == 8) CR__EV_STORE(acc + 8, a1);
    }
#endif
    for (; j + 16 <= n; j += 16)
        for (k = 0; k < 16; k++) {
            float e = cr__expf(x[j + k] - mx);
            y[j + k] = e;
            acc[k] += e;
        }
    for (; j < n; j++) {
        y[j] = cr__expf(x[j] - mx);
        acc[0] += y[j];
    }
    for (k = 0; k < 16; k++) s += acc[k];
    return s;
}

CR_API double cr_bpr_loss(float *du, float *dp, float *dn, const float *u, const float *p,
                          const float *n, int B, int d, float weight) {
    double loss = 0;
    int b;
    /* loss_b = softplus(-(s_p - s_n)); dloss/dx = -sigmoid(-x) with x = s_p - s_n */
    for (b = 0; b < B; b++) {
        const float *ub = u + (int64_t)b * d, *pb = p + (int64_t)b * d, *nb = n + (int64_t)b * d;
        float x = cr_vdot(ub, pb, d) - cr_vdot(ub, nb, d), g;
        int j;
        loss += x > 0 ? log1p(exp(-(double)x)) : -(double)x + log1p(exp((double)x));
        g = -weight / (float)B / (1.0f + (float)exp((double)x));
        if (!du) continue;
        for (j = 0; j < d; j++) {
            du[(int64_t)b * d + j] += g * (pb[j] - nb[j]);
            dp[(int64_t)b * d + j] += g * ub[j];
            dn[(int64_t)b * d + j] -= g * ub[j];
        }
    }
    return loss * weight / (B > 0 ? B : 1);
}

/* Query rows per block of logits: all n up to 2^24 logits (64 MB, every in-batch use), so
   those keep one GEMM each way; beyond, blocks of about 4M logits (NCL's queries against all
   users or all items). */
static int cr__infonce_rows(int n, int m) {
    int64_t r = (int64_t)n * m <= ((int64_t)1 << 24) ? n : ((int64_t)4 << 20) / (m > 0 ? m : 1);
    return (int)CR__MAX(1, CR__MIN((int64_t)n, r));
}

/* The logit block's row stride: m rounded up to 16 floats, so that every row starts on a
   64-byte line. With m = 40,981 (Gowalla's items) the GEMM writing the block ran at 47 GFLOP/s
   on unaligned rows and at 84 on aligned ones (one thread, AVX-512): each unaligned vector
   store splits over two lines. */
static int64_t cr__infonce_ld(int m) { return ((int64_t)m + 15) & ~(int64_t)15; }

/* ---- the streamed InfoNCE ----
   The plain form (no robust options) in the style of flash attention's forward pass: the
   logits of a block of R query rows are computed a tile of C keys at a time, each tile
   exponentiated while it is still in L2 against its own row maxima, and the rows' log-sum-exp
   combined from the tiles' maxima and sums in tile order. When a bound of every logit is
   known and small (cosines over tau; the norms' product), the tiles exponentiate against it
   instead, so a row's softmax factor is one number and no pass rescales the block. The
   backward pass reads the block's exponentials back once (not recomputed: on this CPU a
   64-wide tile costs more to recompute than to read from the last-level cache), scales them
   into probabilities (or, with a bound, scales the packed Q and dQ's rows), and runs the two
   gradient products tile by tile from panels packed once per call, so the key table is never
   repacked per block and no product runs over unaligned rows. Every output element sums in an
   order fixed by the shape (dK over the row blocks, dQ over the tiles, each tile product in the
   micro-kernel's order), so the result does not depend on the thread count. The memory beyond
   the inputs is the packed Q and K (O((n + m) d)) and one block of R x m exponentials. */
#define CR__NCE_C 256                 /* keys per tile: a multiple of every NR and of 16 */
#define CR__NCE_R (16 * CR__SGEMM_MR) /* query rows per block, at most: dK's k, one k-slice */
#define CR__NCE_S ((int64_t)1 << 23)  /* floats of a block's exponentials, at most (32 MB) */
#define CR__PAD(x, q) (((int64_t)(x) + (q) - 1) / (q) * (q))

/* Query rows per block, from the shape only: up to CR__NCE_R, fewer when the keys are so many
   that the block would pass CR__NCE_S floats, never fewer than one micro-kernel panel. */
static int cr__nce_rows(int n, int m) {
    int64_t byS = CR__MAX((int64_t)CR__SGEMM_MR, CR__NCE_S / cr__infonce_ld(m) / CR__SGEMM_MR * CR__SGEMM_MR);
    return (int)CR__MIN(CR__MIN(CR__PAD(n, CR__SGEMM_MR), (int64_t)CR__NCE_R), byS);
}

typedef struct cr__nce {
    const float *Qn, *Kn;
    float *dQn, *dKn;
    const int32_t *pos, *self;
    const int64_t *mask_ptr; /* row i also leaves out mask_col[mask_ptr[i] ..) (RCL's false */
    const int32_t *mask_col; /*   negatives; never its positive), or NULL */
    int n, m, d, nt, R;      /* rows, keys, width, tiles, rows per block */
    int64_t ld, dp;          /* the block's row stride; d rounded up to NR */
    float inv_tau, wn;       /* 1 / tau, weight / n */
    int acc_k;               /* dK adds to what dKn holds (the next-item softmax's item table) */
    int fixed;               /* every logit is at most cst: the tiles exponentiate against it, */
    float cst;               /*   not against their own maxima */
    float *kt, *kn, *qa, *qb; /* K packed for S = Q K^T and for dQ = P K; Q for S and for dK = P^T Q */
    float *S, *tmx, *tsum, *M, *L, *spos;
} cr__nce;

/* Floats the streamed form needs beyond the normalised inputs and their gradients: an upper
   bound that grows with n, m and d (a workspace serves every smaller call), each part padded
   to a 64-byte line. The block's rows R <= min(pad(n), CR__NCE_R) and R ld <= max(CR__NCE_S,
   MR ld). */
static int64_t cr__nce_floats(int n, int m, int d) {
    int64_t np = CR__PAD(n, CR__SGEMM_MR), R = CR__MIN(np, (int64_t)CR__NCE_R), nt = (m + CR__NCE_C - 1) / CR__NCE_C;
    int64_t dp = CR__PAD(d, CR__SGEMM_NR), ld = cr__infonce_ld(m);
    return CR__PAD(CR__PAD(m, CR__SGEMM_NR) * d, 16) + CR__PAD(CR__PAD(m, CR__NCE_C) * dp, 16) + CR__PAD(np * d, 16) +
           CR__PAD(R * dp, 16) + CR__PAD(CR__MIN(R * ld, CR__MAX(CR__NCE_S, (int64_t)CR__SGEMM_MR * ld)), 16) +
           CR__PAD(2 * R * nt + 3 * R, 16);
}

/* The workspace after the inputs and their gradients: what either form needs. The block form's
   logit block is not monotone in n (a smaller call can keep all its rows in one block of up to
   2^24 logits while a larger one is split into smaller blocks), so it holds the largest block
   of any call with n' <= n queries and m' <= m keys: min(n m, 2^24), or one row, plus each
   row's padding to its stride (at most 15 floats per row); the streamed form's bound grows
   with n and m already. */
static int64_t cr__infonce_region(int n, int m, int d) {
    int64_t block = CR__MAX(CR__MIN((int64_t)n * m, (int64_t)1 << 24), (int64_t)m) + 15 * (int64_t)CR__MAX(n, 1);
    return CR__MAX(block, cr__nce_floats(n, m, d));
}

/* plus 16 floats to align the region to a line, 64 spare */
CR_API int64_t cr_infonce_workspace(int n, int m, int d) {
    return (int64_t)2 * n * d + (int64_t)2 * m * d + n + m + cr__infonce_region(n, m, d) + 64 + 16;
}

/* Carves the streamed form's buffers out of w (64-byte aligned), packs K both ways and Q for
   the logits. */
static void cr__nce_setup(cr__nce *z, float *w) {
    int64_t R = z->R = cr__nce_rows(z->n, z->m), o = 0, q;
    int64_t nkt = CR__PAD(z->m, CR__SGEMM_NR) / CR__SGEMM_NR, nqa = CR__PAD(z->n, CR__SGEMM_MR) / CR__SGEMM_MR;
    int t;
    z->nt = (z->m + CR__NCE_C - 1) / CR__NCE_C;
    z->dp = CR__PAD(z->d, CR__SGEMM_NR);
    z->ld = cr__infonce_ld(z->m);
    z->kt = w + o, o += CR__PAD(nkt * CR__SGEMM_NR * z->d, 16);
    z->kn = w + o, o += CR__PAD(CR__PAD(z->m, CR__NCE_C) * z->dp, 16);
    z->qa = w + o, o += CR__PAD(nqa * CR__SGEMM_MR * z->d, 16);
    z->qb = w + o, o += CR__PAD(R * z->dp, 16);
    z->S = w + o, o += CR__PAD(R * z->ld, 16);
    z->tmx = w + o, z->tsum = z->tmx + R * z->nt, z->M = z->tsum + R * z->nt, z->L = z->M + R, z->spos = z->L + R;
    CR__OMP(parallel for schedule(static))
    for (q = 0; q < nkt; q++) /* K^T as NR-key panels of d rows */
        cr__sgemm_pack_b(1, z->Kn, (size_t)z->d, 0, z->d, 0, z->m, (int)q, (int)q + 1, z->kt);
    CR__OMP(parallel for schedule(static))
    for (t = 0; t < z->nt; t++) { /* tile t's keys as the k rows of NR-column panels of d */
        int t0 = t * CR__NCE_C, ct = CR__MIN(CR__NCE_C, z->m - t0);
        cr__sgemm_pack_b(0, z->Kn, (size_t)z->d, t0, ct, 0, z->d, 0, (int)(z->dp / CR__SGEMM_NR),
                         z->kn + (int64_t)t0 * z->dp);
    }
    CR__OMP(parallel for schedule(static))
    for (q = 0; q < nqa; q++) /* Q as MR-row panels of d */
        cr__sgemm_pack_a(0, z->Qn, (size_t)z->d, 0, z->n, 0, z->d, (int)q, (int)q + 1, (size_t)CR__SGEMM_MR * z->d,
                         z->qa);
}

/* One MR x NR tile of C from an A read in place (element (i, p) at a[i * rs + p * cs]), as
   cr__sgemm_tile: a panel of fewer than MR rows is copied first, zero-padded, so nothing past
   its mr rows is read. */
static void cr__nce_mm(int kc, const float *a, size_t rs, size_t cs, int mr, const float *b, float *c, size_t ldc,
                       int nr, float alpha, float beta) {
    float pa[CR__SGEMM_MR * CR__NCE_C]; /* kc <= max(CR__NCE_C, CR__NCE_R) = CR__NCE_C */
    int i, p;
    if (mr == CR__SGEMM_MR && nr == CR__SGEMM_NR) {
        cr__sgemm_kernel_s(kc, a, rs, cs, b, c, ldc, alpha, beta);
        return;
    }
    for (p = 0; p < kc; p++)
        for (i = 0; i < CR__SGEMM_MR; i++) pa[p * CR__SGEMM_MR + i] = i < mr ? a[i * rs + p * cs] : 0.0f;
    cr__sgemm_tile(kc, pa, b, c, ldc, mr, nr, alpha, beta);
}

/* Tile t of the block's logits, exponentiated: S[i][t0 + j] = exp(s_ij - max_j s_ij), with the
   left-out entry at 0; the tile's maximum and sum per row into tmx and tsum, the positive's
   logit into spos. */
static void cr__nce_tile(cr__nce *z, int r0, int nr, int t) {
    int t0 = t * CR__NCE_C, ct = CR__MIN(CR__NCE_C, z->m - t0), ip, jp, i;
    for (jp = 0; jp * CR__SGEMM_NR < ct; jp++) /* a key panel stays in L1 across the row panels */
        for (ip = 0; ip * CR__SGEMM_MR < nr; ip++)
            cr__sgemm_tile(z->d, z->qa + (int64_t)(r0 / CR__SGEMM_MR + ip) * CR__SGEMM_MR * z->d,
                           z->kt + (int64_t)(t0 + jp * CR__SGEMM_NR) * z->d,
                           z->S + ip * CR__SGEMM_MR * z->ld + t0 + jp * CR__SGEMM_NR, (size_t)z->ld,
                           CR__MIN(CR__SGEMM_MR, nr - ip * CR__SGEMM_MR), CR__MIN(CR__SGEMM_NR, ct - jp * CR__SGEMM_NR),
                           z->inv_tau, 0.0f);
    for (i = 0; i < nr; i++) { /* a self or listed entry that is the positive is not left out */
        float *s = z->S + i * z->ld + t0, mx, sum;
        int gi = r0 + i, pg = z->pos ? z->pos[gi] : gi, sg = z->self ? z->self[gi] : -1, pi = pg - t0, out = 0;
        int si = (sg == pg ? -1 : sg) - t0;
        const int32_t *mc = z->mask_ptr ? z->mask_col + z->mask_ptr[gi] : NULL;
        int64_t nm = z->mask_ptr ? z->mask_ptr[gi + 1] - z->mask_ptr[gi] : 0, k;
        if (pi >= 0 && pi < ct) z->spos[i] = s[pi];
        if (si >= 0 && si < ct) out++, s[si] = -INFINITY;
        for (k = 0; k < nm; k++) /* left out in this tile: counted once each (compared before subtracting t0) */
            if (mc[k] >= t0 && mc[k] < t0 + ct && mc[k] != pg && s[mc[k] - t0] != -INFINITY)
                out++, s[mc[k] - t0] = -INFINITY;
        mx = !z->fixed ? cr__vmax(s, ct) : out == ct ? -INFINITY : z->cst;
        if (mx == -INFINITY) { /* left-out entries alone, or NaN logits (cr__vmax skips them) */
            memset(s, 0, (size_t)ct * sizeof(float));
            sum = out == ct ? 0.0f : NAN; /* a NaN reaches the loss: the batch check stops */
        } else {
            sum = cr__vexp_sum(s, s, ct, mx);
            if (si >= 0 && si < ct) { sum -= s[si]; s[si] = 0; } /* exp(-inf) is not exactly 0 in cr__expf */
            for (k = 0; k < nm; k++)
                if (mc[k] >= t0 && mc[k] < t0 + ct && mc[k] != pg) { sum -= s[mc[k] - t0]; s[mc[k] - t0] = 0; }
        }
        z->tmx[(int64_t)i * z->nt + t] = mx;
        z->tsum[(int64_t)i * z->nt + t] = sum;
    }
}

/* dK for tile t of the block: its exponentials scaled to dS = wn (softmax - onehot(pos)),
   then dK[tile] (+)= dS^T Q[block] / tau, one MR-key panel of dS^T at a time. With a fixed
   stabiliser the rows' factors are on the packed Q already and the positives come after
   (cr__nce_fix_dk): the block is only read. */
static void cr__nce_dk(cr__nce *z, int r0, int nr, int t) {
    int t0 = t * CR__NCE_C, ct = CR__MIN(CR__NCE_C, z->m - t0), ip, jp, i;
    for (i = 0; i < nr && !z->fixed; i++) {
        float *s = z->S + i * z->ld + t0, f = z->tmx[(int64_t)i * z->nt + t] == -INFINITY ? 0.0f
                                             : cr__expf(z->tmx[(int64_t)i * z->nt + t] - z->M[i]) * z->wn / z->L[i];
        int pi = (z->pos ? z->pos[r0 + i] : r0 + i) - t0, j;
        for (j = 0; j < ct; j++) s[j] *= f;
        if (pi >= 0 && pi < ct) s[pi] -= z->wn;
    }
    for (ip = 0; ip * CR__SGEMM_MR < ct; ip++) /* dS^T's panel: keys ip*MR.. of every row, read in place */
        for (jp = 0; jp * CR__SGEMM_NR < z->d; jp++)
            cr__nce_mm(nr, z->S + t0 + ip * CR__SGEMM_MR, 1, (size_t)z->ld,
                       CR__MIN(CR__SGEMM_MR, ct - ip * CR__SGEMM_MR), z->qb + (int64_t)jp * CR__SGEMM_NR * nr,
                       z->dKn + (int64_t)(t0 + ip * CR__SGEMM_MR) * z->d + jp * CR__SGEMM_NR, (size_t)z->d,
                       CR__MIN(CR__SGEMM_NR, z->d - jp * CR__SGEMM_NR), z->inv_tau, r0 || z->acc_k ? 1.0f : 0.0f);
}

/* The row factor of the softmax's gradient, wn / L_i, with a fixed stabiliser (0 for a row
   whose every key was left out). */
static float cr__nce_f(const cr__nce *z, int i) { return z->L[i] > 0 ? z->wn / z->L[i] : 0.0f; }

/* With a fixed stabiliser, dS = f_i E - wn onehot(pos) splits: dK = E^T (f Q) / tau from the
   tiles, with f put on the packed Q first (scale) and each positive key's -wn Q_i / tau added
   after them (!scale), rows in order. */
static void cr__nce_fix_dk(cr__nce *z, int r0, int nr, int scale) {
    int64_t jp, p, j, d = z->d;
    float *b = z->qb;
    for (jp = 0; scale && jp < z->dp / CR__SGEMM_NR; jp++, b += (int64_t)CR__SGEMM_NR * nr)
        for (p = 0; p < nr; p++)
            for (j = 0; j < CR__SGEMM_NR; j++) b[p * CR__SGEMM_NR + j] *= cr__nce_f(z, (int)p);
    for (p = 0; p < nr && !scale; p++) {
        const float *q = z->Qn + (r0 + p) * d;
        float *dk = z->dKn + (int64_t)(z->pos ? z->pos[r0 + p] : r0 + p) * d, c = z->wn * z->inv_tau;
        for (j = 0; j < d; j++) dk[j] -= c * q[j];
    }
}

/* dQ for the block's MR-row panels [p0, p1): dQ[rows] = sum over the tiles, in order, of
   dS K / tau. Tiles outside, panels inside: a tile of packed K stays in cache for all of them
   (the other way round streamed all of K from memory once per panel). With a fixed
   stabiliser the tiles hold E: each row is scaled by its factor after them and its positive
   key's -wn K_pos / tau added. */
static void cr__nce_dq(cr__nce *z, int r0, int nr, int p0, int p1) {
    int t, jp, ip, i, j;
    for (t = 0; t < z->nt; t++) {
        int t0 = t * CR__NCE_C, ct = CR__MIN(CR__NCE_C, z->m - t0);
        for (ip = p0; ip < p1; ip++) /* dS's panel: rows ip*MR.., the tile's keys, read in place */
            for (jp = 0; jp * CR__SGEMM_NR < z->d; jp++)
                cr__nce_mm(ct, z->S + ip * CR__SGEMM_MR * z->ld + t0, (size_t)z->ld, 1,
                           CR__MIN(CR__SGEMM_MR, nr - ip * CR__SGEMM_MR),
                           z->kn + (int64_t)t0 * z->dp + (int64_t)jp * CR__SGEMM_NR * ct,
                           z->dQn + (int64_t)(r0 + ip * CR__SGEMM_MR) * z->d + jp * CR__SGEMM_NR, (size_t)z->d,
                           CR__MIN(CR__SGEMM_NR, z->d - jp * CR__SGEMM_NR), z->inv_tau, t ? 1.0f : 0.0f);
    }
    for (i = p0 * CR__SGEMM_MR; z->fixed && i < CR__MIN(nr, p1 * CR__SGEMM_MR); i++) {
        float *dq = z->dQn + (int64_t)(r0 + i) * z->d, f = cr__nce_f(z, i), c = z->wn * z->inv_tau;
        const float *k = z->Kn + (int64_t)(z->pos ? z->pos[r0 + i] : r0 + i) * z->d;
        for (j = 0; j < z->d; j++) dq[j] = f * dq[j] - c * k[j];
    }
}

/* The loss (times n / weight: the caller scales) of the normalised rows, and with grad their
   gradients into dQn and dKn (overwritten). */
static double cr__nce_run(cr__nce *z, int grad) {
    double loss = 0;
    int r0;
    for (r0 = 0; r0 < z->n; r0 += z->R) {
        int nr = CR__MIN(z->R, z->n - r0), t, i, npan = (nr + CR__SGEMM_MR - 1) / CR__SGEMM_MR;
        CR__OMP(parallel for schedule(static))
        for (t = 0; t < z->nt; t++) cr__nce_tile(z, r0, nr, t);
        for (i = 0; i < nr; i++) { /* the rows' log-sum-exp from their tiles, in tile order */
            const float *mx = z->tmx + (int64_t)i * z->nt, *sm = z->tsum + (int64_t)i * z->nt;
            float M = mx[0], L = 0;
            for (t = 1; t < z->nt; t++) M = mx[t] > M ? mx[t] : M;
            for (t = 0; t < z->nt; t++) /* 0, or NaN */
                L += mx[t] == -INFINITY || z->fixed ? sm[t] : sm[t] * cr__expf(mx[t] - M);
            z->M[i] = M;
            z->L[i] = L;
            loss += (double)M + log((double)L) - (double)z->spos[i];
        }
        if (!grad) continue;
        cr__sgemm_pack_b(0, z->Qn, (size_t)z->d, r0, nr, 0, z->d, 0, (int)(z->dp / CR__SGEMM_NR), z->qb);
        if (z->fixed) cr__nce_fix_dk(z, r0, nr, 1);
        CR__OMP(parallel for schedule(static))
        for (t = 0; t < z->nt; t++) cr__nce_dk(z, r0, nr, t);
        if (z->fixed) cr__nce_fix_dk(z, r0, nr, 0);
        /* each thread its share of the row panels: every row still sums its tiles in order */
        CR__OMP(parallel)
        {
            int tid = 0, nth = 1;
#ifdef _OPENMP
            tid = omp_get_thread_num();
            nth = omp_get_num_threads();
#endif
            cr__nce_dq(z, r0, nr, (int)((int64_t)npan * tid / nth), (int)((int64_t)npan * (tid + 1) / nth));
        }
    }
    return loss;
}

/* The largest Euclidean norm of the n rows of X (n, d); NaN if a row holds one. */
static float cr__max_norm(const float *X, int n, int d) {
    float mx = 0;
    int i;
    for (i = 0; i < n; i++) {
        float v = sqrtf(cr_vdot(X + (int64_t)i * d, X + (int64_t)i * d, d));
        if (!(v <= mx) && mx == mx) mx = v; /* a NaN stays */
    }
    return mx;
}

/* The full softmax cross-entropy of the rows of X (n, d) over the rows of C (m, d) as classes,
   target[i] in [0, m): weight * mean_i(logsumexp_j x_i.c_j - x_i.c_target), the sequence
   models' next-item loss, streamed like InfoNCE (no normalisation, tau 1). With dX, dX is
   overwritten with its gradient and dC's added to. ws: cr__nce_floats(n, m, d) + 16 floats. */
static double cr__softmax_streamed(float *dX, float *dC, const float *X, const float *C, int n, int m, int d,
                                   const int32_t *target, float weight, float *ws) {
    cr__nce z;
    double loss;
    if (n <= 0) return 0;
    memset(&z, 0, sizeof z);
    z.Qn = X, z.Kn = C, z.dQn = dX, z.dKn = dC, z.pos = target, z.acc_k = 1;
    z.n = n, z.m = m, z.d = d, z.inv_tau = 1.0f, z.wn = weight / (float)n;
    z.cst = cr__max_norm(X, n, d) * cr__max_norm(C, m, d) * 1.0001f; /* Cauchy-Schwarz: no logit is above it */
    z.fixed = z.cst <= 43.0f; /* then exp(-2 cst), the smallest term, is a normal float */
    cr__nce_setup(&z, ws + (int64_t)((64 - (uintptr_t)ws % 64) % 64) / 4);
    loss = cr__nce_run(&z, dX != NULL);
    cr__prof_count((dX ? 3.0 : 1.0) * 2.0 * n * m * d, (dX ? 8.0 : 4.0) * ((double)n * d + (double)m * d));
    return loss * weight / n;
}

CR_API double cr_infonce_loss(float *dQ, float *dK, const float *Q, const float *K, int n, int m,
                              int d, const int32_t *pos, const int32_t *self, float tau,
                              float weight, float *ws) {
    return cr_infonce_loss_ex(dQ, dK, Q, K, n, m, d, pos, self, tau, weight, NULL, ws);
}

/* ADNCE's weighted exponentials, in place: x[j] = exp(x[j] - mx) g_j with the weight
   g_j = exp(-k2 (tau x[j] - mu)^2) (two exponentials: one of the sum would lose exp(x - mx) where
   the weight underflows); returns their sum and puts the weights' sum in *gsum. 16 lanes, the
   tail into lane j % 16, so the order does not depend on the SIMD width. */
static float cr__vexp_gauss(float *x, int64_t n, float mx, float tau, float mu, float k2, float *gsum) {
    float acc[16], gacc[16], s = 0, g = 0;
    int64_t j = 0;
    int k;
    for (k = 0; k < 16; k++) acc[k] = gacc[k] = 0;
#ifdef CR__EXPV
    {
        cr__expv a[2], b[2], vm = CR__EV_SET1(mx), vt = CR__EV_SET1(tau), vmu = CR__EV_SET1(mu), vk = CR__EV_SET1(-k2);
        a[0] = a[1] = b[0] = b[1] = CR__EV_SET1(0.0f);
        for (; j + 16 <= n; j += 16)
            for (k = 0; k < 16 / CR__EXPV; k++) {
                cr__expv v = CR__EV_LOAD(x + j + k * CR__EXPV), dd = CR__EV_SUB(CR__EV_MUL(v, vt), vmu);
                cr__expv g = cr__expf_v(CR__EV_MUL(CR__EV_MUL(dd, dd), vk));
                cr__expv e = CR__EV_MUL(cr__expf_v(CR__EV_SUB(v, vm)), g);
                CR__EV_STORE(x + j + k * CR__EXPV, e);
                a[k] = CR__EV_ADD(a[k], e);
                b[k] = CR__EV_ADD(b[k], g);
            }
        CR__EV_STORE(acc, a[0]);
        CR__EV_STORE(gacc, b[0]);
        if (CR__EXPV == 8) { CR__EV_STORE(acc + 8, a[1]); CR__EV_STORE(gacc + 8, b[1]); }
    }
#endif
    for (; j < n; j++) {
        float dd = x[j] * tau - mu, g = cr__expf(dd * dd * -k2), e = cr__expf(x[j] - mx) * g;
        k = (int)(j % 16);
        x[j] = e;
        acc[k] += e;
        gacc[k] += g;
    }
    for (k = 0; k < 16; k++) s += acc[k], g += gacc[k];
    *gsum = g;
    return s;
}

/* One row of the robust form (cr_infonce_loss_ex): s holds the row's logits S_ij on entry and
   its gradient on exit, unscaled (the caller's row weight multiplies it); returns l_i and puts
   c_i in *conf. The negatives' exponentials are one vector pass (cr__vexp_sum, or
   cr__vexp_gauss with ADNCE's weights); the left-out entries and the positive are then set to
   exactly 0 and taken out of the sum. */
static double cr__infonce_row_ex(float *s, int m, int pi, int si, const int32_t *mc, int64_t nm, float tau,
                                 const cr_infonce_opts *o, float *conf) {
    float spos = s[pi], mx, P, G, a = 1.0f, b = 0.0f, f = 1.0f, gsum = 0, D;
    int64_t k;
    int j, N = 0;
    if (si >= 0 && si != pi) s[si] = -INFINITY;
    for (k = 0; k < nm; k++)
        if (mc[k] >= 0 && mc[k] < m && mc[k] != pi) s[mc[k]] = -INFINITY;
    mx = cr__vmax(s, m);
    s[pi] = -INFINITY; /* the negatives alone from here */
    for (j = 0; j < m; j++) N += s[j] != -INFINITY;
    P = cr__expf(spos - mx);
    G = o->estimator == CR_NCE_ADNCE
            ? cr__vexp_gauss(s, m, mx, tau, o->mu, 1.0f / (2.0f * o->sigma * o->sigma), &gsum)
            : cr__vexp_sum(s, s, m, mx);
    G -= s[pi], s[pi] = 0; /* exp(-inf) is not exactly 0 in cr__expf */
    if (si >= 0 && si != pi) G -= s[si], s[si] = 0;
    for (k = 0; k < nm; k++)
        if (mc[k] >= 0 && mc[k] < m && mc[k] != pi) G -= s[mc[k]], s[mc[k]] = 0;
    if (N == 0) G = 0;
    if (o->estimator == CR_NCE_ADNCE && N > 0) { /* weights of mean 1 over the row; the left-out entries' */
        gsum -= (float)(m - N) * cr__expf(-INFINITY); /* weights, exp(-inf) clamped, out of their sum */
        f = (float)N / gsum, G *= f;
    }
    if (o->estimator == CR_NCE_DCL && N > 0) {
        float floor_ = (float)N * cr__expf(-1.0f / tau - mx);
        a = 1.0f / (1.0f - o->tau_plus);
        b = -o->tau_plus * (float)N * a;
        G = (G - o->tau_plus * (float)N * P) * a;
        if (G < floor_) G = floor_, a = 0, b = 0; /* clamped: a constant */
    }
    D = P + G;
    f *= a / D;
    for (j = 0; j < m; j++) s[j] *= f;
    s[pi] = -1.0f + (1.0f + b) * P / D;
    *conf = o->gamma > 0 ? (float)pow((double)(P / D), (double)o->gamma) : 1.0f;
    return log((double)D) - (double)(spos - mx);
}

CR_API double cr_infonce_loss_ex(float *dQ, float *dK, const float *Q, const float *K, int n, int m,
                                 int d, const int32_t *pos, const int32_t *self, float tau,
                                 float weight, const cr_infonce_opts *o, float *ws) {
    int rc = cr__infonce_rows(n, m), r0;
    float *Qn = ws, *Kn = Qn + (int64_t)n * d, *qn = Kn + (int64_t)m * d, *kn = qn + n;
    float *dQn = kn + m, *dKn = dQn + (int64_t)n * d;
    int64_t ld = cr__infonce_ld(m), so = (int64_t)(dKn + (int64_t)m * d - ws);
    float *S = ws + so +
               (int64_t)((64 - (uintptr_t)(ws + so) % 64) % 64) / 4; /* a 64-byte line: SIMD loads the panels aligned */
    float inv_tau = 1.0f / tau;
    double loss = 0, csum = 0;
    if (n <= 0 || m <= 0) return 0;
    cr_l2norm_rows_forward(Qn, qn, Q, n, d);
    cr_l2norm_rows_forward(Kn, kn, K, m, d);
    if (!o || (o->mask_ptr && o->estimator == CR_NCE_PLAIN && !(o->gamma > 0))) { /* the streamed form */
        cr__nce z;
        memset(&z, 0, sizeof z);
        z.Qn = Qn, z.Kn = Kn, z.dQn = dQn, z.dKn = dKn, z.pos = pos, z.self = self;
        z.mask_ptr = o ? o->mask_ptr : NULL, z.mask_col = o ? o->mask_col : NULL;
        z.n = n, z.m = m, z.d = d, z.inv_tau = inv_tau, z.wn = weight / (float)n;
        z.fixed = inv_tau <= 43.0f, z.cst = inv_tau; /* cosines / tau; exp(-2 / tau) is then a normal float */
        cr__nce_setup(&z, S);
        loss = cr__nce_run(&z, dQ || dK);
        cr__prof_count((dQ || dK ? 3.0 : 1.0) * 2.0 * n * m * d,
                       (dQ || dK ? 8.0 : 4.0) * ((double)n * d + (double)m * d));
        if (dQ) cr_l2norm_rows_backward(dQ, dQn, Qn, qn, n, d);
        if (dK) cr_l2norm_rows_backward(dK, dKn, Kn, kn, m, d);
        return loss * weight / n;
    }
    if (o && !(o->gamma > 0)) csum = n;
    if (o && o->gamma > 0 && rc < n) /* the rows' confidences first: every row's weight needs their sum */
        for (r0 = 0; r0 < n; r0 += rc) {
            int nr = CR__MIN(rc, n - r0), i;
            cr_sgemm(0, 1, nr, m, d, inv_tau, Qn + (int64_t)r0 * d, d, Kn, d, 0.0f, S, (int)ld);
            CR__OMP(parallel for schedule(static) reduction(+ : csum) if ((int64_t)nr * m > 65536))
            for (i = 0; i < nr; i++) {
                int gi = r0 + i;
                float c;
                cr__infonce_row_ex(S + (int64_t)i * ld, m, pos ? pos[gi] : gi, self ? self[gi] : -1,
                                   o->mask_ptr ? o->mask_col + o->mask_ptr[gi] : NULL,
                                   o->mask_ptr ? o->mask_ptr[gi + 1] - o->mask_ptr[gi] : 0, tau, o, &c);
                csum += c;
            }
        }
    for (r0 = 0; r0 < n; r0 += rc) {
        int nr = CR__MIN(rc, n - r0), i;
        float alpha = inv_tau;
        /* S = Qn Kn^T / tau for the block's rows */
        cr_sgemm(0, 1, nr, m, d, inv_tau, Qn + (int64_t)r0 * d, d, Kn, d, 0.0f, S, (int)ld);
        if (o) { /* the robust rows: gradients scaled by c_i here and by weight / sum c below */
            double bsum = 0;
            CR__OMP(parallel for schedule(static) reduction(+ : loss, bsum) if ((int64_t)nr * m > 65536))
            for (i = 0; i < nr; i++) {
                int gi = r0 + i, j;
                float c, *s = S + (int64_t)i * ld;
                double l = cr__infonce_row_ex(s, m, pos ? pos[gi] : gi, self ? self[gi] : -1,
                                              o->mask_ptr ? o->mask_col + o->mask_ptr[gi] : NULL,
                                              o->mask_ptr ? o->mask_ptr[gi + 1] - o->mask_ptr[gi] : 0, tau, o, &c);
                loss += c * l;
                bsum += c;
                for (j = 0; j < m; j++) s[j] *= c;
            }
            if (o->gamma > 0 && rc >= n) csum = bsum; /* one block: its sum is the sum */
            alpha = inv_tau * weight / (float)csum;
        } else
        /* row losses and dS = weight/n * (softmax - onehot(pos)); self entries are left out */
        CR__OMP(parallel for schedule(static) reduction(+ : loss) if ((int64_t)nr * m > 65536))
        for (i = 0; i < nr; i++) {
            float *s = S + (int64_t)i * ld, mx = -INFINITY, inv;
            int gi = r0 + i, pi = pos ? pos[gi] : gi, si = self ? self[gi] : -1, j;
            float spos = s[pi], sum = 0, sum2;
            if (si >= 0) s[si] = -INFINITY;
            mx = cr__vmax(s, m);
            sum = cr__vexp_sum(s, s, m, mx);
            if (si >= 0) { sum -= s[si]; s[si] = 0; } /* exp(-inf) is not exactly 0 in cr__expf */
            sum2 = sum;
            loss += (double)mx + log((double)sum2) - (double)spos;
            inv = weight / (float)n / sum2;
            for (j = 0; j < m; j++) s[j] *= inv;
            s[pi] -= weight / (float)n;
        }
        if (dQ || dK) { /* dQn = dS Kn / tau, dKn (summed over the blocks) = dS^T Qn / tau */
            cr_sgemm(0, 0, nr, d, m, alpha, S, (int)ld, Kn, d, 0.0f, dQn + (int64_t)r0 * d, d);
            cr_sgemm(1, 0, m, d, nr, alpha, S, (int)ld, Qn + (int64_t)r0 * d, d, r0 ? 1.0f : 0.0f, dKn, d);
        }
    }
    /* back through the normalisations */
    if (dQ) cr_l2norm_rows_backward(dQ, dQn, Qn, qn, n, d);
    if (dK) cr_l2norm_rows_backward(dK, dKn, Kn, kn, m, d);
    return o ? loss * weight / csum : loss * weight / n;
}

/* Sum of squares of x[0, n) in 8 double lanes (summed in lane order at the end), and dx += g x. */
static double cr__l2_span(float *dx, const float *x, int64_t n, float g) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}, s = 0;
    int64_t i = 0;
    int l;
    for (; i + 8 <= n; i += 8)
        for (l = 0; l < 8; l++) acc[l] += (double)x[i + l] * x[i + l];
    for (; i < n; i++) s += (double)x[i] * x[i];
    if (dx)
        for (i = 0; i < n; i++) dx[i] += g * x[i];
    for (l = 0; l < 8; l++) s += acc[l];
    return s;
}

/* A whole parameter table (RecDCL's coupled weight decay: 17.6 M floats at d = 512 on Beauty)
   was one scalar chain of dependent double adds, on one thread: a sixth of RecDCL's batch. Long
   spans are cut into CR__L2_PARTS parts fixed by n (not by the thread count), each summed in
   lanes, the parts added in order: the same bits on any number of threads. Short spans (a row,
   the BPR models' per-row decay) keep the plain sequential sum. */
#define CR__L2_PARTS 64
CR_API double cr_l2_loss(float *dx, const float *x, int64_t n, float weight, float denom) {
    double s = 0, part[CR__L2_PARTS];
    int64_t i;
    int p;
    float g = weight / denom;
    if (n < ((int64_t)1 << 16)) {
        for (i = 0; i < n; i++) {
            s += (double)x[i] * x[i];
            if (dx) dx[i] += g * x[i];
        }
        return 0.5 * s * weight / denom;
    }
    CR__OMP(parallel for schedule(static))
    for (p = 0; p < CR__L2_PARTS; p++) {
        int64_t a = n * p / CR__L2_PARTS, b = n * (p + 1) / CR__L2_PARTS;
        part[p] = cr__l2_span(dx ? dx + a : NULL, x + a, b - a, g);
    }
    for (p = 0; p < CR__L2_PARTS; p++) s += part[p];
    return 0.5 * s * weight / denom;
}

CR_API double cr_l2_frobenius_loss(float *dx, const float *x, int64_t rows, int d, float weight) {
    double s = 0, nrm;
    int64_t i, n = rows * d;
    float g;
    for (i = 0; i < n; i++) s += (double)x[i] * x[i];
    nrm = sqrt(s);
    if (dx && nrm > 0) { /* d||X||/dX = X / ||X|| */
        g = (float)(weight / (double)rows / nrm);
        for (i = 0; i < n; i++) dx[i] += g * x[i];
    }
    return weight * nrm / (double)(rows > 0 ? rows : 1);
}

/* cr_softmax_xent_loss over rows ld floats apart (ld >= C) */
static double cr__softmax_xent_ld(float *dlogits, const float *logits, const int32_t *target, int B, int C, int64_t ld,
                                  float weight) {
    double loss = 0;
    int b, count = 0;
    for (b = 0; b < B; b++) count += target[b] >= 0;
    if (count == 0) {
        if (dlogits)
            for (b = 0; b < B; b++) memset(dlogits + (int64_t)b * ld, 0, (size_t)C * sizeof(float));
        return 0;
    }
    CR__OMP(parallel for schedule(static) reduction(+ : loss) if ((int64_t)B * C > 65536))
    for (b = 0; b < B; b++) {
        const float *x = logits + (int64_t)b * ld;
        float *g = dlogits ? dlogits + (int64_t)b * ld : NULL, mx = -INFINITY, sum = 0, inv, xt;
        int j, t = target[b];
        if (t < 0) {
            if (g) memset(g, 0, (size_t)C * sizeof(float));
            continue;
        }
        xt = x[t];
        mx = cr__vmax(x, C);
        if (g) {
            sum = cr__vexp_sum(g, x, C, mx);
            inv = weight / (float)count / sum;
            for (j = 0; j < C; j++) g[j] *= inv;
            g[t] -= weight / (float)count;
        } else {
            int64_t jj = 0;
            float acc[16];
            int k;
            for (k = 0; k < 16; k++) acc[k] = 0;
            for (; jj + 16 <= C; jj += 16)
                for (k = 0; k < 16; k++) acc[k] += cr__expf(x[jj + k] - mx);
            for (; jj < C; jj++) acc[0] += cr__expf(x[jj] - mx);
            for (k = 0; k < 16; k++) sum += acc[k];
        }
        loss += (double)mx + log((double)sum) - (double)xt;
    }
    return loss * weight / count;
}

CR_API double cr_softmax_xent_loss(float *dlogits, const float *logits, const int32_t *target,
                                   int B, int C, float weight) {
    return cr__softmax_xent_ld(dlogits, logits, target, B, C, C, weight);
}

/* ---- 7b. the projection head: a 2-layer MLP, shared by every model with proj_head ---- */

/* forward: out = relu(x W1^T + b1) W2^T + b2, x and out (n, d), W1 and W2 (d, d).
   a1 (n, d) keeps the pre-activation for the backward pass; h (n, d) is scratch. */
static void cr__mlp2_forward(float *out, float *a1, float *h, const float *x, const float *W1, const float *b1,
                             const float *W2, const float *b2, int n, int d) {
    int64_t i;
    cr_sgemm(0, 1, n, d, d, 1.0f, x, d, W1, d, 0.0f, a1, d);
    for (i = 0; i < (int64_t)n * d; i++) {
        a1[i] += b1[i % d];
        h[i] = a1[i] > 0 ? a1[i] : 0.0f;
    }
    cr_sgemm(0, 1, n, d, d, 1.0f, h, d, W2, d, 0.0f, out, d);
    for (i = 0; i < (int64_t)n * d; i++) out[i] += b2[i % d];
}

/* backward: dout -> dx (written), dW1, db1, dW2, db2 (accumulated). h (n, d) is scratch. */
static void cr__mlp2_backward(float *dx, float *dW1, float *db1, float *dW2, float *db2, const float *dout,
                              const float *a1, float *h, const float *x, const float *W1, const float *W2, int n,
                              int d) {
    int64_t i;
    /* forward: out = relu(a1) W2^T + b2 */
    for (i = 0; i < (int64_t)n * d; i++) {
        h[i] = a1[i] > 0 ? a1[i] : 0.0f; /* relu(a1), recomputed */
        db2[i % d] += dout[i];
    }
    cr_sgemm(1, 0, d, d, n, 1.0f, dout, d, h, d, 1.0f, dW2, d);
    cr_sgemm(0, 0, n, d, d, 1.0f, dout, d, W2, d, 0.0f, h, d); /* d relu(a1) */
    /* forward: a1 = x W1^T + b1 */
    for (i = 0; i < (int64_t)n * d; i++) {
        h[i] = a1[i] > 0 ? h[i] : 0.0f;
        db1[i % d] += h[i];
    }
    cr_sgemm(1, 0, d, d, n, 1.0f, h, d, x, d, 1.0f, dW1, d);
    cr_sgemm(0, 0, n, d, d, 1.0f, h, d, W1, d, 0.0f, dx, d);
}

/* ---- 7c. batch normalisation (RecDCL's projector and its Barlow Twins loss) ---- */

/* forward, training mode as PyTorch's BatchNorm1d: per column j of X (n rows, d columns), the
   batch mean and biased variance; xhat = (x - mean) * inv_std with inv_std = 1 / sqrt(var +
   eps); Y = gamma * xhat + beta, or Y = xhat without gamma/beta (the non-affine form). xhat
   (n, d; may be Y when non-affine), mean (d) and inv_std (d) are kept for the backward pass.
   Column sums run over rows in order: the same result for any thread count. */
CR_API void cr_batchnorm_forward(float *Y, float *xhat, float *mean, float *inv_std, const float *X, int n, int d,
                                 const float *gamma, const float *beta, float eps) {
    int64_t i;
    int j;
    CR_ASSERT(n >= 1 && d >= 1 && (gamma == NULL) == (beta == NULL));
    for (j = 0; j < d; j++) { mean[j] = 0; inv_std[j] = 0; }
    for (i = 0; i < n; i++) cr_vaxpy(mean, 1.0f, X + i * d, d);
    for (j = 0; j < d; j++) mean[j] /= (float)n;
    for (i = 0; i < n; i++)
        for (j = 0; j < d; j++) {
            float c = X[i * d + j] - mean[j];
            inv_std[j] += c * c; /* the variance, until the line after the loop */
        }
    for (j = 0; j < d; j++) inv_std[j] = 1.0f / sqrtf(inv_std[j] / (float)n + eps);
    for (i = 0; i < n; i++)
        for (j = 0; j < d; j++) {
            float h = (X[i * d + j] - mean[j]) * inv_std[j];
            xhat[i * d + j] = h;
            Y[i * d + j] = gamma ? gamma[j] * h + beta[j] : h;
        }
}

/* backward: dY -> dX (accumulated), dgamma and dbeta (accumulated; NULL when non-affine). With
   g = dY * gamma: dX = inv_std (g - mean(g) - xhat mean(g xhat)), the mean over the batch
   (the batch statistics are differentiated too). ws holds 2 d floats. */
CR_API void cr_batchnorm_backward(float *dX, float *dgamma, float *dbeta, const float *dY, const float *xhat,
                                  const float *inv_std, const float *gamma, int n, int d, float *ws) {
    float *sg = ws, *sgx = ws + d;
    int64_t i;
    int j;
    CR_ASSERT(n >= 1 && d >= 1 && (dgamma == NULL) == (dbeta == NULL));
    for (j = 0; j < d; j++) { sg[j] = 0; sgx[j] = 0; }
    for (i = 0; i < n; i++)
        for (j = 0; j < d; j++) {
            float dy = dY[i * d + j], g = gamma ? dy * gamma[j] : dy;
            sg[j] += g;
            sgx[j] += g * xhat[i * d + j];
            if (dgamma) { dgamma[j] += dy * xhat[i * d + j]; dbeta[j] += dy; }
        }
    for (j = 0; j < d; j++) { sg[j] /= (float)n; sgx[j] /= (float)n; }
    for (i = 0; i < n; i++)
        for (j = 0; j < d; j++) {
            float g = gamma ? dY[i * d + j] * gamma[j] : dY[i * d + j];
            dX[i * d + j] += inv_std[j] * (g - sg[j] - xhat[i * d + j] * sgx[j]);
        }
}

/* ---- 7d. feature-wise losses: Barlow Twins and polynomial uniformity (RecDCL's FCL) ---- */

CR_API double cr_barlow_twins_loss(float *dZa, float *dZb, const float *Za, const float *Zb, int B, int d, float off,
                                   float weight, float *ws) {
    float *C = ws; /* C, then overwritten by dL/dC */
    double diag = 0, rest = 0;
    int64_t m, q;
    cr_sgemm(1, 0, d, d, B, 1.0f / (float)B, Za, d, Zb, d, 0.0f, C, d);
    for (m = 0; m < d; m++)
        for (q = 0; q < d; q++) {
            double v = C[m * d + q];
            if (m == q) {
                diag += (1.0 - v) * (1.0 - v);
                C[m * d + q] = (float)(weight * -2.0 * (1.0 - v) / d);
            } else {
                rest += v * v;
                C[m * d + q] = (float)(weight * 2.0 * off * v / d);
            }
        }
    /* C = Za^T Zb / B: dZa = Zb dC^T / B, dZb = Za dC / B */
    cr_sgemm(0, 1, B, d, d, 1.0f / (float)B, Zb, d, C, d, 1.0f, dZa, d);
    cr_sgemm(0, 0, B, d, d, 1.0f / (float)B, Za, d, C, d, 1.0f, dZb, d);
    return weight * (diag + off * rest) / d;
}

CR_API double cr_poly_uniformity_loss(float *dZ, const float *Z, int B, int d, float a, float c, int e, float weight,
                                      float *ws) {
    float *G = ws; /* G, then overwritten by dL/dG */
    double S = 0;
    int64_t m, q, dd = (int64_t)d * d;
    int k;
    CR_ASSERT(B >= 1 && d >= 1 && e >= 2 && e % 2 == 0); /* an even power: the sum stays positive */
    cr_sgemm(1, 0, d, d, B, 1.0f, Z, d, Z, d, 0.0f, G, d);
    for (m = 0; m < dd; m++) { /* S = sum (a G + c)^e, in order: deterministic */
        double t = (double)a * G[m] + c, p = 1;
        for (k = 0; k < e; k++) p *= t;
        S += p;
    }
    /* dL/dG_mn = weight e a (a G_mn + c)^(e-1) / S */
    for (q = 0; q < dd; q++) {
        double t = (double)a * G[q] + c, p = 1;
        for (k = 0; k < e - 1; k++) p *= t;
        G[q] = (float)(weight * e * a * p / S);
    }
    /* G = Z^T Z: dZ = Z (dG + dG^T) = 2 Z dG (dG is symmetric) */
    cr_sgemm(0, 0, B, d, d, 2.0f, Z, d, G, d, 1.0f, dZ, d);
    return weight * log(S / ((double)d * (double)d));
}

CR_API double cr_cosine_target_loss(float *dP, const float *P, const float *T, int B, int d, float weight) {
    double sum = 0;
    int64_t b;
    for (b = 0; b < B; b++) {
        const float *p = P + b * d, *t = T + b * d;
        double np = sqrt((double)cr_vdot(p, p, d)), nt = sqrt((double)cr_vdot(t, t, d)), c;
        int j;
        if (!(np > 0 && nt > 0)) continue;
        c = (double)cr_vdot(p, t, d) / (np * nt);
        sum += c;
        if (dP) /* d cos / dp = t / (|p||t|) - cos p / |p|^2 */
            for (j = 0; j < d; j++) dP[b * d + j] += (float)(-weight / B * (t[j] / (np * nt) - c * p[j] / (np * np)));
    }
    return -weight * sum / B;
}

/* ==== 8. models ============================================================================== */

/* ---- 8a. the model interface ----

   Every model is one block of code (8d-8k) behind a table of functions, cr__model_ops. The
   generic parts (configuration, the epoch loop, cr_fit, evaluation, serving, checkpoints) never
   ask which model they run: they call through the table.

     plan         declares the parameter tensors (name, shape, initialisation); no memory yet
     setup        builds what inference needs once the parameters exist (graphs, histories)
     workspace    takes the training buffers from an arena by name; it runs twice, once to size
                  the arena and once to carve it, so training holds exactly what the model uses
     epoch_begin  per-epoch state, such as SGL's augmented graphs (may be NULL)
     loss         one batch: the loss parts (recommendation, contrastive, L2) and, with
                  want_grad, the manual backward pass, accumulated into the gradient block
     prepare      brings the inference state up to date (graph models: one clean propagation)
     item_vectors, user_vectors, fold_in
                  inference: a user (or a new history) is a vector that scores items by dot
                  product with the item vectors; these read the model and never write it
     memory       bytes of the model's own structures; release frees them
     own          the size of the model's own state (m->own, zeroed before plan), or 0

   The data fields are the facts the shared parts need (sequence or graph data, one sampled
   negative per example, propagation, the layer mean's first layer, SELFRec's L2 form); the
   model's defaults are rows of cr__model_defaults (8b). A model's options are fields of
   cr_config with a row each in cr__options (8b), which checkpoints, the config line and the CLI
   follow; its parameters are named tensors, saved with their table. */

/* One training batch. Graph models get (user, positive, negative) triples, sequence models
   the users whose histories form the batch. */
typedef struct cr__batch {
    const int32_t *users, *pos; /* (n) each; pos is NULL for sequence models */
    const int32_t *cand;        /* (n, n_cand) negative candidates (models with negatives):
                                   one uniform negative per row, or DNS's / MixGCF's M */
    int n, n_cand, epoch;
    int64_t index; /* batch number within the epoch, from 0 */
    uint64_t seed; /* the randomness of this batch */
} cr__batch;

/* A bump allocator over one block. With base == NULL it only counts (the sizing pass). */
typedef struct cr__arena {
    unsigned char *base;
    size_t used;
} cr__arena;

static void *cr__take(cr__arena *a, int64_t n, size_t size) {
    void *p = a->base ? a->base + a->used : NULL;
    a->used += ((size_t)(n > 0 ? n : 0) * size + 63) / 64 * 64; /* every buffer 64-byte aligned */
    return p;
}
#define cr__takef(a, n) ((float *)cr__take(a, n, sizeof(float)))
#define cr__takei(a, n) ((int32_t *)cr__take(a, n, sizeof(int32_t)))

/* SELFRec's per-model L2 forms (cr_config.l2_selfrec = 1), section 6.4 of the notes. */
enum { CR__L2_EGO = 1, CR__L2_FINAL_UPN = 2, CR__L2_FINAL_UP = 3 };

/* A buffer of training state other than the parameter blocks: n values of 4 bytes. */
typedef struct cr__running {
    void *p;
    int64_t n;  /* 4-byte entries: floats, or with flag one int32 that is 0 or 1 */
    int flag;
} cr__running;

typedef struct cr__model_ops {
    cr_model_kind kind;
    const char *name, *about;
    int sequential; /* training examples are users' histories, else (user, item) pairs */
    int negatives;  /* each (user, item) example gets a uniformly sampled negative */
    const char *space; /* cr_tune's default search space: the papers' ranges of its main knobs */
    int propagates;  /* a graph encoder with layers (the options CR_READ_PROP) */
    int first_layer; /* graph encoder: the layer mean starts at layer 0 (LightGCN) or 1 (SimGCL) */
    int l2_selfrec;  /* which CR__L2_* form l2_selfrec = 1 selects */
    cr_status (*check)(const cr_config *c); /* model-specific range checks; may be NULL */
    cr_status (*plan)(cr_model *m);
    cr_status (*setup)(cr_model *m);
    void (*workspace)(cr_model *m, cr__arena *a);
    cr_status (*epoch_begin)(cr_model *m, int epoch);
    cr_status (*loss)(cr_model *m, const cr__batch *b, int want_grad, double part[3]);
    void (*batch_end)(cr_model *m, const cr__batch *b); /* after a training batch's step; may be NULL */
    /* the state batch_end carries from batch to batch (RecDCL's stored embeddings, RCL's
       previous-batch perturbation), which a resumed training restores besides the parameters
       and Adam's: up to CR__MAX_LAYERS + 1 buffers, with the training workspace allocated;
       returns how many. May be NULL (none) */
    int (*running)(cr_model *m, cr__running *out);
    void (*prepare)(cr_model *m);
    const float *(*item_vectors)(const cr_model *m);
    cr_status (*user_vectors)(const cr_model *m, const int32_t *users, int n, const cr_csr *extra, float *out);
    cr_status (*fold_in)(const cr_model *m, const int32_t *items, int n, float *out);
    /* the model's own state in bytes (beyond parameters, history and workspace), from its sizes
       and options alone (the memory plan calls it on a shell); raises *passing to its largest
       passing need */
    int64_t (*memory)(const cr_model *m, int64_t *passing);
    void (*release)(cr_model *m);
    size_t own; /* the size of the model's own state (m->own, zeroed before plan), or 0 */
} cr__model_ops;

/* The table, defined after the model blocks (8p). */
static const cr__model_ops *cr__ops_of(int kind);
static int cr__n_models(void);
static const cr__model_ops *cr__ops_at(int i);

CR_API const char *cr_model_name(cr_model_kind k) {
    const cr__model_ops *o = cr__ops_of((int)k);
    return o ? o->name : "?";
}

CR_API cr_model_kind cr_model_parse(const char *name) {
    int i;
    for (i = 0; name && i < cr__n_models(); i++)
        if (strcmp(name, cr__ops_at(i)->name) == 0) return cr__ops_at(i)->kind;
    return (cr_model_kind)0;
}

CR_API const char *cr_model_about(cr_model_kind k) {
    const cr__model_ops *o = cr__ops_of((int)k);
    return o ? o->about : "";
}

CR_API int cr_model_is_sequential(cr_model_kind k) {
    const cr__model_ops *o = cr__ops_of((int)k);
    return o ? o->sequential : 0;
}

CR_API const char *cr_model_list(void) {
    static char list[512];
    int i;
    size_t n = 0;
    if (!list[0])
        for (i = 0; i < cr__n_models() && n < sizeof list; i++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? " " : "", cr__ops_at(i)->name);
    return list;
}

/* ---- 8b. configuration: the option table ---- */

#define CR__MAX_LAYERS 8

/* A model of its own reading an option: its bit. */
#define CR__MK(k) (1u << (k))

/* The rows, in checkpoint order: version-1 checkpoints hold the first CR__CFG_V1 values in this
   order without names; later ones name each value. New options go at the end. */
#define CR__O(f, t, lo, hi, open, dflt, off, names, groups, models, help)                                             \
    {#f, t, offsetof(cr_config, f), lo, hi, open, dflt, off, names, groups, models, help}
#define CR__ONOFF "off=0 on=1"
static const cr_option cr__options[] = {
    CR__O(dim, CR_OPT_INT, 1, 4096, 0, 64, 0, NULL, CR_READ_ALL, 0, "embedding size"),
    CR__O(layers, CR_OPT_INT, 1, CR__MAX_LAYERS, 0, 3, 0, NULL, CR_READ_PROP, 0, "graph propagation layers"),
    CR__O(batch, CR_OPT_INT, 1, 1 << 20, 0, 2048, 0, NULL, CR_READ_ALL, 0, "training examples per batch"),
    CR__O(l2_selfrec, CR_OPT_INT, 0, 1, 0, 0, 0, NULL, CR_READ_BPR, 0,
          "1: SELFRec's per-model L2 form (to match published SELFRec figures); 0: the papers' ego-row form"),
    CR__O(
        aug, CR_OPT_ENUM, 0, 0, 0, CR_AUG_ED, 0, "ed=1 nd=2 rw=3 mixed=4 subgraph=5", 0, CR__MK(CR_MODEL_SGL),
        "SGL's augmented views: edge or node dropout, per-layer ED (RW), ND/ED drawn per view (mixed), walk subgraphs"),
    CR__O(lstar, CR_OPT_INT, 1, CR__MAX_LAYERS, 0, 1, 0, NULL, 0, 0,
          "the layer contrasted: XSimGCL's and RCL's l*, NCL's layer against layer 0 (even)"),
    CR__O(max_len, CR_OPT_INT, 2, 4096, 0, 50, 0, NULL, CR_READ_SEQ, 0, "the last max_len items of each sequence"),
    CR__O(hidden, CR_OPT_INT, 1, CR__MAX_DIM, 0, 0, 0, NULL, CR_READ_SEQ, 0, "GRU hidden size (default: dim)"),
    CR__O(gru_layers, CR_OPT_INT, 1, 4, 0, 1, 0, NULL, CR_READ_SEQ, 0, "stacked GRU layers"),
    CR__O(proj_head, CR_OPT_ENUM, 0, 0, 0, 0, -1, CR__ONOFF, CR_READ_BPR | CR_READ_SEQ, 0,
          "a 2-layer MLP projection head before the contrastive loss"),
    CR__O(seq_aug, CR_OPT_FLAGS, 0, 0, 0, CR_SEQAUG_CROP | CR_SEQAUG_MASK | CR_SEQAUG_REORDER, 0,
          "mask=1 crop=2 reorder=4 insert=8 substitute=16", 0, CR__MK(CR_MODEL_CL4SREC),
          "CL4SRec's sequence augmentations, drawn one per view"),
    CR__O(neg_samples, CR_OPT_INT, 0, 1 << 20, 0, 0, 0, NULL, CR_READ_SEQ, 0,
          "0: full softmax over all items; N: sampled softmax with N shared negatives per batch"),
    CR__O(lr, CR_OPT_FLOAT, 0, 10, 3, 1e-3, 0, NULL, CR_READ_ALL, 0, "Adam's learning rate"),
    CR__O(reg, CR_OPT_FLOAT, 0, 1e6, 2, 1e-4, CR_OFF, NULL, CR_READ_ALL, 0, "L2 weight (RecDCL: weight decay)"),
    CR__O(tau, CR_OPT_FLOAT, 0, 1e6, 3, 0.2, 0, NULL, CR_READ_BPR | CR_READ_SEQ, 0,
          "InfoNCE temperature (and feature masking's)"),
    CR__O(lambda, CR_OPT_FLOAT, 0, 1e6, 2, 0, CR_OFF, NULL, 0, 0,
          "contrastive weight (NCL: the structure contrast's; RecDCL: UIBT's)"),
    CR__O(eps, CR_OPT_FLOAT, 0, 1e6, 2, 0, CR_OFF, NULL, 0, 0, "noise magnitude of the perturbed views"),
    CR__O(drop, CR_OPT_FLOAT, 0, 1, 2, 0.1, CR_OFF, NULL, 0, CR__MK(CR_MODEL_SGL), "SGL's dropout ratio rho"),
    CR__O(clip, CR_OPT_FLOAT, 0, 1e30, 2, 0, CR_OFF, NULL, CR_READ_ALL, 0,
          "clip the gradient's global norm to this (0: off)"),
    CR__O(dropout, CR_OPT_FLOAT, 0, 1, 2, 0.2, CR_OFF, NULL, CR_READ_SEQ, 0, "dropout on embeddings and GRU outputs"),
    CR__O(aug_rate, CR_OPT_FLOAT, 0, 1, 1, 0.2, 0, NULL, 0, CR__MK(CR_MODEL_CL4SREC),
          "share of a sequence mask, reorder, insert and substitute change (CL4SRec's gamma, beta)"),
    CR__O(seed, CR_OPT_SEED, 0, 0, 0, 2024, 0, NULL, CR_READ_ALL, 0,
          "random seed of initialisation, batches and views"),
    /* version 2 and later */
    CR__O(crop_keep, CR_OPT_FLOAT, 0, 1, 1, 0.8, 0, NULL, 0, CR__MK(CR_MODEL_CL4SREC),
          "share of a sequence crop keeps (CL4SRec's eta)"),
    CR__O(neg, CR_OPT_ENUM, 0, 0, 0, CR_NEG_UNIFORM, 0, "uniform=1 dns=2 mixgcf=3", CR_READ_BPR, 0,
          "BPR's negatives: uniform, the best of M candidates (DNS), or mixed (MixGCF)"),
    CR__O(neg_candidates, CR_OPT_INT, 1, 4096, 0, 64, 0, NULL, CR_READ_BPR, 0, "DNS and MixGCF: M candidates per pair"),
    CR__O(cl_negatives, CR_OPT_INT, 0, 65536, 0, 0, 0, NULL, CR_READ_BPR, 0,
          "uniformly drawn items added to the item-side InfoNCE negatives"),
    CR__O(view_every, CR_OPT_INT, 1, 100000, 0, 1, 0, NULL, 0, CR__MK(CR_MODEL_SGL),
          "rebuild SGL's augmented graphs every N epochs"),
    CR__O(rw_len, CR_OPT_INT, 1, 1000000, 0, 16, 0, NULL, 0, CR__MK(CR_MODEL_SGL),
          "subgraph views: steps of each random walk"),
    CR__O(rw_restart, CR_OPT_FLOAT, 0, 1, 2, 0.2, CR_OFF, NULL, 0, CR__MK(CR_MODEL_SGL),
          "subgraph views: chance of jumping back to the start user"),
    CR__O(proto_reg, CR_OPT_FLOAT, 0, 1e6, 2, 5e-8, CR_OFF, NULL, 0, CR__MK(CR_MODEL_NCL),
          "NCL's prototype-contrast weight"),
    CR__O(ssl_alpha, CR_OPT_FLOAT, 0, 1e6, 2, 0.5, CR_OFF, NULL, 0, CR__MK(CR_MODEL_NCL),
          "NCL: weight of the item side of the structure contrast"),
    CR__O(clusters, CR_OPT_INT, 1, 4096, 0, 10, 0, NULL, 0, CR__MK(CR_MODEL_NCL), "NCL: k-means prototypes per side"),
    CR__O(warmup, CR_OPT_INT, 0, 1000000, 0, 20, -1, NULL, 0, CR__MK(CR_MODEL_NCL),
          "NCL: epochs before the prototype term starts (0: none)"),
    CR__O(bt_off, CR_OPT_FLOAT, 0, 1e6, 2, 0.01, CR_OFF, NULL, 0, CR__MK(CR_MODEL_RECDCL),
          "RecDCL's UIBT: weight of the off-diagonal cross-correlations"),
    CR__O(poly_w, CR_OPT_FLOAT, 0, 1e6, 2, 0.2, CR_OFF, NULL, 0, CR__MK(CR_MODEL_RECDCL),
          "RecDCL: UUII (polynomial feature uniformity) weight"),
    CR__O(bcl_w, CR_OPT_FLOAT, 0, 1e6, 2, 5, CR_OFF, NULL, 0, CR__MK(CR_MODEL_RECDCL), "RecDCL: BCL weight"),
    CR__O(momentum, CR_OPT_FLOAT, 0, 1, 0, 0.1, CR_OFF, NULL, 0, CR__MK(CR_MODEL_RECDCL),
          "RecDCL's BCL: share of the stored embedding in the target"),
    CR__O(nce_mask, CR_OPT_ENUM, 0, 0, 0, 1, -1, CR__ONOFF, 0, CR__MK(CR_MODEL_RCL),
          "RCL: leave known false negatives out of InfoNCE"),
    CR__O(nce_est, CR_OPT_ENUM, 0, 0, 0, CR_NCE_PLAIN, 0, "plain=0 dcl=1 adnce=2", 0, CR__MK(CR_MODEL_RCL),
          "RCL: InfoNCE's negative term"),
    CR__O(tau_plus, CR_OPT_FLOAT, 0, 1, 2, 0.1, CR_OFF, NULL, 0, CR__MK(CR_MODEL_RCL),
          "RCL's DCL: assumed share of false negatives"),
    CR__O(nce_mu, CR_OPT_FLOAT, -1, 1, 1, 0.5, CR_OFF, NULL, 0, CR__MK(CR_MODEL_RCL),
          "RCL's ADNCE: the weights' centre on the cosine (-1 is CR_OFF, the explicit 0)"),
    CR__O(nce_sigma, CR_OPT_FLOAT, 0, 100, 1, 1, CR_OFF, NULL, 0, CR__MK(CR_MODEL_RCL),
          "RCL's ADNCE: the weights' width"),
    CR__O(gamma, CR_OPT_FLOAT, 0, 100, 0, 0, CR_OFF, NULL, 0, CR__MK(CR_MODEL_RCL),
          "RCL: confidence weights sigmoid(x_uij)^gamma on BPR's pairs (0: off)"),
    CR__O(adv, CR_OPT_ENUM, 0, 0, 0, 0, -1, "off=0 exact=1 prev=2", 0, CR__MK(CR_MODEL_RCL),
          "RCL's adversarial views: off (XSimGCL's random noise), exact (an extra pass), prev (last batch's)"),
    CR__O(item_repr, CR_OPT_ENUM, 0, 0, 0, CR_REPR_ID, 0, "id=1 id+features=2 features=3", CR_READ_ALL, 0,
          "an item's input vector: its ID embedding, plus its features' mean, or the mean alone"),
    CR__O(attr_w, CR_OPT_FLOAT, 0, 1e6, 2, 0, CR_OFF, NULL, CR_READ_BPR, 0, "attribute-ID contrast weight (0: off)"),
    CR__O(attr_tau, CR_OPT_FLOAT, 0, 1e6, 3, 0.2, 0, NULL, CR_READ_BPR, 0, "the attribute-ID contrast's temperature"),
    CR__O(fm_w, CR_OPT_FLOAT, 0, 1e6, 2, 0, CR_OFF, NULL, CR_READ_BPR | CR_READ_SEQ, 0,
          "feature-masking contrast weight (0: off; temperature tau)"),
    CR__O(fm_rate, CR_OPT_FLOAT, 0, 1, 3, 0.5, 0, NULL, CR_READ_BPR | CR_READ_SEQ, 0,
          "share of an item's features the first view masks"),
    CR__O(fm_corr, CR_OPT_ENUM, 0, 0, 0, 0, -1, "random=0 correlated=1", CR_READ_BPR | CR_READ_SEQ, 0,
          "feature masking: a uniform subset, or a feature with those of the highest PMI to it"),
    CR__O(init, CR_OPT_ENUM, 0, 0, 0, CR_INIT_FIXED, 0, "fixed=1 xavier=2", CR_READ_GRAPH, 0,
          "the ego tables' draw: sd 0.1 whatever the size (LightGCN), or Xavier over the table (SELFRec)"),
    CR__O(l2_recbole, CR_OPT_INT, 0, 1, 0, 0, 0, NULL, 0, CR__MK(CR_MODEL_NCL),
          "1: RecBole's EmbLoss (the NCL authors' L2, norms not squared)"),
    CR__O(precision, CR_OPT_ENUM, 0, 0, 0, CR_PRECISION_F32, 0, "f32=1 bf16=2", CR_READ_PROP_BPR, 0,
          "the propagated tables' format: float32, or bfloat16 rows summed in float32"),
    CR__O(lr_rule, CR_OPT_ENUM, 0, 0, 0, CR_LR_FIXED, 0, "fixed=1 sqrt=2", CR_READ_ALL, 0,
          "Adam's step at another batch size: lr as given, or lr * sqrt(batch / the model's default batch)"),
    CR__O(fanout, CR_OPT_INT, 0, 1 << 20, 0, 0, 0, NULL, 0,
          CR__MK(CR_MODEL_LIGHTGCN) | CR__MK(CR_MODEL_SIMGCL) | CR__MK(CR_MODEL_XSIMGCL),
          "0: propagate the whole graph each batch; f: only the batch's sampled neighbourhood, f per node"),
};
#undef CR__O
#undef CR__ONOFF
#define CR__CFG_V1 22
#define CR__CFG_FP 53 /* the options training-state fingerprints hashed in full (see cr__cfg_fingerprint) */
#define CR__N_CFG ((int)(sizeof cr__options / sizeof cr__options[0]))

/* A model's own defaults, where they differ from the generic ones (the papers' settings; each
   model's block says where they come from), and for the options no kind of model shares (lambda,
   eps, lstar): a row here is also how a model says it reads an option. */
typedef struct cr__model_default {
    cr_model_kind model;
    const char *name;
    double value;
} cr__model_default;
static const cr__model_default cr__model_defaults[] = {
    {CR_MODEL_XSIMGCL, "layers", 2}, {CR_MODEL_RECDCL, "layers", 2}, {CR_MODEL_RCL, "layers", 2},
    {CR_MODEL_GRU4REC, "batch", 256}, {CR_MODEL_CL4SREC, "batch", 256}, {CR_MODEL_NCL, "batch", 4096},
    {CR_MODEL_RECDCL, "batch", 256},
    /* the sequence models' 3e-3: at 1e-3 GRU4Rec on Beauty was at HR@10 0.032 after 10 epochs,
       at 3e-3 at 0.064 (bench/RESULTS.md) */
    {CR_MODEL_GRU4REC, "lr", 3e-3}, {CR_MODEL_CL4SREC, "lr", 3e-3}, {CR_MODEL_NCL, "lr", 2e-3},
    {CR_MODEL_GRU4REC, "reg", 0}, {CR_MODEL_CL4SREC, "reg", 0}, {CR_MODEL_RECDCL, "reg", 1e-7},
    {CR_MODEL_XSIMGCL, "tau", 0.15}, {CR_MODEL_NCL, "tau", 0.05}, {CR_MODEL_RCL, "tau", 0.15},
    {CR_MODEL_SGL, "lambda", 0.1}, {CR_MODEL_SIMGCL, "lambda", 0.5}, {CR_MODEL_XSIMGCL, "lambda", 0.2},
    {CR_MODEL_CL4SREC, "lambda", 0.1}, {CR_MODEL_NCL, "lambda", 1e-6}, {CR_MODEL_RECDCL, "lambda", 1},
    {CR_MODEL_RCL, "lambda", 0.2},
    {CR_MODEL_SIMGCL, "eps", 0.1}, {CR_MODEL_XSIMGCL, "eps", 0.2}, {CR_MODEL_RCL, "eps", 0.2},
    {CR_MODEL_XSIMGCL, "lstar", 1}, {CR_MODEL_RCL, "lstar", 1}, {CR_MODEL_NCL, "lstar", 2},
    {CR_MODEL_CL4SREC, "proj_head", 1},
    /* why per model: cr__graph_plan */
    {CR_MODEL_SIMGCL, "init", CR_INIT_XAVIER}, {CR_MODEL_XSIMGCL, "init", CR_INIT_XAVIER},
    {CR_MODEL_RCL, "init", CR_INIT_XAVIER}, {CR_MODEL_RECDCL, "init", CR_INIT_XAVIER},
};

CR_API int cr_option_count(void) { return CR__N_CFG; }
CR_API const cr_option *cr_option_at(int i) { return i >= 0 && i < CR__N_CFG ? &cr__options[i] : NULL; }

CR_API const cr_option *cr_option_find(const char *name) {
    char key[64];
    size_t i;
    int k;
    if (!name) return NULL;
    while (*name == '-') name++;
    for (i = 0; name[i] && i + 1 < sizeof key; i++) key[i] = name[i] == '-' ? '_' : name[i];
    key[i] = 0;
    for (k = 0; k < CR__N_CFG; k++)
        if (!strcmp(cr__options[k].name, key)) return &cr__options[k];
    return NULL;
}

CR_API double cr_config_lr(const cr_config *c) { /* the square-root rule from the model's default batch */
    double b0 = cr_option_default(cr_option_find("batch"), c->model);
    return c->lr_rule == CR_LR_SQRT && b0 > 0 ? c->lr * sqrt(c->batch / b0) : c->lr;
}

CR_API double cr_option_default(const cr_option *o, cr_model_kind model) {
    size_t i;
    for (i = 0; i < sizeof cr__model_defaults / sizeof cr__model_defaults[0]; i++)
        if (cr__model_defaults[i].model == model && !strcmp(cr__model_defaults[i].name, o->name))
            return cr__model_defaults[i].value;
    return o->dflt;
}

CR_API int cr_option_reads(const cr_option *o, cr_model_kind k) {
    const cr__model_ops *m = cr__ops_of((int)k);
    unsigned g;
    size_t i;
    if (!m || !o) return 0;
    g = CR_READ_ALL | (m->sequential ? CR_READ_SEQ : CR_READ_GRAPH) | (m->propagates ? CR_READ_PROP : 0) |
        (!m->sequential && m->negatives ? CR_READ_BPR : 0) | (m->propagates && m->negatives ? CR_READ_PROP_BPR : 0);
    if ((o->groups & g) || ((unsigned)k < 32u && (o->models >> (unsigned)k & 1u))) return 1;
    for (i = 0; i < sizeof cr__model_defaults / sizeof cr__model_defaults[0]; i++)
        if (cr__model_defaults[i].model == k && !strcmp(cr__model_defaults[i].name, o->name)) return 1;
    return 0;
}
static int cr__reads(const cr_option *o, cr_model_kind k) { return cr_option_reads(o, k); }
static int cr__model_reads(cr_model_kind k, const char *name) {
    const cr_option *o = cr_option_find(name);
    return o && cr__reads(o, k);
}

/* A field's value (seeds aside, which take all 64 bits) as a double, and back. */
static double cr__opt_get(const cr_config *c, const cr_option *o) {
    const char *p = (const char *)c + o->offset;
    int32_t i;
    uint32_t u;
    float f;
    switch (o->type) {
    case CR_OPT_FLOAT: memcpy(&f, p, 4); return (double)f;
    case CR_OPT_FLAGS: memcpy(&u, p, 4); return (double)u;
    case CR_OPT_SEED: { uint64_t q; memcpy(&q, p, 8); return (double)q; }
    default: memcpy(&i, p, 4); return (double)i;
    }
}

static void cr__opt_put(cr_config *c, const cr_option *o, double v) {
    char *p = (char *)c + o->offset;
    if (o->type == CR_OPT_FLOAT) { float f = (float)v; memcpy(p, &f, 4); }
    else if (o->type == CR_OPT_FLAGS) { uint32_t u = (uint32_t)v; memcpy(p, &u, 4); }
    else if (o->type == CR_OPT_SEED) { uint64_t q = (uint64_t)v; memcpy(p, &q, 8); }
    else { int32_t i = (int32_t)v; memcpy(p, &i, 4); }
}

/* The checkpoint's type codes (stored in version-2 files and later). */
enum { CR__T_I32 = 1, CR__T_U32 = 2, CR__T_F32 = 3, CR__T_U64 = 4 };
static int cr__opt_ckpt_type(const cr_option *o) {
    return o->type == CR_OPT_FLOAT   ? CR__T_F32
           : o->type == CR_OPT_FLAGS ? CR__T_U32
           : o->type == CR_OPT_SEED  ? CR__T_U64
                                     : CR__T_I32;
}

/* A field's bits for a checkpoint, and back: a saved 0 of an option whose explicit zero is held
   as `off` is stored as off (0 in cr_config would mean "the default"). */
static uint64_t cr__cfg_get_bits(const cr_config *c, const cr_option *o) {
    const char *p = (const char *)c + o->offset;
    uint32_t u;
    uint64_t q;
    if (o->type == CR_OPT_SEED) { memcpy(&q, p, 8); return q; }
    memcpy(&u, p, 4);
    return u;
}

static void cr__cfg_set_bits(cr_config *c, const cr_option *o, uint64_t v) {
    char *p = (char *)c + o->offset;
    uint32_t u = (uint32_t)v;
    if (o->type == CR_OPT_SEED) { memcpy(p, &v, 8); return; }
    if (v == 0 && o->off != 0) { cr__opt_put(c, o, o->off); return; }
    memcpy(p, &u, 4);
}

/* The value of an enum's or a flag's name in o->names ("name=value ..."); -1 if none. */
static int cr__opt_name_value(const cr_option *o, const char *name, size_t len) {
    const char *s = o->names;
    while (s && *s) {
        const char *eq = strchr(s, '='), *end;
        long v;
        if (!eq) break;
        v = strtol(eq + 1, (char **)&end, 10);
        if ((size_t)(eq - s) == len && !strncmp(s, name, len)) return (int)v;
        while (*end == ' ') end++;
        s = end;
    }
    return -1;
}

/* The name of an enum's value (NULL if none), or flag bits joined by ',' into buf (a shell
   reads the config line as words: no '|'). */
static const char *cr__opt_value_name(const cr_option *o, long v, char *buf, size_t n) {
    const char *s = o->names;
    size_t used = 0;
    buf[0] = 0;
    while (s && *s) {
        const char *eq = strchr(s, '='), *end;
        long x = strtol(eq + 1, (char **)&end, 10);
        int len = (int)(eq - s);
        if (o->type == CR_OPT_ENUM && x == v) {
            snprintf(buf, n, "%.*s", len, s);
            return buf;
        }
        if (o->type == CR_OPT_FLAGS && (v & x) && used < n) {
            used += (size_t)snprintf(buf + used, n - used, "%s%.*s", used ? "," : "", len, s);
            v &= ~x;
        }
        while (*end == ' ') end++;
        s = end;
    }
    return o->type == CR_OPT_FLAGS && used && !v ? buf : NULL;
}

/* A value as text that cr_config_set reads back to the same bits. */
static void cr__opt_text(const cr_config *c, const cr_option *o, char *buf, size_t n) {
    double v = cr__opt_get(c, o);
    if (o->type == CR_OPT_SEED) {
        uint64_t q;
        memcpy(&q, (const char *)c + o->offset, 8);
        snprintf(buf, n, "%llu", (unsigned long long)q);
    } else if (o->type == CR_OPT_FLOAT) {
        snprintf(buf, n, "%g", v);
        if ((float)strtod(buf, NULL) != (float)v) snprintf(buf, n, "%.9g", v);
    } else if (!o->names || !cr__opt_value_name(o, (long)v, buf, n))
        snprintf(buf, n, "%ld", (long)v);
}

static int cr__opt_in_range(const cr_option *o, double v) {
    if (o->type != CR_OPT_FLOAT && o->type != CR_OPT_SEED && !(v > -2147483648.0 && v < 2147483648.0)) return 0;
    if (o->type == CR_OPT_ENUM) {
        char b[64];
        return cr__opt_value_name(o, (long)v, b, sizeof b) != NULL;
    }
    if (o->type == CR_OPT_FLAGS) {
        char b[128];
        return v == 0 || cr__opt_value_name(o, (long)v, b, sizeof b) != NULL;
    }
    if (o->type == CR_OPT_SEED) return 1;
    return v == v && ((o->open & 1) ? v > o->lo : v >= o->lo) && ((o->open & 2) ? v < o->hi : v <= o->hi);
}

/* "1..4096", "(0, 10)", "ed|nd|...": what an option accepts, for messages and help. */
static void cr__opt_accepts(const cr_option *o, char *buf, size_t n) {
    if (o->names) {
        size_t u = 0;
        const char *s = o->names;
        buf[0] = 0;
        while (*s && u < n) {
            const char *eq = strchr(s, '='), *sp = strchr(s, ' ');
            u += (size_t)snprintf(buf + u, n - u, "%s%.*s", u ? (o->type == CR_OPT_FLAGS ? "," : "|") : "",
                                  (int)(eq - s), s);
            s = sp ? sp + 1 : s + strlen(s);
        }
    } else if (o->type == CR_OPT_INT)
        snprintf(buf, n, "%.10g..%.10g", o->lo, o->hi);
    else if (o->type == CR_OPT_FLOAT)
        snprintf(buf, n, "%s%g, %g%s", o->open & 1 ? "(" : "[", o->lo, o->hi, o->open & 2 ? ")" : "]");
    else
        snprintf(buf, n, "a non-negative integer");
}

static cr_status cr__opt_bad(const cr_option *o, const char *value, const char *why) {
    char acc[160];
    cr__opt_accepts(o, acc, sizeof acc);
    return cr__fail(CR_ERR_INVALID, "option %s: '%s' %s (%s %s)", o->name, value, why,
                    o->names ? "one of" : "accepts", acc);
}

CR_API cr_status cr_config_set(cr_config *c, const char *name, const char *value) {
    const cr_option *o;
    char *end;
    double v;
    if (!c || !name || !value) return cr__fail(CR_ERR_INVALID, "cr_config_set: NULL argument");
    if (!strcmp(name, "model")) {
        if (!(c->model = cr_model_parse(value)))
            return cr__fail(CR_ERR_INVALID, "option model: unknown model '%s' (%s)", value, cr_model_list());
        return CR_OK;
    }
    if (!(o = cr_option_find(name))) return cr__fail(CR_ERR_INVALID, "unknown option '%s'", name);
    if (o->type == CR_OPT_SEED) { /* 0 is the default's marker: an explicit 0 is seed 0x5eed */
        uint64_t q;
        errno = 0;
        q = strtoull(value, &end, 10);
        if (!*value || *value == '-' || *end || errno) return cr__opt_bad(o, value, "is not a seed");
        if (!q) q = 0x5eed;
        memcpy((char *)c + o->offset, &q, 8);
        return CR_OK;
    }
    if (!o->names && o->off != 0 && !strcmp(value, "off")) value = "0"; /* a number whose zero is "off" */
    if (o->names && !(*value >= '0' && *value <= '9') && *value != '-') { /* names */
        const char *s = value;
        long flags = 0;
        while (*s) {
            size_t len = strcspn(s, o->type == CR_OPT_FLAGS ? "|," : "");
            int x = cr__opt_name_value(o, s, len);
            if (x < 0 || (o->type == CR_OPT_ENUM && s != value)) return cr__opt_bad(o, value, "is not a value");
            flags |= x;
            s += len + (s[len] != 0);
        }
        v = (double)flags;
    } else {
        errno = 0;
        v = strtod(value, &end);
        if (!*value || *end || errno || !(v > -1e300 && v < 1e300))
            return cr__opt_bad(o, value, "is not a finite number");
        if (o->type != CR_OPT_FLOAT && v != floor(v)) return cr__opt_bad(o, value, "is not an integer");
        if (o->type == CR_OPT_FLOAT && v != 0 && (float)v == 0)
            return cr__opt_bad(o, value, "is below float precision");
    }
    if (!cr__opt_in_range(o, v) && !(v == 0 && o->off != 0)) return cr__opt_bad(o, value, "is out of range");
    if (o->type == CR_OPT_FLAGS && v == 0) return cr__opt_bad(o, value, "is no flag");
    cr__opt_put(c, o, v == 0 ? o->off : v);
    return CR_OK;
}

CR_API int cr_config_format(const cr_config *c, char *buf, size_t n) {
    int i;
    size_t o = 0;
    o += (size_t)snprintf(n ? buf : NULL, n, "model=%s", cr_model_name(c->model));
    for (i = 0; i < CR__N_CFG; i++) {
        const cr_option *f = &cr__options[i];
        char val[64];
        if (c->model && !cr__reads(f, c->model)) continue;
        cr__opt_text(c, f, val, sizeof val);
        o += (size_t)snprintf(o < n ? buf + o : NULL, o < n ? n - o : 0, " %s=%s", f->name, val);
    }
    return (int)o;
}

CR_API int cr_config_help(cr_model_kind model, char *buf, size_t n) {
    int i;
    size_t u = 0;
    if (n) buf[0] = 0;
    for (i = 0; i < CR__N_CFG; i++) {
        const cr_option *o = &cr__options[i];
        char flag[40], acc[160], dv[64], *p;
        cr_config d;
        if (model && !cr__reads(o, model)) continue;
        snprintf(flag, sizeof flag, "--%s", o->name);
        for (p = flag; *p; p++)
            if (*p == '_') *p = '-';
        cr__opt_accepts(o, acc, sizeof acc);
        memset(&d, 0, sizeof d);
        cr__opt_put(&d, o, cr_option_default(o, model));
        cr__opt_text(&d, o, dv, sizeof dv);
        if (!strcmp(o->name, "hidden")) snprintf(dv, sizeof dv, "dim");
        u += (size_t)snprintf(u < n ? buf + u : NULL, u < n ? n - u : 0, "  %s %s (default %s)\n        %s\n", flag,
                              acc, dv, o->help);
    }
    return (int)u;
}

/* Options a model shares with others but constrains further, after the table's checks. */
static cr_status cr__config_cross_check(const cr_config *c, const char *name) {
    if (c->l2_recbole && c->l2_selfrec)
        return cr__fail(CR_ERR_INVALID, "config %s: l2_recbole (RecBole's L2, NCL's authors') excludes l2_selfrec",
                        name);
    if (c->fm_w > 0 && c->item_repr == CR_REPR_ID && !(c->attr_w > 0))
        return cr__fail(CR_ERR_INVALID,
                        "config %s: feature masking (fm_w) trains the feature embeddings, which ID-only items "
                        "(item_repr id) never read%s",
                        name, cr_model_is_sequential(c->model) ? "" : " without attr_w");
    return CR_OK;
}

/* An option set for a model that does not read it: which models do. */
static cr_status cr__not_read(const cr_option *o, const char *model) {
    char who[160];
    size_t u = 0;
    int k;
    who[0] = 0;
    for (k = 1; cr__ops_of(k) && u < sizeof who; k++)
        if (cr__reads(o, (cr_model_kind)k))
            u += (size_t)snprintf(who + u, sizeof who - u, "%s%s", u ? " " : "", cr_model_name((cr_model_kind)k));
    return cr__fail(CR_ERR_INVALID, "config %s: %s is not an option of %s (%s; read by %s)", model, o->name, model,
                    o->help, who);
}

CR_API cr_status cr_config_resolve(cr_config *c) {
    const cr__model_ops *mo = cr__ops_of((int)c->model);
    const char *name;
    cr_status st;
    int i;
    if (!mo) return cr__fail(CR_ERR_INVALID, "config: unknown model %d (models: %s)", (int)c->model, cr_model_list());
    name = mo->name;
    for (i = 0; i < CR__N_CFG; i++) { /* defaults; an option the model does not read stays 0 */
        const cr_option *o = &cr__options[i];
        double v = cr__opt_get(c, o);
        if (!cr__reads(o, c->model)) {
            if (v != 0) return cr__not_read(o, name);
            continue;
        }
        if (o->type == CR_OPT_SEED) {
            if (v == 0) c->seed = 2024;
            continue;
        }
        if (v == 0) cr__opt_put(c, o, !strcmp(o->name, "hidden") ? (double)c->dim : cr_option_default(o, c->model));
        else if (o->off != 0 && v == o->off) cr__opt_put(c, o, 0);
    }
    for (i = 0; i < CR__N_CFG; i++) { /* ranges: every option the model reads, before any work */
        const cr_option *o = &cr__options[i];
        double v = cr__opt_get(c, o);
        char acc[160], txt[64];
        if (!cr__reads(o, c->model) || cr__opt_in_range(o, v)) continue;
        cr__opt_accepts(o, acc, sizeof acc);
        cr__opt_text(c, o, txt, sizeof txt);
        return cr__fail(CR_ERR_INVALID, "config %s: %s %s is %s %s", name, o->name, txt,
                        o->names ? "not one of" : "outside", acc);
    }
    if ((st = cr__config_cross_check(c, name)) != CR_OK) return st;
    return mo->check ? mo->check(c) : CR_OK;
}

/* ---- 8c. the model object ---- */

#define CR__MAX_TENSORS 32
#define CR__ADAM_CHUNK 16384 /* parameters per parallel chunk of the optimiser */
enum { CR__INIT_XAVIER = 0, CR__INIT_ZERO = 1, CR__INIT_UNIFORM = 2, CR__INIT_ONE = 3 };

/* A named tensor inside the parameter block (offsets are 16-float aligned). */
typedef struct cr__ptensor {
    char name[24];
    int64_t rows, cols, offset;
    int init;
    float scale; /* CR__INIT_UNIFORM: U(-scale, scale) */
} cr__ptensor;

/* What every graph model shares: the training edges, the normalised graph, the inference
   embeddings, and the named training buffers the models take from the arena. */
typedef struct cr__graph {
    int32_t *eu, *ei; /* training edges (the entries of hist, users then items) */
    int64_t n_edges;
    cr_csr adj;                      /* normalised training graph */
    int32_t *ord;                    /* its locality order (ord[position] = node), or NULL */
    cr_csr adj_o;                    /* adj in that order, the one the encoder propagates */
    float *final, *t0, *t1; /* inference embeddings (n_nodes x dim) and propagation scratch */
    uint16_t *th;           /* precision bf16: the table each propagation gathers (n_nodes x dim), else NULL */
    cr_csr live_g;          /* the last layer's product over the entries that can add anything: the */
    uint8_t *live;          /*   backward's (cr__csr_live_cols; capacity cr__live_cap) and its row marks, */
    uint8_t *top;           /*   the forward's (cr__csr_live_rows): the nodes a batch reads (cr__graph_top); */
    uint8_t *dnz;           /*   the backward's marks of dOut's rows that are not zero */
    /* training buffers (arena) */
    float *F, *dF;          /* the training pass's output (N, d) and its gradient */
    float *L, *dL;          /* XSimGCL: the output of layer l* and its gradient */
    float *V1, *V2, *dV1, *dV2; /* the two contrastive views and their gradients */
    float *rows, *drows;    /* gathered BPR rows u | p | n (3B, d) and their gradients */
    float *l2rows;          /* SELFRec L2: one gathered block and its gradient (2B, d) */
    float *cq, *ck, *dcq, *dck, *nce; /* InfoNCE rows, their gradients, its workspace */
    float *hq, *hk, *dhq, *dhk, *ha1q, *ha1k, *hh; /* the projection head's activations */
    int32_t *clneg;           /* extra InfoNCE negatives (cl_negatives); NCL: positives */
    int32_t *qpos;            /* over MPI: the positives of this process's queries (their rows) */
    int32_t *uu, *ui, *stamp; /* the batch's unique users and items; a stamp per id */
    int32_t stamp_cur;
    float *lay[CR__MAX_LAYERS + 1], *dlay[CR__MAX_LAYERS + 1]; /* MixGCF: every layer's output
                                 and gradient of the training pass ([0]: the ego table) */
    int32_t *neg, *mix_j;     /* DNS's picks; MixGCF's pick per (row, layer) */
    float *mix_a;             /* MixGCF's mixing weight per (row, layer) */
    /* the encoder restricted to a batch's subgraph (cr__sub_*): the nodes of every level in one
       list (level k is its first sub_n[k] entries; the last level holds the output rows), each
       node's mark and position, the forward matrix of each layer and the backward one, and the
       output rows' values and gradient */
    int32_t *sub_nodes, *sub_mark, *sub_idx, sub_gen;
    int64_t sub_n[CR__MAX_LAYERS + 1];
    cr_csr sub_fw[CR__MAX_LAYERS + 1], sub_bw[CR__MAX_LAYERS + 1];
    float *sub_out, *sub_dout;
    /* sampled neighbourhoods (fanout): each expanded node's drawn entries (rows by position,
       columns by node; sub_scol: the same columns by position), and layer
       l*'s rows of S with their gradient (XSimGCL) */
    cr_csr sub_s;
    int32_t *sub_scol;
    float *sub_L, *sub_dL;
    /* the attribute-ID contrast: the batch's unique items, their feature-based rows (q) against
       their encoder outputs (k), the gradients, the InfoNCE workspace */
    int32_t *aitems, *istamp, istamp_cur;
    float *aq, *ak, *daq, *ance;
    double warm_len; /* the mean length of the trained items' served vectors (cr__graph_prepare) */
    /* feature masking: the items drawn for it, each view's kept features (fmax flags
       per item), the views' bags, the head's activations and outputs, their gradients */
    int32_t *fitems;
    uint8_t *fkeep[2];
    float *fv[2], *fa1[2], *fz[2], *fdz[2], *fh, *fdv, *fnce;
} cr__graph;

struct cr__seq; /* the sequence encoder's state (8m) */

struct cr_model {
    cr_config cfg;
    const cr__model_ops *ops;
    int32_t n_users, n_items;
    int64_t n_nodes; /* graph models: users + items */
    /* parameters, gradients and Adam moments: one block each, in the same layout, so a
       data-parallel trainer can all-reduce the gradients in one call */
    int n_tensors;
    cr__ptensor tensors[CR__MAX_TENSORS];
    int64_t n_param;
    float *param, *grad, *adam_m, *adam_v, *adam_chk;
    int64_t step;
    float lr; /* current learning rate (cr_model_set_lr); starts at cfg.lr */
    /* data */
    cr_idmap users, items;
    cr_csr hist;       /* user -> training items: sorted (graph) or in time order (sequence) */
    cr_csr held;       /* records held out of training (cr_model_set_held_out), laid out as hist */
    int has_held;      /* 1: held is recorded (possibly empty); 0: unknown */
    int32_t *item_deg; /* training degree of each item */
    /* item features (item_repr or attr_w): items x features with each row's weights scaled to
       sum to 1 (the embedding bag's mean), its transpose for the backward pass, the raw ids */
    cr_csr ifeat, ifeat_t;
    cr_idmap feats;
    int fmax;          /* the most features an item has */
    cr_idmap added;    /* items added after training (cr_model_add_item), their vectors (added.n x d) */
    float *added_vec;
    int64_t added_cap;
    float *fco;        /* correlated feature masking: PMI of each pair of an item's features (cr__features_cooccur) */
    int64_t *fco_off;
    int32_t *fm_pool, fm_npool; /* feature masking: the items with two or more features, drawn uniformly */
    /* the ego table the encoder reads and its gradient: the first ego_rows rows of the
       parameters (graph: users then items; sequence: padding, items, mask token), whose items
       start at row ego_item0. For ID-only items E0 and dE0 are the parameters and their
       gradient; with item features a table built from them before each batch (cr__ego_forward)
       and folded back after it (cr__ego_backward); dfeat: the feature table's share */
    float *E0, *dE0, *dfeat;
    int64_t ego_rows, ego_item0;
    /* training examples: (ex_user[i], ex_item[i]), or users alone when ex_item is NULL */
    int64_t n_examples;
    const int32_t *ex_user, *ex_item;
    /* the training workspace: one block, carved by the model's workspace function */
    unsigned char *ws;
    size_t ws_bytes;
    int64_t *perm;             /* epoch order of the examples */
    int32_t *bu, *bp, *bn;     /* the current batch */
    int ready;                 /* the inference state matches the parameters */
    int shell;                 /* a memory plan's model (cr__model_shell): sizes only, nothing
                                  allocated; the memory hooks count what training will take */
    void *own;                 /* the model's own state: a struct its block declares, of the size its
                                  row gives, zeroed before its plan hook, freed with the model */
    int64_t plan_top;          /* a shell's: the largest user degree plus the largest item degree */
    cr__graph g;
    struct cr__seq *seq;
};

/* A model's own state (m->own): its row's size, zeroed. */
static cr_status cr__own(cr_model *m) {
    if (!m->own && m->ops->own && !(m->own = cr__calloc_array(1, m->ops->own, "the model's own state")))
        return CR_ERR_NOMEM;
    return CR_OK;
}

CR_API const cr_config *cr_model_config(const cr_model *m) { return &m->cfg; }
CR_API int32_t cr_model_num_users(const cr_model *m) { return m->n_users; }
CR_API int32_t cr_model_num_items(const cr_model *m) { return m->n_items; }
CR_API int64_t cr_model_num_params(const cr_model *m) { return m->n_param; }
CR_API float *cr_model_params(cr_model *m) { return m->param; }
CR_API float *cr_model_grads(cr_model *m) { return m->grad; }
CR_API void cr_model_get_params(const cr_model *m, float *dst) { cr_vcopy(dst, m->param, m->n_param); }
CR_API void cr_model_set_params(cr_model *m, const float *src) {
    if (src != m->param) cr_vcopy(m->param, src, m->n_param);
    m->ready = 0;
}
CR_API float cr_model_get_lr(const cr_model *m) { return m->lr; }
CR_API cr_status cr_model_set_lr(cr_model *m, float lr) {
    if (!(lr > 0 && lr < 10))
        return cr__fail(CR_ERR_INVALID, "learning rate %g must be finite and in (0, 10)", (double)lr);
    m->lr = lr;
    return CR_OK;
}
CR_API int64_t cr_model_user_raw(const cr_model *m, int32_t u) {
    return u >= 0 && u < m->n_users ? m->users.raw[u] : -1;
}
CR_API int64_t cr_model_item_raw(const cr_model *m, int32_t i) {
    return i >= 0 && i < m->n_items ? m->items.raw[i] : -1;
}
CR_API int32_t cr_model_item_id(const cr_model *m, int64_t raw) { return cr_idmap_find(&m->items, raw); }

CR_API cr_status cr_model_load_interactions(cr_model *m, const char *path, const cr_load_opts *opts,
                                            cr_interactions *out, cr_load_report *report) {
    return cr_load_interactions(out, &m->users, &m->items, 0, path, opts, report);
}

CR_API cr_status cr_model_unseen(const cr_model *m, const cr_interactions *x, cr_interactions *out) {
    int64_t e;
    memset(out, 0, sizeof *out);
    for (e = 0; e < x->n; e++) {
        int32_t u = x->user[e], i = x->item[e];
        int seen = 0;
        int64_t p;
        if (u < 0 || u >= m->n_users || i < 0 || i >= m->n_items) {
            cr_interactions_free(out);
            return cr__fail(CR_ERR_INVALID, "record %lld (%d, %d) is outside the model's ids", (long long)e, u, i);
        }
        for (p = m->hist.rowptr[u]; p < m->hist.rowptr[u + 1] && !seen; p++) seen = m->hist.col[p] == i;
        if (!seen && cr_interactions_push(out, u, i, x->rating[e], x->time[e]) != CR_OK) {
            cr_interactions_free(out);
            return CR_ERR_NOMEM;
        }
    }
    return CR_OK;
}

CR_API cr_status cr_model_set_held_out(cr_model *m, const cr_interactions *x) {
    cr_csr h;
    int64_t e;
    cr_status st;
    memset(&h, 0, sizeof h);
    for (e = 0; x && e < x->n; e++)
        if (x->user[e] < 0 || x->user[e] >= m->n_users || x->item[e] < 0 || x->item[e] >= m->n_items)
            return cr__fail(CR_ERR_INVALID, "held-out record %lld (%d, %d) is outside the model's ids", (long long)e,
                            x->user[e], x->item[e]);
    if (x && x->n) {
        st = cr_interactions_to_csr(&h, x, m->n_users, m->n_items, cr_model_is_sequential(m->cfg.model));
        if (st != CR_OK) return st;
    }
    cr_csr_free(&m->held);
    m->held = h;
    m->has_held = 1;
    return CR_OK;
}

CR_API cr_status cr_model_held_out(const cr_model *m, cr_interactions *out, int *recorded) {
    int32_t u;
    int64_t p;
    memset(out, 0, sizeof *out);
    *recorded = m->has_held;
    for (u = 0; m->held.rowptr && u < m->n_users; u++)
        for (p = m->held.rowptr[u]; p < m->held.rowptr[u + 1]; p++) /* the position keeps a sequence's order */
            if (cr_interactions_push(out, u, m->held.col[p], 1.0f, (double)p) != CR_OK) {
                cr_interactions_free(out);
                return CR_ERR_NOMEM;
            }
    return CR_OK;
}

/* Adds a tensor to the parameter plan. */
static cr_status cr__plan(cr_model *m, const char *name, int64_t rows, int64_t cols, int init, float scale) {
    cr__ptensor *t;
    if (m->n_tensors == CR__MAX_TENSORS) return cr__fail(CR_ERR_INVALID, "too many parameter tensors");
    if (rows < 0 || cols < 0 || (cols && rows > (INT64_MAX / 4 - m->n_param) / cols))
        return cr__fail(CR_ERR_OVERFLOW, "parameter tensor %s (%lld x %lld) is too large", name, (long long)rows,
                        (long long)cols);
    t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rows = rows;
    t->cols = cols;
    t->offset = m->n_param;
    t->init = init;
    t->scale = scale;
    m->n_param += (rows * cols + 15) / 16 * 16;
    return CR_OK;
}

/* The parameters of a named tensor, and their gradient (same offset in the gradient block). */
static float *cr__tensor_in(const cr_model *m, float *block, const char *name) {
    int i;
    for (i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return block + m->tensors[i].offset;
    return NULL;
}
static float *cr__tensor(const cr_model *m, const char *name) { return cr__tensor_in(m, m->param, name); }
CR_API float *cr_model_tensor(cr_model *m, const char *name, int64_t *rows, int64_t *cols) {
    int i;
    for (i = 0; name && i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) {
            if (rows) *rows = m->tensors[i].rows;
            if (cols) *cols = m->tensors[i].cols;
            m->ready = 0; /* the caller may write through it */
            return m->param + m->tensors[i].offset;
        }
    return NULL;
}
CR_API const char *cr_model_tensor_name(const cr_model *m, int i) {
    return i >= 0 && i < m->n_tensors ? m->tensors[i].name : NULL;
}
static float *cr__tensor_grad(const cr_model *m, const char *name) { return cr__tensor_in(m, m->grad, name); }

/* The projection head (SimCLR's 2-layer MLP, d -> d -> d) of every model with proj_head. */
static cr_status cr__plan_head(cr_model *m) {
    int d = m->cfg.dim;
    cr_status st;
    if ((st = cr__plan(m, "proj_w1", d, d, CR__INIT_XAVIER, 0)) != CR_OK) return st;
    if ((st = cr__plan(m, "proj_b1", 1, d, CR__INIT_ZERO, 0)) != CR_OK) return st;
    if ((st = cr__plan(m, "proj_w2", d, d, CR__INIT_XAVIER, 0)) != CR_OK) return st;
    return cr__plan(m, "proj_b2", 1, d, CR__INIT_ZERO, 0);
}

/* Allocates the parameter block and its three companions. */
static cr_status cr__alloc_params(cr_model *m) {
    m->param = cr_alloc_floats(m->n_param);
    m->grad = cr_alloc_floats(m->n_param);
    m->adam_m = cr_alloc_floats(m->n_param);
    m->adam_v = cr_alloc_floats(m->n_param);
    m->adam_chk = cr_alloc_floats(m->n_param / CR__ADAM_CHUNK + 2);
    return m->param && m->grad && m->adam_m && m->adam_v && m->adam_chk ? CR_OK : CR_ERR_NOMEM;
}

/* Initialises every tensor from its plan: Xavier-uniform (torch's fan convention for a
   (rows, cols) weight: fan_in = cols, fan_out = rows), zeros, ones or U(-s, s). */
static void cr__init_params(cr_model *m) {
    int i;
    for (i = 0; i < m->n_tensors; i++) {
        cr__ptensor *t = &m->tensors[i];
        float *p = m->param + t->offset, a;
        int64_t j, n = t->rows * t->cols;
        cr_rng r = cr_rng_stream(m->cfg.seed, 0x1417 + (uint64_t)i);
        if (t->init == CR__INIT_ZERO) { memset(p, 0, (size_t)n * sizeof(float)); continue; }
        if (t->init == CR__INIT_ONE) { cr_vfill(p, 1.0f, n); continue; }
        a = t->init == CR__INIT_UNIFORM ? t->scale : (float)sqrt(6.0 / (double)(t->rows + t->cols));
        for (j = 0; j < n; j++) p[j] = (2.0f * cr_rng_float(&r) - 1.0f) * a;
    }
}

static cr_status cr__idmap_copy(cr_idmap *dst, const cr_idmap *src) {
    int32_t i, d;
    memset(dst, 0, sizeof *dst);
    for (i = 0; i < src->n; i++)
        if (cr_idmap_add(dst, src->raw[i], &d) != CR_OK) { cr_idmap_free(dst); return CR_ERR_NOMEM; }
    return CR_OK;
}

CR_API void cr_model_free(cr_model *m) {
    if (!m) return;
    if (m->E0 != m->param) cr__free_aligned(m->E0);
    if (m->ops && m->ops->release) m->ops->release(m);
    CR_FREE(m->own);
    cr__free_aligned(m->param);
    cr__free_aligned(m->grad);
    cr__free_aligned(m->adam_m);
    cr__free_aligned(m->adam_v);
    cr__free_aligned(m->adam_chk);
    cr__free_aligned(m->ws);
    cr_idmap_free(&m->users);
    cr_idmap_free(&m->items);
    cr_csr_free(&m->hist);
    cr_csr_free(&m->held);
    CR_FREE(m->item_deg);
    cr_csr_free(&m->ifeat);
    cr_csr_free(&m->ifeat_t);
    cr_idmap_free(&m->feats);
    cr_idmap_free(&m->added);
    CR_FREE(m->added_vec);
    CR_FREE(m->fco);
    CR_FREE(m->fco_off);
    CR_FREE(m->fm_pool);
    CR_FREE(m);
}

/* The training workspace, on the first training call: the epoch order and batch buffers, then
   the model's own buffers, sized by a first pass over the same code that carves them. Serving a
   loaded model never pays for it. */
static void cr__carve_ws(cr_model *m, cr__arena *a) {
    int64_t B = m->cfg.batch;
    m->perm = (int64_t *)cr__take(a, m->n_examples + 1, sizeof(int64_t));
    m->bu = cr__takei(a, B);
    m->bp = cr__takei(a, B);
    m->bn = cr__takei(a, B * (m->cfg.neg > CR_NEG_UNIFORM ? m->cfg.neg_candidates : 1));
    if (m->cfg.item_repr != CR_REPR_ID) { /* the bag's gradient buffers (cr__ego_backward) */
        m->dE0 = cr__takef(a, m->ego_rows * m->cfg.dim);
        m->dfeat = cr__takef(a, m->ifeat.ncols * m->cfg.dim);
    }
    if (m->cfg.attr_w > 0 || m->cfg.fm_w > 0) m->g.istamp = cr__takei(a, (int64_t)m->n_items + 1);
    if (m->cfg.attr_w > 0) {
        m->g.aitems = cr__takei(a, B);
        m->g.aq = cr__takef(a, B * m->cfg.dim);
        m->g.ak = cr__takef(a, B * m->cfg.dim);
        m->g.daq = cr__takef(a, B * m->cfg.dim);
        m->g.ance = cr__takef(a, cr_infonce_workspace((int)B, (int)B, m->cfg.dim));
    }
    if (m->cfg.fm_w > 0) {
        int v;
        m->g.fitems = cr__takei(a, B);
        for (v = 0; v < 2; v++) {
            m->g.fkeep[v] = (uint8_t *)cr__take(a, B * m->fmax + 1, 1);
            m->g.fv[v] = cr__takef(a, B * m->cfg.dim);
            m->g.fa1[v] = cr__takef(a, B * m->cfg.dim);
            m->g.fz[v] = cr__takef(a, B * m->cfg.dim);
            m->g.fdz[v] = cr__takef(a, B * m->cfg.dim);
        }
        m->g.fh = cr__takef(a, B * m->cfg.dim);
        m->g.fdv = cr__takef(a, B * m->cfg.dim);
        m->g.fnce = cr__takef(a, cr_infonce_workspace((int)B, (int)B, m->cfg.dim));
    }
    m->ops->workspace(m, a);
}

static cr_status cr__features_cooccur(cr_model *m);
static cr_status cr__fm_pool(cr_model *m);

static int cr__uses_features(const cr_config *c);

/* Models whose loss takes only this process's share of the batch (cr__my_rows in BPR and
   InfoNCE, the propagation's SpMM rows), so that summing the processes' gradients gives the
   whole batch's: the others are refused over MPI rather than trained wrong. */
static cr_status cr__mpi_check(const cr_config *c) {
    const unsigned ok = 1u << CR_MODEL_MF | 1u << CR_MODEL_LIGHTGCN | 1u << CR_MODEL_SIMGCL | 1u << CR_MODEL_XSIMGCL;
    if (cr_mpi_size() < 2) return CR_OK;
    if (!(ok >> c->model & 1u))
        return cr__fail(CR_ERR_INVALID, "mpi: %s does not split its batch across processes; run it as one process "
                        "(mf, lightgcn, simgcl and xsimgcl train over MPI)", cr_model_name(c->model));
    if (c->neg == CR_NEG_MIXGCF || cr__uses_features(c) || c->fanout)
        return cr__fail(CR_ERR_INVALID, "mpi: %s does not split across processes; run it as one process",
                        c->neg == CR_NEG_MIXGCF ? "MixGCF" : c->fanout ? "fanout (sampled batches)" : "item features");
    return CR_OK;
}

static cr_status cr__train_ws(cr_model *m) {
    cr__arena a;
    cr_status st;
    if ((st = cr__mpi_check(&m->cfg)) != CR_OK) return st;
    if (m->ws) return CR_OK;
    /* training state that serving never needs: correlated masking's pair counts */
    if (m->cfg.fm_w > 0 && !m->fm_pool && (st = cr__fm_pool(m)) != CR_OK) return st;
    if (m->cfg.fm_w > 0 && m->cfg.fm_corr && !m->fco && (st = cr__features_cooccur(m)) != CR_OK) return st;
    a.base = NULL;
    a.used = 0;
    cr__carve_ws(m, &a);
    m->ws = (unsigned char *)cr__malloc_aligned(a.used);
    if (!m->ws) return cr__nomem("the training workspace", a.used);
    memset(m->ws, 0, a.used);
    m->ws_bytes = a.used;
    a.base = m->ws;
    a.used = 0;
    cr__carve_ws(m, &a);
    return CR_OK;
}

/* Builds the model around hist (taken over) and the id maps (copied). expect_params >= 0:
   the parameter count a checkpoint declares, checked before anything large is allocated. */
/* Does the configuration read item features? */
static int cr__uses_features(const cr_config *c) { return c->item_repr != CR_REPR_ID || c->attr_w > 0 || c->fm_w > 0; }

/* How many times key occurs in the sorted keys[0..n). */
static int64_t cr__count_key(const uint64_t *keys, int64_t n, uint64_t key) {
    int64_t lo = 0, hi = n, a;
    while (lo < hi) { int64_t mid = lo + (hi - lo) / 2; if (keys[mid] < key) lo = mid + 1; else hi = mid; }
    a = lo;
    hi = n;
    while (lo < hi) { int64_t mid = lo + (hi - lo) / 2; if (keys[mid] <= key) lo = mid + 1; else hi = mid; }
    return lo - a;
}

/* Correlated masking's association: for every item, the pointwise mutual information of each
   ordered pair of its features over the items with features, PMI(a, b) = log(N n_ab / (n_a n_b))
   with n_ab the items holding both (row-major n x n per item, n its feature count; pairs sorted
   once). Yao et al. rank features by mutual information; PMI, not the raw count n_ab (which
   ranks a common feature first beside any seed) nor the MI of the two presence indicators
   (which grows with the features' frequency too), scores how much more often two features meet
   than chance: the partner that gives the seed away, which is what the masked half must take. */
static cr_status cr__features_cooccur(cr_model *m) {
    const cr_csr *X = &m->ifeat;
    int64_t i, tot = 0, nk = 0, p, q, N = 0;
    uint64_t *keys;
    if (!(m->fco_off = (int64_t *)cr__alloc_array((size_t)X->nrows + 1, sizeof(int64_t), "feature co-occurrence")))
        return CR_ERR_NOMEM;
    for (i = 0; i < X->nrows; i++) {
        int64_t n = X->rowptr[i + 1] - X->rowptr[i];
        m->fco_off[i] = tot;
        tot += n * n;
        N += n > 0;
        if (tot > ((int64_t)1 << 28))
            return cr__fail(CR_ERR_INVALID,
                            "correlated feature masking: the items have too many features for its pair counts (%lld "
                            "pairs by item %lld; at most 2^28)",
                            (long long)tot, (long long)i);
    }
    m->fco_off[X->nrows] = tot;
    if (!(m->fco = (float *)cr__calloc_array((size_t)tot + 1, sizeof(float), "feature co-occurrence")) ||
        !(keys = (uint64_t *)cr__alloc_array((size_t)tot + 1, sizeof(uint64_t), "feature co-occurrence")))
        return CR_ERR_NOMEM;
    for (i = 0; i < X->nrows; i++)
        for (p = X->rowptr[i]; p < X->rowptr[i + 1]; p++)
            for (q = X->rowptr[i]; q < X->rowptr[i + 1]; q++)
                keys[nk++] = (uint64_t)X->col[p] << 32 | (uint32_t)X->col[q];
    cr__sort_u64(keys, nk);
    for (i = 0; i < X->nrows; i++) {
        int64_t n = X->rowptr[i + 1] - X->rowptr[i];
        const int32_t *col = X->col + X->rowptr[i];
        for (p = 0; p < n; p++)
            for (q = 0; q < n; q++) {
                double nab = (double)cr__count_key(keys, nk, (uint64_t)col[p] << 32 | (uint32_t)col[q]);
                double na = (double)cr__count_key(keys, nk, (uint64_t)col[p] << 32 | (uint32_t)col[p]);
                double nb = (double)cr__count_key(keys, nk, (uint64_t)col[q] << 32 | (uint32_t)col[q]);
                m->fco[m->fco_off[i] + p * n + q] = (float)log((double)N * nab / (na * nb));
            }
    }
    CR_FREE(keys);
    return CR_OK;
}

/* Feature masking's sample: the items with at least two features, the only ones whose two
   complementary views differ. */
static cr_status cr__fm_pool(cr_model *m) {
    int64_t i;
    m->fm_pool = (int32_t *)cr__alloc_array((size_t)m->ifeat.nrows + 1, sizeof(int32_t), "feature masking's items");
    if (!m->fm_pool) return CR_ERR_NOMEM;
    m->fm_npool = 0;
    for (i = 0; i < m->ifeat.nrows; i++)
        if (m->ifeat.rowptr[i + 1] - m->ifeat.rowptr[i] >= 2) m->fm_pool[m->fm_npool++] = (int32_t)i;
    if (m->fm_npool < 2)
        return cr__fail(CR_ERR_INVALID,
                        "feature masking (fm_w) contrasts items with two or more features; "
                        "%d of the %lld items have that many",
                        (int)m->fm_npool, (long long)m->ifeat.nrows);
    return CR_OK;
}

/* The model's copy of the item features: each row's weights scaled to sum to 1 (so the bag is
   a weighted mean), its transpose (the bag's backward), the raw feature ids. */
/* A feature matrix as the loader makes it (checked again here: cr_dataset is a plain struct):
   row pointers from 0 to nnz and monotone, columns in range and increasing within a row,
   weights positive and finite, raw ids unique. */
static cr_status cr__features_check(const cr_csr *x, const cr_idmap *ids, const cr_idmap *items, const char *where) {
    int64_t i, p;
    if (x->rowptr[0] != 0 || x->nnz < 0 || x->rowptr[x->nrows] != x->nnz || (x->nnz && !x->col))
        return cr__fail(CR_ERR_INVALID, "%s: the item x feature matrix's row pointers do not span its %lld entries",
                        where, (long long)x->nnz);
    for (i = 0; i < x->nrows; i++) {
        if (x->rowptr[i + 1] < x->rowptr[i] || x->rowptr[i + 1] > x->nnz)
            return cr__fail(CR_ERR_INVALID, "%s: item %lld: row pointers out of order", where,
                            (long long)items->raw[i]);
        for (p = x->rowptr[i]; p < x->rowptr[i + 1]; p++)
            if (x->col[p] < 0 || x->col[p] >= x->ncols || (p > x->rowptr[i] && x->col[p] <= x->col[p - 1]) ||
                (x->val && !(x->val[p] > 0 && x->val[p] < 1e30f)))
                return cr__fail(
                    CR_ERR_INVALID,
                    "%s: item %lld, entry %lld: feature %d (of %lld) or weight out of range, or columns not increasing",
                    where, (long long)items->raw[i], (long long)(p - x->rowptr[i]), x->col[p], (long long)x->ncols);
    }
    for (i = 0; i < ids->n; i++)
        if (ids->raw[i] < 0 || ids->raw[i] > 0xFFFFFFFFLL || cr_idmap_find(ids, ids->raw[i]) != (int32_t)i)
            return cr__fail(CR_ERR_INVALID, "%s: feature %lld has a bad or repeated raw id %lld", where, (long long)i,
                            (long long)ids->raw[i]);
    return CR_OK;
}

static cr_status cr__features_take(cr_model *m, const cr_csr *x, const cr_idmap *ids, int normalized) {
    int64_t i, p;
    cr_status st;
    if (!x || !x->rowptr || x->nrows == 0)
        return cr__fail(
            CR_ERR_INVALID,
            "config %s: item_repr, attr_w and fm_w need item features (cr_dataset.features; the CLI's --item-features)",
            m->ops->name);
    if (x->nrows != m->n_items || x->ncols < 1 || x->ncols > INT32_MAX || !ids || ids->n != x->ncols)
        return cr__fail(CR_ERR_INVALID,
                        "the item features cover %lld items and %lld features (%d ids); the model has %d items",
                        (long long)x->nrows, (long long)x->ncols, ids ? ids->n : 0, m->n_items);
    if (!normalized && (st = cr__features_check(x, ids, &m->items, "item features")) != CR_OK) return st;
    if ((st = cr_csr_copy(&m->ifeat, x)) != CR_OK) return st;
    if (!m->ifeat.val) {
        if (!(m->ifeat.val = (float *)cr__alloc_array((size_t)m->ifeat.nnz + 1, sizeof(float), "item features")))
            return CR_ERR_NOMEM;
        for (p = 0; p < m->ifeat.nnz; p++) m->ifeat.val[p] = 1.0f;
    }
    for (i = 0; i < m->ifeat.nrows && !normalized; i++) { /* a checkpoint's are already: keep its bits */
        double sum = 0;
        for (p = m->ifeat.rowptr[i]; p < m->ifeat.rowptr[i + 1]; p++) sum += m->ifeat.val[p];
        for (p = m->ifeat.rowptr[i]; p < m->ifeat.rowptr[i + 1]; p++)
            if (!((m->ifeat.val[p] = (float)(m->ifeat.val[p] / sum)) > 0)) /* a weight too small beside the others */
                return cr__fail(CR_ERR_INVALID,
                                "item features: item %lld, feature %lld: the weight %g rounds to 0 beside the item's "
                                "others (their sum %g)",
                                (long long)m->items.raw[i], (long long)ids->raw[m->ifeat.col[p]],
                                x->val ? (double)x->val[p] : 1.0, sum);
    }
    if ((st = cr_csr_transpose(&m->ifeat_t, &m->ifeat)) != CR_OK) return st;
    for (i = 0; i < m->ifeat.nrows; i++)
        m->fmax = (int)CR__MAX((int64_t)m->fmax, m->ifeat.rowptr[i + 1] - m->ifeat.rowptr[i]);
    return cr__idmap_copy(&m->feats, ids);
}

static int64_t cr__csr_bytes(const cr_csr *A) { return A->rowptr ? (A->nrows + 1) * 8 + A->nnz * (A->val ? 8 : 4) : 0; }
static int64_t cr__csr_plan(int64_t nrows, int64_t nnz, int val) { return (nrows + 1) * 8 + nnz * (val ? 8 : 4); }
static int64_t cr__pow2_from(int64_t lo, int64_t n) {
    while (lo < n) lo *= 2;
    return lo;
}
/* An id map of n ids as cr_idmap_add grows it: the raw ids doubling from 16, the hash table a
   power of two from 1024 kept at most half full. */
static int64_t cr__idmap_plan(int64_t n) { return n ? cr__pow2_from(16, n) * 8 + cr__pow2_from(1024, 2 * n) * 12 : 0; }
static int64_t cr__idmap_bytes(const cr_idmap *m) { return m->raw_cap * 8 + m->hcap * 12; }

/* The item features' part of a model's state: the row-normalised matrix and its transpose, the
   feature ids, the ego table they build (item_repr), masking's item pool and, with correlated
   masking, the pair scores (whose sorted keys pass through at the first training call). */
static int64_t cr__features_memory(const cr_model *m, int64_t *passing) {
    const cr_csr *X = &m->ifeat;
    int64_t b, tot = 0, i, n;
    if (!cr__uses_features(&m->cfg)) return 0;
    b = cr__csr_plan(X->nrows, X->nnz, 1) + cr__csr_plan(X->ncols, X->nnz, 1) + cr__idmap_plan(X->ncols);
    if (m->cfg.item_repr != CR_REPR_ID) b += m->ego_rows * m->cfg.dim * 4;
    if (!m->shell) /* training's part, once taken (cr__train_ws) */
        return b + (m->fm_pool ? (X->nrows + 1) * 4 : 0) +
               (m->fco ? (X->nrows + 1) * 8 + (m->fco_off[X->nrows] + 1) * 4 : 0);
    if (m->cfg.fm_w > 0) b += (X->nrows + 1) * 4;
    if (m->cfg.fm_w > 0 && m->cfg.fm_corr) {
        for (i = 0; i < X->nrows; i++) n = X->rowptr[i + 1] - X->rowptr[i], tot += n * n;
        b += (X->nrows + 1) * 8 + (tot + 1) * 4;
        if (passing) *passing = CR__MAX(*passing, (tot + 1) * 8);
    }
    return b;
}

static cr_status cr__model_build(cr_model **out, const cr_config *cfg, const cr_idmap *users,
                                 const cr_idmap *items, cr_csr *hist, const cr_csr *feat_x,
                                 const cr_idmap *feat_ids, int64_t expect_params) {
    cr_model *m = (cr_model *)cr__calloc_array(1, sizeof(cr_model), "model");
    cr_status st;
    int64_t p;
    *out = NULL;
    if (!m) { cr_csr_free(hist); return CR_ERR_NOMEM; }
    m->cfg = *cfg;
    m->ops = cr__ops_of((int)cfg->model);
    m->lr = (float)cr_config_lr(cfg);
    m->hist = *hist;
    memset(hist, 0, sizeof *hist);
    m->n_users = (int32_t)m->hist.nrows;
    m->n_items = (int32_t)m->hist.ncols;
    m->n_nodes = (int64_t)m->n_users + m->n_items;
    if ((st = cr__idmap_copy(&m->users, users)) != CR_OK || (st = cr__idmap_copy(&m->items, items)) != CR_OK) goto fail;
    m->item_deg = (int32_t *)cr__calloc_array((size_t)m->n_items + 1, sizeof(int32_t), "item degrees");
    if (!m->item_deg) { st = CR_ERR_NOMEM; goto fail; }
    for (p = 0; p < m->hist.nnz; p++) m->item_deg[m->hist.col[p]]++;
    if (cr__uses_features(cfg) && (st = cr__features_take(m, feat_x, feat_ids, expect_params >= 0)) != CR_OK) goto fail;
    if ((st = cr__own(m)) != CR_OK || (st = m->ops->plan(m)) != CR_OK) goto fail;
    if (expect_params >= 0 && expect_params != m->n_param) {
        st = cr__fail(CR_ERR_FORMAT, "the file declares %lld parameters, but a %s model of this configuration has %lld",
                      (long long)expect_params, m->ops->name, (long long)m->n_param);
        goto fail;
    }
    if ((st = cr__alloc_params(m)) != CR_OK) goto fail;
    /* the ego table: the first rows of the parameters (graph: users, items; sequence: padding,
       items, mask token); with item features a table of its own (cr__ego_forward) */
    m->ego_rows = m->ops->sequential ? (int64_t)m->n_items + 2 : m->n_nodes;
    m->ego_item0 = m->ops->sequential ? 1 : m->n_users;
    m->E0 = m->param;
    m->dE0 = m->grad;
    if (cfg->item_repr != CR_REPR_ID && !(m->E0 = cr_alloc_floats(m->ego_rows * cfg->dim))) {
        st = CR_ERR_NOMEM;
        goto fail;
    }
    if ((st = m->ops->setup(m)) != CR_OK) goto fail;
    *out = m;
    return CR_OK;
fail:
    if (st == CR_ERR_NOMEM && !cr_last_error()[0]) cr__fail(st, "out of memory building the model");
    cr_model_free(m);
    return st;
}

CR_API cr_status cr_model_create(cr_model **out, const cr_config *cfg_in, const cr_dataset *ds) {
    cr_config cfg = *cfg_in;
    cr_csr hist;
    cr_status st;
    *out = NULL;
    if ((st = cr_config_resolve(&cfg)) != CR_OK) return st;
    if (ds->n_users < 1 || ds->n_items < 2 || ds->train.n < 1)
        return cr__fail(CR_ERR_EMPTY, "the training set is empty (%d users, %d items, %lld interactions)", ds->n_users,
                        ds->n_items, (long long)ds->train.n);
    if (ds->users.n != ds->n_users || ds->items.n != ds->n_items)
        return cr__fail(CR_ERR_INVALID, "dataset id maps (%d users, %d items) do not match its sizes (%d, %d)",
                        ds->users.n, ds->items.n, ds->n_users, ds->n_items);
    if ((st = cr_interactions_to_csr(&hist, &ds->train, ds->n_users, ds->n_items, cr_model_is_sequential(cfg.model))) !=
        CR_OK)
        return st;
    if ((st = cr__model_build(out, &cfg, &ds->users, &ds->items, &hist, &ds->features.x, &ds->features.feats, -1)) !=
        CR_OK)
        return st;
    cr__init_params(*out);
    return CR_OK;
}

CR_API int64_t cr_model_memory_bytes(const cr_model *m) {
    int64_t b = 4 * m->n_param * (int64_t)sizeof(float) + (m->n_param / CR__ADAM_CHUNK + 2) * 4, pass = 0;
    b += cr__idmap_bytes(&m->users) + cr__idmap_bytes(&m->items) + (m->hist.nrows + 1) * 8 + m->hist.nnz * 4 +
         (int64_t)m->n_items * 4;
    b += (int64_t)m->ws_bytes;
    return b + m->ops->memory(m, &pass);
}

/* Brings the inference state up to date; after it, serving calls only read the model. */
CR_API cr_status cr_model_prepare(cr_model *m) {
    if (!m->ready) { /* over MPI each process propagates alone: serving may run on one of them */
        cr__mpi_solo++;
        m->ops->prepare(m);
        cr__mpi_solo--;
        m->ready = 1;
    }
    return CR_OK;
}

/* The item vectors and the user vectors that score them; *users is NULL for sequence models
   (a user is the encoding of a history). */
CR_API cr_status cr_model_embeddings(cr_model *m, const float **users, const float **items) {
    const float *I;
    cr_model_prepare(m);
    I = m->ops->item_vectors(m);
    if (items) *items = I;
    if (users) *users = m->ops->sequential ? NULL : I - (int64_t)m->n_users * m->cfg.dim;
    return CR_OK;
}

/* ---- 8d. graph models: the shared encoder, BPR and InfoNCE pieces ---- */

/* Zeroing and copying of whole (N, d) tables, split over the threads: a single thread cannot
   saturate memory bandwidth on its own. */
static void cr__pzero(float *x, int64_t n) {
    int64_t nch = (n + 65535) / 65536, ch;
    CR__OMP(parallel for schedule(static) if (n > 262144))
    for (ch = 0; ch < nch; ch++)
        memset(x + ch * 65536, 0, (size_t)CR__MIN((int64_t)65536, n - ch * 65536) * sizeof(float));
}

static void cr__pcopy(float *dst, const float *src, int64_t n) {
    int64_t nch = (n + 65535) / 65536, ch;
    CR__OMP(parallel for schedule(static) if (n > 262144))
    for (ch = 0; ch < nch; ch++)
        memcpy(dst + ch * 65536, src + ch * 65536, (size_t)CR__MIN((int64_t)65536, n - ch * 65536) * sizeof(float));
}

/* The item embedding bag. With item features (item_repr id+features or features) an item's
   input vector is its ID row plus, or in place of it, the weighted mean of its features' rows:
   one SpMM of the row-normalised item x feature matrix with the feature table. The encoders
   read the ego table E0 (users, then items) and accumulate into dE0; around each batch the
   forward builds E0 from the parameters and the backward folds dE0 back: users' and ID rows
   as they are, the feature table through the transpose (a second SpMM). ID-only items skip
   both: E0 and dE0 are then the parameters and their gradient. */
static void cr__ego_forward(cr_model *m) {
    int d = m->cfg.dim;
    int64_t i0 = m->ego_item0 * d, Id = (int64_t)m->n_items * d, all = m->ego_rows * d, i;
    float *E0 = m->E0, *Ei = E0 + i0;
    const float *P = m->param;
    if (!E0 || E0 == m->param) return;
    cr__pcopy(E0, P, i0); /* the rows that are not items as they are */
    cr__pcopy(Ei + Id, P + i0 + Id, all - i0 - Id);
    cr_spmm(&m->ifeat, cr__tensor(m, "feat_emb"), d, Ei);
    if (m->cfg.item_repr == CR_REPR_ID_FEATURES) {
        CR__OMP(parallel for schedule(static))
        for (i = 0; i < Id; i++) Ei[i] += P[i0 + i];
    }
}

static void cr__ego_backward(cr_model *m) {
    int d = m->cfg.dim;
    int64_t i0 = m->ego_item0 * d, Id = (int64_t)m->n_items * d, all = m->ego_rows * d, Fd = m->ifeat.ncols * d, i;
    float *dE0 = m->dE0, *G = m->grad, *gf;
    if (!dE0 || dE0 == m->grad) return;
    gf = cr__tensor_grad(m, "feat_emb");
    cr_spmm(&m->ifeat_t, dE0 + i0, d, m->dfeat);
    CR__OMP(parallel for schedule(static))
    for (i = 0; i < all; i++)
        if (i < i0 || i >= i0 + Id || m->cfg.item_repr == CR_REPR_ID_FEATURES) G[i] += dE0[i];
    for (i = 0; i < Fd; i++) gf[i] += m->dfeat[i];
    cr__pzero(dE0, all);
}

/* Row i of the feature-based item vectors: the weighted mean of item i's feature rows (zero for
   an item without features). */
static void cr__feature_vector(const cr_model *m, int32_t i, float *out) {
    const float *fe = cr__tensor(m, "feat_emb");
    int64_t p;
    int d = m->cfg.dim;
    memset(out, 0, (size_t)d * sizeof(float));
    for (p = m->ifeat.rowptr[i]; p < m->ifeat.rowptr[i + 1]; p++)
        cr_vaxpy(out, m->ifeat.val[p], fe + (int64_t)m->ifeat.col[p] * d, d);
}

/* Y = G X, X gathered as float32 or, with th (precision bf16), from its bfloat16 copy in th.
   Over MPI each process computes its block of rows (cr__my_rows) and, with all, receives the
   others' (all 0: Y holds this process's rows only). */
static void cr__spmm_table(const cr_csr *G, const float *X, uint16_t *th, int64_t N, int d, float *Y, int all) {
    int64_t a, b;
    cr__my_rows(N, &a, &b);
    if (th) cr_bf16_from_f32(th, X, N * d);
    cr__spmm_range(G, a, b, th ? (const void *)th : (const void *)X, th != NULL, d, Y);
    if (all) cr__mpi_gather_rows(Y, N, (size_t)d * sizeof(float));
}

/* A Cuthill-McKee order of the nodes of A (square, symmetric): breadth first, every component
   from its lowest-degree node, each node's unvisited neighbours queued by increasing degree (ties
   by id), so ord[new] = old is a fixed function of A. Neighbours end up close in memory, so the
   rows an output row gathers share cache lines and pages with those of its neighbour rows: on
   Gowalla an SpMM at d = 64 takes 0.81x the time of the loaded order on one thread, 0.73x on two
   (degree order: 1.3x, slower; plain breadth first: 0.88x). */
static cr_status cr__graph_order(const cr_csr *A, int32_t *ord) {
    int64_t n = A->nrows, head = 0, tail = 0, maxdeg = 0, i, s, e;
    uint64_t *key = (uint64_t *)cr__alloc_array((size_t)n + 1, sizeof(uint64_t), "node order"), *nb;
    uint8_t *seen = (uint8_t *)cr__calloc_array((size_t)n + 1, 1, "node order");
    for (i = 0; i < n; i++) maxdeg = CR__MAX(maxdeg, A->rowptr[i + 1] - A->rowptr[i]);
    nb = (uint64_t *)cr__alloc_array((size_t)maxdeg + 1, sizeof(uint64_t), "node order");
    if (!key || !seen || !nb) {
        CR_FREE(key);
        CR_FREE(seen);
        CR_FREE(nb);
        return CR_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) key[i] = (uint64_t)(A->rowptr[i + 1] - A->rowptr[i]) << 32 | (uint64_t)i;
    cr__sort_u64(key, n);
    for (s = 0; s < n; s++) {
        if (seen[(int32_t)key[s]]) continue;
        seen[(int32_t)key[s]] = 1;
        ord[tail++] = (int32_t)key[s];
        while (head < tail) {
            int32_t u = ord[head++];
            int64_t k = 0;
            for (e = A->rowptr[u]; e < A->rowptr[u + 1]; e++) {
                int32_t v = A->col[e];
                if (seen[v]) continue;
                seen[v] = 1;
                nb[k++] = (uint64_t)(A->rowptr[v + 1] - A->rowptr[v]) << 32 | (uint64_t)v;
            }
            cr__sort_u64(nb, k);
            for (e = 0; e < k; e++) ord[tail++] = (int32_t)nb[e];
        }
    }
    CR_FREE(key);
    CR_FREE(seen);
    CR_FREE(nb);
    return CR_OK;
}

/* P A P^T for the order ord (ord[new] = old): row r is row ord[r] of A with its columns renamed,
   its entries kept in their order, so (P A P^T)(P X) sums every row exactly as A X does. */
static cr_status cr__csr_permute(cr_csr *out, const cr_csr *A, const int32_t *ord) {
    int64_t n = A->nrows, r, e, k = 0;
    int32_t *pos = (int32_t *)cr__alloc_array((size_t)n + 1, sizeof(int32_t), "node order");
    memset(out, 0, sizeof *out);
    if (!pos || cr__csr_alloc(out, n, n, A->nnz + 1, A->val != NULL) != CR_OK) { /* + 1: never a 0-byte block */
        CR_FREE(pos);
        return CR_ERR_NOMEM;
    }
    out->nnz = A->nnz;
    for (r = 0; r < n; r++) pos[ord[r]] = (int32_t)r;
    for (r = 0; r < n; r++) {
        for (e = A->rowptr[ord[r]]; e < A->rowptr[ord[r] + 1]; e++, k++) {
            out->col[k] = pos[A->col[e]];
            if (A->val) out->val[k] = A->val[e];
        }
        out->rowptr[r + 1] = k;
    }
    CR_FREE(pos);
    return CR_OK;
}

/* Rows r of src to rows r of dst, either side read or written through the node order (map NULL:
   r itself); only (marks by node, or NULL): the marked nodes' rows alone (node: a map's, else r). */
static void cr__rows_move_only(float *dst, const int32_t *dmap, const float *src, const int32_t *smap, int64_t N, int d,
                               const uint8_t *only) {
    int64_t r;
    CR__OMP(parallel for schedule(static))
    for (r = 0; r < N; r++) {
        if (only && !only[dmap ? dmap[r] : smap ? smap[r] : r]) continue;
        cr__prefetch_row(dst, dmap, r, N, d);
        cr__prefetch_row(src, smap, r, N, d);
        memcpy(dst + (dmap ? dmap[r] : r) * d, src + (smap ? smap[r] : r) * d, (size_t)d * sizeof(float));
    }
}

static void cr__rows_move(float *dst, const int32_t *dmap, const float *src, const int32_t *smap, int64_t N, int d) {
    cr__rows_move_only(dst, dmap, src, smap, N, d, NULL);
}

/* The entries of A (symmetric) whose column is marked live, each row's in their order (a row
   with none is empty), into T, whose capacity is cap entries plus a spare line per part: the
   product of A with a table whose unmarked rows are zero, over the entries that can add
   anything, so each output row is the same bits (a skipped entry would add w * 0). Column c
   holds deg(c) entries, so the count is known first; more than cap: 0, T untouched (the whole
   matrix serves). Each part's share is counted from the live rows (their entries are the live
   columns' transposed), then the part's entries are copied without a branch: an unmarked one
   lands in the part's spare slot (a line apart, so the threads do not share it). */
#define CR__LIVE_PARTS 64
static int cr__live_off;      /* tests: every product over the whole matrix, to compare bits, */
static int64_t cr__live_runs; /*   and the number of products that ran over live entries */
#define CR__LIVE_SPARE (CR__LIVE_PARTS * 16)
/* Above this many entries (a share of the graph's) the whole matrix is as cheap. */
static int64_t cr__live_cap(int64_t nnz) { return nnz / 2; }
static int cr__csr_live_cols(cr_csr *T, const cr_csr *A, const uint8_t *live, int64_t cap) {
    int64_t n = A->nrows, kept = 0, base[CR__LIVE_PARTS + 1] = {0}, bnd[CR__LIVE_PARTS + 1],
            cnt[CR__LIVE_PARTS][CR__LIVE_PARTS], r;
    int np = CR__MIN(cr__nthreads(), CR__LIVE_PARTS), t, q;
    for (r = 0; r < n; r++) kept += live[r] ? A->rowptr[r + 1] - A->rowptr[r] : 0;
    if (kept > cap) return 0;
    for (t = 0; t <= np; t++) bnd[t] = cr__csr_part_in(A, 0, n, t, np);
    CR__OMP(parallel for schedule(static, 1) private(r, q))
    for (t = 0; t < np; t++) { /* each part's entries: the live rows' neighbours in its rows, counted once */
        int64_t p;
        for (q = 0; q < np; q++) cnt[t][q] = 0;
        for (r = n * t / np; r < n * (t + 1) / np; r++)
            for (p = live[r] ? A->rowptr[r] : 0; p < (live[r] ? A->rowptr[r + 1] : 0); p++) {
                int lo = 0, hi = np - 1; /* the part whose rows hold column col[p] */
                while (lo < hi) {
                    int mid = (lo + hi + 1) / 2;
                    if (A->col[p] >= bnd[mid]) lo = mid;
                    else hi = mid - 1;
                }
                cnt[t][lo]++;
            }
    }
    for (q = 0; q < np; q++)
        for (base[q + 1] = base[q], t = 0; t < np; t++) base[q + 1] += cnt[t][q];
    CR__OMP(parallel for schedule(static, 1) private(r))
    for (t = 0; t < np; t++) {
        const int64_t r0 = bnd[t], r1 = bnd[t + 1];
        const int64_t spare = cap + 16 * t;
        const int32_t *col = A->col;
        const float *val = A->val;
        int32_t *tc = T->col;
        float *tv = T->val;
        int64_t o = base[t], p;
        for (r = r0; r < r1; r++) {
            T->rowptr[r] = o;
            for (p = A->rowptr[r]; p < A->rowptr[r + 1]; p++) {
                const int32_t c = col[p];
                const int64_t keep = -(int64_t)live[c], at = (o & keep) | (spare & ~keep); /* no branch to miss */
                tc[at] = c;
                tv[at] = val ? val[p] : 1.0f;
                o -= keep;
            }
        }
    }
    T->rowptr[n] = base[np];
    T->nrows = n;
    T->ncols = A->ncols;
    T->nnz = base[np];
    cr__live_runs++;
    return 1;
}

/* The rows of A whose node is marked (top[map ? map[r] : r]), whole, the others empty, into T
   (capacity cap): the last layer at the rows a batch reads, each the same bits as in the whole
   product. More than cap entries: 0, T untouched. */
static int cr__csr_live_rows(cr_csr *T, const cr_csr *A, const uint8_t *top, const int32_t *map, int64_t cap) {
    int64_t n = A->nrows, o = 0, r, j;
    for (r = 0; r < n; r++) o += top[map ? map[r] : r] ? A->rowptr[r + 1] - A->rowptr[r] : 0;
    if (o > cap) return 0;
    for (o = 0, r = 0; r < n; r++) {
        const int64_t a = A->rowptr[r], e = top[map ? map[r] : r] ? A->rowptr[r + 1] - a : 0;
        T->rowptr[r] = o;
        memcpy(T->col + o, A->col + a, (size_t)e * sizeof(int32_t));
        for (j = 0; j < e; j++) T->val[o + j] = A->val ? A->val[a + j] : 1.0f;
        o += e;
    }
    T->rowptr[n] = o;
    T->nrows = n;
    T->ncols = A->ncols;
    T->nnz = o;
    cr__live_runs++;
    return 1;
}

/* A propagation's scratch: t0, t1 (N, d) hold the layers; ord (ord[r] = node; NULL: none): the
   G[k] are P A P^T in this locality order (cr__csr_permute); th (precision bf16, else NULL): the
   bfloat16 table each SpMM gathers. */
typedef struct cr__prop_ws {
    float *t0, *t1;
    uint16_t *th;
    const int32_t *ord;
    cr_csr *live_g; /* with live (N marks): the backward's first product skips the zero rows of its table */
    uint8_t *live;  /*   (cr__csr_live_cols), or NULL; with top too (marks by node), the forward's */
    int64_t live_cap; /* last layer runs at those rows alone (cr__csr_live_rows), the others left partial */
    const uint8_t *top;
    uint8_t *dnz;     /* with live: the backward marks the rows of dOut that are not zero, and skips the others */
} cr__prop_ws;

/* Forward of K propagation layers, E^(k+1) = G[k] E^(k) (+ SimGCL noise when eps > 0), with
   out = mean of layers first..K (first = 0: LightGCN and SGL; 1: SimGCL and XSimGCL).
   keep[k] (k = 1..K, keep NULL or keep[k] NULL: not kept) receives a copy of layer k's output.
   E0, out: (N, d). With w->ord the layers and their mean run in the graph's order, and E0, out,
   keep and delta are by node (moved at the boundary): each row sums the same terms in the same order, so the result is
   bit for bit the one without it, while the SpMMs gather rows that neighbour in memory. With w->top (a batch's
   nodes, cr__graph_top) and no kept layer K, out and keep are formed at those nodes alone, the last layer
   computed at them alone (its live rows), the other rows left as they were: the same bits where read. */
static void cr__prop_forward(float *out, float *const *keep, const cr_csr *const *G, int K,
                             const float *E0, int64_t N, int d, int first, float eps,
                             uint64_t noise_seed, const float *const *delta, const cr__prop_ws *w) {
    float c = 1.0f / (float)(K + 1 - first);
    const float *cur = E0;
    const int32_t *ord = K > 0 ? w->ord : NULL;
    /* out read at the marked nodes alone: the last layer, the mean and the kept layers there */
    const uint8_t *only = K > 0 && w->top && w->live && !(keep && keep[K]) &&
                                  cr__csr_live_rows(w->live_g, G[K - 1], w->top, ord, w->live_cap)
                              ? w->top : NULL;
    int64_t a, b, r;
    int k, j, ph = cr__prof_to(CR_PHASE_ENCODE);
    if (ord) { /* layer 0 in the graph's order; t1 is free until layer 1 writes it */
        cr__rows_move(w->t1, NULL, E0, ord, N, d);
        cur = w->t1;
    }
    /* out sums in the graph's order too, and is put back by node at the end */
    CR__OMP(parallel for schedule(static) private(j))
    for (r = 0; r < N; r++)
        if (!only || only[ord ? ord[r] : r])
            for (j = 0; j < d; j++) out[r * d + j] = first == 0 ? c * cur[r * d + j] : 0.0f;
    cr__my_rows(N, &a, &b); /* over MPI a block of rows each, the layer all-gathered after its noise and sum */
    for (k = 0; k < K; k++) {
        float *nx = (k & 1) ? w->t1 : w->t0;
        cr__spmm_table(only && k == K - 1 ? w->live_g : G[k], cur, w->th, N, d, nx, 0);
        cr__layer_post(nx, out, c, a, b, d, eps, cr_hash64(noise_seed, (uint64_t)k), delta ? delta[k + 1] : NULL, ord,
                       only, k == K - 1);
        cr__mpi_gather_rows(nx, N, (size_t)d * sizeof(float));
        if (keep && keep[k + 1]) cr__rows_move_only(keep[k + 1], ord, nx, NULL, N, d, only);
        cur = nx;
    }
    if (K > 0) cr__mpi_gather_rows(out, N, (size_t)d * sizeof(float));
    if (ord) { /* the other scratch table is free now */
        float *tmp = cur == w->t0 ? w->t1 : w->t0;
        CR__OMP(parallel for schedule(static))
        for (r = 0; r < N; r++)
            if (!only || only[ord[r]]) memcpy(tmp + r * d, out + r * d, (size_t)d * sizeof(float));
        cr__rows_move_only(out, ord, tmp, NULL, N, d, only);
    }
    cr__prof_to(ph);
}

/* Backward of cr__prop_forward. The noise is a constant and every G[k] is symmetric, so
   with c = 1/(K+1-first) and dL[k] the gradient of layer k's own output (dL or dL[k] NULL:
   none; dL[0], the ego table's, is added to dE0 by the caller):
       g_K = c dOut + dL[K]
       g_k = G[k] g_(k+1) + c dOut [k >= first] + dL[k]
   and dE0 += g_0 (dE0 NULL: stop at g_1). gk: g_k copied to gk[k], k = 1..K, where given
   (RCL's adversarial directions). With w->ord the g_k run in the graph's order; dOut, dL, gk
   and dE0 are by node. */
static void cr__prop_backward(float *dE0, const cr_csr *const *G, int K, const float *dOut,
                              int64_t N, int d, int first, const float *const *dL,
                              float *const *gk, const cr__prop_ws *w) {
    float c = 1.0f / (float)(K + 1 - first), *g = w->t0;
    const float *dlk = dL ? dL[K] : NULL;
    const int32_t *ord = w->ord;
    int64_t r, a, b;
    int k, j, ph = cr__prof_to(CR_PHASE_ENCODE);
    /* with top (the nodes the batch's loss read), dOut and every dL[k] are zero elsewhere: g_K is
       formed at those rows alone, and the live product reads no other (if it cannot run, the
       others are zeroed for the whole one) */
    const uint8_t *top = w->top && w->live && !gk ? w->top : NULL;
    cr__my_rows(N, &a, &b);
    if (cr_mpi_size() > 1) { /* each process holds its rows' share of dOut and dL: the sums, in place */
        cr__mpi_sum((void *)(uintptr_t)dOut, N * d, 0);
        for (k = 1; dL && k <= K; k++)
            if (dL[k]) cr__mpi_sum((void *)(uintptr_t)dL[k], N * d, 0);
    }
    CR__OMP(parallel for schedule(static) private(j))
    for (r = 0; r < N; r++) {
        const int64_t o = (ord ? ord[r] : r) * d;
        uint8_t nz = 0, dz = 0;
        if (top && !top[ord ? ord[r] : r]) {
            w->live[r] = 0;
            if (w->dnz) w->dnz[r] = 0;
            continue;
        }
        if (!top) cr__prefetch_row(dOut, ord, r, N, d);
        if (dlk) cr__prefetch_row(dlk, ord, r, N, d);
        for (j = 0; j < d; j++) {
            g[r * d + j] = c * dOut[o + j] + (dlk ? dlk[o + j] : 0.0f);
            nz |= g[r * d + j] != 0.0f;
            dz |= dOut[o + j] != 0.0f;
        }
        if (w->live) w->live[r] = nz;
        if (w->dnz) w->dnz[r] = dz;
    }
    if (gk) cr__rows_move(gk[K], ord, g, NULL, N, d);
    for (k = K - 1; k >= 0; k--) {
        float *h = g == w->t0 ? w->t1 : w->t0, cc = k >= first ? c : 0.0f;
        const float *dl = dL && k ? dL[k] : NULL;
        /* g_K is zero but at the rows a batch's loss read: the product skips the others */
        const int live = k == K - 1 && w->live && cr__csr_live_cols(w->live_g, G[k], w->live, w->live_cap);
        if (k == 0 && !dE0) break;
        if (top && k == K - 1 && !live) {
            CR__OMP(parallel for schedule(static))
            for (r = 0; r < N; r++)
                if (!top[ord ? ord[r] : r]) memset(g + r * d, 0, (size_t)d * sizeof(float));
        }
        cr__spmm_table(live ? w->live_g : G[k], g, w->th, N, d, h, 0);
        if (k == 0) { /* fold the last step into the gradient of the ego embeddings (over MPI: this
                         process's rows; the gradients' all-reduce adds the others') */
            CR__OMP(parallel for schedule(static) private(j))
            for (r = a; r < b; r++) {
                const int64_t o = (ord ? ord[r] : r) * d;
                cr__prefetch_row(dE0, ord, r, N, d);
                if (w->dnz && !w->dnz[r]) { /* h + c * 0 is h: no product of the SpMM is -0 */
                    for (j = 0; j < d; j++) dE0[o + j] += h[r * d + j];
                    continue;
                }
                cr__prefetch_row(dOut, ord, r, N, d);
                for (j = 0; j < d; j++) dE0[o + j] += h[r * d + j] + cc * dOut[o + j];
            }
            break;
        }
        CR__OMP(parallel for schedule(static) private(j))
        for (r = a; r < b; r++) {
            const int64_t o = (ord ? ord[r] : r) * d;
            if (!dl && w->dnz && !w->dnz[r]) continue; /* it would add +0 */
            if (top && !top[ord ? ord[r] : r]) continue; /* dOut and dl (kept there alone) are zero */
            cr__prefetch_row(dOut, ord, r, N, d);
            if (dl) cr__prefetch_row(dl, ord, r, N, d);
            for (j = 0; j < d; j++) h[r * d + j] += cc * dOut[o + j] + (dl ? dl[o + j] : 0.0f);
        }
        cr__mpi_gather_rows(h, N, (size_t)d * sizeof(float));
        if (gk) cr__rows_move(gk[k], ord, h, NULL, N, d);
        g = h;
    }
    cr__prof_to(ph);
}

/* The graph of each layer (G NULL: the training graph at every layer) into Gc, and the
   propagation's scratch. The training graph runs in its locality order on two threads or more;
   the result is the same bits either way. Gowalla, d = 64, same run: on two threads LightGCN's
   batch 0.84x, XSimGCL's 0.93x the loaded order's; on one, 0.95x and 1.05x (the rows moved in
   and out through the order cost about what one thread's SpMMs save; two threads share the
   cache, where the locality pays more). SGL's views are built in the order (cr__sgl_view), so
   given graphs always run in it. */
static cr__prop_ws cr__graph_layers(const cr_model *m, const cr_csr *const *G, const cr_csr **Gc) {
    const int ordered = m->g.ord && (G || (cr__nthreads() > 1 && cr_mpi_size() < 2)); /* MPI: one layout on all */
    const cr_csr *A = ordered ? &m->g.adj_o : &m->g.adj;
    cr__prop_ws w;
    int k;
    for (k = 0; k < CR__MAX_LAYERS; k++) Gc[k] = G && k < m->cfg.layers ? G[k] : A;
    w.t0 = m->g.t0;
    w.t1 = m->g.t1;
    w.th = m->g.th;
    w.ord = ordered ? m->g.ord : NULL;
    w.live = cr_mpi_size() < 2 && !cr__live_off ? m->g.live : NULL;
    w.live_g = (cr_csr *)&m->g.live_g;
    w.live_cap = cr__live_cap(m->g.adj.nnz);
    w.top = NULL;
    w.dnz = w.live ? m->g.dnz : NULL;
    return w;
}

/* top (cr__graph_top, or NULL): out is read at those nodes alone. */
static void cr__graph_encode(cr_model *m, float *out, const cr_csr *const *G, float eps, uint64_t seed,
                             float *const *keep, const uint8_t *top) {
    const cr_csr *Gc[CR__MAX_LAYERS];
    cr__prop_ws w = cr__graph_layers(m, G, Gc);
    w.top = top;
    cr__prop_forward(out, keep, Gc, m->cfg.layers, m->E0, m->n_nodes, m->cfg.dim, m->ops->first_layer, eps, seed,
                     NULL, &w);
}

/* top: as the forward's, or the marks of every row the loss wrote a gradient to (dOut and every dL[k]
   are zero off those nodes; NULL: anywhere). */
static void cr__graph_encode_backward(cr_model *m, const float *dOut, const cr_csr *const *G, const float *const *dL,
                                      const uint8_t *top) {
    const cr_csr *Gc[CR__MAX_LAYERS];
    cr__prop_ws w = cr__graph_layers(m, G, Gc);
    w.top = top;
    cr__prop_backward(m->dE0, Gc, m->cfg.layers, dOut, m->n_nodes, m->cfg.dim, m->ops->first_layer, dL, NULL, &w);
}

/* The encoder restricted to what a batch reads. The layer mean at a few rows S (level K) needs
   layer K at S, layer k at level k = level k+1 and its neighbours, and the ego rows of level 0.
   Propagating those rows alone sums each row over the same entries in the same order as the
   whole graph (the entries it skips multiply zeros), so the rows come out the same, at a
   fraction of the work when S is small: RecDCL's 512 rows of Beauty's 34,464 nodes touch about
   a quarter of the graph's entries. Each level is a prefix of the next one down, so a node has
   one position for every level, and S's rows are the first |S| of every level.
   The workspace (cr__sub_ws): the node list, marks and positions (N each), and 2K matrices of
   at most N + 1 rows and nnz(adj) entries. */
static void cr__sub_ws(cr_model *m, cr__arena *a, int64_t max_rows) {
    cr__graph *g = &m->g;
    int64_t N = m->n_nodes, nnz = g->adj.nnz;
    int k;
    g->sub_nodes = cr__takei(a, N);
    g->sub_mark = cr__takei(a, N);
    g->sub_idx = cr__takei(a, N);
    for (k = 1; k <= m->cfg.layers; k++) {
        cr_csr *f = &g->sub_fw[k], *b = &g->sub_bw[k];
        f->rowptr = (int64_t *)cr__take(a, N + 1, sizeof(int64_t));
        f->col = cr__takei(a, nnz);
        f->val = cr__takef(a, nnz);
        b->rowptr = (int64_t *)cr__take(a, N + 1, sizeof(int64_t));
        b->col = cr__takei(a, nnz);
        b->val = cr__takef(a, nnz);
    }
    g->sub_out = cr__takef(a, max_rows * m->cfg.dim);
    g->sub_dout = cr__takef(a, max_rows * m->cfg.dim);
}

/* Sampled neighbourhoods (fanout f > 0; GraphSAGE's fixed fan-out, Hamilton et al., NeurIPS
   2017, and PinSage's): each node the batch's encoder expands keeps at most f of its entries of
   the normalised graph, drawn uniformly without replacement from a stream of (batch, node), each
   weighted deg / f, so that its row's sum is an unbiased estimate of the whole row's. A node
   keeps its draw at every layer of the batch: the batch propagates over one sampled graph, and
   the backward pass over its transpose. A node of degree f or less keeps its whole row, so with
   f at least the largest degree the batch's rows are the whole graph's (summed in another order
   in the backward pass). The levels are bounded by the fan-out, not by the graph: level K holds
   the batch's nS nodes, level k-1 at most (1 + f) times level k's; the marks (4 bytes a node,
   three times) are the only part of this workspace that grows with the graph. */
static void cr__sub_levels(const cr_model *m, int64_t nS, int64_t *lvl) {
    int f = m->cfg.fanout, k;
    lvl[m->cfg.layers] = CR__MIN(m->n_nodes, nS);
    for (k = m->cfg.layers; k >= 1; k--) lvl[k - 1] = CR__MIN(m->n_nodes, lvl[k] * (1 + (int64_t)f));
}

/* The workspace for batches of up to nS target nodes: marks and positions, the draws (at most
   level 1's rows), one transpose per layer, the targets' output and gradient and layer l*'s. */
static void cr__sub_ws_sampled(cr_model *m, cr__arena *a, int64_t nS) {
    cr__graph *g = &m->g;
    int64_t lvl[CR__MAX_LAYERS + 1], nnz = g->adj.nnz, f = m->cfg.fanout, e, d = m->cfg.dim;
    int k;
    cr__sub_levels(m, nS, lvl);
    g->sub_nodes = cr__takei(a, m->n_nodes);
    g->sub_mark = cr__takei(a, m->n_nodes);
    g->sub_idx = cr__takei(a, m->n_nodes);
    e = CR__MIN(nnz, lvl[1] * f);
    g->sub_s.rowptr = (int64_t *)cr__take(a, lvl[1] + 1, sizeof(int64_t));
    g->sub_s.col = cr__takei(a, e);
    g->sub_s.val = cr__takef(a, e);
    g->sub_scol = cr__takei(a, e);
    for (k = 1; k <= m->cfg.layers; k++) {
        cr_csr *b = &g->sub_bw[k];
        e = CR__MIN(nnz, lvl[k] * f);
        b->rowptr = (int64_t *)cr__take(a, lvl[k - 1] + 2, sizeof(int64_t));
        b->col = cr__takei(a, e);
        b->val = cr__takef(a, e);
    }
    g->sub_out = cr__takef(a, lvl[m->cfg.layers] * d);
    g->sub_dout = cr__takef(a, lvl[m->cfg.layers] * d);
    g->sub_L = cr__takef(a, lvl[m->cfg.layers] * d);
    g->sub_dL = cr__takef(a, lvl[m->cfg.layers] * d);
}

/* Up to f of node v's entries of A (all of them when it has f or fewer), as offsets in its row
   in increasing order, into off; their number. Floyd's draw: f distinct offsets in f steps, the
   list kept sorted (a drawn offset already in it is replaced by j, larger than all of them). */
static int cr__sub_draw(const cr_csr *A, int32_t v, int f, uint64_t seed, int32_t *off) {
    int32_t deg = (int32_t)(A->rowptr[v + 1] - A->rowptr[v]), j, t;
    int n = 0, lo, hi;
    cr_rng r;
    if (deg <= f) {
        for (j = 0; j < deg; j++) off[j] = j;
        return (int)deg;
    }
    r = cr_rng_stream(seed, (uint64_t)v);
    for (j = deg - f; j < deg; j++) {
        t = (int32_t)cr_rng_below(&r, (uint32_t)j + 1u);
        for (lo = 0, hi = n; lo < hi;) { /* the first place not below t */
            int mid = lo + (hi - lo) / 2;
            if (off[mid] < t) lo = mid + 1;
            else hi = mid;
        }
        if (lo < n && off[lo] == t) off[n] = j;
        else {
            memmove(off + lo + 1, off + lo, (size_t)(n - lo) * sizeof(int32_t));
            off[lo] = t;
        }
        n++;
    }
    return n;
}

/* Node v appended to the node list at position *n (and *n raised), unless a level holds it. */
static CR__INLINE void cr__sub_push(cr__graph *g, int32_t v, int64_t *n) {
    if (g->sub_mark[v] == g->sub_gen) return;
    g->sub_mark[v] = g->sub_gen;
    g->sub_idx[v] = (int32_t)*n;
    g->sub_nodes[(*n)++] = v;
}

/* The draws of the nodes at positions [from, to): their rows' extents (one thread), the draws
   (every thread: each node's from its own stream, into its own place), then the nodes they
   reach that no level holds yet appended in entry order (one thread), so the levels and the
   matrices do not depend on the threads. */
static void cr__sub_expand(cr_model *m, int64_t from, int64_t to, uint64_t seed) {
    cr__graph *g = &m->g;
    const cr_csr *A = &g->adj;
    cr_csr *s = &g->sub_s;
    const int f = m->cfg.fanout;
    int64_t i, e, n = g->sub_n[0];
    for (i = from; i < to; i++) {
        int32_t v = g->sub_nodes[i];
        s->rowptr[i + 1] = s->rowptr[i] + CR__MIN((int64_t)f, A->rowptr[v + 1] - A->rowptr[v]);
    }
    CR__OMP(parallel for schedule(dynamic, 256) if (to - from > 2048))
    for (i = from; i < to; i++) {
        const int32_t v = g->sub_nodes[i];
        const int64_t a = A->rowptr[v], deg = A->rowptr[v + 1] - a, o = s->rowptr[i];
        const float w = deg > f ? (float)((double)deg / f) : 1.0f;
        int c = cr__sub_draw(A, v, f, seed, s->col + o), j;
        for (j = 0; j < c; j++) {
            int64_t p = a + s->col[o + j];
            s->col[o + j] = A->col[p];
            s->val[o + j] = A->val[p] * w;
        }
    }
    for (e = s->rowptr[from]; e < s->rowptr[to]; e++) cr__sub_push(g, s->col[e], &n);
    g->sub_n[0] = n;
}

/* A new set of target nodes; then cr__sub_add each (duplicates skipped), then a build. */
static void cr__sub_begin(cr_model *m) {
    cr__graph *g = &m->g;
    if (++g->sub_gen == INT32_MAX) { /* marks are compared with the batch's generation */
        memset(g->sub_mark, 0, (size_t)m->n_nodes * sizeof(int32_t));
        g->sub_gen = 1;
    }
    g->sub_n[m->cfg.layers] = 0;
}

static void cr__sub_add(cr_model *m, int32_t v) { cr__sub_push(&m->g, v, &m->g.sub_n[m->cfg.layers]); }

/* The rows [0, F->nrows) of F (columns: positions), transposed into T with `rows` rows: each
   row's entries in increasing order of F's rows, so the sums do not depend on threads. */
static void cr__sub_transpose(cr_csr *T, const cr_csr *F, int64_t rows) {
    int64_t r, e, n = F->rowptr[F->nrows];
    memset(T->rowptr, 0, (size_t)(rows + 2) * sizeof(int64_t));
    for (e = 0; e < n; e++) T->rowptr[F->col[e] + 2]++;
    for (r = 2; r <= rows + 1; r++) T->rowptr[r] += T->rowptr[r - 1];
    for (r = 0; r < F->nrows; r++)
        for (e = F->rowptr[r]; e < F->rowptr[r + 1]; e++) {
            int64_t p = T->rowptr[F->col[e] + 1]++;
            T->col[p] = (int32_t)r;
            T->val[p] = F->val[e];
        }
    T->nrows = rows;
    T->ncols = F->nrows;
    T->nnz = n;
}

/* The sampled graph of the targets added since cr__sub_begin: the levels, each expanded node's
   draw (a node is drawn once, when it enters a level below K: its neighbours in the levels
   above are in its level already), and the matrices of both passes. seed: the batch's. */
static void cr__sub_build_sampled(cr_model *m, uint64_t seed) {
    cr__graph *g = &m->g;
    cr_csr *s = &g->sub_s;
    int K = m->cfg.layers, k;
    int64_t i, e;
    seed = cr_hash64(seed, 0x66616e6f7574ULL);
    s->rowptr[0] = 0;
    g->sub_n[0] = g->sub_n[K];
    for (k = K; k >= 1; k--) { /* level k-1: level k and the draws of its nodes not drawn yet */
        cr__sub_expand(m, k == K ? 0 : g->sub_n[k + 1], g->sub_n[k], seed);
        g->sub_n[k - 1] = g->sub_n[0];
    }
    e = s->rowptr[g->sub_n[1]];
    for (i = 0; i < e; i++) g->sub_scol[i] = g->sub_idx[s->col[i]];
    for (k = 1; k <= K; k++) { /* forward: level k's rows, a prefix of the draws; backward: its transpose */
        cr_csr *fw = &g->sub_fw[k];
        fw->nrows = g->sub_n[k];
        fw->ncols = g->sub_n[k - 1];
        fw->rowptr = s->rowptr;
        fw->col = g->sub_scol;
        fw->val = s->val;
        fw->nnz = s->rowptr[fw->nrows];
        cr__sub_transpose(&g->sub_bw[k], fw, g->sub_n[k - 1]);
        if (k == 1) { /* layer 1 reads the ego table by node id */
            fw->col = s->col;
            fw->ncols = m->n_nodes;
        }
    }
}

/* The rows of A listed in nodes[0..n), each entry's column mapped through g->sub_idx (map 1)
   or kept (map 0), entries whose node's position is not below keep_below left out. */
static void cr__sub_matrix(cr_model *m, cr_csr *out, int64_t n, int map, int64_t keep_below, int64_t ncols) {
    const cr__graph *g = &m->g;
    const cr_csr *A = &g->adj;
    int64_t r, e, k = 0;
    out->nrows = n;
    out->ncols = ncols;
    out->rowptr[0] = 0;
    for (r = 0; r < n; r++) {
        int32_t v = g->sub_nodes[r];
        for (e = A->rowptr[v]; e < A->rowptr[v + 1]; e++) {
            int32_t c = A->col[e];
            if (g->sub_mark[c] != g->sub_gen || g->sub_idx[c] >= keep_below) continue;
            out->col[k] = map ? g->sub_idx[c] : c;
            out->val[k++] = A->val[e];
        }
        out->rowptr[r + 1] = k;
    }
    out->nnz = k;
}

/* The levels of the distinct nodes S (nS of them, node ids; S may be g->sub_nodes itself) and
   the matrices of both passes, every neighbour kept. */
static void cr__sub_build(cr_model *m, const int32_t *S, int64_t nS) {
    cr__graph *g = &m->g;
    const cr_csr *A = &g->adj;
    int64_t n, i, e;
    int K = m->cfg.layers, k;
    cr__sub_begin(m);
    for (i = 0; i < nS; i++) cr__sub_add(m, S[i]);
    n = g->sub_n[K];
    for (k = K; k >= 1; k--) { /* level k-1: level k and its neighbours */
        int64_t top = g->sub_n[k];
        for (i = 0; i < top; i++)
            for (e = A->rowptr[g->sub_nodes[i]]; e < A->rowptr[g->sub_nodes[i] + 1]; e++)
                cr__sub_push(g, A->col[e], &n);
        g->sub_n[k - 1] = n;
    }
    for (k = 1; k <= K; k++) {
        /* forward: level k's rows over level k-1's (layer 1 reads the ego table by node id) */
        cr__sub_matrix(m, &g->sub_fw[k], g->sub_n[k], k > 1, INT64_MAX, k > 1 ? g->sub_n[k - 1] : m->n_nodes);
        /* backward: level k-1's rows over level k's */
        cr__sub_matrix(m, &g->sub_bw[k], g->sub_n[k - 1], 1, g->sub_n[k], g->sub_n[k]);
    }
}

/* Forward: the layer mean of the rows of S (the build's) into g->sub_out, as cr__prop_forward
   computes them, with each layer's SimGCL noise when eps > 0 (drawn by node, as there) and
   layer keep_k's rows of S copied to keep (keep_k 0: none); t0, t1 hold the levels. */
static void cr__sub_forward(cr_model *m, float eps, uint64_t noise_seed, int keep_k, float *keep) {
    cr__graph *g = &m->g;
    int64_t nS = g->sub_n[m->cfg.layers], i, d = m->cfg.dim;
    int K = m->cfg.layers, first = m->ops->first_layer, k;
    float c = 1.0f / (float)(K + 1 - first), *out = g->sub_out;
    const float *cur = m->E0;
    for (i = 0; i < nS; i++) {
        const float *e0 = m->E0 + (int64_t)g->sub_nodes[i] * d;
        int j;
        for (j = 0; j < d; j++) out[i * d + j] = first == 0 ? c * e0[j] : 0.0f;
    }
    for (k = 1; k <= K; k++) {
        float *nx = (k & 1) ? g->t0 : g->t1;
        cr_spmm(&g->sub_fw[k], cur, (int)d, nx);
        if (eps > 0)
            cr__layer_post(nx, NULL, 0, 0, g->sub_n[k], (int)d, eps, cr_hash64(noise_seed, (uint64_t)(k - 1)), NULL,
                           g->sub_nodes, NULL, 0);
        for (i = 0; i < nS * d; i++) out[i] += c * nx[i];
        if (k == keep_k) memcpy(keep, nx, (size_t)(nS * d) * sizeof(float));
        cur = nx;
    }
}

/* Backward: the gradient g->sub_dout of the rows of S (and dkeep, that of layer keep_k's rows of
   S; keep_k 0: none) into the ego gradient, as cr__prop_backward computes it. */
static void cr__sub_backward(cr_model *m, int keep_k, const float *dkeep) {
    cr__graph *g = &m->g;
    int64_t nS = g->sub_n[m->cfg.layers], i, d = m->cfg.dim;
    int K = m->cfg.layers, first = m->ops->first_layer, k;
    float c = 1.0f / (float)(K + 1 - first), *gk = g->t0;
    const float *dout = g->sub_dout;
    for (i = 0; i < nS * d; i++) gk[i] = c * dout[i] + (keep_k == K ? dkeep[i] : 0.0f);
    for (k = K - 1; k >= 0; k--) {
        float *h = gk == g->t0 ? g->t1 : g->t0, cc = k >= first ? c : 0.0f;
        cr_spmm(&g->sub_bw[k + 1], gk, (int)d, h);
        if (k == 0) { /* the nodes are distinct: rows split over threads without a race */
            CR__OMP(parallel for schedule(static) if (g->sub_n[0] * d > ((int64_t)1 << 16)))
            for (i = 0; i < g->sub_n[0]; i++) {
                float *de = m->dE0 + (int64_t)g->sub_nodes[i] * d;
                int j;
                if (i < nS)
                    for (j = 0; j < d; j++) de[j] += h[i * d + j] + cc * dout[i * d + j];
                else
                    for (j = 0; j < d; j++) de[j] += h[i * d + j];
            }
            return;
        }
        for (i = 0; i < nS * d; i++) h[i] += cc * dout[i] + (keep_k == k ? dkeep[i] : 0.0f);
        gk = h;
    }
}

static void cr__gather_rows(float *dst, const float *src, const int32_t *idx, int n, int d, int64_t off) {
    int i;
    for (i = 0; i < n; i++) memcpy(dst + (int64_t)i * d, src + (off + idx[i]) * d, (size_t)d * sizeof(float));
}

static void cr__scatter_add_rows(float *dst, const float *src, const int32_t *idx, int n, int d, int64_t off) {
    int i;
    for (i = 0; i < n; i++) cr_vaxpy(dst + (off + idx[i]) * d, 1.0f, src + (int64_t)i * d, d);
}

/* The distinct values of idx[0..n) in order of first appearance. */
static int cr__unique(cr_model *m, const int32_t *idx, int n, int32_t *out) {
    cr__graph *g = &m->g;
    int i, k = 0;
    if (++g->stamp_cur == INT32_MAX) {
        memset(g->stamp, 0, (size_t)(CR__MAX(m->n_users, m->n_items) + 1) * sizeof(int32_t));
        g->stamp_cur = 1;
    }
    for (i = 0; i < n; i++)
        if (g->stamp[idx[i]] != g->stamp_cur) {
            g->stamp[idx[i]] = g->stamp_cur;
            out[k++] = idx[i];
        }
    return k;
}

/* M negatives per user, uniform over the items, rejecting the user's training items
   (SELFRec's and LightGCN's scheme); out is (B, M). */
static void cr__draw_negatives(const cr_model *m, const int32_t *users, int B, int M, int32_t *out, uint64_t seed) {
    cr_rng r = cr_rng_stream(seed, 0x6e6567);
    int b, k, tries;
    for (b = 0; b < B; b++)
        for (k = 0; k < M; k++) {
            int32_t j = 0;
            for (tries = 0; tries < 64; tries++) { /* a user who has nearly every item gives up */
                j = (int32_t)cr_rng_below(&r, (uint32_t)m->n_items);
                /* with features, an untrained item's vector comes from its features: drawing it
                   as a negative would teach them that it is unwanted before anyone saw it */
                if (!cr__csr_has(&m->hist, users[b], j) && (!m->ifeat.rowptr || m->item_deg[j])) break;
            }
            out[(int64_t)b * M + k] = j;
        }
}

/* DNS (Zhang et al., SIGIR 2013): of each row's M candidates, the one the current model scores
   highest, <F_u, F_c> (ties: the first). */
static void cr__dns_pick(const cr_model *m, const cr__batch *b, const float *F, int32_t *neg) {
    int i, d = m->cfg.dim, M = b->n_cand;
    int64_t Uo = m->n_users;
    CR__OMP(parallel for schedule(static) if ((int64_t)b->n * M * d > 65536))
    for (i = 0; i < b->n; i++) {
        const int32_t *c = b->cand + (int64_t)i * M;
        const float *u = F + (int64_t)b->users[i] * d;
        float best = -INFINITY;
        int k;
        neg[i] = c[0];
        for (k = 0; k < M; k++) { /* scattered rows: each asked for 8 ahead */
            float s;
            if (k + 8 < M) cr__prefetch_span(F + (Uo + c[k + 8]) * d, (int64_t)d * 4);
            s = cr_vdot(u, F + (Uo + c[k]) * d, d);
            if (s > best) { best = s; neg[i] = c[k]; }
        }
    }
}

/* BPR with RCL's confidence weights (gamma > 0): row b weighted by c_b = sigmoid(x_b)^gamma,
   x_b = <u,p> - <u,n>, the model's own probability of the observed order held constant (the
   reweighted loss R-CE of Wang et al., WSDM 2021, in BPR's pairwise form: a pair the model
   finds unlikely, such as a noisy interaction, counts less); loss = sum_b c_b l_b / sum_b c_b.
   gamma 0 is cr_bpr_loss. Same arguments as cr_bpr_loss (weight 1). */
static double cr__bpr_conf_loss(float *du, float *dp, float *dn, const float *u, const float *p, const float *n, int B,
                                int d, float gamma) {
    double loss = 0, C = 0;
    int b, j;
    if (gamma <= 0) return cr_bpr_loss(du, dp, dn, u, p, n, B, d, 1.0f);
    for (b = 0; b < B; b++) { /* c_b = exp(-gamma softplus(-x_b)) */
        const float *ub = u + (int64_t)b * d;
        double x = cr_vdot(ub, p + (int64_t)b * d, d) - cr_vdot(ub, n + (int64_t)b * d, d);
        C += exp(-gamma * (x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x))));
    }
    for (b = 0; b < B && C > 0; b++) {
        const float *ub = u + (int64_t)b * d, *pb = p + (int64_t)b * d, *nb = n + (int64_t)b * d;
        double x = cr_vdot(ub, pb, d) - cr_vdot(ub, nb, d), l = x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x));
        double c = exp(-gamma * l) / C;
        float g = (float)(-c / (1.0 + exp(x)));
        loss += c * l;
        if (!du) continue;
        for (j = 0; j < d; j++) {
            du[(int64_t)b * d + j] += g * (pb[j] - nb[j]);
            dp[(int64_t)b * d + j] += g * ub[j];
            dn[(int64_t)b * d + j] -= g * ub[j];
        }
    }
    return loss;
}

/* BPR on the rows of F (the encoder's output, or the ego table for MF) for the batch's users,
   positives and negatives (the given ones, or DNS's picks), plus the L2 term; the gradients go
   into dF (BPR, and SELFRec's L2 on final rows) and into the ego gradient (the papers' L2).
   part[0] = BPR, part[2] = L2. */
static void cr__graph_bpr_rows(cr_model *m, const cr__batch *b, const int32_t *negs, const float *F, float *dF,
                               int want_grad, double part[3]) {
    const cr_config *c = &m->cfg;
    int B = b->n, d = c->dim, i, Bl;
    int64_t Uo = m->n_users, lo, hi;
    float *E0 = m->E0, *G0 = m->dE0;
    float *gu = m->g.rows, *gp = gu + (int64_t)B * d, *gn = gp + (int64_t)B * d;
    float *du = m->g.drows, *dp = du + (int64_t)B * d, *dn = dp + (int64_t)B * d;
    const int32_t *us, *ps, *ns;
    cr__my_rows(B, &lo, &hi); /* over MPI this process's rows, each weighted 1 / B as in the whole batch */
    Bl = (int)(hi - lo), us = b->users + lo, ps = b->pos + lo, ns = negs + lo;
    cr__gather_rows(gu, F, us, Bl, d, 0);
    cr__gather_rows(gp, F, ps, Bl, d, Uo);
    cr__gather_rows(gn, F, ns, Bl, d, Uo);
    memset(du, 0, (size_t)3 * B * d * sizeof(float));
    part[0] = Bl < 1 ? 0.0
                     : Bl == B ? cr__bpr_conf_loss(want_grad ? du : NULL, dp, dn, gu, gp, gn, B, d, c->gamma)
                               : cr_bpr_loss(want_grad ? du : NULL, dp, dn, gu, gp, gn, Bl, d, (float)Bl / (float)B);
    if (c->reg > 0 && !c->l2_selfrec && !c->l2_recbole) { /* reg/2 * (|u|^2 + |p|^2 + |n|^2) / B on the ego rows */
        for (i = 0; i < Bl; i++) { /* rows from anywhere in the tables: asked for 8 rows ahead */
            if (i + 8 < Bl) {
                const int64_t ro[3] = {us[i + 8], Uo + ps[i + 8], Uo + ns[i + 8]};
                int j;
                for (j = 0; j < 3; j++) {
                    cr__prefetch_span(E0 + ro[j] * d, (int64_t)d * 4);
                    if (want_grad) cr__prefetch_span(G0 + ro[j] * d, (int64_t)d * 4);
                }
            }
            part[2] += cr_l2_loss(want_grad ? G0 + (int64_t)us[i] * d : NULL, E0 + (int64_t)us[i] * d, d, c->reg,
                                  (float)B);
            part[2] += cr_l2_loss(want_grad ? G0 + (Uo + ps[i]) * d : NULL, E0 + (Uo + ps[i]) * d, d, c->reg, (float)B);
            part[2] += cr_l2_loss(want_grad ? G0 + (Uo + ns[i]) * d : NULL, E0 + (Uo + ns[i]) * d, d, c->reg, (float)B);
        }
    } else if (c->reg > 0 && cr_mpi_rank() == 0) { /* a norm of the whole batch: process 0 takes it */
        /* SELFRec: reg * sum_T ||T||_F / rows(T); MF and LightGCN on the ego rows and divided
           by the batch once more, SGL on the final rows of (u, p, n), SimGCL and XSimGCL on
           the final rows of (u, p). RecBole's EmbLoss (l2_recbole): the same on the ego rows of
           (u, p, n), divided by the batch once */
        int rb = c->l2_recbole, ego = rb || m->ops->l2_selfrec == CR__L2_EGO;
        int nt = !rb && m->ops->l2_selfrec == CR__L2_FINAL_UP ? 2 : 3;
        const int32_t *ids[3];
        float w = ego && !rb ? c->reg / (float)B : c->reg, *dst = ego ? G0 : dF, *tmp = m->g.l2rows;
        const float *src = ego ? E0 : F;
        ids[0] = b->users; ids[1] = b->pos; ids[2] = negs;
        for (i = 0; i < nt; i++) {
            int64_t off = i ? Uo : 0;
            cr__gather_rows(tmp, src, ids[i], B, d, off);
            if (want_grad) memset(tmp + (int64_t)B * d, 0, (size_t)B * d * sizeof(float));
            part[2] += cr_l2_frobenius_loss(want_grad ? tmp + (int64_t)B * d : NULL, tmp, B, d, w);
            if (want_grad) cr__scatter_add_rows(dst, tmp + (int64_t)B * d, ids[i], B, d, off);
        }
    }
    if (want_grad) {
        cr__scatter_add_rows(dF, du, us, Bl, d, 0);
        cr__scatter_add_rows(dF, dp, ps, Bl, d, Uo);
        cr__scatter_add_rows(dF, dn, ns, Bl, d, Uo);
    }
}

/* MixGCF (Huang et al., KDD 2021): a synthetic negative per row. Layer by layer l = 0..K,
   positive mixing e'_c = a_l e_p + (1 - a_l) e_c (a_l ~ U(0,1) per row and layer) and hop
   mixing: the candidate j_l maximising <s_u, e'_c^(l)> with s_u the user's pooled embedding
   (for a_l < 1 that is the candidate maximising <s_u, e_c^(l)>); the negative is the model's
   pooling (mean of layers first..K) of e'_{j_l}^(l). BPR on (F_u, F_p, negative); L2 on the
   ego rows of u and p and on the layer-0 mix (the authors' form). The gradient of the negative
   flows to the positive's and the chosen candidates' layer outputs (dL[l]; dL[0] is the ego
   gradient itself). L[l] are the training pass's layer outputs (L[0] the ego table). */
static void cr__graph_bpr_mixgcf(cr_model *m, const cr__batch *b, float *const *L, float *const *dL, const float *F,
                                 float *dF, int want_grad, double part[3]) {
    const cr_config *c = &m->cfg;
    cr__graph *g = &m->g;
    int B = b->n, d = c->dim, K = c->layers, first = m->ops->first_layer, M = b->n_cand, i, nl = K + 1;
    int64_t Uo = m->n_users;
    float *gu = g->rows, *gp = gu + (int64_t)B * d, *gn = gp + (int64_t)B * d;
    float *du = g->drows, *dp = du + (int64_t)B * d, *dn = dp + (int64_t)B * d, pool = 1.0f / (float)(K + 1 - first);
    CR__OMP(parallel for schedule(static) if ((int64_t)B * M * nl * d > 65536))
    for (i = 0; i < B; i++) {
        cr_rng r = cr_rng_stream(b->seed ^ 0x6d6978676366ULL, (uint64_t)i);
        const int32_t *cand = b->cand + (int64_t)i * M;
        const float *s = F + (int64_t)b->users[i] * d;
        float *n = gn + (int64_t)i * d;
        int k, j, l; /* the row's own: a layer counter shared by the threads raced (rows left unmixed) */
        memset(n, 0, (size_t)d * sizeof(float));
        for (l = 0; l < nl; l++) {
            float a = cr_rng_float(&r), best = -INFINITY;
            const float *Ll = L[l];
            int32_t pick = cand[0];
            for (k = 0; k < M; k++) { /* the candidates' rows are scattered: each asked for 8 ahead */
                float v;                 /*   (past the last, the next layer's first ones) */
                if (k + 8 < M) cr__prefetch_span(Ll + (Uo + cand[k + 8]) * d, (int64_t)d * 4);
                else if (l + 1 < nl && k + 8 - M < M)
                    cr__prefetch_span(L[l + 1] + (Uo + cand[k + 8 - M]) * d, (int64_t)d * 4);
                v = cr_vdot(s, Ll + (Uo + cand[k]) * d, d);
                if (v > best) { best = v; pick = cand[k]; }
            }
            g->mix_a[(int64_t)i * nl + l] = a;
            g->mix_j[(int64_t)i * nl + l] = pick;
            if (l < first) continue;
            for (j = 0; j < d; j++)
                n[j] += pool * (a * Ll[(Uo + b->pos[i]) * d + j] + (1.0f - a) * Ll[(Uo + pick) * d + j]);
        }
    }
    cr__gather_rows(gu, F, b->users, B, d, 0);
    cr__gather_rows(gp, F, b->pos, B, d, Uo);
    memset(du, 0, (size_t)3 * B * d * sizeof(float));
    part[0] = cr__bpr_conf_loss(want_grad ? du : NULL, dp, dn, gu, gp, gn, B, d, c->gamma);
    if (c->reg > 0) { /* reg/2 (|u0|^2 + |p0|^2 + |n0|^2) / B, n0 = a_0 p0 + (1 - a_0) j_0 */
        float *n0 = g->l2rows;
        for (i = 0; i < B; i++) {
            float a = g->mix_a[(int64_t)i * nl];
            int32_t j0 = g->mix_j[(int64_t)i * nl], pi = b->pos[i];
            int j;
            part[2] += cr_l2_loss(want_grad ? m->dE0 + (int64_t)b->users[i] * d : NULL,
                                  m->E0 + (int64_t)b->users[i] * d, d, c->reg, (float)B);
            part[2] +=
                cr_l2_loss(want_grad ? m->dE0 + (Uo + pi) * d : NULL, m->E0 + (Uo + pi) * d, d, c->reg, (float)B);
            for (j = 0; j < d; j++) n0[j] = a * m->E0[(Uo + pi) * d + j] + (1.0f - a) * m->E0[(Uo + j0) * d + j];
            memset(n0 + d, 0, (size_t)d * sizeof(float));
            part[2] += cr_l2_loss(want_grad ? n0 + d : NULL, n0, d, c->reg, (float)B);
            if (want_grad) {
                cr_vaxpy(m->dE0 + (Uo + pi) * d, a, n0 + d, d);
                cr_vaxpy(m->dE0 + (Uo + j0) * d, 1.0f - a, n0 + d, d);
            }
        }
    }
    if (!want_grad) return;
    cr__scatter_add_rows(dF, du, b->users, B, d, 0);
    cr__scatter_add_rows(dF, dp, b->pos, B, d, Uo);
    /* forward: n = pool * sum_l (a_l L_l[p] + (1 - a_l) L_l[j_l]) */
    for (i = 0; i < B; i++) {
        int l;
        for (l = first; l < nl; l++) {
            float a = g->mix_a[(int64_t)i * nl + l];
            cr_vaxpy(dL[l] + (Uo + b->pos[i]) * d, pool * a, dn + (int64_t)i * d, d);
            cr_vaxpy(dL[l] + (Uo + g->mix_j[(int64_t)i * nl + l]) * d, pool * (1.0f - a), dn + (int64_t)i * d, d);
        }
    }
}

/* The BPR part of every BPR-trained graph model, with the configured negatives. L and dL are
   the training pass's layer outputs and their gradients (used by MixGCF only). */
/* The attribute-ID contrast (attr_w > 0): each of the batch's unique positive items that has
   features, as the weighted mean of its features' rows (q), against its own row of the table
   BPR scores (k): InfoNCE over the batch's items (cosine, attr_tau), so that the features learn
   to stand in for what the interactions taught the item's vector (CLCRec's content-collaborative
   contrast, with attributes as the content). Items that nobody trained on are then served
   from q (cr__graph_prepare). k is a stop-gradient target: the gradient reaches the features
   alone. CLCRec trains both sides; on Amazon-Beauty that pulled items with the same brand and
   categories together and validation NDCG@20 peaked at epoch 7 and fell (bench/RESULTS.md). */
/* The unique items of items[0..n) that have features, in order, into out; their count. */
static int cr__feature_items(cr_model *m, const int32_t *items, int n_in, int32_t *out) {
    cr__graph *g = &m->g;
    int i, n = 0;
    if (++g->istamp_cur == INT32_MAX) {
        memset(g->istamp, 0, ((size_t)m->n_items + 1) * sizeof(int32_t));
        g->istamp_cur = 1;
    }
    for (i = 0; i < n_in; i++) {
        int32_t it = items[i];
        if (g->istamp[it] == g->istamp_cur || m->ifeat.rowptr[it] == m->ifeat.rowptr[it + 1]) continue;
        g->istamp[it] = g->istamp_cur;
        out[n++] = it;
    }
    return n;
}

static double cr__graph_attr(cr_model *m, const cr__batch *b, const float *F, int want_grad) {
    cr__graph *g = &m->g;
    int d = m->cfg.dim, n = cr__feature_items(m, b->pos, b->n, g->aitems), r;
    int64_t Uo = m->n_users, p;
    float *gf;
    double loss;
    if (n < 2) return 0;
    CR__OMP(parallel for schedule(static))
    for (r = 0; r < n; r++) cr__feature_vector(m, g->aitems[r], g->aq + (int64_t)r * d);
    cr__gather_rows(g->ak, F, g->aitems, n, d, Uo);
    if (want_grad) memset(g->daq, 0, (size_t)n * d * sizeof(float));
    loss = cr_infonce_loss(want_grad ? g->daq : NULL, NULL, g->aq, g->ak, n, n, d, NULL, NULL, m->cfg.attr_tau,
                           m->cfg.attr_w, g->ance);
    if (!want_grad) return loss;
    gf = cr__tensor_grad(m, "feat_emb");
    for (r = 0; r < n; r++) /* in row order: a feature shared by several items sums them in a fixed order */
        for (p = m->ifeat.rowptr[g->aitems[r]]; p < m->ifeat.rowptr[g->aitems[r] + 1]; p++)
            cr_vaxpy(gf + (int64_t)m->ifeat.col[p] * d, m->ifeat.val[p], g->daq + (int64_t)r * d, d);
    return loss;
}

/* Feature masking as a contrastive view (Yao et al., CIKM 2021, "Self-supervised Learning for
   Large-scale Item Recommendations"; the node-feature masking of graph contrastive learning):
   two complementary views of an item, view 1 the weighted mean of a set A of its features and
   view 2 that of the rest (Yao et al.'s complementary masks, LibRecommender's
   rfm-complementary), so an item with two or more features never gets two equal views. View 1
   masks k = round(fm_rate n) of the n features, at least one and at most n - 1: random, k drawn
   uniformly; correlated, a random seed feature and the k - 1 with the highest PMI to it
   (cr__features_cooccur). The views go through a projection head of their own and are
   contrasted with InfoNCE (tau, weight fm_w) over as many items as the batch has rows, drawn
   uniformly without replacement from the items with two or more features: Yao et al. sample
   the SSL items from the catalogue, not from the training batch, and find that critical (a
   batch's items follow popularity, so the head items would get the contrast and the tail,
   which needs it, hardly any). The draw and the masks come from the batch's stream.
   The item ID is not a maskable feature here, unlike Yao et al.'s two-tower model: the ID row
   is the collaborative part the recommendation loss trains, and the contrast is there to make
   the features alone tell items apart, for items whose ID row is untrained (cold items, served
   from their features); a view holding the ID could be matched through it and leave the
   features untrained. The gradient reaches the feature table and the head. */
static void cr__fm_mask(const cr_model *m, int32_t it, uint64_t seed, uint8_t *keep) { /* view 1's; view 2: the rest */
    int64_t a = m->ifeat.rowptr[it];
    int n = (int)(m->ifeat.rowptr[it + 1] - a), j, q, k, s, left;
    cr_rng r = cr_rng_stream(seed, (uint64_t)it);
    for (j = 0; j < n; j++) keep[j] = 1;
    if (n < 2) return;
    k = (int)CR__MIN((int64_t)n - 1, CR__MAX((int64_t)1, (int64_t)floor(m->cfg.fm_rate * n + 0.5)));
    if (!m->cfg.fm_corr) { /* k of n uniformly (selection sampling) */
        for (j = 0, left = k; j < n; j++)
            if (cr_rng_below(&r, (uint32_t)(n - j)) < (uint32_t)left) { keep[j] = 0; left--; }
        return;
    }
    s = (int)cr_rng_below(&r, (uint32_t)n);
    keep[s] = 0;
    for (q = 1; q < k; q++) { /* the next highest PMI with the seed (ties: the first) */
        const float *co = m->fco + m->fco_off[it] + (int64_t)s * n;
        int best = -1;
        for (j = 0; j < n; j++)
            if (keep[j] && (best < 0 || co[j] > co[best])) best = j;
        keep[best] = 0;
    }
}

/* want items drawn uniformly without replacement from the items with two or more features
   (all of them when there are no more): the contrast's items, into out; their count. */
static int cr__fm_draw(cr_model *m, int want, uint64_t batch_seed, int32_t *out) {
    cr__graph *g = &m->g;
    cr_rng r = cr_rng_stream(batch_seed, 0x666d6974656dULL);
    int n = 0;
    if (want >= m->fm_npool) {
        memcpy(out, m->fm_pool, (size_t)m->fm_npool * sizeof(int32_t));
        return m->fm_npool;
    }
    if (++g->istamp_cur == INT32_MAX) {
        memset(g->istamp, 0, ((size_t)m->n_items + 1) * sizeof(int32_t));
        g->istamp_cur = 1;
    }
    while (n < want) {
        int32_t it = m->fm_pool[cr_rng_below(&r, (uint32_t)m->fm_npool)];
        if (g->istamp[it] == g->istamp_cur) continue;
        g->istamp[it] = g->istamp_cur;
        out[n++] = it;
    }
    return n;
}

/* A view: the weighted mean of the kept features' rows. */
static void cr__fm_view(const cr_model *m, int32_t it, const uint8_t *keep, float *out) {
    const float *fe = cr__tensor(m, "feat_emb");
    int64_t a = m->ifeat.rowptr[it], j, n = m->ifeat.rowptr[it + 1] - a;
    int d = m->cfg.dim;
    double W = 0;
    for (j = 0; j < n; j++) W += keep[j] ? m->ifeat.val[a + j] : 0.0;
    memset(out, 0, (size_t)d * sizeof(float));
    for (j = 0; j < n; j++)
        if (keep[j]) cr_vaxpy(out, (float)(m->ifeat.val[a + j] / W), fe + (int64_t)m->ifeat.col[a + j] * d, d);
}

static double cr__fmask_loss(cr_model *m, int n_items, uint64_t batch_seed, int want_grad) {
    cr__graph *g = &m->g;
    int d = m->cfg.dim, n = cr__fm_draw(m, n_items, batch_seed, g->fitems), r, v, F = m->fmax;
    uint64_t seed = cr_hash64(batch_seed, 0x666d61736bULL);
    const float *w1 = cr__tensor(m, "fm_w1"), *b1 = cr__tensor(m, "fm_b1"), *w2 = cr__tensor(m, "fm_w2"),
                *b2 = cr__tensor(m, "fm_b2");
    float *gf;
    double loss;
    if (n < 2) return 0;
    CR__OMP(parallel for schedule(static))
    for (r = 0; r < n; r++) {
        uint8_t *k0 = g->fkeep[0] + (int64_t)r * F, *k1 = g->fkeep[1] + (int64_t)r * F;
        int j, nf = (int)(m->ifeat.rowptr[g->fitems[r] + 1] - m->ifeat.rowptr[g->fitems[r]]);
        cr__fm_mask(m, g->fitems[r], seed, k0);
        for (j = 0; j < nf; j++) k1[j] = (uint8_t)(nf < 2 || !k0[j]);
        cr__fm_view(m, g->fitems[r], k0, g->fv[0] + (int64_t)r * d);
        cr__fm_view(m, g->fitems[r], k1, g->fv[1] + (int64_t)r * d);
    }
    for (v = 0; v < 2; v++) {
        cr__mlp2_forward(g->fz[v], g->fa1[v], g->fh, g->fv[v], w1, b1, w2, b2, n, d);
        if (want_grad) memset(g->fdz[v], 0, (size_t)n * d * sizeof(float));
    }
    loss = cr_infonce_loss(want_grad ? g->fdz[0] : NULL, want_grad ? g->fdz[1] : NULL, g->fz[0], g->fz[1], n, n, d,
                           NULL, NULL, m->cfg.tau, m->cfg.fm_w, g->fnce);
    if (!want_grad) return loss;
    gf = cr__tensor_grad(m, "feat_emb");
    for (v = 0; v < 2; v++) {
        cr__mlp2_backward(g->fdv, cr__tensor_grad(m, "fm_w1"), cr__tensor_grad(m, "fm_b1"), cr__tensor_grad(m, "fm_w2"),
                          cr__tensor_grad(m, "fm_b2"), g->fdz[v], g->fa1[v], g->fh, g->fv[v], w1, w2, n, d);
        for (r = 0; r < n; r++) { /* through the view's weighted mean, in row order */
            int32_t it = g->fitems[r];
            const uint8_t *keep = g->fkeep[v] + (int64_t)r * F;
            int64_t a = m->ifeat.rowptr[it], j, nf = m->ifeat.rowptr[it + 1] - a;
            double W = 0;
            for (j = 0; j < nf; j++) W += keep[j] ? m->ifeat.val[a + j] : 0.0;
            for (j = 0; j < nf; j++)
                if (keep[j])
                    cr_vaxpy(gf + (int64_t)m->ifeat.col[a + j] * d, (float)(m->ifeat.val[a + j] / W),
                             g->fdv + (int64_t)r * d, d);
        }
    }
    return loss;
}

static void cr__graph_bpr(cr_model *m, const cr__batch *b, float *const *L, float *const *dL, const float *F, float *dF,
                          int want_grad, double part[3]) {
    int ph = cr__prof_to(CR_PHASE_REC);
    if (m->cfg.neg == CR_NEG_MIXGCF) cr__graph_bpr_mixgcf(m, b, L, dL, F, dF, want_grad, part);
    else if (b->n_cand > 1) { /* DNS */
        cr__dns_pick(m, b, F, m->g.neg);
        cr__graph_bpr_rows(m, b, m->g.neg, F, dF, want_grad, part);
    } else
        cr__graph_bpr_rows(m, b, b->cand, F, dF, want_grad, part);
    cr__prof_to(CR_PHASE_CONTRAST);
    if (m->cfg.attr_w > 0) part[1] += cr__graph_attr(m, b, F, want_grad);
    if (m->cfg.fm_w > 0) part[1] += cr__fmask_loss(m, b->n, b->seed, want_grad);
    cr__prof_to(ph);
}

/* InfoNCE (weight lambda, temperature tau) between the rows of two (N, d) tables A and Bt:
   the given users, then the given items, stacked, each row's positive being the same node in
   Bt and the other rows its negatives; with cl_negatives, that many uniformly drawn items of
   Bt are added as negatives when items are contrasted ("mixed negatives"); with proj_head, both
   sides go through the shared projection head first. Gradients are added to the rows of dA
   and dB (and to the head's parameters). o: RCL's robust form (NULL: plain InfoNCE). */
static double cr__graph_infonce(cr_model *m, const cr__batch *b, float *dA, float *dB, const float *A, const float *Bt,
                                const int32_t *users, int nu, const int32_t *items, int ni, const cr_infonce_opts *o,
                                int want_grad) {
    cr__graph *g = &m->g;
    int d = m->cfg.dim, n = nu + ni, ne = ni > 0 ? m->cfg.cl_negatives : 0, nk = n + ne, k;
    int ph = cr__prof_to(CR_PHASE_CONTRAST);
    int64_t Uo = m->n_users;
    float *q = g->cq, *kk = g->ck, *dq = g->dcq, *dk = g->dck;
    const float *w1 = NULL, *w2 = NULL;
    double l;
    cr__gather_rows(g->cq, A, users, nu, d, 0);
    cr__gather_rows(g->cq + (int64_t)nu * d, A, items, ni, d, Uo);
    cr__gather_rows(g->ck, Bt, users, nu, d, 0);
    cr__gather_rows(g->ck + (int64_t)nu * d, Bt, items, ni, d, Uo);
    if (ne) {
        cr_rng r = cr_rng_stream(b->seed, 0x636c6e6567ULL);
        for (k = 0; k < ne; k++) g->clneg[k] = (int32_t)cr_rng_below(&r, (uint32_t)m->n_items);
        cr__gather_rows(g->ck + (int64_t)n * d, Bt, g->clneg, ne, d, Uo);
    }
    if (m->cfg.proj_head) { /* z = head(rows); the loss is taken between the z's */
        w1 = cr__tensor(m, "proj_w1");
        w2 = cr__tensor(m, "proj_w2");
        cr__mlp2_forward(g->hq, g->ha1q, g->hh, g->cq, w1, cr__tensor(m, "proj_b1"), w2, cr__tensor(m, "proj_b2"), n,
                         d);
        cr__mlp2_forward(g->hk, g->ha1k, g->hh, g->ck, w1, cr__tensor(m, "proj_b1"), w2, cr__tensor(m, "proj_b2"), nk,
                         d);
        q = g->hq;
        kk = g->hk;
        dq = g->dhq;
        dk = g->dhk;
    }
    if (want_grad) {
        memset(dq, 0, (size_t)n * d * sizeof(float));
        memset(dk, 0, (size_t)nk * d * sizeof(float));
    }
    if (cr_mpi_size() > 1 && !cr__mpi_solo) { /* over MPI: this process's queries against every key, weighted as
                                                  in the whole batch */
        int64_t a, e, i;
        cr__my_rows(n, &a, &e);
        for (i = a; i < e; i++) g->qpos[i - a] = (int32_t)i;
        l = e <= a ? 0.0
                   : cr_infonce_loss_ex(want_grad ? dq + a * d : NULL, want_grad ? dk : NULL, q + a * d, kk,
                                        (int)(e - a), nk, d, g->qpos, NULL, m->cfg.tau,
                                        m->cfg.lambda * (float)(e - a) / (float)n, o, g->nce);
    } else
        l = cr_infonce_loss_ex(want_grad ? dq : NULL, want_grad ? dk : NULL, q, kk, n, nk, d, NULL, NULL, m->cfg.tau,
                               m->cfg.lambda, o, g->nce);
    if (!want_grad) {
        cr__prof_to(ph);
        return l;
    }
    if (m->cfg.proj_head) {
        float *gw1 = cr__tensor_grad(m, "proj_w1"), *gb1 = cr__tensor_grad(m, "proj_b1");
        float *gw2 = cr__tensor_grad(m, "proj_w2"), *gb2 = cr__tensor_grad(m, "proj_b2");
        cr__mlp2_backward(g->dcq, gw1, gb1, gw2, gb2, g->dhq, g->ha1q, g->hh, g->cq, w1, w2, n, d);
        cr__mlp2_backward(g->dck, gw1, gb1, gw2, gb2, g->dhk, g->ha1k, g->hh, g->ck, w1, w2, nk, d);
    }
    cr__scatter_add_rows(dA, g->dcq, users, nu, d, 0);
    cr__scatter_add_rows(dA, g->dcq + (int64_t)nu * d, items, ni, d, Uo);
    cr__scatter_add_rows(dB, g->dck, users, nu, d, 0);
    cr__scatter_add_rows(dB, g->dck + (int64_t)nu * d, items, ni, d, Uo);
    if (ne) cr__scatter_add_rows(dB, g->dck + (int64_t)n * d, g->clneg, ne, d, Uo);
    cr__prof_to(ph);
    return l;
}

/* g->top: the batch's users and positives and the n items of `items` marked (NULL when the
   configuration reads other rows: item features, extra InfoNCE negatives). */
static const uint8_t *cr__graph_mark(cr_model *m, const cr__batch *b, const int32_t *items, int64_t n) {
    cr__graph *g = &m->g;
    int64_t i;
    if (!g->top || m->cfg.cl_negatives || cr__uses_features(&m->cfg)) return NULL;
    memset(g->top, 0, (size_t)m->n_nodes);
    for (i = 0; i < b->n; i++) {
        g->top[b->users[i]] = 1;
        g->top[m->n_users + b->pos[i]] = 1;
    }
    for (i = 0; i < n; i++) g->top[m->n_users + items[i]] = 1;
    return g->top;
}

/* The nodes a BPR batch's losses read (its users, positives and negatives), for encodes whose
   output is read at those alone (the contrast's rows are among them): one uniform negative a
   row. NULL: every node. */
static const uint8_t *cr__graph_top(cr_model *m, const cr__batch *b) {
    if (b->n_cand != 1 || m->cfg.neg != CR_NEG_UNIFORM) return NULL;
    return cr__graph_mark(m, b, b->cand, b->n);
}

/* After MixGCF's loss: the nodes its gradients reach (the users, the positives and each layer's
   chosen candidate), the backward's marks. */
static const uint8_t *cr__mixgcf_top(cr_model *m, const cr__batch *b) {
    return cr__graph_mark(m, b, m->g.mix_j, (int64_t)b->n * (m->cfg.layers + 1));
}

/* The batch's unique users and items (the rows InfoNCE contrasts, as SELFRec's torch.unique). */
static void cr__graph_unique(cr_model *m, const cr__batch *b, int *nu, int *ni) {
    *nu = cr__unique(m, b->users, b->n, m->g.uu);
    *ni = cr__unique(m, b->pos, b->n, m->g.ui);
}

/* The options every graph model shares, checked before any work. */
static cr_status cr__graph_check(const cr_config *c) {
    if (c->fanout && (c->neg != CR_NEG_UNIFORM || c->cl_negatives || c->precision == CR_PRECISION_BF16))
        return cr__fail(CR_ERR_INVALID,
                        "config %s: fanout %d samples each batch's neighbourhood for one uniform negative a row in "
                        "float32 (neg uniform, cl_negatives 0, precision f32)",
                        cr_model_name(c->model), c->fanout);
    if (c->neg == CR_NEG_MIXGCF && (c->l2_selfrec || c->l2_recbole))
        return cr__fail(CR_ERR_INVALID,
                        "config %s: MixGCF takes the authors' L2 on the layer-0 mix (l2_selfrec 0, l2_recbole 0)",
                        cr_model_name(c->model));
    return CR_OK;
}

/* The item features' tensors, after a model's shared ones so that these draw the same initial
   values with features or without (a model's own tensors planned after this call, RecDCL's, do
   not): the feature table, and feature masking's projection head (its own). */
static cr_status cr__plan_features(cr_model *m) {
    const cr_config *c = &m->cfg;
    cr_status st;
    if (m->ifeat.rowptr && (st = cr__plan(m, "feat_emb", m->ifeat.ncols, c->dim, CR__INIT_XAVIER, 0)) != CR_OK)
        return st;
    if (!(c->fm_w > 0)) return CR_OK;
    if ((st = cr__plan(m, "fm_w1", c->dim, c->dim, CR__INIT_XAVIER, 0)) != CR_OK ||
        (st = cr__plan(m, "fm_b1", 1, c->dim, CR__INIT_ZERO, 0)) != CR_OK ||
        (st = cr__plan(m, "fm_w2", c->dim, c->dim, CR__INIT_XAVIER, 0)) != CR_OK)
        return st;
    return cr__plan(m, "fm_b2", 1, c->dim, CR__INIT_ZERO, 0);
}

/* Graph-model plan: one (U+I) x d table (users then items), the propagation's input, then the
   projection head when enabled.
   Why the ego tables start at a fixed scale (init FIXED, std 0.1) rather than Xavier's: Xavier
   over a (rows, 64) table gives rows of norm sqrt(2 d / rows), 0.27 for 1,682 items and 0.065
   for Gowalla's users, and symmetric-normalised propagation shrinks a random row by about
   1 / sqrt(degree) per hop. BPR's gradient scales with the rows (scores near 0 give it nothing
   to follow) while InfoNCE on normalised rows scales with 1 / |row|, so at Xavier's scale the
   contrastive gradient was 40x (SGL), 129x (XSimGCL) and 6,880x (SimGCL) BPR's on dense data;
   Adam normalises per coordinate, its step followed the contrast, and BPR sat at ln 2 for tens
   of epochs (SGL below a popularity ranking after 60). At std 0.1 SGL and LightGCN learn from
   the first epochs on dense data at the same final accuracy on sparse data (bench/notes/stall.md).
   SimGCL, XSimGCL and RCL (whose layer mean leaves out the ego layer) and RecDCL keep Xavier's:
   at std 0.1 SimGCL and XSimGCL did worse on dense data (test Recall@20 0.084 against 0.200,
   0.258 against 0.299), their Gowalla figures were measured with it, and RecDCL's authors use it. */
static cr_status cr__graph_plan(cr_model *m) {
    const cr_config *c = &m->cfg;
    int kind = c->init == CR_INIT_XAVIER ? CR__INIT_XAVIER : CR__INIT_UNIFORM;
    float a = (float)(0.1 * sqrt(3.0)); /* U(-a, a) has standard deviation 0.1 */
    cr_status st;
    if ((st = cr__plan(m, "user_emb", m->n_users, c->dim, kind, a)) != CR_OK) return st;
    if ((st = cr__plan(m, "item_emb", m->n_items, c->dim, kind, a)) != CR_OK) return st;
    /* users and items must be one contiguous (U+I) x d table for propagation */
    m->tensors[1].offset = m->tensors[0].offset + (int64_t)m->n_users * c->dim;
    m->n_param = ((int64_t)m->n_users + m->n_items) * c->dim;
    if (c->proj_head && (st = cr__plan_head(m)) != CR_OK) return st;
    return cr__plan_features(m);
}

/* What inference needs: the edge list (also the training examples) and, with propagation, the
   normalised graph, the final embeddings and two scratch tables. */
static cr_status cr__graph_setup(cr_model *m) {
    cr__graph *g = &m->g;
    int64_t N = m->n_nodes, e, u;
    cr_status st;
    g->n_edges = m->hist.nnz;
    g->eu = (int32_t *)cr__alloc_array((size_t)g->n_edges + 1, sizeof(int32_t), "edge list");
    g->ei = (int32_t *)cr__alloc_array((size_t)g->n_edges + 1, sizeof(int32_t), "edge list");
    if (!g->eu || !g->ei) return CR_ERR_NOMEM;
    for (u = 0; u < m->n_users; u++) /* the edge list, in the order of hist */
        for (e = m->hist.rowptr[u]; e < m->hist.rowptr[u + 1]; e++) {
            g->eu[e] = (int32_t)u;
            g->ei[e] = m->hist.col[e];
        }
    m->n_examples = g->n_edges;
    m->ex_user = g->eu;
    m->ex_item = g->ei;
    if (!m->cfg.layers) /* MF: its table is the ego table, or a copy where cold items get feature vectors */
        return m->cfg.attr_w > 0 && !(g->final = cr_alloc_floats(N * m->cfg.dim)) ? CR_ERR_NOMEM : CR_OK;
    if ((st = cr_graph_bipartite(&g->adj, m->n_users, m->n_items, g->n_edges, g->eu, g->ei, NULL)) != CR_OK) return st;
    if ((st = cr_graph_normalize_sym(&g->adj)) != CR_OK) return st;
    if (!(g->ord = (int32_t *)cr__alloc_array((size_t)N + 1, sizeof(int32_t), "node order")) ||
        (st = cr__graph_order(&g->adj, g->ord)) != CR_OK || (st = cr__csr_permute(&g->adj_o, &g->adj, g->ord)) != CR_OK)
        return st ? st : CR_ERR_NOMEM;
    if (!(g->final = cr_alloc_floats(N * m->cfg.dim)) || !(g->t0 = cr_alloc_floats(N * m->cfg.dim)) ||
        !(g->t1 = cr_alloc_floats(N * m->cfg.dim)))
        return CR_ERR_NOMEM;
    if (m->cfg.precision == CR_PRECISION_BF16 &&
        !(g->th = (uint16_t *)cr__alloc_array((size_t)(N * m->cfg.dim), sizeof(uint16_t), "bf16 propagation table")))
        return CR_ERR_NOMEM;
    e = cr__live_cap(g->adj.nnz) + CR__LIVE_SPARE;
    g->live = (uint8_t *)cr__alloc_array((size_t)N + 1, 1, "live rows");
    g->top = (uint8_t *)cr__alloc_array((size_t)N + 1, 1, "live rows");
    g->dnz = (uint8_t *)cr__alloc_array((size_t)N + 1, 1, "live rows");
    g->live_g.rowptr = (int64_t *)cr__alloc_array((size_t)N + 1, sizeof(int64_t), "live entries");
    g->live_g.col = (int32_t *)cr__alloc_array((size_t)e, sizeof(int32_t), "live entries");
    g->live_g.val = (float *)cr__alloc_array((size_t)e, sizeof(float), "live entries");
    return g->live && g->top && g->dnz && g->live_g.rowptr && g->live_g.col && g->live_g.val ? CR_OK : CR_ERR_NOMEM;
}

static void cr__graph_release(cr_model *m) {
    cr__graph *g = &m->g;
    CR_FREE(g->eu);
    CR_FREE(g->ei);
    cr_csr_free(&g->adj);
    cr_csr_free(&g->adj_o);
    CR_FREE(g->ord);
    cr__free_aligned(g->final);
    cr__free_aligned(g->t0);
    cr__free_aligned(g->t1);
    CR_FREE(g->th);
    CR_FREE(g->live);
    CR_FREE(g->top);
    CR_FREE(g->dnz);
    cr_csr_free(&g->live_g);
}

/* The model's own state in bytes, from its sizes and options (the `memory` hook's part of the
   memory plan, which calls it on a model shell before anything exists): the edge list, the
   normalised graph in both node orders, the order, the final and two scratch tables, the last
   layers' live entries and marks. passing:
   raised to the largest need that comes and goes (here the item features' pair sort). */
static int64_t cr__graph_memory(const cr_model *m, int64_t *passing) {
    int64_t N = m->n_nodes, Nd = N * m->cfg.dim, E = m->g.n_edges, b = 8 * (E + 1) + cr__features_memory(m, passing);
    if (!m->cfg.layers) return b + (m->cfg.attr_w > 0 ? Nd * 4 : 0);
    b += 2 * cr__csr_plan(N, 2 * E, 1) + 4 * (N + 1) + 3 * Nd * 4;
    b += 3 * (N + 1) + cr__csr_plan(N, cr__live_cap(2 * E) + CR__LIVE_SPARE, 1); /* the last layers' live entries */
    return b + (m->cfg.precision == CR_PRECISION_BF16 ? Nd * 2 : 0); /* precision bf16's gathered table */
}

/* The buffers every BPR-trained graph model takes: the gathered triples, the negative
   sampler's (DNS picks; MixGCF's mixing weights, picks and layer gradients), and, for
   SELFRec's L2 form or MixGCF's layer-0 mix, one gathered block. Encoders add F and dF and
   the layer outputs MixGCF reads (cr__graph_ws_encoder). */
static void cr__graph_ws_bpr(cr_model *m, cr__arena *a) {
    const cr_config *c = &m->cfg;
    int64_t B = c->batch, Bd = B * c->dim;
    m->g.rows = cr__takef(a, 3 * Bd);
    m->g.drows = cr__takef(a, 3 * Bd);
    m->g.l2rows = c->reg > 0 && (c->l2_selfrec || c->l2_recbole || c->neg == CR_NEG_MIXGCF) ? cr__takef(a, 2 * Bd)
                                                                                             : NULL;
    m->g.neg = c->neg == CR_NEG_DNS ? cr__takei(a, B) : NULL;
    if (c->neg == CR_NEG_MIXGCF) {
        m->g.mix_a = cr__takef(a, B * (c->layers + 1));
        m->g.mix_j = cr__takei(a, B * (c->layers + 1));
    }
}

static void cr__graph_ws_encoder(cr_model *m, cr__arena *a) {
    int64_t Nd = m->n_nodes * m->cfg.dim;
    int k;
    cr__graph_ws_bpr(m, a);
    m->g.F = cr__takef(a, Nd);
    m->g.dF = cr__takef(a, Nd);
    m->g.lay[0] = m->E0; /* layer 0 is the ego table, its gradient the ego gradient */
    m->g.dlay[0] = m->dE0;
    for (k = 1; m->cfg.neg == CR_NEG_MIXGCF && k <= m->cfg.layers; k++) {
        m->g.lay[k] = cr__takef(a, Nd);
        m->g.dlay[k] = cr__takef(a, Nd);
    }
}

/* MF's layer table for MixGCF: the ego table alone. */
static void cr__mf_ws(cr_model *m, cr__arena *a) {
    cr__graph_ws_bpr(m, a);
    m->g.lay[0] = m->E0;
    m->g.dlay[0] = m->dE0;
}

/* InfoNCE over up to 2B rows (the batch's unique users and items) against 2B + cl_negatives
   keys, the unique-id lists, and the projection head's activations. */
static void cr__graph_ws_infonce(cr_model *m, cr__arena *a) {
    int64_t B = m->cfg.batch, d = m->cfg.dim, nq = 2 * B, nk = 2 * B + m->cfg.cl_negatives;
    cr__graph *g = &m->g;
    g->cq = cr__takef(a, nq * d);
    g->ck = cr__takef(a, nk * d);
    g->dcq = cr__takef(a, nq * d);
    g->dck = cr__takef(a, nk * d);
    g->nce = cr__takef(a, cr_infonce_workspace((int)nq, (int)nk, (int)d));
    g->clneg = cr__takei(a, m->cfg.cl_negatives);
    g->qpos = cr__takei(a, nq);
    g->uu = cr__takei(a, B);
    g->ui = cr__takei(a, B);
    g->stamp = cr__takei(a, CR__MAX(m->n_users, m->n_items) + 1);
    if (!m->cfg.proj_head) return;
    g->hq = cr__takef(a, nq * d);
    g->hk = cr__takef(a, nk * d);
    g->dhq = cr__takef(a, nq * d);
    g->dhk = cr__takef(a, nk * d);
    g->ha1q = cr__takef(a, nq * d);
    g->ha1k = cr__takef(a, nk * d);
    g->hh = cr__takef(a, nk * d);
}

/* The zeroed layer gradients of a batch (MixGCF), or NULL: what the encoder's backward takes. */
static float *const *cr__graph_layer_grads(cr_model *m, int want_grad) {
    int k;
    if (m->cfg.neg != CR_NEG_MIXGCF) return NULL;
    for (k = 1; want_grad && k <= m->cfg.layers; k++) cr__pzero(m->g.dlay[k], m->n_nodes * m->cfg.dim);
    return m->g.dlay;
}

/* The layer outputs a training pass keeps (layer l* in g->L, and every layer for MixGCF), and
   their gradients, zeroed (XSimGCL and NCL). */
static float *const *cr__graph_keep_layers(cr_model *m, float **keep, float **dkeep, int want_grad) {
    float *const *dL = cr__graph_layer_grads(m, want_grad);
    int k;
    for (k = 0; k <= m->cfg.layers; k++) {
        keep[k] = dL ? m->g.lay[k] : NULL;
        dkeep[k] = dL ? dL[k] : NULL;
    }
    keep[m->cfg.lstar] = m->g.L;
    dkeep[m->cfg.lstar] = m->g.dL;
    if (want_grad && !dL) cr__pzero(m->g.dL, m->n_nodes * m->cfg.dim);
    return dL;
}

/* The served table: the propagated one, or MF's ego table (or its copy). */
static const float *cr__graph_table(const cr_model *m) { return m->g.final ? m->g.final : m->E0; }

/* Inference: a clean propagation into final (MF: the table itself). With the attribute-ID
   contrast, an item nobody trained on (no interactions, a feature vector) is served from its
   features: the direction of its feature-based vector, at the mean length of the trained
   items' vectors, so that it competes with them on the scale they have. */
static void cr__graph_prepare(cr_model *m) {
    int d = m->cfg.dim;
    int64_t Uo = m->n_users;
    int32_t i, n_warm = 0;
    double len = 0;
    cr__ego_forward(m);
    if (m->cfg.layers) cr__graph_encode(m, m->g.final, NULL, 0.0f, 0, NULL, NULL);
    else if (m->g.final) cr__pcopy(m->g.final, m->E0, m->n_nodes * d);
    if (!m->ifeat.rowptr) return;
    for (i = 0; i < m->n_items; i++)
        if (m->item_deg[i]) { len += sqrt((double)cr_vsumsq(cr__graph_table(m) + (Uo + i) * d, d)); n_warm++; }
    len = n_warm ? len / n_warm : 1.0;
    m->g.warm_len = len;
    if (!(m->cfg.attr_w > 0)) return;
    for (i = 0; i < m->n_items; i++) {
        float *row = m->g.final + (Uo + i) * d, nr;
        if (m->item_deg[i] || m->ifeat.rowptr[i] == m->ifeat.rowptr[i + 1]) continue;
        cr__feature_vector(m, i, row);
        nr = sqrtf(cr_vsumsq(row, d));
        if (nr > 0) cr_vscale(row, (float)(len / nr), d);
    }
}

static const float *cr__graph_item_vectors(const cr_model *m) {
    return cr__graph_table(m) + (int64_t)m->n_users * m->cfg.dim;
}

/* A user's vector is the user's row; extra interactions cannot change it without retraining. */
static cr_status cr__graph_user_vectors(const cr_model *m, const int32_t *users, int n, const cr_csr *extra,
                                        float *out) {
    (void)extra;
    cr__gather_rows(out, cr__graph_table(m), users, n, m->cfg.dim, 0);
    return CR_OK;
}

/* A new user from items: one LightGCN step for a new node, e_u = sum_i e_i / sqrt(|N(u)|
   (deg(i) + 1)), from the final item embeddings (the new edge adds one to each degree). */
static cr_status cr__graph_fold_in(const cr_model *m, const int32_t *items, int n, float *out) {
    const float *I = cr__graph_item_vectors(m);
    int i, d = m->cfg.dim;
    memset(out, 0, (size_t)d * sizeof(float));
    for (i = 0; i < n; i++)
        cr_vaxpy(out, (float)(1.0 / sqrt((double)n * ((double)m->item_deg[items[i]] + 1.0))), I + (int64_t)items[i] * d,
                 d);
    return CR_OK;
}

/* ---- 8e. MF-BPR (Rendle et al., UAI 2009) ---- */

/* forward: s(u, i) = <e_u, e_i> on the ego table; backward straight into its gradient */
static cr_status cr__mf_loss(cr_model *m, const cr__batch *b, int want_grad, double part[3]) {
    cr__graph_bpr(m, b, m->g.lay, m->g.dlay, m->E0, m->dE0, want_grad, part);
    return CR_OK;
}

/* The batch's sampled encoder (fanout > 0, cr__sub_build_sampled): the rows the losses read
   are the batch's users, positives and negatives, written into the whole-graph tables (F, and
   layer l*'s L) at those rows alone, so the losses run unchanged; their gradients are read back
   from the same rows of dF (and dL), which are cleared before the losses and after. What is
   left of a batch that passes over whole tables is Adam's step (and with item features, the
   bag that builds the item table). */
static void cr__graph_sampled_targets(cr_model *m, const cr__batch *b) {
    int i, ph = cr__prof_to(CR_PHASE_ENCODE);
    cr__sub_begin(m);
    for (i = 0; i < b->n; i++) cr__sub_add(m, b->users[i]);
    for (i = 0; i < b->n; i++) cr__sub_add(m, (int32_t)(m->n_users + b->pos[i]));
    for (i = 0; i < b->n; i++) cr__sub_add(m, (int32_t)(m->n_users + b->cand[i])); /* one negative a row */
    cr__sub_build_sampled(m, b->seed);
    cr__prof_to(ph);
}

/* Forward into the targets' rows of F (and L, NULL: none); dF and dL (NULL: none) cleared there. */
static void cr__graph_sampled_forward(cr_model *m, float *F, float eps, uint64_t seed, float *L, float *dF,
                                      float *dL) {
    cr__graph *g = &m->g;
    int64_t nS = g->sub_n[m->cfg.layers], i, d = m->cfg.dim;
    size_t row = (size_t)d * sizeof(float);
    int ph = cr__prof_to(CR_PHASE_ENCODE);
    cr__sub_forward(m, eps, seed, L ? m->cfg.lstar : 0, g->sub_L);
    for (i = 0; i < nS; i++) {
        int64_t o = (int64_t)g->sub_nodes[i] * d;
        memcpy(F + o, g->sub_out + i * d, row);
        if (L) memcpy(L + o, g->sub_L + i * d, row);
        if (dF) memset(dF + o, 0, row);
        if (dL) memset(dL + o, 0, row);
    }
    cr__prof_to(ph);
}

/* The targets' rows of dF (and dL) into the ego gradient, those rows cleared. */
static void cr__graph_sampled_backward(cr_model *m, float *dF, float *dL) {
    cr__graph *g = &m->g;
    int64_t nS = g->sub_n[m->cfg.layers], i, d = m->cfg.dim;
    size_t row = (size_t)d * sizeof(float);
    int ph = cr__prof_to(CR_PHASE_ENCODE);
    for (i = 0; i < nS; i++) {
        int64_t o = (int64_t)g->sub_nodes[i] * d;
        memcpy(g->sub_dout + i * d, dF + o, row);
        memset(dF + o, 0, row);
        if (!dL) continue;
        memcpy(g->sub_dL + i * d, dL + o, row);
        memset(dL + o, 0, row);
    }
    cr__sub_backward(m, dL ? m->cfg.lstar : 0, g->sub_dL);
    cr__prof_to(ph);
}

/* ---- 8f. LightGCN (He et al., SIGIR 2020) ---- */

static void cr__lightgcn_ws(cr_model *m, cr__arena *a) {
    cr__graph_ws_encoder(m, a);
    if (m->cfg.fanout) cr__sub_ws_sampled(m, a, 3 * (int64_t)m->cfg.batch);
}

static cr_status cr__lightgcn_loss(cr_model *m, const cr__batch *b, int want_grad, double part[3]) {
    cr__graph *g = &m->g;
    float *const *dL = cr__graph_layer_grads(m, want_grad);
    const uint8_t *top = NULL;
    if (m->cfg.fanout) {
        cr__graph_sampled_targets(m, b);
        cr__graph_sampled_forward(m, g->F, 0.0f, 0, NULL, want_grad ? g->dF : NULL, NULL);
    } else {
        cr__graph_encode(m, g->F, NULL, 0.0f, 0, dL ? g->lay : NULL, top = cr__graph_top(m, b));
        if (want_grad) cr__pzero(g->dF, m->n_nodes * m->cfg.dim);
    }
    cr__graph_bpr(m, b, g->lay, dL, g->F, g->dF, want_grad, part);
    if (want_grad && !m->cfg.fanout && m->cfg.neg == CR_NEG_MIXGCF) top = cr__mixgcf_top(m, b);
    if (want_grad && m->cfg.fanout) cr__graph_sampled_backward(m, g->dF, NULL);
    else if (want_grad) cr__graph_encode_backward(m, g->dF, NULL, (const float *const *)dL, top);
    return CR_OK;
}

/* ---- 8g. SGL (Wu et al., SIGIR 2021): two augmented graphs, rebuilt every view_every epochs ---- */

/* Graph k of view v for the views built at epoch: edge or node dropout (ED, ND; a different
   ED graph per layer for RW), either one drawn per view (mixed), or the subgraph covered by
   random walks with restart (subgraph). keep: n_edges flags of its own. */
/* SGL's own state: the augmented graphs of the current views (two views, a graph per layer for
   SGL-RW), the epoch they were built for, and the edge flags they were built from (the training
   workspace's). */
typedef struct cr__sgl {
    cr_csr views[2][CR__MAX_LAYERS];
    int views_epoch;
    uint8_t *keep;
} cr__sgl;

static cr__sgl *cr__sgl_of(const cr_model *m) { return (cr__sgl *)m->own; }

static void cr__sgl_release(cr_model *m) {
    cr__sgl *S = cr__sgl_of(m);
    int v, k;
    for (v = 0; S && v < 2; v++)
        for (k = 0; k < CR__MAX_LAYERS; k++) cr_csr_free(&S->views[v][k]);
    cr__graph_release(m);
}

static cr_status cr__sgl_view(cr_model *m, int v, int k, int epoch, uint8_t *keep, cr_csr *out) {
    const cr_config *c = &m->cfg;
    cr__graph *g = &m->g;
    uint64_t es = cr_hash64(c->seed, 0x5647ULL + (uint64_t)epoch), s = cr_hash64(es, (uint64_t)(v * 16 + k));
    int aug = c->aug;
    cr_status st;
    if (aug == CR_AUG_MIXED) { /* one draw per view and epoch, the same for all its layers */
        cr_rng r = cr_rng_stream(es, 0x6d6978ULL + (uint64_t)v);
        aug = cr_rng_float(&r) < 0.5f ? CR_AUG_ND : CR_AUG_ED;
    }
    if (aug == CR_AUG_ND) st = cr_aug_node_dropout(keep, g->n_edges, g->eu, g->ei, m->n_users, m->n_items, c->drop, s);
    else if (aug == CR_AUG_SUBGRAPH)
        st = cr_aug_rw_subgraph(keep, &m->hist, 1.0f - c->drop, c->rw_restart, c->rw_len, s);
    else st = cr_aug_edge_dropout(keep, g->n_edges, c->drop, s);
    cr_csr_free(out);
    if (st == CR_OK) st = cr_graph_bipartite(out, m->n_users, m->n_items, g->n_edges, g->eu, g->ei, keep);
    if (st == CR_OK) st = cr_graph_normalize_sym(out);
    if (st == CR_OK && g->ord) { /* kept in the training graph's locality order (cr__graph_layers) */
        cr_csr po;
        if ((st = cr__csr_permute(&po, out, g->ord)) == CR_OK) {
            cr_csr_free(out);
            *out = po;
        }
    }
    return st;
}

/* The two views' graphs (one per layer for RW), built in parallel, at epochs 1, 1 + N, ... */
static cr_status cr__sgl_views(cr_model *m, int epoch) {
    cr__sgl *S = cr__sgl_of(m);
    const cr_config *c = &m->cfg;
    cr__graph *g = &m->g;
    int ng = c->aug == CR_AUG_RW ? c->layers : 1, t, built = (epoch - 1) / c->view_every * c->view_every + 1;
    cr_status st[2 * CR__MAX_LAYERS];
    if (c->lambda <= 0 || (S->views_epoch == built && S->views[0][0].rowptr)) return CR_OK;
    CR__OMP(parallel for schedule(dynamic, 1))
    for (t = 0; t < 2 * ng; t++)
        st[t] =
            cr__sgl_view(m, t / ng, t % ng, built, S->keep + (int64_t)t * (g->n_edges + 1), &S->views[t / ng][t % ng]);
    for (t = 0; t < 2 * ng; t++)
        if (st[t] != CR_OK)
            return cr__fail(st[t], "building augmented graph %d of view %d for epoch %d: %s", t % ng + 1, t / ng + 1,
                            epoch, cr_status_string(st[t]));
    S->views_epoch = built;
    return CR_OK;
}

/* The views' graphs (every edge counted: an upper bound) and, passing, the ones being rebuilt
   in parallel: each a new graph, its fill pointers, its permuted copy and node flags. */
static int64_t cr__sgl_memory(const cr_model *m, int64_t *passing) {
    cr__sgl *S = cr__sgl_of(m);
    int64_t N = m->n_nodes, E = m->g.n_edges, view = cr__csr_plan(N, 2 * E, 1);
    int ng = m->cfg.aug == CR_AUG_RW ? m->cfg.layers : 1;
    int v, k;
    if (m->cfg.lambda <= 0) return cr__graph_memory(m, passing);
    *passing = CR__MAX(*passing, CR__MIN(cr__nthreads(), 2 * ng) * (view + 13 * (N + 1) + 4 * (E + 1)));
    if (m->shell) return cr__graph_memory(m, passing) + 2 * ng * view;
    for (view = 0, v = 0; v < 2; v++) /* a real model: the views it has built */
        for (k = 0; k < CR__MAX_LAYERS; k++) view += cr__csr_bytes(&S->views[v][k]);
    return cr__graph_memory(m, passing) + view;
}

static void cr__sgl_ws(cr_model *m, cr__arena *a) {
    cr__sgl *S = cr__sgl_of(m);
    int64_t Nd = m->n_nodes * m->cfg.dim;
    int ng = m->cfg.aug == CR_AUG_RW ? m->cfg.layers : 1;
    cr__graph_ws_encoder(m, a);
    if (m->cfg.lambda <= 0) return;
    m->g.V1 = cr__takef(a, Nd);
    m->g.V2 = cr__takef(a, Nd);
    m->g.dV1 = cr__takef(a, Nd);
    m->g.dV2 = cr__takef(a, Nd);
    S->keep = (uint8_t *)cr__take(a, 2 * ng * (m->g.n_edges + 1), 1);
    cr__graph_ws_infonce(m, a);
}

/* SELFRec's form: one InfoNCE over the batch's unique users and unique items stacked, between
   the two views; BPR on the clean graph. */
static cr_status cr__sgl_loss(cr_model *m, const cr__batch *b, int want_grad, double part[3]) {
    cr__sgl *S = cr__sgl_of(m);
    cr__graph *g = &m->g;
    const cr_csr *G1[CR__MAX_LAYERS], *G2[CR__MAX_LAYERS];
    int64_t nd = m->n_nodes * m->cfg.dim;
    int k, cl = m->cfg.lambda > 0, nu, ni;
    float *const *dL = cr__graph_layer_grads(m, want_grad);
    const uint8_t *top = cr__graph_top(m, b);
    cr__graph_encode(m, g->F, NULL, 0.0f, 0, dL ? g->lay : NULL, top);
    if (cl) {
        for (k = 0; k < m->cfg.layers; k++) {
            G1[k] = &S->views[0][m->cfg.aug == CR_AUG_RW ? k : 0];
            G2[k] = &S->views[1][m->cfg.aug == CR_AUG_RW ? k : 0];
        }
        cr__graph_encode(m, g->V1, G1, 0.0f, 0, NULL, top);
        cr__graph_encode(m, g->V2, G2, 0.0f, 0, NULL, top);
        if (want_grad) {
            cr__pzero(g->dV1, nd);
            cr__pzero(g->dV2, nd);
        }
    }
    if (want_grad) cr__pzero(g->dF, nd);
    cr__graph_bpr(m, b, g->lay, dL, g->F, g->dF, want_grad, part);
    if (cl) {
        cr__graph_unique(m, b, &nu, &ni);
        part[1] += cr__graph_infonce(m, b, g->dV1, g->dV2, g->V1, g->V2, g->uu, nu, g->ui, ni, NULL, want_grad);
    }
    if (want_grad) {
        cr__graph_encode_backward(m, g->dF, NULL, (const float *const *)dL, top);
        if (cl) {
            cr__graph_encode_backward(m, g->dV1, G1, NULL, top);
            cr__graph_encode_backward(m, g->dV2, G2, NULL, top);
        }
    }
    return CR_OK;
}

/* ---- 8h. SimGCL (Yu et al., SIGIR 2022): two noisy passes of the same graph ---- */

static void cr__simgcl_ws(cr_model *m, cr__arena *a) {
    int64_t Nd = m->n_nodes * m->cfg.dim;
    cr__graph_ws_encoder(m, a);
    if (m->cfg.fanout) cr__sub_ws_sampled(m, a, 3 * (int64_t)m->cfg.batch);
    if (m->cfg.lambda <= 0) return;
    m->g.V1 = cr__takef(a, Nd);
    m->g.V2 = cr__takef(a, Nd);
    cr__graph_ws_infonce(m, a);
}

/* A clean pass for BPR and two perturbed passes for the contrast (SELFRec: three forward
   passes per batch); users and items are contrasted separately. The noise is a constant of the
   backward pass, so the three passes are one linear map and share one backward. */
static cr_status cr__simgcl_loss(cr_model *m, const cr__batch *b, int want_grad, double part[3]) {
    cr__graph *g = &m->g;
    int cl = m->cfg.lambda > 0, nu, ni;
    float *const *dL = cr__graph_layer_grads(m, want_grad);
    const uint8_t *top = NULL;
    if (m->cfg.fanout) { /* the three passes over one sampled graph */
        cr__graph_sampled_targets(m, b);
        cr__graph_sampled_forward(m, g->F, 0.0f, 0, NULL, want_grad ? g->dF : NULL, NULL);
        if (cl) {
            cr__graph_sampled_forward(m, g->V1, m->cfg.eps, cr_hash64(b->seed, 2), NULL, NULL, NULL);
            cr__graph_sampled_forward(m, g->V2, m->cfg.eps, cr_hash64(b->seed, 3), NULL, NULL, NULL);
        }
    } else {
        top = cr__graph_top(m, b);
        cr__graph_encode(m, g->F, NULL, 0.0f, 0, dL ? g->lay : NULL, top);
        if (cl) {
            cr__graph_encode(m, g->V1, NULL, m->cfg.eps, cr_hash64(b->seed, 2), NULL, top);
            cr__graph_encode(m, g->V2, NULL, m->cfg.eps, cr_hash64(b->seed, 3), NULL, top);
        }
        if (want_grad) cr__pzero(g->dF, m->n_nodes * m->cfg.dim);
    }
    cr__graph_bpr(m, b, g->lay, dL, g->F, g->dF, want_grad, part);
    if (cl) {
        cr__graph_unique(m, b, &nu, &ni);
        part[1] += cr__graph_infonce(m, b, g->dF, g->dF, g->V1, g->V2, g->uu, nu, NULL, 0, NULL, want_grad) +
                  cr__graph_infonce(m, b, g->dF, g->dF, g->V1, g->V2, NULL, 0, g->ui, ni, NULL, want_grad);
    }
    if (want_grad && m->cfg.fanout) cr__graph_sampled_backward(m, g->dF, NULL);
    else if (want_grad) cr__graph_encode_backward(m, g->dF, NULL, (const float *const *)dL, top);
    return CR_OK;
}

/* ---- 8i. XSimGCL (Yu et al., TKDE 2023): one noisy pass, its final vs layer l* output ---- */

static cr_status cr__xsimgcl_check(const cr_config *c) {
    if (c->lstar < 1 || c->lstar > c->layers)
        return cr__fail(CR_ERR_INVALID, "config %s: lstar %d is outside 1..layers (%d)", cr_model_name(c->model),
                        c->lstar, c->layers);
    return cr__graph_check(c);
}

/* With MixGCF the layer l* output is MixGCF's copy of that layer. */
static void cr__xsimgcl_ws(cr_model *m, cr__arena *a) {
    int64_t Nd = m->n_nodes * m->cfg.dim;
    cr__graph_ws_encoder(m, a);
    m->g.L = m->cfg.neg == CR_NEG_MIXGCF ? m->g.lay[m->cfg.lstar] : cr__takef(a, Nd);
    m->g.dL = m->cfg.neg == CR_NEG_MIXGCF ? m->g.dlay[m->cfg.lstar] : cr__takef(a, Nd);
    if (m->cfg.lambda > 0) cr__graph_ws_infonce(m, a);
    if (m->cfg.fanout) cr__sub_ws_sampled(m, a, 3 * (int64_t)m->cfg.batch);
}

/* BPR is computed on the perturbed pass too (SELFRec); the views are its final output and its
   layer l* output. */
static cr_status cr__xsimgcl_loss(cr_model *m, const cr__batch *b, int want_grad, double part[3]) {
    cr__graph *g = &m->g;
    float *keep[CR__MAX_LAYERS + 1], *dkeep[CR__MAX_LAYERS + 1];
    const uint8_t *top = NULL;
    int nu, ni;
    if (m->cfg.fanout) {
        cr__graph_sampled_targets(m, b);
        cr__graph_sampled_forward(m, g->F, m->cfg.eps, cr_hash64(b->seed, 1), g->L, want_grad ? g->dF : NULL,
                                  want_grad ? g->dL : NULL);
        memset(dkeep, 0, sizeof dkeep); /* MixGCF's layers are not kept (fanout refuses it) */
        memset(keep, 0, sizeof keep);
    } else {
        cr__graph_keep_layers(m, keep, dkeep, want_grad);
        cr__graph_encode(m, g->F, NULL, m->cfg.eps, cr_hash64(b->seed, 1), keep, top = cr__graph_top(m, b));
        if (want_grad) cr__pzero(g->dF, m->n_nodes * m->cfg.dim);
    }
    cr__graph_bpr(m, b, keep, dkeep, g->F, g->dF, want_grad, part);
    if (m->cfg.lambda > 0) {
        cr__graph_unique(m, b, &nu, &ni);
        part[1] += cr__graph_infonce(m, b, g->dF, g->dL, g->F, g->L, g->uu, nu, NULL, 0, NULL, want_grad) +
                  cr__graph_infonce(m, b, g->dF, g->dL, g->F, g->L, NULL, 0, g->ui, ni, NULL, want_grad);
    }
    if (want_grad && m->cfg.fanout) cr__graph_sampled_backward(m, g->dF, g->dL);
    else if (want_grad) cr__graph_encode_backward(m, g->dF, NULL, (const float *const *)dkeep, top);
    return CR_OK;
}

/* ---- 8j. NCL (Lin et al., WWW 2022): structure and prototype contrast on LightGCN ---- */

/* k-means (Lloyd) of the n rows of X (n, d) into k centroids: k-means++ seeding from r, up to
   `iters` rounds of assignment (one GEMM) and update (means accumulated in row order, so the
   result does not depend on the threads), an empty cluster re-seeded with the row farthest
   from its centroid, then a last assignment to the final centroids (faiss's search). C (k, d)
   receives the centroids L2-normalised (the form NCL contrasts with), assign (n) each row's
   cluster. ws: n * k + n floats and k * (d + 1) doubles' worth (see cr__kmeans_ws). */
/* NCL's own state: the normalised prototypes of users and items, each node's prototype, the
   k-means workspace (the training workspace's buffers), and the epoch the prototypes are of. */
typedef struct cr__ncl {
    float *cent[2], *kmeans_ws;
    int32_t *assign[2];
    int kmeans_epoch;
} cr__ncl;

static cr__ncl *cr__ncl_of(const cr_model *m) { return (cr__ncl *)m->own; }

static int64_t cr__kmeans_ws(int64_t n, int k, int d) { return n * k + n + 2 * (int64_t)k * (d + 1) + 16; }

static void cr__kmeans_assign(int32_t *assign, float *dist, float *S, const float *X, const float *C, int64_t n, int d,
                              int k) {
    int64_t i;
    float cn[4096];
    int j;
    for (j = 0; j < k; j++) cn[j] = cr_vdot(C + (int64_t)j * d, C + (int64_t)j * d, d);
    cr_sgemm(0, 1, (int)n, k, d, 1.0f, X, d, C, d, 0.0f, S, k);
    CR__OMP(parallel for schedule(static) if (n * k > 65536))
    for (i = 0; i < n; i++) { /* |x - c|^2 = |x|^2 - 2 x.c + |c|^2; ties: the lower cluster */
        float best = INFINITY, xn = cr_vdot(X + i * d, X + i * d, d);
        int jj;
        for (jj = 0; jj < k; jj++) {
            float v = cn[jj] - 2.0f * S[i * k + jj];
            if (v < best) { best = v; assign[i] = jj; }
        }
        dist[i] = best + xn;
    }
}

static void cr__kmeans(float *C, int32_t *assign, const float *X, int64_t n, int d, int k, int iters, cr_rng *r,
                       float *ws) {
    float *S = ws, *dist = S + n * k;
    int64_t o = n * k + n + ((n * k + n) & 1); /* the doubles start on an 8-byte boundary */
    double *sum = (double *)(void *)(ws + o), *cnt = sum + (int64_t)k * d;
    int64_t i;
    int j, it, c;
    /* k-means++: the first centre uniform, each next one with probability ~ D(x)^2 */
    cr_vcopy(C, X + (int64_t)cr_rng_below(r, (uint32_t)n) * d, d);
    for (i = 0; i < n; i++) dist[i] = INFINITY;
    for (c = 1; c < k; c++) {
        double tot = 0, x;
        for (i = 0; i < n; i++) {
            const float *xi = X + i * d, *cp = C + (int64_t)(c - 1) * d;
            float dd = 0;
            for (j = 0; j < d; j++) dd += (xi[j] - cp[j]) * (xi[j] - cp[j]);
            if (dd < dist[i]) dist[i] = dd;
            tot += dist[i];
        }
        x = (double)cr_rng_float(r) * tot;
        for (i = 0; i < n - 1 && (x -= dist[i]) > 0; i++) {}
        cr_vcopy(C + (int64_t)c * d, X + i * d, d);
    }
    for (it = 0; it < iters; it++) {
        cr__kmeans_assign(assign, dist, S, X, C, n, d, k);
        memset(sum, 0, (size_t)k * (d + 1) * sizeof(double));
        for (i = 0; i < n; i++) {
            double *s = sum + (int64_t)assign[i] * d;
            for (j = 0; j < d; j++) s[j] += X[i * d + j];
            cnt[assign[i]] += 1;
        }
        for (c = 0; c < k; c++) {
            if (cnt[c] == 0) { /* re-seed an empty cluster with the worst-served row */
                int64_t far = 0;
                for (i = 1; i < n; i++)
                    if (dist[i] > dist[far]) far = i;
                cr_vcopy(C + (int64_t)c * d, X + far * d, d);
                dist[far] = 0;
                continue;
            }
            for (j = 0; j < d; j++) C[(int64_t)c * d + j] = (float)(sum[(int64_t)c * d + j] / cnt[c]);
        }
    }
    cr__kmeans_assign(assign, dist, S, X, C, n, d, k);
    cr_l2norm_rows_forward(C, NULL, C, k, d);
}

static cr_status cr__ncl_check(const cr_config *c) {
    if (c->lstar < 1 || c->lstar > c->layers)
        return cr__fail(CR_ERR_INVALID,
                        "config ncl: lstar %d (the layer contrasted with the ego embedding) is outside 1..layers (%d)",
                        c->lstar, c->layers);
    if (c->lstar % 2) /* an odd hop lands on the other side of the bipartite graph */
        return cr__fail(CR_ERR_INVALID,
                        "config ncl: lstar %d is odd: NCL contrasts a node with its own kind, an even number of hops "
                        "away (the authors' 2 x hyper_layers)",
                        c->lstar);
    if (c->clusters < 1 || c->clusters > 4096)
        return cr__fail(CR_ERR_INVALID, "config ncl: clusters %d is outside 1..4096", c->clusters);
    return cr__graph_check(c);
}

static cr_status cr__ncl_setup(cr_model *m) {
    if (m->cfg.clusters > m->n_users || m->cfg.clusters > m->n_items)
        return cr__fail(CR_ERR_INVALID, "config ncl: %d clusters for %d users and %d items", m->cfg.clusters,
                        m->n_users, m->n_items);
    return cr__graph_setup(m);
}

static void cr__ncl_ws(cr_model *m, cr__arena *a) {
    cr__ncl *N = cr__ncl_of(m);
    const cr_config *c = &m->cfg;
    cr__graph *g = &m->g;
    int64_t Nd = m->n_nodes * c->dim, nk = CR__MAX(m->n_users, m->n_items);
    int s;
    cr__graph_ws_encoder(m, a);
    g->L = c->neg == CR_NEG_MIXGCF ? g->lay[c->lstar] : cr__takef(a, Nd);
    g->dL = c->neg == CR_NEG_MIXGCF ? g->dlay[c->lstar] : cr__takef(a, Nd);
    g->cq = cr__takef(a, (int64_t)c->batch * c->dim);
    g->dcq = cr__takef(a, (int64_t)c->batch * c->dim);
    g->dck = cr__takef(a, (int64_t)c->clusters * c->dim);
    g->clneg = cr__takei(a, c->batch);
    g->nce = cr__takef(a, CR__MAX(cr_infonce_workspace(c->batch, (int)nk, c->dim),
                                  cr_infonce_workspace(c->batch, c->clusters, c->dim)));
    for (s = 0; s < 2; s++) {
        N->cent[s] = cr__takef(a, (int64_t)c->clusters * c->dim);
        N->assign[s] = cr__takei(a, s ? m->n_items : m->n_users);
    }
    N->kmeans_ws = cr__takef(a, cr__kmeans_ws(nk, c->clusters, c->dim));
}

/* The E-step, once per epoch after the warm-up: k-means of the user and of the item ego
   embeddings (the prototypes are constants of the epoch's batches). */
static cr_status cr__ncl_epoch(cr_model *m, int epoch) {
    cr__ncl *N = cr__ncl_of(m);
    const cr_config *c = &m->cfg;
    int s;
    if (epoch <= c->warmup || c->proto_reg <= 0 || N->kmeans_epoch == epoch) return CR_OK;
    for (s = 0; s < 2; s++) {
        cr_rng r = cr_rng_stream(cr_hash64(c->seed, 0x6b6d65616e73ULL + (uint64_t)epoch), (uint64_t)s);
        cr__kmeans(N->cent[s], N->assign[s], m->E0 + (s ? (int64_t)m->n_users * c->dim : 0),
                   s ? m->n_items : m->n_users, c->dim, c->clusters, 25, &r, N->kmeans_ws);
    }
    N->kmeans_epoch = epoch;
    return CR_OK;
}

/* Sum over the batch rows idx of InfoNCE(row of A, keys = every row of one side of Bt,
   positive: the same node), times w. The keys are contiguous, so their gradient goes straight
   into dB; cr_infonce_loss works through the queries in cache-sized blocks. off: the side's
   first row. */
static double cr__ncl_structure(cr_model *m, float *dA, float *dB, const float *A, const float *Bt, const int32_t *idx,
                                int n, int64_t off, int64_t nk, float w, int want_grad) {
    cr__graph *g = &m->g;
    int d = m->cfg.dim, i, ph = cr__prof_to(CR_PHASE_CONTRAST);
    double l;
    cr__gather_rows(g->cq, A, idx, n, d, off);
    for (i = 0; i < n; i++) g->clneg[i] = idx[i]; /* the positive: the node's own row */
    if (want_grad) memset(g->dcq, 0, (size_t)n * d * sizeof(float));
    l = cr_infonce_loss(want_grad ? g->dcq : NULL, want_grad ? dB + off * d : NULL, g->cq, Bt + off * d, n, (int)nk, d,
                        g->clneg, NULL, m->cfg.tau, w * (float)n, g->nce);
    if (want_grad) cr__scatter_add_rows(dA, g->dcq, idx, n, d, off);
    cr__prof_to(ph);
    return l;
}

/* ProtoNCE: sum over the batch rows of InfoNCE(normalised ego row, its k-means centroid
   against all centroids), times w; the centroids are constants. */
static double cr__ncl_proto(cr_model *m, const int32_t *idx, int n, int side, float w, int want_grad) {
    cr__ncl *N = cr__ncl_of(m);
    cr__graph *g = &m->g;
    int d = m->cfg.dim, i, ph = cr__prof_to(CR_PHASE_CONTRAST);
    int64_t off = side ? m->n_users : 0;
    double l;
    cr__gather_rows(g->cq, m->E0, idx, n, d, off);
    for (i = 0; i < n; i++) g->clneg[i] = N->assign[side][idx[i]];
    if (want_grad) memset(g->dcq, 0, (size_t)n * d * sizeof(float));
    l = cr_infonce_loss(want_grad ? g->dcq : NULL, want_grad ? g->dck : NULL, g->cq, N->cent[side], n, m->cfg.clusters,
                        d, g->clneg, NULL, m->cfg.tau, w * (float)n, g->nce);
    if (want_grad) cr__scatter_add_rows(m->dE0, g->dcq, idx, n, d, off);
    cr__prof_to(ph);
    return l;
}

/* BPR on the LightGCN output; the structure term between each batch node's layer l* output
   (l* = 2 x hyper_layers) and the ego embeddings of all nodes of its side (the item side
   weighted by ssl_alpha), weight lambda; after the warm-up, the prototype term, weight
   proto_reg. Both sum over the batch's rows, duplicates included, as the authors' code does.
   L2 is LightGCN's (squared, ego rows, / batch); RecBole's EmbLoss, which the authors' code
   uses, takes unsquared norms instead, so reg does not carry over one to one. */
static cr_status cr__ncl_loss(cr_model *m, const cr__batch *b, int want_grad, double part[3]) {
    const cr_config *c = &m->cfg;
    cr__graph *g = &m->g;
    float *keep[CR__MAX_LAYERS + 1], *dkeep[CR__MAX_LAYERS + 1];
    int64_t Uo = m->n_users;
    const uint8_t *top = cr__graph_top(m, b); /* the contrasts read the batch's rows */
    cr__graph_keep_layers(m, keep, dkeep, want_grad);
    cr__graph_encode(m, g->F, NULL, 0.0f, 0, keep, top);
    if (want_grad) cr__pzero(g->dF, m->n_nodes * c->dim);
    cr__graph_bpr(m, b, keep, dkeep, g->F, g->dF, want_grad, part);
    if (c->lambda > 0)
        part[1] += cr__ncl_structure(m, g->dL, m->dE0, g->L, m->E0, b->users, b->n, 0, Uo, c->lambda, want_grad) +
                   cr__ncl_structure(m, g->dL, m->dE0, g->L, m->E0, b->pos, b->n, Uo, m->n_items,
                                     c->lambda * c->ssl_alpha, want_grad);
    if (c->proto_reg > 0 && b->epoch > c->warmup)
        part[1] += cr__ncl_proto(m, b->users, b->n, 0, c->proto_reg, want_grad) +
                   cr__ncl_proto(m, b->pos, b->n, 1, c->proto_reg, want_grad);
    if (want_grad) cr__graph_encode_backward(m, g->dF, NULL, (const float *const *)dkeep, top);
    return CR_OK;
}

/* ---- 8k. RecDCL (Zhang et al., WWW 2024; THUDM/RecDCL): feature-wise and batch-wise contrast ---- */

/* A 2-layer LightGCN whose layer mean includes layer 0, propagated whole every batch of
   observed (user, item) pairs, with no negatives and no BPR. The loss, as the authors' code
   defines it (bench notes: methods-II.md, part 1):
     z_s = BN0(P(n(e_s)))  per side s (users, items), n the row L2 normalisation, P the
           projector Linear -> BN -> ReLU -> Linear -> BN -> ReLU -> Linear (no biases, BN
           affine, batch statistics), BN0 a non-affine batch normalisation;
     UIBT  = Barlow Twins of z_u against z_i (off-diagonal weight bt_off), weight lambda;
     UUII  = (poly(z_u) + poly(z_i)) / 2, the polynomial-kernel feature uniformity (a = 1,
           c = 1e-7, e = 4), weight poly_w;
     BCL   = -(cos(Q(e_u), t_i) + cos(Q(e_i), t_u)) / 2 with Q a linear predictor (with bias)
           and t_s = momentum h_s + (1 - momentum) e_s a stop-gradient target mixing the
           stored embedding h_s with the current one, weight bcl_w; after each training batch
           h_s <- e_s for the batch's rows (the last write wins on repeats);
   plus coupled weight decay reg on every parameter (PyTorch Adam's weight_decay). P is run
   once per side and batch: the authors' four calls give the same loss and gradients. */

/* RecDCL's own state, per side (0 users, 1 items): the batch's output rows and their gradient,
   the projector's activations (x0 normalised rows, a linear outputs, xh batch-normalised, h after
   ReLU, z the projector's batch-normalised output), the predictor's output p, the BCL target t,
   the BN inverse deviations; shared scratch; and the stored embedding of every node (BCL's
   target side). The buffers but bcl_hist are the training workspace's. */
typedef struct cr__recdcl {
    float *re[2], *dre[2], *rx0[2], *rnrm[2], *ra1[2], *rxh1[2], *rh1[2], *ra2[2], *rxh2[2], *rh2[2], *rz[2], *rdz[2];
    float *rp[2], *rdp[2], *rt[2], *ris[2][3], *rmean, *rda, *rdh, *rbn, *rdd;
    float *bcl_hist;
} cr__recdcl;

static cr__recdcl *cr__recdcl_of(const cr_model *m) { return (cr__recdcl *)m->own; }

static cr_status cr__recdcl_plan(cr_model *m) {
    int d = m->cfg.dim;
    float q = (float)(1.0 / sqrt((double)d)); /* PyTorch's Linear default, U(-1/sqrt(in), 1/sqrt(in)) */
    cr_status st;
    if ((st = cr__graph_plan(m)) != CR_OK) return st;
    if ((st = cr__plan(m, "dcl_w1", d, d, CR__INIT_XAVIER, 0)) != CR_OK ||
        (st = cr__plan(m, "dcl_g1", 1, d, CR__INIT_ONE, 0)) != CR_OK ||
        (st = cr__plan(m, "dcl_b1", 1, d, CR__INIT_ZERO, 0)) != CR_OK ||
        (st = cr__plan(m, "dcl_w2", d, d, CR__INIT_XAVIER, 0)) != CR_OK ||
        (st = cr__plan(m, "dcl_g2", 1, d, CR__INIT_ONE, 0)) != CR_OK ||
        (st = cr__plan(m, "dcl_b2", 1, d, CR__INIT_ZERO, 0)) != CR_OK ||
        (st = cr__plan(m, "dcl_w3", d, d, CR__INIT_XAVIER, 0)) != CR_OK ||
        (st = cr__plan(m, "dcl_qw", d, d, CR__INIT_UNIFORM, q)) != CR_OK ||
        (st = cr__plan(m, "dcl_qb", 1, d, CR__INIT_UNIFORM, q)) != CR_OK)
        return st;
    return CR_OK;
}

/* The stored embeddings start as N(0, 1) draws, as the authors' history tables. They are
   training state, not parameters: checkpoints do not carry them (serving needs only the
   embeddings), so training continued from a loaded model starts them afresh. */
static cr_status cr__recdcl_setup(cr_model *m) {
    cr__recdcl *R = cr__recdcl_of(m);
    int64_t i, n = m->n_nodes * m->cfg.dim;
    cr_rng r = cr_rng_stream(m->cfg.seed, 0x62636cULL);
    cr_status st;
    if ((st = cr__graph_setup(m)) != CR_OK) return st;
    if (!(R->bcl_hist = cr_alloc_floats(n))) return CR_ERR_NOMEM;
    for (i = 0; i < n; i++) R->bcl_hist[i] = cr_rng_normal(&r);
    return CR_OK;
}

static void cr__recdcl_release(cr_model *m) {
    cr__recdcl *R = cr__recdcl_of(m);
    if (R) cr__free_aligned(R->bcl_hist);
    if (R) R->bcl_hist = NULL;
    cr__graph_release(m);
}

static int64_t cr__recdcl_memory(const cr_model *m, int64_t *passing) {
    return cr__graph_memory(m, passing) + m->n_nodes * m->cfg.dim * (int64_t)sizeof(float); /* bcl_hist */
}

static void cr__recdcl_ws(cr_model *m, cr__arena *a) {
    cr__recdcl *R = cr__recdcl_of(m);
    cr__graph *g = &m->g;
    int64_t d = m->cfg.dim, Bd = (int64_t)m->cfg.batch * d;
    int s, k;
    cr__sub_ws(m, a, 2 * (int64_t)m->cfg.batch); /* the batch's users and items: no whole-graph pass */
    g->uu = cr__takei(a, m->cfg.batch);
    g->ui = cr__takei(a, m->cfg.batch);
    g->stamp = cr__takei(a, CR__MAX(m->n_users, m->n_items) + 1);
    for (s = 0; s < 2; s++) {
        R->re[s] = cr__takef(a, Bd);
        R->dre[s] = cr__takef(a, Bd);
        R->rx0[s] = cr__takef(a, Bd);
        R->rnrm[s] = cr__takef(a, m->cfg.batch);
        R->ra1[s] = cr__takef(a, Bd);
        R->rxh1[s] = cr__takef(a, Bd);
        R->rh1[s] = cr__takef(a, Bd);
        R->ra2[s] = cr__takef(a, Bd);
        R->rxh2[s] = cr__takef(a, Bd);
        R->rh2[s] = cr__takef(a, Bd);
        R->rz[s] = cr__takef(a, Bd);
        R->rdz[s] = cr__takef(a, Bd);
        R->rp[s] = cr__takef(a, Bd);
        R->rdp[s] = cr__takef(a, Bd);
        R->rt[s] = cr__takef(a, Bd);
        for (k = 0; k < 3; k++) R->ris[s][k] = cr__takef(a, d);
    }
    R->rmean = cr__takef(a, d);
    R->rda = cr__takef(a, Bd);
    R->rdh = cr__takef(a, Bd);
    R->rbn = cr__takef(a, 2 * d);
    R->rdd = cr__takef(a, d * d);
}

/* forward: the projector and BN0 of side s, from its normalised rows rx0[s] to rz[s] */
static void cr__recdcl_project(cr_model *m, int s, int B) {
    cr__recdcl *R = cr__recdcl_of(m);
    int d = m->cfg.dim;
    int64_t i, Bd = (int64_t)B * d;
    cr_sgemm(0, 1, B, d, d, 1.0f, R->rx0[s], d, cr__tensor(m, "dcl_w1"), d, 0.0f, R->ra1[s], d);
    cr_batchnorm_forward(R->rh1[s], R->rxh1[s], R->rmean, R->ris[s][0], R->ra1[s], B, d, cr__tensor(m, "dcl_g1"),
                         cr__tensor(m, "dcl_b1"), 1e-5f);
    for (i = 0; i < Bd; i++) R->rh1[s][i] = R->rh1[s][i] > 0 ? R->rh1[s][i] : 0.0f;
    cr_sgemm(0, 1, B, d, d, 1.0f, R->rh1[s], d, cr__tensor(m, "dcl_w2"), d, 0.0f, R->ra2[s], d);
    cr_batchnorm_forward(R->rh2[s], R->rxh2[s], R->rmean, R->ris[s][1], R->ra2[s], B, d, cr__tensor(m, "dcl_g2"),
                         cr__tensor(m, "dcl_b2"), 1e-5f);
    for (i = 0; i < Bd; i++) R->rh2[s][i] = R->rh2[s][i] > 0 ? R->rh2[s][i] : 0.0f;
    cr_sgemm(0, 1, B, d, d, 1.0f, R->rh2[s], d, cr__tensor(m, "dcl_w3"), d, 0.0f, R->rz[s],
             d); /* the third linear's output, */
    cr_batchnorm_forward(R->rz[s], R->rz[s], R->rmean, R->ris[s][2], R->rz[s], B, d, NULL, NULL,
                         1e-5f); /* normalised in place */
}

/* backward of the projector of side s: rdz[s] -> the gradient of its weights and of the rows
   e_s (accumulated into dre[s] through the row normalisation). rz, rxh hold the normalised
   values and rh the post-ReLU ones, which is all the backward passes need. */
static void cr__recdcl_project_backward(cr_model *m, int s, int B) {
    cr__recdcl *R = cr__recdcl_of(m);
    static const char *const wn[3] = {"dcl_w1", "dcl_w2", "dcl_w3"}, *const gn[3] = {"dcl_g1", "dcl_g2", NULL},
                             *const bn[3] = {"dcl_b1", "dcl_b2", NULL};
    const float *xin[3], *xh[3], *dy = R->rdz[s];
    int d = m->cfg.dim, l;
    int64_t i, Bd = (int64_t)B * d;
    xin[0] = R->rx0[s], xin[1] = R->rh1[s], xin[2] = R->rh2[s]; /* each linear's input */
    xh[0] = R->rxh1[s], xh[1] = R->rxh2[s], xh[2] = R->rz[s];   /* its batch norm's normalised output */
    for (l = 2; l >= 0; l--) { /* batch norm (affine but the last), linear, the ReLU before it */
        memset(R->rda, 0, (size_t)Bd * sizeof(float));
        cr_batchnorm_backward(R->rda, gn[l] ? cr__tensor_grad(m, gn[l]) : NULL,
                              bn[l] ? cr__tensor_grad(m, bn[l]) : NULL, dy, xh[l], R->ris[s][l],
                              gn[l] ? cr__tensor(m, gn[l]) : NULL, B, d, R->rbn);
        cr_sgemm(1, 0, d, d, B, 1.0f, R->rda, d, xin[l], d, 1.0f, cr__tensor_grad(m, wn[l]), d);
        cr_sgemm(0, 0, B, d, d, 1.0f, R->rda, d, cr__tensor(m, wn[l]), d, 0.0f, R->rdh, d);
        if (l > 0)
            for (i = 0; i < Bd; i++) R->rdh[i] = xin[l][i] > 0 ? R->rdh[i] : 0.0f;
        dy = R->rdh;
    }
    cr_l2norm_rows_backward(R->dre[s], R->rdh, R->rx0[s], R->rnrm[s], B, d);
}

static cr_status cr__recdcl_loss(cr_model *m, const cr__batch *b, int want_grad, double part[3]) {
    cr__recdcl *R = cr__recdcl_of(m);
    const cr_config *c = &m->cfg;
    cr__graph *g = &m->g;
    const int32_t *idx[2];
    const float *qw = cr__tensor(m, "dcl_qw"), *qb = cr__tensor(m, "dcl_qb");
    float mu = c->momentum;
    int B = b->n, d = c->dim, s, j;
    int64_t Bd = (int64_t)B * d, i, off[2];
    idx[0] = b->users;
    idx[1] = b->pos;
    off[0] = 0;
    off[1] = m->n_users;
    { /* the encoder on the batch's subgraph: its distinct users, then its distinct items */
        int nu = cr__unique(m, b->users, B, g->uu), ni = cr__unique(m, b->pos, B, g->ui), k;
        for (k = 0; k < nu; k++) g->sub_nodes[k] = g->uu[k];
        for (k = 0; k < ni; k++) g->sub_nodes[nu + k] = (int32_t)(m->n_users + g->ui[k]);
        cr__prof_to(CR_PHASE_ENCODE);
        cr__sub_build(m, g->sub_nodes, nu + ni);
        cr__sub_forward(m, 0.0f, 0, 0, NULL);
        cr__prof_to(CR_PHASE_CONTRAST); /* RecDCL's whole loss is contrast: heads, BT, uniformity, BCL */
    }
    for (s = 0; s < 2; s++) {
        for (i = 0; i < B; i++)
            memcpy(R->re[s] + i * d, g->sub_out + (int64_t)g->sub_idx[off[s] + idx[s][i]] * d,
                   (size_t)d * sizeof(float));
        cr_l2norm_rows_forward(R->rx0[s], R->rnrm[s], R->re[s], B, d);
        cr__recdcl_project(m, s, B);
        memset(R->rdz[s], 0, (size_t)Bd * sizeof(float));
        memset(R->rdp[s], 0, (size_t)Bd * sizeof(float));
        memset(R->dre[s], 0, (size_t)Bd * sizeof(float));
        /* the predictor, and the target: the stored and the current embedding, mixed */
        cr_sgemm(0, 1, B, d, d, 1.0f, R->re[s], d, qw, d, 0.0f, R->rp[s], d);
        for (i = 0; i < B; i++) {
            const float *h = R->bcl_hist + (off[s] + idx[s][i]) * d, *e = R->re[s] + i * d;
            float *t = R->rt[s] + i * d;
            for (j = 0; j < d; j++) {
                R->rp[s][i * d + j] += qb[j];
                t[j] = mu * h[j] + (1.0f - mu) * e[j];
            }
        }
    }
    /* the losses leave their gradients in rdz and rdp (cheap next to the projector, so they
       are computed whether or not the caller wants them) */
    part[0] = cr_barlow_twins_loss(R->rdz[0], R->rdz[1], R->rz[0], R->rz[1], B, d, c->bt_off, c->lambda, R->rdd);
    part[1] = cr_poly_uniformity_loss(R->rdz[0], R->rz[0], B, d, 1.0f, 1e-7f, 4, 0.5f * c->poly_w, R->rdd) +
              cr_poly_uniformity_loss(R->rdz[1], R->rz[1], B, d, 1.0f, 1e-7f, 4, 0.5f * c->poly_w, R->rdd) +
              cr_cosine_target_loss(R->rdp[0], R->rp[0], R->rt[1], B, d, 0.5f * c->bcl_w) +
              cr_cosine_target_loss(R->rdp[1], R->rp[1], R->rt[0], B, d, 0.5f * c->bcl_w);
    /* coupled weight decay on every parameter: reg/2 |p|^2 in the loss, reg p in the gradient */
    part[2] = cr_l2_loss(want_grad ? m->grad : NULL, m->param, m->n_param, c->reg, 1.0f);
    if (!want_grad) return CR_OK;
    for (s = 0; s < 2; s++) {
        float *dqb = cr__tensor_grad(m, "dcl_qb");
        cr__recdcl_project_backward(m, s, B);
        /* the predictor: p = e Wq^T + bq */
        cr_sgemm(1, 0, d, d, B, 1.0f, R->rdp[s], d, R->re[s], d, 1.0f, cr__tensor_grad(m, "dcl_qw"), d);
        cr_sgemm(0, 0, B, d, d, 1.0f, R->rdp[s], d, qw, d, 1.0f, R->dre[s], d);
        for (i = 0; i < B; i++)
            for (j = 0; j < d; j++) dqb[j] += R->rdp[s][i * d + j];
    }
    memset(g->sub_dout, 0, (size_t)g->sub_n[c->layers] * d * sizeof(float));
    for (s = 0; s < 2; s++)
        for (i = 0; i < B; i++)
            cr_vaxpy(g->sub_dout + (int64_t)g->sub_idx[off[s] + idx[s][i]] * d, 1.0f, R->dre[s] + i * d, d);
    cr__prof_to(CR_PHASE_ENCODE);
    cr__sub_backward(m, 0, NULL);
    return CR_OK;
}

/* After a training batch: the batch rows' current embeddings become the stored ones. */
static void cr__recdcl_batch_end(cr_model *m, const cr__batch *b) {
    cr__recdcl *R = cr__recdcl_of(m);
    int d = m->cfg.dim, i;
    for (i = 0; i < b->n; i++) {
        memcpy(R->bcl_hist + (int64_t)b->users[i] * d, R->re[0] + (int64_t)i * d, (size_t)d * sizeof(float));
        memcpy(R->bcl_hist + ((int64_t)m->n_users + b->pos[i]) * d, R->re[1] + (int64_t)i * d,
               (size_t)d * sizeof(float));
    }
}

/* What a resumed training restores: the stored embeddings. */
static int cr__recdcl_running(cr_model *m, cr__running *out) {
    cr__recdcl *R = cr__recdcl_of(m);
    out[0].p = R->bcl_hist;
    out[0].n = m->n_nodes * m->cfg.dim;
    return 1;
}

/* ---- 8l. RCL: robust contrast on the XSimGCL encoder ---- */

/* XSimGCL (one pass, its final output contrasted with its layer l* output, BPR on the same
   pass) with three parts, each switchable (bench notes: methods-II.md, part 2; no published
   method combines them, so each follows its own source):
     (a) false negatives: in the user-side InfoNCE a user is not a negative of an anchor user
         whose batch item it has interacted with, and in the item-side one an item is not a
         negative of an anchor item whose batch user has interacted with it (nce_mask); the
         negative term may be DCL's debiased estimate or ADNCE's Gaussian-weighted sum (nce_est).
         This is the only InfoNCE there is: XSimGCL has no user-item contrast, and BPR's
         negatives (uniform, DNS's candidates, MixGCF's) are already drawn outside the user's
         known items, so a user's known positives never serve as negatives anywhere else;
     (b) adversarial views (adv): XSimGCL's random noise after each layer is replaced by
         eps g/|g| per row, g the contrastive loss's gradient at that layer's output (FGSM, as
         APR does for BPR), held constant in the backward pass; exact: from an extra clean
         forward pass and a backward pass to the layer outputs; prev: the previous batch's
         gradient, computed in its own backward pass (the first batch is unperturbed). The
         perturbation is for the views only: BPR is taken on a clean pass (exact: the pass
         that gives the direction; prev: one more forward pass);
     (c) confidence (gamma): on the user-item pairs, where interaction noise is, each BPR
         row weighted by the model's detached sigmoid(<u,p> - <u,n>)^gamma (R-CE's reweighting,
         cr__bpr_conf_loss). This model's first form weighted the node-against-itself
         contrast instead, which touches no observed pair.
   With nce_mask off, plain negatives, gamma 0 and adv -1 it is XSimGCL, bit for bit. */

/* The clean pass of the adversarial views would leave gradients in a projection head's
   parameters and in MixGCF's layer gradients: those combinations are refused. */
/* RCL's own state: each batch row's position by id and its partner node; the known false
   negatives of the user rows then the item rows (mask_ptr over both, mask_col grown as needed);
   the contrast's gradient at each layer output and, for the previous-batch variant, the
   perturbation it gives the next batch. All but mask_col are the training workspace's. */
typedef struct cr__rcl {
    int32_t *rowof, *partner, *mask_col;
    int64_t *mask_ptr, mask_cap;
    float *adv_g[CR__MAX_LAYERS + 1], *adv_d[CR__MAX_LAYERS + 1];
    int32_t adv_ready;
} cr__rcl;

static cr__rcl *cr__rcl_of(const cr_model *m) { return (cr__rcl *)m->own; }

static cr_status cr__rcl_check(const cr_config *c) {
    if (c->adv && c->proj_head)
        return cr__fail(CR_ERR_INVALID, "config rcl: a projection head needs adv -1 (random noise)");
    if (c->adv && c->neg == CR_NEG_MIXGCF)
        return cr__fail(CR_ERR_INVALID, "config rcl: MixGCF negatives need adv -1 (random noise)");
    return cr__xsimgcl_check(c);
}

static cr_status cr__rcl_setup(cr_model *m) {
    cr__rcl *R = cr__rcl_of(m);
    R->adv_ready = 0;
    return cr__graph_setup(m);
}

static void cr__rcl_release(cr_model *m) {
    cr__rcl *R = cr__rcl_of(m);
    if (R) {
        CR_FREE(R->mask_col);
        R->mask_col = NULL;
        R->mask_cap = 0;
    }
    cr__graph_release(m);
}

/* XSimGCL's state and the false-negative lists (a plan's shell bounds them by twice the top
   degrees: they grow by doubling) */
static int64_t cr__rcl_memory(const cr_model *m, int64_t *passing) {
    const cr__rcl *R = cr__rcl_of(m);
    int64_t cap = m->shell ? 2 * m->plan_top : R ? R->mask_cap : 0;
    return cr__graph_memory(m, passing) + (m->cfg.nce_mask ? cap * 4 : 0);
}

static void cr__rcl_ws(cr_model *m, cr__arena *a) {
    cr__rcl *R = cr__rcl_of(m);
    int64_t Nd = m->n_nodes * m->cfg.dim;
    int k;
    cr__xsimgcl_ws(m, a);
    R->rowof = cr__takei(a, CR__MAX(m->n_users, m->n_items) + 1);
    R->partner = cr__takei(a, m->cfg.batch);
    R->mask_ptr = (int64_t *)cr__take(a, 2 * (int64_t)m->cfg.batch + 2, sizeof(int64_t));
    for (k = 1; k <= m->cfg.layers && m->cfg.adv; k++) {
        R->adv_g[k] = cr__takef(a, Nd);
        R->adv_d[k] = m->cfg.adv == CR_ADV_PREV ? cr__takef(a, Nd) : NULL;
    }
}

/* One side's rows (nodes rows[r] + off, r < n, the batch's distinct users or items in order),
   each with its first batch partner, and their known false negatives from mask_ptr[0]
   onwards: the other rows adjacent to the row's partner in the training graph. */
static cr_status cr__rcl_side(cr_model *m, const cr__batch *b, int side, int32_t *rows, int *n_out, int64_t *mp) {
    cr__rcl *R = cr__rcl_of(m);
    cr__graph *g = &m->g;
    const int32_t *ids = side ? b->pos : b->users, *other = side ? b->users : b->pos;
    int64_t off = side ? m->n_users : 0, poff = side ? 0 : m->n_users, e;
    int n = cr__unique(m, ids, b->n, rows), r, k;
    for (r = 0; r < n; r++) { R->rowof[rows[r]] = r; R->partner[r] = -1; }
    for (k = 0; k < b->n; k++)
        if (R->partner[R->rowof[ids[k]]] < 0) R->partner[R->rowof[ids[k]]] = (int32_t)(poff + other[k]);
    for (r = 0; r < n; r++) {
        const cr_csr *A = &g->adj;
        int64_t w = R->partner[r], cnt = mp[r], need = cnt + (A->rowptr[w + 1] - A->rowptr[w]);
        if (!m->cfg.nce_mask) { mp[r + 1] = cnt; continue; }
        if (need > R->mask_cap) {
            int64_t cap = CR__MAX(need, 2 * R->mask_cap);
            int32_t *nc = (int32_t *)CR_REALLOC(R->mask_col, (size_t)cap * sizeof(int32_t));
            if (!nc) return cr__fail(CR_ERR_NOMEM, "rcl: no memory for %lld false-negative entries", (long long)cap);
            R->mask_col = nc;
            R->mask_cap = cap;
        }
        for (e = A->rowptr[w]; e < A->rowptr[w + 1]; e++) { /* w's neighbours among this side's rows */
            int64_t v = A->col[e] - off;
            if (v >= 0 && v < (side ? m->n_items : m->n_users) && g->stamp[v] == g->stamp_cur && R->rowof[v] != r)
                R->mask_col[cnt++] = R->rowof[v];
        }
        mp[r + 1] = cnt;
    }
    *n_out = n;
    return CR_OK;
}

/* The robust InfoNCE of both sides between the pass's final output F and its layer l* output
   L (gradients into dF and dL). */
static double cr__rcl_contrast(cr_model *m, const cr__batch *b, int nu, int ni, int want_grad) {
    cr__rcl *R = cr__rcl_of(m);
    const cr_config *c = &m->cfg;
    cr__graph *g = &m->g;
    cr_infonce_opts o[2];
    int s, robust;
    for (s = 0; s < 2; s++) {
        memset(&o[s], 0, sizeof o[s]);
        o[s].mask_ptr = c->nce_mask ? R->mask_ptr + (s ? nu + 1 : 0) : NULL;
        o[s].mask_col = R->mask_col;
        o[s].estimator = c->nce_est;
        o[s].tau_plus = c->tau_plus;
        o[s].mu = c->nce_mu;
        o[s].sigma = c->nce_sigma;
    }
    robust = c->nce_mask || c->nce_est != CR_NCE_PLAIN; /* else XSimGCL's plain kernel */
    return cr__graph_infonce(m, b, g->dF, g->dL, g->F, g->L, g->uu, nu, NULL, 0, robust ? &o[0] : NULL, want_grad) +
           cr__graph_infonce(m, b, g->dF, g->dL, g->F, g->L, NULL, 0, g->ui, ni, robust ? &o[1] : NULL, want_grad);
}

/* The contrast's gradient at every layer output into adv_g[1..K]: backward from dF and the
   kept layers' gradients, without touching the parameters' gradient. */
static void cr__rcl_layer_grads(cr_model *m, float *const *dkeep) {
    cr__rcl *R = cr__rcl_of(m);
    const cr_csr *Gc[CR__MAX_LAYERS];
    const cr__prop_ws w = cr__graph_layers(m, NULL, Gc);
    cr__prop_backward(NULL, Gc, m->cfg.layers, m->g.dF, m->n_nodes, m->cfg.dim, m->ops->first_layer,
                      (const float *const *)dkeep, R->adv_g, &w);
}

/* eps g/|g| per row of each layer's gradient (a row without gradient is left unperturbed). */
static void cr__rcl_direction(cr_model *m, float *const *dst) {
    cr__rcl *R = cr__rcl_of(m);
    int64_t r, N = m->n_nodes;
    int d = m->cfg.dim, k;
    float eps = m->cfg.eps;
    for (k = 1; k <= m->cfg.layers; k++) {
        const float *src = R->adv_g[k];
        float *out = dst[k];
        CR__OMP(parallel for schedule(static))
        for (r = 0; r < N; r++) {
            float nrm = sqrtf(cr_vdot(src + r * d, src + r * d, d)), f = nrm > 0 ? eps / nrm : 0.0f;
            int j;
            for (j = 0; j < d; j++) out[r * d + j] = f * src[r * d + j];
        }
    }
}

/* The encoder without noise, plus delta[k] after layer k where given. */
static void cr__rcl_forward(cr_model *m, float *const *keep, const float *const *delta) {
    const cr_csr *Gc[CR__MAX_LAYERS];
    const cr__prop_ws w = cr__graph_layers(m, NULL, Gc);
    cr__prop_forward(m->g.F, keep, Gc, m->cfg.layers, m->E0, m->n_nodes, m->cfg.dim, m->ops->first_layer, 0.0f, 0,
                     delta, &w);
}

/* Adversarial views: BPR on a clean pass, the contrast on the perturbed one (exact: the
   direction from the clean pass's own contrast; prev: the previous batch's, none before the
   first, when the views are the clean pass). The encoder is linear in the ego table and the
   perturbation a constant, so both passes' gradients (at F and the kept layers) add up and the
   caller's one backward pass serves both. */
static void cr__rcl_adv_loss(cr_model *m, const cr__batch *b, float *const *keep, float *const *dkeep, int nu, int ni,
                             int want_grad, double part[3]) {
    cr__rcl *R = cr__rcl_of(m);
    cr__graph *g = &m->g;
    int64_t Nd = m->n_nodes * m->cfg.dim;
    if (m->cfg.adv == CR_ADV_EXACT) {
        cr__rcl_forward(m, keep, NULL);
        cr__pzero(g->dF, Nd);
        cr__pzero(g->dL, Nd);
        cr__rcl_contrast(m, b, nu, ni, 1);
        cr__rcl_layer_grads(m, dkeep);
        cr__rcl_direction(m, R->adv_g);
        cr__pzero(g->dF, Nd);
        cr__pzero(g->dL, Nd);
        cr__graph_bpr(m, b, keep, dkeep, g->F, g->dF, want_grad, part);
        cr__rcl_forward(m, keep, (const float *const *)R->adv_g);
        part[1] += cr__rcl_contrast(m, b, nu, ni, want_grad);
        return;
    }
    cr__rcl_forward(m, keep, R->adv_ready ? (const float *const *)R->adv_d : NULL);
    if (want_grad) { /* the contrast first, alone: its gradient at each layer is the next batch's direction */
        cr__pzero(g->dF, Nd);
        cr__pzero(g->dL, Nd);
    }
    part[1] += cr__rcl_contrast(m, b, nu, ni, want_grad);
    if (want_grad) cr__rcl_layer_grads(m, dkeep);
    if (R->adv_ready) cr__rcl_forward(m, keep, NULL);
    cr__graph_bpr(m, b, keep, dkeep, g->F, g->dF, want_grad, part);
}

static cr_status cr__rcl_loss(cr_model *m, const cr__batch *b, int want_grad, double part[3]) {
    cr__rcl *R = cr__rcl_of(m);
    const cr_config *c = &m->cfg;
    cr__graph *g = &m->g;
    float *keep[CR__MAX_LAYERS + 1], *dkeep[CR__MAX_LAYERS + 1];
    const uint8_t *top = NULL; /* the adversarial views read every row */
    int nu = 0, ni = 0, cl = c->lambda > 0;
    cr_status st;
    if (cl) {
        R->mask_ptr[0] = 0;
        if ((st = cr__rcl_side(m, b, 0, g->uu, &nu, R->mask_ptr)) != CR_OK) return st;
        R->mask_ptr[nu + 1] = R->mask_ptr[nu]; /* the item rows' entries follow the user rows' */
        if ((st = cr__rcl_side(m, b, 1, g->ui, &ni, R->mask_ptr + nu + 1)) != CR_OK) return st;
    }
    cr__graph_keep_layers(m, keep, dkeep, want_grad);
    if (cl && c->adv)
        cr__rcl_adv_loss(m, b, keep, dkeep, nu, ni, want_grad, part);
    else { /* XSimGCL's one noisy pass for BPR and both views */
        cr__graph_encode(m, g->F, NULL, c->eps, cr_hash64(b->seed, 1), keep, top = cr__graph_top(m, b));
        if (want_grad) cr__pzero(g->dF, m->n_nodes * c->dim);
        cr__graph_bpr(m, b, keep, dkeep, g->F, g->dF, want_grad, part);
        if (cl) part[1] += cr__rcl_contrast(m, b, nu, ni, want_grad);
    }
    if (want_grad) cr__graph_encode_backward(m, g->dF, NULL, (const float *const *)dkeep, top);
    return CR_OK;
}

/* Previous-batch variant: the gradient this batch left becomes the next batch's perturbation. */
static void cr__rcl_batch_end(cr_model *m, const cr__batch *b) {
    cr__rcl *R = cr__rcl_of(m);
    (void)b;
    if (m->cfg.adv != CR_ADV_PREV || m->cfg.lambda <= 0) return;
    cr__rcl_direction(m, R->adv_d);
    R->adv_ready = 1;
}

/* What a resumed training restores: the perturbation waiting for the next batch, and whether
   there is one. */
static int cr__rcl_running(cr_model *m, cr__running *out) {
    cr__rcl *R = cr__rcl_of(m);
    int k, n = 0;
    if (m->cfg.adv != CR_ADV_PREV || m->cfg.lambda <= 0) return 0;
    out[n].p = &R->adv_ready;
    out[n].flag = 1;
    out[n++].n = 1;
    for (k = 1; k <= m->cfg.layers; k++) {
        out[n].p = R->adv_d[k];
        out[n++].n = m->n_nodes * m->cfg.dim;
    }
    return n;
}

/* ---- 8m. sequence models: the GRU encoder with backprop through time ---- */

/* Layout. Sequences are left-aligned to end at step T-1 (T = max_len, the last T items kept)
   and packed time-major without padding, as PyTorch's PackedSequence does: within a batch the
   sequences are ordered by length, longest first (col[j] is the batch index of column j), so
   the sequences alive at step t are columns 0..act[t]-1 and step t is the contiguous block of
   act[t] rows starting at row off[t]. Every gate product is still a GEMM over a block, and the
   work follows the real number of items, not B * T (Beauty's mean length is 8 of 50). The
   last block (step T-1) holds every non-empty sequence's final state. Item ids are shifted
   by one in the embedding table: row 0 is padding (kept zero), rows 1..I the items, row I+1
   the mask token. The GRU follows PyTorch's equations:
       r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
       z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
       n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
       h' = (1 - z) * n + z * h
   and every sequence starts from a zero state. */

#define CR__SEQ_MAXL 4

/* Activations of one pass over up to B sequences (the main pass and each contrastive view).
   Row capacity is B * T; ntok rows are in use. */
typedef struct cr__gru_acts {
    int ntok;
    int32_t *col, *inv; /* (B) column -> batch index, batch index -> column */
    int32_t *act;       /* (T) columns alive at step t (non-decreasing in t) */
    int64_t *off;       /* (T+1) first row of step t */
    int32_t *ids;       /* (rows) table rows */
    float *x0;          /* (rows, d) input embeddings after dropout */
    float *din;         /* (rows, d) input dropout scales (NULL without dropout) */
    float *gi[CR__SEQ_MAXL], *ghn[CR__SEQ_MAXL], *r[CR__SEQ_MAXL], *z[CR__SEQ_MAXL], *n[CR__SEQ_MAXL];
    float *h[CR__SEQ_MAXL];  /* (rows, H) layer outputs */
    float *hp[CR__SEQ_MAXL]; /* (rows, H) each row's previous state (zero at a sequence's start) */
    float *dout;        /* (rows, H) output dropout scales (NULL without dropout) */
    float *y;           /* (rows, H) top-layer outputs after dropout */
    float *o;           /* (rows, d) outputs in item space (== y when H == d) */
    float *gh;          /* (B, 3H) the recurrent products of one step */
} cr__gru_acts;

struct cr__seq {
    int T, H, d, L;
    int32_t *train_users; /* users with a next-item target (two or more items): the examples */
    int32_t *corr;        /* correlated items for insert / substitute (CoSeRec): 4 per item, -1 = none */
    /* training buffers (arena) */
    cr__gru_acts acts[3]; /* main pass, view 1, view 2 */
    float *dy, *dx, *dgi, *dgh, *dh; /* backward scratch */
    float *logits;        /* the streamed next-item softmax's workspace */
    int32_t *target, *tgt_all, *cand;
    float *cand_emb, *cand_grad; /* sampled softmax: the candidates' rows and gradients */
    int64_t cand_cap;
    int32_t *stamp, stamp_cur;
    float *zin, *a1, *z, *dz, *da1, *dzin, *cl_ws; /* contrast: view outputs, head, InfoNCE */
    int32_t *cl_pos, *cl_self;
    int32_t *tmp_seq;          /* (B, 2T + 1) augmented views */
    const int32_t **view_ptr;  /* (B) each batch sequence's items */
    int *view_len;             /* (B) their lengths */
};

/* Layer l's tensor named by fmt ("gru%d_wih", ...), from the parameter or the gradient block. */
static float *cr__seq_w_in(const cr_model *m, float *block, const char *fmt, int l) {
    char name[24];
    snprintf(name, sizeof name, fmt, l);
    return cr__tensor_in(m, block, name);
}
static float *cr__seq_w(const cr_model *m, const char *fmt, int l) { return cr__seq_w_in(m, m->param, fmt, l); }

/* The items' rows of the ego table (item_emb itself for ID-only items), tied between input and output. */
static const float *cr__seq_item_vectors(const cr_model *m) { return m->E0 + m->cfg.dim; }

/* Takes one pass's activations for batches of up to B sequences from the arena. */
static void cr__gru_acts_take(cr__gru_acts *A, cr__arena *a, int T, int B, int d, int H, int L, int dropout) {
    int64_t TB = (int64_t)T * B;
    int l;
    memset(A, 0, sizeof *A);
    A->col = cr__takei(a, B);
    A->inv = cr__takei(a, B);
    A->act = cr__takei(a, T);
    A->off = (int64_t *)cr__take(a, T + 1, sizeof(int64_t));
    A->ids = cr__takei(a, TB);
    A->x0 = cr__takef(a, TB * d);
    A->din = dropout ? cr__takef(a, TB * d) : NULL;
    A->dout = dropout ? cr__takef(a, TB * H) : NULL;
    A->y = cr__takef(a, TB * H);
    A->o = H == d ? A->y : cr__takef(a, TB * d);
    A->gh = cr__takef(a, (int64_t)B * 3 * H);
    for (l = 0; l < L; l++) {
        A->gi[l] = cr__takef(a, TB * 3 * H);
        A->ghn[l] = cr__takef(a, TB * H);
        A->r[l] = cr__takef(a, TB * H);
        A->z[l] = cr__takef(a, TB * H);
        A->n[l] = cr__takef(a, TB * H);
        A->h[l] = cr__takef(a, TB * H);
        A->hp[l] = cr__takef(a, TB * H);
    }
}

/* For insert and substitute: each item's most frequent neighbours in the training sequences
   (adjacent pairs, both directions; ties by id), CoSeRec's "correlated items". */
static cr_status cr__seq_correlations(cr_model *m) {
    struct cr__seq *q = m->seq;
    int64_t np = 0, u, p, i;
    uint64_t *pairs = (uint64_t *)cr__alloc_array((size_t)m->hist.nnz * 2 + 1, sizeof(uint64_t), "item correlations");
    q->corr = (int32_t *)cr__alloc_array((size_t)m->n_items * 4, sizeof(int32_t), "item correlations");
    if (!pairs || !q->corr) { CR_FREE(pairs); return CR_ERR_NOMEM; }
    for (i = 0; i < (int64_t)m->n_items * 4; i++) q->corr[i] = -1;
    for (u = 0; u < m->n_users; u++)
        for (p = m->hist.rowptr[u] + 1; p < m->hist.rowptr[u + 1]; p++) {
            uint32_t a = (uint32_t)m->hist.col[p - 1], b = (uint32_t)m->hist.col[p];
            if (a == b) continue;
            pairs[np++] = ((uint64_t)a << 32) | b;
            pairs[np++] = ((uint64_t)b << 32) | a;
        }
    cr__sort_u64(pairs, np);
    for (i = 0; i < np;) { /* runs of one item: count each neighbour, keep the 4 most frequent */
        int64_t j = i, best_c[4] = {0, 0, 0, 0};
        int32_t a = (int32_t)(pairs[i] >> 32), *c = q->corr + (int64_t)a * 4;
        while (j < np && (int32_t)(pairs[j] >> 32) == a) {
            int64_t k = j, cnt;
            int s;
            while (k < np && pairs[k] == pairs[j]) k++;
            cnt = k - j;
            for (s = 0; s < 4; s++)
                if (cnt > best_c[s]) { /* insert, shifting lower counts down */
                    int t;
                    for (t = 3; t > s; t--) { best_c[t] = best_c[t - 1]; c[t] = c[t - 1]; }
                    best_c[s] = cnt;
                    c[s] = (int32_t)(uint32_t)pairs[j];
                    break;
                }
            j = k;
        }
        i = j;
    }
    CR_FREE(pairs);
    return CR_OK;
}

/* The encoder's parameters: the item table (padding, items, mask token), the GRU layers,
   an output projection when hidden != dim, and the projection head when enabled. */
static cr_status cr__seq_plan(cr_model *m) {
    const cr_config *c = &m->cfg;
    int d = c->dim, H = c->hidden, L = c->gru_layers, l;
    float su = 1.0f / sqrtf((float)H);
    cr_status st;
    if ((st = cr__plan(m, "item_emb", (int64_t)m->n_items + 2, d, CR__INIT_XAVIER, 0)) != CR_OK) return st;
    for (l = 0; l < L; l++) { /* PyTorch's GRU initialisation: U(-1/sqrt(H), 1/sqrt(H)) */
        char nm[24];
        snprintf(nm, sizeof nm, "gru%d_wih", l);
        if ((st = cr__plan(m, nm, 3 * (int64_t)H, l ? H : d, CR__INIT_UNIFORM, su)) != CR_OK) return st;
        snprintf(nm, sizeof nm, "gru%d_whh", l);
        if ((st = cr__plan(m, nm, 3 * (int64_t)H, H, CR__INIT_UNIFORM, su)) != CR_OK) return st;
        snprintf(nm, sizeof nm, "gru%d_bih", l);
        if ((st = cr__plan(m, nm, 1, 3 * (int64_t)H, CR__INIT_UNIFORM, su)) != CR_OK) return st;
        snprintf(nm, sizeof nm, "gru%d_bhh", l);
        if ((st = cr__plan(m, nm, 1, 3 * (int64_t)H, CR__INIT_UNIFORM, su)) != CR_OK) return st;
    }
    if (H != d && (st = cr__plan(m, "out_proj", d, H, CR__INIT_XAVIER, 0)) != CR_OK) return st;
    if (c->proj_head && (st = cr__plan_head(m)) != CR_OK) return st;
    return cr__plan_features(m);
}

/* What every use needs: the training users and, for insert/substitute, item correlations. */
static cr_status cr__seq_setup(cr_model *m) {
    const cr_config *c = &m->cfg;
    struct cr__seq *q = (struct cr__seq *)cr__calloc_array(1, sizeof(struct cr__seq), "sequence model");
    int64_t u;
    if (!q) return CR_ERR_NOMEM;
    m->seq = q;
    q->T = c->max_len; q->H = c->hidden; q->d = c->dim; q->L = c->gru_layers;
    q->train_users = (int32_t *)cr__alloc_array((size_t)m->n_users + 1, sizeof(int32_t), "sequence users");
    if (!q->train_users) return CR_ERR_NOMEM;
    for (u = 0; u < m->n_users; u++) /* users with two or more items have a next-item target */
        if (m->hist.rowptr[u + 1] - m->hist.rowptr[u] >= 2) q->train_users[m->n_examples++] = (int32_t)u;
    m->ex_user = q->train_users;
    m->ex_item = NULL;
    return CR_OK;
}

static void cr__seq_release(cr_model *m) {
    if (!m->seq) return;
    CR_FREE(m->seq->train_users);
    CR_FREE(m->seq->corr);
    CR_FREE(m->seq);
    m->seq = NULL;
}

/* The training users, CoSeRec's correlated items (insert, substitute) and the item features. */
static int64_t cr__seq_memory(const cr_model *m, int64_t *passing) {
    int corr = m->shell ? m->cfg.model == CR_MODEL_CL4SREC && m->cfg.lambda > 0 &&
                              (m->cfg.seq_aug & (CR_SEQAUG_INSERT | CR_SEQAUG_SUBSTITUTE))
                        : m->seq && m->seq->corr;
    return ((int64_t)m->n_users + 1) * 4 + (corr ? (int64_t)m->n_items * 16 : 0) + cr__features_memory(m, passing);
}

/* The main pass, its backward scratch and the next-item loss's buffers (GRU4Rec). */
static void cr__seq_ws(cr_model *m, cr__arena *a) {
    const cr_config *c = &m->cfg;
    struct cr__seq *q = m->seq;
    int64_t B = c->batch, TB = (int64_t)q->T * B;
    cr__gru_acts_take(&q->acts[0], a, q->T, (int)B, q->d, q->H, q->L, c->dropout > 0);
    q->dx = cr__takef(a, TB * CR__MAX(q->H, q->d));
    q->dy = cr__takef(a, TB * CR__MAX(q->H, q->d));
    q->dgi = cr__takef(a, TB * 3 * q->H);
    q->dgh = cr__takef(a, TB * 3 * q->H);
    q->dh = cr__takef(a, B * q->H);
    /* the next-item softmax streamed over tiles of items (cr__softmax_streamed): packed inputs
       and one block of at most 2^23 logits */
    q->cand_cap = c->neg_samples > 0 ? TB + c->neg_samples : m->n_items;
    q->logits = cr__takef(a, cr__nce_floats((int)TB, (int)q->cand_cap, (int)q->d) + 16);
    q->target = cr__takei(a, TB);
    q->tgt_all = cr__takei(a, TB);
    q->cand = cr__takei(a, q->cand_cap + 1);
    q->cand_emb = c->neg_samples > 0 ? cr__takef(a, q->cand_cap * q->d) : NULL;
    q->cand_grad = c->neg_samples > 0 ? cr__takef(a, q->cand_cap * q->d) : NULL;
    q->stamp = cr__takei(a, (int64_t)m->n_items + 2);
    q->view_ptr = (const int32_t **)cr__take(a, B, sizeof(const int32_t *));
    q->view_len = (int *)cr__take(a, B, sizeof(int));
}

/* Gate nonlinearities on cr__expf, so the gate loops vectorise (libm's expf and tanhf are
   scalar calls and were a fifth of a CL4SRec epoch). tanh(x) = 2 sigmoid(2x) - 1. */
static CR__INLINE float cr__sigmoidf(float x) { return 1.0f / (1.0f + cr__expf(-x)); }
static CR__INLINE float cr__tanhf(float x) { return 2.0f / (1.0f + cr__expf(-2.0f * x)) - 1.0f; }

/* Packs B sequences into A: seqs[b] has len[b] items (dense ids), of which the last T are
   used. With targets, the target of each step is the item after it (seqs[b][len[b]] must
   exist). Columns are ordered by length, longest first, ties by batch index (a stable
   counting sort), so every step's live sequences form a prefix of the columns. */
static void cr__seq_pack(cr__gru_acts *A, const int32_t *const *seqs, const int *len, int B, int T, int32_t *targets) {
    int b, t, j, n, c;
    int32_t *cnt = A->act; /* borrowed as counts per length before act is filled */
    memset(cnt, 0, (size_t)T * sizeof(int32_t));
    for (b = 0; b < B; b++) {
        n = CR__MIN(len[b], T);
        if (n > 0) cnt[T - n]++; /* bucket T - n: longest first */
    }
    for (t = 0, c = 0; t < T; t++) { n = cnt[t]; cnt[t] = c; c += n; }
    for (b = 0, j = c; b < B; b++) { /* empty sequences go last */
        n = CR__MIN(len[b], T);
        A->inv[b] = n > 0 ? cnt[T - n]++ : j++;
        A->col[A->inv[b]] = b;
    }
    A->off[0] = 0;
    for (t = 0, j = 0; t < T; t++) { /* act[t]: columns whose sequence has begun by step t */
        while (j < B && CR__MIN(len[A->col[j]], T) >= T - t) j++;
        A->act[t] = j;
        A->off[t + 1] = A->off[t] + j;
    }
    A->ntok = (int)A->off[T];
    for (t = 0; t < T; t++)
        for (j = 0; j < A->act[t]; j++) {
            int64_t row = A->off[t] + j;
            int cb = A->col[j], nb = CR__MIN(len[cb], T);
            const int32_t *s = seqs[cb] + (len[cb] - nb);
            int k = t - (T - nb);
            A->ids[row] = s[k] + 1;
            if (targets) targets[row] = s[k + 1];
        }
}

/* Row of batch index b's final output in A->o, or NULL for an empty sequence. */
static const float *cr__seq_last(const cr__gru_acts *A, int b, int T, int d) {
    int j = A->inv[b];
    return j < A->act[T - 1] ? A->o + (A->off[T - 1] + j) * d : NULL;
}

/* One GRU layer forward over the packed rows. x (ntok, in) -> h; caches gi (input products),
   hp (previous states), ghn (W_hn h + b_hn), r, z, n for the backward pass. */
static void cr__gru_layer_forward(cr__gru_acts *A, int l, const float *x, int in, const float *wih,
                                  const float *whh, const float *bih, const float *bhh, int T, int H) {
    int64_t N = A->ntok, H3 = 3 * (int64_t)H, i;
    float *gi = A->gi[l], *h = A->h[l], *gh = A->gh;
    int t;
    if (N == 0) return;
    /* all input products at once: gi = x W_ih^T + b_ih */
    cr_sgemm(0, 1, (int)N, (int)H3, in, 1.0f, x, in, wih, in, 0.0f, gi, (int)H3);
    CR__OMP(parallel for schedule(static))
    for (i = 0; i < N; i++) cr_vaxpy(gi + i * H3, 1.0f, bih, H3);
    for (t = 0; t < T; t++) {
        int a = A->act[t], ap = t ? A->act[t - 1] : 0, b;
        int64_t o = A->off[t];
        float *hp = A->hp[l] + o * H;
        if (a == 0) continue;
        /* previous states: the live prefix of step t-1, zeros for sequences that begin now */
        if (ap) memcpy(hp, h + A->off[t - 1] * H, (size_t)ap * H * sizeof(float));
        memset(hp + (int64_t)ap * H, 0, (size_t)(a - ap) * H * sizeof(float));
        if (ap) cr_sgemm(0, 1, ap, (int)H3, H, 1.0f, hp, H, whh, H, 0.0f, gh, (int)H3);
        memset(gh + (int64_t)ap * H3, 0, (size_t)(a - ap) * H3 * sizeof(float));
        CR__OMP(parallel for schedule(static) if ((int64_t)a * H >= 4096))
        for (b = 0; b < a; b++) {
            int64_t row = o + b;
            const float *g_i = gi + row * H3, *g_h = gh + (int64_t)b * H3, *hpb = hp + (int64_t)b * H;
            float *rr = A->r[l] + row * H, *zz = A->z[l] + row * H, *nn = A->n[l] + row * H;
            float *gn = A->ghn[l] + row * H, *hb = h + row * H;
            int j;
            for (j = 0; j < H; j++) {
                gn[j] = g_h[2 * H + j] + bhh[2 * H + j];
                rr[j] = cr__sigmoidf(g_i[j] + g_h[j] + bhh[j]);
                zz[j] = cr__sigmoidf(g_i[H + j] + g_h[H + j] + bhh[H + j]);
                nn[j] = cr__tanhf(g_i[2 * H + j] + rr[j] * gn[j]);
                hb[j] = (1.0f - zz[j]) * nn[j] + zz[j] * hpb[j];
            }
        }
    }
}

/* Backward of cr__gru_layer_forward. dY (ntok, H) is the gradient of the layer's outputs;
   accumulates dW and db, and writes dx (ntok, in). */
static void cr__gru_layer_backward(struct cr__seq *q, cr__gru_acts *A, int l, float *dx, const float *dY,
                                   const float *x, int in, const float *wih, const float *whh,
                                   float *dwih, float *dwhh, float *dbih, float *dbhh, int T, int H) {
    int64_t N = A->ntok, H3 = 3 * (int64_t)H, i;
    float *dgi = q->dgi, *dgh = q->dgh, *dh = q->dh;
    int t, j;
    if (N == 0) return;
    memset(dh, 0, (size_t)A->act[T - 1] * H * sizeof(float));
    for (t = T - 1; t >= 0 && A->act[t] > 0; t--) {
        int a = A->act[t], ap = t ? A->act[t - 1] : 0, b;
        int64_t o = A->off[t];
        CR__OMP(parallel for schedule(static) if ((int64_t)a * H >= 4096))
        for (b = 0; b < a; b++) {
            int64_t row = o + b;
            const float *rr = A->r[l] + row * H, *zz = A->z[l] + row * H, *nn = A->n[l] + row * H;
            const float *gn = A->ghn[l] + row * H, *hpb = A->hp[l] + row * H, *dyb = dY + row * H;
            float *dhb = dh + (int64_t)b * H, *gI = dgi + row * H3, *gH = dgh + row * H3;
            int jj;
            for (jj = 0; jj < H; jj++) {
                /* forward: h = (1 - z) n + z h_prev, n = tanh(a_n), a_n = gi_n + r ghn */
                float g = dyb[jj] + dhb[jj];
                float dn = g * (1.0f - zz[jj]), dz = g * (hpb[jj] - nn[jj]);
                float dan = dn * (1.0f - nn[jj] * nn[jj]);
                float dar = dan * gn[jj] * rr[jj] * (1.0f - rr[jj]);
                float daz = dz * zz[jj] * (1.0f - zz[jj]);
                gI[jj] = dar;
                gI[H + jj] = daz;
                gI[2 * H + jj] = dan;
                gH[jj] = dar;
                gH[H + jj] = daz;
                gH[2 * H + jj] = dan * rr[jj];
                dhb[jj] = g * zz[jj]; /* the direct path to h_prev; the W_hh path is added below */
            }
        }
        /* dh_prev += dgh_t W_hh, for the sequences that were alive at step t-1 */
        if (ap) cr_sgemm(0, 0, ap, H, (int)H3, 1.0f, dgh + o * H3, (int)H3, whh, H, 1.0f, dh, H);
    }
    /* weight gradients over all rows at once */
    cr_sgemm(1, 0, (int)H3, H, (int)N, 1.0f, dgh, (int)H3, A->hp[l], H, 1.0f, dwhh, H);
    cr_sgemm(1, 0, (int)H3, in, (int)N, 1.0f, dgi, (int)H3, x, in, 1.0f, dwih, in);
    for (i = 0; i < N; i++)
        for (j = 0; j < H3; j++) { dbih[j] += dgi[i * H3 + j]; dbhh[j] += dgh[i * H3 + j]; }
    /* dx = dgi W_ih */
    cr_sgemm(0, 0, (int)N, in, (int)H3, 1.0f, dgi, (int)H3, wih, in, 0.0f, dx, in);
}

/* Forward of the encoder for the sequences packed in A. train: apply dropout with the
   randomness of seed. Leaves outputs in A->o (ntok, d). Reads the model only. */
static void cr__seq_forward(const cr_model *m, cr__gru_acts *A, int train, uint64_t seed) {
    const struct cr__seq *q = m->seq;
    int T = q->T, d = q->d, H = q->H, L = q->L, l, ph = cr__prof_to(CR_PHASE_ENCODE);
    int64_t N = A->ntok, i;
    const float *E = m->E0;
    float p = train ? m->cfg.dropout : 0.0f, keep_scale = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
    const float *x;
    int in;
    /* input embeddings (with dropout) */
    CR__OMP(parallel for schedule(static))
    for (i = 0; i < N; i++) {
        cr_rng g = cr_rng_stream(seed, (uint64_t)i);
        float *xi = A->x0 + i * d;
        int j;
        memcpy(xi, E + (int64_t)A->ids[i] * d, (size_t)d * sizeof(float));
        if (p > 0)
            for (j = 0; j < d; j++) {
                A->din[i * d + j] = cr_rng_float(&g) >= p ? keep_scale : 0.0f;
                xi[j] *= A->din[i * d + j];
            }
    }
    x = A->x0;
    in = d;
    for (l = 0; l < L; l++) {
        cr__gru_layer_forward(A, l, x, in, cr__seq_w(m, "gru%d_wih", l), cr__seq_w(m, "gru%d_whh", l),
                              cr__seq_w(m, "gru%d_bih", l), cr__seq_w(m, "gru%d_bhh", l), T, H);
        x = A->h[l];
        in = H;
    }
    /* output dropout */
    CR__OMP(parallel for schedule(static))
    for (i = 0; i < N; i++) {
        cr_rng g = cr_rng_stream(seed ^ 0x9e3779b97f4a7c15ULL, (uint64_t)i);
        const float *hi = x + i * H;
        float *yi = A->y + i * H;
        int j;
        for (j = 0; j < H; j++) {
            float s = 1.0f;
            if (p > 0) s = A->dout[i * H + j] = cr_rng_float(&g) >= p ? keep_scale : 0.0f;
            yi[j] = hi[j] * s;
        }
    }
    if (H != d && N > 0) cr_sgemm(0, 1, (int)N, d, H, 1.0f, A->y, H, cr__tensor(m, "out_proj"), H, 0.0f, A->o, d);
    cr__prof_to(ph);
}

/* Backward of cr__seq_forward given dO (ntok, d) in q->dy; accumulates every parameter's
   gradient. dO is consumed. */
static void cr__seq_backward(cr_model *m, cr__gru_acts *A) {
    struct cr__seq *q = m->seq;
    int T = q->T, d = q->d, H = q->H, L = q->L, l, ph;
    int64_t N = A->ntok, i;
    float *dY = q->dy;
    float *gE = m->dE0;
    if (N == 0) return;
    ph = cr__prof_to(CR_PHASE_ENCODE);
    if (H != d) { /* o = y W_out^T: dW_out += dO^T y, dy = dO W_out */
        float *W = cr__tensor(m, "out_proj");
        cr_sgemm(1, 0, d, H, (int)N, 1.0f, q->dy, d, A->y, H, 1.0f, cr__tensor_grad(m, "out_proj"), H);
        cr_sgemm(0, 0, (int)N, H, d, 1.0f, q->dy, d, W, H, 0.0f, q->dx, H);
        dY = q->dx;
    }
    /* through the output dropout: dh = dy * scale */
    if (A->dout)
        for (i = 0; i < N * H; i++) dY[i] *= A->dout[i];
    for (l = L - 1; l >= 0; l--) {
        const float *x = l ? A->h[l - 1] : A->x0;
        int in = l ? H : d;
        float *wih = cr__seq_w(m, "gru%d_wih", l), *whh = cr__seq_w(m, "gru%d_whh", l);
        float *dx = dY == q->dy ? q->dx : q->dy; /* ping-pong the two scratch buffers */
        cr__gru_layer_backward(q, A, l, dx, dY, x, in, wih, whh, cr__seq_w_in(m, m->grad, "gru%d_wih", l),
                               cr__seq_w_in(m, m->grad, "gru%d_whh", l), cr__seq_w_in(m, m->grad, "gru%d_bih", l),
                               cr__seq_w_in(m, m->grad, "gru%d_bhh", l), T, H);
        dY = dx;
    }
    /* into the embedding table (padding row 0 stays fixed at zero) */
    for (i = 0; i < N; i++) {
        int32_t id = A->ids[i];
        int j;
        for (j = 0; j < d; j++) gE[(int64_t)id * d + j] += dY[i * d + j] * (A->din ? A->din[i * d + j] : 1.0f);
    }
    cr__prof_to(ph);
}

/* Next-item loss over every step of the main pass: full softmax over all items (tied to the
   embedding table) or a sampled softmax over the batch's targets plus neg_samples shared
   uniform negatives. targets (ntok) holds the next item of each step. Leaves dO in q->dy
   when want_grad. */
static double cr__seq_next_item(cr_model *m, cr__gru_acts *A, const int32_t *targets, uint64_t seed, int want_grad) {
    struct cr__seq *q = m->seq;
    int d = q->d, I = m->n_items;
    int64_t P = A->ntok, i, nc = I;
    float *Etab = m->E0 + d, *gE = m->dE0 + d; /* rows 1..I */
    const float *C = Etab; /* candidate rows (nc, d) and their gradient */
    float *dC = gE;
    const int32_t *tg = targets; /* column of each step's target among the candidates */
    double loss = 0;
    if (P == 0) return 0;
    if (m->cfg.neg_samples > 0) { /* candidates: the distinct targets, then uniform negatives */
        cr_rng r = cr_rng_stream(seed, 0x73616d70ULL);
        int k;
        if (++q->stamp_cur == INT32_MAX) { memset(q->stamp, 0, (size_t)(I + 2) * sizeof(int32_t)); q->stamp_cur = 1; }
        nc = 0;
        for (i = 0; i < P; i++) {
            int32_t t = targets[i];
            if (q->stamp[t] != q->stamp_cur) { q->stamp[t] = q->stamp_cur; q->cand[nc++] = t; }
        }
        for (k = 0; k < m->cfg.neg_samples; k++) {
            int32_t t = (int32_t)cr_rng_below(&r, (uint32_t)I);
            if (q->stamp[t] != q->stamp_cur) { q->stamp[t] = q->stamp_cur; q->cand[nc++] = t; }
        }
        /* targets become positions in the candidate list (the stamp array maps item -> slot) */
        for (i = 0; i < nc; i++) q->stamp[q->cand[i]] = -(int32_t)i - 2;
        for (i = 0; i < P; i++) q->target[i] = -q->stamp[targets[i]] - 2;
        tg = q->target;
        for (i = 0; i < nc; i++) q->stamp[q->cand[i]] = q->stamp_cur;
        cr__gather_rows(q->cand_emb, Etab, q->cand, (int)nc, d, 0);
        C = q->cand_emb;
        dC = q->cand_grad;
        if (want_grad) memset(dC, 0, (size_t)(nc * d) * sizeof(float));
    }
    loss = (double)P * cr__softmax_streamed(want_grad ? q->dy : NULL, dC, A->o, C, (int)P, (int)nc, d, tg, 1.0f,
                                            q->logits);
    if (want_grad && dC != gE) cr__scatter_add_rows(gE, dC, q->cand, (int)nc, d, 0);
    return loss / (double)P;
}

/* The recommendation part every sequence model shares: the batch's histories without their
   last item, the next item as the target at every step, and L2 on the item table. */
static void cr__seq_rec_loss(cr_model *m, const cr__batch *b, int want_grad, double part[3]) {
    struct cr__seq *q = m->seq;
    cr__gru_acts *A = &q->acts[0];
    int i;
    for (i = 0; i < b->n; i++) {
        int32_t u = b->users[i];
        q->view_ptr[i] = m->hist.col + m->hist.rowptr[u];
        q->view_len[i] = (int)(m->hist.rowptr[u + 1] - m->hist.rowptr[u]) - 1;
    }
    cr__seq_pack(A, q->view_ptr, q->view_len, b->n, q->T, q->tgt_all);
    cr__seq_forward(m, A, 1, cr_hash64(b->seed, 0x6d61696eULL));
    cr__prof_to(CR_PHASE_REC);
    part[0] = cr__seq_next_item(m, A, q->tgt_all, b->seed, want_grad);
    if (want_grad) cr__seq_backward(m, A);
    cr__prof_to(CR_PHASE_CONTRAST);
    if (m->cfg.fm_w > 0) part[1] += cr__fmask_loss(m, b->n, b->seed, want_grad); /* b->n items, drawn uniformly */
    cr__prof_to(CR_PHASE_OTHER);
}

static void cr__seq_reg_loss(cr_model *m, int want_grad, double part[3]) {
    if (m->cfg.reg > 0) /* L2 on the whole embedding table (the ego table with features), as SELFRec's CL4SRec does */
        part[2] = cr_l2_loss(want_grad ? m->dE0 : NULL, m->E0, m->ego_rows * m->seq->d, m->cfg.reg, 1.0f);
    if (want_grad) memset(m->dE0, 0, (size_t)m->seq->d * sizeof(float)); /* padding row */
}

/* cr__seq_encode's histories at once: up to 256, within about 16M floats of activations (one
   for a new history), and its buffers for them (the memory plan sizes them on a NULL arena). */
static int cr__seq_encode_rows(const cr_model *m, int64_t n, int one) {
    const struct cr__seq *q = m->seq;
    int64_t per_row = 2 * (int64_t)q->d + (int64_t)q->L * 9 * q->H + 3 * (int64_t)q->H;
    int64_t B =
        CR__MAX(1, CR__MIN((int64_t)CR__MIN(m->cfg.batch, 256), ((int64_t)16 << 20) / ((int64_t)q->T * per_row)));
    return (int)CR__MAX(1, CR__MIN(one ? 1 : B, n));
}
static void cr__seq_encode_take(const cr_model *m, cr__arena *a, int B, cr__gru_acts *A, int32_t **buf,
                                const int32_t ***vs, int **vl) {
    const struct cr__seq *q = m->seq;
    cr__gru_acts_take(A, a, q->T, B, q->d, q->H, q->L, 0);
    *buf = cr__takei(a, (int64_t)B * q->T + 1);
    *vs = (const int32_t **)cr__take(a, B, sizeof(**vs));
    *vl = (int *)cr__take(a, B, sizeof(int));
}
static size_t cr__seq_encode_bytes(const cr_model *m, int B) { /* the sizing pass of the take above */
    cr__gru_acts A;
    cr__arena a;
    int32_t *buf;
    const int32_t **vs;
    int *vl;
    a.base = NULL;
    a.used = 0;
    cr__seq_encode_take(m, &a, B, &A, &buf, &vs, &vl);
    return a.used;
}

/* Inference encodings of n users' histories (plus extra's rows appended, if given): the
   output at the last step, in item space (zeros for an empty history). out: (n, d). The
   activations are this call's own, so several threads may encode at once. */
static cr_status cr__seq_encode(const cr_model *m, const int32_t *users, int n, const cr_csr *extra,
                                const int32_t *items, int n_items, float *out) {
    const struct cr__seq *q = m->seq;
    int T = q->T, d = q->d, b0, b, B = cr__seq_encode_rows(m, n, items != NULL);
    cr__gru_acts A;
    cr__arena a;
    int32_t *buf;
    const int32_t **vs;
    int *vl;
    size_t bytes = cr__seq_encode_bytes(m, B);
    if (!(a.base = (unsigned char *)cr__malloc_aligned(bytes))) return cr__nomem("history encoding", bytes);
    a.used = 0;
    cr__seq_encode_take(m, &a, B, &A, &buf, &vs, &vl);
    for (b0 = 0; b0 < n; b0 += B) {
        int bs = n - b0 < B ? n - b0 : B;
        if (items) { /* one new history */
            vs[0] = items;
            vl[0] = n_items;
        } else
            for (b = 0; b < bs; b++) { /* the last T items of history (+ extra) */
                int32_t u = users[b0 + b], *s = buf + (int64_t)b * T;
                int64_t hb = m->hist.rowptr[u], he = m->hist.rowptr[u + 1], eb = 0, ee = 0, p;
                int len = 0;
                if (extra) { eb = extra->rowptr[u]; ee = extra->rowptr[u + 1]; }
                if (ee - eb > T) eb = ee - T;
                if (he - hb > T - (ee - eb)) hb = he - (T - (ee - eb));
                for (p = hb; p < he; p++) s[len++] = m->hist.col[p];
                for (p = eb; p < ee; p++) s[len++] = extra->col[p];
                vs[b] = s;
                vl[b] = len;
            }
        cr__seq_pack(&A, vs, vl, bs, T, NULL);
        cr__seq_forward(m, &A, 0, 0);
        for (b = 0; b < bs; b++) {
            const float *o = cr__seq_last(&A, b, T, d);
            if (o) memcpy(out + (int64_t)(b0 + b) * d, o, (size_t)d * sizeof(float));
            else memset(out + (int64_t)(b0 + b) * d, 0, (size_t)d * sizeof(float));
        }
    }
    cr__free_aligned(a.base);
    return CR_OK;
}

static cr_status cr__seq_user_vectors(const cr_model *m, const int32_t *users, int n, const cr_csr *extra, float *out) {
    return n > 0 ? cr__seq_encode(m, users, n, extra, NULL, 0, out) : CR_OK;
}

static cr_status cr__seq_fold_in(const cr_model *m, const int32_t *items, int n, float *out) {
    return cr__seq_encode(m, NULL, 1, NULL, items, n, out);
}

static void cr__seq_prepare(cr_model *m) { cr__ego_forward(m); }

/* ---- 8n. GRU4Rec (Hidasi et al., ICLR 2016): the encoder and the next-item loss ---- */

static cr_status cr__gru4rec_loss(cr_model *m, const cr__batch *b, int want_grad, double part[3]) {
    cr__seq_rec_loss(m, b, want_grad, part);
    cr__seq_reg_loss(m, want_grad, part);
    return CR_OK;
}

/* ---- 8o. CL4SRec (Xie et al., ICDE 2022) on the GRU encoder: two augmented views ---- */

/* One augmented view of a sequence (dense ids) into out (returns its length, >= 1). One
   operation is drawn from the enabled set, as CL4SRec does. */
static int cr__seq_augment(const cr_model *m, const int32_t *s, int n, int32_t *out, cr_rng *r) {
    unsigned ops[5], flags = m->cfg.seq_aug;
    int nops = 0, k, i, cnt;
    float rate = m->cfg.aug_rate;
    unsigned op;
    for (k = 0; k < 5; k++)
        if (flags & (1u << k)) ops[nops++] = 1u << k;
    op = ops[cr_rng_below(r, (uint32_t)nops)];
    memcpy(out, s, (size_t)n * sizeof(int32_t));
    if (n < 2) return n;
    switch (op) {
    case CR_SEQAUG_CROP: { /* a contiguous window of floor(eta n) items (CL4SRec's eta: the share kept) */
        int len = CR__MAX(1, (int)(m->cfg.crop_keep * (float)n)), st = (int)cr_rng_below(r, (uint32_t)(n - len + 1));
        memmove(out, s + st, (size_t)len * sizeof(int32_t));
        return len;
    }
    case CR_SEQAUG_MASK: { /* floor(gamma n) distinct positions become the mask token (dense id I:
                              table row I+1): the first draws of a partial Fisher-Yates shuffle */
        int32_t pos[2 * 4096 + 2];
        cnt = (int)(rate * (float)n);
        for (i = 0; i < n; i++) pos[i] = i;
        for (k = 0; k < cnt; k++) {
            int j = k + (int)cr_rng_below(r, (uint32_t)(n - k));
            int32_t t = pos[k];
            pos[k] = pos[j];
            pos[j] = t;
            out[pos[k]] = m->n_items;
        }
        return n;
    }
    case CR_SEQAUG_REORDER: { /* shuffle a window of rate n items */
        int len = CR__MAX(2, (int)(rate * n)), st;
        if (len > n) len = n;
        st = (int)cr_rng_below(r, (uint32_t)(n - len + 1));
        for (i = len - 1; i > 0; i--) {
            int j = (int)cr_rng_below(r, (uint32_t)i + 1);
            int32_t t = out[st + i];
            out[st + i] = out[st + j];
            out[st + j] = t;
        }
        return n;
    }
    case CR_SEQAUG_SUBSTITUTE: /* rate n items become a correlated item */
        cnt = CR__MAX(1, (int)(rate * n));
        for (k = 0; k < cnt; k++) {
            int p = (int)cr_rng_below(r, (uint32_t)n);
            int32_t c = out[p] < m->n_items ? m->seq->corr[(int64_t)out[p] * 4 + cr_rng_below(r, 4)] : -1;
            if (c >= 0) out[p] = c;
        }
        return n;
    default: { /* CR_SEQAUG_INSERT: a correlated item after rate n positions */
        int w = 0, len = n;
        cnt = CR__MAX(1, (int)(rate * n));
        for (i = 0; i < n; i++) {
            out[w++] = s[i];
            if (cnt > 0 && (int)cr_rng_below(r, (uint32_t)(n - i)) < cnt) {
                int32_t c = m->seq->corr[(int64_t)s[i] * 4 + cr_rng_below(r, 4)];
                cnt--;
                if (c >= 0) { out[w++] = c; len++; }
            }
        }
        return len;
    }
    }
}

/* The encoder's setup plus, for insert and substitute, the item correlations. */
static cr_status cr__cl4srec_setup(cr_model *m) {
    cr_status st = cr__seq_setup(m);
    if (st == CR_OK && m->cfg.lambda > 0 && (m->cfg.seq_aug & (CR_SEQAUG_INSERT | CR_SEQAUG_SUBSTITUTE)))
        st = cr__seq_correlations(m);
    return st;
}

static void cr__cl4srec_ws(cr_model *m, cr__arena *a) {
    struct cr__seq *q = m->seq;
    int64_t B = m->cfg.batch, B2 = 2 * B, d = q->d;
    int v;
    cr__seq_ws(m, a);
    if (m->cfg.lambda <= 0) return;
    for (v = 1; v < 3; v++) cr__gru_acts_take(&q->acts[v], a, q->T, (int)B, q->d, q->H, q->L, m->cfg.dropout > 0);
    q->tmp_seq = cr__takei(a, B * (2 * (int64_t)q->T + 1));
    q->zin = cr__takef(a, B2 * d);
    q->a1 = cr__takef(a, B2 * d);
    q->z = cr__takef(a, B2 * d);
    q->dz = cr__takef(a, B2 * d);
    q->da1 = cr__takef(a, B2 * d);
    q->dzin = cr__takef(a, B2 * d);
    q->cl_ws = cr__takef(a, cr_infonce_workspace((int)B2, (int)B2, (int)d));
    q->cl_pos = cr__takei(a, B2);
    q->cl_self = cr__takei(a, B2);
}

/* Contrastive loss between two augmented views of each sequence: last-step outputs (through
   the projection head when enabled), NT-Xent with the 2B - 2 other views as negatives. Runs the
   two view passes forward and, with want_grad, backward. */
static double cr__cl4srec_contrast(cr_model *m, const int32_t *users, int B, uint64_t seed, int want_grad) {
    struct cr__seq *q = m->seq;
    int d = q->d, T = q->T, v, b;
    int64_t B2 = 2 * (int64_t)B, i;
    int32_t *views = q->tmp_seq; /* B views of up to 2T + 1 items each */
    const float *w1 = NULL, *b1 = NULL, *w2 = NULL, *b2 = NULL;
    double loss;
    for (v = 0; v < 2; v++) {
        cr__gru_acts *A = &q->acts[1 + v];
        for (b = 0; b < B; b++) {
            int32_t u = users[b];
            int n = (int)(m->hist.rowptr[u + 1] - m->hist.rowptr[u]), nn = n < T ? n : T;
            const int32_t *s = m->hist.col + m->hist.rowptr[u + 1] - nn;
            cr_rng r = cr_rng_stream(seed, 0x636c0000ULL + (uint64_t)(v * B + b));
            q->view_ptr[b] = views + (int64_t)b * (2 * T + 1);
            q->view_len[b] = cr__seq_augment(m, s, nn, views + (int64_t)b * (2 * T + 1), &r);
        }
        cr__seq_pack(A, q->view_ptr, q->view_len, B, T, NULL);
        cr__seq_forward(m, A, 1, cr_hash64(seed, 0x7669ULL + (uint64_t)v));
        for (b = 0; b < B; b++) /* every view has at least one item */
            memcpy(q->zin + ((int64_t)v * B + b) * d, cr__seq_last(A, b, T, d), (size_t)d * sizeof(float));
    }
    if (m->cfg.proj_head) {
        w1 = cr__tensor(m, "proj_w1"); b1 = cr__tensor(m, "proj_b1");
        w2 = cr__tensor(m, "proj_w2"); b2 = cr__tensor(m, "proj_b2");
        cr__mlp2_forward(q->z, q->a1, q->da1, q->zin, w1, b1, w2, b2, (int)B2, d);
    } else
        memcpy(q->z, q->zin, (size_t)(B2 * d) * sizeof(float));
    for (i = 0; i < B2; i++) {
        q->cl_pos[i] = (int32_t)((i + B) % B2);
        q->cl_self[i] = (int32_t)i;
    }
    if (want_grad) memset(q->dz, 0, (size_t)(B2 * d) * sizeof(float));
    loss = cr_infonce_loss(want_grad ? q->dz : NULL, want_grad ? q->dz : NULL, q->z, q->z, (int)B2, (int)B2, d,
                           q->cl_pos, q->cl_self, m->cfg.tau, m->cfg.lambda, q->cl_ws);
    if (!want_grad) return loss;
    if (m->cfg.proj_head)
        cr__mlp2_backward(q->dzin, cr__tensor_grad(m, "proj_w1"), cr__tensor_grad(m, "proj_b1"),
                          cr__tensor_grad(m, "proj_w2"), cr__tensor_grad(m, "proj_b2"), q->dz, q->a1, q->da1, q->zin,
                          w1, w2, (int)B2, d);
    else
        memcpy(q->dzin, q->dz, (size_t)(B2 * d) * sizeof(float));
    for (v = 0; v < 2; v++) {
        cr__gru_acts *A = &q->acts[1 + v];
        int64_t last = A->off[T - 1];
        memset(q->dy, 0, (size_t)((int64_t)A->ntok * d) * sizeof(float));
        for (b = 0; b < B; b++)
            memcpy(q->dy + (last + A->inv[b]) * d, q->dzin + ((int64_t)v * B + b) * d, (size_t)d * sizeof(float));
        cr__seq_backward(m, A);
    }
    return loss;
}

static cr_status cr__cl4srec_loss(cr_model *m, const cr__batch *b, int want_grad, double part[3]) {
    cr__seq_rec_loss(m, b, want_grad, part);
    cr__prof_to(CR_PHASE_CONTRAST);
    if (m->cfg.lambda > 0) part[1] += cr__cl4srec_contrast(m, b->users, b->n, b->seed, want_grad);
    cr__prof_to(CR_PHASE_OTHER);
    cr__seq_reg_loss(m, want_grad, part);
    return CR_OK;
}

/* ---- 8p. the model table: one entry per model ---- */

/* The inference side every graph model shares, and every sequence model. */
#define CR__GRAPH_SERVING                                                                                   \
    cr__graph_prepare, cr__graph_item_vectors, cr__graph_user_vectors, cr__graph_fold_in, cr__graph_memory, \
        cr__graph_release
#define CR__SEQ_SERVING \
    cr__seq_prepare, cr__seq_item_vectors, cr__seq_user_vectors, cr__seq_fold_in, cr__seq_memory, cr__seq_release

/* clang-format off */
static const cr__model_ops cr__models[] = {
    /* kind, name, about, sequential, negatives, space (cr_tune),
       propagates, first_layer, l2_selfrec (its defaults are rows of cr__model_defaults, 8b),
       check, plan, setup, workspace, epoch_begin, loss, batch_end, running,
       prepare, item_vectors, user_vectors, fold_in, memory, release, own (the size of its state) */
    {CR_MODEL_MF, "mf", "matrix factorisation, BPR", 0, 1,
     "lr=3e-4..1e-2 log, reg=1e-6..1e-2 log",
     0, 0, CR__L2_EGO,
     cr__graph_check, cr__graph_plan, cr__graph_setup, cr__mf_ws, NULL, cr__mf_loss, NULL, NULL,
     CR__GRAPH_SERVING, 0},
    {CR_MODEL_LIGHTGCN, "lightgcn", "LightGCN: linear propagation, BPR", 0, 1,
     "lr=3e-4..1e-2 log, reg=1e-6..1e-2 log, layers=1..4",
     1, 0, CR__L2_EGO,
     cr__graph_check, cr__graph_plan, cr__graph_setup, cr__lightgcn_ws, NULL, cr__lightgcn_loss, NULL, NULL,
     CR__GRAPH_SERVING, 0},
    {CR_MODEL_SGL, "sgl", "SGL: augmented-graph views (node/edge dropout, random walks, mixed, subgraphs), InfoNCE",
     0, 1,
     "lambda=0.005,0.01,0.05,0.1,0.5,1, tau=0.1,0.2,0.5,1, drop=0,0.1,0.2,0.3,0.4,0.5, "
     "lr=3e-4..1e-2 log, reg=1e-6..1e-2 log",
     1, 0, CR__L2_FINAL_UPN,
     cr__graph_check, cr__graph_plan, cr__graph_setup, cr__sgl_ws, cr__sgl_views, cr__sgl_loss, NULL, NULL,
     cr__graph_prepare, cr__graph_item_vectors, cr__graph_user_vectors, cr__graph_fold_in, cr__sgl_memory,
     cr__sgl_release, sizeof(cr__sgl)},
    {CR_MODEL_SIMGCL, "simgcl", "SimGCL: two noise-perturbed passes, InfoNCE", 0, 1,
     "lambda=0.01..2 log, eps=0.01..0.5 log, lr=3e-4..1e-2 log, reg=1e-6..1e-2 log",
     1, 1, CR__L2_FINAL_UP,
     cr__graph_check, cr__graph_plan, cr__graph_setup, cr__simgcl_ws, NULL, cr__simgcl_loss, NULL, NULL,
     CR__GRAPH_SERVING, 0},
    {CR_MODEL_XSIMGCL, "xsimgcl", "XSimGCL: one noisy pass, final vs layer l* output", 0, 1,
     "lambda=0.01..1 log, eps=0.01..0.5 log, tau=0.1..0.2, lstar=1,2, lr=3e-4..1e-2 log, reg=1e-6..1e-2 log",
     1, 1, CR__L2_FINAL_UP,
     cr__xsimgcl_check, cr__graph_plan, cr__graph_setup, cr__xsimgcl_ws, NULL, cr__xsimgcl_loss, NULL, NULL,
     CR__GRAPH_SERVING, 0},
    {CR_MODEL_GRU4REC, "gru4rec", "GRU sequence encoder, next-item softmax", 1, 0,
     "lr=3e-4..1e-2 log, dropout=0..0.5",
     0, 0, 0,
     NULL, cr__seq_plan, cr__seq_setup, cr__seq_ws, NULL, cr__gru4rec_loss, NULL, NULL,
     CR__SEQ_SERVING, 0},
    /* CL4SRec: the paper's tau = 1 without a head left the GRU below the same GRU without the
       contrast on Beauty; the head and tau were chosen on validation (bench/RESULTS.md) */
    {CR_MODEL_CL4SREC, "cl4srec", "GRU encoder, next-item softmax + CL4SRec contrast", 1, 0,
     "lambda=0.01..1 log, tau=0.1..1 log, aug_rate=0.1..0.5, lr=3e-4..1e-2 log, dropout=0..0.5",
     0, 0, 0,
     NULL, cr__seq_plan, cr__cl4srec_setup, cr__cl4srec_ws, NULL, cr__cl4srec_loss, NULL, NULL,
     CR__SEQ_SERVING, 0},
    /* NCL: the authors' Gowalla configuration (RUCAIBox/NCL properties/gowalla-merged.yaml:
       lr 2e-3, tau 0.05, ssl_reg 1e-6, alpha 0.5, proto_reg 5e-8, 10 clusters; overall.yaml:
       batch 4096; 3 layers, hyper_layers 1, so layer 2 is contrasted with layer 0) */
    {CR_MODEL_NCL, "ncl", "NCL: LightGCN + structure contrast (layer 2 vs ego) + prototype contrast (k-means)", 0, 1,
     "lambda=1e-7..1e-5 log, proto_reg=1e-8..1e-6 log, tau=0.05..0.2 log, ssl_alpha=0.5..1.5, "
     "lr=3e-4..1e-2 log, reg=1e-6..1e-2 log",
     1, 0, CR__L2_EGO,
     cr__ncl_check, cr__graph_plan, cr__ncl_setup, cr__ncl_ws, cr__ncl_epoch, cr__ncl_loss, NULL, NULL,
     CR__GRAPH_SERVING, sizeof(cr__ncl)},
    /* RecDCL: THUDM/RecDCL's run_beauty.sh (batch 256, lr 1e-3, weight decay 1e-7, 2 layers;
       weights 1 / 0.2 / 5, momentum 0.1, bt_coeff 0.01); its d = 2048 is left to --dim */
    {CR_MODEL_RECDCL, "recdcl",
     "RecDCL: LightGCN + Barlow Twins (UIBT) + feature uniformity (UUII) + history contrast (BCL); d 64 here, the "
     "authors' 2048 with --dim 2048", 0, 0,
     "lambda=0.1..10 log, bt_off=0.005..0.05 log, poly_w=0.05..1 log, bcl_w=1..10 log, "
     "momentum=0.1..0.9, lr=3e-4..1e-2 log, reg=1e-8..1e-5 log",
     1, 0, CR__L2_EGO,
     NULL, cr__recdcl_plan, cr__recdcl_setup, cr__recdcl_ws, NULL, cr__recdcl_loss, cr__recdcl_batch_end,
     cr__recdcl_running, cr__graph_prepare, cr__graph_item_vectors, cr__graph_user_vectors, cr__graph_fold_in,
     cr__recdcl_memory, cr__recdcl_release, sizeof(cr__recdcl)},
    /* RCL: XSimGCL's defaults with the known false negatives masked. The adversarial views and
       the other parts are options: on Last.fm with 20% noisy pairs, masking alone had the best
       validation NDCG@20 and every variant with eps = 0.2 adversarial views the worst
       (bench/RESULTS.md) */
    {CR_MODEL_RCL, "rcl", "RCL: XSimGCL + false-negative masking/DCL/ADNCE, adversarial views, confidence weights",
     0, 1,
     "lambda=0.01..1 log, eps=0.01..0.5 log, tau=0.1..0.2, gamma=0,0.5,1,2, lr=3e-4..1e-2 log, reg=1e-6..1e-2 log",
     1, 1, CR__L2_FINAL_UP,
     cr__rcl_check, cr__graph_plan, cr__rcl_setup, cr__rcl_ws, NULL, cr__rcl_loss, cr__rcl_batch_end, cr__rcl_running,
     cr__graph_prepare, cr__graph_item_vectors, cr__graph_user_vectors, cr__graph_fold_in, cr__rcl_memory,
     cr__rcl_release, sizeof(cr__rcl)},
};
/* clang-format on */

#undef CR__GRAPH_SERVING
#undef CR__SEQ_SERVING

static int cr__n_models(void) { return (int)(sizeof cr__models / sizeof cr__models[0]); }
static const cr__model_ops *cr__ops_at(int i) { return &cr__models[i]; }
static const cr__model_ops *cr__ops_of(int kind) {
    int i;
    for (i = 0; i < cr__n_models(); i++)
        if ((int)cr__models[i].kind == kind) return &cr__models[i];
    return NULL;
}

/* ==== 9. training ============================================================================ */

/* Adam (torch's form: p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)) over the whole parameter
   block, with optional global-norm clipping. The gradients are cleared in the same pass, and
   the new parameters are checked for NaN/Inf (x*0 is NaN only for NaN and Inf). */
/* Adam's update of parameters [a, e) (moments, bias correction folded into step_size and rbc2,
   gradient cleared), vectorised where the target allows. The vector path does the scalar loop's
   operations in its order, without fused multiply-adds (the scalar loop is compiled without
   contraction as ISO C), so both give the same bits. Returns the sum of p * 0 over the span: 0
   unless a parameter became NaN or Inf, whatever the order of the sum. Why vectors by hand:
   sqrtf's errno path keeps compilers from vectorising the loop without -fno-math-errno. */
static float cr__adam_span(float *p, float *g, float *m1, float *m2, int64_t a, int64_t e, float scale, float step_size,
                           float rbc2) {
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    float acc = 0;
    int64_t i = a;
#if defined(CR__AVX512) || defined(CR__AVX2)
    {
        const cr__spv vb1 = CR__SPV_SET1(b1), vc1 = CR__SPV_SET1(1.0f - b1), vb2 = CR__SPV_SET1(b2);
        const cr__spv vc2 = CR__SPV_SET1(1.0f - b2), vs = CR__SPV_SET1(scale), vss = CR__SPV_SET1(step_size);
        const cr__spv vr = CR__SPV_SET1(rbc2), ve = CR__SPV_SET1(eps), z = CR__SPV_ZERO();
        cr__spv va = z;
        float t[CR__SPV_W];
        int k;
        for (; i + CR__SPV_W <= e; i += CR__SPV_W) {
            cr__spv gi = CR__SPV_MUL(CR__SPV_LOAD(g + i), vs);
            cr__spv mm = CR__SPV_ADD(CR__SPV_MUL(vb1, CR__SPV_LOAD(m1 + i)), CR__SPV_MUL(vc1, gi));
            cr__spv vv = CR__SPV_ADD(CR__SPV_MUL(vb2, CR__SPV_LOAD(m2 + i)), CR__SPV_MUL(CR__SPV_MUL(vc2, gi), gi));
            cr__spv den = CR__SPV_ADD(CR__SPV_MUL(CR__SPV_SQRT(vv), vr), ve);
            cr__spv pp = CR__SPV_SUB(CR__SPV_LOAD(p + i), CR__SPV_DIV(CR__SPV_MUL(vss, mm), den));
            CR__SPV_STORE(m1 + i, mm);
            CR__SPV_STORE(m2 + i, vv);
            CR__SPV_STORE(p + i, pp);
            CR__SPV_STORE(g + i, z);
            va = CR__SPV_ADD(va, CR__SPV_MUL(pp, z));
        }
        CR__SPV_STORE(t, va); /* not _mm512_reduce_add_ps: g++ -O2 warns inside it */
        for (k = 0; k < CR__SPV_W; k++) acc += t[k];
    }
#endif
    for (; i < e; i++) {
        float gi = g[i] * scale;
        m1[i] = b1 * m1[i] + (1.0f - b1) * gi;
        m2[i] = b2 * m2[i] + (1.0f - b2) * gi * gi;
        p[i] -= step_size * m1[i] / (sqrtf(m2[i]) * rbc2 + eps);
        g[i] = 0;
        acc += p[i] * 0.0f;
    }
    return acc;
}

static cr_status cr__adam_run(cr_model *m, int epoch, int64_t batch) {
    const float b1 = 0.9f, b2 = 0.999f;
    int64_t n = m->n_param, nch = (n + CR__ADAM_CHUNK - 1) / CR__ADAM_CHUNK, ch;
    float scale = 1.0f, step_size, rbc2;
    float *bad = m->adam_chk; /* one partial sum per chunk, allocated with the parameters */
    double t;
    if (m->cfg.clip > 0) {
        double s = 0;
        CR__OMP(parallel for schedule(static))
        for (ch = 0; ch < nch; ch++) {
            int64_t a = ch * CR__ADAM_CHUNK, e = CR__MIN(n, a + CR__ADAM_CHUNK);
            bad[ch] = cr_vsumsq(m->grad + a, e - a);
        }
        for (ch = 0; ch < nch; ch++) s += bad[ch]; /* fixed order: deterministic */
        if (!(s == s) || s > DBL_MAX) {
            return cr__fail(CR_ERR_NUMERIC,
                            "epoch %d, batch %lld: the gradient norm is not finite; parameters left unchanged", epoch,
                            (long long)batch);
        }
        if (sqrt(s) > m->cfg.clip) scale = (float)(m->cfg.clip / sqrt(s));
    }
    m->step++;
    t = (double)m->step;
    step_size = (float)(m->lr / (1.0 - pow(b1, t)));
    rbc2 = (float)(1.0 / sqrt(1.0 - pow(b2, t)));
    CR__OMP(parallel for schedule(static))
    for (ch = 0; ch < nch; ch++) {
        int64_t a = ch * CR__ADAM_CHUNK, e = CR__MIN(n, a + CR__ADAM_CHUNK);
        bad[ch] = cr__adam_span(m->param, m->grad, m->adam_m, m->adam_v, a, e, scale, step_size, rbc2);
    }
    for (ch = 0; ch < nch; ch++)
        if (bad[ch] != 0)
            return cr__fail(CR_ERR_NUMERIC, "epoch %d, batch %lld: a parameter became NaN or Inf after the update",
                            epoch, (long long)batch);
    m->ready = 0;
    return CR_OK;
}

static cr_status cr__adam(cr_model *m, int epoch, int64_t batch) {
    int ph = cr__prof_to(CR_PHASE_ADAM);
    cr_status st = cr__adam_run(m, epoch, batch);
    cr__prof_count(0, 32.0 * (double)m->n_param); /* p, g, m, v read; p, m, v written, g cleared */
    cr__prof_to(ph);
    return st;
}

CR_API cr_status cr_model_adam_step(cr_model *m) { return cr__adam(m, 0, 0); }

static uint64_t cr__batch_seed(const cr_model *m, int epoch, int64_t batch) {
    return cr_hash64(cr_hash64(m->cfg.seed, 0x62617463ULL + (uint64_t)epoch), (uint64_t)batch);
}

/* The batch's negatives: one uniform negative per row, or M candidates for DNS and MixGCF. */
static void cr__draw_batch_negatives(const cr_model *m, cr__batch *b, int32_t *buf) {
    int ph = cr__prof_to(CR_PHASE_SAMPLE);
    b->n_cand = m->cfg.neg > CR_NEG_UNIFORM ? m->cfg.neg_candidates : 1;
    cr__draw_negatives(m, b->users, b->n, b->n_cand, buf, b->seed);
    b->cand = buf;
    cr__prof_to(ph);
}

/* Range checks, the epoch's state, then the model's loss (part: rec, cl, reg). */
static cr_status cr__run_batch(cr_model *m, const cr__batch *b, int want_grad, double part[3]) {
    int i;
    cr_status st;
    part[0] = part[1] = part[2] = 0;
    if (b->n < 1 || b->n > m->cfg.batch)
        return cr__fail(CR_ERR_INVALID, "batch of %d (1..%d allowed)", b->n, m->cfg.batch);
    for (i = 0; i < b->n; i++) {
        int k, bad = b->users[i] < 0 || b->users[i] >= m->n_users ||
                     (b->pos && (b->pos[i] < 0 || b->pos[i] >= m->n_items));
        for (k = 0; b->cand && k < b->n_cand; k++)
            bad |= b->cand[(int64_t)i * b->n_cand + k] < 0 || b->cand[(int64_t)i * b->n_cand + k] >= m->n_items;
        if (bad)
            return cr__fail(CR_ERR_INVALID, "batch entry %d (user %d, item %d, negative %d) is out of range", i,
                            b->users[i], b->pos ? b->pos[i] : -1, b->cand ? b->cand[(int64_t)i * b->n_cand] : -1);
    }
    cr__ego_forward(m);
    cr__prof_to(CR_PHASE_SAMPLE); /* views and k-means: done once an epoch, checked every batch */
    st = m->ops->epoch_begin ? m->ops->epoch_begin(m, b->epoch) : CR_OK;
    cr__prof_to(CR_PHASE_OTHER);
    if (st != CR_OK) return st;
    m->ready = 0;
    st = m->ops->loss(m, b, want_grad, part);
    cr__prof_to(CR_PHASE_OTHER);
    if (st != CR_OK) {
        if (m->dE0 != m->grad) cr__pzero(m->dE0, m->ego_rows * m->cfg.dim); /* no half batch left over */
        return st;
    }
    if (want_grad) cr__ego_backward(m);
    if (cr_mpi_size() > 1) { /* the processes' shares of the batch: summed, the gradients from their one block */
        cr__mpi_sum(part, 3, 1);
        if (want_grad) cr__mpi_sum(m->grad, m->n_param, 0);
    }
    return CR_OK;
}

CR_API cr_status cr_model_batch_loss(cr_model *m, const int32_t *users, const int32_t *pos,
                                     const int32_t *neg, int B, int epoch, int64_t batch,
                                     int want_grad, double *loss) {
    double part[3];
    cr__batch b;
    cr_status st;
    int i;
    if (B < 1 || B > m->cfg.batch) return cr__fail(CR_ERR_INVALID, "batch of %d (1..%d allowed)", B, m->cfg.batch);
    if (!users || (!m->ops->sequential && !pos))
        return cr__fail(CR_ERR_INVALID, "a %s batch needs users%s", m->ops->name,
                        m->ops->sequential ? "" : " and positive items");
    for (i = 0; i < B; i++)
        if (users[i] < 0 || users[i] >= m->n_users)
            return cr__fail(CR_ERR_INVALID, "batch user %d is out of range", users[i]);
        else if (m->ops->sequential &&
                 m->hist.rowptr[users[i] + 1] - m->hist.rowptr[users[i]] < 2) /* no next-item target */
            return cr__fail(CR_ERR_INVALID, "batch user %d has %lld training items; a sequence batch needs two or more",
                            users[i], (long long)(m->hist.rowptr[users[i] + 1] - m->hist.rowptr[users[i]]));
    if ((st = cr__train_ws(m)) != CR_OK) return st;
    b.users = users;
    b.pos = m->ops->sequential ? NULL : pos;
    b.cand = m->ops->negatives ? neg : NULL; /* a given negative is one candidate per row */
    b.n_cand = 1;
    b.n = B;
    b.epoch = epoch;
    b.index = batch;
    b.seed = cr__batch_seed(m, epoch, batch);
    if (m->ops->negatives && !neg) cr__draw_batch_negatives(m, &b, m->bn);
    st = cr__run_batch(m, &b, want_grad, part);
    if (st == CR_OK && loss) *loss = part[0] + part[1] + part[2];
    return st;
}

/* The checks after each batch: a finite loss, then the optimiser step. */
static cr_status cr__finish_batch(cr_model *m, int epoch, int64_t b, const double part[3], cr_epoch_stats *s) {
    double loss = part[0] + part[1] + part[2];
    if (!(loss == loss) || loss > DBL_MAX || loss < -DBL_MAX)
        return cr__fail(CR_ERR_NUMERIC,
                        "epoch %d, batch %lld: the loss is %s (recommendation %g, contrastive %g, L2 %g); parameters "
                        "left unchanged",
                        epoch, (long long)b + 1, loss == loss ? "infinite" : "NaN", part[0], part[1], part[2]);
    s->loss += loss;
    s->rec_loss += part[0];
    s->cl_loss += part[1];
    s->reg_loss += part[2];
    return cr__adam(m, epoch, b + 1);
}

/* One epoch for every model: each training example once, shuffled, in batches (the last one
   kept, as SELFRec's sampler), a negative per example where the model uses one, the loss and
   its backward, the numerical-fault check, clipping and Adam, and the progress callback. */
static cr_status cr__epoch_run(cr_model *m, int epoch, cr_epoch_stats *s_, cr_batch_fn cb, void *cb_user, double t0) {
    cr_epoch_stats s = *s_;
    int64_t n = m->n_examples, nb, b, i;
    int B = m->cfg.batch;
    cr_rng r;
    cr_status st = CR_OK;
    nb = (n + B - 1) / B;
    for (i = 0; i < n; i++) m->perm[i] = i;
    cr_rng_seed(&r, cr_hash64(m->cfg.seed, 0x73687566ULL + (uint64_t)epoch));
    for (i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(cr_rng_next(&r) % (uint64_t)(i + 1)), t = m->perm[i];
        m->perm[i] = m->perm[j];
        m->perm[j] = t;
    }
    cr__ego_forward(m); /* what epoch_begin may read (NCL's k-means) */
    if (m->ops->epoch_begin && (st = m->ops->epoch_begin(m, epoch)) != CR_OK) return st;
    s.prep_seconds = cr__now() - t0;
    cr__prof_to(CR_PHASE_OTHER);
    for (b = 0; b < nb && st == CR_OK; b++) {
        cr__batch bt;
        double part[3];
        int k;
        bt.n = (int)CR__MIN((int64_t)B, n - b * B);
        for (k = 0; k < bt.n; k++) {
            m->bu[k] = m->ex_user[m->perm[b * B + k]];
            if (m->ex_item) m->bp[k] = m->ex_item[m->perm[b * B + k]];
        }
        bt.users = m->bu;
        bt.pos = m->ex_item ? m->bp : NULL;
        bt.cand = NULL;
        bt.n_cand = 0;
        bt.epoch = epoch;
        bt.index = b;
        bt.seed = cr__batch_seed(m, epoch, b);
        if (m->ops->negatives) cr__draw_batch_negatives(m, &bt, m->bn);
        st = cr__run_batch(m, &bt, 1, part);
        if (st == CR_OK) st = cr__finish_batch(m, epoch, b, part, &s);
        if (st == CR_OK && m->ops->batch_end) m->ops->batch_end(m, &bt);
        s.batches++;
        if (st == CR_OK && cb && cr__mpi_any(cb(cb_user, epoch, b + 1, nb, part[0] + part[1] + part[2]))) break;
    }
    if (s.batches) {
        s.loss /= (double)s.batches;
        s.rec_loss /= (double)s.batches;
        s.cl_loss /= (double)s.batches;
        s.reg_loss /= (double)s.batches;
    }
    *s_ = s;
    return st;
}

CR_API cr_status cr_train_epoch(cr_model *m, int epoch, cr_epoch_stats *stats, cr_batch_fn cb, void *cb_user) {
    cr_epoch_stats s;
    cr_phase_cost prof[CR_PHASE_COUNT];
    cr__prof_state outer;
    double t0 = cr__now();
    cr_status st;
    memset(&s, 0, sizeof s);
    memset(prof, 0, sizeof prof);
    s.epoch = epoch;
    if (stats) *stats = s;
    if (epoch < 1) return cr__fail(CR_ERR_INVALID, "epochs are numbered from 1 (got %d)", epoch);
    if (m->n_examples == 0)
        return cr__fail(CR_ERR_EMPTY,
                        m->ops->sequential ? "no training sequence has two or more items" : "no training interactions");
    outer = cr__prof_begin(prof, CR_PHASE_OTHER); /* the first epoch's workspace counts too */
    st = cr__train_ws(m);
    cr__prof_to(CR_PHASE_SAMPLE);
    s.comm_bytes = cr_mpi_bytes_sent(), s.comm_seconds = cr_mpi_seconds();
    if (st == CR_OK) st = cr__epoch_run(m, epoch, &s, cb, cb_user, t0);
    s.comm_bytes = cr_mpi_bytes_sent() - s.comm_bytes, s.comm_seconds = cr_mpi_seconds() - s.comm_seconds;
    cr__prof_end(outer);
    memcpy(s.phase, prof, sizeof prof);
    s.seconds = cr__now() - t0;
    if (stats) *stats = s;
    m->ready = 0;
    return st;
}

/* ---- 9b. cr_fit: training with model selection ---- */

CR_API const char *cr_select_name(cr_select s) {
    return s == CR_SELECT_VALID ? "valid" : s == CR_SELECT_TEST ? "test" : s == CR_SELECT_LAST ? "last" : "?";
}

CR_API const char *cr_metric_name(cr_metric k) {
    static const char *names[] = {"ndcg", "recall", "hit", "mrr", "precision"};
    return (unsigned)k < 5 ? names[k] : "?";
}

/* The value of metric k at cut-off index ki. */
static double cr__metric_value(const cr_metrics *mt, cr_metric k, int ki) {
    switch (k) {
    case CR_METRIC_RECALL: return mt->recall[ki];
    case CR_METRIC_HIT: return mt->hit[ki];
    case CR_METRIC_MRR: return mt->mrr[ki];
    case CR_METRIC_PRECISION: return mt->precision[ki];
    default: return mt->ndcg[ki];
    }
}

/* The validation split cr_fit carves when the dataset has none: per user, round(ratio * n) of
   the training records drawn from the "valid" stream of seed (graph data), or the latest
   training record (sequences). */
static cr_status cr__carve(const cr_interactions *train, int32_t n_users, int seq, double ratio, uint64_t seed,
                           uint64_t purpose, cr_interactions *keep, cr_interactions *held) {
    return seq ? cr_split_leave_last(train, n_users, 1, keep, held)
               : cr_split_ratio(train, n_users, ratio, cr_hash64(seed, purpose), keep, held);
}

static cr_status cr__eval_resolve(cr_eval_opts *o, int seq, int *nk_out); /* section 10 */

/* Resolved options: zeros become defaults, everything range-checked before any work. */
static cr_status cr__fit_resolve(cr_fit_opts *o, const cr_dataset *ds, int seq) {
    int nk = 0, i;
    if (o->epochs < 0 || o->epochs > 1000000)
        return cr__fail(CR_ERR_INVALID, "cr_fit: epochs %d is outside 0..1000000", o->epochs);
    if (!o->max_epochs) o->max_epochs = 1000;
    if (o->max_epochs < 1 || o->max_epochs > 1000000)
        return cr__fail(CR_ERR_INVALID, "cr_fit: max_epochs %d is outside 1..1000000", o->max_epochs);
    if (!o->eval_every) o->eval_every = 1;
    if (o->eval_every < 1) return cr__fail(CR_ERR_INVALID, "cr_fit: eval_every %d must be >= 1", o->eval_every);
    if (o->patience < -1) return cr__fail(CR_ERR_INVALID, "cr_fit: patience %d must be >= -1", o->patience);
    if (!o->patience) o->patience = o->epochs ? -1 : 10; /* SGL's and RecDCL's stop count */
    if (o->stop_rule < 0 || o->stop_rule > 1)
        return cr__fail(CR_ERR_INVALID, "cr_fit: stop_rule %d is not 0 (dip) or 1 (plain)", o->stop_rule);
    if (o->backoff < -1 || o->backoff > 1000)
        return cr__fail(CR_ERR_INVALID, "cr_fit: backoff %d is outside -1 (off), 0 (on, 3) or 1..1000", o->backoff);
    if (!o->backoff) o->backoff = 3;
    if ((unsigned)o->select > (unsigned)CR_SELECT_LAST)
        return cr__fail(CR_ERR_INVALID, "cr_fit: unknown selection set %d", (int)o->select);
    if ((unsigned)o->metric > (unsigned)CR_METRIC_PRECISION)
        return cr__fail(CR_ERR_INVALID, "cr_fit: unknown metric %d", (int)o->metric);
    if (o->mem_limit < 0)
        return cr__fail(CR_ERR_INVALID, "cr_fit: mem_limit %lld is negative", (long long)o->mem_limit);
    if (o->valid_ratio == 0) o->valid_ratio = 0.1;
    if (!(o->valid_ratio > 0 && o->valid_ratio < 1))
        return cr__fail(CR_ERR_INVALID, "cr_fit: valid_ratio %g is outside (0, 1)", o->valid_ratio);
    if (o->select == CR_SELECT_LAST && !o->epochs)
        return cr__fail(CR_ERR_INVALID, "cr_fit: without model selection the number of epochs must be given");
    if (o->select == CR_SELECT_TEST && !ds->test.n)
        return cr__fail(CR_ERR_INVALID, "cr_fit: selection on the test set needs a test set");
    if (o->refit && o->select != CR_SELECT_VALID)
        return cr__fail(CR_ERR_INVALID, "cr_fit: refit follows a selection on validation");
    if (o->eval.exclude_seen < -1 || o->eval.exclude_seen > 1)
        return cr__fail(CR_ERR_INVALID, "cr_fit: eval.exclude_seen must be -1, 0 or 1");
    if (!(o->train_noise >= 0 && o->train_noise <= 10))
        return cr__fail(CR_ERR_INVALID, "cr_fit: train_noise %g is outside [0, 10]", o->train_noise);
    if (!(o->cold_users >= 0 && o->cold_users < 1))
        return cr__fail(CR_ERR_INVALID, "cr_fit: cold_users %g is outside [0, 1)", o->cold_users);
    if (o->cold_users > 0 && !ds->test.n)
        return cr__fail(CR_ERR_INVALID, "cr_fit: cold users are scored on the test set, and there is none");
    if (o->cold_warm < 0 || o->cold_warm > 1 || (o->cold_warm && o->cold_users == 0))
        return cr__fail(CR_ERR_INVALID, "cr_fit: cold_warm must be 0 or 1, and 1 only with cold_users");
    if (o->holdout_seed && o->cold_users == 0 && o->cold_items == 0)
        return cr__fail(CR_ERR_INVALID,
                        "cr_fit: holdout_seed draws cold_users' or cold_items' hold-out: it needs one of them");
    if (o->per_user_cold && o->cold_users == 0)
        return cr__fail(CR_ERR_INVALID, "cr_fit: per_user_cold holds the held-out users' rows: it needs cold_users");
    if (o->cold_users > 0 && o->train_noise > 0) /* random pairs would reach the held-out users */
        return cr__fail(CR_ERR_INVALID, "cr_fit: cold_users and train_noise do not go together");
    if (!(o->cold_items >= 0 && o->cold_items < 1))
        return cr__fail(CR_ERR_INVALID, "cr_fit: cold_items %g is outside [0, 1)", o->cold_items);
    if (o->cold_items > 0 && (o->cold_users > 0 || o->train_noise > 0 || o->refit))
        return cr__fail(CR_ERR_INVALID,
                        "cr_fit: cold_items goes with neither cold_users, train_noise nor refit (%s is set)",
                        o->cold_users > 0    ? "cold_users"
                        : o->train_noise > 0 ? "train_noise"
                                             : "refit");
    if (o->cold_items > 0 && !ds->test.n)
        return cr__fail(CR_ERR_INVALID, "cr_fit: cold items are scored on the test set, and there is none");
    {
        cr_eval_opts t = o->eval; /* the evaluation's own checks, before any training */
        cr_status st = cr__eval_resolve(&t, seq, &nk);
        if (st != CR_OK) return st;
        memcpy(o->eval.ks, t.ks, sizeof t.ks); /* its default cut-offs: the metric's is known */
    }
    if (!o->metric_k) o->metric_k = o->eval.ks[nk - 1];
    for (i = 0; i < nk && o->eval.ks[i] != o->metric_k; i++) {}
    if (i == nk)
        return cr__fail(CR_ERR_INVALID, "cr_fit: metric_k %d is not one of the evaluation cut-offs", o->metric_k);
    return CR_OK;
}

#define CR__COLD_STREAM 0x636f6c64ULL /* "cold": which users the cold-start protocol holds out */
#define CR__COLD_ITEM_STREAM 0x636f6c6469ULL /* "coldi": which items */

CR_API int64_t cr_cold_items(const cr_dataset *ds, double share, uint64_t seed, int with_valid, uint8_t *pick) {
    const cr_interactions *sets[3];
    uint64_t *key;
    int64_t e, n = 0, want, i, ni;
    int s;
    if (!(share > 0 && share < 1)) return cr__fail(CR_ERR_INVALID, "cold items: share %g is outside (0, 1)", share);
    if (!ds || !pick) return cr__fail(CR_ERR_INVALID, "cold items: %s is NULL", ds ? "pick" : "the dataset");
    if (ds->n_items < 2)
        return cr__fail(CR_ERR_INVALID, "cold items: the dataset has %d items; holding some out needs two",
                        ds->n_items);
    ni = ds->n_items;
    sets[0] = &ds->train;
    sets[1] = &ds->valid;
    sets[2] = &ds->test;
    memset(pick, 0, (size_t)ni);
    for (s = 0; s < 3; s++)
        for (e = 0; e < sets[s]->n; e++) {
            if (sets[s]->item[e] < 0 || sets[s]->item[e] >= ni)
                return cr__fail(CR_ERR_INVALID, "cold items: %s record %lld has item %d, outside 0..%lld",
                                s == 0   ? "training"
                                : s == 1 ? "validation"
                                         : "test",
                                (long long)e, sets[s]->item[e], (long long)ni - 1);
            pick[sets[s]->item[e]] = 1;
        }
    if (!(key = (uint64_t *)cr__alloc_array((size_t)ni + 1, sizeof(uint64_t), "cold-start items"))) return CR_ERR_NOMEM;
    for (i = 0; i < ni; i++)
        if (pick[i])
            key[n++] =
                (cr_hash64(cr_hash64(seed, CR__COLD_ITEM_STREAM), (uint64_t)i) & ~(uint64_t)0xffffffffu) | (uint64_t)i;
    want = CR__MIN(n - 1, CR__MAX(1, (int64_t)floor(share * (double)n + 0.5)));
    memset(pick, 0, (size_t)ni);
    cr__sort_u64(key, n);
    for (e = 0; e < want; e++) pick[(uint32_t)key[e]] = with_valid && (e & 1) ? 1 : 2;
    CR_FREE(key);
    if (want < 1)
        return cr__fail(CR_ERR_EMPTY, "cold items: %lld items have records; holding some out needs two", (long long)n);
    return want;
}

/* The records of x whose item's pick is want, appended to out. */
static cr_status cr__filter_items(const cr_interactions *x, const uint8_t *pick, int want, cr_interactions *out) {
    int64_t e;
    for (e = 0; e < x->n; e++)
        if (pick[x->item[e]] == want &&
            cr_interactions_push(out, x->user[e], x->item[e], x->rating[e], x->time[e]) != CR_OK)
            return CR_ERR_NOMEM;
    out->has_rating = x->has_rating;
    out->has_time = x->has_time;
    return CR_OK;
}

CR_API int64_t cr_cold_users(const cr_dataset *ds, double share, uint64_t seed, uint8_t *pick) {
    uint64_t *key;
    int64_t e, n = 0, want, u, nu;
    if (!(share > 0 && share < 1)) return cr__fail(CR_ERR_INVALID, "cold users: share %g is outside (0, 1)", share);
    if (!ds || !pick || ds->n_users < 1) return cr__fail(CR_ERR_INVALID, "cold users: no dataset, users or output");
    nu = ds->n_users; /* a local: the byte writes below may alias *ds as far as the compiler knows */
    memset(pick, 0, (size_t)nu); /* first: which users have training (1) and test (2) records */
    for (e = 0; e < ds->train.n; e++) pick[ds->train.user[e]] |= 1;
    for (e = 0; e < ds->test.n; e++) pick[ds->test.user[e]] |= 2;
    if (!(key = (uint64_t *)cr__alloc_array((size_t)nu + 1, sizeof(uint64_t), "cold-start users"))) return CR_ERR_NOMEM;
    for (u = 0; u < nu; u++)
        if (pick[u] == 3)
            key[n++] =
                (cr_hash64(cr_hash64(seed, CR__COLD_STREAM), (uint64_t)u) & ~(uint64_t)0xffffffffu) | (uint64_t)u;
    want = CR__MIN(n - 1, CR__MAX(1, (int64_t)floor(share * (double)n + 0.5))); /* someone stays warm */
    memset(pick, 0, (size_t)nu);
    cr__sort_u64(key, n);
    for (e = 0; e < want; e++) pick[(uint32_t)key[e]] = 1;
    CR_FREE(key);
    if (want < 1)
        return cr__fail(CR_ERR_EMPTY,
                        "cold users: %lld users have both training and test records; holding some out needs two",
                        (long long)n);
    return want;
}

/* The records of x whose user is (want = 1) or is not (want = 0) picked, in order. */
static cr_status cr__filter_users(const cr_interactions *x, const uint8_t *pick, int want, cr_interactions *out) {
    int64_t e;
    memset(out, 0, sizeof *out);
    for (e = 0; e < x->n; e++)
        if (pick[x->user[e]] == want &&
            cr_interactions_push(out, x->user[e], x->item[e], x->rating[e], x->time[e]) != CR_OK) {
            cr_interactions_free(out);
            return CR_ERR_NOMEM;
        }
    out->has_rating = x->has_rating;
    out->has_time = x->has_time;
    return CR_OK;
}

/* Records of a and b, in that order. */
static cr_status cr__concat(cr_interactions *out, const cr_interactions *a, const cr_interactions *b) {
    const cr_interactions *src[2];
    int s;
    int64_t e;
    src[0] = a;
    src[1] = b;
    memset(out, 0, sizeof *out);
    if (cr__interactions_reserve(out, a->n + b->n) != CR_OK) { /* exactly, as the memory plan counts */
        cr_interactions_free(out);
        return CR_ERR_NOMEM;
    }
    for (s = 0; s < 2; s++)
        for (e = 0; e < src[s]->n; e++)
            if (cr_interactions_push(out, src[s]->user[e], src[s]->item[e], src[s]->rating[e], src[s]->time[e]) !=
                CR_OK) {
                cr_interactions_free(out);
                return CR_ERR_NOMEM;
            }
    out->has_rating = a->has_rating;
    out->has_time = a->has_time;
    return CR_OK;
}

/* ---- resumable training (cr_fit_opts.state_path) ---- */

/* One loop's resumable state: where it stands, what it must match, what it has kept. */
typedef struct cr__fit_state {
    uint32_t phase, max_e, epoch, since, done; /* epoch: the last one completed; done: patience ran
                                                   out or max_e was reached (not a callback's stop) */
    uint64_t fp[4];  /* fingerprints: configuration, options, training data, selection data */
    double best_v;
    double last[2];  /* the last two evaluations' values, newest first (-1: none yet) */
    uint32_t n_eval; /* evaluations done */
    uint32_t below, backoffs; /* contrast backoff: evaluations in a row well below the best; backoffs done */
    float lambda;    /* the contrastive weight in force (cfg.lambda after backoffs) */
    float best_lambda; /* the one in force when the best parameters were trained */
    cr_fit_result res; /* the loop's fields of the result */
    float *best;     /* the best parameters (selection only) */
} cr__fit_state;

/* The state file's parts, written and read in section 11 (cr__state_*). */
static cr_status cr__state_save(const char *path, const cr_model *m, const cr__fit_state *fs);
static cr_status cr__state_peek(const char *path, cr__fit_state *fs, int *exists);
static cr_status cr__state_load(const char *path, cr_model *m, cr__fit_state *fs);

static uint64_t cr__fnv_u64(uint64_t h, uint64_t v) { return cr__fnv(h, &v, sizeof v); }
static uint64_t cr__fnv_records(uint64_t h, const cr_interactions *x) {
    if (!x) return cr__fnv_u64(h, ~(uint64_t)0);
    h = cr__fnv_u64(h, (uint64_t)x->n);
    h = cr__fnv(h, x->user, (size_t)x->n * sizeof(int32_t));
    return cr__fnv(h, x->item, (size_t)x->n * sizeof(int32_t));
}

/* The values the options a model does not read had before the option table (resolve filled
   them all): the fingerprint of a training state hashes them, so a state written before still
   resumes. The generic defaults, except layers (0 where nothing propagates), hidden (dim),
   dropout and drop (0 outside the models that read them) and nce_mask (0 outside RCL). */
static void cr__cfg_legacy(cr_config *c) {
    int i;
    for (i = 0; i < CR__N_CFG; i++) {
        const cr_option *o = &cr__options[i];
        const char *n = o->name;
        if (cr__reads(o, c->model)) continue;
        if (!strcmp(n, "hidden")) c->hidden = c->dim;
        else if (strcmp(n, "layers") && strcmp(n, "dropout") && strcmp(n, "drop") && strcmp(n, "nce_mask"))
            cr__opt_put(c, o, o->dflt);
    }
}

/* A state's fp[0]: the resolved configuration (as cr__cfg_legacy fills it) and the parameter count. */
static uint64_t cr__cfg_fingerprint(const cr_model *m) {
    uint64_t h = cr__fnv_u64(CR__FNV0, (uint64_t)m->cfg.model);
    cr_config lc = m->cfg;
    int i;
    cr__cfg_legacy(&lc);
    for (i = 0; i < CR__N_CFG; i++) /* options newer than the fingerprint: only when not at their default */
        if (i < CR__CFG_FP || cr__opt_get(&lc, &cr__options[i]) != cr_option_default(&cr__options[i], lc.model))
            h = cr__fnv_u64(h, cr__cfg_get_bits(&lc, &cr__options[i]));
    return cr__fnv_u64(h, (uint64_t)m->n_param);
}

/* What a state file must match to be resumed: the model's resolved configuration, the options
   that steer training and selection (the thread count is not one: resuming with another gives
   another rounding, not another model), the training records (after carving, noise and hold-outs)
   with the item features, and the selection records. */
static void cr__fit_fingerprint(const cr_model *m, const cr_fit_opts *o, const cr_eval_opts *so, int phase, int max_e,
                                const cr_interactions *train, const cr_interactions *sel, uint64_t fp[4]) {
    double dv[6];
    int iv[16];
    uint64_t h;
    fp[0] = cr__cfg_fingerprint(m);
    iv[0] = phase; iv[1] = max_e; iv[2] = o->eval_every; iv[3] = o->patience; iv[4] = (int)o->select;
    iv[5] = (int)o->metric; iv[6] = o->metric_k; iv[7] = o->refit; iv[8] = o->cold_warm; iv[9] = o->eval.exclude_seen;
    iv[10] = o->eval.cold_max; iv[11] = o->eval.no_auc; iv[12] = o->eval.basic; iv[13] = o->eval.cooccurrence;
    iv[14] = o->stop_rule;
    iv[15] = o->backoff;
    dv[0] = o->valid_ratio;
    dv[1] = o->train_noise;
    dv[2] = o->cold_users;
    dv[3] = o->cold_items;
    dv[4] = (double)o->eval.tail_share;
    dv[5] = o->eval.tail_ratio;
    h = cr__fnv(CR__FNV0, iv, sizeof iv);
    h = cr__fnv(h, dv, sizeof dv);
    fp[1] = cr__fnv(h, o->eval.ks, sizeof o->eval.ks);
    h = cr__fnv_u64(cr__fnv_records(CR__FNV0, train), ((uint64_t)(uint32_t)m->n_users << 32) | (uint32_t)m->n_items);
    if (m->ifeat.rowptr) {
        h = cr__fnv(h, m->ifeat.rowptr, (size_t)(m->ifeat.nrows + 1) * sizeof(int64_t));
        h = cr__fnv(h, m->ifeat.col, (size_t)m->ifeat.nnz * sizeof(int32_t));
        h = cr__fnv(h, m->ifeat.val, (size_t)m->ifeat.nnz * sizeof(float));
    }
    fp[2] = h;
    fp[3] = cr__fnv_records(cr__fnv_records(CR__FNV0, sel), so ? so->history_extra : NULL);
}

/* The early stop (cr_fit_opts.patience, stop_rule), after an evaluation of value v that did not
   improve on the best. Why not plain patience: contrastive models often peak in the first
   epochs (the propagated embeddings rank by popularity before training) and dip while the
   contrast spreads the items, then climb past that peak; SimGCL on Gowalla fell from 0.078 to
   0.035 by epoch 5, LightGCN on dense data took 15 epochs to pass its epoch-1 value, and
   plain patience 10 handed back the epoch-1 model. Waiting 2P evaluations, then as long as
   the values rise, keeps such runs going; a run past its best that falls or wobbles stops
   as before, and 5P without a new best stops any run (bench/RESULTS.md, early stopping). */
static int cr__stop_now(const cr_fit_opts *o, const cr__fit_state *fs, double v) {
    int P = o->patience, since = (int)fs->since, n = (int)fs->n_eval + 1; /* counting this one */
    if (P <= 0 || since < P) return 0;
    if (o->stop_rule == 1) return 1;
    if (n < 2 * P) return 0;
    return !(v > fs->last[0] && fs->last[0] > fs->last[1] && fs->last[1] >= 0 && since < 5 * P);
}

/* Contrast backoff (cr_fit_opts.backoff), after an evaluation that left fs->below evaluations
   in a row 10% under the best. Why: with small propagated rows the InfoNCE gradient (it grows as
   1/|x|) outweighs BPR's (it shrinks with |x|) and Adam's normalised step follows the contrast
   alone; BPR stays at ln 2 (bench/notes/stall.md). Where the contrast then keeps pulling the
   ranking down, as XSimGCL's on dense data (validation peaks after epoch 1 and falls for 40
   epochs at the paper's lambda 0.2), a smaller lambda lets BPR take over: halve it and restart
   from the best parameters, with Adam's moments cleared (they hold the contrast's scale). Where
   the contrast helps (Last.fm, Gowalla) validation does not fall that way, or BPR has left
   chance when it does (LightGCN-like popularity dips), and nothing changes. A run that the early
   stop would end with BPR still at chance (a slow slide: SimGCL on Last.fm) backs off instead:
   its best model never trained the ranking loss. */
#define CR__BACKOFF_DROP 0.1   /* "well below": under (1 - this) x the best */
#define CR__BACKOFF_MAX 8      /* lambda / 256 at the least */
static int cr__backoff_now(const cr_model *m, const cr_fit_opts *o, const cr__fit_state *fs, double rec_loss, int phase,
                           int stopping) {
    const cr__model_ops *op = m->ops;
    return phase == CR_FIT_SELECT && o->select == CR_SELECT_VALID && o->backoff > 0 && !op->sequential &&
           op->negatives && cr__model_reads(op->kind, "lambda") && m->cfg.lambda > 0 &&
           (fs->below >= (uint32_t)o->backoff || stopping) && fs->backoffs < CR__BACKOFF_MAX && fs->best_v >= 0 &&
           rec_loss > 0.95 * 0.69314718055994531;
}

/* Halves the contrast and goes back to the best parameters with a fresh optimiser. */
static void cr__backoff(cr_model *m, cr__fit_state *fs) {
    m->cfg.lambda *= 0.5f;
    fs->lambda = m->cfg.lambda;
    fs->backoffs++;
    fs->below = fs->since = 0;
    fs->last[0] = fs->last[1] = -1; /* "still rising" counts from the restart; the 2P grace is not given again */
    cr_model_set_params(m, fs->best);
    memset(m->adam_m, 0, (size_t)m->n_param * sizeof(float));
    memset(m->adam_v, 0, (size_t)m->n_param * sizeof(float));
    m->step = 0;
}

/* Trains one model on `train` for up to max_e epochs, evaluating on sel (if not NULL) with
   sel_opts and keeping the best parameters; or, without sel, for exactly max_e epochs. With
   o->state_path the loop continues from a state file of the same phase and writes one after
   every epoch. The model records `known` as its held-out records (what its test masks). */
static cr_status cr__fit_loop(cr_model **mp, const cr_config *cfg, const cr_dataset *ds, const cr_interactions *train,
                              const cr_interactions *sel, const cr_eval_opts *sel_opts, const cr_fit_opts *o, int phase,
                              int max_e, const cr_interactions *known, cr_fit_result *res) {
    cr_dataset view = *ds;
    cr_model *m = NULL;
    cr__fit_state fs;
    int epoch, ki = 0, first = 1, stop0 = res->stopped_early; /* the refit phase keeps the selection's */
    cr_status st;
    view.train = *train;
    memset(&fs, 0, sizeof fs);
    fs.best_v = fs.last[0] = fs.last[1] = -1;
    if ((st = cr_model_create(&m, cfg, &view)) != CR_OK) return st;
    if ((st = cr_model_set_held_out(m, known)) != CR_OK) { cr_model_free(m); return st; }
    if (sel && !(fs.best = cr_alloc_floats(cr_model_num_params(m)))) { cr_model_free(m); return CR_ERR_NOMEM; }
    while (ki < CR_MAX_K - 1 && o->eval.ks[ki] != o->metric_k) ki++;
    if (o->state_path) {
        cr__fit_state on_disk;
        int exists = 0;
        fs.phase = (uint32_t)phase;
        fs.max_e = (uint32_t)max_e;
        cr__fit_fingerprint(m, o, sel_opts, phase, max_e, train, sel, fs.fp);
        st = cr__state_peek(o->state_path, &on_disk, &exists);
        /* a finished selection's file, when the refit phase starts, is the phase before: start afresh */
        if (st == CR_OK && exists && !(phase == CR_FIT_REFIT && on_disk.phase == CR_FIT_SELECT && on_disk.done)) {
            if ((st = cr__state_load(o->state_path, m, &fs)) == CR_OK) {
                res->best_epoch = fs.res.best_epoch;
                res->best_value = fs.res.best_value;
                res->valid = fs.res.valid;
                res->epochs_run = fs.res.epochs_run;
                res->stopped_early = stop0 = fs.res.stopped_early;
                res->train_seconds = fs.res.train_seconds;
                res->eval_seconds = fs.res.eval_seconds;
                res->resumed_epoch = (int)fs.epoch;
                res->resumed_phase = phase;
                first = (int)fs.epoch + 1;
            }
        }
        if (st != CR_OK) {
            cr__free_aligned(fs.best);
            cr_model_free(m);
            return st;
        }
    }
    /* a refit trains with the selection's last lambda; a resumed one has it from its file */
    if (first == 1 && phase == CR_FIT_REFIT) {
        if (res->lambda > 0 && m->cfg.lambda > 0) m->cfg.lambda = res->lambda;
        fs.backoffs = (uint32_t)res->backoffs; /* reported again by a resumed refit */
    }
    if (first == 1) fs.lambda = fs.best_lambda = m->cfg.lambda;
    for (epoch = first; epoch <= max_e && !fs.done; epoch++) {
        cr_fit_info info;
        double t0 = cr__now();
        int stop = 0, patience_out = 0;
        memset(&info, 0, sizeof info);
        info.phase = phase;
        info.epoch = epoch;
        info.max_epochs = max_e;
        if ((st = cr_train_epoch(m, epoch, &info.train, o->on_batch, o->user)) != CR_OK) break;
        res->train_seconds += cr__now() - t0;
        res->epochs_run = epoch;
        if (sel && (epoch % o->eval_every == 0 || epoch == max_e)) {
            double v;
            if ((st = cr_evaluate(m, sel, sel_opts, &info.sel)) != CR_OK) break;
            res->eval_seconds += info.sel.seconds;
            info.evaluated = 1;
            v = cr__metric_value(&info.sel, o->metric, ki);
            if (v > fs.best_v) { /* strict improvement, as RecBole's early stopping */
                fs.best_v = v;
                res->best_epoch = epoch;
                res->best_value = v;
                res->valid = info.sel;
                cr_model_get_params(m, fs.best);
                fs.best_lambda = m->cfg.lambda;
                info.improved = 1;
                fs.since = 0;
            } else
                fs.since++;
            patience_out = !info.improved && cr__stop_now(o, &fs, v);
            fs.last[1] = fs.last[0];
            fs.last[0] = v;
            fs.n_eval++;
            fs.below = v < (1 - CR__BACKOFF_DROP) * fs.best_v ? fs.below + 1 : 0;
            if (cr__backoff_now(m, o, &fs, info.train.rec_loss, phase, patience_out)) {
                cr__backoff(m, &fs);
                info.backed_off = 1;
                patience_out = 0;
            }
        }
        if (!sel) res->best_epoch = epoch;
        info.best_epoch = res->best_epoch;
        info.best_value = fs.best_v;
        info.since_best = (int)fs.since;
        info.patience = o->patience;
        info.lambda = m->cfg.lambda;
        if (o->on_epoch && cr__mpi_any(o->on_epoch(o->user, m, &info))) { res->stopped_early = 2; stop = 1; }
        else if (patience_out) { res->stopped_early = 1; stop = 1; }
        if (o->state_path) { /* after the callback: it may have changed the learning rate */
            fs.epoch = (uint32_t)epoch;
            fs.done = patience_out || epoch == max_e;
            fs.res = *res;
            fs.res.stopped_early =
                patience_out ? 1 : stop0; /* what the finished run reports; a callback's stop is not kept */
            st = cr__state_save(o->state_path, m, &fs);
            if (cr__mpi_any(st != CR_OK)) { /* process 0 writes it; the others stop with it */
                if (st == CR_OK) st = cr__fail(CR_ERR_IO, "%s: process 0 could not save the state", o->state_path);
                break;
            }
        }
        if (stop) break;
    }
    if (st == CR_OK && sel && res->best_epoch) cr_model_set_params(m, fs.best);
    res->backoffs = (int)fs.backoffs;
    res->lambda = sel && res->best_epoch ? fs.best_lambda : m->cfg.lambda;
    cr__free_aligned(fs.best);
    if (st != CR_OK) { cr_model_free(m); return st; }
    *mp = m;
    return CR_OK;
}

/* cr_fit_opts.mem_limit: the plan, before any work */
static cr_status cr__fit_mem_check(const cr_config *cfg, const cr_dataset *ds, const cr_fit_opts *opts) {
    cr_mem_plan p;
    char text[1536];
    cr_status st;
    if (!opts || opts->mem_limit <= 0) return CR_OK;
    if ((st = cr_memory_plan(&p, cfg, ds, opts)) != CR_OK) return st;
    if (p.peak <= opts->mem_limit) return CR_OK;
    cr_memory_plan_format(&p, text, sizeof text);
    return cr__fail(CR_ERR_NOMEM, "the run's memory plan peaks at %.1f MB, above the limit of %.1f MB (mem_limit):\n%s",
                    (double)p.peak / 1e6, (double)opts->mem_limit / 1e6, text);
}

/* One cr_fit: the data sets as the protocols leave them, and the buffers they own. */
typedef struct cr__fit_run {
    cr_fit_opts o;
    cr_config cfg; /* resolved (the models are created from the caller's: resolving twice would turn an
                      explicit "off", 0 after resolution, back into the default) */
    const cr_dataset *ds;
    int seq;
    const cr_interactions *train, *valid, *known, *test; /* what trains, selects, is masked, is tested */
    cr_interactions keep, held, full, warm_train, cold_hist, warm_test, cold_test, warm_valid, cold_valid, trained,
        valid_all, test_all;
    uint8_t *pick, *ipick; /* cold_users' and cold_items' choices */
    cr_eval_opts sel_opts; /* the selection's evaluation */
    cr_fit_result *res;
} cr__fit_run;

static void cr__fit_run_free(cr__fit_run *F) {
    cr_interactions *x[12];
    int i;
    x[0] = &F->keep, x[1] = &F->held, x[2] = &F->full, x[3] = &F->warm_train, x[4] = &F->cold_hist;
    x[5] = &F->warm_test, x[6] = &F->cold_test, x[7] = &F->warm_valid, x[8] = &F->cold_valid, x[9] = &F->trained;
    x[10] = &F->valid_all, x[11] = &F->test_all;
    for (i = 0; i < 12; i++) cr_interactions_free(x[i]);
    CR_FREE(F->pick);
    CR_FREE(F->ipick);
}

/* A held-out count that is a status (negative): the status, the count left at 0. */
static cr_status cr__fit_count_failed(int64_t *n) {
    cr_status st = (cr_status)*n;
    *n = 0;
    return st;
}

/* Protocol: cold_users. The held-out users leave training, validation and the main test; a
   cold_warm run trains on all their records (what fold-in reads), never validates on them. */
static cr_status cr__fit_cold_users(cr__fit_run *F) {
    const cr_dataset *ds = F->ds;
    cr_status st;
    if (!(F->o.cold_users > 0)) return CR_OK;
    if (!(F->pick = (uint8_t *)cr__alloc_array((size_t)ds->n_users + 1, 1, "cold-start users"))) return CR_ERR_NOMEM;
    F->res->n_cold_users =
        cr_cold_users(ds, F->o.cold_users, F->o.holdout_seed ? F->o.holdout_seed : F->cfg.seed, F->pick);
    if (F->res->n_cold_users < 0) return cr__fit_count_failed(&F->res->n_cold_users);
    if ((st = cr__filter_users(&ds->train, F->pick, 0, &F->warm_train)) != CR_OK ||
        (st = cr__filter_users(&ds->train, F->pick, 1, &F->held)) != CR_OK ||
        (st = cr__filter_users(&ds->valid, F->pick, 0, &F->warm_valid)) != CR_OK ||
        (st = cr__filter_users(&ds->valid, F->pick, 1, &F->cold_valid)) != CR_OK ||
        (st = cr__concat(&F->cold_hist, &F->held, &F->cold_valid)) != CR_OK ||
        (st = cr__filter_users(&ds->test, F->pick, 0, &F->warm_test)) != CR_OK ||
        (st = cr__filter_users(&ds->test, F->pick, 1, &F->cold_test)) != CR_OK)
        return st;
    cr_interactions_free(&F->held);
    F->train = &F->warm_train;
    F->test = &F->warm_test;
    return CR_OK;
}

/* Protocol: cold_items. The held-out items leave training; their records, wherever they were, go
   to the validation or the test set of their half. */
static cr_status cr__fit_cold_items(cr__fit_run *F) {
    const cr_dataset *ds = F->ds;
    const cr_interactions *sets[3];
    cr_status st;
    int k;
    if (!(F->o.cold_items > 0)) return CR_OK;
    sets[0] = &ds->train, sets[1] = &ds->valid, sets[2] = &ds->test;
    if (F->seq) /* the GRU's items are IDs: a held-out one could only be scored at random */
        return cr__fail(CR_ERR_INVALID, "cr_fit: cold_items is for graph models (%s is a sequence model)",
                        cr_model_name(F->cfg.model));
    if (!(F->ipick = (uint8_t *)cr__alloc_array(2 * (size_t)ds->n_items, 1, "cold-start items"))) return CR_ERR_NOMEM;
    F->res->n_cold_items = cr_cold_items(ds, F->o.cold_items, F->o.holdout_seed ? F->o.holdout_seed : F->cfg.seed,
                                         F->o.select == CR_SELECT_VALID, F->ipick);
    if (F->res->n_cold_items < 0) return cr__fit_count_failed(&F->res->n_cold_items);
    if ((st = cr__filter_items(&ds->train, F->ipick, 0, &F->warm_train)) != CR_OK ||
        (st = cr__filter_items(&ds->valid, F->ipick, 0, &F->warm_valid)) != CR_OK ||
        (st = cr__filter_items(&ds->test, F->ipick, 0, &F->test_all)) != CR_OK)
        return st;
    for (k = 0; k < 3; k++)
        if ((st = cr__filter_items(sets[k], F->ipick, 1, &F->cold_valid)) != CR_OK ||
            (st = cr__filter_items(sets[k], F->ipick, 2, &F->test_all)) != CR_OK)
            return st;
    F->train = &F->warm_train;
    F->test = &F->test_all;
    return CR_OK;
}

/* Protocol: the selection set. Validation records given, or carved from training; with
   select test the test set selects (and the validation records are known history). */
static cr_status cr__fit_selection_set(cr__fit_run *F) {
    const cr_dataset *ds = F->ds;
    int cold = F->o.cold_users > 0 || F->o.cold_items > 0;
    cr_status st;
    if (F->o.select != CR_SELECT_VALID) {
        F->known = ds->valid.n ? (cold ? &F->warm_valid : &ds->valid) : NULL;
        if (F->o.select == CR_SELECT_TEST) {
            F->valid = F->test;
            F->sel_opts.history_extra = F->known;
        }
        return CR_OK;
    }
    if (ds->valid.n) F->valid = cold ? &F->warm_valid : &ds->valid;
    else { /* carve it: the model trains on the rest */
        if ((st = cr__carve(F->train, ds->n_users, F->seq, F->o.valid_ratio, F->cfg.seed, CR__VALID_STREAM, &F->keep,
                            &F->held)) != CR_OK)
            return st;
        F->train = &F->keep;
        F->valid = &F->held;
    }
    if (F->o.cold_items > 0) { /* and the validation half of the held-out items */
        if ((st = cr__concat(&F->valid_all, F->valid, &F->cold_valid)) != CR_OK) return st;
        F->valid = &F->valid_all;
    }
    if (!F->valid->n)
        return F->seq ? cr__fail(CR_ERR_EMPTY, "no validation records: no user has two or more training items")
                      : cr__fail(CR_ERR_EMPTY,
                                 "no validation records: round(%g x n) is 0 for every user's n training interactions; "
                                 "use a larger validation share, or train without selection (a fixed number of epochs)",
                                 F->o.valid_ratio);
    F->known = F->valid; /* at test time the validation records are known history */
    return CR_OK;
}

/* Protocol: train_noise, in the training part only, never in validation or test. */
static cr_status cr__fit_noise(cr__fit_run *F) {
    const cr_interactions *avoid[2];
    cr_status st;
    if (!(F->o.train_noise > 0)) return CR_OK;
    if (F->train != &F->keep) {
        if ((st = cr__concat(&F->keep, F->train, &F->held)) != CR_OK) return st; /* a copy to add to (held is empty) */
        F->train = &F->keep;
    }
    avoid[0] = F->valid ? F->valid : &F->ds->valid;
    avoid[1] = &F->ds->test;
    return cr_interactions_add_noise(&F->keep, F->ds->n_users, F->ds->n_items, F->o.train_noise, F->cfg.seed, avoid, 2,
                                     &F->res->n_noise);
}

/* Protocol: cold_warm, the held-out users' records join training. */
static cr_status cr__fit_cold_warm(cr__fit_run *F) {
    cr_status st;
    if (!F->o.cold_warm) return CR_OK;
    if ((st = cr__concat(&F->trained, F->train, &F->cold_hist)) != CR_OK) return st;
    F->train = &F->trained;
    return CR_OK;
}

/* Resume: a state file of the refit phase means the selection is behind it; its epochs (0: none). */
static cr_status cr__fit_refit_resume(const cr__fit_run *F, int *epochs) {
    cr__fit_state on_disk;
    int exists = 0, cap = F->o.epochs ? F->o.epochs : F->o.max_epochs;
    cr_status st;
    *epochs = 0;
    if (!F->o.state_path || !F->o.refit) return CR_OK;
    if ((st = cr__state_peek(F->o.state_path, &on_disk, &exists)) != CR_OK) return st;
    if (!exists || on_disk.phase != CR_FIT_REFIT) return CR_OK;
    if ((int)on_disk.max_e > cap)
        return cr__fail(CR_ERR_INVALID, "%s: the training state's refit of %d epochs exceeds the selection's %d",
                        F->o.state_path, (int)on_disk.max_e, cap);
    *epochs = (int)on_disk.max_e;
    return CR_OK;
}

/* Protocol: refit, the selected epoch count again on train + valid. With a state file a
   callback's stop is an interruption: no refit until the selection ends. */
static cr_status cr__fit_refit(cr__fit_run *F, const cr_config *cfg_in, cr_model **m) {
    cr_fit_result *res = F->res;
    int best = res->best_epoch;
    cr_status st;
    if (!F->o.refit || best <= 0 || (F->o.state_path && res->stopped_early == 2)) return CR_OK;
    cr_model_free(*m);
    *m = NULL;
    if ((st = cr__concat(&F->full, F->train, F->valid)) != CR_OK) return st;
    if ((st = cr__fit_loop(m, cfg_in, F->ds, &F->full, NULL, NULL, &F->o, CR_FIT_REFIT, best, NULL, res)) != CR_OK)
        return st;
    res->best_epoch = best;
    res->refit = 1;
    res->n_train = F->full.n;
    F->known = NULL;
    return CR_OK;
}

/* The test set, read once, at the returned model: the main figures, then each protocol's. */
static cr_status cr__fit_test(cr__fit_run *F, cr_model *m) {
    cr_fit_result *res = F->res;
    cr_eval_opts to = F->o.eval;
    cr_status st;
    if (!F->ds->test.n) return CR_OK;
    to.history_extra = F->known;
    to.fold_in = NULL;
    to.items_only = NULL;
    to.per_user = F->o.per_user_test;
    if ((st = cr_evaluate(m, F->test, &to, &res->test)) != CR_OK) return st;
    to.per_user = NULL;
    res->eval_seconds += res->test.seconds;
    if (F->o.cold_users > 0) { /* the held-out users: folded in, or (cold_warm) as trained */
        if (!F->o.cold_warm) to.fold_in = &F->cold_hist;
        to.per_user = F->o.per_user_cold;
        if ((st = cr_evaluate(m, &F->cold_test, &to, &res->cold)) != CR_OK) return st;
        to.per_user = NULL;
        res->eval_seconds += res->cold.seconds;
        to.fold_in = NULL;
    }
    if (F->o.cold_items > 0) { /* among the trained items, then among the test's held-out ones */
        uint8_t *only = F->ipick + F->ds->n_items;
        int32_t i;
        to.items_only = only;
        for (i = 0; i < F->ds->n_items; i++) only[i] = F->ipick[i] == 0;
        if ((st = cr_evaluate(m, F->test, &to, &res->test_warm)) != CR_OK) return st;
        for (i = 0; i < F->ds->n_items; i++) only[i] = F->ipick[i] == 2;
        if ((st = cr_evaluate(m, F->test, &to, &res->test_cold)) != CR_OK) return st;
        res->eval_seconds += res->test_warm.seconds + res->test_cold.seconds;
        to.items_only = NULL;
    }
    if (F->seq) { /* and under the other history protocol, so the two can be compared */
        to.exclude_seen = to.exclude_seen == 1 ? -1 : 1;
        if ((st = cr_evaluate(m, F->test, &to, &res->test_other)) != CR_OK) return st;
    }
    return CR_OK;
}

/* The driver: the protocols shape the sets in this order, the selection trains, refit retrains,
   the test is read once. A new protocol is a function in this table (and, if it changes what is
   tested, a step of cr__fit_test). */
CR_API cr_status cr_fit(cr_model **out, const cr_config *cfg_in, const cr_dataset *ds, const cr_fit_opts *opts,
                        cr_fit_result *res) {
    static cr_status (*const protocols[])(cr__fit_run *) = {cr__fit_cold_users, cr__fit_cold_items,
                                                            cr__fit_selection_set, cr__fit_noise, cr__fit_cold_warm};
    cr__fit_run F;
    cr_model *m = NULL;
    int resume = 0;
    size_t i;
    cr_status st;
    *out = NULL;
    memset(res, 0, sizeof *res);
    memset(&F, 0, sizeof F);
    if (opts) F.o = *opts;
    F.cfg = *cfg_in;
    F.ds = ds;
    F.res = res;
    F.train = &ds->train;
    F.test = &ds->test;
    if ((st = cr_config_resolve(&F.cfg)) != CR_OK) return st;
    F.seq = cr_model_is_sequential(F.cfg.model);
    if ((st = cr__fit_resolve(&F.o, ds, F.seq)) != CR_OK || (st = cr__fit_mem_check(cfg_in, ds, opts)) != CR_OK)
        return st;
    res->selected_on = F.o.select;
    F.sel_opts = F.o.eval;
    F.sel_opts.history_extra = NULL;
    F.sel_opts.fold_in = NULL;
    F.sel_opts.per_user = NULL;
    F.sel_opts.items_only = NULL; /* set by cold_items alone */
    for (i = 0; i < sizeof protocols / sizeof protocols[0]; i++)
        if ((st = protocols[i](&F)) != CR_OK) goto done;
    res->n_train = F.train->n;
    res->n_valid = F.o.select == CR_SELECT_VALID ? F.valid->n : 0;
    if ((st = cr__fit_refit_resume(&F, &resume)) != CR_OK) goto done;
    if (resume) res->best_epoch = resume;
    else if ((st = cr__fit_loop(&m, cfg_in, ds, F.train, F.valid, &F.sel_opts, &F.o, CR_FIT_SELECT,
                                F.o.epochs ? F.o.epochs : F.o.max_epochs, F.known, res)) != CR_OK)
        goto done;
    if ((st = cr__fit_refit(&F, cfg_in, &m)) != CR_OK || (st = cr__fit_test(&F, m)) != CR_OK) goto done;
    *out = m;
    m = NULL;
done:
    cr_model_free(m);
    cr__fit_run_free(&F);
    return st;
}

/* ---- 9c. the memory plan: what a cr_fit will hold, from sizes alone ---- */

static int64_t cr__records_bytes(const cr_interactions *x) {
    return x->cap * (int64_t)(2 * sizeof(int32_t) + sizeof(float) + sizeof(double));
}
#define CR__RECORD_BYTES ((int64_t)(2 * sizeof(int32_t) + sizeof(float) + sizeof(double)))

/* Per-user and per-item counts of the plan's data: the largest degrees bound what a block of
   ranked users, a view build or RCL's false-negative lists can take. */
typedef struct cr__plan_data {
    int64_t n_train, n_valid, n_test; /* records the model trains on, validates and tests on */
    int64_t n_eval_users; /* users with a validation (or test) record, at most */
    int64_t max_user, max_item; /* largest training degrees */
    int64_t top_items, top_users; /* sum of the batch-size largest item (user) degrees */
    int64_t max_test, max_extra; /* largest per-user count of the evaluated and known sets */
    int64_t seq_users; /* users with two or more training records */
} cr__plan_data;

static int cr__cmp_i64_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The degrees, from one pass over each set (a temporary of n_users + n_items counts). */
static cr_status cr__plan_degrees(const cr_dataset *ds, int batch, cr__plan_data *pd) {
    int64_t U = ds->n_users, I = ds->n_items, e, k, *cu, *ci, *cv, *ct;
    const cr_interactions *set[3];
    int s;
    if (!(cu = (int64_t *)cr__calloc_array((size_t)(3 * U + I + 4), sizeof(int64_t), "the memory plan")))
        return CR_ERR_NOMEM;
    ci = cu + U + 1, cv = ci + I + 1, ct = cv + U + 1;
    set[0] = &ds->train, set[1] = &ds->valid, set[2] = &ds->test;
    for (s = 0; s < 3; s++) /* ids checked as the model's build checks them: a plan reads no wild index */
        for (e = 0; e < set[s]->n; e++)
            if (set[s]->user[e] < 0 || set[s]->user[e] >= U || set[s]->item[e] < 0 || set[s]->item[e] >= I) {
                CR_FREE(cu);
                return cr__fail(CR_ERR_INVALID,
                                "%s record %lld has user %d / item %d outside the %lld users and %lld items",
                                s == 0   ? "training"
                                : s == 1 ? "validation"
                                         : "test",
                                (long long)e, set[s]->user[e], set[s]->item[e], (long long)U, (long long)I);
            }
    for (e = 0; e < ds->train.n; e++) cu[ds->train.user[e]]++, ci[ds->train.item[e]]++;
    for (e = 0; e < ds->valid.n; e++) cv[ds->valid.user[e]]++;
    for (e = 0; e < ds->test.n; e++) ct[ds->test.user[e]]++;
    for (k = 0; k < U; k++) {
        pd->max_user = CR__MAX(pd->max_user, cu[k]);
        pd->seq_users += cu[k] >= 2;
        pd->max_test = CR__MAX(pd->max_test, CR__MAX(cv[k], ct[k]));
        pd->max_extra = CR__MAX(pd->max_extra, cv[k]);
    }
    qsort(cu, (size_t)U, sizeof *cu, cr__cmp_i64_desc);
    qsort(ci, (size_t)I, sizeof *ci, cr__cmp_i64_desc);
    pd->max_item = ci[0];
    for (k = 0; k < batch && k < U; k++) pd->top_users += cu[k];
    for (k = 0; k < batch && k < I; k++) pd->top_items += ci[k];
    CR_FREE(cu);
    return CR_OK;
}

static void cr__plan_add(cr_mem_plan *p, const char *what, int64_t bytes, int passing) {
    if (bytes <= 0 || p->n == CR_MEM_LINES) return;
    p->line[p->n].what = what;
    p->line[p->n].bytes = bytes;
    p->line[p->n++].passing = passing;
}

/* A model of cfg on the plan's sizes, with nothing allocated: the fields the memory and
   workspace functions read (sizes, the parameter plan, the feature matrix shared with ds). */
static cr_status cr__model_shell(cr_model *m, struct cr__seq *q, const cr_config *cfg, const cr_dataset *ds,
                                 const cr__plan_data *pd) {
    int64_t i;
    memset(m, 0, sizeof *m);
    m->shell = 1;
    m->cfg = *cfg;
    m->ops = cr__ops_of((int)cfg->model);
    m->n_users = ds->n_users;
    m->n_items = ds->n_items;
    m->n_nodes = (int64_t)m->n_users + m->n_items;
    m->hist.nrows = m->n_users;
    m->hist.ncols = m->n_items;
    m->hist.nnz = pd->n_train;
    if (cr__uses_features(cfg)) {
        m->ifeat = ds->features.x; /* read only: the shell is never freed */
        m->feats = ds->features.feats;
        for (i = 0; m->ifeat.rowptr && i < m->ifeat.nrows; i++)
            m->fmax = (int)CR__MAX((int64_t)m->fmax, m->ifeat.rowptr[i + 1] - m->ifeat.rowptr[i]);
    }
    m->ego_rows = m->ops->sequential ? (int64_t)m->n_items + 2 : m->n_nodes;
    if (m->ops->sequential) {
        memset(q, 0, sizeof *q);
        q->T = cfg->max_len, q->H = cfg->hidden, q->d = cfg->dim, q->L = cfg->gru_layers;
        m->seq = q;
        m->n_examples = pd->seq_users;
    } else {
        m->g.n_edges = m->n_examples = pd->n_train;
        m->g.adj.nrows = m->n_nodes;
        m->g.adj.nnz = 2 * pd->n_train;
        m->plan_top = pd->top_items + pd->top_users;
    }
    return cr__own(m) != CR_OK ? CR_ERR_NOMEM : m->ops->plan(m);
}

static int64_t cr__eval_plan(const cr_model *m, const cr_eval_opts *eo, int64_t n_test, int64_t n_extra,
                             int64_t max_test, int64_t max_known, int full); /* section 10 */

/* What building the model passes through: the history's CSR build, the graph's (fill
   pointers, the locality order, the permutation) or the sequence model's item pairs. */
static int64_t cr__build_plan(const cr_model *m, const cr__plan_data *pd) {
    int64_t N = m->n_nodes, b = 8 * ((int64_t)m->n_users + 1) + 8 * pd->n_train;
    if (!m->ops->sequential && m->cfg.layers)
        b = CR__MAX(b, 9 * (N + 1) + 8 * (CR__MAX(pd->max_user, pd->max_item) + 1));
    if (m->cfg.model == CR_MODEL_CL4SREC && m->cfg.lambda > 0 &&
        (m->cfg.seq_aug & (CR_SEQAUG_INSERT | CR_SEQAUG_SUBSTITUTE)))
        b = CR__MAX(b, 8 * (2 * pd->n_train + 1));
    return b;
}

CR_API cr_status cr_memory_plan(cr_mem_plan *p, const cr_config *cfg_in, const cr_dataset *ds,
                                const cr_fit_opts *opts) {
    cr_config cfg = *cfg_in;
    cr_fit_opts o;
    cr__plan_data pd;
    cr_model sh;
    struct cr__seq q;
    cr__arena a;
    int seq, sel;
    int64_t copies = 0, dsb, P, pass_eval, pass_model = 0;
    cr_status st;
    memset(p, 0, sizeof *p);
    memset(&pd, 0, sizeof pd);
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    if ((st = cr_config_resolve(&cfg)) != CR_OK) return st;
    seq = cr_model_is_sequential(cfg.model);
    if ((st = cr__fit_resolve(&o, ds, seq)) != CR_OK) return st;
    if (ds->n_users < 1 || ds->n_items < 2 || ds->train.n < 1)
        return cr__fail(CR_ERR_EMPTY, "the training set is empty (%d users, %d items, %lld interactions)", ds->n_users,
                        ds->n_items, (long long)ds->train.n);
    if (cr__uses_features(&cfg) && (!ds->features.x.rowptr || ds->features.x.nrows != ds->n_items))
        return cr__fail(
            CR_ERR_INVALID,
            "config %s: item_repr, attr_w and fm_w need item features (cr_dataset.features; the CLI's --item-features)",
            cr_model_name(cfg.model));
    if ((st = cr__plan_degrees(ds, cfg.batch, &pd)) != CR_OK) return st;
    sel = o.select == CR_SELECT_VALID;
    pd.n_train = ds->train.n, pd.n_valid = ds->valid.n, pd.n_test = ds->test.n;
    if (sel && !ds->valid.n) { /* carved: the model trains on the rest; both parts are copies */
        pd.n_valid = seq ? pd.seq_users : (int64_t)ceil(o.valid_ratio * (double)ds->train.n) + ds->n_users;
        pd.n_valid = CR__MIN(pd.n_valid, ds->train.n);
        pd.max_extra = seq ? 1 : (int64_t)ceil(o.valid_ratio * (double)pd.max_user) + 1;
        copies += ds->train.n * CR__RECORD_BYTES;
    }
    if (o.train_noise > 0) copies += (int64_t)((1.0 + o.train_noise) * (double)ds->train.n) * 2 * CR__RECORD_BYTES;
    if (o.cold_users > 0 || o.cold_items > 0) copies += (ds->train.n + ds->valid.n + ds->test.n) * 2 * CR__RECORD_BYTES;
    if (o.refit) copies += (ds->train.n + pd.n_valid) * CR__RECORD_BYTES;
    if (o.cold_warm) copies += (ds->train.n + ds->valid.n) * CR__RECORD_BYTES;
    /* what the model trains on, at most: the training records, with the added noise, or joined
       by the validation records (refit, cold_warm); the largest degrees grow with the noise */
    pd.n_train = CR__MAX((int64_t)ceil((1.0 + o.train_noise) * (double)ds->train.n),
                         o.refit || o.cold_warm ? ds->train.n + (ds->valid.n ? ds->valid.n : 0) : 0);
    if (o.train_noise > 0) {
        double f = 1.0 + o.train_noise;
        pd.max_user = (int64_t)ceil(f * (double)pd.max_user), pd.max_item = (int64_t)ceil(f * (double)pd.max_item);
        pd.top_users = (int64_t)ceil(f * (double)pd.top_users), pd.top_items = (int64_t)ceil(f * (double)pd.top_items);
    }
    dsb = cr__records_bytes(&ds->train) + cr__records_bytes(&ds->valid) + cr__records_bytes(&ds->test) +
          cr__idmap_bytes(&ds->users) + cr__idmap_bytes(&ds->items) + cr__csr_bytes(&ds->features.x) +
          cr__idmap_bytes(&ds->features.feats);
    if ((st = cr__model_shell(&sh, &q, &cfg, ds, &pd)) != CR_OK) {
        CR_FREE(sh.own);
        return st;
    }
    P = sh.n_param;
    a.base = NULL;
    a.used = 0;
    cr__carve_ws(&sh, &a);
    cr__plan_add(p, "the dataset, as loaded", dsb, 0);
    cr__plan_add(p, "the fit's copies of the splits", copies, 0);
    cr__plan_add(p, "the model's ids, history and held-out records",
                 cr__idmap_plan(sh.n_users) + cr__idmap_plan(sh.n_items) + (sh.n_users + 1) * 8 + pd.n_train * 4 +
                     (pd.n_valid ? (sh.n_users + 1) * 8 + pd.n_valid * 4 : 0) + (int64_t)sh.n_items * 4,
                 0);
    cr__plan_add(p, "parameters, gradients, Adam's two moments", 4 * P * 4 + (P / CR__ADAM_CHUNK + 2) * 4, 0);
    cr__plan_add(p, "the best epoch's parameters", o.select != CR_SELECT_LAST ? P * 4 : 0, 0);
    cr__plan_add(p, "the model's own state (graph, tables, views)", sh.ops->memory(&sh, &pass_model), 0);
    cr__plan_add(p, "the training workspace", (int64_t)a.used, 0);
    cr__plan_add(p, "building the model", cr__build_plan(&sh, &pd), 1);
    cr__plan_add(p, "the model's passing needs (views, pair sorts)", pass_model, 1);
    pass_eval = CR__MAX(sel ? cr__eval_plan(&sh, &o.eval, pd.n_valid, 0, pd.max_extra, pd.max_user, !o.eval.basic) : 0,
                        ds->test.n ? cr__eval_plan(&sh, &o.eval, ds->test.n, pd.n_valid, pd.max_test,
                                                   pd.max_user + pd.max_extra, !o.eval.basic)
                                   : 0);
    cr__plan_add(p, "an evaluation", pass_eval, 1);
    {
        int i;
        int64_t pass = 0;
        for (i = 0; i < p->n; i++)
            if (p->line[i].passing) pass = CR__MAX(pass, p->line[i].bytes);
            else p->held += p->line[i].bytes;
        p->peak = p->held + pass;
    }
    CR_FREE(sh.own);
    return CR_OK;
}

/* bytes in a short human form: "812 B", "3.4 kB", "19.2 MB", "1.07 GB" (powers of 1000) */
static void cr__fmt_bytes(char *buf, size_t n, int64_t b) {
    if (b < 1000) snprintf(buf, n, "%lld B", (long long)b);
    else if (b < 1000000) snprintf(buf, n, "%.1f kB", (double)b / 1e3);
    else if (b < 1000000000) snprintf(buf, n, "%.1f MB", (double)b / 1e6);
    else snprintf(buf, n, "%.2f GB", (double)b / 1e9);
}

/* Appends str to buf (n bytes, always terminated, NULL to measure); *len counts the whole text. */
static void cr__append(char *buf, size_t n, size_t *len, const char *str) {
    size_t k = strlen(str);
    if (buf && n && *len < n - 1) {
        size_t c = CR__MIN(k, n - 1 - *len);
        memcpy(buf + *len, str, c);
        buf[*len + c] = 0;
    }
    *len += k;
}

CR_API int cr_memory_plan_format(const cr_mem_plan *p, char *buf, size_t n) {
    size_t len = 0;
    int i;
    char b[32], line[160];
    if (buf && n) buf[0] = 0;
    for (i = 0; i < p->n; i++) {
        cr__fmt_bytes(b, sizeof b, p->line[i].bytes);
        snprintf(line, sizeof line, "  %-48s %10s%s\n", p->line[i].what, b, p->line[i].passing ? "  (passing)" : "");
        cr__append(buf, n, &len, line);
    }
    cr__fmt_bytes(b, sizeof b, p->held);
    snprintf(line, sizeof line, "  %-48s %10s\n", "held while training", b);
    cr__append(buf, n, &len, line);
    cr__fmt_bytes(b, sizeof b, p->peak);
    snprintf(line, sizeof line, "  %-48s %10s\n", "peak (held + the largest passing need)", b);
    cr__append(buf, n, &len, line);
    return (int)len;
}

CR_API int64_t cr_parse_bytes(const char *s) {
    char *end;
    double v, mul = 1;
    if (!s || !*s) return 0;
    v = strtod(s, &end);
    if (end == s) return 0;
    switch (*end) {
    case 'k':
    case 'K': mul = 1e3, end++; break;
    case 'm':
    case 'M': mul = 1e6, end++; break;
    case 'g':
    case 'G': mul = 1e9, end++; break;
    case 't':
    case 'T': mul = 1e12, end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b') end++;
    if (*end || !(v > 0) || v * mul > 9.0e18) return 0;
    return (int64_t)(v * mul);
}

/* ---- 9d. cr_tune: successive halving on validation ---- */

#define CR__TUNE_MAXP 16 /* options per space */
#define CR__TUNE_MAXV 16 /* values per list */
#define CR__TUNE_MAXM 16 /* models per search */

/* One searched option: a list of n values, or (n == 0) the range lo..hi. */
typedef struct cr__tparam {
    const cr_option *f;
    int log, n;
    double lo, hi, v[CR__TUNE_MAXV];
} cr__tparam;

typedef struct cr__tspace {
    int n;
    cr__tparam p[CR__TUNE_MAXP];
} cr__tspace;

static int cr__is_dir(const char *path); /* section 11 */

/* A base option of a search over several models must be read by one of them at least. */
static cr_status cr__tune_base_read(const cr_tune_opts *o, int nm) {
    int i, j;
    if (nm < 2) return CR_OK; /* one model: cr_config_resolve names an option it does not read */
    for (j = 0; j < CR__N_CFG; j++) {
        int read = 0;
        if (cr__opt_get(&o->base, &cr__options[j]) == 0) continue;
        for (i = 0; i < nm; i++) read |= cr__reads(&cr__options[j], o->models[i]);
        if (!read)
            return cr__fail(CR_ERR_INVALID, "cr_tune: option %s is read by none of the models searched",
                            cr__options[j].name);
    }
    return CR_OK;
}

CR_API const char *cr_tune_default_space(cr_model_kind k) {
    const cr__model_ops *o = cr__ops_of((int)k);
    return o && o->space ? o->space : "";
}

/* A field's value as a number, and the other way (a 0 is stored as the option's explicit zero:
   "off", not "the default"). */
static double cr__cfg_num(const cr_config *c, const cr_option *f) { return cr__opt_get(c, f); }
static void cr__cfg_set_num(cr_config *c, const cr_option *f, double v) {
    cr__opt_put(c, f, v == 0 && f->off != 0 ? f->off : v);
}

/* The shortest of %g and %.9g that reads back as the same float (so printed options round-trip). */
static void cr__tune_fmt(char *buf, size_t n, const cr_option *f, double v) {
    if (f->type != CR_OPT_FLOAT) {
        snprintf(buf, n, "%d", (int)v);
        return;
    }
    snprintf(buf, n, "%g", v);
    if ((float)strtod(buf, NULL) != (float)v) snprintf(buf, n, "%.9g", v);
}

/* Options a model may search: those of its default space, the generic ones, and layers for
   models that propagate. */
static int cr__tune_allowed(cr_model_kind k, const char *name) {
    static const char *const generic[] = {"lr", "reg", "batch", "dim", "clip"};
    const cr__model_ops *o = cr__ops_of((int)k);
    const char *s = o && o->space ? o->space : "";
    size_t n = strlen(name);
    int i;
    for (i = 0; i < 5; i++)
        if (!strcmp(name, generic[i])) return 1;
    if (!strcmp(name, "layers") && cr__model_reads(k, "layers")) return 1;
    while ((s = strstr(s, name)) != NULL) {
        if ((s == o->space || s[-1] == ' ' || s[-1] == ',') && s[n] == '=') return 1;
        s += n;
    }
    return 0;
}

/* A value of an option is one the configuration accepts and keeps. */
static cr_status cr__tune_value_ok(cr_model_kind k, const cr_config *base, const cr_option *f, double v,
                                   const char *what) {
    cr_config c = *base;
    double got;
    char txt[40];
    c.model = k;
    cr__cfg_set_num(&c, f, v);
    cr__tune_fmt(txt, sizeof txt, f, v);
    if (v != 0 && !cr__opt_in_range(f, v))
        return cr__fail(CR_ERR_INVALID, "%s: option %s: value %s is out of range", what, f->name, txt);
    if (v == 0 && f->off == 0 && !cr__opt_in_range(f, 0))
        return cr__fail(CR_ERR_INVALID, "%s: option %s: value 0 is out of range", what, f->name);
    if (f->type == CR_OPT_FLOAT && (float)v == CR_OFF)
        return cr__fail(CR_ERR_INVALID, "%s: option %s: value -1 is out of range (write 0 for off)", what, f->name);
    if (cr_config_resolve(&c) != CR_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "%.500s", cr_last_error());
        return cr__fail(CR_ERR_INVALID, "%s: option %s: value %s is out of range (%s)", what, f->name, txt, msg);
    }
    got = cr__cfg_num(&c, f);
    if (f->type == CR_OPT_FLOAT ? (float)got != (float)v : got != v)
        return cr__fail(CR_ERR_INVALID, "%s: option %s: value %s is not kept (the configuration makes it %g)", what,
                        f->name, txt, got);
    return CR_OK;
}

static int cr__tune_number(const char *s, double *v) {
    char *end;
    while (*s == ' ') s++;
    *v = strtod(s, &end);
    while (*end == ' ') end++;
    return end != s && !*end && *v == *v && *v > -1e30 && *v < 1e30;
}

/* One option's value text: "lo..hi", "lo..hi log", or "v1,v2,...". */
static cr_status cr__tune_values(cr__tparam *p, char *val, const char *what) {
    const char *name = p->f->name;
    char *dots = strstr(val, ".."), *tok;
    int i, isint = p->f->type != CR_OPT_FLOAT;
    if (dots) {
        char *lo = val, *hi = dots + 2, *sp;
        size_t n;
        *dots = 0;
        while (*hi == ' ') hi++;
        n = strlen(hi);
        while (n && hi[n - 1] == ' ') hi[--n] = 0;
        if (n > 3 && !strcmp(hi + n - 3, "log") && ((sp = strrchr(hi, ' ')) != NULL) && !strcmp(sp + 1, "log")) {
            p->log = 1;
            *sp = 0;
        }
        if (!cr__tune_number(lo, &p->lo) || !cr__tune_number(hi, &p->hi))
            return cr__fail(CR_ERR_INVALID,
                            "%s: option %s: '%s..%s' is not a range lo..hi of numbers (add ' log' for a log scale)",
                            what, name, lo, hi);
        if (p->lo >= p->hi)
            return cr__fail(CR_ERR_INVALID, "%s: option %s: range %g..%g has lo >= hi", what, name, p->lo, p->hi);
        if (p->log && p->lo <= 0)
            return cr__fail(CR_ERR_INVALID, "%s: option %s: a log scale needs lo > 0 (lo is %g)", what, name, p->lo);
        if (isint && (p->lo != floor(p->lo) || p->hi != floor(p->hi)))
            return cr__fail(CR_ERR_INVALID, "%s: option %s takes integers (range %g..%g)", what, name, p->lo, p->hi);
        return CR_OK;
    }
    for (tok = val, i = 0; tok; i++) {
        char *comma = strchr(tok, ','), *q = tok;
        if (comma) *comma = 0;
        while (*q == ' ') q++;
        if (!*q) { /* an empty value: skipped */
            tok = comma ? comma + 1 : NULL;
            i--;
            continue;
        }
        if (i == CR__TUNE_MAXV)
            return cr__fail(CR_ERR_INVALID, "%s: option %s: more than %d values", what, name, CR__TUNE_MAXV);
        if (!cr__tune_number(tok, &p->v[i]))
            return cr__fail(CR_ERR_INVALID, "%s: option %s: '%s' is not a number", what, name, tok);
        if (isint && p->v[i] != floor(p->v[i]))
            return cr__fail(CR_ERR_INVALID, "%s: option %s takes integers ('%s')", what, name, tok);
        tok = comma ? comma + 1 : NULL;
    }
    if (!i) return cr__fail(CR_ERR_INVALID, "%s: option %s has no values", what, name);
    p->n = i;
    return CR_OK;
}

/* Parses spec for model k. With lenient, options k cannot search are left out (*taken gets a
   bit per entry it kept); otherwise they are errors. Every value is checked against base. */
static cr_status cr__tune_parse(cr__tspace *s, cr_model_kind k, const cr_config *base, const char *spec, int lenient,
                                unsigned *taken) {
    char buf[2048], what[64], *ent[CR__TUNE_MAXP + 1], *tok;
    int ne = 0, i, j;
    cr_status st;
    memset(s, 0, sizeof *s);
    if (taken) *taken = 0;
    snprintf(what, sizeof what, "search space of %s", cr_model_name(k));
    if (strlen(spec) >= sizeof buf)
        return cr__fail(CR_ERR_INVALID, "%s: longer than %d characters", what, (int)sizeof buf - 1);
    strcpy(buf, spec);
    /* entries start at "name=": a piece without '=' continues the previous entry's list */
    for (tok = buf; *tok;) {
        char *comma = strchr(tok, ','), *start = tok;
        if (comma) *comma = 0;
        while (*start == ' ') start++;
        if (!*start) { /* an empty piece ("a=1,, b=2", a trailing comma): a list goes on past it */
            if (ne && !strstr(ent[ne - 1], "..")) tok[-1] = ',';
        } else if (strchr(start, '=')) {
            if (ne == CR__TUNE_MAXP) return cr__fail(CR_ERR_INVALID, "%s: more than %d options", what, CR__TUNE_MAXP);
            ent[ne++] = start;
        } else if (!ne)
            return cr__fail(CR_ERR_INVALID, "%s: '%s' names no option (name=lo..hi [log], or name=v1,v2)", what, start);
        else if (strstr(ent[ne - 1], ".."))
            return cr__fail(CR_ERR_INVALID, "%s: '%s' follows a range (%s); entries are name=lo..hi or name=v1,v2",
                            what, start, ent[ne - 1]);
        else
            tok[-1] = ','; /* the list goes on: rejoin it (its NUL was the comma before this piece) */
        if (!comma) break;
        tok = comma + 1;
    }
    for (i = 0; i < ne; i++) {
        char *eq = strchr(ent[i], '='), *nm = ent[i];
        size_t n;
        cr__tparam *p = &s->p[s->n];
        *eq = 0;
        n = strlen(nm);
        while (n && nm[n - 1] == ' ') nm[--n] = 0;
        if (!n) return cr__fail(CR_ERR_INVALID, "%s: an entry has no option name before '='", what);
        p->f = cr_option_find(nm);
        if (!p->f)
            return cr__fail(CR_ERR_INVALID,
                            "%s: unknown option '%s' (%s can search: %s; and lr, reg, batch, dim, clip%s)", what, nm,
                            cr_model_name(k), cr_tune_default_space(k), cr__model_reads(k, "layers") ? ", layers" : "");
        if (p->f->type == CR_OPT_FLAGS || p->f->type == CR_OPT_SEED || !cr__tune_allowed(k, nm)) {
            if (lenient) continue;
            return cr__fail(CR_ERR_INVALID,
                            "%s: option '%s' is not searched for %s (it can search: %s; and lr, reg, batch, dim, "
                            "clip%s)",
                            what, nm, cr_model_name(k), cr_tune_default_space(k),
                            cr__model_reads(k, "layers") ? ", layers" : "");
        }
        for (j = 0; j < s->n; j++)
            if (s->p[j].f == p->f) return cr__fail(CR_ERR_INVALID, "%s: option %s is given twice", what, nm);
        if ((st = cr__tune_values(p, eq + 1, what)) != CR_OK) return st;
        if (p->n)
            for (j = 0; j < p->n; j++) {
                if ((st = cr__tune_value_ok(k, base, p->f, p->v[j], what)) != CR_OK) return st;
            }
        else if ((st = cr__tune_value_ok(k, base, p->f, p->lo, what)) != CR_OK ||
                 (st = cr__tune_value_ok(k, base, p->f, p->hi, what)) != CR_OK)
            return st;
        if (taken) *taken |= 1u << i;
        s->n++;
    }
    return CR_OK;
}

CR_API cr_status cr_tune_check_space(cr_model_kind k, const cr_config *base, const char *space) {
    cr__tspace s;
    cr_config b;
    if (!cr__ops_of((int)k))
        return cr__fail(CR_ERR_INVALID, "cr_tune: unknown model %d (models: %s)", (int)k, cr_model_list());
    if (base)
        b = *base;
    else
        memset(&b, 0, sizeof b);
    return cr__tune_parse(&s, k, &b, space ? space : cr_tune_default_space(k), 0, NULL);
}

/* The space printed back ("lambda=0.01..1 log, tau=0.1,0.2"): the state file's record of it. */
static void cr__tune_space_text(const cr__tspace *s, char *buf, size_t n) {
    size_t o = 0;
    int i, j;
    buf[0] = 0;
    for (i = 0; i < s->n && o < n; i++) {
        const cr__tparam *p = &s->p[i];
        o += (size_t)snprintf(buf + o, n - o, "%s%s=", i ? ", " : "", p->f->name);
        if (!p->n)
            o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "%.9g..%.9g%s", p->lo, p->hi, p->log ? " log" : "");
        for (j = 0; j < p->n && o < n; j++) o += (size_t)snprintf(buf + o, n - o, "%s%.9g", j ? "," : "", p->v[j]);
    }
}

static double cr__round3(double v) {
    double m;
    if (v == 0) return 0;
    m = pow(10.0, floor(log10(fabs(v))) - 2);
    return floor(v / m + 0.5) * m;
}

/* Draws one configuration from s into c; a combination the configuration refuses (lstar above
   layers) is drawn again from the same stream. */
static cr_status cr__tune_sample(const cr__tspace *s, cr_model_kind k, cr_rng *r, cr_config *c) {
    cr_config base = *c, t;
    int tries, i;
    for (tries = 0; tries < 1000; tries++) {
        *c = base;
        for (i = 0; i < s->n; i++) {
            const cr__tparam *p = &s->p[i];
            double v, u = (double)cr_rng_float(r), lo = p->lo, hi = p->hi;
            int isint = p->f->type != CR_OPT_FLOAT;
            if (p->n)
                v = p->v[cr_rng_below(r, (uint32_t)p->n)];
            else {
                if (isint) hi += 1; /* integers: floor over [lo, hi + 1) */
                v = p->log ? exp(log(lo) + u * (log(hi) - log(lo))) : lo + u * (hi - lo);
                v = isint ? floor(v) : cr__round3(v);
                if (v < p->lo) v = p->lo;
                if (v > p->hi) v = p->hi;
            }
            cr__cfg_set_num(c, p->f, v);
        }
        t = *c;
        t.model = k;
        if (cr_config_resolve(&t) == CR_OK) return CR_OK;
    }
    return cr__fail(CR_ERR_INVALID, "search space of %s: no valid configuration in 1000 draws (%s)", cr_model_name(k),
                    cr_last_error());
}

/* The searched options whose values differ from the base configuration's, "lambda=0.1 eps=0.05". */
static void cr__tune_options(const cr__tspace *s, const cr_config *base, const cr_config *c, char *buf, size_t n) {
    cr_config rb = *base, rc = *c;
    size_t o = 0;
    int i;
    buf[0] = 0;
    cr_config_resolve(&rb);
    cr_config_resolve(&rc);
    for (i = 0; i < s->n; i++) {
        const cr_option *f = s->p[i].f;
        char v[40];
        if (cr__cfg_get_bits(&rb, f) == cr__cfg_get_bits(&rc, f)) continue;
        cr__tune_fmt(v, sizeof v, f, cr__cfg_num(&rc, f));
        o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "%s%s=%s", o ? " " : "", f->name, v);
    }
}

/* A search in progress. */
typedef struct cr__tune_run {
    const cr_tune_opts *o;
    cr_dataset dv; /* ds with its test set left out: cr_fit cannot read it */
    cr_model_kind models[CR__TUNE_MAXM];
    cr_config base[CR__TUNE_MAXM]; /* the base configuration of each model */
    cr__tspace space[CR__TUNE_MAXM];
    int nm, trials, min_epochs, eta, brackets, K, planned, stopped;
    uint64_t seed;
    double deadline;
    char path[1024], *head; /* the state file and the header these arguments give */
    cr_tune_trial *rec;     /* every finished trial: the state's, then this call's */
    int n_rec;
    int64_t cap_rec, cap_used;
    int *used; /* rec[i] was met by this call's schedule */
    int done;
} cr__tune_run;

static int cr__tune_epoch(void *user, cr_model *m, const cr_fit_info *e) {
    const cr__tune_run *R = (const cr__tune_run *)user;
    (void)m;
    (void)e;
    return R->deadline > 0 && cr__now() >= R->deadline; /* the budget: abandon the trial */
}

/* The state's header: every argument a trial's result depends on, one "key: value" a line. */
static cr_status cr__tune_header(cr__tune_run *R) {
    const cr_tune_opts *o = R->o;
    const cr_interactions *x[2];
    size_t cap = 8192, n = 0;
    uint64_t h = 0x9e3779b97f4a7c15ull;
    int i, k;
    int64_t r;
    char cfg[4096], sp[2048];
    cr_config b = R->o->base; /* the options as given (each model's base leaves out what it does not read) */
    x[0] = &R->dv.train;
    x[1] = &R->dv.valid;
    for (k = 0; k < 2; k++)
        for (r = 0; r < x[k]->n; r++)
            h = cr_hash64(h, ((uint64_t)(uint32_t)x[k]->user[r] << 32) | (uint32_t)x[k]->item[r]);
    if (!(R->head = (char *)cr__alloc_array(cap, 1, "tune state header"))) return CR_ERR_NOMEM;
    b.model = (cr_model_kind)0;
    cr_config_format(&b, cfg, sizeof cfg);
    n += (size_t)snprintf(R->head + n, cap - n, "contrarec tune state 1\nmodels:");
    for (i = 0; i < R->nm; i++)
        n += (size_t)snprintf(R->head + n, cap - n, "%s%s", i ? "," : " ", cr_model_name(R->models[i]));
    for (i = 0; i < R->nm; i++) {
        cr__tune_space_text(&R->space[i], sp, sizeof sp);
        n += (size_t)snprintf(R->head + n, cap - n, "\nspace %s: %s", cr_model_name(R->models[i]), sp);
    }
    n += (size_t)snprintf(R->head + n, cap - n,
                          "\nschedule: trials=%d min_epochs=%d eta=%d brackets=%d seed=%llu threads=%d", R->trials,
                          R->min_epochs, R->eta, R->brackets, (unsigned long long)R->seed, cr_get_num_threads());
    n += (size_t)snprintf(R->head + n, cap - n,
                          "\nconfig: %s\nvalidation: valid_ratio=%.9g metric=%s@%d eval_every=%d ks=", cfg,
                          o->fit.valid_ratio, cr_metric_name(o->fit.metric), o->fit.metric_k, o->fit.eval_every);
    for (i = 0; i < CR_MAX_K && o->fit.eval.ks[i]; i++)
        n += (size_t)snprintf(R->head + n, cap - n, "%s%d", i ? "," : "", o->fit.eval.ks[i]);
    n += (size_t)snprintf(R->head + n, cap - n,
                          " exclude_seen=%d patience=%d\ndata: users=%d items=%d training=%lld "
                          "validation=%lld hash=%016llx\n",
                          o->fit.eval.exclude_seen, o->fit.patience, R->dv.n_users, R->dv.n_items,
                          (long long)R->dv.train.n, (long long)R->dv.valid.n, (unsigned long long)h);
    if (n >= cap) return cr__fail(CR_ERR_INVALID, "cr_tune: the state's header is longer than %d bytes", (int)cap);
    return CR_OK;
}

static cr_status cr__tune_push(cr__tune_run *R, const cr_tune_trial *t) {
    if (!cr__grow((void **)&R->rec, &R->cap_rec, R->n_rec + 1, sizeof *R->rec, "tune trials") ||
        !cr__grow((void **)&R->used, &R->cap_used, R->n_rec + 1, sizeof *R->used, "tune trials"))
        return CR_ERR_NOMEM;
    R->rec[R->n_rec] = *t;
    R->used[R->n_rec++] = 0;
    return CR_OK;
}

/* The first difference of two header lines: a window around it from each. */
static cr_status cr__tune_mismatch(const char *path, const char *was, const char *now) {
    size_t i = 0, a, key;
    char w[96], n[96];
    while (was[i] && was[i] == now[i] && was[i] != '\n') i++;
    for (key = 0; was[key] && was[key] != ':' && was[key] != '\n'; key++) {}
    for (a = i; a > 0 && was[a - 1] != ' ' && was[a - 1] != '\n'; a--) {}
    snprintf(w, sizeof w, "%.*s", (int)strcspn(was + a, " \n"), was + a);
    snprintf(n, sizeof n, "%.*s", (int)strcspn(now + a, " \n"), now + a);
    return cr__fail(CR_ERR_INVALID,
                    "tune state %s comes from other arguments: %.*s differs (the state: '%s'; now: '%s')", path,
                    (int)key, was, w, n);
}

/* Reads the state file, if there is one: its header must be these arguments'. */
static cr_status cr__tune_load(cr__tune_run *R) {
    char *text = NULL, *line, *next;
    size_t len, hl = strlen(R->head);
    long ln = 0;
    FILE *f = fopen(R->path, "rb");
    cr_status st;
    if (!f)
        return errno == ENOENT ? CR_OK
                               : cr__fail(CR_ERR_IO, "tune state %s: cannot open: %s", R->path, strerror(errno));
    fclose(f);
    if ((st = cr__read_file(R->path, &text, &len)) != CR_OK) return st;
    if (len < hl || memcmp(text, R->head, hl)) {
        const char *a = text, *b = R->head;
        while (*a && *b) { /* the first line that differs */
            size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
            if (la != lb || memcmp(a, b, la)) break;
            a += la + (a[la] == '\n');
            b += lb + (b[lb] == '\n');
        }
        st = *a ? cr__tune_mismatch(R->path, a, b) : cr__fail(CR_ERR_FORMAT, "tune state %s is truncated", R->path);
        CR_FREE(text);
        return st;
    }
    for (ln = 1, line = text; *line && line < text + hl; line++) ln += *line == '\n';
    for (line = text + hl; *line; line = next, ln++) {
        cr_tune_trial t;
        char model[32];
        int used = 0;
        const char *opt;
        next = line + strcspn(line, "\n");
        if (*next) *next++ = 0;
        memset(&t, 0, sizeof t);
        if (sscanf(line, "trial %d %d %d epochs %d best %d valid %lf seconds %lf model %31s %n", &t.bracket, &t.rung,
                   &t.slot, &t.epochs, &t.best_epoch, &t.valid, &t.seconds, model, &used) < 8 ||
            !used || strncmp(line + used, "options:", 8) || !cr_model_parse(model) || t.bracket < 0 || t.rung < 0 ||
            t.slot < 0) {
            CR_FREE(text);
            return cr__fail(CR_ERR_PARSE, "tune state %s:%ld: not a trial line", R->path, ln);
        }
        opt = line + used + 8;
        opt += *opt == ' ';
        snprintf(t.options, sizeof t.options, "%s", opt);
        t.cfg.model = cr_model_parse(model);
        t.from_state = 1;
        if ((st = cr__tune_push(R, &t)) != CR_OK) break;
    }
    CR_FREE(text);
    return st;
}

static cr_status cr__tune_save(cr__tune_run *R) {
    cr_out out;
    cr_status st;
    int i;
    if (!R->path[0]) return CR_OK;
    if ((st = cr_out_open(&out, R->path)) != CR_OK) return st;
    fputs(R->head, out.f);
    for (i = 0; i < R->n_rec; i++) {
        const cr_tune_trial *t = &R->rec[i];
        fprintf(out.f, "trial %d %d %d epochs %d best %d valid %.17g seconds %.3f model %s options: %s\n", t->bracket,
                t->rung, t->slot, t->epochs, t->best_epoch, t->valid, t->seconds, cr_model_name(t->cfg.model),
                t->options);
    }
    return cr_out_commit(&out);
}

/* One trial: from the state if it holds it, else trained; *finished 0: the budget ran out. */
static cr_status cr__tune_trial(cr__tune_run *R, cr_tune_trial *t, int *finished) {
    cr_fit_opts fit = R->o->fit;
    cr_fit_result fr;
    cr_model *m = NULL;
    cr_status st;
    double t0 = cr__now();
    int i;
    *finished = 0;
    for (i = 0; i < R->n_rec; i++) {
        const cr_tune_trial *s = &R->rec[i];
        if (s->bracket != t->bracket || s->rung != t->rung || s->slot != t->slot) continue;
        if (s->cfg.model != t->cfg.model || strcmp(s->options, t->options) || s->epochs != t->epochs)
            return cr__fail(CR_ERR_INVALID,
                            "tune state %s: trial %d/%d/%d was %s '%s' for %d epochs; these arguments give %s '%s' "
                            "for %d",
                            R->path, t->bracket, t->rung, t->slot, cr_model_name(s->cfg.model), s->options, s->epochs,
                            cr_model_name(t->cfg.model), t->options, t->epochs);
        t->best_epoch = s->best_epoch;
        t->valid = s->valid;
        t->seconds = s->seconds;
        t->from_state = 1;
        R->rec[i] = *t; /* with its configuration (the state holds its options as text) */
        R->used[i] = 1;
        *finished = 1;
        return CR_OK;
    }
    if (cr__mpi_any(R->deadline > 0 && t0 >= R->deadline)) return CR_OK; /* every process's clock alike */
    fit.epochs = t->epochs;
    fit.select = CR_SELECT_VALID;
    fit.eval.basic = 1; /* the selection metric alone */
    fit.eval.no_auc = 1;
    fit.on_epoch = cr__tune_epoch;
    fit.user = R;
    st = cr_fit(&m, &t->cfg, &R->dv, &fit, &fr);
    if (st == CR_ERR_NUMERIC) { /* a diverging configuration loses; the search goes on */
        t->valid = -1;
        t->best_epoch = 0;
    } else if (st != CR_OK)
        return st;
    else {
        cr_model_free(m);
        if (fr.stopped_early == 2) return CR_OK;
        t->valid = fr.best_value;
        t->best_epoch = fr.best_epoch;
    }
    t->seconds = cr__now() - t0;
    t->from_state = 0;
    if ((st = cr__tune_push(R, t)) != CR_OK) return st;
    R->used[R->n_rec - 1] = 1;
    *finished = 1;
    return cr__tune_save(R);
}

/* The name of the i-th entry of a space ("name=..."), as cr__tune_parse splits it; 0 past the last. */
static int cr__tune_entry(const char *spec, int i, char *name, size_t n) {
    const char *p = spec;
    for (;;) {
        size_t len = strcspn(p, ","), a = 0, b;
        const char *eq = (const char *)memchr(p, '=', len);
        if (eq && i-- == 0) {
            while (p + a < eq && p[a] == ' ') a++;
            for (b = (size_t)(eq - p); b > a && p[b - 1] == ' '; b--) {}
            snprintf(name, n, "%.*s", (int)(b - a), p + a);
            return 1;
        }
        if (!p[len]) return 0;
        p += len + 1;
    }
}

/* Checks the options and fills R: models, their base configurations and spaces, the schedule. */
static cr_status cr__tune_setup(cr__tune_run *R, const cr_dataset *ds, const cr_tune_opts *o) {
    const cr_fit_opts *f = &o->fit;
    unsigned taken = 0, t;
    cr_status st;
    int i, j, seq = -1;
    double top;
    R->o = o;
    R->nm = o->n_models ? o->n_models : 1;
    R->trials = o->trials ? o->trials : 9;
    R->min_epochs = o->min_epochs ? o->min_epochs : 5;
    R->eta = o->eta ? o->eta : 3;
    R->brackets = o->brackets ? o->brackets : 1;
    if (o->n_models < 0 || o->n_models > CR__TUNE_MAXM || (o->n_models && !o->models))
        return cr__fail(CR_ERR_INVALID, "cr_tune: n_models %d is outside 0..%d (or models is NULL)", o->n_models,
                        CR__TUNE_MAXM);
    if (R->trials < 1 || R->trials > 1000)
        return cr__fail(CR_ERR_INVALID, "cr_tune: trials %d is outside 1..1000", R->trials);
    if (R->min_epochs < 1 || R->min_epochs > 100000)
        return cr__fail(CR_ERR_INVALID, "cr_tune: min_epochs %d is outside 1..100000", R->min_epochs);
    if (R->eta < 2 || R->eta > 100) return cr__fail(CR_ERR_INVALID, "cr_tune: eta %d is outside 2..100", R->eta);
    for (R->K = 1, top = R->eta; top <= R->trials; top *= R->eta) R->K++;
    if (R->brackets < 1 || R->brackets > R->K)
        return cr__fail(CR_ERR_INVALID, "cr_tune: brackets %d is outside 1..%d (the rungs of %d trials at eta %d)",
                        R->brackets, R->K, R->trials, R->eta);
    top = R->min_epochs * pow((double)R->eta, R->K - 1);
    if (top > 100000)
        return cr__fail(CR_ERR_INVALID,
                        "cr_tune: the last rung would train %.0f epochs (min_epochs x eta^%d): more than 100000", top,
                        R->K - 1);
    if (!(o->budget_seconds >= 0 && o->budget_seconds < 1e12))
        return cr__fail(CR_ERR_INVALID, "cr_tune: budget_seconds %g must be >= 0 and finite", o->budget_seconds);
    if (f->epochs || f->select != CR_SELECT_VALID || f->refit || f->train_noise != 0 || f->cold_users != 0 ||
        f->cold_warm || f->cold_items != 0 || f->holdout_seed || f->per_user_test || f->per_user_cold ||
        f->state_path || f->on_epoch || f->on_batch)
        return cr__fail(
            CR_ERR_INVALID,
            "cr_tune: fit holds the validation protocol only (epochs, select, refit, train_noise, cold_*, "
            "holdout_seed, per_user_*, state_path and the callbacks are for training the winner with cr_fit)");
    if ((st = cr__tune_base_read(o, R->nm)) != CR_OK) return st;
    for (i = 0; i < R->nm; i++) {
        cr_config c = o->base;
        R->models[i] = o->n_models ? o->models[i] : o->base.model;
        c.model = R->models[i];
        for (j = 0; R->nm > 1 && j < CR__N_CFG; j++) /* with several models, each takes the base options it reads */
            if (!cr__reads(&cr__options[j], c.model)) cr__opt_put(&c, &cr__options[j], 0);
        if (!cr__ops_of((int)c.model))
            return cr__fail(CR_ERR_INVALID, "cr_tune: unknown model %d (models: %s)", (int)c.model, cr_model_list());
        for (j = 0; j < i; j++)
            if (R->models[j] == c.model)
                return cr__fail(CR_ERR_INVALID, "cr_tune: model %s is given twice", cr_model_name(c.model));
        if (seq >= 0 && seq != cr_model_is_sequential(c.model))
            return cr__fail(CR_ERR_INVALID,
                            "cr_tune: %s and %s validate differently (sequence and graph models): tune them apart",
                            cr_model_name(R->models[0]), cr_model_name(c.model));
        seq = cr_model_is_sequential(c.model);
        R->base[i] = c;
        if ((st = cr_config_resolve(&c)) != CR_OK) return st; /* the base options, checked */
        if (!R->seed) R->seed = o->seed ? o->seed : c.seed;
        if ((st = cr__tune_parse(&R->space[i], R->models[i], &R->base[i],
                                 o->space ? o->space : cr_tune_default_space(R->models[i]), o->space && R->nm > 1,
                                 &t)) != CR_OK)
            return st;
        taken |= t;
    }
    if (o->space && R->nm > 1) /* an option no model searches is a mistake, not a default */
        for (i = 0; i < CR__TUNE_MAXP; i++) {
            char name[64];
            if (!cr__tune_entry(o->space, i, name, sizeof name)) break;
            if (!(taken >> i & 1u)) {
                char list[256];
                size_t n = 0;
                for (j = 0; j < R->nm; j++)
                    n +=
                        (size_t)snprintf(list + n, sizeof list - n, "%s%s", j ? ", " : "", cr_model_name(R->models[j]));
                return cr__fail(CR_ERR_INVALID, "search space: option '%s' is searched by none of the models (%s)",
                                name, list);
            }
        }
    {
        cr_fit_opts fo = *f; /* the validation protocol's own checks */
        if ((st = cr__fit_resolve(&fo, ds, seq)) != CR_OK) return st;
    }
    return CR_OK;
}

/* The configurations of one bracket: slot i is of model i mod nm; bracket 0's first slot of
   each model is its base configuration, the others are drawn from (seed, bracket, slot).
   dup[i]: the same configuration as an earlier slot (not trained). */
static cr_status cr__tune_bracket(cr__tune_run *R, int b, int n, cr_tune_trial *slot, int *dup) {
    int i, j;
    cr_status st;
    for (i = 0; i < n; i++) {
        int mi = i % R->nm;
        cr_tune_trial *t = &slot[i];
        memset(t, 0, sizeof *t);
        t->cfg = R->base[mi];
        t->bracket = b;
        t->slot = i;
        if (b > 0 || i >= R->nm) {
            cr_rng r = cr_rng_stream(R->seed, cr_hash64((uint64_t)b + 1, (uint64_t)i + 1));
            if ((st = cr__tune_sample(&R->space[mi], R->models[mi], &r, &t->cfg)) != CR_OK) return st;
        }
        cr__tune_options(&R->space[mi], &R->base[mi], &t->cfg, t->options, sizeof t->options);
        for (dup[i] = 0, j = 0; j < i && !dup[i]; j++)
            dup[i] = !dup[j] && slot[j].cfg.model == t->cfg.model && !strcmp(slot[j].options, t->options);
    }
    return CR_OK;
}

static int cr__tune_rank(const void *pa, const void *pb) { /* more epochs, then a higher figure */
    const cr_tune_trial *a = (const cr_tune_trial *)pa, *b = (const cr_tune_trial *)pb;
    if (a->epochs != b->epochs) return a->epochs > b->epochs ? -1 : 1;
    if (a->valid != b->valid) return a->valid > b->valid ? -1 : 1;
    if (a->bracket != b->bracket) return a->bracket < b->bracket ? -1 : 1;
    return a->slot < b->slot ? -1 : a->slot > b->slot;
}

/* The rungs of every bracket; stops early (R->stopped) on the budget or the callback. */
static cr_status cr__tune_schedule(cr__tune_run *R, int count_only) {
    cr_tune_trial *slot = NULL;
    int *dup = NULL, *alive = NULL, b, s, i, na, n0;
    double p = 1;
    cr_status st = CR_OK;
    for (b = 0; b < R->brackets && !R->stopped; b++, p *= R->eta) {
        n0 = (int)ceil(R->trials / p);
        if (!(slot = (cr_tune_trial *)cr__alloc_array((size_t)n0, sizeof *slot, "tune trials")) ||
            !(dup = (int *)cr__alloc_array((size_t)n0, sizeof *dup, "tune trials")) ||
            !(alive = (int *)cr__alloc_array((size_t)n0, sizeof *alive, "tune trials"))) {
            st = CR_ERR_NOMEM;
            break;
        }
        if ((st = cr__tune_bracket(R, b, n0, slot, dup)) != CR_OK) break;
        for (na = 0, i = 0; i < n0; i++)
            if (!dup[i]) alive[na++] = i;
        for (s = 0; s < R->K - b && !R->stopped; s++) {
            int epochs = (int)(R->min_epochs * pow((double)R->eta, b + s) + 0.5), keep, k;
            for (k = 0; k < na && !R->stopped && !count_only; k++) {
                cr_tune_trial *t = &slot[alive[k]];
                int finished;
                t->rung = s;
                t->epochs = epochs;
                if ((st = cr__tune_trial(R, t, &finished)) != CR_OK) goto out;
                if (!finished) {
                    R->stopped = 1;
                    break;
                }
                R->done++;
                if (R->o->on_trial && R->o->on_trial(R->o->user, t, R->done, R->planned)) R->stopped = 2;
            }
            if (count_only) R->planned += na;
            keep = na / R->eta > 0 ? na / R->eta : 1;
            if (s + 1 < R->K - b && !R->stopped) { /* the best 1/eta go on (ties: the earlier slot) */
                for (k = 1; k < na; k++) {         /* insertion sort by rank, then back to slot order */
                    int v = alive[k], q = k;
                    while (q > 0 &&
                           (count_only ? alive[q - 1] > v : cr__tune_rank(&slot[alive[q - 1]], &slot[v]) > 0)) {
                        alive[q] = alive[q - 1];
                        q--;
                    }
                    alive[q] = v;
                }
                na = keep;
                for (k = 1; k < na; k++) {
                    int v = alive[k], q = k;
                    while (q > 0 && alive[q - 1] > v) {
                        alive[q] = alive[q - 1];
                        q--;
                    }
                    alive[q] = v;
                }
            }
        }
        CR_FREE(slot);
        CR_FREE(dup);
        CR_FREE(alive);
        slot = NULL;
        dup = alive = NULL;
    }
out:
    CR_FREE(slot);
    CR_FREE(dup);
    CR_FREE(alive);
    return st;
}

/* Each configuration at its furthest rung, best first. */
static cr_status cr__tune_board(cr__tune_run *R, cr_tune_result *res) {
    int i, j;
    if (!(res->board = (cr_tune_trial *)cr__alloc_array((size_t)R->n_rec + 1, sizeof *res->board, "tune leaderboard")))
        return CR_ERR_NOMEM;
    for (i = 0; i < R->n_rec; i++) {
        const cr_tune_trial *t = &R->rec[i];
        if (!R->used[i]) continue;
        for (j = 0; j < res->n_board; j++)
            if (res->board[j].bracket == t->bracket && res->board[j].slot == t->slot) break;
        if (j == res->n_board)
            res->n_board++;
        else if (res->board[j].rung > t->rung)
            continue;
        res->board[j] = *t;
    }
    qsort(res->board, (size_t)res->n_board, sizeof *res->board, cr__tune_rank);
    return CR_OK;
}

CR_API void cr_tune_result_free(cr_tune_result *res) {
    if (!res) return;
    CR_FREE(res->board);
    memset(res, 0, sizeof *res);
}

CR_API cr_status cr_tune(const cr_dataset *ds, const cr_tune_opts *o, cr_tune_result *res) {
    cr__tune_run R;
    cr_status st;
    double t0 = cr__now();
    memset(res, 0, sizeof *res);
    memset(&R, 0, sizeof R);
    if (!ds || !o) return cr__fail(CR_ERR_INVALID, "cr_tune: no dataset or no options");
    R.dv = *ds;
    memset(&R.dv.test, 0, sizeof R.dv.test); /* the search never sees the test set */
    if ((st = cr__tune_setup(&R, ds, o)) != CR_OK) return st;
    if (o->state_path) {
        int dir = cr__is_dir(o->state_path);
        if (snprintf(R.path, sizeof R.path, dir ? "%s/tune.state" : "%s", o->state_path) >= (int)sizeof R.path)
            return cr__fail(CR_ERR_INVALID, "cr_tune: state path %s is too long", o->state_path);
        if ((st = cr_out_check(R.path)) != CR_OK) return st;
    }
    R.deadline = o->budget_seconds > 0 ? t0 + o->budget_seconds : 0;
    if ((st = cr__tune_header(&R)) != CR_OK) goto done;
    if (R.path[0] && (st = cr__tune_load(&R)) != CR_OK) goto done;
    if ((st = cr__tune_schedule(&R, 1)) != CR_OK) goto done;
    if ((st = cr__tune_schedule(&R, 0)) != CR_OK) goto done;
    if ((st = cr__tune_board(&R, res)) != CR_OK) goto done;
    res->done = R.done;
    res->planned = R.planned;
    res->stopped = R.stopped;
    res->seconds = cr__now() - t0;
done:
    CR_FREE(R.head);
    CR_FREE(R.rec);
    CR_FREE(R.used);
    if (st != CR_OK) cr_tune_result_free(res);
    return st;
}

/* ==== 10. evaluation ========================================================================= */

/* Bit j set where s[j] > thr, for j < n <= 64 (NaN: clear): a vector compare per 16 (or 8)
   scores, so the top-k scan passes over most of a row a few instructions per 64 scores. */
static CR__INLINE uint64_t cr__above_mask(const float *s, int n, float thr) {
    uint64_t m = 0;
    int j = 0;
#ifdef CR__EXPV
    cr__expv t = CR__EV_SET1(thr);
    for (; j + CR__EXPV <= n; j += CR__EXPV) m |= CR__EV_GTMASK(CR__EV_LOAD(s + j), t) << j;
#endif
    for (; j < n; j++) m |= (uint64_t)(s[j] > thr) << j;
    return m;
}

/* The index of x's lowest set bit (x != 0). */
static CR__INLINE int cr__ctz64(uint64_t x) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(x);
#else
    int n = 0;
    while (!(x & 1)) { x >>= 1; n++; }
    return n;
#endif
}

/* How many of s[0..n) exceed v (*eq: how many equal it): 32-bit counters, so it vectorises. */
static int64_t cr__count_above(const float *s, int32_t n, float v, int64_t *eq) {
    int32_t j, above = 0, same = 0;
    for (j = 0; j < n; j++) {
        above += s[j] > v;
        same += s[j] == v;
    }
    *eq = same;
    return above;
}

/* The k best so far of a stream of scores by (score desc, index asc): s[0..n) score the items
   base..base+n; ts/ti hold *cnt of them, sorted, and *thr is the k-th score once k are held.
   -inf and NaN scores are never selected; ties keep the earlier (lower) index. */
static void cr__topk_scan(const float *s, int32_t n, int32_t base, int k, float *ts, int32_t *ti, int *cnt_io,
                          float *thr_io) {
    int cnt = *cnt_io;
    float thr = *thr_io;
    int32_t j0;
    for (j0 = 0; j0 < n; j0 += 64) {
        uint64_t bits = cr__above_mask(s + j0, n - j0 < 64 ? n - j0 : 64, thr);
        for (; bits; bits &= bits - 1) {
            int32_t j = j0 + cr__ctz64(bits);
            float v = s[j];
            int p;
            if (!(v > thr)) continue; /* thr rose since the mask */
            p = cnt < k ? cnt++ : k - 1;
            while (p > 0 && ts[p - 1] < v) { ts[p] = ts[p - 1]; ti[p] = ti[p - 1]; p--; }
            ts[p] = v;
            ti[p] = base + j;
            if (cnt == k) thr = ts[k - 1];
        }
    }
    *cnt_io = cnt;
    *thr_io = thr;
}

/* The k best of s[0..n) into ts/ti, sorted; returns how many were found (< k if fewer
   candidates). */
static int cr__topk_row(const float *s, int32_t n, int k, float *ts, int32_t *ti) {
    int cnt = 0;
    float thr = -INFINITY;
    cr__topk_scan(s, n, 0, k, ts, ti, &cnt, &thr);
    return cnt;
}

/* Per-user results kept until the end, so the sums run in user order (deterministic). */
enum {
    CR__R_RECALL = 0,
    CR__R_PREC,
    CR__R_NDCG,
    CR__R_HIT,
    CR__R_HITS,
    CR__R_MRR,
    CR__R_POP_RECALL,
    CR__R_POP_NDCG,
    CR__R_PER_K
};
enum { CR__R_AUC = 0, CR__R_TAIL, CR__R_TAILN, CR__R_EXTRA };

/* One evaluation's state. */
typedef struct cr__eval {
    const cr_model *m;
    cr_eval_opts o;
    int nk, kmax, exclude;
    cr_csr T, X, F;    /* test items of each user; extra known items; fold-in items (X, F:
                          rowptr NULL if none) */
    int32_t *users;    /* (n) the users with a test item, in id order */
    int64_t n, stride;
    int32_t *topi;     /* (n, kmax) each user's top items, -1 past the candidates */
    double *res;       /* (n, stride) per-user results */
    uint8_t *head;     /* (items) the popular head */
    int32_t *pop;      /* (items) the items by training degree, most popular first (ties: id) */
    int32_t *off, n_off; /* the items left out of every ranking (items_only) */
} cr__eval;

/* A user's known history length: the fold-in items of a folded-in user (its vector comes
   from them alone), the training items of any other. */
static int64_t cr__eval_degree(const cr__eval *E, int32_t u) {
    if (E->F.rowptr && E->F.rowptr[u + 1] > E->F.rowptr[u]) return E->F.rowptr[u + 1] - E->F.rowptr[u];
    return E->m->hist.rowptr[u + 1] - E->m->hist.rowptr[u];
}

/* Defaults and range checks of the options; nk receives the number of cut-offs. */
static cr_status cr__eval_resolve(cr_eval_opts *o, int seq, int *nk_out) {
    int i, nk = 0;
    for (i = 0; i < CR_MAX_K && o->ks[i]; i++) {
        if (o->ks[i] < 1 || o->ks[i] > 1024 || (i && o->ks[i] <= o->ks[i - 1]))
            return cr__fail(CR_ERR_INVALID, "evaluation cut-offs must ascend within 1..1024 (got %d at position %d)",
                            o->ks[i], i + 1);
        nk++;
    }
    if (!nk) {
        static const int g[2] = {10, 20}, s3[3] = {5, 10, 20};
        nk = seq ? 3 : 2;
        for (i = 0; i < nk; i++) o->ks[i] = seq ? s3[i] : g[i];
    }
    if (o->exclude_seen < -1 || o->exclude_seen > 1) return cr__fail(CR_ERR_INVALID, "exclude_seen must be -1, 0 or 1");
    if (!o->cold_max) o->cold_max = 5;
    if (o->tail_share == 0) o->tail_share = 0.8f;
    if (!(o->tail_share > 0 && o->tail_share <= 1))
        return cr__fail(CR_ERR_INVALID, "tail_share %g is outside (0, 1]", (double)o->tail_share);
    if (o->tail_ratio == 0) o->tail_ratio = 0.1;
    if (!(o->tail_ratio > 0 && o->tail_ratio < 1e9))
        return cr__fail(CR_ERR_INVALID, "tail_ratio %g must be positive", o->tail_ratio);
    if (o->cooccurrence < 0 || o->cooccurrence > 1) return cr__fail(CR_ERR_INVALID, "cooccurrence must be 0 or 1");
    if (o->basic < 0 || o->basic > 1) return cr__fail(CR_ERR_INVALID, "basic must be 0 or 1");
    *nk_out = nk;
    return CR_OK;
}

/* The popularity order of the items (training degree, descending; ties: lower id first), and
   the head: its first (1 - tail_share) share. */
static cr_status cr__eval_head(cr__eval *E) {
    const cr_model *m = E->m;
    int64_t I = m->n_items, nh = (int64_t)ceil((1.0 - (double)E->o.tail_share) * (double)I), a;
    uint64_t *key = (uint64_t *)cr__alloc_array((size_t)I + 1, sizeof(uint64_t), "evaluation");
    if (!key) return CR_ERR_NOMEM;
    for (a = 0; a < I; a++) key[a] = ((uint64_t)(uint32_t)(INT32_MAX - m->item_deg[a]) << 32) | (uint32_t)a;
    cr__sort_u64(key, I);
    for (a = 0; a < I; a++) E->pop[a] = (int32_t)(uint32_t)key[a];
    for (a = 0; a < nh && a < I; a++) E->head[E->pop[a]] = 1;
    CR_FREE(key);
    return CR_OK;
}

/* The evaluated users' vectors into Ub (n, d): the model's own, or folded in from their
   fold-in items (users the model never trained on). */
static cr_status cr__eval_user_vectors(const cr__eval *E, float *Ub) {
    const cr_model *m = E->m;
    const cr_csr *F = &E->F;
    int d = m->cfg.dim;
    int64_t e, n_reg = 0;
    int32_t *reg;
    float *tmp;
    cr_status st = CR_OK;
    if (!F->rowptr) return m->ops->user_vectors(m, E->users, (int)E->n, E->X.rowptr ? &E->X : NULL, Ub);
    reg = (int32_t *)cr__alloc_array((size_t)E->n, sizeof(int32_t), "evaluation");
    tmp = cr_alloc_floats(E->n * d);
    if (!reg || !tmp) { CR_FREE(reg); cr__free_aligned(tmp); return CR_ERR_NOMEM; }
    for (e = 0; e < E->n; e++)
        if (F->rowptr[E->users[e] + 1] == F->rowptr[E->users[e]]) reg[n_reg++] = E->users[e];
    if (n_reg) st = m->ops->user_vectors(m, reg, (int)n_reg, E->X.rowptr ? &E->X : NULL, tmp);
    for (e = 0, n_reg = 0; e < E->n && st == CR_OK; e++) {
        int32_t u = E->users[e];
        int64_t b = F->rowptr[u], n = F->rowptr[u + 1] - b;
        if (!n) memcpy(Ub + e * d, tmp + (n_reg++) * d, (size_t)d * sizeof(float));
        else st = m->ops->fold_in(m, F->col + b, (int)n, Ub + e * d);
    }
    CR_FREE(reg);
    cr__free_aligned(tmp);
    return st;
}

/* ---- the full ranking, streamed ----
   Each thread takes a block of at most CR__NCE_R evaluated users and walks the item table a
   tile of CR__NCE_C items at a time: the GEMM micro-kernel scores the tile from panels packed
   once per evaluation (items) and once per block (users), and the tile is masked, scanned for
   the top k and counted for the AUC while it is in L2. No score row is ever written whole, and
   a user's figures depend on its own row alone: the same for any block size or thread count. */

typedef struct cr__rank {
    const cr__eval *E;
    const float *Ub, *Ie;
    float *kt;                /* the items as NR-item panels of each k-slice */
    int d, kc, R;             /* width, k-slice (cr_sgemm's), users per block */
    int64_t cap_ex, cap_t;    /* a block's excluded and test entries, at most */
} cr__rank;

typedef struct cr__rank_ws { /* one thread's block */
    float *qa, *S, *ts, *thr, *sv, *g, *gp, *c;
    int32_t *ti, *ex;
    int64_t *exb, *cur, *nexcl, *tb, *above, *eq;
    int *cnt;
} cr__rank_ws;

/* Carves a thread's buffers from base (or, with base NULL, only sizes them): bytes needed. */
static size_t cr__rank_carve(const cr__rank *K, cr__rank_ws *w, char *base) {
    size_t o = 0, R = (size_t)K->R, Rp = (size_t)CR__PAD(K->R, CR__SGEMM_MR), km = (size_t)K->E->kmax;
#define CR__TAKE(f, T, cnt) (w->f = base ? (T *)(void *)(base + o) : NULL, o += ((cnt) * sizeof(T) + 63) & ~(size_t)63)
    CR__TAKE(qa, float, Rp * (size_t)K->d);
    CR__TAKE(S, float, R * CR__NCE_C);
    CR__TAKE(ts, float, R * km);
    CR__TAKE(thr, float, R);
    CR__TAKE(sv, float, (size_t)K->cap_t);
    CR__TAKE(g, float, (size_t)CR__SGEMM_NR * K->d);
    CR__TAKE(gp, float, (size_t)CR__SGEMM_NR * K->d);
    CR__TAKE(c, float, (size_t)CR__SGEMM_MR * CR__SGEMM_NR);
    CR__TAKE(ti, int32_t, R * km);
    CR__TAKE(ex, int32_t, (size_t)K->cap_ex + 1);
    CR__TAKE(exb, int64_t, R + 1);
    CR__TAKE(cur, int64_t, R);
    CR__TAKE(nexcl, int64_t, R);
    CR__TAKE(tb, int64_t, R + 1);
    CR__TAKE(above, int64_t, (size_t)K->cap_t);
    CR__TAKE(eq, int64_t, (size_t)K->cap_t);
    CR__TAKE(cnt, int, R);
#undef CR__TAKE
    return o;
}

/* 1 if item it is left out of row i's ranking: known to the user (its sorted list) or not
   ranked at all (items_only). A model's own -inf score is a score, not an exclusion. */
static int cr__rank_excluded(const cr__rank *K, const cr__rank_ws *w, int i, int32_t it) {
    int64_t lo = w->exb[i], hi = w->exb[i + 1];
    if (K->E->o.items_only && !K->E->o.items_only[it]) return 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (w->ex[mid] < it) lo = mid + 1;
        else hi = mid;
    }
    return lo < w->exb[i + 1] && w->ex[lo] == it;
}

/* The popularity ranking's Recall and NDCG for row i at every cut-off, with the same
   exclusions as the model's: the reference every evaluation reports, so a model that learned
   no more than popularity shows. */
static void cr__eval_popularity(const cr__rank *K, const cr__rank_ws *w, int i, int32_t uu, double *rr) {
    const cr__eval *E = K->E;
    const cr_csr *T = &E->T;
    int64_t nt = T->rowptr[uu + 1] - T->rowptr[uu], a;
    int q = 0, kk = 0, hits = 0;
    double dcg = 0;
    for (a = 0; a < E->m->n_items && kk < E->nk; a++) {
        int32_t it = E->pop[a];
        if (cr__rank_excluded(K, w, i, it)) continue;
        if (cr__csr_has(T, uu, it)) { hits++; dcg += 1.0 / log2((double)q + 2.0); }
        if (++q == E->o.ks[kk]) {
            double idcg = 0;
            int z;
            for (z = 0; z < E->o.ks[kk] && z < nt; z++) idcg += 1.0 / log2((double)z + 2.0);
            rr[CR__R_PER_K * kk + CR__R_POP_RECALL] = (double)hits / (double)nt;
            rr[CR__R_PER_K * kk + CR__R_POP_NDCG] = dcg / idcg;
            kk++;
        }
    }
    for (; kk < E->nk; kk++) { /* fewer candidates than K */
        double idcg = 0;
        int z;
        for (z = 0; z < E->o.ks[kk] && z < nt; z++) idcg += 1.0 / log2((double)z + 2.0);
        rr[CR__R_PER_K * kk + CR__R_POP_RECALL] = (double)hits / (double)nt;
        rr[CR__R_PER_K * kk + CR__R_POP_NDCG] = dcg / idcg;
    }
}

/* C (MR x NR at ldc) = the users' panel ip times n items' panel b, over cr_sgemm's k-slices:
   each score the same chain of multiply-adds wherever it is computed. b0: the items' panels
   (slice p0's at b0 + npan NR p0, panel q at + q NR ks). */
static void cr__rank_mm(const cr__rank *K, const cr__rank_ws *w, int ip, int mr, const float *b0, int64_t npan,
                        int64_t q, int nr, float *c, size_t ldc) {
    int p0, Rp = (int)CR__PAD(K->R, CR__SGEMM_MR);
    for (p0 = 0; p0 < K->d; p0 += K->kc) {
        int ks = CR__MIN(K->kc, K->d - p0);
        cr__sgemm_tile(ks, w->qa + (int64_t)Rp * p0 + (int64_t)ip * CR__SGEMM_MR * ks,
                       b0 + npan * CR__SGEMM_NR * p0 + q * CR__SGEMM_NR * ks, c, ldc, mr, nr, 1.0f, p0 ? 1.0f : 0.0f);
    }
}

/* Row i of the block (user e): its sorted exclusions, its test items' scores (left-out ones at
   -inf), and an empty top k. */
static void cr__rank_row(const cr__rank *K, cr__rank_ws *w, int64_t e, int i) {
    const cr__eval *E = K->E;
    const cr_csr *L[3];
    int32_t uu = E->users[e];
    int64_t o = w->exb[i], p, b, n;
    int l, j;
    L[0] = &E->m->hist, L[1] = &E->X, L[2] = &E->F;
    for (l = 0; l < 3 && E->exclude; l++)
        if (L[l]->rowptr)
            for (p = L[l]->rowptr[uu]; p < L[l]->rowptr[uu + 1]; p++) w->ex[o++] = L[l]->col[p];
    cr__sort_row(w->ex + w->exb[i], NULL, o - w->exb[i]);
    w->exb[i + 1] = o;
    w->cur[i] = w->exb[i];
    w->nexcl[i] = 0;
    w->cnt[i] = 0;
    w->thr[i] = -INFINITY;
    b = E->T.rowptr[uu], n = E->T.rowptr[uu + 1] - b;
    w->tb[i + 1] = w->tb[i] + n;
    for (p = 0; p < n; p += CR__SGEMM_NR) { /* NR test items at a time, gathered and packed */
        int nb = (int)CR__MIN((int64_t)CR__SGEMM_NR, n - p), p0;
        for (j = 0; j < nb; j++) memcpy(w->g + (int64_t)j * K->d, K->Ie + (int64_t)E->T.col[b + p + j] * K->d,
                                        (size_t)K->d * sizeof(float));
        for (p0 = 0; p0 < K->d; p0 += K->kc) /* the slices' panels laid out as the items' */
            cr__sgemm_pack_b(1, w->g, (size_t)K->d, p0, CR__MIN(K->kc, K->d - p0), 0, nb, 0, 1,
                             w->gp + (int64_t)CR__SGEMM_NR * p0);
        cr__rank_mm(K, w, i / CR__SGEMM_MR, CR__SGEMM_MR, w->gp, 1, 0, nb, w->c, CR__SGEMM_NR);
        for (j = 0; j < nb; j++) {
            int64_t at = w->tb[i] + p + j;
            w->sv[at] = cr__rank_excluded(K, w, i, E->T.col[b + p + j]) ? -INFINITY
                                                                       : w->c[(i % CR__SGEMM_MR) * CR__SGEMM_NR + j];
            w->above[at] = w->eq[at] = 0;
        }
    }
}

/* Tile t of the block's scores into S (rows of CR__NCE_C), then each row's exclusions in it
   at -inf, its top k and its AUC counts updated. */
static void cr__rank_tile(const cr__rank *K, cr__rank_ws *w, int nr, int t, int64_t o0, int64_t o1) {
    const cr__eval *E = K->E;
    int32_t I = E->m->n_items, t0 = t * CR__NCE_C, ct = CR__MIN(CR__NCE_C, I - t0);
    int64_t npan = CR__PAD(I, CR__SGEMM_NR) / CR__SGEMM_NR, p, q;
    int ip, jp, i;
    for (jp = 0; jp * CR__SGEMM_NR < ct; jp++) /* an item panel stays in L1 across the user panels */
        for (ip = 0; ip * CR__SGEMM_MR < nr; ip++)
            cr__rank_mm(K, w, ip, CR__MIN(CR__SGEMM_MR, nr - ip * CR__SGEMM_MR), K->kt, npan, t0 / CR__SGEMM_NR + jp,
                        CR__MIN(CR__SGEMM_NR, ct - jp * CR__SGEMM_NR),
                        w->S + ip * CR__SGEMM_MR * CR__NCE_C + jp * CR__SGEMM_NR, CR__NCE_C);
    for (i = 0; i < nr; i++) {
        float *s = w->S + i * CR__NCE_C;
        for (; w->cur[i] < w->exb[i + 1] && w->ex[w->cur[i]] < t0 + ct; w->cur[i]++) {
            int32_t j = w->ex[w->cur[i]] - t0;
            w->nexcl[i] += s[j] != -INFINITY;
            s[j] = -INFINITY;
        }
        for (q = o0; q < o1; q++) {
            w->nexcl[i] += s[E->off[q] - t0] != -INFINITY;
            s[E->off[q] - t0] = -INFINITY;
        }
        cr__topk_scan(s, ct, t0, E->kmax, w->ts + (int64_t)i * E->kmax, w->ti + (int64_t)i * E->kmax, w->cnt + i,
                      w->thr + i);
        for (p = w->tb[i]; p < w->tb[i + 1] && !E->o.no_auc; p++)
            if (w->sv[p] != -INFINITY) {
                int64_t eq;
                w->above[p] += cr__count_above(s, ct, w->sv[p], &eq);
                w->eq[p] += eq;
            }
    }
}

/* Row i's figures (user e) from its top k and counts: every cut-off, popularity, tail recall,
   AUC. */
static void cr__rank_finish(const cr__rank *K, const cr__rank_ws *w, int64_t e, int i) {
    const cr__eval *E = K->E;
    const cr_csr *T = &E->T;
    const int32_t *ti = w->ti + (int64_t)i * E->kmax;
    int32_t uu = E->users[e], *tk = E->topi + e * E->kmax;
    double *rr = E->res + e * E->stride, dcg = 0, *ex = rr + CR__R_PER_K * E->nk;
    int64_t p, tb = T->rowptr[uu], te = T->rowptr[uu + 1], nt = te - tb;
    int found = w->cnt[i], q, kk = 0, hits = 0, first_hit = 0, kmax = E->kmax;
    for (q = 0; q < kmax; q++) tk[q] = q < found ? ti[q] : -1;
    /* hits in rank order; each cut-off is closed when the scan reaches it (ranks past `found`
       are empty: fewer candidates than K) */
    for (q = 0; q < kmax; q++) {
        if (q < found && cr__csr_has(T, uu, ti[q])) {
            hits++;
            dcg += 1.0 / log2((double)q + 2.0);
            if (!first_hit) first_hit = q + 1;
        }
        if (q + 1 == E->o.ks[kk]) {
            double *rk = rr + CR__R_PER_K * kk, idcg = 0;
            int z;
            for (z = 0; z < E->o.ks[kk] && z < nt; z++) idcg += 1.0 / log2((double)z + 2.0);
            rk[CR__R_RECALL] = (double)hits / (double)nt;
            rk[CR__R_PREC] = (double)hits / E->o.ks[kk];
            rk[CR__R_NDCG] = dcg / idcg;
            rk[CR__R_HIT] = hits > 0;
            rk[CR__R_HITS] = hits;
            rk[CR__R_MRR] = first_hit ? 1.0 / first_hit : 0;
            kk++;
        }
    }
    if (!E->o.basic) cr__eval_popularity(K, w, i, uu, rr);
    { /* long-tail recall at the largest K */
        int tail_n = 0, tail_hit = 0;
        for (p = tb; p < te; p++)
            if (!E->head[T->col[p]]) {
                tail_n++;
                for (q = 0; q < found; q++) tail_hit += ti[q] == T->col[p];
            }
        ex[CR__R_TAIL] = tail_n ? (double)tail_hit / tail_n : 0;
        ex[CR__R_TAILN] = tail_n;
    }
    /* AUC: for each test item, the candidates scored above it (ties count half); the other
       test items are positives, not negatives */
    ex[CR__R_AUC] = -1;
    if (!E->o.no_auc) {
        const float *sv = w->sv + w->tb[i];
        int64_t n_cand = E->m->n_items - w->nexcl[i], valid = 0, a, b;
        double bad = 0;
        for (a = 0; a < nt; a++) {
            int64_t above = w->above[w->tb[i] + a], eq = w->eq[w->tb[i] + a] - 1;
            if (sv[a] == -INFINITY) continue;
            valid++;
            for (b = 0; b < nt; b++)
                if (b != a) { above -= sv[b] > sv[a]; eq -= sv[b] == sv[a]; }
            bad += (double)above + 0.5 * (double)eq;
        }
        n_cand -= valid;
        if (valid && n_cand > 0) ex[CR__R_AUC] = 1.0 - bad / ((double)valid * (double)n_cand);
    }
}

/* The users e0..e0+nr: packed, set up, ranked tile by tile, finished. */
static void cr__rank_block(const cr__rank *K, cr__rank_ws *w, int64_t e0, int nr) {
    const cr__eval *E = K->E;
    int32_t I = E->m->n_items;
    int64_t Rp = CR__PAD(K->R, CR__SGEMM_MR), oc = 0, o0;
    int p0, i, t;
    for (p0 = 0; p0 < K->d; p0 += K->kc) {
        int ks = CR__MIN(K->kc, K->d - p0);
        cr__sgemm_pack_a(0, K->Ub + e0 * K->d, (size_t)K->d, 0, nr, p0, ks, 0, (nr + CR__SGEMM_MR - 1) / CR__SGEMM_MR,
                         (size_t)CR__SGEMM_MR * ks, w->qa + Rp * p0);
    }
    w->exb[0] = w->tb[0] = 0;
    for (i = 0; i < nr; i++) cr__rank_row(K, w, e0 + i, i);
    for (t = 0; t * CR__NCE_C < I; t++) {
        for (o0 = oc; oc < E->n_off && E->off[oc] < t * CR__NCE_C + CR__NCE_C; oc++) {}
        cr__rank_tile(K, w, nr, t, o0, oc);
    }
    for (i = 0; i < nr; i++) cr__rank_finish(K, w, e0 + i, i);
}

/* Users ranked per block: up to CR__NCE_R, at least 4 blocks per thread when there are users enough. */
static int cr__rank_rows(int64_t n, int64_t nth) {
    int64_t per = CR__PAD((n + 4 * nth - 1) / (4 * nth), CR__SGEMM_MR);
    return (int)CR__MIN((int64_t)CR__NCE_R, CR__MAX((int64_t)CR__SGEMM_MR, per));
}

/* The memory plan's evaluation of n_test records of at most max_test a user, with n_extra
   known records (at most max_known a user, training included): what the call holds (the test
   and known sets as CSR, the ranked lists and per-user results, the user vectors) plus the
   largest of its steps (sequence models' history encoding, the packed item table with every
   thread's ranking buffers, the sums, and with full the groups, beyond-accuracy and uniformity). */
static int64_t cr__eval_plan(const cr_model *m, const cr_eval_opts *eo, int64_t n_test, int64_t n_extra,
                             int64_t max_test, int64_t max_known, int full) {
    int64_t U = m->n_users, I = m->n_items, d = m->cfg.dim, n = CR__MIN(U, n_test), nth = CR__MAX(cr__nthreads(), 1);
    int64_t nk = 0, kmax, held, step, npan = CR__PAD(I, CR__SGEMM_NR) / CR__SGEMM_NR, S = CR__MIN(n, (int64_t)1000);
    cr__rank K;
    cr__rank_ws w;
    cr__eval E;
    if (n_test <= 0) return 0;
    while (nk < CR_MAX_K && eo->ks[nk]) nk++;
    kmax = nk ? eo->ks[nk - 1] : 20;
    held = (U + 1) * 8 + n_test * 4 + (n_extra ? (U + 1) * 8 + n_extra * 4 : 0) + n * 4 + n * kmax * 4 +
           n * (CR__R_PER_K * nk + CR__R_EXTRA) * 8 + (I + 1) * 5 + n * d * 4;
    step = (U + 1) * 8 + 8 * CR__MAX(n_test, n_extra); /* a set's CSR build */
    if (m->ops->sequential) { /* history encoding, with its input projection's GEMM scratch */
        int B = cr__seq_encode_rows(m, n, 0);
        step = CR__MAX(step, (int64_t)cr__seq_encode_bytes(m, B) +
                                 (int64_t)cr__sgemm_ws_floats(B * m->seq->T, 3 * m->seq->H, (int)d) * 4);
    }
    memset(&K, 0, sizeof K);
    memset(&E, 0, sizeof E);
    E.kmax = (int)kmax;
    K.E = &E, K.d = (int)d;
    K.R = cr__rank_rows(n, nth);
    K.cap_ex = CR__MIN(K.R * max_known, m->hist.nnz + n_extra), K.cap_t = CR__MIN(K.R * max_test, n_test);
    step = CR__MAX(step, nth * (int64_t)sizeof(cr__rank_ws) + npan * CR__SGEMM_NR * d * 4 +
                             (int64_t)cr__rank_carve(&K, &w, NULL) * nth);
    step = CR__MAX(step, (I + 1) * 16 + (eo->per_user ? (I + 1) * 8 : 0));
    if (full) {
        step = CR__MAX(step, (I + 1) * 4 + (U + 1) * 8 + (n + 1) * 8); /* groups */
        step =
            CR__MAX(step, (I + 1) * 33 + n * 24 + cr__csr_plan(I, m->hist.nnz, 0) + (I + 1) * 8); /* beyond-accuracy */
        step = CR__MAX(step, S * d * 4 + S * S * 4 +
                                 (int64_t)cr__sgemm_ws_floats((int)S, (int)S, (int)d) * 4); /* uniformity */
    }
    return held + step;
}

/* Ranks every evaluated user against every item (the streamed ranking above), blocks of users
   spread over the threads. */
static cr_status cr__eval_rank(cr__eval *E, const float *Ub) {
    const cr_model *m = E->m;
    int32_t I = m->n_items;
    int nth = CR__MAX(cr__nthreads(), 1), th;
    int64_t npan = CR__PAD(I, CR__SGEMM_NR) / CR__SGEMM_NR, nblk, b, q, u0, u1;
    size_t per;
    char *mem;
    cr__rank K;
    cr__rank_ws *W, w0;
    memset(&K, 0, sizeof K);
    K.E = E, K.Ub = Ub, K.Ie = m->ops->item_vectors(m), K.d = m->cfg.dim, K.kc = cr__sgemm_kc(K.d);
    K.R = cr__rank_rows(E->n, nth);
    cr__my_rows(E->n, &u0, &u1); /* over MPI this process's users, then everyone's results */
    nblk = (u1 - u0 + K.R - 1) / K.R;
    for (b = 0; b < nblk; b++) { /* each block's exclusions and test items, at most */
        int64_t e, nex = 0, ntest = 0;
        for (e = u0 + b * K.R; e < CR__MIN(u1, u0 + (b + 1) * K.R); e++) {
            int32_t u = E->users[e];
            ntest += E->T.rowptr[u + 1] - E->T.rowptr[u];
            if (!E->exclude) continue;
            nex += m->hist.rowptr[u + 1] - m->hist.rowptr[u];
            if (E->X.rowptr) nex += E->X.rowptr[u + 1] - E->X.rowptr[u];
            if (E->F.rowptr) nex += E->F.rowptr[u + 1] - E->F.rowptr[u];
        }
        K.cap_ex = CR__MAX(K.cap_ex, nex), K.cap_t = CR__MAX(K.cap_t, ntest);
    }
    per = cr__rank_carve(&K, &w0, NULL);
    W = (cr__rank_ws *)cr__alloc_array((size_t)nth, sizeof(cr__rank_ws), "evaluation");
    K.kt = (float *)cr__malloc_aligned((size_t)npan * CR__SGEMM_NR * K.d * sizeof(float));
    mem = (char *)cr__malloc_aligned(per * nth);
    if (!W || !K.kt || !mem) { CR_FREE(W); cr__free_aligned(K.kt); cr__free_aligned(mem); return CR_ERR_NOMEM; }
    for (th = 0; th < nth; th++) cr__rank_carve(&K, &W[th], mem + per * th);
    cr__prof_count(2.0 * (u1 - u0) * I * K.d, 4.0 * ((double)(u1 - u0) * K.d + (double)(nblk + 1) * I * K.d));
    CR__OMP(parallel for schedule(static) num_threads(nth))
    for (q = 0; q < npan; q++) {
        int p0;
        for (p0 = 0; p0 < K.d; p0 += K.kc)
            cr__sgemm_pack_b(1, K.Ie, (size_t)K.d, p0, CR__MIN(K.kc, K.d - p0), 0, I, (int)q, (int)q + 1,
                             K.kt + npan * CR__SGEMM_NR * p0);
    }
    CR__OMP(parallel for schedule(dynamic, 1) num_threads(nth))
    for (b = 0; b < nblk; b++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        cr__rank_block(&K, &W[tid], u0 + b * K.R, (int)CR__MIN((int64_t)K.R, u1 - u0 - b * K.R));
    }
    cr__mpi_gather_rows(E->res, E->n, (size_t)E->stride * sizeof(double));
    cr__mpi_gather_rows(E->topi, E->n, (size_t)E->kmax * sizeof(int32_t));
    CR_FREE(W);
    cr__free_aligned(K.kt);
    cr__free_aligned(mem);
    return CR_OK;
}

/* Uniformity (Wang & Isola, ICML 2020, t = 2) of the rows of X (n, d): log of the mean over
   pairs i < j of exp(-2 |f_i - f_j|^2) = exp(4 f_i.f_j - 4), f = x / |x|, on up to 1,000 rows
   taken evenly from X (deterministic). 0 is total collapse; lower is more uniform. */
CR_API double cr_uniformity(const float *X, int64_t n, int d) {
    int64_t S = CR__MIN(n, (int64_t)1000), i;
    float *F, *G;
    double sum = 0;
    if (S < 2) return 0;
    F = cr_alloc_floats(S * d);
    G = cr_alloc_floats(S * S);
    if (!F || !G) { cr__free_aligned(F); cr__free_aligned(G); return NAN; }
    for (i = 0; i < S; i++) cr_vcopy(F + i * d, X + (i * n / S) * d, d);
    cr_l2norm_rows_forward(F, NULL, F, S, d);
    cr_sgemm(0, 1, (int)S, (int)S, d, 1.0f, F, d, F, d, 0.0f, G, (int)S);
    for (i = 0; i + 1 < S; i++) { /* row by row, in order: deterministic */
        float *g = G + i * S + i + 1;
        int64_t j;
        for (j = 0; j < S - i - 1; j++) g[j] = 4.0f * g[j] - 4.0f;
        sum += (double)cr__vexp_sum(g, g, S - i - 1, 0.0f);
    }
    cr__free_aligned(F);
    cr__free_aligned(G);
    return log(sum / ((double)S * (double)(S - 1) / 2.0));
}

/* |users(i) & users(j)| / sqrt(|users(i)| |users(j)|) on the item -> distinct users lists IU:
   Microsoft Recommenders' item co-occurrence similarity (a merge of two sorted lists). */
static double cr__cooc_sim(const cr_csr *IU, int32_t i, int32_t j) {
    const int32_t *a = IU->col + IU->rowptr[i], *b = IU->col + IU->rowptr[j];
    int64_t na = IU->rowptr[i + 1] - IU->rowptr[i], nb = IU->rowptr[j + 1] - IU->rowptr[j], x = 0, y = 0, c = 0;
    if (!na || !nb) return 0;
    while (x < na && y < nb) {
        if (a[x] < b[y]) x++;
        else if (a[x] > b[y]) y++;
        else { c++; x++; y++; }
    }
    return (double)c / sqrt((double)na * (double)nb);
}

/* One user's list: its intra-list measures (co-occurrence and cosine ILD, serendipity). r
   receives [diversity, serendipity, ild_cosine]; -1 where not computed. */
static void cr__beyond_user(const int32_t *L, int n, int32_t u, const cr_csr *train, const cr_csr *test,
                            const cr_csr *IU, const float *V, const double *vnorm, int d, double *r) {
    int a, b;
    int64_t p;
    r[0] = r[1] = r[2] = -1;
    if (IU && n >= 2) {
        double s = 0;
        for (a = 0; a < n; a++)
            for (b = a + 1; b < n; b++) s += cr__cooc_sim(IU, L[a], L[b]);
        r[0] = 1.0 - s / (n * (n - 1) / 2.0);
    }
    /* a user without training items has nothing to be surprised against: Microsoft
       Recommenders' inner join drops them from the mean */
    if (IU && n >= 1 && train->rowptr[u + 1] > train->rowptr[u]) {
        double s = 0;
        int64_t nt = train->rowptr[u + 1] - train->rowptr[u];
        for (a = 0; a < n; a++) {
            double sim = 0, rel = test ? (double)cr__csr_has(test, u, L[a]) : 1.0;
            if (rel == 0) continue;
            for (p = train->rowptr[u]; p < train->rowptr[u + 1]; p++) sim += cr__cooc_sim(IU, L[a], train->col[p]);
            s += (1.0 - sim / (double)nt) * rel;
        }
        r[1] = s / n;
    }
    if (V && n >= 2) {
        double s = 0;
        for (a = 0; a < n; a++)
            for (b = a + 1; b < n; b++) {
                double na = vnorm[L[a]], nb = vnorm[L[b]];
                s +=
                    na > 0 && nb > 0 ? (double)cr_vdot(V + (int64_t)L[a] * d, V + (int64_t)L[b] * d, d) / (na * nb) : 0;
            }
        r[2] = 1.0 - s / (n * (n - 1) / 2.0);
    }
}

CR_API cr_status cr_beyond_accuracy(const int32_t *lists, const int32_t *users, int64_t n, int k, const cr_csr *train,
                                    const cr_csr *test, const float *item_vecs, int d, double tail_ratio,
                                    int cooccurrence, cr_beyond *out) {
    int64_t I, e, a, distinct = 0, total = 0, n_c = 0, n_tail, listed = 0;
    int64_t *cnt = NULL, *count = NULL;
    uint64_t *key = NULL;
    uint8_t *tail = NULL;
    double *per = NULL, *vnorm = NULL, ent = 0, bits = 0, nov = 0, gini = 0, avgpop = 0, tailp = 0, sums[3] = {0, 0, 0};
    int64_t nsum[3] = {0, 0, 0};
    cr_csr IU = {0, 0, 0, NULL, NULL, NULL};
    cr_status st = CR_OK;
    memset(out, 0, sizeof *out);
    if (!lists || !users || !train || n < 1 || k < 1 || k > 1024 || (item_vecs && d < 1))
        return cr__fail(
            CR_ERR_INVALID,
            "cr_beyond_accuracy: needs lists, users, training data, n >= 1, k in 1..1024 and d >= 1 with vectors");
    if (!(tail_ratio > 0) || !isfinite(tail_ratio))
        return cr__fail(CR_ERR_INVALID, "tail_ratio %g must be positive", tail_ratio);
    I = train->ncols;
    if (test && (test->ncols != I || test->nrows != train->nrows))
        return cr__fail(CR_ERR_INVALID, "cr_beyond_accuracy: test is %lld x %lld, training %lld x %lld",
                        (long long)test->nrows, (long long)test->ncols, (long long)train->nrows, (long long)I);
    for (e = 0; e < n; e++) {
        if (users[e] < 0 || users[e] >= train->nrows)
            return cr__fail(CR_ERR_INVALID, "cr_beyond_accuracy: list %lld: user %d outside 0..%lld", (long long)e,
                            users[e], (long long)train->nrows - 1);
        for (a = 0; a < k; a++)
            if (lists[e * k + a] < -1 || lists[e * k + a] >= I)
                return cr__fail(CR_ERR_INVALID, "cr_beyond_accuracy: list %lld, position %lld: item %d outside 0..%lld",
                                (long long)e, (long long)a + 1, lists[e * k + a], (long long)I - 1);
    }
    cnt = (int64_t *)cr__calloc_array((size_t)I + 1, sizeof(int64_t), "beyond-accuracy");
    count = (int64_t *)cr__calloc_array((size_t)I + 1, sizeof(int64_t), "beyond-accuracy");
    key = (uint64_t *)cr__alloc_array((size_t)I + 1, sizeof(uint64_t), "beyond-accuracy");
    tail = (uint8_t *)cr__calloc_array((size_t)I + 1, 1, "beyond-accuracy");
    per = (double *)cr__alloc_array((size_t)n * 3, sizeof(double), "beyond-accuracy");
    vnorm = item_vecs ? (double *)cr__alloc_array((size_t)I + 1, sizeof(double), "beyond-accuracy") : NULL;
    if (!cnt || !count || !key || !tail || !per || (item_vecs && !vnorm)) { st = CR_ERR_NOMEM; goto done; }
    for (a = 0; a < train->nnz; a++) cnt[train->col[a]]++;
    for (a = 0; a < I; a++) n_c += cnt[a] > 0;
    /* RecBole's tail: a count threshold (ratio > 1), or the ratio share of the trained items
       with the fewest interactions (ties by id); untrained items are never in it */
    if (tail_ratio > 1) {
        for (a = 0; a < I; a++) tail[a] = cnt[a] > 0 && (double)cnt[a] <= tail_ratio;
    } else {
        int64_t m = 0;
        for (a = 0; a < I; a++)
            if (cnt[a] > 0) key[m++] = ((uint64_t)cnt[a] << 32) | (uint64_t)a;
        cr__sort_u64(key, m);
        n_tail = CR__MAX((int64_t)floor(tail_ratio * (double)n_c), (int64_t)1);
        for (a = 0; a < n_tail && a < m; a++) tail[(uint32_t)key[a]] = 1;
    }
    for (e = 0; e < n; e++) {
        const int32_t *L = lists + e * k;
        int q, len = 0;
        double pop = 0, tl = 0;
        for (q = 0; q < k; q++) {
            if (L[q] < 0) continue;
            len++;
            count[L[q]]++;
            pop += (double)cnt[L[q]];
            tl += tail[L[q]];
        }
        total += len;
        if (len) { avgpop += pop / len; tailp += tl / len; listed++; }
    }
    if (!total) { st = cr__fail(CR_ERR_EMPTY, "cr_beyond_accuracy: every list is empty"); goto done; }
    for (a = 0; a < I; a++) {
        double p = (double)count[a] / (double)total;
        key[a] = (uint64_t)count[a];
        if (!count[a]) continue;
        distinct++;
        ent -= p * log(p);
        bits -= p * log2(p);
        if (cnt[a] > 0) nov += (double)count[a] * -log2((double)cnt[a] / (double)train->nnz);
    }
    /* Gini over the n = items + 1 counts of RecBole (its padding item a zero), ascending */
    cr__sort_u64(key, I);
    for (a = 0; a < I; a++) gini += (2.0 * (double)(a + 2) - (double)(I + 1) - 1.0) * (double)key[a];
    out->item_coverage = (double)distinct / (double)(I + 1);
    out->average_popularity = avgpop / (double)listed;
    out->gini_index = gini / ((double)total * (double)(I + 1));
    out->shannon_entropy = ent / (double)distinct;
    out->tail_percentage = tailp / (double)listed;
    out->catalog_coverage = n_c ? (double)distinct / (double)n_c : 0;
    out->distributional_coverage = bits;
    out->novelty = nov / (double)total;
    if (cooccurrence) { /* item -> distinct users (transpose rows come out sorted by user) */
        int64_t w = 0, r;
        if ((st = cr_csr_transpose(&IU, train)) != CR_OK) goto done;
        for (r = 0; r < IU.nrows; r++) {
            int64_t b0 = IU.rowptr[r], b1 = IU.rowptr[r + 1];
            IU.rowptr[r] = w;
            for (a = b0; a < b1; a++)
                if (a == b0 || IU.col[a] != IU.col[a - 1]) IU.col[w++] = IU.col[a];
        }
        IU.rowptr[IU.nrows] = IU.nnz = w;
    }
    if (item_vecs)
        for (a = 0; a < I; a++) vnorm[a] = sqrt((double)cr_vdot(item_vecs + a * d, item_vecs + a * d, d));
    CR__OMP(parallel for schedule(dynamic, 16))
    for (e = 0; e < n; e++) {
        int32_t L[1024];
        int q, len = 0;
        for (q = 0; q < k && len < 1024; q++)
            if (lists[e * k + q] >= 0) L[len++] = lists[e * k + q];
        cr__beyond_user(L, len, users[e], train, test, cooccurrence ? &IU : NULL, item_vecs, vnorm, d, per + e * 3);
    }
    for (e = 0; e < n; e++) /* in user order: deterministic */
        for (a = 0; a < 3; a++)
            if (per[e * 3 + a] >= 0) { sums[a] += per[e * 3 + a]; nsum[a]++; }
    out->diversity = cooccurrence && nsum[0] ? sums[0] / (double)nsum[0] : -1;
    out->serendipity = cooccurrence && nsum[1] ? sums[1] / (double)nsum[1] : -1;
    out->ild_cosine = item_vecs && nsum[2] ? sums[2] / (double)nsum[2] : -1;
done:
    CR_FREE(cnt); CR_FREE(count); CR_FREE(key); CR_FREE(tail); CR_FREE(per); CR_FREE(vnorm);
    cr_csr_free(&IU);
    if (st != CR_OK) memset(out, 0, sizeof *out);
    return st;
}

/* SGL's grouping: the n entries sorted by (deg, id) ascending, a running sum of deg, entry x in
   group #{k in 1..9 : k/10 of the total < its running sum}. group (n) receives 0..9. */
static cr_status cr__sgl_groups(const int32_t *deg, int64_t n, int32_t *group) {
    uint64_t *key = (uint64_t *)cr__alloc_array((size_t)n + 1, sizeof(uint64_t), "groups");
    double total = 0, cum = 0;
    int64_t a;
    if (!key) return CR_ERR_NOMEM;
    for (a = 0; a < n; a++) {
        key[a] = ((uint64_t)(uint32_t)deg[a] << 32) | (uint32_t)a;
        total += deg[a];
    }
    cr__sort_u64(key, n);
    for (a = 0; a < n; a++) {
        int32_t x = (int32_t)(uint32_t)key[a], g = 0, k;
        cum += deg[x];
        for (k = 1; k < CR_GROUPS; k++) g += total * k / CR_GROUPS < cum;
        group[x] = g;
    }
    CR_FREE(key);
    return CR_OK;
}

/* The groups of cr_groups from the ranked lists (users in order: deterministic). */
static cr_status cr__eval_groups(const cr__eval *E, cr_metrics *out) {
    const cr_model *m = E->m;
    cr_groups *G = &out->groups;
    int64_t e, nint = 0, cum = 0, slots = 0, within_n[CR_GROUPS] = {0};
    int32_t *ig = (int32_t *)cr__alloc_array((size_t)m->n_items + 1, sizeof(int32_t), "groups");
    int32_t *ug = (int32_t *)cr__alloc_array((size_t)m->n_users + 1, sizeof(int32_t), "groups");
    int32_t *udeg = (int32_t *)cr__alloc_array((size_t)m->n_users + 1, sizeof(int32_t), "groups");
    uint64_t *key = (uint64_t *)cr__alloc_array((size_t)E->n + 1, sizeof(uint64_t), "groups");
    int kk = E->nk - 1, g, cur = 0;
    cr_status st = ig && ug && udeg && key ? CR_OK : CR_ERR_NOMEM;
    memset(G, 0, sizeof *G);
    for (e = 0; st == CR_OK && e < m->n_users; e++) udeg[e] = (int32_t)cr__eval_degree(E, (int32_t)e);
    if (st == CR_OK) st = cr__sgl_groups(m->item_deg, m->n_items, ig);
    if (st == CR_OK) st = cr__sgl_groups(udeg, m->n_users, ug);
    if (st != CR_OK) goto done;
    for (e = 0; e < m->n_items; e++) G->item_count[ig[e]]++;
    for (e = 0; e < E->n; e++) {
        int32_t u = E->users[e], q, hits_g[CR_GROUPS] = {0}, test_g[CR_GROUPS] = {0};
        const int32_t *tk = E->topi + e * E->kmax;
        int64_t p, nt = E->T.rowptr[u + 1] - E->T.rowptr[u];
        const double *rk = E->res + e * E->stride + CR__R_PER_K * kk;
        for (p = E->T.rowptr[u]; p < E->T.rowptr[u + 1]; p++) test_g[ig[E->T.col[p]]]++;
        for (q = 0; q < E->kmax && tk[q] >= 0; q++) {
            G->item_exposure[ig[tk[q]]]++;
            slots++;
            if (cr__csr_has(&E->T, u, tk[q])) hits_g[ig[tk[q]]]++;
        }
        for (g = 0; g < CR_GROUPS; g++) {
            G->item_contrib[g] += (double)hits_g[g] / (double)nt;
            if (test_g[g]) { G->item_recall[g] += (double)hits_g[g] / test_g[g]; within_n[g]++; }
        }
        G->user_count[ug[u]]++;
        G->user_recall[ug[u]] += rk[CR__R_RECALL];
        G->user_ndcg[ug[u]] += rk[CR__R_NDCG];
        key[e] = ((uint64_t)(uint32_t)(udeg[u] + (int32_t)nt) << 32) | (uint32_t)e;
    }
    for (g = 0; g < CR_GROUPS; g++) {
        G->item_contrib[g] /= (double)E->n;
        G->item_recall[g] = within_n[g] ? G->item_recall[g] / (double)within_n[g] : -1;
        G->item_exposure[g] = slots ? G->item_exposure[g] / (double)slots : 0;
        G->user_recall[g] = G->user_count[g] ? G->user_recall[g] / (double)G->user_count[g] : -1;
        G->user_ndcg[g] = G->user_count[g] ? G->user_ndcg[g] / (double)G->user_count[g] : -1;
    }
    for (e = 0; e < m->n_users; e++) G->user_max_degree[ug[e]] = CR__MAX(G->user_max_degree[ug[e]], udeg[e]);
    /* NGCF: the evaluated users by training + test degree, whole degree values per group */
    cr__sort_u64(key, E->n);
    nint = m->hist.nnz + E->T.nnz;
    for (e = 0; e < E->n;) {
        int32_t deg = (int32_t)(key[e] >> 32);
        for (; e < E->n && (int32_t)(key[e] >> 32) == deg; e++) {
            const double *rk = E->res + (int64_t)(uint32_t)key[e] * E->stride + CR__R_PER_K * kk;
            G->ngcf_count[cur]++;
            G->ngcf_recall[cur] += rk[CR__R_RECALL];
            G->ngcf_ndcg[cur] += rk[CR__R_NDCG];
            cum += deg;
        }
        G->ngcf_max_degree[cur] = deg;
        if (cur < 3 && 4 * cum >= nint) { cur++; cum = 0; } /* a quarter of all interactions */
    }
    for (g = 0; g < 4; g++) {
        G->ngcf_recall[g] = G->ngcf_count[g] ? G->ngcf_recall[g] / (double)G->ngcf_count[g] : -1;
        G->ngcf_ndcg[g] = G->ngcf_count[g] ? G->ngcf_ndcg[g] / (double)G->ngcf_count[g] : -1;
    }
done:
    CR_FREE(ig); CR_FREE(ug); CR_FREE(udeg); CR_FREE(key);
    return st;
}

/* Alignment: the mean of |f(user) - f(item)|^2 over the test pairs. */
static double cr__eval_alignment(const cr__eval *E, const float *Ub) {
    const cr_model *m = E->m;
    const float *Ie = m->ops->item_vectors(m);
    int d = m->cfg.dim;
    int64_t e, p, n = 0;
    double sum = 0;
    for (e = 0; e < E->n; e++) {
        const float *u = Ub + e * d;
        double nu = sqrt((double)cr_vdot(u, u, d));
        for (p = E->T.rowptr[E->users[e]]; p < E->T.rowptr[E->users[e] + 1]; p++) {
            const float *it = Ie + (int64_t)E->T.col[p] * d;
            double ni = sqrt((double)cr_vdot(it, it, d)),
                   c = nu > 0 && ni > 0 ? (double)cr_vdot(u, it, d) / (nu * ni) : 0;
            sum += 2.0 - 2.0 * c;
            n++;
        }
    }
    return n ? sum / (double)n : 0;
}

/* The per-user rows of cr_eval_opts.per_user. */
static cr_status cr__eval_per_user(const cr__eval *E, double *out) {
    const cr_model *m = E->m;
    const float *V = m->ops->item_vectors(m);
    int d = m->cfg.dim, kk = E->nk - 1;
    int64_t e, a;
    double *vnorm = (double *)cr__alloc_array((size_t)m->n_items + 1, sizeof(double), "per-user results");
    if (!vnorm) return CR_ERR_NOMEM;
    for (a = 0; a < m->n_items; a++) vnorm[a] = sqrt((double)cr_vdot(V + a * d, V + a * d, d));
    CR__OMP(parallel for schedule(static))
    for (e = 0; e < E->n; e++) {
        const double *rr = E->res + e * E->stride, *ex = rr + CR__R_PER_K * E->nk;
        const int32_t *L = E->topi + e * E->kmax;
        double *o = out + e * CR_PER_USER, r[3];
        int n = 0;
        while (n < E->kmax && L[n] >= 0) n++;
        cr__beyond_user(L, n, E->users[e], &m->hist, NULL, NULL, V, vnorm, d, r);
        o[0] = E->users[e];
        o[1] = (double)cr__eval_degree(E, E->users[e]);
        o[2] = rr[CR__R_PER_K * kk + CR__R_RECALL];
        o[3] = rr[CR__R_PER_K * kk + CR__R_NDCG];
        o[4] = ex[CR__R_TAILN] > 0 ? ex[CR__R_TAIL] : -1;
        o[5] = r[2];
    }
    CR_FREE(vnorm);
    return CR_OK;
}

/* Means over users (in user order) of the per-user results, and the catalogue measures of
   the recommended lists at the largest K. */
static cr_status cr__eval_sum(const cr__eval *E, cr_metrics *out) {
    const cr_model *m = E->m;
    int32_t I = m->n_items;
    int nk = E->nk, kmax = E->kmax, i;
    int64_t *count = (int64_t *)cr__calloc_array((size_t)I + 1, sizeof(int64_t), "evaluation");
    int64_t n_auc = 0, n_tail = 0, total_rec = 0, hits_k[CR_MAX_K] = {0}, e, distinct = 0, a;
    uint64_t *key = (uint64_t *)cr__alloc_array((size_t)I + 1, sizeof(uint64_t), "evaluation");
    double auc = 0, tail = 0, cold = 0, nov = 0, g = 0;
    if (!count || !key) { CR_FREE(count); CR_FREE(key); return CR_ERR_NOMEM; }
    out->n_k = nk;
    for (e = 0; e < E->n; e++) {
        const double *rr = E->res + e * E->stride, *ex = rr + CR__R_PER_K * nk;
        int32_t uu = E->users[e];
        int kk, q;
        for (kk = 0; kk < nk; kk++) {
            out->recall[kk] += rr[CR__R_PER_K * kk + CR__R_RECALL];
            out->precision[kk] += rr[CR__R_PER_K * kk + CR__R_PREC];
            out->ndcg[kk] += rr[CR__R_PER_K * kk + CR__R_NDCG];
            out->hit[kk] += rr[CR__R_PER_K * kk + CR__R_HIT];
            out->mrr[kk] += rr[CR__R_PER_K * kk + CR__R_MRR];
            out->pop_recall[kk] += rr[CR__R_PER_K * kk + CR__R_POP_RECALL];
            out->pop_ndcg[kk] += rr[CR__R_PER_K * kk + CR__R_POP_NDCG];
            hits_k[kk] += (int64_t)rr[CR__R_PER_K * kk + CR__R_HITS];
        }
        if (ex[CR__R_AUC] >= 0) { auc += ex[CR__R_AUC]; n_auc++; }
        if (ex[CR__R_TAILN] > 0) { tail += ex[CR__R_TAIL]; n_tail++; }
        if (cr__eval_degree(E, uu) <= E->o.cold_max) {
            cold += rr[CR__R_PER_K * (nk - 1) + CR__R_RECALL];
            out->cold_users++;
        }
        for (q = 0; q < kmax; q++) {
            int32_t it = E->topi[e * kmax + q];
            if (it < 0) continue;
            count[it]++;
            total_rec++;
            nov += -log2(((double)m->item_deg[it] + 1.0) / ((double)m->n_users + 1.0));
        }
        out->test_interactions += E->T.rowptr[uu + 1] - E->T.rowptr[uu];
    }
    for (i = 0; i < nk; i++) {
        out->k[i] = E->o.ks[i];
        out->recall[i] /= (double)E->n;
        out->precision[i] /= (double)E->n;
        out->ndcg[i] /= (double)E->n;
        out->hit[i] /= (double)E->n;
        out->mrr[i] /= (double)E->n;
        out->pop_recall[i] /= (double)E->n;
        out->pop_ndcg[i] /= (double)E->n;
        out->hit_inter[i] = (double)hits_k[i] / (double)out->test_interactions;
    }
    out->auc = n_auc ? auc / (double)n_auc : -1;
    out->tail_recall = n_tail ? tail / (double)n_tail : 0;
    out->cold_recall = out->cold_users ? cold / (double)out->cold_users : -1;
    out->novelty = total_rec ? nov / (double)total_rec : 0;
    for (a = 0; a < I; a++) { distinct += count[a] > 0; key[a] = (uint64_t)count[a]; }
    cr__sort_u64(key, I); /* Gini over the ascending recommendation counts */
    for (a = 0; a < I; a++) g += (2.0 * (double)(a + 1) - (double)I - 1.0) * (double)key[a];
    out->gini = total_rec ? g / ((double)I * (double)total_rec) : 0;
    out->coverage = (double)distinct / (double)I;
    out->users = E->n;
    CR_FREE(count);
    CR_FREE(key);
    return CR_OK;
}

static cr_status cr__evaluate_run(cr_model *m, const cr_interactions *test, const cr_eval_opts *opts_in,
                                  cr_metrics *out) {
    cr__eval E;
    float *Ub = NULL;
    double t0 = cr__now();
    int seq = m->ops->sequential;
    int32_t u;
    cr_status st;
    memset(out, 0, sizeof *out);
    memset(&E, 0, sizeof E);
    E.m = m;
    if (opts_in) E.o = *opts_in;
    if ((st = cr__eval_resolve(&E.o, seq, &E.nk)) != CR_OK) return st;
    E.kmax = E.o.ks[E.nk - 1];
    E.exclude = E.o.exclude_seen == 1 || (E.o.exclude_seen == 0 && !seq);
    if (E.o.items_only) { /* the test records on ranked items; the list of the others */
        cr_interactions kept;
        int32_t i;
        int64_t e;
        memset(&kept, 0, sizeof kept);
        for (e = 0; e < test->n; e++)
            if (test->item[e] >= 0 && test->item[e] < m->n_items && E.o.items_only[test->item[e]] &&
                (st = cr_interactions_push(&kept, test->user[e], test->item[e], test->rating[e], test->time[e])) !=
                    CR_OK) {
                cr_interactions_free(&kept);
                return st;
            }
        st = cr_interactions_to_csr(&E.T, &kept, m->n_users, m->n_items, 0);
        cr_interactions_free(&kept);
        if (st != CR_OK) return st;
        if (!(E.off = (int32_t *)cr__alloc_array((size_t)m->n_items + 1, sizeof(int32_t), "evaluation"))) {
            st = CR_ERR_NOMEM;
            goto done;
        }
        for (i = 0; i < m->n_items; i++)
            if (!E.o.items_only[i]) E.off[E.n_off++] = i;
    } else if ((st = cr_interactions_to_csr(&E.T, test, m->n_users, m->n_items, 0)) != CR_OK) return st;
    /* what is excluded from each user's ranking: the training items, plus the extra known
       interactions (e.g. a validation split), which sequence models also append to histories */
    if (E.o.history_extra && E.o.history_extra->n &&
        (st = cr_interactions_to_csr(&E.X, E.o.history_extra, m->n_users, m->n_items, seq)) != CR_OK) goto done;
    if (E.o.fold_in && E.o.fold_in->n &&
        (st = cr_interactions_to_csr(&E.F, E.o.fold_in, m->n_users, m->n_items, seq)) != CR_OK)
        goto done;
    for (u = 0; u < m->n_users; u++) E.n += E.T.rowptr[u + 1] > E.T.rowptr[u];
    if (E.n == 0) { st = cr__fail(CR_ERR_EMPTY, "no user has a test interaction"); goto done; }
    E.stride = CR__R_PER_K * E.nk + CR__R_EXTRA;
    E.users = (int32_t *)cr__alloc_array((size_t)E.n, sizeof(int32_t), "evaluation");
    E.topi = (int32_t *)cr__alloc_array((size_t)E.n * E.kmax, sizeof(int32_t), "evaluation");
    E.res = (double *)cr__calloc_array((size_t)E.n * E.stride, sizeof(double), "evaluation");
    E.head = (uint8_t *)cr__calloc_array((size_t)m->n_items + 1, 1, "evaluation");
    E.pop = (int32_t *)cr__alloc_array((size_t)m->n_items + 1, sizeof(int32_t), "evaluation");
    if (!E.users || !E.topi || !E.res || !E.head || !E.pop) { st = CR_ERR_NOMEM; goto done; }
    E.n = 0;
    for (u = 0; u < m->n_users; u++)
        if (E.T.rowptr[u + 1] > E.T.rowptr[u]) E.users[E.n++] = u;
    cr_model_prepare(m);
    if (!(Ub = cr_alloc_floats(E.n * m->cfg.dim))) { st = CR_ERR_NOMEM; goto done; }
    if ((st = cr__eval_user_vectors(&E, Ub)) != CR_OK || (st = cr__eval_head(&E)) != CR_OK ||
        (st = cr__eval_rank(&E, Ub)) != CR_OK || (st = cr__eval_sum(&E, out)) != CR_OK)
        goto done;
    if (E.o.per_user && (st = cr__eval_per_user(&E, E.o.per_user)) != CR_OK) goto done;
    if (E.o.basic) { /* not computed: -1, as the AUC when skipped */
        int kk;
        for (kk = 0; kk < E.nk; kk++) out->pop_recall[kk] = out->pop_ndcg[kk] = -1;
        out->seconds = cr__now() - t0;
        goto done;
    }
    if ((st = cr__eval_groups(&E, out)) != CR_OK ||
        (st = cr_beyond_accuracy(E.topi, E.users, E.n, E.kmax, &m->hist, &E.T, m->ops->item_vectors(m), m->cfg.dim,
                                 E.o.tail_ratio, E.o.cooccurrence, &out->beyond)) != CR_OK)
        goto done;
    out->alignment = cr__eval_alignment(&E, Ub);
    out->uniformity_users = cr_uniformity(Ub, E.n, m->cfg.dim);
    out->uniformity_items = cr_uniformity(m->ops->item_vectors(m), m->n_items, m->cfg.dim);
    out->seconds = cr__now() - t0;
done:
    if (st == CR_ERR_NOMEM && !cr_last_error()[0]) cr__fail(st, "out of memory during evaluation");
    cr_csr_free(&E.T);
    cr_csr_free(&E.X);
    cr_csr_free(&E.F);
    CR_FREE(E.users); CR_FREE(E.topi); CR_FREE(E.res); CR_FREE(E.head); CR_FREE(E.pop); CR_FREE(E.off);
    cr__free_aligned(Ub);
    if (st != CR_OK) memset(out, 0, sizeof *out);
    return st;
}

/* The evaluation with its cost (cr_metrics.cost): its own profile, or a phase of the caller's. */
CR_API cr_status cr_evaluate(cr_model *m, const cr_interactions *test, const cr_eval_opts *opts_in,
                             cr_metrics *out) {
    cr_phase_cost prof[CR_PHASE_COUNT], before[CR_PHASE_COUNT];
    cr_status st;
    int k;
    if (cr__prof_tab) { /* inside a profiled epoch (a custom loop's batch callback): a phase of it */
        int ph = cr__prof_to(CR_PHASE_EVAL);
        memcpy(before, cr__prof_tab, sizeof before);
        st = cr__evaluate_run(m, test, opts_in, out);
        for (k = 0; st == CR_OK && k < CR_PHASE_COUNT; k++) {
            out->cost.flops += cr__prof_tab[k].flops - before[k].flops;
            out->cost.bytes += cr__prof_tab[k].bytes - before[k].bytes;
        }
        out->cost.seconds = out->seconds;
        cr__prof_to(ph);
        return st;
    }
    memset(prof, 0, sizeof prof);
    {
        cr__prof_state outer = cr__prof_begin(prof, CR_PHASE_EVAL);
        st = cr__evaluate_run(m, test, opts_in, out);
        cr__prof_end(outer);
    }
    if (st != CR_OK) return st;
    for (k = 0; k < CR_PHASE_COUNT; k++) {
        out->cost.flops += prof[k].flops;
        out->cost.bytes += prof[k].bytes;
    }
    out->cost.seconds = out->seconds;
    return st;
}

/* ---- 10b. serving: top-k for a user, a new history, scores of given candidates ---- */

/* Scores one user vector against every item, applies the exclusions and returns the top k as
   raw ids. */
static cr_status cr__recommend_vec(const cr_model *m, const float *uvec, const int32_t *excl, int64_t n_excl,
                                   int k, int64_t *items, float *scores, int *n_out) {
    const float *Ie = m->ops->item_vectors(m);
    float *s, *ts;
    int32_t *ti;
    int64_t p;
    int found, q, j;
    s = cr_alloc_floats(m->n_items + (int64_t)k);
    ts = cr_alloc_floats(k);
    ti = (int32_t *)cr__alloc_array((size_t)k, sizeof(int32_t), "recommendation");
    if (!s || !ts || !ti) { cr__free_aligned(s); cr__free_aligned(ts); CR_FREE(ti); return CR_ERR_NOMEM; }
    cr_sgemm(0, 1, 1, m->n_items, m->cfg.dim, 1.0f, uvec, m->cfg.dim, Ie, m->cfg.dim, 0.0f, s, m->n_items);
    for (p = 0; p < n_excl; p++) s[excl[p]] = -INFINITY;
    found = cr__topk_row(s, m->n_items, k, ts, ti);
    for (q = 0; q < found; q++) {
        items[q] = m->items.raw[ti[q]];
        if (scores) scores[q] = ts[q];
    }
    for (j = 0; j < m->added.n; j++) { /* added items join the list where their scores put them (ties: trained first) */
        float sc = cr_vdot(uvec, m->added_vec + (int64_t)j * m->cfg.dim, m->cfg.dim);
        int at = found;
        while (at > 0 && sc > ts[at - 1]) at--;
        if (at >= k) continue;
        if (found < k) found++;
        for (q = found - 1; q > at; q--) { items[q] = items[q - 1]; ts[q] = ts[q - 1]; }
        items[at] = m->added.raw[j];
        ts[at] = sc;
    }
    for (q = 0; scores && q < found; q++) scores[q] = ts[q];
    *n_out = found;
    cr__free_aligned(s);
    cr__free_aligned(ts);
    CR_FREE(ti);
    return CR_OK;
}

/* The vector of a known user (raw id), or fails naming the id. */
static cr_status cr__user_vec(cr_model *m, int64_t raw_user, int32_t *u, float **vec) {
    cr_status st;
    *vec = NULL;
    *u = cr_idmap_find(&m->users, raw_user);
    if (*u < 0)
        return cr__fail(CR_ERR_INVALID, "user %lld is not known to the model (it has %d users)", (long long)raw_user,
                        m->n_users);
    if (!(*vec = cr_alloc_floats(m->cfg.dim))) return CR_ERR_NOMEM;
    cr_model_prepare(m);
    if ((st = m->ops->user_vectors(m, u, 1, NULL, *vec)) != CR_OK) { cr__free_aligned(*vec); *vec = NULL; }
    return st;
}

CR_API cr_status cr_recommend(cr_model *m, int64_t raw_user, int k, int exclude_seen,
                              int64_t *items, float *scores, int *n_out) {
    int32_t u;
    float *vec;
    cr_status st;
    *n_out = 0;
    if (k < 1 || k > m->n_items + m->added.n)
        return cr__fail(CR_ERR_INVALID, "k = %d is outside 1..%d (the number of items)", k, m->n_items + m->added.n);
    if ((st = cr__user_vec(m, raw_user, &u, &vec)) != CR_OK) return st;
    st = cr__recommend_vec(m, vec, m->hist.col + m->hist.rowptr[u],
                           exclude_seen ? m->hist.rowptr[u + 1] - m->hist.rowptr[u] : 0, k, items, scores, n_out);
    cr__free_aligned(vec);
    return st;
}

CR_API cr_status cr_score_items(cr_model *m, int64_t raw_user, const int64_t *raw_items, int n_items,
                                float *scores, int *n_unknown) {
    int32_t u;
    float *vec;
    const float *Ie;
    int i, unknown = 0;
    cr_status st;
    if (n_unknown) *n_unknown = 0;
    if (n_items < 0 || (n_items && (!raw_items || !scores)))
        return cr__fail(CR_ERR_INVALID, "cr_score_items: %d candidates without arrays", n_items);
    if ((st = cr__user_vec(m, raw_user, &u, &vec)) != CR_OK) return st;
    Ie = m->ops->item_vectors(m);
    for (i = 0; i < n_items; i++) {
        int32_t it = cr_idmap_find(&m->items, raw_items[i]), a = it < 0 ? cr_idmap_find(&m->added, raw_items[i]) : -1;
        if (it < 0 && a < 0) { scores[i] = -INFINITY; unknown++; continue; }
        scores[i] =
            cr_vdot(vec, it >= 0 ? Ie + (int64_t)it * m->cfg.dim : m->added_vec + (int64_t)a * m->cfg.dim, m->cfg.dim);
    }
    if (n_unknown) *n_unknown = unknown;
    cr__free_aligned(vec);
    return CR_OK;
}

CR_API cr_status cr_model_feature_vector(cr_model *m, const int64_t *raw_feats, const float *w, int n, float *out,
                                         int *n_unknown) {
    const float *fe;
    int i, d = m->cfg.dim, known = 0;
    double sum = 0;
    if (n_unknown) *n_unknown = 0;
    if (!m->ifeat.rowptr) return cr__fail(CR_ERR_INVALID, "this %s model does not read item features", m->ops->name);
    if (m->ops->sequential)
        return cr__fail(
            CR_ERR_INVALID,
            "new items from their features are for graph models; a %s model ranks the items it was trained with",
            m->ops->name);
    if (n < 0 || (n && !raw_feats) || !out)
        return cr__fail(CR_ERR_INVALID, "cr_model_feature_vector: %d features without arrays", n);
    for (i = 0; i < n; i++)
        if (w && !(w[i] > 0 && w[i] < 1e30f))
            return cr__fail(CR_ERR_INVALID, "feature %d: weight %g is not positive and finite", i, (double)w[i]);
    cr_model_prepare(m); /* the trained items' mean length */
    fe = cr__tensor(m, "feat_emb");
    memset(out, 0, (size_t)d * sizeof(float));
    for (i = 0; i < n; i++) sum += cr_idmap_find(&m->feats, raw_feats[i]) >= 0 ? (w ? w[i] : 1.0) : 0.0;
    for (i = 0; i < n; i++) {
        int32_t f = cr_idmap_find(&m->feats, raw_feats[i]);
        if (f < 0) continue;
        cr_vaxpy(out, (float)((w ? w[i] : 1.0) / sum), fe + (int64_t)f * d, d);
        known++;
    }
    if (n_unknown) *n_unknown = n - known;
    if (!known) return cr__fail(CR_ERR_EMPTY, "none of the item's %d features is known to the model", n);
    if (m->cfg.attr_w > 0) {
        float nr = sqrtf(cr_vsumsq(out, d));
        if (nr > 0) cr_vscale(out, (float)(m->g.warm_len / nr), d);
    } else if (m->cfg.layers)
        cr_vscale(out, m->ops->first_layer ? 0.0f : 1.0f / (float)(m->cfg.layers + 1), d);
    return CR_OK;
}

CR_API cr_status cr_model_score_vectors(cr_model *m, int64_t raw_user, const float *V, int n, float *scores) {
    int32_t u;
    float *vec;
    int j;
    cr_status st;
    if (n < 0 || (n && (!V || !scores)))
        return cr__fail(CR_ERR_INVALID, "cr_model_score_vectors: %d vectors without arrays", n);
    if (m->ops->sequential)
        return cr__fail(CR_ERR_INVALID, "cr_model_score_vectors: a %s user is a history; score the items instead",
                        m->ops->name);
    if ((st = cr__user_vec(m, raw_user, &u, &vec)) != CR_OK) return st;
    for (j = 0; j < n; j++) scores[j] = cr_vdot(vec, V + (int64_t)j * m->cfg.dim, m->cfg.dim);
    cr__free_aligned(vec);
    return CR_OK;
}

CR_API cr_status cr_model_add_item(cr_model *m, int64_t raw_item, const int64_t *raw_feats, const float *w, int n,
                                   int *n_unknown) {
    int d = m->cfg.dim;
    int32_t at;
    cr_status st;
    if (n_unknown) *n_unknown = 0;
    if (raw_item < 0 || raw_item > 0xFFFFFFFFLL)
        return cr__fail(CR_ERR_INVALID, "cr_model_add_item: item id %lld is outside [0, 2^32)", (long long)raw_item);
    if (cr_idmap_find(&m->items, raw_item) >= 0 || cr_idmap_find(&m->added, raw_item) >= 0)
        return cr__fail(CR_ERR_INVALID, "cr_model_add_item: item %lld is one the model already has",
                        (long long)raw_item);
    if (!cr__grow((void **)&m->added_vec, &m->added_cap, ((int64_t)m->added.n + 1) * d, sizeof(float), "added items"))
        return CR_ERR_NOMEM;
    if (m->cfg.layers && m->ops->first_layer && !(m->cfg.attr_w > 0)) /* see cr_model_feature_vector: the zero vector */
        return cr__fail(CR_ERR_INVALID,
                        "cr_model_add_item: a %s model gives an item without edges a zero vector (its layer mean skips "
                        "the input); train it with the attribute-ID contrast (attr_w) to serve new items",
                        m->ops->name);
    if ((st = cr_model_feature_vector(m, raw_feats, w, n, m->added_vec + (int64_t)m->added.n * d, n_unknown)) != CR_OK)
        return st;
    return cr_idmap_add(&m->added, raw_item, &at);
}

CR_API int32_t cr_model_num_added_items(const cr_model *m) { return m->added.n; }

CR_API cr_status cr_recommend_items(cr_model *m, const int64_t *raw_items, int n_items, int k,
                                    int64_t *items, float *scores, int *n_out, int *n_unknown) {
    int32_t *ids;
    float *vec;
    int i, n = 0;
    cr_status st = CR_OK;
    *n_out = 0;
    if (n_unknown) *n_unknown = 0;
    if (k < 1 || k > m->n_items + m->added.n)
        return cr__fail(CR_ERR_INVALID, "k = %d is outside 1..%d (the number of items)", k, m->n_items + m->added.n);
    if (n_items < 0) return cr__fail(CR_ERR_INVALID, "negative item count %d", n_items);
    ids = (int32_t *)cr__alloc_array((size_t)n_items + 1, sizeof(int32_t), "fold-in");
    vec = cr_alloc_floats(m->cfg.dim);
    if (!ids || !vec) { CR_FREE(ids); cr__free_aligned(vec); return CR_ERR_NOMEM; }
    for (i = 0; i < n_items; i++) {
        int32_t it = cr_idmap_find(&m->items, raw_items[i]);
        if (it < 0) { if (n_unknown) (*n_unknown)++; continue; }
        ids[n++] = it;
    }
    if (n == 0) st = cr__fail(CR_ERR_INVALID, "none of the %d given items is known to the model", n_items);
    else {
        cr_model_prepare(m);
        st = m->ops->fold_in(m, ids, n, vec);
    }
    /* graph models leave the given items out of the result; a sequence may repeat an item */
    if (st == CR_OK) st = cr__recommend_vec(m, vec, ids, m->ops->sequential ? 0 : n, k, items, scores, n_out);
    CR_FREE(ids);
    cr__free_aligned(vec);
    return st;
}

/* ==== 11. I/O ================================================================================ */

#if (defined(__unix__) || defined(__APPLE__)) && !defined(CR_NO_FSYNC)
#include <unistd.h>
#if defined(_POSIX_VERSION)
#define CR__HAVE_FSYNC 1
#if defined(__GLIBC__) && !defined(__USE_POSIX) && !defined(__cplusplus)
extern int fileno(FILE *stream); /* hidden by glibc in strict ISO C modes, always there */
#endif
#endif
#endif

/* Little-endian writer with a running FNV-1a checksum. */
typedef struct cr__wr {
    FILE *f;
    uint64_t h;
    int err;
} cr__wr;

static void cr__wr_bytes(cr__wr *w, const void *p, size_t n) {
    if (!n) return; /* an empty array may be a NULL pointer */
    w->h = cr__fnv(w->h, p, n);
    if (!w->err && fwrite(p, 1, n, w->f) != n) w->err = 1;
}

/* v as nbytes (<= 8) little-endian bytes */
static void cr__wr_le(cr__wr *w, uint64_t v, int nbytes) {
    unsigned char b[8];
    int i;
    for (i = 0; i < nbytes; i++) b[i] = (unsigned char)(v >> (8 * i));
    cr__wr_bytes(w, b, (size_t)nbytes);
}
static void cr__wr_u64(cr__wr *w, uint64_t v) { cr__wr_le(w, v, 8); }
static void cr__wr_u32(cr__wr *w, uint32_t v) { cr__wr_le(w, v, 4); }

static int cr__little_endian(void) {
    uint32_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

/* Arrays of 4- or 8-byte little-endian values: written directly on little-endian hosts. */
static void cr__wr_array(cr__wr *w, const void *p, int64_t n, int size) {
    if (cr__little_endian()) { cr__wr_bytes(w, p, (size_t)n * (size_t)size); return; }
    {
        const unsigned char *b = (const unsigned char *)p;
        int64_t i;
        for (i = 0; i < n; i++) {
            uint64_t v = 0;
            int j;
            for (j = 0; j < size; j++) v |= (uint64_t)b[i * size + j] << (8 * (cr__little_endian() ? j : size - 1 - j));
            if (size == 8) cr__wr_u64(w, v);
            else cr__wr_u32(w, (uint32_t)v);
        }
    }
}

/* Atomic file writing (cr_out): the body goes to path.tmp, which is flushed, synced and renamed
   over path only when everything was written. */
#if defined(__unix__) || defined(__APPLE__)
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#define CR__HAVE_STAT 1
#elif defined(_WIN32)
#include <sys/types.h>
#include <sys/stat.h>
#endif

/* 1 if path names an existing folder (0 where that cannot be known) */
static int cr__is_dir(const char *path) {
#ifdef CR__HAVE_STAT
    struct stat s;
    return stat(path, &s) == 0 && S_ISDIR(s.st_mode);
#elif defined(_WIN32)
    struct _stat s;
    return _stat(path, &s) == 0 && (s.st_mode & _S_IFDIR) != 0;
#else
    (void)path;
    return 0;
#endif
}

/* The folder part of path ("." when it has none), malloc'd */
static char *cr__folder_of(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t n;
    char *d;
#ifdef _WIN32
    const char *bs = strrchr(path, '\\');
    if (bs && (!slash || bs > slash)) slash = bs;
#endif
    n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (!(d = (char *)cr__alloc_array(n + 1, 1, "file name"))) return NULL;
    if (!slash) d[0] = '.';
    else memcpy(d, path, n);
    d[n] = 0;
    return d;
}

/* what: the output (named in messages); dir: a folder that must exist and be writable */
static cr_status cr__check_folder(const char *what, const char *dir) {
#ifdef CR__HAVE_STAT
    struct stat s;
    const char *pre = what == dir ? "" : " ", *name = what == dir ? "" : dir; /* a folder output: named once */
    if (stat(dir, &s) != 0)
        return cr__fail(CR_ERR_IO, "%s: the folder%s%s %s", what, pre, name,
                        errno == ENOENT ? "does not exist" : strerror(errno));
    if (!S_ISDIR(s.st_mode)) return cr__fail(CR_ERR_IO, "%s:%s%s is not a folder", what, pre, name);
    { /* a file made and removed there: a read-only place is refused now, not after the training */
        size_t n = strlen(dir) + 40;
        char *probe = (char *)cr__alloc_array(n, 1, "file name");
        int fd, e;
        if (!probe) return CR_ERR_NOMEM;
        snprintf(probe, n, "%s/.contrarec-probe-%ld", dir, (long)getpid());
        fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600); /* never an existing file */
        e = errno;
        if (fd >= 0) { close(fd); remove(probe); }
        CR_FREE(probe);
        if (fd < 0 && e != EEXIST)
            return cr__fail(CR_ERR_IO, "%s: the folder%s%s cannot be written to: %s", what, pre, name, strerror(e));
    }
#elif defined(_WIN32)
    if (!cr__is_dir(dir)) return cr__fail(CR_ERR_IO, "%s: %s is not an existing folder", what, dir);
#else
    (void)what;
    (void)dir;
#endif
    return CR_OK;
}

CR_API cr_status cr_out_check(const char *path) {
    char *dir;
    cr_status st;
    if (!path || !*path) return cr__fail(CR_ERR_INVALID, "no output file name given");
    if (cr__is_dir(path)) return cr__fail(CR_ERR_IO, "%s: is a folder, not a file", path);
    if (!(dir = cr__folder_of(path))) return CR_ERR_NOMEM;
    st = cr__check_folder(path, dir);
    CR_FREE(dir);
    return st;
}

CR_API cr_status cr_out_check_dir(const char *dir) {
    if (!dir || !*dir) return cr__fail(CR_ERR_INVALID, "no output folder given");
    return cr__check_folder(dir, dir);
}

CR_API void cr_out_abort(cr_out *out) {
    if (out->f) fclose(out->f);
    if (out->tmp) remove(out->tmp);
    CR_FREE(out->tmp);
    CR_FREE(out->path);
    memset(out, 0, sizeof *out);
}

CR_API cr_status cr_out_open(cr_out *out, const char *path) {
    size_t n;
    memset(out, 0, sizeof *out);
    if (!path || !*path) return cr__fail(CR_ERR_INVALID, "no output file name given");
    if (cr__is_dir(path)) return cr__fail(CR_ERR_IO, "%s: is a folder, not a file", path);
#ifdef CONTRAREC_MPI
    if (cr_mpi_rank() != 0) { /* process 0 writes the files; the others write the same bytes nowhere */
#ifdef _WIN32
        out->f = fopen("NUL", "wb");
#else
        out->f = fopen("/dev/null", "wb");
#endif
        return out->f ? CR_OK : cr__fail(CR_ERR_IO, "%s: cannot open the null device: %s", path, strerror(errno));
    }
#endif
    n = strlen(path);
    out->path = (char *)cr__alloc_array(n + 1, 1, "file name");
    out->tmp = (char *)cr__alloc_array(n + 5, 1, "file name");
    if (!out->path || !out->tmp) { cr_out_abort(out); return CR_ERR_NOMEM; }
    memcpy(out->path, path, n + 1);
    memcpy(out->tmp, path, n);
    memcpy(out->tmp + n, ".tmp", 5);
    if (!(out->f = fopen(out->tmp, "wb"))) {
        cr_status st = cr__fail(CR_ERR_IO, "%s: cannot create: %s", out->tmp, strerror(errno));
        CR_FREE(out->tmp); /* nothing to remove: it was not created */
        out->tmp = NULL;
        cr_out_abort(out);
        return st;
    }
    return CR_OK;
}

/* cr_out_abort after a failure, with the message */
static cr_status cr__out_fail(cr_out *out, int e, const char *why) {
    cr_status st = cr__fail(CR_ERR_IO, "%s: %s: %s (nothing was replaced)", out->path, why, e ? strerror(e) : "error");
    cr_out_abort(out);
    return st;
}

CR_API cr_status cr_out_commit(cr_out *out) {
    int ok;
    if (!out->f) return cr__fail(CR_ERR_INVALID, "cr_out_commit: no open output");
    errno = 0;
    ok = !ferror(out->f) && fflush(out->f) == 0;
#ifdef CR__HAVE_FSYNC
    ok = ok && fsync(fileno(out->f)) == 0;
#endif
    ok = (fclose(out->f) == 0) && ok;
    out->f = NULL;
    if (!out->path) return CR_OK; /* the null device of an MPI process other than 0 */
    if (!ok) return cr__out_fail(out, errno, "write failed");
    if (cr__is_dir(out->path)) { /* made since cr_out_open: never replaced */
        cr_status st = cr__fail(CR_ERR_IO, "%s: is a folder, not a file (nothing was written)", out->path);
        cr_out_abort(out);
        return st;
    }
#ifdef _WIN32
    remove(out->path); /* rename does not replace there; a regular file (a folder was refused above) */
#endif
    if (rename(out->tmp, out->path) != 0) return cr__out_fail(out, errno, "cannot rename the finished file into place");
    CR_FREE(out->tmp);
    CR_FREE(out->path);
    memset(out, 0, sizeof *out);
    return CR_OK;
}

typedef void (*cr__body_fn)(cr__wr *w, const void *ctx);

static cr_status cr__write_atomic(const char *path, cr__body_fn body, const void *ctx) {
    cr_out out;
    cr__wr w;
    cr_status st = cr_out_open(&out, path);
    if (st != CR_OK) return st;
    w.f = out.f;
    w.h = CR__FNV0;
    w.err = 0;
    errno = 0;
    body(&w, ctx);
    if (w.err) return cr__out_fail(&out, errno, "write failed");
    return cr_out_commit(&out);
}

/* An item-feature table as checkpoints and dataset files hold it (read back by cr__ckpt_feats):
   the raw feature ids, then items x features. */
static void cr__wr_feats(cr__wr *w, const cr_idmap *ids, const cr_csr *x) {
    cr__wr_u32(w, (uint32_t)ids->n);
    cr__wr_array(w, ids->raw, ids->n, 8);
    cr__wr_u64(w, (uint64_t)x->nnz);
    cr__wr_array(w, x->rowptr, x->nrows + 1, 8);
    cr__wr_array(w, x->col, x->nnz, 4);
    cr__wr_array(w, x->val, x->nnz, 4);
}

#define CR__CKPT_MAGIC "CRRC"
#define CR__CKPT_VERSION 5u /* 5: options the model does not read saved as 0 (the option table);
                              4: the held-out records after the features; 3: item features after
                              the interactions when the configuration reads them; 2: the
                              configuration as (name, type, value) entries; 1: fixed order */

static void cr__ckpt_body(cr__wr *w, const void *ctx) {
    const cr_model *m = (const cr_model *)ctx;
    int i;
    cr__wr_bytes(w, CR__CKPT_MAGIC, 4);
    cr__wr_u32(w, CR__CKPT_VERSION);
    cr__wr_u32(w, (uint32_t)m->cfg.model);
    /* the configuration, from the field list: a reader skips nothing and guesses nothing */
    cr__wr_u32(w, (uint32_t)CR__N_CFG);
    for (i = 0; i < CR__N_CFG; i++) {
        const cr_option *f = &cr__options[i];
        unsigned char len = (unsigned char)strlen(f->name), type = (unsigned char)cr__opt_ckpt_type(f);
        uint64_t v = cr__cfg_get_bits(&m->cfg, f);
        cr__wr_bytes(w, &len, 1);
        cr__wr_bytes(w, f->name, len);
        cr__wr_bytes(w, &type, 1);
        if (f->type == CR_OPT_SEED) cr__wr_u64(w, v);
        else cr__wr_u32(w, (uint32_t)v);
    }
    cr__wr_u64(w, (uint64_t)m->step);
    /* id maps and the training interactions */
    cr__wr_u32(w, (uint32_t)m->n_users);
    cr__wr_u32(w, (uint32_t)m->n_items);
    cr__wr_array(w, m->users.raw, m->n_users, 8);
    cr__wr_array(w, m->items.raw, m->n_items, 8);
    cr__wr_u64(w, (uint64_t)m->hist.nnz);
    cr__wr_array(w, m->hist.rowptr, m->hist.nrows + 1, 8);
    cr__wr_array(w, m->hist.col, m->hist.nnz, 4);
    /* the feature map, so that the loaded model serves new items */
    if (cr__uses_features(&m->cfg)) cr__wr_feats(w, &m->feats, &m->ifeat);
    /* the held-out records: recorded or not, their count, then (if any) their rows */
    cr__wr_u32(w, (uint32_t)m->has_held);
    if (m->has_held) {
        cr__wr_u64(w, (uint64_t)m->held.nnz);
        if (m->held.nnz) {
            cr__wr_array(w, m->held.rowptr, m->held.nrows + 1, 8);
            cr__wr_array(w, m->held.col, m->held.nnz, 4);
        }
    }
    /* the tensor table, then the parameter block */
    cr__wr_u32(w, (uint32_t)m->n_tensors);
    for (i = 0; i < m->n_tensors; i++) {
        unsigned char len = (unsigned char)strlen(m->tensors[i].name);
        cr__wr_bytes(w, &len, 1);
        cr__wr_bytes(w, m->tensors[i].name, len);
        cr__wr_u64(w, (uint64_t)m->tensors[i].rows);
        cr__wr_u64(w, (uint64_t)m->tensors[i].cols);
        cr__wr_u64(w, (uint64_t)m->tensors[i].offset);
    }
    cr__wr_u64(w, (uint64_t)m->n_param);
    cr__wr_array(w, m->param, m->n_param, 4);
    cr__wr_u64(w, w->h); /* the checksum of everything above */
}

CR_API cr_status cr_model_save(const cr_model *m, const char *path) {
    return cr__write_atomic(path, cr__ckpt_body, m);
}

/* Bounds-checked little-endian reader over a file image. */
typedef struct cr__rd {
    const unsigned char *b;
    size_t n, pos;
    int bad;
    const char *what; /* the field being read when the data ran out */
} cr__rd;

static const unsigned char *cr__rd_take(cr__rd *r, size_t n, const char *what) {
    const unsigned char *p;
    if (r->bad || n > r->n - r->pos) {
        if (!r->bad) r->what = what;
        r->bad = 1;
        return NULL;
    }
    p = r->b + r->pos;
    r->pos += n;
    return p;
}
/* An unsigned little-endian value of nbytes (<= 8); 0 once the data has run out. */
static uint64_t cr__rd_le(cr__rd *r, int nbytes, const char *what) {
    const unsigned char *p = cr__rd_take(r, (size_t)nbytes, what);
    uint64_t v = 0;
    int i;
    if (p)
        for (i = 0; i < nbytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static uint64_t cr__rd_u64(cr__rd *r, const char *what) { return cr__rd_le(r, 8, what); }
static uint32_t cr__rd_u32(cr__rd *r, const char *what) { return (uint32_t)cr__rd_le(r, 4, what); }
static int cr__rd_array(cr__rd *r, void *dst, int64_t n, int size, const char *what) {
    const unsigned char *p;
    int64_t i;
    if (n < 0 || (uint64_t)n > (uint64_t)(r->n - r->pos) / (uint64_t)size) {
        if (!r->bad) r->what = what;
        r->bad = 1;
        return 0;
    }
    if (!(p = cr__rd_take(r, (size_t)n * (size_t)size, what))) return 0;
    if (cr__little_endian()) { memcpy(dst, p, (size_t)n * (size_t)size); return 1; }
    for (i = 0; i < n; i++) {
        unsigned char *d = (unsigned char *)dst + i * size;
        int j;
        for (j = 0; j < size; j++) d[j] = p[i * size + size - 1 - j];
    }
    return 1;
}

/* A string of up to 255 bytes (1-byte length) into name (cap >= 256 not needed: cap bytes). */
static int cr__rd_name(cr__rd *r, char *name, size_t cap, const char *what) {
    const unsigned char *lp = cr__rd_take(r, 1, what), *nm = lp ? cr__rd_take(r, *lp, what) : NULL;
    if (!nm) return 0;
    if (*lp >= cap) return -1;
    memcpy(name, nm, *lp);
    name[*lp] = 0;
    return 1;
}

/* The training state of cr_fit_opts.state_path: where a loop stands and everything it needs to
   go on as if it had never stopped. The model itself is rebuilt from the configuration and the
   data (the fingerprints check they are the same), then its blocks are overwritten. The
   selection metrics are stored as this build lays them out (their size is checked): a state
   file is for resuming with the same program, not for keeping. */
#define CR__STATE_MAGIC "CRTS"
#define CR__STATE_VERSION 4u /* 2: the last two evaluations and their count (the early stop);
                                 3: the contrast backoff's lambda and counts;
                                 4: each cr_metrics carries its evaluation's cost */
#define CR__STATE_HEAD 60 /* magic, version, phase, max_e, epoch, since, done, 4 fingerprints */

typedef struct cr__state_ctx {
    const cr_model *m;
    const cr__fit_state *fs;
} cr__state_ctx;

static uint64_t cr__f64_bits(double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
}
static double cr__bits_f64(uint64_t u) {
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static void cr__state_body(cr__wr *w, const void *ctx) {
    const cr__state_ctx *c = (const cr__state_ctx *)ctx;
    const cr_model *m = c->m;
    const cr__fit_state *fs = c->fs;
    const cr_fit_result *r = &fs->res;
    cr__running run[CR__MAX_LAYERS + 1];
    int nr = m->ops->running ? m->ops->running((cr_model *)m, run) : 0, i;
    uint32_t lr;
    cr__wr_bytes(w, CR__STATE_MAGIC, 4);
    cr__wr_u32(w, CR__STATE_VERSION);
    cr__wr_u32(w, fs->phase);
    cr__wr_u32(w, fs->max_e);
    cr__wr_u32(w, fs->epoch);
    cr__wr_u32(w, fs->since);
    cr__wr_u32(w, fs->done);
    for (i = 0; i < 4; i++) cr__wr_u64(w, fs->fp[i]);
    cr__wr_u64(w, cr__f64_bits(fs->best_v));
    cr__wr_u64(w, cr__f64_bits(fs->last[0]));
    cr__wr_u64(w, cr__f64_bits(fs->last[1]));
    cr__wr_u32(w, fs->n_eval);
    cr__wr_u64(w, (uint64_t)m->step);
    memcpy(&lr, &m->lr, 4);
    cr__wr_u32(w, lr);
    memcpy(&lr, &fs->lambda, 4);
    cr__wr_u32(w, lr);
    cr__wr_u32(w, fs->below);
    cr__wr_u32(w, fs->backoffs);
    memcpy(&lr, &fs->best_lambda, 4);
    cr__wr_u32(w, lr);
    cr__wr_u32(w, (uint32_t)r->best_epoch);
    cr__wr_u32(w, (uint32_t)r->epochs_run);
    cr__wr_u32(w, (uint32_t)r->stopped_early);
    cr__wr_u64(w, cr__f64_bits(r->best_value));
    cr__wr_u64(w, cr__f64_bits(r->train_seconds));
    cr__wr_u64(w, cr__f64_bits(r->eval_seconds));
    cr__wr_u32(w, (uint32_t)sizeof r->valid);
    cr__wr_bytes(w, &r->valid, sizeof r->valid);
    cr__wr_u64(w, (uint64_t)m->n_param);
    cr__wr_array(w, m->param, m->n_param, 4);
    cr__wr_array(w, m->adam_m, m->n_param, 4);
    cr__wr_array(w, m->adam_v, m->n_param, 4);
    cr__wr_u32(w, fs->best != NULL);
    if (fs->best) cr__wr_array(w, fs->best, m->n_param, 4);
    cr__wr_u32(w, (uint32_t)nr);
    for (i = 0; i < nr; i++) {
        cr__wr_u64(w, (uint64_t)run[i].n);
        cr__wr_array(w, run[i].p, run[i].n, 4);
    }
    cr__wr_u64(w, w->h); /* the checksum of everything above */
}

static cr_status cr__state_save(const char *path, const cr_model *m, const cr__fit_state *fs) {
    cr__state_ctx c;
    c.m = m;
    c.fs = fs;
    return cr__write_atomic(path, cr__state_body, &c);
}

/* The fixed head of a state file (*exists = 0 and CR_OK when there is no file). */
static cr_status cr__state_head(const unsigned char *b, size_t len, const char *path, cr__fit_state *fs) {
    cr__rd r;
    int i;
    memset(&r, 0, sizeof r);
    r.b = b;
    r.n = len;
    if (len < CR__STATE_HEAD || memcmp(b, CR__STATE_MAGIC, 4) != 0)
        return cr__fail(CR_ERR_FORMAT, "%s: not a contrarec training state (%s)", path,
                        len < CR__STATE_HEAD ? "too short" : "bad magic");
    r.pos = 4;
    if ((i = (int)cr__rd_u32(&r, "version")) != (int)CR__STATE_VERSION)
        return cr__fail(CR_ERR_FORMAT, "%s: training state version %d; this build reads version %u", path, i,
                        CR__STATE_VERSION);
    fs->phase = cr__rd_u32(&r, "phase");
    fs->max_e = cr__rd_u32(&r, "epochs");
    fs->epoch = cr__rd_u32(&r, "epoch");
    fs->since = cr__rd_u32(&r, "patience count");
    fs->done = cr__rd_u32(&r, "done");
    for (i = 0; i < 4; i++) fs->fp[i] = cr__rd_u64(&r, "fingerprint");
    if (fs->phase != CR_FIT_SELECT && fs->phase != CR_FIT_REFIT)
        return cr__fail(CR_ERR_FORMAT, "%s: unknown training phase %u", path, fs->phase);
    if (fs->max_e < 1 || fs->max_e > 1000000 || fs->epoch < 1 || fs->epoch > fs->max_e || fs->since > fs->max_e ||
        fs->done > 1)
        return cr__fail(CR_ERR_FORMAT, "%s: damaged training state (epoch %u of %u, patience count %u, done %u)", path,
                        fs->epoch, fs->max_e, fs->since, fs->done);
    return CR_OK;
}

static cr_status cr__state_peek(const char *path, cr__fit_state *fs, int *exists) {
    unsigned char b[CR__STATE_HEAD];
    size_t got;
    FILE *f = fopen(path, "rb");
    memset(fs, 0, sizeof *fs);
    *exists = 0;
    if (!f) {
        if (errno == ENOENT) return CR_OK;
        return cr__fail(CR_ERR_IO, "%s: cannot open the training state: %s", path, strerror(errno));
    }
    got = fread(b, 1, sizeof b, f);
    fclose(f);
    *exists = 1;
    return cr__state_head(b, got, path, fs);
}

/* Deserialised values are checked against what the run can hold, whatever a checksum says: an
   FNV checksum catches damage, not a file made to pass it. Each returns 0 and the first bad
   entry's index in *bad when an entry is NaN, Inf, or (nonneg) negative. */
static int cr__floats_ok(const float *x, int64_t n, int nonneg, int64_t *bad) {
    int64_t i;
    for (i = 0; i < n; i++)
        if (!(x[i] * 0.0f == 0.0f) || (nonneg && x[i] < 0)) { *bad = i; return 0; }
    return 1;
}

/* A cr_metrics read from a file: the cut-offs index fixed arrays, so their count and values
   are checked first; the rates lie in [0, 1], AUC and the optional figures in [-1, 1] or are
   finite, counts are not negative. Returns the first bad field's name, or NULL. */
static const char *cr__metrics_bad(const cr_metrics *m) {
    const double *rates[8];
    int i, j;
    if (m->n_k < 0 || m->n_k > CR_MAX_K) return "number of cut-offs";
    for (i = 0; i < m->n_k; i++)
        if (m->k[i] < 1 || (i && m->k[i] <= m->k[i - 1])) return "cut-offs"; /* a cut-off may pass the item count */
    rates[0] = m->recall; rates[1] = m->precision; rates[2] = m->ndcg; rates[3] = m->hit;
    rates[4] = m->hit_inter; rates[5] = m->mrr; rates[6] = m->pop_recall; rates[7] = m->pop_ndcg;
    for (j = 0; j < 8; j++)
        for (i = 0; i < m->n_k; i++)
            if (!(rates[j][i] >= 0 && rates[j][i] <= 1)) return "a metric at a cut-off";
    if (!(m->auc >= -1 && m->auc <= 1) || !(m->coverage >= 0 && m->coverage <= 1) ||
        !(m->cold_recall >= -1 && m->cold_recall <= 1) || !(m->tail_recall >= -1 && m->tail_recall <= 1))
        return "AUC, coverage, tail or cold recall";
    if (!isfinite(m->gini) || !isfinite(m->novelty) || !isfinite(m->alignment) || !isfinite(m->uniformity_users) ||
        !isfinite(m->uniformity_items) || !(m->seconds >= 0 && m->seconds < 1e12))
        return "Gini, novelty, alignment, uniformity or time";
    if (!(m->cost.seconds >= 0 && m->cost.seconds < 1e12) || !(m->cost.flops >= 0 && m->cost.flops < 1e30) ||
        !(m->cost.bytes >= 0 && m->cost.bytes < 1e30))
        return "evaluation cost";
    if (m->users < 0 || m->cold_users < 0 || m->cold_users > m->users || m->test_interactions < 0)
        return "user or interaction counts";
    for (i = 0; i < CR_GROUPS; i++)
        if (m->groups.item_count[i] < 0 || m->groups.user_count[i] < 0 || m->groups.user_max_degree[i] < 0 ||
            !isfinite(m->groups.item_contrib[i]) || !isfinite(m->groups.item_recall[i]) ||
            !isfinite(m->groups.item_exposure[i]) || !isfinite(m->groups.user_recall[i]) ||
            !isfinite(m->groups.user_ndcg[i]))
            return "group figures";
    for (i = 0; i < 4; i++)
        if (m->groups.ngcf_count[i] < 0 || m->groups.ngcf_max_degree[i] < 0 || !isfinite(m->groups.ngcf_recall[i]) ||
            !isfinite(m->groups.ngcf_ndcg[i]))
            return "sparsity group figures";
    {
        const double *b = &m->beyond.item_coverage; /* cr_beyond is doubles only */
        for (i = 0; i < (int)(sizeof m->beyond / sizeof(double)); i++)
            if (!isfinite(b[i])) return "beyond-accuracy figures";
    }
    return NULL;
}

/* The scalars of a state against the run: the epoch counts within the epochs done, a known stop
   reason, a selection value that a metric can take, times and a step count that can be. */
static const char *cr__state_scalars_bad(const cr__fit_state *f, const cr_model *m, int selecting) {
    const cr_fit_result *r = &f->res;
    const char *bad = cr__metrics_bad(&r->valid);
    if (bad) return bad;
    if (r->best_epoch < 0 || r->best_epoch > (int)f->epoch) return "best epoch";
    if (selecting && r->best_epoch && r->valid.n_k < 1) return "metrics of the best epoch";
    if (r->epochs_run < 0 || r->epochs_run > (int)f->epoch) return "epochs run";
    if (r->stopped_early < 0 || r->stopped_early > 2) return "stop reason";
    if (!(f->best_v >= -1 && f->best_v <= 1) || !(r->best_value >= -1 && r->best_value <= 1)) return "best value";
    if (!(f->last[0] >= -1 && f->last[0] <= 1) || !(f->last[1] >= -1 && f->last[1] <= 1)) return "last evaluation";
    if (f->n_eval > f->epoch || f->since > f->n_eval) return "evaluation count";
    if (!(r->train_seconds >= 0 && r->train_seconds < 1e12) || !(r->eval_seconds >= 0 && r->eval_seconds < 1e12))
        return "times";
    if (m->step < 0 || m->step > ((int64_t)1 << 53)) return "step count";
    if (!(m->lr > 0 && m->lr <= 1e6f)) return "learning rate";
    if (!(f->lambda >= 0 && f->lambda <= m->cfg.lambda) ||
        !(f->best_lambda >= f->lambda && f->best_lambda <= m->cfg.lambda) || f->backoffs > CR__BACKOFF_MAX ||
        f->below > f->n_eval)
        return "contrast backoff (lambda, counts)";
    return NULL;
}

/* Everything a state file put into the model and the loop, checked before any of it is used. */
static cr_status cr__state_check(const char *path, const cr_model *m, const cr__fit_state *fs, const cr__fit_state *f,
                                 const cr__running *run, int nr) {
    const char *what = cr__state_scalars_bad(f, m, fs->best != NULL);
    int64_t bad = 0;
    int i;
    if (what) return cr__fail(CR_ERR_FORMAT, "%s: damaged training state: its %s is out of range", path, what);
    if (!cr__floats_ok(m->param, m->n_param, 0, &bad) || !cr__floats_ok(m->adam_m, m->n_param, 0, &bad) ||
        !cr__floats_ok(m->adam_v, m->n_param, 1, &bad) || (fs->best && !cr__floats_ok(fs->best, m->n_param, 0, &bad)))
        return cr__fail(CR_ERR_FORMAT,
                        "%s: damaged training state: parameter %lld (or its Adam moments or best value) is NaN, Inf or "
                        "negative where it cannot be",
                        path, (long long)bad);
    for (i = 0; i < nr; i++)
        if (run[i].flag ? (*(const int32_t *)run[i].p & ~1) != 0
                        : !cr__floats_ok((const float *)run[i].p, run[i].n, 0, &bad))
            return cr__fail(CR_ERR_FORMAT,
                            "%s: damaged training state: running state %d, entry %lld is NaN, Inf or not a flag", path,
                            i + 1, (long long)bad);
    return CR_OK;
}

/* Reads the state into the model (built from the same configuration and data) and into fs,
   whose phase, max_e and fingerprints say what the file must match. */
static cr_status cr__state_load(const char *path, cr_model *m, cr__fit_state *fs) {
    static const char *const part[4] = {
        "configuration (model, settings or parameter count)",
        "training options (epochs, patience, selection, evaluation cut-offs, noise, hold-outs)",
        "training data (records after the validation carve, noise and hold-outs, or the item features)",
        "selection data"};
    cr__fit_state f;
    cr__running run[CR__MAX_LAYERS + 1];
    char *buf = NULL;
    size_t len = 0;
    uint64_t h, stored = 0;
    uint32_t lr, n;
    cr__rd r;
    int nr, i;
    cr_status st;
    memset(run, 0, sizeof run);
    if ((st = cr__read_file(path, &buf, &len)) != CR_OK) return st;
    if ((st = cr__state_head((const unsigned char *)buf, len, path, &f)) != CR_OK) goto done;
    h = cr__fnv(CR__FNV0, buf, len - 8);
    for (i = 0; i < 8; i++) stored |= (uint64_t)(unsigned char)buf[len - 8 + i] << (8 * i);
    if (stored != h) {
        st = cr__fail(CR_ERR_FORMAT, "%s: checksum mismatch: the training state is corrupted or truncated", path);
        goto done;
    }
    if (f.phase != fs->phase || f.max_e != fs->max_e) {
        st = cr__fail(CR_ERR_INVALID,
                      "%s: the training state is of the %s phase of %u epochs, not the %s phase of %u epochs asked for",
                      path, f.phase == CR_FIT_REFIT ? "refit" : "selection", f.max_e,
                      fs->phase == CR_FIT_REFIT ? "refit" : "selection", fs->max_e);
        goto done;
    }
    for (i = 0; i < 4; i++)
        if (f.fp[i] != fs->fp[i]) {
            st = cr__fail(CR_ERR_INVALID,
                          "%s: the training state was written with other %s; resume with the same ones, or remove the "
                          "file to start afresh",
                          path, part[i]);
            goto done;
        }
    memset(&r, 0, sizeof r);
    r.b = (const unsigned char *)buf;
    r.n = len - 8;
    r.pos = CR__STATE_HEAD;
    f.best_v = cr__bits_f64(cr__rd_u64(&r, "best value"));
    f.last[0] = cr__bits_f64(cr__rd_u64(&r, "last evaluation"));
    f.last[1] = cr__bits_f64(cr__rd_u64(&r, "last evaluation"));
    f.n_eval = cr__rd_u32(&r, "evaluation count");
    m->step = (int64_t)cr__rd_u64(&r, "step");
    lr = cr__rd_u32(&r, "learning rate");
    memcpy(&m->lr, &lr, 4);
    lr = cr__rd_u32(&r, "contrastive weight");
    memcpy(&f.lambda, &lr, 4);
    f.below = cr__rd_u32(&r, "backoff count");
    f.backoffs = cr__rd_u32(&r, "backoffs");
    lr = cr__rd_u32(&r, "contrastive weight of the best epoch");
    memcpy(&f.best_lambda, &lr, 4);
    f.res.best_epoch = (int)cr__rd_u32(&r, "best epoch");
    f.res.epochs_run = (int)cr__rd_u32(&r, "epochs run");
    f.res.stopped_early = (int)cr__rd_u32(&r, "stop");
    f.res.best_value = cr__bits_f64(cr__rd_u64(&r, "best value"));
    f.res.train_seconds = cr__bits_f64(cr__rd_u64(&r, "training time"));
    f.res.eval_seconds = cr__bits_f64(cr__rd_u64(&r, "evaluation time"));
    if ((n = cr__rd_u32(&r, "metrics size")) != (uint32_t)sizeof f.res.valid && !r.bad) {
        st =
            cr__fail(CR_ERR_FORMAT, "%s: the training state was written by another build (metrics of %u bytes, not %u)",
                     path, n, (unsigned)sizeof f.res.valid);
        goto done;
    }
    if (cr__rd_array(&r, &f.res.valid, (int64_t)sizeof f.res.valid, 1, "metrics") &&
        cr__rd_u64(&r, "parameter count") != (uint64_t)m->n_param && !r.bad) {
        st = cr__fail(CR_ERR_FORMAT, "%s: the parameter count differs from the model's %lld", path,
                      (long long)m->n_param);
        goto done;
    }
    cr__rd_array(&r, m->param, m->n_param, 4, "parameters");
    cr__rd_array(&r, m->adam_m, m->n_param, 4, "Adam's first moments");
    cr__rd_array(&r, m->adam_v, m->n_param, 4, "Adam's second moments");
    if (cr__rd_u32(&r, "best flag") != (fs->best != NULL) && !r.bad) {
        st = cr__fail(CR_ERR_FORMAT, "%s: the best parameters are %s", path, fs->best ? "missing" : "unexpected");
        goto done;
    }
    if (fs->best) cr__rd_array(&r, fs->best, m->n_param, 4, "best parameters");
    if ((st = cr__train_ws(m)) != CR_OK) goto done; /* the running state lives in the workspace */
    nr = m->ops->running ? m->ops->running(m, run) : 0;
    if (cr__rd_u32(&r, "running state count") != (uint32_t)nr && !r.bad) {
        st = cr__fail(CR_ERR_FORMAT, "%s: the model's running state does not match", path);
        goto done;
    }
    for (i = 0; i < nr && !r.bad; i++) {
        if (cr__rd_u64(&r, "running state size") != (uint64_t)run[i].n && !r.bad) {
            st = cr__fail(CR_ERR_FORMAT, "%s: running state %d has another size", path, i + 1);
            goto done;
        }
        cr__rd_array(&r, run[i].p, run[i].n, 4, "running state");
    }
    if (r.bad) { st = cr__fail(CR_ERR_FORMAT, "%s: truncated at %s", path, r.what ? r.what : "?"); goto done; }
    if (r.pos != r.n) {
        st = cr__fail(CR_ERR_FORMAT, "%s: %lld bytes after the training state", path, (long long)(r.n - r.pos));
        goto done;
    }
    if ((st = cr__state_check(path, m, fs, &f, run, nr)) != CR_OK) goto done;
    fs->epoch = f.epoch;
    fs->since = f.since;
    fs->done = f.done;
    fs->best_v = f.best_v;
    fs->last[0] = f.last[0];
    fs->last[1] = f.last[1];
    fs->n_eval = f.n_eval;
    fs->below = f.below;
    fs->backoffs = f.backoffs;
    fs->lambda = m->cfg.lambda = f.lambda;
    fs->best_lambda = f.best_lambda;
    fs->res = f.res;
    m->ready = 0;
done:
    CR_FREE(buf);
    return st;
}

/* The configuration part of a checkpoint (version 1: the first CR__CFG_V1 fields in list
   order; version 2: named, typed entries), then the resolved configuration. */
static cr_status cr__ckpt_config(cr__rd *r, uint32_t version, const char *path, cr_config *c) {
    int i, n;
    const cr__model_ops *o;
    memset(c, 0, sizeof *c);
    c->model = (cr_model_kind)cr__rd_u32(r, "model kind");
    if (version == 1) {
        for (i = 0; i < CR__CFG_V1; i++) {
            const cr_option *f = &cr__options[i];
            cr__cfg_set_bits(c, f, f->type == CR_OPT_SEED ? cr__rd_u64(r, f->name) : cr__rd_u32(r, f->name));
        }
    } else {
        n = (int)cr__rd_u32(r, "configuration field count");
        if (!r->bad && (n < 1 || n > 4096))
            return cr__fail(CR_ERR_FORMAT, "%s: bad configuration field count %d", path, n);
        for (i = 0; i < n && !r->bad; i++) {
            char name[64];
            const unsigned char *tp;
            int k, got = cr__rd_name(r, name, sizeof name, "configuration field name");
            if (got < 0) return cr__fail(CR_ERR_FORMAT, "%s: configuration field %d has an overlong name", path, i);
            if (!got || !(tp = cr__rd_take(r, 1, "configuration field type"))) break;
            for (k = 0; k < CR__N_CFG && strcmp(cr__options[k].name, name) != 0; k++) {}
            if (k == CR__N_CFG)
                return cr__fail(CR_ERR_FORMAT, "%s: unknown configuration field '%s' (written by a newer version?)",
                                path, name);
            if (*tp != cr__opt_ckpt_type(&cr__options[k]))
                return cr__fail(CR_ERR_FORMAT, "%s: configuration field '%s' has type %d, expected %d", path, name, *tp,
                                cr__opt_ckpt_type(&cr__options[k]));
            /* the reader keeps the label for its messages: the table's name outlives this loop */
            cr__cfg_set_bits(c, &cr__options[k],
                             *tp == CR__T_U64 ? cr__rd_u64(r, cr__options[k].name)
                                              : cr__rd_u32(r, cr__options[k].name));
        }
    }
    if (r->bad) return cr__fail(CR_ERR_FORMAT, "%s: truncated in the header (at %s)", path, r->what);
    /* a value of 0 would mean "default" to cr_config_resolve: a saved config has none */
    if (!(o = cr__ops_of((int)c->model)))
        return cr__fail(CR_ERR_FORMAT, "%s: unknown model kind %d", path, (int)c->model);
    for (i = 0; i < CR__N_CFG; i++) { /* what the model does not read is left out (older files saved every field) */
        const cr_option *f = &cr__options[i];
        if (!cr__reads(f, c->model)) cr__opt_put(c, f, 0);
        else if (i < CR__CFG_V1 && f->off == 0 && cr__opt_get(c, f) == 0 && !cr__opt_in_range(f, 0))
            return cr__fail(CR_ERR_FORMAT, "%s: the saved configuration is incomplete (no %s)", path, f->name);
    }
    if (cr_config_resolve(c) != CR_OK)
        return cr__fail(CR_ERR_FORMAT, "%s: invalid saved configuration: %s", path, cr_last_error());
    return CR_OK;
}

/* The two id maps: nu user and ni item raw ids, each in [0, 2^32) and unique. */
static cr_status cr__ckpt_ids(cr__rd *r, const char *path, int32_t nu, int32_t ni, cr_idmap *users, cr_idmap *items) {
    int64_t *raw;
    int pass;
    cr_status st = CR_OK;
    if (nu < 1 || ni < 2 || (uint64_t)nu + (uint64_t)ni > (uint64_t)(r->n - r->pos) / 8)
        return cr__fail(CR_ERR_FORMAT, "%s: bad sizes (%d users, %d items) for a file of %zu bytes", path, nu, ni,
                        r->n + 8);
    if (!(raw = (int64_t *)cr__alloc_array((size_t)CR__MAX(nu, ni), sizeof(int64_t), "checkpoint ids")))
        return CR_ERR_NOMEM;
    for (pass = 0; pass < 2 && st == CR_OK; pass++) {
        cr_idmap *mp = pass ? items : users;
        int32_t n = pass ? ni : nu, k, dd;
        if (!cr__rd_array(r, raw, n, 8, pass ? "item ids" : "user ids")) {
            st = cr__fail(CR_ERR_FORMAT, "%s: truncated (at %s)", path, r->what);
            break;
        }
        for (k = 0; k < n && st == CR_OK; k++) {
            if (raw[k] < 0 || raw[k] > 0xFFFFFFFFLL || cr_idmap_find(mp, raw[k]) >= 0)
                st = cr__fail(CR_ERR_FORMAT, "%s: bad or repeated %s id %lld", path, pass ? "item" : "user",
                              (long long)raw[k]);
            else st = cr_idmap_add(mp, raw[k], &dd);
        }
    }
    CR_FREE(raw);
    return st;
}

/* The training interactions: row pointers monotone within [0, nnz] before any row is read,
   item ids in range (sorted and unique for graph models). */
static cr_status cr__ckpt_rows(cr__rd *r, const char *path, int32_t nu, int32_t ni, int seq, int64_t nnz,
                               cr_csr *hist) {
    int64_t u, p;
    cr_status st;
    if ((st = cr__csr_alloc(hist, nu, ni, nnz, 0)) != CR_OK) return st;
    if (!cr__rd_array(r, hist->rowptr, (int64_t)nu + 1, 8, "row pointers") ||
        !cr__rd_array(r, hist->col, nnz, 4, "interactions"))
        return cr__fail(CR_ERR_FORMAT, "%s: truncated (at %s)", path, r->what);
    if (hist->rowptr[0] != 0 || hist->rowptr[nu] != nnz)
        return cr__fail(CR_ERR_FORMAT, "%s: inconsistent interaction table", path);
    for (u = 0; u < nu; u++)
        if (hist->rowptr[u + 1] < hist->rowptr[u] || hist->rowptr[u + 1] > nnz)
            return cr__fail(CR_ERR_FORMAT, "%s: inconsistent interaction table at user %lld", path, (long long)u);
    for (u = 0; u < nu; u++)
        for (p = hist->rowptr[u]; p < hist->rowptr[u + 1]; p++)
            if (hist->col[p] < 0 || hist->col[p] >= ni ||
                (!seq && p > hist->rowptr[u] && hist->col[p] <= hist->col[p - 1]))
                return cr__fail(CR_ERR_FORMAT, "%s: bad item %d in the interaction table", path, hist->col[p]);
    return CR_OK;
}
static cr_status cr__ckpt_hist(cr__rd *r, const char *path, int32_t nu, int32_t ni, int seq, cr_csr *hist) {
    int64_t nnz = (int64_t)cr__rd_u64(r, "interaction count");
    if (r->bad || nnz < 1 || (uint64_t)nnz > (uint64_t)r->n / 4)
        return cr__fail(CR_ERR_FORMAT, "%s: bad interaction count", path);
    return cr__ckpt_rows(r, path, nu, ni, seq, nnz, hist);
}

/* The held-out records (version 4): a flag (0: not recorded, 1: recorded), then if recorded a
   count (may be 0) and that many records laid out and checked as the training interactions. */
static cr_status cr__ckpt_held(cr__rd *r, const char *path, int32_t nu, int32_t ni, int seq, cr_csr *held, int *has) {
    uint32_t flag = cr__rd_u32(r, "held-out flag");
    int64_t nnz;
    if (r->bad || flag > 1) return cr__fail(CR_ERR_FORMAT, "%s: bad held-out flag", path);
    *has = (int)flag;
    if (!flag) return CR_OK;
    nnz = (int64_t)cr__rd_u64(r, "held-out count");
    if (r->bad || nnz < 0 || (uint64_t)nnz > (uint64_t)r->n / 4)
        return cr__fail(CR_ERR_FORMAT, "%s: bad held-out count", path);
    return nnz ? cr__ckpt_rows(r, path, nu, ni, seq, nnz, held) : CR_OK;
}

/* The item features of a model that reads them: the raw feature ids (unique, in [0, 2^32)),
   then items x features with row pointers monotone, sorted unique columns in range and
   weights in (0, wmax] (a model's are normalised to 1 at most; a dataset's are as given). */
static cr_status cr__ckpt_feats(cr__rd *r, const char *path, int32_t ni, cr_csr *x, cr_idmap *ids, float wmax) {
    int64_t nf = (int64_t)cr__rd_u32(r, "feature count"), nnz, k, p, *raw;
    int32_t dd;
    cr_status st = CR_OK;
    if (r->bad || nf < 1 || nf > INT32_MAX || (uint64_t)nf > (uint64_t)(r->n - r->pos) / 8)
        return cr__fail(CR_ERR_FORMAT, "%s: bad feature count", path);
    if (!(raw = (int64_t *)cr__alloc_array((size_t)nf, sizeof(int64_t), "checkpoint feature ids"))) return CR_ERR_NOMEM;
    if (!cr__rd_array(r, raw, nf, 8, "feature ids"))
        st = cr__fail(CR_ERR_FORMAT, "%s: truncated (at %s)", path, r->what);
    for (k = 0; k < nf && st == CR_OK; k++) {
        if (raw[k] < 0 || raw[k] > 0xFFFFFFFFLL || cr_idmap_find(ids, raw[k]) >= 0)
            st = cr__fail(CR_ERR_FORMAT, "%s: bad or repeated feature id %lld", path, (long long)raw[k]);
        else st = cr_idmap_add(ids, raw[k], &dd);
    }
    CR_FREE(raw);
    if (st != CR_OK) return st;
    nnz = (int64_t)cr__rd_u64(r, "feature entry count");
    if (r->bad || nnz < 0 || (uint64_t)nnz > (uint64_t)r->n / 8)
        return cr__fail(CR_ERR_FORMAT, "%s: bad feature entry count", path);
    if ((st = cr__csr_alloc(x, ni, nf, nnz, 1)) != CR_OK) return st;
    if (!cr__rd_array(r, x->rowptr, (int64_t)ni + 1, 8, "feature rows") ||
        !cr__rd_array(r, x->col, nnz, 4, "feature columns") || !cr__rd_array(r, x->val, nnz, 4, "feature weights"))
        return cr__fail(CR_ERR_FORMAT, "%s: truncated (at %s)", path, r->what);
    if (x->rowptr[0] != 0 || x->rowptr[ni] != nnz)
        return cr__fail(CR_ERR_FORMAT, "%s: inconsistent feature table", path);
    for (k = 0; k < ni; k++)
        if (x->rowptr[k + 1] < x->rowptr[k] || x->rowptr[k + 1] > nnz)
            return cr__fail(CR_ERR_FORMAT, "%s: inconsistent feature table at item %lld", path, (long long)k);
    for (k = 0; k < ni; k++)
        for (p = x->rowptr[k]; p < x->rowptr[k + 1]; p++)
            if (x->col[p] < 0 || x->col[p] >= nf || (p > x->rowptr[k] && x->col[p] <= x->col[p - 1]) ||
                !(x->val[p] > 0 && x->val[p] <= wmax))
                return cr__fail(CR_ERR_FORMAT, "%s: bad feature entry %lld of item %lld", path,
                                (long long)(p - x->rowptr[k]), (long long)k);
    return CR_OK;
}

/* The tensor table and the parameter count, checked against the bytes that follow before
   anything is allocated for them. */
static cr_status cr__ckpt_tensors(cr__rd *r, const char *path, cr__ptensor *table, uint32_t *ntens, int64_t *nparam) {
    uint32_t i;
    *ntens = cr__rd_u32(r, "tensor count");
    if (r->bad || *ntens < 1 || *ntens > CR__MAX_TENSORS)
        return cr__fail(CR_ERR_FORMAT, "%s: bad tensor count %u", path, *ntens);
    for (i = 0; i < *ntens; i++) {
        cr__ptensor *t = &table[i];
        int got = cr__rd_name(r, t->name, sizeof t->name, "tensor name");
        if (got < 0) return cr__fail(CR_ERR_FORMAT, "%s: tensor %u has an overlong name", path, i);
        t->rows = (int64_t)cr__rd_u64(r, "tensor shape");
        t->cols = (int64_t)cr__rd_u64(r, "tensor shape");
        t->offset = (int64_t)cr__rd_u64(r, "tensor offset");
        if (r->bad) return cr__fail(CR_ERR_FORMAT, "%s: truncated (at %s)", path, r->what);
    }
    *nparam = (int64_t)cr__rd_u64(r, "parameter count");
    if (r->bad || *nparam < 0 || (uint64_t)*nparam != (uint64_t)(r->n - r->pos) / 4 || (r->n - r->pos) % 4)
        return cr__fail(CR_ERR_FORMAT, "%s: declares %lld parameters but holds %zu bytes of them", path,
                        (long long)*nparam, r->bad ? (size_t)0 : r->n - r->pos);
    return CR_OK;
}

/* ---- dataset files (cr_dataset_save): "CRDS", version, the format the records were read in,
   the id maps, train / valid / test (count, rating and time flags, users, items, ratings,
   times), the test records dropped as training pairs, the item features (a flag, then as in a
   checkpoint), the checksum ---- */

#define CR__DS_MAGIC "CRDS"
#define CR__DS_VERSION 1u

static void cr__ds_wr_records(cr__wr *w, const cr_interactions *x) {
    cr__wr_u64(w, (uint64_t)x->n);
    cr__wr_u32(w, (uint32_t)(x->has_rating != 0));
    cr__wr_u32(w, (uint32_t)(x->has_time != 0));
    cr__wr_array(w, x->user, x->n, 4);
    cr__wr_array(w, x->item, x->n, 4);
    if (x->has_rating) cr__wr_array(w, x->rating, x->n, 4);
    if (x->has_time) cr__wr_array(w, x->time, x->n, 8);
}

static void cr__ds_body(cr__wr *w, const void *ctx) {
    const cr_dataset *ds = (const cr_dataset *)ctx;
    const cr_item_features *f = &ds->features;
    cr__wr_bytes(w, CR__DS_MAGIC, 4);
    cr__wr_u32(w, CR__DS_VERSION);
    cr__wr_u32(w, (uint32_t)ds->train_report.format);
    cr__wr_u32(w, (uint32_t)ds->n_users);
    cr__wr_u32(w, (uint32_t)ds->n_items);
    cr__wr_array(w, ds->users.raw, ds->n_users, 8);
    cr__wr_array(w, ds->items.raw, ds->n_items, 8);
    cr__ds_wr_records(w, &ds->train);
    cr__ds_wr_records(w, &ds->valid);
    cr__ds_wr_records(w, &ds->test);
    cr__wr_u64(w, (uint64_t)ds->test_overlap);
    cr__wr_u32(w, (uint32_t)(f->x.nrows > 0));
    if (f->x.nrows > 0) cr__wr_feats(w, &f->feats, &f->x);
    cr__wr_u64(w, w->h);
}

/* Checked before anything is written: what the reader will insist on. */
static cr_status cr__ds_check(const cr_dataset *ds, const char *path) {
    static const char *const what[3] = {"training", "validation", "test"};
    const cr_item_features *f = &ds->features;
    const cr_interactions *sets[3];
    int k;
    int64_t e;
    sets[0] = &ds->train;
    sets[1] = &ds->valid;
    sets[2] = &ds->test;
    if (ds->n_users < 1 || ds->n_items < 2 || ds->users.n != ds->n_users || ds->items.n != ds->n_items ||
        ds->train.n < 1)
        return cr__fail(CR_ERR_INVALID, "%s: not a dataset to save (%d users, %d items, %lld training records)", path,
                        ds->n_users, ds->n_items, (long long)ds->train.n);
    if ((unsigned)ds->train_report.format >= CR_FORMAT_COUNT)
        return cr__fail(CR_ERR_INVALID, "%s: unknown format %d", path, (int)ds->train_report.format);
    if (f->x.nrows > 0 && (f->x.nrows != ds->n_items || f->feats.n < 1 || !f->x.val))
        return cr__fail(CR_ERR_INVALID, "%s: item features of %lld rows for %d items", path, (long long)f->x.nrows,
                        ds->n_items);
    for (k = 0; k < 3; k++)
        for (e = 0; e < sets[k]->n; e++) {
            const cr_interactions *x = sets[k];
            if (x->user[e] < 0 || x->user[e] >= ds->n_users || x->item[e] < 0 || x->item[e] >= ds->n_items ||
                (x->has_rating && !isfinite(x->rating[e])) || (x->has_time && isinf(x->time[e])))
                return cr__fail(CR_ERR_INVALID,
                                "%s: record %lld of the %s set has ids outside the maps or a rating "
                                "or time that is not finite",
                                path, (long long)e, what[k]);
        }
    return CR_OK;
}

CR_API cr_status cr_dataset_save(const cr_dataset *ds, const char *path) {
    cr_status st = cr__ds_check(ds, path ? path : "(no path)");
    return st != CR_OK ? st : cr__write_atomic(path, cr__ds_body, ds);
}

/* One record set: count and flags checked against the bytes left before anything is allocated,
   ids in range, ratings finite, times finite or NaN (none). */
static cr_status cr__ds_rd_records(cr__rd *r, const char *path, const char *what, int32_t nu, int32_t ni,
                                   cr_interactions *x) {
    int64_t n = (int64_t)cr__rd_u64(r, what), e;
    uint32_t hr = cr__rd_u32(r, what), ht = cr__rd_u32(r, what);
    size_t per = 8 + (hr ? 4 : 0) + (ht ? 8 : 0);
    if (r->bad || hr > 1 || ht > 1 || n < 0 || (uint64_t)n > (uint64_t)(r->n - r->pos) / per)
        return cr__fail(CR_ERR_FORMAT, "%s: bad count or flags of the %s records", path, what);
    x->user = (int32_t *)cr__alloc_array((size_t)n + 1, sizeof(int32_t), "dataset records");
    x->item = (int32_t *)cr__alloc_array((size_t)n + 1, sizeof(int32_t), "dataset records");
    x->rating = (float *)cr__alloc_array((size_t)n + 1, sizeof(float), "dataset records");
    x->time = (double *)cr__alloc_array((size_t)n + 1, sizeof(double), "dataset records");
    if (!x->user || !x->item || !x->rating || !x->time) return CR_ERR_NOMEM;
    x->cap = n + 1;
    if (!cr__rd_array(r, x->user, n, 4, what) || !cr__rd_array(r, x->item, n, 4, what) ||
        (hr && !cr__rd_array(r, x->rating, n, 4, what)) || (ht && !cr__rd_array(r, x->time, n, 8, what)))
        return cr__fail(CR_ERR_FORMAT, "%s: truncated (at the %s records)", path, what);
    x->n = n;
    x->has_rating = (int)hr;
    x->has_time = (int)ht;
    for (e = 0; e < n; e++) {
        if (!hr) x->rating[e] = 1.0f;
        if (!ht) x->time[e] = (double)e; /* as the text loaders: the record's position */
        if (x->user[e] < 0 || x->user[e] >= nu || x->item[e] < 0 || x->item[e] >= ni || !isfinite(x->rating[e]) ||
            isinf(x->time[e]))
            return cr__fail(CR_ERR_FORMAT, "%s: %s record %lld: user %d, item %d or its rating or time is out of range",
                            path, what, (long long)e, x->user[e], x->item[e]);
    }
    return CR_OK;
}

static cr_status cr__ds_rd_body(cr__rd *r, const char *path, cr_dataset *ds) {
    uint32_t fmt = cr__rd_u32(r, "format"), hasf;
    int32_t nu = (int32_t)cr__rd_u32(r, "user count"), ni = (int32_t)cr__rd_u32(r, "item count");
    int64_t e;
    cr_status st;
    if (r->bad || fmt >= CR_FORMAT_COUNT) /* CR_FORMAT_AUTO: made in memory (cr_dataset_synthetic) */
        return cr__fail(CR_ERR_FORMAT, "%s: bad format field", path);
    if ((st = cr__ckpt_ids(r, path, nu, ni, &ds->users, &ds->items)) != CR_OK) return st;
    ds->n_users = nu;
    ds->n_items = ni;
    if ((st = cr__ds_rd_records(r, path, "training", nu, ni, &ds->train)) != CR_OK ||
        (st = cr__ds_rd_records(r, path, "validation", nu, ni, &ds->valid)) != CR_OK ||
        (st = cr__ds_rd_records(r, path, "test", nu, ni, &ds->test)) != CR_OK)
        return st;
    if (ds->train.n < 1) return cr__fail(CR_ERR_FORMAT, "%s: no training records", path);
    ds->test_overlap = (int64_t)cr__rd_u64(r, "overlap count");
    hasf = cr__rd_u32(r, "feature flag");
    if (r->bad || ds->test_overlap < 0 || hasf > 1)
        return cr__fail(CR_ERR_FORMAT, "%s: bad overlap count or feature flag", path);
    if (hasf) {
        if ((st = cr__ckpt_feats(r, path, ni, &ds->features.x, &ds->features.feats, FLT_MAX)) != CR_OK) return st;
        for (e = 0; e < ni; e++) ds->features.items_with += ds->features.x.rowptr[e + 1] > ds->features.x.rowptr[e];
    }
    if (r->pos != r->n) return cr__fail(CR_ERR_FORMAT, "%s: %zu bytes after the dataset", path, r->n - r->pos);
    ds->train_report.format = ds->test_report.format = (cr_format)fmt;
    ds->train_report.detected = 1;
    ds->train_report.records = ds->train.n;
    ds->test_report.records = ds->test.n;
    return CR_OK;
}

/* A dataset file's image (len bytes; name for messages) into ds, every field checked. */
static cr_status cr__dataset_load_mem(cr_dataset *ds, const unsigned char *buf, size_t len, const char *name) {
    uint64_t stored = 0;
    uint32_t v;
    cr__rd r;
    cr_status st;
    int i;
    memset(ds, 0, sizeof *ds);
    if (len < 8 + 8 + 12 || memcmp(buf, CR__DS_MAGIC, 4))
        return cr__fail(CR_ERR_FORMAT, "%s: truncated: not a whole dataset file", name);
    for (i = 0; i < 8; i++) stored |= (uint64_t)buf[len - 8 + i] << (8 * i);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION /* fuzzers must get past the checksum */
    if (stored != cr__fnv(CR__FNV0, buf, len - 8))
        return cr__fail(CR_ERR_FORMAT, "%s: checksum mismatch: the dataset file is corrupted or truncated", name);
#endif
    memset(&r, 0, sizeof r);
    r.b = buf;
    r.n = len - 8;
    r.pos = 4;
    v = cr__rd_u32(&r, "version");
    if (v != CR__DS_VERSION)
        return cr__fail(CR_ERR_FORMAT, "%s: dataset file version %u; this library reads version %u", name, v,
                        CR__DS_VERSION);
    if ((st = cr__ds_rd_body(&r, name, ds)) != CR_OK) cr_dataset_free(ds);
    return st;
}

CR_API cr_status cr_model_load(cr_model **out, const char *path, const cr_config *expect) {
    char *buf = NULL;
    size_t len = 0;
    cr_status st;
    *out = NULL;
    if ((st = cr__read_file(path, &buf, &len)) != CR_OK) return st;
    st = cr_model_load_mem(out, buf, len, path, expect);
    CR_FREE(buf);
    return st;
}

CR_API cr_status cr_model_load_mem(cr_model **out, const void *data, size_t len, const char *path,
                                   const cr_config *expect) {
    const unsigned char *buf = (const unsigned char *)data;
    cr__rd r;
    cr_config c;
    cr_idmap users, items, feats;
    cr_csr hist, fx, held;
    cr_model *m = NULL;
    int has_held = 0;
    uint32_t version, ntens = 0, i;
    cr__ptensor table[CR__MAX_TENSORS];
    int32_t nu, ni;
    int64_t nparam = 0, step, p;
    uint64_t h, stored = 0;
    cr_status st;
    *out = NULL;
    memset(&users, 0, sizeof users);
    memset(&items, 0, sizeof items);
    memset(&hist, 0, sizeof hist);
    memset(&feats, 0, sizeof feats);
    memset(&fx, 0, sizeof fx);
    memset(&held, 0, sizeof held);
    if (!path) path = "(memory)";
    if (!buf && len) return cr__fail(CR_ERR_INVALID, "%s: no data given", path);
    memset(&r, 0, sizeof r);
    r.b = buf;
    r.n = len;
    if (len < 8 || memcmp(buf, CR__CKPT_MAGIC, 4) != 0)
        return cr__fail(CR_ERR_FORMAT, "%s: not a contrarec checkpoint (bad magic)", path);
    r.pos = 4;
    version = cr__rd_u32(&r, "version");
    if (version < 1 || version > CR__CKPT_VERSION)
        return cr__fail(CR_ERR_FORMAT, "%s: checkpoint format version %u; this build reads versions 1 to %u", path,
                        version, CR__CKPT_VERSION);
    if (len < 64) return cr__fail(CR_ERR_FORMAT, "%s: truncated (%zu bytes)", path, len); /* far below any checkpoint */
    /* the checksum covers everything before the last 8 bytes: check it before trusting sizes */
    h = cr__fnv(CR__FNV0, buf, len - 8);
    for (i = 0; i < 8; i++) stored |= (uint64_t)buf[len - 8 + i] << (8 * i);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION /* fuzzers must get past the checksum */
    if (stored != h) return cr__fail(CR_ERR_FORMAT, "%s: checksum mismatch: the file is corrupted or truncated", path);
#endif
    r.n = len - 8; /* the checksum is not payload */
    if ((st = cr__ckpt_config(&r, version, path, &c)) != CR_OK) return st;
    if (expect && expect->model && expect->model != c.model)
        return cr__fail(CR_ERR_FORMAT, "%s: holds a %s model, not the %s model asked for", path, cr_model_name(c.model),
                        cr_model_name(expect->model));
    if (expect && expect->dim && expect->dim != c.dim)
        return cr__fail(CR_ERR_FORMAT, "%s: has dim %d, not the %d asked for", path, c.dim, expect->dim);
    step = (int64_t)cr__rd_u64(&r, "step");
    nu = (int32_t)cr__rd_u32(&r, "user count");
    ni = (int32_t)cr__rd_u32(&r, "item count");
    if (r.bad) return cr__fail(CR_ERR_FORMAT, "%s: truncated in the header (at %s)", path, r.what);
    if (step < 0 || step > ((int64_t)1 << 53))
        return cr__fail(CR_ERR_FORMAT, "%s: bad step count %lld", path, (long long)step);
    if ((st = cr__ckpt_ids(&r, path, nu, ni, &users, &items)) != CR_OK ||
        (st = cr__ckpt_hist(&r, path, nu, ni, cr_model_is_sequential(c.model), &hist)) != CR_OK ||
        (cr__uses_features(&c) && (st = cr__ckpt_feats(&r, path, ni, &fx, &feats, 1.0f)) != CR_OK) ||
        (version >= 4 &&
         (st = cr__ckpt_held(&r, path, nu, ni, cr_model_is_sequential(c.model), &held, &has_held)) != CR_OK) ||
        (st = cr__ckpt_tensors(&r, path, table, &ntens, &nparam)) != CR_OK)
        goto fail;
    if ((st = cr__model_build(&m, &c, &users, &items, &hist, &fx, &feats, nparam)) != CR_OK) {
        if (st == CR_ERR_FORMAT) st = cr__fail(CR_ERR_FORMAT, "%s: %s", path, cr_last_error());
        goto fail;
    }
    if (ntens != (uint32_t)m->n_tensors) {
        st = cr__fail(CR_ERR_FORMAT, "%s: has %u parameter tensors, a %s model with this configuration has %d", path,
                      ntens, m->ops->name, m->n_tensors);
        goto fail;
    }
    for (i = 0; i < ntens; i++) {
        const cr__ptensor *t = &m->tensors[i], *f = &table[i];
        if (strcmp(f->name, t->name) != 0 || f->rows != t->rows || f->cols != t->cols || f->offset != t->offset) {
            st = cr__fail(CR_ERR_FORMAT, "%s: tensor %u is %s (%lld x %lld at %lld), expected %s (%lld x %lld at %lld)",
                          path, i, f->name, (long long)f->rows, (long long)f->cols, (long long)f->offset, t->name,
                          (long long)t->rows, (long long)t->cols, (long long)t->offset);
            goto fail;
        }
    }
    if (!cr__rd_array(&r, m->param, nparam, 4, "parameters")) {
        st = cr__fail(CR_ERR_FORMAT, "%s: truncated (at %s)", path, r.what);
        goto fail;
    }
    for (p = 0; p < nparam; p++)
        if (!(m->param[p] * 0.0f == 0.0f)) {
            st = cr__fail(CR_ERR_FORMAT, "%s: parameter %lld is NaN or Inf", path, (long long)p);
            goto fail;
        }
    m->step = step;
    m->held = held;
    m->has_held = has_held;
    cr_idmap_free(&users);
    cr_idmap_free(&items);
    cr_idmap_free(&feats);
    cr_csr_free(&fx);
    *out = m;
    return CR_OK;
fail:
    cr_idmap_free(&users);
    cr_idmap_free(&items);
    cr_idmap_free(&feats);
    cr_csr_free(&fx);
    cr_csr_free(&hist);
    cr_csr_free(&held);
    cr_model_free(m);
    return st;
}

/* .npy version 1.0: magic, version, a little-endian uint16 header length, then a Python dict
   literal padded with spaces so that the data starts on a 64-byte boundary. */
typedef struct cr__npy {
    const void *data;
    int64_t rows, cols;
    int is_i64;
} cr__npy;

static void cr__npy_body(cr__wr *w, const void *ctx) {
    const cr__npy *a = (const cr__npy *)ctx;
    char hdr[256];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%lld, %lld), }",
                     a->is_i64 ? "<i8" : "<f4", (long long)a->rows, (long long)a->cols);
    int total = 10 + n + 1, pad = (64 - total % 64) % 64;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    pre[8] = (unsigned char)((n + pad + 1) & 0xFF);
    pre[9] = (unsigned char)((n + pad + 1) >> 8);
    memset(hdr + n, ' ', (size_t)pad);
    hdr[n + pad] = '\n';
    cr__wr_bytes(w, pre, 10);
    cr__wr_bytes(w, hdr, (size_t)(n + pad + 1));
    cr__wr_array(w, a->data, a->rows * a->cols, a->is_i64 ? 8 : 4);
}

CR_API cr_status cr_write_npy_f32(const char *path, const float *x, int64_t rows, int64_t cols) {
    cr__npy a;
    a.data = x;
    a.rows = rows;
    a.cols = cols;
    a.is_i64 = 0;
    return cr__write_atomic(path, cr__npy_body, &a);
}

CR_API cr_status cr_model_export_npy(cr_model *m, const char *dir) {
    const float *U = NULL, *I = NULL;
    float *Useq = NULL;
    char *path;
    size_t n = dir ? strlen(dir) : 0;
    cr__npy a;
    cr_status st;
    if (!dir || !*dir) return cr__fail(CR_ERR_INVALID, "no output directory given");
    if ((st = cr_model_embeddings(m, &U, &I)) != CR_OK) return st;
    if (!U) { /* sequence model: a user's embedding is the encoding of their whole history */
        int32_t *all = (int32_t *)cr__alloc_array((size_t)m->n_users, sizeof(int32_t), "export");
        int32_t u;
        Useq = cr_alloc_floats((int64_t)m->n_users * m->cfg.dim);
        if (!all || !Useq) { CR_FREE(all); cr__free_aligned(Useq); return CR_ERR_NOMEM; }
        for (u = 0; u < m->n_users; u++) all[u] = u;
        st = m->ops->user_vectors(m, all, m->n_users, NULL, Useq);
        CR_FREE(all);
        if (st != CR_OK) { cr__free_aligned(Useq); return st; }
        U = Useq;
    }
    path = (char *)cr__alloc_array(n + 32, 1, "file name");
    if (!path) { cr__free_aligned(Useq); return CR_ERR_NOMEM; }
    snprintf(path, n + 32, "%s/user_emb.npy", dir);
    st = cr_write_npy_f32(path, U, m->n_users, m->cfg.dim);
    if (st == CR_OK) {
        snprintf(path, n + 32, "%s/item_emb.npy", dir);
        st = cr_write_npy_f32(path, I, m->n_items, m->cfg.dim);
    }
    a.cols = 1;
    a.is_i64 = 1;
    if (st == CR_OK) {
        snprintf(path, n + 32, "%s/user_ids.npy", dir);
        a.data = m->users.raw;
        a.rows = m->n_users;
        st = cr__write_atomic(path, cr__npy_body, &a);
    }
    if (st == CR_OK) {
        snprintf(path, n + 32, "%s/item_ids.npy", dir);
        a.data = m->items.raw;
        a.rows = m->n_items;
        st = cr__write_atomic(path, cr__npy_body, &a);
    }
    CR_FREE(path);
    cr__free_aligned(Useq);
    return st;
}

/* ==== 12. pictures =========================================================================== */

/* SVG text goes through the atomic writer of section 11: a failed chart never replaces a file. */
static void cr__svg_printf(cr__wr *w, const char *fmt, ...) {
    char buf[512];
    int n;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof buf) { w->err = 1; return; } /* callers print short pieces only */
    cr__wr_bytes(w, buf, (size_t)n);
}

/* user text (titles, labels) with the five XML specials escaped */
static void cr__svg_text(cr__wr *w, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': cr__wr_bytes(w, "&amp;", 5); break;
        case '<': cr__wr_bytes(w, "&lt;", 4); break;
        case '>': cr__wr_bytes(w, "&gt;", 4); break;
        case '"': cr__wr_bytes(w, "&quot;", 6); break;
        case '\'': cr__wr_bytes(w, "&#39;", 5); break;
        default: /* control characters are not allowed in XML 1.0 text: dropped */
            if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n' || *s == '\r') cr__wr_bytes(w, s, 1);
        }
    }
}

/* Okabe-Ito colours (distinguishable with colour-blindness); series 8.. repeat them dashed */
static const char *const cr__svg_colour[8] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                              "#E69F00", "#56B4E9", "#000000", "#999933"};

typedef struct cr__svg_ctx {
    const cr_chart *c;
    const char *const *glabels;
    int ng, bars;
    double x0, x1, y0, y1, xstep, ystep; /* axis ranges and tick steps */
    double W, H, L, R, T, B;            /* canvas and the plot area's left, right, top, bottom */
} cr__svg_ctx;

/* a tick step of 1, 2 or 5 x 10^k giving about 6 ticks; the range widened to whole steps */
static double cr__svg_ticks(double *lo, double *hi) {
    double big = CR__MAX(fabs(*lo), fabs(*hi)), span = *hi - *lo, raw, mag, step;
    if (!(span > 1e-9 * big) || span < 1e-300) { /* one value, up to rounding: a range around it */
        double mid = (*lo + *hi) / 2, pad = big > 1e-300 ? big * 0.1 : 1;
        *lo = mid - pad; *hi = mid + pad; span = 2 * pad;
    }
    raw = span / 6;
    mag = pow(10, floor(log10(raw)));
    step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
    *lo = floor(*lo / step + 1e-9) * step;
    *hi = ceil(*hi / step - 1e-9) * step;
    return step;
}

/* ticks lo, lo + step, ..., hi: counted, never accumulated */
static int cr__svg_nticks(double lo, double hi, double step) {
    double t = (hi - lo) / step;
    return t > 0 && t < 1000 ? (int)(t + 0.5) : 0;
}

static int cr__svg_decimals(double step) {
    int d = (int)ceil(-log10(step) - 1e-9);
    return d < 0 ? 0 : d > 8 ? 8 : d;
}

static double cr__svg_px(const cr__svg_ctx *g, double x) {
    return g->L + (x - g->x0) / (g->x1 - g->x0) * (g->R - g->L);
}
static double cr__svg_py(const cr__svg_ctx *g, double y) {
    return g->B - (y - g->y0) / (g->y1 - g->y0) * (g->B - g->T);
}

static const char *cr__svg_label(const cr_series *s, int i, char *buf, size_t n) {
    if (s->label) return s->label;
    snprintf(buf, n, "series %d", i + 1);
    return buf;
}

/* frame, grid, ticks, axis titles, title */
static void cr__svg_axes(cr__wr *w, const cr__svg_ctx *g) {
    const cr_chart *c = g->c;
    int k, dy = cr__svg_decimals(g->ystep), dx = cr__svg_decimals(g->xstep);
    cr__svg_printf(w,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                   "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
                   g->W, g->H, g->W, g->H);
    cr__svg_printf(w, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
    if (c->title) {
        cr__svg_printf(w, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">",
                       (g->L + g->R) / 2);
        cr__svg_text(w, c->title);
        cr__svg_printf(w, "</text>\n");
    }
    for (k = 0; k <= cr__svg_nticks(g->y0, g->y1, g->ystep); k++) { /* horizontal grid and y ticks */
        double v = g->y0 + k * g->ystep, y = cr__svg_py(g, v);
        cr__svg_printf(w, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", g->L, y, g->R,
                       y);
        cr__svg_printf(w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n", g->L - 6, y + 4, dy,
                       fabs(v) < g->ystep * 1e-6 ? 0.0 : v);
    }
    if (!g->bars)
        for (k = 0; k <= cr__svg_nticks(g->x0, g->x1, g->xstep); k++) {
            double v = g->x0 + k * g->xstep, x = cr__svg_px(g, v);
            cr__svg_printf(w, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#f0f0f0\"/>\n", x, g->T,
                           x, g->B);
            cr__svg_printf(w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f</text>\n", x, g->B + 16, dx,
                           fabs(v) < g->xstep * 1e-6 ? 0.0 : v);
        }
    cr__svg_printf(w, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333333\"/>\n",
                   g->L, g->T, g->R - g->L, g->B - g->T);
    if (c->xlabel) {
        cr__svg_printf(w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\">", (g->L + g->R) / 2,
                       g->H - 10);
        cr__svg_text(w, c->xlabel);
        cr__svg_printf(w, "</text>\n");
    }
    if (c->ylabel) {
        cr__svg_printf(w, "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">",
                       (g->T + g->B) / 2);
        cr__svg_text(w, c->ylabel);
        cr__svg_printf(w, "</text>\n");
    }
}

/* the legend right of the plot: one swatch per series, then the reference line */
static void cr__svg_legend(cr__wr *w, const cr__svg_ctx *g) {
    const cr_chart *c = g->c;
    char buf[32];
    int s;
    double x = g->R + 14, y = g->T + 8;
    for (s = 0; s < c->n_series; s++, y += 20) {
        const char *col = cr__svg_colour[s % 8];
        if (g->bars) /* series 8.. repeat the colours, lighter */
            cr__svg_printf(w, "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"10\" fill=\"%s\"%s/>\n", x, y - 5, col,
                           s >= 8 ? " fill-opacity=\"0.45\"" : "");
        else
            cr__svg_printf(
                w, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"%s/>\n", x,
                y, x + 18, y, col, s >= 8 ? " stroke-dasharray=\"4 2\"" : "");
        cr__svg_printf(w, "<text x=\"%.1f\" y=\"%.1f\">", x + 24, y + 4);
        cr__svg_text(w, cr__svg_label(&c->series[s], s, buf, sizeof buf));
        cr__svg_printf(w, "</text>\n");
    }
    if (c->ref_label) {
        cr__svg_printf(w,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555555\" stroke-width=\"1.5\" "
                       "stroke-dasharray=\"6 4\"/>\n",
                       x, y, x + 18, y);
        cr__svg_printf(w, "<text x=\"%.1f\" y=\"%.1f\">", x + 24, y + 4);
        cr__svg_text(w, c->ref_label);
        cr__svg_printf(w, "</text>\n");
    }
}

static void cr__svg_ref(cr__wr *w, const cr__svg_ctx *g) {
    if (g->c->ref_label) {
        double y = cr__svg_py(g, g->c->ref_y);
        cr__svg_printf(w,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555555\" stroke-width=\"1.5\" "
                       "stroke-dasharray=\"6 4\"/>\n",
                       g->L, y, g->R, y);
    }
}

static void cr__svg_lines_body(cr__wr *w, const void *ctx) {
    const cr__svg_ctx *g = (const cr__svg_ctx *)ctx;
    const cr_chart *c = g->c;
    int s, i;
    cr__svg_axes(w, g);
    cr__svg_ref(w, g);
    for (s = 0; s < c->n_series; s++) {
        const cr_series *S = &c->series[s];
        const char *col = cr__svg_colour[s % 8];
        int pen = 0; /* 0: the next point starts a segment (start, or after a NaN gap) */
        cr__svg_printf(w, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\"%s d=\"", col,
                       s >= 8 ? " stroke-dasharray=\"4 2\"" : "");
        for (i = 0; i < S->n; i++) {
            double x = S->x ? S->x[i] : i + 1;
            if (isnan(S->y[i])) { pen = 0; continue; }
            cr__svg_printf(w, "%s%.1f %.1f ", pen ? "L" : "M", cr__svg_px(g, x), cr__svg_py(g, S->y[i]));
            pen = 1;
        }
        cr__svg_printf(w, "\"/>\n");
        if (S->n <= 100) /* markers while they stay readable */
            for (i = 0; i < S->n; i++)
                if (!isnan(S->y[i]))
                    cr__svg_printf(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                                   cr__svg_px(g, S->x ? S->x[i] : i + 1), cr__svg_py(g, S->y[i]), col);
    }
    cr__svg_legend(w, g);
    cr__svg_printf(w, "</svg>\n");
}

static void cr__svg_bars_body(cr__wr *w, const void *ctx) {
    const cr__svg_ctx *g = (const cr__svg_ctx *)ctx;
    const cr_chart *c = g->c;
    double gw = (g->R - g->L) / g->ng, bw = 0.8 * gw / c->n_series, zero = cr__svg_py(g, 0);
    int s, k, slant = g->ng > 10;
    cr__svg_axes(w, g);
    for (k = 0; k < g->ng; k++) {
        double gx = g->L + k * gw;
        for (s = 0; s < c->n_series; s++) {
            double v = c->series[s].y[k], y;
            if (isnan(v)) continue;
            y = cr__svg_py(g, v);
            cr__svg_printf(w, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"%s/>\n",
                           gx + 0.1 * gw + s * bw, y < zero ? y : zero, bw, fabs(zero - y), cr__svg_colour[s % 8],
                           s >= 8 ? " fill-opacity=\"0.45\"" : "");
        }
        if (slant)
            cr__svg_printf(w, "<text transform=\"translate(%.1f %.1f) rotate(-40)\" text-anchor=\"end\">", gx + gw / 2,
                           g->B + 14);
        else cr__svg_printf(w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", gx + gw / 2, g->B + 16);
        if (g->glabels && g->glabels[k]) cr__svg_text(w, g->glabels[k]);
        else cr__svg_printf(w, "%d", k);
        cr__svg_printf(w, "</text>\n");
    }
    cr__svg_ref(w, g);
    cr__svg_legend(w, g);
    cr__svg_printf(w, "</svg>\n");
}

/* Checks the chart (every message names the series and point) and lays it out. */
static cr_status cr__svg_setup(cr__svg_ctx *g, const cr_chart *c, int bars, const char *const *glabels, int ng) {
    int s, i, any = 0, slant;
    memset(g, 0, sizeof *g);
    if (!c || !c->series) return cr__fail(CR_ERR_INVALID, "chart: no series given");
    if (c->n_series < 1 || c->n_series > CR_MAX_SERIES)
        return cr__fail(CR_ERR_INVALID, "chart: %d series (1..%d)", c->n_series, CR_MAX_SERIES);
    if ((c->width && (c->width < 320 || c->width > 8000)) || (c->height && (c->height < 200 || c->height > 8000)))
        return cr__fail(CR_ERR_INVALID, "chart: size %d x %d is outside 320..8000 x 200..8000 pixels", c->width,
                        c->height);
    if (bars && (ng < 1 || ng > 1000)) return cr__fail(CR_ERR_INVALID, "chart: %d groups (1..1000)", ng);
    if (c->ref_label && !isfinite(c->ref_y))
        return cr__fail(CR_ERR_INVALID, "chart: the reference line's value is not finite");
    g->x0 = g->y0 = HUGE_VAL;
    g->x1 = g->y1 = -HUGE_VAL;
    for (s = 0; s < c->n_series; s++) {
        const cr_series *S = &c->series[s];
        if (bars ? S->n != ng : S->n < 1)
            return cr__fail(CR_ERR_INVALID, "chart: series %d has %d values%s", s + 1, S->n,
                            bars ? ", not one per group" : "");
        if (!S->y) return cr__fail(CR_ERR_INVALID, "chart: series %d has no y values", s + 1);
        for (i = 0; i < S->n; i++) {
            double x = S->x && !bars ? S->x[i] : i + 1, y = S->y[i];
            if (!isfinite(x))
                return cr__fail(CR_ERR_INVALID, "chart: series %d, point %d: x is not finite", s + 1, i + 1);
            if (isinf(y)) return cr__fail(CR_ERR_INVALID, "chart: series %d, point %d: y is infinite", s + 1, i + 1);
            if (isnan(y)) continue;
            any = 1;
            g->x0 = CR__MIN(g->x0, x); g->x1 = CR__MAX(g->x1, x);
            g->y0 = CR__MIN(g->y0, y); g->y1 = CR__MAX(g->y1, y);
        }
    }
    if (!any) return cr__fail(CR_ERR_INVALID, "chart: no finite y value to draw");
    if (c->ref_label) { g->y0 = CR__MIN(g->y0, c->ref_y); g->y1 = CR__MAX(g->y1, c->ref_y); }
    if (bars) { g->y0 = CR__MIN(g->y0, 0); g->y1 = CR__MAX(g->y1, 0); }
    if (!isfinite(g->x1 - g->x0) || !isfinite(g->y1 - g->y0) || CR__MAX(fabs(g->x0), fabs(g->x1)) > 1e300 ||
        CR__MAX(fabs(g->y0), fabs(g->y1)) > 1e300)
        return cr__fail(CR_ERR_INVALID, "chart: values beyond 1e300 in size (the axes could not be laid out)");
    g->ystep = cr__svg_ticks(&g->y0, &g->y1);
    g->xstep = bars ? 1 : cr__svg_ticks(&g->x0, &g->x1);
    g->c = c; g->bars = bars; g->glabels = glabels; g->ng = ng;
    g->W = c->width ? c->width : 720;
    g->H = c->height ? c->height : 440;
    slant = bars && ng > 10;
    g->L = 72; g->R = g->W - 170; g->T = c->title ? 40 : 16; g->B = g->H - (slant ? 90 : 48);
    return CR_OK;
}

/* ---- exact t-SNE ---- */

/* The two leading principal axes of the centred rows (power iteration on the d x d covariance,
   deflated; a fixed start, signs fixed by the largest component): deterministic. */
static cr_status cr__pca2(const double *Xc, int n, int d, double *axes /* 2 x d */) {
    double *C = (double *)cr__calloc_array((size_t)d * d, sizeof(double), "t-SNE PCA"),
           *w = (double *)cr__alloc_array((size_t)d, sizeof(double), "t-SNE PCA");
    int a, b, k, it;
    int64_t i;
    if (!C || !w) { CR_FREE(C); CR_FREE(w); return CR_ERR_NOMEM; }
    for (i = 0; i < n; i++)
        for (a = 0; a < d; a++)
            for (b = 0; b < d; b++) C[a * d + b] += Xc[i * d + a] * Xc[i * d + b];
    for (k = 0; k < 2; k++) {
        double *v = axes + k * d, lambda = 0, norm, big = 0;
        for (a = 0; a < d; a++) v[a] = 1.0 + 0.01 * a; /* not orthogonal to a leading axis in practice */
        for (it = 0; it < 500; it++) {
            double diff = 0;
            for (a = 0; a < d; a++) {
                double s = 0;
                for (b = 0; b < d; b++) s += C[a * d + b] * v[b];
                w[a] = s;
            }
            for (norm = 0, a = 0; a < d; a++) norm += w[a] * w[a];
            norm = sqrt(norm);
            if (!(norm > 0)) break; /* rank below 2: keep the start vector */
            for (a = 0; a < d; a++) { diff += fabs(w[a] / norm - v[a]); v[a] = w[a] / norm; }
            lambda = norm;
            if (diff < 1e-12) break;
        }
        for (norm = 0, a = 0; a < d; a++) norm += v[a] * v[a];
        for (a = 0; a < d; a++) {
            v[a] /= sqrt(norm);
            if (fabs(v[a]) > fabs(big)) big = v[a];
        }
        if (big < 0)
            for (a = 0; a < d; a++) v[a] = -v[a];
        for (a = 0; a < d; a++) /* deflate */
            for (b = 0; b < d; b++) C[a * d + b] -= lambda * v[a] * v[b];
    }
    CR_FREE(C);
    CR_FREE(w);
    return CR_OK;
}

/* p_{j|i} for row i at the precision whose entropy is ln(perplexity) (bhtsne's search) */
static void cr__tsne_row(const double *Xc, int n, int d, int64_t i, double target, double *D, float *P) {
    double beta = 1, bmin = -HUGE_VAL, bmax = HUGE_VAL, sum = 0;
    int64_t j;
    int a, it;
    for (j = 0; j < n; j++) {
        double s = 0;
        for (a = 0; a < d; a++) {
            double t = Xc[i * d + a] - Xc[j * d + a];
            s += t * t;
        }
        D[j] = s;
    }
    for (it = 0; it < 200; it++) {
        double sdp = 0, H;
        sum = DBL_MIN;
        for (j = 0; j < n; j++)
            if (j != i) {
                double e = exp(-beta * D[j]);
                sum += e;
                sdp += D[j] * e;
            }
        H = log(sum) + beta * sdp / sum;
        if (fabs(H - target) < 1e-5) break;
        if (H > target) {
            bmin = beta;
            beta = bmax == HUGE_VAL ? beta * 2 : (beta + bmax) / 2;
        } else {
            bmax = beta;
            beta = bmin == -HUGE_VAL ? beta / 2 : (beta + bmin) / 2;
        }
    }
    for (sum = DBL_MIN, j = 0; j < n; j++)
        if (j != i) sum += exp(-beta * D[j]);
    for (j = 0; j < n; j++) P[j] = j == i ? 0.0f : (float)(exp(-beta * D[j]) / sum);
}

/* For row i: the Student-t row sum (self excluded) and A = sum ex p q (yi - yj), B = sum q^2
   (yi - yj), in 8 lanes summed in a fixed order (deterministic for any thread count): the
   gradient is 4 (A - B / Z) once Z, the sum of every row sum, is known. */
static double cr__tsne_grad_row(const float *Px, const float *Py, const float *Prow, int n, int64_t i, float ex,
                                double *A) {
    float q8[8] = {0}, ax[8] = {0}, ay[8] = {0}, bx[8] = {0}, by[8] = {0};
    float xi = Px[i], yi = Py[i];
    int j, l, n8 = n & ~7;
    double s = 0;
#if defined(CR__AVX2) || (defined(CR__AVX512) && defined(__FMA__))
    { /* the same 8 lanes in ymm registers: gcc's own vectorisation of the loop below kept the
         lanes in memory and ran ~10x slower */
        __m256 vx = _mm256_set1_ps(xi), vy = _mm256_set1_ps(yi), one = _mm256_set1_ps(1.0f), vex = _mm256_set1_ps(ex);
        __m256 vq = _mm256_setzero_ps(), vax = vq, vay = vq, vbx = vq, vby = vq;
        for (j = 0; j < n8; j += 8) {
            __m256 dx = _mm256_sub_ps(vx, _mm256_loadu_ps(Px + j)), dy = _mm256_sub_ps(vy, _mm256_loadu_ps(Py + j));
            __m256 q = _mm256_div_ps(one, _mm256_fmadd_ps(dy, dy, _mm256_fmadd_ps(dx, dx, one)));
            __m256 pq = _mm256_mul_ps(_mm256_mul_ps(vex, _mm256_loadu_ps(Prow + j)), q), qq = _mm256_mul_ps(q, q);
            vq = _mm256_add_ps(vq, q);
            vax = _mm256_fmadd_ps(pq, dx, vax);
            vay = _mm256_fmadd_ps(pq, dy, vay);
            vbx = _mm256_fmadd_ps(qq, dx, vbx);
            vby = _mm256_fmadd_ps(qq, dy, vby);
        }
        _mm256_storeu_ps(q8, vq);
        _mm256_storeu_ps(ax, vax);
        _mm256_storeu_ps(ay, vay);
        _mm256_storeu_ps(bx, vbx);
        _mm256_storeu_ps(by, vby);
    }
#else
    for (j = 0; j < n8; j += 8)
        for (l = 0; l < 8; l++) {
            float dx = xi - Px[j + l], dy = yi - Py[j + l], q = 1.0f / (1.0f + dx * dx + dy * dy),
                  pq = ex * Prow[j + l] * q, qq = q * q;
            q8[l] += q;
            ax[l] += pq * dx;
            ay[l] += pq * dy;
            bx[l] += qq * dx;
            by[l] += qq * dy;
        }
#endif
    for (j = n8; j < n; j++) {
        float dx = xi - Px[j], dy = yi - Py[j], q = 1.0f / (1.0f + dx * dx + dy * dy), pq = ex * Prow[j] * q,
              qq = q * q;
        q8[0] += q;
        ax[0] += pq * dx;
        ay[0] += pq * dy;
        bx[0] += qq * dx;
        by[0] += qq * dy;
    }
    A[0] = A[1] = A[2] = A[3] = 0;
    for (l = 0; l < 8; l++) {
        s += q8[l];
        A[0] += ax[l];
        A[1] += ay[l];
        A[2] += bx[l];
        A[3] += by[l];
    }
    return s - 1.0; /* the self pair contributed q = 1 and nothing else */
}

/* The options with their defaults, and the input, checked before any work. */
static cr_status cr__tsne_check(const float *X, const float *Y, int n, int d, const cr_tsne_opts *opts,
                                cr_tsne_opts *o) {
    int64_t i;
    memset(o, 0, sizeof *o);
    if (opts) *o = *opts;
    if (o->perplexity == 0) o->perplexity = 30;
    if (o->iterations == 0) o->iterations = 1000;
    if (o->exaggeration_iters == 0) o->exaggeration_iters = CR__MIN(250, o->iterations);
    if (o->exaggeration == 0) o->exaggeration = 12;
    if (!X || !Y) return cr__fail(CR_ERR_INVALID, "t-SNE: no input or output");
    if (d < 1 || d > CR__MAX_DIM)
        return cr__fail(CR_ERR_INVALID, "t-SNE: dimension %d is outside 1..%d", d, CR__MAX_DIM);
    if (!(o->perplexity >= 1 && o->perplexity <= 1000))
        return cr__fail(CR_ERR_INVALID, "t-SNE: perplexity %g is outside 1..1000", o->perplexity);
    if (n > 5000) return cr__fail(CR_ERR_INVALID, "t-SNE: %d points; exact t-SNE takes at most 5000 (sample them)", n);
    if (n < 1 || n - 1 < 3 * o->perplexity)
        return cr__fail(CR_ERR_INVALID, "t-SNE: %d points; perplexity %g needs at least %d", n, o->perplexity,
                        (int)ceil(3 * o->perplexity) + 1);
    if (o->iterations < 1 || o->iterations > 100000 || o->exaggeration_iters < 0 ||
        o->exaggeration_iters > o->iterations)
        return cr__fail(CR_ERR_INVALID,
                        "t-SNE: iterations %d / exaggeration_iters %d (1..100000, at most the iterations)",
                        o->iterations, o->exaggeration_iters);
    if (!(o->exaggeration >= 1 && o->exaggeration <= 100))
        return cr__fail(CR_ERR_INVALID, "t-SNE: exaggeration %g is outside 1..100", o->exaggeration);
    if (!(o->learning_rate >= 0 && o->learning_rate <= 1e6))
        return cr__fail(CR_ERR_INVALID, "t-SNE: learning rate %g is outside 0..1e6", o->learning_rate);
    for (i = 0; i < (int64_t)n * d; i++)
        if (!isfinite(X[i]))
            return cr__fail(CR_ERR_INVALID, "t-SNE: row %lld, column %lld is not finite", (long long)(i / d),
                            (long long)(i % d));
    return CR_OK;
}

/* One step of gradient descent with momentum and bhtsne's gains; the map re-centred. */
static void cr__tsne_update(float *Px, float *Py, float *upd, float *gain, const double *acc, double Z, int n,
                            float mom, double eta) {
    double mx = 0, my = 0;
    int64_t i;
    for (i = 0; i < n; i++) {
        int c;
        for (c = 0; c < 2; c++) {
            float g = (float)(4.0 * (acc[4 * i + c] - acc[4 * i + 2 + c] / Z)), *u = upd + 2 * i + c,
                  *gn = gain + 2 * i + c;
            int sg = (g > 0) - (g < 0), su = (*u > 0) - (*u < 0); /* bhtsne's sign(): 0 is its own sign */
            *gn = sg != su ? *gn + 0.2f : *gn * 0.8f;
            if (*gn < 0.01f) *gn = 0.01f;
            *u = mom * *u - (float)eta * *gn * g;
        }
        Px[i] += upd[2 * i];
        Py[i] += upd[2 * i + 1];
        mx += Px[i];
        my += Py[i];
    }
    for (i = 0; i < n; i++) { Px[i] -= (float)(mx / n); Py[i] -= (float)(my / n); }
}

CR_API cr_status cr_tsne(const float *X, int n, int d, const cr_tsne_opts *opts, float *Y, double *kl) {
    cr_tsne_opts o;
    double *Xc = NULL, *rows = NULL, *acc = NULL, *D = NULL, *axes = NULL, maxabs = 0, sd = 0, Z, eta;
    float *P = NULL, *Px = NULL, *Py = NULL, *upd = NULL, *gain = NULL;
    int64_t i, j;
    int a, it, nt = cr_get_num_threads();
    cr_status st = CR_OK;
    if ((st = cr__tsne_check(X, Y, n, d, opts, &o)) != CR_OK) return st;
    eta = o.learning_rate > 0 ? o.learning_rate : CR__MAX(n / 48.0, 50.0);
    Xc = (double *)cr__alloc_array((size_t)n * d, sizeof(double), "t-SNE");
    P = (float *)cr__alloc_array((size_t)n * n, sizeof(float), "t-SNE affinities");
    D = (double *)cr__alloc_array((size_t)n * nt, sizeof(double), "t-SNE");
    rows = (double *)cr__alloc_array((size_t)n, sizeof(double), "t-SNE");
    acc = (double *)cr__alloc_array((size_t)n * 4, sizeof(double), "t-SNE");
    Px = (float *)cr__alloc_array((size_t)n * 2, sizeof(float), "t-SNE");
    upd = (float *)cr__calloc_array((size_t)n * 2, sizeof(float), "t-SNE");
    gain = (float *)cr__alloc_array((size_t)n * 2, sizeof(float), "t-SNE");
    axes = (double *)cr__alloc_array((size_t)d * 2, sizeof(double), "t-SNE");
    if (!Xc || !P || !D || !rows || !acc || !Px || !upd || !gain || !axes) { st = CR_ERR_NOMEM; goto done; }
    Py = Px + n;
    /* bhtsne's preprocessing: centre the columns, divide by the largest |x| */
    for (a = 0; a < d; a++) {
        double m = 0;
        for (i = 0; i < n; i++) m += X[i * d + a];
        m /= n;
        for (i = 0; i < n; i++) {
            Xc[i * d + a] = X[i * d + a] - m;
            maxabs = CR__MAX(maxabs, fabs(Xc[i * d + a]));
        }
    }
    if (maxabs > 0)
        for (i = 0; i < (int64_t)n * d; i++) Xc[i] /= maxabs;
    CR__OMP(parallel for schedule(static) num_threads(nt))
    for (i = 0; i < n; i++) {
        int tid = 0; /* each thread searches in its own distance row */
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        cr__tsne_row(Xc, n, d, i, log(o.perplexity), D + (int64_t)tid * n, P + i * n);
    }
    for (i = 0; i < n; i++) /* symmetric joint probabilities, summing to 1 */
        for (j = i + 1; j < n; j++) P[i * n + j] = P[j * n + i] = (P[i * n + j] + P[j * n + i]) / (float)(2.0 * n);
    /* the PCA start, scaled so that the first coordinate has standard deviation 1e-4 */
    if ((st = cr__pca2(Xc, n, d, axes)) != CR_OK) goto done;
    for (i = 0; i < n; i++) {
        double u = 0, v = 0;
        for (a = 0; a < d; a++) { u += Xc[i * d + a] * axes[a]; v += Xc[i * d + a] * axes[d + a]; }
        rows[i] = u;
        acc[i] = v;
        sd += u * u;
    }
    sd = sqrt(sd / n);
    for (i = 0; i < n; i++) {
        Px[i] = (float)(sd > 0 ? rows[i] / sd * 1e-4 : 0);
        Py[i] = (float)(sd > 0 ? acc[i] / sd * 1e-4 : 0);
    }
    for (i = 0; i < 2 * (int64_t)n; i++) gain[i] = 1;
    for (it = 0; it < o.iterations; it++) {
        float ex = (float)(it < o.exaggeration_iters ? o.exaggeration : 1),
              mom = it < o.exaggeration_iters ? 0.5f : 0.8f;
        CR__OMP(parallel for schedule(static))
        for (i = 0; i < n; i++) rows[i] = cr__tsne_grad_row(Px, Py, P + i * n, n, i, ex, acc + 4 * i);
        for (Z = 0, i = 0; i < n; i++) Z += rows[i];
        cr__tsne_update(Px, Py, upd, gain, acc, Z, n, mom, eta);
    }
    if (kl) { /* KL(P || Q) at the end: Q from one more pass */
        CR__OMP(parallel for schedule(static))
        for (i = 0; i < n; i++) rows[i] = cr__tsne_grad_row(Px, Py, P + i * n, n, i, 1, acc + 4 * i);
        for (Z = 0, i = 0; i < n; i++) Z += rows[i];
        CR__OMP(parallel for schedule(static))
        for (i = 0; i < n; i++) {
            double s = 0;
            int64_t c; /* private to the thread, unlike the function's j */
            for (c = 0; c < n; c++) {
                double dx = (double)Px[i] - Px[c], dy = (double)Py[i] - Py[c], p = P[i * n + c];
                if (c != i && p > 0) s += p * log(p * Z * (1 + dx * dx + dy * dy));
            }
            acc[4 * i] = s;
        }
        for (*kl = 0, i = 0; i < n; i++) *kl += acc[4 * i];
    }
    for (i = 0; i < n; i++) { Y[2 * i] = Px[i]; Y[2 * i + 1] = Py[i]; }
done:
    CR_FREE(Xc);
    CR_FREE(P);
    CR_FREE(D);
    CR_FREE(rows);
    CR_FREE(acc);
    CR_FREE(Px);
    CR_FREE(upd);
    CR_FREE(gain);
    CR_FREE(axes);
    return st;
}

CR_API cr_status cr_model_popularity_groups(const cr_model *m, int items, int32_t *group) {
    int32_t *deg;
    int64_t u;
    cr_status st;
    if (!m || !group) return cr__fail(CR_ERR_INVALID, "popularity groups: no model or output");
    if (items) return cr__sgl_groups(m->item_deg, m->n_items, group);
    if (!(deg = (int32_t *)cr__alloc_array((size_t)m->n_users + 1, sizeof(int32_t), "groups"))) return CR_ERR_NOMEM;
    for (u = 0; u < m->n_users; u++) deg[u] = (int32_t)(m->hist.rowptr[u + 1] - m->hist.rowptr[u]);
    st = cr__sgl_groups(deg, m->n_users, group);
    CR_FREE(deg);
    return st;
}

CR_API cr_status cr_svg_lines(const char *path, const cr_chart *c) {
    cr__svg_ctx g;
    cr_status st = cr__svg_setup(&g, c, 0, NULL, 0);
    return st != CR_OK ? st : cr__write_atomic(path, cr__svg_lines_body, &g);
}

CR_API cr_status cr_svg_bars(const char *path, const cr_chart *c, const char *const *group_labels, int n_groups) {
    cr__svg_ctx g;
    cr_status st = cr__svg_setup(&g, c, 1, group_labels, n_groups);
    return st != CR_OK ? st : cr__write_atomic(path, cr__svg_bars_body, &g);
}

/* ---- the embedding map ---- */

/* viridis at 10 steps: group 0 (least popular) dark, the head bright */
static const char *const cr__svg_seq[CR_GROUPS] = {"#440154", "#482878", "#3E4A89", "#31688E", "#26828E",
                                                   "#1F9E89", "#35B779", "#6DCD59", "#B4DE2C", "#FDE725"};

typedef struct cr__map_ctx {
    const char *title;
    const float *xy;
    const int32_t *group;
    const char *const *glabels;
    int n, ng;
    double x0, y0, scale; /* panel 1: data -> pixels, one scale for both axes */
    double dens[360], dmax; /* angle density on a 1-degree grid over [-pi, pi) */
} cr__map_ctx;

/* the colour of point i: its group spread over the palette, or one colour without groups */
static const char *cr__map_colour(const cr__map_ctx *g, int i) {
    return g->group ? cr__svg_seq[g->group[i] * (CR_GROUPS - 1) / CR__MAX(g->ng - 1, 1)] : "#0072B2";
}

static void cr__map_body(cr__wr *w, const void *ctx) {
    const cr__map_ctx *g = (const cr__map_ctx *)ctx;
    const double pi = 3.14159265358979323846, cx = 700, cy = 235, R = 110, ring = 70;
    double ytop = g->dmax * 1.1, ystep;
    double lo = 0, hi = ytop;
    int i, k, dy;
    ystep = cr__svg_ticks(&lo, &hi);
    ytop = hi;
    dy = cr__svg_decimals(ystep);
    cr__svg_printf(w,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1220\" height=\"450\" viewBox=\"0 0 1220 450\" "
                   "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" "
                   "height=\"100%%\" fill=\"#ffffff\"/>\n");
    if (g->title) {
        cr__svg_printf(w, "<text x=\"610\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">");
        cr__svg_text(w, g->title);
        cr__svg_printf(w, "</text>\n");
    }
    /* panel 1: the 2-D map */
    cr__svg_printf(w, "<text x=\"210\" y=\"50\" text-anchor=\"middle\" font-size=\"13\">t-SNE map (%d points)</text>\n",
                   g->n);
    cr__svg_printf(w, "<rect x=\"30\" y=\"60\" width=\"360\" height=\"360\" fill=\"none\" stroke=\"#333333\"/>\n");
    for (i = 0; i < g->n; i++)
        cr__svg_printf(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.8\" fill=\"%s\" fill-opacity=\"0.75\"/>\n",
                       40 + (g->xy[2 * i] - g->x0) * g->scale, 410 - (g->xy[2 * i + 1] - g->y0) * g->scale,
                       cr__map_colour(g, i));
    if (g->group)
        for (k = 0; k < g->ng; k++) {
            char num[16];
            cr__svg_printf(w,
                           "<rect x=\"400\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n<text x=\"416\" "
                           "y=\"%d\" font-size=\"11\">",
                           66 + 18 * k, cr__svg_seq[k * (CR_GROUPS - 1) / CR__MAX(g->ng - 1, 1)], 76 + 18 * k);
            snprintf(num, sizeof num, "%d", k);
            cr__svg_text(w, g->glabels && g->glabels[k] ? g->glabels[k] : num);
            cr__svg_printf(w, "</text>\n");
        }
    /* panel 2: on the unit circle, with the angle density as a ring */
    cr__svg_printf(
        w, "<text x=\"%.0f\" y=\"50\" text-anchor=\"middle\" font-size=\"13\">scaled to unit length</text>\n", cx);
    cr__svg_printf(w, "<circle cx=\"%.0f\" cy=\"%.0f\" r=\"%.0f\" fill=\"none\" stroke=\"#bbbbbb\"/>\n", cx, cy, R);
    cr__svg_printf(
        w, "<circle cx=\"%.0f\" cy=\"%.0f\" r=\"%.1f\" fill=\"none\" stroke=\"#555555\" stroke-dasharray=\"6 4\"/>\n",
        cx, cy, R + ring * (1 / (2 * pi)) / ytop);
    for (i = 0; i < 2; i++) { /* the ring filled (outer curve, back along the circle), then its outline */
        cr__svg_printf(w, i ? "<path fill=\"none\" stroke=\"#0072B2\" stroke-width=\"1.5\" d=\""
                            : "<path fill=\"#56B4E9\" fill-opacity=\"0.35\" d=\"");
        for (k = 0; k <= 360; k++) {
            double t = -pi + 2 * pi * (k % 360) / 360, r = R + ring * g->dens[k % 360] / ytop;
            cr__svg_printf(w, "%s%.1f %.1f ", k ? "L" : "M", cx + r * cos(t), cy - r * sin(t));
        }
        for (k = 360; !i && k >= 0; k--) {
            double t = -pi + 2 * pi * (k % 360) / 360;
            cr__svg_printf(w, "L%.1f %.1f ", cx + R * cos(t), cy - R * sin(t));
        }
        cr__svg_printf(w, "%s\"/>\n", i ? "" : "Z");
    }
    for (i = 0; i < g->n; i++) {
        double x = g->xy[2 * i], y = g->xy[2 * i + 1], r = sqrt(x * x + y * y);
        if (r > 0)
            cr__svg_printf(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.5\" fill=\"%s\" fill-opacity=\"0.5\"/>\n",
                           cx + R * x / r, cy - R * y / r, cr__map_colour(g, i));
    }
    /* panel 3: the density over the angle, the uniform density dashed */
    cr__svg_printf(w,
                   "<text x=\"1050\" y=\"50\" text-anchor=\"middle\" font-size=\"13\">density of the angle</text>\n");
    for (k = 0; k <= cr__svg_nticks(0, ytop, ystep); k++) {
        double v = k * ystep, y = 410 - v / ytop * 350;
        cr__svg_printf(w,
                       "<line x1=\"920\" y1=\"%.1f\" x2=\"1190\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n<text x=\"914\" "
                       "y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
                       y, y, y + 4, dy, v);
    }
    for (k = 0; k <= 4; k++) {
        static const char *const lab[5] = {"-&#960;", "-&#960;/2", "0", "&#960;/2", "&#960;"};
        cr__svg_printf(w, "<text x=\"%.1f\" y=\"428\" text-anchor=\"middle\">%s</text>\n", 920 + 270.0 * k / 4, lab[k]);
    }
    cr__svg_printf(w, "<text x=\"1055\" y=\"446\" text-anchor=\"middle\">angle (rad)</text>\n");
    cr__svg_printf(
        w, "<line x1=\"920\" y1=\"%.1f\" x2=\"1190\" y2=\"%.1f\" stroke=\"#555555\" stroke-dasharray=\"6 4\"/>\n",
        410 - 1 / (2 * pi) / ytop * 350, 410 - 1 / (2 * pi) / ytop * 350);
    cr__svg_printf(w, "<path fill=\"none\" stroke=\"#0072B2\" stroke-width=\"2\" d=\"");
    for (k = 0; k < 360; k++)
        cr__svg_printf(w, "%s%.1f %.1f ", k ? "L" : "M", 920 + 270.0 * k / 360, 410 - g->dens[k] / ytop * 350);
    cr__svg_printf(
        w, "\"/>\n<rect x=\"920\" y=\"60\" width=\"270\" height=\"350\" fill=\"none\" stroke=\"#333333\"/>\n</svg>\n");
}

CR_API cr_status cr_svg_map(const char *path, const char *title, const float *xy, int n, const int32_t *group,
                            int n_groups, const char *const *group_labels) {
    cr__map_ctx g;
    const double pi = 3.14159265358979323846, kappa = 1 / (0.15 * 0.15);
    double x1 = -HUGE_VAL, y1 = -HUGE_VAL, i0e = 0, term = 1, span;
    int i, k, nz = 0;
    memset(&g, 0, sizeof g);
    if (!xy || n < 1 || n > 1000000) return cr__fail(CR_ERR_INVALID, "map: %d points (1..1000000)", n);
    if (group && (n_groups < 1 || n_groups > CR_GROUPS))
        return cr__fail(CR_ERR_INVALID, "map: %d groups (1..%d)", n_groups, CR_GROUPS);
    g.x0 = g.y0 = HUGE_VAL;
    for (i = 0; i < n; i++) {
        if (!isfinite(xy[2 * i]) || !isfinite(xy[2 * i + 1]))
            return cr__fail(CR_ERR_INVALID, "map: point %d is not finite", i);
        if (group && (group[i] < 0 || group[i] >= n_groups))
            return cr__fail(CR_ERR_INVALID, "map: point %d: group %d is outside 0..%d", i, group[i], n_groups - 1);
        g.x0 = CR__MIN(g.x0, xy[2 * i]); x1 = CR__MAX(x1, xy[2 * i]);
        g.y0 = CR__MIN(g.y0, xy[2 * i + 1]); y1 = CR__MAX(y1, xy[2 * i + 1]);
    }
    span = CR__MAX(x1 - g.x0, y1 - g.y0);
    if (!isfinite(span) || CR__MAX(CR__MAX(fabs(g.x0), fabs(x1)), CR__MAX(fabs(g.y0), fabs(y1))) > 1e300)
        return cr__fail(CR_ERR_INVALID, "map: coordinates beyond 1e300 in size");
    if (!(span > 0)) { /* one place: drawn at the centre */
        g.x0 -= 1;
        g.y0 -= 1;
        span = 2;
    } else {
        g.x0 -= (span - (x1 - g.x0)) / 2; /* centre the shorter axis */
        g.y0 -= (span - (y1 - g.y0)) / 2;
    }
    g.scale = 340 / span;
    /* von Mises kernel exp(kappa (cos - 1)) / (2 pi I0(kappa) e^-kappa); I0 from its series */
    for (k = 1; k < 1000 && term > 1e-17 * (i0e + 1); k++) {
        i0e += term;
        term *= (kappa / 2) * (kappa / 2) / ((double)k * k);
    }
    i0e *= exp(-kappa);
    for (i = 0; i < n; i++) nz += xy[2 * i] != 0 || xy[2 * i + 1] != 0;
    for (k = 0; k < 360 && nz; k++) { /* points at the origin have no angle: left out */
        double t = -pi + 2 * pi * k / 360, s = 0;
        for (i = 0; i < n; i++)
            if (xy[2 * i] != 0 || xy[2 * i + 1] != 0) s += exp(kappa * (cos(t - atan2(xy[2 * i + 1], xy[2 * i])) - 1));
        g.dens[k] = s / nz / (2 * pi * i0e);
        g.dmax = CR__MAX(g.dmax, g.dens[k]);
    }
    g.dmax = CR__MAX(g.dmax, 1 / (2 * pi));
    g.title = title; g.xy = xy; g.n = n; g.group = group; g.ng = group ? n_groups : 0; g.glabels = group_labels;
    return cr__write_atomic(path, cr__map_body, &g);
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
