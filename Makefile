# contrarec: make (build examples + CLI into build/), make test, make asan, make bench, make clean.
# Portable binaries (no -march=native):  make PORTABLE=1
# Without OpenMP:                        make OPENMP=0

CC      ?= cc
CXX     ?= c++
OPENMP  ?= 1
ARCH    := $(if $(PORTABLE),,-march=native)
OMPFLAG := $(if $(filter 1,$(OPENMP)),-fopenmp,)
CFLAGS  ?= -O3 $(ARCH)
WARN    := -Wall -Wextra -pedantic
ALL_CFLAGS = -std=c99 $(WARN) $(CFLAGS) $(OMPFLAG) -I.
LDLIBS  := -lm

HDR      := contrarec.h
TEST_SRC := tests/main.c tests/test_core.c tests/test_kernels.c tests/test_data.c tests/test_aug.c tests/test_grad.c tests/test_model.c tests/test_fit.c tests/test_tune.c tests/test_alloc.c tests/test_pictures.c tests/test_cli.c

.PHONY: all test test-mpi minimal asan valgrind fuzz bench check-header clean

all: build/contrarec

build:
	@mkdir -p build build/test-tmp

build/contrarec: examples/contrarec.c $(HDR) | build
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

build/tests: $(TEST_SRC) tests/test.h $(HDR) | build
	$(CC) $(ALL_CFLAGS) -o $@ $(TEST_SRC) $(LDLIBS)

# The header's quick start (examples/minimal.c) as C99 and as C++, run on a small dataset.
build/minimal-c: examples/minimal.c $(HDR) | build
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

build/minimal-cpp: examples/minimal.c $(HDR) | build
	$(CXX) -x c++ $(WARN) $(CFLAGS) $(OMPFLAG) -I. -o $@ $< $(LDLIBS)

minimal: build/minimal-c build/minimal-cpp
	@mkdir -p build/minimal
	@cp tests/data/small_train.txt build/minimal/train.txt
	@cp tests/data/small_test.txt build/minimal/test.txt
	cd build/minimal && ../minimal-c && ../minimal-cpp

test: build/tests build/contrarec minimal
	./build/tests

# AddressSanitizer + UndefinedBehaviorSanitizer over the whole suite; the CLI tests run the
# sanitized CLI (CRT_CLI), so a leak or UB on any of its exits fails them.
ASAN_FLAGS = -std=c99 $(WARN) -O1 -g $(ARCH) $(OMPFLAG) -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow -fno-omit-frame-pointer -I.
build/tests-asan: $(TEST_SRC) tests/test.h $(HDR) | build
	$(CC) $(ASAN_FLAGS) -o $@ $(TEST_SRC) $(LDLIBS)

build/contrarec-asan: examples/contrarec.c $(HDR) | build
	$(CC) $(ASAN_FLAGS) -o $@ $< $(LDLIBS)

asan: build/tests-asan build/contrarec-asan build/contrarec
	CRT_CLI=./build/contrarec-asan ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build/tests-asan

