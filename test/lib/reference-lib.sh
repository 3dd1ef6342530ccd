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
	local f=$1
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
	# Plain HTTP to a TLS port still gets an answer (400).
	await_server "$REF_PID" "http://127.0.0.1:$REF_PORT" \
	    "$TRASH/reference.log" docker-registry && return 0
	stop_reference
	return 1
}

stop_reference() {
	[ -n "$REF_PID" ] || return 0
	stop_pid "$REF_PID"
	REF_PID=
}
test_atexit stop_reference
