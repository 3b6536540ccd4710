/*
 * proxy_scram.c
 *	  SCRAM-SHA-256 and md5 password math.  See proxy_scram.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "common/pgq_assert.h"
#include "proxy/proxy_scram.h"

int
proxy_b64_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	if (outlen < 4 * ((len + 2) / 3) + 1)
		return -1;
	return EVP_EncodeBlock((unsigned char *) out, in, (int) len);
}

int
proxy_b64_decode(const char *in, size_t len, uint8_t *out, size_t outlen)
{
	uint8_t		tmp[PROXY_SCRAM_MSG_MAX];
	int			n;
	size_t		pad = 0;

	if (len % 4 != 0 || len / 4 * 3 > sizeof(tmp))
		return -1;
	n = EVP_DecodeBlock(tmp, (const unsigned char *) in, (int) len);
	if (n < 0)
		return -1;
	while (pad < 2 && len > pad && in[len - 1 - pad] == '=')
		pad++;
	n -= (int) pad;
	if ((size_t) n > outlen)
		return -1;
	memcpy(out, tmp, (size_t) n);
	return n;
}

static void
hmac(const uint8_t *key, size_t keylen, const void *data, size_t len,
	 uint8_t out[PROXY_SCRAM_KEY_LEN])
{
	unsigned int olen = PROXY_SCRAM_KEY_LEN;

	PGQ_ASSERT(HMAC(EVP_sha256(), key, (int) keylen, data, len, out, &olen) != NULL);
}

void
proxy_scram_salted_password(const char *password, const uint8_t *salt, size_t salt_len,
							int iterations, uint8_t out[PROXY_SCRAM_KEY_LEN])
{
	PGQ_ASSERT(PKCS5_PBKDF2_HMAC(password, (int) strlen(password), salt, (int) salt_len,
								 iterations, EVP_sha256(), PROXY_SCRAM_KEY_LEN, out) == 1);
}

void
proxy_scram_keys(const uint8_t salted[PROXY_SCRAM_KEY_LEN],
				 uint8_t client_key[PROXY_SCRAM_KEY_LEN],
				 uint8_t stored_key[PROXY_SCRAM_KEY_LEN],
				 uint8_t server_key[PROXY_SCRAM_KEY_LEN])
{
	hmac(salted, PROXY_SCRAM_KEY_LEN, "Client Key", 10, client_key);
	SHA256(client_key, PROXY_SCRAM_KEY_LEN, stored_key);
	hmac(salted, PROXY_SCRAM_KEY_LEN, "Server Key", 10, server_key);
}

int
proxy_scram_make_verifier(const char *password, char *out, size_t outlen)
{
	uint8_t		salt[PROXY_SCRAM_SALT_LEN_DEFAULT];
	uint8_t		salted[PROXY_SCRAM_KEY_LEN],
				client_key[PROXY_SCRAM_KEY_LEN],
				stored_key[PROXY_SCRAM_KEY_LEN],
				server_key[PROXY_SCRAM_KEY_LEN];
	char		salt_b64[64],
				stored_b64[64],
				server_b64[64];
	int			n;

	for (const char *c = password; *c; c++)
		if ((unsigned char) *c >= 0x80)
			return -1;			/* SASLprep would apply: not done here */
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -1;
	proxy_scram_salted_password(password, salt, sizeof(salt), PROXY_SCRAM_ITER_DEFAULT, salted);
	proxy_scram_keys(salted, client_key, stored_key, server_key);
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client_key, sizeof(client_key));
	if (proxy_b64_encode(salt, sizeof(salt), salt_b64, sizeof(salt_b64)) < 0 ||
		proxy_b64_encode(stored_key, sizeof(stored_key), stored_b64, sizeof(stored_b64)) < 0 ||
		proxy_b64_encode(server_key, sizeof(server_key), server_b64, sizeof(server_b64)) < 0)
		return -1;
	n = snprintf(out, outlen, "%s$%d:%s$%s:%s", PROXY_SCRAM_MECHANISM, PROXY_SCRAM_ITER_DEFAULT,
				 salt_b64, stored_b64, server_b64);
	return n < 0 || (size_t) n >= outlen ? -1 : 0;
}

int
proxy_scram_make_nonce(char *out, size_t outlen)
{
	uint8_t		raw[PROXY_SCRAM_NONCE_LEN];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	return proxy_b64_encode(raw, sizeof(raw), out, outlen) < 0 ? -1 : 0;
}

void
proxy_scram_fake_verifier(const char *user, struct proxy_scram_verifier *v)
{
	memset(v, 0, sizeof(*v));
	v->iterations = 4096;
	v->salt_len = 16;
	(void) RAND_bytes(v->salt, (int) v->salt_len);
	(void) RAND_bytes(v->stored_key, sizeof(v->stored_key));
	(void) RAND_bytes(v->server_key, sizeof(v->server_key));
}

/* Decode exactly a 32-byte key from base64 text of length len. */
static bool
decode_key(const char *text, size_t len, uint8_t out[PROXY_SCRAM_KEY_LEN])
{
	return proxy_b64_decode(text, len, out, PROXY_SCRAM_KEY_LEN) == PROXY_SCRAM_KEY_LEN;
}

