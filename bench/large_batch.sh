#!/usr/bin/env bash
# Large batches against the default one: full propagation at batch B with the square-root
# learning-rate rule (--lr-rule sqrt: lr * sqrt(B / the model's default batch)).
#   bench/large_batch.sh DATA MODEL "B1 B2 ..." [train options]
# DATA: lastfm or gowalla (../shared/data, or CR_DATA). Each run: one thread, its epoch selected
# on the validation split carved from training (10% per user), evaluated every B / 2048 epochs,
# until validation NDCG@20 has not improved for LB_PATIENCE (30) evaluations, at most LB_MAX (1000)
# x B / 2048 epochs (evaluations, patience and cap at the same numbers of training examples at
# every batch size); the test set read once, at the selected epoch. Two runs side by side (one per core). Prints per batch size: test Recall@20
# and NDCG@20, the selected epoch, seconds per epoch, the total training seconds and peak RSS.
# Logs: ~/.cache/contrarec/large-batch/.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$1 model=$2 batches=$3; shift 3
DATA=${CR_DATA:-../shared/data}
out=${LB_LOGS:-$HOME/.cache/contrarec/large-batch}
mkdir -p "$out"
make -s build/contrarec
cores=$(nproc)
run() { # B
    local b=$1 log="$out/$model-$data-b$1.json"
    shift
    [ -n "${LB_REUSE:-}" ] && [ -s "$log" ] && return 0
    /usr/bin/time -f %M -o "$log.rss" ./build/contrarec train --model "$model" --train "$DATA/$data/train.txt" \
        --test "$DATA/$data/test.txt" --batch "$b" --lr-rule sqrt --threads 1 --json --no-progress \
        --eval-every $(( b > 2048 ? b / 2048 : 1 )) --patience "${LB_PATIENCE:-30}" \
        --max-epochs $(( ${LB_MAX:-1000} * (b > 2048 ? b / 2048 : 1) )) "$@" \
        > "$log" 2> "$log.err"
}
pids=()
for b in $batches; do
    run "$b" "$@" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$cores" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
wait
echo "# $model on $data, $(lscpu | sed -n 's/^Model name: *//p'), one thread per run, $(git rev-parse --short HEAD)"
printf "%-7s %-10s %-14s %-12s %-9s %-9s %-9s %-8s\n" batch lr test_recall@20 test_ndcg@20 selected s/epoch train_s peak_MB
for b in $batches; do
    log="$out/$model-$data-b$b.json"
    get() { grep -o "\"$1\":[0-9.e+-]*" "$log" | cut -d: -f2 || true; }
    n=$(get train_s | wc -l)
    sec=$(get train_s | head -n $((n - 1)) | awk '{ s += $1; n++ } END { if (n) printf "%.2f", s / n }')
    lr=$(sed -n "s/^Adam's step: lr \([0-9.e-]*\) .*/\1/p" "$log.err" | head -1)
    printf "%-7s %-10s %-14s %-12s %-9s %-9s %-9s %-8s\n" "$b" "$lr" "$(get test_recall@20 | tail -1)" \
        "$(get test_ndcg@20 | tail -1)" "$(get best_epoch | tail -1)" "$sec" "$(get train_s | tail -1)" \
        "$(awk '{ printf "%.0f", $1 / 1024 }' "$log.rss")"
done
