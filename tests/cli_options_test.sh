#!/bin/sh
# cli_options_test.sh — the command line's habits, with exact messages:
# --version, help CMD = CMD --help, "did you mean" for commands and options,
# --opt=value, and strict numbers (no spaces, '+', hex, octal-looking zeros,
# inf or nan; the option and its range named).
#
# usage: cli_options_test.sh CNN GEN_DATASET VERSION   (meson passes them)
set -eu

. "$(dirname "$0")/cli_lib.sh"
need_args "$#" CNN GEN_DATASET VERSION
cnn=$1
gen=$2
version=$3

make_data 300 100
# Commands expected to stop at their options get this too: should one run
# by mistake, it fails at once instead of training on the default data set.
nodata=--data=$tmp/no-such-data

# ---- --version, help ---------------------------------------------------------
check "cnn --version: version, build, BLAS, OpenMP"
run "$cnn" --version
expect_rc 0
[ "$(sed -n 1p "$tmp/out")" = "cnn $version" ] || fail "first line is not 'cnn $version'"
sed -n 2p "$tmp/out" | grep -qE '^build: [a-z]+, [a-z]+ [0-9.]+' || fail "no build line"
sed -n 3p "$tmp/out" | grep -qE '^BLAS: .+' || fail "no BLAS line"
sed -n 4p "$tmp/out" | grep -qE '^OpenMP: [0-9.]+ \(_OPENMP [0-9]{6}\), [0-9]+ threads by default$' ||
    fail "no OpenMP line"
[ "$(wc -l < "$tmp/out")" -eq 4 ] || fail "expected 4 lines"
run "$cnn" --version extra
usage_error "cnn: --version takes no arguments"

check "cnn help CMD prints exactly what cnn CMD --help does; cnn help = cnn --help"
for c in train eval predict filters; do
    run "$cnn" help "$c"
    expect_rc 0
    cp "$tmp/out" "$tmp/help1"
    run "$cnn" "$c" --help
    expect_rc 0
    cmp -s "$tmp/help1" "$tmp/out" || fail "cnn help $c differs from cnn $c --help"
    run "$cnn" "$c" -h
    cmp -s "$tmp/help1" "$tmp/out" || fail "cnn $c -h differs from cnn $c --help"
done
run "$cnn" help
cp "$tmp/out" "$tmp/help1"
run "$cnn" --help
cmp -s "$tmp/help1" "$tmp/out" || fail "cnn help differs from cnn --help"
out_has "cnn help [COMMAND]"
out_has "cnn --version"

check "help texts fit 80 columns and say how values are written"
for c in "" train eval predict filters; do
    run "$cnn" $c --help
    awk 'length > 80 { exit 1 }' "$tmp/out" || fail "cnn $c --help has a line over 80 columns"
    [ -z "$c" ] || out_has "Each option takes its value as --opt VALUE or --opt=VALUE."
done

# ---- did you mean -----------------------------------------------------------
check "a mistyped command gets the nearest one"
run "$cnn" trian
usage_error "cnn: unknown command 'trian' (did you mean train?)"
run "$cnn" evl --model m
usage_error "cnn: unknown command 'evl' (did you mean eval?)"
run "$cnn" help predcit
usage_error "cnn: unknown command 'predcit' (did you mean predict?)"
run "$cnn" frobnicate
usage_error "cnn: unknown command 'frobnicate' (see cnn --help)"
run "$cnn" --verison
usage_error "cnn: unknown option '--verison' (did you mean --version?)"
run "$cnn" --epochs 3
usage_error "cnn: unknown option '--epochs'; a command comes first (see cnn --help)"

check "a mistyped option gets the nearest one"
run "$cnn" train "$nodata" --bacth 16
usage_error "cnn train: unknown option '--bacth' (did you mean --batch?)"
run "$cnn" train "$nodata" --epoch=3
usage_error "cnn train: unknown option '--epoch' (did you mean --epochs?)"
run "$cnn" train "$nodata" --thread 2
usage_error "cnn train: unknown option '--thread' (did you mean --threads?)"
run "$cnn" train "$nodata" --res m
usage_error "cnn train: unknown option '--res' (did you mean --resume?)"
run "$cnn" train "$nodata" -batch 3
usage_error "cnn train: unknown option '-batch' (did you mean --batch?)"
run "$cnn" train "$nodata" batch 3
usage_error "cnn train: unexpected argument 'batch' (did you mean --batch?)"
run "$cnn" eval --jsno
usage_error "cnn eval: unknown option '--jsno' (did you mean --json?)"
run "$cnn" predict --modle m x.pgm
usage_error "cnn predict: unknown option '--modle' (did you mean --model?)"
run "$cnn" filters --scael 3
usage_error "cnn filters: unknown option '--scael' (did you mean --scale?)"
run "$cnn" train "$nodata" --hlep
usage_error "cnn train: unknown option '--hlep' (did you mean --help?)"
run "$cnn" train "$nodata" --bogus-flag
usage_error "cnn train: unknown option '--bogus-flag' (see cnn train --help)"
run "$cnn" train "$nodata" --impl bls
usage_error "cnn train: --impl: expected 'ref' or 'blas', got 'bls' (did you mean 'blas'?)"
run "$cnn" train "$nodata" --impl gpu
usage_error "cnn train: --impl: expected 'ref' or 'blas', got 'gpu'"
run "$cnn" eval extra
usage_error "cnn eval: unexpected argument 'extra' (see cnn eval --help)"

