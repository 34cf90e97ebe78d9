/*
 * Mail text as a person reads it: RFC 2047 encoded words in header values, and part bodies
 * with their Content-Transfer-Encoding (quoted-printable, base64) undone. IMAP SEARCH
 * compares against this (RFC 3501 section 6.4.4), and the sender check (mail_sender.c)
 * reads display names through it. Text in ISO-8859-1 (or windows-1252, read as such) is
 * turned into UTF-8; UTF-8, US-ASCII and other charsets keep their bytes. Malformed
 * encodings are kept as they are, so every input terminates and nothing is lost.
 */
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "mail/mime.h"

#define WORD_CHARSET_MAX 40     /* longest charset name taken (RFC 2047 has no limit) */

static int
hex_val(int b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	if (b >= 'A' && b <= 'F')
		return b - 'A' + 10;
	if (b >= 'a' && b <= 'f')
		return b - 'a' + 10;
	return -1;
}

static int
is_latin1(const uint8_t *cs, size_t n)
{
	static const char *const names[] = { "iso-8859-1", "iso8859-1", "latin1", "latin-1",
	    "windows-1252", "cp1252" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && strncasecmp((const char *)cs, names[i], n) == 0)
			return 1;
	return 0;
}

/* Appends bytes, as UTF-8 if they are ISO-8859-1. */
static void
put_text(struct buf *out, const uint8_t *p, size_t n, int latin1)
{
	struct cur c;
	int b;

	if (!latin1) {
		if (n > 0)
			buf_put(out, p, n);
		return;
	}
	cur_init(&c, p, n);
	while ((b = scan_byte(&c)) >= 0) {
		if (b < 0x80) {
			buf_u8(out, (uint8_t)b);
		} else {
			buf_u8(out, (uint8_t)(0xc0 | (b >> 6)));
			buf_u8(out, (uint8_t)(0x80 | (b & 0x3f)));
		}
	}
}

/* Base64 with white space and line breaks ignored; 0 if it does not decode. */
static int
b64_decode(struct buf *out, const uint8_t *p, size_t n, int padded)
{
	size_t len = 0, cap = n / 4 * 3 + 3;
	uint8_t *dst;

	if (n == 0)
		return 1;
	if ((dst = buf_reserve(out, cap)) == NULL)
		return 0;
	if (sodium_base642bin(dst, cap, (const char *)p, n, " \t\r\n", &len, NULL,
	    padded ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_ORIGINAL_NO_PADDING)
	    != 0) {
		out->len -= cap;
		return 0;
	}
	out->len -= cap - len;
	return 1;
}

/* Quoted-printable (RFC 2045 section 6.7); in_word: RFC 2047 "Q" ('_' is a space). */
static void
qp_decode(struct buf *out, const uint8_t *p, size_t n, int in_word)
{
	struct cur c;
	int b, h1, h2;

	cur_init(&c, p, n);
	while ((b = scan_byte(&c)) >= 0) {
		if (in_word && b == '_') {
			buf_u8(out, ' ');
		} else if (b != '=') {
			buf_u8(out, (uint8_t)b);
		} else if ((h1 = hex_val(cur_peek(&c))) >= 0 &&
		    (h2 = hex_val(cur_peek_at(&c, 1))) >= 0) {
			(void)scan_byte(&c);
			(void)scan_byte(&c);
			buf_u8(out, (uint8_t)(h1 << 4 | h2));
		} else {
			/* a soft line break: "=", maybe trailing blanks, then the line end */
			struct cur t = c;

			while (cur_peek(&t) == ' ' || cur_peek(&t) == '\t')
				(void)scan_byte(&t);
			(void)scan_accept(&t, '\r');
			if (scan_accept(&t, '\n') || cur_left(&t) == 0)
				c = t;
			else
				buf_u8(out, '=');       /* malformed: keep it */
		}
	}
}

struct word {
	struct span cs, text;           /* within the value */
	int b64;
};

/* An encoded word "=?charset[*lang]?B|Q?text?=" at c; consumed only if well formed. */
static int
word_at(struct cur *c, struct word *w)
{
	struct cur t = *c;
	int b, enc;

	if (!scan_accept(&t, '=') || !scan_accept(&t, '?'))
		return 0;
	w->cs.off = cur_pos(&t);
	while ((b = cur_peek(&t)) > 32 && b < 127 && b != '?' && b != '*')
		(void)scan_byte(&t);
	w->cs.len = cur_pos(&t) - w->cs.off;
	if (scan_accept(&t, '*'))       /* RFC 2231 language: skipped */
		while ((b = cur_peek(&t)) > 32 && b < 127 && b != '?')
			(void)scan_byte(&t);
	if (w->cs.len == 0 || w->cs.len > WORD_CHARSET_MAX || !scan_accept(&t, '?'))
		return 0;
	enc = scan_byte(&t) | 0x20;
	if ((enc != 'b' && enc != 'q') || !scan_accept(&t, '?'))
		return 0;
	w->b64 = enc == 'b';
	w->text.off = cur_pos(&t);
	while ((b = cur_peek(&t)) > 32 && b < 127 && b != '?')
		(void)scan_byte(&t);
	w->text.len = cur_pos(&t) - w->text.off;
	if (!scan_accept(&t, '?') || !scan_accept(&t, '='))
		return 0;
	*c = t;
	return 1;
}

