#!/bin/sh
# cli_classes_test.sh — class names and what is printed with them, in exact
# lines: `cnn train --classes FILE` (and its refusals), Fashion-MNIST's
# names for the default data set, eval's names, precision, recall, F1,
# macro averages and --split, predict's names (text and JSON), and the
# header of a resumed run: the options in force, taken from the checkpoint
# (--resume alone) or changed and announced (--lr).
#
# usage: cli_classes_test.sh CNN GEN_DATASET CONST_MODEL   (meson passes them)
set -eu

. "$(dirname "$0")/cli_lib.sh"
need_args "$#" CNN GEN_DATASET CONST_MODEL
cnn=$1
gen=$2
const_model=$3

make_data 300 100
fashion="T-shirt/top Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag"

# stdout is exactly the file $1
expect_out() {
    same_text "$1" "$tmp/out" "stdout differs from $1"
}

# ---- eval and predict on a model whose every prediction is class 3 ----------
# (labels of the test split: 12 5 12 12 8 11 9 13 9 9 images of classes 0-9)
# shellcheck disable=SC2086 # the names are meant to split, "Ankle boot" aside
"$const_model" "$tmp/named.safetensors" 3 $fashion "Ankle boot"
"$const_model" "$tmp/plain.safetensors" 3

check "eval prints names, precision, recall, F1 and macro averages (exact)"
run "$cnn" eval --model "$tmp/named.safetensors" --data "$data"
expect_rc 0
cat > "$tmp/want" <<EOF
model $tmp/named.safetensors: epoch 1/1, step 10, batch 32, lr 0.05, seed 1, impl blas, 300 training images
data $data: 100 test images
test loss 2.5566  test acc 12.00%  (12 of 100 correct)

per class:
  class  name         images  correct  precision     recall         F1
      0  T-shirt/top      12        0          -      0.00%          -
      1  Trouser           5        0          -      0.00%          -
      2  Pullover         12        0          -      0.00%          -
      3  Dress            12       12     12.00%    100.00%     21.43%
      4  Coat              8        0          -      0.00%          -
      5  Sandal           11        0          -      0.00%          -
      6  Shirt             9        0          -      0.00%          -
      7  Sneaker          13        0          -      0.00%          -
      8  Bag               9        0          -      0.00%          -
      9  Ankle boot        9        0          -      0.00%          -
  macro average                            1.20%     10.00%      2.14%

confusion matrix (rows: true class, columns: predicted class):
  true                   0      1      2      3      4      5      6      7      8      9
     0  T-shirt/top      0      0      0     12      0      0      0      0      0      0
     1  Trouser          0      0      0      5      0      0      0      0      0      0
     2  Pullover         0      0      0     12      0      0      0      0      0      0
     3  Dress            0      0      0     12      0      0      0      0      0      0
     4  Coat             0      0      0      8      0      0      0      0      0      0
     5  Sandal           0      0      0     11      0      0      0      0      0      0
     6  Shirt            0      0      0      9      0      0      0      0      0      0
     7  Sneaker          0      0      0     13      0      0      0      0      0      0
     8  Bag              0      0      0      9      0      0      0      0      0      0
     9  Ankle boot       0      0      0      9      0      0      0      0      0      0
EOF
expect_out "$tmp/want"

check "a model without names: numbers only"
run "$cnn" eval --model "$tmp/plain.safetensors" --data "$data"
expect_rc 0
out_line "  class  images  correct  precision     recall         F1"
out_line "      3      12       12     12.00%    100.00%     21.43%"
out_line "  macro average               1.20%     10.00%      2.14%"
out_line "  true       0      1      2      3      4      5      6      7      8      9"
out_line "     9       0      0      0      9      0      0      0      0      0      0"

check "eval --split train evaluates the training split"
run "$cnn" eval --model "$tmp/named.safetensors" --data "$data" --split=train
expect_rc 0
out_line "data $data: 300 training images"
out_line "train loss 2.5833  train acc 10.67%  (32 of 300 correct)"
run "$cnn" eval --model "$tmp/named.safetensors" --data "$data" --split val
usage_error "cnn eval: --split: expected 'test' or 'train', got 'val'"

