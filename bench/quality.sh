#!/usr/bin/env bash
# Quality runs on the real datasets, as reported in bench/RESULTS.md. Every run selects its
# epoch on a validation split carved from the training data (10% of each user's interactions
# for graph data, each user's last training item for sequences) and reads the test set once,
# at the selected model. Each run is the command-line program with --json; the summary line
# comes from its final {"best_epoch":...} object.
#   bench/quality.sh graph      XSimGCL (until validation stops improving) and LightGCN (30 epochs)
#                               on Gowalla; graph-sgl: SGL-ED, graph-simgcl: SimGCL (20 epochs)
#   bench/quality.sh seq        GRU4Rec and CL4SRec-GRU on Amazon-Beauty, seeds 1-3, selected
#                               with history items masked (--exclude-history) and not masked
#                               (HIST=exclude: the masked selection only); each run reports the
#                               test set under both protocols
#   bench/quality.sh seqfeatures
#                               GRU4Rec on Amazon-Beauty with the item attributes, with and without
#                               correlated feature masking, against ID-only GRU4Rec, seeds 1-3,
#                               history masked
#   bench/quality.sh fmask      GRU4Rec on Amazon-Beauty with the item attributes: no masking, random
#                               and correlated feature masking, seeds 1-3, history masked, the best
#                               of FM_EPOCHS (6) epochs on validation
#   bench/quality.sh tune-attr  the attribute-ID contrast's weight (0.2, 0.5, 1) chosen on validation
#                               under the colditems protocol
#   bench/quality.sh recbole    RecBole's atomic files (.inter, .item) written from Amazon-Beauty
#                               give the same runs as the text files (GRU4Rec and LightGCN with
#                               attribute features, one epoch each)
#   bench/quality.sh tune-cl4srec
#                               the CL4SRec settings compared on validation only (seed 1)
#   bench/quality.sh negatives  LightGCN on Gowalla, 30 epochs: uniform, DNS, MixGCF negatives
#   bench/quality.sh ncl        NCL on Gowalla, 10 epochs (ncl-noproto: without the prototype term)
#   bench/quality.sh views      SGL on Gowalla, 10 epochs: ED and mixed views, and LightGCN;
#                               views-b: subgraph views, ED views kept 5 epochs
#   bench/quality.sh noise-lightgcn, noise-xsimgcl, noise-sgl (-b, -c)
#                               the model on Gowalla with 0/10/20% noisy training pairs, 20 epochs
#   bench/quality.sh claims-s1 (-s2, -s3)
#                               LightGCN, SGL-ED, XSimGCL on Gowalla, one seed, per-user results;
#                               claims: the three seeds compared per user with bootstrap intervals
#                               (sparse users, long tail, diversity)
#   bench/quality.sh lastfm-s1 (-s2, -s3)
#                               every graph method on Last.fm, one seed, each to its own stop
#                               (patience 30), per-user results; lastfm: the three seeds, then the
#                               table: mean and spread over the seeds, and each method against
#                               LightGCN with a paired bootstrap interval
#   bench/quality.sh beauty-s1 (-s2, -s3), beauty
#                               LightGCN, SGL-ED, XSimGCL and NCL the same way on Amazon-Beauty as
#                               a graph (per user 80/10/10, the same split for every seed)
#   bench/quality.sh claims-lastfm, claims-lastfm-cold, claims-lastfm-noise (-noise0.1, -noise0.2)
#                               the article's claims: SGL-ED, XSimGCL and NCL against LightGCN over
#                               three seeds (averaged per user, paired bootstrap): sparse users, the
#                               long tail, diversity; 10% of the users held out and folded in; 10%
#                               and 20% noisy training pairs. claims-beauty...: on Amazon-Beauty;
#                               -sN after a name: seed N alone
#   bench/quality.sh coldusers  LightGCN and XSimGCL on Last.fm: 10% of the users held out and
#                               folded in, beside the same users trained on
#   bench/quality.sh recdcl     RecDCL's protocol on Amazon-Beauty (train + test joined, per-user
#                               80/10/10, validation NDCG@20, stop after 11 evaluations without
#                               improvement): RecDCL at d = 256 and 512 against LightGCN at the same
#                               d and at its best d on validation; its parts: recdcl-lightgcn (d = 64,
#                               256), recdcl-lightgcn-512, recdcl-256 and recdcl-512 (45-minute
#                               installments, each continuing the run)
#   bench/quality.sh rcl        XSimGCL and RCL's parts on Last.fm with 0% and 20% noisy training
#                               pairs, the best of 100 epochs on validation
#   bench/quality.sh rcl-gowalla
#                               RCL against XSimGCL on Gowalla with 0/10% noisy training pairs
#                               (20 epochs, RCL_EPOCHS); rcl-gowalla-b: 20%
#   bench/quality.sh colditems  item cold start on Amazon-Beauty as a graph (RecDCL's per-user
#                               80/10/10 split, 10% of the items held out): LightGCN with item ids
#                               only, with ids + attribute features, with the attribute-ID
#                               contrast, and with correlated feature masking; warm, cold and
#                               all-item rankings
#   bench/quality.sh list       every section with the minutes it is expected to take on 2 cores
#   bench/quality.sh baseline SECTION
#                               run the section, then write its figures (each run's test metrics
#                               at its selected epoch, with commit, seeds, machine and command)
#                               into bench/baseline.tsv, replacing the section's earlier rows
#   bench/quality.sh check SECTION
#                               run the section at this commit and compare every figure with the
#                               baseline: a figure beyond its tolerance or missing fails
#   bench/quality.sh table SECTION [METRIC...]
#                               the section's baseline figures as a markdown table (seeds: mean ± sd)
#   bench/quality.sh readme [--check]
#                               the results tables of README.md and bench/RESULTS.md regenerated
#                               from the baseline (--check: fail when they differ; CI runs it)
#   bench/quality.sh provenance [GLOB]
#                               each run whose name matches GLOB (all by default): the commit,
#                               machine and seconds it ran, and whether its log is complete
# Needs ../shared/data (or CR_DATA=dir). BENCH_THREADS threads per run (2), JOBS runs at once (1;
# the Last.fm and Amazon-Beauty graph sections: 2 runs of 1 thread unless either is given).
# Logs, resumable training states and provenance live outside the work tree, in
# $CR_QUALITY_DIR (default ~/.cache/contrarec/quality), so a later session on the same machine
# resumes them. Each run NAME leaves NAME.json (its --json log), NAME.err and NAME.meta: the
# last commit of the code (with "+dirty" when the header or the program differ from it), the command, the
# machine, the threads, and the seconds it took. A complete log is reused only when its commit
# is the current one (QUALITY_REUSE=any reuses it whatever made it; the summary then names
# that commit); a training state left by another commit is discarded (QUALITY_REUSE=any
# continues it, for code that trains the same bits: the .meta file then adds resumed_by=). CR_BIN=path runs another
# build of the program. QUALITY_ONLY=NAME[,NAME...] runs only those methods of a Last.fm or
# Amazon-Beauty section (its tables then say "not run" for the others; check and baseline touch
# only their rows). QUALITY_MINUTES=M stops the section's runs after M minutes, their states
# kept for the next call (installments). Every section that trained something appends its wall
# time to OUT/sections.tsv.
set -euo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."
DATA=${CR_DATA:-../shared/data}
GIVEN_JOBS=${JOBS:-}${BENCH_THREADS:-} # empty: the section picks (most: one run at a time on 2 threads)
export OMP_NUM_THREADS=${BENCH_THREADS:-2}
JOBS=${JOBS:-1}
OUT=${CR_QUALITY_DIR:-$HOME/.cache/contrarec/quality}
mkdir -p "$OUT"

