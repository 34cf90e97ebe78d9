/* Session and ratchet state deserialization; whatever parses must serialize back to the
 * same bytes and be usable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/init.h"
#include "crypto/session.h"
#include "crypto/suite_native.h"

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
		if (session_serialize(s, &out) != 0 || out.len != size ||
		    memcmp(out.p, data, size) != 0)
			abort();
		buf_reset(&out);
		(void)session_encrypt(s, &out, &type, (const uint8_t *)"x", 1);
		session_free(s);
	}
	buf_reset(&out);
	if (ratchet_deserialize(&r, &suite_native, data, size) == 0) {
		if (ratchet_serialize(r, &out) != 0 || out.len != size ||
		    memcmp(out.p, data, size) != 0)
			abort();
		ratchet_free(r);
	}
	buf_wipe_free(&out);
	return 0;
}
