#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# The HTTP/1.1 layer: limits, HEAD, keep-alive, pipelining, framing errors,
# early replies, the absolute header deadline.
. "$(dirname "$0")/../lib/test-lib.sh"

LIBPY="$TEST_DIRECTORY/integ/lib-py"	# httpsock.py for the inline Python

# req FILE 'line' 'line' ...: write an HTTP request head (CRLF lines and the
# empty line) to FILE.
req() {
	local f=$1
	shift
	: >"$f"
	for l in "$@"; do printf '%s\r\n' "$l" >>"$f"; done
	printf '\r\n' >>"$f"
}

test_expect_success CURL,PYTHON3 'setup' '
	REG_HTTP_EXTRA="header_timeout = 2" &&
	write_config &&
	start_registryd &&
	random_file blob 10000 &&
	push_blob http/x blob &&
	DB=$(sha256_of blob)
'

test_expect_success CURL,REGISTRYD 'headers over 64 KiB: 431' '
	big=$(head -c 70000 /dev/zero | tr "\0" a) &&
	reg_curl GET /v2/ -H "X-Big: $big" &&
	expect_status 431
'

test_expect_success CURL,REGISTRYD 'more than 100 header lines: 431' '
	hs=() &&
	for i in $(seq 120); do hs+=(-H "X-H$i: v"); done &&
	reg_curl GET /v2/ "${hs[@]}" &&
	expect_status 431
'

test_expect_success CURL,REGISTRYD 'a URL over 8 KiB: 414' '
	long=$(head -c 9000 /dev/zero | tr "\0" a) &&
	reg_curl GET "/v2/$long/tags/list" &&
	expect_status 414
'

test_expect_success CURL 'the server still answers after rejected requests' '
	reg_curl GET /v2/ &&
	expect_status 200
'

test_expect_success PYTHON3 'HEAD has headers but no body; the next request follows at once' '
	{ req r1 "HEAD /v2/http/x/blobs/$DB HTTP/1.1" "Host: t" &&
	  req r2 "GET /v2/ HTTP/1.1" "Host: t" "Connection: close" &&
	  cat r1 r2; } >pipe &&
	raw_http pipe >resp &&
	cat resp &&
	printf "200\n200\n" >want &&
	status_lines resp >got &&
	cmp want got &&
	tr -d "\r" <resp | grep -aqi "^content-length: 10000$" &&
	tr -d "\r" <resp | awk "/^\$/ { getline; print; exit }" | grep -aq "^HTTP/1.1 200"
'

test_expect_success PYTHON3 'pipelined requests are answered in order' '
	{ req a "GET /v2/ HTTP/1.1" "Host: t" &&
	  req b "GET /v2/http/x/manifests/nope HTTP/1.1" "Host: t" &&
	  req c "GET /v2/http/x/blobs/$DB HTTP/1.1" "Host: t" &&
	  req d "GET /v2/nothing/tags/list HTTP/1.1" "Host: t" "Connection: close" &&
	  cat a b c d; } >pipe &&
	raw_http pipe >resp 2>err &&
	cat err &&
	status_lines resp >got &&
	printf "200\n404\n200\n404\n" >want &&
	cmp want got &&
	grep -q "closed" err
'

test_expect_success PYTHON3 'repeated header lines (three Accept lines, as skopeo sends)' '
	req a "GET /v2/http/x/manifests/nope HTTP/1.1" "Host: t" \
	    "Accept: $MT_OCI_MANIFEST" "Accept: $MT_DOCKER_MANIFEST" \
	    "Accept: $MT_OCI_INDEX" "Accept: $MT_DOCKER_LIST" \
	    "Connection: close" &&
	raw_http a >resp &&
	test "$(status_lines resp | head -n 1)" = 404 &&
	registryd_is_up
'

test_expect_success PYTHON3 'keep-alive: the connection stays open without Connection: close' '
	req a "GET /v2/ HTTP/1.1" "Host: t" &&
	raw_http a 2 >resp 2>err &&
	status_lines resp >got &&
	echo 200 >want && cmp want got &&
	grep -q "# idle" err
