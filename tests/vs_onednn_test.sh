#!/bin/sh
# vs_onednn_test.sh — tools/vs-onednn refuses what it cannot run, with one
# line and exit 2, before running anything: unknown options, bad numbers, an
# architecture the peer does not know, a missing peer or build. (Its runs
# need the oneDNN peer and Fashion-MNIST and take minutes: measured by hand,
# README "Performance", never in a test.)
#
# usage: vs_onednn_test.sh TOOL BUILD_DIR   (meson passes them)
set -eu
if [ "$#" -ne 2 ]; then
    echo "usage: vs_onednn_test.sh TOOL BUILD_DIR" >&2
    exit 2
fi
tool=$1
build=$2
. "$(dirname "$0")/cli_lib.sh"

ME="tools/vs-onednn"
check "an unknown option"
run "$tool" --bogus
usage_error "$ME: unknown option '--bogus' (see --help)"

check "a round count that is not a whole number in range"
run "$tool" --rounds 0
usage_error "$ME: --rounds '0': not a whole number from 1 to 100 (see --help)"
run "$tool" --rounds 1.5
usage_error "$ME: --rounds '1.5': not a whole number from 1 to 100 (see --help)"

check "an architecture the peer does not have"
run "$tool" --arch conv8x3,dense10
usage_error "$ME: --arch 'conv8x3,dense10': the peer knows seed and lenet5 only (see --help)"

check "an option without its value"
run "$tool" --threads
usage_error "$ME: --threads needs a value (see --help)"

check "no peer where it is looked for"
run "$tool" --peer "$tmp/nowhere"
usage_error "$ME: no oneDNN peer at $tmp/nowhere/onednn_seed; build it as --help says"

check "a peer, but no bench/layers in the build"
mkdir "$tmp/peer"
printf '#!/bin/sh\nexit 1\n' > "$tmp/peer/onednn_seed"
chmod +x "$tmp/peer/onednn_seed"
run "$tool" --peer "$tmp/peer" --build "$tmp/nobuild"
usage_error "$ME: no $tmp/nobuild/bench/layers; run tools/setup first"

check "--help says how to build the peer"
run "$tool" --help
expect_rc 0
out_has "cp -r ../shared/peers/onednn /tmp/onednn"
finish
