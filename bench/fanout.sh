#!/usr/bin/env bash
# Sampled-neighbourhood batches (--fanout F) against whole-graph propagation (F = 0).
#   bench/fanout.sh DATA MODEL "F1 F2 ..." "SEED1 SEED2 ..." [train options]
# DATA: lastfm or gowalla (../shared/data, or CR_DATA). Each run: one thread, its epoch selected
# on the validation split carved from training (10% per user; without --epochs in the options:
# until validation NDCG@20 has not improved for 30 epochs, at most 1000), history items
# masked, the test set read once at the selected epoch. FO_JOBS runs side by side (default:
# the cores). Prints per fan-out and seed: test Recall@20 and NDCG@20, the selected epoch,
# seconds per epoch (the mean over the epochs trained), the training seconds and peak RSS;
# then per fan-out the mean over the seeds and their spread (max - min). Each run also writes
# its per-user test metrics (for `contrarec compare`). Logs: ~/.cache/contrarec/fanout/
# (FO_REUSE=1 keeps a finished run's log).
set -euo pipefail
cd "$(dirname "$0")/.."
data=$1 model=$2 fanouts=$3 seeds=$4; shift 4
DATA=${CR_DATA:-../shared/data}
out=${FO_LOGS:-$HOME/.cache/contrarec/fanout}
mkdir -p "$out"
make -s build/contrarec
jobs=${FO_JOBS:-$(nproc)}
run() { # F SEED [options]
    local f=$1 s=$2 log="$out/$model-$data-f$1-s$2.json"
    shift 2
    [ -n "${FO_REUSE:-}" ] && [ -s "$log" ] && grep -q test_recall "$log" && return 0
    /usr/bin/time -f %M -o "$log.rss" ./build/contrarec train --model "$model" \
        --train "$DATA/$data/train.txt" --test "$DATA/$data/test.txt" \
        --fanout "$f" --seed "$s" --threads 1 --json --no-progress \
        --patience 30 --per-user "$out/$model-$data-f$f-s$s.tsv" "$@" > "$log" 2> "$log.err"
}
pids=()
for f in $fanouts; do
    for s in $seeds; do
        run "$f" "$s" "$@" &
        pids+=($!)
        if [ ${#pids[@]} -ge "$jobs" ]; then wait "${pids[0]}" || true; pids=("${pids[@]:1}"); fi
    done
done
wait || true
echo "# $model on $data, $(lscpu | sed -n 's/^Model name: *//p'), one thread per run, $(git rev-parse --short HEAD)"
printf "%-7s %-5s %-14s %-12s %-9s %-9s %-9s %-8s\n" fanout seed test_recall@20 test_ndcg@20 selected s/epoch train_s peak_MB
for f in $fanouts; do
    for s in $seeds; do
        log="$out/$model-$data-f$f-s$s.json"
        get() { grep -o "\"$1\":[0-9.e+-]*" "$log" | cut -d: -f2 || true; }
        n=$(get train_s | wc -l)
        sec=$(get train_s | head -n $((n - 1)) | awk '{ s += $1; n++ } END { if (n) printf "%.2f", s / n }')
        printf "%-7s %-5s %-14s %-12s %-9s %-9s %-9s %-8s\n" "$f" "$s" "$(get test_recall@20 | tail -1)" \
            "$(get test_ndcg@20 | tail -1)" "$(get best_epoch | tail -1)" "$sec" "$(get train_s | tail -1)" \
            "$(awk '{ printf "%.0f", $1 / 1024 }' "$log.rss")"
    done
done
for f in $fanouts; do
    for s in $seeds; do grep -o '"test_recall@20":[0-9.e+-]*' "$out/$model-$data-f$f-s$s.json" | tail -1 | cut -d: -f2; done |
        awk -v f="$f" '{ x[NR] = $1; s += $1 } END { mn = x[1]; mx = x[1]; for (i in x) { if (x[i] < mn) mn = x[i]; if (x[i] > mx) mx = x[i] }
            printf "fanout %s: mean test Recall@20 %.4f over %d seeds, spread %.4f\n", f, s / NR, NR, mx - mn }'
done
