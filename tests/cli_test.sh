#!/bin/sh
# cli_test.sh — the `cnn` command end to end, as a user runs it: help texts,
# usage errors (exit 2, one line naming the flag), failures (exit 1, one line
# naming the file), train -> eval -> predict -> filters on a small synthetic
# data set, the CSV log and tools/plot-log, and Ctrl-C during training
# (exit 130, a checkpoint that loads).
#
# usage: cli_test.sh CNN GEN_DATASET PLOT_LOG   (meson passes the built ones)
set -eu

. "$(dirname "$0")/cli_lib.sh"
need_args "$#" CNN GEN_DATASET PLOT_LOG
cnn=$1
gen=$2
plotlog=$3

make_data 1000 200

# ---- help ------------------------------------------------------------------
check "cnn --help lists every command"
run "$cnn" --help
expect_rc 0
for c in train eval predict filters; do out_has "  $c "; done

check "cnn with no command is a usage error"
run "$cnn"
expect_rc 2

check "an unknown command is named"
run "$cnn" frobnicate
expect_rc 2
one_line_naming frobnicate

check "each command's --help mentions every flag"
for spec in "train --data --epochs --batch --lr --seed --threads --impl --limit --save --resume
                  --log --help" \
            "eval --model --data --batch --threads --json --help" \
            "predict --model --threads --json --help" \
            "filters --model --out --scale --help"; do
    set -- $spec
    c=$1
    shift
    run "$cnn" "$c" --help
    expect_rc 0
    out_has "usage: cnn $c"
    for flag in "$@"; do out_has "$flag"; done
done

# ---- usage errors: exit 2 and one line naming the flag ----------------------
check "unknown flags are refused, naming the flag"
for c in train eval predict filters; do
    run "$cnn" "$c" --bogus-flag
    expect_rc 2
    one_line_naming --bogus-flag
done

check "bad values are refused, naming the flag"
for args in "train --epochs x" "train --epochs 0" "train --batch 1.5" "train --lr -1" \
            "train --lr nan" "train --seed -3" "train --impl gpu" "train --threads 0" \
            "eval --batch 0" "eval --threads many" "predict --threads 0" "filters --scale 0"; do
    set -- $args
    run "$cnn" "$@"
    expect_rc 2
    one_line_naming "$2"
done

check "a flag without its value is refused, naming the flag"
for args in "train --epochs" "train --save" "eval --model" "predict --model" "filters --out"; do
    set -- $args
    run "$cnn" "$@"
    expect_rc 2
    one_line_naming "$2"
done

check "required options and arguments are asked for"
run "$cnn" eval --data "$data"
expect_rc 2
one_line_naming --model
run "$cnn" predict --model "$tmp/M"
expect_rc 2
one_line_naming IMAGE
run "$cnn" filters --model "$tmp/M"
expect_rc 2
one_line_naming --out
run "$cnn" filters --model "$tmp/M" --out "$tmp/f.jpg"
expect_rc 2
one_line_naming f.jpg

# ---- failures: exit 1 and one line naming the file ------------------------
check "a missing data directory is named"
run "$cnn" train --data "$tmp/no-such-dir" --threads 2
expect_rc 1
one_line_naming "$tmp/no-such-dir"

check "a --save path whose directory cannot take it is refused before training"
run "$cnn" train --data "$tmp/no-such-dir" --save "$tmp/no-such-dir/m.safetensors"
expect_rc 1
one_line_naming "$tmp/no-such-dir/m.safetensors"
[ ! -s "$tmp/out" ] || fail "training started before the --save check"