# Data-parallel training over MPI (Debian: openmpi-bin libopenmpi-dev): the library's tests and
# the CLI's, on 2 processes and on 4 (oversubscribed on a small machine), over loopback.
MPICC  ?= mpicc
MPIENV := OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
MPIRUN := $(MPIENV) timeout 600 mpirun
build/test_mpi: tests/test_mpi.c $(HDR) | build
	$(MPICC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

build/contrarec-mpi: examples/contrarec.c $(HDR) | build
	$(MPICC) $(ALL_CFLAGS) -DCONTRAREC_MPI -o $@ $< $(LDLIBS)

test-mpi: build/test_mpi build/contrarec-mpi build/contrarec
	$(MPIRUN) -np 2 ./build/test_mpi
	$(MPIRUN) -np 4 --oversubscribe ./build/test_mpi
	$(MPIENV) bash tests/mpi_cli.sh 2
	$(MPIENV) bash tests/mpi_cli.sh 4 --oversubscribe

# Benchmarks: kernels (GEMM vs OpenBLAS when installed, SpMM, loading) and training speed on
# the real data (../shared/data, or CR_DATA=...). BENCH_THREADS sets the threads (2).
BENCH_THREADS ?= 2
HAVE_OPENBLAS := $(shell printf '\043include <cblas.h>\nint main(void){return 0;}' | $(CC) -x c - -o /dev/null -lopenblas 2>/dev/null && echo 1)
BLAS_FLAGS := $(if $(HAVE_OPENBLAS),-DHAVE_CBLAS,)
BLAS_LIBS := $(if $(HAVE_OPENBLAS),-lopenblas,)

build/bench_kernels: bench/bench_kernels.c bench/common.h $(HDR) | build
	$(CC) -std=c99 -O3 $(ARCH) $(OMPFLAG) $(BLAS_FLAGS) -I. -o $@ $< $(BLAS_LIBS) $(LDLIBS)

build/bench_train: bench/bench_train.c bench/common.h $(HDR) | build
	$(CC) -std=c99 -O3 $(ARCH) $(OMPFLAG) -I. -o $@ $< $(LDLIBS)

# The stall diagnostic of the contrastive graph models on dense data (bench/notes/stall.md).
build/diag_stall: bench/diag_stall.c bench/common.h $(HDR) | build
	$(CC) -std=c99 -O3 $(ARCH) $(OMPFLAG) -I. -o $@ $< $(LDLIBS)

bench: build/bench_kernels build/bench_train
	OMP_NUM_THREADS=$(BENCH_THREADS) ./build/bench_kernels
	OMP_NUM_THREADS=$(BENCH_THREADS) ./build/bench_train xsimgcl 2
	OMP_NUM_THREADS=$(BENCH_THREADS) ./build/bench_train cl4srec 2

# The header alone, warning-free as C99, C11 and C++ with gcc and clang (and clang if present),
# with and without OpenMP, at every SIMD level.
# the compiles run side by side, one per core
JOBS_CPU := $(shell nproc 2>/dev/null || echo 2)
check-header: | build
	@printf '#define CONTRAREC_IMPLEMENTATION\n#include "contrarec.h"\nint main(void){return 0;}\n' > build/check_header.c
	@i=0; for cc in "gcc -std=c99" "gcc -std=c11" "g++ -x c++" $(if $(shell command -v clang),"clang -std=c99" "clang -std=c11" "clang++ -x c++"); do \
	  for f in "" "-fopenmp" "-march=native -fopenmp" "-mavx2 -mfma" "-DCR_NO_SIMD" "-DCONTRAREC_STATIC"; do i=$$((i + 1)); \
	    echo "$$cc -Wall -Wextra -pedantic -Werror -O2 $$f -I. -c build/check_header.c -o build/check_header-$$i.o"; \
	  done; done | xargs -P $(JOBS_CPU) -I CMD sh -c 'CMD || { echo "FAILED: CMD"; exit 255; }'
	@if command -v $(MPICC) >/dev/null; then for f in "-std=c99" "-std=c11 -fopenmp" "-x c++"; do \
	  echo "$(MPICC) $$f -DCONTRAREC_MPI -Wall -Wextra -pedantic -Werror -O2 -I. -c build/check_header.c"; \
	  $(MPICC) $$f -DCONTRAREC_MPI -Wall -Wextra -pedantic -Werror -O2 -I. -c build/check_header.c \
	    -o build/check_header-mpi.o || exit 1; done; fi
	@echo "ok: every compiler, language and flag set"

clean:
	rm -rf build

# Memcheck over the whole suite. Valgrind does not decode AVX-512, so this build stops at AVX2.
build/tests-vg: $(TEST_SRC) tests/test.h $(HDR) | build
	$(CC) -std=c99 $(WARN) -O1 -g $(if $(PORTABLE),,-mavx2 -mfma) $(OMPFLAG) -I. -o $@ $(TEST_SRC) $(LDLIBS)

# The two block-splitting InfoNCE checks (60,000-column products: 290 of the suite's 1,074 CPU seconds
# under valgrind) are arithmetic on buffers the other tests read too; make test and make asan run them.
# So does the resume after a contrast backoff (XSimGCL on 500 x 800 dense data: over 20 minutes under
# valgrind in a CI run); the other resume cases, run under valgrind, read and write the same state file.
# And the profile's check, whose machine measurement is a 1024^3 product and copies of 256 MB arrays.
# CRT_VALGRIND=1: the golden test trains its models on one thread only (the two-thread rerun,
# which checks the bits, not the memory, runs under make test and make asan).
VG_SKIP := grad/infonce_blocks_equal_separate_calls,grad/infonce_robust_blocks
VG_SKIP := $(VG_SKIP),grad/infonce_workspace_serves_fewer_queries,fit/resume_after_a_contrast_backoff
VG_SKIP := $(VG_SKIP),fit/profile_accounts_for_the_epoch
# the memory plan's tests train 23 one-epoch runs: AddressSanitizer covers their memory errors
VG_SKIP := $(VG_SKIP),alloc/memory_plan_matches_what_fit_takes,alloc/memory_limit_refuses_before_any_work
# 40 one-epoch runs that compare bits with and without the live products (over 3 minutes under valgrind);
# grad/propagation_backward_over_live_entries_is_bit_identical runs the same code on its own here
VG_SKIP := $(VG_SKIP),grad/last_layers_over_live_entries_train_the_same_bits
valgrind: build/tests-vg build/contrarec
	CRT_SKIP=$(VG_SKIP) CRT_VALGRIND=1 OMP_NUM_THREADS=2 valgrind --error-exitcode=1 --leak-check=full \
	  --errors-for-leak-kinds=definite,indirect \
	  --show-leak-kinds=definite,indirect --suppressions=tests/valgrind.supp ./build/tests-vg

# libFuzzer targets (clang), each run for FUZZ_SECONDS from the seed corpora in tests/fuzz; the
# checkpoint seeds are made fresh by the CLI, so they always match the current format (two of them
# with held-out validation records); tests/fuzz/corpus_ckpt keeps one of format 3.
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I.

build/fuzz_load: tests/fuzz/fuzz_load.c $(HDR) | build
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< -lm

build/fuzz_ckpt: tests/fuzz/fuzz_ckpt.c $(HDR) | build
	$(FUZZ_CC) $(FUZZ_FLAGS) -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -o $@ $< -lm

build/fuzz_crd: tests/fuzz/fuzz_crd.c $(HDR) | build
	$(FUZZ_CC) $(FUZZ_FLAGS) -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -o $@ $< -lm

# dataset files written by the CLI (contrarec convert), the seeds of fuzz_crd
build/fuzz-seeds-crd: build/contrarec tests/fuzz/tiny_graph.txt tests/fuzz/tiny_seq.txt
	mkdir -p $@
	./build/contrarec convert tests/fuzz/tiny_graph.txt $@/graph.crd --format lightgcn >/dev/null 2>&1 || exit 1
	./build/contrarec convert tests/fuzz/tiny_seq.txt $@/seq.crd --format seq >/dev/null 2>&1 || exit 1
	touch $@

build/fuzz_state: tests/fuzz/fuzz_state.c $(HDR) | build
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< -lm

build/fuzz_recbole: tests/fuzz/fuzz_recbole.c $(HDR) | build
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< -lm

build/gen_state_seeds: tests/fuzz/gen_state_seeds.c $(HDR) | build
	$(CC) -std=c99 -O1 -I. -o $@ $< -lm

# training states written by the CLI (train --resume) on tiny_graph.txt, the data fuzz_state
# embeds (cut-offs within its 8 items, and the default 10,20 beyond them), and hostile variants
# of two of them with recomputed checksums
build/fuzz-seeds-state: build/contrarec build/gen_state_seeds tests/fuzz/tiny_graph.txt
	rm -rf $@ && mkdir -p $@
	set -e; T="./build/contrarec train --train tests/fuzz/tiny_graph.txt --format lightgcn --dim 4 --epochs 2 --threads 1 --valid 0.5"; \
	  $$T --model mf --topk 2,4 --resume $@/mf.state >/dev/null 2>&1; \
	  $$T --model mf --resume $@/mf-topk-10-20.state >/dev/null 2>&1; \
	  $$T --model mf --select last --resume $@/mf-last.state >/dev/null 2>&1; \
	  $$T --model lightgcn --topk 2,4 --refit --resume $@/lightgcn-refit.state >/dev/null 2>&1; \
	  $$T --model recdcl --topk 2,4 --resume $@/recdcl.state >/dev/null 2>&1; \
	  $$T --model rcl --adv prev --topk 2,4 --resume $@/rcl-prev.state >/dev/null 2>&1
	./build/gen_state_seeds $@/mf.state $@ hostile-mf >/dev/null
	./build/gen_state_seeds $@/recdcl.state $@ hostile-recdcl >/dev/null

# The run-log reader of plot and report (examples/contrarec.c, included whole).
.PHONY: fuzz-runlog
build/fuzz_runlog: tests/fuzz/fuzz_runlog.c examples/contrarec.c $(HDR) | build
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< -lm

fuzz-runlog: build/fuzz_runlog
	mkdir -p build/fuzz-work/runlog
	./build/fuzz_runlog -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -rss_limit_mb=2048 build/fuzz-work/runlog tests/fuzz/corpus_runlog
	@if ls tests/fuzz/regressions/runlog-* >/dev/null 2>&1; then ./build/fuzz_runlog tests/fuzz/regressions/runlog-*; fi

fuzz: fuzz-runlog

build/fuzz-seeds: build/contrarec tests/fuzz/tiny_graph.txt tests/fuzz/tiny_seq.txt
	mkdir -p $@
	for m in mf lightgcn xsimgcl; do ./build/contrarec train --model $$m --train tests/fuzz/tiny_graph.txt --format lightgcn --dim 4 --epochs 1 --threads 1 --select last --save $@/$$m.crrc >/dev/null 2>&1 || exit 1; done
	./build/contrarec train --model cl4srec --train tests/fuzz/tiny_seq.txt --dim 4 --maxlen 4 --epochs 1 --threads 1 --proj-head --select last --save $@/cl4srec.crrc >/dev/null 2>&1 || exit 1
	./build/contrarec train --model lightgcn --train tests/fuzz/tiny_graph.txt --format lightgcn --dim 4 --epochs 2 \
	  --threads 1 --valid 0.5 --save $@/lightgcn-held.crrc >/dev/null 2>&1 || exit 1
	./build/contrarec train --model gru4rec --train tests/fuzz/tiny_seq.txt --dim 4 --maxlen 4 --epochs 2 --threads 1 \
	  --save $@/gru4rec-held.crrc >/dev/null 2>&1 || exit 1
	touch $@

fuzz: build/fuzz_load build/fuzz_ckpt build/fuzz-seeds build/fuzz_state build/fuzz_recbole build/fuzz-seeds-state \
      build/fuzz_crd build/fuzz-seeds-crd
	mkdir -p build/fuzz-work/load build/fuzz-work/ckpt build/fuzz-work/state build/fuzz-work/recbole build/fuzz-work/crd
	./build/fuzz_load -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -rss_limit_mb=2048 build/fuzz-work/load tests/fuzz/corpus_load
	./build/fuzz_ckpt -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 build/fuzz-work/ckpt build/fuzz-seeds tests/fuzz/corpus_ckpt
	./build/fuzz_state -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -rss_limit_mb=2048 build/fuzz-work/state build/fuzz-seeds-state
	./build/fuzz_recbole -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -rss_limit_mb=2048 build/fuzz-work/recbole tests/fuzz/corpus_recbole
	./build/fuzz_crd -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -rss_limit_mb=2048 build/fuzz-work/crd build/fuzz-seeds-crd
	@if ls tests/fuzz/regressions/load-* >/dev/null 2>&1; then ./build/fuzz_load tests/fuzz/regressions/load-*; fi
	@if ls tests/fuzz/regressions/ckpt-* >/dev/null 2>&1; then ./build/fuzz_ckpt tests/fuzz/regressions/ckpt-*; fi
	@if ls tests/fuzz/regressions/state-* >/dev/null 2>&1; then ./build/fuzz_state tests/fuzz/regressions/state-*; fi
	@if ls tests/fuzz/regressions/recbole-* >/dev/null 2>&1; then ./build/fuzz_recbole tests/fuzz/regressions/recbole-*; fi