# Expected minutes of each section on 2 cores (BENCH_THREADS=2, JOBS=1), as section:minutes:how,
# how = "m" (measured whole at the commit named in the section's .meta files; `provenance`
# gives each run's seconds) or "e" (estimated: the epochs the runs last ran, or their cap, times
# seconds per epoch measured on an Intel Xeon with AVX-512, 2 threads, at commits 842f522 and
# 1352876: Gowalla LightGCN 19, DNS 22, MixGCF 31, SGL 68, SimGCL 44, XSimGCL 24 (28 epochs to
# its stop), RCL 26, NCL 253; Last.fm 0.1-0.7; Amazon-Beauty GRU4Rec 3.9, CL4SRec 5.2 (about
# 40 epochs to their stop, assumed), LightGCN on the 80/10/10 split 1.1 at d = 64, 16.7 at
# d = 512, RecDCL at d = 512 46 (55 or more epochs)). Sections over 45 minutes are to be split.
# lastfm-sN: the three seeds took 49 minutes of wall time together at 148ec92 (2 runs of 1
# thread, other work on the machine), 14-17 a seed, before lightgcn-e2000 (estimated 5 more).
# Amazon-Beauty as a graph, one thread, other work on the machine: LightGCN 3.9 s an epoch
# (evaluation included, up to 300), SGL-ED 17.6, NCL about 28: a seed's three runs about 45
# minutes at 2 runs at once, NCL's run alone (2 threads) about an hour.
# "i" marks a section of runs longer than 45 minutes: it runs in 45-minute calls (installments,
# QUALITY_MINUTES), each continuing from the runs' training states; its fourth field is the
# expected minutes in all.
SECTIONS="graph:21:e graph-sgl:23:e graph-simgcl:15:e negatives:36:e ncl:42:e ncl-noproto:42:e views:26:e
 views-b:23:e noise-lightgcn:19:e noise-xsimgcl:24:e noise-sgl:23:e noise-sgl-b:23:e noise-sgl-c:23:e
 claims-s1:43:e claims-s2:43:e claims-s3:43:e claims:2:e coldusers:3:m rcl:10:e rcl-gowalla:33:e
 rcl-gowalla-b:17:e recdcl-lightgcn:45:e recdcl-lightgcn-512:41:e recdcl-256:45:i:110 recdcl-512:45:i:200 recdcl:1:e
 colditems:20:e tune-attr:15:e recbole:1:e seq:36:e seqfeatures:30:e fmask:5:e tune-cl4srec:14:e
 lastfm-s1:22:e lastfm-s2:22:e lastfm-s3:22:e lastfm:1:e claims-lastfm:1:e claims-lastfm-cold:18:m
 claims-lastfm-noise:30:m beauty-s1:45:e beauty-s2:45:e beauty-s3:45:e beauty-ncl-s1:45:i:60 beauty-ncl-s2:45:i:60
 beauty-ncl-s3:45:i:60 beauty:1:e claims-beauty:1:e claims-beauty-cold-s1:45:e claims-beauty-cold-s2:45:e
 claims-beauty-cold-s3:45:e claims-beauty-cold-ncl-s1:45:i:60 claims-beauty-cold-ncl-s2:45:i:60
 claims-beauty-cold-ncl-s3:45:i:60
 claims-beauty-noise0.1-s1:45:e claims-beauty-noise0.1-s2:45:e claims-beauty-noise0.1-s3:45:e
 claims-beauty-noise0.2-s1:45:e claims-beauty-noise0.2-s2:45:e claims-beauty-noise0.2-s3:45:e
 claims-beauty-noise0.1-ncl-s1:45:i:60 claims-beauty-noise0.1-ncl-s2:45:i:60 claims-beauty-noise0.1-ncl-s3:45:i:60
 claims-beauty-noise0.2-ncl-s1:45:i:60 claims-beauty-noise0.2-ncl-s2:45:i:60 claims-beauty-noise0.2-ncl-s3:45:i:60
 claims-beauty-cold:1:e claims-beauty-noise:1:e"

# value of key= in a run's .meta file (empty when there is none)
meta() { [ -e "$OUT/$1.meta" ] || return 0; sed -n "s/^$2=//p" "$OUT/$1.meta" | head -n 1; }

# the code a run measures: the last commit that changed the header, the program or the Makefile
# (a commit of documents or of this script leaves the runs reusable), plus a hash of any
# uncommitted change to them ("+dirty-HASH"), plus the hash of another build given as CR_BIN
COMMIT=$(git log -1 --format=%h --abbrev=12 -- contrarec.h examples Makefile 2>/dev/null || true)
COMMIT=${COMMIT:-unknown}
if ! git diff --quiet HEAD -- contrarec.h examples Makefile 2>/dev/null; then
    COMMIT="$COMMIT+dirty-$(git diff HEAD -- contrarec.h examples Makefile | cksum | cut -d' ' -f1)"
fi
if [ -n "${CR_BIN:-}" ]; then COMMIT="$COMMIT+bin-$(cksum < "$CR_BIN" | cut -d' ' -f1)"; fi
MACHINE="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)"
MACHINE="$MACHINE, $(nproc 2>/dev/null || echo ?) cores"

case "${1:-}" in
list)
    total=0
    for e in $SECTIONS; do
        IFS=: read -r n mins how all <<< "$e"
        if [ "$how" = i ]; then
            total=$((total + all))
            printf '%-30s %4s min  estimated, a call; about %s min in all: %s calls, each continuing the runs\n' \
                "$n" "$mins" \
                "$all" "$(( (all + mins - 1) / mins ))"
            continue
        fi
        total=$((total + mins))
        printf '%-30s %4s min  %-9s %s\n' "$n" "$mins" "$([ "$how" = m ] && echo measured || echo estimated)" \
            "$([ "$mins" -gt 45 ] && echo "over 45 minutes: to be split" || true)"
    done
    printf '%-30s %4s min  (%.1f hours on 2 cores)\n' total "$total" "$(awk -v t="$total" 'BEGIN { print t / 60 }')"
    exit 0
    ;;
provenance)
    # every run whose name matches ${2:-*}: commit, seconds, complete or not, machine
    for f in "$OUT"/${2:-*}.meta; do
        [ -e "$f" ] || continue
        n=$(basename "$f" .meta)
        st=incomplete
        if grep -q '"best_epoch"' "$OUT/$n.json" 2>/dev/null; then st=complete; fi
        printf '%-32s commit %-18s %6s s  %-10s %s\n' "$n" "$(meta "$n" commit)" "$(meta "$n" seconds)" "$st" \
            "$(meta "$n" machine)"
    done
    exit 0
    ;;
table)
    # the baseline figures of SECTION (or of S1,S2,...: the sections of one seed each) as a
    # markdown table: the runs of one method over seeds (NAME-sN) make one row, each metric
    # (test_recall@20 and test_ndcg@20 unless named) as the mean ± the sample standard
    # deviation over the seeds, with the seeds and the commits that ran them
    [ -n "${2:-}" ] || { echo "usage: bench/quality.sh table SECTION[,SECTION...] [METRIC...]" >&2; exit 2; }
    sec=$2; shift 2
    M="${*:-test_recall@20 test_ndcg@20}"
    awk -F'\t' -v s="$sec" -v metrics="$M" '
        BEGIN { nm = split(metrics, ms, " "); ns = split(s, ss, ","); for (j = 1; j <= ns; j++) want[ss[j]] = 1 }
        ($1 in want) { n = $2; sd = n; sub(/-s[0-9]+$/, "", n); sub(/.*-s/, "", sd)
            if (!(n in seen)) { seen[n] = 1; order[++k] = n }
            if (!((n, $2) in run)) {
                run[n, $2] = 1; nseed[n]++
                seeds[n] = seeds[n] (seeds[n] == "" ? "" : ",") ($2 ~ /-s[0-9]+$/ ? sd : $7)
            }
            sum[n, $3] += $4; sq[n, $3] += $4 * $4; cnt[n, $3]++
            if (!((n, $6) in hasc)) { hasc[n, $6] = 1; commit[n] = commit[n] (commit[n] == "" ? "" : ", ") $6 } }
        END {
            if (!k) { print "table: no baseline figures for section " s > "/dev/stderr"; exit 1 }
            printf "| run | seeds |"; for (j = 1; j <= nm; j++) printf " %s |", ms[j]; print " commit |"
            printf "|---|---|"; for (j = 1; j <= nm; j++) printf "---|"; print "---|"
            for (i = 1; i <= k; i++) { n = order[i]; printf "| %s | %s |", n, seeds[n]
                for (j = 1; j <= nm; j++) { c = cnt[n, ms[j]]
                    if (!c) { printf " |"; continue }
                    m = sum[n, ms[j]] / c; v = c > 1 ? (sq[n, ms[j]] - c * m * m) / (c - 1) : 0
                    if (c > 1) printf " %.4f ± %.4f |", m, sqrt(v > 0 ? v : 0); else printf " %.4f (1 seed) |", m }
                printf " %s |\n", commit[n] } }' "bench/baseline.tsv"
    exit 0
    ;;
