/*
 * RFC 5322 address lists (section 3.4, with the obsolete route syntax) turned into IMAP
 * address structures for ENVELOPE: (name adl mailbox host), groups as (NIL NIL "name" NIL)
 * ... (NIL NIL NIL NIL). Encoded words stay as they are; comments are dropped. Anything
 * unparseable is skipped one byte at a time, so every input terminates.
 */
#include <string.h>

#include "mail/mime.h"

#define ADDR_WORDS_MAX 64

struct word {
	struct span s;          /* contents, without quotes */
	int quoted;
	int dot;                /* a lone "." */
};

struct words {
	struct word w[ADDR_WORDS_MAX];
	size_t n;
};

static int
is_atext(int b)
{
	if (b < 0)
		return 0;
	if (b >= 0x80)
		return 1;       /* UTF-8 in headers (RFC 6532) */
	return b > 32 && b < 127 && strchr("()<>[]:;@\\,.\"", b) == NULL;
}

/* Reads atoms, quoted strings and dots, as a phrase or local part is made of. */
static void
read_words(struct cur *c, struct words *ws)
{
	ws->n = 0;
	for (;;) {
		struct word w = { { cur_pos(c), 0 }, 0, 0 };
		int b;

		mime_skip_cfws(c);
		b = cur_peek(c);
		if (b == '"') {
			(void)scan_byte(c);
			w.quoted = 1;
			w.s.off = cur_pos(c);
			while ((b = cur_peek(c)) >= 0 && b != '"') {
				(void)scan_byte(c);
				if (b == '\\')
					(void)scan_byte(c);
			}
			w.s.len = cur_pos(c) - w.s.off;
			(void)scan_accept(c, '"');
		} else if (b == '.') {
			(void)scan_byte(c);
			w.dot = 1;
			w.s.off = cur_pos(c) - 1;
			w.s.len = 1;
		} else if (is_atext(b)) {
			w.s.off = cur_pos(c);
			while (is_atext(cur_peek(c)))
				(void)scan_byte(c);
			w.s.len = cur_pos(c) - w.s.off;
		} else {
			return;
		}
		if (ws->n < ADDR_WORDS_MAX)
			ws->w[ws->n++] = w;
	}
}

/* Appends a word's bytes, dropping quoting backslashes and line breaks. */
static void
put_word(struct buf *out, const struct cur *c, const struct word *w)
{
	struct cur t = scan_sub(c, w->s.off, w->s.len);
	int b;

	while ((b = scan_byte(&t)) >= 0) {
		if (w->quoted && b == '\\')
			b = scan_byte(&t);
		if (b < 0 || b == '\r' || b == '\n')
			continue;
		buf_u8(out, (uint8_t)b);
	}
}

/* The words joined: with single spaces for a display name, without for a local part. */
static void
join_words(struct buf *out, const struct cur *c, const struct words *ws, int spaced)
{
	size_t i;

	for (i = 0; i < ws->n; i++) {
		if (spaced && i > 0 && !ws->w[i].dot && !ws->w[i - 1].dot)
			buf_u8(out, ' ');
		put_word(out, c, &ws->w[i]);
	}
}

/* A domain after "@": atoms, dots and [literals], up to a delimiter. */
static void
read_domain(struct cur *c, struct buf *out)
{
	int b;

	for (;;) {
		mime_skip_cfws(c);
		b = cur_peek(c);
		if (b == '[') {
			while ((b = scan_byte(c)) >= 0) {
				if (b != '\r' && b != '\n' && b != ' ' && b != '\t')
					buf_u8(out, (uint8_t)b);
				if (b == ']')
					break;
			}
		} else if (b == '.' || is_atext(b)) {
			buf_u8(out, (uint8_t)scan_byte(c));
		} else {
			return;
		}
	}
}

void
mime_addresses_each(const uint8_t *v, size_t n, void (*fn)(void *arg, const struct mime_addr *a),
    void *arg)
{
	struct buf name, adl, mbox, host;
	struct words ws;
	struct cur c;
	struct mime_addr a = { MIME_ADDR_MAILBOX, &name, &adl, &mbox, &host };
	struct mime_addr end = { MIME_ADDR_GROUP_END, NULL, NULL, NULL, NULL };
	int in_group = 0, b;

	/* every piece is a rearrangement of the value, so n bounds each */
	buf_init_dyn(&name, n + 1);
	buf_init_dyn(&adl, n + 1);
	buf_init_dyn(&mbox, n + 1);
	buf_init_dyn(&host, n + 1);
	cur_init(&c, v, n);
	for (;;) {
		buf_reset(&name);
		buf_reset(&adl);
		buf_reset(&mbox);
		buf_reset(&host);
		a.kind = MIME_ADDR_MAILBOX;
		mime_skip_cfws(&c);
		if ((b = cur_peek(&c)) < 0)
			break;
		if (b == ',') {
			(void)scan_byte(&c);
			continue;
		}
		if (b == ';') {
			(void)scan_byte(&c);
			if (in_group) {
				fn(arg, &end);
				in_group = 0;
			}
			continue;
		}
		read_words(&c, &ws);
		mime_skip_cfws(&c);
		b = cur_peek(&c);
		if (b == ':' && !in_group) {
			(void)scan_byte(&c);
			join_words(&mbox, &c, &ws, 1);
			a.kind = MIME_ADDR_GROUP_START;
			fn(arg, &a);
			in_group = 1;
		} else if (b == '<') {
			(void)scan_byte(&c);
			join_words(&name, &c, &ws, 1);
			mime_skip_cfws(&c);
			if (cur_peek(&c) == '@') {
				/* obsolete route: @a,@b: */
				while ((b = cur_peek(&c)) >= 0 && b != ':' && b != '>') {
					(void)scan_byte(&c);
					if (b != ' ' && b != '\t' && b != '\r' && b != '\n')
						buf_u8(&adl, (uint8_t)b);
				}
				(void)scan_accept(&c, ':');
			}
			read_words(&c, &ws);
			join_words(&mbox, &c, &ws, 0);
			mime_skip_cfws(&c);
			if (scan_accept(&c, '@'))
				read_domain(&c, &host);
			while ((b = cur_peek(&c)) >= 0 && b != '>' && b != ',')
				(void)scan_byte(&c);
			(void)scan_accept(&c, '>');
			if (mbox.len > 0 || host.len > 0)
				fn(arg, &a);
		} else if (b == '@') {
			(void)scan_byte(&c);
			join_words(&mbox, &c, &ws, 0);
			read_domain(&c, &host);
			if (mbox.len > 0 || host.len > 0)
				fn(arg, &a);
		} else if (ws.n > 0) {
			/* a bare local part such as "undisclosed-recipients" */
			join_words(&mbox, &c, &ws, 0);
			fn(arg, &a);
		} else {
			(void)scan_byte(&c);    /* junk: skip it */
		}
	}
	if (in_group)
		fn(arg, &end);
	buf_wipe_free(&name);
	buf_wipe_free(&adl);
	buf_wipe_free(&mbox);
	buf_wipe_free(&host);
}
