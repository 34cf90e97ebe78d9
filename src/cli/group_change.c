/* A group's membership, name or timer change in words, for `receive` and `history`. */
#include "cli/cli.h"

#include <string.h>

static void
name_list(FILE *out, const char *const *members, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cli_printf(out, "%s%s", i > 0 ? ", " : "", members[i]);
}

void
cli_group_change_print(FILE *out, enum sotto_group_change c, const char *actor,
    const char *const *members, size_t n, uint32_t expiry)
{
	const char *by = actor != NULL && actor[0] != '\0' ? actor : "a member";

	switch (c) {
	case SOTTO_CHANGE_JOINED:
		cli_printf(out, "you were added by %s; members: ", by);
		name_list(out, members, n);
		break;
	case SOTTO_CHANGE_ADDED:
		cli_printf(out, "%s added ", by);
		name_list(out, members, n);
		break;
	case SOTTO_CHANGE_REMOVED:
		cli_printf(out, "%s removed ", by);
		name_list(out, members, n);
		break;
	case SOTTO_CHANGE_LEFT:
		cli_printf(out, "%s left", by);
		break;
	case SOTTO_CHANGE_YOU_REMOVED:
		cli_printf(out, "you were removed by %s: you read nothing sent to the group now",
		    by);
		break;
	case SOTTO_CHANGE_RENAMED:
		cli_printf(out, "%s named the group \"", by);
		if (n > 0)
			cli_print_text(out, (const uint8_t *)members[0], strlen(members[0]));
		fputs("\"", out);
		break;
	case SOTTO_CHANGE_TIMER:
		if (expiry == 0)
			cli_printf(out, "%s turned disappearing messages off", by);
		else
			cli_printf(out, "%s set disappearing messages to %u s", by, expiry);
		break;
	}
	fputs("\n", out);
}

size_t
cli_group_change_names(const struct sotto_message *m, char *buf, size_t buf_len,
    const char **v, size_t max)
{
	size_t n = 0, len = m->body_len < buf_len ? m->body_len : buf_len - 1;
	char *p = buf, *nl;

	memcpy(buf, m->body, len);
	buf[len] = '\0';
	if (len == 0 || max == 0)
		return 0;
	if (m->change == SOTTO_CHANGE_RENAMED) {
		v[0] = buf;
		return 1;
	}
	while (n < max) {
		v[n++] = p;
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	return n;
}
