/* The sender check and the receipt rewrite (mail_sender.h), and the RFC 2047 and
 * transfer-encoding decoders under them (mime_text.c), on arbitrary mail. */
#include <stdint.h>
#include <string.h>

#include "mail/mail_sender.h"
#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_msg m;
	struct buf out;
	size_t i;
	int rewritten = 0;

	(void)mail_sender_check(data, size, "alice@example.org");
	buf_init_dyn(&out, size + MAIL_SENDER_GROWTH);
	if (mail_sender_rewrite(data, size, "alice@example.org", &out, &rewritten) == 0 &&
	    rewritten) {
		/* what was filed must pass the check it was rewritten for */
		if (mail_sender_check(out.p, out.len, "alice@example.org") != MAIL_SENDER_OK)
			__builtin_trap();
	}
	buf_free(&out);
	buf_init_dyn(&out, 2 * size + 1);
	mime_decode_words(&out, data, size);
	buf_free(&out);
	if (mime_parse(&m, data, size) != 0)
		return 0;
	for (i = 0; i < m.nparts; i++) {
		buf_init_dyn(&out, 2 * m.parts[i].body.len + 8);
		mime_decode_body(&out, &m, (int)i);
		buf_free(&out);
	}
	mime_free(&m);
	return 0;
}
