/* SPDX-License-Identifier: MIT */
/* Metering's figures in Prometheus's text exposition format (version
 * 0.0.4; docs/metering.md "Prometheus"): what vmms writes to its
 * --metrics-file for node_exporter's textfile collector and what `vmctl
 * stats --prometheus` prints, from the same GetMetrics documents
 * (vmms/metering.h). Pure: unit-tested (tests/unit/test-vmms-metering.c),
 * checked by promtool in tests/integration/test-vmms-metering.sh. */
#pragma once

#include <stddef.h>
#include <stdio.h>

struct json_object;

/* Writes every metric family (HELP and TYPE once, then one sample per VM,
 * vCPU, disk or NIC) for the n documents. Label values are escaped (\\,
 * \", \n). 0, or -EIO when f failed. */
int vmms_metrics_prom_write(FILE *f, struct json_object *const *docs, size_t n);
/* A label value escaped as the format wants into out (always terminated;
 * cut short when it does not fit). */
void vmms_metrics_prom_escape(const char *in, char *out, size_t outlen);
