#include "sotto/mailstore.h"

#include <stdlib.h>

#include <sodium.h>

void
mailstore_destroy(struct mailstore *ms)
{
	if (ms->ops != NULL)
		ms->ops->destroy(ms->impl);
	ms->ops = NULL;
	ms->impl = NULL;
}

void
mailstore_release(struct mailstore *ms, uint8_t *data, size_t len)
{
	if (data != NULL)
		ms->ops->release(ms->impl, data, len);
}

void
mailstore_mail_free(void *impl, uint8_t *data, size_t len)
{
	(void)impl;
	if (data == NULL)
		return;
	sodium_memzero(data, len);
	free(data);
}
