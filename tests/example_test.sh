#!/bin/sh
# example_test.sh — examples/train, built in the tree, on a generated data
# set given as DIR: it trains LeNet-5 for an epoch and prints the test
# accuracy, which on these easy images is well above chance; a directory
# without a data set gets one line naming it, and exit 1.
#
# usage: example_test.sh EXAMPLE_TRAIN GEN_DATASET   (meson passes them)
set -eu

. "$(dirname "$0")/cli_lib.sh"
need_args "$#" EXAMPLE_TRAIN GEN_DATASET
example=$1
gen=$2

make_data 1500 300

check "examples/train DIR trains and prints the test accuracy"
run "$example" "$data"
expect_rc 0
out_line "data set $data: 1500 training and 300 test images"
grep -qE '^epoch 1/1: training loss [0-9.]+, accuracy [0-9.]+% \([0-9.]+ s\)$' "$tmp/out" ||
    fail "no epoch line"
line=$(grep '^test accuracy ' "$tmp/out") || fail "no test accuracy line"
echo "  $line"
echo "$line" | grep -qE '^test accuracy [0-9.]+% \(loss [0-9.]+\) on 300 images, 61706 parameters \(conv6x5p2,relu,avgpool2,conv16x5,relu,avgpool2,dense120,relu,dense84,relu,dense10\)$' ||
    fail "the test accuracy line is not in its form"
acc=$(echo "$line" | sed 's/^test accuracy \([0-9]*\)\..*/\1/')
[ "$acc" -ge 50 ] || fail "test accuracy $acc% after an epoch on easy images: not learning"

check "a directory without a data set: one line naming it, exit 1"
run "$example" "$tmp"
expect_rc 1
one_line_naming "$tmp"

finish
