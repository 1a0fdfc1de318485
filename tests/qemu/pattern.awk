# pattern.awk: the test pattern, SIZE bytes of numbered lines carrying the run
# token T. Used by the guest (/pattern.awk, busybox awk) and by the host
# (mawk/gawk) so that both build the same bytes.
# Usage: awk -v t=TOKEN -v size=BYTES -f pattern.awk
BEGIN {
    for (i = n = 0; n < size; i++) {
        s = sprintf("vhost-user-blk %s line %08d\n", t, i)
        if (n + length(s) > size) s = substr(s, 1, size - n)
        printf "%s", s; n += length(s)
    }
}
