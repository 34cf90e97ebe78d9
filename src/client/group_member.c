/* Group members: each leaf's Sotto credential verified, and its identity key compared
 * with what our contacts say of its address. */
#include "client/client_int.h"
#include "client/group.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mls/credential.h"
#include "mls/ratchet_tree.h"
#include "wire/address.h"

_Static_assert(MLS_CRED_ADDRESS_MAX == STORE_ADDR_MAX, "one address cap");
_Static_assert(MLS_CRED_KEY_LEN == STORE_KEY_LEN, "identity keys are Ed25519");

/* The trust a member with this address and identity key gets from our contacts. */
static int
member_trust(struct sotto *s, struct client_group_member *m)
{
	struct store_contact c;
	int r;

	if (s->have_id && strcmp(m->address, s->k->id.address) == 0) {
		/* Another key under our own address is someone claiming to be us. */
		m->trust = sodium_memcmp(m->identity_key, s->k->id.identity_pk, 32) == 0 ?
		    CLIENT_MEMBER_SELF : CLIENT_MEMBER_BLOCKED;
		return 0;
	}
	if ((r = client_contact_find(s, m->address, &c)) < 0)
		return r;
	if (r == 0)
		m->trust = CLIENT_MEMBER_UNKNOWN;
	else if (sodium_memcmp(c.identity_pk, m->identity_key, 32) != 0)
		m->trust = c.verified ? CLIENT_MEMBER_BLOCKED : CLIENT_MEMBER_CHANGED;
	else
		m->trust = c.verified ? CLIENT_MEMBER_VERIFIED : CLIENT_MEMBER_KNOWN;
	return 0;
}

int
client_group_member_of_leaf(struct sotto *s, const struct mls_leaf_node *ln, uint32_t leaf,
    struct client_group_member *m)
{
	struct mls_sotto_credential cr;
	int r;

	memset(m, 0, sizeof(*m));
	if ((r = mls_credential_of_leaf(ln, &cr)) != 0)
		return r;
	/* The address in its one spelling: another would dodge the contact lookup. */
	if (address_user_check((const char *)cr.address, cr.address_len) != 0)
		return SOTTO_ERR_BAD_ADDRESS;
	m->leaf = leaf;
	memcpy(m->address, cr.address, cr.address_len);
	m->address[cr.address_len] = '\0';
	memcpy(m->identity_key, cr.identity_key, 32);
	memcpy(m->signature_key, ln->signature_key, 32);
	m->device_id = cr.device_id;
	return member_trust(s, m);
}

int
client_group_members_of_tree(struct sotto *s, const struct mls_ratchet_tree *t,
    struct client_group_members *out)
{
	uint32_t l;
	int r = 0;

	out->n = 0;
	if ((out->v = calloc(t->n_leaves, sizeof(*out->v))) == NULL)
		return SOTTO_ERR_NOMEM;
	for (l = 0; l < t->n_leaves && r == 0; l++) {
		if (t->nodes[2 * l].type != MLS_NODE_LEAF)
			continue;
		if ((r = client_group_member_of_leaf(s, &t->nodes[2 * l].leaf, l,
		    &out->v[out->n])) == 0)
			out->n++;
	}
	if (r != 0)
		client_group_members_free(out);
	return r;
}

void
client_group_members_free(struct client_group_members *m)
{
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/* The same member: the same leaf, signature key and credential. A leaf whose credential
 * changed (a new address or identity key under the same signature key, in an Update or a
 * Commit's path) counts as removed and added, so that the new one is checked and shown. */
static int
member_in(const struct client_group_member *x, const struct client_group_members *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->v[i].leaf == x->leaf &&
		    memcmp(set->v[i].signature_key, x->signature_key, 32) == 0 &&
		    memcmp(set->v[i].identity_key, x->identity_key, 32) == 0 &&
		    set->v[i].device_id == x->device_id &&
		    strcmp(set->v[i].address, x->address) == 0)
			return 1;
	return 0;
}

/* The members of a that are not in b, into out. */
static int
members_minus(const struct client_group_members *a, const struct client_group_members *b,
    struct client_group_members *out)
{
	size_t i;

	out->n = 0;
	out->v = NULL;
	if (a->n > 0 && (out->v = calloc(a->n, sizeof(*out->v))) == NULL)
		return SOTTO_ERR_NOMEM;
	for (i = 0; i < a->n; i++)
		if (!member_in(&a->v[i], b))
			out->v[out->n++] = a->v[i];
	return 0;
}

int
client_group_members_diff(const struct client_group_members *before,
    const struct client_group_members *after, struct client_group_members *added,
    struct client_group_members *removed)
{
	int r;

	if ((r = members_minus(after, before, added)) != 0)
		return r;
	if ((r = members_minus(before, after, removed)) != 0)
		client_group_members_free(added);
	return r;
}

unsigned
client_group_members_warnings(const struct client_group_members *m)
{
	unsigned w = 0;
	size_t i;

	for (i = 0; i < m->n; i++) {
		if (m->v[i].trust == CLIENT_MEMBER_CHANGED || m->v[i].trust == CLIENT_MEMBER_BLOCKED)
			w |= CLIENT_GROUP_WARN_KEY_CHANGED;
		if (m->v[i].trust == CLIENT_MEMBER_UNKNOWN)
			w |= CLIENT_GROUP_WARN_UNKNOWN;
	}
	return w;
}
