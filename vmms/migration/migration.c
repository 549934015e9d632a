// SPDX-License-Identifier: MIT
/* Migration as one vmms feature (core/feature.h): the source worker's
 * progress, and the image locks an incoming VM's worker held
 * (lock-handover.c), let go when it ends. */
#include <stddef.h>

#include "core/feature.h"
#include "migration/migration.h"

static const struct vmms_worker_event migration_events[] = {
        { "migrate-progress", "migrate-send", vmms_vm_on_migrate_progress },
        {},
};

const struct vmms_feature vmms_feature_migration = {
        .name = "migration",
        .events = migration_events,
        .worker_ended = vmms_vm_handover_free,
};
