/*
 * Sender certificates (format in cert.h).
 */
#include "wire/cert.h"

#include <string.h>

#include <sodium.h>

#include "base/buf.h"
#include "base/cursor.h"

#define CERT_SIG_LEN crypto_sign_BYTES

_Static_assert(CERT_LEN(0) == 1 + 2 + 32 + 8 + CERT_SIG_LEN, "the layout in cert.h");
_Static_assert(CERT_LEN(ADDRESS_MAX) <= CERT_MAX, "fits the cap");

/* The domain-separated bytes the server signs. */
static int
cert_signed_bytes(struct buf *b, const char *address, size_t alen,
    const uint8_t identity_pk[32], uint64_t expiry)
{
	buf_put(b, CERT_DOMAIN, sizeof(CERT_DOMAIN));   /* includes the 0x00 */
	buf_lv16(b, address, alen);
	buf_put(b, identity_pk, 32);
	buf_u64(b, expiry);
	return buf_status(b);
}

int
cert_make(const char *address, const uint8_t identity_pk[32], uint64_t expiry,
    const uint8_t server_sk[64], uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t tbs_mem[sizeof(CERT_DOMAIN) + 2 + ADDRESS_MAX + 32 + 8];
	struct buf tbs, o;
	size_t alen;
	int r;

	*out_len = 0;
	if (address == NULL)
		return SOTTO_ERR_INVALID_ARG;
	alen = strnlen(address, ADDRESS_MAX + 1);
	if (address_user_check(address, alen) != 0)
		return SOTTO_ERR_INVALID_ARG;
	buf_init_fixed(&tbs, tbs_mem, sizeof(tbs_mem));
	if ((r = cert_signed_bytes(&tbs, address, alen, identity_pk, expiry)) != 0)
		return r;
	buf_init_fixed(&o, out, cap);
	buf_u8(&o, CERT_VERSION);
	buf_lv16(&o, address, alen);
	buf_put(&o, identity_pk, 32);
	buf_u64(&o, expiry);
	{
		uint8_t *sig = buf_reserve(&o, CERT_SIG_LEN);

		if (sig != NULL)
			crypto_sign_detached(sig, NULL, tbs.p, tbs.len, server_sk);
	}
	if ((r = buf_status(&o)) != 0)
		return r;
	*out_len = o.len;
	return 0;
}

static int
cert_decode(const uint8_t *blob, size_t len, struct cert_sender *out, const uint8_t **sig)
{
	const uint8_t *addr;
	struct cur c;
	size_t alen;
	int r;

	memset(out, 0, sizeof(*out));
	*sig = NULL;
	if (len > CERT_MAX)
		return SOTTO_ERR_TOO_LARGE;
	cur_init(&c, blob, len);
	if (cur_u8(&c) != CERT_VERSION && cur_status(&c) == 0)
		return SOTTO_ERR_BAD_VERSION;
	addr = cur_lv16(&c, ADDRESS_MAX, &alen);
	cur_copy(&c, out->identity_pk, 32);
	out->expiry = cur_u64(&c);
	*sig = cur_ref(&c, CERT_SIG_LEN);
	if ((r = cur_finish(&c)) != 0)
		return r;
	if (address_user_check((const char *)addr, alen) != 0)
		return SOTTO_ERR_MALFORMED;
	memcpy(out->address, addr, alen);
	out->address[alen] = '\0';
	return 0;
}

int
cert_parse(const uint8_t *blob, size_t len, struct cert_sender *out)
{
	const uint8_t *sig;

	return cert_decode(blob, len, out, &sig);
}

int
cert_verify(const uint8_t *blob, size_t len, const uint8_t server_pk[32], uint64_t now,
    struct cert_sender *out)
{
	uint8_t tbs_mem[sizeof(CERT_DOMAIN) + 2 + ADDRESS_MAX + 32 + 8];
	const uint8_t *sig;
	struct buf tbs;
	int r;

	if ((r = cert_decode(blob, len, out, &sig)) != 0)
		goto fail;
	buf_init_fixed(&tbs, tbs_mem, sizeof(tbs_mem));
	if ((r = cert_signed_bytes(&tbs, out->address, strlen(out->address), out->identity_pk,
	    out->expiry)) != 0)
		goto fail;
	if (crypto_sign_verify_detached(sig, tbs.p, tbs.len, server_pk) != 0) {
		r = SOTTO_ERR_BAD_SIGNATURE;
		goto fail;
	}
	if (now >= out->expiry) {
		r = SOTTO_ERR_EXPIRED;
		goto fail;
	}
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return r;
}
