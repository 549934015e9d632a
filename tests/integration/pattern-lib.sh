# SPDX-License-Identifier: MIT
# pattern SEED C L OFFSET BYTES: the records vsc_stor_pattern_fill() writes
# for [OFFSET, OFFSET + BYTES) (guest-vsc/include/vsc/stor.h). Sourced by
# guest-disk-lib.sh and hostile-lib.sh (not run: the test glob is test-*).
pattern() {
        awk -v s="$1" -v c="$2" -v l="$3" -v o="$4" -v n="$5" 'BEGIN {
                for (i = 0; i < n; i += 64)
                        printf "VSCDISK s=%08x c=%u l=%03u o=%015.0f.................\n", s, c, l, o + i }'
}
