# A Java program (Debian's OpenJDK 17: the JVM's ~20 threads, its JIT code, its garbage
# collector's reserved heap, signal handlers of its own) serving HTTP with the JDK's
# com.sun.net.httpserver on a free port of 127.0.0.1, counting the requests it answered.
# It answers curl, is checkpointed while it waits, restored; curl again gets the next
# count (the state in the Java heap) and a 200 KiB body byte for byte.
app_java_http() {
	app_begin java-http
	app_packages openjdk-17-jdk-headless curl python3 || return
	local port i got
	mkdir -p "$DIR/src"
	cat >"$DIR/src/Serve.java" <<'JAVA'
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicLong;

public class Serve {
    public static void main(String[] args) throws Exception {
        AtomicLong count = new AtomicLong();
        byte[] big = new byte[200 * 1024];
        for (int i = 0; i < big.length; i++) big[i] = (byte) (i * 31 + i / 251);
        HttpServer srv = HttpServer.create(
            new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0])), 16);
        srv.createContext("/count", ex -> {
            byte[] b = ("count=" + count.incrementAndGet() + "\n").getBytes();
            ex.sendResponseHeaders(200, b.length);
            try (OutputStream o = ex.getResponseBody()) { o.write(b); }
        });
        srv.createContext("/big", ex -> {
            ex.sendResponseHeaders(200, big.length);
            try (OutputStream o = ex.getResponseBody()) { o.write(big); }
        });
        srv.start();
    }
}
JAVA
	(cd "$DIR/src" && timeout 120 javac Serve.java) >"$DIR/javac.txt" 2>&1 ||
		fail_step "javac failed: $(tail -n3 "$DIR/javac.txt")"
	port=$(app_free_port)
	# the same bytes as the server's array, to compare the body with
	/usr/bin/python3 -c 'import sys
sys.stdout.buffer.write(bytes(((i * 31 + i // 251) & 0xff) for i in range(200 * 1024)))' >"$DIR/big.expected"
	[ -z "$REASON" ] && app_start "$(readlink -f "$(command -v java)")" -Xmx64m -XX:+UseSerialGC \
		-cp "$DIR/src" Serve "$port"
	if [ -z "$REASON" ]; then
		for ((i = 0; i < 300; i++)); do
			got=$(curl -sf --max-time 5 "http://127.0.0.1:$port/count") && break
			sleep 0.05
		done
		[ "$got" = count=1 ] || fail_step "before the checkpoint /count said '$got'"
		curl -sf --max-time 5 "http://127.0.0.1:$port/count" >/dev/null
		sleep 0.3
	fi
	[ -z "$REASON" ] && app_checkpoint
	if [ -z "$REASON" ]; then
		got=$(curl -sf --max-time 10 "http://127.0.0.1:$port/count")
		[ "$got" = count=3 ] || fail_step "after the restore /count said '$got', not count=3"
		curl -sf --max-time 10 -o "$DIR/big.got" "http://127.0.0.1:$port/big"
		cmp -s "$DIR/big.got" "$DIR/big.expected" ||
			fail_step "after the restore /big differs ($(stat -c %s "$DIR/big.got" 2>/dev/null) bytes)"
		kill -TERM "$PID"
		app_wait_exit 20
	fi
	app_end
}
register_case app-java-http app_java_http
