# git daemon (Debian's git) serving a bare repository over git://, receive-pack enabled. A
# clone before the checkpoint; then a client outside the tree connects and says nothing yet,
# so the daemon has forked its `git daemon --serve` child for it, waiting for the request.
# Both are dumped and restored with --tcp-established. After the restore that client asks
# for git-upload-pack on the same connection and must get every ref with the ids that
# `git rev-parse` gives in the repository; then a commit is pushed with git push, a fresh
# clone must have it (and pass git fsck), and the repository on disk has it too.
app_git_daemon() {
	app_begin git-daemon
	app_packages git python3 || return
	local port i cpid out head
	port=$(app_free_port)
	export GIT_AUTHOR_NAME=tester GIT_AUTHOR_EMAIL=t@example.org
	export GIT_COMMITTER_NAME=tester GIT_COMMITTER_EMAIL=t@example.org
	git init -q -b main "$DIR/work" && (
		cd "$DIR/work" || exit 1
		for i in 1 2 3; do
			seq "$i" 3000 >"file$i.txt"
			head -c 50000 /dev/urandom >"blob$i.bin"
			git add . && git commit -q -m "commit $i"
		done
		git tag v1 && git branch side HEAD~1
	) && git clone -q --bare "$DIR/work" "$DIR/srv/repo.git" ||
		fail_step "cannot make the repository"
	app_start /usr/bin/git daemon --reuseaddr --listen=127.0.0.1 --port="$port" \
		--base-path="$DIR/srv" --export-all --enable=receive-pack --verbose
	for ((i = 0; i < 100; i++)); do
		git clone -q "git://127.0.0.1:$port/repo.git" "$DIR/clone1" 2>"$DIR/clone1.txt" && break
		rm -rf "$DIR/clone1"
		sleep 0.05
	done
	[ "$(git -C "$DIR/clone1" rev-parse HEAD 2>/dev/null)" = "$(git -C "$DIR/work" rev-parse HEAD)" ] ||
		fail_step "the clone before the checkpoint: $(cat "$DIR/clone1.txt")"
	git -C "$DIR/srv/repo.git" for-each-ref --format='%(objectname) %(refname)' >"$DIR/refs.txt"
	timeout 40 /usr/bin/python3 - "$port" "$DIR" >"$DIR/client.txt" 2>&1 <<'PY' &
import os, socket, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
open(d + "/connected", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
def pkt(data):
    return b"%04x" % (len(data) + 4) + data
s.sendall(pkt(b"git-upload-pack /repo.git\0host=127.0.0.1\0"))
f = s.makefile("rb")
refs = []
while True:
    n = int(f.read(4), 16)
    if n == 0:
        break
    line = f.read(n - 4).rstrip(b"\n").split(b"\0")[0].decode()
    refs.append(line)
s.sendall(b"0000")
want = open(d + "/refs.txt").read().split("\n")
want = [w for w in want if w]
got = [r for r in refs if not r.endswith(" HEAD")]
if sorted(got) != sorted(want):
    sys.exit("refs %r, wanted %r" % (refs, want))
print("ok")
PY
	cpid=$!
	for ((i = 0; i < 200; i++)); do
		[ -e "$DIR/connected" ] && break
		sleep 0.05
	done
	[ -e "$DIR/connected" ] || fail_step "the client did not connect: $(cat "$DIR/client.txt")"
	for ((i = 0; i < 100; i++)); do
		[ -n "$(ps -o pid= --ppid "$PID")" ] && break
		sleep 0.05
	done
	[ -n "$(ps -o pid= --ppid "$PID")" ] || fail_step "git daemon forked no child for the connection"
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	touch "$DIR/go"
	wait "$cpid"
	out=$(cat "$DIR/client.txt")
	[ -z "$REASON" ] && [ "$out" != ok ] && fail_step "the client across the checkpoint: $out"
	if [ -z "$REASON" ]; then
		(
			cd "$DIR/clone1" || exit 1
			head -c 70000 /dev/urandom >after.bin
			git add after.bin && git commit -q -m "after the restore" &&
				git push -q origin main
		) >"$DIR/push.txt" 2>&1 || fail_step "git push after the restore: $(tail -n3 "$DIR/push.txt")"
		head=$(git -C "$DIR/clone1" rev-parse HEAD)
	fi
	if [ -z "$REASON" ]; then
		[ "$(git -C "$DIR/srv/repo.git" rev-parse main)" = "$head" ] ||
			fail_step "the pushed commit is not in the served repository"
		git clone -q "git://127.0.0.1:$port/repo.git" "$DIR/clone2" 2>"$DIR/clone2.txt" ||
			fail_step "git clone after the restore: $(tail -n3 "$DIR/clone2.txt")"
	fi
	if [ -z "$REASON" ]; then
		[ "$(git -C "$DIR/clone2" rev-parse HEAD)" = "$head" ] &&
			cmp -s "$DIR/clone2/after.bin" "$DIR/clone1/after.bin" &&
			git -C "$DIR/clone2" fsck --full >"$DIR/fsck.txt" 2>&1 ||
			fail_step "the clone after the restore lacks the pushed commit or is broken"
		[ "$(git -C "$DIR/clone2" rev-parse origin/side)" = "$(git -C "$DIR/work" rev-parse side)" ] ||
			fail_step "branch side differs in the clone after the restore"
	fi
	if [ -z "$REASON" ]; then
		kill -TERM "$PID"
		app_wait_exit 10
	fi
	unset GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
	app_end
}
register_case app-git-daemon app_git_daemon
