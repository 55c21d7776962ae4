#!/usr/bin/env python3
"""read_safetensors.py FILE — an independent reader for a model file.

Written from the safetensors specification and the README's description of
the model format, with the standard library only, so that test_model_io
checks our writer against something that does not share its code. Checks
the layout strictly:

  - 8-byte length, UTF-8 JSON header padded to a multiple of 8, string
    metadata, F32 tensors that tile the data buffer exactly;
  - the tensor list the file's own "arch" implies (parsed here from the
    grammar: convFxK[pP][sS], relu, avgpoolN, maxpoolN, denseN, and the
    presets seed and lenet5; format version 1 means the seed), named
    conv/fc when a network has one of a kind, else conv1, conv2, ...,
    fc1, ...; each layer's weight then bias, in layer order, then any 1-D
    "optim.*" blocks;

and prints, one per line:

    meta KEY VALUE
    tensor NAME DIMS SUM FIRST LAST      (DIMS like 10x2160; floats as repr)

Exits non-zero with a message on stderr if the file is not valid.
"""
import array
import json
import re
import struct
import sys

MAX_HEADER = 1 << 20
PRESETS = {
    "seed": "conv15x5,relu,avgpool2,dense10",
    "lenet5": "conv6x5p2,relu,avgpool2,conv16x5,relu,avgpool2,dense120,relu,dense84,relu,dense10",
}
V1_ARCH = "conv15x5x5-relu-avgpool2-fc10"


def fail(msg):
    sys.stderr.write("read_safetensors: %s\n" % msg)
    sys.exit(1)


def expected_tensors(spec, rows, cols, classes):
    """[(name, shape)] that the spec implies for rows x cols x 1 inputs."""
    spec = PRESETS.get(spec, spec)
    h, w, c = rows, cols, 1
    layers = []   # (kind, shape of weight)
    for text in spec.split(","):
        m = re.fullmatch(r"conv(\d+)x(\d+)(?:p(\d+))?(?:s(\d+))?", text)
        if m:
            f, k = int(m.group(1)), int(m.group(2))
            p, s = int(m.group(3) or 0), int(m.group(4) or 1)
            layers.append(("conv", [f, c, k, k]))
            h, w, c = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, f
            continue
        m = re.fullmatch(r"(avg|max)pool(\d+)", text)
        if m:
            n = int(m.group(2))
            if h % n or w % n:
                fail("arch %r: %s does not divide the %dx%d map" % (spec, text, h, w))
            h, w = h // n, w // n
            continue
        m = re.fullmatch(r"dense(\d+)", text)
        if m:
            layers.append(("fc", [int(m.group(1)), h * w * c]))
            h, w, c = 1, 1, int(m.group(1))
            continue
        if text != "relu":
            fail("arch %r: unknown layer %r" % (spec, text))
        if h < 1 or w < 1:
            fail("arch %r: the map shrank below 1x1" % spec)
    if not layers or layers[-1][0] != "fc" or layers[-1][1][0] != classes:
        fail("arch %r does not end in dense%d" % (spec, classes))
    out, seen = [], {}
    count = {kind: sum(1 for k, _ in layers if k == kind) for kind in ("conv", "fc")}
    for kind, shape in layers:
        seen[kind] = seen.get(kind, 0) + 1
        name = kind if count[kind] == 1 else "%s%d" % (kind, seen[kind])
        out.append((name + ".weight", shape))
        out.append((name + ".bias", shape[:1]))
    return out


def main():
    if len(sys.argv) != 2:
        fail("usage: read_safetensors.py FILE")
    with open(sys.argv[1], "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER or n > len(blob) - 8:
        fail("bad header length %d" % n)
    if n % 8:
        fail("header length %d is not a multiple of 8" % n)
    text = blob[8:8 + n].decode("utf-8")
    if not text.startswith("{"):
        fail("header does not start with '{'")
    header = json.loads(text)
    if not isinstance(header, dict):
        fail("header is not an object")
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict):
        fail("no __metadata__ object")
    for k, v in meta.items():
        if not isinstance(v, str):
            fail("__metadata__ value of %r is not a string" % k)
    data = blob[8 + n:]

    version, arch = meta.get("format_version"), meta.get("arch")
    if version == "1" and arch == V1_ARCH:
        arch = "seed"
    elif version != "2" or arch is None:
        fail("format_version %r with arch %r" % (version, arch))
    try:
        rows, cols, classes = (int(meta.get(k, d)) for k, d in
                               (("rows", 28), ("cols", 28), ("classes", 10)))
    except ValueError:
        fail("rows, cols, classes not integers")
    want = expected_tensors(arch, rows, cols, classes)
    names = [name for name in header if not name.startswith("optim.")]
    if names != [name for name, _ in want]:
        fail("tensors %s, the arch implies %s" % (names, [name for name, _ in want]))
    for name, shape in want:
        if header[name].get("shape") != shape:
            fail("%s has shape %r, the arch implies %r" % (name, header[name].get("shape"), shape))

    spans = []
    lines = []
    for name, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            fail("%s: fields %r" % (name, sorted(info)))
        if info["dtype"] != "F32":
            fail("%s: dtype %r" % (name, info["dtype"]))
        shape = info["shape"]
        if name.startswith("optim.") and len(shape) != 1:
            fail("%s: an optimizer block has shape %r, not 1-D" % (name, shape))
        start, end = info["data_offsets"]
        count = 1
        for d in shape:
            if not isinstance(d, int) or d < 0:
                fail("%s: bad shape %r" % (name, shape))
            count *= d
        if not 0 <= start <= end <= len(data) or end - start != 4 * count:
            fail("%s: bad data_offsets %r for shape %r" % (name, [start, end], shape))
        # our writer: the data in header order (layers in order, then blocks)
        if start != (spans[-1][1] if spans else 0):
            fail("%s: data at byte %d, not after the tensor before it" % (name, start))
        spans.append((start, end))
        values = array.array("f")
        values.frombytes(data[start:end])
        if sys.byteorder != "little":
            values.byteswap()
        lines.append("tensor %s %s %r %r %r" % (
            name, "x".join(str(d) for d in shape), sum(values),
            values[0] if count else 0.0, values[-1] if count else 0.0))
    if (spans[-1][1] if spans else 0) != len(data):
        fail("%d bytes after the last tensor" % (len(data) - spans[-1][1]))

    for k in sorted(meta):
        print("meta %s %s" % (k, meta[k]))
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
