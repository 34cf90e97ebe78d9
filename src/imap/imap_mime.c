/*
 * What IMAP reads from a parsed message (RFC 3501 sections 6.4.5 and 7.4.2): ENVELOPE,
 * BODY/BODYSTRUCTURE and BODY[section] data.
 */
#include "imap/imap_mime.h"

#include <string.h>
#include <strings.h>

#include "imap/imap_str.h"

#define MIME_PARAMS_MAX 32

static int
ieq(const uint8_t *p, size_t n, const char *s)
{
	return p != NULL && strlen(s) == n && strncasecmp((const char *)p, s, n) == 0;
}

/* A header's value, unfolded, as an nstring (NIL if absent). */
static void
put_address(struct buf *out, const struct buf *name, const struct buf *adl,
    const struct buf *mbox, const struct buf *host)
{
	const struct buf *f[4] = { name, adl, mbox, host };
	size_t i;

	buf_u8(out, '(');
	for (i = 0; i < 4; i++) {
		if (i > 0)
			buf_u8(out, ' ');
		if (i == 3 && host != NULL && host->len == 0 && mbox != NULL && mbox->len > 0)
			imap_put_raw(out, "\"MISSING_DOMAIN\"");  /* a NIL host would mean a group */
		else if (f[i] == NULL || f[i]->len == 0)
			imap_put_raw(out, "NIL");
		else
			imap_put_string(out, f[i]->p, f[i]->len);
	}
	buf_u8(out, ')');
}

struct put_state {
	struct buf *out;
	size_t count;
};

static void
put_one(void *arg, const struct mime_addr *a)
{
	struct put_state *ps = arg;

	if (ps->count++ == 0)
		buf_u8(ps->out, '(');
	switch (a->kind) {
	case MIME_ADDR_GROUP_START:
		put_address(ps->out, NULL, NULL, a->mbox, NULL);
		break;
	case MIME_ADDR_GROUP_END:
		put_address(ps->out, NULL, NULL, NULL, NULL);
		break;
	default:
		put_address(ps->out, a->name, a->adl, a->mbox, a->host);
		break;
	}
}

void
imap_mime_addresses(struct buf *out, const uint8_t *v, size_t n)
{
	struct put_state ps = { out, 0 };

	mime_addresses_each(v, n, put_one, &ps);
	if (ps.count == 0)
		imap_put_raw(out, "NIL");
	else
		buf_u8(out, ')');
}

static void
put_header_nstring(struct buf *out, const struct mime_msg *m, const struct mime_part *p,
    const char *name)
{
	struct span v;
	struct buf tmp;

	if (!mime_header_find(m, p, name, &v)) {
		imap_put_raw(out, "NIL");
		return;
	}
	buf_init_dyn(&tmp, v.len + 1);
	mime_unfold(&tmp, scan_span(&m->all, v), v.len);
	if (buf_status(&tmp) != 0)
		out->err = buf_status(&tmp);
	else
		imap_put_string(out, tmp.p != NULL ? tmp.p : (const uint8_t *)"", tmp.len);
	buf_wipe_free(&tmp);
}

static int
has_text(const struct mime_msg *m, struct span v)
{
	struct cur c = scan_sub(&m->all, v.off, v.len);

	mime_skip_cfws(&c);
	return cur_left(&c) > 0;
}

/* An address header; Sender and Reply-To that are absent or empty take From's value. */
static void
put_header_addresses(struct buf *out, const struct mime_msg *m, const struct mime_part *p,
    const char *name, const char *fallback)
{
	struct span v;

	if ((mime_header_find(m, p, name, &v) && (fallback == NULL || has_text(m, v))) ||
	    (fallback != NULL && mime_header_find(m, p, fallback, &v)))
		imap_mime_addresses(out, scan_span(&m->all, v), v.len);
	else
		imap_put_raw(out, "NIL");
}

