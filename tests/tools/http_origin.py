# An origin web server for the caching proxy cases (tests/apps/squid.sh, varnish.sh): HTTP/1.1
# on 127.0.0.1:PORT; each GET is numbered and noted in LOG, and answered with "request N for
# PATH" then SIZE bytes that depend on the path only, cacheable for an hour.
# Usage: python3 http_origin.py PORT LOG SIZE
import http.server, random, sys
n = 0
log = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        global n
        n += 1
        log.write("%d %s\n" % (n, self.path))
        body = (b"request %d for %s\n" % (n, self.path.encode())) + random.Random(self.path).randbytes(int(sys.argv[3]))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "public, max-age=3600")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
