/*
 * Text the CLI prints to a terminal. A message, a mail subject or a name from a peer may
 * hold bytes a terminal obeys rather than shows: C0 controls (ESC starts a sequence that
 * can rewrite the screen or fake a warning), C1 controls (U+009B is a one-character CSI,
 * and so is a raw byte 0x9B to a terminal that is not in UTF-8 mode), and the Unicode
 * bidirectional controls, which reorder what follows (U+202E shows "exe.txt" as
 * "txt.exe"). Every printer of the CLI goes through cli_term_write; JSON output escapes
 * the same characters instead (cli_json_print), so that a program still gets the text.
 */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

size_t
cli_utf8_seq(const uint8_t *p, size_t n, uint32_t *cp_out)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80) {
		*cp_out = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) { len = 2; cp = p[0] & 0x1f; }
	else if ((p[0] & 0xf0) == 0xe0) { len = 3; cp = p[0] & 0x0f; }
	else if ((p[0] & 0xf8) == 0xf0) { len = 4; cp = p[0] & 0x07; }
	else return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_out = cp;
	return len;
}

int
cli_unsafe_char(uint32_t cp)
{
	if (cp < 0x20)
		return cp != '\n' && cp != '\t';
	/* DEL and the C1 controls */
	if (cp >= 0x7f && cp <= 0x9f)
		return 1;
	/* Bidi_Control (Unicode, PropList.txt): ALM, LRM, RLM, the embeddings and overrides
	 * U+202A..U+202E, the isolates U+2066..U+2069. */
	return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069);
}

void
cli_term_write(FILE *out, const uint8_t *p, size_t len, int indent)
{
	size_t i = 0, k;
	uint32_t cp = 0;

	while (i < len) {
		if ((k = cli_utf8_seq(p + i, len - i, &cp)) == 0) {
			fputc('?', out);        /* not UTF-8: a raw 0x9B is an 8-bit CSI */
			i++;
			continue;
		}
		if (cp == '\n' && indent)
			fputs("\n    ", out);
		else if (cli_unsafe_char(cp))
			fputc('?', out);
		else
			fwrite(p + i, 1, k, out);
		i += k;
	}
}

void
cli_print_text(FILE *out, const uint8_t *p, size_t len)
{
	cli_term_write(out, p, len, 1);
}

void
cli_printf(FILE *out, const char *fmt, ...)
{
	char small[1024], *big = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		cli_term_write(out, (const uint8_t *)small, (size_t)n, 0);
		return;
	}
	if ((big = malloc((size_t)n + 1)) == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (n > 0)
		cli_term_write(out, (const uint8_t *)big, (size_t)n, 0);
	free(big);
}

char *
cli_json_dumps(json_t *j)
{
	char *s, *o;
	size_t i = 0, len, k, n = 0;
	uint32_t cp = 0;

	if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL)
		return NULL;
	/* Jansson escapes C0 controls; the rest are written as \u escapes here, which is
	 * the same JSON text. Outside strings JSON is ASCII, so every such character is
	 * inside one. An escape is at most 6 times the bytes it replaces. */
	len = strlen(s);
	if ((o = malloc(6 * len + 2)) == NULL)
		goto out;
	while (i < len) {
		if ((k = cli_utf8_seq((const uint8_t *)s + i, len - i, &cp)) == 0) {
			memcpy(o + n, "\\ufffd", 6);  /* cannot happen: jansson writes UTF-8 */
			n += 6;
			i++;
			continue;
		}
		if (cp >= 0x20 && cli_unsafe_char(cp)) {
			snprintf(o + n, 7, "\\u%04x", (unsigned)cp);
			n += 6;
		} else {
			memcpy(o + n, s + i, k);
			n += k;
		}
		i += k;
	}
	o[n] = '\0';
out:
	free(s);
	return o;
}

void
cli_json_print(FILE *out, json_t *j)
{
	char *s = cli_json_dumps(j);

	if (s == NULL)
		return;
	fputs(s, out);
	fputc('\n', out);
	free(s);
}
