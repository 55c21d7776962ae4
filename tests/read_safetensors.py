#!/usr/bin/env python3
"""read_safetensors.py FILE — an independent reader for a model file.

Written from the safetensors specification with the standard library only,
so that test_model_io checks our writer against something that does not
share its code. Checks the layout strictly and prints, one per line:

    meta KEY VALUE
    tensor NAME DIMS SUM FIRST LAST      (DIMS like 10x2160; floats as repr)

Exits non-zero with a message on stderr if the file is not valid.
"""
import array
import json
import struct
import sys

MAX_HEADER = 1 << 20


def fail(msg):
    sys.stderr.write("read_safetensors: %s\n" % msg)
    sys.exit(1)


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

    spans = []
    lines = []
    for name, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            fail("%s: fields %r" % (name, sorted(info)))
        if info["dtype"] != "F32":
            fail("%s: dtype %r" % (name, info["dtype"]))
        shape = info["shape"]
        start, end = info["data_offsets"]
        count = 1
        for d in shape:
            if not isinstance(d, int) or d < 0:
                fail("%s: bad shape %r" % (name, shape))
            count *= d
        if not 0 <= start <= end <= len(data) or end - start != 4 * count:
            fail("%s: bad data_offsets %r for shape %r" % (name, [start, end], shape))
        spans.append((start, end))
        values = array.array("f")
        values.frombytes(data[start:end])
        if sys.byteorder != "little":
            values.byteswap()
        lines.append("tensor %s %s %r %r %r" % (
            name, "x".join(str(d) for d in shape), sum(values), values[0], values[-1]))

    # The tensors must tile the data buffer: no gaps, no overlaps, nothing after.
    pos = 0
    for start, end in sorted(spans):
        if start != pos:
            fail("data buffer not tiled at byte %d" % pos)
        pos = end
    if pos != len(data):
        fail("%d bytes after the last tensor" % (len(data) - pos))

    for k in sorted(meta):
        print("meta %s %s" % (k, meta[k]))
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
