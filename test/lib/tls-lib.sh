# shellcheck shell=bash disable=SC2034
# tls-lib.sh: helpers for the HTTPS, users and reverse proxy tests. Source it
# after test-lib.sh.
#
#   make_ca DIR                 a CA (DIR/ca.key, DIR/ca.crt)
#   make_cert DIR NAME SERIAL [server|client] [CA_DIR]
#                               DIR/NAME.key and DIR/NAME.crt signed by the CA
#                               of CA_DIR (default DIR), serial SERIAL (hex);
#                               a server certificate is for 127.0.0.1, ::1
#                               and localhost
#   cert_serial FILE            the serial of a PEM certificate (hex, upper)
#   server_serial [PORT]        the serial of the certificate the server on
#                               127.0.0.1:PORT presents now (a new connection)
#   htpasswd_line USER PASS     an htpasswd line made by `registryd passwd`
#                               (cost $PASSWD_COST, default 4: fast tests)
#   make_htpasswd FILE USER:PASS...
#   tls_section CERT KEY [extra lines...]   a [tls] section for REG_EXTRA
#   auth_section HTPASSWD [extra lines...]  an [auth] section for REG_EXTRA
#   use_tls                     BASE becomes https://127.0.0.1:PORT, curl
#                               trusts $CERTS/ca.crt (CURL_CA_BUNDLE): every
#                               reg_curl verifies the certificate
#   as_user USER:PASS CMD...    run CMD (reg_curl, push_blob, ...) with curl
#                               sending these credentials
#   tls_probe [s_client args]   one openssl s_client handshake with
#                               127.0.0.1:$PORT, output in $TRASH/s_client.out
#   wait_log ERE                wait (bounded) for a server log line
#   start_nginx CONF / stop_nginx
#
# Prerequisites added: OPENSSL (openssl), NGINX (nginx); both are tools, so
# under CI=true their absence is a failure.

CERTS="$TRASH/certs"
PASSWD_COST=${PASSWD_COST:-4}

# Add our prerequisites in front of test-lib's.
eval "tls_lib_orig_prereq_check() $(declare -f prereq_check | tail -n +2)"
prereq_check() {
	case "$1" in
	OPENSSL) command -v openssl >/dev/null ;;
	NGINX)	command -v nginx >/dev/null ||
		    [ -x /usr/sbin/nginx ] ;;
	*)	tls_lib_orig_prereq_check "$1" ;;
	esac
}

# ------------------------------------------------------------ certificates

make_ca() {
	local dir=$1
	mkdir -p "$dir" &&
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 2 -sha256 \
	    -subj "/CN=registryd test CA $$" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$dir/openssl.err"
}

make_cert() {
	local dir=$1 name=$2 serial=$3 kind=${4:-server} cadir=${5:-$1}
	local ext="$dir/$name.ext"
	if [ "$kind" = server ]; then
		printf '%s\n' "basicConstraints=critical,CA:FALSE" \
		    "keyUsage=critical,digitalSignature,keyEncipherment" \
		    "extendedKeyUsage=serverAuth" \
		    "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" >"$ext"
	else
		printf '%s\n' "basicConstraints=critical,CA:FALSE" \
		    "keyUsage=critical,digitalSignature" \
		    "extendedKeyUsage=clientAuth" >"$ext"
	fi
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -keyout "$dir/$name.key" -out "$dir/$name.csr" \
	    -subj "/CN=${name}" 2>>"$dir/openssl.err" &&
	openssl x509 -req -in "$dir/$name.csr" -CA "$cadir/ca.crt" \
	    -CAkey "$cadir/ca.key" -set_serial "0x$serial" -days 2 -sha256 \
	    -extfile "$ext" -out "$dir/$name.crt" 2>>"$dir/openssl.err"
}

cert_serial() {
	openssl x509 -noout -serial -in "$1" | sed 's/^serial=//'
}

server_serial() {
	timeout 10 openssl s_client -connect "127.0.0.1:${1:-$PORT}" \
	    -servername localhost </dev/null 2>/dev/null |
	    openssl x509 -noout -serial | sed 's/^serial=//'
}

# tls_probe [args]: one handshake; 0 when it succeeded (a cipher was
# negotiated). The output is in $TRASH/s_client.out.
tls_probe() {
	timeout 10 openssl s_client -connect "127.0.0.1:$PORT" \
	    -servername localhost -CAfile "$CERTS/ca.crt" "$@" \
	    </dev/null >"$TRASH/s_client.out" 2>&1
	local rc=$?
	cat "$TRASH/s_client.out"
	[ "$rc" = 0 ] || return 1
	grep -Eq '^(New|Reused), TLSv' "$TRASH/s_client.out" &&
	! grep -q 'Cipher is (NONE)' "$TRASH/s_client.out"
}

