"""Ownership verbs mean one thing each, as git's (scripts/check-ownership.py):
init fills a caller's struct, release frees what a struct holds, clear
resets it for reuse, free releases and frees the heap object; and the check
catches a verb that breaks its promise."""

import shutil
import subprocess
import sys

from conftest import REPO

CHECK = REPO / "scripts" / "check-ownership.py"


def run_check(root):
    return subprocess.run([sys.executable, str(CHECK), "--root", str(root)],
                          capture_output=True, text=True, timeout=120)


def test_the_tree_keeps_the_verbs():
    p = run_check(REPO)
    assert p.returncode == 0, p.stderr


def test_broken_promises_are_caught(tmp_path):
    root = tmp_path / "tree"
    for part in ("core", "operators", "tests/tools"):
        shutil.copytree(REPO / part, root / part)
    (root / "core" / "ops" / "zz_sample.c").write_text(
        "#include <stdlib.h>\n"
        "struct thing { char *a; };\n"
        "void thing_free(struct thing *t)\n{\n\tfree(t->a);\n}\n"
        "void other_release(struct thing *t)\n{\n\tfree(t->a);\n\tfree(t);\n}\n"
        "void pool_reset(struct thing *t)\n{\n\tt->a = NULL;\n}\n"
        "void dw_aws_request_use(struct dw_aws_request *r)\n{\n"
        "\tdw_aws_request_release(r);\n\tfree(r);\n}\n")
    p = run_check(root)
    assert p.returncode == 1
    err = p.stderr
    assert "zz_sample.c:3: thing_free does not free t" in err
    assert "zz_sample.c:7: other_release frees t itself: that is other_free" in err
    assert "zz_sample.c:12: pool_reset: say clear" in err
    assert ("zz_sample.c:18: dw_aws_request_release(r); free(r): call dw_aws_request_free(r)"
            in err)
