/*
 * The login generation rule both storage backends apply (struct store_login, store.h).
 */
#include "server/store.h"

/*
 * One device's login generations: valid are the one it last proved it holds (a crash
 * before it stored the next, or a second process on its store) and those issued since
 * (floor, issued]. Presenting one of those proves it and revokes every other one issued
 * before, so of two copies of a store the second to come back is refused. One from
 * beyond `issued` can only come from this server before its database was restored from
 * a backup: it is taken as proven rather than locking the device out.
 */
int
store_login_step(uint64_t g[3], uint64_t presented, uint64_t *next)
{
	uint64_t *proven = &g[0], *floor = &g[1], *issued = &g[2];

	if (presented == *proven) {
		/* nothing proved */
	} else if (presented > *floor && presented <= *issued) {
		*proven = presented;
		*floor = *issued;
	} else if (presented > *issued) {
		*proven = *floor = *issued = presented;
	} else {
		return SOTTO_ERR_DEVICE_CLONED;
	}
	*next = ++*issued;
	return 0;
}
