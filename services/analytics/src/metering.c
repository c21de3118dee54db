/* metering.c: folds metering counters into monthly usage (being built). */
#include "analytics.h"
#include "mf/worker.h"

void mf_analytics_metering_loop(void)
{
    while (!mf_worker_stopping())
        mf_worker_sleep_ms(1000);
}
