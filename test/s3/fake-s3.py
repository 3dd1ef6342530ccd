#!/usr/bin/env python3
"""A stand-in S3 for the failures a real gateway will not produce on demand.

usage: fake-s3.py PORT RULES

No signature check. Every object exists: a key ending in /link holds
"sha256:" and 64 "a"s, any other key 5 bytes ("hello"); a bucket listing
is empty; PUT and DELETE succeed. RULES is a file read at each request,
one rule a line, the first that matches wins:
    METHOD SUFFIX STATUS [CODE]    answer STATUS with <Code>CODE</Code>
    METHOD SUFFIX close            close the connection without an answer
    METHOD SUFFIX hang             never answer (a hung store)
for a request of METHOD whose key (query left out) ends with SUFFIX.
Each request is logged on stderr as "fake: METHOD PATH".
"""
import http.server
import socketserver
import sys
import time

LINK = b"sha256:" + b"a" * 64
DATA = b"hello"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def rule(self, path):
        try:
            with open(sys.argv[2]) as f:
                lines = f.read().splitlines()
        except OSError:
            return None
        for line in lines:
            w = line.split()
            if len(w) >= 3 and w[0] == self.command and path.endswith(w[1]):
                return w[2:]
        return None

    def handle_one(self):
        sys.stderr.write("fake: %s %s\n" % (self.command, self.path))
        sys.stderr.flush()
        path = self.path.split("?")[0]
        n = int(self.headers.get("Content-Length", "0"))
        if n > 0:
            self.rfile.read(n)
        r = self.rule(path)
        if r is not None and r[0] == "close":
            self.close_connection = True
            return
        if r is not None and r[0] == "hang":
            time.sleep(3600)
            return
        if r is not None:
            code = r[1] if len(r) > 1 else "Fake"
            # As long as a real one: more than a link's 128 bytes.
            body = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s'
                    '</Code><BucketName>fake</BucketName><RequestId>tx0000'
                    '0a1b2c3d4e5f60718-0065a1b2c3-1234-default</RequestId>'
                    '<HostId>1234-default-default</HostId></Error>'
                    % code).encode()
            return self.answer(int(r[0]), body)
        body = LINK if path.endswith("/link") else DATA
        if self.command in ("GET", "HEAD"):
            if path.count("/") <= 1:  # the bucket: an empty listing
                return self.answer(200, b"<ListBucketResult><IsTruncated>"
                                   b"false</IsTruncated></ListBucketResult>")
            return self.answer(200, body, [
                ("Last-Modified", "Mon, 30 Nov 2026 10:00:00 GMT")])
        if self.command == "PUT":
            return self.answer(200, b"", [("ETag", '"x"')])
        return self.answer(204)

    do_GET = do_HEAD = do_PUT = do_DELETE = do_POST = handle_one


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
