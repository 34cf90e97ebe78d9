#include "mls/tree_math.h"

int
mls_tree_valid_width(uint32_t n_leaves)
{
	return n_leaves != 0 && n_leaves <= MLS_TREE_MAX_LEAVES && (n_leaves & (n_leaves - 1)) == 0;
}

uint32_t
mls_tree_node_width(uint32_t n_leaves)
{
	return n_leaves == 0 ? 0 : 2 * (n_leaves - 1) + 1;
}

uint32_t
mls_tree_level(uint32_t x)
{
	uint32_t k = 0;

	while (k < 32 && ((x >> k) & 1) == 1)
		k++;
	return k;
}

/* The root of a full tree of n leaves is node n - 1 (the largest power of two not above
 * the width, minus one). */
uint32_t
mls_tree_root(uint32_t n_leaves)
{
	return n_leaves - 1;
}

int
mls_tree_left(uint32_t *out, uint32_t x)
{
	uint32_t k = mls_tree_level(x);

	if (k == 0 || k >= 31)
		return SOTTO_ERR_INVALID_ARG;
	*out = x ^ (1u << (k - 1));
	return 0;
}

int
mls_tree_right(uint32_t *out, uint32_t x)
{
	uint32_t k = mls_tree_level(x);

	if (k == 0 || k >= 31)
		return SOTTO_ERR_INVALID_ARG;
	*out = x ^ (3u << (k - 1));
	return 0;
}

static int
in_tree(uint32_t x, uint32_t n_leaves)
{
	return mls_tree_valid_width(n_leaves) && x < mls_tree_node_width(n_leaves);
}

int
mls_tree_parent(uint32_t *out, uint32_t x, uint32_t n_leaves)
{
	uint32_t k, b;

	if (!in_tree(x, n_leaves) || x == mls_tree_root(n_leaves))
		return SOTTO_ERR_INVALID_ARG;
	/* x's parent sets bit k and clears bit k + 1 if x is a right child, sets it if left. */
	k = mls_tree_level(x);
	b = (x >> (k + 1)) & 1;
	*out = (x | (1u << k)) ^ (b << (k + 1));
	return 0;
}

int
mls_tree_sibling(uint32_t *out, uint32_t x, uint32_t n_leaves)
{
	uint32_t p, l;
	int r;

	if ((r = mls_tree_parent(&p, x, n_leaves)) != 0 || (r = mls_tree_left(&l, p)) != 0)
		return r;
	if (x < p)
		return mls_tree_right(out, p);
	*out = l;
	return 0;
}

uint32_t
mls_tree_common_ancestor(uint32_t a, uint32_t b, uint32_t n_leaves)
{
	uint32_t x = 2 * a, y = 2 * b;

	while (x != y) {
		/* Climb whichever is lower; only the root has no parent. */
		if (mls_tree_level(x) <= mls_tree_level(y)) {
			if (mls_tree_parent(&x, x, n_leaves) != 0)
				break;
		} else if (mls_tree_parent(&y, y, n_leaves) != 0)
			break;
	}
	return x;
}
