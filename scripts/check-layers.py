#!/usr/bin/env python3
"""Check the core's layering.

core/ is in folders by layer, lowest first: base, aws, db, proto, ops.
  1. A file in a layer includes headers of its own layer and lower ones only
     ("aws/s3.h" from core/ops is fine, "ops/copy.h" from core/aws is not).
  2. No include cycle between headers.
  3. With --objects DIR (the build's object folder): no call cycle between
     modules, read from the objects' defined and undefined symbols (nm), so
     that two modules that call each other are caught even without an
     include between them.
Exit 0 when clean; otherwise each violation on stderr and exit 1.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

LAYERS = ["base", "aws", "db", "proto", "ops"]
RANK = {name: i for i, name in enumerate(LAYERS)}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z]+)/([A-Za-z0-9_]+\.h)"', re.M)


def includes(path: Path):
    return INCLUDE.findall(path.read_text(errors="replace"))


def check_layers(core: Path, errors: list) -> dict:
    graph = {}
    for layer in sorted(p.name for p in core.iterdir() if p.is_dir()):
        if layer not in RANK:
            errors.append(f"core/{layer}: not a known layer ({', '.join(LAYERS)})")
            continue
        for f in sorted((core / layer).glob("*.[ch]")):
            node = f"{layer}/{f.name}"
            graph[node] = []
            for inc_layer, header in includes(f):
                if inc_layer not in RANK:
                    continue
                if RANK[inc_layer] > RANK[layer]:
                    errors.append(f"core/{node}: includes {inc_layer}/{header}, "
                                  f"a higher layer than {layer}")
                if not (core / inc_layer / header).exists():
                    errors.append(f"core/{node}: includes {inc_layer}/{header}, which does not exist")
                graph[node].append(f"{inc_layer}/{header}")
    return graph


def find_cycle(graph: dict):
    """One cycle as a list of nodes, or None (iterative DFS)."""
    state = {}
    for start in graph:
        if state.get(start):
            continue
        stack = [(start, iter(graph.get(start, ())))]
        path = [start]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(graph.get(nxt, ()))))
                path.append(nxt)
    return None


def symbol_graph(objdir: Path) -> dict:
    defined, undefined = {}, {}
    for obj in sorted(objdir.glob("core/*/*.o")):
        mod = f"{obj.parent.name}/{obj.stem}"
        out = subprocess.run(["nm", "-P", str(obj)], capture_output=True, text=True,
                             check=True).stdout
        d, u = set(), set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) < 2:
                continue
            name, kind = parts[0], parts[1]
            if kind == "U":
                u.add(name)
            elif kind.isupper():
                d.add(name)
        defined[mod], undefined[mod] = d, u
    owner = {}
    for mod, syms in defined.items():
        for s in syms:
            owner[s] = mod
    graph = {}
    for mod, syms in undefined.items():
        graph[mod] = sorted({owner[s] for s in syms if s in owner and owner[s] != mod})
    return graph


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--core", default="core")
    ap.add_argument("--objects", help="object folder of a build (build/obj-rel)")
    args = ap.parse_args()
    errors = []
    core = Path(args.core)
    graph = check_layers(core, errors)
    # a header and its own .c are one module: the include graph is of headers
    cycle = find_cycle({k: v for k, v in graph.items() if k.endswith(".h")})
    if cycle:
        errors.append("include cycle: " + " -> ".join(cycle))
    if args.objects:
        sgraph = symbol_graph(Path(args.objects))
        for mod, deps in sgraph.items():
            for dep in deps:
                if RANK[dep.split("/")[0]] > RANK[mod.split("/")[0]]:
                    errors.append(f"core/{mod}.c calls into core/{dep}.c, a higher layer")
        cycle = find_cycle(sgraph)
        if cycle:
            errors.append("call cycle between modules: " + " -> ".join(cycle))
    for e in errors:
        print(f"check-layers: {e}", file=sys.stderr)
    if not errors:
        print(f"check-layers: {len(graph)} files in {len(LAYERS)} layers, no violation, no cycle")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
