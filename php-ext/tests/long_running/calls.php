<?php
/* One transaction with many user calls. Prints its VmRSS (kB) after a
 * tenth of the calls ("warm") and at the end. CALLS: how many (default
 * 100000). */
function rss_kb() {
    preg_match('/VmRSS:\s+(\d+)/', file_get_contents('/proc/self/status'), $m);
    return (int) $m[1];
}
function leaf($i) { return $i + 1; }
$n = (int) (getenv('CALLS') ?: 100000);
$warm = 0;
for ($i = 0; $i < $n; $i++) {
    leaf($i);
    if ($i == intdiv($n, 10)) { $warm = rss_kb(); }
}
echo "warm $warm\nend ", rss_kb(), "\n";