check "eval --json: names, precision, recall, F1, macro; <split>_loss"
run "$cnn" eval --model "$tmp/named.safetensors" --data "$data" --json
expect_rc 0
out_has '"split":"test","images":100,'
out_has '"class_names":["T-shirt/top","Trouser","Pullover","Dress","Coat","Sandal","Shirt","Sneaker","Bag","Ankle boot"],"test_loss":2.556'
out_has ',"test_accuracy":0.12,"correct":12,"per_class":[{"class":0,"name":"T-shirt/top","images":12,"correct":0,"accuracy":0,"precision":null,"recall":0,"f1":null},'
out_has '{"class":3,"name":"Dress","images":12,"correct":12,"accuracy":1,"precision":0.12,"recall":1,"f1":0.2142857142857'
out_has '"macro":{"precision":0.012,"recall":0.1,"f1":0.02142857142857'
run "$cnn" eval --model "$tmp/plain.safetensors" --data "$data" --json --split train
expect_rc 0
out_has '"split":"train","images":300,'
out_has '"class_names":null,"train_loss":2.583'
out_has '"per_class":[{"class":0,"images":31,"correct":0,'
if [ "$have_python" -eq 1 ]; then
    python3 - "$tmp/out" <<'PY' || fail "eval --json is not valid JSON or its metrics disagree"
import json, sys
d = json.load(open(sys.argv[1]))
c = d["confusion"]
for k, pc in enumerate(d["per_class"]):
    col = sum(row[k] for row in c)
    assert pc["precision"] == (c[k][k] / col if col else None), pc
    assert pc["recall"] == pc["accuracy"] == c[k][k] / sum(c[k]), pc
PY
fi

check "predict prints the class name (text and JSON)"
first_pgm "$tmp/first.pgm"
run "$cnn" predict --model "$tmp/named.safetensors" "$tmp/first.pgm"
expect_rc 0
printf '%s\n' "$tmp/first.pgm: class 3 Dress (45.1%)  p 0.0610 0.0610 0.0610 0.4509 0.0610 0.0610 0.0610 0.0610 0.0610 0.0610" > "$tmp/want"
expect_out "$tmp/want"
run "$cnn" predict --model "$tmp/plain.safetensors" "$tmp/first.pgm"
out_line "$tmp/first.pgm: class 3 (45.1%)  p 0.0610 0.0610 0.0610 0.4509 0.0610 0.0610 0.0610 0.0610 0.0610 0.0610"
run "$cnn" predict --model "$tmp/named.safetensors" --json "$tmp/first.pgm"
expect_rc 0
out_has '"class":3,"name":"Dress","probabilities":[0.061'
run "$cnn" predict --model "$tmp/plain.safetensors" --json "$tmp/first.pgm"
out_has '"class":3,"probabilities":[0.061'

# ---- train --classes FILE -----------------------------------------------------
printf 'zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n' > "$tmp/names"

check "train --classes FILE stores the names; the header shows them"
run "$cnn" train --data "$data" --epochs 1 --threads 2 --classes "$tmp/names" \
    --save "$tmp/m.safetensors"
expect_rc 0
out_line "  10 classes: zero, one, two, three, four, five, six, seven, eight, nine"
run "$cnn" eval --model "$tmp/m.safetensors" --data "$data" --json
out_has '"class_names":["zero","one","two","three","four","five","six","seven","eight","nine"]'

check "spaces around a name, a CR and the last newline do not count"
printf '  zero\r\none\ntwo \nthree\nfour\nfive\nsix\nseven\neight\nnine' > "$tmp/names2"
run "$cnn" train --data "$data" --epochs 1 --threads 2 --classes "$tmp/names2" --limit 32 \
    --save "$tmp/m2.safetensors"
expect_rc 0
out_line "  10 classes: zero, one, two, three, four, five, six, seven, eight, nine"

check "a data set that is not the default has no names unless given"
run "$cnn" train --data "$data" --epochs 1 --threads 2 --limit 32
expect_rc 0
out_line "  10 classes (no names)"

