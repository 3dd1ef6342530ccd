#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2016,SC2034  # test bodies are single-quoted, eval'd later
# Purging of abandoned uploads while the server runs, with registry:2's
# storage.maintenance.uploadpurging settings (enabled, age, interval,
# dryrun), not only at start: a session abandoned after the start goes
# at the next sweep; a dry run only logs; purging can be turned off.
. "$(dirname "$0")/../lib/test-lib.sh"

# upload_there UUID: the session is in the store (registry:2's layout).
upload_there() {
	store_has "repositories/purge/me/_uploads/$1/"
}

test_expect_success CURL,REGISTRYD 'setup: purge every second, age 2 s' '
	start_registryd REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE=2s \
	    REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_INTERVAL=1s
'

test_expect_success CURL,REGISTRYD 'a session abandoned after the start is purged by a later sweep' '
	reg_curl POST /v2/purge/me/blobs/uploads/ &&
	expect_status 202 &&
	OLD=$(header Docker-Upload-UUID) &&
	OLDURL=$(url "$(header Location)") &&
	upload_there "$OLD" &&
	WAIT_SECONDS=15 wait_for eval "! upload_there $OLD" &&
	# The sweep has finished (on the loop) once it logs its count.
	WAIT_SECONDS=15 wait_for grep -q "purged [0-9]* stale upload" \
	    "$TRASH/registryd.log" &&
	reg_curl GET "$OLDURL" &&
	expect_status 404 &&
	expect_error_code BLOB_UPLOAD_UNKNOWN &&
	grep -q "purged upload purge/me/_uploads/$OLD" "$TRASH/registryd.log"
'

test_expect_success CURL,REGISTRYD 'a session in use within the age is kept' '
	reg_curl POST /v2/purge/me/blobs/uploads/ &&
	NEW=$(header Docker-Upload-UUID) &&
	NEWURL=$(url "$(header Location)") &&
	reg_curl PATCH "$NEWURL" --data-binary "abc" &&
	expect_status 202 &&
	upload_there "$NEW"
'

test_expect_success CURL,REGISTRYD 'a dry run only logs what it would purge' '
	stop_registryd &&
	start_registryd REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE=1s \
	    REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_INTERVAL=1s \
	    REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_DRYRUN=true &&
	WAIT_SECONDS=15 wait_for grep -q \
	    "would purge upload purge/me/_uploads/$NEW (dry run)" \
	    "$TRASH/registryd.log" &&
	upload_there "$NEW"
'

test_expect_success CURL,REGISTRYD 'purging turned off keeps every session' '
	stop_registryd &&
	start_registryd REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED=false \
	    REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE=1s \
	    REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_INTERVAL=1s &&
	sleep 3 &&
	upload_there "$NEW" &&
	! grep -q "ENABLED.*ignored" "$TRASH/registryd.log"
'

test_done
