# cli_lib.sh — helpers shared by the test scripts (sourced, not run): a
# temporary directory removed on exit, numbered checks, assertions on a
# command's exit status, stdout and stderr, down to exact messages, a run
# in the background, and the synthetic data set.

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

# ---- checks -------------------------------------------------------------------
# need_args COUNT NAME...: a script given COUNT arguments ("$#") wanted as
# many as NAMEs: else its usage line, exit 2.
need_args() {
    given=$1
    shift
    if [ "$given" -ne "$#" ]; then
        echo "usage: ${0##*/} $*" >&2
        exit 2
    fi
}
n=0
failures=0
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
# A failure that lets the checks after it run (for long tests whose later
# checks say more); finish then exits 1.
fail_later() {
    echo "FAIL (check $n): $*" >&2
    failures=$((failures + 1))
}
# The last line of a script.
finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s) in $n checks" >&2
        exit 1
    fi
    echo "all $n checks passed"
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
# failure: exit 1 and exactly the line $1 on stderr
fails_with() {
    expect_rc 1
    expect_err "$1"
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
# same_text WANT GOT WHY: the two files are the same, else their diff and WHY
same_text() {
    cmp -s "$1" "$2" || { diff "$1" "$2" | head -n 40 >&2 || true; fail "$3"; }
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

# ---- a run in the background ------------------------------------------------------
# start_bg CMD ARGS...: CMD in the background, stdout to $tmp/bg.out, stderr
# to $tmp/bg.err, stdin from /dev/null; its PID in $bgpid (killed on exit).
# Both files are emptied here, before the fork, not only by the background
# job's own redirections: those happen whenever the job is first scheduled,
# and until then a wait on bg.out would see what an earlier run left there.
start_bg() {
    : > "$tmp/bg.out"
    : > "$tmp/bg.err"
    "$@" > "$tmp/bg.out" 2> "$tmp/bg.err" < /dev/null &
    bgpid=$!
}
# wait_bg SECONDS WHAT TEST...: poll TEST every 0.1 s until it holds; fail,
# naming WHAT, if the background run exits first or SECONDS go by.
wait_bg() {
    limit=$1
    what=$2
    shift 2
    tries=0
    until "$@"; do
        kill -0 "$bgpid" 2> /dev/null || fail "$what: the run exited: $(cat "$tmp/bg.err")"
        tries=$((tries + 1))
        [ "$tries" -le $((limit * 10)) ] || fail "$what: nothing after $limit s"
        sleep 0.1
    done
}
# stop_bg SIGNAL: send SIGNAL to the background run (gone already: no
# matter) and wait for it; its exit code to $rc, quietly (no "Killed").
stop_bg() {
    kill -s "$1" "$bgpid" 2> /dev/null || true
    rc=0
    wait "$bgpid" 2> /dev/null || rc=$?
    bgpid=""
}

# ---- data --------------------------------------------------------------------------
# make_data TRAIN TEST: the synthetic data set in $data (= $tmp/data), TRAIN
# training and TEST test images, written by $gen (the built gen_dataset).
make_data() {
    data=$tmp/data
    mkdir "$data"
    "$gen" "$data" "$1" "$2"
}
# first_pgm OUT [COMMENT]: the first test image of $data as a binary PGM,
# with the line "# COMMENT" in its header when given.
first_pgm() {
    {
        printf 'P5\n'
        [ "$#" -lt 2 ] || printf '# %s\n' "$2"
        printf '28 28\n255\n'
        dd if="$data/t10k-images-idx3-ubyte" bs=16 skip=1 count=49 2> /dev/null
    } > "$1"
}
