#!/bin/bash
# Install what is needed, build cryo and run the whole test suite (as root).
# Exits with the suite's status. Options for the run: see tests/run.sh (ZT_* variables).
set -u
cd "$(dirname "$0")" || exit 1
if [ "$(id -u)" != 0 ]; then
	echo "test.sh: cryo checkpoints processes with ptrace and restores PIDs: run it as root" >&2
	exit 1
fi
bash scripts/deps.sh || exit 1
make test
