#!/bin/bash
# Install what is needed, build cryo and run the whole test suite (as root).
# Exits 0 when every test passes, else non-zero. Options for the run: see tests/run.sh (ZT_* variables).
set -u
cd "$(dirname "$0")" || exit 1
if [ "$(id -u)" != 0 ]; then
	echo "test.sh: cryo checkpoints processes with ptrace and restores PIDs: run it as root" >&2
	exit 1
fi
bash scripts/deps.sh || exit 1
# Descriptors inherited from the caller (a CI runner's pipes...) would be inherited by every
# test process, and cryo rightly refuses to dump a process holding an unknown pipe: close them.
for fd in "/proc/$$/fd/"*; do
	fd=${fd##*/}
	[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
done
make test