check "a truncated image file is named (plain and gzip)"
mkdir "$tmp/bad"
cp "$data"/* "$tmp/bad/"
head -c 1000 "$data/t10k-images-idx3-ubyte" > "$tmp/bad/t10k-images-idx3-ubyte"
run "$cnn" train --data "$tmp/bad" --threads 2
expect_rc 1
one_line_naming "$tmp/bad/t10k-images-idx3-ubyte"
cp "$data/t10k-images-idx3-ubyte" "$tmp/bad/"
head -c 2000 "$data/train-images-idx3-ubyte.gz" > "$tmp/bad/train-images-idx3-ubyte.gz"
run "$cnn" train --data "$tmp/bad" --threads 2
expect_rc 1
one_line_naming "$tmp/bad/train-images-idx3-ubyte.gz"

# ---- train, then use the model --------------------------------------------
M=$tmp/M.safetensors
L=$tmp/log.csv
check "train --epochs 2 --save --log on the synthetic set"
# A small rate leaves the model about half right after 2 epochs, so that the
# accuracies and the confusion matrix compared below are not all trivially
# perfect.
run "$cnn" train --data "$data" --epochs 2 --lr 0.0005 --save "$M" --log "$L" --threads 2
expect_rc 0
out_has "epoch 1/2"
out_has "epoch 2/2"
out_has "saved $M"
[ -f "$M" ] || fail "no model file $M"
cp "$tmp/out" "$tmp/train.out"
awk 'length > 80 { exit 1 }' "$tmp/out" || fail "a line of train's output is over 80 columns"
grep -qE '^epoch 2/2  loss [0-9.]+ acc [0-9.]+%  test loss [0-9.]+ acc [0-9.]+%  [0-9.]+s  [0-9]+/s$' \
    "$tmp/out" || fail "the epoch line is not in the documented form"

check "the CSV log has its header and one row per epoch"
header=epoch,step,train_loss,train_accuracy,test_loss,test_accuracy,seconds,samples_per_second,lr,val_loss,val_accuracy
[ "$(head -n 1 "$L")" = "$header" ] || fail "bad CSV header: $(head -n 1 "$L")"
[ "$(wc -l < "$L")" -eq 3 ] || fail "expected 3 lines in $L, got $(wc -l < "$L")"
# 1000 samples in batches of 32: 32 steps per epoch.
[ "$(sed -n 3p "$L" | cut -d, -f1,2)" = "2,64" ] || fail "row 2 is not epoch 2, step 64"

check "eval prints the test loss and accuracy of training's last epoch"
train_line=$(grep '^epoch 2/2' "$tmp/train.out")
train_loss=$(echo "$train_line" | sed 's/.*test loss \([0-9.]*\).*/\1/')
train_acc=$(echo "$train_line" | sed 's/.*test loss [0-9.]* acc \([0-9.]*%\).*/\1/')
run "$cnn" eval --model "$M" --data "$data" --threads 2
expect_rc 0
eval_line=$(grep '^test loss' "$tmp/out") || fail "eval printed no 'test loss' line"
eval_loss=$(echo "$eval_line" | sed 's/.*test loss \([0-9.]*\).*/\1/')
eval_acc=$(echo "$eval_line" | sed 's/.*test acc \([0-9.]*%\).*/\1/')
[ "$eval_acc" = "$train_acc" ] || fail "eval says accuracy $eval_acc, training said $train_acc"
[ "$eval_loss" = "$train_loss" ] || fail "eval says loss $eval_loss, training said $train_loss"
out_has "epoch 2/2, step 64, batch 32, lr 0.0005, seed 1"
out_has "per class"
out_has "confusion matrix (rows: true class, columns: predicted class)"

check "eval --json is one JSON object that agrees with the text"
run "$cnn" eval --model "$M" --data "$data" --threads 2 --json
expect_rc 0
[ "$(wc -l < "$tmp/out")" -eq 1 ] || fail "--json printed more than one line"
cp "$tmp/out" "$tmp/eval.json"
if [ "$have_python" -eq 1 ]; then
    python3 - "$tmp/eval.json" "$train_acc" <<'PY' || fail "eval --json content is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, dict)
assert "%.2f%%" % (100 * d["test_accuracy"]) == sys.argv[2], (d["test_accuracy"], sys.argv[2])
c = d["confusion"]
assert len(c) == 10 and all(len(r) == 10 for r in c)
assert sum(map(sum, c)) == d["images"] == 200
assert sum(c[k][k] for k in range(10)) == d["correct"]
assert 0 < d["correct"] < 200  # partly trained: the comparisons mean something
assert d["correct"] / d["images"] == d["test_accuracy"]
for k, pc in enumerate(d["per_class"]):
    assert pc["class"] == k and pc["images"] == sum(c[k]) and pc["correct"] == c[k][k]
