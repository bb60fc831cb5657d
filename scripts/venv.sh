# scripts/venv.sh - sourced by setup.sh and setup-airflow.sh: Python virtual
# environments built from pinned requirement files with Debian's python3,
# and left alone while a stamp keyed on the file's hash and the
# interpreter's version still matches.  The caller defines log().

# The interpreter to build with: Debian's, else whatever python3 is on PATH.
find_python() {
    local cand
    for cand in /usr/bin/python3 python3; do
        if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            command -v "$cand"
            return 0
        fi
    done
    return 1
}

venv_key() { # REQ VENV
    { sha256sum "$1" | cut -d' ' -f1; "$2/bin/python" -c 'import sys; print(sys.version)' 2>/dev/null || true; } \
        | sha256sum | cut -d' ' -f1
}

venv_current() { # REQ VENV
    [ -x "$2/bin/python" ] && [ -f "$2/.dwops-requirements.sha256" ] \
        && [ "$(cat "$2/.dwops-requirements.sha256")" = "$(venv_key "$1" "$2")" ]
}

venv_install() { # REQ VENV PYTHON
    if [ ! -x "$2/bin/python" ] || ! "$2/bin/python" -c 'import sys' >/dev/null 2>&1; then
        log "creating virtual env $2"
        rm -rf "$2"
        "$3" -m venv "$2"
    fi
    log "installing $1 into $2"
    "$2/bin/python" -m pip install -q --upgrade pip </dev/null || log "pip upgrade failed (continuing)"
    "$2/bin/python" -m pip install -q -r "$1" </dev/null
}

venv_stamp() { # REQ VENV
    venv_key "$1" "$2" > "$2/.dwops-requirements.sha256"
}