'

test_expect_success PYTHON3 'HTTP/1.0 without keep-alive is closed after the reply' '
	req a "GET /v2/ HTTP/1.0" &&
	raw_http a 5 >resp 2>err &&
	status_lines resp >got &&
	echo 200 >want && cmp want got &&
	grep -q "closed" err
'

test_expect_success PYTHON3,REGISTRYD 'Content-Length together with Transfer-Encoding: 400' '
	upload_start http/te &&
	path=${UPLOAD#$BASE} &&
	{ req a "PATCH $path HTTP/1.1" "Host: t" "Content-Length: 5" \
	    "Transfer-Encoding: chunked" "Connection: close" &&
	  printf "5\r\nhello\r\n0\r\n\r\n" >>a; } &&
	raw_http a >resp &&
	test "$(status_lines resp | head -n 1)" = 400
'

test_expect_success PYTHON3,REGISTRYD 'invalid chunked encoding: 400' '
	upload_start http/chunk &&
	path=${UPLOAD#$BASE} &&
	{ req a "PATCH $path HTTP/1.1" "Host: t" "Transfer-Encoding: chunked" \
	    "Connection: close" &&
	  printf "zz\r\nhello\r\n0\r\n\r\n" >>a; } &&
	raw_http a >resp &&
	test "$(status_lines resp | head -n 1)" = 400
'

test_expect_success PYTHON3 'a request line that is not HTTP: 400' '
	printf "HELLO\r\n\r\n" >a &&
	raw_http a >resp &&
	test "$(status_lines resp | head -n 1)" = 400
'

test_expect_success PYTHON3,REGISTRYD 'an early reply does not let the body be parsed as a request' '
	printf "GET /v2/ HTTP/1.1\r\nHost: t\r\n\r\n" >body &&
	{ req a "PATCH /v2/http/x/blobs/uploads/00000000-0000-4000-8000-000000000000 HTTP/1.1" \
	    "Host: t" "Content-Length: $(size_of body)" &&
	  cat body >>a &&
	  req b "GET /v2/nothing/tags/list HTTP/1.1" "Host: t" "Connection: close" &&
	  cat b >>a; } &&
	raw_http a >resp &&
	cat resp &&
	status_lines resp >got &&
	test "$(head -n 1 got)" = 404 &&
	! grep -qx 200 got
'

test_expect_success CURL,REGISTRYD 'an early error with a large body still reaches the client' '
	random_file big 3000000 &&
	reg_curl PUT "/v2/http/x/blobs/uploads/00000000-0000-4000-8000-000000000000?digest=$DB" \
	    -H "Content-Type: application/octet-stream" -H "Expect:" --data-binary @big &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN
'

test_expect_success PYTHON3,REGISTRYD 'a one-byte-per-second header sender is cut after header_timeout' '
	req a "GET /v2/ HTTP/1.1" "Host: t" "User-Agent: slowloris-test-client" \
	    "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" &&
	raw_http a 2 0.25 >resp 2>err &&
	cat err &&
	grep -q "^# cut after" err &&
	s=$(sed -n "s/^# cut after \([0-9.]*\) s.*/\1/p" err) &&
	awk -v s="$s" "BEGIN { exit !(s >= 1.5 && s <= 6) }" &&
	! status_lines resp | grep -qx 200
'

test_expect_success PYTHON3,REGISTRYD 'a slow but moving body is not cut by header_timeout' '
	upload_start http/slow &&
	path=${UPLOAD#$BASE} &&
	PYTHONPATH=$LIBPY python3 - "$PORT" "$path" >resp <<-EOF &&
	import sys, time
	import httpsock
	s = httpsock.connect(int(sys.argv[1]))
	s.sendall(("PATCH %s HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n"
	           "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n" % sys.argv[2]).encode())
	for i in range(5):
	    time.sleep(0.8)
	    s.sendall(b"x" * 1000)
	out = httpsock.read_to_eof(s)
	sys.stdout.buffer.write(out)
	EOF
	cat resp &&
	test "$(status_lines resp | head -n 1)" = 202 &&
	tr -d "\r" <resp | grep -qi "^range: 0-4999$"
'

test_expect_success CURL 'the server is still healthy' '
	reg_curl GET "/v2/http/x/blobs/$DB" &&
	expect_status 200 &&
	expect_body_file blob
'

# A client that half-closes after its request (shutdown(SHUT_WR)) gets the
# whole answer, also when its EOF arrives while the last bytes of a large
# one are still queued (the connection reads while they drain).
test_expect_success CURL,PYTHON3 'a half-closed client gets all of a large blob' '
	random_file big 8000000 &&
	push_blob http/big big &&
	PYTHONPATH=$LIBPY python3 - "$PORT" "/v2/http/big/blobs/$(sha256_of big)" big <<-EOF
	import socket, sys, time
	import httpsock
	s = httpsock.connect(int(sys.argv[1]))
	s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % sys.argv[2]).encode())
	s.shutdown(socket.SHUT_WR)
	time.sleep(0.5)
	out = httpsock.read_to_eof(s)
	head, _, body = out.partition(b"\r\n\r\n")
	print("# " + head.split(b"\r\n")[0].decode() + ", %d body bytes" % len(body))
	assert head.startswith(b"HTTP/1.1 200 ")
	assert body == open(sys.argv[3], "rb").read()
	EOF
'

# A reply goes out on the loop turn after it is queued. Until then the
# connection keeps reading (it has nothing else to wait for), rather than
# turning reads off and on around each answer: two epoll_ctl calls per
# request (adding and removing the write event), not four. And one readv:
# the server does not try a second read when the first took all there was.
# Skipped where ptrace is not allowed.
test_expect_success PYTHON3,REGISTRYD 'keep-alive requests cost two epoll_ctl calls and one readv each' '
	if ! strace -qq -o /dev/null true 2>/dev/null; then
		say "# no strace here"
		return 0
	fi
	strace -f -qq -e trace=epoll_ctl,readv -o epoll.trace -p "$REG_PID" 2>/dev/null &
	st=$! &&
	sleep 0.5 &&
	python3 - "$PORT" <<-EOF &&
	import http.client, sys
	c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
	for _ in range(200):
	    c.request("GET", "/v2/")
	    r = c.getresponse(); r.read()
	    assert r.status == 200
	EOF
	sleep 0.3 &&
	kill -INT $st && wait $st;
	n=$(grep -c epoll_ctl epoll.trace) &&
	r=$(grep -c readv epoll.trace) &&
	say "# $n epoll_ctl and $r readv calls for 200 requests" &&
	test "$n" -le 440 &&
	test "$r" -le 220
'

# While the last bytes of a reply drain, the connection reads (above), but
# no read timeout applies: over plain TCP a blob is queued whole
# (sendfile), and a slow client may take longer than idle_timeout to fetch
# it. Only the write timeout may cut it.
test_expect_success PYTHON3,REGISTRYD 'a download slower than idle_timeout is not cut' '
	stop_registryd &&
	REG_HTTP_EXTRA="idle_timeout = 1" &&
	write_config &&
	start_registryd &&
	python3 - "$PORT" "/v2/http/big/blobs/$(sha256_of big)" big <<-EOF
	import socket, sys, time
	s = socket.socket()
	s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 262144)
	s.settimeout(10)
	s.connect(("127.0.0.1", int(sys.argv[1])))
	s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % sys.argv[2]).encode())
	want = open(sys.argv[3], "rb").read()
	out = b""
	t0 = time.time()
	while True:
	    time.sleep(0.1)
	    b = s.recv(262144)
	    if not b:
	        break
	    out += b
	    head, _, body = out.partition(b"\r\n\r\n")
	    if len(body) >= len(want):
	        break
	print("# %d body bytes in %.1f s" % (len(body), time.time() - t0))
	assert head.startswith(b"HTTP/1.1 200 ")
	assert body == want
	EOF
'

test_done