void
imap_mime_envelope(struct buf *out, const struct mime_msg *m, int idx)
{
	const struct mime_part *p = &m->parts[idx];

	buf_u8(out, '(');
	put_header_nstring(out, m, p, "Date");
	buf_u8(out, ' ');
	put_header_nstring(out, m, p, "Subject");
	buf_u8(out, ' ');
	put_header_addresses(out, m, p, "From", NULL);
	buf_u8(out, ' ');
	put_header_addresses(out, m, p, "Sender", "From");
	buf_u8(out, ' ');
	put_header_addresses(out, m, p, "Reply-To", "From");
	buf_u8(out, ' ');
	put_header_addresses(out, m, p, "To", NULL);
	buf_u8(out, ' ');
	put_header_addresses(out, m, p, "Cc", NULL);
	buf_u8(out, ' ');
	put_header_addresses(out, m, p, "Bcc", NULL);
	buf_u8(out, ' ');
	put_header_nstring(out, m, p, "In-Reply-To");
	buf_u8(out, ' ');
	put_header_nstring(out, m, p, "Message-ID");
	buf_u8(out, ')');
}

/* The parameters of a Content-Type or Content-Disposition value as an IMAP list. */
static void
put_params(struct buf *out, const struct mime_msg *m, const struct span *value, int is_text)
{
	struct cur c;
	struct span name;
	struct buf val;
	size_t count = 0;

	if (value != NULL) {
		c = scan_sub(&m->all, value->off, value->len);
		buf_init_dyn(&val, value->len + 1);
		if (mime_params_begin(&c)) {
			while (count < MIME_PARAMS_MAX) {
				buf_reset(&val);
				if (!mime_param_next(&c, &name, &val))
					break;
				buf_u8(out, count++ ? ' ' : '(');
				imap_put_string(out, scan_span(&c, name), name.len);
				buf_u8(out, ' ');
				imap_put_string(out, val.p ? val.p : (const uint8_t *)"", val.len);
			}
		}
		buf_wipe_free(&val);
	}
	if (count == 0 && is_text) {
		imap_put_raw(out, "(\"charset\" \"us-ascii\")");
		return;
	}
	imap_put_raw(out, count ? ")" : "NIL");
}

static void
put_disposition(struct buf *out, const struct mime_msg *m, const struct mime_part *p)
{
	struct span v, t;
	struct cur c;

	if (!mime_header_find(m, p, "Content-Disposition", &v)) {
		imap_put_raw(out, "NIL");
		return;
	}
	c = scan_sub(&m->all, v.off, v.len);
	mime_skip_cfws(&c);
	if (!mime_token(&c, &t)) {
		imap_put_raw(out, "NIL");
		return;
	}
	buf_u8(out, '(');
	imap_put_string(out, scan_span(&c, t), t.len);
	buf_u8(out, ' ');
	put_params(out, m, &v, 0);
	buf_u8(out, ')');
}

/* The first token of a header (Content-Transfer-Encoding), or dflt. */
static void
put_header_token(struct buf *out, const struct mime_msg *m, const struct mime_part *p,
    const char *name, const char *dflt)
{
	struct span v, t;
	struct cur c;

	if (mime_header_find(m, p, name, &v)) {
		c = scan_sub(&m->all, v.off, v.len);
		mime_skip_cfws(&c);
		if (mime_token(&c, &t)) {
			imap_put_string(out, scan_span(&c, t), t.len);
			return;
		}
	}
	imap_put_raw(out, dflt);
}

void
imap_mime_bodystructure(struct buf *out, const struct mime_msg *m, int idx, int extensible)
{
	const struct mime_part *p = &m->parts[idx];
	const uint8_t *type, *sub;
	size_t tlen, slen;
	int child, is_text;

	mime_ctype(m, idx, &type, &tlen, &sub, &slen);
	buf_u8(out, '(');
	if (p->kind == MIME_MULTIPART) {
		for (child = p->first_child; child >= 0; child = m->parts[child].next_sibling)
			imap_mime_bodystructure(out, m, child, extensible);
		buf_u8(out, ' ');
		imap_put_string(out, sub, slen);
		if (extensible) {
			buf_u8(out, ' ');
			put_params(out, m, &p->ctype, 0);
			buf_u8(out, ' ');
			put_disposition(out, m, p);
			imap_put_raw(out, " NIL NIL");
		}
		buf_u8(out, ')');
		return;
	}
	is_text = ieq(type, tlen, "text");
	imap_put_string(out, type, tlen);
	buf_u8(out, ' ');
	imap_put_string(out, sub, slen);
	buf_u8(out, ' ');
	put_params(out, m, p->has_ctype && !p->degraded ? &p->ctype : NULL, is_text);
	buf_u8(out, ' ');
	put_header_nstring(out, m, p, "Content-ID");
	buf_u8(out, ' ');
	put_header_nstring(out, m, p, "Content-Description");
	buf_u8(out, ' ');
	put_header_token(out, m, p, "Content-Transfer-Encoding", "\"7BIT\"");
	buf_u8(out, ' ');
	imap_put_u64(out, p->body.len);
	if (p->kind == MIME_MESSAGE) {
		buf_u8(out, ' ');
		imap_mime_envelope(out, m, p->first_child);
		buf_u8(out, ' ');
		imap_mime_bodystructure(out, m, p->first_child, extensible);
		buf_u8(out, ' ');
		imap_put_u64(out, p->lines);
	} else if (is_text) {
		buf_u8(out, ' ');
		imap_put_u64(out, p->lines);
	}
	if (extensible) {
		imap_put_raw(out, " ");
		put_header_nstring(out, m, p, "Content-MD5");
		buf_u8(out, ' ');
		put_disposition(out, m, p);
		imap_put_raw(out, " NIL NIL");
	}
	buf_u8(out, ')');
}

