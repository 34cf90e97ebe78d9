/*
 * The benchmark payload: 256 printable bytes, "sb" + 16 hex digits of the send time (ns,
 * monotonic clock of this process) + 8 of the sender's index + 8 of its sequence number,
 * padded with '.'. Printable so that XMPP carries it in <body> unchanged.
 */
#include "lg.h"

#include <string.h>

#include "base/cursor.h"

static const char hexd[] = "0123456789abcdef";

static void
put_hex(uint8_t *out, uint64_t v, int digits)
{
	for (int i = digits - 1; i >= 0; i--, v >>= 4)
		out[i] = (uint8_t)hexd[v & 15];
}

void
lg_payload_make(uint8_t out[LG_PAYLOAD_LEN], uint64_t t_ns, uint32_t sender, uint32_t seq)
{
	memset(out, '.', LG_PAYLOAD_LEN);
	out[0] = 's';
	out[1] = 'b';
	put_hex(out + 2, t_ns, 16);
	put_hex(out + 18, sender, 8);
	put_hex(out + 26, seq, 8);
}

static int
get_hex(struct cur *c, int digits, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < digits; i++) {
		uint8_t b = cur_u8(c);

		if (b >= '0' && b <= '9')
			*v = *v << 4 | (uint64_t)(b - '0');
		else if (b >= 'a' && b <= 'f')
			*v = *v << 4 | (uint64_t)(b - 'a' + 10);
		else
			return -1;
	}
	return 0;
}

int
lg_payload_parse(const uint8_t *p, size_t len, uint64_t *t_ns, uint32_t *sender,
    uint32_t *seq)
{
	struct cur c;
	uint64_t s, q;

	if (len != LG_PAYLOAD_LEN)
		return -1;
	cur_init(&c, p, len);
	if (cur_u8(&c) != 's' || cur_u8(&c) != 'b' || get_hex(&c, 16, t_ns) != 0 ||
	    get_hex(&c, 8, &s) != 0 || get_hex(&c, 8, &q) != 0 || cur_status(&c) != 0)
		return -1;
	*sender = (uint32_t)s;
	*seq = (uint32_t)q;
	return 0;
}
