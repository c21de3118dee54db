/*
 * webhook.h: what mf-api (at create time) and mf-analytics (at every
 * delivery) share about webhook destinations and requests.
 *
 * Destinations. A URL is https (http only when loopback destinations are
 * allowed, for local use), has a host and no credentials. Its host is
 * resolved and every address checked against the policy: loopback, private
 * (RFC 1918, fc00::/7), link-local (169.254/16 with the cloud metadata
 * address, fe80::/10), unspecified, multicast, broadcast, reserved and CGNAT
 * (100.64/10) addresses are refused, also inside IPv4-mapped, -compatible
 * and NAT64 IPv6 addresses; MF_WEBHOOK_ALLOW_LOOPBACK and
 * MF_WEBHOOK_ALLOW_PRIVATE open the first two. A delivery checks again the
 * address libcurl actually connects to (so a name that resolves differently
 * the second time, DNS rebinding, cannot reach a refused address), never
 * uses a proxy and never follows a redirect.
 *
 * Requests. The body is signed with HMAC-SHA256 of the webhook's secret over
 * "<unix time>.<body>", sent as `X-MetaFuse-Signature: t=<unix time>,v1=<hex>`
 * beside X-MetaFuse-Event and X-MetaFuse-Delivery. A webhook of format
 * "slack" gets `{"text": ...}` instead of the event document.
 */
#ifndef MF_WEBHOOK_H
#define MF_WEBHOOK_H

#include <stddef.h>
#include <sys/socket.h>
#include "mf/error.h"

/* What kind of address a destination resolved to. */
typedef enum {
    MF_ADDR_PUBLIC = 0,
    MF_ADDR_LOOPBACK,
    MF_ADDR_PRIVATE,
    MF_ADDR_LINK_LOCAL,
    MF_ADDR_UNSPECIFIED,
    MF_ADDR_MULTICAST,
    MF_ADDR_BROADCAST,
    MF_ADDR_CGNAT,
    MF_ADDR_RESERVED,
} mf_addr_class_t;

/* Which refused classes the operator opened (MF_WEBHOOK_ALLOW_LOOPBACK / _PRIVATE). */
typedef struct {
    int allow_loopback;
    int allow_private;
} mf_webhook_policy_t;

/* The policy of the configuration. */
mf_webhook_policy_t mf_webhook_policy_from_config(void);
/* The class of an AF_INET or AF_INET6 address (other families: MF_ADDR_RESERVED). */
mf_addr_class_t mf_webhook_addr_class(const struct sockaddr *sa);
/* A static name for a class ("loopback", "link-local", ...). */
const char *mf_webhook_addr_class_name(mf_addr_class_t c);
/* 1 when policy lets a destination of class c through. */
int mf_webhook_policy_allows(const mf_webhook_policy_t *policy, mf_addr_class_t c);

#define MF_WEBHOOK_URL_MAX 2048
#define MF_WEBHOOK_HOST_MAX 256

/* A checked URL: its host (IPv6 without brackets) and port. */
typedef struct {
    char host[MF_WEBHOOK_HOST_MAX];
    int port;
} mf_webhook_dest_t;

/* Check url's shape under policy (scheme, host, no credentials, length) and fill dest.
 * 0, or MF_EINVALID_REQUEST with a message naming the problem in err. */
int mf_webhook_url_check(const char *url, const mf_webhook_policy_t *policy, mf_webhook_dest_t *dest, char *err,
                         size_t errlen) MF_MUST_CHECK;
/* Resolve dest and check every address (blocking: DNS). 0 when all are allowed;
 * MF_EFORBIDDEN when one is refused, MF_EUNAVAILABLE when the host does not resolve
 * (err says which). */
int mf_webhook_dest_check(const mf_webhook_dest_t *dest, const mf_webhook_policy_t *policy, char *err,
                          size_t errlen) MF_MUST_CHECK;

#define MF_WEBHOOK_SIGNATURE_MAX 96

/* The signature header value "t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<body>")>" into out. */
void mf_webhook_sign(const char *secret, long long ts, const char *body, size_t len,
                     char out[MF_WEBHOOK_SIGNATURE_MAX]);
/* The Slack-compatible body {"text": ...} for an event document (JSON text); new string, or
 * NULL when the document is not a JSON object. */
char *mf_webhook_slack_body(const char *event_json);

/* How one delivery attempt ended. */
typedef enum {
    MF_WEBHOOK_DELIVERED = 0, /* a 2xx answer */
    MF_WEBHOOK_FAILED,        /* another status, a timeout or a transport error */
    MF_WEBHOOK_REFUSED,       /* the destination is not allowed (nothing was sent) */
} mf_webhook_outcome_t;

typedef struct {
    mf_webhook_outcome_t outcome;
    long status_code; /* 0 when no answer */
    long duration_ms;
    char error[256];  /* "" when delivered */
} mf_webhook_result_t;

/* One signed POST of body to url (blocking, at most timeout_ms), after checking the
 * destination under policy. headers: event kind and delivery id. */
void mf_webhook_post(const char *url, const mf_webhook_policy_t *policy, const char *secret, const char *event,
                     const char *delivery_id, const char *body, size_t len, long timeout_ms,
                     mf_webhook_result_t *out);

#endif
