#include "xmpp.h"

#include <string.h>

#include "base/cursor.h"

enum tag_kind { TAG_OPEN, TAG_EMPTY, TAG_CLOSE, TAG_SKIP, TAG_TEXT };

struct tag {
	int kind;
	char name[XMPP_NAME_MAX + 1];
	size_t text_start, text_len;    /* TAG_TEXT: offsets into the cursor's bytes */
	size_t attr_start, attr_len;    /* TAG_OPEN/EMPTY: the bytes after the name */
};

/* The byte k positions ahead, or -1 if the input ends first. */
static int
peek(const struct cur *c, size_t k)
{
	struct cur t = *c;

	if (cur_left(&t) <= k)
		return -1;
	(void)cur_ref(&t, k);
	return cur_u8(&t);
}

/* 1 if the input continues with s, 0 if it does not, -1 if it is too short to tell. */
static int
starts(const struct cur *c, const char *s)
{
	for (size_t k = 0; s[k] != '\0'; k++) {
		int b = peek(c, k);

		if (b < 0)
			return -1;
		if (b != (uint8_t)s[k])
			return 0;
	}
	return 1;
}

/* Advances past the next occurrence of term; 0 if the input ends first. */
static int
skip_past(struct cur *c, const char *term)
{
	while (cur_left(c) > 0) {
		int m = starts(c, term);

		if (m < 0)
			return 0;
		if (m == 1) {
			(void)cur_ref(c, strlen(term));
			return 1;
		}
		(void)cur_u8(c);
	}
	return 0;
}

static int
is_space(int b)
{
	return b == ' ' || b == '\t' || b == '\r' || b == '\n';
}

static int
is_name_end(int b)
{
	return is_space(b) || b == '/' || b == '>';
}

/* One markup item at the cursor. 1 = done, 0 = needs more bytes, < 0 malformed. */
static int
next_tag(struct cur *c, struct tag *t)
{
	size_t n = 0;
	int b, quote = 0, m;

	memset(t, 0, sizeof(*t));
	if (peek(c, 0) != '<') {
		t->kind = TAG_TEXT;
		t->text_start = c->off;
		while ((b = peek(c, 0)) >= 0 && b != '<')
			(void)cur_u8(c);
		t->text_len = c->off - t->text_start;
		return b < 0 ? 0 : 1;
	}
	if ((m = starts(c, "<?")) != 0 || (m = starts(c, "<!--")) != 0 ||
	    (m = starts(c, "<![CDATA[")) != 0) {
		if (m < 0)
			return 0;
		t->kind = TAG_SKIP;
		b = peek(c, 1);
		return skip_past(c, b == '?' ? "?>" : peek(c, 2) == '-' ? "-->" : "]]>");
	}
	(void)cur_u8(c);
	t->kind = TAG_OPEN;
	if (peek(c, 0) == '/') {
		t->kind = TAG_CLOSE;
		(void)cur_u8(c);
	}
	while ((b = peek(c, 0)) >= 0 && !is_name_end(b)) {
		if (n == XMPP_NAME_MAX || b == '<' || b == '"' || b == '\'' || b == '=')
			return SOTTO_ERR_MALFORMED;
		t->name[n++] = (char)cur_u8(c);
	}
	if (b < 0)
		return 0;
	if (n == 0)
		return SOTTO_ERR_MALFORMED;
	t->attr_start = c->off;
	for (;;) {
		if ((b = peek(c, 0)) < 0)
			return 0;
		(void)cur_u8(c);
		if (quote) {
			if (b == quote)
				quote = 0;
			else if (b == '<')
				return SOTTO_ERR_MALFORMED;
		} else if (b == '"' || b == '\'') {
			quote = b;
		} else if (b == '<') {
			return SOTTO_ERR_MALFORMED;
		} else if (b == '>') {
			break;
		}
	}
	t->attr_len = c->off - 1 - t->attr_start;
	if (t->kind == TAG_OPEN && t->attr_len > 0) {
		struct cur back = *c;

		back.off = c->off - 2;
		if (peek(&back, 0) == '/') {
			t->kind = TAG_EMPTY;
			t->attr_len--;
		}
	} else if (t->kind == TAG_CLOSE && t->attr_len > 0) {
		/* only whitespace may follow the name of an end tag */
		struct cur a;

		cur_init(&a, c->p, t->attr_start + t->attr_len);
		(void)cur_ref(&a, t->attr_start);
		while (cur_left(&a) > 0)
			if (!is_space(cur_u8(&a)))
				return SOTTO_ERR_MALFORMED;
	}
	return 1;
}

