#include "mls/ratchet_tree.h"

#include "mls/leaf_node.h"
#include "mls/limits.h"
#include "mls/suite.h"
#include "mls/tls_codec.h"
#include "mls/tree_math.h"

static void
read_parent_node(struct cur *c)
{
	struct cur unmerged;
	size_t n;

	if (mls_cur_opaque(c, MLS_KEM_PUBLIC_LEN, &n) != NULL && n != MLS_KEM_PUBLIC_LEN)
		cur_fail(c, SOTTO_ERR_MALFORMED);
	(void)mls_cur_opaque(c, MLS_HASH_LEN, &n);
	mls_cur_vector(c, 4 * (size_t)MLS_TREE_MAX_LEAVES, &unmerged);
	if (unmerged.len % 4 != 0 || cur_status(&unmerged) != 0)
		cur_fail(c, SOTTO_ERR_MALFORMED);
}

void
mls_ratchet_tree_read(struct cur *c, uint32_t *n_nodes)
{
	struct mls_leaf_node leaf;
	struct cur list;
	uint32_t i = 0;
	int last_blank = 1;

	*n_nodes = 0;
	mls_cur_vector(c, MLS_MESSAGE_MAX, &list);
	while (cur_left(&list) > 0) {
		uint8_t present = cur_u8(&list);

		if (i >= 2 * MLS_TREE_MAX_LEAVES - 1) {
			cur_fail(&list, SOTTO_ERR_TOO_LARGE);
			break;
		}
		last_blank = present == 0;
		if (present == 1) {
			uint8_t type = cur_u8(&list);

			if (type != (i % 2 == 0 ? MLS_NODE_LEAF : MLS_NODE_PARENT))
				cur_fail(&list, SOTTO_ERR_MALFORMED);
			else if (type == MLS_NODE_LEAF)
				mls_leaf_node_read(&list, &leaf);
			else
				read_parent_node(&list);
		} else if (present != 0)
			cur_fail(&list, SOTTO_ERR_MALFORMED);
		i++;
	}
	if (cur_finish(&list) != 0 || i == 0 || last_blank || i % 2 == 0)
		cur_fail(c, cur_finish(&list) == SOTTO_ERR_TOO_LARGE ? SOTTO_ERR_TOO_LARGE :
		    SOTTO_ERR_MALFORMED);
	else
		*n_nodes = i;
}
