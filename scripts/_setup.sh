# Shared set-up steps for scripts/solutions and scripts/test (sourced, not run).
# Everything the project needs is installed here, so a fresh Debian machine works.

TEX_PACKAGES="texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-pictures texlive-fonts-recommended lmodern latexmk poppler-utils"
VENV="${DERIVE_VENV:-.venv}"
# torchvision from PyPI needs the torch release it was built with, which is not the one the
# torch extra pins: its cross-checks run in an environment of their own.
VISION_VENV="${DERIVE_VISION_VENV:-.venv-vision}"
VISION_PACKAGES="torch==2.14.1 torchvision==0.29.1"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

ensure_python() {
    if [ ! -x "$VENV/bin/python" ]; then
        if ! python3 -m venv "$VENV" 2>/dev/null; then
            echo "setup: installing python3-venv" >&2
            as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            rm -rf "$VENV"; python3 -m venv "$VENV"
        fi
    fi
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e ".$1"
}

ensure_vision() {
    [ -x "$VISION_VENV/bin/python" ] || python3 -m venv "$VISION_VENV"
    "$VISION_VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VISION_VENV/bin/python" -m pip install -q $VISION_PACKAGES
    "$VISION_VENV/bin/python" -m pip install -q -e ".[test,vision]"
}

ensure_tex() {
    missing=""
    command -v latexmk >/dev/null || missing=1
    command -v pdflatex >/dev/null || missing=1
    kpsewhich tikz.sty >/dev/null 2>&1 || missing=1
    kpsewhich lmodern.sty >/dev/null 2>&1 || missing=1
    kpsewhich booktabs.sty >/dev/null 2>&1 || missing=1
    kpsewhich adjustbox.sty >/dev/null 2>&1 || missing=1
    command -v pdftoppm >/dev/null || missing=1
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" = 0 ] || command -v sudo >/dev/null; then
        echo "setup: installing TeX Live from Debian's packages (a few minutes, once)" >&2
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $TEX_PACKAGES >/dev/null
    else
        echo "setup: TeX Live is missing; as root run:" >&2
        echo "  apt-get install --no-install-recommends $TEX_PACKAGES" >&2
        echo "setup: meanwhile 'derive build --tex-only' writes the .tex files" >&2
        return 1
    fi
}