check "bad --classes files: one line naming the file (and the line), before any data"
bad_classes() { # FILE-CONTENT MESSAGE-AFTER-"cnn train: FILE: "
    printf "$1" > "$tmp/bad"
    run "$cnn" train --data "$tmp/no-such-data" --classes "$tmp/bad"
    fails_with "cnn train: $tmp/bad: $2"
    [ ! -s "$tmp/out" ] || fail "printed on stdout"
}
bad_classes 'a\nb\n\nc\n' "line 3 is empty (one class name a line)"
bad_classes 'a\nb\n   \nc\n' "line 3 is empty (one class name a line)"
bad_classes 'a\n\n' "line 2 is empty (one class name a line)"
bad_classes 'Coat\nBag\nCoat\n' "line 3 repeats line 1 'Coat'"
bad_classes 'a\tb\n' "line 1 holds a control character"
bad_classes 'ok\n\377\n' "line 2 is not valid UTF-8"
bad_classes 'ok\n\300\200\n' "line 2 is not valid UTF-8"
bad_classes '' "is empty, expected one class name a line"
bad_classes 'a\000b\n' "holds a NUL byte: not a text file of class names"
run "$cnn" train --data "$data" --classes "$tmp/none"
fails_with "cnn train: $tmp/none: cannot open: No such file or directory"
run "$cnn" train --data "$data" --classes "$tmp"
fails_with "cnn train: $tmp: Is a directory"
mkfifo "$tmp/fifo"
run_limited "$cnn" train --data "$data" --classes "$tmp/fifo"
fails_with "cnn train: $tmp/fifo: not a regular file"
seq 1 257 > "$tmp/many"
run "$cnn" train --data "$data" --classes "$tmp/many"
fails_with "cnn train: $tmp/many: more than 256 lines (a data set has at most 256 classes)"
awk 'BEGIN { for (i = 0; i < 200; i++) { printf "%04d", i; for (j = 0; j < 20; j++) printf "x"; print "" } }' \
    > "$tmp/long"
run "$cnn" train --data "$data" --classes "$tmp/long"
fails_with "cnn train: $tmp/long: the names take more than 4095 bytes"

check "as many names as the data set has classes"
printf 'a\nb\nc\n' > "$tmp/three"
run "$cnn" train --data "$data" --classes "$tmp/three"
fails_with "cnn train: $tmp/three: 3 class names, but the data set has 10 classes"
[ ! -s "$tmp/out" ] || fail "training started"

# ---- the header of a resumed run ----------------------------------------------
# Early stopping leaves a checkpoint short of its --epochs: at 100% validation
# accuracy from epoch 1 on, patience 1 stops after epoch 2 of 5.
P=$tmp/p.safetensors
check "an early-stopped run, to resume"
run "$cnn" train --data "$data" --epochs 5 --val 50 --patience 1 --threads 2 \
    --classes "$tmp/names" --save "$P"
expect_rc 0
out_line "  early stop: no better validation accuracy for 1 epoch (best: epoch 1, 100.00%)"

check "--resume FILE alone: the header shows the options in force, the file's (exact)"
run "$cnn" train --data "$data" --resume "$P" --threads 2
expect_rc 0
head -n 7 "$tmp/out" > "$tmp/head"
cat > "$tmp/want" <<EOF
cnn train: 300 training and 100 test images from $data
  resuming from $P after epoch 2 (step 16)
  arch seed
  sgd, lr 0.05, batch 32, seed 1, epochs 5
  validation: 50 samples held out, patience 1
  10 classes: zero, one, two, three, four, five, six, seven, eight, nine
  impl blas, threads 2
EOF
same_text "$tmp/want" "$tmp/head" "header differs"
grep -q '^epoch 3/5 ' "$tmp/out" || fail "did not go on with epoch 3"

