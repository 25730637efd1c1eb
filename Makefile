# contrarec: make (build examples + CLI into build/), make test, make asan, make bench, make clean.
# Portable binaries (no -march=native):  make PORTABLE=1
# Without OpenMP:                        make OPENMP=0

CC      ?= cc
OPENMP  ?= 1
ARCH    := $(if $(PORTABLE),,-march=native)
OMPFLAG := $(if $(filter 1,$(OPENMP)),-fopenmp,)
CFLAGS  ?= -O3 $(ARCH)
WARN    := -Wall -Wextra -pedantic
ALL_CFLAGS = -std=c99 $(WARN) $(CFLAGS) $(OMPFLAG) -I.
LDLIBS  := -lm

HDR      := contrarec.h
TEST_SRC := tests/main.c tests/test_core.c tests/test_kernels.c tests/test_data.c tests/test_grad.c tests/test_model.c tests/test_alloc.c

.PHONY: all test asan bench clean

all: build/contrarec

build:
	@mkdir -p build build/test-tmp

build/contrarec: examples/contrarec.c $(HDR) | build
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

build/tests: $(TEST_SRC) tests/test.h $(HDR) | build
	$(CC) $(ALL_CFLAGS) -o $@ $(TEST_SRC) $(LDLIBS)

test: build/tests
	./build/tests

# AddressSanitizer + UndefinedBehaviorSanitizer over the whole suite.
build/tests-asan: $(TEST_SRC) tests/test.h $(HDR) | build
	$(CC) -std=c99 $(WARN) -O1 -g $(ARCH) $(OMPFLAG) -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -I. -o $@ $(TEST_SRC) $(LDLIBS)

asan: build/tests-asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build/tests-asan

clean:
	rm -rf build
