<?php
/* A queue worker: one transaction per job, ended and started through the
 * API as workers do. Prints its VmRSS (kB) after a tenth of the jobs
 * ("warm") and at the end. JOBS: how many (default 1000). */
function rss_kb() {
    preg_match('/VmRSS:\s+(\d+)/', file_get_contents('/proc/self/status'), $m);
    return (int) $m[1];
}
function work($i) { return strlen(str_repeat('x', $i % 64)); }
function job($i) {
    $s = 0;
    for ($k = 0; $k < 40; $k++) { $s += work($i + $k); }
    newrelic_add_custom_parameter('job', $i);
    return $s;
}
$n = (int) (getenv('JOBS') ?: 1000);
$warm = 0;
for ($i = 0; $i < $n; $i++) {
    newrelic_end_transaction();
    newrelic_start_transaction('long-running');
    newrelic_name_transaction('job');
    job($i);
    if ($i == intdiv($n, 10)) { $warm = rss_kb(); }
}
echo "warm $warm\nend ", rss_kb(), "\n";
