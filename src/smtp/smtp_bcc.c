#include "smtp/smtp_bcc.h"

#include <string.h>

#include "base/cursor.h"

/* The next line including its LF (or the rest, if none). */
static const uint8_t *
next_line(struct cur *c, size_t *n)
{
	size_t left = cur_left(c), lf;

	if (left == 0) {
		*n = 0;
		return NULL;
	}
	lf = cur_find(c, '\n');
	*n = lf == CUR_NPOS ? left : lf + 1;
	return cur_ref(c, *n);
}

static int
name_is(const uint8_t *name, size_t n, const char *want)
{
	size_t i;

	if (n != strlen(want))
		return 0;
	for (i = 0; i < n; i++) {
		uint8_t ch = name[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (uint8_t)(ch + 32);
		if (ch != (uint8_t)want[i])
			return 0;
	}
	return 1;
}

/* RFC 5322 puts the colon right after the name; the obsolete syntax (section 4.5.1)
 * allows white space before it, so "Bcc :" is caught too. */
static int
is_bcc_field(const uint8_t *line, size_t n)
{
	size_t k = 0, end;

	while (k < n && line[k] != ':' && line[k] > 32 && line[k] < 127)
		k++;
	end = k;
	while (k < n && (line[k] == ' ' || line[k] == '\t'))
		k++;
	if (k >= n || line[k] != ':')
		return 0;
	return name_is(line, end, "bcc") || name_is(line, end, "resent-bcc");
}

static int
is_blank_line(const uint8_t *line, size_t n)
{
	return (n == 1 && line[0] == '\n') || (n == 2 && line[0] == '\r' && line[1] == '\n');
}

int
smtp_bcc_strip(const uint8_t *msg, size_t len, struct buf *out)
{
	struct cur c;
	const uint8_t *line, *rest;
	size_t n;
	int dropping = 0;

	cur_init(&c, msg, len);
	while ((line = next_line(&c, &n)) != NULL) {
		if (is_blank_line(line, n)) {
			buf_put(out, line, n);
			break;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			/* A folded continuation belongs to the field above it. */
			if (!dropping)
				buf_put(out, line, n);
			continue;
		}
		dropping = is_bcc_field(line, n);
		if (!dropping)
			buf_put(out, line, n);
	}
	/* (cur_rest on an empty NULL input would do arithmetic on NULL) */
	if (cur_left(&c) > 0) {
		rest = cur_rest(&c, &n);
		buf_put(out, rest, n);
	}
	return buf_status(out);
}
