#include "imap/imap_fetch.h"

#include <string.h>

#include "imap/imap_str.h"
#include "sotto/mailstore.h"

static const struct {
	const char *name;
	enum imap_fa kind;
} simple_atts[] = {
	{ "UID", FA_UID }, { "FLAGS", FA_FLAGS }, { "INTERNALDATE", FA_INTERNALDATE },
	{ "RFC822.SIZE", FA_RFC822_SIZE }, { "ENVELOPE", FA_ENVELOPE }, { "BODY", FA_BODY },
	{ "BODYSTRUCTURE", FA_BODYSTRUCTURE }, { "RFC822", FA_RFC822 },
	{ "RFC822.HEADER", FA_RFC822_HEADER }, { "RFC822.TEXT", FA_RFC822_TEXT },
};

void
imap_fetch_add(struct imap_fetch *f, enum imap_fa kind)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->att[i].kind == kind)
			return;
	if (f->n == IMAP_FETCH_ATTS_MAX)
		return;
	memset(&f->att[f->n], 0, sizeof(f->att[f->n]));
	f->att[f->n++].kind = kind;
	if (kind == FA_UID)
		f->has_uid = 1;
	if (kind == FA_FLAGS)
		f->has_flags = 1;
}

/* section = "[" [section-spec] "]" */
static int
parse_section(struct imap_parser *p, struct imap_section *s)
{
	struct imap_str k;
	uint32_t n;

	memset(s, 0, sizeof(*s));
	while (imap_peek(p) >= '0' && imap_peek(p) <= '9') {
		if (s->nparts == IMAP_SECTION_DEPTH || !imap_number(p, &n) || n == 0)
			return 0;
		s->part[s->nparts++] = n;
		if (!imap_accept(p, '.'))
			break;
	}
	if (imap_peek(p) == ']')
		return imap_accept(p, ']');
	if (!imap_keyword(p, &k))
		return 0;
	if (imap_is(&k, "HEADER"))
		s->text = IMAP_SEC_HEADER;
	else if (imap_is(&k, "TEXT"))
		s->text = IMAP_SEC_TEXT;
	else if (imap_is(&k, "MIME") && s->nparts > 0)
		s->text = IMAP_SEC_MIME;
	else if (imap_is(&k, "HEADER.FIELDS"))
		s->text = IMAP_SEC_HEADER_FIELDS;
	else if (imap_is(&k, "HEADER.FIELDS.NOT"))
		s->text = IMAP_SEC_HEADER_FIELDS_NOT;
	else
		return 0;
	if (s->text == IMAP_SEC_HEADER_FIELDS || s->text == IMAP_SEC_HEADER_FIELDS_NOT) {
		if (!imap_sp(p) || !imap_accept(p, '('))
			return 0;
		do {
			struct imap_str f;
			if (s->nfields == IMAP_FIELDS_MAX || !imap_astring(p, &f))
				return 0;
			s->fields[s->nfields].p = f.p;
			s->fields[s->nfields].len = f.len;
			s->nfields++;
		} while (imap_sp(p));
		if (!imap_accept(p, ')'))
			return 0;
	}
	return imap_accept(p, ']');
}