readme)
    # the tables of README.md and bench/RESULTS.md between "<!-- table SECTION [METRIC...] -->"
    # and "<!-- /table -->", regenerated from bench/baseline.tsv (readme --check: exit 1,
    # changing nothing, when a document's tables are not what the baseline gives)
    bad=0
    for doc in README.md bench/RESULTS.md; do
        tmp=$(mktemp)
        skip=0
        while IFS= read -r line || [ -n "$line" ]; do
            if [ $skip = 1 ]; then
                case $line in "<!-- /table -->") skip=0; printf '%s\n' "$line" ;; esac
                continue
            fi
            printf '%s\n' "$line"
            case $line in
            "<!-- table "*" -->")
                a=${line#<!-- table }
                bash "$SELF" table ${a% -->} || { rm -f "$tmp"; exit 1; }
                skip=1 ;;
            esac
        done < "$doc" > "$tmp"
        if [ $skip = 1 ]; then
            echo "readme: $doc: a '<!-- table' block without its '<!-- /table -->'" >&2
            rm -f "$tmp"
            exit 1
        fi
        if [ "${2:-}" = --check ]; then
            if ! cmp -s "$tmp" "$doc"; then
                diff "$doc" "$tmp" >&2 || true
                echo "readme: $doc's tables differ from bench/baseline.tsv (bench/quality.sh readme rewrites them)" >&2
                bad=1
            fi
            rm -f "$tmp"
        else mv "$tmp" "$doc"; fi
    done
    if [ "${2:-}" = --check ]; then
        [ $bad = 0 ] && echo "readme: the tables of README.md and bench/RESULTS.md match bench/baseline.tsv"
        exit $bad
    fi
    echo "readme: the tables of README.md and bench/RESULTS.md regenerated from bench/baseline.tsv"
    exit 0
    ;;
*)
    BIN=${CR_BIN:-}
    if [ -z "$BIN" ]; then make -s build/contrarec; BIN=./build/contrarec; fi
    ;;
esac

# value of "key": in a JSON line
field() { sed -n "s/.*\"$1\":\([-0-9.e]*\).*/\1/p"; }

# true when the run's log is complete and may be reused: made by this code (and, given a
# command, by that command), or by any code with QUALITY_REUSE=any
reusable() {
    grep -q '"best_epoch"' "$OUT/$1.json" 2>/dev/null || return 1
    if [ $# -gt 1 ] && [ "$(meta "$1" command)" != "$2" ]; then return 1; fi
    [ "${QUALITY_REUSE:-}" = any ] || [ "$(meta "$1" commit)" = "$COMMIT" ]
}

run() { # name, args...: one training run in the background (at most JOBS at once); a run whose
         # log is complete and came from this commit is kept (FORCE=1 reruns it), so the sections
         # can share runs. An interrupted run of this commit continues from its training state
         # (--resume OUT/NAME.state), its log appended to; the state is removed when the run ends
    local name=$1 app= cmd; shift
    cmd="$BIN train $* --no-auc --json"
    RUNS+=("$name")
    if [ -z "${FORCE:-}" ] && reusable "$name" "$cmd"; then return; fi
    if [ -n "${FORCE:-}" ] || [ "$(meta "$name" command)" != "$cmd" ] ||
        { [ "$(meta "$name" commit)" != "$COMMIT" ] && [ "${QUALITY_REUSE:-}" != any ]; }; then
        rm -f "$OUT/$name.state"
    fi
    [ -e "$OUT/$name.state" ] && app=1
    # a complete log about to be replaced (another commit's, or FORCE) is kept beside it
    if [ -z "$app" ] && grep -q '"best_epoch"' "$OUT/$name.json" 2>/dev/null; then
        for f in json meta err tsv; do [ -e "$OUT/$name.$f" ] && mv "$OUT/$name.$f" "$OUT/$name.prev.$f"; done
    fi
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
    left=$(budget_left)
    if [ "$left" -le 0 ]; then echo "$name: not started, the budget (QUALITY_MINUTES) is spent" >&2; return; fi
    if [ -z "$app" ]; then
        printf 'commit=%s\ncommand=%s\nmachine=%s\nthreads=%s\nstarted=%s\n' "$COMMIT" "$cmd" "$MACHINE" \
            "$OMP_NUM_THREADS" "$(date -u +%FT%TZ)" > "$OUT/$name.meta"
    else
        printf 'resumed=%s\n' "$(date -u +%FT%TZ)" >> "$OUT/$name.meta"
        # QUALITY_REUSE=any continues another commit's state: the log names both
        if [ "$(meta "$name" commit)" != "$COMMIT" ]; then printf 'resumed_by=%s\n' "$COMMIT" >> "$OUT/$name.meta"; fi
    fi
    EXECUTED=$((EXECUTED + 1))
    ( t0=$(date +%s) rc=0
      if [ -n "$app" ]; then exec 3>> "$OUT/$name.json" 4>> "$OUT/$name.err"
      else exec 3> "$OUT/$name.json" 4> "$OUT/$name.err"; fi
      timeout -s TERM "$left" "$BIN" train "$@" --no-auc --json --resume "$OUT/$name.state" >&3 2>&4 || rc=$?
      printf 'part_seconds=%s\n' "$(( $(date +%s) - t0 ))" >> "$OUT/$name.meta"
      if [ $rc = 0 ]; then
          rm -f "$OUT/$name.state"
          printf 'seconds=%s\nfinished=%s\n' "$(sed -n 's/^part_seconds=//p' "$OUT/$name.meta" | awk '{s += $1} END {print s}')" \
              "$(date -u +%FT%TZ)" >> "$OUT/$name.meta"
      elif [ $rc = 124 ]; then echo "$name: paused at the budget, its state kept: the same command continues it" >&2
      else echo "$name failed: $(tail -n 1 "$OUT/$name.err")" >&2; fi ) &
}

# seconds left of the section's budget (QUALITY_MINUTES, from the start of this script; a large
# number without one): a run still going at the end is stopped and continues from its training
# state the next time the section runs, so a section longer than a session runs in installments
START=$(date +%s) EXECUTED=0
budget_left() {
    if [ -z "${QUALITY_MINUTES:-}" ]; then echo 100000000; return; fi
    echo $(( START + QUALITY_MINUTES * 60 - $(date +%s) ))
}

# name, K, metrics...: the selected epoch, its validation value and the test metrics
summary() {
    local name=$1 k=$2 last m ts er c; shift 2
    if ! grep -q '"best_epoch"' "$OUT/$name.json" 2>/dev/null; then printf '%-30s not finished\n' "$name"; return; fi
    last=$(tail -n 1 "$OUT/$name.json")
    ts=$(echo "$last" | field train_s)
    er=$(echo "$last" | field epochs_run)
    printf '%-30s epoch %3s of %3s (%5.1f s/epoch)  valid ndcg@%s %s  test' "$name" "$(echo "$last" | field best_epoch)" "$er" \
        "$(awk -v a="$ts" -v b="$er" 'BEGIN { print a / b }')" "$k" "$(echo "$last" | field "valid_ndcg@$k")"
    for m in "$@"; do printf ' %s %s' "$m" "$(echo "$last" | field "test_$m")"; done
    c=$(meta "$name" commit)
    if [ "$c" != "$COMMIT" ]; then printf '  [from commit %s, not %s]' "${c:-unknown}" "$COMMIT"; fi
    printf '\n'
}

# mean over seeds of test_<metric> in the final lines of name-s1..3
mean3() { local name=$1 m=$2 s; for s in 1 2 3; do tail -n 1 "$OUT/$name-s$s.json" | field "test_$m"; done | awk '{s += $1} END {printf "%.4f", s / NR}'; }

# The methods compared on Last.fm and Amazon-Beauty, NAME:OPTIONS (commas for spaces), each
# to its own stop (the default rule, patience 30), selected on validation, known items masked,
# its test evaluation written per user; the claims sections set the first four side by side.
METHODS="lightgcn:--model,lightgcn sgl-ed:--model,sgl,--aug,ed xsimgcl:--model,xsimgcl ncl:--model,ncl
 ncl-noproto:--model,ncl,--proto-reg,0 sgl-nd:--model,sgl,--aug,nd sgl-rw:--model,sgl,--aug,rw
 sgl-mixed:--model,sgl,--aug,mixed sgl-subgraph:--model,sgl,--aug,subgraph
 sgl-ed-every5:--model,sgl,--aug,ed,--view-every,5 simgcl:--model,simgcl rcl:--model,rcl
 lightgcn-dns:--model,lightgcn,--neg,dns lightgcn-mixgcf:--model,lightgcn,--neg,mixgcf
 lightgcn-e2000:--model,lightgcn,--max-epochs,2000"
# (lightgcn-e2000: LightGCN at its lr of 1e-3 reached the 500-epoch cap on Last.fm still improving)
CLAIMED="sgl-ed xsimgcl ncl" # against lightgcn

# D (lastfm or beauty): the data and stop options of its protocol. Amazon-Beauty as a graph:
# each user's sequence and test item in one file, split 80/10/10 per user (RecBole's rule) with
# --data-seed 1, so every seed trains and tests on the same parts and the runs pair by user.
protocol() {
    case $1 in
    lastfm) echo "--train $DATA/lastfm/train.txt --test $DATA/lastfm/test.txt --max-epochs 500 --patience 30" ;;
    beauty)
        # written once and replaced whole (never under a run reading it), only when it changed
        awk -F: 'NR == FNR {t[$1] = $2; next} {print $1 ":" $2 " " t[$1]}' "$DATA/amazon-beauty/test.txt" \
            "$DATA/amazon-beauty/train.txt" > "$OUT/beauty-all.txt.new"
        if cmp -s "$OUT/beauty-all.txt.new" "$OUT/beauty-all.txt"; then rm -f "$OUT/beauty-all.txt.new"
        else mv "$OUT/beauty-all.txt.new" "$OUT/beauty-all.txt"; fi
        echo "--train $OUT/beauty-all.txt --format seq --split ratio:0.8,0.1,0.1 --data-seed 1" \
            "--max-epochs 300 --patience 30" ;;
    *) echo "quality.sh: no protocol for data '$1' (lastfm, beauty)" >&2; return 1 ;;
    esac
}

