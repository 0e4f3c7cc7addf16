<?php
/*DESCRIPTION
newrelic_add_custom_span_parameter() adds a user attribute to the span of
the function it is called from (and nowhere else): strings, integers,
floats, booleans and null. Bad arguments: too few or too many return
false, a non-scalar value raises New Relic's warning and returns false.
*/

/*INI
newrelic.transaction_tracer.custom = traced
*/

/*EXPECT_REGEX
^\s*ok - string
ok - int
ok - float
ok - bool
ok - null
ok - no args
ok - one arg
ok - three args
\s*Warning: newrelic_add_custom_span_parameter\(\): newrelic_add_custom_span_parameter: expects parameter to be scalar, array given in .* on line \d+
ok - array value\s*$
*/

/*EXPECT_METRICS_EXIST
Supportability/api/add_custom_span_parameter, 9
Custom/traced, 1
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
      "name": "Custom/traced",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??"
    },
    {
      "nothing": null,
      "flag": true,
      "ratio": 0.5,
      "count": 7,
      "label": "blue"
    },
    {}
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

function traced()
{
    tap_assert(newrelic_add_custom_span_parameter('label', 'blue'), 'string');
    tap_assert(newrelic_add_custom_span_parameter('count', 7), 'int');
    tap_assert(newrelic_add_custom_span_parameter('ratio', 0.5), 'float');
    tap_assert(newrelic_add_custom_span_parameter('flag', true), 'bool');
    tap_assert(newrelic_add_custom_span_parameter('nothing', null), 'null');
}

traced();
tap_identical(false, @newrelic_add_custom_span_parameter(), 'no args');
tap_identical(false, @newrelic_add_custom_span_parameter('key'), 'one arg');
tap_identical(false, @newrelic_add_custom_span_parameter('key', 1, 2), 'three args');
tap_identical(false, newrelic_add_custom_span_parameter('key', array(1)), 'array value');
