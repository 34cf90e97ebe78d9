#include "mail/mime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIME_COMMENT_DEPTH 8

static int
ieq(const uint8_t *p, size_t n, const char *s)
{
	return p != NULL && strlen(s) == n && strncasecmp((const char *)p, s, n) == 0;
}

static int
byte_at(const struct mime_msg *m, size_t off)
{
	struct cur t = scan_sub(&m->all, off, 1);

	return cur_peek(&t);
}

/* Reads one line; *content excludes the CRLF or LF, *next is where the next line starts. */
static int
read_line(struct cur *c, struct span *content, size_t *next)
{
	int b;

	if (cur_left(c) == 0)
		return 0;
	content->off = cur_pos(c);
	for (;;) {
		b = scan_byte(c);
		if (b < 0 || b == '\n')
			break;
	}
	*next = cur_pos(c);
	content->len = *next - content->off;
	if (b == '\n') {
		content->len--;
		if (content->len > 0) {
			struct cur t = scan_sub(c, content->off + content->len - 1, 1);
			if (cur_peek(&t) == '\r')
				content->len--;
		}
	}
	return 1;
}

static int
is_ftext(int b)
{
	return b > 32 && b < 127 && b != ':';
}

/* A header line "name: ...": a printable name without spaces, then a colon. */
static int
looks_like_field(const struct cur *line)
{
	struct cur t = *line;
	size_t n = 0;
	int b;

	while ((b = cur_peek(&t)) >= 0 && is_ftext(b)) {
		(void)scan_byte(&t);
		n++;
	}
	while (cur_peek(&t) == ' ' || cur_peek(&t) == '\t')
		(void)scan_byte(&t);
	return n > 0 && cur_peek(&t) == ':';
}

int
mime_header_next(struct cur *h, struct span *field, struct span *name, struct span *value)
{
	struct span line;
	size_t next;

	for (;;) {
		struct cur lc;
		int b;

		if (!read_line(h, &line, &next) || line.len == 0)
			return 0;
		lc = scan_sub(h, line.off, line.len);
		if (!looks_like_field(&lc))
			continue;       /* stray line or orphan continuation: skip it */
		field->off = line.off;
		name->off = line.off;
		name->len = 0;
		while ((b = cur_peek(&lc)) >= 0 && is_ftext(b)) {
			(void)scan_byte(&lc);
			name->len++;
		}
		while (cur_peek(&lc) != ':')
			(void)scan_byte(&lc);
		(void)scan_byte(&lc);
		value->off = line.off + cur_pos(&lc);
		value->len = line.off + line.len - value->off;
		/* continuation lines start with white space */
		for (;;) {
			int c0 = cur_peek(h);
			struct span cont;
			size_t cnext;
			if (c0 != ' ' && c0 != '\t')
				break;
			if (!read_line(h, &cont, &cnext))
				break;
			value->len = cont.off + cont.len - value->off;
			next = cnext;
		}
		field->len = next - field->off;
		return 1;
	}
}

int
mime_header_find(const struct mime_msg *m, const struct mime_part *p, const char *name,
    struct span *value)
{
	struct cur h = m->all;
	struct span f, n, v;

	h = scan_sub(&m->all, p->hdr.off, p->hdr.len);
	while (mime_header_next(&h, &f, &n, &v)) {
		if (ieq(scan_span(&h, n), n.len, name)) {
			value->off = p->hdr.off + v.off;
			value->len = v.len;
			return 1;
		}
	}
	return 0;
}

void
mime_unfold(struct buf *out, const uint8_t *v, size_t n)
{
	struct cur c;
	size_t start = out->len, i;
	int b;

	cur_init(&c, v, n);
	while ((b = cur_peek(&c)) == ' ' || b == '\t' || b == '\r' || b == '\n')
		(void)scan_byte(&c);
	while ((b = scan_byte(&c)) >= 0)
		if (b != '\r' && b != '\n')
			buf_u8(out, (uint8_t)b);
	if (buf_status(out) != 0)
		return;
	for (i = out->len; i > start; i--) {
		struct cur t;
		cur_init(&t, out->p, out->len);
		t = scan_sub(&t, i - 1, 1);
		b = cur_peek(&t);
		if (b != ' ' && b != '\t')
			break;
	}
	out->len = i;
}

