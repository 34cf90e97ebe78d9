/* A group's membership, name or timer change in words, for `receive` and `history`. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

void
cli_group_change_print(FILE *out, enum sotto_group_change c, const char *actor,
    const char *const *members, size_t n, uint32_t expiry)
{
	size_t len = sotto_group_change_text(c, actor, members, n, expiry, NULL, 0);
	char *text = malloc(len + 1);

	if (text == NULL)
		return;
	sotto_group_change_text(c, actor, members, n, expiry, text, len + 1);
	cli_print_text(out, (const uint8_t *)text, len);
	fputs("\n", out);
	free(text);
}
