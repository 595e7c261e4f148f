/* Latency histogram, shared by zkbench and a member's stage timings: log-linear buckets over
 * microseconds (exact below 128 us, then 64 sub-buckets per power of two, so about 1.5 %
 * resolution up to ~4000 s). Fixed size, no allocation per sample. */
#ifndef ZK_HIST_H
#define ZK_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 6
#define HIST_LINEAR 128
#define HIST_BUCKETS (HIST_LINEAR + 32 * (1 << HIST_SUB_BITS))

struct hist {
    uint64_t count;
    uint64_t max_us;
    uint64_t bucket[HIST_BUCKETS];
};

void hist_reset(struct hist *h);
void hist_add(struct hist *h, uint64_t us);
void hist_merge(struct hist *into, const struct hist *from);
/* Samples <= us (exactly up to the bucket holding us): Prometheus' cumulative buckets. */
uint64_t hist_count_upto(const struct hist *h, uint64_t us);
/* Sum of the bucket midpoints (approximate sum of all samples, in us). */
double hist_sum(const struct hist *h);
/* The value (us) at quantile q in [0,1]; 0 when empty. */
double hist_quantile(const struct hist *h, double q);

#endif
