#include "bridge/sasl.h"

#include <string.h>

#include <sodium.h>

#include "base/cursor.h"

int
sasl_b64_decode(const uint8_t *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen)
{
	const char *end = NULL;
	size_t i;

	*outlen = 0;
	if (inlen / 4 * 3 > cap + 2)
		return SOTTO_ERR_TOO_LARGE;
	if (inlen % 4 != 0)
		return SOTTO_ERR_MALFORMED;
	for (i = 0; i < inlen; i++)
		if (in[i] == '\0')
			return SOTTO_ERR_MALFORMED;
	if (sodium_base642bin(out, cap, (const char *)in, inlen, NULL, outlen, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0) {
		sodium_memzero(out, cap);
		*outlen = 0;
		return inlen / 4 * 3 > cap ? SOTTO_ERR_TOO_LARGE : SOTTO_ERR_MALFORMED;
	}
	if (end != (const char *)in + inlen) {
		sodium_memzero(out, cap);
		*outlen = 0;
		return SOTTO_ERR_MALFORMED;
	}
	return 0;
}

int
sasl_b64_encode(const uint8_t *in, size_t inlen, char *out, size_t cap)
{
	if (cap < sodium_base64_ENCODED_LEN(inlen, sodium_base64_VARIANT_ORIGINAL))
		return SOTTO_ERR_TOO_LARGE;
	sodium_bin2base64(out, cap, in, inlen, sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

/* Borrows the bytes up to the next NUL (or the end when last), at most max of them. */
static const uint8_t *
take_field(struct cur *c, size_t max, int last, size_t *n)
{
	size_t len, nul = cur_find(c, 0);
	const uint8_t *start;

	if (last)
		len = nul == CUR_NPOS ? cur_left(c) : CUR_NPOS;
	else
		len = nul;
	if (len == CUR_NPOS) {
		cur_fail(c, SOTTO_ERR_MALFORMED);
		*n = 0;
		return NULL;
	}
	if (len > max) {
		cur_fail(c, SOTTO_ERR_TOO_LARGE);
		*n = 0;
		return NULL;
	}
	*n = len;
	start = cur_ref(c, len);
	if (!last)
		(void)cur_u8(c);
	return start;
}

int
sasl_plain_parse(const uint8_t *msg, size_t len, size_t user_max, size_t pw_max,
    struct sasl_plain *out)
{
	struct cur c;
	int r;

	memset(out, 0, sizeof(*out));
	cur_init(&c, msg, len);
	out->authzid = take_field(&c, user_max, 0, &out->authzid_len);
	out->authcid = take_field(&c, user_max, 0, &out->authcid_len);
	out->passwd = take_field(&c, pw_max, 1, &out->passwd_len);
	if ((r = cur_finish(&c)) != 0)
		goto fail;
	r = SOTTO_ERR_MALFORMED;
	if (out->authcid_len == 0 || out->passwd_len == 0)
		goto fail;
	if (out->authzid_len != 0 && (out->authzid_len != out->authcid_len ||
	    memcmp(out->authzid, out->authcid, out->authcid_len) != 0)) {
		r = SOTTO_ERR_AUTH;
		goto fail;
	}
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return r;
}
