/*
 * Resumption tickets (ticket.h): sealing, opening, and the resumption's first frame.
 */
#include "wire/ticket.h"

#include <string.h>

#include <sodium.h>

#include "base/cursor.h"

#define TICKET_AD_LEN (sizeof(TICKET_AD) - 1 + 32)

_Static_assert(TICKET_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(TICKET_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce");
_Static_assert(TICKET_LEN == TICKET_NONCE_LEN + TICKET_PLAIN_LEN +
    crypto_aead_xchacha20poly1305_ietf_ABYTES, "ticket size");

static void
ticket_ad(const struct ticket_key *k, uint8_t ad[TICKET_AD_LEN])
{
	memcpy(ad, TICKET_AD, sizeof(TICKET_AD) - 1);
	memcpy(ad + sizeof(TICKET_AD) - 1, k->server_pk, 32);
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

int
ticket_seal(const struct ticket_key *k, const struct ticket_contents *tc,
    uint8_t out[TICKET_LEN])
{
	uint8_t plain[TICKET_PLAIN_LEN], ad[TICKET_AD_LEN];
	unsigned long long clen = 0;
	int r = 0;

	memcpy(plain, tc->device_pk, NOISE_KEY_LEN);
	memcpy(plain + NOISE_KEY_LEN, tc->psk, TICKET_PSK_LEN);
	put_u64(plain + NOISE_KEY_LEN + TICKET_PSK_LEN, tc->expiry);
	ticket_ad(k, ad);
	randombytes_buf(out, TICKET_NONCE_LEN);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + TICKET_NONCE_LEN, &clen, plain,
	    sizeof(plain), ad, sizeof(ad), NULL, out, k->key) != 0 ||
	    clen != TICKET_LEN - TICKET_NONCE_LEN)
		r = SOTTO_ERR_CRYPTO;
	sodium_memzero(plain, sizeof(plain));
	return r;
}

int
ticket_issue(const struct ticket_key *k, const uint8_t device_pk[NOISE_KEY_LEN],
    uint64_t lifetime, uint64_t now, uint8_t out[TICKET_LEN], struct ticket_contents *tc)
{
	int r;

	if (lifetime == 0 || now > UINT64_MAX - lifetime)
		return SOTTO_ERR_UNSUPPORTED;
	memcpy(tc->device_pk, device_pk, NOISE_KEY_LEN);
	randombytes_buf(tc->psk, TICKET_PSK_LEN);
	tc->expiry = now + lifetime;
	if ((r = ticket_seal(k, tc, out)) != 0)
		ticket_contents_wipe(tc);
	return r;
}

int
ticket_open(const struct ticket_key *k, const uint8_t *t, size_t len, uint64_t now,
    struct ticket_contents *tc)
{
	uint8_t plain[TICKET_PLAIN_LEN], ad[TICKET_AD_LEN];
	const uint8_t *nonce, *ct;
	unsigned long long mlen = 0;
	struct cur c, pc;
	int r;

	memset(tc, 0, sizeof(*tc));
	cur_init(&c, t, len);
	nonce = cur_ref(&c, TICKET_NONCE_LEN);
	ct = cur_ref(&c, TICKET_LEN - TICKET_NONCE_LEN);
	if ((r = cur_finish(&c)) != 0)
		return r;
	ticket_ad(k, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &mlen, NULL, ct,
	    TICKET_LEN - TICKET_NONCE_LEN, ad, sizeof(ad), nonce, k->key) != 0 ||
	    mlen != sizeof(plain)) {
		r = SOTTO_ERR_DECRYPT;
		goto out;
	}
	cur_init(&pc, plain, sizeof(plain));
	cur_copy(&pc, tc->device_pk, NOISE_KEY_LEN);
	cur_copy(&pc, tc->psk, TICKET_PSK_LEN);
	tc->expiry = cur_u64(&pc);
	if ((r = cur_finish(&pc)) != 0)
		goto out;
	r = now >= tc->expiry ? SOTTO_ERR_EXPIRED : 0;
out:
	sodium_memzero(plain, sizeof(plain));
	if (r != 0)
		ticket_contents_wipe(tc);
	return r;
}

int
ticket_frame1_parse(const uint8_t *f, size_t len, const uint8_t **ticket,
    const uint8_t **msg1)
{
	struct cur c;

	cur_init(&c, f, len);
	*ticket = cur_ref(&c, TICKET_LEN);
	*msg1 = cur_ref(&c, TICKET_MSG1_LEN);
	return cur_finish(&c);
}

void
ticket_contents_wipe(struct ticket_contents *tc)
{
	sodium_memzero(tc, sizeof(*tc));
}
