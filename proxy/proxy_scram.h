/*
 * proxy_scram.h
 *	  SCRAM-SHA-256 (RFC 5802, RFC 7677) and PostgreSQL md5 password math,
 *	  both sides, with OpenSSL primitives.  No sockets, no event loop.
 *
 * INTERFACE ROUTINES
 *	proxy_scram_parse_verifier	- split "SCRAM-SHA-256$iter:salt$StoredKey:ServerKey"
 *	proxy_scram_server_first	- answer a client-first-message
 *	proxy_scram_server_final	- check a client-final-message; yields ClientKey
 *	proxy_scram_client_first / proxy_scram_client_final / proxy_scram_client_check
 *								- the client side, driven by a ClientKey
 *	proxy_scram_salted_password	- Hi() (tests and verifier creation)
 *	proxy_scram_make_verifier	- a verifier for a password, as pg_authid keeps it
 *	proxy_md5_response			- "md5" + md5(md5hex(password+user) + salt)
 *
 * The node never sees a password: it checks the client's proof against the
 * StoredKey of the role's verifier, recovers ClientKey = proof XOR
 * HMAC(StoredKey, AuthMessage), and uses that ClientKey to log in to the
 * local server as the same role (the same verifier, so the same salt).
 * All strings are NUL-terminated; every buffer is the caller's.
 */
#ifndef PROXY_SCRAM_H
#define PROXY_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROXY_SCRAM_KEY_LEN		32	/* SHA-256 */
#define PROXY_SCRAM_NONCE_LEN	18	/* raw bytes, as PostgreSQL */
#define PROXY_SCRAM_SALT_MAX	64	/* raw bytes */
#define PROXY_SCRAM_MSG_MAX		1024
#define PROXY_SCRAM_ITER_MAX	(1 << 22)
#define PROXY_MD5_VERIFIER_LEN	35	/* "md5" + 32 hex */
#define PROXY_SCRAM_MECHANISM	"SCRAM-SHA-256"
#define PROXY_SCRAM_ITER_DEFAULT 4096	/* PostgreSQL's scram_iterations */
#define PROXY_SCRAM_SALT_LEN_DEFAULT 16	/* PostgreSQL's SCRAM_DEFAULT_SALT_LEN */

struct proxy_scram_verifier
{
	int			iterations;
	uint8_t		salt[PROXY_SCRAM_SALT_MAX];
	size_t		salt_len;
	uint8_t		stored_key[PROXY_SCRAM_KEY_LEN];
	uint8_t		server_key[PROXY_SCRAM_KEY_LEN];
};

/* Server side of one exchange. */
struct proxy_scram_server
{
	struct proxy_scram_verifier v;
	char		client_first_bare[PROXY_SCRAM_MSG_MAX];
	char		server_first[PROXY_SCRAM_MSG_MAX];
	char		cbind_header_b64[16];	/* "biws" or "eSws" */
	char		nonce[PROXY_SCRAM_MSG_MAX];	/* client nonce + server nonce */
};

/* Client side of one exchange (towards the local server). */
struct proxy_scram_client
{
	uint8_t		client_key[PROXY_SCRAM_KEY_LEN];
	uint8_t		server_key[PROXY_SCRAM_KEY_LEN];	/* 0s: not checked */
	bool		check_server;
	char		client_nonce[64];
	char		client_first_bare[PROXY_SCRAM_MSG_MAX];
	char		auth_message[3 * PROXY_SCRAM_MSG_MAX];
	uint8_t		expected_server_sig[PROXY_SCRAM_KEY_LEN];
};

/* Returns false when text is not a SCRAM-SHA-256 verifier. */
bool		proxy_scram_parse_verifier(const char *text,
									   struct proxy_scram_verifier *v);

/*
 * Takes the client-first-message (data of SASLInitialResponse); fills
 * out (the server-first-message).  server_nonce: printable, from
 * proxy_scram_make_nonce (tests pass fixed ones).  Returns 0 or -1 with err.
 */
int			proxy_scram_server_first(struct proxy_scram_server *s,
									 const char *client_first,
									 const char *server_nonce,
									 char *out, size_t outlen,
									 char *err, size_t errlen);

/*
 * Takes the client-final-message; on a valid proof fills out with the
 * server-final-message and client_key, returns 0.  Returns -1 (wrong
 * password) or -2 (malformed message) with err.
 */
int			proxy_scram_server_final(struct proxy_scram_server *s,
									 const char *client_final,
									 char *out, size_t outlen,
									 uint8_t client_key[PROXY_SCRAM_KEY_LEN],
									 char *err, size_t errlen);

/* Client side: nonce as above. */
void		proxy_scram_client_first(struct proxy_scram_client *c,
									 const char *nonce,
									 char *out, size_t outlen);
int			proxy_scram_client_final(struct proxy_scram_client *c,
									 const char *server_first,
									 char *out, size_t outlen);
/* Check the server-final-message: 0 when the server proved itself. */
int			proxy_scram_client_check(struct proxy_scram_client *c,
									 const char *server_final);

void		proxy_scram_salted_password(const char *password, const uint8_t *salt,
										size_t salt_len, int iterations,
										uint8_t out[PROXY_SCRAM_KEY_LEN]);
/* ClientKey and ServerKey from a salted password. */
void		proxy_scram_keys(const uint8_t salted[PROXY_SCRAM_KEY_LEN],
							 uint8_t client_key[PROXY_SCRAM_KEY_LEN],
							 uint8_t stored_key[PROXY_SCRAM_KEY_LEN],
							 uint8_t server_key[PROXY_SCRAM_KEY_LEN]);

/*
 * md5 authentication: verifier is "md5" + md5hex(password + user) as
 * pg_authid stores it; out gets "md5" + md5hex(verifier[3..] + salt).
 */
void		proxy_md5_response(const char *verifier, const uint8_t salt[4],
							   char out[PROXY_MD5_VERIFIER_LEN + 1]);
bool		proxy_md5_is_verifier(const char *text);
/*
 * A new verifier "SCRAM-SHA-256$4096:salt$StoredKey:ServerKey" for
 * password (random salt), as PostgreSQL stores it.  -1 when the password
 * is not ASCII (PostgreSQL would SASLprep it) or out is too small.
 */
int			proxy_scram_make_verifier(const char *password, char *out, size_t outlen);
/* A fresh random nonce (base64 of PROXY_SCRAM_NONCE_LEN bytes); -1 on failure. */
int			proxy_scram_make_nonce(char *out, size_t outlen);
/* A verifier that no password matches (unknown roles still run SCRAM). */
void		proxy_scram_fake_verifier(const char *user, struct proxy_scram_verifier *v);

/* base64 as RFC 4648 (no line breaks); return output length or -1. */
int			proxy_b64_encode(const uint8_t *in, size_t len, char *out, size_t outlen);
int			proxy_b64_decode(const char *in, size_t len, uint8_t *out, size_t outlen);

#endif							/* PROXY_SCRAM_H */