m = d["meta"]
assert (m["epoch"], m["step"], m["batch"], m["lr"], m["seed"]) == (2, 64, 32, 0.0005, 1), m
PY
else
    echo "  (python3 not found: JSON content not checked)"
    grep -q '^{.*}$' "$tmp/out" || fail "not a JSON object"
fi

check "predict on a PGM and on the IDX file it was cut from agree"
# The first test image, as a PGM with a comment in its header.
first_pgm "$tmp/first.pgm" "first t10k image"
run "$cnn" predict --model "$M" --threads 2 "$tmp/first.pgm" "$data/t10k-images-idx3-ubyte"
expect_rc 0
[ "$(wc -l < "$tmp/out")" -eq 201 ] || fail "expected 1 + 200 lines"
pgm_class=$(sed -n "s|^$tmp/first.pgm: class \([0-9]\) .*|\1|p" "$tmp/out")
idx_class=$(sed -n "s|^$data/t10k-images-idx3-ubyte#0: class \([0-9]\) .*|\1|p" "$tmp/out")
[ -n "$pgm_class" ] || fail "no prediction line for first.pgm"
[ "$pgm_class" = "$idx_class" ] || fail "PGM says class $pgm_class, IDX#0 says $idx_class"
probs=$(sed -n 's/.*#199: class [0-9] .* p\(\( [01]\.[0-9]\{4\}\)*\)$/\1/p' "$tmp/out")
[ "$(echo "$probs" | wc -w)" -eq 10 ] || fail "last line does not list 10 probabilities"

check "predict --json is one JSON object; its classes give eval's accuracy"
run "$cnn" predict --model "$M" --threads 2 --json "$data/t10k-images-idx3-ubyte" "$tmp/first.pgm"
expect_rc 0
[ "$(wc -l < "$tmp/out")" -eq 1 ] || fail "--json printed more than one line"
if [ "$have_python" -eq 1 ]; then
    python3 - "$tmp/out" "$tmp/eval.json" "$data/t10k-labels-idx1-ubyte" \
        "$data/t10k-images-idx3-ubyte" <<'PY' ||
import json, sys
p = json.load(open(sys.argv[1]))
e = json.load(open(sys.argv[2]))
labels = open(sys.argv[3], "rb").read()[8:]
preds = p["predictions"]
assert len(preds) == 201
for i, q in enumerate(preds[:200]):
    assert q["image"] == "%s#%d" % (sys.argv[4], i), q["image"]
    assert abs(sum(q["probabilities"]) - 1) < 1e-4
    assert q["class"] == max(range(10), key=lambda k: q["probabilities"][k])
assert preds[200]["image"].endswith("first.pgm")
assert preds[200]["class"] == preds[0]["class"]
right = sum(q["class"] == labels[i] for i, q in enumerate(preds[:200]))
assert right == e["correct"], (right, e["correct"])
PY
    fail "predict --json content is wrong"
fi

check "predict refuses a PGM of the wrong size and a missing file, naming them"
{
    printf 'P5\n27 28\n255\n'
    dd if="$data/t10k-images-idx3-ubyte" bs=4 skip=4 count=189 2> /dev/null
} > "$tmp/small.pgm"
run "$cnn" predict --model "$M" "$tmp/small.pgm"
expect_rc 1
one_line_naming "$tmp/small.pgm: image is 27x28"
head -c 400 "$tmp/first.pgm" > "$tmp/cut.pgm"
run "$cnn" predict --model "$M" "$tmp/cut.pgm"
expect_rc 1
one_line_naming "$tmp/cut.pgm: truncated"
run "$cnn" predict --model "$M" "$tmp/none.pgm"
expect_rc 1
one_line_naming "$tmp/none.pgm"
[ ! -s "$tmp/out" ] || fail "printed predictions despite the error"

