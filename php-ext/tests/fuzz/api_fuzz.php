<?php
/*
 * Argument fuzzing for every newrelic_* function: each one is called with
 * no arguments, with one argument too many, and with every odd value in
 * every argument position (the other positions holding a sensible value),
 * inside a transaction each time (functions that end or replace the
 * transaction start a new one for the next call). Nothing here checks
 * results: the test around it checks that the process finishes cleanly
 * (and, under valgrind, without memory errors) and that what reaches the
 * daemon decodes.
 *
 * Argument (CLI) or ?mode= (web): "quick" leaves out the 1 MiB string and
 * the 20 000-element array (for valgrind runs). FUZZ_SHOW=1 in the
 * environment shows the warnings.
 */

error_reporting(E_ALL);
ini_set('display_errors', getenv('FUZZ_SHOW') ? '1' : '0');
$quick = ($argv[1] ?? ($_GET['mode'] ?? '')) === 'quick';

class Stringy
{
    public function __toString(): string { return 'stringy'; }
}

class ThrowingString
{
    public function __toString(): string { throw new RuntimeException('no string'); }
}

enum Suit: string
{
    case Hearts = 'H';
}

function fuzz_generator() { yield 1; }

/* The odd values. */
function odd_values($quick)
{
    $recursive = [1];
    $recursive[] = &$recursive;
    $values = [
        'null' => null,
        'true' => true,
        'false' => false,
        'zero' => 0,
        'minus one' => -1,
        'int max' => PHP_INT_MAX,
        'int min' => PHP_INT_MIN,
        'float' => 1.5,
        'nan' => NAN,
        'inf' => -INF,
        'empty string' => '',
        'string' => 'x',
        'numeric string' => '42',
        'invalid utf-8' => "\xff\xfe\xc3\x28 \xed\xa0\x80",
        'nul byte' => "a\0b",
        'long name' => str_repeat('n', 300),
        'empty array' => [],
        'list' => [1, 2, 3],
        'nested array' => ['k' => ['nested' => [1, [2, [3]]]], 'o' => new stdClass()],
        'odd keys' => ["\xff" => 1, '' => 2, 7 => null, 'f' => 1.5, 'b' => false],
        'recursive array' => $recursive,
        'object' => new stdClass(),
        'stringable' => new Stringy(),
        'throwing stringable' => new ThrowingString(),
        'exception' => new LogicException("exc \xff"),
        'error' => new TypeError('typed'),
        'array object' => new ArrayObject([1]),
        'enum' => Suit::Hearts,
        'generator' => fuzz_generator(),
        'closure' => function () { return 1; },
        'closure returning junk' => function () { return new stdClass(); },
        'throwing closure' => function () { throw new RuntimeException('from callback'); },
        'closure ending the transaction' => function () {
            newrelic_end_transaction();
            return ['error.group.name' => 'x'];
        },
        'callable string' => 'strlen',
        'callable array' => [new ArrayObject([]), 'count'],
        'resource' => fopen('php://memory', 'r'),
    ];
    if (!$quick) {
        $values['huge string'] = str_repeat('H', 1 << 20);
        $values['huge array'] = array_fill(0, 20000, 'v');
    }
    return $values;
}

/* A sensible value per function and position. */
function sensible($fn, $pos)
{
    static $table = null;
    if ($table === null) {
        $table = [
            'newrelic_accept_distributed_trace_headers' => [['traceparent' => '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'], 'HTTP'],
            'newrelic_accept_distributed_trace_payload' => ['{"v":[0,1],"d":{}}', 'HTTP'],
            'newrelic_accept_distributed_trace_payload_httpsafe' => ['e30=', 'HTTP'],
            'newrelic_add_custom_parameter' => ['key', 'value'],
            'newrelic_add_custom_span_parameter' => ['key', 'value'],
            'newrelic_add_custom_tracer' => ['fuzz_generator'],
            'newrelic_background_job' => [true],
            'newrelic_capture_params' => [true],
            'newrelic_custom_metric' => ['Custom/fuzz', 1.0],
            'newrelic_enable_params' => [true],
            'newrelic_end_transaction' => [false],
            'newrelic_get_browser_timing_footer' => [true],
            'newrelic_get_browser_timing_header' => [true],
            'newrelic_insert_distributed_trace_headers' => [[]],
            'newrelic_name_transaction' => ['fuzz'],
            'newrelic_notice_error' => ['message', new Exception('e'), 'file', 1, []],
            'newrelic_record_custom_event' => ['Fuzz', ['a' => 1]],
            'newrelic_record_datastore_segment' => [function () { return 1; }, ['product' => 'MySQL']],
            'newrelic_set_appname' => [ini_get('newrelic.appname'), '', false],
            'newrelic_set_error_group_callback' => [function ($t, $e) { return 'group'; }],
            'newrelic_set_user_attributes' => ['user', 'account', 'product'],
            'newrelic_set_user_id' => ['user'],
            'newrelic_start_transaction' => [ini_get('newrelic.appname')],
        ];
    }
    return $table[$fn][$pos] ?? 'x';
}

function arity($fn)
{
    $r = new ReflectionFunction($fn);
    /* notice_error is declared without argument information. */
    return $fn === 'newrelic_notice_error' ? 5 : $r->getNumberOfParameters();
}

function call_one($fn, array $args, &$calls)
{
    newrelic_start_transaction(ini_get('newrelic.appname'));
    $calls++;
    try {
        $r = $fn(...$args);
        if ($r instanceof newrelic\DistributedTracePayload) {
            $r->text();
            $r->httpSafe();
        }
    } catch (Throwable $e) {
        /* Type errors and exceptions from callbacks are expected. */
    }
}

$functions = get_extension_funcs('newrelic');
sort($functions);
$values = odd_values($quick);
$calls = 0;
foreach ($functions as $fn) {
    $n = arity($fn);
    $defaults = [];
    for ($i = 0; $i < $n; $i++) {
        $defaults[] = sensible($fn, $i);
    }
    call_one($fn, [], $calls);
    call_one($fn, $defaults, $calls);
    call_one($fn, array_merge($defaults, ['extra']), $calls);
    for ($pos = 0; $pos < max($n, 1); $pos++) {
        foreach ($values as $v) {
            $args = $defaults;
            $args[$pos] = $v;
            call_one($fn, $args, $calls);
        }
    }
    /* Every position odd at once. */
    foreach ($values as $v) {
        call_one($fn, array_fill(0, max($n, 1), $v), $calls);
    }
}
/* The error group callback (whatever was set last) sees a real error. */
newrelic_start_transaction(ini_get('newrelic.appname'));
newrelic_notice_error(new RuntimeException('last'));
/* PHP leaves reference cycles to its allocator at shutdown; collected here
 * so that valgrind sees only what the agent might leak. */
unset($values, $v, $args);
gc_collect_cycles();
echo "fuzz done: ", count($functions), " functions, $calls calls\n";
