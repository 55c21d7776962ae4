#!/bin/sh
# bench_smoke.sh — bench/layers runs, and its ref-vs-blas check passes, for
# the presets and a few other architectures. Not a timing test: --quick
# times each row once. Also: the CSV header that tools parse, one row per
# line with every column, and a bad --arch refused with exit 2.
#
# usage: bench_smoke.sh LAYERS   (meson passes the built bench/layers)
set -eu

if [ "$#" -ne 1 ]; then
    echo "usage: bench_smoke.sh LAYERS" >&2
    exit 2
fi
layers=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

head='layer,direction,impl,batch,threads,repeats,inner,median_s,p10_s,p90_s,min_s,max_s,samples_per_s,flops_per_sample,gflops,speedup,whole_over_parts,peak_fraction,stage,pass'
fail=0
bad() {
    echo "FAIL: $*" >&2
    fail=1
}

for arch in seed lenet5 \
    'conv8x3p1,relu,maxpool2,conv16x3p1s2,relu,dense10' \
    'dense64,relu,dense10' \
    'conv4x5,relu,avgpool2,conv3x3,relu,maxpool2,dense10'; do
    rc=0
    "$layers" --arch "$arch" --batch 16 --repeats 1 --quick --csv \
        >"$tmp/out.csv" 2>"$tmp/err.txt" || rc=$?
    if [ "$rc" -ne 0 ]; then
        bad "$arch: exit status $rc"
        cat "$tmp/err.txt" >&2
        continue
    fi
    grep -q '^check passed at batch 16:' "$tmp/err.txt" || bad "$arch: no 'check passed' line"
    if grep -q MISMATCH "$tmp/err.txt"; then bad "$arch: a MISMATCH"; fi
    [ "$(head -n 1 "$tmp/out.csv")" = "$head" ] || bad "$arch: CSV header changed"
    grep -q '^sgemm-peak,' "$tmp/out.csv" || bad "$arch: no sgemm-peak row"
    grep -q '^train-step,fwd+bwd+update,blas,16,' "$tmp/out.csv" || bad "$arch: no train-step row"
    grep -q '^inference,forward,blas,16,' "$tmp/out.csv" || bad "$arch: no inference row"
    grep -q '^softmax+xent,backward,blas,16,' "$tmp/out.csv" || bad "$arch: no softmax row"
    n=$(awk -F, 'NF != 20' "$tmp/out.csv" | wc -l)
    [ "$n" -eq 0 ] || bad "$arch: $n CSV lines without 20 fields"
    echo "ok: $arch ($(($(wc -l <"$tmp/out.csv") - 1)) rows)"
done

rc=0
"$layers" --arch conv15x5,bogus,dense10 >"$tmp/out.txt" 2>"$tmp/err.txt" || rc=$?
[ "$rc" -eq 2 ] || bad "bad --arch: exit status $rc, not 2"
[ "$(wc -l <"$tmp/err.txt")" -eq 1 ] || bad "bad --arch: not one line on stderr"
grep -q "layer 2 'bogus'" "$tmp/err.txt" || bad "bad --arch: the line does not name the layer"

exit $fail
