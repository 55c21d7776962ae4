#!/bin/sh
# cli_files_test.sh — the files the `cnn` command is given, with exact
# messages: FIFOs refused instead of waited for (under a time limit, so a
# regression fails rather than hangs), outputs checked before the data is
# read, which of x and x.gz is read, headers compared before a body is
# inflated, stale temporaries cleaned, predict on standard input and past
# bad files, non-model files named as such; and, while training runs,
# SIGINT inherited as ignored staying ignored and the live line on a
# terminal (elapsed, ETA, the test pass).
#
# usage: cli_files_test.sh CNN GEN_DATASET   (meson passes the built ones)
set -eu

. "$(dirname "$0")/cli_lib.sh"
need_args "$#" CNN GEN_DATASET
cnn=$1
gen=$2

make_data 300 100
M=$tmp/M.safetensors
"$cnn" train --data "$data" --epochs 1 --save "$M" --threads 2 > /dev/null
first_pgm "$tmp/first.pgm"
"$cnn" filters --model "$M" --out "$tmp/filters.png" > /dev/null

# ---- FIFOs --------------------------------------------------------------------
check "a FIFO as a data file is refused, not waited for"
mkdir "$tmp/fifodata"
cp "$data"/* "$tmp/fifodata/"
rm "$tmp/fifodata/t10k-images-idx3-ubyte"
mkfifo "$tmp/fifodata/t10k-images-idx3-ubyte"
run_limited "$cnn" eval --model "$M" --data "$tmp/fifodata"
fails_with "cnn eval: $tmp/fifodata/t10k-images-idx3-ubyte: not a regular file"
run_limited "$cnn" train --data "$tmp/fifodata" --epochs 1
fails_with "cnn train: $tmp/fifodata/t10k-images-idx3-ubyte: not a regular file"

check "a FIFO as --model, --resume or a predict image is refused, not waited for"
mkfifo "$tmp/fifo"
run_limited "$cnn" eval --model "$tmp/fifo" --data "$data"
fails_with "cnn eval: $tmp/fifo: not a regular file"
run_limited "$cnn" predict --model "$tmp/fifo" "$tmp/first.pgm"
fails_with "cnn predict: $tmp/fifo: not a regular file"
run_limited "$cnn" filters --model "$tmp/fifo" --out "$tmp/x.png"
fails_with "cnn filters: $tmp/fifo: not a regular file"
run_limited "$cnn" train --data "$data" --resume "$tmp/fifo" --epochs 2
fails_with "cnn train: $tmp/fifo: not a regular file"
[ ! -s "$tmp/out" ] || fail "train read the data before checking --resume"
run_limited "$cnn" predict --model "$M" "$tmp/fifo" "$tmp/first.pgm"
fails_with "cnn predict: $tmp/fifo: not a regular file"
[ "$(wc -l < "$tmp/out")" -eq 1 ] || fail "the good image after the FIFO was not classified"

# ---- outputs --------------------------------------------------------------------
check "--save and --log that cannot be written are refused before the data is read"
mkdir "$tmp/adir"
nodata=$tmp/no-such-data
for flag in --save --log; do
    run "$cnn" train --data "$nodata" "$flag" "$tmp/adir"
    fails_with "cnn train: $flag $tmp/adir: is a directory, expected a file name"
    run "$cnn" train --data "$nodata" "$flag" "$tmp/adir/"
    fails_with "cnn train: $flag $tmp/adir/: is a directory, expected a file name"
    run "$cnn" train --data "$nodata" "$flag" "$tmp/newdir/"
    fails_with "cnn train: $flag $tmp/newdir/: ends in '/', expected a file name"
    run "$cnn" train --data "$nodata" "$flag" "$tmp/newdir/m"
    fails_with "cnn train: $flag $tmp/newdir/m: cannot write in directory $tmp/newdir: No such file or directory"
    run "$cnn" train --data "$nodata" "$flag" ""
    usage_error "cnn train: $flag: empty value, expected FILE"
done
run "$cnn" train --data "$nodata" --save "$tmp/same" --log "$tmp/same"
usage_error "cnn train: --log $tmp/same: is also the --save file"
run "$cnn" train --data "$nodata" --resume "$M" --log "$M"
usage_error "cnn train: --log $M: is also the --resume file"
run "$cnn" filters --model "$M" --out "$tmp/adir.png/"
usage_error "cnn filters: --out: expected a name ending in .png or .pgm, got '$tmp/adir.png/'"
mkdir "$tmp/dir.png"
run "$cnn" filters --model "$M" --out "$tmp/dir.png"
fails_with "cnn filters: --out $tmp/dir.png: is a directory, expected a file name"

check "a save removes temporaries that dead writers left for the same target, keeps the rest"
dead=$(sh -c 'echo $$')
stale=$tmp/.f.png.cnn-tmp-$dead-Ab3dEf
live=$tmp/.f.png.cnn-tmp-$$-Ab3dEf
other=$tmp/.g.png.cnn-tmp-$dead-Ab3dEf
touch "$stale" "$live" "$other"
run "$cnn" filters --model "$M" --out "$tmp/f.png"
expect_rc 0
[ ! -e "$stale" ] || fail "the dead writer's temporary is still there"
[ -e "$live" ] || fail "a live writer's temporary was removed"
[ -e "$other" ] || fail "another target's temporary was removed"
is_png "$tmp/f.png"

# ---- data files -------------------------------------------------------------------
check "when x and x.gz both exist, which one is read is said"
mkdir "$tmp/both"
cp "$data"/* "$tmp/both/"
gzip -c "$data/t10k-images-idx3-ubyte" > "$tmp/both/t10k-images-idx3-ubyte.gz"
note="reading $tmp/both/t10k-images-idx3-ubyte (not t10k-images-idx3-ubyte.gz beside it)"
run "$cnn" eval --model "$M" --data "$tmp/both"
expect_rc 0
[ "$(sed -n 1p "$tmp/out")" = "cnn eval: $note" ] || fail "eval's first line is not the note"
run "$cnn" eval --model "$M" --data "$tmp/both" --json
expect_rc 0
expect_err "cnn eval: $note"
[ "$(wc -l < "$tmp/out")" -eq 1 ] || fail "--json output is not one line"
run "$cnn" train --data "$tmp/both" --epochs 1 --threads 2
expect_rc 0
[ "$(sed -n 1p "$tmp/out")" = "cnn train: $note" ] || fail "train's first line is not the note"
run "$cnn" eval --model "$M" --data "$data"
grep -q "beside it" "$tmp/out" && fail "a note without a choice"

check "a gzip whose header promises 1.37 M images is refused on the label count, not inflated"
mkdir "$tmp/big"
cp "$data"/t10k-* "$data/train-labels-idx1-ubyte.gz" "$tmp/big/"
# magic 0x00000803, 1370000 (0x0014e790) images of 28x28; no pixels at all
printf '\000\000\010\003\000\024\347\220\000\000\000\034\000\000\000\034' |
    gzip > "$tmp/big/train-images-idx3-ubyte.gz"
run_limited "$cnn" train --data "$tmp/big" --epochs 1
fails_with "cnn train: $tmp/big/train-images-idx3-ubyte.gz: 1370000 images but $tmp/big/train-labels-idx1-ubyte.gz has 300 labels"

# ---- predict --------------------------------------------------------------------
check "predict - reads a PGM from standard input"
run "$cnn" predict --model "$M" "$tmp/first.pgm"
expect_rc 0
file_class=$(sed -n 's/^.*: class \([0-9]\) .*/\1/p' "$tmp/out")
run "$cnn" predict --model "$M" - < "$tmp/first.pgm"
expect_rc 0
[ "$(wc -l < "$tmp/out")" -eq 1 ] || fail "expected one line"
grep -q "^-: class $file_class " "$tmp/out" || fail "stdin was not classified as the file was"
run "$cnn" predict --model "$M" - "$tmp/first.pgm" < "$tmp/first.pgm"
expect_rc 0
[ "$(wc -l < "$tmp/out")" -eq 2 ] || fail "expected two lines"
run "$cnn" predict --model "$M" - - < "$tmp/first.pgm"
usage_error "cnn predict: - (standard input) is given 2 times; it holds one image"
head -c 100 "$tmp/first.pgm" > "$tmp/cut.pgm"
run "$cnn" predict --model "$M" - < "$tmp/cut.pgm"
fails_with "cnn predict: standard input: truncated: 28x28 image needs 784 bytes of pixels, file has 87"

