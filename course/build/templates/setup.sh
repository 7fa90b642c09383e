#!/usr/bin/env bash
# Gradescope runs this once to build the grading image (Ubuntu, as root).  It uses the image's
# python3 when that is 3.11 to 3.14, else Python 3.11 from Miniforge (the installer otter-grader's
# own images use; no third-party PPA).  torch comes from PyTorch's CPU index: PyPI's Linux torch
# is the CUDA build (gigabytes).  COURSE_VENV moves the environment (tests).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${COURSE_VENV:-/opt/course-venv}"
python=python3
if ! "$python" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 14))' 2>/dev/null; then
    if [ ! -x /opt/miniforge/bin/conda ]; then
        curl -fsSL -o /tmp/miniforge.sh \
            "https://github.com/conda-forge/miniforge/releases/latest/download/Miniforge3-Linux-$(uname -m).sh"
        bash /tmp/miniforge.sh -b -p /opt/miniforge
    fi
    /opt/miniforge/bin/conda create -y -p /opt/course-python python=3.11
    python=/opt/course-python/bin/python3
fi
if ! "$python" -m venv "$venv"; then  # Ubuntu's python3 keeps venv in a package of its own
    apt-get update && apt-get install -y python3-venv && "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --no-deps "$(grep '^torch==' "$here/requirements.txt")" \
    --index-url https://download.pytorch.org/whl/cpu
"$venv/bin/pip" install -r "$here/requirements.txt"