check "--resume with a changed --lr: in force, and announced after the header (exact)"
run "$cnn" train --data "$data" --resume "$P" --threads 2 --lr 0.01 --impl ref
expect_rc 0
head -n 9 "$tmp/out" > "$tmp/head"
cat > "$tmp/want" <<EOF
cnn train: 300 training and 100 test images from $data
  resuming from $P after epoch 2 (step 16)
  arch seed
  sgd, lr 0.01, batch 32, seed 1, epochs 5
  validation: 50 samples held out, patience 1
  10 classes: zero, one, two, three, four, five, six, seven, eight, nine
  impl ref, threads 2
  --lr 0.05 -> 0.01: no longer an exact continuation
  --impl blas -> ref: rounding differs, no longer an exact continuation
EOF
same_text "$tmp/want" "$tmp/head" "header differs"

check "--resume of a checkpoint whose train.momentum is hex: refused, naming the key (exact)"
python3 - "$P" "$tmp/hex.safetensors" <<'PY' || fail "could not rewrite the header"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
assert "train.momentum" in h["__metadata__"], "no train.momentum in the checkpoint"
h["__metadata__"]["train.momentum"] = "0x1"
t = json.dumps(h, separators=(",", ":")).encode()
t += b" " * (-len(t) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(t)) + t + b[8 + n:])
PY
run "$cnn" train --data "$data" --resume "$tmp/hex.safetensors" --threads 2
expect_rc 1
expect_err "cnn train: $tmp/hex.safetensors: __metadata__ train.momentum \"0x1\" is not a number"

check "--resume with --classes: the new names are saved, and said so"
printf 'A\nB\nC\nD\nE\nF\nG\nH\nI\nJ\n' > "$tmp/letters"
run "$cnn" train --data "$data" --resume "$P" --threads 2 --epochs 3 --patience 5 \
    --classes "$tmp/letters" --save "$tmp/p2.safetensors"
expect_rc 0
out_line "  10 classes: A, B, C, D, E, F, G, H, I, J"
out_line "  class names differ from the checkpoint's: the new ones are saved"
run "$cnn" eval --model "$tmp/p2.safetensors" --data "$data"
out_has "      9  J     "

check "the optimizer's and schedule's settings are shown when not the defaults"
run "$cnn" train --data "$data" --epochs 1 --threads 2 --limit 64 --optimizer adamw --lr 0.001 \
    --weight-decay 0.01 --clip-norm 5 --schedule cosine --warmup-epochs 0.5
expect_rc 0
out_line "  adamw, lr 0.001, batch 32, seed 1, epochs 1"
out_line "  betas 0.9 0.999, eps 1e-08, weight decay 0.01 (decoupled), clip-norm 5"
out_line "  schedule cosine, lr-min 0, warmup-epochs 0.5"
run "$cnn" train --data "$data" --epochs 1 --threads 2 --limit 64 --momentum 0.9 --nesterov \
    --schedule step --gamma 0.5 --step-epochs 2
expect_rc 0
out_line "  momentum 0.9, nesterov"
out_line "  schedule step, gamma 0.5, step-epochs 2"
run "$cnn" train --data "$data" --epochs 1 --threads 2 --limit 64 --arch lenet5
out_line "  arch lenet5"
run "$cnn" train --data "$data" --epochs 1 --threads 2 --limit 64 --arch conv4x3,relu,maxpool2,dense10
out_line "  arch conv4x3,relu,maxpool2,dense10"

# ---- the default data set ---------------------------------------------------------
check "the default data set (Fashion-MNIST) gets its ten names"
default=/usr/share/datasets/fashion-mnist
if [ -d "$default" ]; then
    run "$cnn" train --epochs 1 --limit 32 --threads 2 --save "$tmp/f.safetensors"
    expect_rc 0
    out_line "  10 classes: T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, ..."
    run "$cnn" predict --model "$tmp/f.safetensors" --json "$tmp/first.pgm"
    expect_rc 0
    grep -qE '"name":"(T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot)"' \
        "$tmp/out" || fail "predict gave no Fashion-MNIST name"
    run "$cnn" eval --model "$tmp/f.safetensors" --data "$data" --json
    out_has '"class_names":["T-shirt/top","Trouser","Pullover","Dress","Coat","Sandal","Shirt","Sneaker","Bag","Ankle boot"]'
else
    echo "  ($default not installed: skipped; tools/setup installs dataset-fashion-mnist)"
fi

finish
