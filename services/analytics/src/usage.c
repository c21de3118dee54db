/* usage.c: folds the mf:usage stream into daily usage (being built). */
#include "analytics.h"
#include "mf/worker.h"

void mf_analytics_usage_loop(void)
{
    while (!mf_worker_stopping())
        mf_worker_sleep_ms(1000);
}
