#!/bin/sh
# bench_smoke.sh — bench/layers runs, and its ref-vs-blas check passes, for
# the presets and a few other architectures. Not a timing test: --quick
# times each row once. Also: the CSV header that tools parse, one row per
# line with every column, and a bad --arch refused with exit 2.
#
# usage: bench_smoke.sh LAYERS   (meson passes the built bench/layers)
set -eu

. "$(dirname "$0")/cli_lib.sh"
need_args "$#" LAYERS
layers=$1

head='layer,direction,impl,batch,threads,repeats,inner,median_s,p10_s,p90_s,min_s,max_s,samples_per_s,flops_per_sample,gflops,speedup,whole_over_parts,peak_fraction,stage,pass'
# Every architecture is checked even when one fails (fail_later).
for arch in seed lenet5 \
    'conv8x3p1,relu,maxpool2,conv16x3p1s2,relu,dense10' \
    'dense64,relu,dense10' \
    'conv4x5,relu,avgpool2,conv3x3,relu,maxpool2,dense10'; do
    check "$arch"
    run "$layers" --arch "$arch" --batch 16 --repeats 1 --quick --csv
    if [ "$rc" -ne 0 ]; then
        fail_later "$arch: exit status $rc"
        cat "$tmp/err" >&2
        continue
    fi
    grep -q '^check passed at batch 16:' "$tmp/err" || fail_later "$arch: no 'check passed' line"
    if grep -q MISMATCH "$tmp/err"; then fail_later "$arch: a MISMATCH"; fi
    [ "$(head -n 1 "$tmp/out")" = "$head" ] || fail_later "$arch: CSV header changed"
    grep -q '^sgemm-peak,' "$tmp/out" || fail_later "$arch: no sgemm-peak row"
    grep -q '^train-step,fwd+bwd+update,blas,16,' "$tmp/out" ||
        fail_later "$arch: no train-step row"
    grep -q '^inference,forward,blas,16,' "$tmp/out" || fail_later "$arch: no inference row"
    grep -q '^softmax+xent,backward,blas,16,' "$tmp/out" || fail_later "$arch: no softmax row"
    short=$(awk -F, 'NF != 20' "$tmp/out" | wc -l)
    [ "$short" -eq 0 ] || fail_later "$arch: $short CSV lines without 20 fields"
    echo "  $(($(wc -l <"$tmp/out") - 1)) rows"
done

check "a bad --arch is refused: exit 2, one line naming the layer"
run "$layers" --arch conv15x5,bogus,dense10
[ "$rc" -eq 2 ] || fail_later "bad --arch: exit status $rc, not 2"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail_later "bad --arch: not one line on stderr"
grep -q "layer 2 'bogus'" "$tmp/err" || fail_later "bad --arch: the line does not name the layer"

finish