check "a PNG or JPEG given to predict is named as such, with what to do"
advice="convert to PGM (e.g. ImageMagick: convert IN -colorspace Gray -resize '28x28!' -depth 8 OUT.pgm)"
run "$cnn" predict --model "$M" "$tmp/filters.png"
fails_with "cnn predict: $tmp/filters.png: PNG is not supported; $advice"
run "$cnn" predict --model "$M" - < "$tmp/filters.png"
fails_with "cnn predict: standard input: PNG is not supported; $advice"
printf '\377\330\377\340\000\020JFIF' > "$tmp/photo.jpg"
run "$cnn" predict --model "$M" "$tmp/photo.jpg"
fails_with "cnn predict: $tmp/photo.jpg: JPEG is not supported; $advice"

check "predict carries on past a bad file, then exits 1"
run "$cnn" predict --model "$M" "$tmp/first.pgm" "$tmp/none.pgm" "$data/t10k-images-idx3-ubyte" \
    "$tmp/filters.png"
expect_rc 1
[ "$(wc -l < "$tmp/out")" -eq 101 ] || fail "expected 1 + 100 predictions"
printf '%s\n' "cnn predict: $tmp/none.pgm: cannot open: No such file or directory" \
    "cnn predict: $tmp/filters.png: PNG is not supported; $advice" > "$tmp/want"
