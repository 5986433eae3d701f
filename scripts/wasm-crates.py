#!/usr/bin/env python3
"""Code size of a WASM module per Rust crate: `cargo bloat --crates` for wasm32.

Reads the function bodies (code section) and their names (the `name` custom section,
kept by a build that is not stripped and by `wasm-opt -g`), demangles the crate of each
symbol and sums body sizes per crate; data segments are reported as one line. Used by
scripts/wasm-size.sh --crates; see docs/BENCHMARKS.md.

    scripts/wasm-crates.py FILE.wasm [TOP] [--functions]
"""

import re
import sys
from collections import defaultdict


def leb(data, pos):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def sections(data):
    pos = 8
    while pos < len(data):
        kind = data[pos]
        size, pos = leb(data, pos + 1)
        yield kind, data[pos : pos + size]
        pos += size


def imported_functions(body):
    count, pos = leb(body, 0)
    funcs = 0
    for _ in range(count):
        for _ in range(2):  # module, field
            n, pos = leb(body, pos)
            pos += n
        kind = body[pos]
        pos += 1
        if kind == 0:  # function: type index
            _, pos = leb(body, pos)
            funcs += 1
        elif kind == 1:  # table: reftype, limits
            pos += 1
            flags, pos = leb(body, pos)
            _, pos = leb(body, pos)
            if flags & 1:
                _, pos = leb(body, pos)
        elif kind == 2:  # memory: limits
            flags, pos = leb(body, pos)
            _, pos = leb(body, pos)
            if flags & 1:
                _, pos = leb(body, pos)
        elif kind == 3:  # global: valtype, mut
            pos += 2
        else:  # tag
            pos += 1
            _, pos = leb(body, pos)
    return funcs


def function_names(body):
    names = {}
    pos = 0
    n, pos = leb(body, pos)
    if body[pos : pos + n] != b"name":
        return None
    pos += n
    while pos < len(body):
        sub = body[pos]
        size, pos = leb(body, pos + 1)
        end = pos + size
        if sub == 1:
            count, p = leb(body, pos)
            for _ in range(count):
                index, p = leb(body, p)
                length, p = leb(body, p)
                names[index] = body[p : p + length].decode("utf-8", "replace")
                p += length
        pos = end
    return names


MANGLED = re.compile(r"_ZN(\d+)")


def crate_of(name):
    """The crate a (legacy-mangled or plain) Rust symbol comes from."""
    name = re.sub(r"\[[0-9a-f]{16}\]", "", name)
    if name.startswith("<") and " as " in name:
        # `<T as tachys::view::Render>::build`: the trait's crate does the work.
        return name.split(" as ", 1)[1].lstrip("<&*").split("::", 1)[0]
    if name.startswith("_ZN"):
        length = int(MANGLED.match(name).group(1))
        first = name[3 + len(str(length)) : 3 + len(str(length)) + length]
        if first.startswith("_$LT$"):
            # `<Type as Trait>::f`: the crate of the type, as written after `<`.
            inner = first[5:].replace("$RF$", "").replace("$BP$", "").lstrip("_")
            inner = inner.replace("mut$u20$", "").replace("$u20$", " ")
            return re.split(r"\.\.|\$|\s", inner, maxsplit=1)[0] or "?"
        return first
    if "::" in name:
        return name.lstrip("<&*").split("::", 1)[0]
    return "(other: " + name.split("(")[0][:24] + ")" if name else "(unnamed)"


def main():
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 25
    functions = "--functions" in sys.argv
    data = open(path, "rb").read()
    imports = 0
    bodies = []
    names = {}
    data_bytes = 0
    for kind, body in sections(data):
        if kind == 2:
            imports = imported_functions(body)
        elif kind == 10:
            count, pos = leb(body, 0)
            for _ in range(count):
                size, pos = leb(body, pos)
                bodies.append(size)
                pos += size
        elif kind == 11:
            data_bytes += len(body)
        elif kind == 0:
            found = function_names(body)
            if found is not None:
                names = found
    if not names:
        sys.exit(f"{path} has no name section: build without stripping (or wasm-opt -g)")
    if functions:
        ranked = sorted(enumerate(bodies), key=lambda kv: -kv[1])[:top]
        for i, size in ranked:
            print(f"{size:8d}  {names.get(imports + i, '?')[:160]}")
        return
    per_crate = defaultdict(int)
    for i, size in enumerate(bodies):
        per_crate[crate_of(names.get(imports + i, ""))] += size
    code = sum(bodies)
    print(f"| crate | code bytes | share |")
    print(f"|---|---:|---:|")
    for crate, size in sorted(per_crate.items(), key=lambda kv: -kv[1])[:top]:
        print(f"| {crate} | {size} | {size / code:.1%} |")
    print(f"| **all code** ({len(bodies)} functions) | {code} | |")
    print(f"| data segments (strings, tables) | {data_bytes} | |")


if __name__ == "__main__":
    main()