void
mime_skip_cfws(struct cur *c)
{
	int depth = 0, b;

	while ((b = cur_peek(c)) >= 0) {
		if (depth == 0 && (b == ' ' || b == '\t' || b == '\r' || b == '\n')) {
			(void)scan_byte(c);
		} else if (b == '(') {
			(void)scan_byte(c);
			if (++depth > MIME_COMMENT_DEPTH) {
				/* absurd nesting: give up on the rest of the value */
				size_t n;
				(void)cur_rest(c, &n);
				return;
			}
		} else if (depth > 0 && b == ')') {
			(void)scan_byte(c);
			depth--;
		} else if (depth > 0 && b == '\\') {
			(void)scan_byte(c);
			(void)scan_byte(c);
		} else if (depth > 0) {
			(void)scan_byte(c);
		} else {
			return;
		}
	}
}

static int
is_token_char(int b)
{
	return b > 32 && b < 127 && strchr("()<>@,;:\\\"/[]?=", b) == NULL;
}

int
mime_token(struct cur *c, struct span *tok)
{
	tok->off = cur_pos(c);
	tok->len = 0;
	while (is_token_char(cur_peek(c))) {
		(void)scan_byte(c);
		tok->len++;
	}
	return tok->len > 0;
}

int
mime_params_begin(struct cur *c)
{
	struct span t;

	mime_skip_cfws(c);
	if (!mime_token(c, &t))
		return 0;
	mime_skip_cfws(c);
	if (scan_accept(c, '/')) {
		mime_skip_cfws(c);
		if (!mime_token(c, &t))
			return 0;
	}
	return 1;
}

int
mime_param_next(struct cur *c, struct span *name, struct buf *val)
{
	struct span v;
	int b;

	mime_skip_cfws(c);
	if (!scan_accept(c, ';'))
		return 0;
	mime_skip_cfws(c);
	if (!mime_token(c, name))
		return 0;
	mime_skip_cfws(c);
	if (!scan_accept(c, '='))
		return 0;
	mime_skip_cfws(c);
	if (scan_accept(c, '"')) {
		for (;;) {
			b = scan_byte(c);
			if (b < 0)
				return 0;
			if (b == '"')
				break;
			if (b == '\\')
				b = scan_byte(c);
			if (b == '\r' || b == '\n' || b < 0)
				continue;
			buf_u8(val, (uint8_t)b);
		}
	} else {
		if (!mime_token(c, &v))
			return 0;
		buf_put(val, scan_span(c, v), v.len);
	}
	return buf_status(val) == 0;
}

void
mime_ctype(const struct mime_msg *m, int idx, const uint8_t **type, size_t *tlen,
    const uint8_t **sub, size_t *slen)
{
	const struct mime_part *p = &m->parts[idx];
	struct span t, s;
	struct cur c;

	if (p->degraded || !p->has_ctype)
		goto dflt;
	c = scan_sub(&m->all, p->ctype.off, p->ctype.len);
	mime_skip_cfws(&c);
	if (!mime_token(&c, &t))
		goto dflt;
	mime_skip_cfws(&c);
	if (!scan_accept(&c, '/'))
		goto dflt;
	mime_skip_cfws(&c);
	if (!mime_token(&c, &s))
		goto dflt;
	*type = scan_span(&c, t);
	*tlen = t.len;
	*sub = scan_span(&c, s);
	*slen = s.len;
	return;
dflt:
	if (p->digest_child && !p->degraded) {
		*type = (const uint8_t *)"message";
		*tlen = 7;
		*sub = (const uint8_t *)"rfc822";
		*slen = 6;
	} else {
		*type = (const uint8_t *)"text";
		*tlen = 4;
		*sub = (const uint8_t *)"plain";
		*slen = 5;
	}
}

