/*
 * api.h: the resource files of mf-api. Each exposes one register function
 * that adds its route table (method, path, role, handler) to the server, and
 * shares the small helpers below.
 */
#ifndef MF_API_H
#define MF_API_H

#include "mf/http.h"

void mf_api_register_auth(void);
void mf_api_register_tenants(void);
void mf_api_register_keys(void);
void mf_api_register_members(void);
void mf_api_register_datasets(void);
void mf_api_register_tags(void);
void mf_api_register_domains(void);
void mf_api_register_glossary(void);
void mf_api_register_lineage(void);
void mf_api_register_stats(void);
void mf_api_register_jobs(void);
void mf_api_register_graph(void);
void mf_api_register_search(void);
void mf_api_register_usage(void);     /* usage.c: dataset usage, popular, unused */
void mf_api_register_freshness(void); /* freshness.c: policies, status, violations */
void mf_api_register_health(void);    /* health.c: catalog health and its trend */
void mf_api_register_webhooks(void);  /* webhooks.c: webhooks and their deliveries */
void mf_api_register_billing(void);   /* billing.c: plans, usage against limits, invoices */
void mf_api_register_export(void);    /* export.c: SQLite export and import */
void mf_api_register_lineage_parse(void); /* lineage_parse.c: column lineage from SQL */
void mf_api_register_integrations(void); /* integrations.c: dbt, Great Expectations, Iceberg, Delta imports */
void mf_api_register_classification(void); /* classification.c: profiles, PII classification, rules */
void mf_api_register_contracts(void);    /* contracts.c: data contracts and their violations */
void mf_api_register_quality(void);      /* quality.c: quality results, score, unhealthy datasets */

/* The ?namespace= of the request (default "default"); answers 400 itself when invalid. */
const char *mf_api_namespace_or_respond(mf_req_t *r);
/* A required or optional query value that must be a valid name; answers 400 itself. */
int mf_api_query_name_or_respond(mf_req_t *r, const char *key, int required, const char **out) MF_MUST_CHECK;
/* An optional query value that must be a valid tag (NULL when absent or empty); answers 400 itself. */
int mf_api_query_tag_or_respond(mf_req_t *r, const char *key, const char **out) MF_MUST_CHECK;
/* Answer a dataset document (row 0: document, version) with its ETag, or 404 when there is no row. */
void mf_api_respond_dataset(mf_req_t *r, PGresult *res, int status);
/* Answer 201 {"<member>": <row 0 column 0>, "api_key": <the new key in mf_req_data>}. */
void mf_api_respond_with_key(mf_req_t *r, PGresult *res, const char *member);
/* Register every statement of a NULL-name-terminated array. */
void mf_api_register_statements(mf_pg_stmt_t *stmts);

#endif
