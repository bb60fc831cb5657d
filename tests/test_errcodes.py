"""One error vocabulary: every code dwops raises is registered in
core/base/errcodes.h and listed in the README (scripts/check-errcodes.py),
and the check catches what it is for."""

import shutil
import subprocess
import sys

from conftest import REPO

CHECK = REPO / "scripts" / "check-errcodes.py"


def run_check(root):
    return subprocess.run([sys.executable, str(CHECK), "--root", str(root)],
                          capture_output=True, text=True, timeout=120)


def test_the_tree_raises_registered_codes_only_and_the_readme_agrees():
    p = run_check(REPO)
    assert p.returncode == 0, p.stderr


def _tree(tmp_path, source=None, readme_edit=None):
    """The repository's registry, README and sources, plus one more file."""
    root = tmp_path / "tree"
    for part in ("core", "operators", "tests/tools"):
        shutil.copytree(REPO / part, root / part)
    readme = (REPO / "README.md").read_text()
    if readme_edit:
        readme = readme_edit(readme)
    (root / "README.md").write_text(readme)
    if source:
        (root / "core" / "ops" / "zz_sample.c").write_text(source)
    return root


def test_an_unregistered_code_fails(tmp_path):
    src = ('#include "base/error.h"\n'
           'int a(void) { return dw_fail("NoSuchCodeXyz", "x"); }\n'
           'int b(void)\n{\n\treturn dw_raise(DW_TRANSIENT,\n\t\t"WaiterTimeout", NULL, "y");\n}\n'
           'int c(const char *code) { return dw_raise(DW_FAILED, code, NULL, "z"); }\n'
           'int d(const char *code) { return dw_raise_passthrough(DW_FAILED, code, NULL, "ok"); }\n'
           'static struct dw_error e = { .kind = DW_FAILED, .code = "BadAnswer" };\n')
    p = run_check(_tree(tmp_path, src))
    assert p.returncode == 1
    err = p.stderr
    assert 'core/ops/zz_sample.c:2: dw_fail raises "NoSuchCodeXyz", which is not registered' in err
    # the old synonym is gone from the registry; multi-line calls are read whole
    assert 'core/ops/zz_sample.c:5: dw_raise raises "WaiterTimeout"' in err
    assert "core/ops/zz_sample.c:8: dw_raise takes its code from \"code\"" in err
    assert ':9:' not in err  # dw_raise_passthrough may pass an AWS code through
    assert 'core/ops/zz_sample.c:10: .code = raises "BadAnswer"' in err


def test_a_kind_that_disagrees_with_the_registry_fails(tmp_path):
    src = ('#include "base/error.h"\n'
           'int a(void) { return dw_raise(DW_INVALID, "WaitTimeout", NULL, "x"); }\n'
           'int b(int t) { return dw_raise(t ? DW_TRANSIENT : DW_FAILED, "SendFailed", NULL, "ok"); }\n')
    p = run_check(_tree(tmp_path, src))
    assert p.returncode == 1
    assert ('core/ops/zz_sample.c:2: "WaitTimeout" raised as DW_INVALID (exit 2) but registered '
            'with exit 75') in p.stderr
    assert ":3:" not in p.stderr


def test_readme_and_registry_must_agree(tmp_path):
    def edit(text):
        text = text.replace("| `NotOwner` | 2 |", "| `NotOwner` | 1 |")
        return text.replace("| `NoTables` |", "| `NoTablesAtAll` |")
    p = run_check(_tree(tmp_path, readme_edit=edit))
    assert p.returncode == 1
    assert "README.md: NotOwner reads" in p.stderr
    assert "README.md: the Error codes table lacks NoTables" in p.stderr
    assert "README.md: the Error codes table lists NoTablesAtAll, which is not registered" in p.stderr


def test_a_stale_registry_row_fails(tmp_path):
    root = _tree(tmp_path)
    h = root / "core" / "base" / "errcodes.h"
    h.write_text(h.read_text().replace(
        '\tX(ExecFailed,', '\tX(NeverRaised, "1", "nothing") \\\n\tX(ExecFailed,'))
    p = run_check(root)
    assert p.returncode == 1
    assert "errcodes.h: NeverRaised is registered but raised nowhere" in p.stderr
