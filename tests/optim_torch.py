#!/usr/bin/python3
"""optim_torch.py — checks cnn_optim against torch.optim itself.

    optim_torch.py PATH/TO/optim_dump PATH/TO/optim_dump_fma

For each configuration, runs optim_dump (tests/optim_dump.c), which makes ten
optimizer steps on 37 parameters and prints every gradient, rate, norm,
parameter and state value as exact hex floats; then replays the same steps
with torch.optim (foreach=False: the _single_tensor_* code that cnn_optim
follows) and torch.nn.utils.clip_grad_norm_, and compares after every step.
The weights (decay ranges [0, 20) and [25, 35)) and the "biases" (the rest)
are separate tensors in two parameter groups, the second with weight_decay 0.

Two checks per configuration:
- the library (optim_dump) within 1e-6 relative of PyTorch on parameters,
  state and gradient norm, relative in the max norm of each vector. They
  differ at all because PyTorch's CPU kernels fuse `a + alpha*b` into one FMA
  and C11 without contraction does not: about one float ulp a step.
- bit for bit: optim_dump_fma (the same code with an FMA exactly where
  PyTorch has one) when this PyTorch fuses, optim_dump when it does not (a
  probe decides). This is what shows that the order of operations and every
  rounded constant are PyTorch's. With clipping, only where PyTorch's float32
  norm (its own summation order) rounds to the same float as ours.

Exit status: 0 all agree, 1 a mismatch, 77 PyTorch is not installed (meson
reports the test as skipped). Debian's python3-torch lives in
/usr/bin/python3's path, hence that interpreter (see tests/meson.build).
"""
import math
import struct
import subprocess
import sys

try:
    import torch
except ImportError:
    print("optim_torch: PyTorch not found (apt-get install python3-torch): skipped")
    sys.exit(77)

RTOL = 1e-6

# kind, momentum, nesterov, weight decay, clip norm
CONFIGS = [
    ("sgd", 0.0, 0, 0.0, 0.0),
    ("sgd", 0.0, 0, 0.01, 0.0),
    ("sgd", 0.9, 0, 0.0, 0.0),
    ("sgd", 0.9, 1, 0.0, 0.0),
    ("sgd", 0.9, 0, 0.01, 0.0),
    ("sgd", 0.9, 1, 0.01, 0.0),
    ("sgd", 0.9, 1, 0.01, 1.0),
    ("adam", 0.0, 0, 0.0, 0.0),
    ("adam", 0.0, 0, 0.01, 0.0),
    ("adam", 0.0, 0, 0.01, 1.0),
    ("adamw", 0.0, 0, 0.01, 0.0),
    ("adamw", 0.0, 0, 0.1, 1.0),
    ("adamw", 0.0, 0, 0.1, 10.0),  # clip norm above the gradient norm: no clipping
]


def parse(text):
    """The driver's records: ranges, initial params, then per step a dict."""
    lines = text.splitlines()
    head = lines[0].split()
    assert head[0] == "ranges"
    nums = [int(x) for x in head[1:]]
    ranges = list(zip(nums[0::2], nums[1::2]))
    assert lines[1].startswith("param ")
    p0 = [float.fromhex(x) for x in lines[1].split()[1:]]
    steps = []
    for line in lines[2:]:
        f = line.split()
        if f[0] == "step":
            steps.append({"lr": float.fromhex(f[2]), "norm": float.fromhex(f[3]), "state": {}})
        elif f[0] in ("grad", "param"):
            steps[-1][f[0]] = [float.fromhex(x) for x in f[1:]]
        elif f[0] == "state":
            steps[-1]["state"][f[1]] = [float.fromhex(x) for x in f[2:]]
    return ranges, p0, steps


def pieces(n, ranges):
    """[(lo, hi, decayed)] covering [0, n) in order."""
    out, at = [], 0
    for off, cnt in sorted(ranges):
        if off > at:
            out.append((at, off, False))
        out.append((off, off + cnt, True))
        at = off + cnt
    if at < n:
        out.append((at, n, False))
    return out


def torch_fuses():
    """Whether torch's add(alpha=...) rounds a + alpha*b once (FMA: AVX2
    kernels) or twice, or None if it is mixed. (1 + 2^-12)^2 - 1 is
    2^-11 + 2^-24 exactly, 2^-11 when the square is rounded first."""
    x = 1.0 + 2.0 ** -12
    c = torch.full((67,), -1.0)  # 8-float vectors and a scalar tail
    c.add_(torch.full((67,), x), alpha=x)
    vals = set(c.tolist())
    if vals == {2.0 ** -11 + 2.0 ** -24}:
        return True
    if vals == {2.0 ** -11}:
        return False
    return None


def rel_err(ours, theirs):
    """max |ours - theirs| / max |theirs|: the relative error of the vector in
    the max norm. (Element by element it is not bounded: where an update
    cancels most of a parameter, one ulp of the update is a large part of
    what is left.)"""
    scale = max(abs(b) for b in theirs)
    diff = max(abs(a - b) for a, b in zip(ours, theirs))
    return 0.0 if diff == 0 else diff / scale if scale > 0 else math.inf


