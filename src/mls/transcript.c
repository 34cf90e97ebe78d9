#include "mls/transcript.h"

#include <sodium.h>

#include "base/buf.h"
#include "mls/crypto.h"
#include "mls/limits.h"
#include "mls/tls_codec.h"

int
mls_confirmed_transcript_hash(uint8_t out[static MLS_HASH_LEN], const uint8_t *interim_before,
    size_t interim_before_len, uint16_t wire_format, const struct mls_framed_content *content,
    const uint8_t *signature, size_t signature_len)
{
	crypto_hash_sha256_state st;
	struct buf b;
	int r;

	buf_init_dyn(&b, 2 * MLS_MESSAGE_MAX);
	buf_u16(&b, wire_format);
	mls_framed_content_write(&b, content);
	mls_buf_opaque(&b, signature, signature_len);
	if ((r = buf_status(&b)) == 0) {
		crypto_hash_sha256_init(&st);
		if (interim_before_len > 0)
			crypto_hash_sha256_update(&st, interim_before, interim_before_len);
		crypto_hash_sha256_update(&st, b.p, b.len);
		crypto_hash_sha256_final(&st, out);
	}
	buf_free(&b);
	return r;
}

void
mls_interim_transcript_hash(uint8_t out[static MLS_HASH_LEN],
    const uint8_t confirmed[static MLS_HASH_LEN], const uint8_t confirmation_tag[static MLS_HASH_LEN])
{
	uint8_t in[MLS_HASH_LEN + 1 + MLS_HASH_LEN];
	struct buf b;

	buf_init_fixed(&b, in, sizeof(in));
	buf_put(&b, confirmed, MLS_HASH_LEN);
	mls_buf_opaque(&b, confirmation_tag, MLS_HASH_LEN);
	mls_hash(out, b.p, b.len);
}

void
mls_interim_transcript_hash_0(uint8_t out[static MLS_HASH_LEN], uint8_t tag[static MLS_HASH_LEN],
    const uint8_t confirmation_key[static MLS_HASH_LEN])
{
	static const uint8_t empty[1];
	uint8_t in[1 + MLS_HASH_LEN];
	struct buf b;

	mls_mac(tag, confirmation_key, MLS_HASH_LEN, empty, 0);
	buf_init_fixed(&b, in, sizeof(in));
	mls_buf_opaque(&b, tag, MLS_HASH_LEN);
	mls_hash(out, b.p, b.len);
}

void
mls_confirmation_tag(uint8_t out[static MLS_HASH_LEN],
    const uint8_t confirmation_key[static MLS_HASH_LEN], const uint8_t confirmed[static MLS_HASH_LEN])
{
	mls_mac(out, confirmation_key, MLS_HASH_LEN, confirmed, MLS_HASH_LEN);
}

int
mls_confirmation_tag_verify(const uint8_t *tag, size_t tag_len,
    const uint8_t confirmation_key[static MLS_HASH_LEN], const uint8_t confirmed[static MLS_HASH_LEN])
{
	uint8_t want[MLS_HASH_LEN];
	int r = SOTTO_ERR_AUTH;

	mls_confirmation_tag(want, confirmation_key, confirmed);
	if (tag_len == MLS_HASH_LEN && sodium_memcmp(tag, want, MLS_HASH_LEN) == 0)
		r = 0;
	sodium_memzero(want, sizeof(want));
	return r;
}
