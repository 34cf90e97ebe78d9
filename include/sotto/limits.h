/*
 * The limits libsotto and its front ends share, each defined once. Layers below the public
 * API name them in their own terms (ADDRESS_MAX, SEALED_ADDR_MAX, STORE_ADDR_MAX,
 * CONTENT_BODY_MAX, ...) as aliases of these, never with a number of their own.
 */
#ifndef SOTTO_LIMITS_H
#define SOTTO_LIMITS_H

#define SOTTO_ID_LEN 16                 /* message ids: random, chosen by the sender */
#define SOTTO_SAFETY_LEN 71             /* "12345 67890 ..." 12 groups of 5 digits */
#define SOTTO_ADDRESS_MAX 320           /* name@domain, docs/PROTOCOL-wire.md section 1 */
#define SOTTO_SERVER_ADDRESS_MAX 320    /* sotto://KEY@host:port, formatted */
#define SOTTO_TEXT_MAX (60u * 1024)     /* a text or mail body sent in one message */
#define SOTTO_MAIL_MAX (25u << 20)      /* a whole mail (RFC 5322 message) */
#define SOTTO_EXPIRY_MAX (365u * 86400) /* the longest disappearing-message timer */
#define SOTTO_GROUP_ID_MAX 64           /* the longest group id we accept, bytes */
#define SOTTO_GROUP_NAME_MAX 256        /* bytes of a group's name (sotto/group.h) */
#define SOTTO_RECEIPT_IDS_MAX 256       /* message ids in one receipt */
#define SOTTO_PASSPHRASE_MAX 1024       /* bytes of a store passphrase */
#define SOTTO_BRIDGE_PASSWORD_CHARS 26  /* the mail bridge's password: base32, 130 bits */
#define SOTTO_BRIDGE_HASH_MAX 128       /* its Argon2id hash, crypto_pwhash_str, with the NUL */

#endif