# D, variant (clean, cold, noise0.1, noise0.2), seed, methods: the runs NAME-D[-variant]-sSEED,
# each leaving its per-user file NAME...tsv (the held-out users' for cold)
method_runs() {
    local d=$1 v=$2 s=$3 e n a x P p; shift 3
    P=$(protocol "$d")
    for e in "$@"; do
        n=${e%%:*} a=$(echo "${e#*:}" | tr ',' ' ')
        p=$P
        case $a in *--max-epochs*) p=$(echo "$P" | sed 's/ --max-epochs [0-9]*//') ;; esac # the method's own cap
        case $v in
        clean) x="$n-$d-s$s" ;;
        *) x="$n-$d-$v-s$s" ;;
        esac
        # a per-user file is this code's only beside a reusable log; a reusable log without its
        # per-user file is rerun (a paused run's log and state are kept)
        if ! reusable "$x"; then rm -f "$OUT/$x.tsv"
        elif [ ! -e "$OUT/$x.tsv" ]; then rm -f "$OUT/$x.json"; fi
        case $v in
        clean) run "$x" $a $p --seed "$s" --per-user "$OUT/$x.tsv" ;;
        cold) run "$x" $a $p --seed "$s" --cold-users 0.1 --data-seed 1 --per-user-cold "$OUT/$x.tsv" ;;
        noise*) run "$x" $a $p --seed "$s" --train-noise "${v#noise}" --per-user "$OUT/$x.tsv" ;;
        esac
    done
}

# the METHODS entries of the given names
methods_named() {
    local e n
    for e in $METHODS; do for n in "$@"; do if [ "${e%%:*}" = "$n" ]; then echo "$e"; fi; done; done
}

# D, variant, name: mean and sample standard deviation over seeds 1-3 of test recall@20 and
# ndcg@20 (the held-out users' for cold), and the mean selected epoch
seed_stats() {
    local s f k=test
    [ "$2" = cold ] && k=cold
    for s in 1 2 3; do
        f="$OUT/$3-$1$([ "$2" = clean ] || echo "-$2")-s$s.json"
        tail -n 1 "$f" | awk -v k="$k" '{ r = $0; sub(".*\"" k "_recall@20\":", "", r); sub(",.*", "", r)
            n = $0; sub(".*\"" k "_ndcg@20\":", "", n); sub(",.*", "", n)
            e = $0; sub(".*\"best_epoch\":", "", e); sub(",.*", "", e); print r, n, e }'
    done | awk '{ r[NR] = $1; n[NR] = $2; e += $3; sr += $1; sn += $2 }
        END { mr = sr / NR; mn = sn / NR; for (i = 1; i <= NR; i++) { vr += (r[i] - mr) ^ 2; vn += (n[i] - mn) ^ 2 }
              printf "%.4f ± %.4f | %.4f ± %.4f | %.0f", mr, sqrt(vr / (NR - 1)), mn, sqrt(vn / (NR - 1)), e / NR }'
}

# A and B as comma-separated per-user files (seeds): compare's line LABEL as "A | B | gain [lo, hi]",
# the gain "no difference measured (gain [lo, hi])" when the interval holds 0; with a fourth
# argument the line's own label and its users first
gain() {
    "$BIN" compare "$1" "$2" --boot 2000 | awk -v w="$3" -v lab="${4:-}" 'index($0, w) == 1 {
        match($0, / A [0-9.]+/); ma = substr($0, RSTART + 3, RLENGTH - 3)
        match($0, / B [0-9.]+/); mb = substr($0, RSTART + 3, RLENGTH - 3)
        if (lab) {
            l = substr($0, 1, 34); sub(/ +$/, "", l); match($0, /[0-9]+ users/)
            printf "%s (%s) | ", l, substr($0, RSTART, RLENGTH)
        }
        printf "%s | %s | ", ma, mb
        g = $0; if (!sub(/.*gain */, "", g) || g ~ /^n\/a/) { printf "n/a"; exit }
        gsub(/[][,%]/, " ", g); split(g, q, " ") # the gain, the low and high ends of its interval, in %
        if (q[2] + 0 <= 0 && q[3] + 0 >= 0) printf "no difference measured (%+.1f%% [%+.1f, %+.1f])", q[1], q[2], q[3]
        else printf "%+.1f%% [%+.1f, %+.1f]", q[1], q[2], q[3] }'
}

# D, variant, seeds: the comma-separated per-user files of method NAME (the last argument)
pu_files() {
    local s o=
    for s in $3; do o="$o,$OUT/$4-$1$([ "$2" = clean ] || echo "-$2")-s$s.tsv"; done
    echo "${o#,}"
}

# D, variant, name: true when the three seeds' runs are complete logs of this code with their files
seeds_done() {
    local s x
    for s in 1 2 3; do
        x="$3-$1$([ "$2" = clean ] || echo "-$2")-s$s"
        reusable "$x" && [ -e "$OUT/$x.tsv" ] || return 1
    done
}

# D, methods: the markdown table of the section, every method over seeds 1-3 and against LightGCN
results_table() {
    local d=$1 e n L; shift
    L=$(pu_files "$d" clean "1 2 3" lightgcn)
    echo "| method | Recall@20 | NDCG@20 | epoch | LightGCN | method | Recall@20 against LightGCN [95% interval] |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for e in "$@"; do
        n=${e%%:*}
        if ! seeds_done "$d" clean "$n"; then echo "| $n | not run | | | | | |"; continue; fi
        printf '| %s | %s | %s |\n' "$n" "$(seed_stats "$d" clean "$n")" \
            "$([ "$n" = lightgcn ] && echo "| |" || gain "$L" "$(pu_files "$d" clean "1 2 3" "$n")" "Recall, all users")"
    done
}

# D, variants: the article's claims, each claimed method against LightGCN, seeds 1-3 averaged
# per user, paired bootstrap over the users (2,000 resamples)
claims_table() {
    local d=$1 v m L B w g; shift
    echo "| data | variant | measure | method | LightGCN | method | gain [95% interval] |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for v in "$@"; do
        L=$(pu_files "$d" "$v" "1 2 3" lightgcn)
        for m in $CLAIMED; do
            B=$(pu_files "$d" "$v" "1 2 3" "$m")
            if ! seeds_done "$d" "$v" lightgcn || ! seeds_done "$d" "$v" "$m"; then
                printf '| %s | %s | | %s | not run (every seed of it and of LightGCN) | | |\n' "$d" "$v" "$m"
                continue
            fi
            case $v in
            clean) W="Recall, all users|Recall, users with history|long-tail recall|intra-list diversity" ;;
            cold) W="Recall, all users" ;;
            *) W="Recall, all users" ;;
            esac
            while IFS= read -r w; do
                g=$(gain "$L" "$B" "$w" label)
                printf '| %s | %s | %s%s | %s | %s |\n' "$d" "$v" "$([ "$v" = cold ] && echo "held-out users, folded in: ")" \
                    "${g%% |*}" "$m" "${g#*| }"
            done <<< "$(echo "$W" | tr '|' '\n')"
        done
    done
}

# check SECTION / baseline SECTION: run the section (reusing this commit's complete logs), then
# compare its figures with bench/baseline.tsv, or write them there
MODE=run
if [ "${1:-}" = check ] || [ "${1:-}" = baseline ]; then MODE=$1; shift; fi
[ -n "${1:-}" ] || { echo "usage: bench/quality.sh [check|baseline] SECTION, list, provenance [NAME]" \
    "(bench/quality.sh list: the sections and their minutes)" >&2; exit 2; }
SECTION=$1
RUNS=()
case "$SECTION" in
graph)
    G="--train $DATA/gowalla/train.txt --test $DATA/gowalla/test.txt"
    run xsimgcl-gowalla --model xsimgcl $G
    run lightgcn-gowalla --model lightgcn $G --epochs 30
    wait
    for n in xsimgcl lightgcn; do summary "$n-gowalla" 20 recall@20 ndcg@20; done
    ;;
graph-sgl|graph-simgcl)
    G="--train $DATA/gowalla/train.txt --test $DATA/gowalla/test.txt"
    if [ "$SECTION" = graph-sgl ]; then n=sgl-ed; run sgl-ed-gowalla --model sgl --aug ed $G --epochs 20
    else n=simgcl; run simgcl-gowalla --model simgcl $G --epochs 20; fi
    wait
    summary "$n-gowalla" 20 recall@20 ndcg@20
    ;;
