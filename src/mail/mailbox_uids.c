#include "mail/mailbox_uids.h"

#include <stdlib.h>
#include <string.h>

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
mailbox_uids_init(struct mailbox_uids *u, const uint32_t *uids, size_t n)
{
	u->v = NULL;
	u->n = 0;
	if (n == 0)
		return 0;
	if (n > SIZE_MAX / sizeof(*u->v) || (u->v = malloc(n * sizeof(*u->v))) == NULL)
		return SOTTO_ERR_NOMEM;
	memcpy(u->v, uids, n * sizeof(*u->v));
	qsort(u->v, n, sizeof(*u->v), uid_cmp);
	u->n = n;
	return 0;
}

int
mailbox_uids_has(const struct mailbox_uids *u, uint32_t uid)
{
	return u->n > 0 && bsearch(&uid, u->v, u->n, sizeof(*u->v), uid_cmp) != NULL;
}

void
mailbox_uids_free(struct mailbox_uids *u)
{
	free(u->v);
	u->v = NULL;
	u->n = 0;
}
