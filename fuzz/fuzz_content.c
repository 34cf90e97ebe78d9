/* The client's content codec (src/client/content.c): decoding arbitrary plaintext from a
 * peer never crashes, and whatever decodes re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "client/content.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct content c;
	struct buf b;

	if (content_decode(data, size, &c) != 0)
		return 0;
	buf_init_dyn(&b, size + 16);
	if (content_encode(&c, &b) != 0 || b.len != size || memcmp(b.p, data, size) != 0)
		abort();
	buf_free(&b);
	return 0;
}
