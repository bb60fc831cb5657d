#!/usr/bin/env python3
"""Check that the ownership verbs mean one thing each (as git's):

  init     fill a caller-owned struct        (never allocates the struct)
  release  free what a struct holds          (never frees the struct itself)
  clear    reset to empty, reusable          (never frees the struct itself)
  free     release and free the heap object  (frees its argument)

For every function defined under core/, operators/ and tests/tools/ whose
name ends in _init, _release, _clear or _free and whose first parameter is a
pointer, the body must keep its verb's promise; and no caller may write
X_release(p); free(p) where X_free exists (call X_free).  Names ending in
_reset, _destroy-as-free or _fini are not used for these meanings: a
*_reset or *_fini function is reported (use clear or release).
Exit 0 when clean; otherwise each problem on stderr and exit 1.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

DEF = re.compile(r"^(?:static\s+)?(?:inline\s+)?[a-z][\w \*]*?\b(\w+)_(init|release|clear|free|reset|fini)"
                 r"\s*\(\s*(?:const\s+)?(?:struct\s+)?\w+\s*\*\s*(\w+)[^)]*\)\s*\n\{", re.M)


def body_at(text: str, brace: int) -> str:
    depth = 0
    for i in range(brace, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[brace:i + 1]
    return text[brace:]


def check(root: Path):
    problems, frees, texts = [], set(), {}
    for folder in ("core", "operators", "tests/tools"):
        for p in sorted((root / folder).rglob("*.c")):
            texts[p] = p.read_text(errors="replace")
    for p, text in texts.items():
        rel = p.relative_to(root)
        for m in DEF.finditer(text):
            stem, verb, arg = m.groups()
            name = f"{stem}_{verb}"
            body = body_at(text, m.end() - 1)
            line = text.count("\n", 0, m.start()) + 1
            frees_arg = re.search(r"\bfree\(\s*%s\s*\)" % re.escape(arg), body)
            if verb in ("reset", "fini"):
                problems.append(f"{rel}:{line}: {name}: say clear (reset to empty, reusable) "
                                f"or release (free what it holds)")
            elif verb == "free":
                frees.add(stem)
                if not frees_arg:
                    problems.append(f"{rel}:{line}: {name} does not free {arg}: a function that "
                                    f"frees only what {arg} holds is {stem}_release")
            elif verb in ("release", "clear", "init") and frees_arg:
                problems.append(f"{rel}:{line}: {name} frees {arg} itself: that is {stem}_free")
            elif verb == "init" and re.search(r"\b%s\s*=\s*(?:dw_x)?[cm]alloc" % re.escape(arg), body):
                problems.append(f"{rel}:{line}: {name} allocates {arg}: init fills a caller's struct")
    pair = re.compile(r"\b(\w+)_release\(\s*&?([\w\->\.]+)\s*\);\s*free\(\s*\2\s*\);")
    for p, text in texts.items():
        for m in pair.finditer(text):
            defs = list(re.finditer(r"^\w[\w \*]*?\b(\w+)\s*\([^;{]*\)\s*\n\{", text[:m.start()], re.M))
            if defs and defs[-1].group(1) == f"{m.group(1)}_free":
                continue  # X_free itself: release, then free
            if m.group(1) in frees:
                line = text.count("\n", 0, m.start()) + 1
                problems.append(f"{p.relative_to(root)}:{line}: {m.group(1)}_release({m.group(2)}); "
                                f"free({m.group(2)}): call {m.group(1)}_free({m.group(2)})")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    problems = check(Path(ap.parse_args().root))
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
