<?php
/*DESCRIPTION
PHP 8.4 only (run by tests/php-versions/matrix.sh on 8.4 and later, not by the normal suite): property
hooks calling a method, asymmetric visibility, a lazy ghost, #[\Deprecated]
on a user function, and exit() (a function since 8.4) inside a function.
The hook's method call is a custom tracer, the deprecation is recorded like
any E_USER_DEPRECATED, and the transaction is still sent after exit().
*/

/*INI
newrelic.transaction_tracer.threshold = 0
newrelic.transaction_tracer.custom = Temp::convert
*/

/*EXPECT_REGEX
^c=100 f=212 lazy=7
(\n|.)*Deprecated: Function old\(\) is deprecated(\n|.)*bye$
*/

/*EXPECT_METRICS_EXIST
Custom/Temp::convert, 1
OtherTransaction/php__FILE__, 1
Errors/all, 1
*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "generic",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "Custom/Temp::convert",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??"
    },
    {},
    {}
  ]
]
*/

class Temp
{
    public private(set) float $celsius = 0;
    public float $fahrenheit {
        get => $this->convert($this->celsius);
        set (float $v) {
            $this->celsius = ($v - 32) * 5 / 9;
        }
    }

    public function convert(float $c): float
    {
        usleep(10); // segments shorter than 1 µs are not reported
        return $c * 9 / 5 + 32;
    }
}

$t = new Temp();
$t->fahrenheit = 212;
echo "c=", $t->celsius, " f=", $t->fahrenheit, " ";

class Box
{
    public function __construct(public int $v)
    {
    }
}
$lazy = new ReflectionClass(Box::class)->newLazyGhost(function (Box $b) {
    $b->__construct(7);
});
echo "lazy=", $lazy->v, "\n";

#[\Deprecated]
function old()
{
    return 1;
}
old();

function finish()
{
    echo "bye";
    exit(0);
}
finish();
