/*
 * test_proxy_scram.c
 *	  Proves the SCRAM-SHA-256 server side against the RFC 7677 example
 *	  exchange byte for byte, that the ClientKey it recovers from the proof
 *	  is the real one (so the node can log in to the local server with it),
 *	  that our client side and server side agree and each rejects a wrong
 *	  key, that verifiers in pg_authid's format parse, and md5 responses.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/proxy_scram.h"

#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SERVER_FIRST "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
	"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
	"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* The verifier of "pencil" with the RFC's salt, as pg_authid would hold it. */
static void
rfc_verifier(struct proxy_scram_verifier *v, uint8_t client_key[PROXY_SCRAM_KEY_LEN])
{
	uint8_t		salted[PROXY_SCRAM_KEY_LEN];
	char		text[256],
				salt[64],
				stored[64],
				server[64];

	memset(v, 0, sizeof(*v));
	v->iterations = 4096;
	v->salt_len = (size_t) proxy_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, v->salt, sizeof(v->salt));
	assert_int_equal(v->salt_len, 16);
	proxy_scram_salted_password("pencil", v->salt, v->salt_len, 4096, salted);
	proxy_scram_keys(salted, client_key, v->stored_key, v->server_key);
	/* round trip through the text form */
	proxy_b64_encode(v->salt, v->salt_len, salt, sizeof(salt));
	proxy_b64_encode(v->stored_key, 32, stored, sizeof(stored));
	proxy_b64_encode(v->server_key, 32, server, sizeof(server));
	snprintf(text, sizeof(text), "SCRAM-SHA-256$4096:%s$%s:%s", salt, stored, server);
	assert_true(proxy_scram_parse_verifier(text, v));
	assert_int_equal(v->iterations, 4096);
}

