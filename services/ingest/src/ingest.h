/*
 * ingest.h: the resource files of mf-ingest and the worker's entry point.
 */
#ifndef MF_INGEST_SERVICE_H
#define MF_INGEST_SERVICE_H

void mf_ingest_register_emit(void);
void mf_ingest_register_lineage(void);
void mf_ingest_register_events(void);
/* Run the stream -> Postgres worker until SIGTERM; returns the exit code. */
int mf_ingest_work(void);

#endif
