#include "bridge/lineio.h"

#include <string.h>

#include <sodium.h>

enum { MODE_LINE, MODE_DISCARD, MODE_LITERAL };

void
lineio_init(struct lineio *l, size_t line_max, uint64_t literal_max)
{
	memset(l, 0, sizeof(*l));
	/* +1 so a CR that arrives before its LF in a later chunk can be held. */
	buf_init_dyn(&l->line, line_max + 1);
	l->line_max = line_max;
	l->line_hard_max = line_max;
	l->literal_max = literal_max;
	l->mode = MODE_LINE;
}

void
lineio_free(struct lineio *l)
{
	buf_wipe_free(&l->line);
	memset(l, 0, sizeof(*l));
}

void
lineio_set_line_max(struct lineio *l, size_t line_max)
{
	l->line_max = line_max < l->line_hard_max ? line_max : l->line_hard_max;
}

void
lineio_wipe_line(struct lineio *l)
{
	if (l->line.p != NULL)
		sodium_memzero(l->line.p, l->line.cap);
	buf_reset(&l->line);
}

int
lineio_pending(const struct lineio *l)
{
	if (l->mode == MODE_LITERAL)
		return 1;
	if (l->mode == MODE_DISCARD)
		return 1;
	return !l->emitted && l->line.len > 0;
}

int
lineio_expect_literal(struct lineio *l, uint64_t n)
{
	if (l->mode != MODE_LINE || (!l->emitted && l->line.len > 0))
		return SOTTO_ERR_STATE;
	if (n > l->literal_max)
		return SOTTO_ERR_TOO_LARGE;
	l->mode = MODE_LITERAL;
	l->literal_left = n;
	return 0;
}

static enum lineio_ev
emit(struct lineio_item *it, enum lineio_ev ev, const uint8_t *p, size_t len, int crlf)
{
	it->ev = ev;
	it->p = p;
	it->len = len;
	it->crlf = crlf;
	return ev;
}

static enum lineio_ev
next_line(struct lineio *l, struct cur *in, struct lineio_item *it)
{
	size_t avail = cur_left(in), at = cur_find(in, '\n');
	const uint8_t *p, *line;
	size_t n;
	int crlf = 0;

	if (at == CUR_NPOS) {
		/* No end yet: buffer only what fits under the cap, else drop the line. */
		p = cur_ref(in, avail);
		if (avail > l->line_max + 1 - l->line.len) {
			lineio_wipe_line(l);
			l->mode = MODE_DISCARD;
			return emit(it, LINEIO_MORE, NULL, 0, 0);
		}
		buf_put(&l->line, p, avail);
		return emit(it, LINEIO_MORE, NULL, 0, 0);
	}
	p = cur_ref(in, at + 1);
	if (at > l->line_max + 1 - l->line.len) {
		lineio_wipe_line(l);
		return emit(it, LINEIO_TOO_LONG, NULL, 0, 0);
	}
	if (l->line.len == 0) {
		line = p;       /* whole line in this chunk: lend it without copying */
		n = at;
	} else {
		buf_put(&l->line, p, at);
		if (buf_status(&l->line) != 0) {
			lineio_wipe_line(l);
			return emit(it, LINEIO_TOO_LONG, NULL, 0, 0);
		}
		line = l->line.p;
		n = l->line.len;
		l->emitted = 1;
	}
	if (n > 0 && line[n - 1] == '\r') {
		n--;
		crlf = 1;
	}
	if (n > l->line_max) {
		lineio_wipe_line(l);
		l->emitted = 0;
		return emit(it, LINEIO_TOO_LONG, NULL, 0, 0);
	}
	return emit(it, LINEIO_LINE, line, n, crlf);
}

enum lineio_ev
lineio_next(struct lineio *l, struct cur *in, struct lineio_item *it)
{
	size_t at, k;
	const uint8_t *p;

	if (l->emitted) {
		lineio_wipe_line(l);
		l->emitted = 0;
	}
	if (cur_status(in) != 0)
		return emit(it, LINEIO_MORE, NULL, 0, 0);
	switch (l->mode) {
	case MODE_LITERAL:
		if (l->literal_left == 0) {
			l->mode = MODE_LINE;
			return emit(it, LINEIO_LITERAL_END, NULL, 0, 0);
		}
		k = cur_left(in);
		if (k == 0)
			return emit(it, LINEIO_MORE, NULL, 0, 0);
		if ((uint64_t)k > l->literal_left)
			k = (size_t)l->literal_left;
		p = cur_ref(in, k);
		l->literal_left -= k;
		return emit(it, LINEIO_LITERAL, p, k, 0);
	case MODE_DISCARD:
		at = cur_find(in, '\n');
		if (at == CUR_NPOS) {
			(void)cur_ref(in, cur_left(in));
			return emit(it, LINEIO_MORE, NULL, 0, 0);
		}
		(void)cur_ref(in, at + 1);
		l->mode = MODE_LINE;
		return emit(it, LINEIO_TOO_LONG, NULL, 0, 0);
	default:
		if (cur_left(in) == 0)
			return emit(it, LINEIO_MORE, NULL, 0, 0);
		return next_line(l, in, it);
	}
}
