/* What the CLI lets through to a terminal (src/cli/term.c), and its JSON escapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli/cli.h"

/* cli_term_write of p into a string (free it). */
static char *
shown(const char *p, size_t len, int indent)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	if (f == NULL)
		return NULL;
	cli_term_write(f, (const uint8_t *)p, len, indent);
	fclose(f);
	return out;
}

TEST(term_controls_become_question_marks)
{
	/* C0 but tab and newline, DEL, C1 as UTF-8, a raw 0x9B byte, the bidi controls. */
	static const char in[] = "a\x1b[2Jb\x07\x7f\xc2\x9b" "31m\x9b" "c\t\n"
	    "\xe2\x80\xae" "exe\xe2\x81\xa6" "d\xe2\x81\xa9\xe2\x80\x8f\xd8\x9c" "e\xc2";
	char *s;

	REQUIRE((s = shown(in, sizeof(in) - 1, 0)) != NULL);
	CHECK(strcmp(s, "a?[2Jb???31m?c\t\n?exe?d???e?") == 0);
	free(s);
	/* Indented bodies; other text, non-ASCII included, is kept as it is. */
	REQUIRE((s = shown("caf\xc3\xa9\nline \xf0\x9f\x98\x80", 15, 1)) != NULL);
	CHECK(strcmp(s, "caf\xc3\xa9\n    line \xf0\x9f\x98\x80") == 0);
	free(s);
	/* Overlong and surrogate encodings are not UTF-8: each byte is one '?'. */
	REQUIRE((s = shown("\xc0\x9b" "\xed\xa0\x80", 5, 0)) != NULL);
	CHECK(strcmp(s, "?????") == 0);
	free(s);
}

TEST(term_printf_and_json)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f;
	json_t *j;

	REQUIRE((f = open_memstream(&out, &n)) != NULL);
	cli_printf(f, "from %s: %d\n", "ev\x1b]0;x\x07il\xe2\x80\xae", 7);
	fclose(f);
	CHECK(strcmp(out, "from ev?]0;x?il?: 7\n") == 0);
	free(out);
	/* JSON: the same characters as \u escapes, so that a program gets them back. */
	REQUIRE((f = open_memstream(&out, &n)) != NULL);
	j = json_object();
	json_object_set_new(j, "body", cli_json_text((const uint8_t *)
	    "\xc2\x9b" "1\xe2\x80\xae" "2\x1b\x7f\x9b\xc3\xa9", 12));
	cli_json_print(f, j);
	json_decref(j);
	fclose(f);
	CHECK(strcmp(out, "{\"body\":\"\\u009b1\\u202e2\\u001B\\u007f\xef\xbf\xbd\xc3\xa9\"}\n")
	    == 0);
	free(out);
}

int
main(void)
{
	RUN(term_controls_become_question_marks);
	RUN(term_printf_and_json);
	return check_summary();
}
