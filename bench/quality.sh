#!/usr/bin/env bash
# Quality runs on the real datasets, as reported in README.md. Each run is the command-line
# program with --json; the summary lines come from its final {"best_epoch":...} object.
#   bench/quality.sh graph      XSimGCL (30 epochs), LightGCN, SGL-ED, SimGCL (20) on Gowalla
#   bench/quality.sh seq        GRU4Rec vs CL4SRec-GRU (defaults: projection head, tau 0.2; and the
#                               paper's tau 1 without a head) on Amazon-Beauty, 3 seeds x 20 epochs
# Needs ../shared/data (or CR_DATA=dir). Threads: BENCH_THREADS (2). Logs: build/quality/.
# CR_BIN=path runs another build of the program (e.g. a copy, while the tree is rebuilt).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${CR_DATA:-../shared/data}
export OMP_NUM_THREADS=${BENCH_THREADS:-2}
OUT=build/quality
mkdir -p "$OUT"
BIN=${CR_BIN:-}
if [ -z "$BIN" ]; then make -s build/contrarec; BIN=./build/contrarec; fi

# value of "key": in a JSON line
field() { sed -n "s/.*\"$1\":\([-0-9.e]*\).*/\1/p"; }

# "m@k v m@k v ..." for the metrics in MS at the cut-offs in KS, from one JSON line
metrics() { local line=$1 k m; for k in "${KS[@]}"; do for m in "${MS[@]}"; do printf ' %s@%s %s' "$m" "$k" "$(echo "$line" | field "$m@$k")"; done; done; }

run() { # name, args...: the last epoch's metrics, then the best epoch's
    local name=$1; shift
    "$BIN" train "$@" --no-auc --json > "$OUT/$name.json" 2> "$OUT/$name.err"
    local best last
    best=$(tail -n 1 "$OUT/$name.json")
    last=$(grep '"epoch"' "$OUT/$name.json" | tail -n 1)
    printf '%-24s epoch %s:%s  | best epoch %s:%s  | mean epoch %.1f s\n' "$name" "$(echo "$last" | field epoch)" "$(metrics "$last")" \
        "$(echo "$best" | field best_epoch)" "$(metrics "$best")" "$(field train_s < "$OUT/$name.json" | awk '{s += $1; n++} END {print s / n}')"
}

case "${1:-graph}" in
graph)
    G="--train $DATA/gowalla/train.txt --test $DATA/gowalla/test.txt"
    KS=(20)
    MS=(recall ndcg)
    run xsimgcl-gowalla --model xsimgcl $G --epochs 30
    run lightgcn-gowalla --model lightgcn $G --epochs 20
    run sgl-ed-gowalla --model sgl --aug ed $G --epochs 20
    run simgcl-gowalla --model simgcl $G --epochs 20
    ;;
seq)
    B="--train $DATA/amazon-beauty/train.txt --test $DATA/amazon-beauty/test.txt"
    KS=(10)
    MS=(hit ndcg)
    for seed in 1 2 3; do
        run "gru4rec-beauty-s$seed" --model gru4rec $B --epochs 20 --seed $seed
        run "cl4srec-beauty-s$seed" --model cl4srec $B --epochs 20 --seed $seed
        run "cl4srec-paper-beauty-s$seed" --model cl4srec --no-proj-head --tau 1 $B --epochs 20 --seed $seed
    done
    # mean over the seeds of the last epoch's HR@10 and NDCG@10 for each configuration
    for cfg in gru4rec cl4srec cl4srec-paper; do
        for seed in 1 2 3; do grep '"epoch"' "$OUT/$cfg-beauty-s$seed.json" | tail -n 1; done |
            awk -v c="$cfg" '{ match($0, /"hit@10":[0-9.e-]+/); h += substr($0, RSTART + 9, RLENGTH - 9)
                               match($0, /"ndcg@10":[0-9.e-]+/); n += substr($0, RSTART + 10, RLENGTH - 10); k++ }
                             END { printf "%-24s mean of %d seeds at the last epoch: hit@10 %.4f ndcg@10 %.4f\n", c, k, h / k, n / k }'
    done
    ;;
*) echo "usage: bench/quality.sh graph|seq" >&2; exit 2 ;;
esac
