/*
 * ingest.h: the resource files of mf-ingest and the worker's entry point.
 */
#ifndef MF_INGEST_SERVICE_H
#define MF_INGEST_SERVICE_H

#include <jansson.h>
#include "mf/json.h"

typedef struct mf_req mf_req_t;

void mf_ingest_register_emit(void);
/* Events may write anywhere in the tenant (the worker applies them with write
 * access to all of it), so only a credential that may do so posts them: a
 * scoped key, or a member who writes only through grants, gets 403 (audited as
 * permission.denied for `route`). 0, or MF_EFORBIDDEN when answered. */
int mf_ingest_writer_or_respond(mf_req_t *r, const char *route) __attribute__((warn_unused_result));
void mf_ingest_register_lineage(void);
void mf_ingest_register_events(void);
void mf_ingest_register_integrations(void); /* integrations.c: dbt, GE, Iceberg, Delta imports queued */
/* contracts.c: judge events (steals the array) against the tenant's block contracts, then
 * mf_ingest_enqueue them, or answer 409 contract_violation naming each refused event. */
void mf_ingest_judge_and_enqueue(mf_req_t *r, json_t *events, int single);
/* Decode the request's JSON body with decode (an mf/ingest.h decoder), then judge and enqueue
 * the one event; a body the decoder refuses is answered 400 with its message. */
void mf_ingest_judge_decoded(mf_req_t *r, json_t *(*decode)(json_t *body, mf_json_err_t *err));
/* Run the stream -> Postgres worker until SIGTERM; returns the exit code. */
int mf_ingest_work(void);

#endif