def same_bits(ours, theirs):
    return sum(a == b for a, b in zip(ours, theirs)), len(ours)


def replay(driver, cfg):
    """Runs the driver and torch on cfg. Returns, for each step, the driver's
    record and torch's (norm, params, {state name: values})."""
    kind, momentum, nesterov, wd, clip = cfg
    out = subprocess.run([driver, kind, repr(momentum), str(nesterov), repr(wd), repr(clip)],
                         check=True, capture_output=True, text=True).stdout
    ranges, p0, steps = parse(out)
    segs = pieces(len(p0), ranges)
    tensors = [torch.tensor(p0[lo:hi], dtype=torch.float32, requires_grad=True)
               for lo, hi, _ in segs]
    groups = [{"params": [t for t, s in zip(tensors, segs) if s[2]], "weight_decay": wd},
              {"params": [t for t, s in zip(tensors, segs) if not s[2]], "weight_decay": 0.0}]
    if kind == "sgd":
        opt = torch.optim.SGD(groups, lr=0.1, momentum=momentum, nesterov=bool(nesterov),
                              foreach=False)
    else:
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        opt = cls(groups, lr=0.01, betas=(0.9, 0.999), eps=1e-8, foreach=False)

    result = []
    for st in steps:
        for group in opt.param_groups:
            group["lr"] = st["lr"]
        for t, (lo, hi, _) in zip(tensors, segs):
            t.grad = torch.tensor(st["grad"][lo:hi], dtype=torch.float32)
        if clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(tensors, clip).item()
        else:
            norm = math.sqrt(sum(x * x for x in st["grad"]))
        opt.step()
        params = [x for t in tensors for x in t.detach().tolist()]
        state = {}
        for t in tensors:
            for k, v in opt.state[t].items():
                if torch.is_tensor(v) and v.numel() == t.numel():
                    state.setdefault(k, []).extend(v.tolist())
        result.append((st, (norm, params, state)))
    return result


def within_tolerance(run):
    """(ok, message): the library within RTOL of torch."""
    worst = {"param": 0.0, "state": 0.0, "norm": 0.0}
    for st, (norm, params, state) in run:
        if set(state) != set(st["state"]):
            return False, "state %s, torch has %s" % (sorted(st["state"]), sorted(state))
        worst["norm"] = max(worst["norm"], rel_err([st["norm"]], [norm]))
        worst["param"] = max(worst["param"], rel_err(st["param"], params))
        for name in state:
            worst["state"] = max(worst["state"], rel_err(st["state"][name], state[name]))
    ok = all(v <= RTOL for v in worst.values())
    return ok, "max rel. difference: params %.1e, state %.1e, norm %.1e" % (
        worst["param"], worst["state"], worst["norm"])


def bitwise(run, clip):
    """(ok, message): every parameter and state value identical to torch's."""
    values = 0
    for s, (st, (norm, params, state)) in enumerate(run, 1):
        ours_f = struct.unpack("f", struct.pack("f", st["norm"]))[0]
        if clip > 0 and ours_f != norm and clip < 1.01 * norm:  # clipping, by another factor
            return True, "bitwise: %d values equal; step %d: norms differ in float" % (values, s)
        if set(state) != set(st["state"]):
            return False, "state %s, torch has %s" % (sorted(st["state"]), sorted(state))
        pairs = [(st["param"], params)] + [(st["state"][k], state[k]) for k in state]
        for ours, theirs in pairs:
            for i, (a, b) in enumerate(zip(ours, theirs)):
                if a != b:
                    return False, "bitwise: step %d, element %d: %r, torch %r" % (s, i, a, b)
            values += len(ours)
    return True, "bitwise: all %d values equal" % values


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: optim_torch.py PATH/TO/optim_dump PATH/TO/optim_dump_fma\n")
        return 2
    fuses = torch_fuses()
    exact = {True: sys.argv[2], False: sys.argv[1], None: None}[fuses]
    print("torch %s; 10 steps each; the library within %g relative; bit for bit: %s" % (
        torch.__version__, RTOL,
        {True: "the FMA build (this PyTorch fuses a + alpha*b)",
         False: "the library (this PyTorch does not fuse a + alpha*b)",
         None: "not checked (this PyTorch fuses a + alpha*b only sometimes)"}[fuses]))
    passed = failed = 0
    for cfg in CONFIGS:
        label = "%s momentum %g nesterov %d wd %g clip %g" % cfg
        checks = [within_tolerance(replay(sys.argv[1], cfg))]
        if exact:
            checks.append(bitwise(replay(exact, cfg), cfg[4]))
        for ok, msg in checks:
            print("%-4s %-42s %s" % ("ok" if ok else "FAIL", label, msg))
            passed += ok
            failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
