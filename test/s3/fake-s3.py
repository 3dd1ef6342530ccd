#!/usr/bin/env python3
"""A stand-in S3 for the failures a real gateway will not produce on demand.

usage: fake-s3.py PORT RULES [mem]

No signature check, one bucket (path style: /BUCKET/KEY), objects kept in
memory: PUT, GET (with Range), HEAD, DELETE, CopyObject, ListObjectsV2
(prefix, delimiter, max-keys, continuation-token), and multipart uploads
(create, UploadPart, UploadPartCopy, complete, abort, ListMultipartUploads).
Without "mem", a key that was never written exists all the same: a key
ending in /link holds "sha256:" and 64 "a"s, any other key 5 bytes
("hello"), and a GET ignores Range (as some servers do).

RULES is a file read at each request, one rule a line, the first that
matches wins:
    METHOD PATTERN STATUS [CODE]   answer STATUS with <Code>CODE</Code>
    METHOD PATTERN close           close the connection without an answer
    METHOD PATTERN hang            never answer (a hung store)
    METHOD PATTERN delay SECONDS   answer as usual, but SECONDS late (the
                                   answer is what was there when asked)
    METHOD PATTERN slow BYTES      read the request body at BYTES a
                                   second, then answer as usual
    METHOD PATTERN date OFFSET     answer as usual, with a Date OFFSET
                                   seconds off this host's clock (a
                                   proxy's clock, say)
    PUT PATTERN age SECONDS        store the object as written SECONDS
                                   ago (its Last-Modified: a store whose
                                   clock is behind the client's)
for a request of METHOD whose key (query left out) ends with PATTERN (a
shell pattern: "/part-*" matches any part). METHOD LIST is a listing
(ListObjectsV2) without a delimiter, LISTD one with, matched on their
prefix parameter.
Each request is logged on stderr as "fake: METHOD PATH" when it arrives.
"""
import fnmatch
import hashlib
import http.server
import itertools
import re
import socketserver
import sys
import threading
import time
import urllib.parse
from email.utils import formatdate
from xml.sax.saxutils import escape

LINK = b"sha256:" + b"a" * 64
DATA = b"hello"
MEM = len(sys.argv) > 3 and sys.argv[3] == "mem"

LOCK = threading.Lock()
OBJECTS = {}  # key -> (bytes, mtime)
UPLOADS = {}  # upload id -> {"key", "parts": {n: bytes}, "initiated"}
IDS = itertools.count(1)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


