/*
 * The Sotto credential parser (src/mls/credential.c): whatever parses must encode back to
 * exactly its bytes (one encoding per credential), and verifying it against a signature
 * key must return without crashing; a fuzzer-made credential never verifies for a key it
 * did not see signed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/init.h"
#include "mls/credential.h"
#include "mls/tls_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t sig_key[MLS_SIG_PUBLIC_LEN] = { 0x3b, 0x6a, 0x27, 0xbc };
	struct mls_sotto_credential cr;
	struct buf out;

	if (sotto_crypto_init() != 0)
		abort();
	if (mls_credential_parse(data, size, &cr) != 0)
		return 0;
	buf_init_dyn(&out, MLS_CRED_ENCODED_MAX);
	buf_u8(&out, MLS_CRED_VERSION);
	mls_buf_opaque(&out, cr.address, cr.address_len);
	mls_buf_opaque(&out, cr.identity_key, MLS_CRED_KEY_LEN);
	buf_u32(&out, cr.device_id);
	mls_buf_opaque(&out, cr.signature, MLS_SIG_LEN);
	if (buf_status(&out) != 0 || out.len != size || memcmp(out.p, data, size) != 0)
		abort();
	if (mls_credential_verify(&cr, sig_key) == 0)
		abort();
	buf_free(&out);
	return 0;
}
