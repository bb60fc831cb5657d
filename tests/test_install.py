"""`make install`: bin/dw-* land in $(DESTDIR)$(PREFIX)/bin, and with the
default PREFIX that is the folder the Airflow DAGs look in by default
(airflow/dags/dwops_common.py DEFAULT_BIN)."""

import ast
import os
import subprocess

from conftest import REPO


def _dags_default_bin():
    tree = ast.parse((REPO / "airflow" / "dags" / "dwops_common.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "DEFAULT_BIN" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("dwops_common.py has no DEFAULT_BIN")


def _make_install(destdir, *args):
    # The same build flavour as the binaries under test, so that install
    # finds them up to date and relinks nothing.
    san = ["SANITIZE=1"] if os.environ.get("DW_EXPECT_SANITIZERS") == "1" else []
    return subprocess.run(["make", "-s", "install", f"DESTDIR={destdir}", *san, *args],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def _operators():
    return sorted(p.stem for p in (REPO / "operators").glob("dw-*.c"))


def test_install_puts_the_operators_where_the_dags_look(tmp_path):
    default_bin = _dags_default_bin()
    assert default_bin == "/usr/local/bin"
    p = _make_install(tmp_path)
    assert p.returncode == 0, p.stderr
    bindir = tmp_path / default_bin.lstrip("/")
    installed = sorted(f.name for f in bindir.iterdir())
    assert installed == _operators() and len(installed) >= 5, installed
    for name in installed:
        f = bindir / name
        assert f.stat().st_mode & 0o777 == 0o755, name
        assert (f.read_bytes() == (REPO / "bin" / name).read_bytes()), name
    # Nothing else is written under DESTDIR.
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                  if p.is_file()) == [f"{default_bin.lstrip('/')}/{n}" for n in installed]
    v = subprocess.run([str(bindir / "dw-snapshot"), "--version"], capture_output=True,
                       text=True, timeout=60)
    assert v.returncode == 0 and v.stdout.startswith("dw-snapshot "), v


def test_install_honours_prefix(tmp_path):
    p = _make_install(tmp_path, "PREFIX=/opt/dwops")
    assert p.returncode == 0, p.stderr
    assert sorted(f.name for f in (tmp_path / "opt" / "dwops" / "bin").iterdir()) == _operators()
    assert not (tmp_path / "usr").exists()