static int
parse_att(struct imap_parser *p, struct imap_fetch *f)
{
	struct imap_fetch_att *a;
	struct imap_str k;
	size_t i;

	if (!imap_keyword(p, &k))
		return 0;
	if (imap_peek(p) == '[' && (imap_is(&k, "BODY") || imap_is(&k, "BODY.PEEK"))) {
		if (f->n == IMAP_FETCH_ATTS_MAX)
			return 0;
		a = &f->att[f->n];
		memset(a, 0, sizeof(*a));
		a->kind = FA_SECTION;
		a->peek = imap_is(&k, "BODY.PEEK");
		(void)imap_accept(p, '[');
		if (!parse_section(p, &a->sec))
			return 0;
		if (imap_accept(p, '<')) {
			a->partial = 1;
			if (!imap_number(p, &a->off) || !imap_accept(p, '.') ||
			    !imap_number(p, &a->len) || a->len == 0 || !imap_accept(p, '>'))
				return 0;
		}
		f->n++;
		f->need_data = 1;
		if (!a->peek)
			f->sets_seen = 1;
		return 1;
	}
	for (i = 0; i < sizeof(simple_atts) / sizeof(simple_atts[0]); i++) {
		if (imap_is(&k, simple_atts[i].name)) {
			enum imap_fa kind = simple_atts[i].kind;
			if (f->n == IMAP_FETCH_ATTS_MAX)
				return 0;
			imap_fetch_add(f, kind);
			if (kind == FA_ENVELOPE || kind == FA_BODY || kind == FA_BODYSTRUCTURE ||
			    kind == FA_RFC822 || kind == FA_RFC822_HEADER || kind == FA_RFC822_TEXT)
				f->need_data = 1;
			if (kind == FA_RFC822 || kind == FA_RFC822_TEXT)
				f->sets_seen = 1;
			return 1;
		}
	}
	return 0;
}

int
imap_fetch_parse(struct imap_parser *p, struct imap_fetch *f)
{
	struct imap_parser save;
	struct imap_str k;

	memset(f, 0, sizeof(*f));
	if (imap_accept(p, '(')) {
		do {
			if (!parse_att(p, f))
				return SOTTO_ERR_MALFORMED;
		} while (imap_sp(p));
		return imap_accept(p, ')') ? 0 : SOTTO_ERR_MALFORMED;
	}
	save = *p;
	if (imap_keyword(p, &k) && (imap_is(&k, "ALL") ||
	    imap_is(&k, "FAST") || imap_is(&k, "FULL"))) {
		imap_fetch_add(f, FA_FLAGS);
		imap_fetch_add(f, FA_INTERNALDATE);
		imap_fetch_add(f, FA_RFC822_SIZE);
		if (!imap_is(&k, "FAST")) {
			imap_fetch_add(f, FA_ENVELOPE);
			f->need_data = 1;
		}
		if (imap_is(&k, "FULL"))
			imap_fetch_add(f, FA_BODY);
		return 0;
	}
	*p = save;
	return parse_att(p, f) ? 0 : SOTTO_ERR_MALFORMED;
}

void
imap_put_flags(struct buf *out, uint32_t flags)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ MAILSTORE_SEEN, "\\Seen" }, { MAILSTORE_ANSWERED, "\\Answered" },
		{ MAILSTORE_FLAGGED, "\\Flagged" }, { MAILSTORE_DELETED, "\\Deleted" },
		{ MAILSTORE_DRAFT, "\\Draft" },
	};
	size_t i;
	int first = 1;

	buf_u8(out, '(');
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(flags & names[i].bit))
			continue;
		if (!first)
			buf_u8(out, ' ');
		imap_put_raw(out, names[i].name);
		first = 0;
	}
	buf_u8(out, ')');
}

static int
is_atom(const uint8_t *p, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f || strchr("(){%*\"\\]", p[i]) != NULL)
			return 0;
	return 1;
}

static void
put_section_label(struct buf *out, const struct imap_fetch_att *a)
{
	static const char *const texts[] = { "", "HEADER", "HEADER.FIELDS",
	    "HEADER.FIELDS.NOT", "TEXT", "MIME" };
	const struct imap_section *s = &a->sec;
	size_t i;

	imap_put_raw(out, "BODY[");
	for (i = 0; i < s->nparts; i++) {
		if (i > 0)
			buf_u8(out, '.');
		imap_put_u64(out, s->part[i]);
	}
	if (s->text != IMAP_SEC_ALL) {
		if (s->nparts > 0)
			buf_u8(out, '.');
		imap_put_raw(out, texts[s->text]);
	}
	if (s->text == IMAP_SEC_HEADER_FIELDS || s->text == IMAP_SEC_HEADER_FIELDS_NOT) {
		imap_put_raw(out, " (");
		for (i = 0; i < s->nfields; i++) {
			if (i > 0)
				buf_u8(out, ' ');
			if (is_atom(s->fields[i].p, s->fields[i].len))
				buf_put(out, s->fields[i].p, s->fields[i].len);
			else
				imap_put_string(out, s->fields[i].p, s->fields[i].len);
		}
		buf_u8(out, ')');
	}
	buf_u8(out, ']');
	if (a->partial) {
		buf_u8(out, '<');
		imap_put_u64(out, a->off);
		buf_u8(out, '>');
	}
}