# --------------------------------------------------------------- users

htpasswd_line() {
	printf '%s\n' "$2" | "$REGISTRYD" passwd -C "$PASSWD_COST" "$1"
}

make_htpasswd() {
	local f=$1 up
	shift
	: >"$f" || return 1
	for up in "$@"; do
		htpasswd_line "${up%%:*}" "${up#*:}" >>"$f" || return 1
	done
}

# ------------------------------------------------------------ config

# tls_section CERT KEY [line...]
tls_section() {
	printf '\n[tls]\ncertificate = %s\nkey = %s\n' "$1" "$2"
	shift 2
	[ $# = 0 ] || printf '%s\n' "$@"
}

# auth_section HTPASSWD [line...]
auth_section() {
	printf '\n[auth]\nhtpasswd = %s\n' "$1"
	shift
	[ $# = 0 ] || printf '%s\n' "$@"
}

# use_tls: talk HTTPS to the server, verifying against $CERTS/ca.crt. The
# start check keeps plain HTTP (the TLS port answers it with 400), so a
# server that wants client certificates is seen as up too.
use_tls() {
	BASE="https://127.0.0.1:$PORT"
	START_BASE="http://127.0.0.1:$PORT"
	export CURL_CA_BUNDLE="$CERTS/ca.crt"
}

# as_user USER:PASS command...: the command's curl calls send these
# credentials (through a curlrc: reg_curl and push_blob take no -u).
as_user() {
	local up=$1 d
	shift
	d="$TRASH/.curl-home.${up%%:*}"
	mkdir -p "$d" &&
	printf 'user = "%s"\n' "$up" >"$d/.curlrc" || return 1
	CURL_HOME="$d" "$@"
}

# wait_log ERE: wait up to $WAIT_SECONDS (10) for a line of the server log.
wait_log() {
	wait_for grep -Eq -- "$1" "$TRASH/registryd.log"
}

# ------------------------------------------------------------ nginx

NGINX_PID=
NGINX_DIR="$TRASH/nginx"

nginx_bin() {
	command -v nginx 2>/dev/null || echo /usr/sbin/nginx
}

# start_nginx PORT: run nginx (not daemonized) with $NGINX_DIR/nginx.conf,
# prefix, pid and logs in $NGINX_DIR; wait until PORT accepts connections.
start_nginx() {
	local port=$1 i
	mkdir -p "$NGINX_DIR/tmp" || return 1
	if ! "$(nginx_bin)" -t -p "$NGINX_DIR/" -c nginx.conf -e error.log \
	    >"$NGINX_DIR/configtest.log" 2>&1; then
		cat "$NGINX_DIR/configtest.log"
		return 1
	fi
	"$(nginx_bin)" -p "$NGINX_DIR/" -c nginx.conf -e error.log \
	    -g 'daemon off;' >>"$NGINX_DIR/stderr.log" 2>&1 </dev/null &
	NGINX_PID=$!
	for ((i = 0; i < 100; i++)); do
		kill -0 "$NGINX_PID" 2>/dev/null || {
			echo "nginx exited"; cat "$NGINX_DIR/stderr.log" "$NGINX_DIR/error.log"
			NGINX_PID=; return 1; }
		python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' \
		    "$port" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nginx did not listen within 10 s"
	stop_nginx
	return 1
}

stop_nginx() {
	local kids k
	[ -n "$NGINX_PID" ] || return 0
	kids=$(pgrep -P "$NGINX_PID" 2>/dev/null)
	stop_pid "$NGINX_PID"
	# Workers normally leave with the master.
	for k in $kids; do
		kill -0 "$k" 2>/dev/null && kill -KILL "$k" 2>/dev/null
	done
	NGINX_PID=
	return 0
}

# test_log_more ERE N: the server log has more than N lines matching ERE
# (for wait_for after a signal: count before, wait for one more).
test_log_more() {
	test "$(grep -Ec -- "$1" "$TRASH/registryd.log")" -gt "$2"
}

# log_count ERE: how many server log lines match (0 is no error).
log_count() {
	grep -Ec -- "$1" "$TRASH/registryd.log" || true
}

# test_size_above FILE BYTES: FILE exists and is larger than BYTES.
test_size_above() {
	[ -f "$1" ] && [ "$(wc -c <"$1")" -gt "$2" ]
}