# ---- values -----------------------------------------------------------------
check "--opt=value works as --opt value does"
run "$cnn" train --data="$data" --epochs=1 --batch=16 --lr=0.01 --seed=7 --threads=2 \
    --impl=ref --limit=160 --save="$tmp/m1.safetensors"
expect_rc 0
out_line "  sgd, lr 0.01, batch 16, seed 7, epochs 1"
out_line "  impl ref, threads 2"
out_has "epoch 1/1"
run "$cnn" train --data "$data" --epochs 1 --batch 16 --lr 0.01 --seed 7 --threads 2 \
    --impl ref --limit 160 --save "$tmp/m2.safetensors"
expect_rc 0
cmp -s "$tmp/m1.safetensors" "$tmp/m2.safetensors" || fail "the two spellings trained differently"
run "$cnn" eval --model="$tmp/m1.safetensors" --data="$data" --json --batch=10
expect_rc 0
grep -q '^{.*"images":100' "$tmp/out" || fail "eval with --opt=value did not run"
run "$cnn" filters --model="$tmp/m1.safetensors" --out="$tmp/f.png" --scale=2
expect_rc 0
is_png "$tmp/f.png"

check "flags take no value; options need one (and not the next option)"
run "$cnn" eval --json=yes
usage_error "cnn eval: --json takes no value, got '--json=yes'"
run "$cnn" train "$nodata" --epochs
usage_error "cnn train: --epochs needs a value (see cnn train --help)"
run "$cnn" train "$nodata" --save --epochs 3
usage_error "cnn train: --save needs a value, got option '--epochs' (write --save=VALUE if that is the value)"
run "$cnn" train "$nodata" --save= --epochs 3
usage_error "cnn train: --save: empty value, expected FILE"
run "$cnn" predict --model "$tmp/m1.safetensors"
usage_error "cnn predict: no IMAGE given (see cnn predict --help)"
run "$cnn" eval --data "$data"
usage_error "cnn eval: --model FILE is required (see cnn eval --help)"
run "$cnn" filters --model "$tmp/m1.safetensors"
usage_error "cnn filters: --out FILE is required (see cnn filters --help)"

# bad_value CMD FLAG VALUE RANGE: refused as "--flag value" and as
# "--flag=value", with the exact message. (--data names no data set, so a
# value accepted by mistake fails at once instead of training.)
bad_value() {
    want="cnn $1: $2: expected $4, got '$3'"
    case $1 in
    train | eval) guard=$nodata ;;
    *) guard=-- ;; # predict, filters: stops their options (and takes no data)
    esac
    run "$cnn" "$1" "$2" "$3" "$guard"
    usage_error "$want"
    run "$cnn" "$1" "$2=$3" "$guard"
    usage_error "$want"
}

check "whole numbers: decimal digits only, in range"
epochs="a whole number from 1 to 100000"
for v in " 5" "5 " "+5" "0x10" "010" "1e3" "5.0" "0" "100001" "" "five" "-" "5,0" \
         "99999999999999999999999"; do
    bad_value train --epochs "$v" "$epochs"
done
seed="a whole number from 0 to 18446744073709551615"
for v in " -1" "-1" "-0" "18446744073709551616" "+1" "0x1" "1 " "01"; do
    bad_value train --seed "$v" "$seed"
done
bad_value train --batch 65537 "a whole number from 1 to 65536"
bad_value train --threads 0 "a whole number from 1 to 1024"
bad_value train --limit 1000000001 "a whole number from 1 to 1000000000"
bad_value eval --batch -3 "a whole number from 1 to 65536"
bad_value predict --threads 2000 "a whole number from 1 to 1024"
bad_value filters --scale 65 "a whole number from 1 to 64"

check "numbers: finite, decimal, in range"
lr="a number in (0, 1000]"
for v in "0x10" "0x1p3" "inf" "-inf" "Infinity" "nan" "NaN" "1e999" "1e-400" "0" "-0.5" \
         "1000.5" " 0.1" "0.1 " "+0.1" "0.1f" "." "e5" "1e" "1e+" "" "1,5"; do
    bad_value train --lr "$v" "$lr"
done

check "good numbers in every accepted spelling"
for v in "1" "0.5" ".5" "5." "1e-3" "1E-3" "2.5e+2" "1000"; do
    run "$cnn" train --lr "$v" --data "$tmp/no-such-dir"
    fails_with "cnn train: $tmp/no-such-dir: No such file or directory"
done
run "$cnn" train --seed 18446744073709551615 --epochs 100000 --data "$tmp/no-such-dir"
expect_rc 1

check "a message stays on one line whatever was typed"
run "$cnn" train "$nodata" --epochs "$(printf '3\nx')"
usage_error "cnn train: --epochs: expected a whole number from 1 to 100000, got '3\\x0ax'"

finish
