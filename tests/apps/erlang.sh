# Debian's Erlang (erlang-base: `erl -noshell`, the BEAM: schedulers and async threads, its
# poll set on epoll, a child erl_child_setup on a unix socket, timers) running a small TCP
# server compiled here: each line a client sends is answered with the number of lines seen so
# far by all clients, kept by one process, and a ticker process counts 50 ms timer messages.
# A client outside the tree sends 3 lines, the server is checkpointed with --tcp-established,
# then the same client sends 2 more on the same connection (answers 4 and 5), a new client
# gets 6, and the ticks go on at their pace (about 20 a second, from where they were).
app_erlang() {
	app_begin erlang
	app_packages erlang-base python3 || return
	local port i cpid out t0 t1 t2
	port=$(app_free_port)
	cat >"$DIR/lines.erl" <<'ERL'
-module(lines).
-export([start/1]).

start([PortArg]) ->
    Port = list_to_integer(atom_to_list(PortArg)),
    Counter = spawn(fun() -> counter(0, 0) end),
    register(counter, Counter),
    spawn(fun() -> ticker() end),
    {ok, L} = gen_tcp:listen(Port, [binary, {packet, line}, {active, false},
                                    {reuseaddr, true}, {ip, {127, 0, 0, 1}}]),
    accept(L).

accept(L) ->
    {ok, S} = gen_tcp:accept(L),
    Pid = spawn(fun() -> receive go -> serve(S) end end),
    ok = gen_tcp:controlling_process(S, Pid),
    Pid ! go,
    accept(L).

serve(S) ->
    case gen_tcp:recv(S, 0) of
        {ok, <<"ticks\n">>} ->
            counter ! {ticks, self()},
            receive {ticks, T} -> ok end,
            gen_tcp:send(S, io_lib:format("ticks ~b~n", [T])),
            serve(S);
        {ok, Line} ->
            counter ! {line, self()},
            receive {count, N} -> ok end,
            gen_tcp:send(S, [integer_to_list(N), " ", Line]),
            serve(S);
        {error, closed} ->
            ok
    end.

counter(N, T) ->
    receive
        {line, From} -> From ! {count, N + 1}, counter(N + 1, T);
        {ticks, From} -> From ! {ticks, T}, counter(N, T);
        tick -> counter(N, T + 1)
    end.

ticker() ->
    erlang:send_after(50, self(), tick),
    receive tick -> counter ! tick end,
    ticker().
ERL
	(cd "$DIR" && erlc lines.erl) >"$DIR/erlc.txt" 2>&1 || fail_step "erlc: $(head -c 300 "$DIR/erlc.txt")"
	[ -z "$REASON" ] && app_start /usr/bin/erl -noshell -pa "$DIR" -s lines start "$port"
	for ((i = 0; i < 200; i++)); do
		[ -n "$REASON" ] && break
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
		sleep 0.05
	done
	# the BEAM itself, once erl and erlexec have exec'd it
	# shellcheck disable=SC2034 # read by app_end
	APP_EXE=$(readlink "/proc/$PID/exe" 2>/dev/null)
	# erl_client MODE: a client; MODE hold (3 lines, then after "go" 2 more), one (a line), ticks
	erl_client() {
		timeout 30 /usr/bin/python3 - "$port" "$1" "$DIR" <<'PY'
import os, socket, sys, time
port, mode, d = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
f = s.makefile("rwb")
def say(line, want):
    f.write(line + b"\n")
    f.flush()
    got = f.readline()
    if got != want:
        sys.exit("sent %r, got %r, not %r" % (line, got, want))
if mode == "hold":
    for i in range(1, 4):
        say(b"line %d \x01\xff" % i, b"%d line %d \x01\xff\n" % (i, i))
    open(d + "/held", "w").close()
    while not os.path.exists(d + "/go"):
        time.sleep(0.02)
    say(b"after one", b"4 after one\n")
    say(b"after two", b"5 after two\n")
    print("held")
elif mode == "one":
    say(b"a new client", b"6 a new client\n")
    print("one")
else:
    f.write(b"ticks\n")
    f.flush()
    print(f.readline().split()[1].decode())
PY
	}
	erl_client hold >"$DIR/hold.txt" 2>&1 &
	cpid=$!
	for ((i = 0; i < 200; i++)); do
		[ -e "$DIR/held" ] && break
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.05
	done
	[ -z "$REASON" ] && [ ! -e "$DIR/held" ] && fail_step "the first client: $(cat "$DIR/hold.txt") $(tail -n3 "$DIR/stderr")"
	[ -z "$REASON" ] && t0=$(erl_client ticks 2>&1)
	[ -z "$REASON" ] && app_checkpoint --tcp-established
	touch "$DIR/go"
	wait "$cpid"
	out=$(cat "$DIR/hold.txt")
	[ -z "$REASON" ] && [ "$out" != held ] && fail_step "the client across the checkpoint: $out"
	if [ -z "$REASON" ]; then
		out=$(erl_client one 2>&1)
		[ "$out" = one ] || fail_step "a new client after the restore: $out"
	fi
	if [ -z "$REASON" ]; then
		t1=$(erl_client ticks 2>&1)
		sleep 1
		t2=$(erl_client ticks 2>&1)
		if ! [[ "$t0$t1$t2" =~ ^[0-9]+$ ]] || [ "$t1" -lt "$t0" ] ||
			[ $((t2 - t1)) -lt 10 ] || [ $((t2 - t1)) -gt 40 ]; then
			fail_step "ticks: $t0 before the checkpoint, $t1 after, $t2 a second later"
		fi
	fi
	if [ -z "$REASON" ]; then
		kill -TERM "$PID"
		app_wait_exit 20
	fi
	kill "$cpid" 2>/dev/null
	app_end
}
register_case app-erlang app_erlang
# also through a pre-dump and checkpointed twice (the restored BEAM's threads and its child)
app_variant predump erlang
app_variant gen2 erlang
