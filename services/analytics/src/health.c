/* health.c: catalog-health snapshots (being built). */
#include "analytics.h"
#include "mf/worker.h"

void mf_analytics_health_loop(void)
{
    while (!mf_worker_stopping())
        mf_worker_sleep_ms(1000);
}