bool
proxy_scram_parse_verifier(const char *text, struct proxy_scram_verifier *v)
{
	const char *p = text,
			   *colon,
			   *dollar,
			   *colon2;
	char	   *end;
	long		iter;
	int			n;

	memset(v, 0, sizeof(*v));
	if (strncmp(p, "SCRAM-SHA-256$", 14) != 0)
		return false;
	p += 14;
	iter = strtol(p, &end, 10);
	if (end == p || *end != ':' || iter < 1 || iter > PROXY_SCRAM_ITER_MAX)
		return false;
	v->iterations = (int) iter;
	colon = end;
	dollar = strchr(colon, '$');
	if (dollar == NULL)
		return false;
	n = proxy_b64_decode(colon + 1, (size_t) (dollar - colon - 1), v->salt, sizeof(v->salt));
	if (n <= 0)
		return false;
	v->salt_len = (size_t) n;
	colon2 = strchr(dollar, ':');
	return colon2 != NULL &&
		decode_key(dollar + 1, (size_t) (colon2 - dollar - 1), v->stored_key) &&
		decode_key(colon2 + 1, strlen(colon2 + 1), v->server_key);
}

/* The value of attribute "k=" at the start of *p up to ',' or end. */
static bool
take_attr(const char **p, char k, char *out, size_t outlen)
{
	const char *s = *p,
			   *e;

	if (s[0] != k || s[1] != '=')
		return false;
	s += 2;
	e = strchr(s, ',');
	if (e == NULL)
		e = s + strlen(s);
	if ((size_t) (e - s) >= outlen)
		return false;
	memcpy(out, s, (size_t) (e - s));
	out[e - s] = '\0';
	*p = *e == ',' ? e + 1 : e;
	return true;
}

int
proxy_scram_server_first(struct proxy_scram_server *s, const char *client_first,
						 const char *server_nonce, char *out, size_t outlen,
						 char *err, size_t errlen)
{
	const char *p = client_first,
			   *bare;
	char		user[PROXY_SCRAM_MSG_MAX],
				cnonce[PROXY_SCRAM_MSG_MAX],
				salt[128];

	if (strncmp(p, "n,,", 3) == 0)
		strcpy(s->cbind_header_b64, "biws");
	else if (strncmp(p, "y,,", 3) == 0)
		strcpy(s->cbind_header_b64, "eSws");
	else
	{
		snprintf(err, errlen, "channel binding and authorization identities are not supported");
		return -1;
	}
	bare = p + 3;
	p = bare;
	if (strlen(bare) >= sizeof(s->client_first_bare) ||
		!take_attr(&p, 'n', user, sizeof(user)) ||
		!take_attr(&p, 'r', cnonce, sizeof(cnonce)) || cnonce[0] == '\0' ||
		strchr(cnonce, ',') != NULL)
	{
		snprintf(err, errlen, "malformed SCRAM message (client-first-message)");
		return -1;
	}
	strcpy(s->client_first_bare, bare);
	if ((size_t) snprintf(s->nonce, sizeof(s->nonce), "%s%s", cnonce, server_nonce) >= sizeof(s->nonce) ||
		proxy_b64_encode(s->v.salt, s->v.salt_len, salt, sizeof(salt)) < 0 ||
		(size_t) snprintf(s->server_first, sizeof(s->server_first), "r=%s,s=%s,i=%d",
						  s->nonce, salt, s->v.iterations) >= sizeof(s->server_first) ||
		strlen(s->server_first) >= outlen)
	{
		snprintf(err, errlen, "SCRAM message too long");
		return -1;
	}
	strcpy(out, s->server_first);
	return 0;
}

int
proxy_scram_server_final(struct proxy_scram_server *s, const char *client_final,
						 char *out, size_t outlen, uint8_t client_key[PROXY_SCRAM_KEY_LEN],
						 char *err, size_t errlen)
{
	const char *proof_at = strstr(client_final, ",p=");
	const char *p = client_final;
	char		cbind[64],
				nonce[PROXY_SCRAM_MSG_MAX],
				auth[3 * PROXY_SCRAM_MSG_MAX + 8],
				sig_b64[64];
	uint8_t		proof[PROXY_SCRAM_KEY_LEN],
				sig[PROXY_SCRAM_KEY_LEN],
				stored[PROXY_SCRAM_KEY_LEN];

	if (proof_at == NULL || !take_attr(&p, 'c', cbind, sizeof(cbind)) ||
		!take_attr(&p, 'r', nonce, sizeof(nonce)) ||
		!decode_key(proof_at + 3, strlen(proof_at + 3), proof))
	{
		snprintf(err, errlen, "malformed SCRAM message (client-final-message)");
		return -2;
	}
	if (strcmp(cbind, s->cbind_header_b64) != 0 || strcmp(nonce, s->nonce) != 0)
	{
		snprintf(err, errlen, "SCRAM channel binding or nonce does not match");
		return -2;
	}
	snprintf(auth, sizeof(auth), "%s,%s,%.*s", s->client_first_bare, s->server_first,
			 (int) (proof_at - client_final), client_final);
	hmac(s->v.stored_key, PROXY_SCRAM_KEY_LEN, auth, strlen(auth), sig);
	for (int i = 0; i < PROXY_SCRAM_KEY_LEN; i++)
		client_key[i] = proof[i] ^ sig[i];
	SHA256(client_key, PROXY_SCRAM_KEY_LEN, stored);
	if (CRYPTO_memcmp(stored, s->v.stored_key, PROXY_SCRAM_KEY_LEN) != 0)
	{
		snprintf(err, errlen, "wrong password");
		return -1;
	}
	hmac(s->v.server_key, PROXY_SCRAM_KEY_LEN, auth, strlen(auth), sig);
	proxy_b64_encode(sig, sizeof(sig), sig_b64, sizeof(sig_b64));
	if ((size_t) snprintf(out, outlen, "v=%s", sig_b64) >= outlen)
		return -2;
	return 0;
}

