# Debian's lua5.4 in the middle of a long computation between two children it started with
# io.popen: it reads the numbers 1 to 1200000 from `seq` (which blocks on the full pipe, so
# its pipe holds a queue of lines not read yet) and, for each, counts the steps of its Collatz
# sequence into a table and a running checksum; every 2000 numbers it writes a line to a
# `gzip` child (which holds its compression state in memory) and a line to its own output.
# Checkpointed early on, restored, it must finish with exactly the output of a run that was
# never interrupted, and gzip's file must unpack (gzip -t) to exactly the lines of that run.
app_lua() {
	app_begin lua
	app_packages lua5.4 gzip || return
	local i
	cat >"$DIR/prog.lua" <<'LUA'
local src = assert(io.popen("exec seq 1 1200000", "r"))
local sink = assert(io.popen("exec gzip -c -6 > " .. arg[1], "w"))
local acc, t = 0, {}
for line in src:lines() do
  local n = tonumber(line)
  local x, steps = n, 0
  while x ~= 1 do
    if x % 2 == 0 then x = x // 2 else x = 3 * x + 1 end
    steps = steps + 1
  end
  t[steps] = (t[steps] or 0) + 1
  acc = (acc * 31 + steps * n) % 1000000007
  if n % 2000 == 0 then
    sink:write(string.format("%d %d %d\n", n, steps, acc))
    io.write(string.format("%d %d\n", n, acc))
    io.flush()
  end
end
local keys = {}
for k in pairs(t) do keys[#keys + 1] = k end
table.sort(keys)
for _, k in ipairs(keys) do sink:write(string.format("steps %d: %d numbers\n", k, t[k])) end
assert(src:close())
assert(sink:close())
print("done")
LUA
	(cd "$DIR" && timeout 60 lua5.4 prog.lua want.gz >want.txt 2>&1) || fail_step "the reference run failed"
	app_start /usr/bin/lua5.4 prog.lua got.gz
	for ((i = 0; i < 400; i++)); do
		[ "$(wc -l <"$DIR/stdout")" -ge 30 ] && break
		sleep 0.02
	done
	[ "$(ps -o pid= --ppid "$PID" | wc -l)" = 2 ] ||
		fail_step "lua does not have its two children: $(ps -o pid=,args= --ppid "$PID" | tr '\n' '|')"
	[ -z "$REASON" ] && app_checkpoint
	[ -z "$REASON" ] && app_wait_exit 60
	if [ -z "$REASON" ]; then
		[ "$(tail -n1 "$DIR/want.txt")" = "done" ] || fail_step "the reference run did not end well"
		[ -z "$REASON" ] && ! cmp -s "$DIR/want.txt" "$DIR/stdout" &&
			fail_step "the output differs from the uninterrupted run's: $(diff "$DIR/want.txt" "$DIR/stdout" | head -n3 | tr '\n' '|')"
	fi
	if [ -z "$REASON" ]; then
		gzip -t "$DIR/got.gz" 2>"$DIR/gzip-t.txt" || fail_step "gzip's file is broken: $(cat "$DIR/gzip-t.txt")"
		[ -z "$REASON" ] && ! cmp -s <(zcat "$DIR/want.gz") <(zcat "$DIR/got.gz") &&
			fail_step "gzip's file unpacks to other lines than the uninterrupted run's"
	fi
	app_end
}
register_case app-lua app_lua
