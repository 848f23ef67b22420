#!/bin/sh
# Memory pressure on the host, then its decay: a reader in a cgroup-v1 memory cgroup limited
# to 32 MiB reads a 96 MiB file over and over for 12 s (memcg reclaim and workingset refaults
# are memory stalls), then /proc/pressure/memory is sampled every 0.25 s for 24 s while the
# averages decay. Output: "t_seconds<TAB>line" for every sample. Needs root and cgroup v1.
set -e
CG=/sys/fs/cgroup/memory/psiprobe
F=/var/tmp/psiprobe.data
dd if=/dev/urandom of=$F bs=1M count=96 status=none
sync
dd if=$F iflag=nocache count=0 status=none  # drop the file from the page cache
mkdir -p $CG
echo $((32 << 20)) > $CG/memory.limit_in_bytes
sh -c "echo \$\$ > $CG/cgroup.procs; end=\$((\$(date +%s) + 12)); while [ \$(date +%s) -lt \$end ]; do cat $F > /dev/null; done" &
READER=$!
start=$(date +%s.%N)
i=0
while [ $i -lt 144 ]; do
    now=$(date +%s.%N)
    t=$(echo "$now - $start" | bc)
    sed "s/^/$t\t/" /proc/pressure/memory
    sleep 0.25
    i=$((i + 1))
done
wait $READER
rmdir $CG
rm -f $F