static size_t
count_lines(const struct mime_msg *m, struct span body)
{
	struct cur c = scan_sub(&m->all, body.off, body.len);
	size_t n = 0;
	int b = -1, last = -1;

	while ((b = scan_byte(&c)) >= 0) {
		if (b == '\n')
			n++;
		last = b;
	}
	if (body.len > 0 && last != '\n')
		n++;
	return n;
}

/* Copies the boundary parameter of part idx into out; 0 if absent or unusable. */
static int
get_boundary(const struct mime_msg *m, int idx, uint8_t out[MIME_BOUNDARY_MAX], size_t *len)
{
	const struct mime_part *p = &m->parts[idx];
	struct cur c = scan_sub(&m->all, p->ctype.off, p->ctype.len);
	struct span name;
	struct buf val;

	if (!mime_params_begin(&c))
		return 0;
	for (;;) {
		buf_init_fixed(&val, out, MIME_BOUNDARY_MAX);
		if (!mime_param_next(&c, &name, &val))
			return 0;
		if (ieq(scan_span(&c, name), name.len, "boundary")) {
			*len = val.len;
			return val.len > 0;
		}
	}
}

static int add_entity(struct mime_msg *m, size_t off, size_t len, int parent, int depth,
    int digest_child);

static int
is_delimiter(const struct mime_msg *m, struct span line, const uint8_t *bnd, size_t blen,
    int *close)
{
	struct cur c = scan_sub(&m->all, line.off, line.len);
	const uint8_t *p;
	int b;

	if (!scan_accept(&c, '-') || !scan_accept(&c, '-'))
		return 0;
	if ((p = cur_ref(&c, blen)) == NULL || memcmp(p, bnd, blen) != 0)
		return 0;
	*close = 0;
	if (cur_peek(&c) == '-' && cur_peek_at(&c, 1) == '-') {
		(void)scan_byte(&c);
		(void)scan_byte(&c);
		*close = 1;
	}
	while ((b = scan_byte(&c)) >= 0)
		if (b != ' ' && b != '\t')
			return 0;
	return 1;
}

/* Splits the body of multipart part idx into child entities; returns how many. */
static int
split_multipart(struct mime_msg *m, int idx, int depth)
{
	uint8_t bnd[MIME_BOUNDARY_MAX];
	size_t blen = 0, next, start = 0;
	struct span body = m->parts[idx].body, line;
	struct cur c;
	int nchildren = 0, in_part = 0, digest, last = -1, close = 0;
	const uint8_t *sub;
	const uint8_t *type;
	size_t tlen, slen;

	if (!get_boundary(m, idx, bnd, &blen))
		return 0;
	mime_ctype(m, idx, &type, &tlen, &sub, &slen);
	digest = ieq(sub, slen, "digest");
	c = scan_sub(&m->all, body.off, body.len);
	while (read_line(&c, &line, &next)) {
		line.off += body.off;
		if (!is_delimiter(m, line, bnd, blen, &close))
			continue;
		if (in_part) {
			size_t end = line.off;
			if (end > start && byte_at(m, end - 1) == '\n')
				end--;
			if (end > start && byte_at(m, end - 1) == '\r')
				end--;
			int child = add_entity(m, start, end - start, idx, depth + 1, digest);
			if (child < 0)
				return nchildren;
			if (last < 0)
				m->parts[idx].first_child = child;
			else
				m->parts[last].next_sibling = child;
			last = child;
			nchildren++;
		}
		if (close)
			return nchildren;
		in_part = 1;
		start = body.off + next;
	}
	if (in_part) {
		/* no close delimiter: the last part runs to the end */
		int child = add_entity(m, start, body.off + body.len - start, idx, depth + 1, digest);
		if (child >= 0) {
			if (last < 0)
				m->parts[idx].first_child = child;
			else
				m->parts[last].next_sibling = child;
			nchildren++;
		}
	}
	return nchildren;
}

