/* Session and ratchet state deserialization; whatever parses must serialize back to the
 * same bytes (a version 1 ratchet state: to the same bytes plus the 16-byte checksum of
 * version 2) and be usable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/init.h"
#include "crypto/session.h"
#include "crypto/suite_native.h"

#define RATCHET_CHECK_GROWTH 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session *s = NULL;
	struct ratchet *r = NULL;
	struct buf out;
	int type;

	if (sotto_crypto_init() != 0)
		abort();
	buf_init_dyn(&out, 1u << 24);
	if (session_deserialize(&s, &suite_native, data, size) == 0) {
		if (session_serialize(s, &out) != 0 ||
		    (out.len != size && out.len != size + RATCHET_CHECK_GROWTH) ||
		    (out.len == size && memcmp(out.p, data, size) != 0))
			abort();
		buf_reset(&out);
		(void)session_encrypt(s, &out, &type, (const uint8_t *)"x", 1);
		session_free(s);
	}
	buf_reset(&out);
	if (ratchet_deserialize(&r, &suite_native, data, size) == 0) {
		size_t body = data[0] == 1 ? size : size - RATCHET_CHECK_GROWTH;

		if (ratchet_serialize(r, &out) != 0 || out.len != body + RATCHET_CHECK_GROWTH ||
		    memcmp(out.p + 1, data + 1, body - 1) != 0)
			abort();
		ratchet_free(r);
	}
	buf_wipe_free(&out);
	return 0;
}
