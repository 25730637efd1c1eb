#!/usr/bin/env bash
# The CLI over MPI (make test-mpi): `mpirun -np N contrarec-mpi train` on the built-in synthetic
# data gives the test Recall@20 and NDCG@20 of one process within 0.01 (tests/test_mpi.c says
# why not the same bits), prints the bytes each process sent per batch, and process 0 alone
# writes the checkpoint. Usage: tests/mpi_cli.sh NP [mpirun options]
set -euo pipefail
np=$1; shift
dir=build/test-tmp/mpi-cli-$np
rm -rf "$dir"; mkdir -p "$dir"
fail=0
for model in lightgcn xsimgcl; do
    args=(train --model "$model" --epochs 3 --threads 1 --json)
    ./build/contrarec "${args[@]}" 2>/dev/null | tail -1 > "$dir/one.json"
    mpirun -np "$np" "$@" ./build/contrarec-mpi "${args[@]}" --save "$dir/$model.bin" > "$dir/all.log" 2>&1
    tail -1 "$dir/all.log" > "$dir/mpi.json"
    get() { grep -o "\"$2\":[0-9.e+-]*" "$1" | head -1 | cut -d: -f2; }
    r1=$(get "$dir/one.json" test_recall@20) rn=$(get "$dir/mpi.json" test_recall@20)
    n1=$(get "$dir/one.json" test_ndcg@20) nn=$(get "$dir/mpi.json" test_ndcg@20)
    sent=$(get "$dir/all.log" sent_bytes_per_batch) procs=$(get "$dir/all.log" processes)
    ok=$(awk -v a="$r1" -v b="$rn" -v c="$n1" -v d="$nn" 'BEGIN { print (a != "" && b != "" && \
        (a - b < 0.01 && b - a < 0.01) && (c - d < 0.01 && d - c < 0.01)) ? 1 : 0 }')
    lines=$(grep -c '"epoch"' "$dir/all.log" || true)
    if [ "$ok" = 1 ] && [ "$procs" = "$np" ] && [ -n "$sent" ] && [ "$lines" = 3 ] && [ -s "$dir/$model.bin" ]; then
        echo "mpi-cli/$model on $np processes: recall@20 $rn (one process $r1), $sent bytes per batch sent: ok"
    else
        echo "mpi-cli/$model on $np processes: recall@20 '$rn' vs '$r1', ndcg@20 '$nn' vs '$n1'," \
             "processes '$procs', bytes '$sent', epoch lines $lines (want 3): FAILED"
        fail=1
    fi
done
exit $fail
