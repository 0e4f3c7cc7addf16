<?php
// A crash check for a PHP version other than the host's (check-php84.sh):
// user functions and methods, closures, a caught and an uncaught exception,
// a warning, a fiber, PDO sqlite and curl (to a closed port), all with the
// extension loaded. check-php84.sh compares its output with the host PHP's
// (exit status 255 from the uncaught exception; a crash would be 139).
function fib($n) { return $n < 2 ? $n : fib($n - 1) + fib($n - 2); }
class Shop {
    public function label($x) { return strtoupper($x); }
    public static function fail() { throw new RuntimeException('boom'); }
}
echo fib(15), "\n";
echo (new Shop())->label('item'), "\n";
$double = fn($x) => $x * 2;
echo $double(21), "\n";
try {
    Shop::fail();
} catch (Exception $e) {
    echo 'caught ', $e->getMessage(), "\n";
}
$db = new PDO('sqlite::memory:');
$db->exec('CREATE TABLE t (a INTEGER, b TEXT)');
$st = $db->prepare('INSERT INTO t VALUES (?, ?)');
$st->execute([1, 'x']);
$st->execute([2, 'y']);
foreach ($db->query('SELECT a, b FROM t ORDER BY a') as $row) {
    echo $row['a'], $row['b'], "\n";
}
$ch = curl_init('http://127.0.0.1:1/');
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
curl_setopt_array($ch, [CURLOPT_TIMEOUT => 2]);
var_dump(curl_exec($ch));
$copy = curl_copy_handle($ch);
curl_reset($copy);
newrelic_name_transaction('smoke');
newrelic_add_custom_parameter('k', 'v');
newrelic_notice_error(new LogicException('noticed'));
$f = new Fiber(function () { Fiber::suspend(1); return 2; });
echo $f->start(), "\n";
$f->resume();
echo $f->getReturn(), "\n";
trigger_error('a warning', E_USER_WARNING);
Shop::fail();
