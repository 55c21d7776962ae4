#!/bin/sh
# install_test.sh — `meson install` this build into a temporary directory
# (--destdir), then build programs against the installed copy as a user
# would, through `pkg-config --cflags --libs cnn`, link them to the shared
# and to the static library, and run them. Also checks that every installed
# file is there (the man page and the bash completion too), that libcnn.so
# has its soname, and that the programs load the BLAS the library was built
# for (not another behind the same soname).
#
# usage: install_test.sh BUILD_DIR BLAS_LIBDIR PROGRAM.c...
# environment (set by tests/meson.build): MESON, CC (may be several words),
# PKG_CONFIG, EXTRA_CFLAGS (the build's -fsanitize flags, if any)
#
# Each PROGRAM.c is compiled, linked both ways and run with no arguments;
# it must exit 0: tests/install_smoke.c and the examples/ programs
# (example_sources in examples/meson.build).
set -eu

[ "$#" -ge 3 ] || { echo "usage: install_test.sh BUILD_DIR BLAS_LIBDIR PROGRAM.c..." >&2; exit 2; }
build=$1
blas_libdir=$(realpath "$2")
shift 2
. "$(dirname "$0")/cli_lib.sh"
root=$tmp/root

check "meson install --destdir, without rebuilding (meson test has built everything)"
$MESON install -C "$build" --no-rebuild --destdir "$root" --quiet >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "meson install --destdir failed"; }

pc=$(find "$root" -name cnn.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || fail "no pkgconfig/cnn.pc installed"
# The .pc names paths under the configured prefix; with --destdir they are
# under $root. A copy with prefix= moved there stands in for it, so that
# every other path (the BLAS's, zlib's) stays what a user gets.
prefix=$(sed -n 's/^prefix=//p' "$pc")
grep -q '^libdir=${prefix}/' "$pc" && grep -q '^includedir=${prefix}/' "$pc" ||
    fail "$pc: libdir or includedir not under \${prefix}; cannot relocate it"
mkdir "$tmp/pc"
sed "s|^prefix=.*|prefix=$root$prefix|" "$pc" >"$tmp/pc/cnn.pc"
PKG_CONFIG_PATH=$tmp/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
libdir=$($PKG_CONFIG --variable=libdir cnn)
includedir=$($PKG_CONFIG --variable=includedir cnn)
echo "installed under $root$prefix (prefix $prefix, libdir $libdir)"

check "what must be there is there: programs, man page, completion, headers, libraries"
for f in "$root$prefix/bin/cnn" "$root$prefix/bin/cnn-plot-log"; do
    [ -x "$f" ] || fail "$f: not installed, or not executable"
done
for f in "$root$prefix/share/man/man1/cnn.1" "$root$prefix/share/bash-completion/completions/cnn"; do
    [ -f "$f" ] || fail "$f: not installed"
done
for h in cnn.h cnn_blas.h cnn_status.h cnn_rng.h; do
    [ -f "$includedir/cnn/$h" ] || fail "$includedir/cnn/$h: not installed"
done
[ -f "$libdir/libcnn.a" ] || fail "$libdir/libcnn.a: not installed"
[ -L "$libdir/libcnn.so" ] || fail "$libdir/libcnn.so: not installed as a link"
soname=$(readelf -d "$libdir/libcnn.so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
case $soname in
    libcnn.so.[0-9]*) [ -f "$libdir/$soname" ] || fail "$libdir/$soname: missing" ;;
    *) fail "libcnn.so: soname '$soname', not libcnn.so.N" ;;
esac
echo "libcnn.so soname $soname"
"$root$prefix/bin/cnn" --help >/dev/null || fail "installed cnn --help failed"
run "$root$prefix/bin/cnn-plot-log"
[ "$rc" -eq 2 ] || fail "installed cnn-plot-log without arguments: exit $rc, not 2 (usage)"

cflags=$($PKG_CONFIG --cflags cnn)
libs=$($PKG_CONFIG --libs cnn)
libs_static=$($PKG_CONFIG --static --libs cnn)
echo "pkg-config --cflags cnn: $cflags"
echo "pkg-config --libs cnn: $libs"
echo "pkg-config --static --libs cnn: $libs_static"
case " $libs_static " in
    *" -lcnn "*) ;;
    *) fail "pkg-config --static --libs cnn has no -lcnn" ;;
esac
# The same flags with the static archive chosen for -lcnn.
libs_static=$(echo " $libs_static " | sed 's/ -lcnn / -l:libcnn.a /')

# Each program linked to the shared and to the static library; the BLAS it
# reports loading must come from $blas_libdir.
for src in "$@"; do
    check "$(basename "$src"): built through pkg-config, linked both ways, run"
    name=$(basename "$src" .c)
    for how in shared static; do
        exe=$tmp/$name-$how
        if [ "$how" = shared ]; then
            # shellcheck disable=SC2086 # word splitting of flags is meant
            $CC ${EXTRA_CFLAGS:-} $cflags -o "$exe" "$src" $libs ||
                fail "$name: does not build against the installed shared libcnn"
            out=$(LD_LIBRARY_PATH=$libdir "$exe") || fail "$name ($how): exit status $?"
            LD_LIBRARY_PATH=$libdir ldd "$exe" | grep -q "libcnn.so.* => $libdir/" ||
                fail "$name ($how): libcnn.so not loaded from $libdir"
        else
            # shellcheck disable=SC2086
            $CC ${EXTRA_CFLAGS:-} $cflags -o "$exe" "$src" $libs_static ||
                fail "$name: does not build against the installed libcnn.a"
            out=$("$exe") || fail "$name ($how): exit status $?"
            if ldd "$exe" | grep -q "libcnn.so"; then
                fail "$name ($how): linked to libcnn.so"
            fi
        fi
        echo "$name ($how):"
        echo "$out" | sed 's/^/  /'
        lib=$(echo "$out" | sed -n 's/^blas library: //p')
        if [ -n "$lib" ]; then
            [ "$(dirname "$(realpath "$lib")")" = "$blas_libdir" ] ||
                fail "$name ($how): BLAS loaded from $lib, not from $blas_libdir"
        fi
    done
done
finish
