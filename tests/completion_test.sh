#!/bin/bash
# completion_test.sh — completion/cnn.bash as bash runs it: the completion
# function is called with COMP_WORDS and COMP_CWORD set as bash sets them,
# and COMPREPLY compared with what must be offered: commands, each
# command's options (exactly those its --help lists), the values of
# --arch, --optimizer, --schedule, --impl and --split (also as
# --opt=value, split at '=' or not), directories for --data, files for
# FILE options and predict's images, nothing for numbers.
#
# usage: completion_test.sh CNN SOURCE_DIR   (meson passes them)
set -eu

. "$(dirname "$0")/cli_lib.sh"
need_args "$#" CNN SOURCE_DIR
cnn=$1
src=$2
# shellcheck source=../completion/cnn.bash
. "$src/completion/cnn.bash"

# offers WORD... : complete the last word of "cnn WORD..." and print the
# answers sorted, on one line.
offers() {
    COMP_WORDS=(cnn "$@")
    COMP_CWORD=$#
    COMP_LINE="cnn $*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _cnn cnn "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    if [ "${#COMPREPLY[@]}" -gt 0 ]; then
        printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
    fi
}
# expect WANT WORD... : cnn WORD... <TAB> offers exactly WANT
expect() {
    local want=$1 got
    shift
    got=$(offers "$@")
    [ "$got" = "$want" ] || fail "cnn $* <TAB>: offered '$got', expected '$want'"
}

check "complete -F _cnn cnn is registered"
complete -p cnn | grep -q -- "-F _cnn cnn$" || fail "no completion registered for cnn"

check "commands, and the options before one"
expect "eval filters help predict train" ""
expect "train" tr
expect "filters" f
expect "--help --version" -
expect "--version" --v
expect "eval filters predict train" help ""
expect "predict" help pr
expect "" help train ""

check "each command's options are exactly those its --help lists"
for c in train eval predict filters; do
    want=$("$cnn" "$c" --help | grep -oE '^  (-h, )?--[a-z0-9-]+' | sed 's/^ *\(-h, \)\{0,1\}//' |
        LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
    [ -n "$want" ] || fail "cnn $c --help lists no options"
    expect "$want" "$c" --
    [ "$c" = predict ] || expect "$want" "$c" "" # predict: images, below
done
expect "--batch" train --bat
expect "--save --save-best --save-every" train --save
expect "--split" eval --sp

check "values: --arch presets, --optimizer, --schedule, --impl, --split"
expect "lenet5 seed" train --arch ""
expect "lenet5" train --arch le
expect "adam adamw sgd" train --optimizer ""
expect "adam adamw" train --epochs 3 --optimizer ad
expect "constant cosine step" train --schedule ""
expect "ref" train --impl r
expect "test train" eval --split ""
expect "" train --epochs ""
expect "" train --lr 0
expect "" eval --batch ""

check "--opt=value, split at '=' (bash's default COMP_WORDBREAKS) or not"
expect "lenet5 seed" train --arch = ""
expect "lenet5" train --arch = le
expect "cosine" train --schedule = cos
expect "--optimizer=adam --optimizer=adamw" train --optimizer=ad
expect "--split=train" eval --split=tr

check "a flag takes no value: what follows it is an option"
expect "--json" eval --json --js

check "files for FILE options and predict's images; directories for --data"
mkdir "$tmp/d" "$tmp/d/sub"
touch "$tmp/d/m1.safetensors" "$tmp/d/m2.safetensors" "$tmp/d/names.txt" "$tmp/d/x.pgm"
expect "$tmp/d/m1.safetensors $tmp/d/m2.safetensors" eval --model "$tmp/d/m"
expect "$tmp/d/m1.safetensors $tmp/d/m2.safetensors" train --resume "$tmp/d/m"
expect "$tmp/d/names.txt" train --classes "$tmp/d/n"
expect "$tmp/d/sub" train --data "$tmp/d/"
expect "$tmp/d/sub" eval --data = "$tmp/d/"
expect "$tmp/d/x.pgm" predict --model "$tmp/d/m1.safetensors" "$tmp/d/x"
expect "--out=$tmp/d/x.pgm" filters --out="$tmp/d/x"
expect "--model" predict --model "$tmp/d/m1.safetensors" --mo
cd "$tmp/d"
expect "m1.safetensors m2.safetensors names.txt sub x.pgm" predict --model m1.safetensors ""

finish
