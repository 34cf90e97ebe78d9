/*
 * The load generator's hand-written broker-side parsers (bench/loadgen/): the MQTT 3.1.1
 * packet decoder and the XMPP unit splitter with its accessors, on arbitrary bytes in
 * fuzzer-chosen chunks (first byte: which parser and the chunk size).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../bench/loadgen/mqtt.h"
#include "../bench/loadgen/xmpp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
run_mqtt(const uint8_t *p, size_t n)
{
	struct mqtt_pkt pkt;
	size_t off = 0, used;

	while (off < n && mqtt_decode(p + off, n - off, &used, &pkt) == 1) {
		if (used == 0 || used > n - off)
			abort();
		if (pkt.type == MQTT_PUBLISH && pkt.payload_len > 0 && pkt.payload[0] == 0xfe)
			off++;              /* touch the borrowed bytes */
		off += used;
	}
}

static void
run_xmpp(const uint8_t *p, size_t n, size_t chunk)
{
	struct xmpp_unit u;
	size_t off = 0, used, have = chunk, tl;
	char text[512];
	int r;

	while (off < n) {
		size_t avail = (have < n ? have : n) - off;

		r = xmpp_next(p + off, avail, &used, &u);
		if (r < 0)
			return;
		if (used > avail)
			abort();
		off += used;
		if (r == 0) {
			if (have >= n)
				return;
			have += chunk;
			continue;
		}
		if (u.len == 0 || u.p < p || u.p + u.len > p + n)
			abort();
		(void)xmpp_child_text(&u, "body", text, sizeof(text), &tl);
		(void)xmpp_child_text(&u, "jid", text, sizeof(text), &tl);
		(void)xmpp_attr(&u, "type", text, sizeof(text));
		(void)xmpp_has_child(&u, "bind");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		run_mqtt(data + 1, size - 1);
	else
		run_xmpp(data + 1, size - 1, (size_t)(data[0] >> 1) + 1);
	return 0;
}