cmp -s "$tmp/want" "$tmp/err" || fail "stderr is not the two lines expected"
run "$cnn" predict --model "$M" --json "$tmp/none.pgm" "$tmp/first.pgm"
expect_rc 1
[ "$(wc -l < "$tmp/out")" -eq 1 ] || fail "--json output is not one line"
if [ "$have_python" -eq 1 ]; then
    python3 - "$tmp/out" "$tmp/none.pgm" <<'PY' || fail "predict --json content is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["predictions"]) == 1 and d["predictions"][0]["image"].endswith("first.pgm")
assert d["errors"] == [{"image": sys.argv[2],
                        "error": sys.argv[2] + ": cannot open: No such file or directory"}]
PY
fi

check "a file that is not a model says so, not a header-length figure"
printf 'these are my notes, not a model\n' > "$tmp/notes.txt"
for args in "eval --data $data --model" "predict $tmp/first.pgm --model" \
            "filters --out $tmp/g.png --model"; do
    set -- $args
    c=$1
    run "$cnn" "$@" "$tmp/notes.txt"
    fails_with "cnn $c: $tmp/notes.txt: not a safetensors file"
    run "$cnn" "$@" "$data/t10k-labels-idx1-ubyte"
    fails_with "cnn $c: $data/t10k-labels-idx1-ubyte: not a safetensors file (it is an IDX data file)"
    run "$cnn" "$@" "$tmp/filters.png"
    fails_with "cnn $c: $tmp/filters.png: not a safetensors file (it is a PNG image)"
done
run "$cnn" train --data "$data" --resume "$tmp/first.pgm"
fails_with "cnn train: $tmp/first.pgm: not a safetensors file (it looks like a PGM/Netpbm image)"
run "$cnn" eval --data "$data" --model "$data/train-images-idx3-ubyte.gz"
fails_with "cnn eval: $data/train-images-idx3-ubyte.gz: not a safetensors file (it is gzip-compressed)"

# ---- while training runs -----------------------------------------------------------
check "SIGINT inherited as ignored stays ignored"
B=$tmp/bg.safetensors
# trap '' makes the shell ignore SIGINT, and exec passes that on.
start_bg sh -c 'trap "" INT; exec "$@"' sh "$cnn" train --data "$data" --epochs 100000 \
    --save "$B" --threads 2
wait_bg 120 "training, until its first checkpoint" [ -f "$B" ]
kill -INT "$bgpid"
# Two more epochs after the signal: it was not taken as a stop request.
saves() {
    grep -c '^  saved ' "$tmp/bg.out" || true
}
saved=$(saves)
two_more_saves() {
    [ "$(saves)" -ge $((saved + 2)) ]
}
wait_bg 120 "training after SIGINT, until two more epochs" two_more_saves
stop_bg TERM
[ ! -s "$tmp/bg.err" ] || fail "stderr after an ignored SIGINT: $(cat "$tmp/bg.err")"

check "on a terminal, the live line shows elapsed time, ETA and the test pass"
if command -v script > /dev/null 2>&1 && script -qec true /dev/null < /dev/null > /dev/null 2>&1; then
    script -qec "'$cnn' train --data '$data' --epochs 2 --threads 2" /dev/null < /dev/null \
        > "$tmp/tty.raw" 2>&1 || fail "training on a terminal failed: $(cat "$tmp/tty.raw")"
    tr '\r' '\n' < "$tmp/tty.raw" > "$tmp/tty.out"
    grep -qE '^  epoch 1/2  batch [0-9]+/10  loss [0-9.]+  [0-9]+/s  elapsed [0-9]+:[0-9]{2}  ETA [0-9]+:[0-9]{2}' \
        "$tmp/tty.out" || fail "no live line with elapsed time and ETA"
    grep -qE '^  epoch 2/2  evaluating on 100 test images\.\.\.  elapsed [0-9]+:[0-9]{2}  ETA [0-9]+:[0-9]{2}' \
        "$tmp/tty.out" || fail "no 'evaluating' line"
    # The epoch line follows the erased live line ("\033[K").
    grep -qE '(^|K)epoch 2/2  loss ' "$tmp/tty.out" || fail "no epoch line"
else
    echo "  (script(1) cannot make a terminal here: skipped)"
fi

finish
