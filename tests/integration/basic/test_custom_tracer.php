<?php
/*DESCRIPTION
A function named in newrelic.transaction_tracer.custom is a custom tracer:
besides its span it gets a Custom/<function> metric, unscoped and scoped to
the transaction, even with the function tracer's detail off.
*/

/*INI
newrelic.transaction_tracer.detail = 0
newrelic.transaction_tracer.custom = traced_function
*/

/*EXPECT
done
*/

/*EXPECT_METRICS
[
  "?? agent run id",
  "?? timeframe start",
  "?? timeframe stop",
  [
    [{"name":"Custom/traced_function"},                                    [2, "??", "??", "??", "??", "??"]],
    [{"name":"Custom/traced_function",
      "scope":"OtherTransaction/php__FILE__"},                             [2, "??", "??", "??", "??", "??"]],
    [{"name":"DurationByCaller/Unknown/Unknown/Unknown/Unknown/all"},      [1, "??", "??", "??", "??", "??"]],
    [{"name":"DurationByCaller/Unknown/Unknown/Unknown/Unknown/allOther"}, [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransaction/all"},                                      [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransaction/php__FILE__"},                              [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransactionTotalTime"},                                 [1, "??", "??", "??", "??", "??"]],
    [{"name":"OtherTransactionTotalTime/php__FILE__"},                     [1, "??", "??", "??", "??", "??"]],
    [{"name":"Supportability/Logging/Forwarding/PHP/enabled"},             [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Metrics/PHP/enabled"},                [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/LocalDecorating/PHP/disabled"},       [1, 0, 0, 0, 0, 0]],
    [{"name":"Supportability/Logging/Labels/PHP/disabled"},                [1, 0, 0, 0, 0, 0]]
  ]
]
*/

function traced_function($n)
{
    return $n * 2;
}

function untraced_function($n)
{
    return traced_function($n) + 1;
}

untraced_function(1);
untraced_function(2);
echo "done\n";