/* Parses the entity at [off, off+len) and its children; returns its index or -1 when the
 * part table is full (or memory ran out, recorded in m). */
static int
add_entity(struct mime_msg *m, size_t off, size_t len, int parent, int depth, int digest_child)
{
	struct mime_part *p;
	struct cur c, lc;
	struct span line, v;
	size_t next, hdr_end;
	const uint8_t *type, *sub;
	size_t tlen, slen;
	int idx;

	if (m->nparts >= MIME_MAX_PARTS)
		return -1;
	if (m->nparts == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 8;
		struct mime_part *np;
		if (ncap > MIME_MAX_PARTS)
			ncap = MIME_MAX_PARTS;
		if ((np = realloc(m->parts, ncap * sizeof(*np))) == NULL) {
			cur_fail(&m->all, SOTTO_ERR_NOMEM);
			return -1;
		}
		m->parts = np;
		m->cap = ncap;
	}
	idx = (int)m->nparts++;
	p = &m->parts[idx];
	memset(p, 0, sizeof(*p));
	p->parent = parent;
	p->first_child = -1;
	p->next_sibling = -1;
	p->digest_child = digest_child;

	/* The header ends at a blank line, or before the first line that is neither a field nor
	 * a continuation (a part that starts straight with its body). */
	c = scan_sub(&m->all, off, len);
	hdr_end = off + len;
	p->body.off = off + len;
	while (read_line(&c, &line, &next)) {
		int b0;
		if (line.len == 0) {
			hdr_end = off + next;
			p->body.off = off + next;
			break;
		}
		lc = scan_sub(&c, line.off, line.len);
		b0 = cur_peek(&lc);
		if (b0 != ' ' && b0 != '\t' && !looks_like_field(&lc)) {
			hdr_end = off + line.off;
			p->body.off = off + line.off;
			break;
		}
	}
	p->hdr.off = off;
	p->hdr.len = hdr_end - off;
	p->body.len = off + len - p->body.off;
	p->lines = count_lines(m, p->body);
	if (mime_header_find(m, p, "Content-Type", &v)) {
		p->has_ctype = 1;
		p->ctype = v;
	}
	mime_ctype(m, idx, &type, &tlen, &sub, &slen);
	if (ieq(type, tlen, "multipart")) {
		if (depth >= MIME_MAX_DEPTH || split_multipart(m, idx, depth) == 0) {
			m->parts[idx].degraded = 1;
			m->parts[idx].first_child = -1;
		} else {
			m->parts[idx].kind = MIME_MULTIPART;
		}
	} else if (ieq(type, tlen, "message") && ieq(sub, slen, "rfc822")) {
		int child = -1;
		if (depth < MIME_MAX_DEPTH)
			child = add_entity(m, m->parts[idx].body.off, m->parts[idx].body.len, idx,
			    depth + 1, 0);
		if (child < 0) {
			m->parts[idx].degraded = 1;
		} else {
			m->parts[idx].kind = MIME_MESSAGE;
			m->parts[idx].first_child = child;
		}
	}
	return idx;
}

int
mime_parse(struct mime_msg *m, const uint8_t *data, size_t len)
{
	memset(m, 0, sizeof(*m));
	cur_init(&m->all, data, len);
	if (add_entity(m, 0, len, -1, 0, 0) != 0 || cur_status(&m->all) != 0) {
		int r = cur_status(&m->all);
		mime_free(m);
		return r ? r : SOTTO_ERR_NOMEM;
	}
	return 0;
}

void
mime_free(struct mime_msg *m)
{
	free(m->parts);
	memset(m, 0, sizeof(*m));
}
