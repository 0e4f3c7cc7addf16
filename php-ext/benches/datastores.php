<?php
/*
 * Datastore call cost: N mysqli_query('SELECT 1') and N Redis GET calls on
 * one connection each, after a warm-up, timed with hrtime. Prints
 * "mysqli <µs per call>" and "redis <µs per call>". BENCH_ONLY=mysqli or
 * redis runs one kind only (the instruction-count mode). Run by
 * tests/benches/datastores.rs (cargo bench -p seraph-e2e --bench
 * datastores) with and without the extension.
 */
$n = (int)(getenv('BENCH_CALLS') ?: 10000);
$only = getenv('BENCH_ONLY') ?: '';

$m = new mysqli(getenv('MYSQL_HOST'), getenv('MYSQL_USER'), getenv('MYSQL_PASSWD'),
    getenv('MYSQL_DB'), (int)getenv('MYSQL_PORT'));
$r = new Redis();
$r->connect(getenv('REDIS_HOST'), (int)getenv('REDIS_PORT'));
$r->set('seraph-bench', 'value');

for ($i = 0; $i < 500; $i++) {
    mysqli_query($m, 'SELECT 1');
    $r->get('seraph-bench');
}

if ($only != 'redis') {
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        mysqli_query($m, 'SELECT 1');
    }
    printf("mysqli %.3f\n", (hrtime(true) - $t) / 1e3 / $n);
}

if ($only != 'mysqli') {
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        $r->get('seraph-bench');
    }
    printf("redis %.3f\n", (hrtime(true) - $t) / 1e3 / $n);
}
