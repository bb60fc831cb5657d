#!/usr/bin/env python3
"""Check dwops's error vocabulary against its registry.

core/base/errcodes.h lists every code dwops raises itself (X-macro rows:
name, exit codes, meaning).  This script reads every C file under core/,
operators/ and tests/tools/ and fails when:
  1. a raise site names a code that is not registered: dw_raise(KIND, "Code",
     ...), dw_fail("Code", ...) and error structs' .code = "Code"; the code
     must be a string literal (a code from a variable, an AWS code passing
     through or a re-raise, goes through dw_raise_passthrough);
  2. a raise site's kind (DW_INVALID 2, DW_FAILED 1, DW_TRANSIENT 75) is not
     among the exit codes registered for its code;
  3. a registered code is raised nowhere (a stale row);
  4. the README's "Error codes" table and the registry differ (names, exit
     codes, meanings, order).
Exit 0 when clean; otherwise each problem on stderr and exit 1.

  scripts/check-errcodes.py [--root DIR]
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROW = re.compile(r'X\((\w+), "([^"]*)", "((?:[^"\\]|\\.)*)"\)')
KIND_EXIT = {"DW_INVALID": "2", "DW_FAILED": "1", "DW_TRANSIENT": "75"}
CALL = re.compile(r"\b(dw_raise|dw_raise_|dw_fail|dw_fail_|dw_raise_passthrough)\s*\(")
STRUCT_CODE = re.compile(r"\.code\s*=\s*(\"[^\"]*\")")
LITERAL = re.compile(r'^"(\w+)"$')
README_ROW = re.compile(r"^\| `(\w+)` \| ([^|]*) \| (.*) \|$")


def registry(root: Path):
    text = (root / "core" / "base" / "errcodes.h").read_text()
    return [(n, e, m.replace('\\"', '"')) for n, e, m in ROW.findall(text)]


def strip_comments(text: str) -> str:
    """Comments become spaces (newlines kept, for line numbers); strings stay."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def split_args(text: str, start: int):
    """The top-level arguments of the call whose '(' is at start."""
    args, depth, i, cur = [], 0, start + 1, []
    while i < len(text):
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < len(text) and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            cur.append(text[i:j + 1])
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                args.append("".join(cur).strip())
                return args
            depth -= 1
        elif c == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    return args


def sources(root: Path):
    for folder in ("core", "operators", "tests/tools"):
        base = root / folder
        if base.is_dir():
            for p in sorted(base.rglob("*")):
                if p.suffix in (".c", ".h") and p.is_file():
                    yield p


def check(root: Path):
    problems = []
    rows = registry(root)
    exits = {n: {x.strip() for x in e.split(",")} for n, e, _ in rows}
    if not rows:
        return [f"{root}/core/base/errcodes.h: no registry rows found"]
    seen = {}
    for n, _, _ in rows:
        seen[n] = seen.get(n, 0) + 1
    problems += [f"errcodes.h: {n} is registered {k} times" for n, k in seen.items() if k > 1]

    used = set()
    for path in sources(root):
        rel = path.relative_to(root)
        if str(rel) == "core/base/errcodes.h":
            continue
        text = strip_comments(path.read_text(errors="replace"))
        used.update(re.findall(r'"(\w+)"', text))
        if str(rel) in ("core/base/error.c", "core/base/error.h"):
            continue  # the raise functions themselves (dw_invalid: InvalidRequest)

        def where(pos):
            return f"{rel}:{text.count(chr(10), 0, pos) + 1}"

        def check_code(pos, code_arg, kinds, fn):
            m = LITERAL.match(code_arg)
            if not m:
                problems.append(f"{where(pos)}: {fn} takes its code from \"{code_arg}\": name a "
                                f"registered code as a literal, or use dw_raise_passthrough for "
                                f"an AWS code or a re-raise")
                return
            code = m.group(1)
            if code not in exits:
                problems.append(f"{where(pos)}: {fn} raises \"{code}\", which is not registered "
                                f"in core/base/errcodes.h")
                return
            for k in kinds:
                if KIND_EXIT[k] not in exits[code]:
                    problems.append(f"{where(pos)}: \"{code}\" raised as {k} (exit {KIND_EXIT[k]}) "
                                    f"but registered with exit {', '.join(sorted(exits[code]))}")

        for m in CALL.finditer(text):
            fn = m.group(1)
            if fn == "dw_raise_passthrough":
                continue
            # a declaration or definition, not a call
            before = text[max(0, m.start() - 40):m.start()]
            if re.search(r"\b(void|int|define)\s*$", before):
                continue
            args = split_args(text, m.end() - 1)
            if fn in ("dw_fail", "dw_fail_"):
                if args:
                    check_code(m.start(), args[0], ["DW_FAILED"], fn)
            elif len(args) >= 2:
                kinds = re.findall(r"\bDW_(?:INVALID|FAILED|TRANSIENT)\b", args[0])
                if not kinds:
                    problems.append(f"{where(m.start())}: {fn} takes its kind from \"{args[0]}\": "
                                    f"name DW_INVALID, DW_FAILED or DW_TRANSIENT")
                check_code(m.start(), args[1], kinds, fn)
        for m in STRUCT_CODE.finditer(text):
            # the kind of the same initialiser, when it names one
            init = text[text.rfind("{", 0, m.start()):text.find("}", m.end())]
            kinds = re.findall(r"\.kind\s*=\s*(DW_(?:INVALID|FAILED|TRANSIENT))", init)
            check_code(m.start(), m.group(1), kinds, ".code =")

    for n, _, _ in rows:
        if n not in used:
            problems.append(f"errcodes.h: {n} is registered but raised nowhere")

    readme = (root / "README.md").read_text().splitlines()
    try:
        start = next(i for i, l in enumerate(readme) if l.startswith("**Error codes.**"))
    except StopIteration:
        problems.append("README.md: no **Error codes.** section")
        return problems
    table, in_table = [], False
    for line in readme[start + 1:]:
        if in_table and not line.startswith("|"):
            break
        if line.startswith("|"):
            in_table = True
            m = README_ROW.match(line)
            if m:
                table.append((m.group(1), m.group(2).strip(), m.group(3).strip()))
    want = [(n, e, m) for n, e, m in rows]
    if table != want:
        have = {r[0]: r for r in table}
        reg = {r[0]: r for r in want}
        for n in reg.keys() - have.keys():
            problems.append(f"README.md: the Error codes table lacks {n}")
        for n in have.keys() - reg.keys():
            problems.append(f"README.md: the Error codes table lists {n}, which is not registered")
        for n in reg.keys() & have.keys():
            if reg[n] != have[n]:
                problems.append(f"README.md: {n} reads {have[n][1:]} but the registry says {reg[n][1:]}")
        if not problems and [r[0] for r in table] != [r[0] for r in want]:
            problems.append("README.md: the Error codes table is not in the registry's order")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    a = ap.parse_args()
    problems = check(Path(a.root))
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
