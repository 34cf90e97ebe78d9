#include "mls/proposal.h"

#include "mls/group_context.h"
#include "mls/limits.h"
#include "mls/psk.h"
#include "mls/tls_codec.h"

static void
read_extensions(struct cur *c)
{
	size_t n;
	const uint8_t *p = mls_cur_opaque(c, MLS_EXTENSIONS_MAX, &n);

	if (p != NULL && mls_extensions_check(p, n) != 0)
		cur_fail(c, SOTTO_ERR_MALFORMED);
}

void
mls_proposal_read(struct cur *c, struct mls_proposal *p)
{
	mls_proposal_body_read(c, cur_u16(c), p);
}

void
mls_proposal_body_read(struct cur *c, uint16_t type, struct mls_proposal *p)
{
	size_t start = c->off, n;

	p->type = type;
	switch (p->type) {
	case MLS_PROPOSAL_ADD:
		mls_key_package_read(c, &p->add);
		break;
	case MLS_PROPOSAL_UPDATE:
		mls_leaf_node_read(c, &p->update);
		break;
	case MLS_PROPOSAL_REMOVE:
		p->removed = cur_u32(c);
		break;
	case MLS_PROPOSAL_PSK:
		mls_psk_id_read(c, &p->psk);
		break;
	case MLS_PROPOSAL_REINIT:
		(void)mls_cur_opaque(c, MLS_GROUP_ID_MAX, &n);
		(void)cur_u16(c);
		(void)cur_u16(c);
		read_extensions(c);
		break;
	case MLS_PROPOSAL_EXTERNAL_INIT:
		(void)mls_cur_opaque(c, MLS_KEM_PUBLIC_LEN, &n);
		break;
	case MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS:
		read_extensions(c);
		break;
	default:
		cur_fail(c, SOTTO_ERR_UNSUPPORTED);
		break;
	}
	if (cur_status(c) == 0) {
		p->body = c->p + start;
		p->body_len = c->off - start;
	}
}

void
mls_update_path_read(struct cur *c, struct mls_update_path *up)
{
	struct cur nodes, cts;
	size_t n;

	mls_leaf_node_read(c, &up->leaf);
	mls_cur_vector(c, MLS_MESSAGE_MAX, &nodes);
	up->nodes = nodes.p;
	up->nodes_len = nodes.len;
	up->n_nodes = 0;
	while (cur_left(&nodes) > 0) {
		(void)mls_cur_opaque_fixed(&nodes, MLS_KEM_PUBLIC_LEN);
		mls_cur_vector(&nodes, MLS_MESSAGE_MAX, &cts);
		while (cur_left(&cts) > 0) {
			(void)mls_cur_opaque_fixed(&cts, MLS_KEM_PUBLIC_LEN);
			(void)mls_cur_opaque(&cts, MLS_MESSAGE_MAX, &n);
		}
		if (cur_finish(&cts) != 0)
			cur_fail(&nodes, SOTTO_ERR_MALFORMED);
		up->n_nodes++;
	}
	if (cur_finish(&nodes) != 0)
		cur_fail(c, SOTTO_ERR_MALFORMED);
}

int
mls_update_path_node(const struct mls_update_path *up, size_t i, const uint8_t **key,
    const uint8_t **ciphertexts, size_t *ciphertexts_len)
{
	struct cur nodes, cts;
	size_t k;

	cur_init(&nodes, up->nodes, up->nodes_len);
	for (k = 0; k <= i && cur_left(&nodes) > 0; k++) {
		*key = mls_cur_opaque_fixed(&nodes, MLS_KEM_PUBLIC_LEN);
		mls_cur_vector(&nodes, MLS_MESSAGE_MAX, &cts);
		*ciphertexts = cts.p;
		*ciphertexts_len = cts.len;
	}
	return k == i + 1 && cur_status(&nodes) == 0 ? 0 : SOTTO_ERR_INVALID_ARG;
}

void
mls_commit_read(struct cur *c, struct mls_commit *cm)
{
	struct cur list;
	struct mls_proposal p;
	size_t n;
	uint8_t present;

	mls_cur_vector(c, MLS_MESSAGE_MAX, &list);
	cm->proposals = list.p;
	cm->proposals_len = list.len;
	cm->proposal_count = 0;
	while (cur_left(&list) > 0) {
		switch (cur_u8(&list)) {
		case MLS_PROPOSAL_OR_REF_PROPOSAL:
			mls_proposal_read(&list, &p);
			break;
		case MLS_PROPOSAL_OR_REF_REFERENCE:
			(void)mls_cur_opaque(&list, MLS_HASH_LEN, &n);
			break;
		default:
			cur_fail(&list, SOTTO_ERR_MALFORMED);
			break;
		}
		cm->proposal_count++;
	}
	if (cur_finish(&list) != 0)
		cur_fail(c, cur_finish(&list) == SOTTO_ERR_UNSUPPORTED ? SOTTO_ERR_UNSUPPORTED :
		    SOTTO_ERR_MALFORMED);
	present = cur_u8(c);
	cm->has_path = present == 1;
	if (present > 1)
		cur_fail(c, SOTTO_ERR_MALFORMED);
	if (cm->has_path)
		mls_update_path_read(c, &cm->path);
}
