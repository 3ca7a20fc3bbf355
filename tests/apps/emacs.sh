# Debian's emacs-nox as a daemon (--fg-daemon: the same server as --daemon, without the fork
# that detaches it, so that it is the root of the tree), its server socket in the test's
# directory, driven by emacsclient --eval. Before the checkpoint: a file visited and edited
# (not saved), a repeating 100 ms timer counting, and a `cat` child on pipes that echoes what
# emacs sends it. After the restore, by new emacsclient connections: the buffer still holds
# the unsaved edit, the timer goes on from its count at its pace, the cat child still echoes,
# and a last edit saved by emacs lands in the file; then (kill-emacs) ends it.
app_emacs() {
	app_begin emacs
	app_packages emacs-nox || return
	local i out t0 t1 t2
	cat >"$DIR/setup.el" <<'EL'
;; no native compilation in the background: its children come and go
(setq native-comp-deferred-compilation nil)
(defvar cryo-ticks 0)
(defvar cryo-timer (run-with-timer 0.1 0.1 (lambda () (setq cryo-ticks (1+ cryo-ticks)))))
(defvar cryo-cat (make-process :name "cat" :buffer (get-buffer-create "*cat*")
                               :command '("cat") :connection-type 'pipe))
(defun cryo-echo (s)
  "S sent to the cat child, and what came back."
  (let ((b (get-buffer "*cat*")) (n 0))
    (with-current-buffer b (erase-buffer))
    (process-send-string cryo-cat s)
    (while (and (< (buffer-size b) (length s)) (< n 100))
      (accept-process-output cryo-cat 0.1)
      (setq n (1+ n)))
    (with-current-buffer b (buffer-string))))
EL
	printf 'saved before\n' >"$DIR/notes.txt"
	app_start /usr/bin/emacs -Q --fg-daemon="$DIR/server" -l "$DIR/setup.el"
	# el EXPR: what emacs answers to EXPR
	el() {
		timeout 20 emacsclient -s "$DIR/server" --eval "$1" 2>&1
	}
	for ((i = 0; i < 200; i++)); do
		[ -S "$DIR/server" ] && break
		sleep 0.05
	done
	out=$(el "(progn (find-file \"$DIR/notes.txt\") (goto-char (point-max))
		(insert \"unsaved edit\n\") (cryo-echo \"before\n\"))")
	[ "$out" = '"before\n"' ] || fail_step "before the checkpoint: $out $(tail -n3 "$DIR/stderr")"
	[ -z "$REASON" ] && [ "$(ps -o comm= --ppid "$PID")" != cat ] &&
		fail_step "emacs has other children than cat: $(ps -o pid=,args= --ppid "$PID")"
	sleep 0.3
	[ -z "$REASON" ] && t0=$(el cryo-ticks)
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		out=$(el '(with-current-buffer "notes.txt"
			(if (and (buffer-modified-p) (equal (buffer-string) "saved before\nunsaved edit\n"))
			    (quote ok) (list (buffer-modified-p) (buffer-string))))')
		[ "$out" = ok ] || fail_step "the visited buffer after the restore: $out"
	fi
	if [ -z "$REASON" ]; then
		out=$(el '(cryo-echo "after the restore\n")')
		[ "$out" = '"after the restore\n"' ] || fail_step "the cat child after the restore: $out"
	fi
	if [ -z "$REASON" ]; then
		t1=$(el cryo-ticks)
		sleep 1
		t2=$(el cryo-ticks)
		if ! [[ "$t0$t1$t2" =~ ^[0-9]+$ ]] || [ "$t1" -lt "$t0" ] ||
			[ $((t2 - t1)) -lt 5 ] || [ $((t2 - t1)) -gt 20 ]; then
			fail_step "the timer's count: $t0 before the checkpoint, $t1 after, $t2 a second later"
		fi
	fi
	if [ -z "$REASON" ]; then
		out=$(el '(with-current-buffer "notes.txt" (insert "after\n") (save-buffer) (buffer-modified-p))')
		[ "$out" = nil ] || fail_step "saving after the restore: $out"
		[ -z "$REASON" ] && [ "$(cat "$DIR/notes.txt")" != "saved before
unsaved edit
after" ] && fail_step "the saved file: $(head -c 200 "$DIR/notes.txt")"
	fi
	if [ -z "$REASON" ]; then
		el '(kill-emacs)' >/dev/null
		app_wait_exit 10
	fi
	app_end
}
register_case app-emacs app_emacs
# also through a pre-dump and checkpointed twice
app_variant predump emacs
app_variant gen2 emacs
