<?php
/* Logs $argv[1] records through Debian's Monolog 2 into a NullHandler and
 * prints the process's resident memory (kB) after the first fifth and at
 * the end, so a test can check that the agent's memory stays flat. */
require_once 'Monolog/autoload.php';

function rss_kb(): int {
    preg_match('/^VmRSS:\s+(\d+)/m', file_get_contents('/proc/self/status'), $m);
    return (int) $m[1];
}

$n = (int) ($argv[1] ?? 100000);
$log = new Monolog\Logger('burst');
$log->pushHandler(new Monolog\Handler\NullHandler());
for ($i = 1; $i <= $n; $i++) {
    $log->error('burst record', ['i' => $i]);
    if ($i === intdiv($n, 5)) {
        echo 'rss_early=', rss_kb(), "\n";
    }
}
echo 'rss_end=', rss_kb(), "\n";