static void
test_rfc7677_server(void **state)
{
	struct proxy_scram_server s;
	uint8_t		client_key[PROXY_SCRAM_KEY_LEN],
				recovered[PROXY_SCRAM_KEY_LEN];
	char		out[PROXY_SCRAM_MSG_MAX],
				err[256];

	memset(&s, 0, sizeof(s));
	rfc_verifier(&s.v, client_key);
	assert_int_equal(proxy_scram_server_first(&s, RFC_CLIENT_FIRST, RFC_SERVER_NONCE,
											  out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, RFC_SERVER_FIRST);
	assert_int_equal(proxy_scram_server_final(&s, RFC_CLIENT_FINAL, out, sizeof(out),
											  recovered, err, sizeof(err)), 0);
	assert_string_equal(out, RFC_SERVER_FINAL);
	assert_memory_equal(recovered, client_key, PROXY_SCRAM_KEY_LEN);
}

static void
test_rfc7677_wrong_proof(void **state)
{
	struct proxy_scram_server s;
	uint8_t		client_key[PROXY_SCRAM_KEY_LEN];
	char		out[PROXY_SCRAM_MSG_MAX],
				err[256],
				bad[] = RFC_CLIENT_FINAL;

	memset(&s, 0, sizeof(s));
	rfc_verifier(&s.v, client_key);
	assert_int_equal(proxy_scram_server_first(&s, RFC_CLIENT_FIRST, RFC_SERVER_NONCE,
											  out, sizeof(out), err, sizeof(err)), 0);
	bad[strlen(bad) - 5] ^= 1;	/* flip a bit of the proof */
	assert_int_equal(proxy_scram_server_final(&s, bad, out, sizeof(out), client_key,
											  err, sizeof(err)), -1);
	/* malformed messages are -2, not a wrong password */
	assert_int_equal(proxy_scram_server_final(&s, "c=biws,r=x", out, sizeof(out), client_key,
											  err, sizeof(err)), -2);
	assert_int_equal(proxy_scram_server_first(&s, "p=tls-server-end-point,,n=,r=x", "n",
											  out, sizeof(out), err, sizeof(err)), -1);
}

static void
test_client_against_server(void **state)
{
	struct proxy_scram_server s;
	struct proxy_scram_client c;
	uint8_t		client_key[PROXY_SCRAM_KEY_LEN],
				recovered[PROXY_SCRAM_KEY_LEN];
	char		m1[PROXY_SCRAM_MSG_MAX],
				m2[PROXY_SCRAM_MSG_MAX],
				m3[PROXY_SCRAM_MSG_MAX],
				m4[PROXY_SCRAM_MSG_MAX],
				err[256];

	for (int wrong = 0; wrong < 2; wrong++)
	{
		memset(&s, 0, sizeof(s));
		memset(&c, 0, sizeof(c));
		rfc_verifier(&s.v, client_key);
		memcpy(c.client_key, client_key, sizeof(client_key));
		c.client_key[0] ^= (uint8_t) wrong;
		memcpy(c.server_key, s.v.server_key, sizeof(c.server_key));
		c.check_server = true;
		proxy_scram_client_first(&c, "clientnonce", m1, sizeof(m1));
		assert_int_equal(proxy_scram_server_first(&s, m1, "servernonce", m2, sizeof(m2),
												  err, sizeof(err)), 0);
		assert_int_equal(proxy_scram_client_final(&c, m2, m3, sizeof(m3)), 0);
		assert_int_equal(proxy_scram_server_final(&s, m3, m4, sizeof(m4), recovered,
												  err, sizeof(err)), wrong ? -1 : 0);
		if (!wrong)
			assert_int_equal(proxy_scram_client_check(&c, m4), 0);
	}
	assert_int_equal(proxy_scram_client_check(&c, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="), -1);
	/* a server nonce that does not extend ours is refused */
	assert_int_equal(proxy_scram_client_final(&c, "r=other,s=AAAA,i=4096", m3, sizeof(m3)), -1);
}

static void
test_verifier_parse(void **state)
{
	struct proxy_scram_verifier v;

	assert_false(proxy_scram_parse_verifier("md50086326a4e70ca48d727b2699b1546ce", &v));
	assert_false(proxy_scram_parse_verifier("SCRAM-SHA-256$0:AAAA$AAAA:AAAA", &v));
	assert_false(proxy_scram_parse_verifier("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$short:short", &v));
}

/* A made verifier parses, and its keys are those of the password and salt. */
static void
test_make_verifier(void **state)
{
	struct proxy_scram_verifier v;
	uint8_t		salted[PROXY_SCRAM_KEY_LEN],
				ck[PROXY_SCRAM_KEY_LEN],
				sk[PROXY_SCRAM_KEY_LEN],
				svk[PROXY_SCRAM_KEY_LEN];
	char		a[256],
				b[256];

	assert_int_equal(proxy_scram_make_verifier("pencil it's", a, sizeof(a)), 0);
	assert_int_equal(proxy_scram_make_verifier("pencil it's", b, sizeof(b)), 0);
	assert_string_not_equal(a, b);	/* a fresh salt each time */
	assert_true(proxy_scram_parse_verifier(a, &v));
	assert_int_equal(v.iterations, 4096);
	assert_int_equal(v.salt_len, 16);
	proxy_scram_salted_password("pencil it's", v.salt, v.salt_len, v.iterations, salted);
	proxy_scram_keys(salted, ck, sk, svk);
	assert_memory_equal(sk, v.stored_key, PROXY_SCRAM_KEY_LEN);
	assert_memory_equal(svk, v.server_key, PROXY_SCRAM_KEY_LEN);
	assert_int_equal(proxy_scram_make_verifier("caf\xc3\xa9", a, sizeof(a)), -1);	/* not ASCII */
	assert_int_equal(proxy_scram_make_verifier("x", a, 20), -1);	/* too small */
}

static void
test_md5(void **state)
{
	static const uint8_t salt[4] = {1, 2, 3, 4};
	char		out[PROXY_MD5_VERIFIER_LEN + 1];

	/* "md5" + md5("bpw" "bob"), and the answer to salt 01020304 (from Python's hashlib) */
	assert_true(proxy_md5_is_verifier("md50086326a4e70ca48d727b2699b1546ce"));
	assert_false(proxy_md5_is_verifier("md5XYZ"));
	proxy_md5_response("md50086326a4e70ca48d727b2699b1546ce", salt, out);
	assert_string_equal(out, "md5a151c9ea5a7aec38ffff33879a4f1a88");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7677_server),
		cmocka_unit_test(test_rfc7677_wrong_proof),
		cmocka_unit_test(test_client_against_server),
		cmocka_unit_test(test_verifier_parse),
		cmocka_unit_test(test_make_verifier),
		cmocka_unit_test(test_md5),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