def etag(b):
    return '"%s"' % hashlib.md5(b).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    date_off = 0  # "date": seconds added to the Date of answers

    def log_message(self, *args):
        pass

    def date_time_string(self, timestamp=None):
        # send_response's Date, "date OFFSET" off.
        if timestamp is None:
            timestamp = time.time()
        return formatdate(timestamp + self.date_off, usegmt=True)

    def answer(self, code, body=b"", headers=()):
        # "delay": the answer as it was when asked, late.
        time.sleep(self.delay)
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, name):
        # As long as a real one: more than a link's 128 bytes.
        body = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s'
                '</Code><BucketName>fake</BucketName><RequestId>tx0000'
                '0a1b2c3d4e5f60718-0065a1b2c3-1234-default</RequestId>'
                '<HostId>1234-default-default</HostId></Error>'
                % name).encode()
        return self.answer(code, body)

    def rule(self, method, path):
        try:
            with open(sys.argv[2]) as f:
                lines = f.read().splitlines()
        except OSError:
            return None
        for line in lines:
            w = line.split()
            if (len(w) >= 3 and w[0] == method and
                    fnmatch.fnmatchcase(path, "*" + w[1])):
                return w[2:]
        return None

    def body(self, rate=None):
        n = int(self.headers.get("Content-Length", "0"))
        if rate is None:
            return self.rfile.read(n) if n > 0 else b""
        got, step = [], max(1, rate // 10)
        while n > 0:
            b = self.rfile.read(min(step, n))
            if not b:
                break
            got.append(b)
            n -= len(b)
            time.sleep(0.1)
        return b"".join(got)

    def handle_one(self):
        sys.stderr.write("fake: %s %s\n" % (self.command, self.path))
        sys.stderr.flush()
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        parts = path.lstrip("/").split("/", 1)
        key = parts[1] if len(parts) > 1 else ""
        listing = self.command == "GET" and key == "" and "list-type" in q
        r = (self.rule("LISTD" if "delimiter" in q else "LIST",
                       q.get("prefix", "")) if listing else
             self.rule(self.command, path))
        rate = None
        self.delay = 0
        self.date_off = 0
        age = 0
        if r is not None and r[0] == "delay":
            self.delay = float(r[1])
            r = None
        elif r is not None and r[0] == "date":
            self.date_off = float(r[1])
            r = None
        elif r is not None and r[0] == "age":
            age = float(r[1])
            r = None
        elif r is not None and r[0] == "slow":
            rate = int(r[1])
            r = None
        data = self.body(rate)
        if r is not None and r[0] == "close":
            self.close_connection = True
            return
        if r is not None and r[0] == "hang":
            time.sleep(3600)
            return
        if r is not None:
            return self.error(int(r[0]), r[1] if len(r) > 1 else "Fake")
        if key == "":
            if self.command == "GET" and "uploads" in q:
                return self.list_uploads(q)
            if self.command in ("GET", "HEAD"):
                return self.list_objects(q)
            return self.error(405, "MethodNotAllowed")
        if self.command == "POST" and "uploads" in q:
            with LOCK:
                uid = "up%d" % next(IDS)
                UPLOADS[uid] = {"key": key, "parts": {},
                                "initiated": time.time()}
            return self.answer(200, (
                "<InitiateMultipartUploadResult><Key>%s</Key><UploadId>%s"
                "</UploadId></InitiateMultipartUploadResult>"
                % (escape(key), uid)).encode())
        if "uploadId" in q:
            return self.multipart(key, q, data)
        if self.command in ("GET", "HEAD"):
            return self.get(key)
        if self.command == "PUT":
            src = self.headers.get("x-amz-copy-source")
            if src is not None:
                b = self.source(src)
                if b is None:
                    return self.error(404, "NoSuchKey")
                with LOCK:
                    OBJECTS[key] = (b, time.time())
                return self.answer(200, (
                    "<CopyObjectResult><ETag>%s</ETag></CopyObjectResult>"
                    % escape(etag(b))).encode())
            with LOCK:
                OBJECTS[key] = (data, time.time() - age)
            return self.answer(200, b"", [("ETag", etag(data))])
        if self.command == "DELETE":
            with LOCK:
                OBJECTS.pop(key, None)
            return self.answer(204)
        return self.error(405, "MethodNotAllowed")

    def source(self, src):
        k = urllib.parse.unquote(src).lstrip("/").split("/", 1)
        with LOCK:
            o = OBJECTS.get(k[1] if len(k) > 1 else "")
        if o is None:
            return None
        b = o[0]
        m = re.match(r"bytes=(\d+)-(\d+)$",
                     self.headers.get("x-amz-copy-source-range", ""))
        if m:
            b = b[int(m.group(1)):int(m.group(2)) + 1]
        return b

    def get(self, key):
        with LOCK:
            o = OBJECTS.get(key)
        if o is None and MEM:
            return self.error(404, "NoSuchKey")
        if o is None:
            o = (LINK if key.endswith("/link") else DATA,
                 time.mktime((2026, 11, 30, 10, 0, 0, 0, 0, 0)))
        b, mtime = o
        hdrs = [("Last-Modified", formatdate(mtime, usegmt=True)),
                ("ETag", etag(b))]
        m = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
        if m and MEM and self.command == "GET":
            first = int(m.group(1))
            last = int(m.group(2)) if m.group(2) else len(b) - 1
            last = min(last, len(b) - 1)
            if first >= len(b):
                return self.error(416, "InvalidRange")
            hdrs.append(("Content-Range",
                         "bytes %d-%d/%d" % (first, last, len(b))))
            return self.answer(206, b[first:last + 1], hdrs)
        return self.answer(200, b, hdrs)

    def multipart(self, key, q, data):
        uid = q["uploadId"]
        with LOCK:
            up = UPLOADS.get(uid)
        if up is None or up["key"] != key:
            return self.error(404, "NoSuchUpload")
        if self.command == "DELETE":
            with LOCK:
                UPLOADS.pop(uid, None)
            return self.answer(204)
        if self.command == "PUT":
            src = self.headers.get("x-amz-copy-source")
            if src is not None:
                data = self.source(src)
                if data is None:
                    return self.error(404, "NoSuchKey")
            with LOCK:
                up["parts"][int(q["partNumber"])] = data
            if src is not None:
                return self.answer(200, (
                    "<CopyPartResult><ETag>%s</ETag></CopyPartResult>"
                    % escape(etag(data))).encode())
            return self.answer(200, b"", [("ETag", etag(data))])
        if self.command == "POST":
            nums = [int(n) for n in
                    re.findall(rb"<PartNumber>(\d+)</PartNumber>", data)]
            with LOCK:
                if any(n not in up["parts"] for n in nums):
                    return self.error(400, "InvalidPart")
                b = b"".join(up["parts"][n] for n in nums)
                OBJECTS[key] = (b, time.time())
                UPLOADS.pop(uid, None)
            return self.answer(200, (
                "<CompleteMultipartUploadResult><Key>%s</Key><ETag>%s"
                "</ETag></CompleteMultipartUploadResult>"
                % (escape(key), escape(etag(b)))).encode())
        return self.error(405, "MethodNotAllowed")

    def list_objects(self, q):
        prefix = q.get("prefix", "")
        delim = q.get("delimiter", "")
        start = q.get("continuation-token", q.get("start-after", ""))
        maxkeys = int(q.get("max-keys", "1000"))
        with LOCK:
            keys = sorted((k, v) for k, v in OBJECTS.items()
                          if k.startswith(prefix) and k > start)
        out, seen, last, truncated = [], set(), "", False
        for k, (b, mtime) in keys:
            if delim:
                i = k.find(delim, len(prefix))
                if i >= 0:
                    cp = k[:i + 1]
                    if cp in seen or cp <= start:
                        continue
                    if len(out) == maxkeys:
                        truncated = True
                        break
                    seen.add(cp)
                    out.append("<CommonPrefixes><Prefix>%s</Prefix>"
                               "</CommonPrefixes>" % escape(cp))
                    # Past every key under cp at once.
                    last = cp + "\U0010ffff"
                    continue
            if k <= last:
                continue
            if len(out) == maxkeys:
                truncated = True
                break
            out.append("<Contents><Key>%s</Key><LastModified>%s"
                       "</LastModified><Size>%d</Size></Contents>"
                       % (escape(k), iso(mtime), len(b)))
            last = k
        body = "<ListBucketResult><IsTruncated>%s</IsTruncated>%s" % (
            "true" if truncated else "false", "".join(out))
        if truncated:
            body += ("<NextContinuationToken>%s</NextContinuationToken>"
                     % escape(last))
        self.answer(200, (body + "</ListBucketResult>").encode())

    def list_uploads(self, q):
        prefix = q.get("prefix", "")
        with LOCK:
            ups = sorted((u["key"], uid, u["initiated"])
                         for uid, u in UPLOADS.items()
                         if u["key"].startswith(prefix))
        body = "".join(
            "<Upload><Key>%s</Key><UploadId>%s</UploadId><Initiated>%s"
            "</Initiated></Upload>" % (escape(k), uid, iso(t))
            for k, uid, t in ups)
        self.answer(200, ("<ListMultipartUploadsResult><IsTruncated>false"
                          "</IsTruncated>%s</ListMultipartUploadsResult>"
                          % body).encode())

    do_GET = do_HEAD = do_PUT = do_DELETE = do_POST = handle_one


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