void
proxy_scram_client_first(struct proxy_scram_client *c, const char *nonce,
						 char *out, size_t outlen)
{
	snprintf(c->client_nonce, sizeof(c->client_nonce), "%s", nonce);
	snprintf(c->client_first_bare, sizeof(c->client_first_bare), "n=,r=%s", c->client_nonce);
	snprintf(out, outlen, "n,,%s", c->client_first_bare);
}

int
proxy_scram_client_final(struct proxy_scram_client *c, const char *server_first,
						 char *out, size_t outlen)
{
	const char *p = server_first;
	char		nonce[PROXY_SCRAM_MSG_MAX],
				salt[PROXY_SCRAM_MSG_MAX],
				iter[32],
				without_proof[PROXY_SCRAM_MSG_MAX + 16],
				proof_b64[64];
	uint8_t		stored[PROXY_SCRAM_KEY_LEN],
				sig[PROXY_SCRAM_KEY_LEN],
				proof[PROXY_SCRAM_KEY_LEN];

	if (!take_attr(&p, 'r', nonce, sizeof(nonce)) || !take_attr(&p, 's', salt, sizeof(salt)) ||
		!take_attr(&p, 'i', iter, sizeof(iter)) ||
		strncmp(nonce, c->client_nonce, strlen(c->client_nonce)) != 0 ||
		strlen(nonce) <= strlen(c->client_nonce))
		return -1;
	snprintf(without_proof, sizeof(without_proof), "c=biws,r=%s", nonce);
	if ((size_t) snprintf(c->auth_message, sizeof(c->auth_message), "%s,%s,%s",
						  c->client_first_bare, server_first, without_proof) >= sizeof(c->auth_message))
		return -1;
	SHA256(c->client_key, PROXY_SCRAM_KEY_LEN, stored);
	hmac(stored, PROXY_SCRAM_KEY_LEN, c->auth_message, strlen(c->auth_message), sig);
	for (int i = 0; i < PROXY_SCRAM_KEY_LEN; i++)
		proof[i] = c->client_key[i] ^ sig[i];
	hmac(c->server_key, PROXY_SCRAM_KEY_LEN, c->auth_message, strlen(c->auth_message),
		 c->expected_server_sig);
	proxy_b64_encode(proof, sizeof(proof), proof_b64, sizeof(proof_b64));
	return (size_t) snprintf(out, outlen, "%s,p=%s", without_proof, proof_b64) < outlen ? 0 : -1;
}

int
proxy_scram_client_check(struct proxy_scram_client *c, const char *server_final)
{
	uint8_t		sig[PROXY_SCRAM_KEY_LEN];

	if (!c->check_server)
		return 0;
	if (strncmp(server_final, "v=", 2) != 0 ||
		!decode_key(server_final + 2, strlen(server_final + 2), sig))
		return -1;
	return CRYPTO_memcmp(sig, c->expected_server_sig, PROXY_SCRAM_KEY_LEN) == 0 ? 0 : -1;
}

bool
proxy_md5_is_verifier(const char *text)
{
	if (strlen(text) != PROXY_MD5_VERIFIER_LEN || strncmp(text, "md5", 3) != 0)
		return false;
	for (int i = 3; i < PROXY_MD5_VERIFIER_LEN; i++)
		if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
			return false;
	return true;
}

void
proxy_md5_response(const char *verifier, const uint8_t salt[4],
				   char out[PROXY_MD5_VERIFIER_LEN + 1])
{
	uint8_t		in[32 + 4],
				digest[16];
	unsigned int dlen = sizeof(digest);

	PGQ_ASSERT(proxy_md5_is_verifier(verifier));
	memcpy(in, verifier + 3, 32);
	memcpy(in + 32, salt, 4);
	PGQ_ASSERT(EVP_Digest(in, sizeof(in), digest, &dlen, EVP_md5(), NULL) == 1);
	memcpy(out, "md5", 3);
	for (int i = 0; i < 16; i++)
		snprintf(out + 3 + 2 * i, 3, "%02x", digest[i]);
}
