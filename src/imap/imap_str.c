#include "imap/imap_str.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Longer strings go out as literals even when quotable, to keep quoted strings short. */
#define IMAP_QUOTED_MAX 1024

void
imap_put_raw(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

void
imap_put_u64(struct buf *b, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);

	buf_put(b, tmp, (size_t)n);
}

void
imap_put_literal(struct buf *b, const uint8_t *p, size_t n)
{
	buf_u8(b, '{');
	imap_put_u64(b, n);
	buf_put(b, "}\r\n", 3);
	if (n > 0)
		buf_put(b, p, n);
}

void
imap_put_string(struct buf *b, const uint8_t *p, size_t n)
{
	size_t i;

	if (n > IMAP_QUOTED_MAX)
		goto literal;
	for (i = 0; i < n; i++)
		if (p[i] == 0 || p[i] == '\r' || p[i] == '\n' || p[i] >= 0x80)
			goto literal;
	buf_u8(b, '"');
	for (i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\')
			buf_u8(b, '\\');
		buf_u8(b, p[i]);
	}
	buf_u8(b, '"');
	return;
literal:
	imap_put_literal(b, p, n);
}

void
imap_put_nstring(struct buf *b, const uint8_t *p, size_t n)
{
	if (p == NULL)
		imap_put_raw(b, "NIL");
	else
		imap_put_string(b, p, n);
}

void
imap_put_datetime(struct buf *b, int64_t t)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
	    "Aug", "Sep", "Oct", "Nov", "Dec" };
	char tmp[40];
	struct tm tm;
	time_t tt = (time_t)t;
	int n;

	if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
		memset(&tm, 0, sizeof(tm)), tm.tm_mday = 1, tm.tm_year = 70;
	n = snprintf(tmp, sizeof(tmp), "\"%2d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday,
	    months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	buf_put(b, tmp, (size_t)n);
}
