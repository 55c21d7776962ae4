#!/bin/sh
# cli_save_test.sh — `cnn train --save` when saving goes wrong: a full disk
# (a file-size limit makes write() fail with EFBIG, the way ENOSPC would)
# leaves the previous model byte for byte, no temporary, and one line naming
# the file; two runs saving to the same file: the second is refused at once
# with one line naming the first one's PID (the writer's lock,
# .NAME.cnn-lock), the lock goes when its holder is killed, and other files
# in the same directory are not blocked.
#
# usage: cli_save_test.sh CNN GEN_DATASET   (meson passes the built ones)
set -eu

. "$(dirname "$0")/cli_lib.sh"
need_args "$#" CNN GEN_DATASET
cnn=$1
gen=$2

make_data 300 100
out=$tmp/models
mkdir "$out"
M=$out/m.safetensors

# The temporaries cnn_atomic_write leaves when it cannot finish: none, ever,
# after a failed save.
temps() {
    find "$out" -name '*.cnn-tmp-*' | wc -l
}

# ---- full disk -----------------------------------------------------------------
# `ulimit -f` (RLIMIT_FSIZE) in a subshell: 16 blocks of 512 or 1024 bytes
# hold the header (~1.5 KiB) but not the 88 KB of weights. SIGXFSZ is
# ignored (trap '' survives exec), so write() fails with EFBIG instead of
# killing the process.
limited() {
    run sh -c 'ulimit -f 16 && trap "" XFSZ && exec "$@"' sh "$@" < /dev/null
}

check "a full disk at the end of an epoch keeps the previous model byte for byte"
"$cnn" train --data "$data" --epochs 1 --save "$M" --threads 1 > /dev/null
cp "$M" "$tmp/before"
limited "$cnn" train --data "$data" --resume "$M" --epochs 2 --save "$M" --threads 1
fails_with "cnn train: $M: write failed: File too large"
cmp -s "$M" "$tmp/before" || fail "the previous model was changed"
[ "$(temps)" -eq 0 ] || fail "a temporary was left behind: $(ls -a "$out")"
# and it is still the checkpoint it was: resuming from it works
run "$cnn" train --data "$data" --resume "$M" --epochs 2 --save "$M" --threads 1
expect_rc 0

check "a full disk at a --save-every step keeps the previous model byte for byte"
cp "$M" "$tmp/before"
limited "$cnn" train --data "$data" --resume "$M" --epochs 3 --save "$M" --save-every 4 --threads 1
fails_with "cnn train: $M: write failed: File too large"
cmp -s "$M" "$tmp/before" || fail "the previous model was changed"
[ "$(temps)" -eq 0 ] || fail "a temporary was left behind: $(ls -a "$out")"

check "a full disk at the first save leaves no file at all"
limited "$cnn" train --data "$data" --epochs 1 --save "$out/new.safetensors" --threads 1
fails_with "cnn train: $out/new.safetensors: write failed: File too large"
[ ! -e "$out/new.safetensors" ] || fail "a partial model was written"
[ "$(temps)" -eq 0 ] || fail "a temporary was left behind: $(ls -a "$out")"

# ---- two writers ------------------------------------------------------------------
# First writer: a long run in the background; once it has printed its first
# line it has the lock (taken before the data is read). start_bg empties
# bg.out before the job starts: a wait that saw the previous first run's
# output there went on before this one held the lock, and under load the
# second run took it (check 6: "exit code 0, expected 1").
start_first() {
    start_bg "$cnn" train --data "$data" --epochs 100000 --threads 1 "$@"
    wait_bg 60 "the first run's first line" [ -s "$tmp/bg.out" ]
}
# The second run must be refused without waiting for anything: under a
# time limit, and before the data is read (nothing on stdout).
refused() {
    flag=$1
    path=$2
    shift 2
    t0=$(date +%s%N)
    run_limited "$cnn" train --data "$data" --epochs 1 --threads 1 "$@"
    ms=$((($(date +%s%N) - t0) / 1000000))
    fails_with "cnn train: $flag $path: another cnn process (pid $bgpid) is writing this file"
    [ ! -s "$tmp/out" ] || fail "the data was read before the refusal: $(head -n 2 "$tmp/out")"
    echo "  refused in $ms ms"
}

check "a second run saving to the same file is refused at once, naming the first"
start_first --save "$M"
cp "$M" "$tmp/first"
refused --save "$M" --save "$M"
refused --save "$M" --resume "$M" --save "$M"
refused --save-best "$M" --save "$out/other.safetensors" --save-best "$M" --val 30
# The same file under another name is the same lock: the directory's.
refused --save "$out/../models/m.safetensors" --save "$out/../models/m.safetensors"
# Another file in the same directory is not blocked.
run "$cnn" train --data "$data" --epochs 1 --threads 1 --save "$out/other.safetensors"
expect_rc 0

check "the lock goes with its holder, even killed: the next run saves"
stop_bg KILL
run "$cnn" train --data "$data" --epochs 1 --threads 1 --save "$M"
expect_rc 0
[ -e "$out/.m.safetensors.cnn-lock" ] || fail "no lock file beside the model"
[ ! -s "$out/.m.safetensors.cnn-lock" ] || fail "the lock file is not empty"

check "--save-best holds its file too"
start_first --save "$out/a.safetensors" --save-best "$out/best.safetensors" --val 30
refused --save "$out/best.safetensors" --save "$out/best.safetensors"
stop_bg KILL

check "a lock file that cannot be a lock is refused, naming it"
mkdir "$out/.d.safetensors.cnn-lock"
run "$cnn" train --data "$data" --epochs 1 --threads 1 --save "$out/d.safetensors"
fails_with "cnn train: --save $out/d.safetensors: cannot open the lock file $out/.d.safetensors.cnn-lock: Is a directory"
[ ! -s "$tmp/out" ] || fail "the data was read before the refusal"
ln -s "$tmp/elsewhere" "$out/.s.safetensors.cnn-lock"
run "$cnn" train --data "$data" --epochs 1 --threads 1 --save "$out/s.safetensors"
fails_with "cnn train: --save $out/s.safetensors: cannot open the lock file $out/.s.safetensors.cnn-lock: Too many levels of symbolic links"
[ ! -e "$tmp/elsewhere" ] || fail "the lock followed a symbolic link"

finish