negatives)
    # LightGCN (3 layers) for 30 epochs with uniform, DNS and MixGCF negatives (M = 64)
    G="--train $DATA/gowalla/train.txt --test $DATA/gowalla/test.txt"
    run lightgcn-gowalla --model lightgcn $G --epochs 30
    run lightgcn-dns-gowalla --model lightgcn --neg dns $G --epochs 30
    run lightgcn-mixgcf-gowalla --model lightgcn --neg mixgcf $G --epochs 30
    wait
    for n in lightgcn lightgcn-dns lightgcn-mixgcf; do summary "$n-gowalla" 20 recall@20 ndcg@20; done
    ;;
ncl|ncl-noproto)
    # NCL with its authors' Gowalla settings, 10 epochs, with (ncl) and without (ncl-noproto) the
    # prototype term, each against LightGCN at the same 10 epochs (the views section's run)
    G="--train $DATA/gowalla/train.txt --test $DATA/gowalla/test.txt --epochs 10"
    if [ "$SECTION" = ncl ]; then run ncl-gowalla-e10 --model ncl $G
    else run ncl-noproto-gowalla-e10 --model ncl --proto-reg 0 $G; fi
    wait
    summary "$SECTION-gowalla-e10" 20 recall@20 ndcg@20
    if reusable lightgcn-gowalla-e10; then summary lightgcn-gowalla-e10 20 recall@20 ndcg@20
    else echo "(LightGCN at 10 epochs: bench/quality.sh views)"; fi
    ;;
views|views-b)
    # 10 equal epochs on Gowalla: SGL with edge-dropout, mixed and subgraph views, and with
    # edge-dropout views kept for 5 epochs; LightGCN (views) as the reference of NCL's sections
    G="--train $DATA/gowalla/train.txt --test $DATA/gowalla/test.txt --epochs 10"
    if [ "$SECTION" = views ]; then
        V="sgl-ed:--aug=ed sgl-mixed:--aug=mixed"
        run lightgcn-gowalla-e10 --model lightgcn $G
    else V="sgl-subgraph:--aug=subgraph sgl-ed-every5:--aug=ed,--view-every=5"; fi
    for v in $V; do run "${v%%:*}-gowalla-e10" --model sgl $(echo "${v#*:}" | tr ',=' '  ') $G; done
    wait
    for v in $V; do
        n=${v%%:*}
        summary "$n-gowalla-e10" 20 recall@20 ndcg@20
        grep '"prep_s"' "$OUT/$n-gowalla-e10.json" | awk -F'"prep_s":' '{split($2, a, ","); s += a[1]; n++}
            END {printf "%-30s mean view-building time %.2f s/epoch\n", "", s / n}'
    done
    if [ "$SECTION" = views ]; then summary lightgcn-gowalla-e10 20 recall@20 ndcg@20; fi
    ;;
claims|claims-s1|claims-s2|claims-s3)
    # the article's claims on Gowalla: LightGCN (30 epochs), SGL-ED (20) and XSimGCL (until
    # validation stops improving), each writing its test evaluation per user; claims-sN runs seed
    # N alone (about 43 minutes on Gowalla), claims runs the seeds still missing, then compares
    # SGL and XSimGCL with LightGCN, the three seeds averaged per user, with bootstrap
    # intervals: all users, the sparsest 20%, long-tail recall, intra-list diversity (Last.fm and
    # Amazon-Beauty: claims-lastfm, claims-beauty)
    D=gowalla
    G="--train $DATA/$D/train.txt --test $DATA/$D/test.txt"
    EL="--epochs 30" ES="--epochs 20" EX=
    seeds="1 2 3"
    if [ "$SECTION" != claims ]; then seeds=${SECTION#claims-s}; fi
    for s in $seeds; do
        for m in lightgcn sgl-ed xsimgcl; do # a log without its per-user file is rerun
            [ -e "$OUT/$m-$D-s$s.tsv" ] || rm -f "$OUT/$m-$D-s$s.json"
        done
        run lightgcn-$D-s$s --model lightgcn $G $EL --seed $s --per-user "$OUT/lightgcn-$D-s$s.tsv"
        run sgl-ed-$D-s$s --model sgl --aug ed $G $ES --seed $s --per-user "$OUT/sgl-ed-$D-s$s.tsv"
        run xsimgcl-$D-s$s --model xsimgcl $G $EX --seed $s --per-user "$OUT/xsimgcl-$D-s$s.tsv"
    done
    wait
    for m in lightgcn sgl-ed xsimgcl; do for s in $seeds; do summary $m-$D-s$s 20 recall@20 ndcg@20; done; done
    if [ "$SECTION" = claims ]; then
        L="$OUT/lightgcn-$D-s1.tsv,$OUT/lightgcn-$D-s2.tsv,$OUT/lightgcn-$D-s3.tsv"
        for m in sgl-ed xsimgcl; do
            "$BIN" compare "$L" "$OUT/$m-$D-s1.tsv,$OUT/$m-$D-s2.tsv,$OUT/$m-$D-s3.tsv"
        done
    fi
    ;;
coldusers)
    # user cold start on Last.fm: 10% of the users held out of training and folded in from their
    # training items, beside the same users trained on (--cold-warm); selected on validation
    # (the held-out users have no validation records): XSimGCL over 100 epochs, LightGCN (slower
    # to converge at lr 1e-3) up to 500 epochs with patience 30
    L="--train $DATA/lastfm/train.txt --test $DATA/lastfm/test.txt"
    for m in lightgcn xsimgcl; do
        E="--epochs 100"
        if [ $m = lightgcn ]; then E="--epochs 500 --patience 30 --stop plain"; fi
        run $m-lastfm-cold --model $m $L $E --cold-users 0.1
        run $m-lastfm-warm --model $m $L $E --cold-users 0.1 --cold-warm
    done
    wait
    for m in lightgcn xsimgcl; do
        for v in cold warm; do
            summary "$m-lastfm-$v" 20 recall@20 ndcg@20
            last=$(tail -n 1 "$OUT/$m-lastfm-$v.json")
            printf '%-30s %s held-out users (%s): recall@20 %s ndcg@20 %s (popularity %s %s)\n' "" "$(echo "$last" | field cold_users)" \
                "$(echo "$last" | sed -n 's/.*"cold_mode":"\([a-z-]*\)".*/\1/p')" "$(echo "$last" | field cold_recall@20)" \
                "$(echo "$last" | field cold_ndcg@20)" "$(echo "$last" | field cold_pop_recall@20)" "$(echo "$last" | field cold_pop_ndcg@20)"
        done
    done
    ;;
rcl)
    # robust contrast: each RCL part against XSimGCL, on clean and noisy training data
    # 100 epochs, the best on validation: with early stopping (patience 10) XSimGCL on noisy
    # data stopped on a plateau at epoch 14 that it leaves after epoch 20
    L="--train $DATA/lastfm/train.txt --test $DATA/lastfm/test.txt --epochs 100"
    # (name:options, every part explicit)
    V="xsimgcl:--model=xsimgcl rcl-mask:--model=rcl,--adv=off rcl-prev:--model=rcl,--adv=prev
       rcl-exact:--model=rcl,--adv=exact rcl-adv:--model=rcl,--nce-mask=off,--adv=exact
       rcl-dcl:--model=rcl,--nce=dcl,--adv=exact rcl-adnce:--model=rcl,--nce=adnce,--adv=exact
       rcl-conf:--model=rcl,--gamma=0.5,--adv=exact"
    for p in ${RCL_NOISE:-0 0.2}; do
        for v in ${RCL_VARIANTS:-$V}; do
            run "robust-${v%%:*}-n$p" $(echo "${v#*:}" | tr ',=' '  ') $L --train-noise $p
        done
    done
    wait
    for p in ${RCL_NOISE:-0 0.2}; do
        for v in ${RCL_VARIANTS:-$V}; do summary "robust-${v%%:*}-n$p" 20 recall@20 ndcg@20; done
    done
    ;;
