/* Log-linear latency histogram (see hist.h). */
#include "common/hist.h"

#include <string.h>

void hist_reset(struct hist *h) { memset(h, 0, sizeof *h); }

static int top_bit(uint64_t v) { return 63 - __builtin_clzll(v); }

static unsigned bucket_of(uint64_t us)
{
    if (us < HIST_LINEAR)
        return (unsigned)us;
    int e = top_bit(us); /* >= 7 */
    unsigned sub = (unsigned)(us >> (e - HIST_SUB_BITS)) & ((1u << HIST_SUB_BITS) - 1);
    unsigned b = HIST_LINEAR + (unsigned)(e - 7) * (1u << HIST_SUB_BITS) + sub;
    return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

/* Midpoint of bucket b, in us. */
static double value_of(unsigned b)
{
    if (b < HIST_LINEAR)
        return b;
    unsigned k = b - HIST_LINEAR;
    int e = (int)(k >> HIST_SUB_BITS) + 7;
    uint64_t sub = (k & ((1u << HIST_SUB_BITS) - 1)) | (1u << HIST_SUB_BITS);
    double width = (double)(1ull << (e - HIST_SUB_BITS));
    return (double)sub * width + width / 2;
}

void hist_add(struct hist *h, uint64_t us)
{
    h->bucket[bucket_of(us)]++;
    h->count++;
    if (us > h->max_us)
        h->max_us = us;
}

void hist_merge(struct hist *into, const struct hist *from)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        into->bucket[i] += from->bucket[i];
    into->count += from->count;
    if (from->max_us > into->max_us)
        into->max_us = from->max_us;
}

double hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen > rank) {
            double v = value_of(i);
            return v > (double)h->max_us ? (double)h->max_us : v;
        }
    }
    return (double)h->max_us;
}

uint64_t hist_count_upto(const struct hist *h, uint64_t us)
{
    unsigned last = bucket_of(us);
    uint64_t n = 0;
    for (unsigned i = 0; i <= last; i++)
        n += h->bucket[i];
    return n;
}

double hist_sum(const struct hist *h)
{
    double sum = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        if (h->bucket[i])
            sum += (double)h->bucket[i] * value_of(i);
    return sum;
}
