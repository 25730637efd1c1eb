#!/usr/bin/env bash
# Data-parallel training over MPI on this machine, against one process, at equal epochs.
#   bench/mpi.sh [MODEL] [EPOCHS] [PROCS...]   (default: xsimgcl 5 1 2 4)
# On Gowalla (../shared/data, or CR_DATA): the model trained EPOCHS epochs, one thread per
# process, its epoch selected on the validation split carved from training (10% per user) and
# the test set read once at that epoch; for each process count: test Recall@20 and NDCG@20,
# seconds per epoch, the bytes each process sent per batch, and the profile of the one-process
# run (--profile, for the cluster model in bench/RESULTS.md). Logs: ~/.cache/contrarec/mpi/
# (MPI_REUSE=1 reads a log already there instead of running it again).
# Builds build/contrarec and build/contrarec-mpi (make; Debian: openmpi-bin libopenmpi-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-xsimgcl}; epochs=${2:-5}; shift $(( $# > 2 ? 2 : $# )) || true
procs=("$@"); [ ${#procs[@]} -gt 0 ] || procs=(1 2 4)
DATA=${CR_DATA:-../shared/data}
out=${MPI_LOGS:-$HOME/.cache/contrarec/mpi}
mkdir -p "$out"
make -s build/contrarec build/contrarec-mpi
cores=$(nproc)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
args=(train --model "$model" --train "$DATA/gowalla/train.txt" --test "$DATA/gowalla/test.txt"
      --epochs "$epochs" --threads 1 --json --profile)
echo "# $model on Gowalla, $epochs epochs, $(lscpu | sed -n 's/^Model name: *//p'), $cores cores, $(git rev-parse --short HEAD)"
printf "%-6s %-14s %-12s %-10s %-12s\n" procs test_recall@20 test_ndcg@20 s/epoch sent_MB/batch
for p in "${procs[@]}"; do
    log="$out/$model-gowalla-e$epochs-p$p.json"
    if [ -n "${MPI_REUSE:-}" ] && [ -s "$log" ]; then :  # MPI_REUSE=1: the logs already there
    elif [ "$p" = 1 ]; then ./build/contrarec "${args[@]}" > "$log" 2> "$log.err"
    else mpirun -np "$p" --oversubscribe ./build/contrarec-mpi "${args[@]}" > "$log" 2> "$log.err"; fi
    get() { grep -o "\"$1\":[0-9.e+-]*" "$log" | cut -d: -f2 || true; }
    sec=$(get train_s | head -n "$epochs" | awk '{ s += $1; n++ } END { if (n) printf "%.1f", s / n }')
    sent=$(get sent_bytes_per_batch | head -1 | awk '{ printf "%.2f", $1 / 1e6 }')
    printf "%-6s %-14s %-12s %-10s %-12s\n" "$p" "$(get test_recall@20 | tail -1)" "$(get test_ndcg@20 | tail -1)" \
        "$sec" "${sent:-0}"
done
