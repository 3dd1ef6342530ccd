/*
 * Unit tests for sigv4.c against AWS's published S3 examples (Amazon S3
 * API Reference, "Signature Calculations for the Authorization Header:
 * Transferring Payload in a Single Chunk" and "Authenticating Requests:
 * Using Query Parameters"): bucket examplebucket, 2013-05-24 00:00:00 UTC,
 * us-east-1, the documentation's example key pair. Expected canonical
 * requests, hashes and signatures are the ones those pages print.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "../../src/sigv4.c"

#define HOST "examplebucket.s3.amazonaws.com"
#define T0   1369353600 /* 2013-05-24T00:00:00Z */

static const struct sigv4_key key = {
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "us-east-1",
    "s3",
};

static void
check(const char *what, const struct sigv4_request *r, const char *creq_want,
    const char *creq_sha, const char *sig_want)
{
	char amzdate[SIGV4_AMZDATE_LEN], hash[SIGV4_HEX_LEN];
	char sig[SIGV4_HEX_LEN], *creq, *sts, *auth, *p;

	sigv4_amzdate(T0, amzdate);
	creq = sigv4_canonical_request(r, NULL);
	ok(creq != NULL, "%s: canonical request", what);
	if (creq == NULL)
		return;
	if (creq_want != NULL)
		is_str(creq, creq_want, "%s: canonical request text", what);
	sigv4_sha256_hex(creq, strlen(creq), hash);
	is_str(hash, creq_sha, "%s: canonical request hash", what);
	sts = sigv4_string_to_sign(&key, amzdate, creq);
	ok(sts != NULL && sigv4_signature(&key, amzdate, sts, sig) == 0,
	    "%s: signed", what);
	is_str(sig, sig_want, "%s: signature", what);
	auth = sigv4_authorization(&key, r, T0);
	p = auth ? strstr(auth, "Signature=") : NULL;
	is_str(p ? p + 10 : NULL, sig_want, "%s: Authorization signature",
	    what);
	free(auth);
	free(sts);
	free(creq);
}

