/* Sotto's caps on MLS fields read from peers, each defined once. RFC 9420 sets none; these
 * are far above what a real group sends and keep every allocation bounded. */
#ifndef SOTTO_MLS_LIMITS_H
#define SOTTO_MLS_LIMITS_H

#define MLS_MESSAGE_MAX (1024 * 1024)      /* one MLSMessage, and any vector inside it */
#define MLS_CREDENTIAL_MAX (16 * 1024)     /* an identity or one certificate */
#define MLS_CAPABILITY_LIST_MAX 1024       /* each list of a Capabilities, in bytes */
#define MLS_SIGNATURE_MAX 256              /* signatures and MACs as opaque<V> */

#endif