static int
is_stream_name(const char *name)
{
	return strcmp(name, "stream:stream") == 0 || strcmp(name, "stream") == 0;
}

int
xmpp_next(const uint8_t *p, size_t len, size_t *used, struct xmpp_unit *u)
{
	struct cur c;
	struct tag t;
	size_t start;
	int depth = 0, r;

	memset(u, 0, sizeof(*u));
	cur_init(&c, p, len);
	*used = 0;
	for (;;) {
		while (peek(&c, 0) >= 0 && is_space(peek(&c, 0)))
			(void)cur_u8(&c);
		*used = c.off;
		start = c.off;
		if (cur_left(&c) == 0)
			return 0;
		if (peek(&c, 0) != '<')
			return SOTTO_ERR_MALFORMED;     /* text outside any element */
		if ((r = next_tag(&c, &t)) <= 0)
			return r;
		if (t.kind != TAG_SKIP)
			break;
	}
	memcpy(u->name, t.name, sizeof(u->name));
	if (is_stream_name(t.name) && (t.kind == TAG_OPEN || t.kind == TAG_CLOSE)) {
		u->kind = t.kind == TAG_OPEN ? XMPP_STREAM_OPEN : XMPP_STREAM_CLOSE;
		goto done;
	}
	if (t.kind == TAG_CLOSE)
		return SOTTO_ERR_MALFORMED;
	u->kind = XMPP_ELEMENT;
	depth = t.kind == TAG_OPEN;
	while (depth > 0) {
		if (c.off - start > XMPP_UNIT_MAX)
			return SOTTO_ERR_TOO_LARGE;
		if ((r = next_tag(&c, &t)) <= 0)
			return r == 0 && c.off - start > XMPP_UNIT_MAX ? SOTTO_ERR_TOO_LARGE : r;
		if (t.kind == TAG_OPEN && ++depth > XMPP_DEPTH_MAX)
			return SOTTO_ERR_TOO_LARGE;
		if (t.kind == TAG_CLOSE)
			depth--;
	}
done:
	if (c.off - start > XMPP_UNIT_MAX)
		return SOTTO_ERR_TOO_LARGE;
	{
		struct cur whole;

		cur_init(&whole, p, c.off);
		(void)cur_ref(&whole, start);
		u->p = cur_rest(&whole, &u->len);
	}
	*used = c.off;
	return 1;
}

/* Decodes text with entity references into out (NUL-terminated). */
static int
decode_text(struct cur *c, size_t n, char *out, size_t cap, size_t *out_len)
{
	size_t o = 0, end = c->off + n;

	if (cap == 0)
		return SOTTO_ERR_TOO_LARGE;
	while (c->off < end) {
		int b = cur_u8(c);

		if (b == '&') {
			static const struct { const char *e; char ch; } ents[] = {
				{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "apos;", '\'' },
				{ "quot;", '"' },
			};
			size_t k;

			for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++)
				if (starts(c, ents[k].e) == 1)
					break;
			if (k < sizeof(ents) / sizeof(ents[0])) {
				(void)cur_ref(c, strlen(ents[k].e));
				b = ents[k].ch;
			} else if (peek(c, 0) == '#') {
				unsigned v = 0, base = 10, digits = 0;

				(void)cur_u8(c);
				if (peek(c, 0) == 'x') {
					base = 16;
					(void)cur_u8(c);
				}
				while (c->off < end && peek(c, 0) != ';' && digits < 6) {
					int d = cur_u8(c);

					if (d >= '0' && d <= '9')
						v = v * base + (unsigned)(d - '0');
					else if (base == 16 && ((d | 0x20) >= 'a' && (d | 0x20) <= 'f'))
						v = v * base + (unsigned)((d | 0x20) - 'a' + 10);
					else
						return SOTTO_ERR_MALFORMED;
					digits++;
				}
				if (digits == 0 || c->off >= end || cur_u8(c) != ';')
					return SOTTO_ERR_MALFORMED;
				b = v < 0x80 ? (int)v : '?';    /* non-ASCII: not needed here */
			} else {
				return SOTTO_ERR_MALFORMED;
			}
			if (c->off > end)
				return SOTTO_ERR_MALFORMED;
		}
		if (o + 1 >= cap)
			return SOTTO_ERR_TOO_LARGE;
		out[o++] = (char)b;
	}
	out[o] = '\0';
	if (out_len != NULL)
		*out_len = o;
	return cur_status(c) != 0 ? SOTTO_ERR_MALFORMED : 0;
}