static void
put_word(struct buf *out, const struct cur *c, const struct word *w, struct buf *tmp)
{
	const uint8_t *text = scan_span(c, w->text);

	buf_reset(tmp);
	if (w->b64) {
		if (!b64_decode(tmp, text, w->text.len, 1) &&
		    !b64_decode(tmp, text, w->text.len, 0)) {
			buf_reset(tmp);
			buf_put(tmp, text, w->text.len);
		}
	} else if (w->text.len > 0) {
		qp_decode(tmp, text, w->text.len, 1);
	}
	if (buf_status(tmp) == 0)
		put_text(out, tmp->p, tmp->len, is_latin1(scan_span(c, w->cs), w->cs.len));
}

void
mime_decode_words(struct buf *out, const uint8_t *v, size_t n)
{
	struct buf tmp;
	struct word w;
	struct cur c;
	int b, after_word = 0;

	buf_init_dyn(&tmp, n + 4);
	cur_init(&c, v, n);
	while ((b = cur_peek(&c)) >= 0) {
		if (b == '\r' || b == '\n') {
			(void)scan_byte(&c);    /* unfolding */
		} else if ((b == ' ' || b == '\t') && after_word) {
			/* white space between two encoded words is not text (RFC 2047 6.2) */
			struct cur t = c;
			struct word w2;

			while ((b = cur_peek(&t)) == ' ' || b == '\t' || b == '\r' || b == '\n')
				(void)scan_byte(&t);
			if (word_at(&t, &w2)) {
				c = t;
				put_word(out, &c, &w2, &tmp);
			} else {
				after_word = 0;
			}
		} else if (b == '=' && word_at(&c, &w)) {
			put_word(out, &c, &w, &tmp);
			after_word = 1;
		} else {
			buf_u8(out, (uint8_t)scan_byte(&c));
			after_word = 0;
		}
	}
	buf_wipe_free(&tmp);
}

/* The value of a Content-* field of part idx as one lowered token, e.g. "base64". */
static int
param_is(const struct mime_msg *m, int idx, const char *field, const char *want)
{
	struct span v;
	struct span tok;
	struct cur c;

	if (!mime_header_find(m, &m->parts[idx], field, &v))
		return 0;
	c = scan_sub(&m->all, v.off, v.len);
	mime_skip_cfws(&c);
	return mime_token(&c, &tok) && tok.len == strlen(want) &&
	    strncasecmp((const char *)scan_span(&c, tok), want, tok.len) == 0;
}

static int
part_latin1(const struct mime_msg *m, int idx)
{
	struct span v, name;
	struct buf val;
	struct cur c;
	int latin1 = 0;

	if (!m->parts[idx].has_ctype)
		return 0;
	v = m->parts[idx].ctype;
	c = scan_sub(&m->all, v.off, v.len);
	if (!mime_params_begin(&c))
		return 0;
	buf_init_dyn(&val, v.len + 1);
	for (;;) {
		buf_reset(&val);
		if (!mime_param_next(&c, &name, &val))
			break;
		if (name.len == 7 && strncasecmp((const char *)scan_span(&c, name), "charset", 7)
		    == 0 && buf_status(&val) == 0) {
			latin1 = is_latin1(val.p, val.len);
			break;
		}
	}
	buf_wipe_free(&val);
	return latin1;
}

void
mime_decode_body(struct buf *out, const struct mime_msg *m, int idx)
{
	const struct mime_part *p = &m->parts[idx];
	const uint8_t *body = scan_span(&m->all, p->body);
	struct buf tmp;

	if (body == NULL)
		return;
	buf_init_dyn(&tmp, p->body.len + 4);
	if (param_is(m, idx, "Content-Transfer-Encoding", "base64")) {
		if (!b64_decode(&tmp, body, p->body.len, 1)) {
			buf_reset(&tmp);
			buf_put(&tmp, body, p->body.len);
		}
	} else if (param_is(m, idx, "Content-Transfer-Encoding", "quoted-printable")) {
		qp_decode(&tmp, body, p->body.len, 0);
	} else {
		buf_put(&tmp, body, p->body.len);
	}
	if (buf_status(&tmp) == 0)
		put_text(out, tmp.p, tmp.len, part_latin1(m, idx));
	buf_wipe_free(&tmp);
}
