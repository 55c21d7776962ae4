#!/bin/sh
# mpi_test.sh — data-parallel training under mpirun gives the bits of one
# process: model files from 1, 2 and 3 ranks (and other thread counts) are
# byte-identical to a single-process run, for the seed network and LeNet-5,
# with and without momentum; a checkpoint moves between rank counts; a rank
# that gets a bad data file ends the job within seconds with its message.
# All traffic stays on this machine (Open MPI's shared-memory transport).
# Usage: mpi_test.sh CNN GEN_DATASET
# A failed check does not stop the others (fail_later): each takes long.
set -u
cnn=$1
gen=$2
. "$(dirname "$0")/cli_lib.sh"
# As root Open MPI wants these; --oversubscribe lets 3 ranks share 2 cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
mpirun="mpirun --oversubscribe --mca btl self,vader"
# Open MPI's own allocations (in libmpi and the components it dlopens) are
# never freed and LeakSanitizer reports them: in the sanitizer build, ranks
# started by mpirun run without leak detection (single-process runs keep it).
mpi_env="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

make_data 300 40 > /dev/null || fail "gen_dataset"

# 300 samples at batch 70: 5 chunks per batch (16+16+16+16+6), a ragged last
# batch of 20 — uneven shares for 2 and 3 ranks, and one rank idle at 6.
train() { # OUT NP THREADS ARGS...
    out=$1 np=$2 threads=$3
    shift 3
    if [ "$np" = 0 ]; then
        "$cnn" train --data "$data" --batch 70 --threads "$threads" --save "$out" "$@" \
            > "$out.log" 2>&1
    else
        timeout 120 env "$mpi_env" $mpirun -np "$np" "$cnn" train --data "$data" --batch 70 \
            --threads "$threads" --save "$out" "$@" > "$out.log" 2>&1
    fi || { fail_later "training ($np ranks, $*) exited $?:"; cat "$out.log"; }
}

for arch in seed lenet5; do
    for opt in "" "--momentum 0.9"; do
        name="$arch${opt:+-momentum}"
        check "$name, 1 process vs 1, 2, 3 ranks"
        train "$tmp/$name-single.st" 0 2 --arch "$arch" --epochs 2 $opt
        for np in 1 2 3; do
            train "$tmp/$name-np$np.st" "$np" 1 --arch "$arch" --epochs 2 $opt
            cmp -s "$tmp/$name-single.st" "$tmp/$name-np$np.st" ||
                fail_later "$name: $np ranks differ from one process"
        done
    done
done

check "6 ranks for 5 chunks (one idle), 2 threads per rank"
train "$tmp/six.st" 6 2 --arch seed --epochs 2
cmp -s "$tmp/seed-single.st" "$tmp/six.st" || fail_later "6 ranks differ from one process"

check "a checkpoint from 3 ranks resumes exactly in 2 ranks and in one process"
train "$tmp/half.st" 3 1 --arch lenet5 --epochs 1 --momentum 0.9
cp "$tmp/half.st" "$tmp/half2.st"
timeout 120 env "$mpi_env" $mpirun -np 2 "$cnn" train --data "$data" --threads 1 --epochs 2 \
    --resume "$tmp/half.st" --save "$tmp/resumed2.st" > "$tmp/r2.log" 2>&1 ||
    { fail_later "resume in 2 ranks"; cat "$tmp/r2.log"; }
"$cnn" train --data "$data" --epochs 2 --resume "$tmp/half2.st" --save "$tmp/resumed1.st" \
    > "$tmp/r1.log" 2>&1 || { fail_later "resume in one process"; cat "$tmp/r1.log"; }
cmp -s "$tmp/resumed2.st" "$tmp/lenet5-momentum-single.st" ||
    fail_later "resumed in 2 ranks differs from the one-go run"
cmp -s "$tmp/resumed1.st" "$tmp/lenet5-momentum-single.st" ||
    fail_later "resumed in one process differs from the one-go run"

check "one rank with a bad data file ends the job, with its message"
mkdir -p "$tmp/bad"
cp "$data/"* "$tmp/bad/"
head -c 100 "$data/train-images-idx3-ubyte.gz" > "$tmp/bad/train-images-idx3-ubyte.gz"
cat > "$tmp/pick.sh" <<EOF
#!/bin/sh
if [ "\$OMPI_COMM_WORLD_RANK" = 1 ]; then d="$tmp/bad"; else d="$data"; fi
exec "$cnn" train --data "\$d" --threads 1 --epochs 50
EOF
chmod +x "$tmp/pick.sh"
start=$(date +%s)
timeout 60 env "$mpi_env" $mpirun -np 2 "$tmp/pick.sh" > "$tmp/bad.log" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
[ "$rc" -ne 0 ] || fail_later "a bad file on rank 1 gave exit 0"
[ "$rc" -ne 124 ] || fail_later "a bad file on rank 1 hung the job"
[ "$took" -le 20 ] || fail_later "the job took ${took}s to end"
grep -q "cnn train.*$tmp/bad/train-images-idx3-ubyte.gz" "$tmp/bad.log" ||
    { fail_later "rank 1's message is missing:"; cat "$tmp/bad.log"; }
grep -q "^epoch" "$tmp/bad.log" && fail_later "the job trained despite the bad file"

check "only rank 0 prints"
headers=$(grep -c "^cnn train:" "$tmp/seed-np3.st.log")
[ "$headers" -eq 1 ] || fail_later "expected one header from 3 ranks, got $headers"

finish
