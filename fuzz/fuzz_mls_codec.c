/*
 * The MLS TLS codec (src/mls/tls_codec.c): the input is read as a run of opaque<V> values,
 * each either taken whole or walked as a vector of uint16 elements (the low bit of its
 * first byte picks). Whatever parses must write back to exactly the bytes it was read
 * from, because Sotto accepts only the shortest length encoding; anything else aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mls/tls_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_OPAQUE_MAX 4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cur c, v;
	struct buf out;
	size_t n, consumed = 0;

	cur_init(&c, data, size);
	buf_init_dyn(&out, 2 * size + 16);
	while (cur_left(&c) > 0) {
		size_t start = c.off;
		int as_vector = data[start] & 1;

		if (as_vector) {
			mls_cur_vector(&c, FUZZ_OPAQUE_MAX, &v);
			if (cur_status(&c) != 0)
				break;
			/* Elements are re-encoded one by one from what the sub-cursor yields. */
			mls_buf_varint(&out, v.len);
			while (cur_left(&v) >= 2)
				buf_u16(&out, cur_u16(&v));
			if (cur_left(&v) == 1)
				buf_u8(&out, cur_u8(&v));
			if (cur_finish(&v) != 0)
				abort();
		} else {
			const uint8_t *p = mls_cur_opaque(&c, FUZZ_OPAQUE_MAX, &n);

			if (p == NULL) {
				if (cur_status(&c) == 0)
					abort();   /* NULL only with an error */
				break;
			}
			if (n > FUZZ_OPAQUE_MAX)
				abort();
			mls_buf_opaque(&out, p, n);
		}
		consumed = c.off;
	}
	if (buf_status(&out) != 0 || out.len != consumed || (consumed > 0 &&
	    memcmp(out.p, data, consumed) != 0))
		abort();
	buf_free(&out);
	return 0;
}
