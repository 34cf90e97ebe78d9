/*
 * SASL pieces shared by SMTP AUTH and IMAP AUTHENTICATE: base64 as both use it, and the
 * PLAIN message (RFC 4616): [authzid] NUL authcid NUL passwd.
 */
#ifndef SOTTO_BRIDGE_SASL_H
#define SOTTO_BRIDGE_SASL_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

/* Decodes standard base64 (padding required, no whitespace) into out; SOTTO_ERR_MALFORMED
 * for bad input, SOTTO_ERR_TOO_LARGE if it would not fit. */
int sasl_b64_decode(const uint8_t *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen)
    SOTTO_MUST_CHECK;
/* Encodes into out (NUL-terminated); SOTTO_ERR_TOO_LARGE if cap is short. */
int sasl_b64_encode(const uint8_t *in, size_t inlen, char *out, size_t cap) SOTTO_MUST_CHECK;

struct sasl_plain {
	const uint8_t *authzid, *authcid, *passwd;      /* borrowed from the message */
	size_t authzid_len, authcid_len, passwd_len;
};

/* Splits a decoded PLAIN message. The authorization identity must be empty or equal to
 * the authentication identity (the bridge has one user and no proxying); neither part may
 * be empty and none may contain a NUL. */
int sasl_plain_parse(const uint8_t *msg, size_t len, size_t user_max, size_t pw_max,
    struct sasl_plain *out) SOTTO_MUST_CHECK;

#endif
