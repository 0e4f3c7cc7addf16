<?php
/*DESCRIPTION
With span event attributes switched off every span parameter is refused
(false) and no span carries user attributes; the calls are still counted.
*/

/*INI
newrelic.span_events.attributes.enabled = 0
newrelic.transaction_tracer.custom = traced
*/

/*EXPECT
ok - refused
*/

/*EXPECT_METRICS_EXIST
Supportability/api/add_custom_span_parameter, 1
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
    {},
    {}
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

function traced()
{
    tap_identical(false, newrelic_add_custom_span_parameter('label', 'blue'), 'refused');
}

traced();
