#include "bridge/authlimit.h"

#include <string.h>

void
authlimit_init(struct authlimit *l, unsigned max, uint64_t window_ms)
{
	memset(l, 0, sizeof(*l));
	l->max = max < 1 ? 1 : max > AUTHLIMIT_MAX ? AUTHLIMIT_MAX : max;
	l->window_ms = window_ms;
}

int
authlimit_allowed(const struct authlimit *l, uint64_t now_ms)
{
	unsigned i, recent = 0;

	for (i = 0; i < l->n; i++)
		if (now_ms < l->at[i] + l->window_ms)
			recent++;
	return recent < l->max;
}

void
authlimit_failed(struct authlimit *l, uint64_t now_ms)
{
	l->at[l->next] = now_ms;
	l->next = (l->next + 1) % l->max;
	if (l->n < l->max)
		l->n++;
}
