#include "crypto/pad.h"

#include <string.h>

static size_t
pad_bucket(size_t need)
{
	size_t b;

	if (need <= 256)
		return 256;
	if (need <= 1024)
		return 1024;
	if (need <= 4096)
		return 4096;
	for (b = 8192; b < need; b *= 2)
		if (b > SIZE_MAX / 2)
			return SIZE_MAX;
	return b;
}

size_t
pad_size(size_t n, size_t cap)
{
	size_t b;

	if (n >= cap)
		return 0;
	b = pad_bucket(n + 1);
	/* The cap is the last bucket: everything larger than the previous bucket pads to it. */
	return b > cap ? cap : b;
}

int
pad_apply(struct buf *out, const uint8_t *p, size_t n, size_t cap)
{
	size_t total = pad_size(n, cap);
	uint8_t *w;

	if (total == 0)
		return SOTTO_ERR_TOO_LARGE;
	if ((w = buf_reserve(out, total)) == NULL)
		return buf_status(out) ? buf_status(out) : SOTTO_ERR_INTERNAL;
	if (n > 0)
		memcpy(w, p, n);
	w[n] = PAD_MARK;
	memset(w + n + 1, 0, total - n - 1);
	return 0;
}

int
pad_remove(size_t *n, const uint8_t *p, size_t len)
{
	size_t i, idx = 0, mask;
	uint8_t last = 0;

	*n = 0;
	if (len == 0)
		return SOTTO_ERR_MALFORMED;
	/* Find the last non-zero byte without branching on the content, which is secret. */
	for (i = 0; i < len; i++) {
		mask = (size_t)0 - (size_t)(((unsigned)p[i] + 0xffu) >> 8);
		idx = (i & mask) | (idx & ~mask);
		last = (uint8_t)((p[i] & (uint8_t)mask) | (last & (uint8_t)~mask));
	}
	if (last != PAD_MARK)
		return SOTTO_ERR_MALFORMED;
	*n = idx;
	return 0;
}
