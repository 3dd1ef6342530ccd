# shellcheck shell=bash disable=SC2034
# reference-lib.sh: registry:2 (Debian's docker-registry 2.8) beside the
# registryd under test, for the files that prove both read the same tree or
# the same config.yml. Source it after test-lib.sh; it stops the reference
# at exit.
#
#   reference_config ROOT [FILE]   a registry:2 config in FILE (default
#                       $TRASH/reference.yml) serving ROOT with the
#                       filesystem driver, deletes enabled, on REF_PORT
#   start_reference FILE [VAR=value...]
#                       docker-registry serve FILE with that environment,
#                       listening on 127.0.0.1:$REF_PORT whatever FILE says,
#                       with umask $REF_UMASK if set (else the caller's,
#                       which decides the modes of what it writes). Waits up
#                       to 10 s for an answer; on failure prints the tail of
#                       $TRASH/reference.log and returns 1
#   stop_reference      TERM, KILL after 10 s, reap; nothing running is fine
#
# REF_PORT is a free port chosen here; REF_PID the running reference.

REF_PID=
REF_PORT=$(free_port)

reference_config() {
	cat >"${2:-$TRASH/reference.yml}" <<-EOF
	version: 0.1
	log:
	  level: info
	storage:
	  filesystem:
	    rootdirectory: $1
	  delete:
	    enabled: true
	http:
	  addr: 127.0.0.1:$REF_PORT
	EOF
}

start_reference() {
	local f=$1 i
	shift
	stop_reference
	# 3>&-: the reference must not hold the TAP output, or prove waits
	# for it when a script dies without stopping it.
	(
		[ -z "${REF_UMASK:-}" ] || umask "$REF_UMASK"
		exec env "$@" REGISTRY_HTTP_ADDR="127.0.0.1:$REF_PORT" \
		    docker-registry serve "$f" >>"$TRASH/reference.log" 2>&1 \
		    </dev/null 3>&-
	) &
	REF_PID=$!
	for ((i = 0; i < 100; i++)); do
		kill -0 "$REF_PID" 2>/dev/null || {
			echo "docker-registry exited"
			tail -n 20 "$TRASH/reference.log"
			REF_PID=
			return 1
		}
		# Plain HTTP to a TLS port still gets an answer (400).
		registryd_is_up "http://127.0.0.1:$REF_PORT" && return 0
		sleep 0.1
	done
	echo "docker-registry did not answer within 10 s"
	tail -n 20 "$TRASH/reference.log"
	stop_reference
	return 1
}

stop_reference() {
	local i
	[ -n "$REF_PID" ] || return 0
	kill -TERM "$REF_PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$REF_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$REF_PID" 2>/dev/null
	wait "$REF_PID" 2>/dev/null
	REF_PID=
	return 0
}
test_atexit stop_reference