rcl-gowalla|rcl-gowalla-b)
    # RCL (its defaults: false negatives masked) against XSimGCL on Gowalla with 0 and 10%
    # (rcl-gowalla) and 20% (rcl-gowalla-b) noisy training pairs, 20 epochs each (RCL_EPOCHS),
    # the best on validation. Prints each model's test Recall@20 change against its clean run
    # (when that run is there) and RCL / XSimGCL
    E=${RCL_EPOCHS:-20}
    sfx=; [ "$E" = 20 ] || sfx=-e$E
    G="--train $DATA/gowalla/train.txt --test $DATA/gowalla/test.txt --epochs $E"
    P="0 0.1"; [ "$SECTION" = rcl-gowalla ] || P=0.2
    for p in $P; do
        run "xsimgcl-gowalla-noise$p$sfx" --model xsimgcl $G --train-noise $p
        run "rcl-gowalla-noise$p$sfx" --model rcl $G --train-noise $p
    done
    wait
    for m in xsimgcl rcl; do
        clean=
        if reusable "$m-gowalla-noise0$sfx"; then
            clean=$(tail -n 1 "$OUT/$m-gowalla-noise0$sfx.json" | field test_recall@20)
        fi
        for p in $P; do
            summary "$m-gowalla-noise$p$sfx" 20 recall@20 ndcg@20
            r=$(tail -n 1 "$OUT/$m-gowalla-noise$p$sfx.json" | field test_recall@20)
            if [ -n "$clean" ]; then printf '%-30s test recall@20 change against clean training %+.1f%%\n' "" \
                "$(awk -v a="$clean" -v b="$r" 'BEGIN { print 100 * (b - a) / a }')"; fi
        done
    done
    for p in $P; do
        printf 'noise %-4s RCL / XSimGCL test recall@20 %.3f\n' "$p" "$(awk -v a="$(tail -n 1 "$OUT/rcl-gowalla-noise$p$sfx.json" | field test_recall@20)" \
            -v b="$(tail -n 1 "$OUT/xsimgcl-gowalla-noise$p$sfx.json" | field test_recall@20)" 'BEGIN { print a / b }')"
    done
    ;;
recdcl|recdcl-lightgcn|recdcl-lightgcn-512|recdcl-256|recdcl-512)
    # RecDCL's protocol: one interaction file, as RecDCL's Beauty.inter (each user's training
    # sequence and its test item), split per user 80/10/10, validation NDCG@20, stop after 11
    # evaluations without improvement. recdcl-lightgcn: LightGCN at d = 64 and 256;
    # recdcl-lightgcn-512: at d = 512; recdcl-256, recdcl-512: RecDCL at that d, in installments
    # of 45 minutes (QUALITY_MINUTES): each call continues the run from its training state;
    # recdcl: every run (the missing ones first) and RecDCL against LightGCN at the same d and
    # at LightGCN's best d on validation
    A="$OUT/beauty-all.txt" # (regenerated: cheap, and the same bytes every time)
    awk -F: 'NR == FNR {t[$1] = $2; next} {print $1 ":" $2 " " t[$1]}' "$DATA/amazon-beauty/test.txt" "$DATA/amazon-beauty/train.txt" > "$A"
    R="--train $A --format seq --split ratio:0.8,0.1,0.1 --patience 11 --stop plain --max-epochs 300"
    LD="64 256 512" RD="256 512"
    case $SECTION in
    recdcl-lightgcn) LD="64 256" RD= ;;
    recdcl-lightgcn-512) LD=512 RD= ;;
    recdcl-256|recdcl-512) LD= RD=${SECTION#recdcl-} QUALITY_MINUTES=${QUALITY_MINUTES:-45} ;;
    esac
    # RecDCL first: its runs are the longest, so with JOBS=2 the LightGCN runs share the other core
    for d in $RD; do run recdcl-beauty-d$d --model recdcl $R --dim $d; done
    for d in $LD; do run lightgcn-beauty-d$d --model lightgcn $R --dim $d; done
    wait
    for d in $LD; do summary lightgcn-beauty-d$d 20 recall@20 ndcg@20; done
    for d in $RD; do summary recdcl-beauty-d$d 20 recall@20 ndcg@20; done
    if [ "$SECTION" = recdcl ]; then
        best= bestv=0
        for d in $LD; do
            reusable lightgcn-beauty-d$d || continue
            v=$(tail -n 1 "$OUT/lightgcn-beauty-d$d.json" | field valid_ndcg@20)
            if awk -v a="$v" -v b="$bestv" 'BEGIN { exit !(a > b) }'; then best=$d bestv=$v; fi
        done
        for d in $RD; do
            reusable recdcl-beauty-d$d && reusable lightgcn-beauty-d$d || continue
            r=$(tail -n 1 "$OUT/recdcl-beauty-d$d.json" | field test_recall@20)
            printf '%-30s test recall@20 %.3f x LightGCN at d = %s, %.3f x LightGCN at d = %s (its best on validation)\n' "" \
                "$(awk -v a="$r" -v b="$(tail -n 1 "$OUT/lightgcn-beauty-d$d.json" | field test_recall@20)" 'BEGIN { print a / b }')" \
                "$d" "$(awk -v a="$r" -v b="$(tail -n 1 "$OUT/lightgcn-beauty-d$best.json" | field test_recall@20)" 'BEGIN { print a / b }')" \
                "$best"
        done
    fi
    ;;
colditems)
    A="$OUT/beauty-all.txt"
    awk -F: 'NR == FNR {t[$1] = $2; next} {print $1 ":" $2 " " t[$1]}' "$DATA/amazon-beauty/test.txt" "$DATA/amazon-beauty/train.txt" > "$A"
    R="--model lightgcn --train $A --format seq --split ratio:0.8,0.1,0.1 --patience 11 --stop plain --max-epochs 300 --cold-items 0.1"
    F="--item-features $DATA/amazon-beauty/item_attributes.txt --item-repr id+features"
    run cold-beauty-id $R
    run cold-beauty-features $R $F
    run cold-beauty-attr $R $F --attr-w ${ATTR_W:-0.2}
    run cold-beauty-fm $R $F --fm-w ${FM_W:-0.1} --fm-mask correlated
    wait
    for n in id features attr fm; do
        summary cold-beauty-$n 20 recall@20 ndcg@20 warm_recall@20 warm_ndcg@20 warm_tail_recall cold_recall@20 cold_ndcg@20 cold_pop_recall@20
    done
    a=$(tail -n 1 "$OUT/cold-beauty-attr.json")
    printf 'cold recall@20: contrast / features alone %.2f, / popularity %.2f; warm recall@20: contrast / ids only %.3f\n' \
        "$(awk -v a="$(echo "$a" | field test_cold_recall@20)" -v b="$(tail -n 1 "$OUT/cold-beauty-features.json" | field test_cold_recall@20)" 'BEGIN { print a / b }')" \
        "$(awk -v a="$(echo "$a" | field test_cold_recall@20)" -v b="$(echo "$a" | field test_cold_pop_recall@20)" 'BEGIN { print a / b }')" \
        "$(awk -v a="$(echo "$a" | field test_warm_recall@20)" -v b="$(tail -n 1 "$OUT/cold-beauty-id.json" | field test_warm_recall@20)" 'BEGIN { print a / b }')"
    ;;
tune-attr)
    # the attribute-ID contrast's weight chosen on validation (NDCG@20 over all items, the
    # validation half of the held-out items included): the colditems protocol at --attr-w 0.2
    # (the colditems run), 0.5 and 1; the test figures of the validation winner are the ones to read
    A="$OUT/beauty-all.txt"
    awk -F: 'NR == FNR {t[$1] = $2; next} {print $1 ":" $2 " " t[$1]}' "$DATA/amazon-beauty/test.txt" "$DATA/amazon-beauty/train.txt" > "$A"
    R="--model lightgcn --train $A --format seq --split ratio:0.8,0.1,0.1 --patience 11 --stop plain --max-epochs 300 --cold-items 0.1"
    F="--item-features $DATA/amazon-beauty/item_attributes.txt --item-repr id+features"
    run cold-beauty-attr $R $F --attr-w 0.2
    for w in 0.5 1; do run cold-beauty-attr$w $R $F --attr-w $w; done
    wait
    best= bestv=0
    for n in attr attr0.5 attr1; do
        summary cold-beauty-$n 20 recall@20 ndcg@20 warm_recall@20 cold_recall@20 cold_ndcg@20
        v=$(tail -n 1 "$OUT/cold-beauty-$n.json" | field valid_ndcg@20)
        if awk -v a="$v" -v b="$bestv" 'BEGIN { exit !(a > b) }'; then best=$n bestv=$v; fi
    done
    a=$(tail -n 1 "$OUT/cold-beauty-$best.json")
    printf 'selected on validation: %s; cold recall@20 / features alone %.2f, / popularity %.2f; warm recall@20 / ids only %.3f\n' "$best" \
        "$(awk -v a="$(echo "$a" | field test_cold_recall@20)" -v b="$(tail -n 1 "$OUT/cold-beauty-features.json" | field test_cold_recall@20)" 'BEGIN { print a / b }')" \
        "$(awk -v a="$(echo "$a" | field test_cold_recall@20)" -v b="$(echo "$a" | field test_cold_pop_recall@20)" 'BEGIN { print a / b }')" \
        "$(awk -v a="$(echo "$a" | field test_warm_recall@20)" -v b="$(tail -n 1 "$OUT/cold-beauty-id.json" | field test_warm_recall@20)" 'BEGIN { print a / b }')"
    ;;
