/*
 * Mail parts and the bridge's progress record over arbitrary bytes. The input is a
 * sequence of records: u8 sender (0..3), u16 length, that many bytes of a part; each is
 * parsed and fed to one reassembler. A mail that completes must have the length its
 * parts announced; the reassembler stays within its bounds. The whole input is also
 * decoded as a progress record, which must encode back to the same bytes.
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
	static const char *peers[4] = { "a@x.org", "b@x.org", "c@y.org", "d@y.org" };
	static struct mail_progress prog;
	struct mail_asm *a;
	struct mail_part p;
	struct buf b;
	size_t off = 0, n, olen;
	uint8_t *out;
	int64_t row = 1;

	if (mail_asm_new(&a, 3, MAIL_CONTENT_MAX) != 0)
		abort();
	while (off + 3 <= size) {
		const char *peer = peers[data[off] & 3];
		n = ((size_t)data[off + 1] << 8) | data[off + 2];
		off += 3;
		if (n > size - off)
			n = size - off;
		if (mail_content_parse(data + off, n, &p) == 0) {
			if (p.len == 0 || p.len > MAIL_CONTENT_CHUNK || p.index >= p.count)
				abort();
			int r = mail_asm_add(a, peer, row, (uint64_t)row, &p, &out, &olen);
			if (r == 1) {
				if (olen != p.total)
					abort();
				sodium_memzero(out, olen);
				free(out);
			}
			if (mail_asm_pending(a) > 3)
				abort();
			if ((row & 15) == 0)
				(void)mail_asm_expire(a, (uint64_t)row - 8);
		}
		off += n;
		row++;
	}
	mail_asm_free(a);

	if (mail_progress_decode(data, size, &prog) == 0) {
		buf_init_dyn(&b, 1 << 16);
		if (mail_progress_encode(&prog, &b) != 0 || b.len != size ||
		    memcmp(b.p, data, size) != 0)
			abort();
		buf_free(&b);
	}
	return 0;
}
