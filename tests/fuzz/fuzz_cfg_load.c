/*
 * Fuzz target: the configuration loader (src/cfg.c, src/jpos.c) on
 * arbitrary text, without TLS contexts.  Every input must give a snapshot
 * or a one-line error, never a crash or a leak.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    struct cfg *c;

    log_set_level(LOG_LVL_ERROR);
    err[0] = '\0';
    c = cfg_load_buf("fuzz.json", (const char *)data, size, false, err, sizeof(err));
    if (c == NULL && (err[0] == '\0' || strchr(err, '\n') != NULL))
        abort(); /* an error must be one non-empty line */
    cfg_unref(c);
    return 0;
}
