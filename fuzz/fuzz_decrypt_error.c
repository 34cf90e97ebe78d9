/* Decryption-failure receipts (src/client/decrypt_error.c): decoding arbitrary bytes from
 * a peer never crashes, and whatever decodes re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "client/decrypt_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct decrypt_error e;
	struct buf b;

	if (decrypt_error_decode(&e, data, size) != 0)
		return 0;
	buf_init_dyn(&b, DECRYPT_ERROR_LEN);
	if (decrypt_error_encode(&e, &b) != 0 || b.len != size || memcmp(b.p, data, size) != 0)
		abort();
	buf_free(&b);
	return 0;
}