check "filters --out F.png makes a PNG, F.pgm a PGM"
run "$cnn" filters --model "$M" --out "$tmp/filters.png"
expect_rc 0
is_png "$tmp/filters.png"
run "$cnn" filters --model "$M" --out "$tmp/filters.pgm"
expect_rc 0
[ "$(head -n 2 "$tmp/filters.pgm" | tr '\n' ' ')" = "P5 312 188 " ] ||
    fail "filters.pgm header is not 'P5 312 188'"

check "a truncated model file is refused by eval, predict and filters"
head -c 5000 "$M" > "$tmp/cut.safetensors"
run "$cnn" eval --model "$tmp/cut.safetensors" --data "$data"
expect_rc 1
one_line_naming "$tmp/cut.safetensors: truncated"
run "$cnn" predict --model "$tmp/cut.safetensors" "$tmp/first.pgm"
expect_rc 1
one_line_naming "$tmp/cut.safetensors"
run "$cnn" filters --model "$tmp/cut.safetensors" --out "$tmp/cut.png"
expect_rc 1
one_line_naming "$tmp/cut.safetensors"
[ ! -e "$tmp/cut.png" ] || fail "filters wrote an image from a bad model"

check "train --resume continues from a checkpoint"
run "$cnn" train --data "$data" --epochs 3 --lr 0.0005 --resume "$M" --save "$tmp/M3.safetensors" \
    --threads 2
expect_rc 0
out_has "epoch 3/3"
grep -q "epoch [12]/3" "$tmp/out" && fail "resumed run repeated epochs 1-2"
run "$cnn" train --data "$data" --epochs 3 --batch 16 --resume "$M" --threads 2
expect_rc 0
out_has "--batch 32 -> 16: no longer an exact continuation"
run "$cnn" train --data "$data" --resume "$M" --threads 2
expect_rc 2
one_line_naming "give --epochs N"

check "tools/plot-log draws the CSV log as a PNG"
if command -v gnuplot > /dev/null 2>&1; then
    run "$plotlog" "$L" "$tmp/log.png"
    expect_rc 0
    is_png "$tmp/log.png"
    run "$plotlog" "$tmp/no-such.csv" "$tmp/x.png"
    expect_rc 1
    one_line_naming "$tmp/no-such.csv"
else
    echo "  (gnuplot not found: skipped; tools/setup installs gnuplot-nox)"
fi

# ---- Ctrl-C ------------------------------------------------------------------
check "Ctrl-C is acknowledged at once, stops training with exit 130 and a checkpoint that loads"
M2=$tmp/M2.safetensors
# A background job of a script starts with SIGINT ignored, and cnn train
# leaves an ignored SIGINT ignored (cli_files_test.sh checks that): env
# gives it the default disposition a terminal's foreground job has.
start_bg env --default-signal=INT "$cnn" train --data "$data" --epochs 1000 --save "$M2" \
    --threads 2
# Wait for the first checkpoint: by then the SIGINT handler is surely
# installed (a signal sent earlier would end the process at once).
wait_bg 120 "training, until its first checkpoint" [ -f "$M2" ]
stop_bg INT
cp "$tmp/bg.err" "$tmp/err"
expect_rc 130
grep -qF "saved to $M2" "$tmp/err" || fail "the message does not say where it saved"
# The acknowledgement comes first; the test pass may be running when the
# signal lands, and then the message says so.
ack=$(sed -n 1p "$tmp/err")
[ "$ack" = "cnn train: stopping after this step... (Ctrl-C again stops at once)" ] ||
    [ "$ack" = "cnn train: stopping after the test pass... (Ctrl-C again stops at once)" ] ||
    fail "first line is not the acknowledgement: $ack"
[ "$(wc -l < "$tmp/err")" -eq 2 ] || fail "expected the acknowledgement and one more line"
run "$cnn" eval --model "$M2" --data "$data" --threads 2
expect_rc 0
out_has "test acc"

finish