recbole)
    # RecBole's atomic files end to end: Amazon-Beauty written as beauty.inter (user, item, rating,
    # timestamp = position in the sequence) and beauty.item (the attributes as a token_seq), then
    # one epoch of GRU4Rec with attribute features (leave-one-out) and of LightGCN with attribute
    # features (per-user 80/10/10) from those files and from the text files; each pair must
    # print the same final line (timings aside)
    A="$OUT/beauty-all.txt"
    awk -F: 'NR == FNR {t[$1] = $2; next} {print $1 ":" $2 " " t[$1]}' "$DATA/amazon-beauty/test.txt" "$DATA/amazon-beauty/train.txt" > "$A"
    { printf 'user_id:token\titem_id:token\trating:float\ttimestamp:float\n'
      awk -F: '{n = split($2, a, " "); for (i = 1; i <= n; i++) printf "%s\t%s\t1\t%d\n", $1, a[i], 1000 + i}' "$A"; } > "$OUT/beauty.inter"
    { printf 'item_id:token\tattributes:token_seq\n'
      awk '{printf "%s\t", $1; for (i = 2; i <= NF; i++) printf "%s%s", $i, (i < NF ? " " : ""); printf "\n"}' "$DATA/amazon-beauty/item_attributes.txt"; } > "$OUT/beauty.item"
    S="--model gru4rec --epochs 1 --exclude-history --item-repr id+features"
    G="--model lightgcn --epochs 1 --split ratio:0.8,0.1,0.1 --item-repr id+features"
    FORCE=1 run recbole-gru4rec-atomic $S --train "$OUT/beauty.inter" --item-features "$OUT/beauty.item"
    FORCE=1 run recbole-gru4rec-text $S --train "$A" --format seq --item-features "$DATA/amazon-beauty/item_attributes.txt"
    FORCE=1 run recbole-lightgcn-atomic $G --train "$OUT/beauty.inter" --item-features "$OUT/beauty.item"
    FORCE=1 run recbole-lightgcn-text $G --train "$A" --format seq --item-features "$DATA/amazon-beauty/item_attributes.txt"
    wait
    for m in gru4rec lightgcn; do
        head -n 4 "$OUT/recbole-$m-atomic.err"
        if diff <(tail -n 1 "$OUT/recbole-$m-atomic.json" | sed 's/"[a-z]*_s":[0-9.]*//g') <(tail -n 1 "$OUT/recbole-$m-text.json" | sed 's/"[a-z]*_s":[0-9.]*//g') > /dev/null
        then echo "$m: the atomic files and the text files give the same final line"
        else echo "$m: the atomic files and the text files DIFFER"; fi
        summary recbole-$m-atomic 20 recall@20 ndcg@20
    done
    ;;
seqfeatures)
    # the GRU with item features (ids + the attribute bag) and correlated feature masking against
    # the ID-only GRU (the seq section's runs), and with the features alone (no masking), seeds
    # 1-3, history masked
    B="--train $DATA/amazon-beauty/train.txt --test $DATA/amazon-beauty/test.txt --exclude-history"
    F="--item-features $DATA/amazon-beauty/item_attributes.txt --item-repr id+features"
    for seed in 1 2 3; do
        run "gru4rec-exclude-s$seed" --model gru4rec $B --seed $seed
        run "gru4rec-fm-exclude-s$seed" --model gru4rec $B $F --fm-w ${FM_W:-0.1} --fm-mask correlated --seed $seed
        run "gru4rec-feat-exclude-s$seed" --model gru4rec $B $F --seed $seed
    done
    wait
    for n in gru4rec-exclude gru4rec-fm-exclude gru4rec-feat-exclude; do
        for seed in 1 2 3; do summary "$n-s$seed" 10 hit@10 ndcg@10 tail_recall; done
        printf '%-34s mean of 3 seeds: test hit@10 %s ndcg@10 %s tail recall %s\n' "$n" "$(mean3 "$n" hit@10)" "$(mean3 "$n" ndcg@10)" "$(mean3 "$n" tail_recall)"
    done
    ;;
fmask)
    # feature masking as Yao et al. (complementary views, items drawn uniformly, correlated
    # masking by PMI) against the attributes alone, one epoch budget for all
    B="--train $DATA/amazon-beauty/train.txt --test $DATA/amazon-beauty/test.txt --exclude-history --max-epochs ${FM_EPOCHS:-6}"
    F="--item-features $DATA/amazon-beauty/item_attributes.txt --item-repr id+features"
    for seed in 1 2 3; do
        run "fm-none-s$seed" --model gru4rec $B $F --seed $seed
        run "fm-random-s$seed" --model gru4rec $B $F --fm-w ${FM_W:-0.1} --fm-mask random --seed $seed
        run "fm-correlated-s$seed" --model gru4rec $B $F --fm-w ${FM_W:-0.1} --fm-mask correlated --seed $seed
    done
    wait
    for n in fm-none fm-random fm-correlated; do
        for seed in 1 2 3; do summary "$n-s$seed" 10 hit@10 ndcg@10 tail_recall; done
        printf '%-34s mean of 3 seeds: test hit@10 %s ndcg@10 %s tail recall %s\n' "$n" "$(mean3 "$n" hit@10)" "$(mean3 "$n" ndcg@10)" "$(mean3 "$n" tail_recall)"
    done
    ;;
seq)
    B="--train $DATA/amazon-beauty/train.txt --test $DATA/amazon-beauty/test.txt"
    for h in ${HIST:-exclude include}; do
        for seed in 1 2 3; do
            run "gru4rec-$h-s$seed" --model gru4rec $B --seed $seed --$h-history
            run "cl4srec-$h-s$seed" --model cl4srec $B --seed $seed --$h-history
        done
    done
    wait
    for h in ${HIST:-exclude include}; do
        for m in gru4rec cl4srec; do
            for seed in 1 2 3; do summary "$m-$h-s$seed" 10 hit@10 ndcg@10; done
            other=$([ $h = exclude ] && echo kept || echo masked)
            printf '%-34s mean of 3 seeds: test hit@10 %s ndcg@10 %s | other protocol (%s): hit@10 %s ndcg@10 %s\n' "$m-$h" \
                "$(mean3 "$m-$h" hit@10)" "$(mean3 "$m-$h" ndcg@10)" "$other" "$(mean3 "$m-$h" "${other}_hit@10")" "$(mean3 "$m-$h" "${other}_ndcg@10")"
        done
    done
    ;;
noise-lightgcn|noise-xsimgcl|noise-sgl|noise-sgl-b|noise-sgl-c)
    # robustness: the model trained on training data with 0/10/20% random unobserved pairs added
    # (SGL's rule; validation and test untouched), 20 epochs, and its drop against clean
    # training; SGL's three levels are three sections (noise-sgl: 0, -b: 10%, -c: 20%).
    # NOISE_DATA=lastfm for a quick run, NOISE_EPOCHS to change the epochs.
    ND=${NOISE_DATA:-gowalla}
    G="--train $DATA/$ND/train.txt --test $DATA/$ND/test.txt --epochs ${NOISE_EPOCHS:-20}"
    m=${SECTION#noise-}; m=${m%-[bc]}
    case "$SECTION" in noise-sgl) P=0 ;; noise-sgl-b) P=0.1 ;; noise-sgl-c) P=0.2 ;; *) P="0 0.1 0.2" ;; esac
    for p in $P; do run "$m-$ND-noise$p" --model $m $G --train-noise $p; done
    wait
    printf '%-12s %-6s %10s %10s %12s\n' model noise recall@20 ndcg@20 "recall drop"
    clean=; if reusable "$m-$ND-noise0"; then clean=$(tail -n 1 "$OUT/$m-$ND-noise0.json" | field test_recall@20); fi
    for p in $P; do
        last=$(tail -n 1 "$OUT/$m-$ND-noise$p.json")
        r=$(echo "$last" | field test_recall@20)
        d=; [ -z "$clean" ] || d=$(awk -v a="$clean" -v b="$r" 'BEGIN { printf "%.1f%%", (a > 0 ? 100 * (a - b) / a : 0) }')
        printf '%-12s %-6s %10s %10s %11s\n' "$m" "$p" "$r" "$(echo "$last" | field test_ndcg@20)" "$d"
    done
    ;;
