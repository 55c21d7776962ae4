#!/bin/sh
# doc/gen-man.sh - write the man page cnn(1) from doc/cnn.1.in and what the
# built program says about itself: each command's description, options
# (with their defaults) and closing notes come from `cnn COMMAND --help`,
# the command list from `cnn --help`, the version from `cnn --version`, so
# the page cannot drift from the program. The result is committed as
# doc/cnn.1 (installed into man1 by meson); tests/man_test.sh fails when it
# is not current.
#
# usage: doc/gen-man.sh CNN [TEMPLATE] > doc/cnn.1
#   e.g. doc/gen-man.sh build/cnn > doc/cnn.1
# Template lines @ABOUT CMD@, @OPTIONS CMD@, @EPILOG CMD@ and @COMMANDS@
# are replaced by the generated roff; @VERSION@ anywhere by the version.
set -eu

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
    echo "usage: doc/gen-man.sh CNN [TEMPLATE] > doc/cnn.1" >&2
    exit 2
fi
cnn=$1
template=${2:-$(dirname "$0")/cnn.1.in}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

version=$("$cnn" --version | sed -n '1s/^cnn //p')
[ -n "$version" ] || { echo "gen-man: $cnn --version said no version" >&2; exit 1; }
"$cnn" --help > "$tmp/main"
for c in train eval predict filters; do
    "$cnn" "$c" --help > "$tmp/$c"
done

# Help text to roff: escape backslashes, make every '-' a minus sign (so
# options copied from the page work), guard lines starting with '.' or "'".
roff_text='
function rt(s) {
    gsub(/\\/, "\\e", s)
    gsub(/-/, "\\-", s)
    if (s ~ /^[.'\'']/) s = "\\&" s
    return s
}'

# One part of a command's help: about (between the usage line and
# "options:"), options (the table), epilog (after the "Each option" line).
part() { # PART FILE
    awk -v part="$1" "$roff_text"'
    # "--data DIR" -> \fB\-\-data\fR \fIDIR\fR; "--impl ref|blas" -> choices in bold
    function left(s,    n, w, i, out, k, c, nc, sep) {
        n = split(s, w, " ")
        out = ""
        for (i = 1; i <= n; i++) {
            sep = i > 1 ? " " : ""
            if (w[i] ~ /^-/) {
                c = w[i]
                k = ""
                if (c ~ /,$/) { c = substr(c, 1, length(c) - 1); k = "," }
                out = out sep "\\fB" rt(c) "\\fR" k
            } else if (w[i] ~ /^[A-Z][A-Z.]*$/) {
                out = out sep "\\fI" rt(w[i]) "\\fR"
            } else {
                nc = split(w[i], ch, "|")
                out = out sep
                for (k = 1; k <= nc; k++)
                    out = out (k > 1 ? "|" : "") "\\fB" rt(ch[k]) "\\fR"
            }
        }
        return out
    }
    NR == 1 { state = "usage"; next }
    state == "usage" && /^$/ { state = "about"; next }
    state == "about" && /^options:$/ { state = "options"; next }
    state == "about" {
        if (part == "about") { if ($0 == "") print ".PP"; else print rt($0) }
        next
    }
    state == "options" && /^$/ { state = "each"; next }
    state == "options" {
        if (part != "options") next
        if ($0 ~ /^  -/) {
            if (substr($0, 18, 2) == "  ") {
                l = substr($0, 3, 16); sub(/ +$/, "", l); h = substr($0, 20)
            } else {
                l = substr($0, 3); h = ""
            }
            print ".TP"
            print left(l)
            if (h != "") print rt(h)
        } else {
            h = $0; sub(/^ +/, "", h); print rt(h)
        }
        next
    }
    state == "each" && /^Each option takes/ { state = "gap"; next }
    state == "gap" && /^$/ { state = "epilog"; next }
    state == "epilog" && part == "epilog" { print rt($0) }
    ' "$2"
}

# The command list of `cnn --help`.
commands() {
    awk "$roff_text"'
    /^commands:$/ { on = 1; next }
    on && /^$/ { exit }
    on {
        name = $1
        what = $0; sub(/^ +[^ ]+ +/, "", what)
        print ".TP"
        print "\\fB" name "\\fR"
        print rt(what)
    }' "$1"
}

while IFS= read -r line; do
    case $line in
    "@COMMANDS@") commands "$tmp/main" ;;
    "@ABOUT "*"@" | "@OPTIONS "*"@" | "@EPILOG "*"@")
        what=${line#@}
        what=${what%@}
        kind=$(echo "${what% *}" | tr 'A-Z' 'a-z')
        cmd=${what#* }
        [ -f "$tmp/$cmd" ] || { echo "gen-man: $template: no command '$cmd'" >&2; exit 1; }
        part "$kind" "$tmp/$cmd" ;;
    *) printf '%s\n' "$line" ;;
    esac
done < "$template" > "$tmp/page"
sed "s/@VERSION@/$version/g" "$tmp/page"
