/* Feeds the line reader arbitrary bytes in chunks whose sizes come from the input, taking
 * literals announced as "{N}" at line ends, and checks the cap and byte accounting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/lineio.h"

enum { LINE_MAX_ = 40, LITERAL_MAX = 30 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lineio l;
	struct lineio_item it;
	struct cur c;
	size_t off = 0, consumed = 0, literal = 0;
	uint8_t seed;

	if (size < 1)
		return 0;
	seed = data[0];
	data++;
	size--;
	lineio_init(&l, LINE_MAX_, LITERAL_MAX);
	while (off < size) {
		size_t chunk = 1 + (size_t)((seed = (uint8_t)(seed * 37 + 11)) % 17);

		if (chunk > size - off)
			chunk = size - off;
		cur_init(&c, data + off, chunk);
		while (lineio_next(&l, &c, &it) != LINEIO_MORE) {
			if (it.ev == LINEIO_LINE) {
				if (it.len > LINE_MAX_)
					abort();
				if (it.len >= 3 && it.p[it.len - 1] == '}' && it.p[it.len - 3] == '{' &&
				    it.p[it.len - 2] >= '0' && it.p[it.len - 2] <= '9') {
					if (lineio_expect_literal(&l, (uint64_t)(it.p[it.len - 2] - '0')) != 0)
						abort();
					literal = (size_t)(it.p[it.len - 2] - '0');
				}
			} else if (it.ev == LINEIO_LITERAL) {
				if (it.len > literal)
					abort();
				literal -= it.len;
			} else if (it.ev == LINEIO_LITERAL_END && literal != 0) {
				abort();
			}
		}
		if (cur_left(&c) != 0)
			abort();
		if (l.line.len > LINE_MAX_ + 1)
			abort();
		consumed += chunk;
		off += chunk;
	}
	if (consumed != size)
		abort();
	lineio_free(&l);
	return 0;
}
