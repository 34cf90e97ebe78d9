#include "mls/ratchet_tree.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mls/crypto.h"
#include "mls/limits.h"
#include "mls/tls_codec.h"
#include "mls/tree_math.h"

/* One optional<Node> at position i into nd; with keep, the unmerged list is copied into
 * an array nd owns. */
static void
read_node(struct cur *c, uint32_t i, struct mls_node *nd, int keep)
{
	struct cur unmerged;
	size_t k;
	uint8_t present = cur_u8(c), type;
	size_t start;

	memset(nd, 0, sizeof(*nd));
	if (present != 1) {
		if (present != 0)
			cur_fail(c, SOTTO_ERR_MALFORMED);
		return;
	}
	type = cur_u8(c);
	start = c->off;
	if (type != (i % 2 == 0 ? MLS_NODE_LEAF : MLS_NODE_PARENT)) {
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return;
	}
	if (type == MLS_NODE_LEAF)
		mls_leaf_node_read(c, &nd->leaf);
	else {
		nd->encryption_key = mls_cur_opaque_fixed(c, MLS_KEM_PUBLIC_LEN);
		nd->parent_hash = mls_cur_opaque(c, MLS_HASH_LEN, &nd->parent_hash_len);
		mls_cur_vector(c, 4 * (size_t)MLS_TREE_MAX_LEAVES, &unmerged);
		if (cur_status(&unmerged) != 0 || unmerged.len % 4 != 0)
			cur_fail(c, SOTTO_ERR_MALFORMED);
		else if (keep && unmerged.len > 0) {
			if ((nd->unmerged = calloc(unmerged.len / 4, sizeof(uint32_t))) == NULL)
				cur_fail(c, SOTTO_ERR_NOMEM);
			else
				nd->n_unmerged = unmerged.len / 4;
			for (k = 0; k < nd->n_unmerged; k++)
				nd->unmerged[k] = cur_u32(&unmerged);
		}
	}
	if (cur_status(c) == 0) {
		nd->type = type;
		nd->encoding = c->p + start;
		nd->encoding_len = c->off - start;
	}
}

/* Reads the node list, into nodes if not NULL (room for cap), counting them. */
static void
read_nodes(struct cur *c, struct mls_node *nodes, size_t cap, uint32_t *n_nodes)
{
	struct mls_node scratch;
	struct cur list;
	uint32_t i = 0;
	int last_blank = 1, err;

	*n_nodes = 0;
	mls_cur_vector(c, MLS_MESSAGE_MAX, &list);
	while (cur_left(&list) > 0) {
		if (i >= 2 * MLS_TREE_MAX_LEAVES - 1 || (nodes != NULL && i >= cap)) {
			cur_fail(&list, SOTTO_ERR_TOO_LARGE);
			break;
		}
		read_node(&list, i, nodes != NULL ? &nodes[i] : &scratch, nodes != NULL);
		last_blank = (nodes != NULL ? nodes[i].type : scratch.type) == MLS_NODE_BLANK;
		i++;
	}
	if ((err = cur_finish(&list)) != 0 || i == 0 || last_blank || i % 2 == 0)
		cur_fail(c, err == SOTTO_ERR_TOO_LARGE ? err : SOTTO_ERR_MALFORMED);
	else
		*n_nodes = i;
}

void
mls_ratchet_tree_read(struct cur *c, uint32_t *n_nodes)
{
	read_nodes(c, NULL, 0, n_nodes);
}

static int
in_subtree(uint32_t y, uint32_t c)
{
	uint32_t half = (1u << mls_tree_level(c)) - 1;

	return y + half >= c && y <= c + half;
}

static uint32_t unmerged_at(const struct mls_node *nd, size_t i);

