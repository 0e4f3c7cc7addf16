<?php
/*DESCRIPTION
Code-level metrics are off by default (and here off explicitly): no span
and no transaction event carries code.* attributes.
*/

/*INI
newrelic.code_level_metrics.enabled = 0
*/

/*EXPECT
total: 55
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  {"reservoir_size": 50, "events_seen": 1},
  [
    [
      {
        "type": "Transaction",
        "name": "OtherTransaction/php__FILE__",
        "timestamp": "??",
        "duration": "??",
        "totalTime": "??",
        "guid": "??",
        "sampled": true,
        "priority": "??",
        "traceId": "??",
        "error": false
      },
      {},
      {}
    ]
  ]
]
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
      "name": "OtherTransaction/php__FILE__",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "nr.entryPoint": true,
      "transaction.name": "OtherTransaction/php__FILE__"
    },
    {},
    {}
  ],
  [
    {
      "category": "generic",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "Custom/Shop\\checkout",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??"
    },
    {},
    {}
  ],
  [
    {
      "category": "generic",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "Custom/Shop\\Cart::total",
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

namespace Shop;

class Cart
{
    public function total($n)
    {
        return array_sum(range(1, $n));
    }
}

function checkout($n)
{
    $cart = new Cart();
    return $cart->total($n);
}

newrelic_add_custom_tracer('Shop\checkout');
newrelic_add_custom_tracer('Shop\Cart::total');
echo 'total: ', checkout(10), "\n";