/* Section data, cut to the requested partial range. */
static int
put_section(struct buf *out, const struct imap_fetch_att *a, const struct mime_msg *mm)
{
	struct buf data;
	size_t off = 0, len;
	int r;

	buf_init_dyn(&data, SIZE_MAX);
	if ((r = imap_mime_section_get(mm, &a->sec, &data)) != 0)
		goto out;
	len = data.len;
	if (a->partial) {
		off = a->off < data.len ? a->off : data.len;
		len = data.len - off;
		if (len > a->len)
			len = a->len;
	}
	put_section_label(out, a);
	buf_u8(out, ' ');
	imap_put_literal(out, len > 0 ? data.p + off : NULL, len);
	r = buf_status(out);
out:
	buf_wipe_free(&data);
	return r;
}

int
imap_fetch_put(struct buf *out, const struct imap_fetch *f, const struct imap_fetch_msg *m)
{
	struct imap_fetch_att sec;
	size_t i;
	int r;

	buf_u8(out, '(');
	for (i = 0; i < f->n; i++) {
		const struct imap_fetch_att *a = &f->att[i];
		if (i > 0)
			buf_u8(out, ' ');
		if (a->kind >= FA_ENVELOPE && m->mime == NULL)
			return SOTTO_ERR_INTERNAL;
		switch (a->kind) {
		case FA_UID:
			imap_put_raw(out, "UID ");
			imap_put_u64(out, m->uid);
			break;
		case FA_FLAGS:
			imap_put_raw(out, "FLAGS ");
			imap_put_flags(out, m->flags);
			break;
		case FA_INTERNALDATE:
			imap_put_raw(out, "INTERNALDATE ");
			imap_put_datetime(out, m->internaldate);
			break;
		case FA_RFC822_SIZE:
			imap_put_raw(out, "RFC822.SIZE ");
			imap_put_u64(out, m->size);
			break;
		case FA_ENVELOPE:
			imap_put_raw(out, "ENVELOPE ");
			imap_mime_envelope(out, m->mime, 0);
			break;
		case FA_BODY:
		case FA_BODYSTRUCTURE:
			imap_put_raw(out, a->kind == FA_BODY ? "BODY " : "BODYSTRUCTURE ");
			imap_mime_bodystructure(out, m->mime, 0, a->kind == FA_BODYSTRUCTURE);
			break;
		case FA_RFC822:
		case FA_RFC822_HEADER:
		case FA_RFC822_TEXT: {
			struct buf data;
			memset(&sec, 0, sizeof(sec));
			sec.sec.text = a->kind == FA_RFC822 ? IMAP_SEC_ALL :
			    a->kind == FA_RFC822_HEADER ? IMAP_SEC_HEADER : IMAP_SEC_TEXT;
			imap_put_raw(out, a->kind == FA_RFC822 ? "RFC822 " :
			    a->kind == FA_RFC822_HEADER ? "RFC822.HEADER " : "RFC822.TEXT ");
			buf_init_dyn(&data, SIZE_MAX);
			r = imap_mime_section_get(m->mime, &sec.sec, &data);
			if (r == 0)
				imap_put_literal(out, data.p, data.len);
			buf_wipe_free(&data);
			if (r != 0)
				return r;
			break;
		}
		case FA_SECTION:
			if ((r = put_section(out, a, m->mime)) != 0)
				return r;
			break;
		}
	}
	buf_u8(out, ')');
	return buf_status(out);
}