/* Resolves the part numbers of a section; -1 if there is no such part. */
static int
resolve_part(const struct mime_msg *m, const struct imap_section *s)
{
	int cur = 0, child;
	size_t i;
	uint32_t k, j;

	for (i = 0; i < s->nparts; i++) {
		k = s->part[i];
		if (k == 0)
			return -1;
		if (i > 0 && m->parts[cur].kind == MIME_MESSAGE)
			cur = m->parts[cur].first_child;
		if (m->parts[cur].kind == MIME_MULTIPART) {
			child = m->parts[cur].first_child;
			for (j = 1; j < k && child >= 0; j++)
				child = m->parts[child].next_sibling;
			if (child < 0)
				return -1;
			cur = child;
		} else if (k != 1) {
			return -1;
		}
	}
	return cur;
}

static void
put_span(struct buf *out, const struct mime_msg *m, struct span s)
{
	if (s.len > 0)
		buf_put(out, scan_span(&m->all, s), s.len);
}

static int
field_listed(const struct imap_section *s, const uint8_t *name, size_t len)
{
	size_t i;

	for (i = 0; i < s->nfields; i++)
		if (s->fields[i].len == len &&
		    strncasecmp((const char *)s->fields[i].p, (const char *)name, len) == 0)
			return 1;
	return 0;
}

static void
put_header_fields(struct buf *out, const struct mime_msg *m, const struct mime_part *p,
    const struct imap_section *s, int negate)
{
	struct cur h = scan_sub(&m->all, p->hdr.off, p->hdr.len);
	struct span f, n, v;

	while (mime_header_next(&h, &f, &n, &v)) {
		if (field_listed(s, scan_span(&h, n), n.len) != negate) {
			buf_put(out, scan_span(&h, f), f.len);
			if (f.len == v.off + v.len - f.off)
				buf_put(out, "\r\n", 2);    /* last line lacked its end */
		}
	}
	buf_put(out, "\r\n", 2);
}

int
imap_mime_section_get(const struct mime_msg *m, const struct imap_section *s, struct buf *out)
{
	int idx = resolve_part(m, s);
	const struct mime_part *p;

	if (idx < 0)
		return buf_status(out);
	p = &m->parts[idx];
	if (s->text == IMAP_SEC_ALL) {
		if (s->nparts == 0) {
			size_t n;
			struct cur all = m->all;
			const uint8_t *d = cur_rest(&all, &n);
			if (n > 0)
				buf_put(out, d, n);
		} else {
			put_span(out, m, p->body);
		}
		return buf_status(out);
	}
	if (s->text == IMAP_SEC_MIME) {
		if (s->nparts > 0)
			put_span(out, m, p->hdr);
		return buf_status(out);
	}
	/* HEADER, HEADER.FIELDS and TEXT apply to a message: the top or a message/rfc822 part */
	if (s->nparts > 0) {
		if (p->kind != MIME_MESSAGE)
			return buf_status(out);
		p = &m->parts[p->first_child];
	}
	switch (s->text) {
	case IMAP_SEC_HEADER:
		put_span(out, m, p->hdr);
		break;
	case IMAP_SEC_TEXT:
		put_span(out, m, p->body);
		break;
	case IMAP_SEC_HEADER_FIELDS:
		put_header_fields(out, m, p, s, 0);
		break;
	case IMAP_SEC_HEADER_FIELDS_NOT:
		put_header_fields(out, m, p, s, 1);
		break;
	default:
		break;
	}
	return buf_status(out);
}
