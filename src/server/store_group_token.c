/*
 * The one rule both storage backends apply to a sealed group message (GROUP_SEND_SEALED,
 * docs/SERVER.md "Group tokens"): the verifier of the token it presents against the
 * verifiers the group keeps. Verifiers are not secret (the token is); they are compared
 * in constant time all the same.
 */
#include "server/store.h"

#include <sodium.h>

static int
matches(const uint8_t *kept, const uint8_t presented[STORE_GROUP_VERIFIER_LEN])
{
	return kept != NULL && !sodium_is_zero(kept, STORE_GROUP_VERIFIER_LEN) &&
	    sodium_memcmp(kept, presented, STORE_GROUP_VERIFIER_LEN) == 0;
}

int
store_group_token_check(uint64_t epoch, const uint8_t *current, const uint8_t *previous,
    const uint8_t presented[STORE_GROUP_VERIFIER_LEN])
{
	/* A group made before group tokens (schema 12): none until a member's Commit
	 * registers one; told apart from a wrong token so that the member makes that Commit. */
	if (current == NULL || sodium_is_zero(current, STORE_GROUP_VERIFIER_LEN))
		return SOTTO_ERR_NO_GROUP_TOKEN;
	if (matches(current, presented))
		return 0;
	/* The epoch before had none (the Commit that registered the first one ended it): a
	 * message a member made then cannot be told from a wrong token, and is answered as
	 * late, so that its sender follows that Commit and sends again. */
	if (epoch > 0 && (previous == NULL || sodium_is_zero(previous, STORE_GROUP_VERIFIER_LEN)))
		return SOTTO_ERR_STALE_EPOCH;
	return matches(previous, presented) ? SOTTO_ERR_STALE_EPOCH : SOTTO_ERR_AUTH;
}
