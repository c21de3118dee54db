/*
 * store.h: administration of the PostgreSQL store from the command line:
 * forward-only migrations, platform keys and the purge. Blocking; never call
 * from a loop thread. All connect with the owner role's URL (MF_PG_ADMIN_URL).
 */
#ifndef MF_STORE_H
#define MF_STORE_H

#include <stddef.h>
#include "mf/error.h"

/*
 * Apply every migrations/NNNN_name.sql not yet recorded in schema_migrations,
 * in order, each in its own transaction, under a session advisory lock so
 * concurrent runs (several replicas, a k8s Job) apply each once. A recorded
 * migration whose file changed is an error (migrations are forward-only).
 * Progress lines go to stderr. 0, or an MF_E* with err set.
 */
int mf_store_migrate(const char *url, const char *dir, char *err, size_t errlen) MF_MUST_CHECK;

/* Create a platform key with role "platform_admin" or "billing_admin"; writes the key (shown
 * once) into key (>= 128 bytes). */
int mf_store_create_platform_key(const char *url, const char *env, const char *role, char *key, char *err,
                                 size_t errlen) MF_MUST_CHECK;

/*
 * Run the purge once (SQL mf_purge, migrations/0005_tenant_admin.sql): erase
 * the tenants whose deletion grace period is over and the audit rows older
 * than their plan's retention. *report is set to the JSON report (new: free
 * it) whenever the purge ran, even when some tenant could not be purged: then
 * the result is MF_EINTERNAL with err naming how many (their reasons are in
 * the report's "failed"). Other failures: an MF_E* with err set, *report NULL.
 */
int mf_store_purge(const char *url, char **report, char *err, size_t errlen) MF_MUST_CHECK;

#endif
