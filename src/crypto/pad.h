/*
 * Length-hiding padding. A plaintext of n bytes becomes the bucket size B >= n + 1 (256 B,
 * 1 KiB, 4 KiB, then powers of two, never above the caller's cap): the bytes, one 0x80
 * byte, then zeros (ISO/IEC 7816-4). Unambiguous for any content; removal scans the whole
 * buffer the same way whatever the content.
 */
#ifndef SOTTO_CRYPTO_PAD_H
#define SOTTO_CRYPTO_PAD_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "base/buf.h"

#define PAD_MARK 0x80

/* Padded size for n bytes under cap, or 0 if n + 1 > cap. */
size_t pad_size(size_t n, size_t cap);
/* Appends the padded plaintext to out. SOTTO_ERR_TOO_LARGE when it does not fit cap. */
int pad_apply(struct buf *out, const uint8_t *p, size_t n, size_t cap) SOTTO_MUST_CHECK;
/* Length of the content in a padded buffer; SOTTO_ERR_MALFORMED when the padding is bad. */
int pad_remove(size_t *n, const uint8_t *p, size_t len) SOTTO_MUST_CHECK;

#endif