/* "name" matches "name" and "prefix:name". */
static int
name_matches(const char *qname, const char *name)
{
	const char *colon = strchr(qname, ':');

	return strcmp(qname, name) == 0 || (colon != NULL && strcmp(colon + 1, name) == 0);
}

static int
find_open(struct cur *c, const char *name, struct tag *t)
{
	int r;

	while (cur_left(c) > 0) {
		if ((r = next_tag(c, t)) < 0)
			return r;
		if (r == 0)
			return SOTTO_ERR_NOT_FOUND;
		if ((t->kind == TAG_OPEN || t->kind == TAG_EMPTY) && name_matches(t->name, name))
			return 0;
	}
	return SOTTO_ERR_NOT_FOUND;
}

int
xmpp_child_text(const struct xmpp_unit *u, const char *name, char *out, size_t cap,
    size_t *out_len)
{
	struct cur c;
	struct tag t;
	int r;

	cur_init(&c, u->p, u->len);
	if ((r = find_open(&c, name, &t)) != 0)
		return r;
	if (t.kind == TAG_EMPTY) {
		if (cap == 0)
			return SOTTO_ERR_TOO_LARGE;
		out[0] = '\0';
		if (out_len != NULL)
			*out_len = 0;
		return 0;
	}
	if (peek(&c, 0) == '<') {               /* empty content: <jid></jid> */
		if (cap == 0)
			return SOTTO_ERR_TOO_LARGE;
		out[0] = '\0';
		if (out_len != NULL)
			*out_len = 0;
		return 0;
	}
	{
		struct cur text = c;
		struct tag tt;

		if ((r = next_tag(&c, &tt)) <= 0 || tt.kind != TAG_TEXT)
			return SOTTO_ERR_MALFORMED;
		return decode_text(&text, tt.text_len, out, cap, out_len);
	}
}

int
xmpp_attr(const struct xmpp_unit *u, const char *attr, char *out, size_t cap)
{
	struct cur c, a;
	struct tag t;
	int r;

	cur_init(&c, u->p, u->len);
	if ((r = next_tag(&c, &t)) <= 0)
		return r < 0 ? r : SOTTO_ERR_MALFORMED;
	cur_init(&a, u->p, t.attr_start + t.attr_len);
	(void)cur_ref(&a, t.attr_start);
	for (;;) {
		char an[XMPP_NAME_MAX + 1];
		size_t n = 0, vstart;
		int b, q;

		while (peek(&a, 0) >= 0 && is_space(peek(&a, 0)))
			(void)cur_u8(&a);
		if (cur_left(&a) == 0)
			return SOTTO_ERR_NOT_FOUND;
		while ((b = peek(&a, 0)) >= 0 && b != '=' && !is_space(b)) {
			if (n == XMPP_NAME_MAX)
				return SOTTO_ERR_MALFORMED;
			an[n++] = (char)cur_u8(&a);
		}
		an[n] = '\0';
		while (peek(&a, 0) >= 0 && is_space(peek(&a, 0)))
			(void)cur_u8(&a);
		if (n == 0 || cur_u8(&a) != '=')
			return SOTTO_ERR_MALFORMED;
		while (peek(&a, 0) >= 0 && is_space(peek(&a, 0)))
			(void)cur_u8(&a);
		q = cur_u8(&a);
		if (q != '"' && q != '\'')
			return SOTTO_ERR_MALFORMED;
		vstart = a.off;
		while ((b = peek(&a, 0)) >= 0 && b != q)
			(void)cur_u8(&a);
		if (b < 0)
			return SOTTO_ERR_MALFORMED;
		if (strcmp(an, attr) == 0) {
			struct cur v = a;

			v.off = vstart;
			return decode_text(&v, a.off - vstart, out, cap, NULL);
		}
		(void)cur_u8(&a);               /* closing quote */
	}
}

