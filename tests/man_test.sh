#!/bin/sh
# man_test.sh — the man page cnn(1): doc/cnn.1 is what doc/gen-man.sh makes
# from doc/cnn.1.in and the built program's --help (so it is current: every
# command, every option and its default); it is plain ASCII; groff renders
# it without a warning (-ww), and so does man -l; the rendered page has the
# sections a user looks for and every option of every command.
#
# usage: man_test.sh CNN SOURCE_DIR   (meson passes them)
set -eu

. "$(dirname "$0")/cli_lib.sh"
need_args "$#" CNN SOURCE_DIR
cnn=$1
src=$2
page=$src/doc/cnn.1

check "doc/cnn.1 is current (doc/gen-man.sh CNN > doc/cnn.1 makes it)"
"$src/doc/gen-man.sh" "$cnn" "$src/doc/cnn.1.in" > "$tmp/cnn.1"
same_text "$page" "$tmp/cnn.1" "doc/cnn.1 is out of date: run doc/gen-man.sh build/cnn > doc/cnn.1"

check "doc/cnn.1 is ASCII (the roff escapes say the rest)"
if LC_ALL=C grep -n '[^ -~]' "$page" > "$tmp/nonascii"; then
    head -n 3 "$tmp/nonascii" >&2
    fail "doc/cnn.1 has bytes outside printable ASCII"
fi

renderers=0
check "groff -man -ww renders it without a warning"
if command -v groff > /dev/null 2>&1; then
    renderers=$((renderers + 1))
    run groff -man -Tutf8 -ww -z "$page"
    expect_rc 0
    [ ! -s "$tmp/err" ] || fail "groff warned"
    # -P-cbou: plain text, no bold or underline by overstriking
    LC_ALL=C.UTF-8 groff -man -Tutf8 -P-cbou -rLL=80n "$page" > "$tmp/text" 2> "$tmp/err"
    [ ! -s "$tmp/err" ] || fail "groff warned"
else
    echo "  (groff not found: skipped; tools/setup installs groff-base)"
fi

check "man -l renders it without a warning"
if command -v man > /dev/null 2>&1; then
    renderers=$((renderers + 1))
    run env LC_ALL=C.UTF-8 MANWIDTH=80 MAN_KEEP_FORMATTING= man --warnings -l "$page"
    expect_rc 0
    [ ! -s "$tmp/err" ] || fail "man -l warned"
    sed 's/.\x08//g' "$tmp/out" > "$tmp/text" # overstruck bold and underline, if any
else
    echo "  (man not found: skipped; Debian's man-db has it)"
fi
if [ "$renderers" -eq 0 ]; then
    echo "neither groff nor man: the page could not be rendered (skipped)"
    exit 77
fi

check "the rendered page has its sections, every command and the examples asked for"
for s in NAME SYNOPSIS DESCRIPTION COMMANDS NETWORKS "CLASS NAMES" "EXIT STATUS" ENVIRONMENT \
         FILES EXAMPLES "SEE ALSO"; do
    grep -qx "$s" "$tmp/text" || fail "no section $s"
done
for c in "cnn train" "cnn eval" "cnn predict" "cnn filters" "cnn help" "cnn --version"; do
    grep -q "^   $c" "$tmp/text" || fail "no subsection for $c"
done
for e in "cnn train --arch lenet5" "--optimizer adamw" "--momentum 0.9 --nesterov" \
         "cnn train --resume model.safetensors" "mpirun -np 4 cnn train" "--classes digits.txt" \
         "--split train --json"; do
    grep -qF -- "$e" "$tmp/text" || fail "no example with '$e'"
done
for s in 0 1 2 130; do
    grep -qE "^       $s +[A-Z]" "$tmp/text" || fail "EXIT STATUS does not explain $s"
done

check "every option of every command is described, with the default its --help gives"
for c in train eval predict filters; do
    "$cnn" "$c" --help > "$tmp/help"
    for o in $(grep -oE '^  --[a-z0-9-]+' "$tmp/help"); do
        grep -qE -- "^       $o( |$)" "$tmp/text" || fail "cnn $c: $o is not in the page"
    done
done
# One line, words hyphenated at a line's end (U+2010) joined again.
LC_ALL=C awk '{ sub(/^ +/, ""); if (sub(/\342\200\220$/, "")) printf "%s", $0; else printf "%s ", $0 }' \
    "$tmp/text" | tr -s ' ' > "$tmp/flat"
for d in "(default 32)" "(default: no early stop)" "(default test)" "(default 12)"; do
    grep -qF -- "$d" "$tmp/flat" || fail "the default '$d' is not in the page"
done

finish
