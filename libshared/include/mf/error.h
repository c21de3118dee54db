/*
 * error.h: the one error table of MetaFuse.
 *
 * Functions return 0 on success or a negative MF_E* value. The table below
 * generates the enum, the wire code, the default message and the HTTP status;
 * every error response is built from it (see mf_http_respond_error).
 */
#ifndef MF_ERROR_H
#define MF_ERROR_H

#define MF_MUST_CHECK __attribute__((warn_unused_result))

/* X(enum suffix, wire code, HTTP status, default message) */
#define MF_ERROR_TABLE(X)                                                                          \
    X(INVALID_JSON, "invalid_json", 400, "request body is not valid JSON")                        \
    X(INVALID_REQUEST, "invalid_request", 400, "the request is invalid")                          \
    X(UNAUTHORIZED, "unauthorized", 401, "a valid API key is required")                           \
    X(FORBIDDEN, "forbidden", 403, "your role does not allow this")                               \
    X(TENANT_SUSPENDED, "tenant_suspended", 403, "this tenant is suspended")                     \
    X(QUOTA_EXCEEDED, "quota_exceeded", 403, "your plan's quota is exhausted")                    \
    X(NOT_FOUND, "not_found", 404, "not found")                                                   \
    X(METHOD_NOT_ALLOWED, "method_not_allowed", 405, "method not allowed on this route")          \
    X(CONFLICT, "conflict", 409, "already exists")                                                \
    X(CONTRACT_VIOLATION, "contract_violation", 409, "the write breaks a data contract")          \
    X(PRECONDITION_FAILED, "precondition_failed", 412, "the resource changed (If-Match is stale)") \
    X(PAYLOAD_TOO_LARGE, "payload_too_large", 413, "request body is too large")                   \
    X(UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415, "request body must be application/json") \
    X(RATE_LIMITED, "rate_limited", 429, "too many requests")                                     \
    X(INTERNAL, "internal_error", 500, "internal error")                                          \
    X(UNAVAILABLE, "unavailable", 503, "service temporarily unavailable, retry later")                \
    X(OUTCOME_UNKNOWN, "outcome_unknown", 503, "the connection to the queue was lost mid-way: the request may have taken effect; retry with the same Idempotency-Key")

typedef enum {
    MF_OK = 0,
#define MF__ERR_ENUM(name, code, status, msg) MF_E##name,
    MF__ERR_FIRST = -1000,
    MF_ERROR_TABLE(MF__ERR_ENUM) MF__ERR_LAST
#undef MF__ERR_ENUM
} mf_err_t;

/* The wire code ("not_found") of err; "internal_error" for unknown values. */
const char *mf_error_code(int err);
/* The HTTP status of err; 500 for unknown values. */
int mf_error_status(int err);
/* The default message of err. */
const char *mf_error_message(int err);
/* The error whose wire code is code (e.g. from a SQLSTATE mapping); MF_EINTERNAL if none. */
int mf_error_from_code(const char *code);

#endif