int
xmpp_has_child(const struct xmpp_unit *u, const char *name)
{
	struct cur c;
	struct tag t;

	cur_init(&c, u->p, u->len);
	return find_open(&c, name, &t) == 0;
}

static void
put_s(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

void
xmpp_put_escaped(struct buf *b, const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (s[i]) {
		case '&': put_s(b, "&amp;"); break;
		case '<': put_s(b, "&lt;"); break;
		case '>': put_s(b, "&gt;"); break;
		case '\'': put_s(b, "&apos;"); break;
		case '"': put_s(b, "&quot;"); break;
		default: buf_u8(b, s[i]); break;
		}
	}
}

static void
put_esc_s(struct buf *b, const char *s)
{
	xmpp_put_escaped(b, (const uint8_t *)s, strlen(s));
}

void
xmpp_put_open(struct buf *b, const char *domain)
{
	put_s(b, "<?xml version='1.0'?><stream:stream to='");
	put_esc_s(b, domain);
	put_s(b, "' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
	    " version='1.0'>");
}

void
xmpp_put_auth_anonymous(struct buf *b)
{
	put_s(b, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>");
}

void
xmpp_put_auth_plain(struct buf *b, const char *user, const char *password)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t raw[512];
	size_t ul = strlen(user), pl = strlen(password), n, i;

	if (ul + pl + 2 > sizeof(raw)) {
		b->err = b->err ? b->err : SOTTO_ERR_TOO_LARGE;
		return;
	}
	raw[0] = 0;                             /* no authorization identity */
	memcpy(raw + 1, user, ul);
	raw[1 + ul] = 0;
	memcpy(raw + 2 + ul, password, pl);
	n = ul + pl + 2;
	put_s(b, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>");
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];

		buf_u8(b, (uint8_t)b64[v >> 18]);
		buf_u8(b, (uint8_t)b64[(v >> 12) & 63]);
		buf_u8(b, (uint8_t)b64[(v >> 6) & 63]);
		buf_u8(b, (uint8_t)b64[v & 63]);
	}
	if (n - i == 1) {
		buf_u8(b, (uint8_t)b64[raw[i] >> 2]);
		buf_u8(b, (uint8_t)b64[(raw[i] & 3) << 4]);
		put_s(b, "==");
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)raw[i] << 8 | raw[i + 1];

		buf_u8(b, (uint8_t)b64[v >> 10]);
		buf_u8(b, (uint8_t)b64[(v >> 4) & 63]);
		buf_u8(b, (uint8_t)b64[(v & 15) << 2]);
		buf_u8(b, '=');
	}
	put_s(b, "</auth>");
}

void
xmpp_put_bind(struct buf *b, const char *id)
{
	put_s(b, "<iq type='set' id='");
	put_esc_s(b, id);
	put_s(b, "'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
}

void
xmpp_put_message(struct buf *b, const char *to, const char *id, const uint8_t *text,
    size_t len)
{
	put_s(b, "<message to='");
	put_esc_s(b, to);
	put_s(b, "' id='");
	put_esc_s(b, id);
	put_s(b, "' type='chat'><body>");
	xmpp_put_escaped(b, text, len);
	put_s(b, "</body></message>");
}