static void
test_get_object(void)
{
	const struct sigv4_pair h[] = {
	    {"Host", HOST},
	    {"Range", "bytes=0-9"},
	    {"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
	    {"x-amz-date", "20130524T000000Z"},
	};
	struct sigv4_request r = {"GET", "/test.txt", NULL, 0, h, 4,
	    SIGV4_EMPTY_SHA256};
	char amzdate[SIGV4_AMZDATE_LEN], *creq, *sts, *auth;

	check("GET Object", &r,
	    "GET\n"
	    "/test.txt\n"
	    "\n"
	    "host:examplebucket.s3.amazonaws.com\n"
	    "range:bytes=0-9\n"
	    "x-amz-content-sha256:"
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
	    "x-amz-date:20130524T000000Z\n"
	    "\n"
	    "host;range;x-amz-content-sha256;x-amz-date\n"
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
	    "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");

	sigv4_amzdate(T0, amzdate);
	is_str(amzdate, "20130524T000000Z", "amzdate");
	creq = sigv4_canonical_request(&r, NULL);
	sts = creq ? sigv4_string_to_sign(&key, amzdate, creq) : NULL;
	is_str(sts,
	    "AWS4-HMAC-SHA256\n"
	    "20130524T000000Z\n"
	    "20130524/us-east-1/s3/aws4_request\n"
	    "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
	    "GET Object: string to sign");
	auth = sigv4_authorization(&key, &r, T0);
	is_str(auth,
	    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
	    "us-east-1/s3/aws4_request,SignedHeaders=host;range;"
	    "x-amz-content-sha256;x-amz-date,Signature="
	    "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
	    "GET Object: Authorization header");
	free(auth);
	free(sts);
	free(creq);
}

static void
test_put_object(void)
{
	static const char body[] = "Welcome to Amazon S3.";
	char hash[SIGV4_HEX_LEN];
	/* Out of order and in mixed case on purpose: sorted by name. */
	struct sigv4_pair h[] = {
	    {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
	    {"X-Amz-Date", "20130524T000000Z"},
	    {"Host", HOST},
	    {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
	    {"x-amz-content-sha256", hash},
	};
	struct sigv4_request r = {"PUT", "/test$file.text", NULL, 0, h, 5,
	    hash};
	char *sh = NULL, *creq;

	sigv4_sha256_hex(body, strlen(body), hash);
	is_str(hash,
	    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
	    "PUT Object: payload hash");
	check("PUT Object", &r,
	    "PUT\n"
	    "/test%24file.text\n"
	    "\n"
	    "date:Fri, 24 May 2013 00:00:00 GMT\n"
	    "host:examplebucket.s3.amazonaws.com\n"
	    "x-amz-content-sha256:"
	    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
	    "x-amz-date:20130524T000000Z\n"
	    "x-amz-storage-class:REDUCED_REDUNDANCY\n"
	    "\n"
	    "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
	    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
	    "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
	    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	creq = sigv4_canonical_request(&r, &sh);
	is_str(sh,
	    "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
	    "PUT Object: signed headers");
	free(sh);
	free(creq);
}

static void
test_lifecycle(void)
{
	const struct sigv4_pair h[] = {
	    {"Host", HOST},
	    {"x-amz-date", "20130524T000000Z"},
	    {"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
	};
	/* A valueless parameter: "?lifecycle" is signed as "lifecycle=". */
	const struct sigv4_pair q[] = {{"lifecycle", NULL}};
	struct sigv4_request r = {"GET", "/", q, 1, h, 3, SIGV4_EMPTY_SHA256};

	check("GET Bucket lifecycle", &r,
	    "GET\n"
	    "/\n"
	    "lifecycle=\n"
	    "host:examplebucket.s3.amazonaws.com\n"
	    "x-amz-content-sha256:"
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
	    "x-amz-date:20130524T000000Z\n"
	    "\n"
	    "host;x-amz-content-sha256;x-amz-date\n"
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
	    "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

static void
test_list_objects(void)
{
	const struct sigv4_pair h[] = {
	    {"Host", HOST},
	    {"x-amz-date", "20130524T000000Z"},
	    {"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
	};
	/* Given out of order: the canonical query sorts them. */
	const struct sigv4_pair q[] = {{"prefix", "J"}, {"max-keys", "2"}};
	struct sigv4_request r = {"GET", "/", q, 2, h, 3, SIGV4_EMPTY_SHA256};

	check("GET Bucket (List Objects)", &r,
	    "GET\n"
	    "/\n"
	    "max-keys=2&prefix=J\n"
	    "host:examplebucket.s3.amazonaws.com\n"
	    "x-amz-content-sha256:"
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
	    "x-amz-date:20130524T000000Z\n"
	    "\n"
	    "host;x-amz-content-sha256;x-amz-date\n"
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
	    "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

static void
test_presign(void)
{
	const struct sigv4_pair h[] = {{"Host", HOST}};
	struct sigv4_request r = {"GET", "/test.txt", NULL, 0, h, 1, NULL};
	const struct sigv4_pair q[] = {
	    {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
	    {"X-Amz-Credential",
	        "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"},
	    {"X-Amz-Date", "20130524T000000Z"},
	    {"X-Amz-Expires", "86400"},
	    {"X-Amz-SignedHeaders", "host"},
	};
	struct sigv4_request cr = {"GET", "/test.txt", q, 5, h, 1,
	    SIGV4_UNSIGNED};
	char *query;

	check("presigned GET", &cr,
	    "GET\n"
	    "/test.txt\n"
	    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
	    "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&"
	    "X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
	    "X-Amz-SignedHeaders=host\n"
	    "host:examplebucket.s3.amazonaws.com\n"
	    "\n"
	    "host\n"
	    "UNSIGNED-PAYLOAD",
	    "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04",
	    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");

	query = sigv4_presign_query(&key, &r, T0, 86400);
	is_str(query,
	    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
	    "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&"
	    "X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
	    "X-Amz-SignedHeaders=host&X-Amz-Signature="
	    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
	    "presigned GET: query string");
	free(query);
}

/*
 * Where curl's own SigV4 goes wrong for S3: x-amz-copy-source-range must
 * sort after x-amz-copy-source (by name, not by "name:value"), values are
 * AWS-encoded, and parameter values sort too.
 */
static void
test_ordering(void)
{
	const struct sigv4_pair h[] = {
	    {"x-amz-copy-source-range", "bytes=0-5242879"},
	    {"x-amz-copy-source", "/b/k"},
	    {"host", "h"},
	    {"X-Amz-Meta-A", "  two   words  "},
	    {"x-amz-meta-a", "second"},
	};
	const struct sigv4_pair q[] = {
	    {"uploadId", "2~abc/def+g="},
	    {"partNumber", "10"},
	    {"a", "2"},
	    {"a", "1"},
	    {"uploads", NULL},
	    {"prefix", "x y&z\xc3\xa9"},
	};
	struct sigv4_request r = {"PUT", "/b/a b/c+d/\xc3\xa9", q, 6, h, 5,
	    SIGV4_UNSIGNED};
	char *sh = NULL, *creq, *enc;

	creq = sigv4_canonical_request(&r, &sh);
	is_str(sh,
	    "host;x-amz-copy-source;x-amz-copy-source-range;"
	    "x-amz-meta-a",
	    "signed headers sorted by name");
	is_str(creq,
	    "PUT\n"
	    "/b/a%20b/c%2Bd/%C3%A9\n"
	    "a=1&a=2&partNumber=10&prefix=x%20y%26z%C3%A9&uploadId="
	    "2~abc%2Fdef%2Bg%3D&uploads=\n"
	    "host:h\n"
	    "x-amz-copy-source:/b/k\n"
	    "x-amz-copy-source-range:bytes=0-5242879\n"
	    "x-amz-meta-a:two words,second\n"
	    "\n"
	    "host;x-amz-copy-source;x-amz-copy-source-range;x-amz-meta-a\n"
	    "UNSIGNED-PAYLOAD",
	    "canonical request: encoding and order");
	free(sh);
	free(creq);

	enc = sigv4_uri_encode("AZaz09-._~/ %!*'()", 0);
	is_str(enc, "AZaz09-._~%2F%20%25%21%2A%27%28%29", "uri encode");
	free(enc);
	enc = sigv4_uri_encode("a/b", 1);
	is_str(enc, "a/b", "uri encode keeps '/' in paths");
	free(enc);

	r.sr_path = "no-slash";
	errno = 0;
	ok(sigv4_canonical_request(&r, NULL) == NULL && errno == EINVAL,
	    "a path must start with '/'");
}

int
main(void)
{
	test_get_object();
	test_put_object();
	test_lifecycle();
	test_list_objects();
	test_presign();
	test_ordering();
	return done_testing();
}
