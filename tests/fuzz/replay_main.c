/*
 * Replay driver for the fuzz targets: without libFuzzer (the default
 * build) each target is linked with this main(), which runs every file of
 * the corpus directories given on the command line (or in $FUZZ_CORPUS)
 * through LLVMFuzzerTestOneInput.  So the corpus is a regression suite in
 * every `make check`, under ASan+UBSan in the sanitizer build.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    struct stat st;
    size_t n;

    if (f == NULL || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "replay: %s: cannot open\n", path);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

static int
run_dir(const char *dir, unsigned *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];

    if (d == NULL) {
        fprintf(stderr, "replay: %s: cannot open directory\n", dir);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (run_file(path) != 0) {
            closedir(d);
            return -1;
        }
        (*count)++;
    }
    closedir(d);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *env = getenv("FUZZ_CORPUS");
    unsigned count = 0;
    int i;

    for (i = 1; i < argc; i++) {
        if (run_dir(argv[i], &count) != 0)
            return 1;
    }
    if (argc == 1 && env != NULL && run_dir(env, &count) != 0)
        return 1;
    if (count == 0) {
        fprintf(stderr, "replay: no corpus files\n");
        return 1;
    }
    printf("replay: %u inputs, no crash\n", count);
    return 0;
}
