# cli_lib.sh — helpers shared by the CLI test scripts (sourced, not run):
# a temporary directory removed on exit, numbered checks, and assertions on
# a command's exit status, stdout and stderr, down to exact messages.

tmp=$(mktemp -d)
bgpid=""
cleanup() {
    if [ -n "$bgpid" ]; then
        kill "$bgpid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

n=0
check() {
    n=$((n + 1))
    echo "check $n: $*"
}
fail() {
    echo "FAIL (check $n): $*" >&2
    if [ -s "$tmp/err" ]; then
        echo "--- its stderr:" >&2
        cat "$tmp/err" >&2
    fi
    exit 1
}

# run CMD ARGS...: stdout to $tmp/out, stderr to $tmp/err, exit code to $rc.
run() {
    rc=0
    "$@" > "$tmp/out" 2> "$tmp/err" || rc=$?
}
# The same with a time limit, so that a command that blocks fails the test
# instead of hanging it (timeout's own status is 124).
run_limited() {
    rc=0
    timeout 30 "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null || rc=$?
    [ "$rc" -ne 124 ] || fail "timed out (blocked?): $*"
}
expect_rc() {
    [ "$rc" -eq "$1" ] || fail "exit code $rc, expected $1"
}
# stderr is exactly one line and names $1
one_line_naming() {
    [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "expected one line on stderr"
    grep -qF -- "$1" "$tmp/err" || fail "stderr does not name '$1'"
}
# stderr is exactly the line $1
expect_err() {
    printf '%s\n' "$1" > "$tmp/want"
    cmp -s "$tmp/want" "$tmp/err" || fail "stderr is not exactly: $1"
}
# usage error: exit 2 and exactly the line $1 on stderr, nothing on stdout
usage_error() {
    expect_rc 2
    expect_err "$1"
    [ ! -s "$tmp/out" ] || fail "printed on stdout: $(head -n 3 "$tmp/out")"
}
out_has() {
    grep -qF -- "$1" "$tmp/out" || fail "output lacks '$1'"
}
# stdout has the line $1, exactly
out_line() {
    grep -qxF -- "$1" "$tmp/out" || fail "output lacks the line '$1'"
}
# first 8 bytes are the PNG signature
is_png() {
    [ "$(od -An -tx1 -N8 "$1" | tr -d ' \n')" = "89504e470d0a1a0a" ] ||
        fail "$1 does not start with the PNG signature"
}
have_python=0
if command -v python3 > /dev/null 2>&1; then
    have_python=1
fi
