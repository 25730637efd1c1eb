#!/usr/bin/env bash
# The cluster model of data-parallel training (bench/RESULTS.md), from bench/mpi.sh's logs:
#   bench/mpi_model.sh [MODEL] [EPOCHS]   (default: xsimgcl 5; reads ~/.cache/contrarec/mpi/)
# A step (one batch) on P processes takes
#   t(P) = S / P + R + bytes(P) / bandwidth + c * 2 (P - 1) * latency
# S: the one-process step's encoder, contrastive and recommendation phases (split across the
# processes), R: its Adam, sampling and other phases (every process repeats them), bytes(P) =
# (P - 1) / P * V with V from the 2-process run's count (bytes(2) = V / 2), c = 8 collectives
# a step (XSimGCL, 2 layers: 3 all-gathers forward, 1 back, 4 all-reduces), latency 5 us a
# message. For the 10^8-interaction synthetic graph (4.4 M nodes, 159.3 M graph entries) S's
# encoder part scales with its entries, V and R with its nodes, from Gowalla's (70,839 nodes, 1.62 M).
set -euo pipefail
model=${1:-xsimgcl}; epochs=${2:-5}
dir=${MPI_LOGS:-$HOME/.cache/contrarec/mpi}
p1="$dir/$model-gowalla-e$epochs-p1.json" p2="$dir/$model-gowalla-e$epochs-p2.json"
sum() { grep -o "\"$1\":[0-9.e+-]*" "$2" | cut -d: -f2 | head -n "$epochs" | awk '{ s += $1 } END { print s }'; }
batch=$(sed -n 's/.*config: model=[a-z]* dim=[0-9]* layers=[0-9]* batch=\([0-9]*\).*/\1/p' "$p1.err" | head -1)
ntrain=$(grep -o '"train_interactions":[0-9]*' "$p1" | tail -1 | cut -d: -f2)
steps=$(( (ntrain + batch - 1) / batch * epochs ))
enc=$(sum encode_s "$p1") con=$(sum contrast_s "$p1") rec=$(sum rec_s "$p1")
rep=$(awk -v a="$(sum adam_s "$p1")" -v b="$(sum sample_s "$p1")" -v c="$(sum other_s "$p1")" 'BEGIN { print a + b + c }')
V=$(grep -o '"sent_bytes_per_batch":[0-9.e+-]*' "$p2" | head -1 | cut -d: -f2)
awk -v enc="$enc" -v con="$con" -v rec="$rec" -v rep="$rep" -v steps="$steps" -v V="$V" -v nb="$(( ntrain / batch + 1 ))" '
BEGIN {
    V *= 2; lat = 5e-6; c = 8
    printf "one process: %d steps, encoder %.1f ms, contrast %.1f ms, rec %.1f ms (split), the rest %.1f ms a step; V = %.1f MB\n",
        steps, 1e3 * enc / steps, 1e3 * con / steps, 1e3 * rec / steps, 1e3 * rep / steps, V / 1e6
    for (g = 0; g < 2; g++) {
        Se = enc / steps; Sc = (con + rec) / steps; R = rep / steps; Vg = V; n = nb
        name = "Gowalla"
        if (g) { Se *= 159.3e6 / 1.62e6; Vg *= 4.4e6 / 70839; R *= 4.4e6 / 70839; n = int(79.6e6 / 2048) + 1
                 name = "10^8 synthetic" }
        t1 = Se + Sc + R
        printf "%s, batch 2048: one process %.3f s a step, %.1f min an epoch (%d steps)\n", name, t1, t1 * n / 60, n
        printf "  %-6s %-22s %-22s\n", "nodes", "10 Gb/s: s/epoch (x1)", "100 Gb/s: s/epoch (x1)"
        for (P = 4; P <= 64; P *= 2) {
            line = sprintf("  %-6d", P)
            for (bw = 1.25e9; bw <= 12.5e9; bw *= 10) {
                t = (Se + Sc) / P + R + (P - 1) / P * Vg / bw + c * 2 * (P - 1) * lat
                line = line sprintf(" %-22s", sprintf("%.0f (%.2fx)", t * n, t1 / t))
            }
            print line
        }
    }
}'
