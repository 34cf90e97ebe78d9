/* Session and ratchet state deserialization; whatever parses must serialize back to the
 * same bytes (an older ratchet state: to version 5, the same fields plus, for version 4
 * with a KEM part, its 16-byte kem_check; for version 3, a zero KEM flags byte; for
 * version 2 also an empty list of recent messages; for version 1 also the 16-byte
 * checksum) and be usable. PQ states (version 4 or 5 with the KEM part) encrypt version 3
 * messages. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/init.h"
#include "crypto/e2e_session.h"
#include "crypto/suite_native.h"

#define RATCHET_CHECK_LEN 16
#define RATCHET_RECENT_COUNT_LEN 1
#define RATCHET_KEM_FLAGS_LEN 1

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct e2e_session *s = NULL;
	struct ratchet *r = NULL;
	struct buf out;
	int type;

	if (sotto_crypto_init() != 0)
		abort();
	buf_init_dyn(&out, 1u << 24);
	if (e2e_session_deserialize(&s, &suite_native, data, size) == 0) {
		/* A version 1 session state gains its has_kem byte (0) when written again. */
		size_t grown = data[0] == 1 ? 1 : 0;

		if (e2e_session_state_is_pq(data, size) != e2e_session_is_pq(s))
			abort();
		if (e2e_session_serialize(s, &out) != 0 ||
		    (out.len != size + grown &&
		    out.len != size + grown + RATCHET_CHECK_LEN &&
		    out.len != size + grown + RATCHET_KEM_FLAGS_LEN &&
		    out.len != size + grown + RATCHET_KEM_FLAGS_LEN + RATCHET_RECENT_COUNT_LEN &&
		    out.len != size + grown + RATCHET_KEM_FLAGS_LEN + RATCHET_RECENT_COUNT_LEN +
		    RATCHET_CHECK_LEN) ||
		    (out.len == size && memcmp(out.p, data, size) != 0))
			abort();
		buf_reset(&out);
		if (e2e_session_encrypt(s, &out, &type, (const uint8_t *)"x", 1) == 0 &&
		    ratchet_is_pq(e2e_session_ratchet(s)) && out.len > 0 &&
		    out.p[type == E2E_SESSION_MSG_PREKEY ? 1166 : 0] != SUITE_NATIVE_VERSION_PQ)
			abort();
		e2e_session_free(s);
	} else {
		(void)e2e_session_state_is_pq(data, size);
	}
	buf_reset(&out);
	if (ratchet_deserialize(&r, &suite_native, data, size) == 0) {
		/* version 1: 1 + fields; 2 and 3: 1 + fields + check; 5: as written; 4: to
		 * version 5, which then reads back and writes the same bytes again */
		size_t fields = data[0] == 1 ? size - 1 : size - 1 - RATCHET_CHECK_LEN;
		size_t added = data[0] == 3 ? RATCHET_KEM_FLAGS_LEN :
		    RATCHET_RECENT_COUNT_LEN + RATCHET_KEM_FLAGS_LEN;

		if (ratchet_serialize(r, &out) != 0)
			abort();
		if (data[0] == 4) {
			struct ratchet *again = NULL;
			struct buf out2;

			buf_init_dyn(&out2, 1u << 24);
			if (out.p[0] != 5 || (out.len != size && out.len != size + RATCHET_CHECK_LEN) ||
			    ratchet_deserialize(&again, &suite_native, out.p, out.len) != 0 ||
			    ratchet_serialize(again, &out2) != 0 || out2.len != out.len ||
			    memcmp(out2.p, out.p, out.len) != 0)
				abort();
			ratchet_free(again);
			buf_wipe_free(&out2);
		} else if (data[0] == 5 ? out.len != size || memcmp(out.p, data, size) != 0 :
		    out.len != 1 + fields + added + RATCHET_CHECK_LEN ||
		    memcmp(out.p + 1, data + 1, fields) != 0 || out.p[1 + fields] != 0 ||
		    out.p[fields + added] != 0)
			abort();
		ratchet_free(r);
	}
	buf_wipe_free(&out);
	return 0;
}
