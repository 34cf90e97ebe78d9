/*
 * What the command line prints of a peer's bytes (src/cli/term.c): whatever comes in, the
 * terminal text holds only UTF-8 without a control a terminal would obey, and the JSON
 * holds none raw and still carries the same string.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Traps unless p is UTF-8 with no character cli_unsafe_char refuses (but newline, tab). */
static void
check_safe(const uint8_t *p, size_t n, int json)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		if ((k = cli_utf8_seq(p + i, n - i, &cp)) == 0)
			__builtin_trap();
		if (cli_unsafe_char(cp) && !(cp == '\n' && !json) && !(cp == '\t' && !json))
			__builtin_trap();
		i += k;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL;
	size_t n = 0;
	json_t *j, *back, *text;
	FILE *f;

	if ((f = open_memstream(&out, &n)) == NULL)
		return 0;
	cli_term_write(f, data, size, (size & 1) != 0);
	fclose(f);
	check_safe((const uint8_t *)out, n, 0);
	free(out);
	/* an object, as every JSON line of the CLI is */
	if ((text = cli_json_text(data, size)) == NULL || (j = json_object()) == NULL) {
		json_decref(text);
		return 0;
	}
	json_object_set_new(j, "body", text);
	out = NULL;
	n = 0;
	if ((f = open_memstream(&out, &n)) == NULL) {
		json_decref(j);
		return 0;
	}
	cli_json_print(f, j);
	fclose(f);
	if (n == 0 || out[n - 1] != '\n')
		__builtin_trap();
	check_safe((const uint8_t *)out, n - 1, 1);
	if ((back = json_loadb(out, n - 1, JSON_ALLOW_NUL, NULL)) == NULL ||
	    !json_equal(back, j))
		__builtin_trap();
	json_decref(back);
	json_decref(j);
	free(out);
	return 0;
}
