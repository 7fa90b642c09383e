#!/usr/bin/env bash
# Gradescope runs this once to build the grading image (Ubuntu, as root).
# The course is tested with Python 3.11 and the exact versions in requirements.txt.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
if ! command -v python3.11 >/dev/null; then
    apt-get install -y software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update
fi
apt-get install -y python3.11 python3.11-venv
python3.11 -m venv /opt/course-venv
/opt/course-venv/bin/pip install --upgrade pip
/opt/course-venv/bin/pip install -r /autograder/source/requirements.txt