lastfm|lastfm-s[123]|beauty|beauty-s[123]|beauty-ncl|beauty-ncl-s[123]|claims-lastfm*|claims-beauty*)
    # lastfm: every method of METHODS on Last.fm, seeds 1-3 (lastfm-sN: seed N alone), then the
    # table of means, spreads and intervals against LightGCN; beauty: LightGCN and the claimed
    # methods on Amazon-Beauty as a graph. claims-D: the claimed methods against LightGCN on D's
    # runs (sparsest 20% of users, long-tail recall, diversity); claims-D-cold: 10% of the users
    # held out (the same users for every seed) and folded in; claims-D-noise: 10% and 20% added
    # noisy training pairs (-noise0.1, -noise0.2 one level); -sN after any: seed N alone
    # (on Amazon-Beauty NCL, at 14 s an epoch, has sections of its own: NAME-ncl[-sN])
    sec=$SECTION seeds="1 2 3" ncl=
    case $sec in *-s[123]) seeds=${sec##*-s} sec=${sec%-s[123]} ;; esac
    case $sec in *-ncl) ncl=1 sec=${sec%-ncl} ;; esac
    d=${sec#claims-} d=${d%%-*} V=clean
    case ${sec#claims-} in
    "$d") ;;
    "$d"-cold) V=cold ;; "$d"-noise) V="noise0.1 noise0.2" ;; "$d"-noise0.1) V=noise0.1 ;; "$d"-noise0.2) V=noise0.2 ;;
    *) echo "quality.sh: unknown section $SECTION" >&2; exit 2 ;;
    esac
    if [ "${sec#claims-}" != "$sec" ] && [ "$V" = clean ] && [ -n "$ncl" ]; then
        echo "quality.sh: unknown section $SECTION" >&2
        exit 2
    fi
    protocol "$d" > /dev/null
    M=$(methods_named lightgcn $CLAIMED)
    if [ "$sec" = lastfm ]; then M=$METHODS; fi
    # runs this small use 2 cores better two at a time, on a thread each (the same bits); NCL's
    # Amazon-Beauty runs, one a section, take both threads, in 45-minute installments
    if [ -z "$GIVEN_JOBS" ]; then JOBS=2 OMP_NUM_THREADS=1; fi
    if [ -n "$ncl" ]; then JOBS=1 OMP_NUM_THREADS=${BENCH_THREADS:-2} QUALITY_MINUTES=${QUALITY_MINUTES:-45}; fi
    if [ "$d" = beauty ] && [ -n "$ncl" ]; then M=$(methods_named ncl)
    elif [ "$d" = beauty ]; then M=$(methods_named lightgcn sgl-ed xsimgcl); fi
    if [ -n "${QUALITY_ONLY:-}" ]; then # the section's runs of these methods alone
        M=$(for e in $M; do case " ${QUALITY_ONLY//,/ } " in *" ${e%%:*} "*) echo "$e" ;; esac; done)
    fi
    for v in $V; do for s in $seeds; do method_runs "$d" "$v" "$s" $M; done; done
    wait
    for v in $V; do for e in $M; do for s in $seeds; do
        summary "${e%%:*}-$d$([ "$v" = clean ] || echo "-$v")-s$s" 20 recall@20 ndcg@20
    done; done; done
    if [ "$seeds" = "1 2 3" ]; then
        TM=$M; if [ "$d" = beauty ]; then TM=$(methods_named lightgcn $CLAIMED); fi # NCL's own runs too
        if [ "${sec#claims-}" = "$sec" ]; then results_table "$d" $TM; else claims_table "$d" $V; fi
    fi
    ;;
tune-cl4srec)
    # read only the validation metrics: the test set of these runs is not looked at
    B="--train $DATA/amazon-beauty/train.txt --test $DATA/amazon-beauty/test.txt --seed 1 --exclude-history"
    run cl4srec-tune-head-t0.2 --model cl4srec $B
    run cl4srec-tune-head-t0.5 --model cl4srec $B --tau 0.5
    run cl4srec-tune-nohead-t1 --model cl4srec $B --no-proj-head --tau 1
    run cl4srec-tune-nohead-t0.2 --model cl4srec $B --no-proj-head
    wait
    for f in "$OUT"/cl4srec-tune-*.json; do
        n=$(basename "$f" .json)
        printf '%-34s epoch %3s  valid hit@10 %s ndcg@10 %s\n' "$n" "$(tail -n 1 "$f" | field best_epoch)" \
            "$(tail -n 1 "$f" | field valid_hit@10)" "$(tail -n 1 "$f" | field valid_ndcg@10)"
    done
    ;;
*) echo "usage: bench/quality.sh [check|baseline] SECTION, list, provenance [NAME]; SECTION:" \
       "$(for e in $SECTIONS; do printf '%s|' "${e%%:*}"; done | sed 's/|$//')" >&2; exit 2 ;;
esac

# The figures of a run: its test metrics at the selected epoch (Recall and NDCG at 20 for the
# graph runs, hit and NDCG at 10 for the sequence runs, the tail recall, and where the protocol
# has them the held-out users' and the warm and cold items' figures), one "metric value" a line.
figures() {
    local last m v
    last=$(tail -n 1 "$OUT/$1.json")
    for m in test_recall@20 test_ndcg@20 test_hit@10 test_ndcg@10 test_tail_recall cold_recall@20 cold_ndcg@20 \
        test_warm_recall@20 test_cold_recall@20; do
        v=$(echo "$last" | field "$m")
        if [ -n "$v" ]; then echo "$m $v"; fi
    done
}

# the section's wall time, when it trained anything, in OUT/sections.tsv (what `list` states)
wait
if [ "$EXECUTED" -gt 0 ]; then
    printf '%s\t%s\t%s\t%s of %s runs trained\tJOBS=%s threads=%s\t%s\t%s\n' "$SECTION" "$(( $(date +%s) - START ))" "$COMMIT" \
        "$EXECUTED" "${#RUNS[@]}" "$JOBS" "$OMP_NUM_THREADS" "$(date -u +%FT%TZ)" "$MACHINE" >> "$OUT/sections.tsv"
fi

BASE=bench/baseline.tsv # section, run, metric, value, tolerance, commit, seeds, machine, command
if [ "$MODE" != run ]; then wait; fi
if [ "$MODE" = baseline ]; then
    # this section's rows replaced by its runs' figures; the tolerance: QUALITY_TOL (relative,
    # 0.02 by default: a run on another machine or compiler sums in another order)
    tmp=$(mktemp)
    # (with QUALITY_ONLY, the rows of its runs alone)
    if [ -e "$BASE" ]; then awk -F'\t' -v s="$SECTION" -v only="${QUALITY_ONLY:+ ${RUNS[*]} }" \
        '$1 != s || (only != "" && index(only, " " $2 " ") == 0)' "$BASE" > "$tmp"; else
        printf 'section\trun\tmetric\tvalue\ttolerance\tcommit\tseeds\tmachine\tcommand\n' > "$tmp"; fi
    for n in "${RUNS[@]}"; do
        reusable "$n" || { echo "baseline: $n has no complete log; nothing written" >&2; rm -f "$tmp"; exit 1; }
        seed=$(meta "$n" command | sed -n 's/.*--seed \([0-9]*\).*/\1/p')
        figures "$n" | while read -r m v; do
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$SECTION" "$n" "$m" "$v" "${QUALITY_TOL:-0.02}" \
                "$(meta "$n" commit)" "${seed:-default}" "$(meta "$n" machine)" "$(meta "$n" command)"
        done
    done >> "$tmp"
    mv "$tmp" "$BASE"
    echo "baseline: $(awk -F'\t' -v s="$SECTION" '$1 == s' "$BASE" | wc -l) figures of $SECTION written to $BASE"
elif [ "$MODE" = check ]; then
    # each of the section's baseline figures against this commit's run: FAIL beyond its
    # (relative) tolerance, or when the run is missing; a baseline made by another commit is
    # named, since then a difference may be the code's and not the machine's
    rows=$(awk -F'\t' -v s="$SECTION" -v only="${QUALITY_ONLY:+ ${RUNS[*]} }" \
        '$1 == s && (only == "" || index(only, " " $2 " ") > 0)' "$BASE" 2>/dev/null || true)
    [ -n "$rows" ] || { echo "check: no baseline figures for section $SECTION in $BASE" >&2; exit 1; }
    bad=0
    while IFS=$'\t' read -r sec n m v tol c seeds mach cmd; do
        got= # this code's run only, whatever QUALITY_REUSE says: a check compares new runs with the baseline
        if [ "$(meta "$n" commit)" = "$COMMIT" ] && reusable "$n"; then
            got=$(figures "$n" | awk -v m="$m" '$1 == m {print $2}')
        fi
        if [ -z "$got" ]; then echo "FAIL $n $m: no figure from this commit ($COMMIT)"; bad=$((bad + 1)); continue; fi
        if awk -v a="$got" -v b="$v" -v t="$tol" \
            'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t * (b < 0 ? -b : b)) }'; then
            st=ok
        else st=FAIL; bad=$((bad + 1)); fi
        printf '%-4s %-30s %-16s %s (baseline %s, tolerance %s%s)\n' "$st" "$n" "$m" "$got" "$v" "$tol" \
            "$([ "$c" = "$COMMIT" ] || echo ", baseline from commit $c")"
    done <<< "$rows"
    echo "check $SECTION: $bad figure(s) failed"
    [ "$bad" -eq 0 ]
fi