/* 1 if the parent nd lists leaf l among its unmerged leaves (sorted: checked before). */
static int
lists_unmerged(const struct mls_node *nd, uint32_t l)
{
	size_t lo = 0, hi = nd->n_unmerged;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (unmerged_at(nd, mid) == l)
			return 1;
		if (unmerged_at(nd, mid) < l)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* RFC 9420 7.1 and 12.4.3.1: each parent's unmerged leaves are non-blank leaves below it,
 * listed in increasing order (so each once), and every non-blank node between such a leaf
 * and the parent lists it too. This also keeps every resolution inside the tree and
 * bounds the work hashing does. */
static int
check_unmerged(const struct mls_ratchet_tree *t)
{
	uint32_t w = mls_tree_node_width(t->n_leaves), x, y, l;
	size_t i;
	int r;

	for (x = 1; x < w; x += 2)
		for (i = 0; i < t->nodes[x].n_unmerged; i++) {
			l = unmerged_at(&t->nodes[x], i);
			if (l >= t->n_leaves || !in_subtree(2 * l, x) ||
			    t->nodes[2 * l].type == MLS_NODE_BLANK ||
			    (i > 0 && l <= unmerged_at(&t->nodes[x], i - 1)))
				return SOTTO_ERR_MALFORMED;
		}
	for (x = 1; x < w; x += 2)
		for (i = 0; i < t->nodes[x].n_unmerged; i++) {
			l = unmerged_at(&t->nodes[x], i);
			for (y = 2 * l;; ) {
				if ((r = mls_tree_parent(&y, y, t->n_leaves)) != 0)
					return r;
				if (y == x)
					break;
				if (t->nodes[y].type != MLS_NODE_BLANK && !lists_unmerged(&t->nodes[y], l))
					return SOTTO_ERR_MALFORMED;
			}
		}
	return 0;
}

int
mls_ratchet_tree_decode(struct mls_ratchet_tree *t, const uint8_t *p, size_t len)
{
	uint32_t n_nodes, n_leaves = 1;
	struct cur c;
	int r;

	memset(t, 0, sizeof(*t));
	cur_init(&c, p, len);
	mls_ratchet_tree_read(&c, &n_nodes);
	if ((r = cur_finish(&c)) != 0)
		return r;
	while (mls_tree_node_width(n_leaves) < n_nodes)
		n_leaves *= 2;
	t->bytes = malloc(len);
	t->nodes = calloc(mls_tree_node_width(n_leaves), sizeof(*t->nodes));
	if (t->bytes == NULL || t->nodes == NULL) {
		mls_ratchet_tree_free(t);
		return SOTTO_ERR_NOMEM;
	}
	memcpy(t->bytes, p, len);
	t->n_leaves = n_leaves;
	cur_init(&c, t->bytes, len);
	read_nodes(&c, t->nodes, mls_tree_node_width(n_leaves), &n_nodes);
	if ((r = cur_finish(&c)) != 0 || (r = check_unmerged(t)) != 0)
		mls_ratchet_tree_free(t);
	return r;
}

void
mls_ratchet_tree_free(struct mls_ratchet_tree *t)
{
	uint32_t x;

	for (x = 0; t->nodes != NULL && x < mls_tree_node_width(t->n_leaves); x++)
		free(t->nodes[x].unmerged);
	free(t->bytes);
	free(t->nodes);
	memset(t, 0, sizeof(*t));
}

void
mls_ratchet_tree_blank(struct mls_ratchet_tree *t, uint32_t x)
{
	free(t->nodes[x].unmerged);
	memset(&t->nodes[x], 0, sizeof(t->nodes[x]));
}

static uint32_t
unmerged_at(const struct mls_node *nd, size_t i)
{
	return nd->unmerged[i];
}

static int
push(uint32_t *out, size_t cap, size_t *n, uint32_t x)
{
	if (*n >= cap)
		return SOTTO_ERR_TOO_LARGE;
	out[(*n)++] = x;
	return 0;
}

static int
resolve(const struct mls_ratchet_tree *t, uint32_t x, uint32_t *out, size_t cap, size_t *n)
{
	const struct mls_node *nd = &t->nodes[x];
	uint32_t l, rt;
	size_t i;
	int r;

	if (nd->type != MLS_NODE_BLANK) {
		if ((r = push(out, cap, n, x)) != 0)
			return r;
		for (i = 0; i < nd->n_unmerged; i++)
			if ((r = push(out, cap, n, 2 * unmerged_at(nd, i))) != 0)
				return r;
		return 0;
	}
	if (x % 2 == 0)
		return 0;
	if ((r = mls_tree_left(&l, x)) != 0 || (r = mls_tree_right(&rt, x)) != 0 ||
	    (r = resolve(t, l, out, cap, n)) != 0)
		return r;
	return resolve(t, rt, out, cap, n);
}

int
mls_ratchet_tree_resolution(const struct mls_ratchet_tree *t, uint32_t x, uint32_t *out,
    size_t cap, size_t *n)
{
	*n = 0;
	if (t->nodes == NULL || x >= mls_tree_node_width(t->n_leaves))
		return SOTTO_ERR_INVALID_ARG;
	return resolve(t, x, out, cap, n);
}

/* The leaves excluded from a hash: a parent's unmerged leaves (NULL for none). */
static int
excluded(const struct mls_node *excl, uint32_t leaf)
{
	size_t i;

	for (i = 0; excl != NULL && i < excl->n_unmerged; i++)
		if (unmerged_at(excl, i) == leaf)
			return 1;
	return 0;
}

/* TreeHashInput of node x, with excl's unmerged leaves blanked and dropped from the
 * unmerged lists below (the "original" tree of section 7.9). */
static int
hash_node(const struct mls_ratchet_tree *t, uint32_t x, const struct mls_node *excl,
    uint8_t out[static MLS_HASH_LEN])
{
	const struct mls_node *nd = &t->nodes[x];
	uint8_t left[MLS_HASH_LEN], right[MLS_HASH_LEN];
	uint32_t l, rt;
	size_t i, kept = 0;
	struct buf b;
	int r;

	/* A leaf: its encoding; a parent: key, parent hash, unmerged list, two child hashes. */
	buf_init_dyn(&b, 16 + nd->encoding_len + 4 * (4 + MLS_HASH_LEN) + 4 * nd->n_unmerged);
	if (x % 2 == 0) {
		buf_u8(&b, MLS_NODE_LEAF);
		buf_u32(&b, x / 2);
		if (nd->type == MLS_NODE_BLANK || excluded(excl, x / 2))
			buf_u8(&b, 0);
		else {
			buf_u8(&b, 1);
			buf_put(&b, nd->encoding, nd->encoding_len);
		}
	} else {
		if ((r = mls_tree_left(&l, x)) != 0 || (r = mls_tree_right(&rt, x)) != 0 ||
		    (r = hash_node(t, l, excl, left)) != 0 || (r = hash_node(t, rt, excl, right)) != 0)
			goto out;
		buf_u8(&b, MLS_NODE_PARENT);
		if (nd->type == MLS_NODE_BLANK)
			buf_u8(&b, 0);
		else {
			buf_u8(&b, 1);
			mls_buf_opaque(&b, nd->encryption_key, MLS_KEM_PUBLIC_LEN);
			mls_buf_opaque(&b, nd->parent_hash, nd->parent_hash_len);
			for (i = 0; i < nd->n_unmerged; i++)
				kept += !excluded(excl, unmerged_at(nd, i));
			mls_buf_varint(&b, 4 * kept);
			for (i = 0; i < nd->n_unmerged; i++)
				if (!excluded(excl, unmerged_at(nd, i)))
					buf_u32(&b, unmerged_at(nd, i));
		}
		mls_buf_opaque(&b, left, sizeof(left));
		mls_buf_opaque(&b, right, sizeof(right));
	}
	if ((r = buf_status(&b)) == 0)
		mls_hash(out, b.p, b.len);
out:
	buf_free(&b);
	return r;
}

int
mls_ratchet_tree_hash(const struct mls_ratchet_tree *t, uint32_t x, uint8_t out[static MLS_HASH_LEN])
{
	if (t->nodes == NULL || x >= mls_tree_node_width(t->n_leaves))
		return SOTTO_ERR_INVALID_ARG;
	return hash_node(t, x, NULL, out);
}

static int
parent_hash_for(const struct mls_ratchet_tree *t, const struct mls_node *p, uint32_t s,
    uint8_t out[static MLS_HASH_LEN])
{
	uint8_t sib[MLS_HASH_LEN], mem[3 * (4 + MLS_HASH_LEN)];
	struct buf b;
	int r;

	if ((r = hash_node(t, s, p, sib)) != 0)
		return r;
	buf_init_fixed(&b, mem, sizeof(mem));
	mls_buf_opaque(&b, p->encryption_key, MLS_KEM_PUBLIC_LEN);
	mls_buf_opaque(&b, p->parent_hash, p->parent_hash_len);
	mls_buf_opaque(&b, sib, sizeof(sib));
	if ((r = buf_status(&b)) == 0)
		mls_hash(out, b.p, b.len);
	return r;
}

int
mls_ratchet_tree_parent_hash(const struct mls_ratchet_tree *t, uint32_t p, uint32_t s,
    uint8_t out[static MLS_HASH_LEN])
{
	uint32_t w = mls_tree_node_width(t->n_leaves);

	if (t->nodes == NULL || p >= w || s >= w || t->nodes[p].type != MLS_NODE_PARENT)
		return SOTTO_ERR_INVALID_ARG;
	return parent_hash_for(t, &t->nodes[p], s, out);
}

/* The parent_hash a node carries: a parent's, or a leaf's from a commit. */
static const uint8_t *
carried_parent_hash(const struct mls_node *nd, size_t *len)
{
	if (nd->type == MLS_NODE_PARENT) {
		*len = nd->parent_hash_len;
		return nd->parent_hash;
	}
	if (nd->type == MLS_NODE_LEAF && nd->leaf.source == MLS_LEAF_SOURCE_COMMIT) {
		*len = nd->leaf.parent_hash_len;
		return nd->leaf.parent_hash;
	}
	*len = 0;
	return NULL;
}

/* How many nodes D in the resolution of child c of parent node x (sibling s) make x
 * parent-hash valid: D carries x's parent hash, and the rest of the resolution is
 * exactly x's unmerged leaves below c (section 7.9.2). */
static int
count_valid(const struct mls_ratchet_tree *t, uint32_t x, uint32_t c, uint32_t s, uint32_t *res,
    size_t cap, size_t *count)
{
	const struct mls_node *p = &t->nodes[x];
	uint8_t want[MLS_HASH_LEN];
	const uint8_t *have;
	size_t n, i, j, below = 0, have_len;
	int r;

	if ((r = parent_hash_for(t, p, s, want)) != 0 ||
	    (r = mls_ratchet_tree_resolution(t, c, res, cap, &n)) != 0)
		return r;
	for (j = 0; j < p->n_unmerged; j++)
		below += in_subtree(2 * unmerged_at(p, j), c);
	for (i = 0; i < n; i++) {
		have = carried_parent_hash(&t->nodes[res[i]], &have_len);
		if (have == NULL || have_len != MLS_HASH_LEN || memcmp(have, want, MLS_HASH_LEN) != 0)
			continue;
		if (n - 1 != below)
			continue;
		for (j = 0; j < n; j++)
			if (j != i && !(res[j] % 2 == 0 && excluded(p, res[j] / 2)))
				break;
		if (j == n)
			(*count)++;
	}
	return 0;
}

int
mls_ratchet_tree_verify_parent_hashes(const struct mls_ratchet_tree *t)
{
	uint32_t w = mls_tree_node_width(t->n_leaves), x, l, rt;
	uint32_t *res;
	size_t count;
	int r = 0;

	if (t->nodes == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((res = calloc(w, sizeof(*res))) == NULL)
		return SOTTO_ERR_NOMEM;
	for (x = 1; x < w && r == 0; x += 2) {
		if (t->nodes[x].type == MLS_NODE_BLANK)
			continue;
		count = 0;
		if ((r = mls_tree_left(&l, x)) != 0 || (r = mls_tree_right(&rt, x)) != 0 ||
		    (r = count_valid(t, x, l, rt, res, w, &count)) != 0 ||
		    (r = count_valid(t, x, rt, l, res, w, &count)) != 0)
			break;
		if (count != 1)
			r = SOTTO_ERR_AUTH;
	}
	free(res);
	return r;
}

/* LeafNodeTBS after the fields: for update and commit, the group and position. */
static int
cmp_key(const void *a, const void *b)
{
	return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b, MLS_KEM_PUBLIC_LEN);
}

/* 1 if two of the n keys (each MLS_KEM_PUBLIC_LEN bytes) are equal; sorts keys. */
static int
has_duplicate(const uint8_t **keys, size_t n)
{
	size_t i;

	qsort(keys, n, sizeof(*keys), cmp_key);
	for (i = 1; i < n; i++)
		if (cmp_key(&keys[i - 1], &keys[i]) == 0)
			return 1;
	return 0;
}

int
mls_ratchet_tree_check_unique_keys(const struct mls_ratchet_tree *t)
{
	uint32_t w = mls_tree_node_width(t->n_leaves), x;
	const uint8_t **enc, **sig;
	size_t n_enc = 0, n_sig = 0;
	int r = 0;

	_Static_assert(MLS_KEM_PUBLIC_LEN == MLS_SIG_PUBLIC_LEN, "one comparison for both keys");
	enc = calloc(w, sizeof(*enc));
	sig = calloc(t->n_leaves, sizeof(*sig));
	if (enc == NULL || sig == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	for (x = 0; x < w; x++) {
		const struct mls_node *nd = &t->nodes[x];

		if (nd->type == MLS_NODE_LEAF) {
			enc[n_enc++] = nd->leaf.encryption_key;
			sig[n_sig++] = nd->leaf.signature_key;
		} else if (nd->type == MLS_NODE_PARENT) {
			enc[n_enc++] = nd->encryption_key;
		}
	}
	if (has_duplicate(enc, n_enc) || has_duplicate(sig, n_sig))
		r = SOTTO_ERR_PROTOCOL;
out:
	free(enc);
	free(sig);
	return r;
}

static void
tbs_group_part(struct buf *tbs, const struct mls_leaf_node *ln, const uint8_t *group_id,
    size_t group_id_len, uint32_t leaf)
{
	if (ln->source != MLS_LEAF_SOURCE_KEY_PACKAGE) {
		mls_buf_opaque(tbs, group_id, group_id_len);
		buf_u32(tbs, leaf);
	}
}

int
mls_leaf_node_verify(const struct mls_leaf_node *ln, const uint8_t *group_id,
    size_t group_id_len, uint32_t leaf)
{
	struct buf tbs;
	int r;

	if (ln->signature_len != MLS_SIG_LEN)
		return SOTTO_ERR_BAD_SIGNATURE;
	buf_init_dyn(&tbs, MLS_MESSAGE_MAX);
	buf_put(&tbs, ln->tbs_fields, ln->tbs_fields_len);   /* as read */
	tbs_group_part(&tbs, ln, group_id, group_id_len, leaf);
	if ((r = buf_status(&tbs)) == 0)
		r = mls_verify_with_label(ln->signature, ln->signature_key, "LeafNodeTBS",
		    tbs.p, tbs.len);
	buf_free(&tbs);
	return r;
}

int
mls_leaf_node_sign(struct buf *out, const struct mls_leaf_node *ln, const uint8_t sig_sec[static 64],
    const uint8_t *group_id, size_t group_id_len, uint32_t leaf)
{
	struct mls_leaf_node signed_ln = *ln;
	uint8_t sig[MLS_SIG_LEN];
	struct buf tbs;
	int r;

	buf_init_dyn(&tbs, MLS_MESSAGE_MAX);
	mls_leaf_node_write_fields(&tbs, ln);
	tbs_group_part(&tbs, ln, group_id, group_id_len, leaf);
	if ((r = buf_status(&tbs)) == 0)
		r = mls_sign_with_label(sig, sig_sec, "LeafNodeTBS", tbs.p, tbs.len);
	buf_free(&tbs);
	if (r != 0)
		return r;
	signed_ln.signature = sig;
	signed_ln.signature_len = sizeof(sig);
	mls_leaf_node_write(out, &signed_ln);
	return buf_status(out);
}

int
mls_ratchet_tree_verify_leaves(const struct mls_ratchet_tree *t, const uint8_t *group_id,
    size_t group_id_len)
{
	uint32_t leaf;
	int r = 0;

	if (t->nodes == NULL)
		return SOTTO_ERR_INVALID_ARG;
	for (leaf = 0; leaf < t->n_leaves && r == 0; leaf++)
		if (t->nodes[2 * leaf].type != MLS_NODE_BLANK)
			r = mls_leaf_node_verify(&t->nodes[2 * leaf].leaf, group_id, group_id_len, leaf);
	return r;
}

int
mls_ratchet_tree_encode(const struct mls_ratchet_tree *t, struct buf *b)
{
	uint32_t w = mls_tree_node_width(t->n_leaves), last = 0, x;
	struct buf items;
	size_t i;
	int r;

	if (t->nodes == NULL)
		return SOTTO_ERR_INVALID_ARG;
	for (x = 0; x < w; x++)
		if (t->nodes[x].type != MLS_NODE_BLANK)
			last = x + 1;
	buf_init_dyn(&items, 2 * MLS_MESSAGE_MAX);
	for (x = 0; x < last; x++) {
		const struct mls_node *nd = &t->nodes[x];

		if (nd->type == MLS_NODE_BLANK) {
			buf_u8(&items, 0);
			continue;
		}
		buf_u8(&items, 1);
		buf_u8(&items, nd->type);
		if (nd->type == MLS_NODE_LEAF) {
			buf_put(&items, nd->encoding, nd->encoding_len);
			continue;
		}
		mls_buf_opaque(&items, nd->encryption_key, MLS_KEM_PUBLIC_LEN);
		mls_buf_opaque(&items, nd->parent_hash, nd->parent_hash_len);
		mls_buf_varint(&items, 4 * nd->n_unmerged);
		for (i = 0; i < nd->n_unmerged; i++)
			buf_u32(&items, nd->unmerged[i]);
	}
	if ((r = buf_status(&items)) == 0) {
		mls_buf_opaque(b, items.p, items.len);
		r = buf_status(b);
	}
	buf_free(&items);
	return r;
}

static void
set_leaf(struct mls_ratchet_tree *t, uint32_t leaf, const struct mls_leaf_node *ln)
{
	struct mls_node *nd = &t->nodes[2 * leaf];

	nd->type = MLS_NODE_LEAF;
	nd->leaf = *ln;
	nd->encoding = ln->encoding;
	nd->encoding_len = ln->encoding_len;
}

/* Blanks the parents of a leaf up to the root. */
static int
blank_direct_path(struct mls_ratchet_tree *t, uint32_t leaf)
{
	uint32_t x = 2 * leaf, p;
	int r;

	while (x != mls_tree_root(t->n_leaves)) {
		if ((r = mls_tree_parent(&p, x, t->n_leaves)) != 0)
			return r;
		mls_ratchet_tree_blank(t, p);
		x = p;
	}
	return 0;
}

/* Doubles the tree: the old tree becomes the left half of the new one, whose array it
 * already is the start of. */
static int
extend(struct mls_ratchet_tree *t)
{
	uint32_t old_w = mls_tree_node_width(t->n_leaves), w, x;
	struct mls_node *nodes;

	if (t->n_leaves >= MLS_TREE_MAX_LEAVES)
		return SOTTO_ERR_LIMIT;
	w = mls_tree_node_width(2 * t->n_leaves);
	if ((nodes = calloc(w, sizeof(*nodes))) == NULL)
		return SOTTO_ERR_NOMEM;
	memcpy(nodes, t->nodes, old_w * sizeof(*nodes));
	/* Pointers into a node's own storage move with it. */
	for (x = 0; x < old_w; x++) {
		if (t->nodes[x].parent_hash == t->nodes[x].parent_hash_store)
			nodes[x].parent_hash = nodes[x].parent_hash_store;
		if (t->nodes[x].encryption_key == t->nodes[x].key_store)
			nodes[x].encryption_key = nodes[x].key_store;
	}
	free(t->nodes);
	t->nodes = nodes;
	t->n_leaves *= 2;
	return 0;
}

int
mls_ratchet_tree_add(struct mls_ratchet_tree *t, const struct mls_leaf_node *ln, uint32_t *leaf)
{
	struct mls_leaf_node copy;   /* ln may point into the node array that extend() moves */
	uint32_t l, x, p, *grown;
	int r;

	if (t->nodes == NULL)
		return SOTTO_ERR_INVALID_ARG;
	copy = *ln;
	for (l = 0; l < t->n_leaves && t->nodes[2 * l].type != MLS_NODE_BLANK; l++)
		;
	if (l == t->n_leaves && (r = extend(t)) != 0)
		return r;
	for (x = 2 * l; x != mls_tree_root(t->n_leaves); x = p) {
		struct mls_node *nd;

		if ((r = mls_tree_parent(&p, x, t->n_leaves)) != 0)
			return r;
		nd = &t->nodes[p];
		if (nd->type == MLS_NODE_BLANK)
			continue;
		if ((grown = realloc(nd->unmerged, (nd->n_unmerged + 1) * sizeof(*grown))) == NULL)
			return SOTTO_ERR_NOMEM;
		nd->unmerged = grown;
		nd->unmerged[nd->n_unmerged++] = l;
	}
	set_leaf(t, l, &copy);
	*leaf = l;
	return 0;
}

/* A member's leaf loses its direct path (Update and Remove). */
static int
blank_member_path(struct mls_ratchet_tree *t, uint32_t leaf)
{
	if (t->nodes == NULL || leaf >= t->n_leaves)
		return SOTTO_ERR_INVALID_ARG;
	if (t->nodes[2 * leaf].type == MLS_NODE_BLANK)
		return SOTTO_ERR_STATE;
	return blank_direct_path(t, leaf);
}

int
mls_ratchet_tree_update(struct mls_ratchet_tree *t, uint32_t leaf, const struct mls_leaf_node *ln)
{
	int r;

	if ((r = blank_member_path(t, leaf)) != 0)
		return r;
	set_leaf(t, leaf, ln);
	return 0;
}

/* 1 if every node of the right half of the tree is blank. */
static int
right_half_blank(const struct mls_ratchet_tree *t)
{
	uint32_t w = mls_tree_node_width(t->n_leaves), x;

	for (x = mls_tree_root(t->n_leaves) + 1; x < w; x++)
		if (t->nodes[x].type != MLS_NODE_BLANK)
			return 0;
	return 1;
}

int
mls_ratchet_tree_remove(struct mls_ratchet_tree *t, uint32_t leaf)
{
	int r;

	if ((r = blank_member_path(t, leaf)) != 0)
		return r;
	mls_ratchet_tree_blank(t, 2 * leaf);
	/* Truncate: the root's right half goes while it holds nothing (blank nodes own no
	 * memory, and the array keeps its size). */
	while (t->n_leaves > 1 && right_half_blank(t)) {
		mls_ratchet_tree_blank(t, mls_tree_root(t->n_leaves));
		t->n_leaves /= 2;
	}
	return 0;
}
