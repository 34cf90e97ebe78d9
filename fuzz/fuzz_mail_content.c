/*
 * Mail parts and the old bridge's progress record over arbitrary bytes. The input is a
 * sequence of records: u16 length, that many bytes of a part; each is parsed, and all of
 * them are put together (mail_content_assemble, as libsotto does with a mail's stored
 * parts). A mail that completes must have the length its parts announced. The whole input
 * is also decoded as a progress record, which must encode back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mail/mail_content.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mail_progress prog;
	const uint8_t *pv[64];
	size_t lv[64], off = 0, n, k = 0, olen = 0;
	struct mail_part p;
	struct buf b;
	uint8_t *out = NULL;
	int r;

	while (off + 2 <= size && k < 64) {
		n = ((size_t)data[off] << 8) | data[off + 1];
		off += 2;
		if (n > size - off)
			n = size - off;
		if (mail_content_parse(data + off, n, &p) == 0 &&
		    (p.len == 0 || p.len > MAIL_CONTENT_CHUNK || p.index >= p.count))
			abort();
		pv[k] = data + off;
		lv[k++] = n;
		off += n;
	}
	r = mail_content_assemble(pv, lv, k, &out, &olen);
	if (r == 1) {
		if (mail_content_parse(pv[0], lv[0], &p) != 0 || olen != p.total)
			abort();
		sodium_memzero(out, olen);
		free(out);
	} else if (out != NULL || (r != 0 && r != SOTTO_ERR_MALFORMED && r != SOTTO_ERR_NOMEM)) {
		abort();
	}

	if (mail_progress_decode(data, size, &prog) == 0) {
		buf_init_dyn(&b, 1 << 16);
		if (mail_progress_encode(&prog, &b) != 0 || b.len != size ||
		    memcmp(b.p, data, size) != 0)
			abort();
		buf_free(&b);
	}
	return 0;
}
